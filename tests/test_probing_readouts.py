"""Transfer readouts, confusion with humans and subspace congruence (ieegrsa.probing).

Every statistic is pinned against an independent reference: scikit-learn's
``cross_val_predict`` on the same pipeline, brute-force permutation loops, scipy's correlations
and a direct Tucker loop; synthetic features plant a known answer. The London faces (102
identities × neutral/smiling) with the dlib identity network, the FER expression network and a
random-init control check the real-data claims; those tests skip when the data are absent.
"""

from __future__ import annotations

import math
from itertools import permutations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict
from sklearn.preprocessing import StandardScaler

from ieegrsa.errors import DataError
from ieegrsa.probing.congruence import subspace_congruence, tucker_congruence
from ieegrsa.probing.readouts import (
    confusion_similarity,
    label_permutations,
    read_confusion,
    readout_pipeline,
    transfer_readout,
)


def _faces(n_id=12, n_units=40, expression_gain=2.0, identity_gain=1.0, seed=0, expressions=2):
    """Synthetic layer: identity signal on units 0-5, expression signal on unit 6 onwards."""
    rng = np.random.default_rng(seed)
    identity = np.repeat(np.arange(n_id), expressions)
    expression = np.tile(np.arange(expressions), n_id)
    X = rng.normal(size=(n_id * expressions, n_units))
    X[:, :6] += identity_gain * rng.normal(size=(n_id, 6))[identity]
    X[:, 6:6 + expressions] += expression_gain * np.eye(expressions)[expression]
    names = np.array(["neutral", "happy", "fear", "angry"])[expression]
    return X, identity, names


# --- transfer readout ------------------------------------------------------------------------

def test_readout_equals_cross_val_predict_and_finds_planted_expression():
    X, identity, expression = _faces()
    result = transfer_readout({"a": X, "b": X[:, ::-1] * 3.0}, expression, identity,
                              n_permutations=30, seed=1)
    k = 2 * 12 - 2 - 1  # smallest training fold minus one
    pipe = readout_pipeline(X.shape[1], k)
    reference = cross_val_predict(pipe, X, expression, groups=identity, cv=LeaveOneGroupOut())
    proba = cross_val_predict(pipe, X, expression, groups=identity, cv=LeaveOneGroupOut(),
                              method="predict_proba")
    row = result.table.set_index("layer").loc["a"]
    assert row["accuracy"] == pytest.approx(np.mean(reference == expression), abs=1e-12)
    assert row["accuracy"] > 0.9 and row["p_value"] == pytest.approx(1 / 31)
    assert (row["n_components"], row["n_folds"], row["n_classes"]) == (k, 12, 2)
    assert (row["chance"], row["majority"], row["n_images"]) == (0.5, 0.5, 24)
    # probabilities: columns in first-appearance order; sklearn sorts them
    probs = result.probabilities["a"]
    assert list(probs.columns) == ["neutral", "happy"] == result.classes
    np.testing.assert_allclose(probs[["happy", "neutral"]].to_numpy(), proba, atol=1e-10)
    confusion = result.confusion["a"]
    assert confusion.index.name == "true" and confusion.columns.name == "predicted"
    expected = pd.crosstab(pd.Series(expression, name="true"),
                           pd.Series(reference, name="predicted"))
    pd.testing.assert_frame_equal(confusion, expected.loc[result.classes, result.classes],
                                  check_dtype=False, check_names=False)
    assert list(result.table.columns) == [
        "layer", "accuracy", "balanced_accuracy", "chance", "majority", "p_value", "n_classes",
        "n_images", "n_folds", "n_components"]


def test_p_value_equals_brute_force_loop_and_null_is_at_chance():
    X, identity, expression = _faces(expression_gain=0.0, seed=3)
    result = transfer_readout(X, expression, identity, n_permutations=12, seed=5)
    row = result.table.iloc[0]
    assert row["layer"] == "features" and result.permutation_scheme == "within"
    codes = pd.factorize(expression)[0]
    permuted, scheme = label_permutations(codes, identity, 12, seed=5)
    pipe = readout_pipeline(X.shape[1], 21)
    null = np.array([np.mean(cross_val_predict(pipe, X, y, groups=identity,
                                               cv=LeaveOneGroupOut()) == y) for y in permuted])
    np.testing.assert_allclose(result.null["features"], null, atol=1e-12)
    assert row["p_value"] == pytest.approx((1 + np.sum(null >= row["accuracy"])) / 13)
    assert abs(row["accuracy"] - 0.5) < 0.25 and row["p_value"] > 0.05


