"""Anatomy: the face-selectivity localizer.

Pinned against scipy's Welch t-test, statsmodels' Benjamini-Hochberg and a loop over
permutations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _anatomy_helpers import face_epochs, mne_quiet

from ieegrsa.anatomy import face_selectivity
from ieegrsa.anatomy.localizer import permutation_labels, welch_t
from ieegrsa.errors import DataError


def test_welch_matches_scipy_and_fdr_matches_statsmodels():
    from scipy import stats
    from statsmodels.stats.multitest import multipletests

    epochs = face_epochs(effects=(1.0, 0.0, -0.5, 0.3, 0.0))
    table = face_selectivity(epochs, interval=(0.1, 0.4))
    X = epochs.get_data(tmin=0.1, tmax=0.4).mean(axis=2)
    face = epochs.metadata["category"].to_numpy() == "face"
    for c in range(X.shape[1]):
        ref = stats.ttest_ind(X[face, c], X[~face, c], equal_var=False, alternative="greater")
        assert table["t"][c] == pytest.approx(ref.statistic, rel=1e-10)
        assert table["p"][c] == pytest.approx(ref.pvalue, rel=1e-8)
        pooled = np.sqrt((X[face, c].var(ddof=1) + X[~face, c].var(ddof=1)) / 2)
        assert table["d_prime"][c] == pytest.approx(
            (X[face, c].mean() - X[~face, c].mean()) / pooled)
    np.testing.assert_allclose(table["p_fdr"], multipletests(table["p"], method="fdr_bh")[1])
    assert list(table["face_selective"]) == [True, False, False, True, False]
    two = face_selectivity(epochs, alternative="two-sided")
    ref = stats.ttest_ind(X[face, 2], X[~face, 2], equal_var=False)
    assert two["p"][2] == pytest.approx(ref.pvalue, rel=1e-8)
    assert not two["face_selective"][2]  # significant, but faces below non-faces


def test_nan_trials_are_left_out_per_channel():
    from scipy import stats

    epochs = face_epochs(effects=(1.0, 0.5))
    data = epochs.get_data()
    data[:5, 0, :] = np.nan  # the rejected trials of channel 0
    epochs._data = data
    table = face_selectivity(epochs)
    X = epochs.get_data(tmin=0.1, tmax=0.4).mean(axis=2)
    face = epochs.metadata["category"].to_numpy() == "face"
    keep = np.isfinite(X[:, 0])
    ref = stats.ttest_ind(X[face & keep, 0], X[~face & keep, 0], equal_var=False,
                          alternative="greater")
    assert table["t"][0] == pytest.approx(ref.statistic, rel=1e-10)
    assert table["n_face"][0] + table["n_nonface"][0] == keep.sum()
    assert table["n_face"][1] + table["n_nonface"][1] == len(X)


def test_permutation_test_matches_a_loop_and_is_seeded():
    from scipy import stats

    epochs = face_epochs(n_face=12, n_nonface=10, effects=(0.8, 0.0, 0.2))
    n_perm = 300
    table = face_selectivity(epochs, test="permutation", n_permutations=n_perm, seed=7)
    X = epochs.get_data(tmin=0.1, tmax=0.4).mean(axis=2)
    face = epochs.metadata["category"].to_numpy() == "face"
    t_obs, _ = welch_t(X[face], X[~face])
    labels = permutation_labels(np.random.default_rng(7), face, n_perm)
    for c in range(X.shape[1]):
        null = [stats.ttest_ind(X[lab, c], X[~lab, c], equal_var=False).statistic
                for lab in labels]
        p_ref = (1 + np.sum(np.array(null) >= t_obs[c] - 1e-12)) / (n_perm + 1)
        assert table["p"][c] == pytest.approx(p_ref)
    again = face_selectivity(epochs, test="permutation", n_permutations=n_perm, seed=7)
    pd.testing.assert_frame_equal(table, again)
    assert table["face_selective"][0] and not table["face_selective"][1]


def test_localizer_needs_nonface_trials_metadata_and_a_valid_window():
    with pytest.raises(DataError, match="face and non-face trials.*0 non-face"):
        face_selectivity(face_epochs(n_face=20, n_nonface=0))
    epochs = face_epochs()
    with pytest.raises(DataError, match="not inside the epochs"):
        face_selectivity(epochs, interval=(0.5, 1.5))
    with mne_quiet():
        epochs.metadata = None
    with pytest.raises(DataError, match="stimulus category"):
        face_selectivity(epochs)


def test_window_keyword_still_works_with_a_future_warning():
    epochs = face_epochs()
    with pytest.warns(FutureWarning, match="interval"):
        old = face_selectivity(epochs, window=(0.1, 0.4))
    pd.testing.assert_frame_equal(old, face_selectivity(epochs, interval=(0.1, 0.4)))
