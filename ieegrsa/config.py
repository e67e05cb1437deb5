"""The whole ieegrsa configuration as one validated schema.

Every setting has a default, so an empty configuration runs the whole analysis. A YAML file
overrides any subset of the settings; unknown keys are errors (a misspelt key silently falling
back to its default would be worse than no configuration at all). The resolved configuration is
written beside the outputs, so that every result can be reproduced from it.

Adding a section is one class and one field: subclass :class:`_Section`, give every field a
default and a ``description``, and add it as a field of :class:`Config`. Loading, error messages
and the commented template (:func:`config_template_yaml`) follow from the schema.

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
import inspect
import os
import re
import sys
import tempfile
import textwrap
import types
import typing
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated

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
from pydantic_core import PydanticCustomError

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
_TEMPLATE_WIDTH = 99


def _invalid(what: str, fix: str) -> PydanticCustomError:
    """An error for a value that has the right type but cannot be used."""
    # The fix travels in the context so that the ConfigError can show it apart from the problem.
    return PydanticCustomError("ieegrsa_invalid", "{what}", {"what": what, "fix": fix})


def _check_label(value: str | None, key: str, entity: str, pattern=_LABEL) -> str | None:
    """Check a BIDS label (task, session) or index (run), which names files and folders."""
    if value is None or pattern.fullmatch(value):
        return value
    prefix = f"{entity}-"
    if value.startswith(prefix) and pattern.fullmatch(value[len(prefix):]):
        raise _invalid(
            f"{key} is the label alone, without the '{prefix}' prefix",
            f"Write {value[len(prefix):]!r}",
        )
    kind, example = ("index (digits only)", "01") if pattern is _INDEX else (
        "label (letters and digits only)", "faces")
    raise _invalid(
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
        sections = {
            name
            for name, field in cls.model_fields.items()
            if isinstance(field.annotation, type) and issubclass(field.annotation, _Section)
        }
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
            raise _invalid("a column name cannot be empty", "Give the column's name as in the "
                           "header of events.tsv")
        return value

    @field_validator("stimuli_table")
    @classmethod
    def _relative_path(cls, value: str) -> str:
        if not value.strip():
            raise _invalid("the stimulus table path is empty",
                           "Give its path relative to the dataset root, e.g. stimuli/stimuli.tsv")
        # The input dataset must be self-contained: its stimulus table lives inside it.
        if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute():
            raise _invalid("the stimulus table path must be relative to the dataset root",
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
        raise _invalid(
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
                raise _invalid(
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
            raise _invalid("n_jobs cannot be 0", "Use 1 to run one participant at a time or -1 "
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
        data, lines = _read_yaml(file)
    else:
        raise ConfigError(
            "The configuration must be a YAML file, a mapping or a Config",
            found=type(source).__name__,
            fix="Pass the path of a YAML file (or a dict of settings)",
        )
    if overrides is not None:
        data = _deep_merge(data, overrides)
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise _config_error(err, file, lines) from None


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
    lines = _comment(header, "")
    lines += _template_lines(Config, indent="")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Helpers


def _read_yaml(file: Path):
    """Read a YAML file; return its data and the line of every key path (for messages)."""
    if not file.is_file():
        raise ConfigError(
            "The configuration file does not exist" if not file.exists()
            else "The configuration path is not a file",
            file=file,
            fix=f"Check the path given to --config (it points to {file.absolute()})",
        )
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            "The configuration file cannot be read",
            file=file,
            found=str(err),
            fix="Save it as UTF-8 text and check its permissions",
        ) from None
    loader = None
    try:
        # One parse gives both the data and the node tree, whose marks locate each key.
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(
            f"The configuration file is not valid YAML{where}",
            file=file,
            found=problem,
            fix="Indent with spaces, put a space after each colon and quote values that "
            "contain ':' or '#'",
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        # An empty file (or one that is all comments) means "the defaults".
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(
            "The top level of the configuration file must be a mapping of keys to values",
            file=file,
            found=f"a {type(data).__name__}",
            fix="Write one `key: value` per line, e.g. `n_jobs: 2` (see "
            "bids_templates/config.yaml)",
        )
    lines = {}
    duplicates = []
    _key_lines(node, (), lines, duplicates)
    if duplicates:
        raise ConfigError(
            "A key is given twice in the configuration file",
            file=file,
            field=", ".join(_dotted(loc) for loc, _ in duplicates),
            found=", ".join(f"line {line}" for _, line in duplicates),
            fix="Keep one of them (YAML would silently use the last)",
        )
    return data, lines


def _key_lines(node, loc, lines, duplicates):
    """Record the line of every mapping key below ``node``, and any key given twice."""
    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        key_loc = (*loc, key_node.value)
        line = key_node.start_mark.line + 1
        if key_loc in lines:
            duplicates.append((key_loc, line))
        lines[key_loc] = line
        _key_lines(value_node, key_loc, lines, duplicates)


def _deep_merge(base, overrides):
    """Return ``base`` with ``overrides`` applied, recursing into mappings on both sides."""
    if not isinstance(base, Mapping) or not isinstance(overrides, Mapping):
        return overrides
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = _deep_merge(merged[key], value) if key in merged else value
    return merged


def _config_error(err: ValidationError, file, lines) -> ConfigError:
    """Turn pydantic's errors into one ConfigError listing every problem."""
    # In file order, so the message reads top to bottom like the file.
    errors = sorted(err.errors(), key=lambda e: lines.get(tuple(e["loc"]), float("inf")))
    problems = [_problem(e, lines) for e in errors]
    if len(problems) == 1:
        loc, what, found, fix = problems[0]
        return ConfigError(what, file=file, field=_dotted(loc) or None, found=found, fix=fix)
    items = []
    for loc, what, found, fix in problems:
        item = f"  - [{_dotted(loc) or 'top level'}] {what.rstrip('.')}."
        if found is not None:
            item += f" Found: {found}."
        if fix is not None:
            item += f" {fix.rstrip('.')}."
        items.append(item)
    return ConfigError(
        f"The configuration has {len(problems)} problems:\n" + "\n".join(items),
        file=file,
    )


