"""Helpers shared by the preprocessing tests: hand-made contact tables and recordings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ieegrsa.bids.readers import Recording


def contact_table(names, xyz=None, group=None, types=None):
    n = len(names)
    xyz = np.zeros((n, 3)) if xyz is None else np.asarray(xyz, dtype=float)
    table = pd.DataFrame({"name": names, "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
                          "space": "MNI152NLin2009cAsym",
                          "type": types or ["seeg"] * n, "status": "good",
                          "status_description": np.nan})
    if group is not None:
        table["group"] = group
    return table


def make_recording(sfreq=1000.0, seconds=40.0, *, names=None, line_freq=50.0, seed=0, bads=(),
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
    contacts = contact_table(names, xyz)
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


def section(**preprocessing):
    return {"preprocessing": preprocessing}
