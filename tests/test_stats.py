"""Group statistics (ieegrsa.stats): mixed models, model comparisons, cluster tests, onsets.

References: statsmodels MixedLM (random-intercept models) / OLS called directly on the same
(arctanh) rows, a paired t test (the two-stage floor), scipy's chi²,
mne's permutation_cluster_1samp_test on patient means computed here by hand, and a brute-force
enumeration of every sign flip.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ieegrsa.errors import DataError
from ieegrsa.stats import (
    cluster_test,
    compare_models,
    compare_regressions,
    mixed_model,
    onset_latency,
    patient_summary,
)

STARTS = np.round(np.arange(-0.1, 0.45, 0.05), 3)
PLANTED = (0.1, 0.15, 0.2)  # ventral windows [start, start + 0.1] inside 0.1-0.3 s


def make_table(seed=0, n_subjects=10, effect=0.15, n_instances=1, sd_subject=0.05,
               sd_contact=0.04, sd_noise=0.06, starts=STARTS, layers=("layer1", "layer2")):
    """Similarity table with identity > expression by ``effect`` (Fisher z) in ventral 0.1-0.3 s.

    Random intercepts per patient and per contact; 1-5 ventral and 0-5 lateral contacts per
    patient (unequal, some patients without lateral contacts); windows of 0.1 s every 0.05 s.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        u = rng.normal(0, sd_subject)
        for roi in ("ventral", "lateral"):
            for c in range(int(rng.integers(1 if roi == "ventral" else 0, 6))):
                v = rng.normal(0, sd_contact)
                for start in starts:
                    on = roi == "ventral" and 0.1 - 1e-9 <= start <= 0.2 + 1e-9
                    for objective, model in (("identity", "vggface"), ("expression", "fer")):
                        shift = effect if on and objective == "identity" else 0.0
                        for inst, layer in itertools.product(range(n_instances), layers):
                            z = 0.1 + u + v + shift + rng.normal(0, sd_noise)
                            rows.append((f"{s + 1:02d}", roi, f"{roi[0]}{c + 1}", start,
                                         round(start + 0.1, 3), model, objective, inst, layer,
                                         "kendall-tau-b", np.tanh(z), np.nan))
    return pd.DataFrame(rows, columns=[
        "subject", "roi", "contact", "window_start", "window_stop", "model", "objective",
        "instance", "layer", "method", "value", "p_value"])


@pytest.fixture(scope="module")
def table():
    return make_table()


@pytest.fixture(scope="module")
def fitted(table):
    return mixed_model(table)


def _direct(rows, formula="value ~ C(objective)", vc=None, reml=True):
    """statsmodels MixedLM on the same arctanh rows: a second reference for random-intercept
    models (statsmodels has no Satterthwaite df; lme4 is the reference in test_stats_lme4.py)."""
    import statsmodels.formula.api as smf

    rows = rows.assign(value=np.arctanh(rows["value"]))
    vc = {"contact": "0 + C(contact)"} if vc is None else vc
    return smf.mixedlm(formula, rows, groups=rows["subject"], re_formula="1",
                       vc_formula=vc).fit(reml=reml, method=["lbfgs"])


# --------------------------------------------------------------------------------------------
# mixed models


def test_random_intercept_model_matches_statsmodels(table):
    rows = table[(table.roi == "ventral") & (table.window_start == 0.15)]
    ref = _direct(rows)
    got = mixed_model(rows, by=None, slopes=(), se_floor="none").table.set_index("term")
    for term in ref.fe_params.index:
        np.testing.assert_allclose(got.loc[term, "estimate"], ref.fe_params[term], rtol=0,
                                   atol=1e-6)
    # (statsmodels' SEs of the fixed effects are not lme4's: compared in test_stats_lme4.py)
    res = mixed_model(rows, by=None, slopes=(), se_floor="none")
    assert res.fits[None].llf == pytest.approx(ref.llf, abs=1e-6)
    assert got["random"].iloc[0] == "(1 | subject) + (1 | subject:contact)"


