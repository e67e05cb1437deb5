"""Tests of make_dataset(anatomy=...): simulated contacts in each patient's own (ACPC) space.

The MNI positions of sourcedata/simulation/ stay the truth; the native ones are the patient's
``to_native(mni)`` rounded to 0.01 mm, placed by dataset labels, a T1w or a lab transform.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import ieegrsa
from ieegrsa.errors import DataError
from ieegrsa.simulate import PRESETS, _native, make_dataset
from ieegrsa.simulate.implants import plan_implant
from ieegrsa.simulate.presets import resolve_preset

MNI = "MNI152NLin2009cAsym"
NATIVE_KINDS = ("labels", "t1w", "transform", "native")
XFM = f"from-{MNI}_to-T1w_mode-image_xfm.txt"


def read_tsv(path):
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[])


def ground_truth(root):
    return json.loads((root / "sourcedata" / "simulation" / "ground_truth.json").read_text())


def truth_contacts(root, sub):
    return read_tsv(root / "sourcedata" / "simulation" / f"sub-{sub}_contacts.tsv")


def subjects(root):
    return sorted(ground_truth(root)["subjects"])


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """The tiny preset, seed 0, once per anatomy (MNI included, to compare against)."""
    base = tmp_path_factory.mktemp("native")
    return {kind: make_dataset(base / kind, preset="tiny", seed=0, anatomy=kind, verbose=False)
            for kind in ("mni", *NATIVE_KINDS)}


def _patient(root, sub):
    """The patient's NativeAnatomy, rebuilt from ground_truth.json."""
    info = ground_truth(root)["subjects"][sub]["anatomy"]
    return _native.patient_anatomy(info["kind"], info["seed"])


# --------------------------------------------------------------------------------------- files

@pytest.mark.parametrize("kind", NATIVE_KINDS)
def test_each_kind_writes_what_it_should(datasets, kind):
    root = datasets[kind]
    gt = ground_truth(root)
    assert gt["anatomy"] == kind and gt["space"] == MNI  # the truth's positions stay in MNI
    assert not list(root.rglob(f"*space-{MNI}_electrodes.tsv"))
    for sub in subjects(root):
        ieeg, anat = root / f"sub-{sub}" / "ieeg", root / f"sub-{sub}" / "anat"
        info = gt["subjects"][sub]["anatomy"]
        assert info["kind"] == kind and info["space"] == "ACPC"
        assert np.shape(info["affine_mni_to_native"]) == (4, 4)
        electrodes = read_tsv(ieeg / f"sub-{sub}_space-ACPC_electrodes.tsv")
        assert list(electrodes.columns[:5]) == ["name", "x", "y", "z", "size"]
        assert ("destrieux" in electrodes.columns) == (kind == "labels")
        assert (ieeg / f"sub-{sub}_space-ACPC_electrodes.json").is_file() == (kind == "labels")
        coordsystem = json.loads((ieeg / f"sub-{sub}_space-ACPC_coordsystem.json").read_text())
        assert coordsystem["iEEGCoordinateSystem"] == "ACPC"
        assert coordsystem["iEEGCoordinateUnits"] == "mm"
        has_t1w = kind in ("t1w", "transform")
        assert (anat / f"sub-{sub}_T1w.nii.gz").is_file() == has_t1w
        assert coordsystem.get("IntendedFor") == (
            f"bids::sub-{sub}/anat/sub-{sub}_T1w.nii.gz" if has_t1w else None)
        xfm = root / "derivatives" / "transforms" / f"sub-{sub}" / "anat" / f"sub-{sub}_{XFM}"
        assert xfm.is_file() == (kind == "transform")
        assert (info["deformation_mm"] == 0.0) == (kind == "transform")
        if kind == "t1w":
            assert info["deformation_mm"] == pytest.approx(_native.DEFORMATION_MM)
    description = root / "derivatives" / "transforms" / "dataset_description.json"
    assert description.is_file() == (kind == "transform")
    if kind == "transform":
        assert json.loads(description.read_text())["DatasetType"] == "derivative"
    assert "ACPC" in (root / "README").read_text()


