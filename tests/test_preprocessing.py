"""Preprocessing: channel selection, re-referencing, notch, high-gamma, epochs, trial rejection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ieegrsa
from ieegrsa.bids.readers import Recording
from ieegrsa.config import PreprocessingConfig, load_config
from ieegrsa.errors import ConfigError, DataError
from ieegrsa.preprocessing import (
    METADATA_COLUMNS,
    REPORT_COLUMNS,
    apply_baseline,
    contact_groups,
    epochs_contacts,
    high_gamma_envelope,
    notch,
    outlier_trials,
    preprocess,
    reference_matrix,
    rereference,
    resample,
    select_contacts,
)

# ---------------------------------------------------------------------------------------------
# helpers


def _contacts(names, xyz=None, group=None, types=None):
    n = len(names)
    xyz = np.zeros((n, 3)) if xyz is None else np.asarray(xyz, dtype=float)
    table = pd.DataFrame({"name": names, "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
                          "space": "MNI152NLin2009cAsym",
                          "type": types or ["seeg"] * n, "status": "good",
                          "status_description": np.nan})
    if group is not None:
        table["group"] = group
    return table


def _recording(sfreq=1000.0, seconds=40.0, *, names=None, line_freq=50.0, seed=0, bads=(),
               descriptions=None, n_trials=30, soa=1.1, signal=None, scale=1e-5):
    """A hand-made Recording: white noise on two shafts, stimulus events every ``soa`` s."""
    import mne

    rng = np.random.default_rng(seed)
    names = names or [f"LA{k}" for k in range(1, 7)] + [f"RB{k}" for k in range(1, 6)]
    n = len(names)
    n_times = int(round(seconds * sfreq))
    data = rng.normal(scale=scale, size=(n, n_times))
    if signal is not None:
        data += signal(np.arange(n_times) / sfreq, names)
    info = mne.create_info(names, sfreq, "seeg")
    info["line_freq"] = line_freq
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.info["bads"] = list(bads)
    xyz = np.array([[30.0 if name.startswith("LA") else -30.0, 3.5 * k, 0.0]
                    for k, name in enumerate(names)])
    contacts = _contacts(names, xyz)
    contacts["status"] = ["bad" if name in bads else "good" for name in names]
    if descriptions:
        contacts["status_description"] = [descriptions.get(name, np.nan) for name in names]
    onsets = 1.0 + soa * np.arange(n_trials)
    images = [f"faces/id{k % 3 + 1}_{['neutral', 'happy'][k % 2]}.png" for k in range(n_trials)]
    events = pd.DataFrame({
        "onset": onsets, "duration": 0.3,
        "trial_type": ["face" if k % 4 else "nonface" for k in range(n_trials)],
        "stim_file": images,
        "identity": [f"id{k % 3 + 1}" for k in range(n_trials)],
        "expression": [["neutral", "happy"][k % 2] for k in range(n_trials)],
        "category": ["face" if k % 4 else "nonface" for k in range(n_trials)],
        "repetition": 1 + np.arange(n_trials) // 6,
        "run": "01",
        "sample": np.round(onsets * sfreq).astype(int),
    })
    # an event without an image (e.g. a response) is not epoched
    events = pd.concat([events, pd.DataFrame({"onset": [0.5], "duration": [0.0],
                                              "trial_type": ["response"], "run": ["01"],
                                              "sample": [int(0.5 * sfreq)]})],
                       ignore_index=True).sort_values("onset", kind="stable")
    events = events.reset_index(drop=True)
    return Recording(raw=raw, events=events, contacts=contacts, stimuli=pd.DataFrame(),
                     bids_path=None, subject="01", task="faces")


def _config(**preprocessing):
    return {"preprocessing": preprocessing}


# ---------------------------------------------------------------------------------------------
# channels and re-referencing


def test_contact_groups_from_names_and_group_column():
    table = pd.DataFrame({"name": ["LA1", "LA12", "L'1", "L'12", "G01", "EKG"]})
    groups = contact_groups(table)
    assert list(groups["group"]) == ["LA", "LA", "L'", "L'", "G", "EKG"]
    assert groups["number"].iloc[:5].tolist() == [1, 12, 1, 12, 1]
    assert np.isnan(groups["number"].iloc[5])
    table["group"] = ["shaftA", "shaftA", np.nan, "n/a", "grid", None]
    assert list(contact_groups(table)["group"]) == ["shaftA", "shaftA", "L'", "L'", "grid", "EKG"]


def test_car_per_group_hand_computed():
    contacts = _contacts(["A1", "A2", "A3", "B1", "B2", "C1"])
    data = np.array([[1.0, 2], [2, 4], [6, 0], [10, 10], [20, 0], [5, 5]])
    out, channels, dropped = rereference(data, contacts, "car")
    # A: mean (3, 2); B: mean (15, 5); C alone -> dropped
    expected = np.array([[-2.0, 0], [-1, 2], [3, -2], [-5, 5], [5, -5]])
    np.testing.assert_allclose(out, expected, atol=1e-12)
    assert list(channels["name"]) == ["A1", "A2", "A3", "B1", "B2"]
    assert list(channels["group"]) == ["A", "A", "A", "B", "B"]
    assert "alone in its group" in dropped["C1"]
    # one average over all contacts
    out, channels, dropped = rereference(data, contacts, "car", car_scope="all")
    np.testing.assert_allclose(out, data - data.mean(axis=0), atol=1e-12)
    assert not dropped


def test_bipolar_pairs_gap_and_midpoint():
    # A1..A4 3.5 mm apart, but A3 -> A4 is 30 mm (implausible); A6 has no A5; L'1-L'2 pair.
    names = ["A1", "A2", "A3", "A4", "A6", "L'1", "L'2"]
    xyz = [[0, 0, 0], [0, 3.5, 0], [0, 7, 0], [0, 37, 0], [0, 44, 0], [10, 0, 0], [10, 0, 10]]
    contacts = _contacts(names, xyz)
    data = np.arange(7 * 3, dtype=float).reshape(7, 3) ** 2
    out, channels, dropped = rereference(data, contacts, "bipolar", max_distance=15.0)
    assert list(channels["name"]) == ["A1-A2", "A2-A3", "L'1-L'2"]
    np.testing.assert_allclose(out, [data[0] - data[1], data[1] - data[2], data[5] - data[6]])
    np.testing.assert_allclose(channels.loc[0, ["x", "y", "z"]].astype(float), [0, 1.75, 0])
    np.testing.assert_allclose(channels.loc[2, ["x", "y", "z"]].astype(float), [10, 0, 5])
    assert list(channels["contact_a"]) == ["A1", "A2", "L'1"]
    assert list(channels["contact_b"]) == ["A2", "A3", "L'2"]
    assert "within 15 mm" in dropped["A4"] and "A3" in dropped["A4"]
    assert "no neighbouring contact" in dropped["A6"]
    # a larger distance allowed pairs A3-A4; unknown positions keep the pair
    _, channels, _ = rereference(data, contacts, "bipolar", max_distance=40.0)
    assert "A3-A4" in list(channels["name"])
    contacts.loc[3, ["x", "y", "z"]] = np.nan
    _, channels, _ = rereference(data, contacts, "bipolar")
    assert "A3-A4" in list(channels["name"])
    assert channels.set_index("name").loc["A3-A4", ["x", "y", "z"]].isna().all()


def test_bipolar_uses_the_group_column_over_name_prefixes():
    contacts = _contacts(["X1", "X2", "Y3"], [[0, 0, 0], [0, 3.5, 0], [0, 7, 0]],
                         group=["s", "s", "s"])
    # numbers 2 and 3 in the same group "s" are neighbours even though the letters differ
    _, channels, _ = rereference(np.zeros((3, 2)), contacts, "bipolar")
    assert list(channels["name"]) == ["X1-X2", "X2-Y3"]


def test_laplacian_hand_computed():
    names = ["A1", "A2", "A3", "A4", "B1", "B2"]
    xyz = [[0, 3.5 * k, 0] for k in range(4)] + [[20, 0, 0], [20, 10, 0]]
    contacts = _contacts(names, xyz)
    data = np.array([[1.0], [4.0], [9.0], [16.0], [2.0], [7.0]])
    out, channels, dropped = rereference(data, contacts, "laplacian", laplacian_ends="drop")
    assert list(channels["name"]) == ["A2", "A3"]
    np.testing.assert_allclose(out[:, 0], [4 - (1 + 9) / 2, 9 - (4 + 16) / 2])
    assert set(dropped) == {"A1", "A4", "B1", "B2"} and "one neighbour" in dropped["A1"]
    out, channels, dropped = rereference(data, contacts, "laplacian",
                                         laplacian_ends="one_neighbour")
    assert list(channels["name"]) == names
    np.testing.assert_allclose(out[:, 0], [1 - 4, -1, -1, 16 - 9, 2 - 7, 7 - 2])
    np.testing.assert_allclose(channels[["x", "y", "z"]].to_numpy(float), np.array(xyz, float))
    assert not dropped


def test_none_is_the_identity_and_unknown_scheme_is_an_error():
    contacts = _contacts(["A1", "A2"])
    W, channels, _ = reference_matrix(contacts, "none")
    np.testing.assert_array_equal(W, np.eye(2))
    with pytest.raises(ConfigError, match="bipolar, laplacian, car, none"):
        reference_matrix(contacts, "average")


def test_select_contacts_reasons():
    contacts = _contacts(["A1", "A2", "A3", "A4", "A5", "EKG"],
                         types=["seeg", "seeg", "seeg", "ecog", "seeg", "ecg"])
    contacts["status"] = ["good", "bad", "good", "good", "good", "good"]
    contacts["status_description"] = [np.nan, "noisy", "Seizure Onset Zone", np.nan, np.nan,
                                      np.nan]
    kept, reasons = select_contacts(contacts, exclude_status=["seizure onset"],
                                    exclude_channels=["A5", "Z9"])
    assert list(kept["name"]) == ["A1", "A4"]
    assert reasons["A2"] == "bad in channels.tsv (noisy)"
    assert "Seizure Onset Zone" in reasons["A3"]
    assert "exclude_channels" in reasons["A5"]
    assert "ecg" in reasons["EKG"]
    kept, _ = select_contacts(contacts, channel_types=["seeg"], drop_bad=False)
    assert list(kept["name"]) == ["A1", "A2", "A3", "A5"]


# ---------------------------------------------------------------------------------------------
# signals


def _am_tone(sfreq, seconds, carrier, rng=None):
    t = np.arange(int(seconds * sfreq)) / sfreq
    amplitude = 1.0 + 0.5 * np.sin(2 * np.pi * 1.0 * t) + 0.3 * np.sin(2 * np.pi * 0.37 * t)
    return t, amplitude, amplitude * np.sin(2 * np.pi * carrier * t + 0.3)


@pytest.mark.parametrize("sfreq", [1000.0, 1024.0, 2048.0])
def test_high_gamma_envelope_of_an_am_tone(sfreq):
    t, a, x = _am_tone(sfreq, 10.0, 105.0)
    inner = (t > 1.0) & (t < 9.0)
    # one sub-band around the carrier, no normalisation: the envelope is a(t)
    env = high_gamma_envelope(x[None], sfreq, band=(100, 110), width=10, normalization="none")
    np.testing.assert_allclose(env[0, inner], a[inner], atol=0.01)
    # the default 8 sub-bands of 70-150 Hz: 105 Hz is inside one of them only
    env = high_gamma_envelope(x[None], sfreq, normalization="none")
    np.testing.assert_allclose(env[0, inner], a[inner] / 8, atol=0.005)
    # decimated output = exact samples of the full-rate envelope
    short = high_gamma_envelope(x[None], sfreq, normalization="none", decim=4)
    np.testing.assert_allclose(short[0], env[0, ::4], atol=1e-9)
    # a 100 Hz tone of amplitude 2 sits on the edge between two sub-bands, where each has gain
    # 1/2: envelope 1 in each, and their average is 1
    x = 2.0 * np.sin(2 * np.pi * 100.0 * t)
    env = high_gamma_envelope(x[None], sfreq, band=(90, 110), width=10, normalization="none")
    np.testing.assert_allclose(env[0, inner], 1.0, atol=0.01)


def test_high_gamma_normalisation_removes_the_spectral_slope():
    # One AM tone at the centre of each sub-band, all with the same modulation a(t) but with 1/f
    # amplitudes: normalised by its mean, every sub-band gives a(t) / mean(a), and so does their
    # average; without normalisation the lowest sub-band would weigh most.
    sfreq = 1000.0
    t, a, _ = _am_tone(sfreq, 20.0, 105.0)
    centres = np.arange(75.0, 150.0, 10.0)
    x = sum(a * (100.0 / f) * np.sin(2 * np.pi * f * t + f) for f in centres)
    inner = (t > 1.0) & (t < 19.0)
    env = high_gamma_envelope(x[None], sfreq, normalization="mean")[0]
    np.testing.assert_allclose(env[inner], a[inner] / a[inner].mean(), atol=0.01)
    z = high_gamma_envelope(x[None], sfreq, normalization="zscore")[0]
    np.testing.assert_allclose(z[inner], (a[inner] - a[inner].mean()) / a[inner].std(),
                               atol=0.03)
    raw = high_gamma_envelope(x[None], sfreq, normalization="none")[0]
    np.testing.assert_allclose(raw[inner], a[inner] * np.mean(100.0 / centres), atol=0.01)


@pytest.mark.parametrize("carrier", [30.0, 50.0, 200.0, 300.0])
def test_high_gamma_ignores_signals_outside_the_band(carrier):
    sfreq = 1000.0
    t, a, x = _am_tone(sfreq, 10.0, carrier)
    env = high_gamma_envelope(x[None], sfreq, normalization="none")
    inner = (t > 1.0) & (t < 9.0)
    assert env[0, inner].max() < 1e-3


def test_high_gamma_above_nyquist_is_a_data_error():
    with pytest.raises(DataError, match="Nyquist"):
        high_gamma_envelope(np.zeros((1, 1000)), 256.0)


def _power_at(x, sfreq, freq):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / sfreq)
    return spectrum[np.abs(freqs - freq) <= 0.5].sum()


@pytest.mark.parametrize("line_freq,sfreq", [(50.0, 1000.0), (60.0, 1024.0)])
def test_notch_removes_line_noise_and_harmonics(line_freq, sfreq):
    rng = np.random.default_rng(0)
    t = np.arange(int(20 * sfreq)) / sfreq
    harmonics = line_freq * np.arange(1, 4)
    line = sum(np.sin(2 * np.pi * f * t + k) for k, f in enumerate(harmonics))
    x = rng.normal(scale=0.1, size=(2, t.size)) + 5 * line
    y = notch(x, sfreq, line_freq)
    for f in harmonics:
        ratio = _power_at(y[0], sfreq, f) / _power_at(x[0], sfreq, f)
        assert ratio < 1e-3, f"{f} Hz: power ratio {ratio:.2g}"
    # elsewhere the spectrum is untouched
    off = line_freq * 1.5
    assert 0.5 < _power_at(y[0], sfreq, off) / _power_at(x[0], sfreq, off) < 2


@pytest.mark.parametrize("sfreq", [1000.0, 1024.0, 2048.0, 999.3])
def test_resample_keeps_the_time_axis(sfreq):
    t = np.arange(int(30 * sfreq)) / sfreq
    x = np.sin(2 * np.pi * 7.0 * t) + 0.5 * np.sin(2 * np.pi * 300.0 * t)  # 300 Hz must go
    y = resample(x[None], sfreq, 200.0)[0]
    t_new = np.arange(y.size) / 200.0
    inner = (t_new > 1) & (t_new < 28)
    np.testing.assert_allclose(y[inner], np.sin(2 * np.pi * 7.0 * t_new[inner]), atol=0.02)


# ---------------------------------------------------------------------------------------------
# epochs, rejection, baseline


def test_epochs_share_one_time_axis_across_sampling_rates():
    times = []
    for sfreq in (1000.0, 1024.0, 2048.0):
        epochs = preprocess(_recording(sfreq, seconds=12.0, n_trials=8))
        assert epochs.info["sfreq"] == 200.0
        times.append(epochs.times)
    for other in times[1:]:
        np.testing.assert_array_equal(times[0], other)
    assert times[0][0] == pytest.approx(-0.2) and times[0][-1] == pytest.approx(0.8)
    assert len(times[0]) == 201


def test_epochs_metadata_channels_and_report():
    rec = _recording(bads=["LA3"], descriptions={"LA3": "flat", "RB5": "seizure onset zone"})
    epochs, report = preprocess(rec, _config(reference="none"), return_report=True)
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
    rec = _recording(bads=["LA3"])
    epochs, report = preprocess(rec, _config(reference="bipolar"), return_report=True)
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
    rec = _recording(n_trials=40, seconds=50.0)
    epochs = preprocess(rec, _config(reference="none"))
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

    epochs = preprocess(_recording(signal=evoked),
                        _config(signal="broadband", reference="none", baseline_mode="subtract"))
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

    rec = _recording(signal=spikes)
    epochs, report = preprocess(rec, _config(reference="none"), return_report=True)
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
    epochs, report = preprocess(rec, _config(reference="none", reject_bad_trials="keep"),
                                return_report=True)
    assert not np.isnan(epochs.get_data()).any()
    assert report.set_index("name").loc["LA2", "n_outliers"] == 4
    assert len(preprocess(rec, _config(reference="none", reject=False))) == 30


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
    rec = _recording(seconds=12.0, n_trials=10)
    rec.events.loc[rec.events["stim_file"].notna().idxmax(), "onset"] = 0.05  # starts too early
    epochs, report = preprocess(rec, return_report=True)
    assert report.attrs["n_outside"] == 1 and len(epochs) == 9
    assert epochs.drop_log[0] == ("OUTSIDE RECORDING",)


def test_epochs_on_bad_annotations_are_dropped():
    import mne

    rec = _recording(seconds=12.0, n_trials=10)
    # trial 3 starts at 4.3 s: its window -0.2..0.8 s overlaps a mark at 4.9-5.0 s (not trial 4's
    # window, 5.2..6.2 s); a run boundary of duration 0 at 8.6 s falls in trial 7's window
    rec.raw.set_annotations(mne.Annotations([4.9, 8.6, 8.6, 2.0], [0.1, 0.0, 0.0, 0.2],
                                            ["BAD_spike", "BAD boundary", "EDGE boundary",
                                             "stimulus"]))
    epochs, report = preprocess(rec, _config(reference="none"), return_report=True)
    assert report.attrs["n_annotated"] == 2 and len(epochs) == 8
    assert epochs.drop_log[3] == ("BAD_spike",) and epochs.drop_log[7] == ("BAD boundary",)
    assert list(epochs.metadata["event"]) == [k for k in range(1, 11) if k not in (4, 8)]
    assert len(preprocess(rec, _config(reject_by_annotation=False))) == 10


# ---------------------------------------------------------------------------------------------
# real files and the simulator


def test_face_bids_dataset_end_to_end(face_bids):
    rec = ieegrsa.load_recording(face_bids, "01", "faces")
    epochs, report = ieegrsa.preprocess(rec, _config(reference="car"), return_report=True)
    assert "LF6" not in epochs.ch_names and "EKG" not in epochs.ch_names
    assert report.set_index("name").loc["LF6", "reason"].startswith("bad in channels.tsv")
    assert epochs.metadata["stim_file"].str.startswith("faces/").all()


def test_planted_face_responses_rise_in_high_gamma(tiny_dataset):
    from ieegrsa.bids.discovery import list_subjects

    for subject in list_subjects(tiny_dataset):
        rec = ieegrsa.load_recording(tiny_dataset, subject, "faces")
        truth = pd.read_csv(tiny_dataset / "sourcedata" / "simulation"
                            / f"sub-{subject}_contacts.tsv", sep="\t").set_index("name")
        epochs = ieegrsa.preprocess(rec)  # bipolar: a channel responds if either contact does
        faces = np.nanmean(epochs["category == 'face'"].get_data(), axis=0)
        planted = truth["responsive"].astype(str).str.lower() == "true"
        channels = epochs_contacts(epochs)
        responsive = np.array([planted[a] or (b is not None and planted[b])
                               for a, b in zip(channels["contact_a"], channels["contact_b"])])
        assert responsive.any() and (~responsive).any()
        t = epochs.times
        window = (t >= 0.15) & (t < 0.4)
        early = (t >= -0.2) & (t < 0.05)
        rise = faces[:, window].mean(axis=1) - faces[:, early].mean(axis=1)
        assert rise[responsive].mean() > 1.0, subject  # z-scored against the baseline
        assert rise[responsive].mean() > 3 * rise[~responsive].mean()
        # the response starts after ~0.1 s
        onset = t[np.argmax(faces[responsive].mean(axis=0) > 1.0)]
        assert 0.05 <= onset <= 0.25, (subject, onset)


# ---------------------------------------------------------------------------------------------
# bad input and configuration


def test_missing_line_frequency():
    rec = _recording(seconds=12.0, n_trials=8)
    rec.raw.info["line_freq"] = None
    with pytest.raises(DataError, match="PowerLineFrequency") as err:
        preprocess(rec)
    assert "preprocessing.line_freq" in str(err.value)
    assert len(preprocess(rec, _config(line_freq=60.0))) == 8
    assert len(preprocess(rec, _config(notch=False))) == 8


def test_unknown_reference_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="'bipolar', 'laplacian', 'car' or 'none'"):
        preprocess(_recording(seconds=5.0, n_trials=2), _config(reference="average"))


def test_config_section_defaults_and_checks():
    cfg = load_config().preprocessing
    assert cfg == PreprocessingConfig()
    assert (cfg.reference, cfg.signal, cfg.sfreq, cfg.tmin, cfg.tmax) == (
        "bipolar", "high_gamma", 200.0, -0.2, 0.8)
    assert cfg.high_gamma_band == (70.0, 150.0) and cfg.baseline_mode == "zscore"
    with pytest.raises(ConfigError, match="not inside the epoch"):
        load_config(_config(baseline=[-0.5, 0.0]))
    with pytest.raises(ConfigError, match="start must be below"):
        load_config(_config(high_gamma_band=[150, 70]))
    with pytest.raises(ConfigError, match="tmin"):
        load_config(_config(tmin=1.0, tmax=0.5))
    # the section itself is accepted
    rec = _recording(seconds=12.0, n_trials=8)
    assert len(preprocess(rec, PreprocessingConfig(reference="none"))) == 8


def test_no_contact_left_is_a_data_error():
    rec = _recording(seconds=12.0, n_trials=8)
    with pytest.raises(DataError, match="No contact is left"):
        preprocess(rec, _config(channel_types=["ecog"]))


def test_public_api():
    assert ieegrsa.preprocess is preprocess
