"""Preprocessing: channel selection, shafts and strips, re-referencing matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _preprocessing_helpers import contact_table

from ieegrsa.errors import ConfigError
from ieegrsa.preprocessing import contact_groups, reference_matrix, rereference, select_contacts


def test_contact_groups_from_names_and_group_column():
    table = pd.DataFrame({"name": ["LA1", "LA12", "L'1", "L'12", "G01", "EKG"]})
    groups = contact_groups(table)
    assert list(groups["group"]) == ["LA", "LA", "L'", "L'", "G", "EKG"]
    assert groups["number"].iloc[:5].tolist() == [1, 12, 1, 12, 1]
    assert np.isnan(groups["number"].iloc[5])
    table["group"] = ["shaftA", "shaftA", np.nan, "n/a", "grid", None]
    assert list(contact_groups(table)["group"]) == ["shaftA", "shaftA", "L'", "L'", "grid", "EKG"]


def test_car_per_group_hand_computed():
    contacts = contact_table(["A1", "A2", "A3", "B1", "B2", "C1"])
    data = np.array([[1.0, 2], [2, 4], [6, 0], [10, 10], [20, 0], [5, 5]])
    out, channels, dropped = rereference(data, contacts, "car")
    # A: mean (3, 2); B: mean (15, 5); C alone -> dropped
    expected = np.array([[-2.0, 0], [-1, 2], [3, -2], [-5, 5], [5, -5]])
    np.testing.assert_allclose(out, expected, atol=1e-12)
    assert list(channels["name"]) == ["A1", "A2", "A3", "B1", "B2"]
    assert list(channels["group"]) == ["A", "A", "A", "B", "B"]
    assert "alone in its group" in dropped["C1"]
    # one average over all contacts
    out, channels, dropped = rereference(data, contacts, "car", car_scope="all")
    np.testing.assert_allclose(out, data - data.mean(axis=0), atol=1e-12)
    assert not dropped


def test_bipolar_pairs_gap_and_midpoint():
    # A1..A4 3.5 mm apart, but A3 -> A4 is 30 mm (implausible); A6 has no A5; L'1-L'2 pair.
    names = ["A1", "A2", "A3", "A4", "A6", "L'1", "L'2"]
    xyz = [[0, 0, 0], [0, 3.5, 0], [0, 7, 0], [0, 37, 0], [0, 44, 0], [10, 0, 0], [10, 0, 10]]
    contacts = contact_table(names, xyz)
    data = np.arange(7 * 3, dtype=float).reshape(7, 3) ** 2
    out, channels, dropped = rereference(data, contacts, "bipolar", max_distance=15.0)
    assert list(channels["name"]) == ["A1-A2", "A2-A3", "L'1-L'2"]
    np.testing.assert_allclose(out, [data[0] - data[1], data[1] - data[2], data[5] - data[6]])
    np.testing.assert_allclose(channels.loc[0, ["x", "y", "z"]].astype(float), [0, 1.75, 0])
    np.testing.assert_allclose(channels.loc[2, ["x", "y", "z"]].astype(float), [10, 0, 5])
    assert list(channels["contact_a"]) == ["A1", "A2", "L'1"]
    assert list(channels["contact_b"]) == ["A2", "A3", "L'2"]
    assert "within 15 mm" in dropped["A4"] and "A3" in dropped["A4"]
    assert "no neighbouring contact" in dropped["A6"]
    # a larger distance allowed pairs A3-A4; unknown positions keep the pair
    _, channels, _ = rereference(data, contacts, "bipolar", max_distance=40.0)
    assert "A3-A4" in list(channels["name"])
    contacts.loc[3, ["x", "y", "z"]] = np.nan
    _, channels, _ = rereference(data, contacts, "bipolar")
    assert "A3-A4" in list(channels["name"])
    assert channels.set_index("name").loc["A3-A4", ["x", "y", "z"]].isna().all()


def test_bipolar_uses_the_group_column_over_name_prefixes():
    contacts = contact_table(["X1", "X2", "Y3"], [[0, 0, 0], [0, 3.5, 0], [0, 7, 0]],
                         group=["s", "s", "s"])
    # numbers 2 and 3 in the same group "s" are neighbours even though the letters differ
    _, channels, _ = rereference(np.zeros((3, 2)), contacts, "bipolar")
    assert list(channels["name"]) == ["X1-X2", "X2-Y3"]


def test_laplacian_hand_computed():
    names = ["A1", "A2", "A3", "A4", "B1", "B2"]
    xyz = [[0, 3.5 * k, 0] for k in range(4)] + [[20, 0, 0], [20, 10, 0]]
    contacts = contact_table(names, xyz)
    data = np.array([[1.0], [4.0], [9.0], [16.0], [2.0], [7.0]])
    out, channels, dropped = rereference(data, contacts, "laplacian", laplacian_ends="drop")
    assert list(channels["name"]) == ["A2", "A3"]
    np.testing.assert_allclose(out[:, 0], [4 - (1 + 9) / 2, 9 - (4 + 16) / 2])
    assert set(dropped) == {"A1", "A4", "B1", "B2"} and "one neighbour" in dropped["A1"]
    out, channels, dropped = rereference(data, contacts, "laplacian",
                                         laplacian_ends="one_neighbour")
    assert list(channels["name"]) == names
    np.testing.assert_allclose(out[:, 0], [1 - 4, -1, -1, 16 - 9, 2 - 7, 7 - 2])
    np.testing.assert_allclose(channels[["x", "y", "z"]].to_numpy(float), np.array(xyz, float))
    assert not dropped


def test_none_is_the_identity_and_unknown_scheme_is_an_error():
    contacts = contact_table(["A1", "A2"])
    W, channels, _ = reference_matrix(contacts, "none")
    np.testing.assert_array_equal(W, np.eye(2))
    with pytest.raises(ConfigError, match="bipolar, laplacian, car, none"):
        reference_matrix(contacts, "average")


def test_select_contacts_reasons():
    contacts = contact_table(["A1", "A2", "A3", "A4", "A5", "EKG"],
                         types=["seeg", "seeg", "seeg", "ecog", "seeg", "ecg"])
    contacts["status"] = ["good", "bad", "good", "good", "good", "good"]
    contacts["status_description"] = [np.nan, "noisy", "Seizure Onset Zone", np.nan, np.nan,
                                      np.nan]
    kept, reasons = select_contacts(contacts, exclude_status=["seizure onset"],
                                    exclude_channels=["A5", "Z9"])
    assert list(kept["name"]) == ["A1", "A4"]
    assert reasons["A2"] == "bad in channels.tsv (noisy)"
    assert "Seizure Onset Zone" in reasons["A3"]
    assert "exclude_channels" in reasons["A5"]
    assert "ecg" in reasons["EKG"]
    kept, _ = select_contacts(contacts, channel_types=["seeg"], drop_bad=False)
    assert list(kept["name"]) == ["A1", "A2", "A3", "A5"]
