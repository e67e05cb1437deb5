"""Find what a BIDS dataset holds: subjects, sessions, tasks and iEEG runs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from ..errors import BIDSError

logger = logging.getLogger("ieegrsa")

__all__ = [
    "check_bids_root", "list_subjects", "find_recordings", "RECORDING_EXTENSIONS", "listing",
    "sidecar_path", "strip_prefix", "task_sessions",
]

# Signal formats ieegrsa reads through mne-bids. BIDS allows EDF, BrainVision and EEGLAB for iEEG;
# FIF is accepted too because mne-bids reads and writes it and labs convert to it.
RECORDING_EXTENSIONS = (".edf", ".vhdr", ".fif", ".set", ".bdf")


def check_bids_root(bids_root) -> Path:
    """Check that ``bids_root`` is a BIDS dataset and return it as an absolute path.

    Parameters
    ----------
    bids_root : str | path-like
        The dataset's root folder.

    Returns
    -------
    root : pathlib.Path

    Raises
    ------
    BIDSError
        If the folder does not exist, lacks ``dataset_description.json`` or has no ``sub-*``
        folder.
    """
    root = Path(bids_root).expanduser().resolve()
    fix = (
        "Point ieegrsa at the root of a BIDS dataset: the folder holding dataset_description.json "
        "and the sub-<label> folders"
    )
    if not root.is_dir():
        raise BIDSError("This path is not a folder", file=root, fix=fix)
    description = root / "dataset_description.json"
    if not description.is_file():
        raise BIDSError(
            "This folder is not a BIDS dataset: dataset_description.json is missing",
            file=root,
            fix=fix,
        )
    try:
        json.loads(description.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise BIDSError(
            "dataset_description.json is not valid JSON",
            file=description,
            found=str(err),
            fix="Repair the file (bids-validator shows the exact problem)",
        ) from None
    if not any(p.is_dir() for p in root.glob("sub-*")):
        raise BIDSError(
            "This BIDS dataset has no sub-<label> folder", file=root, fix=fix
        )
    return root


def list_subjects(bids_root) -> list[str]:
    """Return the participant labels (without ``sub-``) in sorted order."""
    root = check_bids_root(bids_root)
    return sorted(p.name[4:] for p in root.glob("sub-*") if p.is_dir())


def strip_prefix(label: str, prefix: str) -> str:
    """Accept ``sub-01`` as well as ``01`` (BIDS-Apps convention)."""
    label = str(label)
    return label[len(prefix) :] if label.startswith(prefix) else label


def find_recordings(bids_root, subject=None, task=None, session=None, run=None) -> pd.DataFrame:
    """List the iEEG recordings of a dataset.

    Parameters
    ----------
    bids_root : str | path-like
        The dataset's root folder.
    subject, task, session, run : str | None
        Restrict to these entity values (``None`` = all).

    Returns
    -------
    recordings : pandas.DataFrame
        One row per recording file, columns ``subject``, ``session``, ``task``, ``acquisition``,
        ``run``, ``path`` (absolute), ``extension``; sessions and runs are ``None`` where the
        dataset has none. Sorted by subject, session, task, run.
    """
    root = check_bids_root(bids_root)
    subject = None if subject is None else strip_prefix(subject, "sub-")
    session = None if session is None else strip_prefix(session, "ses-")
    rows = []
    pattern = f"sub-{subject or '*'}/**/ieeg/*_ieeg.*"
    for path in sorted(root.glob(pattern)):
        if path.suffix.lower() not in RECORDING_EXTENSIONS:
            continue
        entities = _parse_entities(path.name)
        row = {
            "subject": entities.get("sub"),
            "session": entities.get("ses"),
            "task": entities.get("task"),
            "acquisition": entities.get("acq"),
            "run": entities.get("run"),
            "path": path,
            "extension": path.suffix.lower(),
        }
        if task is not None and row["task"] != task:
            continue
        if session is not None and row["session"] != session:
            continue
        if run is not None and row["run"] != str(run):
            continue
        rows.append(row)
    columns = ["subject", "session", "task", "acquisition", "run", "path", "extension"]
    table = pd.DataFrame(rows, columns=columns)
    if len(table):
        key = table[["subject", "session", "task", "run"]].fillna("").astype(str)
        # runs sort numerically when they are numbers ("2" before "10")
        key["run"] = key["run"].str.zfill(8)
        table = table.loc[key.sort_values(list(key.columns)).index].reset_index(drop=True)
    return table


def _parse_entities(filename: str) -> dict[str, str]:
    """Split ``sub-01_ses-1_task-faces_run-02_ieeg.edf`` into its key-value entities."""
    stem = filename.split(".", 1)[0]
    entities = {}
    for part in stem.split("_")[:-1]:  # the last part is the suffix
        if "-" in part:
            key, value = part.split("-", 1)
            entities[key] = value
    return entities


def listing(values, limit=20):
    """Join labels for a message, shortening long lists."""
    values = [str(v) for v in values]
    if not values:
        return "none"
    more = f" ... ({len(values)} in all)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def sidecar_path(path: Path, suffix: str, extension: str) -> Path:
    """The file of the same recording with another suffix (``channels``, ``events``...)."""
    stem = path.name.split(".", 1)[0]
    base = stem[: -len("_ieeg")]
    return path.with_name(f"{base}_{suffix}{extension}")


def task_sessions(bids_root, subject, task) -> list[str]:
    """The sessions of ``subject`` holding recordings of ``task`` (empty without sessions)."""
    found = find_recordings(bids_root, subject=subject, task=task)
    return list(found["session"].dropna().unique()) if "session" in found else []
