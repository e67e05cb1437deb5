"""Errors a user can see.

Every error raised for bad input is an :class:`IeegrsaError`. Its message names the file, the
field, what was found and what to do, so that the command line can print it as one clear message
and exit with status 2 (see :mod:`ieegrsa.cli`). The three kinds are also ``ValueError``s, so
``except ValueError`` catches them as it would scikit-learn's or MNE's; a call with a wrong type
raises ``TypeError``.

``field`` names the function parameter or the dotted config key at fault, never a command-line
flag: :mod:`ieegrsa.cli` translates parameters into flags when it prints.
"""

from __future__ import annotations

from os import PathLike

__all__ = ["IeegrsaError", "BIDSError", "ConfigError", "DataError"]


class IeegrsaError(Exception):
    """Base class of every error caused by the user's input.

    Parameters
    ----------
    what : str
        One sentence saying what is wrong.
    file : str | path-like | None
        The file (or folder) at fault.
    field : str | None
        The field, column or key at fault.
    found : object | None
        What was found there.
    fix : str | None
        What the user should do about it.
    """

    def __init__(self, what, *, file=None, field=None, found=None, fix=None):
        self.what = str(what)
        self.file = None if file is None else str(file)
        self.field = field
        self.found = found
        self.fix = fix
        super().__init__(self._message())

    def __reduce__(self):
        # keep the parts across processes (joblib workers), not only the joined message
        return (_rebuild, (type(self), self.what, self.file, self.field, self.found, self.fix))

    def _message(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(f"{self.file}:")
        if self.field is not None:
            parts.append(f"[{self.field}]")
        parts.append(self.what.rstrip(".") + ".")
        if self.found is not None:
            parts.append(f"Found: {_short(self.found)}.")
        if self.fix is not None:
            parts.append(self.fix.rstrip(".") + ".")
        return " ".join(parts)


class BIDSError(IeegrsaError, ValueError):
    """The BIDS dataset is missing something ieegrsa needs, or holds something it cannot use."""


class ConfigError(IeegrsaError, ValueError):
    """The configuration has an unknown key or an invalid value."""


class DataError(IeegrsaError, ValueError):
    """The data cannot be analysed as asked (e.g. too few stimuli, an empty ROI)."""


def _rebuild(cls, what, file, field, found, fix):
    return cls(what, file=file, field=field, found=found, fix=fix)


def _short(value, limit: int = 200) -> str:
    if isinstance(value, PathLike):
        value = str(value)
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
