"""The dataset's own anatomical labels (issue 17, item 1): label columns of electrodes.tsv in
three dialects place contacts in ROIs without MNI coordinates (anatomy.label_source)."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import hash_tree, write_face_bids

from ieegrsa import load_recording, localize
from ieegrsa.bids.dataset_labels import dataset_labels, find_label_columns, normalise_label
from ieegrsa.errors import BIDSError


@pytest.fixture
def seeg(shared_data) -> Path:
    """MNE's sample sEEG recording and its native-space electrodes with FreeSurfer labels."""
    return shared_data / "ieeg" / "mne_misc_data" / "seeg"


#: The Destrieux (2010) table, codes 1-74, as ds004080's electrodes.json gives them (the
#: FreeSurfer LUT numbers the same names 11101-11175 with ctx_lh_Medial_wall at 11142, which this
#: table has not; see test_destrieux_codes_match_the_freesurfer_lut).
DESTRIEUX = {2: "G_and_S_occipital_inf", 15: "G_front_middle", 16: "G_front_sup",
             21: "G_oc-temp_lat-fusifor", 37: "G_temporal_inf", 59: "S_occipital_ant",
             73: "S_temporal_sup"}


def _lut_names():
    import mne

    lut = Path(mne.__file__).parent / "data" / "FreeSurferColorLUT.txt"
    names = {}
    for line in lut.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit():
            names[int(parts[0])] = parts[1]
    return names


def _expected_region(label):
    """(hemisphere, region) of a label string, written here apart from the package's code."""
    if not isinstance(label, str) or label.strip().lower() in ("", "n/a", "unknown"):
        return None, None
    m = re.match(r"^(ctx_lh_|ctx-lh-|ctx_rh_|ctx-rh-|Left-|Right-)(.*)$", label.strip())
    if not m:
        return None, label.strip()
    side = "L" if m.group(1) in ("ctx_lh_", "ctx-lh-", "Left-") else "R"
    if m.group(2).lower() == "unknown":
        return None, None
    return side, m.group(2)


# ---------------------------------------------------------------------------------------------
# the sample sEEG file: native space, FreeSurfer Destrieux and DK names, written with mne-bids


def _write_sample_bids(root: Path, seeg: Path, space="Other") -> pd.DataFrame:
    import mne
    import mne_bids

    raw = mne.io.read_raw_edf(seeg / "sample_seeg.edf", verbose="error")
    raw.set_channel_types({n: ("misc" if n.startswith("DC") else "ecg" if n.startswith("EKG")
                               else "seeg") for n in raw.ch_names}, verbose="error")
    bids_path = mne_bids.BIDSPath(root=root, subject="01", task="faces", datatype="ieeg")
    mne_bids.write_raw_bids(raw, bids_path, overwrite=True, verbose="error")
    ieeg = bids_path.directory
    for old in list(ieeg.glob("*_electrodes.tsv")) + list(ieeg.glob("*_coordsystem.json")):
        old.unlink()
    tsv = seeg / "sample_seeg_electrodes.tsv"
    sample = pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False)
    shutil.copyfile(tsv, ieeg / f"sub-01_space-{space}_electrodes.tsv")
    (ieeg / f"sub-01_space-{space}_coordsystem.json").write_text(json.dumps({
        "iEEGCoordinateSystem": space, "iEEGCoordinateUnits": "mm",
        "iEEGCoordinateSystemDescription": "the patient's native T1w (FreeSurfer surface RAS)",
    }))
    if not (root / "dataset_description.json").exists():
        mne_bids.make_dataset_description(path=root, name="sample", overwrite=True,
                                          verbose="error")
    return sample


SAMPLE_ROIS = {
    # dataset-only ROIs that the sample's frontal contacts fall in, beside the packaged ones
    "front_sup_left": {"description": "left superior frontal", "hemisphere": "L",
                       "dataset_labels": {"destrieux": ["G_front_sup", "S_front_sup"],
                                          "desikan_killiany": ["superiorfrontal"]}},
    "front_sup": {"description": "superior frontal, both hemispheres",
                  "dataset_labels": {"destrieux": ["G_front_sup"],
                                     "desikan_killiany": ["superiorfrontal"]}},
}


