"""Model RDMs per layer and categorical RDMs from the stimulus table (incl. the London faces)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist

from ieegrsa.errors import DataError
from ieegrsa.models import categorical_rdms, model_rdms


def test_model_rdms_match_pdist():
    rng = np.random.default_rng(0)
    features = {"conv1": rng.normal(size=(6, 4, 3, 3)), "fc": rng.normal(size=(6, 10))}
    names = [f"s{k}.png" for k in (3, 1, 5, 0, 2, 4)]
    rdms = model_rdms(features, conditions=names, model="vggface", objective="identity",
                      instance=2)
    assert list(rdms.conditions) == names and rdms.metric == "correlation"
    assert list(rdms.descriptors.layer) == ["conv1", "fc"]
    assert list(rdms.descriptors.n_units) == [36, 10]
    assert (rdms.descriptors.instance == 2).all() and (rdms.descriptors.model == "vggface").all()
    for k, values in enumerate(features.values()):
        np.testing.assert_allclose(rdms.values[k], pdist(values.reshape(6, -1), "correlation"),
                                   rtol=1e-10)
    euclid = model_rdms(features, "euclidean")
    np.testing.assert_allclose(euclid.values[1], pdist(features["fc"], "sqeuclidean") / 10)
    assert list(euclid.conditions) == list(range(6))
    with pytest.raises(DataError, match="one condition label per stimulus"):
        model_rdms(features, conditions=names[:3])
    with pytest.raises(DataError, match="no layer features"):
        model_rdms({})


def test_categorical_rdms_structure_and_missing_values():
    stimuli = pd.DataFrame({
        "stim_file": ["a", "b", "c", "d", "e"],
        "identity": ["id1", "id1", "id2", "id2", None],
        "expression": ["happy", "fear", "happy", "fear", "n/a"],
    })
    rdms = categorical_rdms(stimuli)
    assert list(rdms.descriptors.model) == ["identity", "expression"]
    assert (rdms.descriptors.objective == "categorical").all()
    square = rdms.square()
    expected_identity = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]])
    np.testing.assert_array_equal(square[0, :4, :4], expected_identity)
    expected_expression = np.array([[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]])
    np.testing.assert_array_equal(square[1, :4, :4], expected_expression)
    assert np.isnan(square[:, 4, :4]).all()  # the stimulus without values
    reordered = categorical_rdms(stimuli, "identity", conditions=["d", "a", "c"])
    np.testing.assert_array_equal(reordered.square()[0], [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    with pytest.raises(DataError, match="lacks a column"):
        categorical_rdms(stimuli, ["gender"])
    with pytest.raises(DataError, match="missing from the stimulus table"):
        categorical_rdms(stimuli, conditions=["a", "z"])


def test_london_faces_identity_and_expression_rdms(shared_data):
    """102 identities x (neutral, smiling): the categorical RDMs have the known structure."""
    london = shared_data / "faces" / "london"
    info = pd.read_csv(london / "london_info.csv", dtype={"face_id": str})
    rows = []
    for folder, suffix, expression in (("neutral", "03", "neutral"), ("smiling", "08", "happy")):
        for face_id in info.face_id:
            path = london / folder / f"{face_id}_{suffix}.jpg"
            if path.is_file():
                rows.append({"stim_file": f"{folder}/{path.name}", "identity": face_id,
                             "expression": expression,
                             "gender": info.set_index("face_id").loc[face_id, "face_gender"]})
    stimuli = pd.DataFrame(rows)
    assert len(stimuli) >= 200
    rdms = categorical_rdms(stimuli, ["identity", "expression", "gender"])
    identity, expression, gender = rdms.values
    n = len(stimuli)
    n_ids = stimuli.identity.nunique()
    sizes = stimuli.groupby("identity").size()
    pairs_same_identity = int((sizes * (sizes - 1) // 2).sum())
    assert (identity == 0).sum() == pairs_same_identity and n_ids == 102
    counts = stimuli.expression.value_counts()
    assert (expression == 0).sum() == sum(k * (k - 1) // 2 for k in counts)
    assert set(np.unique(gender)) <= {0.0, 1.0}
    assert rdms.n_pairs == n * (n - 1) // 2
