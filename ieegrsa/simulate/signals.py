"""Continuous iEEG signals of one patient watching the stimuli, with a planted ground truth.

The signal of a contact is the sum of

- an aperiodic (1/f^χ, with a knee) background with a weak alpha bump, shaped by the amplifier's
  hardware filters, generated in the frequency domain and correlated between neighbouring contacts
  of a shaft or strip, plus a component common to all contacts (the shared reference);
- in responsive contacts, an evoked broadband response (an ERP-like waveform) and a modulation of
  the background's own high-gamma band (70–150 Hz): the band-limited part of the background is
  multiplied by an envelope, as neural population firing does to high-gamma amplitude;
- mains interference at the line frequency and its harmonics, and a little ECG pick-up.

In a face ROI, the high-gamma envelope of a trial showing stimulus s at contact c is
``w_c * (g * face_response(t) + strength * pattern[s, c] * window(t))`` where ``w_c`` falls off with
the distance to the area's peak, ``window`` spans the ROI's onset latency to onset + window, and
``pattern`` is one random vector per identity (identity-driven ROI) or per expression
(expression-driven ROI), so the ROI's stimulus-by-stimulus pattern dissimilarities follow the
categorical identity or expression RDM in that window. Trial-to-trial gain noise, latency jitter
and the background itself make it realistic but recoverable by averaging repetitions.

That additive pattern is the ``spatial`` code (the default). An ROI's effect may name another
``code``, each planted with a value ``q`` in [-1, 1] per face level (a permutation of evenly spaced
values over the identities or expressions, drawn per contact) times ``strength``: ``amplitude``
multiplies the whole face response by ``1 + q`` (the same time course, another amplitude; it
starts 40 ms before the ROI's onset), ``common-gain`` does so with one ``q`` for all the ROI's
contacts, ``latency`` shifts
the whole face response by ``30 ms * q`` and ``shape`` multiplies it by ``1 + q sin(2π (t -
onset) / window)`` within the window (its mass moves earlier or later).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.fft
import scipy.signal

__all__ = ["schedule", "simulate_patient", "BAD_KINDS"]

PAD_START = 3.0  # s of rest before the first image
PAD_END = 2.0  # s after the last one
EPOCH = 0.8  # s of evoked activity after an image onset (shorter than the shortest SOA)
MAX_JITTER = 0.04  # s, bound of the trial-to-trial latency jitter
HG_BAND = (70.0, 150.0)  # Hz
FACE_GAIN = 2.0  # peak high-gamma amplitude increase for faces, in baseline amplitudes
NONFACE_RATIO = 0.3  # non-face / face response in face-selective contacts
VISUAL_GAIN = 0.8  # high-gamma increase of generic visual (occipital, non-face) contacts
IDIOSYNCRATIC = 0.15  # image-specific, unstructured pattern (in baseline amplitudes)
TRIAL_GAIN_SD = 0.25  # trial-to-trial variability of response gain (fraction), half shared
SIGMA_AREA = 8.0  # mm, fall-off of the response with distance to the area's peak
LATENCY_SCALE = 0.03  # s of response shift per unit of strength × code value (latency code)

#: Kinds of bad contacts and their channels.tsv status_description.
BAD_KINDS = {
    "flat": "flat signal: contact disconnected",
    "noisy": "high-amplitude broadband noise: poor contact impedance",
    "pops": "electrode pops: large transients and baseline jumps",
}


def schedule(rng, n_stimuli, preset, sfreq):
    """Order and time the trials of one recording.

    Every image is shown once per block, in a new random order in each block, with no image shown
    twice in a row; onsets are separated by a uniformly jittered SOA and fall on samples.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_stimuli : int
        Number of images.
    preset : dict
        Resolved preset (uses ``n_repetitions``, ``soa``).
    sfreq : float
        Sampling frequency (Hz).

    Returns
    -------
    stim_index : numpy.ndarray of int, shape (n_trials,)
        Row of the stimulus table shown in each trial.
    repetition : numpy.ndarray of int, shape (n_trials,)
        1-based showing count of that image.
    onset_sample : numpy.ndarray of int, shape (n_trials,)
    n_samples : int
        Recording length (samples), a whole number of seconds.
    """
    blocks = []
    for _ in range(preset["n_repetitions"]):
        order = rng.permutation(n_stimuli)
        if blocks and order[0] == blocks[-1][-1]:
            order[[0, -1]] = order[[-1, 0]]
        blocks.append(order)
    stim_index = np.concatenate(blocks)
    repetition = np.repeat(np.arange(1, preset["n_repetitions"] + 1), n_stimuli)
    soa = rng.uniform(*preset["soa"], len(stim_index))
    onset = PAD_START + np.concatenate([[0.0], np.cumsum(soa[:-1])])
    duration = int(np.ceil(onset[-1] + preset["soa"][1] + PAD_END))
    return stim_index, repetition, np.round(onset * sfreq).astype(int), int(duration * sfreq)


def _smooth_step(t, start, width):
    """Raised-cosine step from 0 (t <= start) to 1 (t >= start + width)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip((t - start) / width, 0.0, 1.0))