def test_label_permutations_respect_groups():
    labels = np.array([0, 1, 0, 1, 2, 2, 1, 0, 2])
    groups = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    permuted, scheme = label_permutations(labels, groups, 50, seed=0)
    assert scheme == "within" and permuted.shape == (50, 9)
    for g in np.unique(groups):
        inside = groups == g
        assert (np.sort(permuted[:, inside], axis=1) == np.sort(labels[inside])).all()
    assert len({tuple(p) for p in permuted}) > 10
    # constant label per group: shuffled across groups, constant inside each
    labels = np.array([5, 5, 7, 7, 7, 9])
    groups = np.array(["a", "a", "b", "b", "b", "c"])
    permuted, scheme = label_permutations(labels, groups, 40, seed=1)
    assert scheme == "between"
    for g in "abc":
        assert (permuted[:, groups == g] == permuted[:, groups == g][:, :1]).all()
    assert len({tuple(p) for p in permuted}) > 1
    free, scheme = label_permutations(labels, groups, 5, seed=1, scheme="free")
    assert scheme == "free" and (np.sort(free, axis=1) == np.sort(labels)).all()
    with pytest.raises(DataError, match="vary within groups"):
        label_permutations([0, 1], [0, 0], 3, scheme="between")


def test_weights_are_the_decision_function_and_pca_is_only_a_rotation():
    X, identity, expression = _faces(n_units=60, seed=2)
    result = transfer_readout(X, expression, identity, n_permutations=0)
    w = result.weights["features"]
    assert w.shape == (1, 60) and np.isnan(result.table["p_value"]).all()
    positive = expression == result.classes[1]  # the weights point to the second class
    pipe = readout_pipeline(60, 23).fit(X, positive)  # whole set: n_images - 1 components
    z = StandardScaler().fit_transform(X)
    offset = pipe.decision_function(X) - z @ w[0]
    np.testing.assert_allclose(offset, offset[0], atol=1e-8)
    # with every training direction kept, PCA + L2 logistic = L2 logistic on the units
    full = transfer_readout(X, expression, identity, n_permutations=0, max_components=10_000)
    assert full.table["n_components"].iloc[0] == 21
    unreduced = readout_pipeline(60, None).fit(X, positive)
    direct = transfer_readout(X, expression, identity, n_permutations=0)
    np.testing.assert_allclose(direct.weights["features"],
                               unreduced.named_steps["logistic"].coef_, atol=1e-3)


def test_identity_readout_leaves_one_expression_out():
    X, identity, expression = _faces(n_id=6, n_units=12, identity_gain=4.0, expression_gain=0.5,
                                      expressions=3, seed=4)
    names = np.array([f"id{i}" for i in identity])
    result = transfer_readout({"l": X}, names, expression, n_permutations=10, seed=0)
    row = result.table.iloc[0]
    assert (row["n_folds"], row["n_classes"], row["chance"]) == (3, 6, pytest.approx(1 / 6))
    assert row["accuracy"] > 0.7 and result.weights["l"].shape == (6, 12)
    probs = result.probabilities["l"]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert result.confusion["l"].to_numpy().sum() == 18
    assert np.trace(result.confusion["l"].to_numpy()) == round(row["accuracy"] * 18)


def test_readout_rejects_bad_input():
    X, identity, expression = _faces()
    with pytest.raises(DataError, match="one label per image"):
        transfer_readout(X, expression[:-1], identity)
    with pytest.raises(DataError, match="missing labels"):
        transfer_readout(X, np.where(np.arange(24) == 3, None, expression), identity)
    with pytest.raises(DataError, match="at least two classes"):
        transfer_readout(X, np.zeros(24), identity)
    with pytest.raises(DataError, match="at least two groups"):
        transfer_readout(X, expression, np.zeros(24))
    with pytest.raises(DataError, match="2-D"):
        transfer_readout({"x": X[:, 0]}, expression, identity)
    with pytest.raises(DataError, match="same number of images"):
        transfer_readout({"x": X, "y": X[:-1]}, expression, identity)
    with pytest.raises(DataError, match="single class"):
        transfer_readout(X, expression, expression)


