"""What every configuration section shares: the base class, the error for an unusable value, the
BIDS label check, renamed keys, and field types used by more than one section."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from ._io import is_section

__all__ = ["_Section", "invalid", "NJobs", "ordered_interval"]


def invalid(what: str, fix: str) -> PydanticCustomError:
    """An error for a value that has the right type but cannot be used."""
    # The fix travels in the context so that the ConfigError can show it apart from the problem
    # (see ``_io.config_error``, which recognises the kind ``ieegrsa_invalid``).
    return PydanticCustomError("ieegrsa_invalid", "{what}", {"what": what, "fix": fix})


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


def _renamed(data, old: str, new: str, section: str, convert=None):
    """Accept a key renamed in this release under its old name, with a deprecation message."""
    if not isinstance(data, Mapping) or old not in data:
        return data
    import warnings

    data = dict(data)
    value = data.pop(old)
    if new in data:
        raise ValueError(f"{section}.{old} is the old name of {section}.{new}: give only "
                         f"{section}.{new}")
    warnings.warn(f"{section}.{old} is now {section}.{new}; the old name is accepted until the "
                  "next release", FutureWarning, stacklevel=2)
    data[new] = convert(value) if convert is not None else value
    return data


def _nonzero_jobs(value: int) -> int:
    if value == 0:
        raise invalid("n_jobs cannot be 0", "Use 1 to run one at a time or -1 to use all cores")
    return value


#: A joblib-style number of parallel jobs: 1 = one at a time, -1 = all cores, -2 = all but one.
# StrictInt: YAML reads `n_jobs: yes` as True, which lax validation would turn into 1.
NJobs = Annotated[StrictInt, AfterValidator(_nonzero_jobs)]


def ordered_interval(example: str, order: str = "come before"):
    """The type of a ``[start, stop]`` pair of numbers with ``start < stop``.

    Parameters
    ----------
    example : str
        A valid value and its units, for the message, e.g. ``"[70, 150] (Hz)"``.
    order : str
        How the start relates to the stop, for the message: ``"come before"`` for times,
        ``"be below"`` for frequencies.
    """

    def ordered(value):
        if not value[0] < value[1]:
            raise invalid(f"the start must {order} the stop",
                          f"Write [start, stop], e.g. {example}")
        return value

    return Annotated[tuple[float, float], AfterValidator(ordered)]
