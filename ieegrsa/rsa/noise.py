"""Noise precision for the mahalanobis and crossnobis dissimilarities.

The noise covariance is estimated from the residuals of the trials about their condition means,
with rsatoolbox's estimators (0.3.2), for every time point at once; its inverse is the precision
that :func:`ieegrsa.rsa.rdm_movie` uses to whiten the patterns.
"""

from __future__ import annotations

import numpy as np

from .._check import check_option
from ..errors import DataError
from ._inputs import check_X, encode_labels, off_to_none
from ._sums import group_sums

__all__ = ["noise_precision", "NOISE_METHODS", "resolve_noise"]

#: Noise covariance estimators (rsatoolbox ``cov_from_residuals`` names).
NOISE_METHODS = ("shrinkage_diag", "shrinkage_eye", "diag", "full")
_POOLINGS = ("time", "pooled")


def noise_precision(X, labels, method: str = "shrinkage_diag", pooling: str = "time",
                    dof: float | None = None, *, conditions=None) -> np.ndarray:
    """Noise precision matrices from the residuals of trials about their condition means.

    The residual of a trial is its pattern minus its condition's (NaN-aware) mean pattern, per
    time point. The covariance estimators are rsatoolbox's ``cov_from_residuals`` (0.3.2),
    computed for all time points at once, and the precision is its inverse:

    - ``"full"``: ``S / dof`` with ``S = Rᵀ R`` (sum of residual products).
    - ``"diag"``: the diagonal of ``"full"`` (univariate noise normalisation).
    - ``"shrinkage_eye"``: Ledoit & Wolf (2004) shrinkage of ``S / n`` towards a multiple of the
      identity, then scaled by ``n / dof``.
    - ``"shrinkage_diag"``: Schäfer & Strimmer (2005) shrinkage of ``S / dof`` towards its
      diagonal (the correlations shrink towards 0 by the estimated optimal λ in [0, 1]).

    ``n`` is the number of residual rows: the trials, or trials × time points when pooled.

    Parameters
    ----------
    X : array-like, shape (n_trials, n_features, n_times)
    labels : sequence, length n_trials
        Condition of each trial.
    method : {"shrinkage_diag", "shrinkage_eye", "diag", "full"}
    pooling : {"time", "pooled"}
        One precision per time point, or one from the residuals of all time points stacked.
    dof : float | None
        Degrees of freedom. Default ``n_trials - n_conditions`` (``× n_times`` when pooled): each
        condition mean uses one, as in rsatoolbox ``cov_from_unbalanced``. (rsatoolbox
        ``prec_from_residuals`` defaults to ``n - 1``, ignoring the fitted means; pass ``dof`` to
        reproduce it.)
    conditions : sequence | None
        As in :func:`rdm_movie`; trials of other labels are left out.

    Returns
    -------
    numpy.ndarray
        Shape (n_times, n_features, n_features), or (n_features, n_features) when pooled.

    Notes
    -----
    NaN entries are missing values: each product sum (``S_jk``, and the fourth moments of the
    shrinkage estimators) is taken over the trials where both features are finite and scaled by
    ``n_trials / n_jk`` (pairwise-complete moments). Without NaN this is exactly rsatoolbox; with
    NaN a ``"full"`` estimate need not be positive definite, so prefer a shrinkage method. A feature
    with no finite residual at a time point makes that time point's precision NaN (its
    condition means are NaN there anyway, so every pair is NaN there whatever the precision).
    """
    X = check_X(X)
    code, conds = encode_labels(labels, X.shape[0], conditions)
    method, pooling = _check_noise_method(method, pooling, names=("method", "pooling"))
    with np.errstate(invalid="ignore", divide="ignore"):
        return _estimate_precision(X, code, len(conds), method, pooling, dof)


def _check_noise_method(method, pooling, *, names=("noise", "noise_pooling")) -> tuple[str, str]:
    """The estimator and pooling; ``names``: the parameters that gave them, for errors."""
    method = check_option(names[0], method, NOISE_METHODS, what="noise estimator",
                          also="or pass a precision matrix")
    pooling = check_option(names[1], pooling, _POOLINGS, what="noise pooling")
    return method, pooling


