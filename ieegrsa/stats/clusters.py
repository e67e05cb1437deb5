"""Cluster-based permutation tests over time on patient-level curves, and onset latencies.

Patient curves
--------------
For each patient, ROI (``by``) and window, the mean (Fisher z) similarity of the rows of one
objective is taken over contacts, models of that objective, instances and layers
(:func:`~ieegrsa.stats.patient_summary`). The tested curve of a patient is that mean for a
single objective (tested against 0), or the difference of two objectives' means (e.g.
identity − expression). Patients who lack a window of the ROI are left out of that ROI's test
(logged).

Test
----
:func:`mne.stats.permutation_cluster_1samp_test` on the ``n_patients × n_windows`` curves: the
one-sample t over patients per window; windows whose t passes ``threshold`` (default: the
two-sided (or one-sided, by ``alternative``) t quantile at p = 0.05 with n - 1 degrees of
freedom) form clusters of consecutive windows (sorted by start); the cluster statistic is the sum
of t over the cluster; its p-value is the proportion of sign-flip permutations (each patient's
curve × ±1, exact enumeration when ``2**n`` ≤ ``n_permutations``) whose largest cluster statistic
reaches it.
A cluster's ``start`` is the start of its first window and ``stop`` the stop of its last.

Onset latency
-------------
:func:`onset_latency`: the start of the earliest cluster with ``p < alpha``; its confidence
interval is the percentile interval over bootstrap samples of patients (resampled with
replacement, the whole test rerun on each sample).
"""

from __future__ import annotations

import itertools
import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._logging import mne_log_level
from ..errors import DataError
from ._alternative import check_alternative, mne_tail
from .summaries import WINDOW, patient_summary

__all__ = ["cluster_test", "ClusterResult", "onset_latency", "patient_curves",
           "cluster_p_values", "sign_patterns"]

logger = logging.getLogger("ieegrsa")


@dataclass
class ClusterResult:
    """What :func:`cluster_test` returns.

    Attributes
    ----------
    clusters : pandas.DataFrame
        One row per cluster: the ``by`` columns, ``contrast``, ``start``, ``stop`` (s),
        ``statistic`` (sum of t), ``p_value``, ``n_windows``, ``n_subjects``; sorted by group and
        start.
    windows : pandas.DataFrame
        One row per group × window: the ``by`` columns, ``contrast``, ``window_start``,
        ``window_stop``, ``mean`` (mean over patients of the curve), ``t``, ``n_subjects``,
        ``cluster`` (index of the cluster row in ``clusters`` holding the window, -1 if none) and
        ``p_value`` (that cluster's, NaN if none).
    curves : dict
        Per group key (tuple of ``by`` values, ``()`` without ``by``): the patient curves, a
        DataFrame with one row per subject and one column per window start.
    threshold : dict
        The cluster-forming t threshold used per group key.
    """

    clusters: pd.DataFrame
    windows: pd.DataFrame
    curves: dict = field(repr=False)
    threshold: dict


def patient_curves(table, contrast=("identity", "expression"), *, column="objective", by="roi",
                   transform="fisher") -> dict:
    """Patient × window curves of one objective or of the difference of two.

    Parameters
    ----------
    table : pandas.DataFrame
        The tidy similarity table.
    contrast : str | tuple of two str
        ``a`` (the curve is the mean of ``a``) or ``(a, b)`` (the mean of ``a`` minus that of
        ``b``), levels of ``column``.
    column : str
        Column holding the levels of the contrast.
    by : str | sequence of str | None
        Columns whose value combinations get separate curves.
    transform : {"fisher", "none"}
        Transform of ``value`` before averaging.

    Returns
    -------
    dict
        ``{key: DataFrame}`` per group (``key`` the tuple of ``by`` values): rows = subjects
        with a complete curve (sorted), columns = a MultiIndex (window_start, window_stop)
        sorted by start.
    """
    levels = [contrast] if isinstance(contrast, str) else list(contrast)
    if len(levels) not in (1, 2) or len(set(levels)) != len(levels):
        raise DataError("contrast must be one level or a pair of different levels",
                        field="contrast", found=contrast)
    by = [by] if isinstance(by, str) else list(by or ())
    if column not in table.columns:
        raise DataError("the contrast column is not in the table", field="column", found=column)
    absent = [lv for lv in levels if not (table[column] == lv).any()]
    if absent:
        raise DataError(f"contrast levels absent from {column}", field="contrast", found=absent,
                        fix=f"choose among {sorted(map(str, table[column].unique()))}")
    rows = table[table[column].isin(levels)]
    means = patient_summary(rows, by=[*by, column, *WINDOW], transform=transform)
    out = {}
    for key, part in (means.groupby(by, sort=True) if by else [((), means)]):
        key = key if isinstance(key, tuple) else (key,)
        wide = part.pivot_table(index="subject", columns=[column, *WINDOW], values="mean",
                                aggfunc="first")
        curve = wide[levels[0]]
        if len(levels) == 2:
            other = wide[levels[1]] if levels[1] in wide.columns.get_level_values(0) else None
            curve = curve - other if other is not None else curve * np.nan
        curve = curve.sort_index(axis=1)
        complete = curve.notna().all(axis=1)
        if not complete.all():
            logger.info("cluster test %s: %d subject(s) left out for lacking windows: %s",
                        dict(zip(by, key)), int((~complete).sum()),
                        list(curve.index[~complete]))
        out[key] = curve[complete]
    return out


