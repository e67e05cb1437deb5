"""Preprocessing: high-gamma amplitude, line-noise notch and resampling on known signals."""

from __future__ import annotations

import numpy as np
import pytest

from ieegrsa.errors import DataError
from ieegrsa.preprocessing import high_gamma_envelope, notch, resample


def _am_tone(sfreq, seconds, carrier, rng=None):
    t = np.arange(int(seconds * sfreq)) / sfreq
    amplitude = 1.0 + 0.5 * np.sin(2 * np.pi * 1.0 * t) + 0.3 * np.sin(2 * np.pi * 0.37 * t)
    return t, amplitude, amplitude * np.sin(2 * np.pi * carrier * t + 0.3)


@pytest.mark.parametrize("sfreq", [1000.0, 1024.0, 2048.0])
def test_high_gamma_envelope_of_an_am_tone(sfreq):
    t, a, x = _am_tone(sfreq, 10.0, 105.0)
    inner = (t > 1.0) & (t < 9.0)
    # one sub-band around the carrier, no normalisation: the envelope is a(t)
    env = high_gamma_envelope(x[None], sfreq, band=(100, 110), width=10, normalization="none")
    np.testing.assert_allclose(env[0, inner], a[inner], atol=0.01)
    # the default 8 sub-bands of 70-150 Hz: 105 Hz is inside one of them only
    env = high_gamma_envelope(x[None], sfreq, normalization="none")
    np.testing.assert_allclose(env[0, inner], a[inner] / 8, atol=0.005)
    # decimated output = exact samples of the full-rate envelope
    short = high_gamma_envelope(x[None], sfreq, normalization="none", decim=4)
    np.testing.assert_allclose(short[0], env[0, ::4], atol=1e-9)
    # a 100 Hz tone of amplitude 2 sits on the edge between two sub-bands, where each has gain
    # 1/2: envelope 1 in each, and their average is 1
    x = 2.0 * np.sin(2 * np.pi * 100.0 * t)
    env = high_gamma_envelope(x[None], sfreq, band=(90, 110), width=10, normalization="none")
    np.testing.assert_allclose(env[0, inner], 1.0, atol=0.01)


def test_high_gamma_normalisation_removes_the_spectral_slope():
    # One AM tone at the centre of each sub-band, all with the same modulation a(t) but with 1/f
    # amplitudes: normalised by its mean, every sub-band gives a(t) / mean(a), and so does their
    # average; without normalisation the lowest sub-band would weigh most.
    sfreq = 1000.0
    t, a, _ = _am_tone(sfreq, 20.0, 105.0)
    centres = np.arange(75.0, 150.0, 10.0)
    x = sum(a * (100.0 / f) * np.sin(2 * np.pi * f * t + f) for f in centres)
    inner = (t > 1.0) & (t < 19.0)
    env = high_gamma_envelope(x[None], sfreq, normalization="mean")[0]
    np.testing.assert_allclose(env[inner], a[inner] / a[inner].mean(), atol=0.01)
    z = high_gamma_envelope(x[None], sfreq, normalization="zscore")[0]
    np.testing.assert_allclose(z[inner], (a[inner] - a[inner].mean()) / a[inner].std(),
                               atol=0.03)
    raw = high_gamma_envelope(x[None], sfreq, normalization="none")[0]
    np.testing.assert_allclose(raw[inner], a[inner] * np.mean(100.0 / centres), atol=0.01)


@pytest.mark.parametrize("carrier", [30.0, 50.0, 200.0, 300.0])
def test_high_gamma_ignores_signals_outside_the_band(carrier):
    sfreq = 1000.0
    t, a, x = _am_tone(sfreq, 10.0, carrier)
    env = high_gamma_envelope(x[None], sfreq, normalization="none")
    inner = (t > 1.0) & (t < 9.0)
    assert env[0, inner].max() < 1e-3


def test_high_gamma_above_nyquist_is_a_data_error():
    with pytest.raises(DataError, match="Nyquist"):
        high_gamma_envelope(np.zeros((1, 1000)), 256.0)


def _power_at(x, sfreq, freq):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / sfreq)
    return spectrum[np.abs(freqs - freq) <= 0.5].sum()


@pytest.mark.parametrize("line_freq,sfreq", [(50.0, 1000.0), (60.0, 1024.0)])
def test_notch_removes_line_noise_and_harmonics(line_freq, sfreq):
    rng = np.random.default_rng(0)
    t = np.arange(int(20 * sfreq)) / sfreq
    harmonics = line_freq * np.arange(1, 4)
    line = sum(np.sin(2 * np.pi * f * t + k) for k, f in enumerate(harmonics))
    x = rng.normal(scale=0.1, size=(2, t.size)) + 5 * line
    y = notch(x, sfreq, line_freq)
    for f in harmonics:
        ratio = _power_at(y[0], sfreq, f) / _power_at(x[0], sfreq, f)
        assert ratio < 1e-3, f"{f} Hz: power ratio {ratio:.2g}"
    # elsewhere the spectrum is untouched
    off = line_freq * 1.5
    assert 0.5 < _power_at(y[0], sfreq, off) / _power_at(x[0], sfreq, off) < 2


@pytest.mark.parametrize("sfreq", [1000.0, 1024.0, 2048.0, 999.3])
def test_resample_keeps_the_time_axis(sfreq):
    t = np.arange(int(30 * sfreq)) / sfreq
    x = np.sin(2 * np.pi * 7.0 * t) + 0.5 * np.sin(2 * np.pi * 300.0 * t)  # 300 Hz must go
    y = resample(x[None], sfreq, 200.0)[0]
    t_new = np.arange(y.size) / 200.0
    inner = (t_new > 1) & (t_new < 28)
    np.testing.assert_allclose(y[inner], np.sin(2 * np.pi * 7.0 * t_new[inner]), atol=0.02)
