"""RDM comparisons against scipy, rsatoolbox, statsmodels and brute-force loops."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import scipy.stats
from scipy.spatial.distance import squareform

from ieegrsa.errors import DataError
from ieegrsa.rsa.comparisons import compare, regress
from ieegrsa.rsa.rdms import RDMs

N_COND = 14
N_PAIRS = N_COND * (N_COND - 1) // 2


def _rdms(rng, n, levels, nan_rows=(), n_nan=6):
    """Rounded random RDMs (many ties), NaN at different pairs in ``nan_rows``."""
    values = np.round(rng.random((n, N_PAIRS)) * levels) / levels
    for row in nan_rows:
        values[row, rng.choice(N_PAIRS, n_nan, replace=False)] = np.nan
    return values


def _valid(*vectors):
    return np.all([~np.isnan(v) for v in vectors], axis=0)


def _per_pair(data, models, fn):
    out = np.empty((len(data), len(models)))
    for i, x in enumerate(data):
        for k, y in enumerate(models):
            ok = _valid(x, y)
            out[i, k] = fn(x[ok], y[ok])
    return out


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("method, reference", [
    ("pearson", lambda x, y: scipy.stats.pearsonr(x, y).statistic),
    ("spearman", lambda x, y: scipy.stats.spearmanr(x, y).statistic),
    ("kendall-tau-b", lambda x, y: scipy.stats.kendalltau(x, y).statistic),
    ("cosine", lambda x, y: x @ y / np.linalg.norm(x) / np.linalg.norm(y)),
])
def test_methods_match_scipy_per_pair_with_ties_and_nans(rng, method, reference):
    data = _rdms(rng, 9, 6, nan_rows=(1, 4, 5))
    models = _rdms(rng, 4, 3, nan_rows=(2,))
    data[6] = np.round(data[6] * 2) / 2  # very coarse: big tie groups
    got = compare(data, models, method)
    assert got.shape == (9, 4)
    np.testing.assert_allclose(got, _per_pair(data, models, reference), rtol=0, atol=1e-12)


def _tau_a_brute(x, y):
    i, j = np.triu_indices(len(x), 1)
    return np.sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])) / len(i)


def test_tau_a_matches_brute_force_and_rsatoolbox(rng):
    from rsatoolbox.rdm import RDMs as RsaRDMs
    from rsatoolbox.rdm import compare as rsa_compare

    data = _rdms(rng, 7, 5, nan_rows=(0, 3))
    models = _rdms(rng, 3, 2, nan_rows=(1,))
    got = compare(data, models, "kendall-tau-a")
    np.testing.assert_allclose(got, _per_pair(data, models, _tau_a_brute), rtol=0, atol=1e-12)
    # rsatoolbox needs one NaN pattern for all RDMs
    gaps = ~_valid(*data, *models)
    data[:, gaps] = np.nan
    models[:, gaps] = np.nan
    expected = rsa_compare(RsaRDMs(data), RsaRDMs(models), method="tau-a")
    np.testing.assert_allclose(compare(data, models, "tau-a"), expected, rtol=0, atol=1e-12)


def test_kendall_exact_on_near_ties_signed_zeros_and_many_blocks(rng):
    """Values equal in their high bits, -0.0 vs 0.0, and > 64 pairs (several bitset blocks)."""
    n = 300
    x = 1.0 + rng.integers(0, 40, n) * np.finfo(float).eps
    y = rng.standard_normal(n)
    z = np.where(rng.random(n) < 0.3, 0.0, rng.integers(-2, 3, n).astype(float))
    z[z == 0] *= np.where(rng.random(np.sum(z == 0)) < 0.5, -1.0, 1.0)
    vectors = np.array([x, y, z, -x, np.round(y, 1)])
    for variant, stat in (("kendall-tau-b", "b"), ("kendall-tau-a", None)):
        got = compare(vectors, vectors, variant)
        ref = np.array([[scipy.stats.kendalltau(a, b).statistic if stat else _tau_a_brute(a, b)
                         for b in vectors] for a in vectors])
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13)


@pytest.mark.parametrize("method", ["corr", "spearman", "cosine", "rho-a", "kendall", "tau-a",
                                    "corr_cov"])
def test_methods_match_rsatoolbox_with_shared_nans(rng, method):
    from rsatoolbox.rdm import RDMs as RsaRDMs
    from rsatoolbox.rdm import compare as rsa_compare

    data = _rdms(rng, 6, 7)
    models = _rdms(rng, 4, 3)
    gap = rng.choice(N_PAIRS, 5, replace=False)
    data[:, gap] = np.nan
    models[:, gap] = np.nan
    expected = rsa_compare(RsaRDMs(data), RsaRDMs(models), method=method)
    np.testing.assert_allclose(compare(data, models, method), expected, rtol=0, atol=1e-12)


def test_real_kriegeskorte92_equals_rsatoolbox(shared_data):
    from rsatoolbox.rdm import RDMs as RsaRDMs
    from rsatoolbox.rdm import compare as rsa_compare

    folder = shared_data / "rdms" / "kriegeskorte92"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")

    def load(name, key):
        structs = scipy.io.loadmat(folder / name, squeeze_me=True,
                                   struct_as_record=False)[key].ravel()
        # stored as float32 / uint8: compare both tools on the same float64 values
        return np.array([squareform(s.RDM, checks=False) for s in structs], dtype=np.float64)

    brain = load("92_brainRDMs.mat", "RDMs")  # human IT, 4 subjects x 2 sessions
    models = load("92_modelRDMs.mat", "Models")  # animacy, ..., monkey IT, HMAX, V1 ...
    assert brain.shape == (8, 4186) and models.shape == (8, 4186)
    conditions = [f"stim{i:02d}" for i in range(92)]
    for ours, theirs in [("pearson", "corr"), ("spearman", "spearman"), ("cosine", "cosine"),
                         ("rho-a", "rho-a"), ("kendall-tau-b", "kendall"),
                         ("kendall-tau-a", "tau-a"), ("corr_cov", "corr_cov")]:
        got = compare(RDMs(brain, conditions), RDMs(models, conditions), ours)
        expected = rsa_compare(RsaRDMs(brain), RsaRDMs(models), method=theirs)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10, err_msg=ours)
    # human IT resembles monkey IT more than it resembles the silhouette model
    rho = compare(brain, models, "spearman").mean(axis=0)
    assert rho[2] > rho[6]


# -- partial and semi-partial -----------------------------------------------------------------

def _kendall_partial_brute(x, y, zs, kind):
    """Seed-study formulas from a Kendall tau-b matrix built with scipy, one pair at a time."""
    vectors = [x, y, *zs]
    ok = _valid(*vectors)
    vectors = [v[ok] for v in vectors]
    size = len(vectors)
    r = np.eye(size)
    for a in range(size):
        for b in range(a + 1, size):
            r[a, b] = r[b, a] = scipy.stats.kendalltau(vectors[a], vectors[b]).statistic
    p = np.linalg.inv(r)
    if kind == "partial":
        return -p[0, 1] / np.sqrt(p[0, 0] * p[1, 1])
    return -p[0, 1] / np.sqrt(p[0, 0] * (p[0, 0] * p[1, 1] - p[0, 1] ** 2))


@pytest.mark.parametrize("kind", ["partial", "semi-partial"])
def test_kendall_partial_previous_layer_matches_brute_force(rng, kind):
    data = _rdms(rng, 6, 9, nan_rows=(2,))
    layers = _rdms(rng, 4, 12, nan_rows=(3,))
    covariates = [None] + [layers[k] for k in range(3)]
    got = compare(data, layers, "kendall-tau-b", covariates=covariates, partial=kind)
    plain = compare(data, layers, "kendall-tau-b")
    np.testing.assert_array_equal(got[:, 0], plain[:, 0])
    for i, x in enumerate(data):
        for k in range(1, 4):
            expected = _kendall_partial_brute(x, layers[k], [layers[k - 1]], kind)
            assert got[i, k] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("kind", ["partial", "semi-partial"])
def test_kendall_partial_two_shared_covariates_matches_brute_force(rng, kind):
    data = _rdms(rng, 4, 9, nan_rows=(0,))
    models = _rdms(rng, 3, 5)
    covs = _rdms(rng, 2, 7, nan_rows=(1,))
    got = compare(data, models, "kendall", covariates=covs, partial=kind)
    for i, x in enumerate(data):
        for k, y in enumerate(models):
            expected = _kendall_partial_brute(x, y, list(covs), kind)
            assert got[i, k] == pytest.approx(expected, abs=1e-12)


def test_one_covariate_formulas_equal_general_formulas(rng):
    data = _rdms(rng, 5, 9)
    models = _rdms(rng, 2, 6)
    cov = _rdms(rng, 1, 4)[0]
    tau = lambda a, b: scipy.stats.kendalltau(a, b).statistic  # noqa: E731
    semi = compare(data, models, "kendall-tau-b", covariates=cov, partial="semi-partial")
    part = compare(data, models, "kendall-tau-b", covariates=cov, partial="partial")
    for i, x in enumerate(data):
        for k, y in enumerate(models):
            txy, txz, tyz = tau(x, y), tau(x, cov), tau(y, cov)
            assert semi[i, k] == pytest.approx((txy - txz * tyz) / np.sqrt(1 - tyz ** 2),
                                               abs=1e-12)
            assert part[i, k] == pytest.approx(
                (txy - txz * tyz) / np.sqrt((1 - txz ** 2) * (1 - tyz ** 2)), abs=1e-12)
            for kind, value in (("partial", part[i, k]), ("semi-partial", semi[i, k])):
                assert value == pytest.approx(_kendall_partial_brute(x, y, [cov], kind),
                                              abs=1e-12)


def _residual(target, predictors):
    design = np.column_stack([np.ones(len(target)), *predictors])
    return target - design @ np.linalg.lstsq(design, target, rcond=None)[0]


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_pearson_spearman_partial_equal_regression_residuals(rng, method):
    data = _rdms(rng, 5, 20, nan_rows=(1,))
    models = _rdms(rng, 3, 8)
    covs = _rdms(rng, 2, 10, nan_rows=(0,))
    part = compare(data, models, method, covariates=covs, partial="partial")
    semi = compare(data, models, method, covariates=covs, partial="semi-partial")
    for i, x in enumerate(data):
        for k, y in enumerate(models):
            ok = _valid(x, y, *covs)
            vs = [x[ok], y[ok], *(c[ok] for c in covs)]
            if method == "spearman":
                vs = [scipy.stats.rankdata(v) for v in vs]
            rx, ry = _residual(vs[0], vs[2:]), _residual(vs[1], vs[2:])
            assert part[i, k] == pytest.approx(np.corrcoef(rx, ry)[0, 1], abs=1e-12)
            assert semi[i, k] == pytest.approx(np.corrcoef(vs[0], ry)[0, 1], abs=1e-12)


def test_pearson_partial_matches_statsmodels(rng):
    sm = pytest.importorskip("statsmodels.api")
    x, y, z = _rdms(rng, 3, 50)
    got = compare(x, y, "pearson", covariates=z, partial="partial")[0, 0]
    rx = sm.OLS(x, sm.add_constant(z)).fit().resid
    ry = sm.OLS(y, sm.add_constant(z)).fit().resid
    assert got == pytest.approx(scipy.stats.pearsonr(rx, ry).statistic, abs=1e-12)


def test_per_model_covariate_array_equals_list(rng):
    data = _rdms(rng, 4, 9)
    models = _rdms(rng, 3, 6)
    covs = _rdms(rng, 6, 5).reshape(3, 2, N_PAIRS)
    as_array = compare(data, models, "spearman", covariates=covs, partial="partial")
    as_list = compare(data, models, "spearman", covariates=list(covs), partial="partial")
    np.testing.assert_array_equal(as_array, as_list)
    one = compare(data, models[1], "spearman", covariates=covs[1], partial="partial")
    np.testing.assert_allclose(one[:, 0], as_array[:, 1], rtol=0, atol=1e-14)


# -- regression -------------------------------------------------------------------------------

def test_regress_matches_statsmodels(rng):
    sm = pytest.importorskip("statsmodels.api")
    data = _rdms(rng, 4, 30, nan_rows=(2,))
    models = _rdms(rng, 3, 5)
    fit = regress(data, models)
    for i, y in enumerate(data):
        ok = ~np.isnan(y)
        full = sm.OLS(y[ok], sm.add_constant(models[:, ok].T)).fit()
        np.testing.assert_allclose(fit.intercept[i], full.params[0], rtol=0, atol=1e-10)
        np.testing.assert_allclose(fit.betas[i], full.params[1:], rtol=0, atol=1e-10)
        assert fit.r2[i] == pytest.approx(full.rsquared, abs=1e-12)
        for j in range(3):
            rest = np.delete(models[:, ok], j, axis=0).T
            reduced = sm.OLS(y[ok], sm.add_constant(rest)).fit()
            assert fit.unique_r2[i, j] == pytest.approx(full.rsquared - reduced.rsquared,
                                                        abs=1e-12)


def test_regress_on_ranks_equals_regress_of_ranks(rng):
    data = _rdms(rng, 3, 6)
    models = _rdms(rng, 2, 4)
    ranked = regress(data, models, rank=True)
    plain = regress(scipy.stats.rankdata(data, axis=1), scipy.stats.rankdata(models, axis=1))
    np.testing.assert_allclose(ranked.betas, plain.betas, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ranked.unique_r2, plain.unique_r2, rtol=0, atol=1e-12)


def test_regress_rejects_collinear_models(rng):
    models = _rdms(rng, 2, 5)
    with pytest.raises(DataError, match="collinear"):
        regress(_rdms(rng, 2, 5), np.vstack([models, models[0] * 2 + 1]))


# -- NaN handling, labels, validation ---------------------------------------------------------

@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall-tau-b", "kendall-tau-a",
                                    "rho-a", "cosine", "corr_cov"])
def test_nan_in_one_rdm_does_not_leak(rng, method):
    data = _rdms(rng, 5, 9)
    models = _rdms(rng, 3, 4)
    before = compare(data, models, method)
    data[2, :7] = np.nan
    models[1, 10:12] = np.nan
    after = compare(data, models, method)
    keep = np.ones((5, 3), bool)
    keep[2] = False
    keep[:, 1] = False
    # equal up to the rounding of a matrix product over a different set of rows
    np.testing.assert_allclose(after[keep], before[keep], rtol=0, atol=1e-15)
    assert not np.allclose(after[2], before[2])


def test_degenerate_pairs_give_nan(rng):
    data = _rdms(rng, 3, 9)
    data[0] = 0.5  # constant
    data[1, 2:] = np.nan  # two pairs left
    models = _rdms(rng, 2, 4)
    for method in ("pearson", "spearman", "kendall-tau-b", "cosine"):
        got = compare(data, models, method)
        assert np.isnan(got[1]).all() and np.isfinite(got[2]).all()
        if method != "cosine":
            assert np.isnan(got[0]).all()


def test_models_align_to_data_by_label(rng):
    conditions = [f"c{i}" for i in range(N_COND)]
    data = RDMs(_rdms(rng, 3, 9), conditions)
    models = RDMs(_rdms(rng, 2, 4), conditions)
    shuffled = models.reorder(list(rng.permutation(conditions)))
    np.testing.assert_allclose(compare(data, shuffled, "kendall"),
                               compare(data, models, "kendall"), rtol=0, atol=1e-15)
    with pytest.raises(DataError, match="different conditions"):
        compare(data, RDMs(models.values, [f"x{i}" for i in range(N_COND)]))


def test_bad_input_raises_data_error(rng):
    data = _rdms(rng, 2, 9)
    with pytest.raises(DataError, match="did you mean 'spearman'"):
        compare(data, data, "spearmann")
    with pytest.raises(DataError, match="same number of pairs"):
        compare(data, _rdms(rng, 2, 9)[:, :78])
    with pytest.raises(DataError, match="n \\(n - 1\\) / 2 values"):
        compare(data[:, :-1], data[:, :-1], "corr_cov")
    # any other method compares plain vectors (the bootstrap passes duplicated pairs)
    short = data[:, :-1]
    expected = [[scipy.stats.pearsonr(a, b).statistic for b in short] for a in short]
    np.testing.assert_allclose(compare(short, short, "pearson"), expected, rtol=1e-12)
    with pytest.raises(DataError, match="needs covariates"):
        compare(data, data, "pearson", partial="partial")
    with pytest.raises(DataError, match="only by a partial"):
        compare(data, data, "pearson", covariates=data[0])
    with pytest.raises(DataError, match="defined for"):
        compare(data, data, "cosine", covariates=data[0], partial="partial")
    with pytest.raises(DataError, match="one entry per model"):
        compare(data, data, "pearson", covariates=[None], partial="partial")


# -- unbiased (cross-validated) distances -----------------------------------------------------
@pytest.mark.parametrize("method, reference", [
    ("pearson", lambda x, y: scipy.stats.pearsonr(x, y).statistic),
    ("spearman", lambda x, y: scipy.stats.spearmanr(x, y).statistic),
    ("kendall-tau-b", lambda x, y: scipy.stats.kendalltau(x, y).statistic),
    ("kendall-tau-a", lambda x, y: _tau_a_brute(x, y)),
    ("cosine", lambda x, y: x @ y / np.linalg.norm(x) / np.linalg.norm(y)),
])
def test_unbiased_distances_compare_and_semi_partial_match_references(rng, method, reference):
    """Crossnobis-type RDMs are ~0 where conditions do not differ, about half negative: the
    comparisons (and the seed study's semi-partial Kendall) are exact on them too."""
    from ieegrsa.rsa.kernels import rdm_movie

    cond = np.tile(np.arange(N_COND), 4)
    X = 0.4 * rng.normal(size=(N_COND, 5, 1))[cond] + rng.normal(size=(len(cond), 5, 6))
    data = rdm_movie(X, cond, "cv-euclidean", cv=np.repeat(np.arange(4), N_COND)).values
    data = np.round(data * 10) / 10  # ties
    data[2, :5] = np.nan
    assert (data < 0).mean() > 0.25
    models = _rdms(rng, 3, 4, nan_rows=(1,)) - 0.5  # signed models too
    got = compare(data, models, method)
    np.testing.assert_allclose(got, _per_pair(data, models, reference), rtol=0, atol=1e-12)
    if method == "kendall-tau-b":
        semi = compare(data, models, method, covariates=[None, models[0], models[1]],
                       partial="semi-partial")
        for i, x in enumerate(data):
            for k in (1, 2):
                expected = _kendall_partial_brute(x, models[k], [models[k - 1]], "semi-partial")
                assert semi[i, k] == pytest.approx(expected, abs=1e-12)
