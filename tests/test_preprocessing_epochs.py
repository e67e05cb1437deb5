"""Preprocessing: epochs, trial rejection and baseline, through :func:`ieegrsa.preprocess`."""

from __future__ import annotations

import numpy as np
import pytest
from _preprocessing_helpers import make_recording, section

from ieegrsa.preprocessing import (
    METADATA_COLUMNS,
    REPORT_COLUMNS,
    apply_baseline,
    epochs_contacts,
    outlier_trials,
    preprocess,
)


def test_epochs_share_one_time_axis_across_sampling_rates():
    times = []
    for sfreq in (1000.0, 1024.0, 2048.0):
        epochs = preprocess(make_recording(sfreq, seconds=12.0, n_trials=8))
        assert epochs.info["sfreq"] == 200.0
        times.append(epochs.times)
    for other in times[1:]:
        np.testing.assert_array_equal(times[0], other)
    assert times[0][0] == pytest.approx(-0.2) and times[0][-1] == pytest.approx(0.8)
    assert len(times[0]) == 201


def test_epochs_metadata_channels_and_report():
    rec = make_recording(bads=["LA3"], descriptions={"LA3": "flat", "RB5": "seizure onset zone"})
    epochs, report = preprocess(rec, section(reference="none"), return_report=True)
    shown = rec.events[rec.events["stim_file"].notna()]
    assert len(epochs) == len(shown) == 30
    assert tuple(epochs.metadata.columns) == METADATA_COLUMNS
    for column in ("stim_file", "identity", "expression", "category", "trial_type", "run"):
        assert list(epochs.metadata[column]) == list(shown[column])
    assert list(epochs.metadata["repetition"]) == list(shown["repetition"])
    assert set(epochs.event_id) == {"face", "nonface"}
    # recording order, minus the bad and the seizure-onset contacts
    expected = [n for n in rec.contacts["name"] if n not in ("LA3", "RB5")]
    assert epochs.ch_names == expected
    assert tuple(report.columns) == REPORT_COLUMNS
    rows = report.set_index("name")
    assert not rows.loc["LA3", "included"] and rows.loc["LA3", "reason"].startswith("bad")
    assert "flat" in rows.loc["LA3", "reason"]
    assert "seizure onset" in rows.loc["RB5", "reason"]
    assert rows.loc["LA1", "included"] and rows.loc["LA1", "reason"] == ""
    assert rows.loc["LA1", "n_epochs"] == 30
    assert report.attrs["n_events"] == 30 and report.attrs["line_freq"] == 50.0
    # positions survive, in metres in the montage and in mm in the contact table
    table = epochs_contacts(epochs)
    original = rec.contacts.set_index("name").loc[expected, ["x", "y", "z"]]
    np.testing.assert_allclose(table[["x", "y", "z"]].to_numpy(float), original.to_numpy(float))
    np.testing.assert_allclose(epochs.info["chs"][0]["loc"][:3], original.iloc[0] / 1000)
    assert list(table["group"]) == [n[:2] for n in expected]
    assert table["space"].iloc[0] == "MNI152NLin2009cAsym"


def test_bipolar_epochs_carry_their_source_contacts():
    rec = make_recording(bads=["LA3"])
    epochs, report = preprocess(rec, section(reference="bipolar"), return_report=True)
    assert epochs.ch_names == ["LA1-LA2", "LA4-LA5", "LA5-LA6", "RB1-RB2", "RB2-RB3",
                               "RB3-RB4", "RB4-RB5"]
    table = epochs_contacts(epochs.copy().pick(["RB2-RB3", "LA1-LA2"]))
    assert list(table["name"]) == ["RB2-RB3", "LA1-LA2"]
    assert list(table["contact_a"]) == ["RB2", "LA1"]
    assert list(table["contact_b"]) == ["RB3", "LA2"]
    xyz = rec.contacts.set_index("name")[["x", "y", "z"]]
    np.testing.assert_allclose(table.loc[1, ["x", "y", "z"]].astype(float),
                               (xyz.loc["LA1"] + xyz.loc["LA2"]) / 2)
    assert set(table["reference"]) == {"bipolar"}
    rows = report.set_index("name")
    assert rows.loc["LA2", "channels"] == "LA1-LA2"
    assert rows.loc["LA5", "channels"] == "LA4-LA5;LA5-LA6"
    assert rows.loc["RB3-RB4", "kind"] == "bipolar"


