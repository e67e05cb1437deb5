"""The group level's statistics, as the ``stats`` section of the configuration asks for them."""

from __future__ import annotations

import logging
import warnings

import pandas as pd

from ..errors import DataError
from .clusters import cluster_test, onset_latency
from .mixed import compare_models, compare_regressions, mixed_model
from .summaries import patient_summary

__all__ = ["group_statistics", "analysis_table"]

logger = logging.getLogger("ieegrsa")

WINDOW = ("window_start", "window_stop")


def analysis_table(similarity: pd.DataFrame, family: str, pattern: str) -> pd.DataFrame:
    """The rows of one model family and neural pattern, with the contrast levels in ``objective``.

    Network rows keep their training objective (identity, expression, object, untrained ...).
    Categorical models all have the objective ``categorical``; their model name (``identity``,
    ``expression``) becomes the level, so that the same formula and contrasts answer the basic
    question with or without networks.
    """
    rows = similarity[(similarity["family"] == family) & (similarity["pattern"] == pattern)]
    rows = rows.copy()
    if family == "categorical":
        rows["objective"] = rows["model"]
    return rows.dropna(subset=["value"])


def group_statistics(similarity: pd.DataFrame, config, *, n_jobs=None) -> dict[str, pd.DataFrame]:
    """Mixed models, model comparisons, cluster tests, onsets and patient curves.

    Parameters
    ----------
    similarity : pandas.DataFrame
        The participants' similarity tables, concatenated.
    config : ieegrsa.Config
        Its ``stats`` section sets every choice; ``random_seed`` seeds the permutations.
    n_jobs : int | None
        Parallel jobs of the cluster tests.

    Returns
    -------
    dict
        ``mixedlm``, ``comparison``, ``clusters``, ``onsets`` and ``patients`` tables (see
        :data:`ieegrsa.stats.tables.COLUMNS`), each with a ``family`` column
        (``categorical`` or ``network``), analysed separately.
    """
    stats = config.stats
    pattern = stats.pattern
    if not (similarity["pattern"] == pattern).any():
        found = sorted(similarity["pattern"].unique())
        raise DataError("no similarity of the neural pattern the statistics model",
                        field="stats.pattern", found=f"{pattern!r} (the tables hold {found})",
                        fix="set stats.pattern to one of those, or add it to rsa.pattern")
    out = {kind: [] for kind in ("mixedlm", "comparison", "clusters", "onsets", "patients")}
    for family in ("categorical", "network"):
        rows = analysis_table(similarity, family, pattern)
        if rows.empty:
            continue
        n_subjects = rows["subject"].nunique()
        levels = set(rows["objective"].unique())
        logger.info("group statistics: %s models, %d patients, levels %s", family, n_subjects,
                    sorted(levels))
        if n_subjects < 2:
            logger.warning("group statistics need at least 2 patients (%s models: %d)", family,
                           n_subjects)
            continue
        summary = patient_summary(rows, by=("roi", "objective", *WINDOW),
                                  transform=stats.transform, back_transform=True)
        out["patients"].append(summary.assign(family=family))
        if len(levels) > 1:
            with warnings.catch_warnings():  # convergence problems are reported in the table
                warnings.simplefilter("ignore")
                fits = mixed_model(rows, stats.formula, vc=None if stats.vc == "none" else "auto",
                                   by=stats.by or None, transform=stats.transform,
                                   reml=stats.reml, alpha=stats.alpha,
                                   correction=stats.correction)
            out["mixedlm"].append(fits.table.assign(family=family))
            out["comparison"] += _comparisons(rows, stats, family)
        for contrast in stats.contrasts:
            if not set(contrast) <= levels:
                logger.info("contrast %s skipped for %s models (levels %s)", contrast, family,
                            sorted(levels))
                continue
            contrast = tuple(contrast) if len(contrast) == 2 else contrast[0]
            testable = _rois_with_patients(rows, contrast)
            if testable.empty:
                continue
            result = cluster_test(testable, contrast, column="objective", by="roi",
                                  n_permutations=stats.n_permutations, seed=config.random_seed,
                                  threshold=stats.cluster_threshold, tail=stats.tail,
                                  transform=stats.transform, n_jobs=n_jobs)
            out["clusters"].append(result.clusters.assign(family=family))
            onsets = onset_latency(testable, contrast, column="objective", by="roi",
                                   tail=stats.tail or 1, alpha=stats.alpha,
                                   n_permutations=stats.n_permutations,
                                   n_bootstrap=stats.n_bootstrap, seed=config.random_seed,
                                   threshold=stats.cluster_threshold, transform=stats.transform,
                                   n_jobs=n_jobs)
            out["onsets"].append(onsets.assign(family=family))
    return {kind: _first_family(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame())
            for kind, parts in out.items()}


def _rois_with_patients(rows, contrast, minimum=2) -> pd.DataFrame:
    """Rows of the ROIs where at least ``minimum`` patients have every level of the contrast."""
    levels = [contrast] if isinstance(contrast, str) else list(contrast)
    rows = rows[rows["objective"].isin(levels)]
    per_patient = rows.groupby(["roi", "subject"])["objective"].nunique()
    complete = per_patient[per_patient == len(levels)].groupby(level="roi").size()
    keep = complete[complete >= minimum].index
    for roi in sorted(set(rows["roi"]) - set(keep)):
        logger.warning("ROI %r: fewer than %d patients with %s; no cluster test", roi, minimum,
                       " and ".join(levels))
    return rows[rows["roi"].isin(keep)]


def _comparisons(rows, stats, family) -> list[pd.DataFrame]:
    tables = []
    if rows["roi"].nunique() < 2:
        return tables
    for reduced, full in stats.compare:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table = compare_models(rows, reduced, full, by=list(WINDOW),
                                       vc=None if stats.vc == "none" else "auto",
                                       transform=stats.transform)
        except DataError as err:
            logger.warning("model comparison %s vs %s skipped for %s models: %s", reduced, full,
                           family, err)
            continue
        tables.append(table.assign(family=family))
    if stats.seed_study_bic:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = compare_regressions(rows, stats.formula, split="roi",
                                        transform=stats.transform)
        tables.append(table.assign(family=family))
    return tables


def _first_family(table: pd.DataFrame) -> pd.DataFrame:
    if "family" in table.columns:
        table = table[["family", *[c for c in table.columns if c != "family"]]]
    return table
