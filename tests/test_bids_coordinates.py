"""Sanity of contact coordinates (issue 17, item 3): units checked against a head's size, the
electrodes file's names matched against the channels, 2-D Pixels positions refused."""

import json
import logging

import numpy as np
import pandas as pd
import pytest
from conftest import hash_tree, write_face_bids

import ieegrsa
from ieegrsa.errors import BIDSError

ELECTRODES = "sub-01/ieeg/sub-01_space-fsaverage_electrodes.tsv"
COORDSYSTEM = "sub-01/ieeg/sub-01_space-fsaverage_coordsystem.json"


def _dataset(root, *, units=None, system=None, scale=1.0, rename=None, extra_rows=()):
    """The face dataset of conftest, its contacts (written by mne-bids in m) edited as asked."""
    write_face_bids(root)
    table = pd.read_csv(root / ELECTRODES, sep="\t", keep_default_na=False, dtype=str)
    for axis in ("x", "y", "z"):
        values = pd.to_numeric(table[axis], errors="coerce") * scale
        table[axis] = values.map(lambda v: "n/a" if np.isnan(v) else repr(v))
    table["name"] = table["name"].replace(rename or {})
    for row in extra_rows:
        table.loc[len(table)] = row
    table.to_csv(root / ELECTRODES, sep="\t", index=False)
    coordsystem = json.loads((root / COORDSYSTEM).read_text())
    if units is not None:
        coordsystem["iEEGCoordinateUnits"] = units
    if system is not None:
        coordsystem["iEEGCoordinateSystem"] = system
    (root / COORDSYSTEM).write_text(json.dumps(coordsystem))
    return root