def test_mixed_model_table(table, fitted):
    got = fitted.table.query("roi == 'ventral' and window_start == 0.15").set_index("term")
    rows = table[(table.roi == "ventral") & (table.window_start == 0.15)]
    assert (got["n_subjects"] == rows.subject.nunique()).all()
    assert (got["n_obs"] == len(rows)).all()
    assert (got["random"] == "(1 + C(objective)[T.identity] | subject) + "
                             "(1 | subject:contact)").all()
    # t, p and CI from the t distribution on df
    np.testing.assert_allclose(got["t"], got["estimate"] / got["se"])
    np.testing.assert_allclose(got["p_value"], 2 * stats.t.sf(np.abs(got["t"]), got["df"]))
    half = stats.t.ppf(0.975, got["df"]) * got["se"]
    np.testing.assert_allclose(got["ci_high"] - got["estimate"], half)
    # the model's own test unless the patient block is at the boundary
    n = rows.subject.nunique()
    floor = got["inference"] == "two-stage floor"
    assert (got.loc[floor, "patient_singular"]).all()
    assert (got.loc[floor, "df"] == n - 1).all()
    np.testing.assert_allclose(got.loc[floor, "se"], got.loc[floor, "se_two_stage"])
    np.testing.assert_allclose(got.loc[~floor, ["se", "df"]].to_numpy(float),
                               got.loc[~floor, ["se_lmm", "df_lmm"]].to_numpy(float))
    every = fitted.table
    assert (every["inference"] == "two-stage floor").any()
    singular = every["patient_singular"].astype(bool)
    assert ((every["inference"] == "mixed model") | singular).all()
    flo = every[every["inference"] == "two-stage floor"]
    np.testing.assert_allclose(flo["se"], np.fmax(flo["se_lmm"], flo["se_two_stage"]))
    # one fit of the same rows without by agrees
    alone = mixed_model(rows, by=None).table.set_index("term")
    np.testing.assert_allclose(alone["estimate"], got["estimate"], rtol=0, atol=1e-10)
    # BH over the 22 windows × ROIs of each term, as statsmodels' multipletests
    from statsmodels.stats.multitest import multipletests

    for _, part in fitted.table.groupby("term"):
        np.testing.assert_allclose(part["p_corrected"],
                                   multipletests(part["p_value"], method="fdr_bh")[1])
    assert list(fitted.table.columns[:11]) == [
        "roi", "window_start", "window_stop", "term", "estimate", "se", "df", "t", "ci_low",
        "ci_high", "p_value"]


def test_two_stage_se_equals_patient_level_t_test(table):
    """With one row per patient × objective the two-stage SE is the paired t test's."""
    rows = table[(table.roi == "ventral") & (table.window_start == 0.15)]
    means = (rows.assign(z=np.arctanh(rows["value"]))
             .groupby(["subject", "objective"])["z"].mean().reset_index())
    res = mixed_model(means.assign(value=np.tanh(means["z"]), contact="all"),
                      by=None).table.set_index("term")
    diff = means.pivot(index="subject", columns="objective", values="z")
    diff = diff["identity"] - diff["expression"]
    ref = stats.ttest_1samp(diff, 0.0)
    term = "C(objective)[T.identity]"
    np.testing.assert_allclose(res.loc[term, "se_two_stage"], diff.std(ddof=1) /
                               np.sqrt(diff.size))
    np.testing.assert_allclose(res.loc[term, "estimate"], diff.mean(), atol=1e-10)
    assert res.loc[term, "df"] == pytest.approx(diff.size - 1, rel=1e-6)
    np.testing.assert_allclose(res.loc[term, "p_value"], ref.pvalue, rtol=1e-6)


def test_mixed_model_finds_planted_effect_only_there(fitted):
    eff = fitted.table[fitted.table.term == "C(objective)[T.identity]"]
    significant = eff[eff.p_corrected < 0.05]
    assert set(zip(significant.roi, significant.window_start)) == {
        ("ventral", s) for s in PLANTED}
    # the planted 0.15 lies within each significant window's 95% CI
    assert ((significant.ci_low < 0.15) & (significant.ci_high > 0.15)).all()
    assert eff.converged.all()


def test_mixed_model_instances_and_options():
    t = make_table(seed=1, n_subjects=6, n_instances=2, starts=[0.1])
    res = mixed_model(t, by=None)
    assert res.table["random"].iloc[0] == (
        "(1 + C(objective)[T.identity] | subject) + (1 | subject:contact) + "
        "(1 | subject:instance)")
    # transform="none" hands the values over unchanged; no nested effects, no slopes
    import statsmodels.formula.api as smf

    raw = mixed_model(t, by=None, transform="none", nested=None, slopes=(), reml=False)
    ref = smf.mixedlm("value ~ C(objective)", t, groups=t["subject"]).fit(reml=False)
    np.testing.assert_allclose(raw.table["estimate"], ref.fe_params, rtol=0, atol=1e-6)
    assert raw.table["random"].iloc[0] == "(1 | subject)"