def test_mni_is_the_default_and_unchanged(datasets, tmp_path):
    """anatomy="mni" is the default; the native datasets differ from it only in the contacts'
    files (their patients' recordings, events and channels are byte-identical)."""
    mni = datasets["mni"]
    assert "anatomy" not in ground_truth(mni)
    assert "anatomy" not in ground_truth(mni)["subjects"]["01"]
    assert not (mni / "derivatives").exists() and not list(mni.glob("sub-*/anat"))
    default = make_dataset(tmp_path / "default", preset="tiny", seed=0, verbose=False)
    files = sorted(p.relative_to(mni) for p in mni.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(default) for p in default.rglob("*") if p.is_file())
    for name in files:
        assert (mni / name).read_bytes() == (default / name).read_bytes(), name
    shared = [p for p in files if "electrodes" not in p.name and "coordsystem" not in p.name
              and p.name not in ("README", "ground_truth.json")]
    assert len(shared) > 20
    for kind in NATIVE_KINDS:
        for name in shared:
            assert (datasets[kind] / name).read_bytes() == (mni / name).read_bytes(), (kind, name)


def test_native_files_are_deterministic(datasets, tmp_path):
    again = make_dataset(tmp_path / "again", preset="tiny", seed=0, anatomy="transform",
                         verbose=False)
    root = datasets["transform"]
    files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert any(p.name.endswith("_T1w.nii.gz") for p in files)
    for name in files:
        assert (again / name).read_bytes() == (root / name).read_bytes(), name


def test_bad_anatomy_is_refused_before_writing(tmp_path):
    with pytest.raises(DataError, match="anatomy") as err:
        make_dataset(tmp_path / "x", anatomy="acpc", verbose=False)
    assert err.value.field == "anatomy"
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("kind", ["labels", "transform"])
def test_native_dataset_passes_the_bids_validator(datasets, kind):
    from conftest import bids_validator_issues

    errors, warnings = bids_validator_issues(datasets[kind])
    assert errors == [], sorted({(e["code"], e.get("subCode"), e.get("location"))
                                 for e in errors})
    # the ieeg warnings of the MNI dataset, and a T1w's recommended acquisition keys
    for w in warnings:
        assert (w.get("subCode") in {"CogAtlasID", "CogPOID", "HEDVersion", "SourceDatasets"}
                or "_T1w.nii.gz" in str(w.get("location"))), w


# ------------------------------------------------------------------------- positions and truth

@pytest.mark.parametrize("kind", NATIVE_KINDS)
def test_loaded_contacts_are_the_truth_in_native_space(datasets, kind):
    root = datasets[kind]
    for sub in subjects(root):
        recording = ieegrsa.load_recording(root, sub, "faces", require_mni=False, verbose=False)
        contacts = recording.contacts.set_index("name")
        truth = truth_contacts(root, sub).set_index("name")
        assert sorted(contacts.index) == sorted(truth.index)
        assert set(contacts["space"]) == {"ACPC"}
        anatomy = _patient(root, sub)
        recorded = ground_truth(root)["subjects"][sub]["anatomy"]["affine_mni_to_native"]
        np.testing.assert_allclose(anatomy.affine, recorded, atol=1e-9)
        mni = truth.loc[contacts.index, ["x", "y", "z"]].to_numpy(float)
        native = contacts[["x", "y", "z"]].to_numpy(float)
        np.testing.assert_allclose(native, anatomy.to_native(mni), atol=0.005 + 1e-9)
        np.testing.assert_allclose(anatomy.to_mni(native), mni, atol=0.02)
        # a real displacement: the native positions are not the MNI ones
        assert np.linalg.norm(native - mni, axis=1).min() > 1.0


def test_transform_maps_native_contacts_to_the_truth(datasets):
    from ieegrsa.anatomy._transform_files import find_template_transform, read_point_transform

    root = datasets["transform"]
    for sub in subjects(root):
        found = find_template_transform(root, sub)
        assert found == (root / "derivatives" / "transforms" / f"sub-{sub}" / "anat"
                         / f"sub-{sub}_{XFM}")
        transform = read_point_transform(found)
        assert transform.kind == "affine" and transform.space == MNI
        electrodes = read_tsv(root / f"sub-{sub}" / "ieeg" / f"sub-{sub}_space-ACPC_electrodes.tsv")
        truth = truth_contacts(root, sub).set_index("name").loc[electrodes["name"]]
        np.testing.assert_allclose(transform.apply(electrodes[["x", "y", "z"]].to_numpy(float)),
                                   truth[["x", "y", "z"]].to_numpy(float), atol=0.02)


