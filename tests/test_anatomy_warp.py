"""Native contacts to MNI: the T1w registration, its cache, the choice of warp, and the table.

The registration is scored on a synthetic patient whose relation to MNI is known exactly
(:func:`ieegrsa.simulate.anatomy.native_anatomy`: the MNI152 template under a random affine and
a smooth deformation): contacts planned in MNI are moved into the patient's space and must come
back within the issue's bounds (median <= 2 mm, max <= 4 mm).
"""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from ieegrsa.anatomy import localize
from ieegrsa.anatomy.native import WAYS_OUT, contact_warp, find_t1w, needs_mni
from ieegrsa.anatomy.warp import cached_registration, register_t1w
from ieegrsa.config import load_config
from ieegrsa.errors import DataError
from ieegrsa.simulate.anatomy import native_anatomy, template_image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ieeg" / "bids_examples"


def _brain_points(n=300, seed=0):
    """MNI positions (mm) inside the template's brain."""
    template = template_image(2)
    ijk = np.argwhere(np.asarray(template.get_fdata()) > 0.3)
    ijk = ijk[np.random.default_rng(seed).choice(len(ijk), n, replace=False)]
    return (template.affine @ np.c_[ijk, np.ones(n)].T)[:3].T


@pytest.fixture(scope="module")
def patient(tmp_path_factory):
    """A synthetic patient (4 mm deformation), its T1w on disk and one cached registration."""
    folder = tmp_path_factory.mktemp("patient")
    anatomy = native_anatomy(seed=7, deformation_mm=4.0)
    path = folder / "sub-01_T1w.nii.gz"
    nib.save(anatomy.t1w, path)
    warp, info = cached_registration(path, folder / "cache")
    return SimpleNamespace(anatomy=anatomy, path=path, warp=warp, info=info, folder=folder)


def test_synthetic_anatomy_is_exactly_invertible():
    anatomy = native_anatomy(seed=1, deformation_mm=6.0)
    mni = _brain_points(200)
    native = anatomy.to_native(mni)
    assert np.abs(anatomy.to_mni(native) - mni).max() < 1e-6
    assert np.median(np.linalg.norm(native - mni, axis=1)) > 5  # the patient is really moved


def test_registration_recovers_mni_positions(patient):
    """The issue's bound on a known deformation; the non-linear step beats the affine one."""
    mni = _brain_points(300, seed=1)
    native = patient.anatomy.to_native(mni)
    error = np.linalg.norm(patient.warp.apply(native) - mni, axis=1)
    affine_error = np.linalg.norm(patient.warp.apply_affine(native) - mni, axis=1)
    assert np.median(error) <= 2.0 and error.max() <= 4.0, (np.median(error), error.max())
    assert np.median(error) < np.median(affine_error)
    # the other direction of the SDR map is measurably wrong: the test can fail
    wrong = np.asarray(patient.warp.sdr.transform_points(patient.warp.apply_affine(native)))
    assert np.median(np.linalg.norm(wrong - mni, axis=1)) > np.median(error) + 0.3


def test_registration_is_cached_by_content(patient, caplog):
    assert patient.info["cached"] is False and Path(patient.info["cache"]).is_file()
    with caplog.at_level(logging.INFO, logger="ieegrsa"):
        again, info = cached_registration(patient.path, patient.folder / "cache")
    assert info["cached"] is True and "read from the cache" in caplog.text
    native = patient.anatomy.to_native(_brain_points(50, seed=2))
    np.testing.assert_array_equal(again.apply(native), patient.warp.apply(native))
    # plain arrays only: nothing in the cache needs unpickling
    with zipfile.ZipFile(info["cache"]) as archive:
        names = archive.namelist()
    with np.load(info["cache"], allow_pickle=False) as stored:
        assert all(stored[name.removesuffix(".npy")].dtype != object for name in names)
    # another T1w content gets another cache entry
    other = patient.folder / "sub-02_T1w.nii.gz"
    image = nib.load(patient.path)
    nib.save(nib.Nifti1Image(np.asarray(image.get_fdata(), np.float32) * 1.01, image.affine),
             other)
    _, settings_info = cached_registration(other, patient.folder / "cache", nonlinear=False)
    assert settings_info["cached"] is False and settings_info["cache"] != info["cache"]


