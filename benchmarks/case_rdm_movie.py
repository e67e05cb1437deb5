"""RDM movies (one RDM per time sample): ieegrsa.rsa.rdm_movie against mne-rsa and rsatoolbox.

Input (seeded): 80 conditions × 4 repetitions = 320 trials in shuffled order, 30 contacts,
500 time samples, with a planted condition pattern under unit-variance noise.

- ``rdm_movie_correlation``: correlation distance between condition-mean patterns at every sample.
  Peer: mne-rsa ``rdm_epochs`` on an ``mne.EpochsArray`` with ``temporal_radius=0`` (a one-sample
  window, so one RDM per sample; repetitions of a label are averaged). rsatoolbox
  ``calc_rdm_movie`` is timed once and reported in the note.
- ``rdm_movie_crossnobis``: leave-one-repetition-out crossnobis. Peer: rsatoolbox
  ``calc_rdm_movie(method="crossnobis", cv_descriptor=...)`` (timed once: it takes seconds).
  mne-rsa has no crossnobis; the note shows what its cross-validated distance gives on pure noise.
"""

from __future__ import annotations

import warnings

import numpy as np
from _timing import max_abs_diff, median_time

N_COND, N_REPS, N_CONTACTS, N_TIMES, SFREQ = 80, 4, 30, 500, 500.0


def _data(seed=0, signal=0.5):
    rng = np.random.default_rng(seed)
    cond = np.tile(np.arange(N_COND), N_REPS)
    rep = np.repeat(np.arange(N_REPS), N_COND)
    order = rng.permutation(len(cond))
    cond, rep = cond[order], rep[order]
    patterns = signal * rng.normal(size=(N_COND, N_CONTACTS, N_TIMES))
    X = patterns[cond] + rng.normal(size=(len(cond), N_CONTACTS, N_TIMES))
    return X, cond, rep


def _rsatoolbox_movie(X, cond, rep=None, method="correlation"):
    from rsatoolbox.data import TemporalDataset
    from rsatoolbox.rdm import calc_rdm_movie

    obs = {"cond": cond} if rep is None else {"cond": cond, "rep": rep}
    ds = TemporalDataset(X, obs_descriptors=obs)
    kwargs = {} if rep is None else {"cv_descriptor": "rep"}
    with warnings.catch_warnings():  # rsatoolbox's own NaN-to-int casts, harmless here
        warnings.simplefilter("ignore", RuntimeWarning)
        rdms = calc_rdm_movie(ds, method=method, descriptor="cond", **kwargs)
    return rdms.get_vectors(), list(rdms.pattern_descriptors["cond"])


def correlation_case() -> dict:
    import mne
    import mne_rsa

    from ieegrsa.rsa import rdm_movie

    X, cond, _ = _data()
    epochs = mne.EpochsArray(X, mne.create_info(N_CONTACTS, SFREQ, "seeg"), verbose="error")

    def peer():
        with mne.utils.use_log_level("error"):
            return np.array(list(mne_rsa.rdm_epochs(epochs, temporal_radius=0, labels=cond,
                                                    dist_metric="correlation")))

    ours_s, ours = median_time(lambda: rdm_movie(X, cond, "correlation"), repeat=9)
    peer_s, theirs = median_time(peer, repeat=5)
    # mne-rsa orders the conditions by sorted label; ieegrsa by first appearance
    ours_sorted = ours.reorder(sorted(ours.conditions)).values
    diff = max_abs_diff(ours_sorted, theirs)
    rsa_s, (rsa_values, rsa_order) = median_time(lambda: _rsatoolbox_movie(X, cond), repeat=1,
                                                 warmup=0)
    rsa_diff = max_abs_diff(ours.reorder(rsa_order).values, rsa_values)
    if max(diff, rsa_diff) > 1e-10:
        raise AssertionError(f"RDMs disagree: mne-rsa {diff:.3g}, rsatoolbox {rsa_diff:.3g}")
    return dict(
        ieegrsa_s=ours_s, peer_s=peer_s, maxabsdiff=diff,
        note=(f"peer: mne-rsa {mne_rsa.__version__} rdm_epochs(EpochsArray, temporal_radius=0, "
              f"labels=...), {theirs.shape[0]} RDMs of {theirs.shape[1]} pairs\n"
              f"rsatoolbox calc_rdm_movie(method='correlation'): {rsa_s:.3g} s (one run), "
              f"ratio {rsa_s / ours_s:.3g}, maxabsdiff {rsa_diff:.3g}"),
    )


def crossnobis_case() -> dict:
    import mne
    import mne_rsa
    from mne_rsa.searchlight import searchlight

    from ieegrsa.rsa import rdm_movie

    X, cond, rep = _data(seed=1)
    ours_s, ours = median_time(lambda: rdm_movie(X, cond, "crossnobis", cv=rep), repeat=7)
    peer_s, (theirs, order) = median_time(
        lambda: _rsatoolbox_movie(X, cond, rep, method="crossnobis"), repeat=1, warmup=0)
    diff = max_abs_diff(ours.reorder(order).values, theirs)
    if diff > 1e-10 * np.abs(theirs).max():
        raise AssertionError(f"crossnobis RDMs disagree with rsatoolbox: {diff:.3g}")

    # pure noise, 50 samples: crossnobis is unbiased (about half negative); mne-rsa's
    # cross-validated distance (cdist of training means to test means) is not
    noise = np.random.default_rng(2).normal(size=(len(cond), N_CONTACTS, 50))
    cn = rdm_movie(noise, cond, "crossnobis", cv=rep).values
    with mne.utils.use_log_level("error"):
        patches = searchlight(noise.shape, temporal_radius=0)
        mne_cv = np.array(list(mne_rsa.rdm_array(noise, patches, labels=cond, n_folds=N_REPS,
                                                 dist_metric="sqeuclidean"))) / N_CONTACTS
    return dict(
        ieegrsa_s=ours_s, peer_s=peer_s, maxabsdiff=diff,
        note=(f"peer: rsatoolbox calc_rdm_movie(method='crossnobis', cv_descriptor='rep') "
              f"(one run); {ours.values.shape[0]} RDMs, {(ours.values < 0).mean():.0%} of "
              f"values negative, kept as they are\n"
              f"pure noise: ieegrsa crossnobis mean {cn.mean():.3g} ({(cn < 0).mean():.0%} "
              f"negative); mne-rsa has no crossnobis: its cross-validated rdm_array(n_folds=4, "
              f"'sqeuclidean')/p has mean {mne_cv.mean():.3g} ({(mne_cv < 0).mean():.0%} "
              f"negative): biased upwards, never below 0"),
    )


CASES = {"rdm_movie_correlation": correlation_case, "rdm_movie_crossnobis": crossnobis_case}
