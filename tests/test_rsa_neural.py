"""Neural RDMs from epochs: windows, ROI and contact patterns, trial selection, planted geometry."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr

from ieegrsa.errors import DataError
from ieegrsa.rsa import neural_rdms
from ieegrsa.rsa.neural import window_starts

SFREQ = 100.0


@pytest.fixture
def epochs():
    """12 face images x 3 repetitions + 4 non-face trials, 5 channels, NaN for one channel-trial."""
    rng = np.random.default_rng(1)
    faces = [f"face{k:02d}.png" for k in (7, 3, 11, 0, 5, 9, 1, 2, 4, 6, 8, 10)]
    rows = [dict(stim_file=f, identity=f"id{k % 4}", expression=["happy", "angry", "fear"][k % 3],
                 repetition=rep) for rep in (1, 2, 3) for k, f in enumerate(faces)]
    rows += [dict(stim_file=f"house{k}.png", identity=None, expression=None, repetition=1)
             for k in range(4)]
    rng.shuffle(rows)
    metadata = pd.DataFrame(rows)
    data = rng.standard_normal((len(rows), 5, 61))
    data[3, 2] = np.nan  # a rejected trial of one channel
    info = mne.create_info(["A1", "A2", "A3", "B1", "B2"], SFREQ, "seeg")
    return mne.EpochsArray(data, info, tmin=-0.1, metadata=metadata, verbose="error")


@pytest.fixture
def contacts():
    table = pd.DataFrame({"name": ["A1", "A2", "A3", "B1", "B2"],
                          "included": [True, True, False, True, True],
                          "rois": ["ventral", "ventral", "ventral", "lateral;ventral", "lateral"]})
    table.attrs.update(subject="07", rois=["ventral", "lateral"])
    return table


def _condition_means(epochs, conditions):
    meta = epochs.metadata
    data = epochs.get_data()
    return np.stack([np.nanmean(data[(meta.stim_file == c).to_numpy()], axis=0)
                     for c in conditions])


def test_window_starts():
    times = np.arange(-20, 81) / 100.0
    starts, length = window_starts(times, 100.0, window=0.1, step=0.02)
    assert length == 10 and starts[0] == 0 and np.all(np.diff(starts) == 2)
    assert starts[-1] + length <= len(times) and starts[-1] + 2 + length > len(times)
    starts, _ = window_starts(times, 100.0, 0.1, 0.05, tmin=0.0, tmax=0.3)
    np.testing.assert_allclose(times[starts], [0.0, 0.05, 0.1, 0.15, 0.2])
    with pytest.raises(DataError, match="no window fits"):
        window_starts(times, 100.0, 2.0, 0.1)
    with pytest.raises(DataError, match="at least one sample"):
        window_starts(times, 100.0, 0.001, 0.1)


def test_roi_pattern_matches_brute_force(epochs, contacts):
    rdms = neural_rdms(epochs, contacts, pattern="roi", window=0.1, step=0.05,
                       metric="correlation")
    faces = list(pd.unique(epochs.metadata.stim_file[epochs.metadata.identity.notna()]))
    assert list(rdms.conditions) == faces  # order of first appearance, not sorted
    means = _condition_means(epochs, faces)
    desc = rdms.descriptors
    assert set(desc.roi) == {"ventral", "lateral"} and set(desc.contact) == {"n/a"}
    assert (desc.subject == "07").all()
    for roi, chans in {"ventral": [0, 1, 3], "lateral": [3, 4]}.items():
        sub = rdms.subset(roi=roi)
        assert (sub.descriptors.n_contacts == len(chans)).all()
        for k, start in enumerate(sub.descriptors.window_start):
            i0 = int(round((start + 0.1) * SFREQ))
            patterns = means[:, chans, i0:i0 + 10].reshape(len(faces), -1)
            np.testing.assert_allclose(sub.values[k], pdist(patterns, "correlation"),
                                       rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(desc.window_stop - desc.window_start, 0.1)


def test_window_mean_features(epochs, contacts):
    rdms = neural_rdms(epochs, contacts, pattern="roi", window=0.2, step=0.2,
                       window_features="mean", metric="euclidean", rois=["ventral"])
    faces = list(rdms.conditions)
    means = _condition_means(epochs, faces)
    for k, start in enumerate(rdms.descriptors.window_start):
        i0 = int(round((start + 0.1) * SFREQ))
        patterns = means[:, [0, 1, 3], i0:i0 + 20].mean(axis=2)
        np.testing.assert_allclose(rdms.values[k], pdist(patterns, "sqeuclidean") / 3,
                                   rtol=1e-10)


def test_contact_pattern_matches_brute_force(epochs, contacts):
    rdms = neural_rdms(epochs, contacts, pattern="contact", window=0.05, step=0.1,
                       metric="euclidean")
    faces = list(rdms.conditions)
    means = _condition_means(epochs, faces)
    desc = rdms.descriptors
    assert list(pd.unique(desc.contact)) == ["A1", "A2", "B1", "B2"]  # A3 is excluded
    assert dict(zip(desc.contact, desc.roi))["B1"] == "ventral"
    for k, row in desc.iterrows():
        channel = ["A1", "A2", "A3", "B1", "B2"].index(row.contact)
        i0 = int(round((row.window_start + 0.1) * SFREQ))
        patterns = means[:, channel, i0:i0 + 5]
        np.testing.assert_allclose(rdms.values[k], pdist(patterns, "sqeuclidean") / 5,
                                   rtol=1e-10)


def test_contact_pattern_chunks_agree(epochs, contacts, monkeypatch):
    whole = neural_rdms(epochs, contacts, pattern="contact", window=0.05, step=0.05)
    monkeypatch.setattr("ieegrsa.rsa.neural._MAX_CHUNK_VALUES", 1)  # one contact per chunk
    chunked = neural_rdms(epochs, contacts, pattern="contact", window=0.05, step=0.05)
    np.testing.assert_array_equal(whole.values, chunked.values)
    pd.testing.assert_frame_equal(whole.descriptors, chunked.descriptors)


def test_trial_selection_and_conditions(epochs, contacts):
    # houses are shown once and one repetition is one fold: not cross-validated here
    everything = neural_rdms(epochs, contacts, trials="all", window=0.5, step=0.5,
                             metric="correlation")
    assert everything.n_conditions == 16
    first_reps = neural_rdms(epochs, contacts, trials="repetition == 1", window=0.5, step=0.5,
                             condition_column="identity", rois=["lateral"],
                             metric="correlation")
    assert first_reps.n_conditions == 4
    order = ["id3", "id0", "id2", "id1"]
    ordered = neural_rdms(epochs, contacts, condition_column="identity", conditions=order,
                          window=0.5, step=0.5)
    assert list(ordered.conditions) == order
    with pytest.raises(DataError, match="trial query failed"):
        neural_rdms(epochs, contacts, trials="no_such_column > 1")
    with pytest.raises(DataError, match="condition column"):
        neural_rdms(epochs, contacts, condition_column="image")
    with pytest.raises(DataError, match="unknown pattern"):
        neural_rdms(epochs, contacts, pattern="shaft")


def test_without_contact_table_uses_every_channel(epochs):
    rdms = neural_rdms(epochs, None, window=0.5, step=0.5)
    assert set(rdms.descriptors.roi) == {"all"} and (rdms.descriptors.n_contacts == 5).all()


def test_crossnobis_uses_the_fold_column(epochs, contacts):
    rdms = neural_rdms(epochs, contacts, metric="crossnobis", window=0.2, step=0.2,
                       rois=["ventral"])
    assert rdms.metric == "crossnobis" and np.isfinite(rdms.values).all()
    assert (rdms.values < 0).any()  # pure noise: unbiased, so about half negative
    with pytest.raises(DataError, match="fold column"):
        neural_rdms(epochs, contacts, metric="crossnobis", cv_column="run")


def test_one_metric_per_pattern(epochs, contacts):
    """rsa.metric as {pattern: metric}: each pattern's RDMs equal a run with that metric alone;
    the noise precision goes to the crossnobis pattern only."""
    kwargs = dict(window=0.2, step=0.2, rois=["ventral"])
    both = neural_rdms(epochs, contacts, pattern=["roi", "contact"], noise="shrinkage_diag",
                       metric={"roi": "crossnobis", "contact": "cv-euclidean"}, **kwargs)
    assert both.metric is None
    desc = both.descriptors
    assert set(zip(desc.pattern, desc.metric)) == {("roi", "crossnobis"),
                                                   ("contact", "cv-euclidean")}
    for pattern, metric, noise in (("roi", "crossnobis", "shrinkage_diag"),
                                   ("contact", "cv-euclidean", None)):
        alone = neural_rdms(epochs, contacts, pattern=pattern, metric=metric, noise=noise,
                            **kwargs)
        np.testing.assert_array_equal(both.values[desc.pattern.to_numpy() == pattern],
                                      alone.values)
    with pytest.raises(DataError, match="no metric for a pattern") as info:
        neural_rdms(epochs, contacts, pattern=["roi", "contact"], metric={"roi": "euclidean"})
    assert info.value.field == "rsa.metric"
    with pytest.raises(DataError, match="unknown dissimilarity"):
        neural_rdms(epochs, contacts, metric={"roi": "manhattan"})


def test_condition_in_one_repetition_only_is_named(epochs, contacts):
    """A face seen in one repetition has no cross-validated distance: one error naming it."""
    meta = epochs.metadata
    drop = ((meta.stim_file == "face05.png") & (meta.repetition > 1)).to_numpy()
    with pytest.raises(DataError) as info:
        neural_rdms(epochs[~drop], contacts, metric="cv-euclidean", window=0.2, step=0.2)
    assert "'face05.png' (trials in 1 fold, 1 trial)" in str(info.value)
    assert info.value.field == "cv"


def test_ceiling_skips_cross_validated_patterns_without_four_folds(epochs, contacts, caplog):
    """3 repetitions: a half of them cannot hold two folds, so the cross-validated pattern has
    no ceiling (a warning says why) while the correlation pattern keeps its own."""
    from ieegrsa.rsa.similarity import neural_ceiling

    kwargs = dict(window=0.2, step=0.2, rois=["ventral"], pattern=["roi", "contact"])
    with caplog.at_level("WARNING", logger="ieegrsa"):
        table = neural_ceiling(epochs, contacts, metric={"roi": "correlation",
                                                         "contact": "cv-euclidean"}, **kwargs)
    assert set(table["pattern"]) == {"roi"} and np.isfinite(table["r_full"]).all()
    assert "no noise ceiling for the ['contact'] pattern" in caplog.text
    assert neural_ceiling(epochs, contacts, metric="crossnobis", **kwargs).empty


def test_planted_geometry_is_recovered(tiny_dataset):
    """The simulator plants expression geometry in the lateral ROI from 0.18 s."""
    import ieegrsa
    from ieegrsa.config import load_config
    from ieegrsa.pipeline import load_participant

    config = load_config({})
    recording = load_participant(tiny_dataset, "01", config)
    epochs = ieegrsa.preprocess(recording, config)
    contacts = ieegrsa.localize(recording, epochs, config)
    rdms = neural_rdms(epochs, contacts, pattern="roi", window=0.1, step=0.05, rois=["lateral"])
    stimuli = recording.stimuli.set_index("stim_file").loc[list(rdms.conditions)]
    expression = pdist(pd.factorize(stimuli["expression"])[0][:, None], "hamming")
    rho = np.array([spearmanr(row, expression).statistic for row in rdms.values])
    start = rdms.descriptors.window_start.to_numpy()
    assert rho[(start >= 0.2) & (start <= 0.35)].max() > 0.3
    assert np.abs(rho[start + 0.1 <= 0.0]).max() < 0.25