@pytest.mark.parametrize("kind", ["placeholder", "empty"])
def test_t1w_without_anatomy_is_one_clear_error(tmp_path, kind):
    """bids-examples ship T1w placeholders (all NaN, or 0 bytes): refused with the file named."""
    if kind == "placeholder":
        path = SHARED / "ieeg_visual" / "sub-01" / "ses-01" / "anat" / "sub-01_ses-01_T1w.nii.gz"
        if not path.is_file():
            pytest.skip("needs ../shared/data/ieeg/bids_examples")
        match = "holds no anatomy"
    else:
        path = tmp_path / "sub-01_T1w.nii.gz"
        path.write_bytes(b"")
        match = "cannot be read"
    with pytest.raises(DataError, match=match) as err:
        register_t1w(path)
    assert str(path) in str(err.value)


def _recording(root, positions, space="ACPC", *, intended=None, labels=None):
    """A minimal recording of a BIDS-like folder: contacts, root, subject, a coordsystem."""
    ieeg = root / "sub-01" / "ieeg"
    ieeg.mkdir(parents=True, exist_ok=True)
    (ieeg / "sub-01_space-ACPC_electrodes.tsv").write_text("name\tx\ty\tz\n")
    coords = {"iEEGCoordinateSystem": space, "iEEGCoordinateUnits": "mm"}
    if intended:
        coords["IntendedFor"] = intended
    (ieeg / "sub-01_space-ACPC_coordsystem.json").write_text(json.dumps(coords))
    contacts = pd.DataFrame({"name": [f"C{k + 1}" for k in range(len(positions))],
                             "x": positions[:, 0], "y": positions[:, 1], "z": positions[:, 2],
                             "space": space, "type": "seeg", "status": "good",
                             "status_description": "n/a", "group": "C"})
    if labels is not None:
        contacts["_dataset_region"] = labels
        contacts["_dataset_hemisphere"] = "n/a"
        contacts["dataset_label"] = labels
        contacts["dataset_label_column"] = "destrieux"
    return SimpleNamespace(contacts=contacts, bids_root=root, subject="01", session=None,
                           bids_path=SimpleNamespace(fpath=ieeg / "sub-01_task-faces_ieeg.edf"),
                           stimuli=None)


def test_which_contacts_need_mni():
    contacts = pd.DataFrame({"x": [1.0, np.nan, 3.0, 4.0], "y": 0.0, "z": 0.0,
                             "space": ["ACPC", "ACPC", "ACPC", "MNI152NLin2009cAsym"],
                             "_dataset_region": ["fusiform", "n/a", "n/a", "n/a"]})
    assert list(needs_mni(contacts, "auto")) == [False, False, True, False]
    assert list(needs_mni(contacts, "atlas")) == [True, False, True, False]
    assert not needs_mni(contacts, "dataset").any()


def test_finding_the_t1w(tmp_path):
    config = load_config().anatomy
    recording = _recording(tmp_path, np.zeros((1, 3)))
    assert find_t1w(recording, config.warp) is None
    anat = tmp_path / "sub-01" / "anat"
    anat.mkdir()
    for name in ("sub-01_acq-pre_T1w.nii.gz", "sub-01_acq-post_T1w.nii.gz"):
        (anat / name).write_bytes(b"x")
    with pytest.raises(DataError, match="Several T1w images") as err:
        find_t1w(recording, config.warp)
    assert "acq-post" in str(err.value) and "anatomy.warp.t1w" in str(err.value)
    intended = _recording(tmp_path, np.zeros((1, 3)),
                          intended="bids::sub-01/anat/sub-01_acq-pre_T1w.nii.gz")
    assert find_t1w(intended, config.warp).name == "sub-01_acq-pre_T1w.nii.gz"
    named = load_config({"anatomy": {"warp": {
        "t1w": "sub-{subject}/anat/sub-{subject}_acq-post_T1w.nii.gz"}}}).anatomy
    assert find_t1w(recording, named.warp).name == "sub-01_acq-post_T1w.nii.gz"
    missing = load_config({"anatomy": {"warp": {"t1w": "nowhere_T1w.nii.gz"}}}).anatomy
    with pytest.raises(DataError, match=r"anatomy.warp.t1w does not exist"):
        find_t1w(recording, missing.warp)


