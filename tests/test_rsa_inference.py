"""Noise ceilings, permutation tests and condition bootstraps against independent references.

References: rsatoolbox ``boot_noise_ceiling`` and ``subsample_pattern``; scipy's spearmanr,
pearsonr and kendalltau on square matrices that are literally permuted or resampled; plain loops
for the max-statistic and cluster-mass nulls.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import io, stats
from scipy.spatial.distance import squareform

from ieegrsa.errors import DataError
from ieegrsa.rsa import RDMs
from ieegrsa.rsa.bootstrap import bootstrap_conditions
from ieegrsa.rsa.ceilings import noise_ceiling, split_half_ceiling, split_half_rdms
from ieegrsa.rsa.permutation import (
    condition_permutations,
    pair_permutations,
    permutation_test,
)

METHODS = ["spearman", "pearson", "cosine", "rho-a", "kendall-tau-a", "kendall-tau-b"]
FAST = ["spearman", "pearson", "cosine", "rho-a"]
RSATOOLBOX_NAME = {"spearman": "spearman", "pearson": "corr", "cosine": "cosine",
                   "rho-a": "rho-a", "kendall-tau-a": "tau-a", "kendall-tau-b": "kendall"}
TOL = 1e-12


def brute_sim(x, y, method):
    """One similarity on the pairs present in both vectors, from scipy or the textbook formula."""
    ok = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[ok], y[ok]
    if method == "spearman":
        return stats.spearmanr(x, y).statistic
    if method == "pearson":
        return stats.pearsonr(x, y).statistic
    if method == "cosine":
        return x @ y / np.sqrt((x @ x) * (y @ y))
    if method == "rho-a":
        rx, ry = stats.rankdata(x), stats.rankdata(y)
        n = len(x)
        return 12 * (rx - rx.mean()) @ (ry - ry.mean()) / (n**3 - n)
    if method == "kendall-tau-b":
        return stats.kendalltau(x, y).statistic
    signs = np.sign(x[:, None] - x[None]) * np.sign(y[:, None] - y[None])
    return signs[np.triu_indices(len(x), 1)].sum() / (len(x) * (len(x) - 1) / 2)


def labels(n):
    return [f"c{i}" for i in range(n)]


# -- data ------------------------------------------------------------------------------------
N_COND, N_SUBJ, N_WIN = 9, 3, 8


def unbiased_values(rng, n_rdms, n_reps=4, n_features=6):
    """Cross-validated Euclidean RDMs (rdm_movie, leave-one-repetition-out) of noise plus a
    weak condition pattern: unbiased, so many are negative; rounded for ties."""
    from ieegrsa.rsa.kernels import rdm_movie

    cond = np.tile(np.arange(N_COND), n_reps)
    patterns = 0.3 * rng.normal(size=(N_COND, n_features, 1))
    X = patterns[cond] + rng.normal(size=(len(cond), n_features, n_rdms))
    values = rdm_movie(X, cond, "cv-euclidean", cv=np.repeat(np.arange(n_reps), N_COND)).values
    return np.round(values * 8) / 8


@pytest.fixture(scope="module", params=["rounded", "unbiased"])
def data(request):
    """3 subjects × 8 windows, tied values, NaN: subject 0 lacks condition 2, one odd pair.

    ``unbiased``: cross-validated distances (about half negative), so that every test of the
    permutation, cluster, ceiling and bootstrap machinery also runs on them.
    """
    rng = np.random.default_rng(7)
    n_pairs = N_COND * (N_COND - 1) // 2
    if request.param == "unbiased":
        values = unbiased_values(rng, N_SUBJ * N_WIN)
        assert (values < 0).mean() > 0.2
    else:
        values = np.round(rng.random((N_SUBJ * N_WIN, n_pairs)) * 6)
    rows, cols = np.triu_indices(N_COND, 1)
    values[:N_WIN, (rows == 2) | (cols == 2)] = np.nan
    values[N_WIN + 3, 5] = np.nan
    descriptors = pd.DataFrame({"subject": np.repeat([f"s{i}" for i in range(N_SUBJ)], N_WIN),
                                "window_start": np.tile(np.arange(N_WIN) * 0.1, N_SUBJ)})
    return RDMs(values, labels(N_COND), descriptors)


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(8)
    n_pairs = N_COND * (N_COND - 1) // 2
    values = np.round(rng.random((2, n_pairs)) * 3)
    return RDMs(values, labels(N_COND), pd.DataFrame({"model": ["m1", "m2"]}))


def brute_null(data, models, permutations, method):
    """Group statistic per permutation: permute each square data RDM, recompute with scipy."""
    square = data.square()
    square[np.isnan(square)] = np.nan
    out = np.empty((len(permutations), N_WIN, len(models)))
    for b, perm in enumerate(permutations):
        sims = np.empty((data.n_rdms, len(models)))
        for r in range(data.n_rdms):
            permuted = squareform(square[r][np.ix_(perm, perm)], checks=False)
            sims[r] = [brute_sim(permuted, y, method) for y in models.values]
        out[b] = sims.reshape(N_SUBJ, N_WIN, -1).mean(axis=0)
    return out


def brute_p(null, observed):
    return (1 + (null >= observed - TOL).sum(axis=0)) / (1 + len(null))


def brute_clusters(T, threshold):
    """Masses of runs of T > threshold along axis 0, by a plain loop: [(first, last, mass)]."""
    runs, start = [], None
    for w, t in enumerate(list(T) + [-np.inf]):
        above = w < len(T) and t > threshold[w]
        if above and start is None:
            start = w
        if not above and start is not None:
            runs.append((start, w - 1, float(np.sum(T[start:w]))))
            start = None
    return runs


# -- noise ceiling ---------------------------------------------------------------------------
def rsatoolbox_ceiling(values, subjects, method):
    import rsatoolbox
    from rsatoolbox.inference import boot_noise_ceiling

    rdms = rsatoolbox.rdm.RDMs(values, rdm_descriptors={"subject": list(subjects)})
    with warnings.catch_warnings():  # "noise ceiling for tau based on averaged ranks"
        warnings.simplefilter("ignore")
        return boot_noise_ceiling(rdms, method=RSATOOLBOX_NAME[method], rdm_descriptor="subject")


@pytest.mark.parametrize("method", METHODS)
def test_noise_ceiling_matches_rsatoolbox_with_ties_and_nan(method):
    rng = np.random.default_rng(3)
    values = np.round(rng.random((7, 45)) * 4)  # many ties
    values[:, [3, 20, 21]] = np.nan  # rsatoolbox needs one NaN pattern for all RDMs
    subjects = ["a", "a", "b", "c", "c", "d", "e"]  # some subjects with two sessions
    table = noise_ceiling(RDMs(values, range(10), pd.DataFrame({"subject": subjects})), method)
    lower, upper = rsatoolbox_ceiling(values, subjects, method)
    assert table.loc[0, "lower"] == pytest.approx(lower, abs=1e-10)
    assert table.loc[0, "upper"] == pytest.approx(upper, abs=1e-10)
    assert table.loc[0, "n_subjects"] == 5 and table.loc[0, "n_rdms"] == 7


@pytest.fixture(scope="module")
def kriegeskorte(shared_data):
    path = shared_data / "rdms/kriegeskorte92/92_brainRDMs.mat"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    mat = io.loadmat(path, squeeze_me=True, struct_as_record=False)
    entries = np.ravel(mat["RDMs"])  # 4 subjects × 2 sessions, names "hIT | BE | Session: 1"
    square = np.stack([e.RDM for e in entries])
    subjects = [e.name.split("|")[1].strip() for e in entries]
    return RDMs.from_square(square, range(92), pd.DataFrame({"subject": subjects}))


@pytest.mark.parametrize("method", ["spearman", "pearson", "cosine", "rho-a", "kendall-tau-a"])
def test_noise_ceiling_matches_rsatoolbox_on_kriegeskorte_human_it(kriegeskorte, method):
    assert kriegeskorte.n_rdms == 8 and kriegeskorte.descriptors["subject"].nunique() == 4
    table = noise_ceiling(kriegeskorte, method)
    lower, upper = rsatoolbox_ceiling(kriegeskorte.values, kriegeskorte.descriptors["subject"],
                                      method)
    assert table.loc[0, "lower"] == pytest.approx(lower, abs=1e-10)
    assert table.loc[0, "upper"] == pytest.approx(upper, abs=1e-10)
    assert 0 < table.loc[0, "lower"] < table.loc[0, "upper"] < 1


def test_noise_ceiling_groups_and_subject_specific_nan_match_a_loop(data):
    """Per-window ceilings in one call equal a loop that pools NaN-aware ranks by hand."""
    table = noise_ceiling(data, "spearman", by="window_start")
    assert list(table["window_start"]) == sorted(data.descriptors["window_start"].unique())
    for _, row in table.iterrows():
        window = data.subset(window_start=row["window_start"])
        ranks = stats.rankdata(window.values, axis=1, nan_policy="omit")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pool = np.nanmean(ranks, axis=0)
            upper = np.mean([brute_sim(v, pool, "spearman") for v in window.values])
            lower = np.mean([brute_sim(v, np.nanmean(np.delete(ranks, k, axis=0), axis=0),
                                       "spearman") for k, v in enumerate(window.values)])
        assert row["upper"] == pytest.approx(upper, abs=1e-12)
        assert row["lower"] == pytest.approx(lower, abs=1e-12)
        assert row["n_subjects"] == N_SUBJ


def test_noise_ceiling_single_subject_has_no_lower_bound():
    table = noise_ceiling(RDMs(np.random.default_rng(0).random((2, 10)), range(5),
                               pd.DataFrame({"subject": ["a", "a"]})))
    assert np.isnan(table.loc[0, "lower"]) and np.isfinite(table.loc[0, "upper"])
    with pytest.raises(DataError, match="unknown comparison method"):
        noise_ceiling(np.ones((2, 10)), "euclid")


# -- split half ------------------------------------------------------------------------------
def test_split_half_spearman_brown_matches_scipy_loop():
    rng = np.random.default_rng(4)
    truth = rng.random(28)
    desc = pd.DataFrame({"contact": np.repeat(["A1", "A2", "B1"], 4),
                         "window_start": np.tile([0.0, 0.1, 0.2, 0.3], 3)})
    a = np.round(truth + rng.random((12, 28)), 1)
    b = np.round(truth + rng.random((12, 28)), 1)
    a[2, 5] = np.nan
    order = rng.permutation(12)  # half b arrives in another row and condition order
    half_a = RDMs(a, labels(8), desc)
    half_b = RDMs(b[order], labels(8), desc.loc[order]).reorder(labels(8)[::-1])
    table = split_half_ceiling(half_a, half_b, "spearman")
    for k in range(12):
        r = brute_sim(a[k], b[k], "spearman")
        assert table.loc[k, "r_half"] == pytest.approx(r, abs=1e-12)
        assert table.loc[k, "r_full"] == pytest.approx(2 * r / (1 + r), abs=1e-12)
    assert list(table["contact"]) == list(desc["contact"])


def test_split_half_rdms_builds_both_halves_over_one_condition_order():
    from ieegrsa.rsa.kernels import rdm_movie

    rng = np.random.default_rng(5)
    cond = np.tile(["b", "a", "c", "d"], 6)
    repetition = np.repeat(np.arange(6), 4)
    X = rng.normal(size=(24, 5, 3))
    half_a, half_b = split_half_rdms(X, cond, repetition % 2)
    assert list(half_a.conditions) == list(half_b.conditions) == ["b", "a", "c", "d"]
    odd = repetition % 2 == 1
    expected = rdm_movie(X[odd], cond[odd], conditions=["b", "a", "c", "d"])
    np.testing.assert_allclose(half_b.values, expected.values, rtol=0, atol=1e-14)
    table = split_half_ceiling(half_a, half_b, "pearson")
    assert len(table) == 3 and np.isfinite(table["r_full"]).all()
    with pytest.raises(DataError, match="exactly two values"):
        split_half_rdms(X, cond, repetition % 3)


# -- permutation test ------------------------------------------------------------------------
def test_pair_permutations_reindex_the_square_matrix():
    rng = np.random.default_rng(0)
    square = squareform(rng.random(21))
    perms = condition_permutations(7, 5, seed=1)
    maps = pair_permutations(perms)
    for perm, idx in zip(perms, maps):
        np.testing.assert_array_equal(squareform(square)[idx],
                                      squareform(square[np.ix_(perm, perm)]))


@pytest.mark.parametrize("method", FAST)
def test_permutation_null_and_p_values_match_brute_force(data, models, method):
    n = 30
    res = permutation_test(data, models, method, n, seed=11, cluster_threshold=0.05)
    null = brute_null(data, models, res.permutations, method)
    observed = brute_null(data, models, np.arange(N_COND)[None], method)[0]
    np.testing.assert_allclose(res.null, null, rtol=0, atol=TOL)
    np.testing.assert_allclose(res.observed, observed, rtol=0, atol=TOL)
    np.testing.assert_allclose(res.table["p_value"], brute_p(null, observed).ravel(), atol=TOL)
    fwe = brute_p(null.max(axis=1)[:, None, :], observed)
    np.testing.assert_allclose(res.table["p_fwe"], fwe.ravel(), atol=TOL)


def test_spearman_p_values_with_many_permutations_match_scipy(data, models):
    """The headline check: 150 permutations, scipy.stats.spearmanr on permuted squares."""
    res = permutation_test(data, models, "spearman", 150, seed=2)
    null = brute_null(data, models, condition_permutations(N_COND, 150, seed=2), "spearman")
    np.testing.assert_allclose(res.null, null, rtol=0, atol=TOL)
    np.testing.assert_allclose(res.table["p_value"],
                               brute_p(null, res.observed).ravel(), rtol=0, atol=TOL)


@pytest.mark.parametrize("tail", ["greater", "less", "two-sided"])
def test_cluster_mass_null_matches_a_loop(data, models, tail):
    res = permutation_test(data, models, "spearman", 40, seed=5, alternative=tail)
    T = {"greater": lambda x: x, "less": lambda x: -x, "two-sided": np.abs}[tail]
    Tn, To = T(res.null), T(res.observed)
    threshold = np.nanquantile(Tn, 0.95, axis=0)
    assert (res.table["p_value"].to_numpy() == brute_p(Tn, To).ravel()).all()
    for m, name in enumerate(["m1", "m2"]):
        null_max = [max([mass for *_, mass in brute_clusters(Tn[b, :, m], threshold[:, m])],
                        default=0.0) for b in range(len(Tn))]
        np.testing.assert_allclose(res.cluster_null[:, 0, m], null_max, rtol=0, atol=TOL)
        found = res.clusters[res.clusters["model"] == name]
        expected = brute_clusters(To[:, m], threshold[:, m])
        assert len(found) == len(expected)
        for (first, last, mass), (_, row) in zip(expected, found.iterrows()):
            assert row["start"] == pytest.approx(0.1 * first)
            assert row["n_windows"] == last - first + 1
            assert row["mass"] == pytest.approx(mass, abs=TOL)
            p = (1 + np.sum(np.array(null_max) >= mass - TOL)) / (1 + len(Tn))
            assert row["p_value"] == pytest.approx(p, abs=TOL)


def test_families_have_their_own_max_statistic(data, models):
    """Two ROIs (groups): the max over windows is taken within each ROI only."""
    both = RDMs(np.concatenate([data.values, data.values[:, ::-1]]), data.conditions,
                pd.concat([data.descriptors.assign(roi="ventral"),
                           data.descriptors.assign(roi="lateral")], ignore_index=True))
    res = permutation_test(both, models, "pearson", 25, seed=1, groups="roi")
    assert list(res.cells["roi"].unique()) == ["lateral", "ventral"]
    for roi in ("lateral", "ventral"):
        cells = np.flatnonzero(res.cells["roi"] == roi)
        null, obs = res.null[:, cells], res.observed[cells]
        rows = res.table["roi"] == roi
        np.testing.assert_allclose(res.table.loc[rows, "p_fwe"],
                                   brute_p(null.max(axis=1)[:, None], obs).ravel(), atol=TOL)
    with pytest.raises(DataError, match="share one subject and cell"):
        permutation_test(both, models, "pearson", 5)


@pytest.mark.parametrize("method", ["kendall-tau-b", "kendall-tau-a"])
def test_kendall_falls_back_to_compare(data, models, method):
    res = permutation_test(data, models, method, 8, seed=3)
    null = brute_null(data, models, res.permutations, method)
    np.testing.assert_allclose(res.null, null, rtol=0, atol=TOL)


def test_models_with_nan_use_the_general_path(data, models):
    values = models.values.copy()
    values[0, 4] = np.nan
    holed = RDMs(values, models.conditions, models.descriptors)
    res = permutation_test(data, holed, "spearman", 10, seed=4)
    null = brute_null(data, holed, res.permutations, "spearman")
    np.testing.assert_allclose(res.null, null, rtol=0, atol=TOL)


def test_seeded_reproducibility(data, models):
    a = permutation_test(data, models, "spearman", 20, seed=9)
    b = permutation_test(data, models, "spearman", 20, seed=9)
    c = permutation_test(data, models, "spearman", 20, seed=10)
    np.testing.assert_array_equal(a.null, b.null)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not np.array_equal(a.permutations, c.permutations)


def test_null_p_values_are_roughly_uniform():
    rng = np.random.default_rng(12)
    n_win = 300
    data = RDMs(rng.random((n_win, 28)), labels(8),
                pd.DataFrame({"window_start": np.arange(n_win)}))
    model = RDMs(rng.random(28), labels(8))
    p = permutation_test(data, model, "pearson", 99, seed=0).table["p_value"]
    assert 0.42 < p.mean() < 0.58
    assert (p <= 0.05).mean() < 0.1
    assert stats.kstest(p, "uniform").pvalue > 1e-3


def test_planted_effect_is_found_where_planted():
    rng = np.random.default_rng(13)
    n_cond, n_win = 12, 20
    model = rng.random(n_cond * (n_cond - 1) // 2)
    values = rng.random((3, n_win, len(model)))
    values[:, 8:13] += 0.5 * model
    data = RDMs(values.reshape(3 * n_win, -1), labels(n_cond),
                pd.DataFrame({"subject": np.repeat([1, 2, 3], n_win),
                              "window_start": np.tile(np.arange(n_win) * 0.05, 3),
                              "window_stop": np.tile(np.arange(n_win) * 0.05 + 0.1, 3)}))
    res = permutation_test(data, RDMs(model, labels(n_cond)), "spearman", 199, seed=0)
    planted = res.table["window_start"].between(0.39, 0.61)
    assert (res.table.loc[planted, "p_value"] == 1 / 200).all()
    assert (res.table.loc[planted, "p_fwe"] < 0.05).all()
    significant = res.clusters[res.clusters["p_value"] < 0.05]
    assert len(significant) == 1
    assert significant.iloc[0]["start"] == pytest.approx(0.4)
    assert significant.iloc[0]["stop"] == pytest.approx(0.7)
    assert (res.table.loc[~planted, "p_fwe"] > 0.05).all()


def test_bad_arguments(data, models):
    with pytest.raises(DataError, match="unknown method"):
        permutation_test(data, models, "euclid")
    with pytest.raises(DataError, match="unknown tail"):
        permutation_test(data, models, tail="both")
    with pytest.raises(DataError, match="no such descriptor"):
        permutation_test(data, models, windows="time")
    with pytest.raises(DataError, match="different conditions"):
        permutation_test(data, RDMs(models.values, list("abcdefghi")))


# -- bootstrap -------------------------------------------------------------------------------
def brute_bootstrap(data, models, draws, method):
    """Resample conditions, drop self pairs, recompute with scipy (rsatoolbox's semantics)."""
    square, model_square = data.square(), models.square()
    out = np.empty((len(draws), N_WIN, len(models)))
    for b, draw in enumerate(draws):
        i, j = np.triu_indices(len(draw), 1)
        a, c = draw[i], draw[j]
        keep = a != c
        d, m = square[:, a[keep], c[keep]], model_square[:, a[keep], c[keep]]
        sims = [[brute_sim(x, y, method) for y in m] for x in d]
        out[b] = np.reshape(sims, (N_SUBJ, N_WIN, -1)).mean(axis=0)
    return out


@pytest.mark.parametrize("method", FAST)
def test_bootstrap_samples_and_ci_match_a_loop(data, models, method):
    res = bootstrap_conditions(data, models, method, 25, seed=6, ci=0.9)
    samples = brute_bootstrap(data, models, res.conditions, method)
    np.testing.assert_allclose(res.samples, samples, rtol=0, atol=TOL)
    low, high = np.nanquantile(samples, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(res.table["ci_low"], low.ravel(), atol=TOL)
    np.testing.assert_allclose(res.table["ci_high"], high.ravel(), atol=TOL)
    assert (res.table["ci_low"] <= res.table["ci_high"]).all()


def test_bootstrap_sample_is_rsatoolbox_subsample_pattern(models):
    """A draw gives the statistic rsatoolbox computes on subsample_pattern(draw)."""
    import rsatoolbox

    rng = np.random.default_rng(1)
    values = np.round(rng.random((4, models.n_pairs)) * 5)
    data = RDMs(values, models.conditions, pd.DataFrame({"subject": list("abcd")}))
    res = bootstrap_conditions(data, models, "spearman", 5, seed=2)
    for b, draw in enumerate(res.conditions):
        theirs_data = rsatoolbox.rdm.RDMs(values).subsample_pattern("index", draw)
        theirs_models = rsatoolbox.rdm.RDMs(models.values).subsample_pattern("index", draw)
        sims = rsatoolbox.rdm.compare(theirs_models, theirs_data, "spearman")
        np.testing.assert_allclose(res.samples[b, 0], sims.mean(axis=1), rtol=0, atol=1e-12)


def test_bootstrap_kendall_through_compare(data, models):
    res = bootstrap_conditions(data, models, "kendall-tau-b", 4, seed=6)
    samples = brute_bootstrap(data, models, res.conditions, "kendall-tau-b")
    np.testing.assert_allclose(res.samples, samples, rtol=0, atol=TOL)


def brute_semi_partial(x, y, z, method):
    """(r_xy - r_xz r_yz) / sqrt(1 - r_yz^2) from scipy correlations on the pairs present."""
    ok = ~np.isnan(x) & ~np.isnan(y) & ~np.isnan(z)
    x, y, z = x[ok], y[ok], z[ok]
    r = {"spearman": lambda a, b: stats.spearmanr(a, b).statistic,
         "kendall-tau-b": lambda a, b: stats.kendalltau(a, b).statistic}[method]
    rxy, rxz, ryz = r(x, y), r(x, z), r(y, z)
    return (rxy - rxz * ryz) / np.sqrt(1 - ryz**2)


@pytest.mark.parametrize("method", ["spearman", "kendall-tau-b"])
def test_semi_partial_null_matches_brute_force(data, models, method):
    """Layer k controlled for layer k-1: the null relabels the data, covariates stay put."""
    rng = np.random.default_rng(3)
    third = RDMs(np.round(rng.random((1, models.n_pairs)) * 4), models.conditions,
                 pd.DataFrame({"model": ["m3"]}))
    from ieegrsa.rsa.rdms import concat

    layers = concat([models, third])
    covariates = [None, layers[0], layers[1]]
    res = permutation_test(data, layers, method, 12, seed=4, covariates=covariates,
                           partial="semi-partial")
    square = data.square()
    expected = np.empty((12, N_WIN, 3))
    for b, perm in enumerate(res.permutations):
        sims = np.empty((data.n_rdms, 3))
        for r in range(data.n_rdms):
            x = squareform(square[r][np.ix_(perm, perm)], checks=False)
            sims[r, 0] = brute_sim(x, layers.values[0], method)
            for k in (1, 2):
                sims[r, k] = brute_semi_partial(x, layers.values[k], layers.values[k - 1],
                                                method)
        expected[b] = sims.reshape(N_SUBJ, N_WIN, -1).mean(axis=0)
    np.testing.assert_allclose(res.null, expected, rtol=0, atol=1e-10)
    plain = permutation_test(data, layers, method, 12, seed=4)
    np.testing.assert_allclose(res.null[..., 0], plain.null[..., 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.table["p_value"],
                               brute_p(expected, res.observed).ravel(), atol=TOL)


def test_split_half_ceiling_of_cross_validated_rdms_matches_scipy():
    """Each half of 6 repetitions keeps 3 folds for its own crossnobis RDMs; the ceiling is the
    Kendall tau-b of the halves (scipy) and its Spearman-Brown step-up."""
    rng = np.random.default_rng(9)
    cond = np.tile(labels(N_COND), 6)
    repetition = np.repeat(np.arange(6), N_COND)
    X = 0.5 * rng.normal(size=(N_COND, 4, 1))[np.tile(np.arange(N_COND), 6)] \
        + rng.normal(size=(len(cond), 4, 5))
    half_a, half_b = split_half_rdms(X, cond, repetition % 2, "crossnobis", cv=repetition)
    assert (half_a.values < 0).any() and (half_b.values < 0).any()
    table = split_half_ceiling(half_a, half_b, "kendall-tau-b")
    for k in range(5):
        r = stats.kendalltau(half_a.values[k], half_b.values[k]).statistic
        assert table.loc[k, "r_half"] == pytest.approx(r, abs=TOL)
        assert table.loc[k, "r_full"] == pytest.approx(2 * r / (1 + r), abs=TOL)
