"""Read one patient's face-viewing iEEG recording from a BIDS dataset.

:func:`load_recording` checks everything it reads before the expensive step (reading the signal),
so that a bad dataset fails fast with one message naming the file, the field and the fix.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import BIDSError
from .discovery import check_bids_root, find_recordings, list_subjects, strip_prefix
from .stimuli import build_stimuli, read_tsv

logger = logging.getLogger("ieegrsa")

__all__ = ["Recording", "load_recording", "read_contacts", "MNI_SPACES", "IEEG_TYPES"]

# Coordinate systems that are aligned to MNI space, so that atlas labels and ROI definitions in
# MNI coordinates apply directly. fsaverage is FreeSurfer's MNI305 space; IXI549Space is SPM12's
# MNI template. Differences between the MNI152 variants are a few mm at most.
MNI_SPACES = (
    "MNI152Lin",
    "MNI152NLin6Sym",
    "MNI152NLin6ASym",
    "MNI152NLin2009aSym",
    "MNI152NLin2009aAsym",
    "MNI152NLin2009bSym",
    "MNI152NLin2009bAsym",
    "MNI152NLin2009cSym",
    "MNI152NLin2009cAsym",
    "MNI305",
    "fsaverage",
    "ICBM452AirSpace",
    "ICBM452Warp5Space",
    "IXI549Space",
)
_UNITS_TO_MM = {"m": 1000.0, "cm": 10.0, "mm": 1.0}
IEEG_TYPES = ("seeg", "ecog")


@dataclass
class Recording:
    """One patient's recording of a task, with everything ieegrsa needs from the dataset.

    Attributes
    ----------
    raw : mne.io.Raw
        The signal, all runs concatenated in run order. Channel types come from channels.tsv;
        channels marked bad there are in ``raw.info['bads']`` (kept, not dropped).
    events : pandas.DataFrame
        One row per event of every run: ``onset`` (s, on the concatenated ``raw`` time axis, i.e.
        from its first sample), ``duration`` (s), ``trial_type``, ``stim_file``, ``identity``,
        ``expression``, ``category`` (face / nonface), ``repetition`` (1-based), ``run``,
        ``sample`` (index into ``raw``), ``onset_in_run`` (s, as in the file), ``events_file``.
    contacts : pandas.DataFrame
        One row per sEEG/ECoG channel in recording order: ``name``, ``x``, ``y``, ``z`` (mm),
        ``space``, ``type`` (seeg / ecog), ``status`` (good / bad), ``status_description``,
        ``group`` (shaft or strip where known), ``size``.
    stimuli : pandas.DataFrame
        One row per image shown: ``stim_file``, ``identity``, ``expression``, ``category``,
        ``n_presentations``.
    bids_path : mne_bids.BIDSPath
        The first run's path; ``bids_paths`` lists all runs.
    """

    raw: object
    events: pd.DataFrame
    contacts: pd.DataFrame
    stimuli: pd.DataFrame
    bids_path: object
    bids_paths: list = field(default_factory=list)
    subject: str = ""
    session: str | None = None
    task: str = ""
    bids_root: Path | None = None

    @property
    def line_freq(self):
        """Power-line frequency in Hz from the sidecar (``None`` if not given)."""
        return self.raw.info.get("line_freq")

    def summary(self) -> dict:
        """A one-line description of the recording, as a dict (for logs and tables)."""
        types = self.contacts["type"].value_counts()
        faces = self.stimuli["category"] == "face"
        return {
            "subject": self.subject,
            "session": self.session or "n/a",
            "task": self.task,
            "n_runs": len(self.bids_paths),
            "sfreq": float(self.raw.info["sfreq"]),
            "duration_s": round(float(self.raw.times[-1]) if self.raw.n_times else 0.0, 3),
            "line_freq": self.line_freq if self.line_freq is not None else "n/a",
            "n_seeg": int(types.get("seeg", 0)),
            "n_ecog": int(types.get("ecog", 0)),
            "n_bad": int((self.contacts["status"] == "bad").sum()),
            "space": ",".join(pd.unique(self.contacts["space"].astype(str))) or "n/a",
            "n_events": len(self.events),
            "n_stimuli": len(self.stimuli),
            "n_faces": int(faces.sum()),
            "n_identities": int(self.stimuli.loc[faces, "identity"].nunique()),
            "n_expressions": int(self.stimuli.loc[faces, "expression"].nunique()),
        }


def load_recording(
    bids_root,
    subject,
    task,
    session=None,
    run=None,
    *,
    require_stimuli=True,
    require_mni=True,
    assume_space=None,
    stim_file_column="stim_file",
    identity_column="identity",
    expression_column="expression",
    repetition_column="repetition",
    stimuli_table="stimuli/stimuli.tsv",
    verbose=None,
) -> Recording:
    """Load one patient's iEEG recording of a task from a BIDS dataset.

    Parameters
    ----------
    bids_root : str | path-like
        The dataset root. It is only read, never written.
    subject : str
        Participant label, with or without ``sub-``.
    task : str
        Task label (e.g. ``"faces"``).
    session : str | None
        Session label; ``None`` takes the only session holding the task (an error if several).
    run : str | int | None
        One run; ``None`` loads all runs and concatenates them with their events.
    require_stimuli : bool
        If True (default), the events must name existing images in ``stim_file``; set False to
        load recordings of other tasks (the stimulus table is then empty when absent).
    require_mni : bool
        If True (default), contacts must be in an MNI-aligned space (:data:`MNI_SPACES`); set
        False to load contacts in any space (e.g. to inspect a dataset before normalisation).
    assume_space : str | None
        A space to use when coordsystem.json says ``Other`` or gives no usable system.
    stim_file_column, identity_column, expression_column, repetition_column : str
        Names of those columns in events.tsv (and stimuli.tsv).
    stimuli_table : str
        The stimulus table's path relative to ``bids_root``.
    verbose : bool | str | int | None
        Logging level for this call (as in MNE).

    Returns
    -------
    recording : Recording

    Raises
    ------
    BIDSError
        For a folder that is not BIDS, an unknown participant, a task without events or stimuli,
        missing or unusable electrodes, or a recording file that cannot be read; the message
        names the file, the field and what to do.
    """
    import mne

    with mne.utils.use_log_level(verbose if verbose is not None else "WARNING"):
        return _load_recording(
            bids_root, subject, task, session, run,
            require_stimuli=require_stimuli, require_mni=require_mni, assume_space=assume_space,
            stim_file_column=stim_file_column, identity_column=identity_column,
            expression_column=expression_column, repetition_column=repetition_column,
            stimuli_table=stimuli_table,
        )


def _load_recording(bids_root, subject, task, session, run, *, require_stimuli, require_mni,
                    assume_space, stim_file_column, identity_column, expression_column,
                    repetition_column, stimuli_table):
    root = check_bids_root(bids_root)
    subject = strip_prefix(subject, "sub-")
    subjects = list_subjects(root)
    if subject not in subjects:
        raise BIDSError(
            f"There is no participant '{subject}' in this dataset",
            file=root,
            field="participant_label",
            found=f"participants {_listing(subjects)}",
            fix="Use one of those labels (without or with the sub- prefix)",
        )
    recordings = find_recordings(root, subject=subject)
    if not len(recordings):
        raise BIDSError(
            "This participant has no iEEG recording",
            file=root / f"sub-{subject}",
            found="no sub-*/[ses-*/]ieeg/*_ieeg.{edf,vhdr,fif,set} file",
            fix="Put the recordings in the participant's ieeg/ folder with BIDS names",
        )
    tasks = sorted(pd.unique(recordings["task"].dropna()))
    recordings = recordings[recordings["task"] == task]
    if not len(recordings):
        raise BIDSError(
            f"Participant '{subject}' has no iEEG recording of task '{task}'",
            file=root / f"sub-{subject}",
            field="task",
            found=f"tasks {_listing(tasks)}",
            fix="Choose one of those tasks (--task or bids.task in the config)",
        )
    session = _choose_session(recordings, session, root, subject, task)
    if session is not None:
        recordings = recordings[recordings["session"] == session]
    if run is not None:
        runs = list(recordings["run"])
        recordings = recordings[recordings["run"] == str(run)]
        if not len(recordings):
            raise BIDSError(
                f"Task '{task}' of participant '{subject}' has no run '{run}'",
                file=root / f"sub-{subject}",
                field="run",
                found=f"runs {_listing([r for r in runs if r is not None])}",
                fix="Choose one of those runs, or none to concatenate all of them",
            )
    if recordings.duplicated(["run", "acquisition"]).any() or recordings["acquisition"].nunique() > 1:
        raise BIDSError(
            "Several recordings share this task and run (different acquisitions or formats)",
            file=recordings["path"].iloc[0].parent,
            found=", ".join(p.name for p in recordings["path"]),
            fix="Keep one recording file per run",
        )
    paths = list(recordings["path"])

    events_frames = [
        _read_events(p, required=require_stimuli, repetition_column=repetition_column)
        for p in paths
    ]
    contacts_file, coordsystem_file = _find_electrodes(paths[0], root)
    contacts = read_contacts(
        contacts_file, coordsystem_file, require_mni=require_mni, assume_space=assume_space
    )
    # Check the stimuli before reading the signal: a dataset that cannot be analysed fails fast.
    events = pd.concat([f for f, _ in events_frames if f is not None] or [pd.DataFrame()],
                       ignore_index=True)
    if require_stimuli or (len(events) and stim_file_column in events.columns):
        events, stimuli = build_stimuli(
            events, [p for _, p in events_frames], root,
            stim_file_column=stim_file_column, identity_column=identity_column,
            expression_column=expression_column, stimuli_table=stimuli_table,
        )
    else:
        stimuli = pd.DataFrame(columns=["stim_file", "identity", "expression", "category",
                                        "n_presentations"])

    raws, bids_paths = [], []
    for path in paths:
        raw, bids_path = _read_raw(path, root)
        raws.append(raw)
        bids_paths.append(bids_path)
    raw, run_starts = _concatenate(raws, paths)
    contacts = _match_contacts(raw, contacts, contacts_file, paths[0])
    events = _place_events(events, events_frames, run_starts, paths, raw)

    return Recording(
        raw=raw, events=events, contacts=contacts, stimuli=stimuli, bids_path=bids_paths[0],
        bids_paths=bids_paths, subject=subject, session=session, task=task, bids_root=root,
    )


def _listing(values, limit=20):
    values = [str(v) for v in values]
    if not values:
        return "none"
    return ", ".join(values[:limit]) + (f" ... ({len(values)} in all)" if len(values) > limit else "")


def _choose_session(recordings, session, root, subject, task):
    sessions = sorted(pd.unique(recordings["session"].dropna()))
    if session is not None:
        session = strip_prefix(session, "ses-")
        if session not in sessions:
            raise BIDSError(
                f"Participant '{subject}' has no session '{session}' with task '{task}'",
                file=root / f"sub-{subject}",
                field="session",
                found=f"sessions {_listing(sessions)}",
                fix="Choose one of those sessions",
            )
        return session
    if len(sessions) > 1:
        raise BIDSError(
            f"Participant '{subject}' has task '{task}' in several sessions",
            file=root / f"sub-{subject}",
            field="session",
            found=f"sessions {_listing(sessions)}",
            fix="Name one session (--session-label or bids.session in the config)",
        )
    return sessions[0] if sessions else None


def _sidecar(path: Path, suffix: str, extension: str) -> Path:
    """The file of the same recording with another suffix (``channels``, ``events``...)."""
    stem = path.name.split(".", 1)[0]
    base = stem[: -len("_ieeg")]
    return path.with_name(f"{base}_{suffix}{extension}")


def _read_events(path, *, required, repetition_column):
    events_file = _sidecar(path, "events", ".tsv")
    if not events_file.is_file():
        if required:
            raise BIDSError(
                "This recording has no events file",
                file=events_file,
                found="no such file",
                fix="Add the events (onset, duration, trial_type, stim_file, identity, expression; "
                "see bids_templates/events.json): ieegrsa needs to know which face image was "
                "shown when",
            )
        return None, events_file
    events = read_tsv(events_file, what="events file")
    for column in ("onset", "duration"):
        if column not in events.columns:
            raise BIDSError(
                f"The events have no {column} column",
                file=events_file,
                field=column,
                found=f"columns {list(events.columns)}",
                fix="BIDS events files start with onset and duration (seconds)",
            )
    for column in ("onset", "duration"):
        values = pd.to_numeric(events[column], errors="coerce")
        bad = values.isna() & events[column].notna()
        if column == "onset":
            bad |= values.isna()
        if bad.any():
            raise BIDSError(
                f"The events' {column} is not a number in {int(bad.sum())} row(s)",
                file=events_file,
                field=column,
                found=repr(events.loc[bad, column].iloc[0]),
                fix=f"Give {column} in seconds",
            )
        events[column] = values
    if repetition_column in events.columns:
        events["repetition"] = pd.to_numeric(events.pop(repetition_column), errors="coerce")
    events["events_file"] = str(events_file)
    return events, events_file


def _find_electrodes(recording_path: Path, root: Path):
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
    # Several spaces (e.g. ACPC and Talairach): prefer one ieegrsa can place in MNI.
    for tsv, coordsystem in pairs:
        if _coordinate_system(coordsystem, tsv)[0] in MNI_SPACES:
            return tsv, coordsystem
    return pairs[0]


def _coordinate_system(coordsystem: Path, electrodes: Path):
    if not coordsystem.is_file():
        return None, None
    try:
        info = json.loads(coordsystem.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as err:
        raise BIDSError("coordsystem.json is not valid JSON", file=coordsystem, found=str(err),
                        fix="Repair the file") from None
    return info.get("iEEGCoordinateSystem"), info.get("iEEGCoordinateUnits")


def read_contacts(electrodes_file, coordsystem_file, *, require_mni=True, assume_space=None):
    """Read contact positions and convert them to mm.

    Parameters
    ----------
    electrodes_file : path-like
        BIDS ``*_electrodes.tsv`` (columns name, x, y, z at least).
    coordsystem_file : path-like
        The matching ``*_coordsystem.json``.
    require_mni : bool
        Raise unless the space is MNI-aligned (:data:`MNI_SPACES`).
    assume_space : str | None
        Space to use where coordsystem.json says ``Other`` or nothing usable.

    Returns
    -------
    contacts : pandas.DataFrame
        Columns ``name``, ``x``, ``y``, ``z`` (mm; NaN where the file says n/a), ``space`` and any
        further columns of the file (size, group, hemisphere ...).
    """
    electrodes_file, coordsystem_file = Path(electrodes_file), Path(coordsystem_file)
    system, units = _coordinate_system(coordsystem_file, electrodes_file)
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
    if require_mni and not placeable:
        raise BIDSError(
            "ieegrsa cannot place these contacts in MNI space, which its atlases and ROIs need",
            file=coordsystem_file,
            field="iEEGCoordinateSystem",
            found=repr(system),
            fix="Normalise the contacts to an MNI template (one of "
            + ", ".join(MNI_SPACES[:3]) + " ... MNI152NLin2009cAsym, MNI305/fsaverage) and "
            "write them as space-<template> electrodes.tsv + coordsystem.json; if they already "
            "are, set bids.assume_space",
        )
    if units not in _UNITS_TO_MM:
        if require_mni or units not in (None, "n/a", "pixels"):
            raise BIDSError(
                "The contacts' units are not usable",
                file=coordsystem_file,
                field="iEEGCoordinateUnits",
                found=repr(units),
                fix="Give the units as m, cm or mm",
            )
    scale = _UNITS_TO_MM.get(units, 1.0)
    table = read_tsv(electrodes_file, what="electrodes file")
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
    duplicated = table["name"][table["name"].duplicated()]
    if len(duplicated):
        raise BIDSError(
            "The electrodes file lists a contact twice",
            file=electrodes_file,
            field="name",
            found=", ".join(pd.unique(duplicated)[:5]),
            fix="Keep one row per contact",
        )
    table.insert(4, "space", space if space is not None else "n/a")
    table.attrs["electrodes_file"] = str(electrodes_file)
    table.attrs["coordsystem_file"] = str(coordsystem_file)
    return table


def _read_raw(path: Path, root: Path):
    from mne_bids import BIDSPath, get_bids_path_from_fname, read_raw_bids

    bids_path = get_bids_path_from_fname(path, check=False)
    bids_path = BIDSPath(
        root=root, subject=bids_path.subject, session=bids_path.session, task=bids_path.task,
        acquisition=bids_path.acquisition, run=bids_path.run, datatype="ieeg", suffix="ieeg",
        extension=bids_path.extension, check=False,
    )
    try:
        with warnings.catch_warnings():
            # mne-bids warns about sidecar details it cannot use (unknown coordinate frames,
            # units); ieegrsa reads positions and stimuli itself and reports problems precisely.
            warnings.simplefilter("ignore")
            raw = read_raw_bids(bids_path, verbose="ERROR")
        raw.load_data()
    except Exception as err:  # any reader failure is the file's fault, reported as such
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise BIDSError(
            "The recording file cannot be read",
            file=path,
            found=f"{type(err).__name__}: {message}",
            fix="Check the file is a complete EDF/BrainVision/FIF recording (its sidecars must "
            "match it) and that it opens in MNE-Python",
        ) from None
    duration = raw.n_times / raw.info["sfreq"]
    expected = _sidecar_duration(path)
    # A file much shorter than its sidecar says is a placeholder or a truncated copy.
    if raw.n_times < 2 or (expected is not None and duration < 0.5 * expected):
        raise BIDSError(
            "The recording file holds no usable signal (a placeholder or a truncated copy)",
            file=path,
            found=f"{raw.n_times} sample(s) = {duration:.3g} s"
            + (f", but the sidecar's RecordingDuration is {expected:g} s" if expected else ""),
            fix="Replace it with the complete recording",
        )
    return raw, bids_path


def _sidecar_duration(path):
    """RecordingDuration (s) from the recording's JSON sidecar, or None."""
    sidecar = _sidecar(path, "ieeg", ".json")
    try:
        value = json.loads(sidecar.read_text(encoding="utf-8-sig")).get("RecordingDuration")
        return float(value) if value not in (None, "n/a") else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def _concatenate(raws, paths):
    """Concatenate runs in order; return the raw and each run's start (s) on the new time axis."""
    import mne

    sfreqs = {float(r.info["sfreq"]) for r in raws}
    if len(sfreqs) > 1:
        raise BIDSError(
            "The runs have different sampling rates and cannot be concatenated",
            file=paths[0].parent,
            field="SamplingFrequency",
            found=", ".join(f"{p.name}: {r.info['sfreq']:g} Hz" for p, r in zip(paths, raws)),
            fix="Load one run at a time (run=...), or resample the runs to one rate",
        )
    names = [r.ch_names for r in raws]
    for path, raw_names in zip(paths[1:], names[1:]):
        if raw_names != names[0]:
            raise BIDSError(
                "The runs have different channels and cannot be concatenated",
                file=path,
                found=f"{len(set(raw_names) ^ set(names[0]))} channel(s) differ from {paths[0].name}",
                fix="Load one run at a time (run=...)",
            )
    lengths = np.array([r.n_times for r in raws])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) / float(raws[0].info["sfreq"])
    if len(raws) == 1:
        return raws[0], starts
    bads = sorted(set().union(*(r.info["bads"] for r in raws)))
    for r in raws:
        r.info["bads"] = bads
    return mne.concatenate_raws(raws), starts


