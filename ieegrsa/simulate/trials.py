"""Trial-level studies with every code a contact can carry: what each RDM dissimilarity sees.

:func:`code_study` simulates, for each patient of a study, the single trials of every contact of
one shaft per ROI (high-gamma amplitude, in units of one trial's noise standard deviation), with
the stimulus information carried by one chosen *code* per ROI. :func:`patient_epochs` turns one
patient into :class:`mne.EpochsArray` and a contact table, so that the pipeline's own
:func:`ieegrsa.rsa.neural_rdms` builds its RDMs. The validation study of the RDM dissimilarities
(``benchmarks/rdm_metrics.py``) runs on it.

Signal of contact ``k`` in a trial showing condition ``c`` (level ``l`` of ``effect_model``)
-----------------------------------------------------------------------------------------
``x_k(t) = a_k γ_c ε [h(t - d_k(l)) G_k(l, t) + A_k(l, t)] + σ_k(t) + r(t)``

- ``h``: the face response, a gamma-shaped bump starting at ``response_timing[0]`` and peaking
  (at 1) at ``response_timing[1]``; ``a_k`` its log-normal amplitude at the contact; ``γ_c`` a
  fixed per-image gain and ``ε`` a trial gain, both shared by the patient's contacts.
- The code, with ``e`` the patient's effect (``effect`` times a gamma factor of mean 1) and
  ``q_k(l)`` a random permutation of evenly spaced values in [-1, 1] over the levels, drawn for
  each contact (or once per ROI for ``common-gain``); ``box(t)`` is 1 within ``effect_window``
  with ~10 ms edges and ``wave(t)`` one cycle of a sine over it:

  =============== ====================================================================
  ``none``        nothing depends on the stimulus (the null)
  ``amplitude``   ``G = 1 + e q_k(l)``: the same time course, a contact-specific gain of the
                  whole response (so a window sees only its amplitude, never its shape)
  ``common-gain`` ``G = 1 + e q(l)``: one gain for every contact of the ROI
  ``latency``     ``d_k(l) = e q_k(l) * 30 ms``: the whole response earlier or later
  ``shape``       ``G = 1 + e q_k(l) wave(t)``: the response shifts its mass within the window
                  (earlier half up, later half down), its mean over the window unchanged
  ``spatial``     ``A = e p_k(l) box(t)``: an additive pattern across the ROI's contacts,
                  ``p_k(l)`` Gaussian, centred over the contacts at every level (the ROI's
                  mean response codes nothing) and of unit variance
  =============== ====================================================================

- ``σ_k``: local noise, white noise smoothed in time (Gaussian kernel of ``noise_smoothness``
  s) and correlated along the shaft, ``corr = shared_noise ** |k - j|``; ``r``: a component of
  standard deviation ``common_noise`` shared by every contact of the patient (the reference).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.special

from ieegrsa._check import check_interval
from ieegrsa.errors import DataError

from ._common import (
    _check_contacts,
    _check_design,
    _check_range,
    _check_rois,
    _smoother,
    _spatial_root,
)

__all__ = ["code_study", "patient_epochs", "PatientTrials", "CODES"]

#: The codes :func:`code_study` plants (see the module's table).
CODES = ("none", "amplitude", "common-gain", "latency", "shape", "spatial")
LATENCY_SCALE = 0.03  # s of shift at e q = 1
_EDGE = 0.01  # s, standard deviation of the box's Gaussian edges
_STREAM = 11  # numpy seed stream of this module


class PatientTrials(NamedTuple):
    """One simulated patient (see :func:`code_study`)."""

    subject: str
    #: (n_trials, n_channels, n_times) single trials.
    data: np.ndarray
    #: (n_times,) s, relative to image onset.
    times: np.ndarray
    #: One row per trial: ``stim_file``, ``identity``, ``expression``, ``repetition`` (1-based).
    metadata: pd.DataFrame
    #: One row per channel: ``name``, ``roi``.
    channels: pd.DataFrame
    #: ``effect`` (this patient's ``e``), ``codes`` ({roi: code}), ``effect_model``.
    truth: dict


def code_study(n_patients: int, *, codes, seed: int = 0, effect: float = 0.5,
               effect_model: str = "identity", rois=("ventral", "lateral"),
               n_identities: int = 6, n_expressions: int = 4, n_repetitions: int = 4,
               contacts=(3, 8), shared_noise: float = 0.5, common_noise: float = 0.3,
               sfreq: float = 100.0, epoch=(-0.1, 0.5), response: float = 2.0,
               response_sd: float = 0.5, response_timing=(0.08, 0.2),
               effect_window=(0.1, 0.35), effect_variability: float = 0.5,
               noise_smoothness: float = 0.02, trial_gain_sd: float = 0.2,
               image_gain_sd: float = 0.1, both_rois: float = 1.0) -> list[PatientTrials]:
    """Simulate the single trials of every patient of a study, one code per ROI.

    Parameters
    ----------
    n_patients : int
        Patients (``sub-01`` ...).
    codes : str | dict
        The code of every ROI (a name of :data:`CODES`), or ``{roi: code}`` (ROIs left out:
        ``none``).
    seed : int
        Seed; patient ``i`` draws from the stream ``[seed, 11, i]``, and every draw is made
        whatever the codes and effect, so studies with one seed differ only by what is planted.
    effect : float
        Size of the code (≥ 0): the gain range for amplitude, common-gain and shape, the shift
        in units of 30 ms for latency, the pattern's standard deviation (in response peaks)
        for spatial. ``effect_window`` bounds the shape and spatial codes; the others act on
        the whole response.
    effect_model : {"identity", "expression"}
        The stimulus property coded.
    rois : sequence of str
        ROIs; each sampled ROI has one shaft.
    n_identities, n_expressions, n_repetitions : int
        Conditions are every identity in every expression, each shown ``n_repetitions`` times
        (the repetition is the cross-validation fold).
    contacts : int | (int, int)
        Contacts per shaft, or the (min, max) of a uniform draw per patient and ROI.
    shared_noise : float
        Noise correlation of neighbouring contacts, in [0, 1).
    common_noise : float
        Standard deviation of the noise shared by all of a patient's contacts.
    sfreq : float
        Sampling rate (Hz) of the high-gamma amplitude.
    epoch : (float, float)
        The time axis (s, end excluded).
    response, response_sd : float
        Typical peak of the face response (noise SDs) and the SD of its log over contacts.
    response_timing, effect_window : (float, float)
        Onset and peak of the response; the interval of the code (s).
    effect_variability : float
        Coefficient of variation of the patient factor of ``effect`` (0 = the same everywhere).
    noise_smoothness : float
        SD (s) of the temporal smoothing of the noise.
    trial_gain_sd, image_gain_sd : float
        SD of the trial gain and of the per-image gain (around 1).
    both_rois : float
        Probability that a patient samples every ROI (else one, at random).

    Returns
    -------
    list of PatientTrials
    """
    rois, _ = _check_rois(rois, ())
    codes = _check_codes(codes, rois)
    lo, hi = _check_contacts(contacts)
    n_patients, seed, n_id, n_ex, n_rep = _check_design(
        n_patients, seed, n_identities, n_expressions, n_repetitions, effect_model)
    for name, value in (("effect", effect), ("common_noise", common_noise),
                        ("response", response), ("response_sd", response_sd),
                        ("effect_variability", effect_variability),
                        ("noise_smoothness", noise_smoothness),
                        ("trial_gain_sd", trial_gain_sd), ("image_gain_sd", image_gain_sd)):
        _check_range(value, name, 0, np.inf)
    _check_range(shared_noise, "shared_noise", 0, 1, closed_high=False)
    _check_range(both_rois, "both_rois", 0, 1)
    _check_range(sfreq, "sfreq", 0, np.inf, closed_low=False)
    t0, t1 = check_interval("epoch", epoch)
    onset, peak = check_interval("response_timing", response_timing)
    w0, w1 = check_interval("effect_window", effect_window)

    times = np.round(t0 + np.arange(int(round((t1 - t0) * sfreq))) / sfreq, 9)
    identity = np.repeat(np.arange(n_id), n_ex)
    expression = np.tile(np.arange(n_ex), n_id)
    level = identity if effect_model == "identity" else expression
    n_levels = n_id if effect_model == "identity" else n_ex
    n_cond = len(identity)
    box = scipy.special.ndtr((times - w0) / _EDGE) - scipy.special.ndtr((times - w1) / _EDGE)
    phase = np.clip((times - w0) / (w1 - w0), 0.0, 1.0)
    wave = np.sin(2 * np.pi * phase)
    smoother = _smoother(len(times), noise_smoothness * sfreq)
    # trials: every condition once per repetition, in the order of the repetitions
    cond = np.tile(np.arange(n_cond), n_rep)
    metadata = pd.DataFrame({
        "stim_file": [f"stim-{c:03d}.png" for c in cond],
        "identity": [f"id{identity[c] + 1}" for c in cond],
        "expression": [f"ex{expression[c] + 1}" for c in cond],
        "repetition": np.repeat(np.arange(1, n_rep + 1), n_cond)})

    patients = []
    for p in range(n_patients):
        rng = np.random.default_rng([seed, _STREAM, p])
        all_rois = rng.random() < both_rois
        single = int(rng.integers(len(rois)))
        counts = rng.integers(lo, hi + 1, size=len(rois))
        factor = (rng.gamma(1.0 / effect_variability ** 2, effect_variability ** 2)
                  if effect_variability > 0 else 1.0)
        e_p = effect * factor
        image_gain = 1.0 + image_gain_sd * rng.standard_normal(n_cond)
        trial_gain = 1.0 + trial_gain_sd * rng.standard_normal(len(cond))
        common = common_noise * (rng.standard_normal((len(cond), smoother.shape[0])) @ smoother)
        blocks, names, roi_of = [], [], []
        for k, roi in enumerate(rois):
            n = int(counts[k])
            # the draws of every ROI are made, sampled or not, so that streams stay aligned
            amp = response * np.exp(response_sd * rng.standard_normal(n) - response_sd ** 2 / 2)
            q = _levels(rng, n_levels, n)  # (n, levels), per contact
            shared_q = _levels(rng, n_levels, 1)
            pattern = rng.standard_normal((n, n_levels))
            white = rng.standard_normal((n, len(cond), smoother.shape[0]))
            if not (all_rois or k == single):
                continue
            resp = _responses(codes[roi], e_p, q, shared_q, pattern, level, times, onset,
                              peak, box, wave)  # (n, n_cond, n_times)
            noise = np.einsum("ij,jtn->itn", _spatial_root(n, float(shared_noise), "ar1"),
                              white @ smoother)
            signal = (amp[:, None, None] * resp[:, cond]
                      * (image_gain[cond] * trial_gain)[None, :, None])
            blocks.append(signal + noise + common[None])
            initial = roi[:1].upper()
            names += [f"{initial}{j + 1}" for j in range(n)]
            roi_of += [roi] * n
        data = np.ascontiguousarray(np.concatenate(blocks).transpose(1, 0, 2))
        patients.append(PatientTrials(
            subject=f"{p + 1:02d}", data=data, times=times, metadata=metadata.copy(),
            channels=pd.DataFrame({"name": names, "roi": roi_of}),
            truth={"effect": float(e_p), "codes": dict(codes), "effect_model": effect_model}))
    return patients


def patient_epochs(patient: PatientTrials):
    """The patient as :class:`mne.EpochsArray` (one ``seeg`` channel per contact, metadata
    attached) and the contact table :func:`ieegrsa.rsa.neural_rdms` reads (``name``,
    ``included``, ``rois``; ``attrs`` ``subject`` and ``rois``)."""
    import mne

    sfreq = 1.0 / float(patient.times[1] - patient.times[0])
    info = mne.create_info(list(patient.channels["name"]), sfreq, "seeg")
    epochs = mne.EpochsArray(patient.data, info, tmin=float(patient.times[0]),
                             metadata=patient.metadata, verbose="error")
    contacts = pd.DataFrame({"name": patient.channels["name"], "included": True,
                             "rois": patient.channels["roi"]})
    contacts.attrs.update(subject=patient.subject,
                          rois=list(pd.unique(patient.channels["roi"])))
    return epochs, contacts


def _levels(rng, n_levels, n):
    """(n, n_levels): per row a random permutation of evenly spaced values in [-1, 1]."""
    values = np.linspace(-1.0, 1.0, n_levels)
    return np.array([rng.permutation(values) for _ in range(n)])


def _responses(code, e, q, shared_q, pattern, level, times, onset, peak, box, wave):
    """(n_contacts, n_conditions, n_times) response time courses (peak 1 without the code)."""
    n = len(q)
    tau = (peak - onset) / 2.0  # gamma bump (t / τ)² e^{-t / τ}, peak at 2τ

    def bump(shift):
        lag = np.clip(times - onset - shift, 0.0, None)
        return (lag / (2 * tau)) ** 2 * np.exp(2 - lag / tau)

    if code == "latency":
        return bump((e * LATENCY_SCALE * q[:, level])[:, :, None])
    h = np.broadcast_to(bump(0.0), (n, len(level), len(times)))
    if code == "none":
        return h.copy()
    if code in ("amplitude", "common-gain", "shape"):
        coded = (shared_q if code == "common-gain" else q)[:, level]  # (n or 1, conditions)
        course = wave if code == "shape" else np.ones_like(times)
        return h * np.clip(1.0 + e * coded[:, :, None] * course, 0.0, None)  # a gain is ≥ 0
    # spatial: additive, centred over contacts at every level, unit variance
    centred = pattern - pattern.mean(axis=0, keepdims=True)
    sd = centred.std()
    centred = centred / sd if sd > 0 else centred
    return h + e * centred[:, level, None] * box


def _check_codes(codes, rois) -> dict:
    spec = dict.fromkeys(rois, codes) if isinstance(codes, str) else dict(codes)
    unknown = [r for r in spec if r not in rois]
    bad = {r: c for r, c in spec.items() if c not in CODES}
    if unknown or bad:
        raise DataError("codes must map ROIs to known codes", field="codes",
                        found=f"ROIs {unknown} not in {list(rois)}" if unknown
                        else f"codes {bad}", fix=f"use codes among {CODES}")
    return {r: spec.get(r, "none") for r in rois}
