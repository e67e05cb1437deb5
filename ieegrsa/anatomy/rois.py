"""Regions of interest: definitions (package data, overridable) and anatomical membership.

The package data file ``ieegrsa/data/rois.yaml`` defines the default ROIs (``ventral``:
FFA and OFA; ``lateral``: posterior STS; finer ones per hemisphere and per area) twice: by atlas
labels and by spheres around literature MNI peaks, the source of each peak stated in the file.
A configuration's ``anatomy.roi_definitions`` overrides fields of a packaged ROI or adds new ROIs.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
import yaml

from .._check import check_option, did_you_mean
from ..errors import ConfigError
from .atlases import load_atlas
from .labels import lookup, region_distance

__all__ = ["ROIDefinition", "load_roi_definitions", "list_rois", "load_peaks", "resolve_rois",
           "roi_membership", "dataset_roi_membership", "NO_ROI"]

#: The ROI of a contact outside every ROI.
NO_ROI = "n/a"

DEFAULT_ATLAS = "HCPEx"


@dataclass(frozen=True)
class ROIDefinition:
    """One ROI, by atlas labels and by spheres around peaks.

    Attributes
    ----------
    name, description : str
    atlas : str
        Atlas of ``labels``.
    labels : tuple of str
        Label names or glob patterns of ``atlas``.
    peaks : tuple of (str, (x, y, z))
        Named MNI peaks (mm).
    radius : float | None
        Sphere radius (mm) for this ROI; None = the configuration's ``sphere_radius``.
    sources : dict
        Peak name -> where its coordinates come from.
    dataset_labels : tuple of (str, tuple of str)
        Region names of the dataset's own labels, per parcellation (destrieux,
        desikan_killiany, dkt ...), without hemisphere prefixes.
    hemisphere : str | None
        L or R: only that hemisphere's contacts belong by dataset labels; None = both.
    """

    name: str
    description: str = ""
    atlas: str = DEFAULT_ATLAS
    labels: tuple = ()
    peaks: tuple = ()
    radius: float | None = None
    sources: dict = field(default_factory=dict, compare=False)
    dataset_labels: tuple = ()
    hemisphere: str | None = None


@lru_cache(maxsize=1)
def _package_data() -> dict:
    text = resources.files("ieegrsa").joinpath("data", "rois.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def load_peaks() -> pd.DataFrame:
    """The literature peaks of the package data: name, x, y, z (MNI mm), source."""
    rows = [{"name": name, "x": float(p["mni"][0]), "y": float(p["mni"][1]),
             "z": float(p["mni"][2]), "source": " ".join(str(p.get("source", "")).split())}
            for name, p in _package_data()["peaks"].items()]
    return pd.DataFrame(rows, columns=["name", "x", "y", "z", "source"])


def _as_dict(value) -> dict:
    if value is None:
        return {}
    if hasattr(value, "model_dump"):
        # pydantic model from the configuration: only the fields the user gave override
        given = getattr(value, "model_fields_set", None)
        data = value.model_dump()
        return {k: v for k, v in data.items() if given is None or k in given}
    return dict(value)


def _sentence(hint: str) -> str:
    """``hint`` opening a sentence of a fix (capitalised, names untouched)."""
    return hint[:1].upper() + hint[1:]


def _resolve_peaks(name: str, peaks, known: Mapping) -> tuple:
    out = []
    for k, peak in enumerate(peaks or ()):
        if isinstance(peak, str):
            if peak not in known:
                raise ConfigError(
                    f"ROI {name!r} names an unknown peak",
                    field=f"anatomy.roi_definitions.{name}.peaks",
                    found=peak,
                    fix=_sentence(did_you_mean(peak, known))
                    + f"Known peaks: {', '.join(known)}; or give coordinates [x, y, z] (MNI mm)",
                )
            out.append((peak, tuple(float(v) for v in known[peak]["mni"])))
        else:
            xyz = tuple(float(v) for v in peak)
            if len(xyz) != 3 or not np.all(np.isfinite(xyz)):
                raise ConfigError(
                    f"A peak of ROI {name!r} is not three finite coordinates",
                    field=f"anatomy.roi_definitions.{name}.peaks",
                    found=peak,
                    fix="Give each peak as [x, y, z] in MNI mm, or the name of a known peak",
                )
            out.append((f"{name}_peak{k + 1}", xyz))
    return tuple(out)


def load_roi_definitions(overrides=None) -> dict[str, ROIDefinition]:
    """All ROI definitions: the package data, with ``overrides`` applied.

    Parameters
    ----------
    overrides : Mapping[str, Mapping | pydantic model] | None
        ROI name -> fields (``description``, ``atlas``, ``labels``, ``peaks``, ``radius``). A
        packaged ROI keeps the fields not given; a new name adds an ROI.

    Returns
    -------
    dict[str, ROIDefinition]
    """
    data = _package_data()
    known_peaks = data["peaks"]
    merged = {name: dict(spec) for name, spec in data["rois"].items()}
    for name, spec in (overrides or {}).items():
        merged.setdefault(str(name), {}).update(_as_dict(spec))
    out = {}
    for name, spec in merged.items():
        if name == NO_ROI:
            raise ConfigError(f"{NO_ROI!r} cannot name an ROI", field="anatomy.roi_definitions",
                              fix="It marks contacts outside every ROI; choose another name")
        out[name] = ROIDefinition(
            name=name,
            description=" ".join(str(spec.get("description") or "").split()),
            atlas=spec.get("atlas") or DEFAULT_ATLAS,
            labels=tuple(spec.get("labels") or ()),
            peaks=_resolve_peaks(name, spec.get("peaks"), known_peaks),
            radius=spec.get("radius"),
            sources={p: " ".join(str(known_peaks[p].get("source", "")).split())
                     for p in (spec.get("peaks") or ()) if isinstance(p, str)},
            dataset_labels=tuple((str(k), tuple(str(n) for n in (v or ())))
                                 for k, v in (spec.get("dataset_labels") or {}).items()),
            hemisphere=spec.get("hemisphere"),
        )
    return out


def list_rois(overrides=None) -> list[str]:
    """Names of the ROIs that can be chosen (package data plus ``overrides``)."""
    return list(load_roi_definitions(overrides))


def resolve_rois(names, definitions: Mapping[str, ROIDefinition]) -> list[ROIDefinition]:
    """The definitions of the chosen ROIs, in the order given.

    Raises
    ------
    ConfigError
        For an unknown ROI name, listing the valid ones.
    """
    chosen = []
    for name in names:
        if name not in definitions:
            raise ConfigError(
                "Unknown ROI",
                field="anatomy.rois",
                found=name,
                fix=_sentence(did_you_mean(name, definitions))
                + f"Valid ROIs: {', '.join(definitions)} (or define it under "
                "anatomy.roi_definitions)",
            )
        chosen.append(definitions[name])
    return chosen


def roi_label_values(roi: ROIDefinition) -> tuple[np.ndarray, list[str]]:
    """Voxel values and names of an ROI's atlas labels (patterns expanded).

    Raises
    ------
    ConfigError
        If the ROI has no labels, or one of its labels matches nothing in the atlas.
    """
    atlas = load_atlas(roi.atlas)
    names = list(atlas.labels["name"])
    if not roi.labels:
        raise ConfigError(
            f"ROI {roi.name!r} has no atlas labels",
            field=f"anatomy.roi_definitions.{roi.name}.labels",
            fix="List its labels, or use anatomy.roi_method: sphere",
        )
    matched = []
    for pattern in roi.labels:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            raise ConfigError(
                f"A label of ROI {roi.name!r} is not in the atlas {atlas.name}",
                field=f"anatomy.roi_definitions.{roi.name}.labels",
                found=pattern,
                fix=_sentence(did_you_mean(pattern, names, n=3))
                + "See ieegrsa.anatomy.load_atlas(name).labels for the atlas' label names",
            )
        matched += [h for h in hits if h not in matched]
    return atlas.values_of(matched), matched


def roi_membership(xyz, rois, *, method: str = "atlas", max_distance: float = 3.0,
                   radius: float = 10.0):
    """Anatomical membership of points in ROIs.

    Parameters
    ----------
    xyz : array-like, shape (n, 3)
        MNI mm (NaN allowed: never a member).
    rois : sequence of ROIDefinition
    method : {"atlas", "sphere"}
        ``atlas``: the point's label in the ROI's atlas (nearest grey-matter label within
        ``max_distance``) is one of the ROI's labels. ``sphere``: the point is within the
        ROI's radius (``radius`` unless the ROI sets its own) of one of its peaks.
    max_distance, radius : float
        mm.

    Returns
    -------
    member : pandas.DataFrame of bool, shape (n, n_rois)
    distance : pandas.DataFrame of float, shape (n, n_rois)
        Distance (mm) from each point to the ROI: to its nearest voxel (atlas; 0 inside) or to
        the surface of its nearest sphere (sphere; 0 inside). NaN for missing coordinates.
    """
    check_option("method", method, ("atlas", "sphere"), what="ROI method", error=ConfigError)
    xyz = np.asarray(xyz, dtype=float).reshape(-1, 3)
    finite = np.isfinite(xyz).all(axis=1)
    member, distance = {}, {}
    for roi in rois:
        if roi.dataset_labels and not (roi.labels if method == "atlas" else roi.peaks):
            # an ROI defined only by the dataset's labels: no member by coordinates
            member[roi.name] = np.zeros(len(xyz), dtype=bool)
            distance[roi.name] = np.full(len(xyz), np.nan)
            continue
        if method == "atlas":
            values, _ = roi_label_values(roi)
            _, _, labelled = lookup(roi.atlas, xyz, max_distance)
            member[roi.name] = finite & np.isin(labelled, values) & (labelled > 0)
            distance[roi.name] = region_distance(roi.atlas, values, xyz)
        else:  # sphere
            if not roi.peaks:
                raise ConfigError(
                    f"ROI {roi.name!r} has no peaks for a sphere definition",
                    field=f"anatomy.roi_definitions.{roi.name}.peaks",
                    fix="Give its peaks (names or [x, y, z]), or use anatomy.roi_method: atlas",
                )
            r = float(roi.radius if roi.radius is not None else radius)
            centres = np.asarray([p[1] for p in roi.peaks], dtype=float)
            d = np.linalg.norm(xyz[:, None, :] - centres[None, :, :], axis=2).min(axis=1)
            member[roi.name] = finite & (d <= r)
            distance[roi.name] = np.where(finite, np.maximum(d - r, 0.0), np.nan)
    names = [roi.name for roi in rois]
    return (pd.DataFrame(member, columns=names).astype(bool),
            pd.DataFrame(distance, columns=names, dtype=float))


def label_key(region) -> str:
    """How dataset region names are compared: case and punctuation aside."""
    return re.sub(r"[^0-9a-z]+", "", str(region).lower())


def dataset_roi_membership(regions, hemispheres, rois) -> pd.DataFrame:
    """Membership of contacts in ROIs by the dataset's own labels.

    Parameters
    ----------
    regions : sequence of str
        Each contact's region name without the hemisphere prefix (``'n/a'``: none).
    hemispheres : sequence of str
        Each contact's hemisphere, L / R / ``'n/a'``.
    rois : sequence of ROIDefinition

    Returns
    -------
    member : pandas.DataFrame of bool, shape (n, n_rois)
        A contact belongs to an ROI when its region is one of the ROI's ``dataset_labels`` (of
        any parcellation; the names of Destrieux, Desikan-Killiany and DKT do not collide),
        compared case- and punctuation-insensitively, and, for an ROI of one hemisphere, its
        hemisphere is that one (an unknown hemisphere belongs to no one-hemisphere ROI).
    """
    keys = [label_key(r) if isinstance(r, str) and r != NO_ROI else None for r in regions]
    sides = [str(h) for h in hemispheres]
    member = {}
    for roi in rois:
        names = {label_key(n) for _, group in roi.dataset_labels for n in group}
        member[roi.name] = [
            key is not None and key in names and (roi.hemisphere is None or side == roi.hemisphere)
            for key, side in zip(keys, sides)
        ]
    return pd.DataFrame(member, columns=[r.name for r in rois]).astype(bool)
