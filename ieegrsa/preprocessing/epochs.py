"""Epochs at the analysis rate: windows, trial rejection, baseline, and the contacts behind them.

Trial rejection
---------------
Interictal epileptiform discharges (spikes, sharp waves) are brief, large and steep. For each
channel and trial, two measures are taken over the whole epoch window on the re-referenced,
notch-filtered signal at the analysis rate (not on the high-gamma amplitude, which smears a spike
over ~100 ms): ``amplitude``, the largest absolute deviation from the trial's median, and
``line_length``, the mean absolute difference between consecutive samples. Per channel, a trial
is an *outlier* where a measure exceeds ``median + threshold * 1.4826 * MAD`` over the trials
(``threshold`` robust standard deviations; a channel whose MAD is 0 has no outliers). A trial
that is an outlier on more than ``max_fraction`` of the channels is dropped (``epochs.drop_log``
says why); on the other trials, the outlier channels' data become NaN (or are only counted), and
the counts go to the preprocessing report.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd

__all__ = ["window_indices", "outlier_trials", "apply_baseline", "epochs_contacts",
           "DESCRIPTION_KEY"]

#: Key of the JSON object that :func:`ieegrsa.preprocess` writes into ``epochs.info
#: ["description"]``: the reference scheme, coordinate space and each channel's group and
#: source contacts (read back by :func:`epochs_contacts`).
DESCRIPTION_KEY = "ieegrsa_channels"

_MAD_TO_SD = 1.4826


def window_indices(onsets, sfreq: float, tmin: float, tmax: float, n_times: int):
    """Sample indices of each epoch at ``sfreq``.

    Parameters
    ----------
    onsets : array-like
        Event onsets (s) on the signal's time axis (sample k at ``k / sfreq``).
    sfreq, tmin, tmax : float
    n_times : int
        Length of the signal.

    Returns
    -------
    starts : numpy.ndarray
        First sample of each epoch (onset sample + ``round(tmin * sfreq)``).
    inside : numpy.ndarray of bool
        Whether the whole epoch lies within the signal.
    times : numpy.ndarray
        The epoch's time axis (s): ``arange(round(tmin * sfreq), round(tmax * sfreq) + 1) /
        sfreq``; identical for every recording at this ``sfreq``.
    """
    first, last = int(round(tmin * sfreq)), int(round(tmax * sfreq))
    times = np.arange(first, last + 1) / sfreq
    onset_samples = np.round(np.asarray(onsets, dtype=float) * sfreq).astype(int)
    starts = onset_samples + first
    inside = (starts >= 0) & (starts + len(times) <= n_times)
    return starts, inside, times


def cut(data, starts, n_samples) -> np.ndarray:
    """``(n_epochs, n_channels, n_samples)`` windows of ``data`` starting at ``starts``."""
    index = np.asarray(starts)[:, None] + np.arange(n_samples)
    return np.ascontiguousarray(np.asarray(data)[:, index].transpose(1, 0, 2))


def outlier_trials(epochs_data, metrics=("amplitude", "line_length"), threshold=5.0):
    """Per channel, which trials are outliers (see the module's docstring).

    Parameters
    ----------
    epochs_data : numpy.ndarray
        ``(n_epochs, n_channels, n_times)``.
    metrics : sequence of {"amplitude", "line_length"}
    threshold : float
        Robust standard deviations above the median.

    Returns
    -------
    numpy.ndarray of bool
        ``(n_epochs, n_channels)``.
    """
    x = np.asarray(epochs_data, dtype=float)
    bad = np.zeros(x.shape[:2], dtype=bool)
    if x.shape[0] < 3:
        return bad
    for metric in metrics:
        if metric == "amplitude":
            value = np.nanmax(np.abs(x - np.nanmedian(x, axis=-1, keepdims=True)), axis=-1)
        elif metric == "line_length":
            value = np.nanmean(np.abs(np.diff(x, axis=-1)), axis=-1)
        else:
            raise ValueError(f"unknown rejection metric {metric!r}")
        median = np.nanmedian(value, axis=0)
        mad = _MAD_TO_SD * np.nanmedian(np.abs(value - median), axis=0)
        limit = np.where(mad > 0, median + threshold * mad, np.inf)
        bad |= value > limit
    return bad


def apply_baseline(epochs_data, times, interval=None, mode="zscore", *,
                   window=None) -> np.ndarray:
    """Baseline-correct ``(n_epochs, n_channels, n_times)`` data; NaN are ignored.

    ``zscore``: per channel, minus the mean and divided by the standard deviation of all
    baseline samples of all trials (so the baseline, pooled, has mean 0 and standard deviation
    1). ``subtract``: per trial and channel, minus the mean of that trial's baseline. ``none``:
    unchanged.

    Parameters
    ----------
    epochs_data : array-like, shape (n_epochs, n_channels, n_times)
        The epochs' data.
    times : array-like, shape (n_times,)
        Sample times (s) from stimulus onset.
    interval : (float, float)
        The baseline, start and stop (s, both included).
    mode : {"zscore", "subtract", "none"}
        How the baseline is removed.
    window : (float, float) | None
        Deprecated name of ``interval`` (a FutureWarning); removed in the next release.

    Returns
    -------
    numpy.ndarray of float, shape (n_epochs, n_channels, n_times)
        The corrected data (``epochs_data`` itself, as floats, for ``none``).
    """
    if window is not None:
        warnings.warn("apply_baseline(window=...) is now interval=...; window will be removed "
                      "in the next release", FutureWarning, stacklevel=2)
        interval = window
    if interval is None:
        raise TypeError("apply_baseline() missing the baseline interval (interval=(start, stop))")
    x = np.asarray(epochs_data, dtype=float)
    if mode == "none":
        return x
    inside = (times >= interval[0] - 1e-9) & (times <= interval[1] + 1e-9)
    base = x[:, :, inside]
    if mode == "subtract":
        return x - np.nanmean(base, axis=-1, keepdims=True)
    if mode == "zscore":
        pooled = base.transpose(1, 0, 2).reshape(x.shape[1], -1)
        mean = np.nanmean(pooled, axis=-1)
        sd = np.nanstd(pooled, axis=-1)
        sd = np.where(sd > 0, sd, 1.0)
        return (x - mean[None, :, None]) / sd[None, :, None]
    raise ValueError(f"unknown baseline mode {mode!r}")


def channels_description(channels: pd.DataFrame, reference: str, space: str) -> str:
    """The JSON written into ``info['description']`` (see :data:`DESCRIPTION_KEY`)."""
    def clean(value):
        return None if value is None or (isinstance(value, float) and np.isnan(value)) \
            else str(value)

    table = {row.name: {"group": clean(row.group), "contact_a": clean(row.contact_a),
                        "contact_b": clean(row.contact_b)}
             for row in channels.itertuples(index=False)}
    return json.dumps({DESCRIPTION_KEY: {"reference": reference, "space": space,
                                         "channels": table}})


def epochs_contacts(epochs) -> pd.DataFrame:
    """The channels of ``epochs`` as a contact table.

    Parameters
    ----------
    epochs : mne.Epochs
        Made by :func:`ieegrsa.preprocess` (possibly picked or reordered since). Epochs from
        elsewhere work too: positions come from the channel locations, groups from the names.

    Returns
    -------
    pandas.DataFrame
        One row per channel, in the epochs' order: ``name``, ``x``, ``y``, ``z`` (mm; NaN where
        unknown; the midpoint of a bipolar pair), ``type`` (seeg / ecog), ``group`` (shaft or
        strip), ``contact_a`` (the contact itself, or the first contact of a bipolar pair),
        ``contact_b`` (the second contact of a bipolar pair, else None), ``reference`` and
        ``space``.
    """
    from .channels import contact_groups

    stored = {}
    try:
        stored = json.loads(epochs.info.get("description") or "{}").get(DESCRIPTION_KEY, {})
    except (ValueError, AttributeError):
        stored = {}
    known = stored.get("channels", {})
    names = list(epochs.ch_names)
    xyz = np.array([ch["loc"][:3] for ch in epochs.info["chs"]], dtype=float) * 1000.0
    xyz[~np.isfinite(xyz)] = np.nan
    unset = np.all(xyz == 0, axis=1)  # MNE's "no position" is all zeros
    xyz[unset] = np.nan
    guessed = contact_groups(pd.DataFrame({"name": names}))
    types = epochs.get_channel_types()
    rows = []
    for k, name in enumerate(names):
        info = known.get(name, {})
        rows.append({
            "name": name, "x": xyz[k, 0], "y": xyz[k, 1], "z": xyz[k, 2],
            "type": types[k],
            "group": info.get("group", guessed["group"].iloc[k]),
            "contact_a": info.get("contact_a", name),
            "contact_b": info.get("contact_b"),
            "reference": stored.get("reference", "n/a"),
            "space": stored.get("space", "n/a"),
        })
    return pd.DataFrame(rows, columns=["name", "x", "y", "z", "type", "group", "contact_a",
                                       "contact_b", "reference", "space"])
