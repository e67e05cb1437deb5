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

from .._docs import fill_doc
from .._logging import mne_log_level, verbose
from ..errors import BIDSError
from .discovery import (
    check_bids_root,
    find_recordings,
    list_subjects,
    listing,
    sidecar_path,
    strip_prefix,
)
from .electrodes import find_electrodes, match_contacts, read_contacts
from .stimuli import build_stimuli, read_tsv

logger = logging.getLogger("ieegrsa")

__all__ = ["Recording", "load_recording"]


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
        ``group`` (shaft or strip where known), ``size``. ``attrs["units_corrected"]`` is there
        when the declared units were corrected (:func:`~ieegrsa.bids.read_contacts`).
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
        """A one-line description of the recording, as a dict (for logs and tables).

        ``units_corrected`` is ``"n/a"``, or e.g. ``"declared m, used mm"`` where the contacts'
        declared units were corrected.
        """
        types = self.contacts["type"].value_counts()
        corrected = self.contacts.attrs.get("units_corrected")
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
            "units_corrected": (f"declared {corrected['declared']}, used {corrected['used']}"
                                if corrected else "n/a"),
            "n_events": len(self.events),
            "n_stimuli": len(self.stimuli),
            "n_faces": int(faces.sum()),
            "n_identities": int(self.stimuli.loc[faces, "identity"].nunique()),
            "n_expressions": int(self.stimuli.loc[faces, "expression"].nunique()),
        }


@fill_doc
@verbose
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
    label_source="auto",
    label_columns=(),
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
    label_source : {"auto", "atlas", "dataset"}
        ``anatomy.label_source``: whether the contacts' own labels in electrodes.tsv are read
        (auto: where present; dataset: required; atlas: never). Contacts in a space that is not
        MNI-aligned load when they have labels and this is auto or dataset.
    label_columns : sequence of str
        ``anatomy.label_columns``: label columns of electrodes.tsv beyond the known ones.
    stim_file_column, identity_column, expression_column, repetition_column : str
        Names of those columns in events.tsv (and stimuli.tsv).
    stimuli_table : str
        The stimulus table's path relative to ``bids_root``.
    %(verbose)s

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

    with mne.utils.use_log_level(mne_log_level()):
        return _load_recording(
            bids_root, subject, task, session, run,
            require_stimuli=require_stimuli, require_mni=require_mni, assume_space=assume_space,
            label_source=label_source, label_columns=tuple(label_columns),
            stim_file_column=stim_file_column, identity_column=identity_column,
            expression_column=expression_column, repetition_column=repetition_column,
            stimuli_table=stimuli_table,
        )