def _background(rng, contacts, n_samples, sfreq, hardware):
    """Aperiodic background (µV) and its high-gamma band part, shape (n_contacts, n_samples).

    Generated per shaft/strip in the frequency domain: complex white noise, spatially mixed with
    an exponentially decaying correlation along the shaft, shaped by a knee-1/f^χ amplitude
    spectrum with an alpha bump and the amplifier's filters, then scaled to a random RMS.
    """
    n_ch = len(contacts)
    freqs = scipy.fft.rfftfreq(n_samples, 1.0 / sfreq).astype(np.float32)
    f = np.maximum(freqs, freqs[1])
    filters = (f / np.hypot(f, hardware["highpass"])) / np.sqrt(1 + (f / hardware["lowpass"]) ** 8)
    hg_mask = (_smooth_step(f, HG_BAND[0] - 10, 10) * (1 - _smooth_step(f, HG_BAND[1], 10)))
    hg_mask = hg_mask.astype(np.float32)

    def white(k):
        return (rng.standard_normal((k, len(f)), np.float32)
                + 1j * rng.standard_normal((k, len(f)), np.float32))

    common = white(1)  # the reference contact's own activity, seen by every channel
    signal = np.empty((n_ch, n_samples), np.float32)
    hg = np.empty((n_ch, n_samples), np.float32)
    for _, rows in contacts.groupby("group", sort=False).indices.items():
        k = len(rows)
        rho = 0.65 if contacts["kind"].iloc[rows[0]] == "depth" else 0.35
        lag = np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
        spectra = np.linalg.cholesky(rho ** lag).astype(np.float32) @ white(k) + 0.35 * common
        chi = rng.uniform(2.0, 2.8, (k, 1)).astype(np.float32)
        knee = rng.uniform(4.0, 15.0, (k, 1)).astype(np.float32)
        alpha = rng.uniform(0.0, 1.5, (k, 1)).astype(np.float32)
        shape = (1.0 / np.sqrt(knee ** chi + f ** chi)) * (
            1 + alpha * np.exp(-0.5 * ((f - rng.uniform(8, 12)) / 1.5) ** 2)) * filters
        spectra *= shape.astype(np.float32)
        spectra[:, 0] = 0.0  # no DC offset
        x = scipy.fft.irfft(spectra, n=n_samples, axis=1, workers=-1)
        scale = rng.uniform(15.0, 60.0, (k, 1)) / x.std(axis=1, keepdims=True)  # µV RMS
        signal[rows] = x * scale
        hg[rows] = scipy.fft.irfft(spectra * hg_mask, n=n_samples, axis=1, workers=-1) * scale
    return signal, hg


