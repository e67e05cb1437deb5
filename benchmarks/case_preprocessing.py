"""Preprocessing one patient: ieegrsa.preprocess against the same steps written with plain MNE.

The "tool people use today" is a script of MNE calls: notch filter, then for each high-gamma
sub-band ``raw.copy().filter(...)`` and ``apply_hilbert(envelope=True)``, normalise, average,
resample, epoch. Both run in this process on the same recording (the simulator's ``paper``
preset, or a dataset given with --bids-root), with the same contacts and the same re-reference,
and the benchmark checks that they agree (trial-averaged high-gamma per channel) before printing
the times and their ratio.

Run with ``python benchmarks/run.py preprocess_paper``. The two are not bit-identical (MNE's and
ieegrsa's filters differ in length and edge handling), so agreement is checked as a correlation
of the trial-averaged high-gamma per channel (r > 0.9); ``maxabsdiff`` is the largest absolute
difference of those averages (z-score units).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np


def mne_reference(rec, cfg):
    """The same preprocessing with plain MNE calls (high-gamma, default settings)."""
    import mne

    from ieegrsa.preprocessing import reference_matrix, select_contacts, sub_bands
    from ieegrsa.preprocessing.epochs import apply_baseline

    kept, _ = select_contacts(rec.contacts, channel_types=cfg.channel_types,
                              drop_bad=cfg.drop_bad, exclude_status=cfg.exclude_status)
    W, channels, _ = reference_matrix(kept, cfg.reference, max_distance=cfg.neighbour_max_distance,
                                      laplacian_ends=cfg.laplacian_ends)
    raw = rec.raw.copy().pick(list(kept["name"]))
    # MNE has no shaft Laplacian: apply the same matrix, then continue with MNE objects
    info = mne.create_info(list(channels["name"]), raw.info["sfreq"], "seeg")
    raw = mne.io.RawArray(W @ raw.get_data(), info, verbose="error")
    sfreq = raw.info["sfreq"]
    freqs = rec.line_freq * np.arange(1, int((sfreq / 2 - 1) // rec.line_freq) + 1)
    raw.notch_filter(freqs, verbose="error")
    total = None
    for low, high in sub_bands(cfg.high_gamma_band, cfg.high_gamma_band_width):
        taper = (high - low) / 2  # the same -6 dB points and transition width as ieegrsa
        band = raw.copy().filter(low + taper / 2, high - taper / 2, l_trans_bandwidth=taper,
                                 h_trans_bandwidth=taper, verbose="error")
        band.apply_hilbert(envelope=True, verbose="error")
        data = band.get_data()
        data /= data.mean(axis=1, keepdims=True)
        total = data if total is None else total + data
    hg = mne.io.RawArray(total / len(sub_bands(cfg.high_gamma_band, cfg.high_gamma_band_width)),
                         info, verbose="error")
    hg.resample(cfg.sfreq, verbose="error")
    events = rec.events[rec.events["stim_file"].notna()]
    samples = np.round(events["onset"].to_numpy() * cfg.sfreq).astype(int)
    mne_events = np.column_stack([samples, np.zeros_like(samples), np.ones_like(samples)])
    epochs = mne.Epochs(hg, mne_events, tmin=cfg.tmin, tmax=cfg.tmax, baseline=None,
                        preload=True, verbose="error")
    data = apply_baseline(epochs.get_data(), epochs.times, cfg.baseline, cfg.baseline_mode)
    return data, list(channels["name"])


def preprocess_paper():
    from _timing import median_time

    import ieegrsa
    from ieegrsa.config import load_config

    root = Path(tempfile.mkdtemp()) / "paper"
    ieegrsa.simulate.make_dataset(root, preset="paper", seed=0)
    rec = ieegrsa.load_recording(root, "01", "faces")
    summary = rec.summary()
    # no trial rejection: the plain-MNE script has none, and the outputs are compared
    cfg = load_config({"preprocessing": {"reject": False}})
    ours, epochs = median_time(lambda: ieegrsa.preprocess(rec, cfg), repeat=3, warmup=0)
    theirs, (theirs_data, names) = median_time(lambda: mne_reference(rec, cfg.preprocessing),
                                               repeat=3, warmup=0)
    assert epochs.ch_names == names
    a = np.nanmean(epochs.get_data(), axis=0)
    b = theirs_data.mean(axis=0)
    r = [np.corrcoef(x, y)[0, 1] for x, y in zip(a, b)]
    assert min(r) > 0.9, f"the two pipelines disagree (r = {min(r):.3f})"
    return dict(
        ieegrsa_s=ours, peer_s=theirs, maxabsdiff=float(np.abs(a - b).max()),
        note=f"simulated paper preset sub-01: {summary['n_seeg'] + summary['n_ecog']} contacts, "
             f"{summary['duration_s']:.0f} s at {summary['sfreq']:g} Hz\n"
             f"peer: the same steps as a plain MNE script (notch, band filters, Hilbert, "
             f"resample, Epochs)\nagreement: trial-averaged high-gamma per channel r >= "
             f"{min(r):.3f} (median {np.median(r):.3f})",
    )


CASES = {"preprocess_paper": preprocess_paper}