def _load_recording(bids_root, subject, task, session, run, *, require_stimuli, require_mni,
                    assume_space, label_source, label_columns, stim_file_column,
                    identity_column, expression_column, repetition_column, stimuli_table):
    root = check_bids_root(bids_root)
    subject = strip_prefix(subject, "sub-")
    subjects = list_subjects(root)
    if subject not in subjects:
        raise BIDSError(
            f"There is no participant '{subject}' in this dataset",
            file=root,
            field="subject",
            found=f"participants {listing(subjects)}",
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
            found=f"tasks {listing(tasks)}",
            fix="Choose one of those tasks (task, or bids.task in the config)",
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
                found=f"runs {listing([r for r in runs if r is not None])}",
                fix="Choose one of those runs, or none to concatenate all of them",
            )
    acquisitions = recordings["acquisition"]
    if recordings.duplicated(["run", "acquisition"]).any() or acquisitions.nunique() > 1:
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
    contacts_file, coordsystem_file = find_electrodes(paths[0], root)
    contacts = read_contacts(
        contacts_file, coordsystem_file, require_mni=require_mni, assume_space=assume_space,
        label_source=label_source, label_columns=label_columns,
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
    contacts = match_contacts(raw, contacts, contacts_file, paths[0])
    events = _place_events(events, events_frames, run_starts, list(recordings["run"]), raw)

    return Recording(
        raw=raw, events=events, contacts=contacts, stimuli=stimuli, bids_path=bids_paths[0],
        bids_paths=bids_paths, subject=subject, session=session, task=task, bids_root=root,
    )


def _choose_session(recordings, session, root, subject, task):
    sessions = sorted(pd.unique(recordings["session"].dropna()))
    if session is not None:
        session = strip_prefix(session, "ses-")
        if session not in sessions:
            raise BIDSError(
                f"Participant '{subject}' has no session '{session}' with task '{task}'",
                file=root / f"sub-{subject}",
                field="session",
                found=f"sessions {listing(sessions)}",
                fix="Choose one of those sessions",
            )
        return session
    if len(sessions) > 1:
        raise BIDSError(
            f"Participant '{subject}' has task '{task}' in several sessions",
            file=root / f"sub-{subject}",
            field="session",
            found=f"sessions {listing(sessions)}",
            fix="Name one session (session, or bids.session in the config)",
        )
    return sessions[0] if sessions else None


def _read_events(path, *, required, repetition_column):
    events_file = sidecar_path(path, "events", ".tsv")
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


# BIDS channel types (channels.tsv "type") -> MNE channel types
_BIDS_TO_MNE_TYPES = {
    "SEEG": "seeg", "ECOG": "ecog", "DBS": "dbs", "EEG": "eeg", "ECG": "ecg", "EOG": "eog",
    "VEOG": "eog", "HEOG": "eog", "EMG": "emg", "TRIG": "stim", "MISC": "misc", "RESP": "resp",
    "GSR": "gsr", "TEMP": "temperature", "BIO": "bio", "AUDIO": "misc", "PD": "misc",
    "EYEGAZE": "eyegaze", "PUPIL": "pupil", "REF": "misc", "SYSCLOCK": "syst", "OTHER": "misc",
}


def _read_raw(path: Path, root: Path):
    """Read one recording and apply its sidecars (channel types and status, line frequency).

    mne-bids' ``read_raw_bids`` does the same but also parses electrodes.tsv and events.tsv, so a
    flaw in those would be reported as an unreadable recording; ieegrsa reads those itself.
    """
    import mne
    from mne_bids import get_bids_path_from_fname

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # format readers warn about header details
            raw = mne.io.read_raw(path, preload=True, verbose="ERROR")
    except Exception as err:  # any reader failure is the file's fault, reported as such
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise BIDSError(
            "The recording file cannot be read",
            file=path,
            found=f"{type(err).__name__}: {message}",
            fix="Check the file is a complete EDF/BrainVision/FIF recording and that it opens "
            "in MNE-Python",
        ) from None
    duration = raw.n_times / raw.info["sfreq"]
    sidecar = _sidecar_json(path)
    expected = sidecar.get("RecordingDuration")
    expected = float(expected) if isinstance(expected, (int, float)) else None
    # A file much shorter than its sidecar says is a placeholder or a truncated copy.
    if raw.n_times < 2 or (expected is not None and duration < 0.5 * expected):
        raise BIDSError(
            "The recording file holds no usable signal (a placeholder or a truncated copy)",
            file=path,
            found=f"{raw.n_times} sample(s) = {duration:.3g} s"
            + (f", but the sidecar's RecordingDuration is {expected:g} s" if expected else ""),
            fix="Replace it with the complete recording",
        )
    _apply_channels_tsv(raw, sidecar_path(path, "channels", ".tsv"))
    line_freq = sidecar.get("PowerLineFrequency")
    if isinstance(line_freq, (int, float)):
        raw.info["line_freq"] = float(line_freq)
    bids_path = get_bids_path_from_fname(path, check=False)
    bids_path.update(root=root)
    return raw, bids_path


def _sidecar_json(path) -> dict:
    """The recording's ``_ieeg.json`` as a dict (empty when absent or unreadable)."""
    sidecar = sidecar_path(path, "ieeg", ".json")
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _apply_channels_tsv(raw, channels_file: Path) -> None:
    """Set channel types and bad channels from channels.tsv (names must match the recording)."""
    if not channels_file.is_file():
        raise BIDSError(
            "The recording has no channels file, so ieegrsa cannot tell sEEG/ECoG contacts apart",
            file=channels_file,
            found="no such file",
            fix="Add channels.tsv with name, type (SEEG/ECOG ...), units and status",
        )
    channels = read_tsv(channels_file, what="channels file")
    missing = [c for c in ("name", "type") if c not in channels.columns]
    if missing:
        raise BIDSError("The channels file lacks required columns", file=channels_file,
                        field=", ".join(missing), found=f"columns {list(channels.columns)}",
                        fix="channels.tsv needs name, type and units")
    in_file, in_raw = list(channels["name"]), raw.ch_names
    if set(in_file) != set(in_raw):
        only_file = [n for n in in_file if n not in set(in_raw)]
        only_raw = [n for n in in_raw if n not in set(in_file)]
        raise BIDSError(
            "The channels file and the recording list different channels",
            file=channels_file,
            field="name",
            found=f"only in channels.tsv: {listing(only_file, 8)}; only in the recording: "
            f"{listing(only_raw, 8)}",
            fix="Make channels.tsv list exactly the recording's channels",
        )
    types = channels["type"].str.upper()
    unknown = sorted(set(types.dropna()) - set(_BIDS_TO_MNE_TYPES))
    if unknown:
        raise BIDSError("The channels file has channel types BIDS does not define",
                        file=channels_file, field="type", found=", ".join(unknown),
                        fix="Use BIDS types: " + ", ".join(sorted(_BIDS_TO_MNE_TYPES)))
    mapping = {name: _BIDS_TO_MNE_TYPES[t] for name, t in zip(channels["name"], types)
               if isinstance(t, str)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "unit changed" when a type changes: expected here
        raw.set_channel_types(mapping, on_unit_change="ignore", verbose="ERROR")
    if "status" in channels.columns:
        status = channels["status"].str.lower()
        raw.info["bads"] = list(channels.loc[status == "bad", "name"])


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
                found=f"{len(set(raw_names) ^ set(names[0]))} channel(s) differ from "
                f"{paths[0].name}",
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


def _place_events(events, events_frames, run_starts, runs, raw):
    """Put every run's events on the concatenated time axis and add run and sample columns."""
    if not len(events):
        return pd.DataFrame(columns=["onset", "duration", "trial_type", "stim_file", "identity",
                                     "expression", "category", "repetition", "run", "sample",
                                     "onset_in_run", "events_file"])
    offsets = {
        str(events_file): (start, run)
        for (frame, events_file), run, start in zip(events_frames, runs, run_starts)
        if frame is not None
    }
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
    for column in ("trial_type", "stim_file", "identity", "expression", "category"):
        if column not in events.columns:
            events[column] = np.nan
    if "repetition" not in events.columns or events["repetition"].isna().all():
        # Count showings of each image in presentation order (1-based).
        shown = events["stim_file"].notna()
        events["repetition"] = np.nan
        events.loc[shown, "repetition"] = (
            events.loc[shown].sort_values("onset", kind="stable").groupby("stim_file").cumcount()
            + 1
        )
    first = ["onset", "duration", "trial_type", "stim_file", "identity", "expression", "category",
             "repetition", "run", "sample", "onset_in_run", "events_file"]
    return events[first + [c for c in events.columns if c not in first]]
