"""Expression-selective units: a two-way ANOVA (expression × identity) on every unit of a layer.

:func:`selective_units` fits, for all units of a layer at once, the two-way ANOVA of the unit's
responses on expression and identity, with matrix algebra over cell indicator matrices (no loop
over units). The design must be balanced (every expression × identity cell holds the same number
of images); unbalanced designs are refused with a :class:`~ieegrsa.errors.DataError`, since
type I, II and III sums of squares then differ and no single answer is right. For a balanced design
the sums of squares below equal statsmodels' ``anova_lm(ols(...), typ=2)``:

- one image per cell: the additive model ``y ~ C(expression) + C(identity)``; the residual is the
  expression × identity interaction, with ``(a - 1)(b - 1)`` degrees of freedom;
- ``r > 1`` images per cell: the full model ``y ~ C(expression) * C(identity)``; the residual is
  the within-cell variation, with ``a b (r - 1)`` degrees of freedom, and the interaction is
  reported beside the main effects.

A unit is *expression-selective* when its expression effect is significant after correction
across the units of its layer and (by default) its identity effect is not significant even
uncorrected — the conservative reading of "identity is not significant". The selectivity index is
the partial η² of expression, ``SS_expression / (SS_expression + SS_residual)`` (unitless, 0–1);
the preferred expression is the one with the highest mean response.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._check import check_option
from ..errors import DataError
from ._inputs import as_labels, as_layers

__all__ = ["UnitResult", "selective_units"]

_CORRECTIONS = ("fdr_bh", "bonferroni", "none")


@dataclass(frozen=True)
class UnitResult:
    """What :func:`selective_units` found.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per layer: ``layer``, ``model`` (``"additive"`` or ``"interaction"``),
        ``n_images``, ``n_expressions``, ``n_identities``, ``replicates`` (images per cell),
        ``n_units``, ``n_tested`` (units whose response varies), ``n_selective``, ``proportion``
        (``n_selective / n_units``), then ``n_<expression>``: selective units preferring each
        expression.
    units : pandas.DataFrame
        One row per layer × unit: ``layer``, ``unit`` (column index in the layer), ``model``,
        ``F_expression``, ``p_expression``, ``p_expression_corrected``, ``F_identity``,
        ``p_identity``, ``p_identity_corrected``, ``F_interaction`` and ``p_interaction`` (NaN for
        the additive model), ``eta2_expression`` (partial η²), ``selective`` and ``preferred``
        (expression with the highest mean response). Units with a constant response have NaN
        statistics and are never selective.
    means : dict of str to pandas.DataFrame
        Per layer, the mean response of each unit (rows) to each expression (columns), in the
        layer's units.
    alpha : float
    correction : str
    """

    table: pd.DataFrame
    units: pd.DataFrame
    means: dict = field(default_factory=dict)
    alpha: float = 0.05
    correction: str = "fdr_bh"


def selective_units(features, expression, identity, *, alpha: float = 0.05,
                    correction: str = "fdr_bh", require_identity_null: bool = True) -> UnitResult:
    """Find expression-selective units in each layer with a two-way ANOVA per unit.

    Parameters
    ----------
    features : mapping of str to array (n_images, n_units) | array (n_images, n_units)
        Layer activations in depth order (as returned by
        :func:`~ieegrsa.models.extract_features`); a 2-D array is one layer named ``"features"``.
    expression, identity : array-like (n_images,)
        The expression and identity label of each image. Every expression × identity cell must
        hold the same number of images (at least one).
    alpha : float
        Significance level (0 < alpha < 1) for both factors.
    correction : {"fdr_bh", "bonferroni", "none"}
        Multiple-comparison correction across the tested units of each layer, applied to the
        expression and the identity p-values separately (statsmodels ``multipletests``).
    require_identity_null : bool
        True: a selective unit must also have an uncorrected identity p-value ≥ ``alpha``.
        False: a significant expression effect suffices.

    Returns
    -------
    UnitResult
        ``.table`` per layer, ``.units`` per layer × unit, ``.means`` per layer.

    Raises
    ------
    DataError
        Labels of the wrong length, fewer than two levels of a factor, an unbalanced design or
        no residual degrees of freedom, an unknown correction or an alpha outside (0, 1).
    """
    if not 0 < alpha < 1:
        raise DataError("alpha must lie strictly between 0 and 1", field="alpha", found=alpha)
    check_option("correction", correction, _CORRECTIONS)
    layers = as_layers(features)
    n_images = next(iter(layers.values())).shape[0]
    design = _Design(expression, identity, n_images)
    unit_tables, rows, means = [], [], {}
    for name, X in layers.items():
        fit = design.anova(X)
        p_e = _correct(fit["p_expression"], correction)
        p_i = _correct(fit["p_identity"], correction)
        significant = np.nan_to_num(p_e, nan=1.0) < alpha
        if require_identity_null:
            significant &= np.nan_to_num(fit["p_identity"], nan=0.0) >= alpha
        preferred = design.expressions[np.argmax(fit["means"], axis=1)]
        units = pd.DataFrame({
            "layer": name, "unit": np.arange(X.shape[1]), "model": design.model,
            "F_expression": fit["F_expression"], "p_expression": fit["p_expression"],
            "p_expression_corrected": p_e,
            "F_identity": fit["F_identity"], "p_identity": fit["p_identity"],
            "p_identity_corrected": p_i,
            "F_interaction": fit["F_interaction"], "p_interaction": fit["p_interaction"],
            "eta2_expression": fit["eta2_expression"],
            "selective": significant, "preferred": preferred,
        })
        unit_tables.append(units)
        means[name] = pd.DataFrame(fit["means"], columns=design.expressions)
        counts = units.loc[units["selective"], "preferred"].value_counts()
        row = {"layer": name, "model": design.model, "n_images": n_images,
               "n_expressions": len(design.expressions), "n_identities": len(design.identities),
               "replicates": design.replicates, "n_units": X.shape[1],
               "n_tested": int(np.isfinite(fit["p_expression"]).sum()),
               "n_selective": int(significant.sum()),
               "proportion": float(significant.mean()) if X.shape[1] else np.nan}
        row.update({f"n_{e}": int(counts.get(e, 0)) for e in design.expressions})
        rows.append(row)
    return UnitResult(table=pd.DataFrame(rows), units=pd.concat(unit_tables, ignore_index=True),
                      means=means, alpha=alpha, correction=correction)


class _Design:
    """A balanced two-way layout: cell indicators, level orders and degrees of freedom."""

    def __init__(self, expression, identity, n_images):
        a_codes, self.expressions = pd.factorize(as_labels(expression, n_images, "expression"))
        b_codes, self.identities = pd.factorize(as_labels(identity, n_images, "identity"))
        self.expressions = np.asarray(self.expressions, dtype=object)
        a, b = len(self.expressions), len(self.identities)
        for name, k in (("expression", a), ("identity", b)):
            if k < 2:
                raise DataError(f"{name} needs at least two levels", field=name, found=k)
        cells = np.bincount(a_codes * b + b_codes, minlength=a * b)
        if cells.min() != cells.max():
            raise DataError(
                "the expression × identity design is unbalanced", field="expression",
                found=f"{cells.min()} to {cells.max()} images per cell",
                fix="keep the same number of images in every expression × identity cell")
        r = int(cells[0])
        self.replicates = r
        self.model = "additive" if r == 1 else "interaction"
        self.a_codes, self.b_codes, self.a, self.b = a_codes, b_codes, a, b
        self.cell_codes = a_codes * b + b_codes
        self.df_a, self.df_b = a - 1, b - 1
        self.df_ab = (a - 1) * (b - 1)
        self.df_res = self.df_ab if r == 1 else a * b * (r - 1)
        if self.df_res < 1:
            raise DataError("no residual degrees of freedom for the ANOVA", field="identity",
                            found=f"{a} expressions × {b} identities × {r} images")

    def anova(self, X: np.ndarray) -> dict:
        """F, p and partial η² of every unit (column) of ``X``."""
        n = X.shape[0]
        grand = X.mean(axis=0)
        Xc = X - grand  # centring first keeps the sums of squares accurate
        mean_a = _group_means(Xc, self.a_codes, self.a)
        mean_b = _group_means(Xc, self.b_codes, self.b)
        ss_a = (n / self.a) * (mean_a ** 2).sum(axis=0)
        ss_b = (n / self.b) * (mean_b ** 2).sum(axis=0)
        ss_total = (Xc ** 2).sum(axis=0)
        if self.replicates == 1:
            ss_res = ss_total - ss_a - ss_b
            f_ab = p_ab = np.full(X.shape[1], np.nan)
        else:
            cell = _group_means(Xc, self.cell_codes, self.a * self.b)
            ss_res = ((Xc - cell[self.cell_codes]) ** 2).sum(axis=0)
            ss_ab = ss_total - ss_a - ss_b - ss_res
            f_ab, p_ab = None, None
        scale = np.maximum(ss_total, np.finfo(float).tiny)
        ss_res = np.where(ss_res <= 1e-12 * scale, 0.0, ss_res)
        ms_res = ss_res / self.df_res
        # a unit whose responses are all equal (up to rounding) has no test
        tested = (ss_total > 0) & (ss_total > n * (1e-10 * np.abs(grand)) ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            f_a = np.where(tested, (ss_a / self.df_a) / ms_res, np.nan)
            f_b = np.where(tested, (ss_b / self.df_b) / ms_res, np.nan)
            if f_ab is None:
                f_ab = np.where(tested, (ss_ab / self.df_ab) / ms_res, np.nan)
                p_ab = stats.f.sf(f_ab, self.df_ab, self.df_res)
            eta2 = np.where(tested, ss_a / (ss_a + ss_res), np.nan)
        return {
            "F_expression": f_a, "p_expression": stats.f.sf(f_a, self.df_a, self.df_res),
            "F_identity": f_b, "p_identity": stats.f.sf(f_b, self.df_b, self.df_res),
            "F_interaction": f_ab, "p_interaction": p_ab, "eta2_expression": eta2,
            "means": (mean_a + grand).T,
        }


def _group_means(X: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Mean of the rows of ``X`` per code (k × n_units), with one sparse-free matrix product."""
    indicator = np.zeros((k, X.shape[0]))
    indicator[codes, np.arange(X.shape[0])] = 1.0
    return (indicator @ X) / indicator.sum(axis=1, keepdims=True)


def _correct(p: np.ndarray, correction: str) -> np.ndarray:
    """Correct the finite p-values of ``p`` across units; NaN stays NaN."""
    from statsmodels.stats.multitest import multipletests

    out = np.full_like(p, np.nan, dtype=float)
    ok = np.isfinite(p)
    if correction == "none" or not ok.any():
        out[ok] = p[ok]
        return out
    out[ok] = multipletests(p[ok], method=correction)[1]
    return out
