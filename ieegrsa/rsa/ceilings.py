"""Noise ceilings: how well could any model do, given the noise in the data RDMs?

Two estimates, both vectorised over many independent groups (time windows, ROIs, contacts):

- :func:`noise_ceiling`: the leave-one-subject-out bounds of Nili et al. (2014), computed exactly
  as rsatoolbox ``boot_noise_ceiling``. Every RDM is first brought to the scale the comparison
  method is blind to, and the transformed RDMs are averaged into a *pooled* RDM (the best possible
  model under that method):

  ==========================================  ==============================================
  method                                      transform before averaging
  ==========================================  ==============================================
  ``spearman``, ``rho-a``, ``kendall-tau-*``  ranks (ties averaged) over the RDM's valid pairs
  ``pearson``                                 z-score over valid pairs (population SD)
  ``cosine``                                  divide by the RMS over valid pairs
  ==========================================  ==============================================

  With ``s`` a subject, ``R_s`` its RDMs (one or more, e.g. sessions), ``P`` the pool of all
  RDMs and ``P_-s`` the pool of every other subject's RDMs,

      upper = mean_s mean_{r in R_s} sim(r, P)
      lower = mean_s mean_{r in R_s} sim(r, P_-s).

  The upper bound overfits (``r`` is in ``P``), the lower bound underfits (``P_-s`` is noisier
  than the true group RDM); the true ceiling lies between.

- :func:`split_half_ceiling`: within one subject, the reliability of an RDM estimated from two
  disjoint halves of the trials (odd/even repetitions), Spearman-Brown corrected to the full
  number of trials: ``r_full = 2 r_half / (1 + r_half)``.

Missing pairs (NaN) are handled pair by pair: a transform uses each RDM's valid pairs, a pooled
pair averages the RDMs that have it (NaN only where all lack it), and :func:`compare` drops the
pairs missing in either RDM. Where all RDMs share one NaN pattern (the only case rsatoolbox
accepts) this is rsatoolbox's result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse
from scipy.stats import rankdata

from .._check import check_option
from ..errors import DataError
from ._inputs import as_rdms, descriptor_columns
from .comparisons import compare
from .rdms import RDMs, align

__all__ = ["noise_ceiling", "split_half_ceiling", "split_half_rdms", "pool_rdms"]

_RANK_METHODS = ("spearman", "rho-a", "kendall-tau-a", "kendall-tau-b")
_POOL_METHODS = _RANK_METHODS + ("pearson", "cosine")
# data rows per call of compare() when only matched pairs are wanted
_CHUNK = 64


def pool_rdms(values, method: str = "spearman") -> np.ndarray:
    """Each RDM on the scale that ``method`` ignores (see module notes); NaN pairs stay NaN.

    Parameters
    ----------
    values : numpy.ndarray, shape (n_rdms, n_pairs)
        Condensed RDMs.
    method : str
        A :func:`~ieegrsa.rsa.compare` method.

    Returns
    -------
    numpy.ndarray, shape (n_rdms, n_pairs)
        The transformed RDMs; their (NaN-aware) mean is the pooled RDM for ``method``.
    """
    check_option("method", method, _POOL_METHODS, what="comparison method for a noise ceiling")
    values = np.asarray(values, dtype=np.float64)
    if method in _RANK_METHODS:
        return rankdata(values, axis=1, nan_policy="omit")
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "pearson":
            centred = values - np.nanmean(values, axis=1, keepdims=True)
            return centred / np.nanstd(values, axis=1, keepdims=True)
        return values / np.sqrt(np.nanmean(values**2, axis=1, keepdims=True))


def noise_ceiling(rdms, method: str = "spearman", *, subject: str | None = None,
                  by=None) -> pd.DataFrame:
    """Leave-one-subject-out lower and upper bounds of the noise ceiling, per group.

    Parameters
    ----------
    rdms : RDMs | array-like, shape (n_rdms, n_pairs)
        Data RDMs of several subjects (several RDMs per subject, e.g. sessions, are allowed and
        each counts once in the pools, as in rsatoolbox). A plain array is one group in which
        every RDM is one subject.
    method : {"spearman", "pearson", "cosine", "rho-a", "kendall-tau-a", "kendall-tau-b"}
        The comparison (and pooling) method. Kendall ceilings pool averaged ranks, as rsatoolbox
        does.
    subject : str | None
        Descriptor column naming the subject of each RDM. Default: ``"subject"`` when that
        column exists, otherwise every RDM is its own subject.
    by : str | list of str | None
        Descriptor columns defining independent groups (e.g. ``["roi", "window_start"]``); one
        ceiling per group. Default: all RDMs form one group.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``lower``, ``upper`` (similarity units of
        ``method``), ``n_subjects``, ``n_rdms``, ``method``. ``lower`` is NaN for a group with
        a single subject.

    Notes
    -----
    Pools for all groups and all left-out subjects come from a few sparse matrix products over
    the transformed RDMs (the leave-one-out pool is the group sum minus the subject's sum);
    the comparisons are batched through :func:`~ieegrsa.rsa.compare`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random(45)
    >>> data = truth + 0.5 * rng.random((6, 45))
    >>> noise_ceiling(data, "spearman")[["lower", "upper"]].round(2)  # doctest: +SKIP
    """
    rdms = as_rdms(rdms, "rdms")
    by = descriptor_columns(by, rdms.descriptors, "by")
    subject = _subject_column(subject, rdms)
    desc = rdms.descriptors
    n = rdms.n_rdms
    group = (desc.groupby(by, sort=True, dropna=False).ngroup().to_numpy() if by
             else np.zeros(n, dtype=np.intp))
    unit_keys = [group] + ([desc[subject].to_numpy()] if subject else [np.arange(n)])
    unit = pd.MultiIndex.from_arrays(unit_keys).factorize()[0]  # (group, subject) id per RDM
    n_groups, n_units = group.max() + 1, unit.max() + 1
    unit_group = np.zeros(n_units, dtype=np.intp)
    unit_group[unit] = group

    transformed = pool_rdms(rdms.values, method)
    valid = ~np.isnan(transformed)
    filled = np.where(valid, transformed, 0.0)
    to_unit = _indicator(unit, n_units)
    unit_sum, unit_count = to_unit @ filled, to_unit @ valid.astype(np.float64)
    to_group = _indicator(unit_group, n_groups)
    group_sum, group_count = to_group @ unit_sum, to_group @ unit_count
    with np.errstate(invalid="ignore", divide="ignore"):
        pool_all = group_sum / group_count  # 0/0 -> NaN: no RDM has the pair
        pool_out = ((group_sum[unit_group] - unit_sum) / (group_count[unit_group] - unit_count))

    sims = _paired_compare(rdms.values, [(pool_all, group), (pool_out, unit)], method)
    # mean over a subject's RDMs, then over the group's subjects
    per_unit = (to_unit @ sims) / np.bincount(unit, minlength=n_units)[:, None]
    units_per_group = np.bincount(unit_group, minlength=n_groups)
    bounds = (to_group @ per_unit) / units_per_group[:, None]
    table = (desc.loc[np.unique(group, return_index=True)[1], by].reset_index(drop=True)
             if by else pd.DataFrame(index=range(1)))
    table["lower"] = np.where(units_per_group > 1, bounds[:, 1], np.nan)
    table["upper"] = bounds[:, 0]
    table["n_subjects"] = units_per_group
    table["n_rdms"] = np.bincount(group, minlength=n_groups)
    table["method"] = method
    return table


def split_half_ceiling(half_a, half_b, method: str = "spearman", *, on=None) -> pd.DataFrame:
    """Split-half reliability of RDMs, Spearman-Brown corrected to the full data.

    Parameters
    ----------
    half_a, half_b : RDMs
        RDMs from two disjoint halves of the trials (e.g. odd and even repetitions; see
        :func:`split_half_rdms`), over the same conditions (matched by label). Rows are paired by
        their descriptors.
    method : str
        A :func:`~ieegrsa.rsa.compare` method.
    on : str | list of str | None
        Descriptor columns that pair the rows of the two halves. Default: every column the two
        share (rows are paired by position when there are none).

    Returns
    -------
    pandas.DataFrame
        One row per pair of RDMs: the ``on`` columns (``half_a``'s other descriptors too),
        ``r_half`` = sim(a, b) and ``r_full = 2 r_half / (1 + r_half)``, the reliability
        expected with all trials (Spearman-Brown prophecy for doubling the data).
    """
    half_a, half_b = as_rdms(half_a, "half_a"), as_rdms(half_b, "half_b")
    half_a, half_b = align(half_a, half_b)
    if on is None:
        on = [c for c in half_a.descriptors.columns if c in half_b.descriptors.columns]
    on = descriptor_columns(on, half_a.descriptors, "on")
    descriptor_columns(on, half_b.descriptors, "on")
    if on:
        key_a = pd.MultiIndex.from_frame(half_a.descriptors[on])
        key_b = pd.MultiIndex.from_frame(half_b.descriptors[on])
        if key_a.has_duplicates or key_b.has_duplicates:
            raise DataError("the `on` columns must identify each RDM of a half", field="on",
                            found=f"repeated values of {on}", fix="add columns to `on`")
        match = key_b.get_indexer(key_a)
        if (match < 0).any():
            raise DataError("a row of half_a has no partner in half_b", field="on",
                            found=f"{int((match < 0).sum())} unmatched row(s)",
                            fix="give both halves the same descriptor rows")
    else:
        if half_a.n_rdms != half_b.n_rdms:
            raise DataError("the two halves must have the same number of RDMs", field="half_b",
                            found=f"{half_b.n_rdms} vs {half_a.n_rdms}",
                            fix="pass matching RDMs, or descriptors to pair them by")
        match = np.arange(half_a.n_rdms)
    r_half = _paired_compare(half_a.values, [(half_b.values, match)], method)[:, 0]
    table = half_a.descriptors.copy()
    table["r_half"] = r_half
    table["r_full"] = 2 * r_half / (1 + r_half)
    table["method"] = method
    return table


def split_half_rdms(X, labels, half, metric: str = "correlation", **kwargs) -> tuple[RDMs, RDMs]:
    """RDM movies from two disjoint halves of the trials, over one condition order.

    Parameters
    ----------
    X : array-like, shape (n_trials, n_features, n_times)
        Trials, as for :func:`~ieegrsa.rsa.kernels.rdm_movie`.
    labels : sequence, length n_trials
        Condition of each trial.
    half : sequence, length n_trials
        Which half each trial belongs to: exactly two distinct values (e.g. ``repetition % 2``);
        the first in sorted order makes ``half_a``.
    metric : str
        Dissimilarity metric of :func:`~ieegrsa.rsa.kernels.rdm_movie`.
    **kwargs
        Passed to :func:`~ieegrsa.rsa.kernels.rdm_movie` (``descriptors``, ``noise`` ...; a
        cross-validated metric needs ``cv``, given per trial and split with the trials).

    Returns
    -------
    half_a, half_b : RDMs
        One RDM per time point each, over the conditions in order of first appearance in
        ``labels`` (unless ``conditions`` is given).
    """
    from .kernels import rdm_movie  # numba: imported only when needed

    X = np.asarray(X)
    labels = np.asarray(labels, dtype=object)
    half = np.asarray(half)
    if half.shape != (len(X),):
        raise DataError("half must give one value per trial", field="half",
                        found=f"shape {half.shape} for {len(X)} trials",
                        fix="pass e.g. repetition % 2 for every trial")
    sides = np.unique(half)
    if len(sides) != 2:
        raise DataError("half must take exactly two values", field="half",
                        found=f"values {sides[:5].tolist()}", fix="pass e.g. repetition % 2")
    kwargs.setdefault("conditions", list(pd.unique(labels)))
    cv = kwargs.pop("cv", None)
    halves = []
    for side in sides:
        keep = half == side
        fold = None if cv is None else np.asarray(cv)[keep]
        halves.append(rdm_movie(X[keep], labels[keep], metric, cv=fold, **kwargs))
    return halves[0], halves[1]


# -- helpers ---------------------------------------------------------------------------------
def _subject_column(subject, rdms: RDMs) -> str | None:
    if subject is None:
        return "subject" if "subject" in rdms.descriptors.columns else None
    return descriptor_columns(subject, rdms.descriptors, "subject")[0]


def _indicator(code: np.ndarray, n: int) -> scipy.sparse.csr_matrix:
    """Sparse (n, len(code)) matrix with a 1 at (code[i], i): sums rows by code."""
    return scipy.sparse.csr_matrix((np.ones(len(code)), (code, np.arange(len(code)))),
                                   shape=(n, len(code)))


def _paired_compare(values: np.ndarray, partners: list, method: str) -> np.ndarray:
    """``sim(values[i], pool[index[i]])`` for each ``(pool, index)`` of ``partners``.

    :func:`compare` gives all data × model pairs; rows are sent in chunks with the distinct
    partners they need, and only the matched entries are kept. Returns (n, len(partners)).
    """
    n = len(values)
    out = np.empty((n, len(partners)))
    for start in range(0, n, _CHUNK):
        chunk = slice(start, min(start + _CHUNK, n))
        needed = [np.unique(index[chunk], return_inverse=True) for _, index in partners]
        models = np.concatenate([pool[used] for (pool, _), (used, _) in zip(partners, needed)])
        sims = compare(values[chunk], models, method)
        offset = 0
        for j, (used, where) in enumerate(needed):
            out[chunk, j] = sims[np.arange(len(where)), offset + where.ravel()]
            offset += len(used)
    return out
