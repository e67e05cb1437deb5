"""Validation helpers shared by every stage: one way to say "choose one of", one type check, one
interval check, and the did-you-mean hint inside them.

Each raises with the parameter (or config key) at fault as ``field``; the command line, not these
helpers, turns a parameter name into a flag when it prints the message (MNE's
``_check_option`` / ``_validate_type`` are the model).
"""

from __future__ import annotations

import difflib
import numbers

from .errors import DataError

__all__ = ["did_you_mean", "check_option", "validate_type", "check_interval"]


def did_you_mean(value, choices, *, n: int = 1, cutoff: float = 0.6) -> str:
    """``"did you mean 'x'? "`` for the choices closest to ``value``, else ``""``."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=n, cutoff=cutoff)
    if not close:
        return ""
    return f"did you mean {' or '.join(map(repr, close))}? "


def check_option(name: str, value, allowed, *, aliases=None, lower: bool = False,
                 what: str | None = None, error=DataError, fix: str | None = None,
                 also: str | None = None):
    """``value`` if it is one of ``allowed`` (or an alias of one), else one clear error.

    Parameters
    ----------
    name : str
        The parameter (or config key) checked; it becomes the error's ``field``.
    value : object
        The value given.
    allowed : sequence
        The allowed values.
    aliases : dict | None
        Other accepted spellings, mapped to an allowed value.
    lower : bool
        Compare strings case-insensitively (the allowed values are lower-case).
    what : str | None
        What the value is, for the message (default: ``name``).
    error : type
        The error class raised (an :class:`~ieegrsa.errors.IeegrsaError`).
    fix : str | None
        A fix to say instead of "choose one of ...".
    also : str | None
        Another way out, said after "choose one of ..." (e.g. "or pass a precision matrix").

    Returns
    -------
    value : object
        The allowed value (an alias resolved, lower-cased when ``lower``).
    """
    allowed = list(allowed)
    key = value.lower() if lower and isinstance(value, str) else value
    try:
        key = (aliases or {}).get(key, key)
        if key in allowed:
            return key
    except TypeError:  # unhashable value: not an option
        pass
    names = [*allowed, *(aliases or {})]
    hint = did_you_mean(value, names) if isinstance(value, str) else ""
    choose = f"{hint}choose one of {', '.join(map(repr, allowed))}" + (f", {also}" if also else "")
    raise error(f"unknown {what or name}", field=name, found=repr(value), fix=fix or choose)


def validate_type(name: str, value, types, *, type_name: str | None = None):
    """Raise :class:`TypeError` unless ``value`` is an instance of ``types``.

    ``types`` is a type, a tuple of types, or one of ``"numeric"``, ``"int"``, ``"path-like"``,
    ``"callable"`` (``bool`` is never numeric). ``None`` in the tuple allows ``None``.
    """
    import os

    types = types if isinstance(types, tuple) else (types,)
    checks = []
    for kind in types:
        if kind is None:
            checks.append(type(None))
        elif kind == "numeric":
            checks.append(numbers.Number)
        elif kind == "int":
            checks.append(numbers.Integral)
        elif kind == "path-like":
            checks += [str, os.PathLike]
        elif kind == "callable":
            if callable(value):
                return value
        else:
            checks.append(kind)
    is_bool = isinstance(value, bool)
    if isinstance(value, tuple(checks)) and not (
            is_bool and bool not in types and any(k in ("numeric", "int") for k in types)):
        return value
    expected = type_name or " or ".join(
        "None" if k is None else k if isinstance(k, str) else k.__name__ for k in types)
    raise TypeError(f"{name} must be {expected}, got {type(value).__name__} ({value!r:.80})")


def check_interval(name: str, value, *, lower=None, upper=None, allow_none: bool = False,
                   units: str = "s", error=DataError):
    """A ``[start, stop]`` pair of finite numbers with ``start < stop`` inside the bounds.

    Returns
    -------
    interval : tuple of float | None
        ``(start, stop)``; ``None`` only when ``allow_none`` and ``value`` is None.
    """
    import math

    if value is None and allow_none:
        return None
    try:
        start, stop = (float(v) for v in value)
    except (TypeError, ValueError):
        raise error(f"{name} must be a [start, stop] pair of numbers ({units})", field=name,
                    found=repr(value), fix=f"give two numbers in {units}, start first") from None
    if not (math.isfinite(start) and math.isfinite(stop)) or start >= stop:
        raise error(f"{name} must be an interval with start < stop", field=name,
                    found=f"[{start:g}, {stop:g}]", fix="give the start first, then the stop")
    if (lower is not None and start < lower) or (upper is not None and stop > upper):
        bounds = f"[{'-inf' if lower is None else f'{lower:g}'}, " \
                 f"{'inf' if upper is None else f'{upper:g}'}]"
        raise error(f"{name} lies outside {bounds} {units}", field=name,
                    found=f"[{start:g}, {stop:g}]", fix=f"choose an interval inside {bounds}")
    return start, stop
