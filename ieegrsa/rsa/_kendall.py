"""Numba kernels for ranking many vectors at once, and Kendall's tau between them.

Rows are sorted with numpy's vectorised sort on order-preserving integer keys that carry each
element's index (:func:`rank_rows`, :func:`average_ranks`). For Kendall's tau every vector is
ranked once, and a pair (x, y) of length n is counted in one pass: y is walked in sorted order
while the ordinal ranks of x seen so far are kept in a bitset of 64-bit blocks with per-block
suffix counts, so that "how many earlier elements rank strictly higher in x" (discordant pairs)
is one count lookup plus one popcount, and an insertion one vectorised update of the n / 64
block counts (a few SIMD instructions for the RDM sizes of interest). A tie group of y is
queried before it is inserted (pairs tied in y are neither concordant nor discordant); pairs
tied in both are counted within each y tie group. With ``n0 = n (n - 1) / 2``, ``t_x``, ``t_y``
the pairs tied in each vector, ``t_xy`` those tied in both and ``n_d`` the discordant pairs:

    n_c - n_d = n0 - t_x - t_y + t_xy - 2 n_d.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

__all__ = ["Ranked", "average_ranks", "rank_rows", "tau_matrix"]

_CHUNK = 2048  # data rows ranked per batch: bounds the memory of the ranks
_THREADED_ROWS = 64  # fewer rows are sorted in this thread


class Ranked(NamedTuple):
    """Vectors ranked once for :func:`tau_matrix` (all arrays (n, p) int32 except ``ties``)."""

    order: np.ndarray    # positions in increasing value (ties in any order)
    ordinal: np.ndarray  # position of each element in ``order``
    upper: np.ndarray    # last position in ``order`` of the element's tie group
    ties: np.ndarray     # (n,) int64, tied pairs sum g (g - 1) / 2 over tie groups


@intrinsic
def _popcount(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.int64(types.uint64), codegen  # a signed count: adds to int64 without floats


@numba.njit(cache=True, parallel=True)
def _sort_keys(values, shift):
    """Order-preserving uint64 keys of float64 values, low ``shift`` bits replaced by the index.

    Sorting the keys sorts the values except among values equal in their high bits, which
    :func:`_exact_order` puts right; values whose high bits differ are different.
    """
    n, p = values.shape
    keys = np.empty((n, p), np.uint64)
    sign = np.uint64(1) << np.uint64(63)
    low = (np.uint64(1) << np.uint64(shift)) - np.uint64(1)
    for i in numba.prange(n):
        bits = values[i].view(np.uint64)
        for j in range(p):
            b = bits[j] if bits[j] != sign else np.uint64(0)  # -0.0 sorts as +0.0
            key = ~b if b & sign else b | sign
            keys[i, j] = (key & ~low) | np.uint64(j)
    return keys


@numba.njit(cache=True)
def _exact_order(keys, row, shift, o):
    """Fill ``o`` with the positions of ``row`` in increasing value, from its sorted keys."""
    p = len(o)
    low = (np.uint64(1) << np.uint64(shift)) - np.uint64(1)
    for j in range(p):
        o[j] = np.int32(keys[j] & low)
    j = 0
    while j < p:
        end = j + 1
        high = keys[j] >> np.uint64(shift)
        while end < p and keys[end] >> np.uint64(shift) == high:
            end += 1
        # a run of equal high bits holds nearly equal values in index order: sort by value
        for a in range(j + 1, end):
            item = o[a]
            b = a - 1
            while b >= j and row[o[b]] > row[item]:
                o[b + 1] = o[b]
                b -= 1
            o[b + 1] = item
        j = end


@numba.njit(cache=True, parallel=True)
def _scan(keys, values, shift, order, ordinal, upper, ties):
    n, p = keys.shape
    for i in numba.prange(n):
        row = values[i]
        o = order[i]
        _exact_order(keys[i], row, shift, o)
        tied = 0
        start = 0
        for t in range(1, p + 1):
            if t == p or row[o[t]] != row[o[t - 1]]:
                for q in range(start, t):
                    ordinal[i, o[q]] = q
                    upper[i, o[q]] = t - 1
                tied += (t - start) * (t - start - 1) // 2
                start = t
        ties[i] = tied


@numba.njit(cache=True, parallel=True)
def _scan_average(keys, values, shift, ranks):
    n, p = keys.shape
    for i in numba.prange(n):
        row = values[i]
        o = np.empty(p, np.int32)
        _exact_order(keys[i], row, shift, o)
        start = 0
        for t in range(1, p + 1):
            if t == p or row[o[t]] != row[o[t - 1]]:
                for q in range(start, t):
                    ranks[i, o[q]] = (start + t - 1) / 2.0 + 1.0
                start = t


def _sorted_keys(values):
    values = np.ascontiguousarray(values, dtype=np.float64)
    n, p = values.shape
    shift = max(1, (p - 1).bit_length())
    keys = _sort_keys(values, shift)
    if n < _THREADED_ROWS:
        keys.sort(axis=1)
        return values, keys, shift
    # numpy's vectorised sort releases the GIL: sort slices of rows on all cores
    parts = np.array_split(np.arange(n), numba.get_num_threads())
    with ThreadPoolExecutor(len(parts)) as pool:
        list(pool.map(lambda rows: keys[rows[0]:rows[-1] + 1].sort(axis=1), parts))
    return values, keys, shift


def rank_rows(values) -> Ranked:
    """Sort every row of ``values`` (n, p), which must hold no NaN, once."""
    values, keys, shift = _sorted_keys(values)
    n, p = values.shape
    ranked = Ranked(np.empty((n, p), np.int32), np.empty((n, p), np.int32),
                    np.empty((n, p), np.int32), np.empty(n, np.int64))
    _scan(keys, values, shift, *ranked)
    return ranked


def average_ranks(values) -> np.ndarray:
    """Ranks 1..p of each row of ``values`` (n, p, no NaN), ties sharing their mean rank."""
    values, keys, shift = _sorted_keys(values)
    ranks = np.empty(values.shape)
    _scan_average(keys, values, shift, ranks)
    return ranks


@numba.njit(cache=True)
def _count_above(suffix, bits, t):
    """Elements inserted with ordinal > t."""
    b = t >> 6
    return np.int64(suffix[b + 1]) + _popcount((bits[b] >> np.uint64(t & 63)) >> np.uint64(1))


@numba.njit(cache=True)
def _insert(suffix, bits, a, n_blocks):
    b = a >> 6
    bits[b] |= np.uint64(1) << np.uint64(a & 63)
    for t in range(n_blocks):  # fixed trip count so that it vectorises
        suffix[t] += t <= b


@numba.njit(cache=True, parallel=True)
def _tau(x_ordinal, x_upper, x_ties, y_order, y_upper, y_ties, variant_b):
    """Kendall tau of every x row with every y row."""
    n_x, p = x_ordinal.shape
    n_y = y_order.shape[0]
    n0 = p * (p - 1) // 2
    # a multiple of 8 blocks: the update is whole 256-bit vectors of int32, with no scalar tail
    n_blocks = ((p >> 6) // 8 + 1) * 8
    out = np.empty((n_x, n_y))
    for i in numba.prange(n_x):
        suffix = np.zeros(n_blocks + 1, np.int32)
        bits = np.zeros(n_blocks, np.uint64)
        count = np.zeros(p, np.int32)
        seq = np.empty(p, np.int32)
        # x's ordinal where ties are absent, else the last ordinal of each x tie group
        seq_upper = np.empty(p, np.int32) if x_ties[i] > 0 else seq
        for m in range(n_y):
            o = y_order[m]
            for j in range(p):
                seq[j] = x_ordinal[i, o[j]]
            if x_ties[i] > 0:
                for j in range(p):
                    seq_upper[j] = x_upper[i, o[j]]
            suffix[:] = 0
            bits[:] = 0
            discordant = 0
            both = 0
            if y_ties[m] == 0:
                for j in range(p):
                    discordant += _count_above(suffix, bits, seq_upper[j])
                    _insert(suffix, bits, seq[j], n_blocks)
            else:
                j = 0
                while j < p:
                    end = y_upper[m, o[j]] + 1
                    for q in range(j, end):
                        discordant += _count_above(suffix, bits, seq_upper[q])
                    if end - j > 1:
                        for q in range(j, end):
                            both += count[seq_upper[q]]
                            count[seq_upper[q]] += 1
                        for q in range(j, end):
                            count[seq_upper[q]] = 0
                    for q in range(j, end):
                        _insert(suffix, bits, seq[q], n_blocks)
                    j = end
            s = n0 - x_ties[i] - y_ties[m] + both - 2 * discordant
            if variant_b:
                nx = n0 - x_ties[i]
                ny = n0 - y_ties[m]
                out[i, m] = s / np.sqrt(nx) / np.sqrt(ny) if nx > 0 and ny > 0 else np.nan
            else:
                out[i, m] = s / n0 if n0 > 0 else np.nan
    return out


def tau_matrix(x, y: Ranked, variant_b: bool) -> np.ndarray:
    """Kendall tau-b (``variant_b``) or tau-a between every row of ``x`` and of ``y``.

    ``x`` (n_x, p) holds values without NaN (ranked here, ``_CHUNK`` rows at a time), ``y`` is
    ranked by :func:`rank_rows`. tau-b is ``(n_c - n_d) / sqrt(n0 - t_x) / sqrt(n0 - t_y)`` (NaN
    when a vector is constant), tau-a ``(n_c - n_d) / n0``. Returns (n_x, n_y) float64.
    """
    out = np.empty((len(x), len(y.ties)))
    for start in range(0, len(x), _CHUNK):
        rx = rank_rows(x[start:start + _CHUNK])
        out[start:start + _CHUNK] = _tau(rx.ordinal, rx.upper, rx.ties, y.order, y.upper, y.ties,
                                         bool(variant_b))
    return out
