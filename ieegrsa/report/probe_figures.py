"""Figures of the probe report (:func:`ieegrsa.report.probe.probe_report`).

Every function takes the tables of a :class:`~ieegrsa.probing.probe.ProbeResult` and returns a
:class:`matplotlib.figure.Figure` drawn without pyplot (Agg canvas), or ``None`` when there is
nothing to draw. Layers are on the x axis in depth order (their order of first appearance in the
table); instances (trained, untrained, object) keep fixed colours on every figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .figures import _figure

__all__ = [
    "layer_order",
    "pick_layers",
    "plot_readouts",
    "plot_confusions",
    "plot_units",
    "plot_congruence",
    "plot_identification",
    "plot_discrimination",
]

ALPHA = 0.05
AVERAGE = "average"
#: Colour and marker per instance (others get the tab10 colours in order).
_STYLE = {"trained": ("#1f5fa8", "o"), "untrained": ("#7f7f7f", "s"), "object": ("#d9720b", "^")}


def _style(instance: str, k: int):
    if instance in _STYLE:
        return _STYLE[instance]
    from matplotlib import colormaps

    return colormaps["tab10"]((k + 3) % 10), "D"


def _instances(frame: pd.DataFrame) -> list[str]:
    return [str(i) for i in pd.unique(frame["instance"].astype(str))] if "instance" in frame \
        else ["trained"]


def layer_order(*frames) -> list[str]:
    """Layers in depth order: their order of first appearance over ``frames``."""
    names = []
    for frame in frames:
        if frame is not None and len(frame) and "layer" in frame:
            names += [str(v) for v in pd.unique(frame["layer"].astype(str))]
    return list(dict.fromkeys(names))


def pick_layers(layers, n: int = 2) -> list[str]:
    """The last layer and, with ``n`` ≥ 2, a middle one (deepest first)."""
    layers = list(layers)
    if not layers:
        return []
    picks = [layers[-1]]
    if n >= 2 and len(layers) >= 3:
        picks.append(layers[(len(layers) - 1) // 2])
    elif n >= 2 and len(layers) == 2:
        picks.append(layers[0])
    return picks


def _by_layer_axes(ax, layers):
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels(layers, rotation=45 if len(layers) > 4 else 0, ha="right"
                       if len(layers) > 4 else "center", fontsize=7)
    ax.set_xlim(-0.4, len(layers) - 0.6)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", color="0.9", lw=0.6)


def _layer_lines(ax, frame, value, layers, *, p_column="p_value"):
    """One line per instance over the layers; filled markers where ``p < ALPHA``."""
    x_of = {name: k for k, name in enumerate(layers)}
    for k, instance in enumerate(_instances(frame)):
        rows = frame[frame["instance"].astype(str) == instance] if "instance" in frame else frame
        rows = rows[rows["layer"].astype(str).isin(x_of)]
        if rows.empty:
            continue
        x = rows["layer"].astype(str).map(x_of).to_numpy()
        y = pd.to_numeric(rows[value], errors="coerce").to_numpy(float)
        order = np.argsort(x)
        x, y = x[order], y[order]
        color, marker = _style(instance, k)
        ax.plot(x, y, color=color, lw=1.6, label=instance)
        ax.plot(x, y, marker, color=color, ms=5, mew=1.2,
                mfc="white" if p_column else color)  # open: not significant (or no test)
        if p_column and p_column in rows:
            p = pd.to_numeric(rows[p_column], errors="coerce").to_numpy(float)[order]
            sig = np.nan_to_num(p, nan=1.0) < ALPHA
            if sig.any():
                ax.plot(x[sig], y[sig], marker, color=color, ms=5)


def plot_readouts(readouts: pd.DataFrame):
    """Transfer-readout accuracy by layer, one panel per target (expression, identity).

    One line per instance; open markers: p ≥ 0.05, filled: p < 0.05 (permutation); chance
    (1 / n_classes) as a dashed line.
    """
    if readouts is None or readouts.empty or "accuracy" not in readouts:
        return None
    frame = readouts.copy()
    if "target" not in frame:
        frame["target"] = "readout"
    targets = [str(t) for t in pd.unique(frame["target"].astype(str))]
    layers = layer_order(frame)
    fig = _figure(max(3.2, 0.55 * len(layers) + 1.6) * len(targets), 3.2)
    axes = fig.subplots(1, len(targets), squeeze=False)[0]
    for ax, target in zip(axes, targets):
        rows = frame[frame["target"].astype(str) == target]
        _layer_lines(ax, rows, "accuracy", layers)
        if "chance" in rows and rows["chance"].notna().any():
            ax.axhline(float(rows["chance"].mean()), color="k", lw=0.9, ls="--", label="chance")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{target} readout", fontsize=9)
        ax.set_ylabel("accuracy (out-of-fold)", fontsize=8)
        _by_layer_axes(ax, layers)
    axes[0].legend(fontsize=7, frameon=False, loc="lower left")
    fig.suptitle("filled markers: p < 0.05 (permutation)", fontsize=8)
    return fig


def plot_confusions(confusions: dict, target: str = "expression", layer: str | None = None):
    """Row-normalised confusion matrices of one target's readout at one layer, per instance.

    ``confusions`` maps ``(instance, target, layer)`` to a DataFrame (rows true, columns
    predicted). ``layer`` None: each instance's last layer (depth order = insertion order).
    """
    picked = {}
    for key, matrix in (confusions or {}).items():
        if len(key) != 3 or str(key[1]) != target:
            continue
        instance, _, name = key
        if layer is None or str(name) == str(layer):
            picked[str(instance)] = (str(name), matrix)  # later layers overwrite earlier ones
    if not picked:
        return None
    fig = _figure(3.0 * len(picked) + 0.6, 3.1)
    axes = fig.subplots(1, len(picked), squeeze=False)[0]
    image = None
    for ax, (instance, (name, matrix)) in zip(axes, picked.items()):
        frame = matrix if isinstance(matrix, pd.DataFrame) else pd.DataFrame(np.asarray(matrix))
        counts = frame.to_numpy(dtype=float)
        totals = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, totals, out=np.full_like(counts, np.nan), where=totals > 0)
        image = ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        n = len(share)
        for i in range(n):
            for j in range(share.shape[1]):
                if np.isfinite(share[i, j]) and n <= 12:
                    ax.text(j, i, f"{share[i, j]:.2f}", ha="center", va="center",
                            fontsize=7 if n <= 6 else 5,
                            color="white" if share[i, j] > 0.6 else "black")
        ax.set_xticks(range(share.shape[1]))
        ax.set_yticks(range(n))
        ax.set_xticklabels([str(c) for c in frame.columns], rotation=45, ha="right", fontsize=7)
        ax.set_yticklabels([str(c) for c in frame.index], fontsize=7)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
        ax.set_title(f"{instance}: {name}", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=list(axes), shrink=0.8, label="P(predicted | true)")
    return fig


def _by_layer_figure(table, value, ylabel, title, *, p_column="p_value"):
    """A figure of ``value`` by layer, one line per instance; returns (figure, axes)."""
    layers = layer_order(table)
    fig = _figure(max(3.6, 0.55 * len(layers) + 1.6), 3.0)
    ax = fig.subplots()
    _layer_lines(ax, table, value, layers, p_column=p_column)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    _by_layer_axes(ax, layers)
    ax.legend(fontsize=7, frameon=False)
    return fig, ax


def plot_units(units: pd.DataFrame):
    """Proportion of expression-selective units by layer, one line per instance."""
    if units is None or units.empty or "proportion" not in units:
        return None
    fig, ax = _by_layer_figure(units, "proportion", "proportion of units",
                               "expression-selective units", p_column="")
    ax.set_ylim(bottom=0)
    return fig


def plot_congruence(congruence: pd.DataFrame):
    """Mean |Tucker's φ| between identity and expression directions by layer, per instance."""
    if congruence is None or congruence.empty or "mean_abs_phi" not in congruence:
        return None
    fig, ax = _by_layer_figure(congruence, "mean_abs_phi", "mean |φ|",
                               "identity–expression congruence (filled: p < 0.05)")
    top = float(np.nanmax(pd.to_numeric(congruence["mean_abs_phi"], errors="coerce")))
    ax.set_ylim(0, max(0.05, top * 1.15))
    return fig