def _match_contacts(raw, contacts, contacts_file, recording_path):
    types = dict(zip(raw.ch_names, raw.get_channel_types()))
    ieeg = [name for name in raw.ch_names if types[name] in IEEG_TYPES]
    if not ieeg:
        raise BIDSError(
            "The recording has no sEEG or ECoG channel",
            file=_sidecar(recording_path, "channels", ".tsv"),
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
            found=_listing(missing, limit=8),
            fix="Add a row (name, x, y, z; n/a where unknown) for every sEEG/ECoG channel",
        )
    table = positions.loc[ieeg].reset_index()
    table.attrs.update(contacts.attrs)
    # electrodes.tsv may have its own optional "type" (depth / surface ...): keep it apart from
    # the channel type
    table = table.rename(columns={"type": "electrode_type"})
    table.insert(5, "type", [types[n] for n in ieeg])
    channels_file = _sidecar(recording_path, "channels", ".tsv")
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


def _place_events(events, events_frames, run_starts, paths, raw):
    """Put every run's events on the concatenated time axis and add run and sample columns."""
    if not len(events):
        return pd.DataFrame(columns=["onset", "duration", "trial_type", "stim_file", "identity",
                                     "expression", "category", "repetition", "run", "sample",
                                     "onset_in_run", "events_file"])
    offsets = {}
    for (frame, events_file), path, start in zip(events_frames, paths, run_starts):
        if frame is not None:
            from mne_bids import get_bids_path_from_fname

            offsets[str(events_file)] = (start, get_bids_path_from_fname(path, check=False).run)
    start = events["events_file"].map(lambda f: offsets[f][0])
    events["run"] = events["events_file"].map(lambda f: offsets[f][1])
    events["onset_in_run"] = events["onset"]
    events["onset"] = events["onset_in_run"] + start
    sfreq = float(raw.info["sfreq"])
    events["sample"] = np.round(events["onset"].to_numpy() * sfreq).astype(int)
    outside = (events["sample"] < 0) | (events["sample"] >= raw.n_times)
    if outside.any():
        i = outside.idxmax()
        raise BIDSError(
            f"{int(outside.sum())} event(s) fall outside the recording",
            file=events.loc[i, "events_file"],
            field="onset",
            found=f"onset {events.loc[i, 'onset_in_run']:g} s",
            fix="Onsets are seconds from the start of the recording file",
        )
    if "repetition" not in events.columns or events["repetition"].isna().all():
        # Count showings of each image in presentation order (1-based).
        shown = events["stim_file"].notna() if "stim_file" in events.columns else events["onset"] < 0
        events["repetition"] = np.nan
        events.loc[shown, "repetition"] = (
            events.loc[shown].sort_values("onset", kind="stable").groupby("stim_file").cumcount() + 1
        )
    for column in ("trial_type", "stim_file", "identity", "expression", "category"):
        if column not in events.columns:
            events[column] = np.nan
    first = ["onset", "duration", "trial_type", "stim_file", "identity", "expression", "category",
             "repetition", "run", "sample", "onset_in_run", "events_file"]
    return events[first + [c for c in events.columns if c not in first]]
