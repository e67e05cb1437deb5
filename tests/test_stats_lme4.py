"""The mixed models against R: lme4 1.1 (estimates, SEs, variances, likelihoods, isSingular),
lmerTest (Satterthwaite df, p-values) and anova() (likelihood-ratio tests).

R is called once per table through tests/r/lmer_reference.R (bobyqa with rhoend 1e-12, so
that the reference is the optimum itself). R repeats its own variance estimates to ~1e-7
relative between runs, so tolerances are 1e-6; near-zero SDs are compared absolutely.
Skipped, with the reason, where R with lme4/lmerTest/jsonlite is absent (.ci/run installs it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _lme4 import SKIP_REASON, have_lme4, lme4_fits  # noqa: E402
from test_stats import make_table  # noqa: E402

from ieegrsa.stats import compare_models, mixed_model  # noqa: E402

needs_r = pytest.mark.skipif(not have_lme4(), reason=SKIP_REASON)

FORMULA = "value ~ objective + (1 + objective | subject) + (1 | subject:contact)"


def r_table(table, by=("roi", "window_start"), columns=("subject", "contact", "objective")):
    """The rows as R sees them: arctanh values, one fit id per ROI × window."""
    out = table.assign(value=np.arctanh(table["value"]))
    out["fit"] = out[list(by)].astype(str).agg("/".join, axis=1)
    out["inst"] = out["model"].astype(str) + "-" + out["instance"].astype(str)
    return out[["fit", "value", *columns]]


def _theta_in_our_order(ref):
    """R's θ in our order: the patient block (same column-major order), contact, instance."""
    theta = ref["theta"]
    block = [v for k, v in theta.items() if k.startswith("subject.")]
    nested = [v for prefix in ("subject:contact.", "subject:inst.")
              for k, v in theta.items() if k.startswith(prefix)]
    return np.array(block + nested)


def _df_at(table, key, by, reml, theta, sigma):
    """Our Satterthwaite df at lme4's θ and σ, for the rows of one fit."""
    from ieegrsa.stats.formulas import design, random_effects
    from ieegrsa.stats.lmm import _Problem, _satterthwaite

    rows = table
    for column, value in zip(by, key):
        rows = rows[rows[column] == value]
    rows = rows.assign(value=np.arctanh(rows["value"]))
    y, X, _, _ = design("value ~ C(objective)", rows, "subject")
    problem = _Problem(X, y, random_effects(rows, "subject", ("objective",), "auto"), reml)
    cov = sigma**2 * problem.terms(theta)[3][0]
    return _satterthwaite(problem, theta, sigma, cov)


