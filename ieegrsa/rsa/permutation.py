"""Inference on RDM similarities: condition-label permutation nulls.

Statistic
---------
For each *cell* (a time window, within a family such as an ROI) and model, the group statistic is
the mean over the cell's subjects of the per-subject similarity ``sim(data RDM, model RDM)``
(:func:`~ieegrsa.rsa.compare`). Cells are identified by descriptor columns: ``windows``
(ordered; consecutive windows form clusters) and ``groups`` (families tested separately);
subjects by the ``subject`` column.

Permutation null (:func:`permutation_test`)
-------------------------------------------
A permutation ``π`` of the conditions relabels the data RDM, ``D'[i, j] = D[π(i), π(j)]``; in
condensed form ``d' = d[σ_π]`` with ``σ_π`` the index of pair ``(π(i), π(j))``. The pair maps of
all permutations are computed once and the square matrices are never rebuilt. The same
permutations serve every window and subject, so the maximum over windows of one permutation is a
valid family-wise null. Any RDM comparison is invariant to reordering the pairs of both vectors
together, hence ``sim(d[σ_π], y) = sim(d, y[σ_π⁻¹])`` with ``σ_π⁻¹ = σ_{π⁻¹}``: instead of
permuting thousands of data RDMs, the few models are permuted. NaN pairs of the data travel
with the data (equivalently: the permuted models meet fixed data masks).

For ``spearman``, ``pearson``, ``cosine`` and ``rho-a`` (models without NaN) the comparison is a
dot product of transformed vectors, ``sim(d, y) = z(d)·z(y)`` with ``z`` = rank (rank methods),
centre (all but cosine) and scale to unit norm over the valid pairs (``rho-a``: divide by
``sqrt((n³ - n) / 12)``). Data are transformed once; the cell statistic is linear in ``z(d)``, so
the subjects of a cell that share a NaN pattern are averaged first, and all windows × permuted
models are one matrix product per NaN pattern. Models are re-ranked only for data with missing
pairs (once per distinct NaN pattern and permutation). Kendall methods, and models with NaN,
call :func:`compare` on the permuted models (still vectorised over windows and subjects).

p-values (``T`` = the statistic, ``-statistic`` or ``|statistic|`` for ``alternative`` greater,
less, two-sided; ``n`` permutations; ties within 1e-12 count as reaching the observed value):

- per window: ``p = (1 + #{b: T_b ≥ T_obs}) / (1 + n)``;
- family-wise (max-statistic): ``p_fwe = (1 + #{b: max_w T_b(w) ≥ T_obs}) / (1 + n)``, the
  maximum over the windows of the family;
- cluster mass: windows whose ``T`` exceeds a threshold form clusters of consecutive windows
  (consecutive in the sorted order of the window columns); the mass of a cluster is the sum of
  ``T`` over its windows; its p-value compares it with the null of the largest cluster mass of
  each permutation (0 where a permutation has no cluster).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse

from .._check import check_option
from ..errors import DataError
from ..stats._alternative import check_alternative
from ._inputs import check_partial, rdm_values
from ._layout import (
    BLOCK,
    FAST_METHODS,
    METHODS,
    Layout,
    cell_model_table,
    model_table,
    nan_patterns,
    standardise,
    usable_inputs,
)
from .comparisons import compare
from .rdms import RDMs, pair_index

__all__ = ["permutation_test", "PermutationResult", "condition_permutations",
           "pair_permutations"]

_TOL = 1e-12


@dataclass
class PermutationResult:
    """Result of :func:`permutation_test`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (cell, model): the ``groups`` and ``windows`` columns, the model descriptor
        columns, ``n_subjects``, ``observed`` (mean similarity over subjects), ``p_value``
        (per window), ``p_fwe`` (max-statistic over the family's windows), ``cluster_p_value``
        (p of the observed cluster holding the window; NaN outside clusters), ``method``.
    clusters : pandas.DataFrame
        One row per observed cluster: the ``groups`` columns, model columns, ``start`` (first
        window column of the first window), ``stop`` (last window column of the last window),
        ``n_windows``, ``mass`` (sum of ``T``), ``p_value``.
    null : numpy.ndarray, shape (n_permutations, n_cells, n_models)
        The group statistic under each permutation (signed like ``observed``).
    observed : numpy.ndarray, shape (n_cells, n_models)
    cells : pandas.DataFrame
        One row per cell (axis 1 of ``null``): ``groups`` and ``windows`` columns, ``family``,
        ``n_subjects``.
    cluster_null : numpy.ndarray, shape (n_permutations, n_families, n_models)
        The largest cluster mass of each permutation.
    permutations : numpy.ndarray, shape (n_permutations, n_conditions)
        The condition permutations ``π`` applied to the data (``D[π][:, π]``).
    method : str
        The comparison.
    alternative : str
        ``"greater"``, ``"less"`` or ``"two-sided"``: how ``T`` was formed.
    threshold : numpy.ndarray, shape (n_cells, n_models)
        The cluster-forming threshold on ``T`` used for each cell.
    """

    table: pd.DataFrame
    clusters: pd.DataFrame
    null: np.ndarray
    observed: np.ndarray
    cells: pd.DataFrame
    cluster_null: np.ndarray
    permutations: np.ndarray
    method: str
    alternative: str
    threshold: np.ndarray


# -- public functions ------------------------------------------------------------------------
def condition_permutations(n_conditions: int, n_permutations: int, seed=0) -> np.ndarray:
    """``n_permutations`` random permutations of ``0 .. n_conditions - 1`` (one per row).

    Drawn with ``numpy.random.default_rng(seed).permuted`` on a tiled ``arange``, so a seed
    always gives the same permutations.
    """
    rng = np.random.default_rng(seed)
    return rng.permuted(np.tile(np.arange(n_conditions), (n_permutations, 1)), axis=1)


def pair_permutations(permutations) -> np.ndarray:
    """Condensed pair maps: ``out[b, k]`` is the index of pair ``(π_b(i), π_b(j))``.

    For condensed pair ``k = (i, j)`` and permutation ``π_b``, ``d[out[b]]`` is the condensed
    form of ``D[π_b][:, π_b]``. Index of pair ``(a, c)``, ``a < c``, over ``n`` conditions:
    ``n a - a (a + 1) / 2 + c - a - 1``.
    """
    permutations = np.atleast_2d(np.asarray(permutations, dtype=np.intp))
    n = permutations.shape[1]
    rows, cols = pair_index(n)
    a, c = permutations[:, rows], permutations[:, cols]
    lo, hi = np.minimum(a, c), np.maximum(a, c)
    return n * lo - lo * (lo + 1) // 2 + hi - lo - 1


def permutation_test(data_rdms, model_rdms, method: str = "spearman",
                     n_permutations: int = 1000, seed=0, *, subject: str | None = None,
                     windows=None, groups=None, alternative: str = "greater",
                     cluster_threshold: float | None = None,
                     cluster_alpha: float = 0.05, covariates=None,
                     partial: str | None = None, tail: str | None = None) -> PermutationResult:
    """Condition-label permutation test of data-model RDM similarity, per window and over time.

    Parameters
    ----------
    data_rdms : RDMs | array-like, shape (n_rdms, n_pairs)
        Data RDMs (subjects × windows × ...), with descriptors naming subject and window.
    model_rdms : RDMs | array-like, shape (n_models, n_pairs)
        Model RDMs, over the same conditions (matched by label when both are RDMs). Their
        descriptor columns (e.g. ``model``, ``layer``) label the rows of the table (default: a
        ``model`` column 0, 1, ...).
    method : {"spearman", "pearson", "cosine", "rho-a", "kendall-tau-a", "kendall-tau-b"}
        The comparison (see :func:`~ieegrsa.rsa.compare`).
    n_permutations : int
        Number of random condition permutations.
    seed : int | numpy.random.SeedSequence
        Seed of ``numpy.random.default_rng``; see :func:`condition_permutations`.
    subject : str | None
        Descriptor column of the subject; the group statistic is the mean over subjects.
        Default: ``"subject"`` if that column exists, otherwise each RDM stands alone.
    windows : str | list of str | None
        Descriptor columns of the window, sorted to define consecutive windows. Default: those
        of ``window_start``, ``window_stop`` that exist (none: one window).
    groups : str | list of str | None
        Descriptor columns of independent families (e.g. ``"roi"``); the max-statistic and
        clusters are computed within each family. Default: one family.
    alternative : {"greater", "less", "two-sided"}
        Alternative hypothesis (``T`` = statistic, -statistic, |statistic|).
    cluster_threshold : float | None
        Cluster-forming threshold on ``T``. Default: per window, the ``1 - cluster_alpha``
        quantile of that window's permutation null (a window is in a cluster when its own
        permutation test would reach ``cluster_alpha``).
    cluster_alpha : float
        See ``cluster_threshold``.
    covariates, partial
        A partial or semi-partial comparison, as in :func:`~ieegrsa.rsa.compare` (e.g. each
        network layer controlled for the layer before it). Under each permutation the data RDM
        is relabelled while every model keeps its covariates, so the null is that of the
        (semi-)partial statistic itself. ``partial="none"`` (the configuration's off value) is
        None.
    tail : str | None
        Deprecated name of ``alternative`` (a :class:`FutureWarning`; removed in the next
        release).

    Returns
    -------
    PermutationResult
        ``.table``, ``.clusters``, ``.null`` (n_permutations, n_cells, n_models) and more.

    Raises
    ------
    DataError
        Unknown method or alternative, mismatched conditions, missing descriptor columns, or
        rows not identified by (groups, windows, subject).

    Notes
    -----
    Cost with models free of NaN and a correlation-type method: ranking the data once plus one
    matrix product ``(n_cells × n_pairs) @ (n_pairs × n_permutations n_models)`` per distinct
    NaN pattern of the data. Data RDMs that are constant or have fewer than 3 valid pairs are
    left out (with a warning).

    Examples
    --------
    >>> res = permutation_test(rdms, models, "spearman", 1000, seed=0)  # doctest: +SKIP
    >>> res.table[["window_start", "model", "observed", "p_value", "p_fwe"]]  # doctest: +SKIP
    """
    check_option("method", method, METHODS)
    alternative = check_alternative(alternative, tail)
    partial = check_partial(partial)
    if not 0 < cluster_alpha < 1:
        raise DataError("cluster_alpha must lie strictly between 0 and 1",
                        field="cluster_alpha", found=cluster_alpha, fix="pass e.g. 0.05")
    if int(n_permutations) < 1:
        raise DataError("n_permutations must be at least 1", field="n_permutations",
                        found=n_permutations, fix="pass e.g. 1000")
    data, models = usable_inputs(data_rdms, model_rdms, method)
    layout = Layout(data, subject, windows, groups)
    permutations = condition_permutations(data.n_conditions, int(n_permutations), seed)
    identity = np.arange(data.n_conditions)[None]
    # model pair maps for π⁻¹ (row 0: identity = the observed statistic)
    inverse = np.argsort(np.concatenate([identity, permutations]), axis=1)
    if partial is None and covariates is None:
        stats = _group_statistics(layout, models.values, pair_permutations(inverse), method)
    else:
        covariates = _aligned_covariates(covariates, data)
        stats = _partial_statistics(layout, models.values, covariates, partial,
                                    pair_permutations(np.concatenate([identity, permutations])),
                                    method)
    observed, null = stats[0], stats[1:]

    T = _signed(stats, alternative)
    T_obs, T_null = T[0], T[1:]
    n = len(null)
    p_value = _p(T_null, T_obs, n)
    starts = layout.family_starts
    family_max = np.fmax.reduceat(T_null, starts, axis=1)  # (n_perm, n_families, n_models)
    p_fwe = _p(family_max[:, layout.family], T_obs, n)

    if cluster_threshold is None:
        threshold = np.nanquantile(T_null, 1 - cluster_alpha, axis=0)  # (n_cells, n_models)
    else:
        threshold = np.full(T_obs.shape, float(cluster_threshold))
    clusters, cluster_null, cluster_p = _clusters(T, threshold, layout, n)
    model_rows = model_table(models, layout)
    table = cell_model_table(layout, model_rows, observed)
    table["p_value"] = p_value.ravel()
    table["p_fwe"] = p_fwe.ravel()
    table["cluster_p_value"] = cluster_p.ravel()
    table["method"] = method
    cluster_table = _cluster_table(clusters, layout, model_rows)
    return PermutationResult(table=table, clusters=cluster_table, null=null, observed=observed,
                             cells=layout.cells, cluster_null=cluster_null,
                             permutations=permutations, method=method, alternative=alternative,
                             threshold=threshold)


# -- permutation engine ----------------------------------------------------------------------
def _group_statistics(layout: Layout, models: np.ndarray, model_maps: np.ndarray,
                      method: str) -> np.ndarray:
    """Cell statistics (n_maps, n_cells, n_models) for models permuted by each row of maps."""
    if method in FAST_METHODS and not np.isnan(models).any():
        return _fast_statistics(layout, models, model_maps, method)
    return _compare_statistics(layout, models, model_maps, method)


def _fast_statistics(layout, models, model_maps, method):
    values = layout.values
    masks, mask_id = nan_patterns(~np.isnan(values))
    z = standardise(values, method)
    # subjects of a cell sharing a NaN pattern are averaged before any permutation
    key = layout.cell * len(masks) + mask_id
    reduced, red_index = np.unique(key, return_inverse=True)
    red_index = red_index.ravel()
    summer = scipy.sparse.csr_matrix((layout.weight, (red_index, np.arange(len(key)))),
                                     shape=(len(reduced), len(key)))
    A = summer @ z  # (n_reduced, n_pairs)
    red_cell, red_mask = reduced // len(masks), reduced % len(masks)
    z_models = standardise(models, method)
    n_maps, n_pairs = model_maps.shape
    n_models = len(models)
    out = np.zeros((n_maps, layout.n_cells, n_models))
    block = max(1, BLOCK // (n_models * n_pairs))
    for start in range(0, n_maps, block):
        maps = model_maps[start:start + block]
        n_b = len(maps)
        for u, mask in enumerate(masks):
            rows = red_mask == u
            if mask.all():
                zm = z_models[:, maps]  # a permutation of a full vector keeps its z
            else:
                zm = standardise(models[:, maps][..., mask], method)
            sims = A[rows][:, mask] @ zm.reshape(n_models * n_b, -1).T
            out[start:start + n_b, red_cell[rows]] += sims.reshape(-1, n_models, n_b).transpose(
                2, 0, 1)
    return out


def _compare_statistics(layout, models, model_maps, method):
    n_maps, n_pairs = model_maps.shape
    n_models = len(models)
    n_rows = len(layout.values)
    to_cells = layout.cell_matrix()
    out = np.empty((n_maps, layout.n_cells, n_models))
    block = max(1, BLOCK // (n_models * max(n_rows, n_pairs)))
    for start in range(0, n_maps, block):
        maps = model_maps[start:start + block]
        n_b = len(maps)
        permuted = models[:, maps].reshape(n_models * n_b, n_pairs)
        sims = to_cells @ compare(layout.values, permuted, method)  # (n_cells, n_models n_b)
        out[start:start + n_b] = sims.reshape(-1, n_models, n_b).transpose(2, 0, 1)
    return out


def _aligned_covariates(covariates, data: RDMs):
    """Covariates over the data's condition order: RDMs aligned by label; arrays, None and the
    count of a per-model list are left to :func:`compare`, which checks them."""
    def one(c):
        return rdm_values(c, "covariates", like=data) if isinstance(c, RDMs) else c

    if isinstance(covariates, (list, tuple)):
        return [one(c) for c in covariates]
    return one(covariates)


def _partial_statistics(layout, models, covariates, partial, data_maps, method):
    """Cell statistics under data relabelled by each row of ``data_maps`` (pair maps of π).

    ``sim(d[σ_π], y | z)`` needs the covariates ``z`` to stay with the model, so the data are
    permuted here (unlike the plain path, which permutes the few models instead).
    """
    n_maps, n_pairs = data_maps.shape
    values = layout.values
    n_rows, n_models = len(values), len(models)
    to_cells = layout.cell_matrix()
    out = np.empty((n_maps, layout.n_cells, n_models))
    block = max(1, BLOCK // (n_rows * n_pairs))
    for start in range(0, n_maps, block):
        maps = data_maps[start:start + block]
        n_b = len(maps)
        permuted = values[:, maps].transpose(1, 0, 2).reshape(n_b * n_rows, n_pairs)
        sims = compare(permuted, models, method, covariates, partial)
        sims = sims.reshape(n_b, n_rows, n_models)
        out[start:start + n_b] = np.stack([to_cells @ s for s in sims])
    return out


# -- p-values and clusters -------------------------------------------------------------------
def _signed(stats: np.ndarray, alternative: str) -> np.ndarray:
    """``T``: the statistic, -statistic or |statistic|, large where the alternative holds."""
    return {"greater": stats, "less": -stats, "two-sided": np.abs(stats)}[alternative]


def _p(T_null: np.ndarray, T_obs: np.ndarray, n: int) -> np.ndarray:
    """``(1 + #{null ≥ observed - tol}) / (1 + n)``; NaN where the observed value is NaN."""
    count = (T_null >= T_obs - _TOL).sum(axis=0)
    return np.where(np.isnan(T_obs), np.nan, (1.0 + count) / (1.0 + n))


def _clusters(T, threshold, layout, n):
    """Cluster masses along the windows of each family, for the observed and every null row.

    Returns the observed clusters (model, first cell, last cell, mass, p), the null of
    the largest mass (n_perm, n_families, n_models) and each cell's cluster p-value.
    """
    n_families = len(layout.family_starts)
    n_models = T.shape[2]
    cluster_null = np.zeros((T.shape[0] - 1, n_families, n_models))
    cluster_p = np.full(T.shape[1:], np.nan)
    found = []
    bounds = np.append(layout.family_starts, layout.n_cells)
    for f in range(n_families):
        lo, hi = bounds[f], bounds[f + 1]
        Tf = T[:, lo:hi]
        supra = Tf > threshold[lo:hi]  # NaN compares False
        masses, first = _run_masses(Tf, supra)
        cluster_null[:, f] = np.where(np.isnan(masses[1:]), 0.0, masses[1:]).max(axis=1)
        for w, m in zip(*np.nonzero(~np.isnan(masses[0]))):
            mass = masses[0, w, m]
            p = (1.0 + (cluster_null[:, f, m] >= mass - _TOL).sum()) / (1.0 + n)
            start = first[0, w, m]
            cluster_p[lo + start:lo + w + 1, m] = p
            found.append((m, lo + start, lo + w, mass, p))
    return found, cluster_null, cluster_p


def _run_masses(T: np.ndarray, supra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum of ``T`` over each run of True along axis 1, stored at the run's last position.

    Returns ``masses`` (NaN where no run ends) and ``first`` (the run's first position).
    """
    n_w = T.shape[1]
    position = np.arange(n_w)[None, :, None]
    before = np.concatenate([np.zeros_like(supra[:, :1]), supra[:, :-1]], axis=1)
    after = np.concatenate([supra[:, 1:], np.zeros_like(supra[:, :1])], axis=1)
    starts = supra & ~before
    ends = supra & ~after
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=1)
    cumulative = np.concatenate([np.zeros_like(T[:, :1]), np.cumsum(np.where(supra, T, 0.0),
                                                                     axis=1)], axis=1)
    total = cumulative[:, 1:] - np.take_along_axis(cumulative, first, axis=1)
    return np.where(ends, total, np.nan), first


def _cluster_table(found, layout, model_table) -> pd.DataFrame:
    cells = layout.cells
    records = []
    for m, first, last, mass, p in found:
        record = {g: cells.at[first, g] for g in layout.groups}
        record.update(model_table.iloc[m].to_dict())
        if layout.windows:
            record["start"] = cells.at[first, layout.windows[0]]
            record["stop"] = cells.at[last, layout.windows[-1]]
        record.update(n_windows=last - first + 1, mass=mass, p_value=p)
        records.append(record)
    columns = (layout.groups + list(model_table.columns)
               + (["start", "stop"] if layout.windows else []) + ["n_windows", "mass", "p_value"])
    return pd.DataFrame.from_records(records, columns=columns)
