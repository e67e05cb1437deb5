"""Dissimilarity kernels: one RDM per time point from an array of trials.

:func:`rdm_movie` turns ``X`` (trials × features × times; features are contacts, or contacts ×
lags) and one condition label per trial into one RDM per time point. Nothing loops over time
points or pairs in Python: compiled loops (numba, parallel) sum the trials of each condition (and
fold) into time-major arrays in one pass over ``X``, then form each time point's condition
patterns and write every pair's value straight into the condensed (time × pairs) output. The
noise covariances are batched matrix products over time.

Metrics (``m_i`` is the mean pattern of condition ``i`` over its trials, ``p`` the number of
features, ``Λ`` a noise precision matrix)

========================  ===============================================================
``"correlation"``         ``1 - r(m_i, m_j)``, Pearson r across features
``"cosine"``              ``1 - m_i·m_j / (|m_i| |m_j|)``
``"euclidean"``           ``|m_i - m_j|² / p`` (squared, per feature, as rsatoolbox)
``"mahalanobis"``         ``(m_i - m_j)ᵀ Λ (m_i - m_j) / p``
``"crossnobis"``          ``mean over folds k of (a_i - a_j)ᵀ Λ (b_i - b_j) / p``
``"cv-euclidean"``        crossnobis with ``Λ = I``
========================  ===============================================================

Cross-validation (rsatoolbox ``calc_rdm_crossnobis`` semantics): the folds are the distinct values
of ``cv`` (a repetition or run per trial). For each fold ``k`` the test pattern ``b_i`` is the mean
of condition ``i``'s trials in fold ``k`` and the training pattern ``a_i`` the mean of its trials in
all other folds pooled; the RDM is the mean over folds. Noise in ``a`` and ``b`` is independent,
so the estimate is unbiased: it is ~0 on average where two conditions do not differ and is often
negative there. It is never clipped or square-rooted. A fold in which a condition has no trial on
the training or the test side contributes nothing to that condition's pairs (the mean is over the
folds that do); a condition with trials in one fold only has no such fold and is an error that
names it (a listed condition without any trial gets NaN pairs).

Missing data (NaN)
------------------
Preprocessing marks a rejected trial of one channel by ``X[trial, feature, :] = NaN``. Condition
means are NaN-aware: a feature's mean is over the trials where it is finite. A condition with no
finite trial on some feature at some time point has a NaN pattern there, so its pairs (and only
its pairs) are NaN at that time point. Noise covariances use pairwise-complete moments (see
:func:`noise_precision`). ``±inf`` in a trial that is used is an error.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from .._check import check_option
from ..errors import DataError
from ._inputs import check_descriptors, check_X, encode_cv, encode_labels
from ._sums import group_sums
from .noise import NOISE_METHODS, noise_precision, resolve_noise
from .rdms import RDMs

__all__ = ["rdm_movie", "noise_precision", "METRICS", "CV_METRICS", "NOISE_METHODS"]

#: Every value of ``metric`` that :func:`rdm_movie` accepts.
METRICS = ("correlation", "euclidean", "cosine", "mahalanobis", "crossnobis", "cv-euclidean")
#: The cross-validated metrics (they need ``cv``).
CV_METRICS = ("crossnobis", "cv-euclidean")



# -- public functions ------------------------------------------------------------------------
def rdm_movie(X, labels, metric: str = "correlation", cv=None, noise=None, *, conditions=None,
              descriptors: pd.DataFrame | None = None, noise_pooling: str = "time",
              dof: float | None = None) -> RDMs:
    """One RDM per time point from trials × features × times.

    Parameters
    ----------
    X : array-like, shape (n_trials, n_features, n_times)
        The responses (any unit; high-gamma amplitude, broadband voltage ...). NaN marks missing
        data (e.g. a rejected trial of one channel); ±inf is an error.
    labels : sequence, length n_trials
        The condition (stimulus) of each trial. Conditions may have unequal numbers of trials.
    metric : {"correlation", "euclidean", "cosine", "mahalanobis", "crossnobis", "cv-euclidean"}
        The dissimilarity (formulas in :mod:`ieegrsa.rsa.kernels`).
    cv : sequence, length n_trials | None
        The cross-validation fold of each trial (repetition, run ...); required by the
        cross-validated metrics and refused by the others.
    noise : None | array | str
        Noise precision for ``"mahalanobis"`` and ``"crossnobis"``: None (identity), a matrix
        (n_features, n_features) shared by all time points, one per time point (n_times,
        n_features, n_features), or the name of an estimator in :data:`NOISE_METHODS`, which
        estimates it from the residuals of ``X`` with :func:`noise_precision`. ``"none"`` (the
        configuration's off value) is None.
    conditions : sequence | None
        The conditions, in the order of the RDM rows. Default: the labels in order of first
        appearance (never sorted). Trials whose label is not listed are left out; a listed
        condition without trials gets NaN pairs (with a warning).
    descriptors : pandas.DataFrame | None
        One row per time point, passed to the result. Default: a column ``time_index``
        ``0 .. n_times - 1``.
    noise_pooling : {"time", "pooled"}
        With an estimator name as ``noise``: one precision per time point, or one from the
        residuals of all time points pooled.
    dof : float | None
        Degrees of freedom of the noise estimate (see :func:`noise_precision`).

    Returns
    -------
    RDMs
        ``n_times`` RDMs over ``conditions``; ``metric`` set to ``metric``.

    Raises
    ------
    DataError
        Bad shapes, labels, folds, noise or metric (the message names the argument).

    Notes
    -----
    The first call on a machine compiles the loops with numba (about 10 s, once: the machine
    code is cached beside the module). All distances are computed from
    differences, ``Σ (a_i - a_j)(b_i - b_j)``, not from ``|a|² + |b|² - 2 a·b``, so small
    distances keep their precision.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(12, 5, 3))
    >>> rdms = rdm_movie(X, ["b", "a", "c"] * 4, "crossnobis", cv=np.repeat([0, 1, 2, 3], 3))
    >>> rdms.n_rdms, list(rdms.conditions)
    (3, ['b', 'a', 'c'])
    """
    X = check_X(X)
    n_trials, n_features, n_times = X.shape
    metric = _check_metric(metric, n_features)
    code, conds = encode_labels(labels, n_trials, conditions)
    descriptors = check_descriptors(descriptors, n_times)
    if metric in CV_METRICS:
        fold, n_folds = encode_cv(cv, n_trials, code, metric, conds)
    elif cv is not None:
        raise DataError(
            f"metric {metric!r} is not cross-validated, so it takes no folds", field="cv",
            found="fold labels", fix=f"leave cv=None, or use one of {CV_METRICS}",
        )
    prec = resolve_noise(noise, metric, X, code, len(conds), noise_pooling, dof)

    if metric in CV_METRICS:
        values = _pair_values(X, np.where(code >= 0, fold * len(conds) + code, -1),
                              (n_folds, len(conds)), metric, prec)
    else:
        values = _pair_values(X, code, (1, len(conds)), metric, prec)
    return RDMs(values, conds, descriptors=descriptors, metric=metric, copy=False)


# -- validation ------------------------------------------------------------------------------
def _check_metric(metric, n_features: int) -> str:
    metric = check_option("metric", metric, METRICS, what="dissimilarity metric")
    if metric == "correlation" and n_features < 2:
        raise DataError(
            "correlation needs at least 2 features", field="X",
            found=f"{n_features} feature", fix="use metric='euclidean' for one feature",
        )
    return metric


# -- kernels ---------------------------------------------------------------------------------
def _pair_values(X, group, shape, metric, prec):
    """The condensed RDM of every time point (T, n_pairs).

    ``group`` numbers each trial's (fold, condition) cell as ``fold * n_cond + condition``
    (-1: left out); ``shape`` is (n_folds, n_cond), with one fold for the non-cross-validated
    metrics. The sums and counts per cell go to the compiled loops, which form the patterns of
    each time point themselves.
    """
    n_trials, n_features, n_times = X.shape
    n_folds, n_cond = shape
    sums, counts, _ = group_sums(X, group, n_folds * n_cond)
    out = np.empty((n_times, n_cond * (n_cond - 1) // 2))
    if metric in ("correlation", "cosine"):
        _similarity_pairs(sums, counts, metric == "correlation", out)
        return out
    if prec is None:
        prec = np.empty((0, 0, 0))
    elif prec.ndim == 2:
        prec = prec[np.newaxis]
    _distance_pairs(sums.reshape(n_features, n_times, n_folds, n_cond),
                    counts.reshape(*counts.shape[:2], n_folds, n_cond),
                    np.ascontiguousarray(prec), metric in CV_METRICS, out)
    return out


# The pair loops below are compiled (numba, parallel): numpy would need a (T, n, n) Gram stack
# per fold and a gather of its upper triangles.
# error_model="numpy": x / 0 gives inf or NaN instead of raising.
@numba.njit(parallel=True, cache=True, error_model="numpy")
def _similarity_pairs(S, N, center, out):  # pragma: no cover - compiled
    """``out[t, pair(i, j)] = 1 - z_i·z_j``; z: the (centred) unit-length mean patterns.

    ``S`` (p, T, n_cond), ``N`` (p, T, n_cond) or (1, 1, n_cond): sums and counts of each
    condition's values (group_sums).
    ``out`` (T, n_pairs), pairs in squareform order. The innermost loop runs over the partners
    j > i of condition i, contiguous in memory, so that it vectorises.
    """
    n_features, n_times, n_cond = S.shape
    per_entry = N.shape[0] > 1
    for t in numba.prange(n_times):
        # multiplications by inverses: divisions and square roots are slow
        z = np.empty((n_features, n_cond))
        inv = 1.0 / N[0, 0]
        mean = np.zeros(n_cond)
        for k in range(n_features):
            if per_entry:
                inv = 1.0 / N[k, t]
            for i in range(n_cond):
                z[k, i] = S[k, t, i] * inv[i]
                mean[i] += z[k, i]
        ss = np.zeros(n_cond)
        for k in range(n_features):
            for i in range(n_cond):
                if center:
                    z[k, i] -= mean[i] / n_features
                ss[i] += z[k, i] * z[k, i]
        inv = 1.0 / np.sqrt(ss)
        for k in range(n_features):
            for i in range(n_cond):
                z[k, i] *= inv[i]
        acc = np.empty(n_cond)
        start = 0
        for i in range(n_cond - 1):
            n = n_cond - 1 - i
            acc[:n] = 0.0
            k = 0
            while k + 4 <= n_features:  # 4 features at a time: fewer loads/stores of acc
                z0, z1, z2, z3 = z[k, i], z[k + 1, i], z[k + 2, i], z[k + 3, i]
                for j in range(n):
                    acc[j] += (z0 * z[k, i + 1 + j] + z1 * z[k + 1, i + 1 + j]
                               + z2 * z[k + 2, i + 1 + j] + z3 * z[k + 3, i + 1 + j])
                k += 4
            while k < n_features:
                z0 = z[k, i]
                for j in range(n):
                    acc[j] += z0 * z[k, i + 1 + j]
                k += 1
            for j in range(n):
                out[t, start + j] = 1.0 - acc[j]
            start += n


@numba.njit(parallel=True, cache=True, error_model="numpy")
def _distance_pairs(S, N, P, cross, out):  # pragma: no cover - compiled
    """``out[t, pair(i, j)] = mean over folds of (a_i - a_j)ᵀ Λ (b_i - b_j) / p``.

    ``S`` (p, T, n_folds, n_cond), ``N`` (p, T, n_folds, n_cond) or (1, 1, n_folds, n_cond):
    sums and counts of each fold and condition's values (group_sums). With ``cross``, fold
    f's test pattern b is its own mean and its training pattern a the mean of the other folds'
    values; otherwise (one fold) a = b = the condition mean. ``P``: the precision Λ, (1, p, p)
    shared, (T, p, p) per time point, or (0, 0, 0) for the identity. Folds whose value is NaN
    for a pair (a condition without trials there) are skipped; no usable fold gives NaN.
    """
    n_features, n_times, n_folds, n_cond = S.shape
    per_entry = N.shape[0] > 1
    use_prec = P.shape[0] > 0
    for t in numba.prange(n_times):
        a = np.empty((n_folds, n_features, n_cond))
        b = np.empty((n_folds, n_features, n_cond))
        s_all = np.empty(n_cond)
        n_all = np.empty(n_cond)
        for k in range(n_features):
            n_k = N[k, t] if per_entry else N[0, 0]
            s_all[:] = 0.0
            n_all[:] = 0.0
            for f in range(n_folds):
                for i in range(n_cond):
                    s_all[i] += S[k, t, f, i]
                    n_all[i] += n_k[f, i]
            for f in range(n_folds):
                for i in range(n_cond):
                    b[f, k, i] = S[k, t, f, i] / n_k[f, i]
                    if cross:
                        a[f, k, i] = (s_all[i] - S[k, t, f, i]) / (n_all[i] - n_k[f, i])
                    else:
                        a[f, k, i] = b[f, k, i]
        if use_prec:  # a <- Λᵀ a, i.e. the row patterns a_i Λ
            lam = P[t] if P.shape[0] > 1 else P[0]
            weighted = np.zeros((n_folds, n_features, n_cond))
            for f in range(n_folds):
                for g in range(n_features):
                    for k in range(n_features):
                        w = lam[k, g]
                        for i in range(n_cond):
                            weighted[f, g, i] += w * a[f, k, i]
            a = weighted
        acc = np.empty(n_cond)
        used = np.empty(n_cond)
        d = np.empty(n_cond)
        start = 0
        for i in range(n_cond - 1):
            n = n_cond - 1 - i
            acc[:n] = 0.0
            used[:n] = 0.0
            for f in range(n_folds):
                d[:n] = 0.0
                for k in range(n_features):
                    a0, b0 = a[f, k, i], b[f, k, i]
                    for j in range(n):
                        d[j] += (a0 - a[f, k, i + 1 + j]) * (b0 - b[f, k, i + 1 + j])
                for j in range(n):
                    if not np.isnan(d[j]):
                        acc[j] += d[j]
                        used[j] += 1.0
            for j in range(n):
                out[t, start + j] = acc[j] / used[j] / n_features
            start += n