def cluster_test(table, contrast=("identity", "expression"), *, column="objective", by="roi",
                 n_permutations=1000, seed=0, threshold=None, alternative="two-sided",
                 transform="fisher", n_jobs=None, tail=None) -> ClusterResult:
    """Sign-flip cluster permutation test over windows of patient-level curves.

    Parameters
    ----------
    table : pandas.DataFrame
        The tidy similarity table (one method; filter it to the models of interest).
    contrast : str | tuple of two str
        ``"identity"`` tests the identity curve against 0; ``("identity", "expression")`` the
        difference identity − expression against 0 (see :func:`patient_curves`).
    column : str
        Column holding the contrast levels (``objective``; ``model`` for single networks).
    by : str | sequence of str | None
        Groups tested separately (default: each ROI).
    n_permutations : int
        Sign-flip permutations (exact enumeration when ``2**n_subjects`` ≤ this).
    seed : int
        Seed of the permutations (``rng`` of mne).
    threshold : float | None
        Cluster-forming t threshold; None = the t quantile at p = 0.05 (two-sided for
        ``"two-sided"``; negative for ``"less"``), as mne.
    alternative : {"two-sided", "greater", "less"}
        The curve differs from 0, is greater, is less.
    transform : {"fisher", "none"}
        Transform of ``value`` before averaging.
    n_jobs : int | None
        Passed to mne.
    tail : {0, 1, -1} | None
        Deprecated name of ``alternative`` (removed in the next release).

    Returns
    -------
    ClusterResult

    Raises
    ------
    DataError
        A group has fewer than 2 patients with complete curves, or bad arguments.
    """
    alternative = check_alternative(alternative, tail)
    curves = patient_curves(table, contrast, column=column, by=by, transform=transform)
    by = [by] if isinstance(by, str) else list(by or ())
    label = contrast if isinstance(contrast, str) else "-".join(contrast)
    clusters, windows, thresholds = [], [], {}
    for key, curve in curves.items():
        where = dict(zip(by, key))
        x = curve.to_numpy()
        if x.shape[0] < 2:
            raise DataError(f"the cluster test needs at least 2 patients with complete curves "
                            f"in {where or 'the table'}", field="subject",
                            found=list(curve.index))
        thr = _threshold(threshold, alternative, x.shape[0])
        thresholds[key] = thr
        t_obs, masks, pvals = _run_mne(x, thr, n_permutations, alternative, seed, n_jobs)
        starts = curve.columns.get_level_values(0).to_numpy(dtype=float)
        stops = curve.columns.get_level_values(1).to_numpy(dtype=float)
        member = np.full(x.shape[1], -1)
        p_win = np.full(x.shape[1], np.nan)
        for mask, p in sorted(zip(masks, pvals), key=lambda c: np.flatnonzero(c[0])[0]):
            idx = np.flatnonzero(mask)
            member[idx] = len(clusters)
            p_win[idx] = p
            clusters.append({**where, "contrast": label, "start": starts[idx[0]],
                             "stop": stops[idx[-1]], "statistic": float(t_obs[idx].sum()),
                             "p_value": float(p), "n_windows": idx.size,
                             "n_subjects": x.shape[0]})
        windows.append(pd.DataFrame({
            **{c: v for c, v in where.items()}, "contrast": label, "window_start": starts,
            "window_stop": stops, "mean": x.mean(axis=0), "t": t_obs, "n_subjects": x.shape[0],
            "cluster": member, "p_value": p_win}))
    columns = [*by, "contrast", "start", "stop", "statistic", "p_value", "n_windows",
               "n_subjects"]
    return ClusterResult(pd.DataFrame(clusters, columns=columns),
                         pd.concat(windows, ignore_index=True), curves, thresholds)