@pytest.mark.realdata
@pytest.mark.parametrize("space", ["Other", "ACPC"])
def test_sample_seeg_native_space_placed_from_its_labels(tmp_path, seeg, space):
    root = tmp_path / "bids"
    sample = _write_sample_bids(root, seeg, space)
    before = hash_tree(root)
    recording = load_recording(root, "01", "faces", require_stimuli=False)
    assert hash_tree(root) == before  # only read
    config = {"anatomy": {"rois": ["front_sup_left", "front_sup", "ventral", "lateral"],
                          "roi_definitions": SAMPLE_ROIS}}
    table = localize(recording, config=config).set_index("name")
    assert hash_tree(root) == before

    rois = {"front_sup_left": ({"g_front_sup", "s_front_sup", "superiorfrontal"}, "L"),
            "front_sup": ({"g_front_sup", "superiorfrontal"}, None),
            "ventral": ({"g_oc-temp_lat-fusifor", "g_and_s_occipital_inf", "fusiform"}, None),
            "lateral": ({"s_temporal_sup", "bankssts"}, None)}
    contacts = [n for n in recording.raw.ch_names
                if recording.raw.get_channel_types([n])[0] == "seeg"]
    assert list(table.index) == contacts
    sample = sample.set_index("name")
    n_dataset = 0
    for name in contacts:
        row = table.loc[name]
        # Destrieux first; DK where Destrieux gives no label
        side, region = _expected_region(sample.loc[name, "destriuex"])
        column = "destriuex"
        if region is None:
            side, region = _expected_region(sample.loc[name, "desikan-killiany"])
            column = "desikan-killiany"
        expected = "n/a"
        if region is not None:
            for roi, (names, hemi) in rois.items():
                if region.lower() in names and (hemi is None or side == hemi):
                    expected = roi
                    break
        assert row["roi"] == expected, name
        if region is None:
            assert row["label_source"] == "n/a" and row["dataset_label"] == "n/a", name
            assert "no dataset label" in row["exclusion_reason"], name
            assert not row["included"]
        else:
            n_dataset += 1
            assert row["label_source"] == "dataset", name
            assert row["dataset_label_column"] == column, name
            assert row["dataset_label"] == sample.loc[name, column], name
            assert row["hemisphere"] == (side or "n/a"), name
            assert row["included"] == (expected != "n/a"), name
        # native coordinates are never looked up in the MNI atlases
        assert row["atlas_label"] == "n/a" and np.isnan(row["atlas_distance"]), name
        assert row["space"] == space
    assert n_dataset > 30
    assert (table["roi"] == "front_sup_left").sum() > 5
    assert (table["roi"] == "front_sup").sum() > 3  # the right-hemisphere superior frontal ones
    assert table.attrs["label_columns"] == {"destriuex": "destrieux",
                                            "desikan-killiany": "desikan_killiany"}


@pytest.mark.realdata
def test_native_space_without_labels_names_labels_as_a_way_out(tmp_path, seeg):
    root = tmp_path / "bids"
    _write_sample_bids(root, seeg)
    tsv = next(root.rglob("*_electrodes.tsv"))
    pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False)[
        ["name", "x", "y", "z", "size"]].to_csv(tsv, sep="\t", index=False)
    with pytest.raises(BIDSError, match="cannot place these contacts") as info:
        load_recording(root, "01", "faces", require_stimuli=False)
    assert info.value.field == "iEEGCoordinateSystem"
    assert "label" in info.value.fix and "anatomy.label_columns" in info.value.fix
    # with labels, atlas refuses them as before
    _write_sample_bids(root, seeg)
    with pytest.raises(BIDSError, match="cannot place these contacts"):
        load_recording(root, "01", "faces", require_stimuli=False, label_source="atlas")


# ---------------------------------------------------------------------------------------------
# ds004080's dialect: integer codes, their text twin and a code table in electrodes.json


def _rewrite_electrodes(root, columns: dict, *, space=None, sidecar=None):
    """Add label columns to the dataset's electrodes.tsv (and optionally make it native)."""
    tsv = next(Path(root).rglob("*_electrodes.tsv"))
    table = pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False)
    names = [f"LF{i}" for i in range(1, 7)] + [f"RT{i}" for i in range(1, 5)]
    for column, values in columns.items():
        table[column] = table["name"].map(dict(zip(names, values))).fillna("n/a")
    table.to_csv(tsv, sep="\t", index=False)
    if sidecar is not None:
        tsv.with_suffix(".json").write_text(json.dumps(sidecar))
    if space is not None:
        coordsystem = next(Path(root).rglob("*_coordsystem.json"))
        info = json.loads(coordsystem.read_text())
        info["iEEGCoordinateSystem"] = space
        coordsystem.write_text(json.dumps(info))
    return tsv