@pytest.mark.parametrize("kind", ["t1w", "transform"])
def test_t1w_is_the_patient_image(datasets, kind):
    import nibabel as nib

    from ieegrsa.simulate.anatomy import template_image

    root = datasets[kind]
    for sub in subjects(root):
        path = root / f"sub-{sub}" / "anat" / f"sub-{sub}_T1w.nii.gz"
        assert path.stat().st_size < 2_000_000
        image, anatomy = nib.load(path), _patient(root, sub)
        template = template_image(2)
        np.testing.assert_allclose(image.affine, anatomy.affine @ template.affine, atol=1e-4)
        data = np.asarray(image.dataobj, float)
        assert data.shape == template.shape
        np.testing.assert_allclose(data, anatomy.t1w.get_fdata(), atol=1e-3 * data.max())
        # a voxel deep in the brain shows the template's intensity at the MNI position it images
        mni = np.array([[30.0, -20.0, 10.0]])
        ijk = np.round(np.linalg.inv(image.affine) @ np.r_[anatomy.to_native(mni)[0], 1])[:3]
        tijk = np.round(np.linalg.inv(template.affine) @ np.r_[mni[0], 1])[:3]
        value = data[tuple(ijk.astype(int))]
        expected = template.get_fdata()[tuple(tijk.astype(int))]
        assert value == pytest.approx(expected, abs=0.15 * template.get_fdata().max())


# ------------------------------------------------------------------------------------- labels

def _label_rois(regions, hemispheres):
    from ieegrsa.anatomy.rois import dataset_roi_membership, load_roi_definitions, resolve_rois

    rois = resolve_rois(["ventral", "lateral"], load_roi_definitions())
    member = dataset_roi_membership(regions, hemispheres, rois)
    assert not (member["ventral"] & member["lateral"]).any()
    return np.where(member["ventral"], "ventral", np.where(member["lateral"], "lateral", "n/a"))


def test_roi_from_the_label_is_the_planted_roi(datasets):
    root = datasets["labels"]
    counts = {"ventral": 0, "lateral": 0}
    for sub in subjects(root):
        recording = ieegrsa.load_recording(root, sub, "faces", require_mni=False, verbose=False)
        contacts = recording.contacts.set_index("name")
        assert contacts["dataset_label_column"].eq("destrieux").all()
        truth = truth_contacts(root, sub).set_index("name").loc[contacts.index]
        rois = _label_rois(contacts["_dataset_region"], contacts["_dataset_hemisphere"])
        assert list(rois) == list(truth["roi"]), sub
        assert (contacts["_dataset_hemisphere"] == truth["hemisphere"]).all()
        for roi in counts:
            counts[roi] += int((rois == roi).sum())
    assert min(counts.values()) >= 2


def test_labels_follow_the_planted_areas_for_many_implants():
    """Every preset, 60 patients each: ROI by label == planted ROI, FreeSurfer names only."""
    known = {*(_native.AREA_LABELS.values()), "Cerebral-White-Matter",
             *(name.lstrip("@") for pair in _native.TARGET_LABELS.values() for name in pair)}
    for preset in PRESETS:
        params = resolve_preset(preset)
        for index in range(60):
            contacts = plan_implant(np.random.default_rng([index, 2, index]), params, index)
            labels = _native.destrieux_labels(contacts)
            sides = np.where([lab.startswith(("ctx_lh_", "Left-")) for lab in labels], "L", "R")
            assert (sides == contacts["hemisphere"]).all()
            regions = [lab.split("_", 2)[2] if lab.startswith("ctx_") else lab.split("-", 1)[1]
                       for lab in labels]
            assert set(regions) <= known
            assert list(_label_rois(regions, sides)) == list(contacts["roi"]), (preset, index)
            area = contacts["area"].to_numpy()
            assert all(r == _native.AREA_LABELS[a] for r, a in zip(regions, area, strict=True)
                       if a in _native.AREA_LABELS)
