"""Figures of the participant report (matplotlib, Agg canvas: no display needed), and the
helpers every report figure shares (the group's are in :mod:`.group_figures`).

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
