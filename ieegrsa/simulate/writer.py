"""Writers of the simulated dataset's files: recordings (EDF, BrainVision), TSV and JSON."""

from __future__ import annotations

import datetime
import json

import edfio
import numpy as np
import pybv

__all__ = ["write_tsv", "write_json", "write_edf", "write_brainvision"]


def write_tsv(table, path):
    """Write a DataFrame as a BIDS TSV: tab-separated, ``n/a`` for missing, lowercase booleans.

    The arguments come in the order of :func:`ieegrsa.bids.write_tsv`: the table, then the path.
    """
    table = table.copy()
    for column in table.columns:
        if table[column].dtype == bool:
            table[column] = table[column].map({True: "true", False: "false"})
    table.to_csv(path, sep="\t", index=False, na_rep="n/a", lineterminator="\n")


def write_json(data, path):
    """Write a JSON sidecar (UTF-8, indented, trailing newline); ``(data, path)`` as in bids."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _physical_limit(data):
    """Symmetric physical range per channel (µV, whole hundreds) covering the signal."""
    return np.ceil(np.abs(data).max(axis=1) * 1.02 / 100.0) * 100.0


def write_edf(path, data, sfreq, names, prefiltering, meas_date, triggers):
    """Write an EDF+ file (16-bit, µV) with one annotation per trigger.

    Parameters
    ----------
    path : pathlib.Path
    data : numpy.ndarray, shape (n_channels, n_samples)
        Signals in µV; n_samples must be a whole number of seconds.
    sfreq : float
        Sampling frequency (Hz).
    names : list of str
        Channel labels (≤ 16 characters).
    prefiltering : str
        Hardware filters, e.g. ``"HP:0.3Hz LP:400Hz"``.
    meas_date : datetime.datetime
        Recording start.
    triggers : list of (float, str)
        Onset (s) and text of each trigger annotation.
    """
    limits = _physical_limit(data)
    signals = [edfio.EdfSignal(data[i].astype(np.float64), sfreq, label=name,
                               physical_dimension="uV", physical_range=(-limits[i], limits[i]),
                               prefiltering=prefiltering)
               for i, name in enumerate(names)]
    edf = edfio.Edf(signals, patient=edfio.Patient(), starttime=meas_date.time(),
                    recording=edfio.Recording(startdate=meas_date.date()),
                    data_record_duration=1.0,
                    annotations=[edfio.EdfAnnotation(onset, None, text)
                                 for onset, text in triggers])
    edf.write(path)


def write_brainvision(folder, base, data, sfreq, names, meas_date, trigger_samples, trigger_codes):
    """Write a BrainVision triplet (.vhdr, .vmrk, .eeg): 16-bit integers, per-channel resolution.

    Parameters
    ----------
    folder : pathlib.Path
    base : str
        File name without extension.
    data : numpy.ndarray, shape (n_channels, n_samples)
        Signals in µV.
    sfreq : float
        Sampling frequency (Hz).
    names : list of str
    meas_date : datetime.datetime
    trigger_samples, trigger_codes : numpy.ndarray of int
        Sample (0-based) and stimulus code of each trigger (Stimulus markers in the .vmrk).
    """
    # A resolution just coarse enough that the largest value fits in int16 (µV per bit).
    resolution = np.maximum(np.ceil(np.abs(data).max(axis=1) / 30000.0 * 1e4) / 1e4, 1e-4)
    events = np.column_stack([trigger_samples, trigger_codes])
    pybv.write_brainvision(data=data * 1e-6, sfreq=sfreq, ch_names=list(names), fname_base=base,
                           folder_out=folder, events=events, resolution=resolution, unit="µV",
                           fmt="binary_int16", overwrite=True,
                           meas_date=meas_date.replace(tzinfo=datetime.timezone.utc))
