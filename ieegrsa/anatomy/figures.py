"""Glass-brain figure of the contacts, coloured by ROI, and the registration QC figure."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plot_contacts", "plot_registration", "ROI_COLORS"]

#: Colours of the default ROIs; other ROIs take colours from matplotlib's tab10 cycle.
ROI_COLORS = {
    "ventral": "#d62728",
    "lateral": "#1f77b4",
    "ventral_left": "#d62728",
    "ventral_right": "#ff7f0e",
    "lateral_left": "#1f77b4",
    "lateral_right": "#17becf",
    "FFA": "#d62728",
    "OFA": "#ff7f0e",
    "pSTS": "#1f77b4",
}
_OTHER = "#9a9a9a"


def _colors(rois):
    from matplotlib import colormaps

    cycle = [colormaps["tab10"](k) for k in range(10)]
    colors, k = {}, 0
    for roi in rois:
        if roi in ROI_COLORS:
            colors[roi] = ROI_COLORS[roi]
        else:
            colors[roi] = cycle[(k + 4) % 10]
            k += 1
    return colors


def plot_contacts(table: pd.DataFrame, *, title: str | None = None, display_mode: str = "lzr",
                  show_excluded: bool = True, figsize=(10, 3.6)):
    """Glass brain of the contacts, coloured by ROI (nilearn's ``plot_connectome``, no edges).

    Parameters
    ----------
    table : pandas.DataFrame
        The contact table of :func:`ieegrsa.localize` (``x``, ``y``, ``z``, ``roi``,
        ``included``; ``face_selective`` if present).
    title : str | None
    display_mode : str
        nilearn glass-brain views, e.g. ``"lzr"``, ``"ortho"``, ``"lzry"``.
    show_excluded : bool
        Draw contacts outside every ROI or excluded as small grey dots.
    figsize : (float, float)

    Returns
    -------
    matplotlib.figure.Figure
        Drawn with the Agg canvas (no display needed); included contacts are large dots in their
        ROI's colour, face-selective ones ringed in black.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from nilearn import plotting

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    xyz = table[["x", "y", "z"]].to_numpy(float)
    finite = np.isfinite(xyz).all(axis=1)
    roi = table.get("roi", pd.Series("n/a", index=table.index)).astype(str).to_numpy()
    included = table.get("included", pd.Series(True, index=table.index)).to_numpy(bool)
    selective = table.get("face_selective", pd.Series(False, index=table.index))
    selective = selective.fillna(False).to_numpy(bool)
    rois = [r for r in dict.fromkeys(table.attrs.get("rois", []) or list(pd.unique(roi)))
            if r != "n/a"]
    colors = _colors(rois)
    in_roi = finite & included & (roi != "n/a")
    other = finite & ~in_roi if show_excluded else np.zeros(len(table), bool)
    draw = in_roi | other
    coords = xyz[draw] if draw.any() else np.zeros((1, 3))
    node_color = [colors.get(r, _OTHER) if inside else _OTHER
                  for r, inside in zip(roi[draw], in_roi[draw])] if draw.any() else ["none"]
    node_size = np.where(in_roi[draw], 36.0, 8.0) if draw.any() else [0.0]
    display = plotting.plot_connectome(
        np.zeros((len(coords), len(coords))), coords, node_color=node_color,
        node_size=node_size, display_mode=display_mode, figure=fig, title=title,
        annotate=True, colorbar=False, node_kwargs={"edgecolors": "none"},
    )
    if (in_roi & selective).any():
        # ring the face-selective contacts
        display.add_markers(xyz[in_roi & selective], marker_color="none", marker_size=60,
                            edgecolors="black", linewidths=0.8)
    handles = [Line2D([], [], marker="o", linestyle="", color=colors[r], label=r) for r in rois]
    if show_excluded:
        handles.append(Line2D([], [], marker="o", linestyle="", color=_OTHER, markersize=4,
                              label="outside ROIs / excluded"))
    if (in_roi & selective).any():
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="none",
                              markeredgecolor="black", label="face-selective"))
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
                   fontsize=8)
    return fig


def plot_registration(table: pd.DataFrame, warp, *, title: str | None = None,
                      max_displacement: float = 10.0, figsize=(10, 6.4)):
    """QC of native contacts brought to MNI: the warped T1w over the template, with the contacts,
    and how far each contact moved.

    Parameters
    ----------
    table : pandas.DataFrame
        A contact table of :func:`ieegrsa.localize` whose contacts were warped (``x_native``
        ... columns).
    warp : ieegrsa.anatomy.native.ContactWarp
        The warp used (its registration, when there is one, draws the T1w's edges).
    title : str | None
    max_displacement : float
        The QC limit (mm) drawn on the displacement panel.
    figsize : tuple of float
        Inches.

    Returns
    -------
    matplotlib.figure.Figure
        Top: nilearn's MNI152 template with the registered T1w's edges (red) and the warped
        contacts. Bottom: per contact, the non-linear step's displacement (mm) for a
        registration, else the distance from the native to the template position.
    """
    import matplotlib.pyplot as plt
    from nilearn import plotting

    from .native import warped_contacts
    from .warp import template_image

    warped = warped_contacts(table)
    fig = plt.figure(figsize=figsize)
    top = fig.add_axes([0.0, 0.42, 1.0, 0.52])
    xyz = warped[["x", "y", "z"]].to_numpy(float)
    # axial slices at the contacts' heights, so that every contact lies on one
    heights = np.unique(np.round(np.quantile(xyz[:, 2], np.linspace(0, 1, 6)))) if len(xyz) \
        else np.array([-20.0, 0.0, 20.0])
    display = plotting.plot_anat(template_image(), axes=top,
                                 display_mode="z", cut_coords=list(heights), draw_cross=False,
                                 annotate=True, title=title, colorbar=False)
    registration = getattr(warp, "registration", None)
    if registration is not None and getattr(warp, "t1w", None) is not None:
        display.add_edges(registration.warped_image(warp.t1w), color="r")
    if len(xyz):
        display.add_markers(xyz, marker_color="#ffd400", marker_size=40)
    bottom = fig.add_axes([0.08, 0.08, 0.9, 0.28])
    shift = warped.get("warp_displacement", pd.Series(np.nan, index=warped.index)).to_numpy(float)
    label = "non-linear step (mm)"
    if not np.isfinite(shift).any():
        native = warped[["x_native", "y_native", "z_native"]].to_numpy(float)
        shift = np.linalg.norm(xyz - native, axis=1)
        label = "native to template (mm)"
        max_displacement = None
    names = warped["name"].astype(str).to_list()
    flagged = shift > max_displacement if max_displacement is not None \
        else np.zeros(len(shift), dtype=bool)
    bottom.bar(np.arange(len(names)), shift,
               color=np.where(flagged, "#d62728", "#7f7f7f").tolist())
    if max_displacement is not None:
        bottom.axhline(max_displacement, color="#d62728", lw=0.8, ls="--")
    bottom.set_ylabel(label)
    bottom.set_xticks(np.arange(len(names)))
    bottom.set_xticklabels(names, rotation=90, fontsize=6)
    bottom.set_xlim(-0.6, len(names) - 0.4)
    return fig
