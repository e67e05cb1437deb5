"""Linear mixed-effects models of similarity across patients, and comparisons between models.

Model
-----
For the rows of one fit (by default one ROI × window), with ``y`` the (Fisher z) similarity,
in lme4's notation

``y ~ formula + (1 + objective | subject) + (1 | subject:contact) + (1 | subject:instance)``:

fixed effects from ``formula`` (patsy, treatment coding); per patient a random intercept and a
random slope of every ``slopes`` column (the objective contrast), with an unstructured
covariance, so the contrast is tested against its variability *between patients* — the unit of
inference; random intercepts of the contacts and of the network instances nested in the
patient (``nested``). Fits are REML (lme4's default) by :mod:`ieegrsa.stats.lmm`, whose numbers
are lme4's and lmerTest's (tested against R).

Tests
-----
Per fixed effect: ``t = β̂ / se`` on ``df`` degrees of freedom, ``p = 2 P(T_df > |t|)``, CI
``β̂ ± t_{df, 1-α/2} se``. ``se_lmm`` and ``df_lmm`` are the model's (Satterthwaite, as
lmerTest) and are used as they are, except where the patient-level block is at the boundary
(``patient_singular``: the random-slope variance estimated at 0, or a correlation of ±1). There
the model has, in effect, dropped the slope and treats each contact as a replicate of the
contrast; with ``se_floor="two-stage"`` (default) the test is then the two-stage one, ``(se_2,
n_2 - 1)``, wherever ``se_2 > se_lmm``: ``se_2`` is the standard error of the mean of the term's
per-patient least-squares estimates over the ``n_2`` patients in which it is estimable (the
summary-statistics approach of Holmes & Friston 1998). ``inference`` says which applied. The
rule was chosen on 300 simulated null studies per patient count (3, 6, 11; signal-level,
contacts sharing noise; benchmarks/calibration.py): family-wise rates over windows 0.013-0.043,
per-window rates 0.037-0.041, against 0.000 and a power of 0.06 (6 patients) for flooring every
fit with df capped at patients - 1. ``p_corrected`` corrects ``p_value`` of one term over all
fits (windows and ROIs) with :func:`statsmodels.stats.multitest.multipletests`.

A fit with fewer than ``min_subjects`` patients keeps its estimates but gets no p-value and the
note "too few patients for a group claim". A fit that cannot be estimated (one patient, a
single level, identical values) is a row with NaN numbers and the reason in ``note``.
Likelihood-ratio tests (:func:`compare_models`) refit both models by ML with the same random
effects; the full model starts from the reduced model's optimum, so ``LR ≥ 0``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._check import check_option
from ..errors import DataError
from .formulas import (
    ModelMatrix,
    check_nested,
    design_rows,
    formula_columns,
    random_effects,
)
from .lmm import SINGULAR_TOL, fit_lmm
from .summaries import WINDOW, prepare_table

__all__ = ["mixed_model", "MixedModelResult", "compare_models", "compare_regressions",
           "too_few_note"]

logger = logging.getLogger("ieegrsa")

BY = ("roi", *WINDOW)

#: Columns of :attr:`MixedModelResult.table` after the ``by`` columns.
RESULT_COLUMNS = ["term", "estimate", "se", "df", "t", "ci_low", "ci_high", "p_value",
                  "p_corrected", "se_lmm", "df_lmm", "se_two_stage", "inference", "singular",
                  "patient_singular", "converged", "gradient_norm", "note", "n_subjects",
                  "n_contacts", "n_obs", "random"]


def too_few_note(n, minimum) -> str:
    """The note of a fit or test with too few patients for a group claim."""
    return f"too few patients for a group claim ({n} < {minimum})"


@dataclass
class MixedModelResult:
    """What :func:`mixed_model` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per fit × fixed-effect term: the ``by`` columns, then
        :data:`RESULT_COLUMNS` (see the module docstring).
    fits : dict
        :class:`ieegrsa.stats.lmm.LMMFit` per fit, keyed by the tuple of ``by`` values
        (``None`` when ``by`` is None); ``None`` for a fit that was not possible.
    formula, groups, transform : str
        As given.
    """

    table: pd.DataFrame
    fits: dict = field(repr=False)
    formula: str
    groups: str
    transform: str


def mixed_model(table, formula="value ~ C(objective)", *, groups="subject",
                slopes=("objective",), nested="auto", by=BY, transform="fisher", reml=True,
                alpha=0.05, correction="fdr_bh", family=(), se_floor="two-stage",
                min_subjects=2) -> MixedModelResult:
    """Fit a linear mixed model of similarity per ROI and window (or once).

    Parameters
    ----------
    table : pandas.DataFrame
        The tidy similarity table (columns used: those of ``formula``, ``groups``, ``by``,
        ``slopes``, ``contact``/``model``/``instance`` for the nested effects, ``value`` and
        ``method``). Filter it first to the rows the model is about (one method, the models of
        interest): rows are not averaged.
    formula : str
        patsy formula of the fixed effects, e.g. ``value ~ C(objective)``.
    groups : str
        Column of the patients.
    slopes : sequence of str
        Columns given a random slope by patient (those varying within patients in a fit's
        rows); ``()`` = random intercepts only.
    nested : "auto" | sequence of str | None
        Random intercepts nested in patients (see
        :func:`ieegrsa.stats.formulas.random_effects`).
    by : sequence of str | None
        Columns whose value combinations are fitted separately (default: ROI × window); None =
        one fit of all rows.
    transform : {"fisher", "none"}
        ``fisher``: ``value ← arctanh(value)`` (correlation-type methods only); ``none``.
    reml : bool
        REML (True) or ML fits.
    alpha : float
        The CI has level ``1 - alpha``.
    correction : str
        ``multipletests`` method (``fdr_bh``, ``bonferroni``, ``holm`` …) applied per term over
        the fits, or ``none``.
    family : sequence of str
        ``by`` columns within which the correction is done separately.
    se_floor : {"two-stage", "none"}
        Whether the patient-level two-stage standard error floors the model's.
    min_subjects : int
        Fits with fewer patients get no p-value ("too few patients for a group claim").

    Returns
    -------
    MixedModelResult

    Raises
    ------
    DataError
        With ``by=None``, when the model cannot be estimated. With ``by``, problems of the whole
        table (a missing column, a formula that does not parse, a single level, one patient)
        raise; per-fit problems become labelled rows; when no fit is possible DataError is
        raised.
    """
    by = _as_list(by)
    slopes = _as_list(slopes)
    data = prepare_table(table, columns=[*formula_columns(formula), groups, *by],
                         transform=transform)
    _check_one_method(data, by)
    if not 0 < alpha < 1:
        raise DataError("alpha must lie in (0, 1)", field="alpha", found=alpha)
    check_option("se_floor", se_floor, ("two-stage", "none"))
    family = _as_list(family)
    if not set(family) <= set(by):
        raise DataError("family must name columns of by", field="family", found=family)
    matrix = ModelMatrix(formula, data)
    reason = design_rows(matrix, np.arange(len(data)), data[groups].to_numpy())[3]
    if reason is not None:  # problems of the whole table are the user's to fix
        raise DataError(f"the model cannot be estimated: {reason}", field="formula",
                        found=formula)
    rows, fits, failed = [], {}, []
    with _one_thread():
        results = [(key, *_fit_rows(matrix, data.iloc[pos], pos, groups, slopes, nested, reml,
                                    alpha, se_floor, min_subjects))
                   for key, pos in _pieces(data, by)]
    for key, fit, out in results:
        if fit is None:
            if not by:
                raise DataError(f"the mixed model cannot be estimated: {out['note'].iloc[0]}",
                                field="formula", found=formula)
            failed.append(out["note"].iloc[0])
        fits[key] = fit
        for col, value in zip(by, key or ()):
            out.insert(by.index(col), col, value)
        rows.append(out)
    if by and len(failed) == len(rows):
        raise DataError(f"the mixed model cannot be estimated in any of the {len(rows)} fits: "
                        f"{failed[0]}", field="formula", found=formula)
    result = pd.concat(rows, ignore_index=True)
    result["p_corrected"] = _correct(result, correction, family)
    result = result[[*by, *RESULT_COLUMNS]]
    n_singular = sum(bool(f.singular) for f in fits.values() if f is not None)
    if n_singular:
        logger.info("mixed model: %d of %d fits are singular (a variance estimated at zero; "
                    "the fits are kept)", n_singular, len(fits))
    return MixedModelResult(result, fits, formula, groups, transform)


def _pieces(data, by):
    """``(key, positions)`` of each fit: the tuple of ``by`` values (None without ``by``)."""
    if not by:
        return [(None, np.arange(len(data)))]
    indices = data.groupby(by, sort=True, observed=True).indices
    return [(key if isinstance(key, tuple) else (key,), pos) for key, pos in indices.items()]


def _fit_rows(matrix, rows, positions, groups, slopes, nested, reml, alpha, se_floor,
              min_subjects):
    """One fit → (LMMFit | None, tidy rows)."""
    terms = matrix.terms
    n_subjects = int(rows[groups].nunique())
    base = {"term": terms, "n_subjects": n_subjects, "n_obs": len(rows),
            "n_contacts": (rows.groupby([groups, "contact"]).ngroups
                           if "contact" in rows.columns else np.nan)}
    y, X, _, reason = design_rows(matrix, positions, rows[groups].to_numpy())
    fit = None
    if reason is None:
        random = random_effects(rows, groups, slopes, nested)
        try:
            fit = fit_lmm(X, y, random, reml=reml)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError) as err:
            reason = f"the fit failed: {err}"
        else:
            if not np.isfinite(fit.deviance):
                fit, reason = None, "the criterion is not finite (the fit is exact)"
    if fit is None:
        nan = np.full(len(terms), np.nan)
        return None, pd.DataFrame({
            **base, **{c: nan for c in ("estimate", "se", "df", "t", "ci_low", "ci_high",
                                        "p_value", "se_lmm", "df_lmm", "se_two_stage",
                                        "gradient_norm")},
            "inference": "none", "singular": False, "patient_singular": False,
            "converged": False,
            "note": f"not estimable: {reason}", "random": "n/a"})
    se2, n2 = _two_stage(X, y, random.group)
    se, df = fit.se.copy(), fit.df.copy()
    inference = np.full(len(terms), "mixed model", dtype=object)
    if se_floor == "two-stage" and fit.patient_singular:
        floor = np.isfinite(se2) & (se2 > se)
        inference[floor] = "two-stage floor"
        se = np.where(floor, se2, se)
        df = np.where(floor, n2 - 1.0, df)
    t = fit.beta / se
    p = 2 * stats.t.sf(np.abs(t), df)
    half = stats.t.ppf(1 - alpha / 2, df) * se
    note = ""
    if n_subjects < min_subjects:
        p = np.full(len(terms), np.nan)
        note = too_few_note(n_subjects, min_subjects)
    elif fit.singular:
        note = "singular: " + _boundary(fit)
    return fit, pd.DataFrame({
        **base, "estimate": fit.beta, "se": se, "df": df, "t": t, "ci_low": fit.beta - half,
        "ci_high": fit.beta + half, "p_value": p, "se_lmm": fit.se, "df_lmm": fit.df,
        "se_two_stage": se2, "inference": inference, "singular": fit.singular,
        "patient_singular": fit.patient_singular,
        "converged": fit.converged, "gradient_norm": fit.gradient_norm, "note": note,
        "random": _describe(random)})


def _boundary(fit):
    """Which random effects lie at the boundary, in words."""
    parts = []
    for name, theta in zip(fit.theta_names, fit.theta):
        if "|" in name or theta >= SINGULAR_TOL:
            continue
        block = name.split(":", 1)[1]
        if block in ("contact", "instance"):
            parts.append(f"{name} variance 0")
        else:
            parts.append("the patient-level covariance is rank-deficient (a variance of 0 or a "
                         "correlation of ±1)")
    return "; ".join(dict.fromkeys(parts))


def _two_stage(X, y, group):
    """Per term: SE of the mean of per-patient least-squares estimates, and their number.

    A patient enters when its rows estimate every coefficient (full column rank)."""
    estimates = []
    for g in np.unique(group):
        rows = group == g
        Xg = X[rows]
        if Xg.shape[0] >= Xg.shape[1] and np.linalg.matrix_rank(Xg) == Xg.shape[1]:
            estimates.append(np.linalg.lstsq(Xg, y[rows], rcond=None)[0])
    n = len(estimates)
    if n < 2:
        return np.full(X.shape[1], np.nan), n
    estimates = np.array(estimates)
    return estimates.std(axis=0, ddof=1) / np.sqrt(n), n


def _describe(random):
    slopes = " + ".join(["1", *random.slope_names[1:]])
    parts = [f"({slopes} | {random.group_name})"]
    parts += [f"(1 | {random.group_name}:{name})" for name in random.nested]
    return " + ".join(parts)


def compare_models(table, formula_reduced, formula_full, *, groups="subject",
                   slopes=("objective",), nested="auto", by=None, transform="fisher"
                   ) -> pd.DataFrame:
    """Likelihood-ratio test, AIC and BIC between two nested mixed models.

    Both models are fitted by maximum likelihood (REML likelihoods of models with different
    fixed effects are not comparable) with the same random effects (decided from the rows, as
    in :func:`mixed_model`). The full model's optimisation starts from lme4's start and from the
    reduced model's optimum (where its criterion cannot exceed the reduced model's), and the
    best is kept, so ``LR ≥ 0`` by construction. The classical-view test, "the same objective
    effect in ventral and lateral" against "a different effect per ROI", is
    ``compare_models(t, "value ~ C(objective) + C(roi)", "value ~ C(objective) * C(roi)",
    by=("window_start", "window_stop"))``.

    Parameters
    ----------
    table : pandas.DataFrame
        The tidy similarity table.
    formula_reduced, formula_full : str
        Fixed effects of the two models; the reduced design must lie in the span of the full.
    groups, slopes, nested, transform
        As in :func:`mixed_model`.
    by : sequence of str | None
        Columns whose value combinations are compared separately (default: one comparison).

    Returns
    -------
    pandas.DataFrame
        Two rows per comparison, ``model`` = ``reduced`` then ``full``: the ``by`` columns,
        ``model``, ``formula``, ``llf`` (ML log-likelihood), ``df`` (parameters: fixed effects,
        ``θ`` and σ, as lme4's ``logLik``), ``aic = -2 llf + 2 df``, ``bic = -2 llf + df
        ln(n_obs)``, ``n_obs``, ``singular``, ``converged``; on the ``full`` row
        ``lr_stat = 2 (llf_full - llf_reduced)``, ``df_diff`` and ``p_value = P(χ²_df_diff ≥
        lr_stat)`` (NaN on the reduced row).

    Raises
    ------
    DataError
        A model cannot be estimated, or the models are not nested.
    """
    by = _as_list(by)
    slopes = _as_list(slopes)
    columns = {*formula_columns(formula_reduced), *formula_columns(formula_full)}
    data = prepare_table(table, columns=[*sorted(columns), groups, *by], transform=transform)
    _check_one_method(data, by)
    matrices = {f: ModelMatrix(f, data) for f in (formula_reduced, formula_full)}
    for f, matrix in matrices.items():
        reason = design_rows(matrix, np.arange(len(data)), data[groups].to_numpy())[3]
        if reason is not None:
            raise DataError(f"the model cannot be estimated: {reason}", field="formula",
                            found=f)
    with _one_thread():
        return _compare(data, matrices, formula_reduced, formula_full, groups, slopes, nested,
                        by)


def _compare(data, matrices, formula_reduced, formula_full, groups, slopes, nested, by):
    out = []
    for key, pos in _pieces(data, by):
        key = key or ()
        part = data.iloc[pos]
        check_nested(matrices[formula_reduced].X[pos], matrices[formula_full].X[pos],
                     (formula_reduced, formula_full))
        random = random_effects(part, groups, slopes, nested)
        fits = []
        for name, f in (("reduced", formula_reduced), ("full", formula_full)):
            y, X, _, reason = design_rows(matrices[f], pos, part[groups].to_numpy())
            if reason is not None:
                where = f" (at {dict(zip(by, key))})" if by else ""
                raise DataError(f"the {name} model cannot be estimated{where}: {reason}",
                                field="formula", found=f)
            start = None if not fits else [random.start, fits[0].theta]
            fit = fit_lmm(X, y, random, reml=False, start=start, satterthwaite=False)
            fits.append(fit)
            out.append({**dict(zip(by, key)), "model": name, "formula": f, "llf": fit.llf,
                        "df": fit.n_params, "aic": fit.deviance + 2 * fit.n_params,
                        "bic": fit.deviance + fit.n_params * np.log(fit.n_obs),
                        "n_obs": fit.n_obs, "singular": fit.singular,
                        "converged": fit.converged})
        # the full fit's criterion is at most the reduced one's up to rounding (≈ 1e-12)
        lr = max(2 * (fits[1].llf - fits[0].llf), 0.0)
        df_diff = fits[1].n_params - fits[0].n_params
        out[-2].update(lr_stat=np.nan, df_diff=np.nan, p_value=np.nan)
        out[-1].update(lr_stat=lr, df_diff=df_diff, p_value=stats.chi2.sf(lr, df_diff))
    return pd.DataFrame(out)


def compare_regressions(table, formula="value ~ C(objective)", *, split="roi",
                        transform="fisher") -> pd.DataFrame:
    """The seed study's comparison: one pooled OLS regression against one per ``split`` level.

    Every row (electrode × model × …) is one observation of an ordinary least-squares
    regression, as in the seed study (patients are not modelled; prefer :func:`compare_models`).
    The *combined* model fits ``formula`` to all rows (same coefficients in every ROI); the
    *separate* model fits it within each level of ``split``. For the separate model the
    log-likelihoods and parameter counts add up and its BIC uses the total number of rows:
    ``BIC = -2 Σ llf_r + (Σ k_r) ln(n)``, with ``k`` = the number of regression coefficients
    (statsmodels' convention, the residual variance not counted).

    Parameters
    ----------
    table : pandas.DataFrame
        The tidy similarity table.
    formula : str
        patsy formula of the regression.
    split : str
        Column whose levels get separate regressions (``roi``).
    transform : {"fisher", "none"}
        As in :func:`mixed_model`.

    Returns
    -------
    pandas.DataFrame
        Rows ``model`` = ``combined``, ``<split>=<level>`` for each level, and ``separate`` (the
        sum); columns ``model``, ``n_obs``, ``llf``, ``df`` (``k``), ``aic``, ``bic``,
        ``delta_bic`` (``bic`` minus the combined model's ``bic``; negative favours the row's
        model) on the ``combined`` and ``separate`` rows.
    """
    import statsmodels.formula.api as smf

    data = prepare_table(table, columns=[*formula_columns(formula), split],
                         transform=transform)
    _check_one_method(data, [])
    levels = sorted(data[split].unique())
    if len(levels) < 2:
        raise DataError(f"separate regressions need at least two levels of {split}",
                        field=split, found=levels)

    def ols(rows):
        fit = smf.ols(formula, rows).fit()
        k = fit.df_model + fit.k_constant
        return {"n_obs": int(fit.nobs), "llf": fit.llf, "df": k, "aic": fit.aic, "bic": fit.bic}

    combined = {"model": "combined", **ols(data)}
    parts = [{"model": f"{split}={level}", **ols(data[data[split] == level])}
             for level in levels]
    n = sum(p["n_obs"] for p in parts)
    llf = sum(p["llf"] for p in parts)
    k = sum(p["df"] for p in parts)
    separate = {"model": "separate", "n_obs": n, "llf": llf, "df": k,
                "aic": -2 * llf + 2 * k, "bic": -2 * llf + k * np.log(n)}
    out = pd.DataFrame([combined, *parts, separate])
    out["delta_bic"] = np.nan
    ends = out["model"].isin(["combined", "separate"])
    out.loc[ends, "delta_bic"] = out.loc[ends, "bic"] - combined["bic"]
    return out


# ---------------------------------------------------------------------------------------------


def _one_thread():
    """BLAS on one thread: the solver's matrices are small, and multithreaded BLAS on them was
    3× slower on 2 cores (threads spinning) than one thread."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _as_list(columns) -> list:
    if columns is None:
        return []
    return [columns] if isinstance(columns, str) else list(columns)


def _check_one_method(data, by):
    if "method" in data.columns and "method" not in by and data["method"].nunique() > 1:
        raise DataError("values of different comparison methods cannot enter one model",
                        field="method", found=sorted(map(str, data["method"].unique())),
                        fix="filter the table to one method, or add 'method' to by")


def _correct(result, correction, family):
    from statsmodels.stats.multitest import multipletests

    p = result["p_value"].to_numpy(dtype=float)
    if correction == "none":
        return p
    out = np.full(p.shape, np.nan)
    for _, idx in result.groupby(["term", *family], sort=False).indices.items():
        ok = idx[~np.isnan(p[idx])]
        if ok.size:
            try:
                out[ok] = multipletests(p[ok], method=correction)[1]
            except ValueError:
                raise DataError("unknown multiple-comparison correction", field="correction",
                                found=correction,
                                fix="use fdr_bh, fdr_by, bonferroni, holm or none") from None
    return out