def test_no_way_to_mni_names_all_three(tmp_path):
    recording = _recording(tmp_path, np.array([[30.0, -50.0, -15.0]]))
    with pytest.raises(DataError) as err:
        contact_warp(recording, load_config().anatomy)
    message = str(err.value)
    assert "ACPC" in message and "atlas label" in message and "T1w" in message \
        and "from-MNI152NLin2009cAsym_to-T1w_mode-image_xfm" in message
    assert WAYS_OUT[5:40] in message
    transform_only = load_config({"anatomy": {"warp": {"method": "transform"}}}).anatomy
    with pytest.raises(DataError, match="method is transform, but there is no transform"):
        contact_warp(recording, transform_only)
    # labelled contacts elsewhere: the unlabelled ones are left out, not an error
    labelled = _recording(tmp_path, np.array([[30.0, -50.0, -15.0], [1.0, 2.0, 3.0]]),
                          labels=["G_oc-temp_lat-fusifor", "n/a"])
    assert contact_warp(labelled, load_config().anatomy) is None


def test_lab_matrix_warps_the_contact_table(tmp_path):
    """A plain 4x4 matrix (native -> MNI) named in anatomy.warp.transform places the contacts
    exactly, keeps the native positions, and the MNI atlases label them."""
    mni = np.array([[40.0, -55.0, -18.0], [-42.0, -50.0, -20.0], [10.0, 10.0, 60.0]])
    to_native = np.array([[0.98, -0.05, 0.0, 3.0], [0.05, 0.98, 0.02, -12.0],
                          [0.0, -0.02, 1.03, 20.0], [0, 0, 0, 1.0]])
    native = (to_native @ np.c_[mni, np.ones(3)].T)[:3].T
    matrix = tmp_path / "sub-01_native2mni.txt"
    np.savetxt(matrix, np.linalg.inv(to_native))
    recording = _recording(tmp_path, native)
    config = {"anatomy": {"warp": {"transform": "sub-{subject}_native2mni.txt"},
                          "localizer": {"run": "off"}}}
    table = localize(recording, config=config)
    np.testing.assert_allclose(table[["x", "y", "z"]].to_numpy(float), mni, atol=0.01)
    np.testing.assert_allclose(table[["x_native", "y_native", "z_native"]].to_numpy(float),
                               native)
    assert set(table["space"]) == {"MNI152NLin2009cAsym"} and set(table["space_native"]) == {"ACPC"}
    assert table["warp_displacement"].isna().all()  # a lab matrix has no non-linear step
    assert (table["label_source"] == "atlas").all() and table["atlas_label"].ne("n/a").all()
    assert table.attrs["warp"]["method"] == "transform" and table.attrs["warp"]["n_warped"] == 3
    assert list(table["hemisphere"]) == ["R", "L", "R"]  # from the MNI x, not the native one


def test_registered_contacts_in_the_table_and_figure(patient, tmp_path):
    """A T1w in anat/ is found and registered; the table and the QC figure show the warp."""
    from ieegrsa.anatomy import plot_registration
    from ieegrsa.report.participant import _registration_section

    mni = np.array([[40.0, -55.0, -18.0], [-42.0, -50.0, -20.0], [50.0, -45.0, 8.0]])
    native = patient.anatomy.to_native(mni)
    recording = _recording(tmp_path, native)
    anat = tmp_path / "sub-01" / "anat"
    anat.mkdir(parents=True)
    (anat / "sub-01_T1w.nii.gz").write_bytes(patient.path.read_bytes())
    anatomy = load_config({"anatomy": {"localizer": {"run": "off"}}}).anatomy
    warp = contact_warp(recording, anatomy, cache_dir=patient.folder / "cache")
    assert warp.method == "registration" and warp.info["cached"] is True  # same content
    table = localize(recording, config=anatomy, warp=warp)
    error = np.linalg.norm(table[["x", "y", "z"]].to_numpy(float) - mni, axis=1)
    assert error.max() < 4.0
    assert set(table["space"]) == {"MNI152NLin2009aAsym"}
    assert table["warp_displacement"].between(0, 20).all()
    figure = plot_registration(table, warp, title="sub-01")
    assert len(figure.axes) >= 2
    section = _registration_section(table, figure)
    assert section["image"].startswith("data:image/png") and "3 contacts were warped from ACPC" \
        in section["text"]
