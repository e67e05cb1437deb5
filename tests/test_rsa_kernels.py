"""rsa.kernels: rdm_movie and noise_precision against rsatoolbox 0.3.2, scipy, brute-force loops."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from ieegrsa.errors import DataError
from ieegrsa.rsa import RDMs, noise_precision, rdm_movie

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.data import Dataset, TemporalDataset  # noqa: E402
from rsatoolbox.data.noise import prec_from_residuals, prec_from_unbalanced  # noqa: E402
from rsatoolbox.rdm import calc_rdm, calc_rdm_movie  # noqa: E402

RTOL = 1e-10
NOISE_METHODS = ["shrinkage_diag", "shrinkage_eye", "diag", "full"]

# ---------------------------------------------------------------------------------------------
# data and references


def _design(seed=0, n_cond=6, n_reps=4, n_features=7, n_times=5, extra=(1, 3), ties=True):
    """Trials in shuffled order with unequal counts, condition labels that do not sort as they
    appear, a fold (repetition) per trial, and a planted pattern per condition.

    ``extra``: conditions given one more trial (in fold 0) so that counts are unequal. With
    ``ties`` the data are rounded to a coarse grid (tied values) and conditions 4 and 5 share
    their pattern.
    """
    rng = np.random.default_rng(seed)
    names = [f"s{k}" for k in rng.permutation(n_cond) + 10]  # e.g. s13, s10, s15 ...
    cond = np.concatenate([np.tile(np.arange(n_cond), n_reps), np.asarray(extra, int)])
    rep = np.concatenate([np.repeat(np.arange(n_reps), n_cond), np.zeros(len(extra), int)])
    order = rng.permutation(len(cond))
    cond, rep = cond[order], rep[order]
    patterns = rng.normal(size=(n_cond, n_features, n_times))
    if ties and n_cond > 5:
        patterns[5] = patterns[4]
    X = patterns[cond] + rng.normal(scale=0.8, size=(len(cond), n_features, n_times))
    if ties:
        X = np.round(X * 4) / 4
    labels = np.array(names, dtype=object)[cond]
    return X, labels, rep


def _spd(rng, p):
    a = rng.normal(size=(p, p))
    return a @ a.T / p + np.eye(p)


def _first_appearance(labels):
    seen = []
    for label in labels:
        if label not in seen:
            seen.append(label)
    return seen


def _rsatoolbox_movie(X, labels, method, cv=None, noise=None):
    """rsatoolbox's RDM movie as (values (T, n_pairs), condition order)."""
    obs = {"cond": np.asarray(labels)}
    if cv is not None:
        obs["rep"] = np.asarray(cv)
    ds = TemporalDataset(X, obs_descriptors=obs)
    rdms = calc_rdm_movie(ds, method=method, descriptor="cond", noise=noise,
                          cv_descriptor=None if cv is None else "rep")
    return rdms.get_vectors(), list(rdms.pattern_descriptors["cond"])


def _rsatoolbox_per_time(X, labels, method, cv=None, noise=None):
    """rsatoolbox calc_rdm on each time point, with noise[t] (one precision per time point)."""
    values = []
    for t in range(X.shape[2]):
        obs = {"cond": np.asarray(labels)}
        if cv is not None:
            obs["rep"] = np.asarray(cv)
        ds = Dataset(X[:, :, t], obs_descriptors=obs)
        with warnings.catch_warnings():  # rsatoolbox casts NaN to int building its result
            warnings.simplefilter("ignore", RuntimeWarning)
            rdm = calc_rdm(ds, method=method, descriptor="cond", noise=noise[t],
                           cv_descriptor=None if cv is None else "rep")
        values.append(rdm.get_vectors()[0])
    return np.array(values), list(rdm.pattern_descriptors["cond"])


