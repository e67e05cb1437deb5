"""Atlas labels of contacts: all contacts at once, with a tolerance for white matter.

A contact's label in an atlas is the label of the voxel it lies in. Contacts in white matter,
in a sulcus or just off the cortical ribbon (common for sEEG and subdural ECoG) lie in an
unlabelled voxel; they take the label of the nearest labelled (grey-matter) voxel if that voxel is
within ``max_distance`` mm. The distance is recorded (0 inside a labelled voxel), so a reviewer
sees how far each label was reached for. Voxel look-ups go through the atlas' inverse affine for
all contacts at once; nearest labelled voxels come from a KD-tree of the grey-matter boundary
voxels, built once per atlas.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .atlases import Atlas, load_atlas

__all__ = ["label_contacts", "lookup", "region_distance", "atlas_column", "hemisphere_of"]

NA = "n/a"


def atlas_column(name: str) -> str:
    """The column-name stem of an atlas: ``'Desikan-Killiany'`` -> ``'desikan_killiany'``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


def hemisphere_of(xyz) -> np.ndarray:
    """'L' for x < 0, 'R' for x > 0, 'n/a' on the midline or for missing coordinates (MNI RAS)."""
    x = np.asarray(xyz, dtype=float).reshape(-1, 3)[:, 0]
    out = np.full(len(x), NA, dtype=object)
    out[x < 0] = "L"
    out[x > 0] = "R"
    return out


def _voxel_values(atlas: Atlas, xyz: np.ndarray) -> np.ndarray:
    """Label value of the voxel holding each point (0 outside the volume or for NaN)."""
    data = atlas.data
    inverse = np.linalg.inv(atlas.affine)
    values = np.zeros(len(xyz), dtype=np.int64)
    finite = np.isfinite(xyz).all(axis=1)
    ijk = np.rint(xyz[finite] @ inverse[:3, :3].T + inverse[:3, 3]).astype(np.int64)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(data.shape[:3])), axis=1)
    rows = np.flatnonzero(finite)[inside]
    values[rows] = data[ijk[inside, 0], ijk[inside, 1], ijk[inside, 2]]
    return values


def _boundary_tree(atlas: Atlas, values=None):
    """KD-tree over the world coordinates of the boundary voxels of a set of labels.

    ``values=None``: every grey-matter label. The nearest voxel of a set from a point outside it
    is always a boundary voxel (one with a face neighbour outside the set), so the tree holds only
    those, a small fraction of the set. Returns (tree, value of each tree point) or (None, None)
    for an empty set. Cached on the atlas.
    """
    from scipy.ndimage import binary_erosion
    from scipy.spatial import cKDTree

    key = ("tree", None if values is None else tuple(sorted(int(v) for v in values)))
    if key in atlas._cache:
        return atlas._cache[key]
    data = atlas.data
    if values is None:
        lut = atlas.grey_values
        mask = lut[np.clip(data, 0, len(lut) - 1)] & (data < len(lut)) & (data > 0)
    else:
        mask = np.isin(data, np.asarray(list(values), dtype=data.dtype)) & (data > 0)
    if not mask.any():
        atlas._cache[key] = (None, None)
        return atlas._cache[key]
    boundary = mask & ~binary_erosion(mask, border_value=0)
    ijk = np.argwhere(boundary)
    world = ijk @ atlas.affine[:3, :3].T + atlas.affine[:3, 3]
    atlas._cache[key] = (cKDTree(world), data[boundary].astype(np.int64))
    return atlas._cache[key]