# contacts LF1..LF6 (sEEG), RT1..RT4 (ECoG) of conftest.write_face_bids
CODES = ["21", "21", "2", "16", "n/a", "0", "73", "73", "37", "59"]
HEMISPHERE = ["R", "L", "R", "R", "R", "R", "R", "L", "R", "R"]
CODE_SIDECAR = {
    "Destrieux_label": {
        "Description": "Destrieux atlas label (FreeSurfer aparc.a2009s), code",
        "Levels": {str(k): v for k, v in DESTRIEUX.items()},
    },
    "Destrieux_label_text": {"Description": "Destrieux atlas label, name"},
}


def _ds004080_columns(text=True):
    columns = {"hemisphere": HEMISPHERE, "Destrieux_label": CODES}
    if text:
        columns["Destrieux_label_text"] = [DESTRIEUX.get(int(c), "n/a") if c not in ("n/a", "0")
                                           else "n/a" for c in CODES]
    return columns


def _expected_ds004080():
    names = [f"LF{i}" for i in range(1, 7)] + [f"RT{i}" for i in range(1, 5)]
    out = {}
    for name, code, side in zip(names, CODES, HEMISPHERE):
        region = DESTRIEUX.get(int(code)) if code not in ("n/a", "0") else None
        roi = "n/a"
        if region in ("G_oc-temp_lat-fusifor", "G_and_S_occipital_inf"):
            roi = "ventral_right" if side == "R" else "ventral_left"
        elif region == "S_temporal_sup":
            roi = "lateral_right" if side == "R" else "lateral_left"
        out[name] = (region, side, roi)
    return out


@pytest.mark.parametrize("text", [True, False], ids=["text-twin", "code-table-only"])
def test_ds004080_codes_read_and_mapped(tmp_path, text):
    root = tmp_path / "bids"
    write_face_bids(root)
    _rewrite_electrodes(root, _ds004080_columns(text), space="ACPC", sidecar=CODE_SIDECAR)
    before = hash_tree(root)
    recording = load_recording(root, "01", "faces")
    config = {"anatomy": {"rois": ["ventral_left", "ventral_right", "lateral_left",
                                   "lateral_right"]}}
    table = localize(recording, config=config).set_index("name")
    assert hash_tree(root) == before
    for name, (region, side, roi) in _expected_ds004080().items():
        row = table.loc[name]
        assert row["roi"] == roi, name
        assert row["hemisphere"] == side, name  # from the file's hemisphere column
        if region is None:
            assert row["label_source"] == "n/a", name
        else:
            assert row["label_source"] == "dataset", name
            assert row["dataset_label"] == region, name
            assert row["dataset_label_column"] == "Destrieux_label"
        assert row["atlas_label"] == "n/a"
    # LF6 is bad in channels.tsv: it keeps its place but is not analysed
    assert table.loc["LF6", "exclusion_reason"].startswith("bad channel")


def test_destrieux_codes_match_the_freesurfer_lut():
    """The code numbers used above are Destrieux's 1-74 (the LUT's 11100 + code, one more from
    42 on, where the LUT has ctx_lh_Medial_wall)."""
    lut = _lut_names()
    for code, name in DESTRIEUX.items():
        assert lut[11100 + code + (code >= 42)] == f"ctx_lh_{name}"


def test_codes_without_table_or_twin_are_not_used(tmp_path, caplog):
    root = tmp_path / "bids"
    write_face_bids(root)
    _rewrite_electrodes(root, {"Destrieux_label": CODES}, space="ACPC")
    with caplog.at_level(logging.WARNING, logger="ieegrsa"), \
            pytest.raises(BIDSError, match="cannot place these contacts"):
        load_recording(root, "01", "faces")
    assert "numeric codes without a text twin" in caplog.text


def test_code_missing_from_the_table_is_an_error(tmp_path):
    root = tmp_path / "bids"
    write_face_bids(root)
    sidecar = {"Destrieux_label": {"Levels": {"21": "G_oc-temp_lat-fusifor"}}}
    _rewrite_electrodes(root, {"Destrieux_label": CODES}, space="ACPC", sidecar=sidecar)
    with pytest.raises(BIDSError, match="not in the code table") as info:
        load_recording(root, "01", "faces")
    assert info.value.field == "Destrieux_label.Levels"
    assert "73" in info.value.found


# ---------------------------------------------------------------------------------------------
# bare Destrieux names in a lab's own column; label_source choices on an MNI dataset


