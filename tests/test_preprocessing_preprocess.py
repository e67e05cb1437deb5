"""Preprocessing end to end: real files, the simulator, bad input and the configuration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _preprocessing_helpers import make_recording, section

import ieegrsa
from ieegrsa.config import PreprocessingConfig, load_config
from ieegrsa.errors import ConfigError, DataError
from ieegrsa.preprocessing import epochs_contacts, preprocess


def test_face_bids_dataset_end_to_end(face_bids):
    rec = ieegrsa.load_recording(face_bids, "01", "faces")
    epochs, report = ieegrsa.preprocess(rec, section(reference="car"), return_report=True)
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


# bad input and configuration


def test_missing_line_frequency():
    rec = make_recording(seconds=12.0, n_trials=8)
    rec.raw.info["line_freq"] = None
    with pytest.raises(DataError, match="PowerLineFrequency") as err:
        preprocess(rec)
    assert "preprocessing.line_freq" in str(err.value)
    assert len(preprocess(rec, section(line_freq=60.0))) == 8
    assert len(preprocess(rec, section(notch=False))) == 8


def test_unknown_reference_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="'bipolar', 'laplacian', 'car' or 'none'"):
        preprocess(make_recording(seconds=5.0, n_trials=2), section(reference="average"))


def test_config_section_defaults_and_checks():
    cfg = load_config().preprocessing
    assert cfg == PreprocessingConfig()
    assert (cfg.reference, cfg.signal, cfg.sfreq, cfg.tmin, cfg.tmax) == (
        "bipolar", "high_gamma", 200.0, -0.2, 0.8)
    assert cfg.high_gamma_band == (70.0, 150.0) and cfg.baseline_mode == "zscore"
    with pytest.raises(ConfigError, match="not inside the epoch"):
        load_config(section(baseline=[-0.5, 0.0]))
    with pytest.raises(ConfigError, match="start must be below"):
        load_config(section(high_gamma_band=[150, 70]))
    with pytest.raises(ConfigError, match="tmin"):
        load_config(section(tmin=1.0, tmax=0.5))
    # the section itself is accepted
    rec = make_recording(seconds=12.0, n_trials=8)
    assert len(preprocess(rec, PreprocessingConfig(reference="none"))) == 8


def test_no_contact_left_is_a_data_error():
    rec = make_recording(seconds=12.0, n_trials=8)
    with pytest.raises(DataError, match="No contact is left"):
        preprocess(rec, section(channel_types=["ecog"]))


def test_public_api():
    assert ieegrsa.preprocess is preprocess


def test_verbose_is_keyword_only_and_sets_the_ieegrsa_level():
    import logging

    rec = make_recording(seconds=12.0, n_trials=8)
    with pytest.raises(TypeError):
        preprocess(rec, section(reference="none"), "INFO")
    logger = logging.getLogger("ieegrsa")
    before = logger.level
    assert len(preprocess(rec, section(reference="none"), verbose="INFO")) == 8
    assert logger.level == before
