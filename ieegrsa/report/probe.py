"""The probe report: one self-contained HTML page of a :class:`~ieegrsa.probing.probe.ProbeResult`.

:func:`probe_report` draws the transfer readouts, the confusion matrices (and their similarity
to the humans'), the expression-selective units, the identity–expression congruence and the
morph analyses of a network and its controls, with their tables, a methods paragraph written
from the result's settings and the software versions. Same look and rules as the BIDS-App
pages (:mod:`ieegrsa.report.participant`): jinja2 with autoescape, figures embedded as base64
PNG, no script, nothing loaded from the network.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from . import _common as common

logger = logging.getLogger("ieegrsa")

__all__ = ["probe_report", "probe_methods"]

ALPHA = 0.05

_READOUT = ["instance", "target", "layer", "accuracy", "balanced_accuracy", "chance",
            "p_value", "n_classes", "n_images", "n_folds", "n_components"]
_HUMANS = ["instance", "layer", "r", "p_value", "n_cells"]
_UNITS_FIRST = ["instance", "layer", "model", "n_images", "replicates", "n_units", "n_tested",
                "n_selective", "proportion"]
_CONGRUENCE = ["instance", "layer", "mean_abs_phi", "max_abs_phi", "p_value",
               "n_identity_dirs", "n_expression_dirs"]
_BOUNDARIES = ["instance", "layer", "boundary", "boundary_ci_low", "boundary_ci_high", "slope",
               "slope_ci_low", "slope_ci_high", "boundary_inside", "spearman_rho", "spearman_p",
               "rises", "nondecreasing", "n_levels", "n_groups", "n_failed"]
_CATEGORICAL = ["instance", "layer", "boundary", "statistic", "p_value", "peak_at_boundary",
                "argmax_midpoint", "n_pairs", "n_groups", "n_permutations", "note"]
_LABELS = {"p_value": "p", "balanced_accuracy": "balanced accuracy", "mean_abs_phi": "mean |φ|",
           "max_abs_phi": "max |φ|", "n_components": "PCA width", "peak_at_boundary": "peak"}


def _frame(result, name) -> pd.DataFrame:
    value = getattr(result, name, None)
    return value if isinstance(value, pd.DataFrame) else pd.DataFrame()


def _significant(frame, column="p_value"):
    if column not in frame:
        return np.zeros(len(frame), bool)
    return (pd.to_numeric(frame[column], errors="coerce").fillna(1.0) < ALPHA).to_numpy()


def _uri(draw, *args, what=""):
    """A figure as a data URI; ``None`` (and a warning) when drawing fails or gives nothing."""
    from .figures import figure_data_uri

    try:
        fig = draw(*args)
    except Exception as err:  # one bad figure should not lose the page
        logger.warning("probe report: the %s figure failed (%s)", what, err)
        return None
    return figure_data_uri(fig) if fig is not None else None


def _ran(settings, analysis) -> bool:
    analyses = settings.get("analyses")
    return analyses is None or analysis in analyses


def _settings_rows(settings: dict) -> list[tuple[str, str]]:
    labels = [("network", "Network"), ("weights", "Weights (trained instance)"),
              ("controls", "Controls"), ("object_weights", "Object-trained weights"),
              ("layers", "Layers"), ("analyses", "Analyses"),
              ("n_permutations", "Permutations per test"), ("seed", "Seed"),
              ("C", "Readout inverse L2 penalty (C)"), ("n_stimuli", "Face images"),
              ("n_morphs", "Morph images")]
    rows = []
    for key, label in labels:
        if key not in settings:
            continue
        value = settings[key]
        if key == "layers" and not value:
            value = "the extractor's default set"
        elif key == "object_weights" and not value:
            continue
        elif isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value) or "none"
        rows.append((label, common.fmt(value) if not isinstance(value, str) else value))
    known = {k for k, _ in labels}
    rows += [(str(k), str(v)) for k, v in settings.items() if k not in known]
    return rows


def _readouts_section(result):
    readouts = _frame(result, "readouts")
    out = {"figure": None, "table": None, "summary": []}
    if readouts.empty:
        return out
    out["figure"] = _uri(_figures().plot_readouts, readouts, what="readout")
    out["table"] = common.table(readouts, _READOUT, highlight=_significant(readouts),
                                labels=_LABELS)
    if {"target", "instance", "accuracy"} <= set(readouts.columns):
        for (target, instance), rows in readouts.groupby(["target", "instance"], sort=False):
            accuracy = pd.to_numeric(rows["accuracy"], errors="coerce")
            if not accuracy.notna().any():
                continue
            best = rows.loc[accuracy.idxmax()]
            n_sig = int(_significant(rows).sum())
            out["summary"].append(
                f"{target} readout, {instance}: best accuracy {common.fmt(best['accuracy'])} "
                f"at {best['layer']} (chance {common.fmt(best.get('chance'))}); "
                f"{n_sig} of {len(rows)} layers with p < {ALPHA}.")
    return out


def _confusion_section(result):
    confusions = getattr(result, "confusions", None) or {}
    humans = _frame(result, "humans")
    out = {"figure": _uri(_figures().plot_confusions, confusions, "expression",
                          what="confusion") if confusions else None,
           "humans": common.table(humans, _HUMANS, highlight=_significant(humans),
                                  labels=_LABELS),
           "has_confusions": bool(confusions)}
    return out


def _units_section(result):
    units = _frame(result, "units")
    if units.empty:
        return {"figure": None, "table": None}
    preferring = [c for c in units.columns if c.startswith("n_") and c not in _UNITS_FIRST
                  and c not in ("n_expressions", "n_identities")]
    return {"figure": _uri(_figures().plot_units, units, what="selective-unit"),
            "table": common.table(units, _UNITS_FIRST + preferring,
                                  labels={c: f"preferring {c[2:]}" for c in preferring})}


def _congruence_section(result):
    congruence = _frame(result, "congruence")
    if congruence.empty:
        return {"figure": None, "table": None}
    columns = _CONGRUENCE + [c for c in congruence.columns if c not in _CONGRUENCE]
    return {"figure": _uri(_figures().plot_congruence, congruence, what="congruence"),
            "table": common.table(congruence, columns, highlight=_significant(congruence),
                                  labels=_LABELS)}


def _morph_section(result):
    figures = _figures()
    identification = _frame(result, "identification")
    boundaries = _frame(result, "boundaries")
    discrimination = _frame(result, "discrimination")
    categorical = _frame(result, "categorical")
    out = {"ran": not identification.empty, "identification": None, "discrimination": None,
           "layers": [], "boundaries": None, "categorical": None}
    if identification.empty:
        return out
    layers = figures.pick_layers(figures.layer_order(identification, boundaries))
    out["layers"] = layers
    out["identification"] = _uri(figures.plot_identification, identification, boundaries,
                                 layers, what="identification")
    out["discrimination"] = _uri(figures.plot_discrimination, discrimination, boundaries,
                                 layers, what="discrimination")
    out["boundaries"] = common.table(boundaries, _BOUNDARIES, labels=_LABELS)
    if not categorical.empty:
        peak = common.as_bool(categorical["peak_at_boundary"]) if "peak_at_boundary" in \
            categorical else pd.Series(False, index=categorical.index)
        out["categorical"] = common.table(categorical, _CATEGORICAL, highlight=peak.to_numpy(),
                                          labels=_LABELS)
    return out


def _figures():
    from . import probe_figures

    return probe_figures


def probe_methods(settings: dict) -> list[str]:
    """Methods paragraphs describing what :func:`~ieegrsa.probing.probe.probe` ran.

    Parameters
    ----------
    settings : dict
        :attr:`ProbeResult.settings <ieegrsa.probing.probe.ProbeResult>`.

    Returns
    -------
    list of str
        One paragraph per analysis that ran, after one on the network and its controls.
    """
    settings = settings or {}
    n_perm = settings.get("n_permutations", "n/a")
    seed = settings.get("seed", "n/a")
    controls = list(settings.get("controls") or [])
    described = {"untrained": f"an untrained instance of the same architecture (random "
                              f"initialisation, seed {seed})",
                 "object": "an object-trained instance of the same architecture"
                           + (f" ({settings['object_weights']})"
                              if settings.get("object_weights") else "")}
    control_text = " and ".join(described.get(c, str(c)) for c in controls) or "no control"
    layers = settings.get("layers")
    layer_text = (", ".join(map(str, layers)) if layers else "its default set of layers")
    paragraphs = [
        f"Layer activations of the network {settings.get('network', 'n/a')} (weights "
        f"{settings.get('weights', 'n/a')}) were extracted for {settings.get('n_stimuli', 'n/a')}"
        f" face images at {layer_text}, and compared with {control_text}. Every analysis was "
        f"run on each instance separately with the same settings; permutation tests used "
        f"{n_perm} permutations (seed {seed})."]
    if _ran(settings, "readouts"):
        paragraphs.append(
            "Transfer readouts: per layer, the features were standardised (z-scored on the "
            "training images), reduced by PCA to the span of the training images and read out "
            "by an L2-regularised logistic regression (C = "
            f"{common.fmt(settings.get('C', 1.0))}). Expression was read out with "
            "leave-one-identity-out cross-validation and identity with leave-one-expression-out "
            "cross-validation, so that test images share only the label with the training "
            "images. Accuracy pools the out-of-fold predictions; its p-value comes from "
            f"{n_perm} permutations of the labels that respect the cross-validation groups. "
            "Confusion matrices count the out-of-fold predictions; where a human confusion "
            "matrix was given, the off-diagonal cells of the row-normalised matrices were "
            "correlated and tested against relabellings of the classes.")
    if _ran(settings, "units"):
        paragraphs.append(
            "Expression-selective units: a two-way ANOVA (expression × identity) was fitted to "
            "every unit of a layer; the p-values were corrected across the units of the layer "
            "(Benjamini-Hochberg FDR), and a unit was called expression-selective when its "
            "expression effect was significant after correction and its identity effect was not "
            "significant (uncorrected, α = 0.05).")
    if _ran(settings, "congruence"):
        paragraphs.append(
            "Congruence: per layer, discriminant directions were estimated for identity and for "
            "expression, and Tucker's congruence coefficient φ was computed between every "
            "identity direction and every expression direction; the mean |φ| summarises how "
            "much the two codes share directions (0: orthogonal), with a p-value from "
            f"{n_perm} label permutations.")
    if _ran(settings, "morphs") and settings.get("n_morphs"):
        paragraphs.append(
            f"Morphs ({settings['n_morphs']} images): per layer, a readout trained on the two "
            "endpoints of the continua of all identities but one gave the probability of the "
            "high-end category for every step of the held-out identity. A two-parameter "
            "logistic was fitted to these identification curves (boundary: the level where it "
            "crosses 0.5; bootstrap intervals over identities). Discrimination was measured as "
            "the distance between the representations of neighbouring steps, and a permutation "
            "test (distances shuffled over pair positions within identities, "
            f"{n_perm} permutations) asked whether discrimination peaks at the boundary.")
    return paragraphs


def probe_report(result, path, *, title=None) -> Path:
    """Write the HTML report of a probe run.

    Parameters
    ----------
    result : ieegrsa.probing.probe.ProbeResult
        What :func:`~ieegrsa.probing.probe.probe` returned (any object with its table
        attributes, ``confusions`` and ``settings``).
    path : path-like
        The HTML file to write (atomically; folders are created).
    title : str | None
        Page title (default: ``"ieegrsa probe: <network>"``).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from ..bids.derivatives import software_versions

    settings = dict(getattr(result, "settings", None) or {})
    network = str(settings.get("network", "network"))
    sections = {
        "readouts": _readouts_section(result),
        "confusion": _confusion_section(result),
        "units": _units_section(result),
        "congruence": _congruence_section(result),
        "morphs": _morph_section(result),
    }
    ran = {a: _ran(settings, a) for a in ("readouts", "units", "congruence", "morphs")}
    html = common.render(
        "probe.html",
        title=title or f"ieegrsa probe: {network}",
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=common.ieegrsa_version(),
        settings=_settings_rows(settings),
        ran=ran, alpha=ALPHA,
        methods=probe_methods(settings),
        versions=common.versions_rows(software_versions()),
        **sections,
    )
    path = common.write_html(html, path)
    logger.info("probe report: wrote %s", path)
    return Path(path)
