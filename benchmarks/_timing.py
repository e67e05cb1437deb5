"""Timing and reporting helpers shared by the benchmark cases."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def median_time(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> tuple[float, object]:
    """Median wall time of ``fn()`` in seconds over ``repeat`` runs, after ``warmup`` untimed runs.

    Returns the median and the result of the last run (so the caller can check agreement).
    """
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def max_abs_diff(a, b) -> float:
    """Largest absolute difference between two arrays, NaN where both are NaN counting as equal."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise AssertionError(f"shapes differ: {a.shape} vs {b.shape}")
    both_nan = np.isnan(a) & np.isnan(b)
    if np.any(np.isnan(a) ^ np.isnan(b)):
        return float("inf")
    diff = np.abs(a - b)[~both_nan]
    return float(diff.max()) if diff.size else 0.0
