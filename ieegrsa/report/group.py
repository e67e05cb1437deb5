"""The group report: one self-contained HTML page over all participants.

The page answers the question first: per model family and ROI, one sentence on the objective
contrast of the mixed model (estimate and CI, t test, windows significant after correction,
onset, sign-flip check) and one figure of the contrast over time; then the classical-view test
(likelihood-ratio, and the seed study's BIC when present) and a quiet note on singular or
non-converged fits. The tables follow, each in a horizontally scrolling box.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .._docs import fill_doc
from .._logging import verbose
from . import _common as common
from .answers import (
    CORRECTION_LABELS,
    answer_figure,
    comparisons,
    diagnostics,
    objective_terms,
    ordered,
)
from .answers import (
    answers as answer_sentences,
)

logger = logging.getLogger("ieegrsa")

__all__ = ["group_report", "make_group_report", "group_files"]

_MIXED = ["family", "roi", "window_start", "window_stop", "term", "estimate", "se", "df", "t",
          "ci_low", "ci_high", "p_value", "p_corrected", "se_lmm", "df_lmm", "se_two_stage",
          "inference", "singular", "converged", "gradient_norm", "note", "n_subjects",
          "n_contacts", "n_obs", "random"]
_SIGNFLIP = ["family", "roi", "contrast", "window_start", "window_stop", "mean", "t", "p_value",
             "p_corrected", "min_p", "n_subjects", "n_permutations", "exact", "note"]
_CLUSTERS = ["family", "roi", "contrast", "start", "stop", "statistic", "p_value", "min_p",
             "n_windows", "n_subjects", "note"]
_ONSETS = ["family", "roi", "contrast", "onset", "ci_low", "ci_high", "detected", "n_bootstrap",
           "n_subjects", "note"]
_COMPARISON = ["family", "roi", "window_start", "window_stop", "model", "formula", "llf", "df",
               "aic", "bic", "delta_bic", "lr_stat", "df_diff", "p_value", "singular",
               "converged", "n_obs"]

#: The note of a fit or test without p-values on purpose (:func:`ieegrsa.stats.too_few_note`).
def group_files(output_dir, *, task="faces") -> dict[str, Path]:
    """Paths of the group tables (whether or not they exist), by kind.

    Parameters
    ----------
    output_dir : path-like
        The derivatives root.
    task : str

    Returns
    -------
    files : dict
        ``mixedlm``, ``signflip``, ``comparison``, ``clusters``, ``onsets``, ``patients`` ->
        path, as the group level names them (:func:`ieegrsa.bids.derivatives.group_path`).
    """
    from ..bids.derivatives import group_path
    from ..stats.group import TABLES

    return {kind: group_path(output_dir, task, kind) for kind in TABLES}


def _participants(output_dir, task):
    """One row per complete participant (the group statistics' participants), their
    similarity tables, and the labels of participants left out as incomplete."""
    from ..bids.derivatives import complete_participants

    output_dir = Path(output_dir)
    rows, tables = [], []
    pages = {p.stem.removeprefix("sub-"): p.name for p in output_dir.glob("sub-*.html")}
    complete = complete_participants(output_dir, task)
    for found in complete:
        label = found["subject"] + (f"_ses-{found['session']}" if found["session"] else "")
        path = found["files"].get("similarity")
        table = common.read_table(path) if path is not None else None
        row = {"label": label, "page": pages.get(label), "rois": "n/a", "contacts": "n/a",
               "models": "n/a", "rows": "n/a"}
        if table is not None:
            table = table.assign(subject=table.get("subject", found["subject"]))
            tables.append(table)
            finite = table[np.isfinite(table["value"])] if "value" in table else table
            row["rois"] = ", ".join(sorted(map(str, finite["roi"].dropna().unique()))) \
                if "roi" in finite else "n/a"
            row["contacts"] = str(finite["contact"].nunique()) if "contact" in finite else "n/a"
            row["models"] = str(finite["model"].nunique()) if "model" in finite else "n/a"
            row["rows"] = str(len(table))
        rows.append(row)
    listed = {row["label"] for row in rows}
    started = {p.name.split("_task-")[0].removeprefix("sub-")
               for p in output_dir.glob(f"sub-*/**/sub-*_task-{task}_*")}
    incomplete = sorted((started | set(pages)) - listed)
    return rows, tables, incomplete


# Numbers in sentences


def _mixed_section(mixed, alpha):
    if mixed is None or not {"term", "estimate"} <= set(mixed.columns):
        return None
    shown = objective_terms(mixed)
    p = shown["p_corrected"] if "p_corrected" in shown else shown.get("p_value")
    significant = (p.astype(float) < alpha).to_numpy() if p is not None else \
        np.zeros(len(shown), bool)
    order = np.argsort(~significant, kind="stable")  # significant rows first
    return {"table": common.table(shown.iloc[order], _MIXED, highlight=significant[order]),
            "n_rows": len(shown), "n_significant": int(significant.sum())}


def _highlight(table, column, alpha):
    if table is None or column not in table:
        return None
    return (pd.to_numeric(table[column], errors="coerce") < alpha).to_numpy()


def _patients_from_similarity(tables, transform="fisher"):
    """The patient summary (family, subject, roi, objective, windows, mean) from similarity."""
    if not tables:
        return None
    table = pd.concat(tables, ignore_index=True)
    needed = {"subject", "roi", "model", "objective", "window_start", "window_stop", "value"}
    if not needed <= set(table.columns):
        return None
    table = table[np.isfinite(table["value"].astype(float))]
    if "family" not in table:
        table = table.assign(family=np.where(table["objective"] == "categorical",
                                             "categorical", "network"))
    level = np.where(table["family"] == "categorical", table["model"], table["objective"])
    value = table["value"].astype(float)
    if transform == "fisher":
        value = np.arctanh(np.clip(value, -0.999999, 0.999999))
    table = table.assign(objective=level, _v=value)
    keys = ["family", "subject", "roi", "objective", "window_start", "window_stop"]
    return table.groupby(keys).agg(mean=("_v", "mean")).reset_index()


def _contrasts(config, clusters):
    names = []
    if clusters is not None and "contrast" in clusters:
        names += [str(c) for c in pd.unique(clusters["contrast"].dropna())]
    for pair in getattr(getattr(config, "stats", None), "contrasts", None) or []:
        names.append("-".join(pair))
    return list(dict.fromkeys(names)) or ["identity-expression"]


def _difference_section(patients, clusters, contrasts, alpha):
    from .figures import figure_data_uri
    from .group_figures import plot_difference

    items = []
    for contrast in contrasts:
        figure = None
        if patients is not None and len(patients):
            try:
                figure = plot_difference(patients, clusters, contrast, alpha=alpha)
            except Exception as err:
                logger.warning("report: difference figure of %s failed (%s)", contrast, err)
        items.append({"contrast": contrast, "image": figure_data_uri(figure) if figure else None})
    return items


@fill_doc
@verbose
def group_report(output_dir, *, task="faces", verbose=None) -> Path:
    """Write the HTML report of the group from the group tables and the participants' results.

    The page (``OUTPUT_DIR/group.html``) is :func:`make_group_report` of the group tables and
    of the complete participants' similarity tables (those with a provenance file: the same
    participants as the group statistics), read back from disk.

    Parameters
    ----------
    output_dir : path-like
        The derivatives root (the pipeline's ``OUTPUT_DIR``).
    task : str
        Task label of the derivative files.
    %(verbose)s

    Returns
    -------
    path : pathlib.Path
        The HTML file written (atomically).
    """
    output_dir = Path(output_dir)
    files = group_files(output_dir, task=task)
    tables = {kind: common.read_table(path) for kind, path in files.items()}
    participants, similarities, incomplete = _participants(output_dir, task)
    sources = [files[k] for k in ("mixedlm", "signflip", "clusters", "patients", "onsets")
               if k in files]
    from ..bids.derivatives import complete_participants

    sources += [p["files"]["similarity"] for p in complete_participants(output_dir, task)
                if "similarity" in p["files"]]
    info = common.provenance(sources)
    report = make_group_report(
        tables, task=task, participants=participants, similarities=similarities,
        incomplete=incomplete, config=info["config"], config_yaml=info["config_yaml"],
        config_source=info["source"], versions=info["versions"],
        missing=[p.name for k, p in files.items() if k != "comparison" and not p.is_file()])
    path = report.save(output_dir / "group.html")
    logger.info("report: wrote %s", path)
    return path


def make_group_report(tables, *, task="faces", participants=None, similarities=None,
                      incomplete=(), config=None, config_yaml=None, config_source=None,
                      versions=None, missing=()) -> common.Report:
    """The group report of results held in memory (no derivatives needed).

    The page answers the question first: per model family and ROI, one sentence on the
    objective contrast (estimate [CI], t(df), p and corrected p at the strongest window,
    patients / contacts, the windows significant after correction, the onset and the sign-flip
    check), one figure of the contrast over time, the classical-view test (likelihood ratio of
    a different objective effect per ROI, and the seed study's BIC test when computed) and a
    quiet note on singular or non-converged fits. Below: the participants, the mixed-model,
    sign-flip, cluster, onset and model-comparison tables (each in a horizontally scrolling
    box), the difference of the contrasted objectives over time per family and ROI with the
    clusters shaded, a methods paragraph, the configuration and the software versions. Missing
    tables give a short sentence instead of a section.

    Parameters
    ----------
    tables : dict
        The group tables by kind (``mixedlm``, ``signflip``, ``comparison``, ``clusters``,
        ``onsets``, ``patients``), as :func:`ieegrsa.stats.group.group_statistics` returns
        them; absent kinds may be missing or None.
    task : str
    participants : list of dict | None
        Rows of the participants table (``label``, ``page``, ``rois``, ``contacts``,
        ``models``, ``rows``); default: one row per subject of ``similarities``.
    similarities : list of pandas.DataFrame | None
        The participants' similarity tables (the patient summary is made from them when
        ``tables`` has none).
    incomplete : sequence of str
        Participants with outputs but no provenance file, left out of the statistics.
    config : ieegrsa.Config | None
    config_yaml, config_source : str | None
    versions : dict | None
        Software versions (default: those installed now).
    missing : sequence of str
        Files looked for and not found.

    Returns
    -------
    report : Report
    """
    from ..bids.derivatives import software_versions

    tables = {kind: tables.get(kind) for kind in
              ("mixedlm", "signflip", "comparison", "clusters", "onsets", "patients")}
    similarities = list(similarities or [])
    if participants is None:
        participants = [{"label": str(s), "page": None, "rois": "n/a", "contacts": "n/a",
                         "models": "n/a", "rows": str(len(t))}
                        for t in similarities for s in pd.unique(t["subject"])]
    if versions is None:
        versions = software_versions()
    if config is not None and config_yaml is None:
        from ..config import config_to_yaml

        config_yaml = config_to_yaml(config)
    stats = config.stats if config is not None else None
    alpha = float(stats.alpha) if stats is not None else 0.05
    transform = stats.transform if stats is not None else None
    correction = stats.correction if stats is not None else "fdr_bh"
    contrasts = stats.contrasts if stats is not None else []
    rois = list(config.anatomy.rois) if config is not None else []
    patients = tables["patients"]
    patients_source = "the patient summary table"
    if patients is None or not {"subject", "objective", "mean"} <= set(patients.columns):
        patients = _patients_from_similarity(similarities, transform or "fisher")
        patients_source = "the participants' similarity tables"
    clusters = tables["clusters"]
    mixed = tables["mixedlm"]
    signflip = tables["signflip"]
    onsets = tables["onsets"]
    answers = answer_sentences(mixed, patients, onsets, signflip, alpha=alpha,
                               correction=correction, transform=transform, rois=rois,
                               contrasts=contrasts)
    families = list(dict.fromkeys(item["family"] for item in answers))
    answer_rois = ordered([item["roi"] for item in answers], rois)
    rois_of = {family: ordered([i["roi"] for i in answers if i["family"] == family
                                 and i["roi"] != "all ROIs"], rois) for family in families}
    methods = None
    if config is not None:
        from .methods import methods_text

        methods = methods_text(config, versions=versions)
    html = common.render(
        "group.html",
        title=f"ieegrsa group report (task {task})",
        task=task,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=common.ieegrsa_version(),
        alpha=alpha,
        correction_label=CORRECTION_LABELS.get(correction, correction),
        answers=answers,
        answer_figure=answer_figure(mixed, answers, alpha, families=families,
                                     rois=answer_rois, transform=transform,
                                     correction=correction),
        classical=comparisons(tables["comparison"], alpha, rois_of),
        diagnostics=diagnostics(mixed, tables["comparison"]),
        has_mixed_file=mixed is not None,
        missing=list(missing),
        participants=participants,
        incomplete=list(incomplete),
        mixed=_mixed_section(mixed, alpha),
        signflip=common.table(signflip, _SIGNFLIP,
                              highlight=_highlight(signflip, "p_corrected", alpha)),
        has_signflip_file=signflip is not None,
        differences=_difference_section(patients, clusters, _contrasts(config, clusters),
                                        alpha),
        patients_source=patients_source if patients is not None else None,
        clusters=common.table(clusters, _CLUSTERS,
                              highlight=_highlight(clusters, "p_value", alpha)),
        has_clusters_file=clusters is not None,
        onsets=common.table(onsets, _ONSETS),
        comparison=common.table(tables["comparison"], _COMPARISON),
        methods=methods.split("\n\n") if methods else None,
        config_yaml=config_yaml, config_source=config_source,
        versions=common.versions_rows(versions),
    )
    return common.Report(html, "group.html")