def test_epochs_contacts_of_epochs_made_elsewhere():
    import mne

    info = mne.create_info(["LA1", "L'2", "X"], 200.0, "seeg")
    epochs = mne.EpochsArray(np.zeros((2, 3, 5)), info, verbose="error")
    montage = mne.channels.make_dig_montage({"LA1": [0.01, 0.02, 0.03], "L'2": [0, 0, 0.01]},
                                            coord_frame="head")
    epochs.set_montage(montage, on_missing="ignore", verbose="error")
    table = epochs_contacts(epochs)
    assert list(table["group"]) == ["LA", "L'", "X"]
    np.testing.assert_allclose(table.loc[0, ["x", "y", "z"]].astype(float), [10, 20, 30])
    assert table.loc[2, ["x", "y", "z"]].isna().all()  # no position
    assert list(table["contact_a"]) == ["LA1", "L'2", "X"] and table["contact_b"].isna().all()


def test_sub_bands():
    from ieegrsa.preprocessing import sub_bands

    np.testing.assert_allclose(sub_bands((70, 150), 10), np.c_[np.arange(70, 150, 10),
                                                                np.arange(80, 160, 10)])
    assert len(sub_bands((70, 150), 20)) == 4
    assert len(sub_bands((70, 150), 35)) == 3  # the fewest sub-bands at most 35 Hz wide
    assert len(sub_bands((70, 150), 80)) == 1


def test_baseline_zscore_and_subtract():
    rec = make_recording(n_trials=40, seconds=50.0)
    epochs = preprocess(rec, section(reference="none"))
    base = epochs.get_data()[:, :, epochs.times <= 1e-9]  # the baseline window, 0 included
    assert base.shape[-1] == 41
    pooled = base.transpose(1, 0, 2).reshape(base.shape[1], -1)
    np.testing.assert_allclose(np.nanmean(pooled, axis=1), 0, atol=1e-9)
    np.testing.assert_allclose(np.nanstd(pooled, axis=1), 1, atol=1e-9)
    x = np.random.default_rng(0).normal(size=(5, 2, 11)) + 3.0
    times = np.linspace(-0.2, 0.3, 11)
    y = apply_baseline(x, times, (-0.2, 0.0), "subtract")
    np.testing.assert_allclose(y[:, :, times <= 0].mean(axis=-1), 0, atol=1e-12)
    assert apply_baseline(x, times, (-0.2, 0.0), "none") is x


def test_broadband_signal_follows_an_evoked_response():
    def evoked(t, names):
        out = np.zeros((len(names), t.size))
        for onset in 1.0 + 1.1 * np.arange(30):
            bump = np.exp(-0.5 * ((t - onset - 0.15) / 0.03) ** 2)
            out[names.index("LA2")] += 5e-5 * bump
        return out

    epochs = preprocess(make_recording(signal=evoked),
                        section(signal="broadband", reference="none", baseline_mode="subtract"))
    erp = np.nanmean(epochs.get_data(picks=["LA2"])[:, 0], axis=0)
    assert epochs.times[np.argmax(erp)] == pytest.approx(0.15, abs=0.01)
    assert erp.max() == pytest.approx(5e-5, rel=0.2)


