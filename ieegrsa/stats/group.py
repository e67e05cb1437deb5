"""The group level's statistics, as the ``stats`` section of the configuration asks for them."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from ..config import config_section, config_value
from ..errors import ConfigError, DataError
from .clusters import cluster_test, onset_latency
from .formulas import formula_columns
from .mixed import compare_models, compare_regressions, mixed_model, too_few_note
from .signflip import min_attainable_p, sign_flip_test
from .summaries import WINDOW, patient_summary
from .tables import COLUMNS

__all__ = ["group_statistics", "analysis_table", "TABLES"]

logger = logging.getLogger("ieegrsa")

#: The tables :func:`group_statistics` returns, by kind (:data:`~ieegrsa.stats.tables.COLUMNS`).
TABLES = tuple(COLUMNS)


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


def group_statistics(similarity: pd.DataFrame, config=None, *, seed=None,
                     n_jobs=None) -> dict[str, pd.DataFrame]:
    """Mixed models, sign-flip checks, model comparisons, cluster tests, onsets, patient curves.

    Parameters
    ----------
    similarity : pandas.DataFrame
        The participants' similarity tables, concatenated.
    config : StatsConfig | Config | dict | path-like | None
        The ``stats`` section (what the pipeline passes), or anything
        :func:`~ieegrsa.config.load_config` accepts, of which the ``stats`` section is used; it
        sets every choice. None: the defaults.
    seed : int | None
        Seed of the permutations and bootstraps; None: ``random_seed`` of a whole
        configuration, else its default.
    n_jobs : int | None
        Parallel jobs of the cluster tests.

    Returns
    -------
    dict
        The :data:`TABLES` (see :data:`ieegrsa.stats.tables.COLUMNS`), each with a ``family``
        column (``categorical`` or ``network``), analysed separately.
    """
    stats = config_section(config, "stats")
    seed = config_value(config, "random_seed", seed)
    pattern = stats.pattern
    if not (similarity["pattern"] == pattern).any():
        found = sorted(similarity["pattern"].unique())
        raise DataError("no similarity of the neural pattern the statistics model",
                        field="stats.pattern", found=f"{pattern!r} (the tables hold {found})",
                        fix="set stats.pattern to one of those, or add it to rsa.pattern")
    _check_formulas(similarity, stats.formula, stats.compare)
    out = {kind: [] for kind in TABLES}
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
            modelled = _modelled_rows(rows, family)
            fits = mixed_model(modelled, stats.formula, slopes=stats.slopes,
                               nested=None if stats.vc == "none" else "auto",
                               by=stats.by or None, transform=stats.transform,
                               reml=stats.reml, alpha=stats.alpha,
                               correction=stats.correction, se_floor=stats.se_floor,
                               min_subjects=stats.min_patients)
            out["mixedlm"].append(fits.table.assign(family=family))
            out["comparison"] += _comparisons(
                modelled, family, compare=stats.compare, slopes=stats.slopes,
                nested=None if stats.vc == "none" else "auto", transform=stats.transform,
                formula=stats.formula, seed_study_bic=stats.seed_study_bic)
        for contrast in stats.contrasts:
            if not set(contrast) <= levels:
                logger.info("contrast %s skipped for %s models (levels %s)", contrast, family,
                            sorted(levels))
                continue
            contrast = tuple(contrast) if len(contrast) == 2 else contrast[0]
            testable = _rois_with_patients(rows, contrast)
            if testable.empty:
                continue
            out["signflip"].append(sign_flip_test(
                testable, contrast, column="objective", by="roi",
                n_permutations=max(stats.n_permutations, 1), seed=seed,
                alternative=stats.alternative, alpha=stats.alpha,
                min_subjects=stats.min_patients, transform=stats.transform).assign(family=family))
            clusters, onsets = _clusters_and_onsets(
                testable, contrast, alternative=stats.alternative, alpha=stats.alpha,
                min_patients=stats.min_patients, n_permutations=stats.n_permutations,
                n_bootstrap=stats.n_bootstrap, threshold=stats.cluster_threshold,
                transform=stats.transform, seed=seed, n_jobs=n_jobs)
            out["clusters"].append(clusters.assign(family=family))
            out["onsets"].append(onsets.assign(family=family))
    return {kind: _first_family(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame())
            for kind, parts in out.items()}


def _modelled_rows(rows, family) -> pd.DataFrame:
    """The rows the mixed models fit: for networks, the trained objectives when two or more are
    there. The untrained instances are each network's control, not a level of the question the
    model answers; they stay in the patient curves and in contrasts that name them."""
    if family != "network":
        return rows
    trained = rows[rows["objective"] != "untrained"]
    return trained if trained["objective"].nunique() > 1 else rows


def _check_formulas(similarity, formula, compare):
    columns = set(similarity.columns) | {"objective"}
    formulas = [("stats.formula", formula)]
    formulas += [("stats.compare", f) for pair in compare for f in pair]
    for name, formula in formulas:
        try:
            missing = [c for c in formula_columns(formula) if c not in columns]
        except DataError as err:
            raise ConfigError(err.what, field=name, found=formula) from None
        if missing:
            raise ConfigError("the formula names columns the similarity table does not have",
                              field=name, found=f"{formula!r} reads {missing}",
                              fix=f"use columns of the table: {', '.join(sorted(columns))}")


def _clusters_and_onsets(testable, contrast, *, alternative, alpha, min_patients, n_permutations,
                         n_bootstrap, threshold, transform, seed, n_jobs):
    """Cluster tests and onsets of the ROIs with enough patients; the others are labelled."""
    counts = testable.groupby("roi")["subject"].nunique()
    enough = [roi for roi, n in counts.items()
              if n >= min_patients and min_attainable_p(n, alternative) <= alpha]
    label = contrast if isinstance(contrast, str) else "-".join(contrast)
    clusters, onsets = [], []
    rows = testable[testable["roi"].isin(enough)]
    if not rows.empty:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = cluster_test(rows, contrast, column="objective", by="roi",
                                  n_permutations=n_permutations, seed=seed,
                                  threshold=threshold, alternative=alternative,
                                  transform=transform, n_jobs=n_jobs)
        clusters.append(result.clusters.assign(note=""))
        onsets.append(onset_latency(rows, contrast, column="objective", by="roi",
                                    alternative=alternative, alpha=alpha,
                                    n_permutations=n_permutations, n_bootstrap=n_bootstrap,
                                    seed=seed, threshold=threshold, transform=transform,
                                    n_jobs=n_jobs).assign(note=""))
    for roi in sorted(set(counts.index) - set(enough)):
        n = int(counts[roi])
        note = (too_few_note(n, min_patients) if n < min_patients else
                f"too few patients for a group claim (the smallest p {n} patients can give "
                f"is {min_attainable_p(n, alternative):.3g} > alpha {alpha:g})")
        logger.warning("ROI %r: %s; no cluster test or onset", roi, note)
        clusters.append(pd.DataFrame([{"roi": roi, "contrast": label, "start": np.nan,
                                       "stop": np.nan, "statistic": np.nan,
                                       "p_value": np.nan, "n_windows": 0, "n_subjects": n,
                                       "note": note}]))
        onsets.append(pd.DataFrame([{"roi": roi, "contrast": label, "onset": np.nan,
                                     "ci_low": np.nan, "ci_high": np.nan, "detected": np.nan,
                                     "n_bootstrap": 0, "n_subjects": n, "note": note}]))
    clusters = pd.concat(clusters, ignore_index=True)
    clusters["min_p"] = [min_attainable_p(n, alternative) for n in clusters["n_subjects"]]
    return clusters, pd.concat(onsets, ignore_index=True)


def _rois_with_patients(rows, contrast, minimum=2) -> pd.DataFrame:
    """Rows of the ROIs where at least ``minimum`` patients have every level of the contrast."""
    levels = [contrast] if isinstance(contrast, str) else list(contrast)
    rows = rows[rows["objective"].isin(levels)]
    per_patient = rows.groupby(["roi", "subject"])["objective"].nunique()
    complete = per_patient[per_patient == len(levels)].groupby(level="roi").size()
    keep = complete[complete >= minimum].index
    for roi in sorted(set(rows["roi"]) - set(keep)):
        logger.warning("ROI %r: fewer than %d patients with %s; no patient-level test", roi,
                       minimum, " and ".join(levels))
    return rows[rows["roi"].isin(keep)]


def _comparisons(rows, family, *, compare, slopes, nested, transform, formula,
                 seed_study_bic) -> list[pd.DataFrame]:
    tables = []
    if rows["roi"].nunique() < 2:
        return tables
    for reduced, full in compare:
        try:
            table = compare_models(rows, reduced, full, by=list(WINDOW), slopes=slopes,
                                   nested=nested, transform=transform)
        except DataError as err:
            logger.warning("model comparison %s vs %s skipped for %s models: %s", reduced, full,
                           family, err)
            continue
        tables.append(table.assign(family=family))
    if seed_study_bic:
        table = compare_regressions(rows, formula, split="roi", transform=transform)
        tables.append(table.assign(family=family))
    return tables


def _first_family(table: pd.DataFrame) -> pd.DataFrame:
    if "family" in table.columns:
        table = table[["family", *[c for c in table.columns if c != "family"]]]
    return table