def _code_levels(rng, code, model, roi, ident, expr, is_face):
    """(n_stimuli, n_contacts): each face's value in [-1, 1] under a contact's code (0 for the
    spatial code, non-coding contacts and non-faces).

    Amplitude, latency and shape codes draw a permutation of evenly spaced values over the
    levels of the contact's model for every contact; common-gain one per ROI and model.
    """
    out = np.zeros((len(ident), len(code)))
    shared = {}
    for c in np.flatnonzero((code != "spatial") & np.isin(model, ("identity", "expression"))):
        level, levels = pd.factorize((ident if model[c] == "identity" else expr)[is_face])
        values = np.linspace(-1.0, 1.0, len(levels))
        if code[c] == "common-gain":
            key = (roi[c], model[c])
            if key not in shared:
                shared[key] = rng.permutation(values)
            perm = shared[key]
        else:
            perm = rng.permutation(values)
        out[is_face, c] = perm[level]
    return out


def _ecg(rng, n_samples, sfreq):
    """An ECG trace (µV): P-QRS-T complexes at a jittered heart rate of 60–90 beats per minute."""
    rate = rng.uniform(60, 90) / 60.0
    intervals = rng.normal(1.0 / rate, 0.03, int(n_samples / sfreq * rate) + 2)
    beats = np.round(np.cumsum(intervals) * sfreq).astype(int)
    train = np.zeros(n_samples)
    train[beats[beats < n_samples]] = 1.0
    t = np.arange(-0.25, 0.45, 1.0 / sfreq)
    waves = ((0.15, -0.16, 0.025), (-0.15, -0.03, 0.008), (1.0, 0.0, 0.01),
             (-0.25, 0.03, 0.008), (0.3, 0.25, 0.04))  # (mV, s, s): P, Q, R, S, T
    template = sum(a * np.exp(-0.5 * ((t - mu) / sd) ** 2) for a, mu, sd in waves)
    ecg = scipy.signal.fftconvolve(train, template, mode="same") * rng.uniform(800, 1500)
    return ecg + rng.normal(0, 10, n_samples)


