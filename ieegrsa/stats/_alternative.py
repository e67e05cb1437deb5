"""The alternative hypothesis of a test, in scipy's words, and the ``tail`` it replaces.

Every test of :mod:`ieegrsa.stats` and :mod:`ieegrsa.rsa` takes ``alternative``:
``"two-sided"``, ``"greater"`` or ``"less"``, as :mod:`scipy.stats` (and the ``stats.alternative``
key of the configuration). The old ``tail`` keyword (0, 1, -1 as mne, or the same words) is
accepted until the next release, with a :class:`FutureWarning` naming the new one.
"""

from __future__ import annotations

import numbers
import warnings

from .._check import check_option

__all__ = ["ALTERNATIVES", "check_alternative", "mne_tail"]

#: The alternative hypotheses, in scipy's words.
ALTERNATIVES = ("two-sided", "greater", "less")
# mne's tail for each alternative
_TAILS = {0: "two-sided", 1: "greater", -1: "less"}


def check_alternative(alternative, tail=None) -> str:
    """``alternative`` checked, or the deprecated ``tail`` translated when that is given.

    Parameters
    ----------
    alternative : {"two-sided", "greater", "less"}
        The alternative hypothesis. One of mne's numbers (0, 1, -1), as the old positional
        ``tail``, is translated with a :class:`FutureWarning`.
    tail : {0, 1, -1, "two-sided", "greater", "less"} | None
        The deprecated keyword; it wins over ``alternative`` when given.

    Returns
    -------
    alternative : str
    """
    if tail is not None:
        value = check_option("tail", tail, ALTERNATIVES, aliases=_TAILS)
        _deprecated(f"tail={tail!r}", value)
        return value
    if isinstance(alternative, numbers.Integral) and not isinstance(alternative, bool) \
            and alternative in _TAILS:
        value = _TAILS[int(alternative)]
        _deprecated(f"a tail of {alternative!r}", value)
        return value
    return check_option("alternative", alternative, ALTERNATIVES)


def mne_tail(alternative: str) -> int:
    """mne's ``tail`` (0 two-sided, 1 greater, -1 less) of a checked ``alternative``."""
    return {value: key for key, value in _TAILS.items()}[alternative]


def _deprecated(old: str, value: str) -> None:
    # stacklevel 4: the user's call of the public function that checks its alternative
    warnings.warn(f"{old} is deprecated and will be removed in the next release; use "
                  f"alternative={value!r}", FutureWarning, stacklevel=4)
