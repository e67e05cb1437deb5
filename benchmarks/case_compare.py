"""Kendall comparisons of many neural RDMs with model RDMs: ieegrsa.rsa.compare against the peers.

- ``compare_kendall_tau_a``: 500 data RDMs × 10 model RDMs over 80 conditions (3160 pairs); eight
  continuous models (network-layer-like) and two categorical ones (two and four levels, so with
  large tie groups). Peer: rsatoolbox ``rdm.compare(method="tau-a")``.
- ``semipartial_kendall``: 200 contacts × 50 windows (10 000 data RDMs) × 5 network layers over
  70 conditions (2415 pairs); layer k > 1 controls for layer k - 1 (semi-partial Kendall tau-b,
  Schwartz et al. 2023: ``(t_xy - t_xz t_yz) / sqrt(1 - t_yz^2)``), layer 1 is plain tau-b.
  Peer: the seed study's loop, ``scipy.stats.kendalltau`` for t_xy, t_xz and t_yz per (contact,
  window, layer), run on a subset of contacts and extrapolated linearly (it would take minutes).

ieegrsa's times exclude numba compilation (one warmup call before timing).
"""

from __future__ import annotations

import numpy as np
from _timing import max_abs_diff, median_time
from scipy.spatial.distance import pdist


def _layers(rng, n_cond, n_layers, n_units=256):
    """Correlation-distance RDMs of a chain of random layers (each a noisy map of the last)."""
    features = rng.standard_normal((n_cond, n_units))
    rdms = []
    for _ in range(n_layers):
        features = np.tanh(features @ rng.standard_normal((n_units, n_units)) / np.sqrt(n_units)
                           + 0.5 * rng.standard_normal((n_cond, n_units)))
        rdms.append(pdist(features, "correlation"))
    return np.array(rdms)


def _neural(rng, models, n_rdms, noise=3.0):
    """Data RDMs: random mixtures of the model RDMs plus noise (continuous, no ties)."""
    z = (models - models.mean(1, keepdims=True)) / models.std(1, keepdims=True)
    weights = rng.random((n_rdms, len(models)))
    return weights @ z + noise * rng.standard_normal((n_rdms, models.shape[1]))


def tau_a_case() -> dict:
    from rsatoolbox.rdm import RDMs as RsaRDMs
    from rsatoolbox.rdm import compare as rsa_compare

    from ieegrsa.rsa.comparisons import compare

    rng = np.random.default_rng(0)
    n_cond = 80
    categories = [pdist(rng.integers(0, levels, (n_cond, 1)), "cityblock") > 0
                  for levels in (2, 4)]
    models = np.vstack([_layers(rng, n_cond, 8), np.array(categories, float)])
    data = _neural(rng, models, 500)
    ours_s, ours = median_time(lambda: compare(data, models, "kendall-tau-a"), repeat=5)
    peer_s, theirs = median_time(
        lambda: rsa_compare(RsaRDMs(data), RsaRDMs(models), method="tau-a"), repeat=1)
    diff = max_abs_diff(ours, theirs)
    if diff > 1e-12:
        raise AssertionError(f"tau-a disagrees with rsatoolbox: maxabsdiff {diff:.3g}")
    from importlib.metadata import version

    return dict(ieegrsa_s=ours_s, peer_s=peer_s, maxabsdiff=diff,
                note=f"peer: rsatoolbox {version('rsatoolbox')} rdm.compare(method='tau-a'), "
                     f"{data.shape[0]} x {models.shape[0]} RDMs of {data.shape[1]} pairs "
                     "(2 categorical models with ties); numba compile excluded by a warmup call")


def _seed_loop(data, layers):
    """The seed study's computation, one (data RDM, layer) at a time with scipy's tau-b."""
    from scipy.stats import kendalltau

    out = np.empty((len(data), len(layers)))
    for i, x in enumerate(data):
        out[i, 0] = kendalltau(x, layers[0]).statistic
        for k in range(1, len(layers)):
            t_xy = kendalltau(x, layers[k]).statistic
            t_xz = kendalltau(x, layers[k - 1]).statistic
            t_yz = kendalltau(layers[k], layers[k - 1]).statistic
            out[i, k] = (t_xy - t_xz * t_yz) / np.sqrt(1 - t_yz ** 2)
    return out


def _cached_loop(data, layers):
    """A careful scipy loop: tau-b of each data RDM with each layer once, layer taus once."""
    from scipy.stats import kendalltau

    t_yz = np.array([kendalltau(layers[k], layers[k - 1]).statistic
                     for k in range(1, len(layers))])
    out = np.empty((len(data), len(layers)))
    for i, x in enumerate(data):
        t = np.array([kendalltau(x, layer).statistic for layer in layers])
        out[i, 0] = t[0]
        out[i, 1:] = (t[1:] - t[:-1] * t_yz) / np.sqrt(1 - t_yz ** 2)
    return out


def semipartial_case() -> dict:
    from ieegrsa.rsa.comparisons import compare

    rng = np.random.default_rng(1)
    n_contacts, n_windows, n_cond, subset = 200, 50, 70, 10
    layers = _layers(rng, n_cond, 5)
    data = _neural(rng, layers, n_contacts * n_windows)  # row = contact * n_windows + window
    covariates = [None] + [layers[k] for k in range(len(layers) - 1)]

    def ours_fn():
        return compare(data, layers, "kendall-tau-b", covariates=covariates,
                       partial="semi-partial")

    ours_s, ours = median_time(ours_fn, repeat=3)
    part = slice(0, subset * n_windows)
    peer_part_s, theirs = median_time(lambda: _seed_loop(data[part], layers), repeat=1, warmup=0)
    cached_part_s, cached = median_time(lambda: _cached_loop(data[part], layers), repeat=1,
                                        warmup=0)
    diff = max(max_abs_diff(ours[part], theirs), max_abs_diff(ours[part], cached))
    if diff > 1e-12:
        raise AssertionError(f"semi-partial tau-b disagrees with the scipy loop: {diff:.3g}")
    scale = n_contacts / subset
    cached_s = cached_part_s * scale
    return dict(ieegrsa_s=ours_s, peer_s=peer_part_s * scale, maxabsdiff=diff,
                note=f"peer: scipy.stats.kendalltau for t_xy, t_xz, t_yz per (contact, window, "
                     f"layer); run on {subset} of {n_contacts} contacts ({subset * n_windows} "
                     f"data RDMs, {peer_part_s:.3g} s) and extrapolated x{scale:g}; values "
                     "checked on that subset\n"
                     f"a scipy loop computing each tau once (5 per data RDM) would take "
                     f"{cached_s:.3g} s extrapolated: ratio {cached_s / ours_s:.3g}\n"
                     f"{data.shape[0]} data RDMs x {len(layers)} layers, {data.shape[1]} pairs; "
                     "numba compile excluded by a warmup call")


CASES = {"compare_kendall_tau_a": tau_a_case, "semipartial_kendall": semipartial_case}
