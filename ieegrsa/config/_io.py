"""How ieegrsa's configuration schema is read from YAML, reported on and written as a template.

Nothing here knows the settings themselves (they are in the section modules of
:mod:`ieegrsa.config`): every function
walks whatever pydantic schema it is given, so that adding a section to the configuration needs
no change here.
"""

from __future__ import annotations

import inspect
import textwrap
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ValidationError

from .._check import did_you_mean
from ..errors import ConfigError

TEMPLATE_WIDTH = 99


def read_yaml_mapping(file: Path):
    """Read a YAML file; return its data and the line of every key path (for messages)."""
    if not file.is_file():
        raise ConfigError(
            "The configuration file does not exist" if not file.exists()
            else "The configuration path is not a file",
            file=file,
            field="source",  # load_config's parameter; the command line names its own flag
            fix=f"Give the path of a YAML file (this one resolves to {file.absolute()})",
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


def deep_merge(base, overrides):
    """Return ``base`` with ``overrides`` applied, recursing into mappings on both sides."""
    if not isinstance(base, Mapping) or not isinstance(overrides, Mapping):
        return overrides
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = deep_merge(merged[key], value) if key in merged else value
    return merged


def config_error(err: ValidationError, root, file, lines) -> ConfigError:
    """Turn pydantic's errors about the schema ``root`` into one ConfigError listing them all."""
    # In file order, so the message reads top to bottom like the file.
    errors = sorted(err.errors(), key=lambda e: lines.get(tuple(e["loc"]), float("inf")))
    problems = [_problem(e, root, lines) for e in errors]
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


def _problem(error, root, lines):
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
        valid = list(_model_at(root, parent).model_fields)
        place = f"under '{_dotted(parent)}'" if parent else "at the top level"
        close = did_you_mean(key, valid)
        elsewhere = [p for p in _all_field_paths(root) if p[-1] == key and p[:-1] != parent]
        if elsewhere:  # an exact key of another section beats a near miss here
            places = " or ".join(_dotted(p) for p in elsewhere[:3])
            hint = f"'{key}' belongs in a section (write it as {places}). "
        elif close:
            hint = close[:1].upper() + close[1:]
        else:
            hint = ""
        fix = f"{hint}Valid keys {place}: {', '.join(valid)}"
        return loc, f"Unknown key '{key}' {place}{where}", found, fix

    if kind == "ieegrsa_invalid":
        return loc, ctx["what"] + where, found, ctx["fix"]

    annotation = _annotation_at(root, loc)
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
    field = _field_at(root, loc)
    fix = f"{_dotted(loc)}: {field.description}" if field is not None else "Correct the value"
    return loc, f"{msg[0].upper()}{msg[1:]}{where}", found, fix


def _dotted(loc) -> str:
    """('bids', 'task') -> 'bids.task'; list indices as [i]."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def unwrap(annotation):
    """Drop None from an optional annotation and Annotated metadata."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return unwrap(args[0])
    return annotation


def is_section(annotation) -> bool:
    """Whether an annotation (optional or not) is a section, i.e. a pydantic model."""
    annotation = unwrap(annotation)
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _annotation_at(root, loc):
    """The type annotation of the field at ``loc`` (None where it cannot be followed)."""
    annotation = root
    for part in loc:
        inner = unwrap(annotation)
        if is_section(inner) and isinstance(part, str) and part in inner.model_fields:
            annotation = inner.model_fields[part].annotation
        elif typing.get_origin(inner) in (list, tuple, dict):
            annotation = typing.get_args(inner)[-1] if typing.get_args(inner) else None
        else:
            return None
    return annotation


def _field_at(root, loc):
    """The FieldInfo at ``loc`` (None where ``loc`` is not a field of a section)."""
    parent = unwrap(_annotation_at(root, loc[:-1])) if loc else None
    if is_section(parent) and loc[-1] in parent.model_fields:
        return parent.model_fields[loc[-1]]
    return None


def _model_at(root, loc) -> type[BaseModel]:
    """The section class at ``loc``."""
    return unwrap(_annotation_at(root, loc))


def _all_field_paths(model, prefix=()):
    """Every field of the schema as a key path, sections included."""
    for name, field in model.model_fields.items():
        yield (*prefix, name)
        if is_section(field.annotation):
            yield from _all_field_paths(unwrap(field.annotation), (*prefix, name))


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
    if is_section(annotation):
        return "a mapping of keys (a section)"
    return _TYPE_WORDS.get(origin or annotation, getattr(annotation, "__name__", str(annotation)))


def comment_lines(paragraphs, indent) -> list[str]:
    """Paragraphs as wrapped `# ` comment lines; an empty paragraph gives a bare `#`."""
    lines = []
    width = TEMPLATE_WIDTH - len(indent) - 2
    for paragraph in paragraphs:
        if not paragraph.strip():
            lines.append(f"{indent}#")
            continue
        lines += [f"{indent}# {line}" for line in textwrap.wrap(" ".join(paragraph.split()),
                                                                 width, break_on_hyphens=False)]
    return lines


def template_lines(model, indent="") -> list[str]:
    """Commented `key: default` lines for every field of a section, recursing into sections."""
    lines = []
    defaults = model().model_dump(mode="json")
    for name, field in model.model_fields.items():
        lines.append("")
        lines += comment_lines([field.description], indent)
        annotation = unwrap(field.annotation)
        if is_section(annotation):
            docstring = inspect.cleandoc(annotation.__doc__ or "")
            for paragraph in docstring.split("\n\n") if docstring else ():
                lines += comment_lines(["", paragraph], indent)
            lines.append(f"{indent}{name}:")
            lines += template_lines(annotation, indent + "  ")
        else:
            text = yaml.safe_dump({name: defaults[name]}, sort_keys=False,
                                  default_flow_style=False, allow_unicode=True)
            lines += [f"{indent}{line}" for line in text.rstrip("\n").split("\n")]
    return lines
