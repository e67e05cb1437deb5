"""Validation of the probing analyses' inputs: layer features and per-image labels."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["as_layers", "as_labels", "label_codes"]


def as_layers(features) -> dict:
    """``features`` as ``{layer: float64 array (n_images, n_units)}``, validated.

    A 2-D array becomes one layer named ``"features"``; higher-dimensional layers are flattened
    per image.
    """
    if isinstance(features, Mapping):
        items = list(features.items())
    else:
        items = [("features", features)]
    if not items:
        raise DataError("no layers given", field="features", found="an empty mapping",
                        fix="pass {layer: array (n_images, n_units)} or a 2-D array")
    layers, n = {}, None
    for name, values in items:
        X = np.asarray(values, dtype=float)
        if X.ndim == 1 or X.ndim == 0:
            raise DataError("a layer must be a 2-D array (n_images, n_units)",
                            field=f"features[{name!r}]", found=f"shape {X.shape}")
        X = X.reshape(X.shape[0], -1)
        if n is not None and X.shape[0] != n:
            raise DataError("all layers must have the same number of images",
                            field=f"features[{name!r}]", found=f"{X.shape[0]} rows, not {n}")
        if not np.isfinite(X).all():
            raise DataError("features contain NaN or infinite values",
                            field=f"features[{name!r}]", found=f"{(~np.isfinite(X)).sum()} values",
                            fix="remove those images or units first")
        n = X.shape[0]
        layers[str(name)] = X
    return layers


def as_labels(values, n_images: int, name: str) -> np.ndarray:
    """A 1-D object array of ``n_images`` labels, validated."""
    labels = np.asarray(values, dtype=object)
    if labels.ndim != 1 or labels.shape[0] != n_images:
        raise DataError(f"{name} must have one label per image", field=name,
                        found=f"shape {labels.shape} for {n_images} images")
    if pd.isna(labels).any():
        raise DataError(f"{name} has missing labels", field=name,
                        found=f"{int(pd.isna(labels).sum())} missing")
    return labels


def label_codes(values, n_images: int, name: str) -> tuple[np.ndarray, list]:
    """Integer codes (order of first appearance) and the class list of a 1-D label vector."""
    codes, classes = pd.factorize(pd.Series(as_labels(values, n_images, name)), sort=False)
    return codes.astype(np.intp), list(classes)