# --- confusion with humans -------------------------------------------------------------------

def _confusions(n=4, seed=0):
    rng = np.random.default_rng(seed)
    human = rng.random((n, n)) + 3 * np.eye(n)
    model = 10 * (human + 0.3 * rng.random((n, n)))
    return model, human


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_confusion_similarity_exact_enumeration_equals_brute_force(method):
    model, human = _confusions(4)
    out = confusion_similarity(model, human, method=method, n_permutations=100)
    assert out["exact"] and out["n_permutations"] == math.factorial(4) and out["n_cells"] == 12
    off = ~np.eye(4, dtype=bool)
    a = model / model.sum(axis=1, keepdims=True)
    b = human / human.sum(axis=1, keepdims=True)
    corr = stats.pearsonr if method == "pearson" else stats.spearmanr
    assert out["r"] == pytest.approx(corr(a[off], b[off])[0], abs=1e-12)
    null = [corr(a[off], b[np.ix_(o, o)][off])[0] for o in permutations(range(4))]
    assert out["p_value"] == pytest.approx(np.mean(np.array(null) >= out["r"] - 1e-12))
    assert out["r"] > 0.8


def test_confusion_similarity_random_relabellings_equal_brute_force():
    model, human = _confusions(7, seed=1)
    out = confusion_similarity(model, human, n_permutations=500, seed=3)
    assert not out["exact"] and out["n_permutations"] == 500
    rng = np.random.default_rng(3)
    orders = rng.permuted(np.tile(np.arange(7), (500, 1)), axis=1)
    off = ~np.eye(7, dtype=bool)
    a = model / model.sum(axis=1, keepdims=True)
    b = human / human.sum(axis=1, keepdims=True)
    null = np.array([stats.pearsonr(a[off], b[np.ix_(o, o)][off])[0] for o in orders])
    assert out["p_value"] == pytest.approx((1 + np.sum(null >= out["r"] - 1e-12)) / 501)
    assert out["p_value"] < 0.01
    # unrelated matrices: p-values spread over (0, 1], rarely below 0.05
    rng = np.random.default_rng(9)
    p = [confusion_similarity(rng.random((7, 7)), rng.random((7, 7)), seed=s,
                              n_permutations=500)["p_value"] for s in range(20)]
    assert np.mean(np.array(p) < 0.05) <= 0.15 and 0.3 < np.mean(p) < 0.7


def test_read_confusion_aligns_classes_and_names_the_file(tmp_path):
    classes = ["happy", "fear", "neutral"]
    model = pd.DataFrame([[8, 1, 1], [2, 6, 2], [1, 1, 8]], index=classes, columns=classes)
    human = pd.DataFrame([[90, 2, 8], [5, 80, 15], [3, 3, 94]], index=classes, columns=classes)
    path = tmp_path / "human.csv"
    human.loc[classes[::-1], classes[::-1]].to_csv(path)  # another order on disk
    read = read_confusion(path, classes)
    assert list(read.index) == classes == list(read.columns)
    np.testing.assert_array_equal(read.to_numpy(), human.to_numpy())
    out = confusion_similarity(model, read_confusion(path))
    assert out == confusion_similarity(model.to_numpy(), human.to_numpy())
    assert out == confusion_similarity(model.to_numpy(), read)  # unlabelled: taken in order
    wrong = tmp_path / "other.csv"
    human.rename(index={"fear": "fearful"}, columns={"fear": "fearful"}).to_csv(wrong)
    with pytest.raises(DataError, match="other.csv.*other classes.*fearful"):
        confusion_similarity(model, read_confusion(wrong))
    with pytest.raises(DataError, match="other.csv.*other classes"):
        read_confusion(wrong, classes)
    bad = tmp_path / "bad.csv"
    pd.DataFrame([[1, 2], [3, 4]], index=["a", "b"], columns=["a", "c"]).to_csv(bad)
    with pytest.raises(DataError, match="bad.csv.*differ"):
        read_confusion(bad)
    with pytest.raises(DataError, match="square"):
        confusion_similarity(np.ones((3, 2)), np.ones((3, 3)))