def onset_latency(table, contrast=("identity", "expression"), *, column="objective", by="roi",
                  alternative="greater", alpha=0.05, n_permutations=1000, n_bootstrap=200,
                  bootstrap_permutations=200, ci=0.95, seed=0, threshold=None,
                  transform="fisher", n_jobs=None, tail=None) -> pd.DataFrame:
    """Onset of the first significant cluster, with a bootstrap CI over patients.

    Parameters
    ----------
    table, contrast, column, by, threshold, transform, n_jobs
        As in :func:`cluster_test`.
    alternative : {"greater", "less", "two-sided"}
        Direction of the effect whose onset is sought (default: the first objective's
        similarity above the second's).
    alpha : float
        A cluster is significant when its p-value is below ``alpha``.
    n_permutations : int
        Permutations of the test on the observed patients.
    n_bootstrap : int
        Bootstrap samples of patients (0 = no CI).
    bootstrap_permutations : int
        Permutations of the test rerun on each bootstrap sample (fewer, for speed).
    ci : float
        Level of the percentile interval.
    seed : int
        Seed of the permutations and of the bootstrap (reproducible).
    tail : {0, 1, -1} | None
        Deprecated name of ``alternative`` (removed in the next release).

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``contrast``, ``onset`` (s, NaN if no significant
        cluster), ``ci_low``, ``ci_high`` (percentiles of the onsets of the bootstrap samples
        that have a significant cluster), ``detected`` (the proportion of bootstrap samples
        with one), ``n_bootstrap`` and ``n_subjects``.

    Notes
    -----
    A bootstrap sample repeats some patients; the rerun test treats the repeats as patients
    (as in the usual subject-bootstrap of onset latencies). The interval only covers the
    samples with a detected onset; read it together with ``detected``. A sample in which some
    window has the same value in every drawn patient (e.g. one patient drawn n times) has no t
    statistic and counts as not detected.
    """
    alternative = check_alternative(alternative, tail)
    if not 0 < ci < 1:
        raise DataError("ci must lie in (0, 1)", field="ci", found=ci)
    curves = patient_curves(table, contrast, column=column, by=by, transform=transform)
    by = [by] if isinstance(by, str) else list(by or ())
    label = contrast if isinstance(contrast, str) else "-".join(contrast)
    rng = np.random.default_rng(seed)
    out = []
    for key, curve in curves.items():
        x = curve.to_numpy()
        n = x.shape[0]
        if n < 2:
            raise DataError("onset latency needs at least 2 patients with complete curves",
                            field="subject", found=list(curve.index))
        starts = curve.columns.get_level_values(0).to_numpy(dtype=float)
        thr = _threshold(threshold, alternative, n)

        def onset(data, n_perm, perm_seed, thr=thr, starts=starts):
            _, masks, pvals = _run_mne(data, thr, n_perm, alternative, perm_seed, n_jobs)
            firsts = [np.flatnonzero(m)[0] for m, p in zip(masks, pvals) if p < alpha]
            return starts[min(firsts)] if firsts else np.nan

        observed = onset(x, n_permutations, seed)
        boot = np.empty(n_bootstrap)
        for b in range(n_bootstrap):
            sample, perm_seed = x[rng.integers(0, n, n)], int(rng.integers(2**31))
            # a resample of one repeated patient has no t: it detects nothing
            if np.any(np.ptp(sample, axis=0) == 0):
                boot[b] = np.nan
                continue
            signs = sign_patterns(n, bootstrap_permutations, np.random.default_rng(perm_seed))
            firsts, pvals = cluster_p_values(sample, thr, signs, alternative)
            hits = firsts[pvals < alpha]
            boot[b] = starts[hits.min()] if hits.size else np.nan
        found = boot[~np.isnan(boot)]
        lo, hi = (np.quantile(found, [(1 - ci) / 2, (1 + ci) / 2]) if found.size
                  else (np.nan, np.nan))
        out.append({**dict(zip(by, key)), "contrast": label, "onset": observed,
                    "ci_low": lo, "ci_high": hi,
                    "detected": found.size / n_bootstrap if n_bootstrap else np.nan,
                    "n_bootstrap": n_bootstrap, "n_subjects": n})
    return pd.DataFrame(out)


