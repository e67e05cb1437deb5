"""Whole simulated studies as similarity tables: calibration and power of the group statistics.

:func:`similarity_study` simulates the contact-level signals of every patient of a study and
returns the tidy similarity table the pipeline would produce from them (one Spearman correlation
per bipolar contact, window and categorical model), without writing or reading any BIDS file. It
is fast enough (numpy only, no Python loop over contacts, windows or pairs) for hundreds of
simulated studies per setting, so that the false-positive rate of a group test under the null
(``effect=0``) and its power (``effect > 0``) can be measured at realistic patient counts.
:func:`study_signals` returns the simulated signals themselves (condition means of the bipolar
channels), for checks.

Signal model of one patient (amplitudes in units of the standard deviation of one trial's local
noise at one monopolar contact)
----------------------------------------------------------------------------------------------
Stimuli are every identity in every expression (``n_identities * n_expressions`` conditions),
each shown ``n_repetitions`` times. The patient has one shaft per ROI it samples, with
``n + 1`` monopolar contacts in a row for ``n`` bipolar contacts (``n`` drawn from
``contacts``). The monopolar signal of contact ``k`` in a trial of condition ``c`` is

``x_k(t) = a_k h(t) G_k(c, t) γ_c ε_trial + σ_k(t) + g_k r(t)``

- ``h(t)``: a stimulus-locked, high-gamma-like face response, the same for every face: a smooth
  gamma-shaped bump that starts at ``response_timing[0]`` and peaks (value 1) at
  ``response_timing[1]`` s. ``a_k``: its amplitude at the contact (log-normal around
  ``response``).
- ``G_k(c, t) = max(0, 1 + e_p u_k q(c) w(t))``: the planted amplitude code. ``q`` is the
  patient's code, a random permutation of ``n_levels`` evenly spaced values in [-1, 1] (zero
  mean) over the levels of ``effect_model`` (identity or expression); ``w(t)`` is the code's
  time course within ``effect_window``: a Hann bump over it (``effect_shape="hann"``: the code
  rises and falls smoothly, so it changes the shape of the response within an analysis window)
  or 1 throughout it with ~10 ms edges (``"box"``: a pure gain, which a correlation distance over
  a window's samples sees only through the signal-to-noise ratio and at the edges); ``u_k`` is 1
  for the contacts in ``effect_rois`` that carry the code (each with probability
  ``effect_fraction``), else 0; ``e_p`` is the patient's effect, ``effect`` times a
  gamma-distributed factor of mean 1 and coefficient of variation ``effect_variability``. Under
  ``effect=0`` nothing about the response depends on identity or expression: the null.
- ``γ_c = 1 + image_gain_sd N(0, 1)``: a fixed per-image gain (images differ in low-level
  features), and ``ε_trial = 1 + trial_gain_sd N(0, 1)``: trial-to-trial response variability.
  Both are shared by all contacts of the patient and carry no identity or expression structure
  (they make the contacts of one patient share part of their chance geometry).
- ``σ_k(t)``: local noise, Gaussian white noise smoothed in time by a Gaussian kernel of
  standard deviation ``noise_smoothness`` s (then scaled to unit variance) and correlated along
  the shaft (volume conduction): ``corr(σ_k, σ_j) = ρ ** (k - j)²`` (``spatial="gaussian"``) or
  ``ρ ** |k - j|`` (``"ar1"``), ``ρ = shared_noise`` the correlation of neighbouring monopolar
  contacts.
- ``r(t)``: the common-reference artefact, temporally smooth like ``σ`` with standard deviation
  ``reference_noise``, shared by every contact of the patient (both shafts), picked up with a
  contact-specific gain ``g_k = 1 + reference_gain_sd N(0, 1)`` (impedances differ), so that
  bipolar re-referencing removes most of it but not all.

The bipolar channel ``k-(k+1)`` is ``x_k - x_{k+1}``, so neighbouring bipolar channels share a
contact. Their local noise correlates by ``(2ρ - 1 - ρ⁴) / (2 (1 - ρ))`` (gaussian: 0.48 at
``ρ = 0.8``, -0.06 at 0.5) or ``-(1 - ρ) / 2`` (ar1), and a correlation-distance RDM is blind to
the sign, so that their RDMs (and values) are correlated, more so the larger ``|corr|``. Each
bipolar channel's signal is averaged over the repetitions of each condition. Everything above is
linear and Gaussian given the patient's parameters, so the condition means are simulated
directly (noise and trial gains with variance divided by ``n_repetitions``), which has exactly
the distribution of the means of simulated trials (``trial_level=True`` simulates every trial
and averages them, for checks; it is slower).

Neural RDMs and similarities, as the pipeline's ``contact`` pattern
-----------------------------------------------------------------
For each bipolar contact and window, the pattern of a condition is its mean time course over
the window's samples; the RDM is the correlation distance ``1 - r`` between the conditions'
patterns (:func:`scipy.spatial.distance.pdist` with ``"correlation"``, condensed in squareform
pair order), and its Spearman correlation with each categorical model RDM (identity, expression:
0 for a pair sharing the level, 1 otherwise) is the ``value``. Windows follow
:func:`ieegrsa.rsa.neural.window_starts`: ``round(length * sfreq)`` samples, starting every
``round(step * sfreq)`` samples from the first sample at or after ``start``, the last ending at
or before ``stop``.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.special
import scipy.stats

from ieegrsa._check import check_interval, check_option
from ieegrsa.errors import DataError

from ._common import (
    MODELS,
    _check_contacts,
    _check_design,
    _check_range,
    _check_rois,
    _smoother,
    _spatial_root,
)

__all__ = ["similarity_study", "study_signals", "StudySignals", "MODELS"]


_STREAM = 7  # numpy seed stream of this module (see ieegrsa.simulate.dataset)
_EDGE = 0.01  # s, standard deviation of the Gaussian edges of the effect window


class StudySignals(NamedTuple):
    """The simulated signals of one study (see :func:`study_signals`)."""

    #: (n_channels, n_conditions, n_times) condition means of every bipolar channel of every
    #: patient (noise-SD units).
    data: np.ndarray
    #: One row per channel of ``data``: ``subject``, ``roi``, ``contact`` (e.g. ``V1-V2``).
    channels: pd.DataFrame
    #: (n_times,) sample times (s, relative to image onset).
    times: np.ndarray
    #: One row per condition (the RDM order): ``identity``, ``expression`` (level indices).
    conditions: pd.DataFrame
    #: One row per patient: ``subject``, ``rois`` (sampled, ``+``-joined), ``effect`` (the
    #: patient's effect ``e_p``, also when it samples no effect ROI), ``code`` (its code per
    #: level of ``effect_model``, as a list).
    truth: pd.DataFrame


def similarity_study(n_patients: int, *, seed: int = 0, effect: float = 0.0,
                     effect_model: str = "identity", effect_rois=("ventral",),
                     n_identities: int = 6, n_expressions: int = 4, n_repetitions: int = 4,
                     contacts=(3, 8), windows=(-0.1, 0.5, 0.1, 0.05),
                     shared_noise: float = 0.8, spatial: str = "gaussian",
                     reference_noise: float = 0.3,
                     rois=("ventral", "lateral"), both_rois: float = 1.0,
                     sfreq: float = 200.0, epoch=(-0.2, 0.6),
                     response: float = 2.0, response_sd: float = 0.5,
                     response_timing=(0.08, 0.2), effect_window=(0.1, 0.35),
                     effect_shape: str = "hann",
                     effect_variability: float = 0.5, effect_fraction: float = 1.0,
                     noise_smoothness: float = 0.02, reference_gain_sd: float = 0.2,
                     trial_gain_sd: float = 0.2, image_gain_sd: float = 0.1,
                     trial_level: bool = False) -> pd.DataFrame:
    """Simulate one multi-patient study and return its contact-level similarity table.

    Parameters
    ----------
    n_patients : int
        Patients in the study (``sub-01`` ... ``sub-NN``).
    seed : int
        Seed (non-negative) of :func:`numpy.random.default_rng`. Patient ``i`` draws from its
        own stream ``[seed, 7, i]``, so a study is deterministic, the first patients of a larger
        study are those of a smaller one with the same seed, and every random draw (noise,
        layout, codes) is the same whatever ``effect`` is: studies with one seed and different
        effects differ only by the effect (common random numbers for power curves).
    effect : float
        Size of the planted amplitude code (≥ 0): the response gain within ``effect_window``
        ranges over ``1 ± effect`` across the levels of ``effect_model`` (clipped at 0), scaled
        per patient (see ``effect_variability``). 0 = the null: no identity or expression
        geometry anywhere.
    effect_model : {"identity", "expression"}
        The stimulus property the gain codes.
    effect_rois : sequence of str
        ROIs (of ``rois``) whose contacts carry the code.
    n_identities, n_expressions : int
        Identities and expressions (≥ 2 each); conditions are every identity in every expression,
        identity-major (condition ``i * n_expressions + e``).
    n_repetitions : int
        Showings of each condition; the RDMs use the mean over them.
    contacts : int | (int, int)
        Bipolar contacts per ROI shaft: a number, or the (min, max) of a uniform integer draw
        per patient and ROI. A shaft has one monopolar contact more.
    windows : (start, stop, length, step) | array (n_windows, 2)
        The analysis windows (s): either a grid, windows of ``length`` every ``step`` within
        [``start``, ``stop``], or explicit [start, stop) rows, all of one length in samples.
    shared_noise : float
        Correlation, in [0, 1), of the local noise of neighbouring monopolar contacts of a shaft.
        At the default 0.8 (gaussian), the noise of neighbouring bipolar channels correlates by
        0.48.
    spatial : {"gaussian", "ar1"}
        Fall-off of the noise correlation with the distance ``d`` (in contacts) along the shaft:
        ``shared_noise ** d²`` (smooth volume conduction) or ``shared_noise ** d``. With ar1,
        neighbouring bipolar channels' noise correlates by ``-(1 - shared_noise) / 2`` whatever
        the monopolar correlation, so their RDMs share little.
    reference_noise : float
        Standard deviation of the common-reference artefact (≥ 0).
    rois : sequence of str
        The ROIs; each sampled ROI has one shaft.
    both_rois : float
        Probability that a patient samples every ROI; the others sample one, drawn at random.
    sfreq : float
        Sampling rate (Hz) of the simulated high-gamma amplitude.
    epoch : (float, float)
        Start and end (s, end excluded) of the simulated time axis around image onset.
    response : float
        Typical peak amplitude of the face response at a monopolar contact, in units of the
        standard deviation of one trial's local noise there.
    response_sd : float
        Standard deviation of the log of the contact's response amplitude.
    response_timing : (float, float)
        Onset and peak (s) of the face response.
    effect_window : (float, float)
        Interval (s) in which the gain codes the stimulus.
    effect_shape : {"hann", "box"}
        Time course of the code within ``effect_window``: a Hann bump (0 at the ends, full at the
        middle) or flat with ~10 ms Gaussian edges.
    effect_variability : float
        Coefficient of variation, over patients, of the gamma-distributed factor (mean 1) that
        scales ``effect`` per patient; 0 = the same effect in every patient.
    effect_fraction : float
        Probability that a monopolar contact of an effect ROI carries the code.
    noise_smoothness : float
        Standard deviation (s) of the Gaussian kernel smoothing the noise in time; 0 = white.
    reference_gain_sd : float
        Standard deviation of the contact-specific pick-up gain of the reference artefact
        (around 1); 0 = bipolar re-referencing removes the artefact exactly.
    trial_gain_sd : float
        Standard deviation of the trial-to-trial gain of the response (around 1, shared by the
        patient's contacts).
    image_gain_sd : float
        Standard deviation of the fixed per-image gain of the response (around 1, shared by the
        patient's contacts, the same in every repetition).
    trial_level : bool
        Simulate every trial and average (slower, same distribution) instead of drawing the
        condition means directly.

    Returns
    -------
    pandas.DataFrame
        One row per patient × bipolar contact × window × model: ``subject``, ``roi``,
        ``contact`` (e.g. ``V1-V2``), ``window_start``, ``window_stop`` (s), ``model``
        (``identity``, ``expression``), ``objective``, ``family`` (``categorical``),
        ``pattern`` (``contact``), ``method`` (``spearman``), ``value`` (Spearman correlation of
        the contact's neural RDM with the model RDM; NaN if the window's signal is constant).
        ``attrs["truth"]``: ``effect_model``, ``effect_rois`` and per subject its ``effect``
        (``e_p``) and ``code`` (plain lists and dicts).

    Raises
    ------
    DataError
        An option out of range (the message names it).

    Notes
    -----
    The model of the signals is described in :mod:`ieegrsa.simulate.studies`. About 4 ms per
    patient on one core at the defaults (about 0.05 s for 11 patients).

    Examples
    --------
    >>> table = similarity_study(3, seed=1, effect=0.5)
    >>> sorted(table["model"].unique())
    ['expression', 'identity']
    """
    options = {name: value for name, value in locals().items() if name in _OPTIONS}
    windows = options.pop("windows")
    signals = _simulate(n_patients, **options)
    starts, length, win_start, win_stop = _windows(windows, signals.times, sfreq)
    models = _model_rdms(signals.conditions)
    values = _contact_similarities(signals.data, starts, length, models)  # (ch, win, model)
    n_ch, n_win, n_model = values.shape
    per_channel = n_win * n_model
    table = pd.DataFrame({
        "subject": np.repeat(signals.channels["subject"].to_numpy(), per_channel),
        "roi": np.repeat(signals.channels["roi"].to_numpy(), per_channel),
        "contact": np.repeat(signals.channels["contact"].to_numpy(), per_channel),
        "window_start": np.tile(np.repeat(win_start, n_model), n_ch),
        "window_stop": np.tile(np.repeat(win_stop, n_model), n_ch),
        "model": np.tile(np.array(MODELS, dtype=object), n_ch * n_win),
        "objective": "categorical",
        "family": "categorical",
        "pattern": "contact",
        "method": "spearman",
        "value": values.ravel(),
    })
    truth = signals.truth
    table.attrs["truth"] = {
        "effect_model": effect_model,
        "effect_rois": [effect_rois] if isinstance(effect_rois, str) else list(effect_rois),
        "effect": dict(zip(truth["subject"], truth["effect"].astype(float))),
        "code": dict(zip(truth["subject"], truth["code"])),
    }
    return table


_OPTIONS = tuple(name for name in inspect.signature(similarity_study).parameters
                 if name != "n_patients")


def study_signals(n_patients: int, **options) -> StudySignals:
    """The simulated signals behind :func:`similarity_study` (same keywords, same seed = same
    signals; ``windows`` is accepted and ignored).

    Returns
    -------
    StudySignals
        ``data`` (n_channels, n_conditions, n_times): condition means of the bipolar channels;
        ``channels``, ``times``, ``conditions`` and ``truth`` (see :class:`StudySignals`).
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise TypeError(f"study_signals() got unknown options {unknown}")
    bound = inspect.signature(similarity_study).bind(n_patients, **options)
    bound.apply_defaults()
    kwargs = dict(bound.arguments)
    kwargs.pop("windows")
    return _simulate(**kwargs)


# -- simulation ------------------------------------------------------------------------------
def _simulate(n_patients, *, seed, effect, effect_model, effect_rois, n_identities,
              n_expressions, n_repetitions, contacts, shared_noise, spatial, reference_noise, rois,
              both_rois, sfreq, epoch, response, response_sd, response_timing, effect_window,
              effect_shape, effect_variability, effect_fraction, noise_smoothness,
              reference_gain_sd, trial_gain_sd, image_gain_sd, trial_level) -> StudySignals:
    rois, effect_rois = _check_rois(rois, effect_rois)
    contacts = _check_contacts(contacts)
    n_patients, seed, n_identities, n_expressions, n_repetitions = _check_design(
        n_patients, seed, n_identities, n_expressions, n_repetitions, effect_model)
    _check_range(effect, "effect", 0, np.inf)
    check_option("spatial", spatial, ("gaussian", "ar1"), what="spatial noise model")
    check_option("effect_shape", effect_shape, ("hann", "box"))
    _check_range(shared_noise, "shared_noise", 0, 1, closed_high=False)
    for name, value in (("reference_noise", reference_noise), ("response", response),
                        ("response_sd", response_sd), ("effect_variability", effect_variability),
                        ("noise_smoothness", noise_smoothness),
                        ("reference_gain_sd", reference_gain_sd),
                        ("trial_gain_sd", trial_gain_sd), ("image_gain_sd", image_gain_sd)):
        _check_range(value, name, 0, np.inf)
    _check_range(both_rois, "both_rois", 0, 1)
    _check_range(effect_fraction, "effect_fraction", 0, 1)
    _check_range(sfreq, "sfreq", 0, np.inf, closed_low=False)
    t0, t1 = check_interval("epoch", epoch)
    onset, peak = check_interval("response_timing", response_timing)
    w0, w1 = check_interval("effect_window", effect_window)

    n_times = int(round((t1 - t0) * sfreq))
    if n_times < 2:
        raise DataError("the epoch holds fewer than 2 samples", field="epoch",
                        found=f"{epoch} at {sfreq:g} Hz", fix="widen the epoch or raise sfreq")
    times = np.round(t0 + np.arange(n_times) / sfreq, 9)
    identity = np.repeat(np.arange(n_identities), n_expressions)
    expression = np.tile(np.arange(n_expressions), n_identities)
    levels = {"identity": identity, "expression": expression}
    n_levels = {"identity": n_identities, "expression": n_expressions}
    n_cond = len(identity)

    # the stimulus-locked response and the window of the code, shared by every patient
    shape = 2.0  # gamma bump (t/τ)^k e^{-t/τ}, peak at kτ
    tau = (peak - onset) / shape
    lag = np.clip(times - onset, 0.0, None)
    bump = (lag / (shape * tau)) ** shape * np.exp(shape - lag / tau)
    if effect_shape == "hann":
        phase = np.clip((times - w0) / (w1 - w0), 0.0, 1.0)
        window = np.sin(np.pi * phase) ** 2
    else:
        window = (scipy.special.ndtr((times - w0) / _EDGE)
                  - scipy.special.ndtr((times - w1) / _EDGE))
    smoother = _smoother(n_times, noise_smoothness * sfreq)
    reps = n_repetitions if trial_level else 1
    scale = 1.0 if trial_level else 1.0 / np.sqrt(n_repetitions)  # of the trial noise

    pieces, channel_rows, truth_rows = [], [], []
    lo, hi = contacts
    shaft_names = _shaft_names(rois)
    for p in range(n_patients):
        rng = np.random.default_rng([seed, _STREAM, p])
        subject = f"sub-{p + 1:02d}"
        # layout: every draw is made whatever the options, so that streams stay aligned
        all_rois = rng.random() < both_rois
        single = int(rng.integers(len(rois)))
        counts = rng.integers(lo, hi + 1, size=len(rois))
        present = [k for k in range(len(rois)) if all_rois or k == single]
        n_mono = [int(counts[k]) + 1 for k in present]
        M = sum(n_mono)
        shaft_of = np.repeat(np.arange(len(present)), n_mono)
        amplitude = response * np.exp(response_sd * rng.standard_normal(M) - response_sd ** 2 / 2)
        ref_gain = 1.0 + reference_gain_sd * rng.standard_normal(M)
        codes = {m: rng.permutation(np.round(np.linspace(-1.0, 1.0, n_levels[m]), 12))
                 for m in MODELS}
        factor = (rng.gamma(1.0 / effect_variability ** 2, effect_variability ** 2)
                  if effect_variability > 0 else 1.0)
        carries = rng.random(M) < effect_fraction
        image_gain = 1.0 + image_gain_sd * rng.standard_normal(n_cond)
        trial_gain = 1.0 + trial_gain_sd * scale * rng.standard_normal((n_cond, reps))
        pad = smoother.shape[0]
        white = rng.standard_normal((M + 1, n_cond * reps, pad))  # last row: the reference
        smooth = white @ smoother  # (M + 1, n_cond * reps, n_times), unit variance

        # local noise, correlated along each shaft; the reference is shared by every contact
        root = np.zeros((M, M))
        start = 0
        for n in n_mono:
            root[start:start + n, start:start + n] = _spatial_root(n, float(shared_noise), spatial)
            start += n
        noise = (root @ smooth[:M].reshape(M, -1)).reshape(M, n_cond, reps, n_times)
        reference = smooth[M].reshape(n_cond, reps, n_times)

        e_p = effect * factor
        in_effect = np.isin(np.asarray(present)[shaft_of],
                            [rois.index(r) for r in effect_rois]) & carries
        code = codes[effect_model][levels[effect_model]]  # (n_cond,)
        gain = 1.0 + e_p * in_effect[:, None, None] * code[None, :, None] * window  # (M, C, T)
        np.clip(gain, 0.0, None, out=gain)
        cond_gain = image_gain[:, None] * trial_gain  # (C, R)
        signal = (amplitude[:, None, None, None] * gain[:, :, None, :] * bump
                  * cond_gain[None, :, :, None])
        signal += scale * noise
        signal += (scale * reference_noise) * ref_gain[:, None, None, None] * reference
        mono = signal.mean(axis=2) if reps > 1 else signal[:, :, 0]  # (M, C, T)

        first = np.flatnonzero(np.r_[shaft_of[1:] == shaft_of[:-1], False])
        pieces.append(mono[first] - mono[first + 1])
        within = first - np.searchsorted(shaft_of, shaft_of[first])  # contact index on shaft
        names = [shaft_names[present[s]] for s in shaft_of[first]]
        channel_rows.append(pd.DataFrame({
            "subject": subject, "roi": [rois[present[s]] for s in shaft_of[first]],
            "contact": [f"{n}{k + 1}-{n}{k + 2}" for n, k in zip(names, within)]}))
        truth_rows.append({"subject": subject, "rois": "+".join(rois[k] for k in present),
                           "effect": e_p, "code": codes[effect_model].tolist()})

    return StudySignals(
        data=np.concatenate(pieces), channels=pd.concat(channel_rows, ignore_index=True),
        times=times, conditions=pd.DataFrame({"identity": identity, "expression": expression}),
        truth=pd.DataFrame(truth_rows))


def _shaft_names(rois) -> dict:
    """Shaft label per ROI: its initial, upper case (the full name if initials collide)."""
    initials = [r[:1].upper() for r in rois]
    if len(set(initials)) < len(initials) or not all(initials):
        return {k: str(r) for k, r in enumerate(rois)}
    return dict(enumerate(initials))


# -- RDMs and similarities -------------------------------------------------------------------
def _windows(windows, times, sfreq):
    """First sample and length of every window, and the windows' start and stop times (s)."""
    arr = np.asarray(windows, dtype=float)
    half = 0.5 / sfreq
    if arr.ndim == 1 and arr.shape == (4,):
        start, stop, length_s, step_s = arr
        length = int(round(length_s * sfreq))
        stride = int(round(step_s * sfreq))
        if length < 1 or stride < 1:
            raise DataError("the window length and step must each span at least one sample",
                            field="windows", found=f"{tuple(arr)} at {sfreq:g} Hz",
                            fix=f"use at least {1 / sfreq:g} s")
        first = int(np.searchsorted(times, start - half))
        last = int(np.searchsorted(times, stop - length / sfreq + half, side="right")) - 1
        last = min(last, len(times) - length)
        starts = np.arange(first, last + 1, stride)
    elif arr.ndim == 2 and arr.shape[1] == 2 and len(arr):
        starts = np.searchsorted(times, arr[:, 0] - half)
        ends = np.searchsorted(times, arr[:, 1] - half)
        lengths = np.unique(ends - starts)
        if len(lengths) != 1 or lengths[0] < 1:
            raise DataError("explicit windows must all span the same number (≥ 1) of samples",
                            field="windows", found=f"lengths {lengths.tolist()} samples",
                            fix="give windows of one length")
        length = int(lengths[0])
        if (arr[:, 0] < times[0] - half).any() or (ends > len(times)).any():
            starts = np.array([], dtype=int)
    else:
        raise DataError("windows must be (start, stop, length, step) or rows of (start, stop)",
                        field="windows", found=repr(windows)[:80],
                        fix="e.g. windows=(-0.1, 0.5, 0.1, 0.05)")
    if len(starts) == 0 or starts[0] < 0 or starts[-1] + length > len(times):
        raise DataError("no window fits in the epoch", field="windows",
                        found=f"{windows} in an epoch [{times[0]:g}, {times[-1] + 1 / sfreq:g}) s",
                        fix="move the windows inside the epoch or widen it")
    win_start = np.round(times[starts], 9)
    win_stop = np.round(times[starts] + length / sfreq, 9)
    return starts, length, win_start, win_stop


def _model_rdms(conditions: pd.DataFrame) -> np.ndarray:
    """(n_models, n_pairs) categorical RDMs (0 = same level, 1 = different), squareform order."""
    rows, cols = np.triu_indices(len(conditions), 1)
    return np.array([(conditions[m].to_numpy()[rows] != conditions[m].to_numpy()[cols])
                     for m in MODELS], dtype=float)


def _correlation_rdms(data: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(n_channels, n_windows, n_pairs) correlation distances between the conditions' time
    courses within each window (pdist 'correlation' per channel and window)."""
    n_ch, n_cond, _ = data.shape
    # (channels, conditions, windows, samples), a view
    win = np.lib.stride_tricks.sliding_window_view(data, length, axis=2)[:, :, starts]
    win = win.transpose(0, 2, 1, 3)  # (channels, windows, conditions, samples)
    z = win - win.mean(axis=3, keepdims=True)
    norm = np.sqrt(np.einsum("...i,...i->...", z, z))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = z / np.where(norm > 0, norm, np.nan)[..., None]
    r = z @ z.swapaxes(-1, -2)  # (channels, windows, conditions, conditions)
    rows, cols = np.triu_indices(n_cond, 1)
    return 1.0 - r[..., rows, cols]


def _contact_similarities(data, starts, length, models) -> np.ndarray:
    """(n_channels, n_windows, n_models) Spearman correlation of every neural RDM with every
    model RDM (average ranks, as :func:`scipy.stats.spearmanr`)."""
    rdms = _correlation_rdms(data, starts, length)
    n_ch, n_win, n_pairs = rdms.shape
    ranks = _average_ranks(rdms.reshape(-1, n_pairs))
    ranks -= ranks.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ranks /= np.sqrt(np.einsum("ij,ij->i", ranks, ranks))[:, None]
    model_ranks = scipy.stats.rankdata(models, axis=1)
    model_ranks -= model_ranks.mean(axis=1, keepdims=True)
    model_ranks /= np.sqrt((model_ranks ** 2).sum(axis=1, keepdims=True))
    values = ranks @ model_ranks.T
    return np.clip(values, -1.0, 1.0).reshape(n_ch, n_win, len(models))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n along each row, ties sharing their mean rank (rows with NaN are all NaN), as
    :func:`scipy.stats.rankdata`; one sort for rows without ties, which are nearly all."""
    n_rows, n = x.shape
    order = np.argsort(x, axis=1)
    ranks = np.empty(x.shape)
    np.put_along_axis(ranks, order, np.arange(1.0, n + 1.0)[None, :].repeat(n_rows, 0), axis=1)
    ordered = np.take_along_axis(x, order, axis=1)
    tied = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    missing = np.isnan(ordered[:, -1])  # NaN sorts last
    redo = tied & ~missing
    if redo.any():
        ranks[redo] = scipy.stats.rankdata(x[redo], axis=1)
    ranks[missing] = np.nan
    return ranks
