"""Categorical perception along morph continua: identification, logistic fits, discrimination.

The pieces follow the behavioural paradigm (e.g. fear → happy morphs in steps):

- :func:`parse_morph_names` reads the step of each image from its file name
  (``ID-feXX-haYY.png``: XX percent fear, YY percent happy);
- :func:`identification_curve` averages a readout's probability of one category per step;
- :func:`fit_logistic` fits the 2-parameter logistic ``p = 1 / (1 + exp(-(x - boundary) / scale))``
  with scipy ``curve_fit``, with bootstrap confidence intervals over identities. Two parameters,
  not four: a network readout has no lapses or guesses, and 11 steps do not constrain asymptotes;
- :func:`discrimination_curve` measures the distance between the representations of neighbouring
  steps, per identity;
- :func:`categorical_perception_test` asks whether discrimination peaks at the boundary.

The test statistic is model-free: the discrimination of the pair straddling the boundary minus
the mean discrimination of the other pairs, averaged over identities. A Gaussian-peak-vs-flat fit
needs three or more parameters on about nine points per identity and fails on flat curves; the
difference needs no fit. Its null permutes the distances over pair positions independently per
identity, so the smallest attainable p-value with ``G`` identities and ``P`` pairs is about
``P ** -G`` (with a single continuum of 9 pairs, no p below 1/9 is possible).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .._check import check_option
from ..errors import DataError
from ._inputs import as_labels, as_layers

__all__ = [
    "LogisticFit", "CPResult", "parse_morph_names", "identification_curve", "logistic",
    "fit_logistic", "discrimination_curve", "categorical_perception_test",
]

_MORPH_NAME = re.compile(
    r"^(?P<identity>.+?)-fe(?P<fear>\d+(?:\.\d+)?)-ha(?P<happy>\d+(?:\.\d+)?)$", re.IGNORECASE)
_METRICS = ("correlation", "euclidean", "cosine")
AVERAGE = "average"  #: the ``group`` label of rows averaged over groups


def parse_morph_names(paths) -> pd.DataFrame:
    """Identity and morph step of each image named ``ID-feXX-haYY.<ext>``.

    Parameters
    ----------
    paths : sequence of path-like
        Image files, e.g. ``sorted(Path(".../kar2021_morphs/images").glob("*.png"))``.

    Returns
    -------
    pandas.DataFrame
        One row per path, in the given order: ``path``, ``identity``, ``fear`` and ``happy``
        (percent), ``level`` (= ``happy``, percent happy along the fear → happy continuum).
    """
    rows = []
    for path in paths:
        match = _MORPH_NAME.match(Path(path).stem)
        if match is None:
            raise DataError("the file name is not a morph name ID-feXX-haYY", file=path,
                            field="paths", fix="name morph images like SF1-fe30-ha70.png")
        rows.append({"path": str(path), "identity": match["identity"],
                     "fear": float(match["fear"]), "happy": float(match["happy"])})
    if not rows:
        raise DataError("no image paths given", field="paths", found="an empty sequence")
    table = pd.DataFrame(rows)
    table["level"] = table["happy"]
    return table


def identification_curve(probabilities, levels, *, groups=None) -> pd.DataFrame:
    """Mean probability of one category at each step of a continuum.

    Parameters
    ----------
    probabilities : array-like (n_images,)
        The readout's probability (0–1) of the category (e.g. P(happy) / (P(happy) + P(fear))).
    levels : array-like (n_images,)
        The step of each image along the continuum (e.g. percent happy).
    groups : array-like (n_images,) | None
        The continuum (identity) of each image; None = one continuum.

    Returns
    -------
    pandas.DataFrame
        ``group``, ``level``, ``p`` (mean probability), ``sem`` (standard error over the groups'
        means for the ``"average"`` rows; over images within a group otherwise; NaN for one
        value) and ``n`` (images, or groups for ``"average"``). Per-group rows come first, then
        the rows with ``group == "average"``: the mean over groups of the per-group means.
    """
    p, x, g = _curve_inputs(probabilities, levels, groups)
    frame = pd.DataFrame({"group": g, "level": x, "p": p})
    per = (frame.groupby(["group", "level"], sort=False)["p"]
           .agg(p="mean", sem="sem", n="count").reset_index())
    per = per.sort_values(["group", "level"], kind="stable", key=_sort_key)
    mean = per.groupby("level")["p"].agg(p="mean", sem="sem", n="count").reset_index()
    mean.insert(0, "group", AVERAGE)
    return pd.concat([per, mean], ignore_index=True)


def logistic(x, boundary, scale):
    """The 2-parameter logistic ``1 / (1 + exp(-(x - boundary) / scale))`` (``x`` in steps)."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(x, float) - boundary) / scale))


