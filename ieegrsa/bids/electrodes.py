"""Contact positions: electrodes.tsv + coordsystem.json, spaces, units, matching to channels."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .._check import check_option
from ..config import SUPPORTED_SPACES
from ..errors import BIDSError
from ._tables import check_unique
from .dataset_labels import dataset_labels
from .discovery import listing, sidecar_path
from .stimuli import read_tsv

logger = logging.getLogger("ieegrsa")

__all__ = ["MNI_SPACES", "IEEG_TYPES", "find_electrodes", "read_contacts", "match_contacts"]

# MNI-aligned spaces: the one list lives in the configuration schema (bids.assume_space).
MNI_SPACES = SUPPORTED_SPACES
_UNITS_TO_MM = {"m": 1000.0, "cm": 10.0, "mm": 1.0}
IEEG_TYPES = ("seeg", "ecog")


def find_electrodes(recording_path: Path, root: Path):
    """Find electrodes.tsv and its coordsystem.json, inheriting from the session/subject level."""
    entities = recording_path.name.split("_")
    sub = entities[0]
    ses = entities[1] if len(entities) > 1 and entities[1].startswith("ses-") else None
    prefix = f"{sub}_{ses}" if ses else sub
    # electrodes belong to the session (space and acq entities may follow the prefix)
    candidates = sorted(recording_path.parent.glob(f"{prefix}_*electrodes.tsv"))
    if not candidates:
        raise BIDSError(
            "The contacts' positions are missing: no electrodes.tsv for this recording",
            file=recording_path.parent / f"{prefix}_space-<label>_electrodes.tsv",
            found="no such file",
            fix="Add electrodes.tsv (name, x, y, z) and coordsystem.json with the contacts in an "
            "MNI space, e.g. space-MNI152NLin2009cAsym",
        )
    pairs = []
    for tsv in candidates:
        coordsystem = tsv.with_name(tsv.name[: -len("electrodes.tsv")] + "coordsystem.json")
        if not coordsystem.is_file():
            # BIDS allows one coordsystem.json shared by the session
            shared = sorted(recording_path.parent.glob(f"{prefix}*_coordsystem.json"))
            coordsystem = shared[0] if len(shared) == 1 else coordsystem
        pairs.append((tsv, coordsystem))
    if len(pairs) == 1:
        return pairs[0]
    # Several spaces (e.g. ACPC and Talairach): prefer one ieegrsa can place in MNI, then the one
    # with the most known positions (mne-bids writes an all-n/a file when it has no montage).
    def rank(pair):
        tsv, coordsystem = pair
        known = read_tsv(tsv, what="electrodes file").reindex(columns=["x"])["x"].notna().sum()
        return (_coordinate_system(coordsystem)[0] in MNI_SPACES, int(known))

    return max(pairs, key=rank)


def _coordinate_system(coordsystem: Path):
    if not coordsystem.is_file():
        return None, None
    try:
        info = json.loads(coordsystem.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as err:
        raise BIDSError("coordsystem.json is not valid JSON", file=coordsystem, found=str(err),
                        fix="Repair the file") from None
    return info.get("iEEGCoordinateSystem"), info.get("iEEGCoordinateUnits")


def read_contacts(electrodes_file, coordsystem_file, *, require_mni=True, assume_space=None,
                  label_source="auto", label_columns=()):
    """Read contact positions (converted to mm) and the dataset's own anatomical labels.

    Parameters
    ----------
    electrodes_file : path-like
        BIDS ``*_electrodes.tsv`` (columns name, x, y, z at least).
    coordsystem_file : path-like
        The matching ``*_coordsystem.json``.
    require_mni : bool
        Raise unless the space is MNI-aligned (:data:`MNI_SPACES`), or the file has label
        columns and ``label_source`` lets them place the contacts.
    assume_space : str | None
        Space to use where coordsystem.json says ``Other`` or nothing usable.
    label_source : {"auto", "atlas", "dataset"}
        ``anatomy.label_source``: ``atlas`` ignores the file's label columns; ``dataset``
        requires them; ``auto`` reads them where present.
    label_columns : sequence of str
        ``anatomy.label_columns``: label columns beyond the known ones
        (:mod:`ieegrsa.bids.dataset_labels`).

    Returns
    -------
    contacts : pandas.DataFrame
        Columns ``name``, ``x``, ``y``, ``z`` (mm; NaN where the file says n/a), ``space`` and any
        further columns of the file (size, group, hemisphere ...); with label columns read,
        also those of :data:`ieegrsa.bids.dataset_labels.LABEL_COLUMNS`
        (``attrs["label_columns"]`` names the columns read).

    Raises
    ------
    BIDSError
        For a missing or unreadable file, a space that cannot be placed (see ``require_mni``),
        unusable units, missing columns, non-numeric coordinates, duplicate names, label codes
        missing from the code table, or ``label_source="dataset"`` without label columns.
    """
    check_option("label_source", label_source, ("auto", "atlas", "dataset"),
                 what="label source", error=BIDSError)
    electrodes_file, coordsystem_file = Path(electrodes_file), Path(coordsystem_file)
    system, units = _coordinate_system(coordsystem_file)
    if system is None and not coordsystem_file.is_file():
        raise BIDSError(
            "The contacts' coordinate system is not described: coordsystem.json is missing",
            file=coordsystem_file,
            found="no such file",
            fix="Add coordsystem.json with iEEGCoordinateSystem (e.g. MNI152NLin2009cAsym) and "
            "iEEGCoordinateUnits (mm)",
        )
    entity_space = next((p[6:] for p in electrodes_file.name.split("_") if p.startswith("space-")),
                        None)
    space = system
    if assume_space is not None and system in (None, "Other", "n/a"):
        space = assume_space
    elif system in (None, "Other", "n/a") and entity_space is not None:
        # e.g. py_neuromodulation writes space-mni files with "Other" in coordsystem.json
        named = {s.lower(): s for s in MNI_SPACES}
        if entity_space.lower() in named or entity_space.lower() == "mni":
            space = named.get(entity_space.lower(), "MNI")
            logger.warning(
                "%s says iEEGCoordinateSystem %r but the file name says space-%s: using %s. "
                "Set bids.assume_space to choose the space explicitly.",
                coordsystem_file.name, system, entity_space, space,
            )
    placeable = space in MNI_SPACES or space == "MNI"
    table = read_tsv(electrodes_file, what="electrodes file")
    labels = None
    if label_source != "atlas":
        labels = dataset_labels(table, electrodes_file, tuple(label_columns))
        if label_source == "dataset" and labels is None:
            raise BIDSError(
                "anatomy.label_source is dataset, but the electrodes file has no label column",
                file=electrodes_file,
                field="anatomy.label_source",
                found=f"columns {list(table.columns)}",
                fix="Name its label column under anatomy.label_columns, or set "
                "anatomy.label_source to auto or atlas",
            )
    by_labels = labels is not None
    if require_mni and not placeable and not by_labels:
        raise BIDSError(
            "ieegrsa cannot place these contacts in MNI space, which its atlases and ROIs need",
            file=coordsystem_file,
            field="iEEGCoordinateSystem",
            found=repr(system),
            fix="Normalise the contacts to an MNI template (one of "
            + ", ".join(MNI_SPACES[:3]) + " ... MNI152NLin2009cAsym, MNI305/fsaverage) and "
            "write them as space-<template> electrodes.tsv + coordsystem.json; if they already "
            "are, set bids.assume_space; or give each contact's atlas label in an electrodes.tsv "
            "column (destrieux, desikan-killiany, dkt, Destrieux_label with its code table, or "
            "one named in anatomy.label_columns) with anatomy.label_source auto or dataset",
        )
    if not placeable and by_labels:
        logger.info("%s: contacts in %s space are placed from the dataset's labels (%s)",
                    electrodes_file.name, space, ", ".join(labels.attrs["label_columns"]))
    if units not in _UNITS_TO_MM:
        if (require_mni and placeable) or units not in (None, "n/a", "pixels"):
            raise BIDSError(
                "The contacts' units are not usable",
                file=coordsystem_file,
                field="iEEGCoordinateUnits",
                found=repr(units),
                fix="Give the units as m, cm or mm",
            )
    scale = _UNITS_TO_MM.get(units, 1.0)
    missing = [c for c in ("name", "x", "y", "z") if c not in table.columns]
    if missing:
        raise BIDSError(
            "The electrodes file lacks required columns",
            file=electrodes_file,
            field=", ".join(missing),
            found=f"columns {list(table.columns)}",
            fix="electrodes.tsv needs name, x, y, z",
        )
    for axis in ("x", "y", "z"):
        values = pd.to_numeric(table[axis], errors="coerce")
        bad = values.isna() & table[axis].notna()
        if bad.any():
            raise BIDSError(
                f"The electrodes' {axis} is not a number",
                file=electrodes_file,
                field=axis,
                found=f"{table.loc[bad, 'name'].iloc[0]}: {table.loc[bad, axis].iloc[0]!r}",
                fix="Give coordinates as numbers, or n/a where unknown",
            )
        table[axis] = values * scale
    check_unique(table, "name", electrodes_file, "electrodes file", item="contact")
    table.insert(4, "space", space if space is not None else "n/a")
    if by_labels:
        for column in labels.columns:
            table[column] = labels[column]
        table.attrs["label_columns"] = dict(labels.attrs["label_columns"])
    table.attrs["electrodes_file"] = str(electrodes_file)
    table.attrs["coordsystem_file"] = str(coordsystem_file)
    return table


def match_contacts(raw, contacts, contacts_file, recording_path):
    """The recording's sEEG/ECoG channels as contacts, with their positions, type and status.

    Parameters
    ----------
    raw : mne.io.Raw
        The recording (channel types and ``info["bads"]`` from channels.tsv).
    contacts : pandas.DataFrame
        The electrodes file as read by :func:`read_contacts` (positions in mm).
    contacts_file : path-like
        That electrodes file, named in errors.
    recording_path : path-like
        The recording file, whose ``channels.tsv`` supplies ``status_description`` and
        ``group``.

    Returns
    -------
    contacts : pandas.DataFrame
        One row per sEEG/ECoG channel, in recording order: the electrodes file's columns with
        ``type`` (the channel type; the file's own ``type`` becomes ``electrode_type``),
        ``status`` (good / bad) and ``status_description`` inserted after ``space``.

    Raises
    ------
    BIDSError
        Without any sEEG/ECoG channel, or for channels missing from the electrodes file.
    """
    types = dict(zip(raw.ch_names, raw.get_channel_types()))
    ieeg = [name for name in raw.ch_names if types[name] in IEEG_TYPES]
    if not ieeg:
        raise BIDSError(
            "The recording has no sEEG or ECoG channel",
            file=sidecar_path(recording_path, "channels", ".tsv"),
            field="type",
            found=", ".join(sorted(set(types.values()))),
            fix="Mark the intracranial contacts as SEEG or ECOG in channels.tsv",
        )
    positions = contacts.set_index("name")
    missing = [name for name in ieeg if name not in positions.index]
    if missing:
        raise BIDSError(
            f"{len(missing)} contact(s) in the recording are missing from the electrodes file",
            file=contacts_file,
            field="name",
            found=listing(missing, limit=8),
            fix="Add a row (name, x, y, z; n/a where unknown) for every sEEG/ECoG channel",
        )
    table = positions.loc[ieeg].reset_index()
    table.attrs.update(contacts.attrs)
    # electrodes.tsv may have its own optional "type" (depth / surface ...): keep it apart from
    # the channel type
    table = table.rename(columns={"type": "electrode_type"})
    table.insert(5, "type", [types[n] for n in ieeg])
    channels_file = sidecar_path(recording_path, "channels", ".tsv")
    status = pd.Series("good", index=ieeg)
    status[[n for n in ieeg if n in raw.info["bads"]]] = "bad"
    table.insert(6, "status", status.to_numpy())
    description = pd.Series(np.nan, index=ieeg, dtype=object)
    if channels_file.is_file():
        channels = read_tsv(channels_file, what="channels file").set_index("name")
        if "status_description" in channels.columns:
            description = channels["status_description"].reindex(ieeg)
        if "group" in channels.columns and "group" not in table.columns:
            table["group"] = channels["group"].reindex(ieeg).to_numpy()
    table.insert(7, "status_description", description.to_numpy())
    return table
