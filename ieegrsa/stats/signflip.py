"""Patient-level sign-flip permutation test of contrast curves, max-statistic over windows.

The robust check beside the mixed model: each patient contributes one curve, the contrast
(e.g. identity − expression) of its mean (Fisher z) similarities per window
(:func:`~ieegrsa.stats.clusters.patient_curves`). Under the null hypothesis that the contrast is
symmetric about 0 in every patient, flipping the sign of a patient's whole curve leaves the
distribution unchanged, so the one-sample t over patients per window is referred to its
sign-flip distribution: every one of the ``2**n`` flips when that is at most ``n_permutations``
(exact), else ``n_permutations`` random flips (the observed one included, so ``p ≥ 1 /
n_permutations``). ``p_corrected`` uses the maximum over windows of ``|t|`` (or ``t``, ``-t``
by ``alternative``), which controls the family-wise error over windows (Nichols & Holmes 2002, Hum
Brain Mapp 15:1).

With ``n`` patients the smallest attainable p is ``1 / 2**n`` one-sided and ``2 / 2**n``
two-sided (the all-flipped curves give the same ``|t|``); ``min_p`` records it, and a ROI
whose ``min_p`` exceeds ``alpha`` (or with fewer than ``min_subjects`` patients) gets no p-value
and the note "too few patients for a group claim".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from ._alternative import check_alternative, mne_tail
from .clusters import patient_curves, sign_patterns
from .mixed import too_few_note

__all__ = ["sign_flip_test", "min_attainable_p"]


def min_attainable_p(n_subjects, alternative="two-sided", n_permutations=None, *,
                     tail=None) -> float:
    """Smallest p-value a sign-flip test over ``n_subjects`` patients can give.

    Parameters
    ----------
    n_subjects : int
    alternative : {"two-sided", "greater", "less"}
        Two-sided or one-sided.
    n_permutations : int | None
        With random flips (``2**n`` above it), ``1 / n_permutations`` bounds it too.
    tail : {0, 1, -1} | None
        Deprecated name of ``alternative`` (removed in the next release).
    """
    alternative = check_alternative(alternative, tail)
    exact = (2.0 if alternative == "two-sided" else 1.0) / 2.0**n_subjects
    if n_permutations is not None and 2**n_subjects > n_permutations:
        return max(exact, 1.0 / n_permutations)
    return exact


def sign_flip_test(table, contrast=("identity", "expression"), *, column="objective", by="roi",
                   n_permutations=10000, seed=0, alternative="two-sided", alpha=0.05,
                   min_subjects=2, transform="fisher", tail=None) -> pd.DataFrame:
    """Sign-flip permutation test per window of patient contrast curves (max-statistic).

    Parameters
    ----------
    table : pandas.DataFrame
        The tidy similarity table (one method).
    contrast : str | tuple of two str
        As in :func:`~ieegrsa.stats.cluster_test`.
    column, by, transform
        As in :func:`~ieegrsa.stats.patient_curves`.
    n_permutations : int
        Exact enumeration when ``2**n_subjects`` ≤ this, else this many random flips.
    seed : int
        Seed of the random flips.
    alternative : {"two-sided", "greater", "less"}
        The contrast differs from 0, is greater, is less.
    alpha : float
        Level below which a p-value is reachable at all (see ``min_p``).
    min_subjects : int
        Fewer patients: no p-value, the note says so.
    tail : {0, 1, -1} | None
        Deprecated name of ``alternative`` (removed in the next release).

    Returns
    -------
    pandas.DataFrame
        One row per group × window: the ``by`` columns, ``contrast``, ``window_start``,
        ``window_stop`` (s), ``mean`` (over patients), ``t``, ``p_value`` (per window),
        ``p_corrected`` (max-statistic over the group's windows), ``min_p``, ``n_subjects``,
        ``n_permutations`` (flips used), ``exact`` and ``note``.
    """
    alternative = check_alternative(alternative, tail)
    if not isinstance(n_permutations, (int, np.integer)) or n_permutations < 1:
        raise DataError("n_permutations must be a positive integer", field="n_permutations",
                        found=n_permutations)
    curves = patient_curves(table, contrast, column=column, by=by, transform=transform)
    by = [by] if isinstance(by, str) else list(by or ())
    label = contrast if isinstance(contrast, str) else "-".join(contrast)
    rng = np.random.default_rng(seed)
    parts = []
    for key, curve in curves.items():
        x = curve.to_numpy(dtype=float)
        n = x.shape[0]
        starts = curve.columns.get_level_values(0).to_numpy(dtype=float)
        stops = curve.columns.get_level_values(1).to_numpy(dtype=float)
        frame = {**dict(zip(by, key)), "contrast": label, "window_start": starts,
                 "window_stop": stops, "mean": x.mean(axis=0) if n else np.nan}
        if n < 2:
            parts.append(pd.DataFrame({**frame, "t": np.nan, "p_value": np.nan,
                                       "p_corrected": np.nan, "min_p": np.nan,
                                       "n_subjects": n, "n_permutations": 0, "exact": False,
                                       "note": too_few_note(n, max(min_subjects, 2))}))
            continue
        signs, exact = sign_patterns(n, n_permutations, rng), 2**n <= n_permutations
        t_obs, p, p_fwe = _test(x, signs, alternative)
        min_p = min_attainable_p(n, alternative, None if exact else n_permutations)
        note = ""
        if n < min_subjects or min_p > alpha:
            p, p_fwe = np.full_like(p, np.nan), np.full_like(p_fwe, np.nan)
            note = (too_few_note(n, min_subjects) if n < min_subjects else
                    f"too few patients for a group claim (the smallest p {n} patients can "
                    f"give is {min_p:.3g} > alpha {alpha:g})")
        parts.append(pd.DataFrame({**frame, "t": t_obs, "p_value": p, "p_corrected": p_fwe,
                                   "min_p": min_p, "n_subjects": n,
                                   "n_permutations": len(signs), "exact": exact,
                                   "note": note}))
    return pd.DataFrame(pd.concat(parts, ignore_index=True) if parts else None)


def _test(x, signs, alternative):
    """t per window of every sign pattern at once (the sum of squares is flip-invariant)."""
    n = x.shape[0]
    sums_sq = (x**2).sum(axis=0)
    means = signs @ x / n  # (flips, windows)
    var = (sums_sq - n * means**2) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = means / np.sqrt(var / n)
    t = np.where(var > 0, t, np.sign(means) * np.inf)
    t = np.nan_to_num(t, nan=0.0)
    stat = np.abs(t) if alternative == "two-sided" else t * mne_tail(alternative)
    # signs[0] is the observed labelling; ties (up to rounding) count as reaching it
    observed = np.where(np.isfinite(stat[0]), stat[0] - 1e-10 * np.abs(stat[0]), stat[0])
    p = (stat >= observed).mean(axis=0)
    p_fwe = (stat.max(axis=1)[:, None] >= observed).mean(axis=0)
    return t[0], p, p_fwe