def lookup(atlas, xyz, max_distance: float = 3.0):
    """Labels of points in one atlas.

    Parameters
    ----------
    atlas : str | Atlas
    xyz : array-like, shape (n, 3)
        MNI coordinates in mm (NaN allowed).
    max_distance : float
        How far (mm) to look for the nearest labelled voxel from a point in an unlabelled one.

    Returns
    -------
    labels : numpy.ndarray of str, shape (n,)
        The grey-matter label; for a point with no grey label within ``max_distance``, the label
        of its own voxel if it has one (e.g. ``Left-Cerebral-White-Matter``), else ``'n/a'``.
    distance : numpy.ndarray of float, shape (n,)
        Distance (mm) to the nearest grey-matter voxel's centre: 0 inside one, NaN for missing
        coordinates. Given even beyond ``max_distance``.
    values : numpy.ndarray of int, shape (n,)
        The label values (0 for none).
    """
    atlas = atlas if isinstance(atlas, Atlas) else load_atlas(atlas)
    xyz = np.asarray(xyz, dtype=float).reshape(-1, 3)
    n = len(xyz)
    finite = np.isfinite(xyz).all(axis=1)
    own = _voxel_values(atlas, xyz)
    lut = atlas.grey_values
    grey = (own > 0) & (own < len(lut)) & lut[np.clip(own, 0, len(lut) - 1)]
    values = np.where(grey, own, 0)
    distance = np.where(finite, 0.0, np.nan)
    search = finite & ~grey
    if search.any():
        tree, tree_values = _boundary_tree(atlas)
        if tree is None:
            distance[search] = np.inf
        else:
            d, idx = tree.query(xyz[search])
            distance[search] = d
            near = d <= max_distance
            rows = np.flatnonzero(search)
            values[rows[near]] = tree_values[idx[near]]
    names = atlas.names
    labels = np.full(n, NA, dtype=object)
    known = values > 0
    labels[known] = names[np.clip(values[known], 0, len(names) - 1)]
    # No grey label within reach: the point's own (non-grey) label is still informative.
    own_label = ~known & (own > 0) & (own < len(names))
    labels[own_label] = names[own[own_label]]
    labels[labels == ""] = NA
    return labels, distance, values


def region_distance(atlas, values, xyz) -> np.ndarray:
    """Distance (mm) from each point to the nearest voxel carrying one of ``values``.

    0 inside the region, NaN for missing coordinates, inf for an empty region.
    """
    atlas = atlas if isinstance(atlas, Atlas) else load_atlas(atlas)
    xyz = np.asarray(xyz, dtype=float).reshape(-1, 3)
    values = np.asarray(list(values), dtype=np.int64)
    own = _voxel_values(atlas, xyz)
    finite = np.isfinite(xyz).all(axis=1)
    out = np.where(finite, np.inf, np.nan)
    inside = finite & np.isin(own, values) & (own > 0)
    out[inside] = 0.0
    rest = finite & ~inside
    if rest.any() and len(values):
        tree, _ = _boundary_tree(atlas, values)
        if tree is not None:
            out[rest] = tree.query(xyz[rest])[0]
    return out


def label_contacts(contacts, atlases=("HCPEx",), max_distance: float = 3.0) -> pd.DataFrame:
    """Label contacts in several atlases.

    Parameters
    ----------
    contacts : pandas.DataFrame | array-like
        A table with ``x``, ``y``, ``z`` columns (MNI mm), or an (n, 3) array.
    atlases : sequence of str
        Atlas names (see :func:`ieegrsa.anatomy.list_atlases`).
    max_distance : float
        Nearest-label search distance (mm) for contacts in unlabelled voxels.

    Returns
    -------
    pandas.DataFrame
        Same index as ``contacts``; for each atlas ``<atlas>_label`` and ``<atlas>_distance``
        (the atlas name in lower case with ``_`` for punctuation, e.g. ``hcpex_label``,
        ``desikan_killiany_distance``).
    """
    if isinstance(contacts, pd.DataFrame):
        xyz = contacts[["x", "y", "z"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        index = contacts.index
    else:
        xyz = np.asarray(contacts, dtype=float).reshape(-1, 3)
        index = pd.RangeIndex(len(xyz))
    columns = {}
    for name in atlases:
        atlas = load_atlas(name)
        labels, distance, _ = lookup(atlas, xyz, max_distance)
        stem = atlas_column(atlas.name)
        columns[f"{stem}_label"] = labels
        columns[f"{stem}_distance"] = np.round(distance, 2)
    return pd.DataFrame(columns, index=index)