def _nanmean(a, axis=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def _brute(X, labels, metric, cv=None, prec=None, conditions=None):
    """One time point, one pair, one fold at a time, straight from the definitions."""
    labels = np.asarray(labels, dtype=object)
    conds = _first_appearance(labels) if conditions is None else list(conditions)
    n_trials, p, n_times = X.shape
    n = len(conds)
    out = np.full((n_times, n * (n - 1) // 2), np.nan)
    for t in range(n_times):
        lam = np.eye(p) if prec is None else (prec if prec.ndim == 2 else prec[t])
        q = 0
        for i in range(n):
            for j in range(i + 1, n):
                si, sj = labels == conds[i], labels == conds[j]
                if metric in ("crossnobis", "cv-euclidean"):
                    ds = []
                    for k in np.unique(cv):
                        test, train = cv == k, cv != k
                        a_i, a_j = (_nanmean(X[s & train, :, t]) for s in (si, sj))
                        b_i, b_j = (_nanmean(X[s & test, :, t]) for s in (si, sj))
                        d = (a_i - a_j) @ lam @ (b_i - b_j) / p
                        if np.isfinite(d):
                            ds.append(d)
                    out[t, q] = np.mean(ds) if ds else np.nan
                else:
                    mi, mj = _nanmean(X[si, :, t]), _nanmean(X[sj, :, t])
                    if metric == "correlation":
                        ci, cj = mi - mi.mean(), mj - mj.mean()
                        out[t, q] = 1 - ci @ cj / np.sqrt((ci @ ci) * (cj @ cj))
                    elif metric == "cosine":
                        out[t, q] = 1 - mi @ mj / np.sqrt((mi @ mi) * (mj @ mj))
                    else:
                        out[t, q] = (mi - mj) @ lam @ (mi - mj) / p
                q += 1
    return out


def _residuals(X, labels):
    """Trial minus its condition mean, per time point: (T, n_trials, p)."""
    R = np.empty_like(X)
    for label in set(labels):
        sel = labels == label
        R[sel] = X[sel] - X[sel].mean(axis=0)
    return R.transpose(2, 0, 1)


def _close(a, b, rtol=RTOL, atol=1e-12):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# rsatoolbox


@pytest.mark.parametrize("metric", ["correlation", "euclidean", "mahalanobis"])
def test_plain_metrics_match_rsatoolbox(metric):
    X, labels, _ = _design(seed=1)
    prec = _spd(np.random.default_rng(5), X.shape[1]) if metric == "mahalanobis" else None
    ref, order = _rsatoolbox_movie(X, labels, metric, noise=prec)
    ours = rdm_movie(X, labels, metric, noise=prec)
    assert ours.metric == metric and ours.n_rdms == X.shape[2]
    _close(ours.reorder(order).values, ref)


def test_mahalanobis_per_time_precision_matches_rsatoolbox():
    X, labels, _ = _design(seed=2)
    rng = np.random.default_rng(6)
    prec = np.stack([_spd(rng, X.shape[1]) for _ in range(X.shape[2])])
    ref, order = _rsatoolbox_per_time(X, labels, "mahalanobis", noise=prec)
    _close(rdm_movie(X, labels, "mahalanobis", noise=prec).reorder(order).values, ref)


@pytest.mark.parametrize("with_noise", [False, True])
def test_crossnobis_matches_rsatoolbox(with_noise):
    X, labels, rep = _design(seed=3)
    prec = _spd(np.random.default_rng(7), X.shape[1]) if with_noise else None
    ref, order = _rsatoolbox_movie(X, labels, "crossnobis", cv=rep, noise=prec)
    ours = rdm_movie(X, labels, "crossnobis", cv=rep, noise=prec)
    _close(ours.reorder(order).values, ref)
    assert (ref < 0).any()  # the test covers negative values, which must pass through unclipped
    if not with_noise:
        cv_euclidean = rdm_movie(X, labels, "cv-euclidean", cv=rep)
        _close(cv_euclidean.values, ours.values, rtol=1e-13)
        assert cv_euclidean.metric == "cv-euclidean"


def test_crossnobis_per_time_precision_matches_rsatoolbox():
    X, labels, rep = _design(seed=4)
    rng = np.random.default_rng(8)
    prec = np.stack([_spd(rng, X.shape[1]) for _ in range(X.shape[2])])
    ref, order = _rsatoolbox_per_time(X, labels, "crossnobis", cv=rep, noise=prec)
    ours = rdm_movie(X, labels, "crossnobis", cv=rep, noise=prec)
    _close(ours.reorder(order).values, ref)


@pytest.mark.parametrize("method", NOISE_METHODS)
def test_noise_precision_matches_rsatoolbox(method):
    X, labels, _ = _design(seed=5, n_reps=6, n_features=5)
    R = _residuals(X, labels)
    n_trials, n_cond = len(labels), len(set(labels))
    dof = n_trials - n_cond
    ref = np.array(prec_from_residuals(list(R), dof=dof, method=method))
    _close(noise_precision(X, labels, method), ref)
    # rsatoolbox's own default dof for residuals (n - 1)
    _close(noise_precision(X, labels, method, dof=n_trials - 1),
           np.array(prec_from_residuals(list(R), method=method)))
    # pooled over time: the residuals of all time points stacked
    pooled = prec_from_residuals(R.reshape(-1, X.shape[1]), dof=dof * X.shape[2], method=method)
    _close(noise_precision(X, labels, method, pooling="pooled"), pooled)


def test_noise_precision_default_dof_is_rsatoolbox_unbalanced():
    X, labels, _ = _design(seed=6, n_reps=5, n_features=4)
    t = 2
    ds = Dataset(X[:, :, t], obs_descriptors={"cond": labels})
    ref = prec_from_unbalanced(ds, "cond", method="shrinkage_diag")
    _close(noise_precision(X, labels)[t], ref)


@pytest.mark.parametrize("method", ["shrinkage_diag", "shrinkage_eye"])
def test_estimated_noise_crossnobis_matches_rsatoolbox(method):
    X, labels, rep = _design(seed=7, n_reps=5, n_features=5)
    prec = np.array(prec_from_residuals(list(_residuals(X, labels)),
                                        dof=len(labels) - len(set(labels)), method=method))
    ref, order = _rsatoolbox_per_time(X, labels, "crossnobis", cv=rep, noise=prec)
    ours = rdm_movie(X, labels, "crossnobis", cv=rep, noise=method)
    _close(ours.reorder(order).values, ref)
    pooled = rdm_movie(X, labels, "mahalanobis", noise=method, noise_pooling="pooled")
    explicit = rdm_movie(X, labels, "mahalanobis",
                         noise=noise_precision(X, labels, method, pooling="pooled"))
    _close(pooled.values, explicit.values, rtol=1e-13)


# ---------------------------------------------------------------------------------------------
# brute force and scipy


@pytest.mark.parametrize("metric", ["correlation", "cosine", "euclidean", "mahalanobis",
                                    "crossnobis", "cv-euclidean"])
def test_equals_brute_force_loop(metric):
    X, labels, rep = _design(seed=8)
    prec = _spd(np.random.default_rng(9), X.shape[1]) if metric in ("mahalanobis",
                                                                       "crossnobis") else None
    cv = rep if metric in ("crossnobis", "cv-euclidean") else None
    ours = rdm_movie(X, labels, metric, cv=cv, noise=prec)
    _close(ours.values, _brute(X, labels, metric, cv=rep, prec=prec))


@pytest.mark.parametrize("metric, scipy_metric", [("cosine", "cosine"),
                                                  ("correlation", "correlation"),
                                                  ("euclidean", "sqeuclidean")])
def test_matches_scipy_pdist(metric, scipy_metric):
    X, labels, _ = _design(seed=9, n_cond=8)
    conds = _first_appearance(labels)
    ours = rdm_movie(X, labels, metric)
    scale = X.shape[1] if metric == "euclidean" else 1
    for t in range(X.shape[2]):
        means = np.array([X[labels == c, :, t].mean(axis=0) for c in conds])
        _close(ours.values[t], pdist(means, scipy_metric) / scale)


def test_tied_patterns_give_zero_distance():
    X, labels, _ = _design(seed=10, n_reps=1, extra=())
    conds = _first_appearance(labels)
    X[labels == conds[1]] = X[labels == conds[0]]  # two identical conditions
    for metric in ("correlation", "cosine", "euclidean"):
        rdms = rdm_movie(X, labels, metric)
        assert np.all(np.abs(rdms.values[:, 0]) < 1e-12), metric  # pair (0, 1)


# ---------------------------------------------------------------------------------------------
# cross-validation


def test_crossnobis_unbiased_on_pure_noise():
    rng = np.random.default_rng(11)
    n_cond, n_reps, p, n_times = 20, 4, 10, 60
    X = rng.normal(size=(n_cond * n_reps, p, n_times))
    labels = np.tile(np.arange(n_cond), n_reps)
    rep = np.repeat(np.arange(n_reps), n_cond)
    values = rdm_movie(X, labels, "crossnobis", cv=rep).values
    assert not np.isnan(values).any()
    per_time = values.mean(axis=1)  # time points are independent
    se = per_time.std(ddof=1) / np.sqrt(n_times)
    assert abs(per_time.mean()) < 4 * se
    assert 0.4 < (values < 0).mean() < 0.6
    # the non-cross-validated distance on the same data is biased upwards: never negative
    assert rdm_movie(X, labels, "euclidean").values.min() > 0


def test_condition_missing_from_a_fold():
    X, labels, rep = _design(seed=12, extra=())
    conds = _first_appearance(labels)
    drop = (labels == conds[2]) & (rep == 1)  # condition 2 has no trial in fold 1
    X, labels, rep = X[~drop], labels[~drop], rep[~drop]
    ours = rdm_movie(X, labels, "crossnobis", cv=rep)
    assert np.isfinite(ours.values).all()
    _close(ours.values, _brute(X, labels, "crossnobis", cv=rep))


@pytest.mark.parametrize("metric", ["crossnobis", "cv-euclidean"])
def test_condition_in_one_fold_only_is_an_error(metric):
    X, labels, rep = _design(seed=13, extra=(1, 1))  # condition 1: 2 more trials in fold 0
    conds = _first_appearance(labels)
    drop = (labels == conds[0]) & (rep != 0)
    X, labels, rep = X[~drop], labels[~drop], rep[~drop]
    n_trials = int((labels == conds[0]).sum())
    with pytest.raises(DataError) as info:
        rdm_movie(X, labels, metric, cv=rep)
    message = str(info.value)
    assert info.value.field == "cv"
    assert f"{conds[0]!r} (trials in 1 fold, {n_trials} trial" in message
    assert "at least 2 of the 4 folds" in message
    # a listed condition without any trial is not an error: its pairs are NaN
    keep = labels != conds[0]
    with pytest.warns(UserWarning):
        square = rdm_movie(X[keep], labels[keep], metric, cv=rep[keep],
                           conditions=conds).square()
    assert np.isnan(square[:, 0, 1:]).all()
    assert np.isfinite(square[:, 1:, 1:]).all()


# ---------------------------------------------------------------------------------------------
# missing data


@pytest.mark.parametrize("metric", ["correlation", "cosine", "euclidean", "mahalanobis",
                                    "crossnobis"])
def test_nan_trials(metric):
    X, labels, rep = _design(seed=14)
    conds = _first_appearance(labels)
    rng = np.random.default_rng(15)
    for trial in rng.choice(len(X), 6, replace=False):  # rejected trials of one channel
        X[trial, rng.integers(X.shape[1]), :] = np.nan
    # condition 3 loses feature 2 on every trial at time points 1 and 2
    X[labels == conds[3], 2, 1:3] = np.nan
    prec = _spd(rng, X.shape[1]) if metric in ("mahalanobis", "crossnobis") else None
    cv = rep if metric == "crossnobis" else None
    ours = rdm_movie(X, labels, metric, cv=cv, noise=prec)
    _close(ours.values, _brute(X, labels, metric, cv=rep, prec=prec))
    square = ours.square()
    others = [i for i in range(len(conds)) if i != 3]
    assert np.isnan(square[1:3, 3, others]).all()
    assert np.isfinite(square[:, others][:, :, others]).all()
    assert np.isfinite(square[[0, 3, 4]][:, 3, others]).all()


def test_noise_precision_with_nan_is_pairwise_complete():
    X, labels, _ = _design(seed=16, n_reps=6, n_features=4, n_times=3)
    rng = np.random.default_rng(17)
    for trial in rng.choice(len(X), 5, replace=False):
        X[trial, rng.integers(X.shape[1]), :] = np.nan
    n, p = len(labels), X.shape[1]
    dof = n - len(set(labels))
    ours = noise_precision(X, labels, "full")
    for t in range(X.shape[2]):
        R = np.empty((n, p))
        for label in set(labels):
            sel = labels == label
            R[sel] = X[sel, :, t] - _nanmean(X[sel, :, t])
        cov = np.empty((p, p))
        for j in range(p):
            for k in range(p):
                both = np.isfinite(R[:, j]) & np.isfinite(R[:, k])
                cov[j, k] = np.sum(R[both, j] * R[both, k]) * n / both.sum() / dof
        _close(ours[t], np.linalg.inv(cov))
    for method in NOISE_METHODS:
        assert np.isfinite(noise_precision(X, labels, method)).all(), method
    # a feature with no data at a time point: that time point's precision is NaN
    X[:, 1, 0] = np.nan
    prec = noise_precision(X, labels, "shrinkage_diag")
    assert np.isnan(prec[0]).all() and np.isfinite(prec[1:]).all()


def test_trials_outside_conditions_and_nan_in_them_are_ignored():
    X, labels, rep = _design(seed=18)
    conds = _first_appearance(labels)
    keep = labels != conds[-1]
    X2 = X.copy()
    X2[~keep] = np.nan  # data of a left-out condition never matter
    sub = rdm_movie(X2, labels, "crossnobis", cv=rep, conditions=conds[:-1])
    _close(sub.values, rdm_movie(X[keep], labels[keep], "crossnobis", cv=rep[keep]).values)


# ---------------------------------------------------------------------------------------------
# conditions and descriptors


def test_condition_order_first_appearance_never_sorted():
    X, labels, _ = _design(seed=19)
    rdms = rdm_movie(X, labels, "euclidean")
    assert list(rdms.conditions) == _first_appearance(labels)
    assert list(rdms.conditions) != sorted(rdms.conditions)
    assert isinstance(rdms, RDMs)


def test_given_condition_order_and_empty_condition():
    X, labels, _ = _design(seed=20)
    conds = sorted(set(labels), reverse=True)
    given = rdm_movie(X, labels, "correlation", conditions=conds)
    assert list(given.conditions) == conds
    _close(given.values, rdm_movie(X, labels).reorder(conds).values)
    with pytest.warns(UserWarning, match="no_such"):
        rdms = rdm_movie(X, labels, "correlation", conditions=conds + ["no_such"])
    square = rdms.square()
    assert np.isnan(square[:, -1, :-1]).all()
    _close(square[:, :-1, :-1], given.square())


def test_tuple_labels():
    X, labels, _ = _design(seed=21, n_cond=4, ties=False)
    tuples = [(str(label), len(label)) for label in labels]
    rdms = rdm_movie(X, tuples, "euclidean")
    _close(rdms.values, rdm_movie(X, labels, "euclidean").values)


def test_descriptors():
    X, labels, _ = _design(seed=22)
    n_times = X.shape[2]
    rdms = rdm_movie(X, labels)
    assert list(rdms.descriptors["time_index"]) == list(range(n_times))
    times = np.linspace(-0.1, 0.3, n_times)
    import pandas as pd

    desc = pd.DataFrame({"time": times}, index=np.arange(n_times) + 10)
    rdms = rdm_movie(X, labels, descriptors=desc)
    np.testing.assert_array_equal(rdms.descriptors["time"], times)
    with pytest.raises(DataError, match="one row per time point"):
        rdm_movie(X, labels, descriptors=desc.iloc[:2])


# ---------------------------------------------------------------------------------------------
# errors


def _field(excinfo):
    return excinfo.value.field


def test_errors():
    X, labels, rep = _design(seed=23)
    p = X.shape[1]
    cases = [
        (dict(X=X[:, :, 0]), "X", "3-D"),
        (dict(X=np.array([["a"]])), "X", "numeric"),
        (dict(labels=labels[:-1]), "labels", "one entry per trial"),
        (dict(labels="abc"), "labels", "sequence"),
        (dict(labels=np.where(np.arange(len(labels)) == 3, None, labels)), "labels", "missing"),
        (dict(metric="pearson"), "metric", "unknown"),
        (dict(metric="crossnobis"), "cv", "needs the fold"),
        (dict(metric="crossnobis", cv=rep[:-1]), "cv", "one fold label per trial"),
        (dict(metric="crossnobis", cv=np.zeros(len(rep))), "cv", "at least 2 folds"),
        (dict(metric="correlation", cv=rep), "cv", "not cross-validated"),
        (dict(metric="correlation", noise=np.eye(p)), "noise", "does not use"),
        (dict(metric="mahalanobis", noise=np.eye(p + 1)), "noise", "wrong shape"),
        (dict(metric="mahalanobis", noise="ledoit"), "noise", "unknown noise estimator"),
        (dict(metric="mahalanobis", noise=np.full((p, p), np.nan)), "noise", "NaN or inf"),
        (dict(metric="mahalanobis", noise="diag", noise_pooling="run"), "noise_pooling",
         "unknown"),
        (dict(metric="mahalanobis", noise="diag", dof=0), "noise", "degrees of freedom"),
        (dict(conditions=["a", "b"]), "conditions", "no trial"),
        (dict(conditions=[labels[0], labels[0]]), "conditions", "unique"),
    ]
    for kwargs, field, text in cases:
        args = dict(X=X, labels=labels) | kwargs
        with pytest.raises(DataError, match=text) as excinfo:
            rdm_movie(**args)
        assert _field(excinfo) == field, kwargs
    X_inf = X.copy()
    X_inf[0, 0, 0] = np.inf
    with pytest.raises(DataError, match="infinite") as excinfo:
        rdm_movie(X_inf, labels)
    assert _field(excinfo) == "X"
    with pytest.raises(DataError, match="at least 2 features"):
        rdm_movie(X[:, :1], labels)
    # too few trials for a full covariance of many features
    wide = np.random.default_rng(0).normal(size=(len(labels), 40, 2))
    with pytest.raises(DataError, match="singular") as excinfo:
        noise_precision(wide, labels, "full")
    assert _field(excinfo) == "noise"
    X_flat = X.copy()
    X_flat[:, 0] = 1.0  # no noise at all on feature 0
    with pytest.raises(DataError, match="singular"):
        rdm_movie(X_flat, labels, "mahalanobis", noise="diag")