# --- congruence ------------------------------------------------------------------------------

def test_tucker_congruence_brute_force_and_limits():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 20)), rng.normal(size=(4, 20))
    phi = tucker_congruence(x, y)
    brute = [[sum(a * b) / math.sqrt(sum(a * a) * sum(b * b)) for b in y] for a in x]
    np.testing.assert_allclose(phi, brute, atol=1e-12)
    assert tucker_congruence(x[0], 2.5 * x[0]) == pytest.approx(1.0)
    assert tucker_congruence(x[0], -x[0]) == pytest.approx(-1.0)
    assert tucker_congruence([1, 0, 0], [0, 3, 0]) == 0.0
    assert tucker_congruence(x[0], y).shape == (1, 4)
    with pytest.raises(DataError, match="no direction"):
        tucker_congruence(np.zeros(3), [1, 2, 3])
    with pytest.raises(DataError, match="same length"):
        tucker_congruence([1, 2], [1, 2, 3])


@pytest.mark.parametrize("method", ["lda", "readout"])
def test_subspace_congruence_orthogonal_vs_shared(method):
    rng = np.random.default_rng(1)
    n_id, reps = 8, 3
    identity = np.repeat(np.arange(n_id), 2 * reps)
    expression = np.tile(np.repeat([0, 1], reps), n_id)
    X = rng.normal(scale=0.3, size=(len(identity), 30))
    X[:, :4] += 3 * rng.normal(size=(n_id, 4))[identity]      # identity: units 0-3
    X[:, 10] += 3 * expression                                 # expression: unit 10
    orthogonal = subspace_congruence(X, identity, expression, method=method,
                                     n_permutations=20, seed=0)
    row = orthogonal.table.iloc[0]
    assert row["mean_abs_phi"] < 0.15 and row["n_expression_dirs"] == 1
    assert row["n_identity_dirs"] == (n_id - 1 if method == "lda" else n_id)
    # labels that split the images the same way give the same directions: |φ| = 1
    same = subspace_congruence(X, expression + 5, expression, method=method, n_permutations=5)
    assert same.table["max_abs_phi"].iloc[0] == pytest.approx(1.0, abs=1e-9)
    if method == "lda":  # two identities and the expressions along the same unit
        # (many images: standardised units make the sampling noise of the class means,
        # spread over 29 noise units, compete with the one signal unit)
        two = np.repeat([0, 1], 96)
        shared_expression = np.tile(np.repeat([0, 1], 12), 8)
        shared = rng.normal(scale=0.3, size=(192, 30))
        shared[:, 0] += 3 * two + 3 * shared_expression
        both = subspace_congruence(shared, two, shared_expression, n_permutations=5)
        assert both.table["max_abs_phi"].iloc[0] > 0.8 > 0.15 > row["mean_abs_phi"]


def test_subspace_congruence_phi_equals_shared_noise_lda_by_hand():
    from scipy.linalg import eigh
    from sklearn.covariance import ledoit_wolf
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline

    X, identity, expression = _faces(n_id=10, expressions=3, seed=6)
    out = subspace_congruence({"x": X}, identity, expression, n_permutations=5, seed=2)
    k = 30 - 10 - 3 + 1  # residual degrees of freedom of the additive two-way model
    assert out.table["n_components"].iloc[0] == k
    z = make_pipeline(StandardScaler(), PCA(k, svd_solver="full")).fit_transform(X)
    z = z - z.mean(axis=0)
    frame = pd.DataFrame(z)
    id_means = frame.groupby(np.asarray(identity)).transform("mean").to_numpy()
    ex_means = frame.groupby(np.asarray(expression)).transform("mean").to_numpy()
    noise = ledoit_wolf(z - id_means - ex_means, assume_centered=True)[0]

    def directions(labels, n_dirs):
        means = frame.groupby(np.asarray(labels)).mean().to_numpy()
        counts = pd.Series(np.asarray(labels)).value_counts(sort=False).sort_index().to_numpy()
        between = sum(c * np.outer(m, m) for m, c in zip(means, counts)) / len(z)
        return eigh(between, noise)[1][:, ::-1][:, :n_dirs].T

    a, b = directions(identity, 9), directions(expression, 2)
    phi = tucker_congruence(a, b)  # eigenvectors are defined up to sign
    np.testing.assert_allclose(np.abs(out.phi["x"]), np.abs(phi), atol=1e-8)
    row = out.table.iloc[0]
    assert row["mean_abs_phi"] == pytest.approx(np.abs(phi).mean())
    assert row["max_abs_phi"] == pytest.approx(np.abs(phi).max())
    null = out.null["x"]
    greater = (1 + np.sum(null >= row["mean_abs_phi"])) / 6
    less = (1 + np.sum(null <= row["mean_abs_phi"])) / 6
    assert row["p_value"] == pytest.approx(min(1, 2 * min(greater, less)))
    with pytest.raises(DataError, match="unknown direction method"):
        subspace_congruence(X, identity, expression, method="pca")


