"""Condition sums of trials: the one pass over ``X`` that every RDM and noise estimate starts from.

:func:`group_sums` adds up the finite values of each group's trials (a condition, or a fold ×
condition cell) per feature and time point, time-major, in compiled parallel loops (numba).
Numpy would need the trials regrouped and transposed to time-major order first (a strided copy of
``X``'s size, slower than everything else). :mod:`~ieegrsa.rsa.kernels` forms the RDMs from these
sums and :mod:`~ieegrsa.rsa.noise` the residuals of its noise estimate, so both see the same
NaN-aware condition means.
"""

from __future__ import annotations

import numba
import numpy as np

from ..errors import DataError

__all__ = ["group_sums", "cell_sums", "TILE"]


def group_sums(X, group, n_groups):
    """Sums and counts of the finite values of each group's trials, time-major.

    Parameters
    ----------
    X : numpy.ndarray, shape (n_trials, n_features, n_times)
        C-contiguous float64 trials (see :func:`~ieegrsa.rsa._inputs.check_X`); NaN is missing.
    group : numpy.ndarray of int, shape (n_trials,)
        The group of each trial, ``0 .. n_groups - 1``; negative: the trial is left out.
    n_groups : int

    Returns
    -------
    sums : numpy.ndarray, shape (n_features, n_times, n_groups)
    counts : numpy.ndarray, shape (1, 1, n_groups) or (n_features, n_times, n_groups)
        Trials per group when no used trial holds NaN, else values summed per entry.
    has_nan : bool
        Whether a used trial holds NaN.

    Raises
    ------
    DataError
        ±inf in a used trial (NaN is missing data; ±inf would poison the sums).
    """
    n_trials, n_features, n_times = X.shape
    group = group.astype(np.int64)
    sizes = np.bincount(group[group >= 0], minlength=n_groups).astype(np.float64)
    sums = np.empty((n_features, n_times, n_groups))
    counts = np.empty((n_features, n_times, n_groups))  # pages untouched unless written
    status = cell_sums(X, group, sizes, sums, counts, False)
    if (status & 2).any():
        raise DataError("X holds infinite values", field="X", found="±inf",
                        fix="mark missing data with NaN")
    if not (status & 1).any():
        return sums, sizes.reshape(1, 1, -1), False
    cell_sums(X, group, sizes, sums, counts, True)  # again, keeping every count
    return sums, counts, True


TILE = 128  # time points per tile of cell_sums: its accumulators stay in cache


# error_model="numpy": x / 0 gives inf or NaN instead of raising
@numba.njit(parallel=True, cache=True, error_model="numpy")
def cell_sums(X, group, sizes, sums, counts, keep_counts):  # pragma: no cover - compiled
    """``sums[k, t, g]``: sum of ``X[r, k, t]`` over the trials r of group g, NaN skipped.

    ``group[r] < 0``: trial r is left out; ``sizes[g]``: the number of trials of group g.
    ``counts[k, t, g]``, how many values were summed, is written where a tile saw NaN, or
    everywhere with ``keep_counts``. Returns a status per tile: +1 NaN seen, +2 a sum is not
    finite (±inf in X). X is read once, in contiguous runs of ``TILE`` time points; tiles of
    (feature, time block) are independent.
    """
    n_trials, n_features, n_times = X.shape
    n_groups = sums.shape[2]
    n_blocks = (n_times + TILE - 1) // TILE
    status = np.zeros(n_features * n_blocks, dtype=np.int64)
    for tile in numba.prange(n_features * n_blocks):
        k = tile // n_blocks
        t0 = (tile % n_blocks) * TILE
        m = min(TILE, n_times - t0)
        acc = np.zeros((n_groups, m))
        cnt = np.zeros((n_groups, m))
        for r in range(n_trials):
            g = group[r]
            if g >= 0:
                acc_g, cnt_g, x_r = acc[g], cnt[g], X[r, k, t0:t0 + m]
                for u in range(m):
                    seen = x_r[u] == x_r[u]  # False for NaN
                    acc_g[u] += x_r[u] if seen else 0.0
                    cnt_g[u] += 1.0 if seen else 0.0
        nan_seen = False
        finite = True
        for g in range(n_groups):
            for u in range(m):
                nan_seen |= cnt[g, u] != sizes[g]
                finite &= acc[g, u] - acc[g, u] == 0.0
        for u in range(m):
            for g in range(n_groups):
                sums[k, t0 + u, g] = acc[g, u]
        if nan_seen or keep_counts:
            for u in range(m):
                for g in range(n_groups):
                    counts[k, t0 + u, g] = cnt[g, u]
        status[tile] = (1 if nan_seen else 0) + (0 if finite else 2)
    return status
