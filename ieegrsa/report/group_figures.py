"""Figures of the group report: estimates and contrasts over time, patient differences.

Drawn as :mod:`.figures` draws them (a plain Figure on an Agg canvas, no pyplot).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .figures import _SIG_ALPHA, _centre, _colors, _figure

__all__ = ["plot_estimates", "plot_contrasts", "plot_difference", "parse_contrast",
           "contrast_curves"]


def plot_estimates(mixedlm: pd.DataFrame, family: str | None = None, alpha: float = _SIG_ALPHA):
    """Mixed-model estimates ± confidence interval over time, one panel per ROI.

    Parameters
    ----------
    mixedlm : pandas.DataFrame
        The group mixed-model table, restricted to the terms to draw (one line per term).
    family : str | None
        Shown in the titles.
    alpha : float
        Windows with ``p_corrected`` below it are marked.

    Returns
    -------
    fig : matplotlib.figure.Figure | None
    """
    table = mixedlm[np.isfinite(mixedlm["estimate"].astype(float))]
    if table.empty:
        return None
    table = table.assign(roi=table["roi"].fillna("all ROIs").astype(str), _t=_centre(table))
    rois = list(pd.unique(table["roi"]))
    terms = list(pd.unique(table["term"].astype(str)))
    colors = _colors(terms)
    fig = _figure(min(max(5.0 * len(rois), 7.0), 13.0), 3.0)
    axes = fig.subplots(1, len(rois), sharey=True, squeeze=False)[0]
    for ax, roi in zip(axes, rois):
        sub = table[table["roi"] == roi].sort_values("_t")
        for term in terms:
            rows = sub[sub["term"].astype(str) == term]
            if rows.empty:
                continue
            ax.plot(rows["_t"], rows["estimate"], color=colors[term], lw=1.5, label=term)
            ax.fill_between(rows["_t"], rows["ci_low"].astype(float),
                            rows["ci_high"].astype(float), color=colors[term], alpha=0.2, lw=0)
            if "p_corrected" in rows:
                sig = rows["p_corrected"].astype(float) < alpha
                if sig.any():
                    ax.plot(rows["_t"][sig], rows["estimate"][sig], "o", ms=4,
                            color=colors[term], markeredgecolor="k", markeredgewidth=0.5)
        ax.axhline(0, color="k", lw=0.6)
        ax.axvline(0, color="k", lw=0.6, ls=":")
        ax.set_title(f"{family + ': ' if family else ''}{roi}", fontsize=9)
        ax.set_xlabel("time (s, window centre)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("estimate (95% CI)" if alpha == 0.05 else "estimate", fontsize=8)
    axes[-1].legend(fontsize=7, frameon=False, loc="best")
    return fig


def _significant_runs(starts, stops, significant):
    """(first start, last stop) of each run of neighbouring significant windows (sorted)."""
    runs, first = [], None
    for k, flag in enumerate(significant):
        if flag and first is None:
            first = k
        if first is not None and (not flag or k == len(significant) - 1):
            runs.append((starts[first], stops[k if flag else k - 1]))
            first = None
    return runs


def plot_contrasts(mixedlm: pd.DataFrame, *, labels: dict | None = None,
                   alpha: float = _SIG_ALPHA, families=None, rois=None,
                   ylabel: str = "estimate", too_few: str = "too few patients",
                   marked: str | None = None):
    """The objective contrasts of the mixed models over time: one panel per family × ROI.

    Parameters
    ----------
    mixedlm : pandas.DataFrame
        Group mixed-model rows of the contrast terms (``family``, ``roi``, ``term``,
        ``window_start``, ``window_stop``, ``estimate``, ``ci_low``, ``ci_high``,
        ``p_corrected``, ``note``, ``n_subjects``).
    labels : dict | None
        Legend text per term (e.g. ``identity \u2212 expression``).
    alpha : float
        Windows with ``p_corrected`` below it are marked (dots on the curve, a bar along the
        bottom of the panel per run of neighbouring windows).
    families, rois : sequence of str | None
        Panel rows and columns, in order (default: as they come).
    ylabel : str
    too_few : str
        Rows whose ``note`` starts with it have no test: drawn grey and dashed, not marked.
    marked : str | None
        Legend text of the marks (default ``p_corrected < alpha``).

    Returns
    -------
    fig : matplotlib.figure.Figure | None
        ``None`` when no estimate is finite. Time in ms (window centre); the band is the
        confidence interval of the table.
    """
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    table = mixedlm[np.isfinite(pd.to_numeric(mixedlm["estimate"], errors="coerce"))].copy()
    if table.empty:
        return None
    for column in ("family", "roi"):
        table[column] = (table[column].fillna("all").astype(str) if column in table
                         else "all")
    if "note" not in table:
        table["note"] = ""
    table["_t"] = _centre(table) * 1000
    labels = labels or {}
    families = [f for f in (families or pd.unique(table["family"])) if
                (table["family"] == f).any()] or list(pd.unique(table["family"]))
    rois = [r for r in (rois or pd.unique(table["roi"])) if (table["roi"] == r).any()] or \
        list(pd.unique(table["roi"]))
    terms = list(pd.unique(table["term"].astype(str)))
    colors = _colors(terms)
    fig = _figure(min(max(4.6 * len(rois), 6.5), 13.0), 2.6 * len(families) + 0.5)
    axes = fig.subplots(len(families), len(rois), sharex=True, sharey=True, squeeze=False)
    for i, family in enumerate(families):
        for j, roi in enumerate(rois):
            ax = axes[i, j]
            sub = table[(table["family"] == family) & (table["roi"] == roi)]
            ax.axhline(0, color="k", lw=0.6)
            ax.axvline(0, color="k", lw=0.6, ls=":")
            ax.tick_params(labelsize=7)
            if sub.empty:
                ax.set_title(f"{family}: {roi} (no fit)", fontsize=9)
                continue
            untested = sub["note"].fillna("").astype(str).str.startswith(too_few).all()
            bars = blended_transform_factory(ax.transData, ax.transAxes)
            for k, term in enumerate(terms):
                rows = sub[sub["term"].astype(str) == term].sort_values("_t")
                if rows.empty:
                    continue
                color = "0.55" if untested else colors[term]
                x = rows["_t"].to_numpy(float)
                ax.plot(x, rows["estimate"].astype(float), color=color, lw=1.6,
                        ls="--" if untested else "-")
                ax.fill_between(x, rows["ci_low"].astype(float), rows["ci_high"].astype(float),
                                color=color, alpha=0.12 if untested else 0.2, lw=0)
                if untested or "p_corrected" not in rows:
                    continue
                sig = (pd.to_numeric(rows["p_corrected"], errors="coerce") < alpha).to_numpy()
                if sig.any():
                    ax.plot(x[sig], rows["estimate"].astype(float).to_numpy()[sig], "o", ms=3.5,
                            color=color, markeredgecolor="k", markeredgewidth=0.4)
                    starts = rows["window_start"].to_numpy(float) * 1000
                    stops = rows["window_stop"].to_numpy(float) * 1000
                    for a, b in _significant_runs(starts, stops, sig):
                        ax.plot([a, b], [0.04 + 0.05 * k] * 2, color=color, lw=4,
                                solid_capstyle="butt", transform=bars)
            n = pd.to_numeric(sub.get("n_subjects"), errors="coerce").max() \
                if "n_subjects" in sub else np.nan
            title = f"{family}: {roi}" + (f" (n = {int(n)})" if np.isfinite(n) else "")
            if untested:
                title += ": too few patients, no test"
            ax.set_title(title, fontsize=9, color="0.35" if untested else "k")
        axes[i, 0].set_ylabel(ylabel, fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("time (ms, window centre)", fontsize=8)
    handles = [Line2D([], [], color=colors[t], lw=1.6, label=labels.get(t, t)) for t in terms]
    handles.append(Line2D([], [], color="0.3", lw=4, label=marked or f"p_corrected < {alpha:g}"))
    axes[0, -1].legend(handles=handles, fontsize=7, frameon=False, loc="upper right")
    return fig


def parse_contrast(contrast: str) -> tuple[str, str | None]:
    """``"identity-expression"`` -> ``("identity", "expression")``; ``"identity"`` -> (x, None)."""
    text = str(contrast)
    for sep in (" - ", "-", " vs "):
        if sep in text:
            a, b = text.split(sep, 1)
            return a.strip(), b.strip()
    return text.strip(), None


def contrast_curves(patients: pd.DataFrame, a: str, b: str | None) -> pd.DataFrame:
    """Per patient and window: mean of ``a`` minus mean of ``b`` (or ``a`` alone).

    ``patients`` holds ``subject``, ``objective``, ``window_start``, ``window_stop``, ``mean``
    of one family and ROI. Returns ``subject``, ``_t``, ``diff``.
    """
    rows = patients.assign(_t=_centre(patients))
    wide = rows.pivot_table(index=["subject", "_t"], columns="objective", values="mean",
                            aggfunc="mean")
    if a not in wide or (b is not None and b not in wide):
        return pd.DataFrame(columns=["subject", "_t", "diff"])
    diff = wide[a] - (wide[b] if b is not None else 0.0)
    return diff.rename("diff").reset_index()


def plot_difference(patients: pd.DataFrame, clusters: pd.DataFrame | None, contrast: str,
                    alpha: float = _SIG_ALPHA):
    """The difference of two objectives over time per family and ROI, clusters shaded.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patient summary table (``family``, ``subject``, ``roi``, ``objective``,
        ``window_start``, ``window_stop``, ``mean``).
    clusters : pandas.DataFrame | None
        The cluster table (``family``, ``roi``, ``contrast``, ``start``, ``stop``, ``p_value``).
    contrast : str
        ``"a-b"`` (e.g. ``"identity-expression"``) or ``"a"``.
    alpha : float
        Clusters with ``p_value`` below it are shaded darker.

    Returns
    -------
    fig : matplotlib.figure.Figure | None
        One panel per (family, ROI): thin grey lines per patient, the mean ± s.e.m. over
        patients, clusters shaded. ``None`` when no panel has data.
    """
    a, b = parse_contrast(contrast)
    table = patients.copy()
    if "family" not in table:
        table["family"] = "all"
    table = table[np.isfinite(table["mean"].astype(float))]
    panels = []
    for (family, roi), rows in table.groupby(["family", "roi"], sort=True):
        curves = contrast_curves(rows, a, b)
        if not curves.empty and np.isfinite(curves["diff"]).any():
            panels.append((str(family), str(roi), curves))
    if not panels:
        return None
    n_cols = min(len(panels), 3)
    n_rows = int(np.ceil(len(panels) / n_cols))
    fig = _figure(4.3 * n_cols, 2.9 * n_rows)
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharex=True).ravel()
    for ax, (family, roi, curves) in zip(axes, panels):
        if clusters is not None and len(clusters):
            sub = clusters
            for column, value in (("family", family), ("roi", roi), ("contrast", contrast)):
                if column in sub:
                    sub = sub[sub[column].astype(str) == value]
            for _, cluster in sub.iterrows():
                significant = float(cluster.get("p_value", np.nan)) < alpha
                ax.axvspan(float(cluster["start"]), float(cluster["stop"]),
                           color="tab:orange", alpha=0.35 if significant else 0.12, lw=0)
        for _, one in curves.groupby("subject"):
            ax.plot(one["_t"], one["diff"], color="0.6", lw=0.7)
        group = curves.groupby("_t")["diff"].agg(["mean", "sem"]).reset_index()
        sem = group["sem"].fillna(0.0)
        ax.plot(group["_t"], group["mean"], color="k", lw=1.8)
        ax.fill_between(group["_t"], group["mean"] - sem, group["mean"] + sem, color="k",
                        alpha=0.2, lw=0)
        ax.axhline(0, color="k", lw=0.6)
        ax.axvline(0, color="k", lw=0.6, ls=":")
        ax.set_title(f"{family}: {roi} (n = {curves['subject'].nunique()})", fontsize=9)
        ax.set_xlabel("time (s, window centre)", fontsize=8)
        ax.set_ylabel(f"{a} \u2212 {b}" if b else a, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    return fig