def _positions(recording):
    return recording.contacts[["x", "y", "z"]].to_numpy(float)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The contacts as declared correctly: millimetres declared mm (up to 70 mm from the origin)."""
    root = _dataset(tmp_path_factory.mktemp("mm") / "bids", units="mm", scale=1000 * 70 / 60)
    recording = ieegrsa.load_recording(root, "01", "faces")
    assert "units_corrected" not in recording.contacts.attrs
    assert recording.summary()["units_corrected"] == "n/a"
    assert np.nanmax(np.abs(_positions(recording))) == pytest.approx(70)
    return recording


def test_millimetres_declared_as_metres_are_read_as_millimetres(tmp_path, reference, caplog):
    # ds004100 declares metres for values that are millimetres
    root = _dataset(tmp_path / "bids", units="m", scale=1000 * 70 / 60)
    before = hash_tree(root)
    with caplog.at_level(logging.WARNING, logger="ieegrsa"):
        recording = ieegrsa.load_recording(root, "01", "faces")
    assert hash_tree(root) == before
    message = caplog.text
    assert "sub-01_space-fsaverage_coordsystem.json declares iEEGCoordinateUnits 'm'" in message
    assert "largest absolute coordinate is 70" in message and "read as mm" in message
    np.testing.assert_allclose(_positions(recording), _positions(reference))
    corrected = recording.contacts.attrs["units_corrected"]
    assert corrected["declared"] == "m" and corrected["used"] == "mm"
    assert corrected["factor"] == 1000 and corrected["file"].endswith("_coordsystem.json")
    assert recording.summary()["units_corrected"] == "declared m, used mm"


def test_metres_declared_as_millimetres_are_read_as_metres(tmp_path, reference, caplog):
    root = _dataset(tmp_path / "bids", units="mm", scale=70 / 60)
    with caplog.at_level(logging.WARNING, logger="ieegrsa"):
        recording = ieegrsa.load_recording(root, "01", "faces")
    assert "read as m " in caplog.text
    np.testing.assert_allclose(_positions(recording), _positions(reference))
    assert recording.contacts.attrs["units_corrected"]["factor"] == pytest.approx(1e-3)


@pytest.mark.parametrize("units, scale, largest", [
    ("mm", 0.1, "0.006"),  # 6 mm in m, 0.006 mm as declared: a head in neither
    ("m", 100.0, "6"),  # 6 m as declared, 6 mm in mm
])
def test_values_a_head_cannot_have_are_a_clear_error(tmp_path, units, scale, largest):
    root = _dataset(tmp_path / "bids", units=units, scale=scale)
    before = hash_tree(root)
    with pytest.raises(BIDSError, match="do not fit the units declared") as err:
        ieegrsa.load_recording(root, "01", "faces")
    message = str(err.value)
    assert "_coordsystem.json" in message and "[iEEGCoordinateUnits]" in message
    assert f"largest absolute coordinate is {largest}," in message
    assert "a head is ~150 mm across" in message and "Declare the unit" in message
    assert hash_tree(root) == before


def test_units_from_electrodes_json_where_coordsystem_gives_none(tmp_path, reference):
    root = _dataset(tmp_path / "bids", units="n/a", scale=1000 * 70 / 60)
    sidecar = root / ELECTRODES.replace(".tsv", ".json")
    sidecar.write_text(json.dumps({axis: {"Units": "mm"} for axis in ("x", "y", "z")}))
    recording = ieegrsa.load_recording(root, "01", "faces")
    np.testing.assert_allclose(_positions(recording), _positions(reference))
    # the same file saying metres is checked as coordsystem.json would be
    sidecar.write_text(json.dumps({axis: {"Units": "m"} for axis in ("x", "y", "z")}))
    recording = ieegrsa.load_recording(root, "01", "faces")
    assert recording.contacts.attrs["units_corrected"]["file"].endswith("_electrodes.json")
    np.testing.assert_allclose(_positions(recording), _positions(reference))


def test_channels_without_a_row_are_listed_with_the_rows_naming_none(tmp_path):
    root = _dataset(tmp_path / "bids", rename={"LF1": "LF01", "RT4": "XT4"})
    before = hash_tree(root)
    with pytest.raises(BIDSError, match="2 contact.s. in the recording are missing") as err:
        ieegrsa.load_recording(root, "01", "faces")
    message = str(err.value)
    assert "_electrodes.tsv" in message and "[name]" in message
    assert "sEEG/ECoG channels without a row: LF1, RT4; rows naming no channel: LF01, XT4" \
        in message
    assert "equal but for case, spaces or leading zeros: 'LF01' -> 'LF1'" in message
    assert hash_tree(root) == before


def test_rows_naming_no_channel_are_left_out_with_a_warning(tmp_path, caplog):
    extra = [("XX9", "0.01", "0.02", "0.03", "n/a"), ("lf01", "0.01", "0.02", "0.03", "n/a")]
    root = _dataset(tmp_path / "bids", extra_rows=extra)
    with caplog.at_level(logging.WARNING, logger="ieegrsa"):
        recording = ieegrsa.load_recording(root, "01", "faces")
    assert list(recording.contacts["name"]) == [f"LF{i}" for i in range(1, 7)] + [
        f"RT{i}" for i in range(1, 5)]
    assert "2 row(s) name no channel in channels.tsv: XX9, lf01" in caplog.text
    assert "(as channels named: 'lf01' -> 'LF1')" in caplog.text
    assert "EKG" not in caplog.text  # mne-bids' n/a row of a non-iEEG channel: expected


def test_positions_of_channels_not_typed_ieeg_are_named(tmp_path, caplog):
    root = _dataset(tmp_path / "bids")
    table = pd.read_csv(root / ELECTRODES, sep="\t", keep_default_na=False, dtype=str)
    table.loc[table["name"] == "EKG", ["x", "y", "z"]] = ["0.01", "0.02", "0.03"]
    table.to_csv(root / ELECTRODES, sep="\t", index=False)
    with caplog.at_level(logging.WARNING, logger="ieegrsa"):
        recording = ieegrsa.load_recording(root, "01", "faces")
    assert "EKG" not in set(recording.contacts["name"])
    assert "channels that channels.tsv does not type SEEG or ECOG: EKG (ecg)" in caplog.text


def test_a_clean_dataset_gives_no_coordinate_warning(tmp_path, caplog):
    root = _dataset(tmp_path / "bids")
    with caplog.at_level(logging.WARNING, logger="ieegrsa"):
        recording = ieegrsa.load_recording(root, "01", "faces")
    assert "left out" not in caplog.text and "declares" not in caplog.text
    assert "units_corrected" not in recording.contacts.attrs


@pytest.mark.parametrize("system, units, field", [
    ("Pixels", "pixels", "iEEGCoordinateSystem"),
    ("Pixels", "n/a", "iEEGCoordinateSystem"),
    ("Other", "pixels", "iEEGCoordinateUnits"),
])
def test_pixels_are_refused_for_atlas_lookup(tmp_path, system, units, field):
    root = _dataset(tmp_path / "bids", system=system, units=units, scale=1000)
    before = hash_tree(root)
    with pytest.raises(BIDSError, match="2-D positions on a photograph") as err:
        ieegrsa.load_recording(root, "01", "faces")
    message = str(err.value)
    assert "_coordsystem.json" in message and f"[{field}]" in message
    assert "3-D coordinates in an MNI space" in message
    assert "anatomy.label_source auto or dataset" in message
    # without MNI required, they load as they are (to inspect the dataset)
    recording = ieegrsa.load_recording(root, "01", "faces", require_mni=False)
    assert len(recording.contacts) == 10
    assert hash_tree(root) == before
