"""Bootstrap confidence intervals of RDM similarities, resampling the conditions.

Conditions are resampled with replacement and pairs of a condition with itself dropped (as
rsatoolbox ``bootstrap_sample_pattern`` / ``subsample_pattern``). A pair ``(i, j)`` of original
conditions then occurs ``c_i c_j`` times (``c`` = how often each condition was drawn), so every
bootstrap statistic is a *weighted* statistic over the original pairs, with average ranks of the
weighted multiset for the rank methods. All samples are computed at once from these weights.

The cells (windows within families) and the group statistic (mean over subjects) are those of
:func:`ieegrsa.rsa.permutation_test`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._check import check_option
from ..errors import DataError
from ._layout import (
    BLOCK,
    FAST_METHODS,
    METHODS,
    RANK_METHODS,
    Layout,
    cell_model_table,
    model_table,
    nan_patterns,
    usable_inputs,
)
from .comparisons import compare
from .rdms import pair_index

__all__ = ["bootstrap_conditions", "BootstrapResult"]


@dataclass
class BootstrapResult:
    """Result of :func:`bootstrap_conditions`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (cell, model): cell and model columns, ``n_subjects``, ``observed``,
        ``ci_low``, ``ci_high`` (percentile interval), ``se`` (SD of the bootstrap samples),
        ``method``.
    samples : numpy.ndarray, shape (n_bootstrap, n_cells, n_models)
        The group statistic of each bootstrap sample (NaN for samples with fewer than 3
        distinct conditions, which rsatoolbox also discards).
    cells : pandas.DataFrame
    conditions : numpy.ndarray, shape (n_bootstrap, n_conditions)
        The condition indices drawn for each sample.
    """

    table: pd.DataFrame
    samples: np.ndarray
    cells: pd.DataFrame
    conditions: np.ndarray
    method: str
    ci: float


def bootstrap_conditions(data_rdms, model_rdms, method: str = "spearman",
                         n_bootstrap: int = 1000, seed=0, ci: float = 0.95, *,
                         subject: str | None = None, windows=None,
                         groups=None) -> BootstrapResult:
    """Percentile confidence intervals of the group similarity, bootstrapping the conditions.

    Parameters
    ----------
    data_rdms, model_rdms, method, subject, windows, groups
        As for :func:`permutation_test` (cells are the (groups, windows) combinations; the
        statistic is the mean over subjects).
    n_bootstrap : int
        Number of bootstrap samples (the same resampled conditions serve every cell).
    seed : int | numpy.random.SeedSequence
        Seed of ``numpy.random.default_rng``; the draws are
        ``rng.integers(0, n_conditions, size=(n_bootstrap, n_conditions))``.
    ci : float
        Coverage of the interval: the ``(1 - ci) / 2`` and ``(1 + ci) / 2`` quantiles (numpy's
        linear interpolation) of the samples, NaN samples left out.

    Returns
    -------
    BootstrapResult
        ``.table`` (observed, ci_low, ci_high, se per cell and model), ``.samples``.
    """
    check_option("method", method, METHODS)
    if not 0 < ci < 1:
        raise DataError("ci must lie strictly between 0 and 1", field="ci", found=ci,
                        fix="pass e.g. 0.95")
    if int(n_bootstrap) < 1:
        raise DataError("n_bootstrap must be at least 1", field="n_bootstrap",
                        found=n_bootstrap, fix="pass e.g. 1000")
    data, models = usable_inputs(data_rdms, model_rdms, method)
    layout = Layout(data, subject, windows, groups)
    n_cond = data.n_conditions
    draws = np.random.default_rng(seed).integers(0, n_cond, size=(int(n_bootstrap), n_cond))
    counts = np.zeros((len(draws) + 1, n_cond))
    counts[0] = 1.0  # row 0: every condition once = the observed statistic
    np.add.at(counts, (np.repeat(np.arange(1, len(draws) + 1), n_cond), draws.ravel()), 1.0)
    rows, cols = pair_index(n_cond)
    weights = counts[:, rows] * counts[:, cols]
    stats = _weighted_group_statistics(layout, models.values, weights, method)
    stats[1:][(counts[1:] > 0).sum(axis=1) < 3] = np.nan
    observed, samples = stats[0], stats[1:]
    quantiles = np.nanquantile(samples, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    table = cell_model_table(layout, model_table(models, layout), observed)
    table["ci_low"] = quantiles[0].ravel()
    table["ci_high"] = quantiles[1].ravel()
    table["se"] = np.nanstd(samples, axis=0, ddof=1).ravel()
    table["method"] = method
    return BootstrapResult(table=table, samples=samples, cells=layout.cells, conditions=draws,
                           method=method, ci=ci)


# -- bootstrap engine ------------------------------------------------------------------------
def _weighted_group_statistics(layout: Layout, models: np.ndarray, weights: np.ndarray,
                               method: str) -> np.ndarray:
    """Cell statistics (n_samples, n_cells, n_models) with pair weights (n_samples, n_pairs)."""
    if method in FAST_METHODS and not np.isnan(models).any():
        return _weighted_fast(layout, models, weights, method)
    return _weighted_compare(layout, models, weights, method)


def _weighted_standardise(x, order, first, stop, w, method):
    """Weighted ``z(x)`` along the last axis: ``sim = Σ w z(a) z(b)``.

    ``x`` (R, P) with NaN where the weight is 0; ``order``, ``first``, ``stop`` (R, P): argsort
    of each row and, per sorted position, the bounds [first, stop) of its tie group; ``w``
    (R or 1, B, P). Returns (R, B, P). A value tied with others in the weighted multiset gets
    the average rank ``L + (m + 1) / 2`` (``L`` the weight below it, ``m`` its tie group's).
    """
    if method in RANK_METHODS:
        ws = np.take_along_axis(w, order[:, None, :], axis=2)
        cum = np.concatenate([np.zeros(ws.shape[:2] + (1,)), np.cumsum(ws, axis=2)], axis=2)
        below = np.take_along_axis(cum, first[:, None, :], axis=2)
        group = np.take_along_axis(cum, stop[:, None, :], axis=2) - below
        x = np.empty(np.broadcast_shapes(ws.shape, order[:, None, :].shape))
        np.put_along_axis(x, np.broadcast_to(order[:, None, :], x.shape),
                          below + (group + 1) / 2, axis=2)
    else:
        x = np.broadcast_to(np.where(np.isnan(x), 0.0, x)[:, None, :],
                            np.broadcast_shapes((x.shape[0], 1, x.shape[1]), w.shape))
    total = w.sum(axis=2, keepdims=True)
    if method != "cosine":
        x = x - (w * x).sum(axis=2, keepdims=True) / total
    if method == "rho-a":
        scale = np.sqrt((total**3 - total) / 12.0)
    else:
        scale = np.sqrt((w * x**2).sum(axis=2, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        return x / scale


def _tie_groups(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: argsort (NaN last) and, per sorted position, its tie group [first, stop)."""
    order = np.argsort(x, axis=1, kind="stable")
    xs = np.take_along_axis(x, order, axis=1)
    n = x.shape[1]
    new = np.ones(x.shape, dtype=bool)
    new[:, 1:] = ~(xs[:, 1:] == xs[:, :-1])  # NaN != NaN: each NaN its own group
    position = np.broadcast_to(np.arange(n), x.shape)
    first = np.maximum.accumulate(np.where(new, position, 0), axis=1)
    last = np.ones(x.shape, dtype=bool)
    last[:, :-1] = new[:, 1:]
    stop = np.minimum.accumulate(np.where(last, position + 1, n)[:, ::-1], axis=1)[:, ::-1]
    return order, first, stop


def _weighted_fast(layout, models, weights, method):
    values = layout.values
    masks, mask_id = nan_patterns(~np.isnan(values))
    n_samples, n_pairs = weights.shape
    n_models = len(models)
    out = np.zeros((n_samples, layout.n_cells, n_models))
    data_ties = _tie_groups(values)
    model_ties = _tie_groups(models)
    block = max(1, BLOCK // ((n_models + 1) * n_pairs))
    for start in range(0, n_samples, block):
        for u, mask in enumerate(masks):
            w = (weights[start:start + block] * mask)[None]  # (1, B, P)
            zm = _weighted_standardise(models, *model_ties, w, method)  # (M, B, P)
            wzm = w[0][:, None, :] * zm.transpose(1, 0, 2)  # (B, M, P)
            rows = np.flatnonzero(mask_id == u)
            step = max(1, BLOCK // (w.shape[1] * n_pairs))
            for r0 in range(0, len(rows), step):
                r = rows[r0:r0 + step]
                zd = _weighted_standardise(values[r], *(t[r] for t in data_ties), w, method)
                sims = np.einsum("rbp,bmp->brm", zd, wzm)  # (B, R, M)
                np.add.at(out[start:start + block], (slice(None), layout.cell[r]),
                          sims * layout.weight[r][None, :, None])
    return out


def _weighted_compare(layout, models, weights, method):
    """Bootstrap samples one by one through :func:`compare` on the duplicated pairs."""
    to_cells = layout.cell_matrix()
    out = np.empty((len(weights), layout.n_cells, len(models)))
    for b, w in enumerate(weights):
        pairs = np.repeat(np.arange(len(w)), w.astype(np.intp))
        out[b] = to_cells @ compare(layout.values[:, pairs], models[:, pairs], method)
    return out
