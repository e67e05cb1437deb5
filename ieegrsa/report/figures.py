"""Figures of the reports (matplotlib, Agg canvas: no display needed).

Every function returns a :class:`matplotlib.figure.Figure` drawn without pyplot, so nothing
stays open in a global figure manager; :func:`figure_data_uri` turns one into the
``data:image/png;base64,...`` text that the HTML pages embed.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

__all__ = [
    "figure_data_uri",
    "pick_windows",
    "plot_rdms",
    "plot_timecourses",
    "plot_estimates",
    "plot_contrasts",
    "plot_difference",
]

_SIG_ALPHA = 0.05
_CATEGORICAL = "categorical"


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_data_uri(fig, dpi: int = 90) -> str:
    """The figure as ``data:image/png;base64,...`` (for ``<img src=...>``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int

    Returns
    -------
    uri : str
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _colors(names):
    from matplotlib import colormaps

    cycle = colormaps["tab10"]
    return {name: cycle(k % 10) for k, name in enumerate(names)}


def _centre(frame: pd.DataFrame) -> pd.Series:
    return (frame["window_start"].astype(float) + frame["window_stop"].astype(float)) / 2


# RDMs


def pick_windows(starts, n: int = 4) -> list[float]:
    """``n`` window starts spread evenly over the sorted unique ``starts``."""
    unique = np.unique(np.asarray(starts, float)[np.isfinite(np.asarray(starts, float))])
    if len(unique) <= n:
        return list(unique)
    index = np.unique(np.round(np.linspace(0, len(unique) - 1, n)).astype(int))
    return list(unique[index])


def _percentile(square: np.ndarray) -> np.ndarray:
    """Off-diagonal dissimilarities as percentiles (0-100); NaN stays NaN, diagonal 0."""
    from scipy.stats import rankdata

    out = np.full(square.shape, np.nan)
    n = square.shape[0]
    iu = np.triu_indices(n, k=1)
    values = square[iu]
    finite = np.isfinite(values)
    if finite.sum() > 1:
        ranks = np.full(values.shape, np.nan)
        ranks[finite] = (rankdata(values[finite]) - 1) / (finite.sum() - 1) * 100
    else:
        ranks = np.where(finite, 50.0, np.nan)
    out[iu] = ranks
    out[(iu[1], iu[0])] = ranks
    out[np.diag_indices(n)] = 0.0
    return out


def select_model_rdms(models, max_layers: int = 3, max_panels: int = 8) -> list[tuple[str, int]]:
    """Which model RDMs to show: (title, row index) per panel.

    Every categorical model; for each network, its first instance at up to ``max_layers`` layers
    spread from the first to the last.
    """
    if models is None or models.n_rdms == 0:
        return []
    desc = models.descriptors.copy()
    for column in ("model", "objective", "instance", "layer"):
        if column not in desc:
            desc[column] = np.nan
    picks = []
    for model in pd.unique(desc["model"].astype(str)):
        rows = desc.index[desc["model"].astype(str) == model]
        sub = desc.loc[rows]
        objective = str(sub["objective"].iloc[0])
        if objective == _CATEGORICAL or len(sub) == 1:
            picks.append((model, int(rows[0])))
            continue
        instance = sub["instance"].astype(str).iloc[0]
        sub = sub[sub["instance"].astype(str) == instance]
        for k in np.unique(np.round(np.linspace(0, len(sub) - 1, min(max_layers, len(sub))))):
            row = sub.index[int(k)]
            picks.append((f"{model} ({objective})\n{sub.loc[row, 'layer']}", int(row)))
    return picks[:max_panels]


def plot_rdms(neural, roi: str, models=None, *, n_windows: int = 4, labels=None):
    """The ROI-pattern RDMs of one ROI at a few windows, with the model RDMs below them.

    Parameters
    ----------
    neural : ieegrsa.rsa.RDMs
        Neural RDMs (descriptors ``roi``, ``pattern``, ``window_start``, ``window_stop``).
    roi : str
    models : ieegrsa.rsa.RDMs | None
        Model RDMs (descriptors ``model``, ``objective``, ``instance``, ``layer``).
    n_windows : int
        Windows shown, spread over the epoch.
    labels : pandas.DataFrame | None
        Per condition (column ``image``) its ``identity`` and ``expression``: the conditions
        are then ordered by identity, then expression, with a tick and a line between
        identities, so that identity blocks show on the diagonal.

    Returns
    -------
    fig : matplotlib.figure.Figure | None
        ``None`` when the ROI has no ROI-pattern RDM.

    Notes
    -----
    Each RDM is shown as percentiles of its own dissimilarities, so that RDMs on different
    scales read alike; conditions are in the neural RDMs' order, or by identity then
    expression with ``labels`` (model RDMs are reordered to it when they hold the same
    conditions).
    """
    desc = neural.descriptors
    mask = np.ones(len(desc), bool)
    if "pattern" in desc:
        mask &= desc["pattern"].astype(str).to_numpy() == "roi"
    if "roi" in desc:
        mask &= desc["roi"].astype(str).to_numpy() == str(roi)
    if not mask.any():
        return None
    rows = np.flatnonzero(mask)
    starts = desc["window_start"].to_numpy(float)[rows]
    chosen = pick_windows(starts, n_windows)
    neural_panels = []
    for start in chosen:
        row = rows[np.flatnonzero(np.isclose(starts, start))[0]]
        stop = desc["window_stop"].iloc[row] if "window_stop" in desc else np.nan
        neural_panels.append((f"{start * 1000:.0f} to {float(stop) * 1000:.0f} ms", row))
    model_panels = select_model_rdms(models)
    neural, groups = _by_identity(neural, labels)
    if model_panels and set(map(str, models.conditions)) == set(map(str, neural.conditions)):
        if list(map(str, models.conditions)) != list(map(str, neural.conditions)):
            lookup = {str(c): c for c in models.conditions}
            models = models.reorder([lookup[str(c)] for c in neural.conditions])
    n_cols = max(len(neural_panels), len(model_panels), 1)
    n_rows = 2 if model_panels else 1
    fig = _figure(2.1 * n_cols + 0.8, 2.3 * n_rows + 0.2)
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    square = neural.square()
    image = None
    for k, ax in enumerate(axes[0]):
        if k >= len(neural_panels):
            ax.set_axis_off()
            continue
        title, row = neural_panels[k]
        image = ax.imshow(_percentile(square[row]), cmap="viridis", vmin=0, vmax=100)
        ax.set_title(title, fontsize=9)
        _group_ticks(ax, groups, labelled=k == 0)
    axes[0, 0].set_ylabel(f"{roi}\n(neural)", fontsize=9)
    if model_panels:
        model_square = models.square()
        for k, ax in enumerate(axes[1]):
            if k >= len(model_panels):
                ax.set_axis_off()
                continue
            title, row = model_panels[k]
            ax.imshow(_percentile(model_square[row]), cmap="viridis", vmin=0, vmax=100)
            ax.set_title(title, fontsize=8)
            _group_ticks(ax, groups, labelled=False)
        axes[1, 0].set_ylabel("models", fontsize=9)
    if image is not None:
        bar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.7, fraction=0.03)
        bar.set_label("dissimilarity (percentile)", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    return fig


def _by_identity(rdms, labels):
    """``rdms`` reordered by identity then expression, and the identity blocks
    ``[(name, first, stop)]`` (none without labels for every condition)."""
    if labels is None or not {"image", "identity"} <= set(labels.columns):
        return rdms, []
    table = labels.assign(image=labels["image"].astype(str)).drop_duplicates("image")
    table = table.set_index("image")
    names = [str(c) for c in rdms.conditions]
    if not set(names) <= set(table.index):
        return rdms, []
    keys = table.reindex(names)
    expression = keys["expression"] if "expression" in keys else ""
    frame = pd.DataFrame({"condition": list(rdms.conditions),
                          "identity": keys["identity"].astype(str).to_numpy(),
                          "expression": pd.Series(expression, index=keys.index).astype(str)
                          .to_numpy()})
    frame = frame.sort_values(["identity", "expression"], kind="stable")
    rdms = rdms.reorder(list(frame["condition"]))
    identities = frame["identity"].tolist()
    groups, start = [], 0
    for k in range(1, len(identities) + 1):
        if k == len(identities) or identities[k] != identities[start]:
            groups.append((identities[start], start, k))
            start = k
    return rdms, groups


def _group_ticks(ax, groups, *, labelled):
    """Lines between identity blocks and, on the first panel, the identities as tick labels."""
    ax.set_xticks([])
    ax.set_yticks([])
    if not groups:
        return
    for _, _, stop in groups[:-1]:
        ax.axhline(stop - 0.5, color="white", lw=0.6)
        ax.axvline(stop - 0.5, color="white", lw=0.6)
    if labelled:
        ax.set_yticks([(a + b - 1) / 2 for _, a, b in groups])
        ax.set_yticklabels([name for name, _, _ in groups], fontsize=6)


# Time courses of one participant


def _model_curves(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean value per model and window (networks: mean over layers and instances)."""
    rows = rows.assign(_t=_centre(rows))
    return (rows.groupby(["model", "_t"], sort=True)
            .agg(value=("value", "mean"), p_fwe=("p_fwe", "min"),
                 noise_ceiling=("noise_ceiling", "mean"))
            .reset_index())


def plot_timecourses(similarity: pd.DataFrame, roi: str, noise: pd.DataFrame | None = None):
    """Similarity time courses of one ROI: the ROI pattern, and single contacts on average.

    Parameters
    ----------
    similarity : pandas.DataFrame
        The similarity table (``desc-similarity_rsa.tsv``) of one participant.
    roi : str
    noise : pandas.DataFrame | None
        The noise-ceiling table (``desc-noiseceiling_rsa.tsv``); used where the similarity table
        holds no ``noise_ceiling``.

    Returns
    -------
    fig : matplotlib.figure.Figure | None
        ``None`` when the ROI has no finite similarity value. Left: ROI pattern, one line per
        model (networks averaged over layers and instances), windows with ``p_fwe < 0.05``
        marked by dots below the curves, the noise ceiling as a grey line (band between the
        split-half and Spearman-Brown values when the noise-ceiling table is given). Right:
        single-contact patterns, mean ± s.e.m. over contacts.
    """
    table = similarity.copy()
    for column in ("p_fwe", "noise_ceiling", "pattern", "contact"):
        if column not in table:
            table[column] = np.nan
    table = table[(table["roi"].astype(str) == str(roi)) & np.isfinite(table["value"])]
    if table.empty:
        return None
    models = list(pd.unique(table["model"].astype(str)))
    colors = _colors(models)
    panels = [p for p in ("roi", "contact") if (table["pattern"].astype(str) == p).any()]
    if not panels:
        panels = ["roi"]
        table["pattern"] = "roi"
    fig = _figure(5.2 * len(panels), 3.3)
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True, squeeze=False)[0])
    for ax, pattern in zip(axes, panels):
        rows = table[table["pattern"].astype(str) == pattern]
        if pattern == "roi":
            curves = _model_curves(rows)
            _draw_ceiling(ax, rows, noise, roi)
            low = np.nanmin(curves["value"]) if len(curves) else 0.0
            span = np.nanmax(curves["value"]) - low if len(curves) else 1.0
            for k, model in enumerate(models):
                curve = curves[curves["model"] == model]
                if curve.empty:
                    continue
                ax.plot(curve["_t"], curve["value"], color=colors[model], lw=1.6, label=model)
                sig = curve["p_fwe"] < _SIG_ALPHA
                if sig.any():
                    y = low - (0.06 + 0.05 * k) * (span or 1.0)
                    ax.plot(curve["_t"][sig], np.full(sig.sum(), y), "o", ms=3.5,
                            color=colors[model])
            ax.set_title(f"{roi}: ROI pattern (dots: p_FWE < 0.05)", fontsize=9)
        else:
            per_contact = (rows.assign(_t=_centre(rows))
                           .groupby(["model", "contact", "_t"])["value"].mean().reset_index())
            stats = per_contact.groupby(["model", "_t"])["value"].agg(["mean", "sem", "count"])
            stats = stats.reset_index()
            for model in models:
                curve = stats[stats["model"] == model]
                if curve.empty:
                    continue
                sem = curve["sem"].fillna(0.0)
                ax.plot(curve["_t"], curve["mean"], color=colors[model], lw=1.6, label=model)
                ax.fill_between(curve["_t"], curve["mean"] - sem, curve["mean"] + sem,
                                color=colors[model], alpha=0.2, lw=0)
            n = rows["contact"].nunique()
            ax.set_title(f"{roi}: single contacts (mean \u00b1 s.e.m., n = {n})", fontsize=9)
        ax.axhline(0, color="k", lw=0.6)
        ax.axvline(0, color="k", lw=0.6, ls=":")
        ax.set_xlabel("time (s, window centre)", fontsize=8)
        ax.tick_params(labelsize=7)
    method = table["method"].dropna().astype(str).iloc[0] if "method" in table and \
        table["method"].notna().any() else "similarity"
    axes[0].set_ylabel(method, fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[-1].legend(handles, labels, fontsize=7, frameon=False, loc="upper right")
    return fig


def _draw_ceiling(ax, rows, noise, roi):
    ceiling = None
    if noise is not None and len(noise) and {"r_half", "r_full", "roi"} <= set(noise.columns):
        sub = noise[(noise["roi"].astype(str) == str(roi))]
        if "pattern" in sub:
            sub = sub[sub["pattern"].astype(str) == "roi"]
        sub = sub.assign(_t=_centre(sub)).groupby("_t")[["r_half", "r_full"]].mean()
        if len(sub) and np.isfinite(sub.to_numpy()).any():
            low = np.fmin(sub["r_half"], sub["r_full"])
            high = np.fmax(sub["r_half"], sub["r_full"])
            ax.fill_between(sub.index, low, high, color="0.6", alpha=0.35, lw=0,
                            label="noise ceiling")
            ceiling = True
    if ceiling is None and rows["noise_ceiling"].notna().any():
        line = rows.assign(_t=_centre(rows)).groupby("_t")["noise_ceiling"].mean()
        ax.plot(line.index, line.to_numpy(), color="0.5", lw=1.2, ls="--", label="noise ceiling")


# Group figures


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