def sign_patterns(n, n_permutations, rng):
    """Every sign pattern of ``n`` patients when ``2**n`` ≤ ``n_permutations``, else that many
    random ones; the first is always the data's own (all +1)."""
    if 2**n <= n_permutations:
        return np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    signs = rng.choice((1.0, -1.0), size=(n_permutations, n))
    signs[0] = 1.0
    return signs


def cluster_p_values(x, threshold, signs, alternative="two-sided", *, tail=None):
    """Clusters of the data and their sign-flip p-values, every sign pattern at once.

    The same test as :func:`mne.stats.permutation_cluster_1samp_test` on 1-D data (clusters of
    consecutive windows beyond ``threshold``, mass = sum of t, p = share of sign patterns whose
    largest cluster mass reaches it; tested equal under exact enumeration). Written here because
    the onset bootstrap reruns the test hundreds of times and mne's per-call overhead dominated
    the group level (35 of 50 s on the paper preset).

    Parameters
    ----------
    x : array, shape (n_subjects, n_windows)
    threshold : float
        Cluster-forming t (negative for ``"less"``, as mne).
    signs : array, shape (n_patterns, n_subjects)
        Sign patterns; the first must be all +1 (the data).
    alternative : {"two-sided", "greater", "less"}
    tail : {0, 1, -1} | None
        Deprecated name of ``alternative`` (removed in the next release).

    Returns
    -------
    firsts : array of int
        Index of the first window of each cluster of the data.
    p_values : array
        Their p-values.
    """
    alternative = check_alternative(alternative, tail)
    n = x.shape[0]
    means = signs @ x / n
    var = ((x**2).sum(axis=0) - n * means**2) / (n - 1)
    t = means / np.sqrt(np.maximum(var, 0) / n)
    if alternative == "less":
        t, threshold = -t, -threshold
    masks = [t > threshold] + ([t < -threshold] if alternative == "two-sided" else [])
    masses, firsts = [], []
    rows = np.arange(t.shape[0])[:, None]
    for mask in masks:
        start = mask & ~np.pad(mask, ((0, 0), (1, 0)))[:, :-1]
        run = np.where(mask, np.cumsum(start, axis=1), 0)
        sums = np.zeros((t.shape[0], t.shape[1] + 1))
        np.add.at(sums, (np.broadcast_to(rows, run.shape), run), np.where(mask, t, 0.0))
        masses.append(sums[:, 1:])
        firsts.append(np.flatnonzero(start[0]))
    masses = np.concatenate(masses, axis=1)
    null = np.abs(masses).max(axis=1)
    k = np.concatenate([np.arange(f.size) for f in firsts]) + np.repeat(
        [0, t.shape[1]][:len(firsts)], [f.size for f in firsts])
    observed = np.abs(masses[0, k])
    p = (null[:, None] >= observed - 1e-12 * np.abs(observed)).mean(axis=0)
    return np.concatenate(firsts).astype(int), p


def _threshold(threshold, alternative, n):
    if threshold is not None:
        return float(threshold)
    q = stats.t.ppf(1 - 0.05 / (2 if alternative == "two-sided" else 1), n - 1)
    return -q if alternative == "less" else q


def _run_mne(x, threshold, n_permutations, alternative, seed, n_jobs):
    from mne.stats import permutation_cluster_1samp_test

    if np.any(np.ptp(x, axis=0) == 0):
        # mne's t is NaN for a window where every patient has the same value; such data
        # carry no test (e.g. a contrast of two identical models)
        raise DataError("a window has the same value in every patient, so its t is undefined",
                        field="value", fix="check the contrast levels and the table")
    with warnings.catch_warnings():
        # "No clusters found" is a result here (an empty cluster table), not a problem
        warnings.filterwarnings("ignore", message="No clusters found")
        t_obs, masks, pvals, _ = permutation_cluster_1samp_test(
            x, threshold=threshold, n_permutations=n_permutations,
            tail=mne_tail(alternative), rng=seed, n_jobs=n_jobs, out_type="mask",
            verbose=mne_log_level())
    # 1-D data come back as slices whatever out_type asks; index a mask with any of the forms
    out = []
    for cluster in masks:
        mask = np.zeros(x.shape[1], dtype=bool)
        mask[cluster] = True
        out.append(mask)
    return t_obs, out, np.asarray(pvals, dtype=float)
