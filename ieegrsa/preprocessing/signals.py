"""Continuous signals: line-noise notch, high-gamma amplitude, broadband, resampling.

Every function takes a ``(n_channels, n_times)`` array and works on all channels at once (FFTs
and FIR filters over the last axis); none loops over samples in Python.

High-gamma amplitude
--------------------
The band (default 70-150 Hz) is split into equal sub-bands (default 8 of 10 Hz). Each sub-band
is band-passed and turned into its analytic signal in one step, in the frequency domain: the
recording's spectrum (one FFT per channel, after mirroring two seconds at each end so that the
recording's abrupt start and end do not ring through the filters) is multiplied by the
sub-band's gain on the positive frequencies only (times two) and transformed back; the modulus
of the result is the Hilbert envelope of the band-passed signal. The gain is 1 inside the
sub-band and falls to 0 along a raised-cosine (sin^2) edge of half the sub-band's width, centred
on each edge (gain 1/2 at the edge; neighbouring sub-bands' gains add up to 1); the filter is
zero-phase. Each sub-band envelope is then normalised over the recording, leaving out its first
and last second (divided by its mean, z-scored, or left as is), so that the 1/f fall of the
spectrum does not let the lowest sub-band dominate, and the sub-bands are averaged. The inverse
FFT is taken directly at an intermediate rate (``decim``), which gives exact samples of the
envelope; the average is then resampled to the analysis rate with an anti-aliasing filter
(:func:`resample`). Compared with band-pass FIR filters and ``scipy.signal.hilbert`` per
sub-band (MNE's ``filter`` + ``apply_hilbert``), this gives the same envelopes (r > 0.99, see
``benchmarks/case_preprocessing.py``) with one forward FFT per channel instead of two filter
passes and two FFTs per sub-band.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np

logger = logging.getLogger("ieegrsa")

__all__ = ["line_harmonics", "notch", "sub_bands", "band_gains", "high_gamma_envelope",
           "resample", "lowpass"]

_PAD_SECONDS = 2.0
_EDGE_SECONDS = 1.0
_CHUNK_BYTES = 64 * 2**20


def line_harmonics(line_freq: float, sfreq: float) -> np.ndarray:
    """The line frequency and its harmonics below the Nyquist frequency (1 Hz margin)."""
    count = int(np.floor((sfreq / 2 - 1) / line_freq))
    return line_freq * np.arange(1, count + 1)


def notch(data, sfreq: float, line_freq: float, n_jobs=1) -> np.ndarray:
    """Remove the line frequency and its harmonics (MNE's zero-phase FIR notch filter).

    Parameters
    ----------
    data : numpy.ndarray
        ``(n_channels, n_times)``.
    sfreq : float
    line_freq : float
        Power-line frequency (Hz).
    n_jobs : int

    Returns
    -------
    numpy.ndarray
        The filtered data, same shape.
    """
    import mne

    freqs = line_harmonics(line_freq, sfreq)
    if not len(freqs):
        return data
    return mne.filter.notch_filter(data, sfreq, freqs, n_jobs=n_jobs, verbose="error")


def sub_bands(band=(70.0, 150.0), width=10.0) -> np.ndarray:
    """Equal sub-bands of ``band``: the fewest that are at most ``width`` Hz wide.

    Returns
    -------
    numpy.ndarray
        ``(n_bands, 2)`` low and high edges in Hz.
    """
    low, high = float(band[0]), float(band[1])
    n = max(1, int(np.ceil((high - low) / float(width) - 1e-9)))
    edges = np.linspace(low, high, n + 1)
    return np.column_stack([edges[:-1], edges[1:]])


def band_gains(freqs, bands) -> np.ndarray:
    """Zero-phase gains of the sub-band filters at ``freqs`` (Hz).

    Each sub-band's gain is 1 inside it, with sin^2 edges of half its width centred on each edge
    (so that adjacent sub-bands' gains sum to 1).

    Returns
    -------
    numpy.ndarray
        ``(n_bands, len(freqs))``.
    """
    freqs = np.asarray(freqs, dtype=float)
    gains = np.empty((len(bands), len(freqs)))
    for k, (low, high) in enumerate(bands):
        taper = (high - low) / 2
        rise = np.clip((freqs - (low - taper / 2)) / taper, 0, 1)
        fall = np.clip(((high + taper / 2) - freqs) / taper, 0, 1)
        gains[k] = np.sin(np.pi / 2 * rise) ** 2 * np.sin(np.pi / 2 * fall) ** 2
    return gains


def high_gamma_envelope(data, sfreq: float, band=(70.0, 150.0), width=10.0,
                        normalization="mean", n_jobs=1, decim=1) -> np.ndarray:
    """High-gamma amplitude: mean over sub-bands of each sub-band's normalised Hilbert envelope.

    Parameters
    ----------
    data : numpy.ndarray
        ``(n_channels, n_times)`` at ``sfreq``.
    sfreq : float
    band : (float, float)
        Hz; the top (plus half a sub-band edge) must lie below the Nyquist frequency.
    width : float
        Largest sub-band width (Hz); see :func:`sub_bands`.
    normalization : {"mean", "zscore", "none"}
        Per channel and sub-band, over the whole recording but its first and last second: divide
        by the mean envelope, z-score, or nothing (the mean of the raw envelopes, in the data's
        units).
    n_jobs : int
        Workers of the FFTs.
    decim : int
        Return every ``decim``-th sample of the envelope (``sfreq / decim`` Hz). These are exact
        samples of the full-rate envelope, not an approximation: each sub-band's analytic signal
        occupies a narrow band of frequencies, so it is computed directly at the lower rate by
        shifting that band to 0 Hz (which changes its phase, not its modulus) and using a
        ``decim`` times shorter inverse FFT. Keep ``sfreq / decim`` well above twice the
        envelope's frequencies (:func:`ieegrsa.preprocess` keeps it at least twice the analysis
        rate and resamples from there with anti-aliasing).

    Returns
    -------
    numpy.ndarray
        ``(n_channels, ceil(n_times / decim))``; sample j is at time ``j * decim / sfreq``.
    """
    import scipy.fft

    data = np.atleast_2d(np.asarray(data, dtype=float))
    n_channels, n_times = data.shape
    decim = max(1, int(decim))
    bands = sub_bands(band, width)
    top = bands[-1, 1] + (bands[-1, 1] - bands[-1, 0]) / 4
    if top >= sfreq / 2:
        from ..errors import DataError

        raise DataError(
            "The high-gamma band reaches above the Nyquist frequency of the recording",
            field="preprocessing.high_gamma_band",
            found=f"{band[0]:g}-{band[1]:g} Hz at {sfreq:g} Hz sampling",
            fix=f"Lower the band's top below about {sfreq / 2 * 0.9:g} Hz",
        )
    # Mirror padding at both ends (a multiple of decim long), so that the recording's abrupt
    # start and end do not ring through the filters. The FFT length is a multiple of decim, so
    # that the short inverse FFT (length m) samples the envelope at exactly every decim-th sample.
    pad = -(-int(np.ceil(_PAD_SECONDS * sfreq)) // decim) * decim
    m = scipy.fft.next_fast_len(-(-(n_times + 2 * pad) // decim))
    nfft = m * decim
    first = pad // decim
    freqs = scipy.fft.rfftfreq(nfft, 1 / sfreq)
    gains = band_gains(freqs, bands)
    supports = []
    for gain in gains:
        nonzero = np.flatnonzero(gain)
        supports.append((nonzero[0], nonzero[-1] + 1))
    if max(b - a for a, b in supports) > m:
        raise ValueError(f"decim={decim} is too large for sub-bands of {width:g} Hz")
    lo, hi = min(a for a, _ in supports), max(b for _, b in supports)
    n_out = -(-n_times // decim)
    # The normalisation statistics leave out the first and last second (where the recording's
    # edges may still ring), unless that would leave less than half of it.
    edge = int(round(_EDGE_SECONDS * sfreq / decim))
    interior = slice(edge, n_out - edge) if n_out > 4 * edge else slice(0, n_out)
    workers = _workers(n_jobs)
    out = np.empty((n_channels, n_out))
    chunk = max(1, int(_CHUNK_BYTES // (16 * nfft)))
    for start in range(0, n_channels, chunk):
        rows = slice(start, min(start + chunk, n_channels))
        padded = np.pad(data[rows], ((0, 0), (pad, pad)), mode="reflect")
        spectrum = scipy.fft.rfft(padded, n=nfft, axis=-1, workers=workers)[:, lo:hi]
        del padded
        total = np.zeros((spectrum.shape[0], n_out))
        shifted = np.zeros((spectrum.shape[0], m), dtype=complex)
        for gain, (a, b) in zip(gains, supports):
            # positive frequencies only, doubled: the analytic signal, shifted down by a bins
            shifted[:, : b - a] = spectrum[:, a - lo:b - lo] * (2 * gain[a:b])
            analytic = scipy.fft.ifft(shifted, axis=-1, workers=workers)[:, first:first + n_out]
            envelope = np.abs(analytic) / decim  # ifft of length m divides by m, not nfft
            if normalization in ("mean", "zscore"):
                mean = envelope[:, interior].mean(axis=-1, keepdims=True)
            if normalization == "mean":
                envelope /= np.where(mean > 0, mean, 1.0)
            elif normalization == "zscore":
                sd = envelope[:, interior].std(axis=-1, keepdims=True)
                envelope -= mean
                envelope /= np.where(sd > 0, sd, 1.0)
            total += envelope
            shifted[:, : b - a] = 0
        out[rows] = total / len(gains)
    return out


def _workers(n_jobs):
    import os

    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return max(1, int(n_jobs))


def _ratio(sfreq, target):
    """(up, down) with target = sfreq * up / down exactly, or None if not a small fraction."""
    ratio = Fraction(target).limit_denominator(1000) / Fraction(sfreq).limit_denominator(1000)
    exact = abs(float(ratio) - target / sfreq) <= 1e-12 * (target / sfreq)
    if exact and max(ratio.numerator, ratio.denominator) <= 4096:
        return ratio.numerator, ratio.denominator
    return None


def resample(data, sfreq: float, target: float, n_jobs=1) -> np.ndarray:
    """Resample to ``target`` Hz with anti-aliasing; sample k of the result is at ``k / target`` s.

    Uses polyphase filtering (:func:`scipy.signal.resample_poly`, Kaiser-windowed FIR low-pass
    below the lower Nyquist frequency) where ``target / sfreq`` is a ratio of small integers
    (e.g. 25/256 for 2048 -> 200 Hz), else FFT resampling to ``round(n * target / sfreq)``
    samples (whose rate differs from ``target`` by less than one sample over the recording).
    """
    from scipy import signal

    data = np.asarray(data, dtype=float)
    if np.isclose(sfreq, target, rtol=0, atol=1e-9):
        return data.copy()
    ratio = _ratio(sfreq, target)
    if ratio is not None:
        up, down = ratio
        return signal.resample_poly(data, up, down, axis=-1, padtype="line")
    n_out = int(round(data.shape[-1] * target / sfreq))
    logger.info("Resampling %g Hz -> %g Hz by FFT (not a small integer ratio)", sfreq, target)
    return signal.resample(data, n_out, axis=-1)


def lowpass(data, sfreq: float, cutoff: float, n_jobs=1) -> np.ndarray:
    """Zero-phase FIR low-pass (MNE's defaults for the transition band)."""
    import mne

    return mne.filter.filter_data(data, sfreq, None, cutoff, n_jobs=n_jobs, verbose="error")