def _boundary(boundaries, instance, layer):
    if boundaries is None or boundaries.empty or "boundary" not in boundaries:
        return None
    rows = boundaries[(boundaries["instance"].astype(str) == instance)
                      & (boundaries["layer"].astype(str) == layer)]
    if rows.empty:
        return None
    row = rows.iloc[0]
    return {k: float(row[k]) if k in row and pd.notna(row[k]) else np.nan
            for k in ("boundary", "scale", "boundary_ci_low", "boundary_ci_high")}


def plot_identification(identification: pd.DataFrame, boundaries: pd.DataFrame | None,
                        layers) -> object:
    """Identification curves (level vs P(high end)) at ``layers``, one line per instance.

    Points: mean over continua (± s.e.m.); curve: the logistic fit of ``boundaries``; vertical
    line: the boundary (shaded: its bootstrap interval).
    """
    if identification is None or identification.empty or not layers:
        return None
    fig, axes = _layer_panels(layers, sharey=True)
    for ax, layer, k, instance, part in _by_layer_and_instance(identification, layers, axes):
        has_sem = "sem" in part
        part = part.groupby("level", sort=True).agg(
            p=("p", "mean"), sem=("sem", "mean") if has_sem else ("p", "size"))
        color, marker = _style(instance, k)
        sem = part["sem"].fillna(0).to_numpy(float) if has_sem else None
        ax.errorbar(part.index, part["p"], yerr=sem, fmt=marker, color=color, ms=4,
                    lw=0.8, capsize=2, label=instance)
        fit = _boundary(boundaries, instance, layer)
        if fit and np.isfinite(fit["boundary"]) and np.isfinite(fit["scale"]) \
                and fit["scale"] != 0:
            x = np.linspace(part.index.min(), part.index.max(), 200)
            ax.plot(x, 1 / (1 + np.exp(-(x - fit["boundary"]) / fit["scale"])),
                    color=color, lw=1.4)
        if fit and np.isfinite(fit["boundary"]):
            _mark_boundary(ax, fit, color, part.index.min(), part.index.max())
    for ax, layer in zip(axes, layers):
        ax.axhline(0.5, color="0.6", lw=0.6, ls=":")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"identification: {layer}", fontsize=9)
        ax.set_xlabel("morph level", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("P(high-end category)", fontsize=8)
    axes[0].legend(fontsize=7, frameon=False, loc="upper left")
    return fig


def _layer_panels(layers, *, sharey):
    """A figure with one panel per layer, side by side."""
    fig = _figure(3.6 * len(layers) + 0.4, 3.0)
    return fig, fig.subplots(1, len(layers), squeeze=False, sharey=sharey)[0]


def _by_layer_and_instance(frame, layers, axes):
    """``(ax, layer, k, instance, rows)`` of every layer's panel and network instance, on the
    average over continua where the table has one."""
    if "group" in frame and (frame["group"].astype(str) == AVERAGE).any():
        frame = frame[frame["group"].astype(str) == AVERAGE]
    for ax, layer in zip(axes, layers):
        rows = frame[frame["layer"].astype(str) == layer]
        for k, instance in enumerate(_instances(frame)):
            part = rows[rows["instance"].astype(str) == instance]
            if not part.empty:
                yield ax, layer, k, instance, part


def _mark_boundary(ax, fit, color, low, high):
    if not low <= fit["boundary"] <= high:
        return  # a boundary outside the continuum is in the table, not drawn off-axis
    ax.axvline(fit["boundary"], color=color, lw=0.9, ls="--")
    lo, hi = fit.get("boundary_ci_low", np.nan), fit.get("boundary_ci_high", np.nan)
    if np.isfinite(lo) and np.isfinite(hi):
        ax.axvspan(max(lo, low), min(hi, high), color=color, alpha=0.08, lw=0)


def plot_discrimination(discrimination: pd.DataFrame, boundaries: pd.DataFrame | None, layers):
    """Distance between neighbouring morph steps (averaged over continua) by pair midpoint.

    One line per instance at each of ``layers``; the boundary as a dashed vertical line.
    """
    if discrimination is None or discrimination.empty or not layers:
        return None
    fig, axes = _layer_panels(layers, sharey=False)
    for ax, layer, k, instance, part in _by_layer_and_instance(discrimination, layers, axes):
        part = part.groupby("midpoint", sort=True)["distance"].mean()
        color, marker = _style(instance, k)
        ax.plot(part.index, part.to_numpy(), marker + "-", color=color, ms=4, lw=1.4,
                label=instance)
        fit = _boundary(boundaries, instance, layer)
        if fit and np.isfinite(fit["boundary"]):
            _mark_boundary(ax, {**fit, "boundary_ci_low": np.nan}, color,
                           part.index.min(), part.index.max())
    for ax, layer in zip(axes, layers):
        ax.set_title(f"discrimination: {layer}", fontsize=9)
        ax.set_xlabel("pair midpoint (morph level)", fontsize=8)
        ax.set_ylabel("distance", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7, frameon=False)
    return fig
