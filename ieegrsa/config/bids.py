"""The ``bids`` section: where ieegrsa finds the recordings, events and stimuli."""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

from pydantic import Field, field_validator, model_validator

from .._check import did_you_mean
from ._base import _INDEX, _check_label, _Section, invalid

__all__ = ["BIDSConfig", "SUPPORTED_SPACES"]

# Template spaces (BIDS identifiers) whose coordinates are MNI coordinates, so that atlases and
# ROI definitions in MNI space apply to contacts directly. The MNI152 variants differ from one
# another by a few millimetres at most. fsaverage is FreeSurfer's volumetric MNI305 space (the
# space of talairach.xfm), i.e. the same coordinates as MNI305. IXI549Space is the template of
# SPM12's normalisation, whose output SPM reports as MNI coordinates. ICBM452 (AIR) spaces and
# subject spaces (ACPC, Other, Pixels) are not MNI-aligned and are left out.
SUPPORTED_SPACES = (
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
    "IXI549Space",
)


class BIDSConfig(_Section):
    """Where ieegrsa finds the recordings, events and stimuli in the BIDS dataset.

    Column names can be mapped, so a dataset whose events call the expression column e.g.
    `emotion` is used as it is.
    """

    task: str = Field(
        "faces",
        description="Task label of the face-viewing recordings: the <label> in task-<label> of "
        "the file names (letters and digits only).",
    )
    session: str | None = Field(
        None,
        description="Session label (the <label> in ses-<label>); null = every session.",
    )
    run: str | None = Field(
        None,
        description="Run index (the <index> in run-<index>, quoted, e.g. '01'); null = all runs, "
        "concatenated together with their events.",
    )
    identity_column: str = Field(
        "identity",
        description="Column of events.tsv (or of the stimulus table) holding the identity of the "
        "face shown.",
    )
    expression_column: str = Field(
        "expression",
        description="Column of events.tsv (or of the stimulus table) holding the facial "
        "expression shown.",
    )
    stim_file_column: str = Field(
        "stim_file",
        description="Column of events.tsv (and of the stimulus table) naming the image shown, "
        "relative to the dataset's stimuli/ folder.",
    )
    repetition_column: str = Field(
        "repetition",
        description="Column of events.tsv counting the presentations of each image (1 = first "
        "presentation).",
    )
    stimuli_table: str = Field(
        "stimuli/stimuli.tsv",
        description="Stimulus table, relative to the dataset root: one row per image with its "
        "stim_file, identity, expression and category. Used where events.tsv lacks the identity "
        "or expression of an image.",
    )
    assume_space: str | None = Field(
        None,
        description="Space to assume for the contact coordinates in electrodes.tsv when "
        "coordsystem.json says Other or names no usable space; only for contacts that are "
        "already normalised to that template. One of: " + ", ".join(SUPPORTED_SPACES)
        + " (fsaverage is MNI305). null = trust coordsystem.json.",
    )

    @field_validator("task")
    @classmethod
    def _task_label(cls, value: str) -> str:
        return _check_label(value, "task", "task")

    @field_validator("session")
    @classmethod
    def _session_label(cls, value: str | None) -> str | None:
        return _check_label(value, "session", "ses")

    @field_validator("run")
    @classmethod
    def _run_index(cls, value: str | None) -> str | None:
        return _check_label(value, "run", "run", pattern=_INDEX)

    @field_validator("identity_column", "expression_column", "stim_file_column",
                     "repetition_column")
    @classmethod
    def _column_name(cls, value: str) -> str:
        if not value.strip():
            raise invalid("a column name cannot be empty", "Give the column's name as in the "
                           "header of events.tsv")
        return value

    @field_validator("stimuli_table")
    @classmethod
    def _relative_path(cls, value: str) -> str:
        if not value.strip():
            raise invalid("the stimulus table path is empty",
                           "Give its path relative to the dataset root, e.g. stimuli/stimuli.tsv")
        # The input dataset must be self-contained: its stimulus table lives inside it.
        if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute():
            raise invalid("the stimulus table path must be relative to the dataset root",
                           "Move the table into the dataset and give e.g. stimuli/stimuli.tsv")
        return value

    @field_validator("assume_space")
    @classmethod
    def _supported_space(cls, value: str | None) -> str | None:
        if value is None:
            return None
        canonical = {space.lower(): space for space in SUPPORTED_SPACES}
        if value.lower() in canonical:
            return canonical[value.lower()]
        hint = did_you_mean(value, SUPPORTED_SPACES)
        raise invalid(
            "assume_space must be an MNI-aligned template space",
            f"Use one of {', '.join(SUPPORTED_SPACES)}" + (f" ({hint.strip()})" if hint else "")
            + "; contacts in ACPC, Other or Pixels coordinates must first be normalised to one",
        )

    @model_validator(mode="after")
    def _distinct_columns(self):
        columns = {
            "identity_column": self.identity_column,
            "expression_column": self.expression_column,
            "stim_file_column": self.stim_file_column,
            "repetition_column": self.repetition_column,
        }
        seen = {}
        for key, column in columns.items():
            if column in seen:
                raise invalid(
                    f"{seen[column]} and {key} name the same column {column!r}",
                    "Give each its own column",
                )
            seen[column] = key
        return self
