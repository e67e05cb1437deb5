"""Anatomy on simulated data: the planted face-selective contacts and ROIs are recovered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ieegrsa.anatomy import localize


def _simple_high_gamma_epochs(recording):
    """Monopolar high-gamma envelope epochs (used when ieegrsa.preprocess is unavailable)."""
    import mne
    from scipy.signal import hilbert

    names = list(recording.contacts["name"])
    raw = recording.raw.copy().pick(names)
    data = raw.get_data()
    sfreq = raw.info["sfreq"]
    bands = []
    for low in range(70, 150, 20):
        x = mne.filter.filter_data(data, sfreq, low, low + 20, verbose="error")
        envelope = np.abs(hilbert(x, axis=1))
        bands.append(envelope / envelope.mean(axis=1, keepdims=True))
    hg = mne.io.RawArray(np.mean(bands, axis=0), raw.info.copy(), verbose="error")
    events = recording.events
    samples = np.column_stack([events["sample"].to_numpy(int), np.zeros(len(events), int),
                               np.ones(len(events), int)])
    epochs = mne.Epochs(hg, samples, tmin=-0.2, tmax=0.8, baseline=(-0.2, 0), preload=True,
                        metadata=events[["stim_file", "category"]].reset_index(drop=True),
                        verbose="error")
    return epochs.resample(200.0, verbose="error")


def _truth(root, subject):
    truth = pd.read_csv(root / "sourcedata" / "simulation" / f"sub-{subject}_contacts.tsv",
                        sep="\t", keep_default_na=False)
    for column in ("face_selective", "bad"):
        truth[column] = truth[column].astype(str).str.lower().eq("true")
    return truth


@pytest.fixture(scope="module")
def simulated_tables(tiny_dataset):
    """Contact tables of every simulated patient, with three ROI settings."""
    import ieegrsa

    try:
        from ieegrsa import preprocess
    except (ImportError, AttributeError):
        preprocess = None
    settings = {
        "atlas": {},
        "sphere": {"roi_method": "sphere", "sphere_radius": 12.0},  # the simulator's radius
        "function": {"membership": "function"},
    }
    rows = []
    for subject in ("01", "02"):
        recording = ieegrsa.load_recording(tiny_dataset, subject, "faces")
        if preprocess is not None:
            # monopolar: re-referencing spreads a neighbour's face response (tested elsewhere)
            epochs = preprocess(recording, {"preprocessing": {"reference": "none"}})
        else:
            epochs = _simple_high_gamma_epochs(recording)
        truth = _truth(tiny_dataset, subject)
        for name, anatomy in settings.items():
            table = localize(recording, epochs, {"anatomy": {"atlases": ["HCPEx"], **anatomy}})
            merged = table.merge(truth[["name", "roi", "face_selective", "bad"]], on="name",
                                 suffixes=("", "_true"))
            rows.append(merged.assign(subject=subject, setting=name))
    return pd.concat(rows, ignore_index=True)


def test_localizer_recovers_planted_face_selective_contacts(simulated_tables):
    table = simulated_tables[(simulated_tables["setting"] == "atlas")
                             & ~simulated_tables["bad"] & simulated_tables["in_epochs"]]
    planted = table["face_selective_true"]
    sensitivity = table.loc[planted, "face_selective"].mean()
    false_positive_rate = table.loc[~planted, "face_selective"].mean()
    print(f"\nsimulated localizer: {planted.sum()} planted face-selective contacts of "
          f"{len(table)}; sensitivity {sensitivity:.2f}, false-positive rate "
          f"{false_positive_rate:.2f}")
    assert planted.sum() >= 6
    assert sensitivity >= 0.8
    assert false_positive_rate <= 0.1


def test_roi_assignment_matches_the_simulated_ground_truth(simulated_tables):
    good = simulated_tables[~simulated_tables["bad"] & simulated_tables["in_epochs"]]
    rates = good.assign(agree=good["roi"] == good["roi_true"]).groupby("setting")["agree"].mean()
    print("\nROI agreement with the simulator's ground truth: "
          + ", ".join(f"{k} {v:.2f}" for k, v in rates.items()))
    # spheres of the simulator's radius around the same peaks: the same ROIs
    assert rates["sphere"] >= 0.95
    # face-selective contacts assigned to the nearest ROI: nearly the same
    assert rates["function"] >= 0.85
    # HCP-MMP labels differ from spheres at the ROI borders, but agree for most contacts
    assert rates["atlas"] >= 0.6