def test_trial_rejection_catches_planted_spikes():
    rng = np.random.default_rng(1)
    spiky = [3, 11, 17]  # trials with a discharge on LA2
    storm = 20  # a trial with a discharge on every contact

    def spikes(t, names):
        out = np.zeros((len(names), t.size))
        for k in spiky + [storm]:
            at = 1.0 + 1.1 * k + 0.3 + rng.uniform(-0.1, 0.1)
            shape = 2e-4 * np.exp(-0.5 * ((t - at) / 0.01) ** 2)
            if k == storm:
                out += shape
            else:
                out[names.index("LA2")] += shape
        return out

    rec = make_recording(signal=spikes)
    epochs, report = preprocess(rec, section(reference="none"), return_report=True)
    assert len(epochs) == 29 and report.attrs["n_rejected"] == 1
    assert "OUTLIER" in epochs.drop_log[storm][0]
    data = epochs.get_data(picks=["LA2"])[:, 0]
    bad = np.flatnonzero(np.isnan(data).all(axis=1))
    # epoch indices shift by one after the dropped storm trial (20 > all spiky trials)
    assert list(bad) == spiky
    rows = report.set_index("name")
    assert rows.loc["LA2", "n_nan"] == 3 and rows.loc["LA2", "n_outliers"] == 4
    assert rows.loc["LA1", "n_nan"] == 0
    assert report["n_nan"].sum() <= 3 + 2  # few false alarms on white noise
    # "keep" only counts; reject: false does nothing
    epochs, report = preprocess(rec, section(reference="none", reject_bad_trials="keep"),
                                return_report=True)
    assert not np.isnan(epochs.get_data()).any()
    assert report.set_index("name").loc["LA2", "n_outliers"] == 4
    assert len(preprocess(rec, section(reference="none", reject=False))) == 30


def test_outlier_trials_direct():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3, 50))
    x[7, 1, 25] = 40.0
    bad = outlier_trials(x, ["amplitude"], 5.0)
    assert bad[7, 1] and bad.sum() <= 3
    x = rng.normal(size=(100, 2, 50))
    x[9, 0] *= 10  # a burst of fast activity: line length
    assert outlier_trials(x, ["line_length"], 5.0)[9, 0]


def test_epochs_outside_the_recording_are_dropped():
    rec = make_recording(seconds=12.0, n_trials=10)
    rec.events.loc[rec.events["stim_file"].notna().idxmax(), "onset"] = 0.05  # starts too early
    epochs, report = preprocess(rec, return_report=True)
    assert report.attrs["n_outside"] == 1 and len(epochs) == 9
    assert epochs.drop_log[0] == ("OUTSIDE RECORDING",)


def test_epochs_on_bad_annotations_are_dropped():
    import mne

    rec = make_recording(seconds=12.0, n_trials=10)
    # trial 3 starts at 4.3 s: its window -0.2..0.8 s overlaps a mark at 4.9-5.0 s (not trial 4's
    # window, 5.2..6.2 s); a run boundary of duration 0 at 8.6 s falls in trial 7's window
    rec.raw.set_annotations(mne.Annotations([4.9, 8.6, 8.6, 2.0], [0.1, 0.0, 0.0, 0.2],
                                            ["BAD_spike", "BAD boundary", "EDGE boundary",
                                             "stimulus"]))
    epochs, report = preprocess(rec, section(reference="none"), return_report=True)
    assert report.attrs["n_annotated"] == 2 and len(epochs) == 8
    assert epochs.drop_log[3] == ("BAD_spike",) and epochs.drop_log[7] == ("BAD boundary",)
    assert list(epochs.metadata["event"]) == [k for k in range(1, 11) if k not in (4, 8)]
    assert len(preprocess(rec, section(reject_by_annotation=False))) == 10


def test_baseline_window_keyword_still_works_with_a_future_warning():
    x = np.random.default_rng(0).normal(size=(5, 2, 11))
    times = np.linspace(-0.2, 0.3, 11)
    with pytest.warns(FutureWarning, match="interval"):
        old = apply_baseline(x, times, window=(-0.2, 0.0), mode="subtract")
    np.testing.assert_array_equal(old, apply_baseline(x, times, (-0.2, 0.0), "subtract"))


def test_report_columns_are_described_in_their_order():
    from ieegrsa.preprocessing import PREPROCESSING_COLUMNS, preprocessing_columns

    rec = make_recording(seconds=12.0, n_trials=8)
    _, report = preprocess(rec, section(reference="none"), return_report=True)
    columns = preprocessing_columns(report)
    assert list(columns) == list(report.columns) == list(PREPROCESSING_COLUMNS)
    assert tuple(PREPROCESSING_COLUMNS) == REPORT_COLUMNS
    assert columns["kind"] == "contact or bipolar."
