"""Helpers shared by the study simulators: argument checks and the noise's space-time structure."""

from __future__ import annotations

import functools

import numpy as np

from ieegrsa._check import check_option
from ieegrsa.errors import DataError

#: The categorical models (stimulus properties) a study's code can follow.
MODELS = ("identity", "expression")


@functools.lru_cache(maxsize=64)
def _spatial_root(n: int, rho: float, spatial: str) -> np.ndarray:
    """Matrix square root ``L`` (``L Lᵀ = C``) of the (n, n) noise correlation along a shaft:
    ``C[k, j] = rho ** |k - j|`` (ar1) or ``rho ** (k - j)²`` (gaussian)."""
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n))).astype(float)
    corr = rho ** (lag if spatial == "ar1" else lag ** 2)
    values, vectors = np.linalg.eigh(corr)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    root.flags.writeable = False  # cached
    return root


def _smoother(n_times: int, sd: float) -> np.ndarray:
    """(n_times + 2 pad, n_times) matrix: white noise @ it = Gaussian-smoothed unit-variance
    noise (identity for ``sd`` = 0)."""
    if sd <= 0:
        return np.eye(n_times)
    pad = int(np.ceil(4 * sd))
    offset = np.arange(n_times + 2 * pad)[:, None] - pad - np.arange(n_times)[None, :]
    kernel = np.exp(-0.5 * (offset / sd) ** 2)
    return kernel / np.sqrt((kernel ** 2).sum(axis=0, keepdims=True))


# -- validation ------------------------------------------------------------------------------
def _check_int(value, name, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise DataError(f"{name} must be an integer ≥ {minimum}", field=name,
                        found=repr(value), fix=f"give an integer ≥ {minimum}")
    return int(value)


def _check_range(value, name, low, high, *, closed_low=True, closed_high=True):
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = np.nan
    above = v >= low if closed_low else v > low
    below = v <= high if closed_high else v < high
    ok = np.isfinite(v) and above and below
    if not ok:
        if high == np.inf:
            interval = f"{'≥' if closed_low else '>'} {low}"
        else:
            left, right = "[" if closed_low else "(", "]" if closed_high else ")"
            interval = f"in {left}{low}, {high}{right}"
        raise DataError(f"{name} must be a finite number {interval}", field=name,
                        found=repr(value), fix=f"give a value {interval}")


def _check_contacts(contacts):
    if isinstance(contacts, (int, np.integer)) and not isinstance(contacts, bool):
        contacts = (contacts, contacts)
    try:
        lo, hi = contacts
    except (TypeError, ValueError):
        lo = hi = None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (lo, hi)) \
            or not 1 <= lo <= hi:
        raise DataError("contacts must be an integer ≥ 1 or a (min, max) pair of them",
                        field="contacts", found=repr(contacts), fix="e.g. contacts=(3, 8)")
    return int(lo), int(hi)


def _check_rois(rois, effect_rois):
    if isinstance(rois, str):
        rois = (rois,)
    rois = [str(r) for r in rois]
    if not rois or len(set(rois)) < len(rois):
        raise DataError("rois must be distinct names", field="rois", found=repr(rois),
                        fix="e.g. rois=('ventral', 'lateral')")
    effect_rois = (effect_rois,) if isinstance(effect_rois, str) else tuple(effect_rois)
    unknown = [r for r in effect_rois if r not in rois]
    if unknown:
        raise DataError("effect_rois must be among rois", field="effect_rois",
                        found=f"{unknown} not in {rois}", fix=f"choose among {rois}")
    return rois, effect_rois


def _check_design(n_patients, seed, n_identities, n_expressions, n_repetitions, effect_model):
    """The study's counts as ints (each with its minimum) and a known ``effect_model``."""
    counts = (_check_int(n_patients, "n_patients", 1), _check_int(seed, "seed", 0),
              _check_int(n_identities, "n_identities", 2),
              _check_int(n_expressions, "n_expressions", 2),
              _check_int(n_repetitions, "n_repetitions", 1))
    check_option("effect_model", effect_model, MODELS)
    return counts