def test_singular_fit_is_kept_and_labelled():
    t = make_table(seed=2, n_subjects=6, sd_contact=0.0, starts=[0.3])
    res = mixed_model(t, by=None, se_floor="none")
    row = res.table.iloc[1]
    assert bool(row["singular"]) and bool(row["converged"])
    assert np.isfinite(row[["estimate", "se", "df", "p_value"]].astype(float)).all()
    assert "singular" in row["note"]


def test_too_few_patients_give_no_p_value():
    t = make_table(seed=3, n_subjects=3, starts=[0.1, 0.15])
    res = mixed_model(t, min_subjects=5)
    assert res.table["p_value"].isna().all() and res.table["p_corrected"].isna().all()
    assert res.table["note"].str.contains("too few patients for a group claim").all()
    assert res.table["estimate"].notna().all()


def test_mixed_model_errors(table):
    one = table[table.subject == "01"]
    with pytest.raises(DataError, match="only one subject"):
        mixed_model(one)
    with pytest.raises(DataError, match="single level"):
        mixed_model(table[table.objective == "identity"], by=None)
    with pytest.raises(DataError, match="different comparison methods"):
        mixed_model(pd.concat([table, table.assign(method="spearman")]))
    with pytest.raises(DataError, match="Fisher"):
        mixed_model(table.assign(value=1.0))
    with pytest.raises(DataError, match="every value is identical"):
        mixed_model(table.assign(value=0.2))
    with pytest.raises(DataError, match="lacks columns"):
        mixed_model(table.drop(columns="objective"))
    # one window where the contrast is not estimable: marked with the reason, the rest fitted
    drop = (table.window_start == 0.3) & (table.objective == "expression")
    res = mixed_model(table[~drop & (table.roi == "ventral")], by=("window_start",))
    bad = res.table[res.table.window_start == 0.3]
    assert bad["estimate"].isna().all() and not bad["converged"].any()
    assert bad["note"].str.contains("not estimable").all()
    assert bad["note"].str.contains("single level").all()
    assert res.table[res.table.window_start != 0.3]["estimate"].notna().all()
    # a ROI with one patient and NaN values: a labelled row, never a traceback
    lone = table[(table.roi == "lateral") & (table.subject == "02")]
    mixed = pd.concat([table[table.roi == "ventral"], lone])
    mixed.loc[mixed.index[:5], "value"] = np.nan
    res = mixed_model(mixed)
    assert res.table.loc[res.table.roi == "lateral", "note"].str.contains(
        "only one subject").all()


# --------------------------------------------------------------------------------------------
# model comparisons


def test_compare_models_lrt(table):
    rows = table[table.window_start == 0.15]
    out = compare_models(rows, "value ~ C(objective) + C(roi)", "value ~ C(objective) * C(roi)")
    lr = 2 * (out["llf"].iloc[1] - out["llf"].iloc[0])
    assert out["df_diff"].iloc[1] == 1
    np.testing.assert_allclose(out["lr_stat"].iloc[1], lr)
    np.testing.assert_allclose(out["p_value"].iloc[1], stats.chi2.sf(lr, 1), rtol=1e-8)
    np.testing.assert_allclose(out["aic"], -2 * out["llf"] + 2 * out["df"])
    np.testing.assert_allclose(out["bic"], -2 * out["llf"] + out["df"] * np.log(out["n_obs"]))
    assert out["p_value"].iloc[1] < 1e-3  # the effect differs between ventral and lateral
    # LR ≥ 0 in every window, including those without any effect
    per_window = compare_models(table, "value ~ C(objective) + C(roi)",
                                "value ~ C(objective) * C(roi)", by=("window_start",))
    assert (per_window["lr_stat"].dropna() >= 0).all()
    early = per_window[per_window.window_start < 0.1].dropna(subset="p_value")
    assert (early["p_value"] > 0.01).all()
    with pytest.raises(DataError, match="not nested"):
        compare_models(rows, "value ~ C(roi)", "value ~ C(objective)")