def test_bare_names_in_a_configured_column(tmp_path):
    root = tmp_path / "bids"
    write_face_bids(root)
    bare = ["G_oc-temp_lat-fusifor", "g_oc-temp_lat-fusifor", "S_temporal_sup", "Unknown",
            "n/a", "G_front_sup", "S_temporal_sup", "fusiform", "bankssts", "superiortemporal"]
    _rewrite_electrodes(root, {"Anat_Region": bare}, space="ACPC")
    with pytest.raises(BIDSError, match="cannot place"):
        load_recording(root, "01", "faces")  # an unknown column is no label column
    recording = load_recording(root, "01", "faces", label_columns=["anat_region"])
    table = localize(recording, config={"anatomy": {"label_columns": ["anat_region"]}})
    table = table.set_index("name")
    expected = ["ventral", "ventral", "lateral", "n/a", "n/a", "n/a", "lateral", "ventral",
                "lateral", "n/a"]
    assert list(table["roi"]) == expected
    assert list(table["label_source"]) == ["dataset"] * 3 + ["n/a"] * 2 + ["dataset"] * 5
    assert set(table["hemisphere"]) == {"n/a"}  # no prefix, no hemisphere column, native x
    # no hemisphere known: no member of a one-hemisphere ROI
    one_side = localize(recording, config={"anatomy": {"rois": ["ventral_left",
                                                                "ventral_right"]}})
    assert set(one_side["roi"]) == {"n/a"}


def _drop_label_columns(table):
    return table.drop(columns=[c for c in ("destrieux", "desikan-killiany") if c in table.columns])


def test_label_source_atlas_on_mni_is_todays_result(tmp_path):
    plain, labelled = tmp_path / "plain", tmp_path / "labelled"
    write_face_bids(plain)
    write_face_bids(labelled)
    names = ["ctx_rh_G_front_sup"] * 5 + ["Unknown"] + ["ctx_lh_S_temporal_sup"] * 4
    dk = ["ctx-rh-superiorfrontal"] * 5 + ["Unknown"] + ["ctx-lh-bankssts"] * 4
    _rewrite_electrodes(labelled, {"destrieux": names, "desikan-killiany": dk})
    before = hash_tree(labelled)
    today = localize(load_recording(plain, "01", "faces"))
    atlas = localize(load_recording(labelled, "01", "faces", label_source="atlas"),
                     config={"anatomy": {"label_source": "atlas"}})
    assert (today["label_source"] == "atlas").all()
    assert "dataset_label" not in today.columns and "dataset_label" not in atlas.columns
    pd.testing.assert_frame_equal(_drop_label_columns(atlas), today)
    # auto on the same files: the dataset's labels win where given (and their hemisphere, even
    # against x), the atlases place the contact without one
    auto = localize(load_recording(labelled, "01", "faces")).set_index("name")
    assert list(auto["label_source"]) == ["dataset"] * 5 + ["atlas"] + ["dataset"] * 4
    assert list(auto["roi"][6:]) == ["lateral"] * 4
    assert list(auto["hemisphere"][6:]) == ["L"] * 4
    assert auto.loc["LF6", "roi"] == today.set_index("name").loc["LF6", "roi"]
    # atlas labels are still given for MNI coordinates
    pd.testing.assert_series_equal(auto["atlas_label"], today.set_index("name")["atlas_label"])
    # dataset: the contact without a label is not placed
    only = localize(load_recording(labelled, "01", "faces"),
                    config={"anatomy": {"label_source": "dataset"}}).set_index("name")
    assert only.loc["LF6", "label_source"] == "n/a" and only.loc["LF6", "roi"] == "n/a"
    assert hash_tree(labelled) == before


def test_label_source_dataset_needs_label_columns(tmp_path):
    root = tmp_path / "bids"
    write_face_bids(root)
    with pytest.raises(BIDSError, match="no label column") as info:
        load_recording(root, "01", "faces", label_source="dataset")
    assert info.value.field == "anatomy.label_source"
    with pytest.raises(BIDSError) as info:
        load_recording(root, "01", "faces", label_source="datasets")
    assert info.value.field == "label_source"
    with pytest.raises(BIDSError, match="not in the electrodes file") as info:
        load_recording(root, "01", "faces", label_columns=["anat"])
    assert info.value.field == "anatomy.label_columns"


# ---------------------------------------------------------------------------------------------
# the pieces