def assert_matches_lme4(result, reference, by=("roi", "window_start"), tol=1e-6, table=None):
    """Compare every fit of a MixedModelResult with lme4/lmerTest; return the max |rel| diffs.

    A singular fit can lie on a ridge of equal criterion (e.g. a patient block whose intercept
    SD is 0 here and 7e-5 σ in R, same slope variance): estimates, SEs and likelihoods agree,
    but lmerTest's df depend on where on the ridge bobyqa stopped. There our df are computed at
    lme4's θ and compared with lmerTest's (needs ``table``, the rows before arctanh)."""
    worst = {}

    def check(name, got, want, rtol=tol, atol=0.0):
        name = f"{name} (singular)" if fit.singular else name
        got, want = np.asarray(got, float), np.asarray(want, float)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"{name} {key}")
        scale = np.maximum(np.abs(want), atol / rtol if rtol else 1.0)
        worst[name] = max(worst.get(name, 0.0), float(np.max(np.abs(got - want) / scale)))

    n = 0
    for key, fit in result.fits.items():
        key = tuple(k for k, c in zip(key, result.table.columns) if c in by)
        fit_id = "/".join(str(k) for k in key)
        ref = reference[fit_id]
        assert "error" not in ref, ref
        # never below lme4's optimum; where above it, lme4's bobyqa stopped at a worse point
        # (seen at all-zero θ on the boundary) and its numbers are no reference
        assert fit.llf >= ref["logLik"] - 1e-7, (fit_id, fit.llf, ref["logLik"])
        if fit.llf > ref["logLik"] + 1e-6:
            worst["lme4 at a worse optimum (fits)"] = worst.get(
                "lme4 at a worse optimum (fits)", 0) + 1
            continue
        fixed = pd.DataFrame(ref["fixed"])
        # at the boundary R's θ often stops at 1e-8 instead of 0 and the df depend on a nearly
        # flat direction of the Hessian: 1e-4 there (1e-5 for se), 1e-6 elsewhere
        loose = 100 * tol if fit.singular else tol
        check("estimate", fit.beta, fixed["estimate"], atol=1e-9)
        mid = 10 * tol if fit.singular else tol
        check("se", fit.se, fixed["se"], rtol=mid)
        r_theta = _theta_in_our_order(ref)
        ridge = fit.singular and np.max(np.abs(r_theta - fit.theta)) > 1e-5
        df = fit.df
        if ridge:
            assert table is not None, f"{fit_id}: a ridge fit needs the table"
            df = _df_at(table, key, by, fit.reml, r_theta, ref["sigma"])
            worst["ridge fits (df at lme4's θ)"] = worst.get(
                "ridge fits (df at lme4's θ)", 0) + 1
        # on a ridge the df are ill-conditioned: lmerTest's own moved by 2.5e-4 between two R
        # runs of the same table, so 1e-2 there
        check("df", df, fixed["df"], rtol=1e-2 if ridge else loose)
        t = fit.beta / fit.se
        check("t", t, fixed["t"], rtol=mid, atol=1e-6)
        from scipy import stats

        check("p", 2 * stats.t.sf(np.abs(t), df), fixed["p"], rtol=1e-2 if ridge else loose,
              atol=1e-9)
        check("loglik", fit.llf, ref["logLik"], atol=1e-7)
        check("sigma", fit.sigma, ref["sigma"])
        assert fit.singular == ref["singular"], (fit_id, fit.theta, ref["theta"])
        # SDs below isSingular's 1e-4 σ are zero for both
        check("sd", *_sds(fit, ref), atol=(1e-4 if ridge else 1e-6) * fit.sigma)
        n += 1
    return n, worst


def _sds(fit, ref):
    """Random-effect SDs of both, matched by component (R's names → ours, by position)."""
    names = [n for n in fit.random_sd if "|" not in n and n != "residual"]
    block = [n for n in names if n.split(":", 1)[1] in ("(Intercept)",) or "[T." in n]
    got, want = [], []
    for row in ref["varcorr"]:
        if row["var2"] is not None or row["grp"] == "Residual":
            continue
        if row["grp"] == "subject":
            r_vars = [r["var1"] for r in ref["varcorr"] if r["grp"] == "subject"
                      and r["var2"] is None]
            ours = block[r_vars.index(row["var1"])]
        else:
            ours = {"subject:contact": "subject:contact", "subject:inst": "subject:instance"}[
                row["grp"]]
        got.append(fit.random_sd[ours])
        want.append(row["sdcor"])
    return got, want


@pytest.fixture(scope="module")
def categorical():
    """The simulator's kind of table: 10 patients, 1-5 contacts per ROI, 11 windows × 2 ROIs,
    identity > expression planted in ventral 0.1-0.3 s; many fits are singular."""
    return make_table(seed=4, layers=("l1",))


