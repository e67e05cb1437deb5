"""The whole ieegrsa configuration as one validated schema.

Every setting has a default, so an empty configuration runs the whole analysis. A YAML file
overrides any subset of the settings; unknown keys are errors (a misspelt key silently falling
back to its default would be worse than no configuration at all). The resolved configuration is
written beside the outputs, so that every result can be reproduced from it.

Adding a section is one class and one field: subclass :class:`_Section`, give every field a
default and a ``description``, and add it as a field of :class:`Config`. Loading, error messages
and the commented template (:func:`config_template_yaml`) follow from the schema; the machinery
that walks it is in :mod:`ieegrsa._config_io`.

Run ``python -m ieegrsa.config > config.yaml`` to write the commented template with every
setting at its default.

Examples
--------
>>> from ieegrsa.config import load_config
>>> config = load_config({"bids": {"task": "emotion"}})
>>> config.bids.task, config.n_jobs
('emotion', 1)
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from ._config_io import (
    comment_lines,
    config_error,
    deep_merge,
    invalid,
    is_section,
    read_yaml_mapping,
    template_lines,
)
from .errors import ConfigError

__all__ = [
    "Config",
    "BIDSConfig",
    "SUPPORTED_SPACES",
    "load_config",
    "config_to_yaml",
    "write_config",
    "config_template_yaml",
]

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

_LABEL = re.compile(r"[A-Za-z0-9]+")
_INDEX = re.compile(r"[0-9]+")


def _check_label(value: str | None, key: str, entity: str, pattern=_LABEL) -> str | None:
    """Check a BIDS label (task, session) or index (run), which names files and folders."""
    if value is None or pattern.fullmatch(value):
        return value
    prefix = f"{entity}-"
    if value.startswith(prefix) and pattern.fullmatch(value[len(prefix):]):
        raise invalid(
            f"{key} is the label alone, without the '{prefix}' prefix",
            f"Write {value[len(prefix):]!r}",
        )
    kind, example = ("index (digits only)", "01") if pattern is _INDEX else (
        "label (letters and digits only)", "faces")
    raise invalid(
        f"{key} must be a BIDS {kind}",
        f"Give what follows '{prefix}' in the file names, e.g. {example!r} for {prefix}{example}",
    )


class _Section(BaseModel):
    """Base of every configuration section."""

    # extra="forbid": a misspelt key is an error, not a silently ignored setting.
    # validate_assignment: a script that sets config.n_jobs = 0 is stopped as a file would be.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections_take_defaults(cls, data):
        # A section whose keys are all commented out reads as `bids:` (None) in YAML; that means
        # "the defaults", not an error.
        if not isinstance(data, Mapping):
            return data
        sections = {name for name, field in cls.model_fields.items()
                    if is_section(field.annotation)}
        return {k: v for k, v in data.items() if not (k in sections and v is None)}


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
        close = difflib.get_close_matches(value, SUPPORTED_SPACES, n=1)
        raise invalid(
            "assume_space must be an MNI-aligned template space",
            f"Use one of {', '.join(SUPPORTED_SPACES)}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
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


class Config(_Section):
    """The whole ieegrsa configuration.

    Every field has a default; a YAML file overrides any subset of them (see
    :func:`load_config`).
    """

    # StrictInt: YAML reads `n_jobs: yes` as True, which lax validation would turn into 1.
    random_seed: StrictInt = Field(
        0,
        ge=0,
        le=2**32 - 1,
        description="Seed of all randomness (permutations, bootstraps, simulated data, network "
        "initialisation): the same configuration gives the same numbers. 0 to 4294967295.",
    )
    n_jobs: StrictInt = Field(
        1,
        description="Participants processed in parallel: 1 = one at a time, -1 = all cores, "
        "-2 = all cores but one (as in joblib).",
    )
    bids: BIDSConfig = Field(
        default_factory=BIDSConfig,
        description="The input BIDS dataset.",
    )

    @field_validator("n_jobs")
    @classmethod
    def _nonzero_jobs(cls, value: int) -> int:
        if value == 0:
            raise invalid("n_jobs cannot be 0", "Use 1 to run one participant at a time or -1 "
                           "to use all cores")
        return value


# ---------------------------------------------------------------------------------------------
# Loading and writing


def load_config(source=None, *, overrides=None) -> Config:
    """Build and validate the configuration.

    Parameters
    ----------
    source : None | dict | Config | str | path-like
        ``None`` for the defaults; a (nested) mapping or a :class:`Config`; or the path of a YAML
        file. A mapping or a file may hold any subset of the settings; the rest keep their
        defaults.
    overrides : Mapping | None
        A nested mapping applied on top of ``source`` (e.g. command-line options such as
        ``{"n_jobs": 4}``); validated together with it.

    Returns
    -------
    config : Config

    Raises
    ------
    ConfigError
        For a missing or unreadable file, invalid YAML, a top level that is not a mapping, an
        unknown key or an invalid value. One message names the file, the dotted key, what was
        found and what to do, and lists every problem if there are several.
    """
    file = None
    lines = {}
    if source is None:
        data = {}
    elif isinstance(source, Config):
        if overrides is None:
            return source.model_copy(deep=True)
        data = source.model_dump()
    elif isinstance(source, Mapping):
        data = source
    elif isinstance(source, (str, os.PathLike)):
        file = Path(source)
        data, lines = read_yaml_mapping(file)
    else:
        raise ConfigError(
            "The configuration must be a YAML file, a mapping or a Config",
            found=type(source).__name__,
            fix="Pass the path of a YAML file (or a dict of settings)",
        )
    if overrides is not None:
        data = deep_merge(data, overrides)
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise config_error(err, Config, file, lines) from None


def config_to_yaml(config) -> str:
    """Return the resolved configuration as YAML, every field included.

    Parameters
    ----------
    config : Config | Mapping | str | path-like | None
        Anything :func:`load_config` accepts.

    Returns
    -------
    text : str
        YAML that :func:`load_config` reads back into an equal :class:`Config`.
    """
    data = load_config(config).model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_config(config, path) -> Path:
    """Write the resolved configuration to a YAML file, atomically.

    The text goes to a temporary file in the same folder, which is then renamed over ``path``,
    so that a crash never leaves a truncated configuration that looks complete.

    Parameters
    ----------
    config : Config | Mapping | str | path-like | None
        Anything :func:`load_config` accepts.
    path : str | path-like
        The file to write; its folder is created if needed.

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(path)
    text = config_to_yaml(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def config_template_yaml() -> str:
    """Return a commented YAML configuration with every field at its default.

    Each field is preceded by its description as ``#`` comments, and each section by its
    docstring, so the file documents itself. :func:`load_config` reads it back into the defaults.

    Returns
    -------
    text : str
    """
    header = [
        "ieegrsa configuration.",
        "",
        "Every setting is shown at its default. Keep only what you change (any subset overrides "
        "the defaults; unknown keys are errors) and pass the file with --config.",
        "",
        "Generated by `python -m ieegrsa.config`.",
    ]
    lines = comment_lines(header, "")
    lines += template_lines(Config)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(config_template_yaml())