@dataclass(frozen=True)
class LogisticFit:
    """A logistic identification function with bootstrap confidence intervals.

    Attributes
    ----------
    table : pandas.DataFrame
        One row: ``boundary`` (level where p = 0.5) with ``boundary_ci_low``/``_high``;
        ``scale`` (levels); ``slope`` (= 1 / (4 scale), change of p per level at the boundary)
        with ``slope_ci_low``/``_high``; ``boundary_inside`` (strictly between the lowest and
        highest level); ``spearman_rho`` and ``spearman_p`` between level and the mean
        identification curve (levels × mean probability per level, averaged over groups);
        ``rises`` (ρ > 0 with p < 0.05: a monotonic rise in Spearman's sense);
        ``nondecreasing`` (the mean curve never decreases, strictly checked); ``n_levels``,
        ``n_images``, ``n_groups``, ``n_bootstrap``, ``n_failed`` (bootstrap fits that failed).
    boundary, scale : float
        The fitted parameters.
    bootstrap : numpy.ndarray (n_bootstrap, 2)
        Bootstrap (boundary, scale) estimates (NaN where the fit failed).
    ci : float
        The confidence level.
    """

    table: pd.DataFrame
    boundary: float
    scale: float
    bootstrap: np.ndarray
    ci: float = 0.95

    def predict(self, levels) -> np.ndarray:
        """The fitted probability at ``levels``."""
        return logistic(levels, self.boundary, self.scale)


