"""Functional face-selectivity localizer: faces versus non-face images, per contact.

For each contact, the high-gamma amplitude is averaged over a post-stimulus window in every
trial; face trials are compared with non-face trials (the ``category`` column of the epochs'
metadata) by Welch's t-test or by a permutation test of Welch's t, and the p-values are corrected
across contacts with the Benjamini-Hochberg false discovery rate. The effect size is
``d' = (mean_face - mean_nonface) / sqrt((var_face + var_nonface) / 2)``.

A contact is face-selective when its corrected p-value is below ``alpha`` and its d' exceeds
``min_d_prime`` (and is positive: faces above non-faces).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .._check import check_option
from ..errors import DataError

__all__ = ["face_selectivity", "welch_t", "permutation_labels", "COLUMNS"]

#: Columns of :func:`face_selectivity`'s table (besides ``name``).
COLUMNS = ["n_face", "n_nonface", "mean_face", "mean_nonface", "t", "p", "p_fdr", "d_prime",
           "face_selective"]


def welch_t(a: np.ndarray, b: np.ndarray):
    """Welch's t and its degrees of freedom along axis 0 of two samples.

    NaN values are left out column by column (a channel's rejected trials); a column with fewer
    than two values in either sample, or with zero variance, gets NaN.
    """
    na, nb = np.sum(np.isfinite(a), axis=0), np.sum(np.isfinite(b), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        va = np.nanvar(a, axis=0, ddof=1) / na
        vb = np.nanvar(b, axis=0, ddof=1) / nb
        t = (np.nanmean(a, axis=0) - np.nanmean(b, axis=0)) / np.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))
    bad = (na < 2) | (nb < 2) | ~np.isfinite(t)
    return np.where(bad, np.nan, t), np.where(bad, np.nan, df)


def _t_p(t, df, alternative):
    from scipy import stats

    if alternative == "greater":
        return stats.t.sf(t, df)
    if alternative == "less":
        return stats.t.cdf(t, df)
    return 2.0 * stats.t.sf(np.abs(t), df)


def permutation_labels(rng: np.random.Generator, is_face: np.ndarray, n_permutations: int):
    """Boolean face labels of ``n_permutations`` random relabellings, shape (n_perm, n_trials).

    Each row is a random permutation of ``is_face`` (the number of face trials is kept).
    """
    order = np.argsort(rng.random((n_permutations, len(is_face))), axis=1)
    return np.asarray(is_face, dtype=bool)[order]


def _permutation_p(X, is_face, t_obs, n_permutations, rng, alternative, chunk=500):
    """p-values of Welch's t by permutation of the face labels, all contacts at once.

    The statistic of every relabelling comes from matrix products (counts, sums and sums of
    squares of the face trials, NaN trials left out per channel), never from a loop over
    contacts or trials.
    """
    valid = np.isfinite(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmean(X, axis=0)
    X = np.where(valid, X - centre, 0.0)  # centring is permutation-invariant, and stabilises
    V = valid.astype(float)
    X2 = X ** 2
    count, total, total2 = V.sum(axis=0), X.sum(axis=0), X2.sum(axis=0)
    exceed = np.zeros(X.shape[1])
    done = 0
    while done < n_permutations:
        k = min(chunk, n_permutations - done)
        labels = permutation_labels(rng, is_face, k).astype(float)
        cf, sf, sf2 = labels @ V, labels @ X, labels @ X2
        cn, sn, sn2 = count - cf, total - sf, total2 - sf2
        with np.errstate(divide="ignore", invalid="ignore"):
            mf, mn = sf / cf, sn / cn
            vf = np.maximum(sf2 - cf * mf ** 2, 0) / (cf - 1)
            vn = np.maximum(sn2 - cn * mn ** 2, 0) / (cn - 1)
            t = (mf - mn) / np.sqrt(vf / cf + vn / cn)
        if alternative == "greater":
            exceed += (t >= t_obs - 1e-12).sum(axis=0)
        elif alternative == "less":
            exceed += (t <= t_obs + 1e-12).sum(axis=0)
        else:
            exceed += (np.abs(t) >= np.abs(t_obs) - 1e-12).sum(axis=0)
        done += k
    p = (exceed + 1.0) / (n_permutations + 1.0)
    return np.where(np.isfinite(t_obs), p, np.nan)


def _fdr(p: np.ndarray, family: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values over the contacts in ``family`` with a finite p."""
    from statsmodels.stats.multitest import multipletests

    out = np.full(len(p), np.nan)
    use = family & np.isfinite(p)
    if use.any():
        out[use] = multipletests(p[use], method="fdr_bh")[1]
    return out


def face_selectivity(epochs, *, interval=(0.1, 0.4), test="welch", n_permutations=1000,
                     alternative="greater", alpha=0.05, min_d_prime=0.0, seed=0,
                     category_column="category", face="face", nonface="nonface",
                     picks=None, window=None) -> pd.DataFrame:
    """Face selectivity of every contact of the epochs.

    Parameters
    ----------
    epochs : mne.Epochs
        High-gamma amplitude epochs with a ``metadata`` column ``category`` (face / nonface).
    interval : (float, float)
        Post-stimulus interval (s) over which the amplitude is averaged.
    test : {"welch", "permutation"}
        Welch's t-test (scipy), or a permutation test of Welch's t (``n_permutations``
        relabellings seeded by ``seed``; p = (1 + #{t_perm >= t}) / (1 + n_permutations)).
    alternative : {"greater", "two-sided", "less"}
        ``greater``: faces above non-faces (face selectivity).
    alpha : float
        False discovery rate across contacts.
    min_d_prime : float
        Smallest d' for a face-selective contact.
    picks : list of str | None
        Channels; None = every channel of the epochs. Channels in ``epochs.info['bads']`` are
        tested but left out of the FDR family and never face-selective.
    window : (float, float) | None
        Deprecated name of ``interval`` (a FutureWarning); removed in the next release.

    Returns
    -------
    pandas.DataFrame
        One row per channel: ``name``, ``n_face``, ``n_nonface``, ``mean_face``,
        ``mean_nonface``, ``t``, ``p``, ``p_fdr``, ``d_prime``, ``face_selective``.

    Raises
    ------
    DataError
        Without metadata, without a ``category`` column, with fewer than two face or two
        non-face trials, or for an interval outside the epochs.
    """
    if window is not None:
        warnings.warn("face_selectivity(window=...) is now interval=...; window will be removed "
                      "in the next release", FutureWarning, stacklevel=2)
        interval = window
    check_option("test", test, ("welch", "permutation"), what="localizer test")
    check_option("alternative", alternative, ("greater", "two-sided", "less"))
    metadata = getattr(epochs, "metadata", None)
    if metadata is None or category_column not in metadata.columns:
        raise DataError(
            "The face-selectivity localizer needs each trial's stimulus category",
            field=category_column,
            found="no metadata" if metadata is None else f"metadata columns {list(metadata)}",
            fix="Epoch with ieegrsa.preprocess (its metadata has category face/nonface), or set "
            "anatomy.localizer.run: off",
        )
    category = metadata[category_column].astype(str).str.lower().to_numpy()
    is_face, is_nonface = category == face, category == nonface
    n_face, n_nonface = int(is_face.sum()), int(is_nonface.sum())
    if n_nonface < 2 or n_face < 2:
        raise DataError(
            "The face-selectivity localizer needs face and non-face trials",
            field=category_column,
            found=f"{n_face} face and {n_nonface} non-face trials",
            fix="Show non-face images (houses, objects, scrambled faces) with category "
            "'nonface' in the stimulus table, or set anatomy.membership: anatomy and "
            "anatomy.localizer.run: off",
        )
    tmin, tmax = float(interval[0]), float(interval[1])
    if not (tmin < tmax) or tmin < epochs.times[0] - 1e-9 or tmax > epochs.times[-1] + 1e-9:
        raise DataError(
            "The localizer interval is not inside the epochs",
            field="interval",
            found=f"[{tmin}, {tmax}] s; epochs span [{epochs.times[0]:.3f}, "
            f"{epochs.times[-1]:.3f}] s",
            fix="Choose a post-stimulus interval within the epochs, e.g. [0.1, 0.4]",
        )
    names = list(epochs.ch_names) if picks is None else list(picks)
    data = epochs.get_data(picks=names, tmin=tmin, tmax=tmax)  # (n_trials, n_ch, n_times)
    X = data.mean(axis=2)
    Xf, Xn = X[is_face], X[is_nonface]
    if test == "welch":
        t, df = welch_t(Xf, Xn)
        p = _t_p(t, df, alternative)
    else:  # permutation
        t, _ = welch_t(Xf, Xn)
        rng = np.random.default_rng(seed)
        keep = is_face | is_nonface
        p = _permutation_p(X[keep], is_face[keep], t, int(n_permutations), rng, alternative)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mf, mn = np.nanmean(Xf, axis=0), np.nanmean(Xn, axis=0)
        pooled = np.sqrt((np.nanvar(Xf, axis=0, ddof=1) + np.nanvar(Xn, axis=0, ddof=1)) / 2)
        d_prime = (mf - mn) / pooled
    d_prime = np.where(np.isfinite(t), d_prime, np.nan)
    bads = set(epochs.info["bads"])
    family = np.array([n not in bads for n in names])
    p_fdr = _fdr(p, family)
    selective = family & (p_fdr < alpha) & (d_prime > max(float(min_d_prime), 0.0))
    return pd.DataFrame({
        "name": names, "n_face": np.isfinite(Xf).sum(axis=0),
        "n_nonface": np.isfinite(Xn).sum(axis=0), "mean_face": mf,
        "mean_nonface": mn, "t": t, "p": p, "p_fdr": p_fdr, "d_prime": d_prime,
        "face_selective": np.asarray(selective, dtype=bool),
    })
