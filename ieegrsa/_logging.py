"""One meaning of ``verbose``, as in MNE.

``verbose`` (every function that takes it; keyword-only) is the level of the ``ieegrsa`` logger
for the duration of the call: ``True`` = ``"INFO"``, ``False`` = ``"WARNING"``, a level name or
number, or ``None`` to keep the level set with :func:`set_log_level`. Progress bars follow the
level: they are shown at ``"INFO"`` and below (on a terminal), hidden above. MNE's own messages
are shown at ``"DEBUG"``.

As in MNE, the level starts at ``"INFO"``: progress bars show on a terminal, while the info
messages reach only a handler the user (or the command line) attached, since Python prints
nothing below WARNING without one.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging

__all__ = ["logger", "set_log_level", "use_log_level", "verbose", "show_progress",
           "progress_bar", "mne_log_level"]

logger = logging.getLogger("ieegrsa")
if logger.level == logging.NOTSET:
    logger.setLevel(logging.INFO)

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _level(verbose) -> int:
    if isinstance(verbose, bool):
        return logging.INFO if verbose else logging.WARNING
    if isinstance(verbose, str):
        name = verbose.upper()
        if name not in _LEVELS:
            from ._check import check_option

            check_option("verbose", verbose, _LEVELS, lower=False, error=_value_error)
        return getattr(logging, name)
    if isinstance(verbose, int):
        return verbose
    raise TypeError(f"verbose must be bool, str, int or None, got {type(verbose).__name__}")


def _value_error(what, *, field=None, found=None, fix=None):
    return ValueError(f"[{field}] {what}: {found}. {fix}")


def set_log_level(verbose=None, *, return_old_level: bool = False):
    """Set the level of the ``ieegrsa`` logger.

    Parameters
    ----------
    verbose : bool | str | int | None
        ``True`` = ``"INFO"``, ``False`` = ``"WARNING"``, a level name (``"DEBUG"``, ``"INFO"``,
        ``"WARNING"``, ``"ERROR"``, ``"CRITICAL"``) or number. ``None``: ``"INFO"``, the
        default.
    return_old_level : bool
        Return the level before the change.
    """
    old = logger.level
    logger.setLevel(_level("INFO" if verbose is None else verbose))
    return old if return_old_level else None


@contextlib.contextmanager
def use_log_level(verbose=None):
    """The ``ieegrsa`` logger at ``verbose`` inside the block (``None``: unchanged)."""
    if verbose is None:
        yield
        return
    old = logger.level
    logger.setLevel(_level(verbose))
    try:
        yield
    finally:
        logger.setLevel(old)


def verbose(function):
    """Decorator: run ``function`` with the logger at its ``verbose`` argument's level."""
    signature = inspect.signature(function)
    if "verbose" not in signature.parameters:
        raise TypeError(f"{function.__qualname__} has no verbose parameter")

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        level = kwargs.get("verbose")
        if level is None and "verbose" not in kwargs:
            bound = signature.bind_partial(*args, **kwargs)
            level = bound.arguments.get("verbose")
        with use_log_level(level):
            return function(*args, **kwargs)

    return wrapper


def show_progress() -> bool:
    """Whether progress bars are shown: the ``ieegrsa`` logger is at ``"INFO"`` or below."""
    return logger.getEffectiveLevel() <= logging.INFO


def progress_bar(iterable=None, **kwargs):
    """A tqdm progress bar shown when :func:`show_progress` (and stderr is a terminal)."""
    from tqdm.auto import tqdm

    disable = None if show_progress() else True  # None: tqdm hides itself off a terminal
    return tqdm(iterable, disable=disable, **kwargs)


def mne_log_level() -> str:
    """MNE's level during an ieegrsa call: its messages only at ``"DEBUG"``."""
    return "INFO" if logger.getEffectiveLevel() <= logging.DEBUG else "WARNING"