def test_compare_regressions_matches_ols(table):
    import statsmodels.formula.api as smf

    rows = table[table.window_start == 0.15].assign(value=lambda d: np.arctanh(d["value"]))
    out = compare_regressions(rows, transform="none").set_index("model")
    comb = smf.ols("value ~ C(objective)", rows).fit()
    parts = [smf.ols("value ~ C(objective)", rows[rows.roi == r]).fit()
             for r in ("lateral", "ventral")]
    np.testing.assert_allclose(out.loc["combined", ["llf", "bic"]], [comb.llf, comb.bic])
    np.testing.assert_allclose(out.loc["roi=ventral", "bic"], parts[1].bic)
    llf = sum(p.llf for p in parts)
    np.testing.assert_allclose(out.loc["separate", "bic"], -2 * llf + 4 * np.log(len(rows)))
    assert out.loc["separate", "delta_bic"] < 0  # separate regressions win with a ventral effect


# --------------------------------------------------------------------------------------------
# cluster tests


def _by_hand_curves(table, roi):
    """identity − expression patient means per window, computed without ieegrsa."""
    t = table[table.roi == roi].assign(z=lambda d: np.arctanh(d["value"]))
    m = t.groupby(["subject", "objective", "window_start"])["z"].mean().unstack("window_start")
    diff = m.xs("identity", level="objective") - m.xs("expression", level="objective")
    return diff.sort_index().sort_index(axis=1)


def test_cluster_test_matches_mne_and_finds_planted_cluster(table):
    from mne.stats import permutation_cluster_1samp_test

    res = cluster_test(table, n_permutations=500, seed=3)
    for roi in ("ventral", "lateral"):
        x = _by_hand_curves(table, roi).to_numpy()
        t_obs, clusters, pv, _ = permutation_cluster_1samp_test(
            x, n_permutations=500, rng=3, out_type="mask", verbose=False)
        clusters = [np.isin(np.arange(x.shape[1]), np.arange(x.shape[1])[c]) for c in clusters]
        win = res.windows[res.windows.roi == roi]
        np.testing.assert_allclose(win["t"], t_obs, rtol=1e-10)
        got = res.clusters[res.clusters.roi == roi]
        assert len(got) == len(clusters)
        order = np.argsort([np.flatnonzero(c)[0] for c in clusters])
        np.testing.assert_allclose(got["p_value"], np.asarray(pv)[order])
        np.testing.assert_allclose(got["statistic"],
                                   [t_obs[clusters[i]].sum() for i in order], rtol=1e-12)
    sig = res.clusters[res.clusters.p_value < 0.05]
    assert sig[["roi", "start", "stop"]].values.tolist() == [["ventral", 0.1, 0.3]]
    assert list(res.clusters.columns[:6]) == ["roi", "contrast", "start", "stop", "statistic",
                                              "p_value"]


def test_cluster_p_values_equal_exact_sign_flip_enumeration():
    # two-sided: mne enumerates the 2**(n-1) sign patterns that differ beyond a global flip
    t = make_table(seed=4, n_subjects=7, effect=0.02, sd_subject=0.01, layers=("l1",))
    res = cluster_test(t, "identity", by="roi", n_permutations=10_000, threshold=3.0)

    def cluster_sums(data):
        n = data.shape[0]
        tval = data.mean(0) / (data.std(0, ddof=1) / np.sqrt(n))
        sums, run, sign = [], 0.0, 0
        for v in [*tval, 0.0]:  # brute force over runs of windows beyond ±threshold
            s = 1 if v > 3.0 else -1 if v < -3.0 else 0
            if s != sign and sign:
                sums.append(run)
                run = 0.0
            run, sign = (run + v, s) if s else (0.0, 0)
        return sums

    for roi in ("ventral", "lateral"):
        x = (t[(t.roi == roi) & (t.objective == "identity")]
             .assign(z=lambda d: np.arctanh(d["value"]))
             .groupby(["subject", "window_start"])["z"].mean().unstack().to_numpy())
        signs = np.array(list(itertools.product([1, -1], repeat=x.shape[0])))
        null = np.array([max(map(abs, cluster_sums(s[:, None] * x)), default=0.0)
                         for s in signs])
        got = res.clusters[res.clusters.roi == roi]
        np.testing.assert_allclose(got["statistic"], cluster_sums(x), rtol=1e-12)
        for stat, p in zip(got["statistic"], got["p_value"]):
            assert p == pytest.approx(np.mean(null >= abs(stat) - 1e-12), abs=1e-12)
    # several clusters with p-values off the floor, so the check has teeth
    assert len(res.clusters) >= 3 and res.clusters["p_value"].nunique() >= 3