def _problem(error, lines):
    """One pydantic error as (loc, what, found, fix)."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    loc = tuple(error["loc"])
    value = error.get("input")
    line = lines.get(loc)
    where = f" (line {line})" if line else ""
    # A section-level check (e.g. two columns with one name) gets the whole section as input,
    # which says nothing the message does not.
    found = None if isinstance(value, Mapping) else repr(value)

    if kind in ("extra_forbidden", "invalid_key"):
        parent, key = loc[:-1], str(loc[-1])
        loc = (*parent, key)
        valid = list(_model_at(parent).model_fields)
        place = f"under '{_dotted(parent)}'" if parent else "at the top level"
        close = difflib.get_close_matches(key, valid, n=1)
        elsewhere = [p for p in _all_field_paths(Config) if p[-1] == key and p[:-1] != parent]
        if close:
            hint = f"Did you mean '{close[0]}'? "
        elif elsewhere:
            hint = f"'{key}' belongs under '{_dotted(elsewhere[0][:-1])}' " \
                   f"(write it as {_dotted(elsewhere[0])}). "
        else:
            hint = ""
        fix = f"{hint}Valid keys {place}: {', '.join(valid)}"
        return loc, f"Unknown key '{key}' {place}{where}", found, fix

    if kind == "ieegrsa_invalid":
        return loc, ctx["what"] + where, found, ctx["fix"]

    annotation = _annotation_at(loc)
    if kind.endswith(("_type", "_parsing")) or kind in ("int_from_float", "model_attributes_type"):
        expected = _describe_type(annotation)
        fix = f"Give {expected}"
        if kind == "string_type" and isinstance(value, (bool, int, float)):
            # YAML reads 01 as the number 1 and yes/no/on/off as booleans; quotes keep the text.
            fix = "Put the value in quotes (e.g. '01', not 01) so that YAML keeps it as text"
        if isinstance(value, Mapping):
            found = "a mapping"
        return loc, f"Wrong type{where}: expected {expected}", found, fix

    # Range and other constraint errors: pydantic's message states the bound, the field's
    # description says what the value means.
    msg = error["msg"]
    field = _field_at(loc)
    fix = f"{_dotted(loc)}: {field.description}" if field is not None else "Correct the value"
    return loc, f"{msg[0].upper()}{msg[1:]}{where}", found, fix


def _dotted(loc) -> str:
    """('bids', 'task') -> 'bids.task'; list indices as [i]."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _unwrap(annotation):
    """Drop None from an optional annotation and Annotated metadata."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return annotation


def _is_section(annotation) -> bool:
    annotation = _unwrap(annotation)
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _annotation_at(loc):
    """The type annotation of the field at ``loc`` (None where it cannot be followed)."""
    annotation = Config
    for part in loc:
        inner = _unwrap(annotation)
        if _is_section(inner) and isinstance(part, str) and part in inner.model_fields:
            annotation = inner.model_fields[part].annotation
        elif typing.get_origin(inner) in (list, tuple, dict):
            annotation = typing.get_args(inner)[-1] if typing.get_args(inner) else None
        else:
            return None
    return annotation


def _field_at(loc):
    """The FieldInfo at ``loc`` (None where ``loc`` is not a field of a section)."""
    parent = _unwrap(_annotation_at(loc[:-1])) if loc else None
    if _is_section(parent) and loc[-1] in parent.model_fields:
        return parent.model_fields[loc[-1]]
    return None


def _model_at(loc) -> type[BaseModel]:
    """The section class at ``loc``."""
    return _unwrap(_annotation_at(loc))


def _all_field_paths(model, prefix=()):
    """Every field of the schema as a key path, sections included."""
    for name, field in model.model_fields.items():
        yield (*prefix, name)
        if _is_section(field.annotation):
            yield from _all_field_paths(_unwrap(field.annotation), (*prefix, name))


_TYPE_WORDS = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    tuple: "a list",
    dict: "a mapping",
}


def _describe_type(annotation) -> str:
    """A type annotation in words, e.g. 'a string or null'."""
    if annotation is None:
        return "a value of another type"
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe_type(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if _is_section(annotation):
        return "a mapping of keys (a section)"
    return _TYPE_WORDS.get(origin or annotation, getattr(annotation, "__name__", str(annotation)))


def _comment(paragraphs, indent) -> list[str]:
    """Paragraphs as wrapped `# ` comment lines; an empty paragraph gives a bare `#`."""
    lines = []
    width = _TEMPLATE_WIDTH - len(indent) - 2
    for paragraph in paragraphs:
        if not paragraph.strip():
            lines.append(f"{indent}#")
            continue
        lines += [f"{indent}# {line}" for line in textwrap.wrap(" ".join(paragraph.split()),
                                                                 width, break_on_hyphens=False)]
    return lines


def _template_lines(model, indent) -> list[str]:
    """Commented `key: default` lines for every field of a section, recursing into sections."""
    lines = []
    defaults = model().model_dump(mode="json")
    for name, field in model.model_fields.items():
        lines.append("")
        lines += _comment([field.description], indent)
        annotation = _unwrap(field.annotation)
        if _is_section(annotation):
            docstring = inspect.cleandoc(annotation.__doc__ or "")
            for paragraph in docstring.split("\n\n") if docstring else ():
                lines += _comment(["", paragraph], indent)
            lines.append(f"{indent}{name}:")
            lines += _template_lines(annotation, indent + "  ")
        else:
            text = yaml.safe_dump({name: defaults[name]}, sort_keys=False,
                                  default_flow_style=False, allow_unicode=True)
            lines += [f"{indent}{line}" for line in text.rstrip("\n").split("\n")]
    return lines


if __name__ == "__main__":
    sys.stdout.write(config_template_yaml())