# --- real data: the London faces -------------------------------------------------------------

FACE_BOX = (64.5, 59.0, 192.5, 187.0)  # the face in the 256-px London frames (see test_models_fer)


@pytest.fixture(scope="module")
def london(shared_data):
    root = shared_data / "faces" / "london"
    neutral = sorted((root / "neutral").glob("*.jpg"))
    smiling = sorted((root / "smiling").glob("*.jpg"))
    if len(neutral) != 102 or len(smiling) != 102:
        pytest.skip(f"London faces incomplete under {root}")
    assert [p.name[:3] for p in neutral] == [p.name[:3] for p in smiling]
    identity = np.r_[np.arange(102), np.arange(102)]
    expression = np.repeat(["neutral", "smiling"], 102)
    return neutral + smiling, identity, expression


@pytest.fixture(scope="module")
def london_features(london, shared_data):
    from ieegrsa.models.dlib_resnet import WEIGHTS_FILE, _package_file
    from ieegrsa.models.extract import extract_features

    fer = shared_data / "models" / "fer_mini_xception" / "emotion_model.hdf5"
    if _package_file(WEIGHTS_FILE) is None or not fer.is_file():
        pytest.skip("dlib weights (face_recognition_models) or the FER weights are absent")
    paths = london[0]
    boxes = [FACE_BOX] * len(paths)
    dlib_layers, fer_layers = ["avgpool", "fc"], ["add_4", "global_average_pooling2d_1"]
    return {  # dlib sees the whole 256-px frame (its chips keep a margin around the face)
        "dlib": extract_features("dlib-resnet-face", paths, dlib_layers, weights="dlib",
                                 verbose=False),
        "dlib-random": extract_features("dlib-resnet-face", paths, dlib_layers,
                                        weights="random", verbose=False),
        "fer": extract_features("fer-mini-xception", paths, fer_layers, weights=fer,
                                boxes=boxes, verbose=False),
    }


def test_london_expression_readout_from_the_identity_network(london, london_features):
    _, identity, expression = london
    trained = transfer_readout(london_features["dlib"], expression, identity,
                               n_permutations=5, seed=0).table.set_index("layer")
    untrained = transfer_readout(london_features["dlib-random"], expression, identity,
                                 n_permutations=0).table.set_index("layer")
    assert (trained["n_folds"] == 102).all() and (trained["chance"] == 0.5).all()
    assert (trained.loc[["avgpool", "fc"], "accuracy"] > 0.8).all()
    np.testing.assert_allclose(trained["p_value"], 1 / 6)
    # the random-init control reads smiles out well too (mouth pixels survive random
    # convolutions), so it is checked for being above chance, not below the trained network
    assert (untrained["accuracy"] > 0.6).all()


def test_london_identity_readout_from_the_expression_network(london, london_features):
    _, identity, expression = london
    result = transfer_readout(london_features["fer"], identity, expression, n_permutations=5,
                              seed=0)
    table = result.table.set_index("layer")
    assert (table["n_folds"] == 2).all() and (table["n_classes"] == 102).all()
    assert table.loc["add_4", "accuracy"] > 10 / 102  # chance 1/102
    np.testing.assert_allclose(table["p_value"], 1 / 6)
    assert result.probabilities["add_4"].shape == (204, 102)