def test_onset_latency(table):
    out = onset_latency(table, n_permutations=200, n_bootstrap=30, bootstrap_permutations=100,
                        seed=1).set_index("roi")
    assert out.loc["ventral", "onset"] == pytest.approx(0.1)
    assert out.loc["ventral", "ci_low"] <= 0.1 <= out.loc["ventral", "ci_high"]
    assert out.loc["ventral", "detected"] > 0.9
    assert np.isnan(out.loc["lateral", "onset"])
    again = onset_latency(table, n_permutations=200, n_bootstrap=30, bootstrap_permutations=100,
                          seed=1).set_index("roi")
    pd.testing.assert_frame_equal(out, again)


def test_patient_summary_and_curve_errors(table):
    s = patient_summary(table, back_transform=True)
    ref = (table.assign(z=np.arctanh(table["value"]))
           .groupby(["subject", "roi", "objective", "window_start", "window_stop"])["z"])
    np.testing.assert_allclose(s["mean"], ref.mean().to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(s["n_rows"], ref.size().to_numpy())
    np.testing.assert_allclose(s["mean_r"], np.tanh(s["mean"]))
    assert s.query("subject == '01' and roi == 'ventral'")["n_contacts"].iloc[0] == (
        table.query("subject == '01' and roi == 'ventral'")["contact"].nunique())
    with pytest.raises(DataError, match="absent"):
        cluster_test(table, ("identity", "object"))


# --------------------------------------------------------------------------------------------
# null calibration (slow)


@pytest.mark.slow
def test_false_positive_rate_under_the_null():
    """No planted effect: the rate of p < 0.05 stays near 0.05 over 200 simulated studies."""
    n_sim = 200
    mixed_hits, cluster_hits = 0, 0
    for seed in range(n_sim):
        t = make_table(seed=100 + seed, n_subjects=8, effect=0.0, layers=("l1",),
                       starts=STARTS[:6] if seed % 2 else [0.1])
        ventral = t[(t.roi == "ventral") & (t.window_start == 0.1)]
        p = mixed_model(ventral, by=None).table.set_index("term").loc[
            "C(objective)[T.identity]", "p_value"]
        mixed_hits += p < 0.05
        if seed % 2:
            res = cluster_test(t[t.roi == "ventral"], n_permutations=200, seed=seed)
            cluster_hits += (res.clusters["p_value"] < 0.05).any()
    assert mixed_hits / n_sim <= 0.08
    assert cluster_hits / (n_sim // 2) <= 0.08


# --------------------------------------------------------------------------------------------
# sign-flip check


def test_sign_flip_test_equals_brute_force_enumeration(table):
    from ieegrsa.stats import min_attainable_p, sign_flip_test

    rows = table[table.subject.isin(["01", "02", "03", "04", "05", "06", "07"])]
    res = sign_flip_test(rows, n_permutations=1000, min_subjects=2)
    for roi in ("ventral", "lateral"):
        x = _by_hand_curves(rows, roi).to_numpy()
        got = res[res.roi == roi]
        assert bool(got["exact"].all()) and (got["n_permutations"] == 2 ** x.shape[0]).all()
        t_obs = stats.ttest_1samp(x, 0.0).statistic
        np.testing.assert_allclose(got["t"], t_obs, rtol=1e-10)
        null = np.array([stats.ttest_1samp(x * np.array(s)[:, None], 0.0).statistic
                         for s in itertools.product((1, -1), repeat=x.shape[0])])
        p = (np.abs(null) >= np.abs(t_obs) - 1e-12).mean(axis=0)
        p_fwe = (np.abs(null).max(axis=1)[:, None] >= np.abs(t_obs) - 1e-12).mean(axis=0)
        np.testing.assert_allclose(got["p_value"], p)
        np.testing.assert_allclose(got["p_corrected"], p_fwe)
        assert (got["min_p"] == min_attainable_p(x.shape[0])).all()
    ventral = res[res.roi == "ventral"].set_index("window_start")
    assert (ventral.loc[list(PLANTED), "p_corrected"] < 0.05).all()
    # one-sided, random flips: reproducible with the seed, p ≥ 1 / n_permutations
    a = sign_flip_test(table, n_permutations=200, alternative="greater", seed=3)
    b = sign_flip_test(table, n_permutations=200, alternative="greater", seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a["exact"].any() and (a["p_value"] >= 1 / 200).all()


def test_sign_flip_test_says_when_too_few_patients(table):
    from ieegrsa.stats import min_attainable_p, sign_flip_test

    assert min_attainable_p(4) == 2 / 16 and min_attainable_p(5, alternative="greater") == 1 / 32
    four = table[table.subject.isin(["01", "02", "03", "04"])]
    res = sign_flip_test(four, n_permutations=1000, min_subjects=2)
    assert res["p_value"].isna().all()  # 2 / 16 > 0.05: no p-value that looks like an answer
    assert res["note"].str.contains("too few patients for a group claim").all()
    assert res["note"].str.contains("0.125").all()
    six = table[table.subject.isin([f"0{i}" for i in range(1, 7)])]
    res = sign_flip_test(six, n_permutations=1000, min_subjects=8)
    assert res["p_value"].isna().all() and res["note"].str.contains(r"\d < 8").all()


def test_vectorised_cluster_p_values_equal_mne_and_brute_force():
    """The onset bootstrap's fast cluster test: mne's p-values (two-sided, exact enumeration)
    and a brute-force loop over all 2**n sign patterns (one-sided too: there mne's exact
    enumeration counts the data's own pattern twice and omits the all-flipped one, so it is not
    the reference)."""
    from mne.stats import permutation_cluster_1samp_test

    from ieegrsa.stats.clusters import cluster_p_values, sign_patterns

    def masses(row, thr, tail):
        t = -row if tail == -1 else row
        thr = -thr if tail == -1 else thr
        out, run, sign = [], 0.0, 0
        for v in [*t, 0.0]:
            s = 1 if v > thr else -1 if (tail == 0 and v < -thr) else 0
            if s != sign and sign:
                out.append(run)
                run = 0.0
            run, sign = (run + v, s) if s else (0.0, 0)
        return out

    rng = np.random.default_rng(0)
    effect = np.r_[np.zeros(10), np.ones(8), -np.ones(6), np.zeros(6)] * 0.8
    for tail, thr in ((0, 1.5), (1, 1.2), (-1, -1.2)):
        x = rng.normal(0, 1, (7, 30)) + effect
        signs = sign_patterns(7, 1000, rng)
        assert len(signs) == 128 and (signs[0] == 1).all()
        alternative = {0: "two-sided", 1: "greater", -1: "less"}[tail]
        firsts, p = cluster_p_values(x, thr, signs, alternative)
        n = x.shape[0]
        t = (signs @ x / n) / np.sqrt(((x**2).sum(0) - n * (signs @ x / n) ** 2) / (n - 1) / n)
        null = np.array([max(map(abs, masses(row, thr, tail)), default=0.0) for row in t])
        observed = masses(t[0], thr, tail)
        assert len(observed) == len(p) >= 1
        np.testing.assert_allclose(sorted(p), sorted(np.mean(null >= abs(m) - 1e-12)
                                                     for m in observed), rtol=1e-12)
        if tail == 0:
            _, clusters, pv, _ = permutation_cluster_1samp_test(
                x, threshold=thr, n_permutations=1000, tail=0, out_type="mask", verbose=False)
            starts = [np.arange(30)[c][0] for c in clusters]
            np.testing.assert_allclose(p[np.argsort(firsts)], np.asarray(pv)[np.argsort(starts)],
                                       rtol=1e-12)


def test_group_statistics_refuses_a_formula_naming_absent_columns(table):
    from ieegrsa.config import load_config
    from ieegrsa.errors import ConfigError
    from ieegrsa.stats import group_statistics

    similarity = table.assign(family="categorical", pattern="contact", objective="categorical")
    config = load_config({"stats": {"formula": "value ~ C(objective) + C(hemisphere)"}})
    with pytest.raises(ConfigError, match=r"stats.formula.*hemisphere.*subject"):
        group_statistics(similarity, config)
    config = load_config({"stats": {"min_patients": 5}})
    out = group_statistics(similarity, config)
    assert set(out) >= {"mixedlm", "signflip", "clusters", "onsets", "comparison", "patients"}
    assert out["mixedlm"]["p_value"].notna().any()
