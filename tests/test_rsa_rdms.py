"""The RDMs container: square forms, selection, reordering by label, concatenation, files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import squareform

from ieegrsa.errors import DataError
from ieegrsa.rsa import RDMs, align, concat, load_rdms


@pytest.fixture
def rdms():
    rng = np.random.default_rng(0)
    values = rng.random((4, 10))
    values[1, 3] = np.nan
    descriptors = pd.DataFrame({"roi": ["ventral", "lateral", "ventral", "lateral"],
                                "window_start": [0.0, 0.0, 0.1, 0.1]})
    return RDMs(values, ["e", "d", "c", "b", "a"], descriptors, metric="correlation")


def test_square_matches_scipy(rdms):
    square = rdms.square()
    assert square.shape == (4, 5, 5)
    for k in (0, 2, 3):
        np.testing.assert_array_equal(square[k], squareform(rdms.values[k]))
    back = RDMs.from_square(square, rdms.conditions, rdms.descriptors, rdms.metric)
    np.testing.assert_array_equal(back.values, rdms.values)


def test_from_square_refuses_asymmetric():
    square = np.arange(9.0).reshape(3, 3)
    with pytest.raises(DataError, match="symmetric"):
        RDMs.from_square(square, list("abc"))
    kept = RDMs.from_square(square, list("abc"), check_symmetric=False)
    np.testing.assert_array_equal(kept.values[0], [1, 2, 5])


def test_bad_shapes_and_labels():
    with pytest.raises(DataError, match=r"n \(n - 1\) / 2"):
        RDMs(np.ones(4), list("abc"))
    with pytest.raises(DataError, match="does not match"):
        RDMs(np.ones(3), list("ab"))
    with pytest.raises(DataError, match="unique"):
        RDMs(np.ones(3), list("aab"))
    with pytest.raises(DataError, match="one row per RDM"):
        RDMs(np.ones((2, 3)), list("abc"), pd.DataFrame({"x": [1]}))


def test_reorder_is_by_label_and_never_sorts(rdms):
    assert list(rdms.conditions) == ["e", "d", "c", "b", "a"]
    order = ["a", "c", "e", "b", "d"]
    moved = rdms.reorder(order)
    position = [list(rdms.conditions).index(c) for c in order]
    expected = rdms.square()[:, position][:, :, position]
    np.testing.assert_array_equal(moved.square(), expected)
    sub = rdms.reorder(["b", "e"])
    np.testing.assert_array_equal(sub.values[:, 0], rdms.square()[:, 3, 0])
    with pytest.raises(DataError, match="not in these RDMs"):
        rdms.reorder(["a", "z"])


def test_subset_and_indexing(rdms):
    ventral = rdms.subset(roi="ventral")
    np.testing.assert_array_equal(ventral.values, rdms.values[[0, 2]], strict=False)
    both = rdms.subset(roi="lateral", window_start=[0.1, 0.2])
    assert len(both) == 1 and both.descriptors.loc[0, "window_start"] == 0.1
    assert len(rdms[1]) == 1 and len(rdms[1:]) == 3 and len(rdms[[True, False] * 2]) == 2
    with pytest.raises(DataError, match="no such descriptor"):
        rdms.subset(layer="conv1")


def test_concat_aligns_by_label(rdms):
    other = rdms.reorder(["a", "b", "c", "d", "e"])
    both = concat([rdms, other])
    assert list(both.conditions) == list(rdms.conditions)
    np.testing.assert_array_equal(both.values[4:], rdms.values)
    assert both.metric == "correlation" and len(both.descriptors) == 8
    a, b = align(other, rdms)
    np.testing.assert_array_equal(b.values, other.values)
    with pytest.raises(DataError, match="different conditions"):
        concat([rdms, RDMs(np.ones(10), list("vwxyz"))])


def test_save_load_roundtrip(rdms, tmp_path):
    path = rdms.save(tmp_path / "sub-01_rdms")
    assert path.suffix == ".npz" and path.with_suffix(".json").is_file()
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["conditions"] == ["e", "d", "c", "b", "a"] and meta["metric"] == "correlation"
    back = load_rdms(path)
    np.testing.assert_array_equal(back.values, rdms.values)
    pd.testing.assert_frame_equal(back.descriptors, rdms.descriptors)
    assert list(back.conditions) == list(rdms.conditions)
    assert not list(tmp_path.glob("*.part"))
    with pytest.raises(DataError, match="not found"):
        load_rdms(tmp_path / "missing.npz")


def test_to_frame(rdms):
    table = rdms.to_frame()
    assert len(table) == 40
    row = table.iloc[10 + 3]  # second RDM, fourth pair = (0, 4)
    assert (row.condition_1, row.condition_2) == ("e", "a") and row.roi == "lateral"
    assert np.isnan(row.value)
