"""Linear mixed-effects models of similarity across patients, and comparisons between models.

Model
-----
For the rows of one fit (by default one ROI × window), with ``y`` the (Fisher z) similarity,

``y = X β + u_patient + Σ_k v_k[patient, level] + ε``,

``u_patient ~ N(0, σ²_patient)`` a random intercept per patient (``groups``), ``v_k`` the variance
components nested in the patient (``vc``: by default one intercept per contact of the patient,
and one per network instance where several instances exist), ``ε ~ N(0, σ²)``. ``X β`` are the
fixed effects of ``formula`` (patsy). This is :class:`statsmodels.regression.mixed_linear_model.
MixedLM` with ``groups`` and ``vc_formula``; the values handed to statsmodels are the table's
values after ``transform`` only, so a direct statsmodels call on the same rows gives the same
numbers.

Tests
-----
Wald tests per fixed effect: ``z = β̂ / se``, ``p = 2 Φ(-|z|)``, CI ``β̂ ± z_{1-α/2} se`` (as
statsmodels). ``p_corrected`` corrects the p-values of one term over all fits (windows and ROIs)
with :func:`statsmodels.stats.multitest.multipletests` (``family`` names by-columns within
which to correct separately). Likelihood-ratio tests between nested models
(:func:`compare_models`) refit both by maximum likelihood: ``LR = 2 (ℓ_full - ℓ_reduced)`` against
``χ²`` with the difference in the number of parameters. :func:`compare_regressions` reproduces
the seed study's BIC comparison of one pooled ordinary regression against separate regressions
per ROI.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError
from .summaries import WINDOW, prepare_table

__all__ = ["mixed_model", "MixedModelResult", "compare_models", "compare_regressions"]

logger = logging.getLogger("ieegrsa")

BY = ("roi", *WINDOW)
_AUTO_VC = {"contact": "0 + C(contact)", "instance": "0 + C(instance)"}


@dataclass
class MixedModelResult:
    """What :func:`mixed_model` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per fit × fixed-effect term: the ``by`` columns, ``term``, ``estimate``, ``se``,
        ``ci_low``, ``ci_high``, ``z``, ``p_value``, ``p_corrected``, ``converged``, ``warning``
        (the warnings of the fit, or why the fit was not possible; empty when none),
        ``n_subjects``, ``n_obs`` and ``random`` (the random effects used, e.g.
        ``subject + contact``).
    fits : dict
        ``statsmodels`` ``MixedLMResults`` per fit, keyed by the tuple of ``by`` values (``None``
        when ``by`` is None); ``None`` for a fit that was not possible.
    formula, groups : str
        As given.
    transform : str
        The transform applied to ``value`` before fitting.
    """

    table: pd.DataFrame
    fits: dict = field(repr=False)
    formula: str
    groups: str
    transform: str


def mixed_model(table, formula="value ~ C(objective)", *, groups="subject", vc="auto", by=BY,
                transform="fisher", reml=True, alpha=0.05, correction="fdr_bh", family=(),
                method=None) -> MixedModelResult:
    """Fit a linear mixed model of similarity per ROI and window (or once).

    Parameters
    ----------
    table : pandas.DataFrame
        The tidy similarity table (columns used: those of ``formula``, ``groups``, ``by``, the
        variance components', ``value`` and ``method``). Filter it first to the rows the model
        is about (e.g. one method, the networks of interest): rows are not averaged.
    formula : str
        patsy formula of the fixed effects, e.g. ``value ~ C(objective, Treatment('expression'))
        * C(roi)`` (with ``by=("window_start", "window_stop")``).
    groups : str
        Column of the random-intercept groups (patients).
    vc : "auto" | dict | None
        Variance components nested in the groups, ``{name: patsy formula}`` as
        ``vc_formula`` of statsmodels. ``auto``: ``{"contact": "0 + C(contact)"}`` when a patient
        has several contacts in the fit's rows, plus ``{"instance": "0 + C(instance)"}`` when it
        has several network instances; decided per fit. ``None``: random intercepts only.
    by : sequence of str | None
        Columns whose value combinations are fitted separately (default: ROI × window); None =
        one fit of all rows.
    transform : {"fisher", "none"}
        ``fisher``: ``value ← arctanh(value)`` (correlation-type methods only); ``none``.
    reml : bool
        Restricted maximum likelihood (True) or maximum likelihood.
    alpha : float
        The CI has level ``1 - alpha``.
    correction : str
        ``multipletests`` method (``fdr_bh``, ``bonferroni``, ``holm`` …) applied per term over
        the fits, or ``none``.
    family : sequence of str
        ``by`` columns within which the correction is done separately (e.g. ``("roi",)``);
        default: one family per term over every fit.
    method : str | list | None
        Optimizer(s) of ``MixedLM.fit`` (None = statsmodels' default).

    Returns
    -------
    MixedModelResult

    Raises
    ------
    DataError
        With ``by=None``, when the model cannot be estimated: fewer than 2 patients, a term of
        the formula with a single level, collinear fixed effects, or a failed fit. With ``by``,
        those reasons are checked on the whole table first (raise) and then per fit: a fit that
        is not possible gets NaN estimates, ``converged=False`` and the reason in ``warning``;
        only when every fit fails is DataError raised.
    """
    by = _as_list(by)
    vc_columns = _vc_columns(vc)
    formula_columns = _formula_columns(formula)
    data = prepare_table(table, columns=[*formula_columns, groups, *by, *vc_columns],
                         transform=transform)
    _check_one_method(data, by)
    if not 0 < alpha < 1:
        raise DataError("alpha must lie in (0, 1)", field="alpha", found=alpha)
    family = _as_list(family)
    if not set(family) <= set(by):
        raise DataError("family must name columns of by", field="family", found=family)
    # Problems of the whole table are the user's to fix, not a per-window note.
    terms = _design_or_raise(formula, data, groups)
    rows, fits, reasons, n_warn = [], {}, [], 0
    pieces = [(None, data)] if not by else data.groupby(by, sort=True, observed=True)
    for key, rows_k in pieces:
        key = None if not by else (key if isinstance(key, tuple) else (key,))
        fit, out, reason = _fit_one(formula, rows_k, groups, vc, reml, alpha, method, terms)
        if reason is not None:
            if not by:
                raise DataError(f"the mixed model cannot be estimated: {reason}",
                                field="formula", found=formula)
            reasons.append(reason)
        n_warn += bool(out["warning"].iloc[0])
        fits[key] = fit
        if by:
            for col, value in zip(by, key):
                out.insert(by.index(col), col, value)
        rows.append(out)
    if by and len(reasons) == len(rows):
        raise DataError(f"the mixed model cannot be estimated in any of the {len(rows)} fits: "
                        f"{reasons[0]}", field="formula", found=formula)
    result = pd.concat(rows, ignore_index=True)
    result["p_corrected"] = _correct(result, correction, family)
    order = [*by, "term", "estimate", "se", "ci_low", "ci_high", "z", "p_value", "p_corrected",
             "converged", "warning", "n_subjects", "n_obs", "random"]
    result = result[order]
    if n_warn:
        logger.warning("mixed model: %d of %d fits reported warnings or could not be fitted "
                       "(see the 'warning' column)", n_warn, len(fits))
    return MixedModelResult(result, fits, formula, groups, transform)


def compare_models(table, formula_reduced, formula_full, *, groups="subject", vc="auto", by=None,
                   transform="fisher", method=None) -> pd.DataFrame:
    """Likelihood-ratio test, AIC and BIC between two nested mixed models.

    Both models are fitted by maximum likelihood (``reml=False``; REML likelihoods of models
    with different fixed effects are not comparable) with the same random effects. The
    classical-view test, "same objective effect in ventral and lateral" against "a different
    effect per ROI", is ``compare_models(t, "value ~ C(objective) + C(roi)",
    "value ~ C(objective) * C(roi)", by=("window_start", "window_stop"))``.

    Parameters
    ----------
    table : pandas.DataFrame
        The tidy similarity table.
    formula_reduced, formula_full : str
        Fixed effects of the two models; the reduced model's design must lie in the span of the
        full one's.
    groups, vc, transform, method
        As in :func:`mixed_model` (``vc="auto"`` is decided once per fit, from the rows, for
        both models).
    by : sequence of str | None
        Columns whose value combinations are compared separately (default: one comparison).

    Returns
    -------
    pandas.DataFrame
        Two rows per comparison, ``model`` = ``reduced`` then ``full``: the ``by`` columns,
        ``model``, ``formula``, ``llf`` (ML log-likelihood), ``df`` (number of parameters: fixed
        effects, random-effect variances and the residual variance), ``aic = -2 llf + 2 df``,
        ``bic = -2 llf + df ln(n_obs)`` (as statsmodels), ``n_obs``, ``converged``, ``warning``;
        and on the ``full`` row ``lr_stat = 2 (llf_full - llf_reduced)``, ``df_diff`` and
        ``p_value = P(χ²_df_diff ≥ lr_stat)`` (NaN on the reduced row).

    Raises
    ------
    DataError
        A model cannot be estimated, or the models are not nested.
    """
    by = _as_list(by)
    columns = {*_formula_columns(formula_reduced), *_formula_columns(formula_full)}
    data = prepare_table(table, columns=[*sorted(columns), groups, *by, *_vc_columns(vc)],
                         transform=transform)
    _check_one_method(data, by)
    terms = {f: _design_or_raise(f, data, groups) for f in (formula_reduced, formula_full)}
    out = []
    pieces = [(None, data)] if not by else data.groupby(by, sort=True, observed=True)
    for key, rows_k in pieces:
        _check_nested(formula_reduced, formula_full, rows_k)
        vc_k = _resolve_vc(vc, rows_k, groups)
        fits = []
        for name, f in (("reduced", formula_reduced), ("full", formula_full)):
            fit, res, reason = _fit_one(f, rows_k, groups, vc_k, False, 0.05, method, terms[f])
            if reason is not None:
                where = "" if not by else f" (at {dict(zip(by, np.atleast_1d(key)))})"
                raise DataError(f"the {name} model cannot be estimated{where}: {reason}",
                                field="formula", found=f)
            fits.append(fit)
            row = {"model": name, "formula": f, "llf": fit.llf, "df": fit.params.size + 1,
                   "aic": fit.aic, "bic": fit.bic, "n_obs": int(fit.nobs),
                   "converged": bool(res["converged"].iloc[0]), "warning": res["warning"].iloc[0]}
            if by:
                row = {**dict(zip(by, key if isinstance(key, tuple) else (key,))), **row}
            out.append(row)
        lr = 2 * (fits[1].llf - fits[0].llf)
        df_diff = out[-1]["df"] - out[-2]["df"]
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

    data = prepare_table(table, columns=[*_formula_columns(formula), split],
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


def _as_list(columns) -> list:
    if columns is None:
        return []
    return [columns] if isinstance(columns, str) else list(columns)


def _formula_columns(formula) -> list:
    """Data columns a patsy formula reads (its variables that are not patsy/numpy names)."""
    import patsy

    if not isinstance(formula, str) or "~" not in formula:
        raise DataError("the formula must be a patsy formula 'value ~ ...'", field="formula",
                        found=formula)
    try:
        desc = patsy.ModelDesc.from_formula(formula)
    except patsy.PatsyError as err:
        raise DataError(f"the formula does not parse: {err}", field="formula",
                        found=formula) from None
    names = set()
    for term in desc.lhs_termlist + desc.rhs_termlist:
        for factor in term.factors:
            code = factor.code
            names.update(_identifiers(code))
    known = {"C", "Treatment", "Sum", "Diff", "Helmert", "Poly", "np", "I", "center",
             "standardize", "scale", "bs", "cr", "cc", "te", "Q", "log", "exp", "levels",
             "reference"}
    return sorted(n for n in names if n not in known)


def _identifiers(code: str) -> set:
    import ast

    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:
        return {code}
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    # Q("odd name") refers to a column by string
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "Q" and node.args
                and isinstance(node.args[0], ast.Constant)):
            names.add(node.args[0].value)
    return names


def _vc_columns(vc) -> list:
    if vc == "auto":
        return []  # contact / instance are used when present
    if vc is None:
        return []
    if not isinstance(vc, dict):
        raise DataError("vc must be 'auto', None or a dict {name: formula}", field="vc",
                        found=vc)
    return sorted({c for f in vc.values() for c in _formula_columns(f"y ~ {f}")} - {"y"})


def _check_one_method(data, by):
    if "method" in data.columns and "method" not in by and data["method"].nunique() > 1:
        raise DataError("values of different comparison methods cannot enter one model",
                        field="method", found=sorted(map(str, data["method"].unique())),
                        fix="filter the table to one method, or add 'method' to by")


def _resolve_vc(vc, rows, groups):
    if vc != "auto":
        return vc or None
    out = {}
    for name, f in _AUTO_VC.items():
        if name in rows.columns and rows.groupby(groups, observed=True)[name].nunique().max() > 1:
            out[name] = f
    return out or None


def _design(formula, rows, groups):
    """Fixed-effect terms, or the reason the formula cannot be estimated on these rows."""
    import patsy

    n_groups = rows[groups].nunique()
    if n_groups < 2:
        found = ", ".join(map(str, rows[groups].unique()))
        return None, (f"only one {groups} ({found}): a random intercept per {groups} needs at "
                      f"least two")
    try:
        _, x = patsy.dmatrices(formula, rows, return_type="dataframe", NA_action="raise")
    except patsy.PatsyError as err:
        return None, f"the formula cannot be evaluated on the table: {err}".replace("\n", " ")
    info = x.design_info
    for term, cols in info.term_slices.items():
        if term.factors and cols.stop == cols.start:
            name = term.name()
            return None, f"term {name} has a single level in these rows, so no contrast"
    if x.shape[0] <= x.shape[1]:
        return None, f"{x.shape[0]} rows for {x.shape[1]} fixed effects"
    rank = np.linalg.matrix_rank(x.to_numpy())
    if rank < x.shape[1]:
        return None, (f"the fixed effects are collinear ({x.shape[1]} columns, rank {rank}): "
                      "some combination of the formula's levels is absent or confounded")
    return list(x.columns), None


def _design_or_raise(formula, data, groups):
    terms, reason = _design(formula, data, groups)
    if reason is not None:
        raise DataError(f"the model cannot be estimated: {reason}", field="formula",
                        found=formula)
    return terms


def _fit_one(formula, rows, groups, vc, reml, alpha, method, terms):
    """One MixedLM fit → (fit | None, tidy rows, reason | None)."""
    import statsmodels.formula.api as smf

    vc_used = _resolve_vc(vc, rows, groups)
    random = " + ".join([groups, *(vc_used or {})])
    base = {"n_subjects": rows[groups].nunique(), "n_obs": len(rows), "random": random}
    _, reason = _design(formula, rows, groups)
    fit = None
    if reason is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                # re_formula="1" explicitly: with vc_formula alone statsmodels drops the
                # random intercept of the groups
                model = smf.mixedlm(formula, rows, groups=rows[groups], re_formula="1",
                                    vc_formula=vc_used)
                fit = model.fit(reml=reml, method=method)
            except (np.linalg.LinAlgError, ValueError) as err:
                reason = f"the fit failed: {err}"
    if fit is None:
        out = pd.DataFrame({"term": terms, "estimate": np.nan, "se": np.nan, "ci_low": np.nan,
                            "ci_high": np.nan, "z": np.nan, "p_value": np.nan,
                            "converged": False, "warning": reason, **base})
        return None, out, reason
    messages = [_explain(str(w.message).replace("\n", " "), fit, groups) for w in caught]
    messages = list(dict.fromkeys(messages))
    # fit.converged is the last optimizer's verdict (earlier attempts may have failed first)
    failed = any("not positive definite" in m for m in messages)
    fe = fit.fe_params
    ci = fit.conf_int(alpha=alpha).loc[fe.index]
    se = fit.bse_fe.loc[fe.index]
    out = pd.DataFrame({
        "term": fe.index, "estimate": fe.to_numpy(), "se": se.to_numpy(),
        "ci_low": ci.iloc[:, 0].to_numpy(), "ci_high": ci.iloc[:, 1].to_numpy(),
        "z": (fe / se).to_numpy(), "p_value": fit.pvalues.loc[fe.index].to_numpy(),
        "converged": bool(fit.converged) and not failed, "warning": "; ".join(messages),
        **base})
    return fit, out, None


def _explain(message, fit, groups):
    # statsmodels flags variances below an absolute 0.01, which Fisher z similarities (of order
    # 0.01-0.1) often are: give the estimates so that the reader can judge.
    if "boundary" not in message:
        return message
    parts = [f"{groups} {float(np.diag(fit.cov_re)[0]):.3g}"] if fit.cov_re.size else []
    parts += [f"{name} {v:.3g}" for name, v in zip(fit.model.exog_vc.names, fit.vcomp)]
    parts.append(f"residual {fit.scale:.3g}")
    return f"{message.rstrip('.')} (statsmodels flags variances < 0.01; here {', '.join(parts)})"


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


def _check_nested(reduced, full, rows):
    import patsy

    xs = [patsy.dmatrices(f, rows, return_type="matrix")[1] for f in (reduced, full)]
    both = np.hstack(xs)
    if np.linalg.matrix_rank(both) > np.linalg.matrix_rank(xs[1]):
        raise DataError("the models are not nested: the reduced design is not within the "
                        "span of the full one", field="formula", found=[reduced, full],
                        fix="the full formula must contain every term of the reduced one")