@needs_r
def test_default_model_matches_lme4(categorical, capsys):
    result = mixed_model(categorical)
    ref = lme4_fits(r_table(categorical), FORMULA)
    n, worst = assert_matches_lme4(result, ref, table=categorical)
    n_singular = sum(f.singular for f in result.fits.values())
    with capsys.disabled():
        print(f"\nlme4 agreement over {n} fits ({n_singular} singular): "
              + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    assert n == 22 and 0 < n_singular < n  # boundary and interior fits are both covered


@needs_r
def test_three_objectives_and_instances_match_lme4():
    """A 3 × 3 random-slope block and network instances nested in patients, ML."""
    t = make_table(seed=5, n_subjects=7, n_instances=2, starts=[0.1, 0.2], layers=("l1",))
    extra = t[t.objective == "expression"].assign(
        objective="object", model="alexnet",
        value=lambda d: np.tanh(np.arctanh(d["value"]) + np.random.default_rng(0).normal(
            0, 0.05, len(d))))
    t = pd.concat([t, extra], ignore_index=True)
    result = mixed_model(t, reml=False)
    ref = lme4_fits(r_table(t, columns=("subject", "contact", "objective", "inst")),
                    "value ~ objective + (1 + objective | subject) + "
                    "(1 | subject:contact) + (1 | subject:inst)", reml=False,
                    factors=("objective", "subject", "contact", "inst"))
    n, worst = assert_matches_lme4(result, ref, table=t)
    assert n == 4
    print("\n3 objectives, instances, ML: " + ", ".join(f"{k} {v:.1e}" for k, v in
                                                        worst.items()))


@needs_r
def test_likelihood_ratio_tests_match_anova(categorical):
    t = categorical[categorical.window_start.isin([-0.1, 0.1, 0.15, 0.3])]
    out = compare_models(t, "value ~ C(objective) + C(roi)", "value ~ C(objective) * C(roi)",
                         by=("window_start",))
    ref = lme4_fits(r_table(t, by=("window_start",),
                            columns=("subject", "contact", "objective", "roi")),
                    "value ~ objective * roi + (1 + objective | subject) + (1 | subject:contact)",
                    reduced="value ~ objective + roi + (1 + objective | subject) + "
                            "(1 | subject:contact)",
                    factors=("objective", "subject", "contact", "roi"))
    for start, part in out.groupby("window_start"):
        anova = ref[str(start)]["anova"]
        red, full = part.iloc[0], part.iloc[1]
        np.testing.assert_allclose([red.llf, full.llf],
                                   [anova["logLik_reduced"], anova["logLik_full"]], atol=1e-6)
        np.testing.assert_allclose(full.lr_stat, anova["chisq"], atol=2e-6)
        np.testing.assert_allclose(full.p_value, anova["p"], rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose([red.aic, full.aic, red.bic, full.bic],
                                   [anova["AIC_reduced"], anova["AIC_full"],
                                    anova["BIC_reduced"], anova["BIC_full"]], atol=1e-6)
        assert full.df_diff == anova["df"] and full.lr_stat >= 0


def test_analytic_gradient_equals_finite_differences():
    """The optimizer's analytic gradient of the REML and ML criteria (no R needed, but kept
    beside the solver's other checks)."""
    from ieegrsa.stats.formulas import design, random_effects
    from ieegrsa.stats.lmm import _Problem

    t = make_table(n_instances=2)
    rows = t[t.window_start == 0.15].assign(value=lambda d: np.arctanh(d["value"]))
    y, X, _, _ = design("value ~ C(objective) * C(roi)", rows, "subject")
    random = random_effects(rows, "subject", ("objective",), "auto")
    theta = np.array([0.7, -0.3, 0.4, 0.9, 0.2])
    for reml in (True, False):
        problem = _Problem(X, y, random, reml)
        value, grad = problem.criterion_and_gradient(theta)
        assert value == pytest.approx(problem.criterion(theta)[0], rel=1e-12)
        h = 1e-5
        steps = np.eye(theta.size) * h
        f = problem.criterion(np.vstack([theta + 2 * steps, theta + steps, theta - steps,
                                         theta - 2 * steps]))
        f = f.reshape(4, theta.size)
        numeric = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)
