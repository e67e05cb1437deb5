"""Contact positions: electrodes.tsv + coordsystem.json, spaces, units, matching to channels."""

from __future__ import annotations

import json
import logging
import re
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
# A head is ~150 mm across: whatever the origin (scanner RAS included), the largest absolute
# coordinate of real contacts lies within this range (mm).
_HEAD_MM = (20.0, 300.0)
# Declared units the values contradict: the largest absolute coordinate at most / at least this,
# in the declared unit (None: no bound). The gaps between are left alone: they may be real.
_IMPLAUSIBLE = {"mm": (0.3, None), "cm": (0.3, 50.0), "m": (None, 5.0)}
# The units a misdeclared file is read in instead, when the values fit a head in exactly one.
_CORRECTIONS = ("mm", "m")


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
        (``attrs["label_columns"]`` names the columns read). Where the declared units contradict
        the values (a head is ~150 mm across) and the values fit a head in one other unit, they
        are read in that unit with a warning, and ``attrs["units_corrected"]`` says so:
        ``{"declared": "m", "used": "mm", "factor": 1000.0, "file": ...}`` (``factor``: how many
        times too large the declared unit would have made the positions).

    Raises
    ------
    BIDSError
        For a missing or unreadable file, a space that cannot be placed (see ``require_mni``;
        2-D ``Pixels`` positions have their own message), unusable units, units the values
        contradict in a way that cannot be corrected, missing columns, non-numeric coordinates,
        duplicate names, label codes missing from the code table, or ``label_source="dataset"``
        without label columns.

    Notes
    -----
    The units are coordsystem.json's ``iEEGCoordinateUnits``, or where it gives none, the
    ``Units`` of x, y and z in electrodes.json. They are contradicted when the largest absolute
    coordinate is at most 0.3 in ``mm`` or ``cm``, at least 50 in ``cm`` or at least 5 in
    ``m``; the values are then read in ``mm`` or ``m``, whichever puts it within 20-300 mm.
    """
    check_option("label_source", label_source, ("auto", "atlas", "dataset"),
                 what="label source", error=BIDSError)
    electrodes_file, coordsystem_file = Path(electrodes_file), Path(coordsystem_file)
    system, units = _coordinate_system(coordsystem_file)
    units, units_file, units_field = _declared_units(units, coordsystem_file, electrodes_file)
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
    pixels = str(units).lower() == "pixels" or str(system).lower() == "pixels"
    if require_mni and pixels and not by_labels:
        said = ("iEEGCoordinateSystem", system) if str(system).lower() == "pixels" else (
            units_field, units)
        raise BIDSError(
            "These contacts are 2-D positions on a photograph (Pixels), which cannot be looked "
            "up in an atlas",
            file=coordsystem_file if said[0] == "iEEGCoordinateSystem" else units_file,
            field=said[0],
            found=repr(said[1]),
            fix="Give the contacts 3-D coordinates in an MNI space (space-MNI152NLin2009cAsym "
            "electrodes.tsv + coordsystem.json, iEEGCoordinateUnits mm), or each contact's atlas "
            "label in an electrodes.tsv column (destrieux, desikan-killiany, dkt, or one named "
            "in anatomy.label_columns) with anatomy.label_source auto or dataset",
        )
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
            "one named in anatomy.label_columns) with anatomy.label_source auto or dataset; "
            "or let the pipeline warp them (anatomy.warp not off) with the patient's T1w in "
            "anat/ or the lab's transform (sub-<label>_from-MNI152NLin2009cAsym_to-T1w_mode-"
            "image_xfm.h5, or anatomy.warp.transform)",
        )
    if not placeable and by_labels:
        logger.info("%s: contacts in %s space are placed from the dataset's labels (%s)",
                    electrodes_file.name, space, ", ".join(labels.attrs["label_columns"]))
    if units not in _UNITS_TO_MM:
        if (require_mni and placeable) or units not in (None, "n/a", "pixels"):
            raise BIDSError(
                "The contacts' units are not usable",
                file=units_file,
                field=units_field,
                found=repr(units),
                fix="Give the units as m, cm or mm",
            )
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
        table[axis] = values
    scale, corrected = 1.0, None
    if units in _UNITS_TO_MM:
        scale, corrected = _checked_scale(table[["x", "y", "z"]].to_numpy(float), units,
                                          units_file, units_field)
    for axis in ("x", "y", "z"):
        table[axis] = table[axis] * scale
    check_unique(table, "name", electrodes_file, "electrodes file", item="contact")
    table.insert(4, "space", space if space is not None else "n/a")
    if by_labels:
        for column in labels.columns:
            table[column] = labels[column]
        table.attrs["label_columns"] = dict(labels.attrs["label_columns"])
    table.attrs["electrodes_file"] = str(electrodes_file)
    table.attrs["coordsystem_file"] = str(coordsystem_file)
    if corrected is not None:
        table.attrs["units_corrected"] = corrected
    return table


def _declared_units(units, coordsystem_file: Path, electrodes_file: Path):
    """The units declared, the file and the field declaring them.

    coordsystem.json's ``iEEGCoordinateUnits`` is BIDS' place for them; where it gives none, the
    ``Units`` of x, y, z in the electrodes.json beside the electrodes file.
    """
    declared = (units, coordsystem_file, "iEEGCoordinateUnits")
    sidecar = electrodes_file.with_suffix(".json")
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8-sig")) if sidecar.is_file() else {}
    except (ValueError, UnicodeDecodeError):
        info = {}  # dataset_labels reports an unreadable electrodes.json
    info = info if isinstance(info, dict) else {}
    found = {info[a].get("Units") for a in ("x", "y", "z") if isinstance(info.get(a), dict)}
    found.discard(None)
    if len(found) != 1:
        return declared
    sidecar_units = found.pop()
    if units in (None, "n/a"):
        return sidecar_units, sidecar, "Units"
    if sidecar_units != units:
        logger.warning("%s gives the coordinates' Units as %r, %s says %r: using %r",
                       sidecar.name, sidecar_units, coordsystem_file.name, units, units)
    return declared


def _checked_scale(xyz, units, units_file, field):
    """mm per unit of the values, after checking the declared units against a head's size.

    Returns
    -------
    scale : float
        The declared unit's, or that of the unit the values fit when they contradict it.
    corrected : dict | None
        ``{"declared", "used", "factor", "file"}`` where the units were corrected (``factor``:
        how many times too large the declared unit would have made the positions).

    Raises
    ------
    BIDSError
        When the values contradict the declared unit and fit a head in no other unit.
    """
    scale = _UNITS_TO_MM[units]
    known = np.abs(xyz[np.isfinite(xyz)])
    if not known.size:
        return scale, None
    largest = float(known.max())
    low, high = _IMPLAUSIBLE[units]
    if not ((low is not None and largest <= low) or (high is not None and largest >= high)):
        return scale, None
    fits = [u for u in _CORRECTIONS if u != units
            and _HEAD_MM[0] <= largest * _UNITS_TO_MM[u] <= _HEAD_MM[1]]
    in_mm = f", i.e. {_number(largest * scale)} mm" if units != "mm" else ""
    found = (f"{units!r}, but the largest absolute coordinate is {_number(largest)}{in_mm}, and "
             "a head is ~150 mm across")
    if not fits:
        raise BIDSError(
            "The contacts' coordinates do not fit the units declared for them",
            file=units_file,
            field=field,
            found=found,
            fix="Declare the unit the coordinates are written in (m, cm or mm), or rewrite the "
            "coordinates in the declared unit",
        )
    used = fits[0]
    logger.warning(
        "%s declares %s %s: the coordinates are read as %s (correct the file to silence this)",
        Path(units_file).name, field, found, used,
    )
    return _UNITS_TO_MM[used], {"declared": units, "used": used,
                                "factor": scale / _UNITS_TO_MM[used], "file": str(units_file)}


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
        ``status`` (good / bad) and ``status_description`` inserted after ``space``. Rows of
        the electrodes file that are no channel of the recording, and rows with a position whose
        channel is not sEEG/ECoG, are left out with a warning listing them.

    Raises
    ------
    BIDSError
        Without any sEEG/ECoG channel, or for channels missing from the electrodes file (the
        message lists them and the file's rows that name no channel).
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
    unmatched = [name for name in positions.index if name not in types]
    if missing:
        similar = _similar_names(unmatched, missing)
        raise BIDSError(
            f"{len(missing)} contact(s) in the recording are missing from the electrodes file",
            file=contacts_file,
            field="name",
            found=f"sEEG/ECoG channels without a row: {listing(missing, limit=6)}; rows naming "
            f"no channel: {listing(unmatched, limit=6)}",
            fix=(f"Name the rows as channels.tsv names the channels (equal but for case, spaces "
                 f"or leading zeros: {similar}); and add" if similar else "Add")
            + " a row (name, x, y, z; n/a where unknown) for every sEEG/ECoG channel",
        )
    _warn_left_out(positions, unmatched, types, contacts_file)
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


def _number(value: float) -> str:
    """Three significant digits without an exponent for ordinary sizes (70000, not 7e+04)."""
    return f"{float(f'{value:.3g}'):g}"


def _warn_left_out(positions, unmatched, types, contacts_file) -> None:
    """Warn about the electrodes file's rows that are no sEEG/ECoG channel (they are left out).

    Rows of other channels without a position (mne-bids writes n/a rows for every channel) are
    expected and left out silently.
    """
    known = positions.reindex(columns=["x", "y", "z"]).notna().any(axis=1)
    other = [f"{name} ({types[name]})" for name in positions.index
             if name in types and types[name] not in IEEG_TYPES and known[name]]
    parts = []
    if unmatched:
        similar = _similar_names(unmatched, [n for n, t in types.items() if t in IEEG_TYPES])
        parts.append(f"{len(unmatched)} row(s) name no channel in channels.tsv: "
                     f"{listing(unmatched, limit=8)}"
                     + (f" (as channels named: {similar})" if similar else ""))
    if other:
        parts.append(f"{len(other)} row(s) with a position are channels that channels.tsv does "
                     f"not type SEEG or ECOG: {listing(other, limit=8)}")
    if parts:
        logger.warning("%s: %s. These rows are left out; if they are contacts, name them as "
                       "channels.tsv does, or type their channels SEEG or ECOG there.",
                       Path(contacts_file).name, "; ".join(parts))


def _similar_names(rows, channels) -> str:
    """Rows named as channels but for case, spaces and leading zeros (``'LA01' -> 'la1'``)."""
    def key(name):
        return re.sub(r"(?<!\d)0+(?=\d)", "", re.sub(r"\s+", "", str(name))).lower()

    by_key = {key(c): c for c in channels}
    pairs = [f"{r!r} -> {by_key[key(r)]!r}" for r in rows if key(r) in by_key]
    return listing(pairs, limit=4) if pairs else ""