def resolve_noise(noise, metric, X, code, n_cond, pooling, dof):
    """The precision (None = identity): (p, p) or (n_times, p, p).

    ``noise`` is None (or ``"none"``, the configuration's off value), an estimator name or a
    precision matrix (see :func:`~ieegrsa.rsa.rdm_movie`).
    """
    noise = off_to_none(noise)
    if noise is None:
        return None
    if metric not in ("mahalanobis", "crossnobis"):
        raise DataError(
            f"metric {metric!r} does not use a noise precision", field="noise",
            found=type(noise).__name__, fix="use 'mahalanobis' or 'crossnobis', or noise=None",
        )
    n_trials, n_features, n_times = X.shape
    if isinstance(noise, str):
        method, pooling = _check_noise_method(noise, pooling)
        with np.errstate(invalid="ignore", divide="ignore"):
            return _estimate_precision(X, code, n_cond, method, pooling, dof)
    try:
        prec = np.asarray(noise, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("noise must be a precision matrix or an estimator name", field="noise",
                        found=type(noise).__name__,
                        fix=f"pass an array or one of {NOISE_METHODS}") from None
    if prec.shape not in ((n_features, n_features), (n_times, n_features, n_features)):
        raise DataError(
            "noise precision has the wrong shape", field="noise", found=f"shape {prec.shape}",
            fix=f"pass ({n_features}, {n_features}) or ({n_times}, {n_features}, {n_features})",
        )
    if not np.isfinite(prec).all():
        raise DataError("noise precision holds NaN or inf", field="noise", found="non-finite",
                        fix="pass a finite precision matrix")
    return prec


def _estimate_precision(X, code, n_cond, method, pooling, dof):
    """rsatoolbox ``prec_from_residuals`` for every time point at once (see noise_precision)."""
    n_trials, n_features, n_times = X.shape
    kept = np.flatnonzero(code >= 0)
    n_present = len(np.unique(code[kept]))
    n = len(kept) * (n_times if pooling == "pooled" else 1)
    if dof is None:
        dof = (len(kept) - n_present) * (n_times if pooling == "pooled" else 1)
    if not np.isscalar(dof) or not dof > 0:
        raise DataError(
            "the noise estimate has no degrees of freedom left", field="noise",
            found=f"dof={dof} ({len(kept)} trials, {n_present} conditions)",
            fix="use more trials per condition, pooling='pooled', or pass a precision matrix",
        )
    rank = (len(kept) - n_present) * (n_times if pooling == "pooled" else 1)  # of Rᵀ R, at most
    if method == "full" and rank < n_features:
        _singular(method, rank, n_features)
    # the same NaN-aware condition sums as the RDMs
    sums, counts, has_nan = group_sums(X, code, n_cond)
    means = (sums / counts).transpose(1, 2, 0)  # (T, c, p)
    R = X[kept].transpose(2, 0, 1) - means[:, code[kept], :]  # residuals (T, n, p)
    if has_nan:
        observed = ~np.isnan(R)
        R = np.where(observed, R, 0.0)
    R2 = R * R
    s_sum = np.matmul(R.transpose(0, 2, 1), R)  # sum of r_j r_k, (T, p, p)
    s2_sum = np.matmul(R2.transpose(0, 2, 1), R2)  # sum of (r_j r_k)^2
    if pooling == "pooled":
        s_sum, s2_sum = s_sum.sum(axis=0, keepdims=True), s2_sum.sum(axis=0, keepdims=True)
    dead = np.zeros((len(s_sum), n_features), dtype=bool)
    if has_nan:  # pairwise-complete moments, scaled to n rows
        observed = observed.astype(np.float64)
        pair_n = np.matmul(observed.transpose(0, 2, 1), observed)
        if pooling == "pooled":
            pair_n = pair_n.sum(axis=0, keepdims=True)
        scale = np.where(pair_n > 0, n / np.maximum(pair_n, 1), 0.0)  # never seen jointly: 0
        s_sum, s2_sum = s_sum * scale, s2_sum * scale
        # a feature with no finite residual: keep the estimators finite, NaN the result below
        dead = np.diagonal(pair_n, axis1=1, axis2=2) == 0
        diag = np.arange(n_features)
        s_sum[:, diag, diag] = np.where(dead, 1.0, s_sum[:, diag, diag])
        s2_sum[:, diag, diag] = np.where(dead, 1.0, s2_sum[:, diag, diag])
    cov = _covariance(s_sum, s2_sum, n, float(dof), method)
    try:
        prec = np.linalg.inv(cov)
    except np.linalg.LinAlgError:
        _singular(method, rank, n_features)
    prec[dead.any(axis=1)] = np.nan
    return prec[0] if pooling == "pooled" else prec


def _singular(method, rank, n_features):
    raise DataError(
        f"the {method!r} noise covariance is singular", field="noise",
        found=f"residuals of rank <= {rank} for {n_features} features",
        fix="use a shrinkage estimator ('shrinkage_diag' or 'shrinkage_eye'), or "
            "noise_pooling='pooled'",
    )


def _covariance(s_sum, s2_sum, n, dof, method):
    """rsatoolbox 0.3.2 covariance estimators from the product sums, batched (B, p, p)."""
    p = s_sum.shape[-1]
    eye = np.eye(p)
    if method == "full":
        return s_sum / dof
    if method == "diag":
        return eye * (np.diagonal(s_sum, axis1=1, axis2=2)[:, None, :] / dof)
    if method == "shrinkage_eye":  # Ledoit & Wolf (2004)
        s = s_sum / n
        b2 = np.sum(s2_sum / n - s * s, axis=(1, 2)) / n
        m = np.trace(s, axis1=1, axis2=2) / p
        d2 = np.sum((s - m[:, None, None] * eye) ** 2, axis=(1, 2))
        b2 = np.minimum(d2, b2)
        shrunk = ((b2 / d2 * m)[:, None, None] * eye + ((d2 - b2) / d2)[:, None, None] * s)
        return shrunk * n / dof
    # shrinkage_diag: Schäfer & Strimmer (2005), target = the diagonal
    s = s_sum / dof
    var = np.diagonal(s, axis1=1, axis2=2)
    std = np.sqrt(var)
    s_mean = s_sum / (std[:, :, None] * std[:, None, :]) / (n - 1)
    s2_mean = s2_sum / (var[:, :, None] * var[:, None, :]) / (n - 1)
    var_hat = n / dof**2 * (s2_mean - s_mean**2)
    off = ~np.eye(p, dtype=bool)
    lamb = np.sum(var_hat * off, axis=(1, 2)) / np.sum(s_mean**2 * off, axis=(1, 2))
    lamb = np.clip(lamb, 0.0, 1.0)
    return s * (eye + (1.0 - lamb)[:, None, None] * off)