def fit_logistic(levels, p, *, n_bootstrap: int = 1000, seed=0, groups=None,
                 ci: float = 0.95) -> LogisticFit:
    """Fit ``p = 1 / (1 + exp(-(level - boundary) / scale))`` by least squares.

    Parameters
    ----------
    levels : array-like (n,)
        Steps along the continuum (e.g. percent happy).
    p : array-like (n,)
        Identification probabilities (0–1), one per image (or per step).
    n_bootstrap : int
        Bootstrap resamples. With ``groups``, whole groups (identities) are resampled with
        replacement; otherwise single points. Identical resamples are fitted once.
    seed : int | None
        Seed of ``numpy.random.default_rng``.
    groups : array-like (n,) | None
        The continuum (identity) of each point.
    ci : float
        Confidence level of the percentile intervals.

    Returns
    -------
    LogisticFit
    """
    y, x, g = _curve_inputs(p, levels, groups)
    if n_bootstrap < 0:
        raise DataError("n_bootstrap must be ≥ 0", field="n_bootstrap", found=n_bootstrap)
    if not 0 < ci < 1:
        raise DataError("ci must lie strictly between 0 and 1", field="ci", found=ci)
    if np.unique(x).size < 3:
        raise DataError("a logistic fit needs at least three levels", field="levels",
                        found=np.unique(x).size)
    params = _fit(x, y, np.ones_like(x))
    if not np.isfinite(params).all():
        raise DataError("the logistic fit did not converge", field="p",
                        fix="check that the probabilities change along the continuum")
    codes, names = pd.factorize(g)
    units = codes if groups is not None else np.arange(x.size)
    k = units.max() + 1
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(k, np.full(k, 1.0 / k), size=n_bootstrap)
    unique, inverse = np.unique(counts, axis=0, return_inverse=True)
    fits = np.array([_fit(x, y, row[units]) for row in unique]).reshape(-1, 2)
    boot = fits[np.ravel(inverse)] if n_bootstrap else np.empty((0, 2))
    q = 100 * np.array([(1 - ci) / 2, (1 + ci) / 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        b_ci = np.nanpercentile(boot[:, 0], q) if n_bootstrap else [np.nan] * 2
        s_ci = np.nanpercentile(1 / (4 * boot[:, 1]), q) if n_bootstrap else [np.nan] * 2
    curve = pd.DataFrame({"x": x, "y": y, "g": g}).groupby(["g", "x"])["y"].mean()
    curve = curve.groupby("x").mean()
    rho, rho_p = stats.spearmanr(curve.index, curve.to_numpy())
    boundary, scale = (float(v) for v in params)
    table = pd.DataFrame([{
        "boundary": boundary, "boundary_ci_low": b_ci[0], "boundary_ci_high": b_ci[1],
        "scale": scale, "slope": 1 / (4 * scale), "slope_ci_low": s_ci[0],
        "slope_ci_high": s_ci[1], "boundary_inside": bool(x.min() < boundary < x.max()),
        "spearman_rho": float(rho), "spearman_p": float(rho_p),
        "rises": bool(rho > 0 and rho_p < 0.05),
        "nondecreasing": bool(np.all(np.diff(curve.to_numpy()) >= 0)),
        "n_levels": int(curve.size), "n_images": int(x.size), "n_groups": len(names),
        "n_bootstrap": int(n_bootstrap), "n_failed": int(np.isnan(boot[:, 0]).sum()),
    }])
    return LogisticFit(table=table, boundary=boundary, scale=scale, bootstrap=boot, ci=ci)


def _fit(x, y, weights) -> np.ndarray:
    """Weighted least-squares (boundary, scale); NaN when the fit fails."""
    keep = weights > 0
    x, y, w = x[keep], y[keep], weights[keep]
    if np.unique(x).size < 2:
        return np.full(2, np.nan)
    span = np.ptp(x)
    order = np.argsort(x)
    crossing = np.interp(0.5, *(_mean_by(x[order], y[order]))) if y.min() < 0.5 < y.max() \
        else x.mean()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = optimize.curve_fit(
                logistic, x, y, p0=[crossing, span / 10], sigma=1 / np.sqrt(w), maxfev=5000)
    except (RuntimeError, ValueError):
        return np.full(2, np.nan)
    return params


def _mean_by(x, y):
    """Mean of ``y`` per unique ``x``, returned as (y means, x) increasing in y for np.interp."""
    ux, inverse = np.unique(x, return_inverse=True)
    my = np.bincount(inverse, weights=y) / np.bincount(inverse)
    order = np.argsort(my, kind="stable")
    return my[order], ux[order]


def discrimination_curve(features, levels, *, groups=None,
                         metric: str = "correlation") -> pd.DataFrame:
    """Distance between the representations of neighbouring steps of each continuum.

    Parameters
    ----------
    features : mapping of str to array (n_images, n_units) | array (n_images, n_units)
        Layer activations in depth order; a 2-D array is one layer named ``"features"``.
    levels : array-like (n_images,)
        The step of each image.
    groups : array-like (n_images,) | None
        The continuum (identity) of each image; None = one continuum. Images of the same group
        and level are averaged first.
    metric : {"correlation", "euclidean", "cosine"}
        Distance between two patterns: 1 − Pearson r, Euclidean (layer units), or 1 − cosine.
        Angular metrics are not flat along a linear morph between uncorrelated endpoints
        (they peak mid-continuum, where the interpolated pattern is shortest); use
        ``"euclidean"`` to compare against a flat alternative.

    Returns
    -------
    pandas.DataFrame
        ``layer``, ``group``, ``level_low``, ``level_high``, ``midpoint``, ``step``
        (``level_high − level_low``), ``distance``; per-group rows, then ``group == "average"``
        rows (mean over the groups that have that pair, with ``n`` groups).
    """
    check_option("metric", metric, _METRICS)
    layers = as_layers(features)
    n = next(iter(layers.values())).shape[0]
    _, x, g = _curve_inputs(np.zeros(n), levels, groups)
    frame = pd.DataFrame({"group": g, "level": x})
    keys = frame.drop_duplicates().sort_values(["group", "level"], key=_sort_key)
    codes = pd.MultiIndex.from_frame(keys).get_indexer(pd.MultiIndex.from_frame(frame))
    same = keys["group"].to_numpy()[1:] == keys["group"].to_numpy()[:-1]
    low, high = np.flatnonzero(same), np.flatnonzero(same) + 1
    if low.size == 0:
        raise DataError("each continuum needs at least two levels", field="levels",
                        found=f"{keys['level'].nunique()} level(s)")
    counts = np.bincount(codes, minlength=len(keys))
    tables = []
    for name, X in layers.items():
        means = np.zeros((len(keys), X.shape[1]))
        np.add.at(means, codes, X)
        means /= counts[:, None]
        pairs = pd.DataFrame({
            "layer": name, "group": keys["group"].to_numpy()[low],
            "level_low": keys["level"].to_numpy()[low],
            "level_high": keys["level"].to_numpy()[high],
        })
        pairs["midpoint"] = (pairs["level_low"] + pairs["level_high"]) / 2
        pairs["step"] = pairs["level_high"] - pairs["level_low"]
        pairs["distance"] = _paired(means[low], means[high], metric)
        average = (pairs.groupby(["layer", "level_low", "level_high", "midpoint", "step"],
                                 sort=True)["distance"].agg(distance="mean", n="count")
                   .reset_index())
        average.insert(1, "group", AVERAGE)
        tables += [pairs.assign(n=1), average]
    return pd.concat(tables, ignore_index=True)


def _paired(A: np.ndarray, B: np.ndarray, metric: str) -> np.ndarray:
    """Row-wise distance between ``A`` and ``B``."""
    from sklearn.metrics.pairwise import paired_distances

    if metric == "euclidean":
        return paired_distances(A, B, metric="euclidean")
    if metric == "correlation":
        A = A - A.mean(axis=1, keepdims=True)
        B = B - B.mean(axis=1, keepdims=True)
    # sklearn's paired cosine is ||a/|a| - b/|b|||² / 2 = 1 - cos
    return paired_distances(A, B, metric="cosine")


@dataclass(frozen=True)
class CPResult:
    """What :func:`categorical_perception_test` found.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per layer: ``layer``, ``boundary``, ``statistic`` (mean over groups of the
        boundary pair's distance minus the mean distance of the other pairs, in the metric's
        units), ``p_value`` (one-sided, permutation), ``peak_at_boundary`` (statistic > 0 and
        p < alpha), ``argmax_midpoint`` (midpoint of the largest average distance), ``n_pairs``
        (pairs used per group), ``n_groups``, ``n_permutations``.
    null : dict of str to numpy.ndarray
        Per layer, the permutation distribution of the statistic.
    """

    table: pd.DataFrame
    null: dict


def categorical_perception_test(discrimination, boundary, *, n_permutations: int = 10000,
                                seed=0, alpha: float = 0.05,
                                equal_steps: bool = True) -> CPResult:
    """Does discrimination peak at the category boundary?

    Parameters
    ----------
    discrimination : pandas.DataFrame
        The output of :func:`discrimination_curve` (the per-group rows are used; a table
        without ``layer`` is one layer).
    boundary : float | mapping of group to float
        The category boundary on the level axis (e.g. :attr:`LogisticFit.boundary`), one for
        all groups or one per group. The pair(s) with ``level_low ≤ boundary ≤ level_high``
        straddle it (two pairs when it falls on a level; their mean is used).
    n_permutations : int
        Permutations of the distances over pair positions, independently per group.
    seed : int | None
        Seed of ``numpy.random.default_rng``.
    alpha : float
        Level for ``peak_at_boundary``.
    equal_steps : bool
        True: use only the pairs whose step equals the most common step (continua with wider
        end steps, like 0 → 30 → … → 70 → 100, would otherwise peak at the ends).

    Returns
    -------
    CPResult
    """
    if n_permutations < 1:
        raise DataError("n_permutations must be at least 1", field="n_permutations",
                        found=n_permutations)
    needed = {"group", "level_low", "level_high", "midpoint", "step", "distance"}
    if not isinstance(discrimination, pd.DataFrame) or not needed <= set(discrimination):
        raise DataError("discrimination must be the table of discrimination_curve",
                        field="discrimination", fix="pass discrimination_curve(...)")
    table = discrimination[discrimination["group"] != AVERAGE]
    if "layer" not in table:
        table = table.assign(layer="features")
    if equal_steps:
        step = table["step"].round(9).mode().iloc[0]
        table = table[np.isclose(table["step"], step)]
    rng = np.random.default_rng(seed)
    rows, nulls = [], {}
    for layer, part in table.groupby("layer", sort=False):
        wide = part.pivot_table(index="group", columns="midpoint", values="distance",
                                sort=True)
        if wide.isna().any().any() or wide.shape[1] < 3:
            raise DataError("every group needs the same three or more neighbouring pairs",
                            field="discrimination", found=f"layer {layer}: {wide.shape[1]} pairs")
        lows = part.groupby("midpoint")["level_low"].first().loc[wide.columns].to_numpy()
        highs = part.groupby("midpoint")["level_high"].first().loc[wide.columns].to_numpy()
        bounds = np.array([_boundary_of(boundary, gname) for gname in wide.index])
        mask = (lows[None, :] <= bounds[:, None]) & (bounds[:, None] <= highs[None, :])
        if not mask.any(axis=1).all():
            raise DataError("the boundary is outside the pairs tested", field="boundary",
                            found=f"{boundary}; pairs span {lows.min()}–{highs.max()}",
                            fix="pass equal_steps=False, or a boundary inside the continuum")
        D = wide.to_numpy()
        observed = _cp_statistic(D[None], mask)[0]
        perms = rng.permuted(np.broadcast_to(D, (n_permutations, *D.shape)), axis=2)
        null = _cp_statistic(perms, mask)
        p_value = (1 + np.sum(null >= observed - 1e-12)) / (1 + n_permutations)
        average = D.mean(axis=0)
        rows.append({
            "layer": layer, "boundary": float(np.mean(bounds)), "statistic": float(observed),
            "p_value": float(p_value), "peak_at_boundary": bool(observed > 0 and p_value < alpha),
            "argmax_midpoint": float(wide.columns[np.argmax(average)]),
            "n_pairs": D.shape[1], "n_groups": D.shape[0], "n_permutations": n_permutations,
        })
        nulls[layer] = null
    return CPResult(table=pd.DataFrame(rows), null=nulls)


def _cp_statistic(D: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over groups of (mean at the boundary pairs − mean elsewhere); D: (k, groups, pairs)."""
    at = (D * mask).sum(axis=2) / mask.sum(axis=1)
    rest = (D * ~mask).sum(axis=2) / (~mask).sum(axis=1)
    return (at - rest).mean(axis=1)


def _boundary_of(boundary, group) -> float:
    if isinstance(boundary, Mapping):
        if group not in boundary:
            raise DataError("no boundary for this group", field="boundary", found=group)
        return float(boundary[group])
    return float(boundary)


def _curve_inputs(values, levels, groups):
    """Validated (values, levels, groups) arrays of one length."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1:
        raise DataError("expected one value per image (a 1-D array)", field="probabilities",
                        found=f"shape {v.shape}")
    n = v.size
    x = np.asarray(levels, dtype=float)
    if x.shape != (n,):
        raise DataError("levels must have one value per image", field="levels",
                        found=f"shape {x.shape} for {n} images")
    if not (np.isfinite(v).all() and np.isfinite(x).all()):
        raise DataError("probabilities and levels must be finite", field="probabilities")
    g = np.full(n, "all", dtype=object) if groups is None else as_labels(groups, n, "groups")
    if (g == AVERAGE).any():
        raise DataError(f"{AVERAGE!r} is reserved for averaged rows", field="groups",
                        fix="rename that group")
    return v, x, g


def _sort_key(column: pd.Series) -> pd.Series:
    """Sort groups as strings (mixed label types) and levels as numbers."""
    return column.astype(str) if column.dtype == object else column