def simulate_patient(rng, contacts, stimuli, trials, effect, sfreq, n_samples, line_freq,
                     hardware, n_bad):
    """Simulate one patient's recording.

    Parameters
    ----------
    rng : numpy.random.Generator
    contacts : pandas.DataFrame
        From :func:`ieegrsa.simulate.implants.plan_implant`.
    stimuli : pandas.DataFrame
        Stimulus table (``identity``, ``expression``, ``category``).
    trials : pandas.DataFrame
        ``stim_index`` and ``onset_sample`` of each trial.
    effect : dict
        Resolved effect, ``{roi: {"model", "onset", "window", "strength"}}``.
    sfreq : float
        Sampling frequency (Hz).
    n_samples : int
        Recording length (samples).
    line_freq : float
        Mains frequency (Hz).
    hardware : dict
        Amplifier ``highpass`` and ``lowpass`` cut-offs (Hz).
    n_bad : int
        Number of bad contacts.

    Returns
    -------
    data : numpy.ndarray of float32, shape (n_contacts + 1, n_samples)
        Signals in µV; the last row is the ECG channel.
    truth : pandas.DataFrame
        Per contact: ``responsive``, ``face_selective``, ``planted_model``, ``onset_s``, ``bad``,
        ``bad_kind``.
    """
    n_ch = len(contacts)
    in_roi = contacts["roi"].to_numpy() != "n/a"
    # Occipital contacts outside OFA respond to every image (early visual cortex).
    visual = ~in_roi & (contacts["y"].to_numpy() < -70)

    # Bad contacts: mostly outside the ROIs, so an ROI keeps most of its contacts.
    weights = np.where(in_roi, 0.3, 1.0)
    bad = np.zeros(n_ch, bool)
    bad[rng.choice(n_ch, n_bad, replace=False, p=weights / weights.sum())] = True
    bad_kind = np.full(n_ch, "", dtype=object)
    bad_kind[bad] = rng.choice(list(BAD_KINDS), bad.sum())

    roi = contacts["roi"].to_numpy()
    model = np.array([effect[r]["model"] if r != "n/a" else "n/a" for r in roi], dtype=object)
    onset = np.array([effect[r]["onset"] if r != "n/a" else 0.08 for r in roi])
    window = np.array([effect[r]["window"] if r != "n/a" else 0.2 for r in roi])
    strength = np.array([effect[r]["strength"] if r != "n/a" else 0.0 for r in roi])
    code = np.array([effect[r].get("code", "spatial") if r != "n/a" else "n/a" for r in roi],
                    dtype=object)
    weight = np.where(in_roi, np.exp(-0.5 * (contacts["distance"].to_numpy() / SIGMA_AREA) ** 2),
                      np.where(visual, 0.6, 0.0))
    responsive = (in_roi | visual) & ~bad

    signal, hg = _background(rng, contacts, n_samples, sfreq, hardware)

    # Stimulus patterns: one random value per contact for each identity, each expression and
    # each image (idiosyncratic); a contact uses the one its ROI's model names.
    is_face = (stimuli["category"] == "face").to_numpy()
    ident_codes, ident = np.unique(stimuli["identity"].to_numpy(), return_inverse=True)
    expr_codes, expr = np.unique(stimuli["expression"].to_numpy(), return_inverse=True)
    by_identity = rng.standard_normal((len(ident_codes), n_ch))[ident]
    by_expression = rng.standard_normal((len(expr_codes), n_ch))[expr]
    planted = np.where(model == "identity", by_identity,
                       np.where(model == "expression", by_expression, 0.0))
    planted = np.where(is_face[:, None] & (code == "spatial")[None, :], strength * planted, 0.0)
    pattern = planted + IDIOSYNCRATIC * rng.standard_normal((len(stimuli), n_ch))
    # the other codes: a level value in [-1, 1] per stimulus and contact, from a child stream so
    # that the draws of the spatial code (and every draw after) stay what they were
    coded = strength * _code_levels(rng.spawn(1)[0], code, model, roi, ident, expr, is_face)
    category_gain = np.where(is_face[:, None] | ~in_roi[None, :], 1.0, NONFACE_RATIO)
    peak_gain = np.where(in_roi, FACE_GAIN, VISUAL_GAIN)

    resp = np.flatnonzero(responsive)
    s = trials["stim_index"].to_numpy()
    n_tr = len(s)
    n_ep = int(round(EPOCH * sfreq))
    jitter = np.round(np.clip(rng.normal(0, 0.012, n_tr), -MAX_JITTER, MAX_JITTER) * sfreq)
    start = trials["onset_sample"].to_numpy() + jitter.astype(int)
    t = np.arange(n_ep) / sfreq
    on, win = onset[resp, None], window[resp, None]
    # Face response: gamma-shaped, starting 40 ms before the ROI's onset, peaking 80 ms after it.
    q = coded[s][:, resp].T  # (contact, trial): the code's value for the trial's stimulus
    kind = code[resp][:, None, None]
    shift = np.where(kind == "latency", LATENCY_SCALE * q[:, :, None], 0.0)
    lag = np.clip(t - (on[:, :, None] - 0.04) - shift, 0.0, None) / 0.06
    face_shape = (lag ** 2 * np.exp(2 - lag) / 4.0)  # (contact, trial, time)
    plant_shape = _smooth_step(t, on - 0.015, 0.03) * (1 - _smooth_step(t, on + win - 0.015, 0.03))
    wave = np.sin(2 * np.pi * np.clip((t - on) / win, 0.0, 1.0))
    # gains scale the whole response (the same time course); shape moves it within the window
    course = np.where(np.isin(kind, ("amplitude", "common-gain")), 1.0,
                      np.where(kind == "shape", wave[:, None], 0.0))
    face_shape *= np.clip(1.0 + q[:, :, None] * course, 0.0, None)  # a gain is ≥ 0
    erp_shape = (0.5 * np.exp(-0.5 * ((t - on + 0.03) / 0.015) ** 2)
                 - np.exp(-0.5 * ((t - on - 0.05) / 0.025) ** 2)
                 + 0.6 * np.exp(-0.5 * ((t - on - 0.18) / 0.06) ** 2))

    # Gain fluctuations are half shared by all contacts (arousal, attention), half local.
    def trial_gain():
        shared = rng.standard_normal((n_tr, 1))
        local = rng.standard_normal((n_tr, len(resp)))
        return 1 + TRIAL_GAIN_SD * np.sqrt(0.5) * (shared + local)

    gain = category_gain[s][:, resp] * trial_gain()
    pat = pattern[s][:, resp] * trial_gain()
    w = weight[resp]
    # (contact, trial, time): face response plus the planted pattern in the ROI's window
    envelope = w[:, None, None] * (
        peak_gain[resp, None, None] * gain.T[:, :, None] * face_shape
        + pat.T[:, :, None] * plant_shape[:, None])
    erp_amp = w * rng.uniform(40, 120, len(resp)) * rng.choice([-1.0, 1.0], len(resp))  # µV
    erp = erp_amp[:, None, None] * (gain.T + 0.5 * pat.T)[:, :, None] * erp_shape[:, None]
    idx = start[:, None] + np.arange(n_ep)  # trials never overlap (EPOCH + jitter < SOA)
    modulation = np.zeros((len(resp), n_samples), np.float32)
    modulation[:, idx] = np.maximum(envelope, -0.9)  # an amplitude cannot fall below zero
    evoked = np.zeros((len(resp), n_samples), np.float32)
    evoked[:, idx] = erp
    signal[resp] += hg[resp] * modulation + evoked
    del hg, modulation, evoked

    # Mains: a common phase (same supply), per-contact amplitude, fading harmonics below Nyquist.
    tt = np.arange(n_samples) / sfreq  # float64: phase precision over long recordings
    phase0 = rng.uniform(0, 2 * np.pi)
    line_amp = rng.lognormal(np.log(6.0), 0.6, n_ch)  # µV
    line_amp[bad_kind == "noisy"] *= 15
    for harmonic, rel in ((1, 1.0), (2, 0.35), (3, 0.15)):
        freq = harmonic * line_freq
        if freq >= hardware["lowpass"]:
            break
        phase = harmonic * phase0 + rng.normal(0, 0.2, n_ch)
        amp = (rel * line_amp)[:, None]
        sin = np.sin(2 * np.pi * freq * tt).astype(np.float32)
        cos = np.cos(2 * np.pi * freq * tt).astype(np.float32)
        # a sin(x + φ) = a cos φ sin x + a sin φ cos x: two outer products, no per-channel sin()
        signal += (amp * np.cos(phase)[:, None]).astype(np.float32) * sin
        signal += (amp * np.sin(phase)[:, None]).astype(np.float32) * cos

    ecg = _ecg(rng, n_samples, sfreq).astype(np.float32)
    signal += rng.uniform(0.002, 0.01, (n_ch, 1)).astype(np.float32) * ecg

    for c in np.flatnonzero(bad):
        if bad_kind[c] == "flat":
            signal[c] = signal[c] * 0.01 + rng.normal(0, 0.5, n_samples)
        elif bad_kind[c] == "noisy":
            signal[c] += rng.normal(0, 150, n_samples)
        else:
            jumps = np.zeros(n_samples)
            where = rng.random(n_samples) < 0.4 / sfreq  # ~0.4 pops per second
            jumps[where] = rng.choice([-1, 1], where.sum()) * rng.uniform(300, 1500, where.sum())
            signal[c] += scipy.signal.lfilter([1.0], [1.0, -np.exp(-1 / (0.3 * sfreq))], jumps)

    truth = pd.DataFrame({
        "responsive": responsive,
        "face_selective": in_roi & ~bad,
        "planted_model": np.where(bad, "n/a", model),
        "planted_code": np.where(bad | (model == "n/a") | (model == "none"), "n/a", code),
        "onset_s": np.where(responsive, np.round(onset, 3), np.nan),
        "bad": bad,
        "bad_kind": bad_kind,
    })
    return np.vstack([signal, ecg[None]]), truth