@pytest.mark.parametrize("label, expected", [
    ("ctx_lh_G_oc-temp_lat-fusifor", ("L", "G_oc-temp_lat-fusifor")),
    ("ctx-rh-fusiform", ("R", "fusiform")),
    ("ctx_rh_S_temporal_sup", ("R", "S_temporal_sup")),
    ("ctx-lh-bankssts", ("L", "bankssts")),
    ("Left-Cerebral-White-Matter", ("L", "Cerebral-White-Matter")),
    ("Right-Hippocampus", ("R", "Hippocampus")),
    ("G_oc-temp_lat-fusifor", (None, "G_oc-temp_lat-fusifor")),
    ("CC_Anterior", (None, "CC_Anterior")),
    ("Unknown", (None, None)), ("ctx-lh-unknown", (None, None)), ("n/a", (None, None)),
    (float("nan"), (None, None)), ("", (None, None)),
])
def test_normalise_label(label, expected):
    assert normalise_label(label) == expected


def test_known_columns_case_insensitive_and_in_order():
    columns = ["name", "x", "DESIKAN-KILLIANY", "Destriuex", "dkt", "Destrieux_label_text",
               "my_labels"]
    assert find_label_columns(columns) == {"Destriuex": "destrieux", "dkt": "dkt",
                                           "DESIKAN-KILLIANY": "desikan_killiany"}
    assert list(find_label_columns(columns, ["MY_LABELS"]))[0] == "my_labels"


def test_first_usable_column_decides(tmp_path):
    table = pd.DataFrame({"name": ["a", "b", "c"], "destrieux": ["Unknown", "ctx_lh_G_cuneus",
                                                                  None],
                          "desikan-killiany": ["ctx-rh-fusiform", "ctx-lh-cuneus", "Unknown"]})
    out = dataset_labels(table, tmp_path / "sub-01_electrodes.tsv")
    assert list(out["dataset_label"]) == ["ctx-rh-fusiform", "ctx_lh_G_cuneus", "n/a"]
    assert list(out["dataset_label_column"]) == ["desikan-killiany", "destrieux", "n/a"]
    assert list(out["_dataset_hemisphere"]) == ["R", "L", "n/a"]


def test_packaged_roi_names_are_freesurfer_names():
    """Every dataset label name of rois.yaml is a Destrieux or DK name of FreeSurfer's LUT."""
    from importlib import resources

    data = yaml.safe_load(resources.files("ieegrsa").joinpath("data", "rois.yaml").read_text())
    lut = set(_lut_names().values())
    for name, roi in data["rois"].items():
        assert roi.get("dataset_labels"), name
        for scheme, names in roi["dataset_labels"].items():
            for region in names:
                prefix = "ctx_lh_" if scheme == "destrieux" else "ctx-lh-"
                assert prefix + region in lut, (name, scheme, region)
        if name.endswith(("_left", "_right")):
            assert roi["hemisphere"] == ("L" if name.endswith("_left") else "R")


@pytest.mark.parametrize("reference", ["car", "bipolar"])
def test_epochs_carry_the_dataset_labels(tmp_path, reference):
    """With epochs (monopolar or bipolar), a channel has its contacts' label when they agree."""
    from ieegrsa import preprocess

    root = tmp_path / "bids"
    write_face_bids(root)
    _rewrite_electrodes(root, _ds004080_columns(), space="ACPC", sidecar=CODE_SIDECAR)
    recording = load_recording(root, "01", "faces")
    config = {"preprocessing": {"reference": reference},
              "anatomy": {"rois": ["ventral", "lateral"]}}
    epochs = preprocess(recording, config)
    table = localize(recording, epochs, config=config).set_index("name")
    expected = _expected_ds004080()
    for name, row in table[table["in_epochs"]].iterrows():
        a, b = row["contact_a"], row["contact_b"]
        region, side, _ = expected[a]
        if isinstance(b, str) and b != "n/a" and expected[b][:2] != (region, side):
            region = None  # the pair's contacts disagree: no label
        roi = "n/a"
        if region in ("G_oc-temp_lat-fusifor", "G_and_S_occipital_inf"):
            roi = "ventral"
        elif region == "S_temporal_sup":
            roi = "lateral"
        assert row["roi"] == roi, name
        assert row["label_source"] == ("dataset" if region else "n/a"), name
    if reference == "bipolar":
        assert "LF1-LF2" in table.index and table.loc["LF1-LF2", "roi"] == "n/a"  # R / L
        assert table.loc["LF1-LF2", "dataset_label"] == \
            "G_oc-temp_lat-fusifor / G_oc-temp_lat-fusifor"
        assert table.loc["LF1-LF2", "exclusion_reason"] == (
            "the pair's contacts have different dataset labels "
            "(G_oc-temp_lat-fusifor / G_oc-temp_lat-fusifor)")
