"""BIDS ingestion: discovery, load_recording on generated and real datasets, derivatives writing."""

from __future__ import annotations

import json

import mne
import numpy as np
import pandas as pd
import pytest
from conftest import _replace_with_fif, hash_tree, write_face_bids

import ieegrsa
from ieegrsa.bids import (
    find_recordings,
    list_subjects,
    read_tsv,
    write_dataset_description,
    write_tsv,
)
from ieegrsa.errors import BIDSError


@pytest.mark.parametrize("fmt", ["EDF", "BrainVision", "FIF"])
def test_load_mne_bids_dataset(tmp_path, fmt):
    root = tmp_path / "bids"
    [(data, events)] = write_face_bids(root, fmt=fmt)
    before = hash_tree(root)
    rec = ieegrsa.load_recording(root, "sub-01", "faces")
    assert hash_tree(root) == before

    # contacts: sEEG and ECoG only, in recording order, positions converted m -> mm
    names = [f"LF{i}" for i in range(1, 7)] + [f"RT{i}" for i in range(1, 5)]
    assert list(rec.contacts["name"]) == names
    assert list(rec.contacts["type"]) == ["seeg"] * 6 + ["ecog"] * 4
    np.testing.assert_allclose(rec.contacts["x"], 40.0, atol=1e-3)
    np.testing.assert_allclose(rec.contacts["y"], -60.0 + 3.5 * np.arange(10), atol=1e-3)
    assert set(rec.contacts["space"]) == {"fsaverage"}
    # the bad channel stays known, not dropped
    assert rec.contacts.set_index("name").loc["LF6", "status"] == "bad"
    assert "LF6" in rec.raw.info["bads"] and "LF6" in rec.raw.ch_names
    assert rec.line_freq == 50.0

    # signal round trip (EDF stores 16-bit integers: compare at its resolution)
    got = rec.raw.get_data(picks=["LF1", "RT4"])
    want = data[[0, 9]]
    scale = np.abs(want).max()
    assert np.max(np.abs(got - want)) < scale * (1e-3 if fmt == "EDF" else 1e-6)

    # events and stimuli
    assert len(rec.events) == len(events)
    np.testing.assert_allclose(rec.events["onset"], events["onset"])
    np.testing.assert_array_equal(rec.events["sample"], np.round(events["onset"] * 512).astype(int))
    assert list(rec.events["stim_file"]) == list(events["stim_file"])
    assert rec.events["repetition"].max() == 2 and rec.events["repetition"].min() == 1
    assert len(rec.stimuli) == 6
    # stimulus order follows stimuli.tsv, never sorted
    table = pd.read_csv(root / "stimuli" / "stimuli.tsv", sep="\t")
    assert list(rec.stimuli["stim_file"]) == list(table["stim_file"])
    assert (rec.stimuli["n_presentations"] == 2).all()
    summary = rec.summary()
    assert summary["n_identities"] == 3 and summary["n_expressions"] == 2
    assert summary["n_seeg"] == 6 and summary["n_ecog"] == 4 and summary["n_bad"] == 1


def test_runs_are_concatenated_with_their_events(tmp_path):
    root = tmp_path / "bids"
    written = write_face_bids(root, fmt="BrainVision", runs=2)
    rec = ieegrsa.load_recording(root, "01", "faces")
    (data1, events1), (data2, events2) = written
    assert rec.raw.n_times == data1.shape[1] + data2.shape[1]
    assert len(rec.bids_paths) == 2
    start2 = data1.shape[1] / 512.0
    expected = np.concatenate([events1["onset"], events2["onset"] + start2])
    np.testing.assert_allclose(rec.events["onset"], expected)
    assert list(rec.events["run"]) == ["01"] * len(events1) + ["02"] * len(events2)
    # the sample index points at the same data as in the run file
    i = len(events1) + 3
    sample_in_run = int(round(events2["onset"].iloc[3] * 512))
    np.testing.assert_allclose(
        rec.raw.get_data(picks=[0])[0, rec.events["sample"].iloc[i]],
        data2[0, sample_in_run], rtol=1e-4,
    )
    # repetition counts across runs, in presentation order
    first = rec.events.groupby("stim_file")["repetition"].agg(["min", "max"])
    assert (first["min"] == 1).all() and (first["max"] == 4).all()
    # one run only
    rec2 = ieegrsa.load_recording(root, "01", "faces", run="02")
    assert rec2.raw.n_times == data2.shape[1]
    np.testing.assert_allclose(rec2.events["onset"], events2["onset"])


def test_discovery(tmp_path):
    root = tmp_path / "bids"
    write_face_bids(root, subject="01", session="a")
    write_face_bids(root, subject="02", session="a", fmt="BrainVision")
    write_face_bids(root, subject="02", session="b")
    assert list_subjects(root) == ["01", "02"]
    table = find_recordings(root)
    assert list(zip(table["subject"], table["session"])) == [("01", "a"), ("02", "a"), ("02", "b")]
    assert set(table["task"]) == {"faces"}
    with pytest.raises(BIDSError, match="several sessions") as err:
        ieegrsa.load_recording(root, "02", "faces")
    assert "a, b" in str(err.value)
    rec = ieegrsa.load_recording(root, "02", "faces", session="ses-b")
    assert rec.session == "b"


def test_identity_from_stimuli_table_and_conflicts(face_bids):
    events_file = next(face_bids.rglob("*_events.tsv"))
    events = pd.read_csv(events_file, sep="\t")
    events.drop(columns=["identity", "expression"]).to_csv(events_file, sep="\t", index=False)
    rec = ieegrsa.load_recording(face_bids, "01", "faces")
    assert list(rec.events["identity"]) == list(events["identity"])
    assert list(rec.events["expression"]) == list(events["expression"])
    # a disagreement between the events and stimuli.tsv is an error naming both
    events.loc[0, "identity"] = "id9"
    events.drop(columns=["expression"]).to_csv(events_file, sep="\t", index=False)
    with pytest.raises(BIDSError, match="disagree on identity") as err:
        ieegrsa.load_recording(face_bids, "01", "faces")
    assert "id9" in str(err.value) and events_file.name in str(err.value)


@pytest.mark.parametrize("name", ["../sub-01/ieeg/{events}", "{absolute}", "link/{events}"])
def test_stimulus_files_outside_stimuli_are_refused(face_bids, name):
    """An existing file reached through '..', an absolute path or a symbolic link that leaves
    stimuli/ is one error naming the events file and the path; the dataset is not modified."""
    events_file = next(face_bids.rglob("*_events.tsv"))
    (face_bids / "stimuli" / "link").symlink_to(events_file.parent, target_is_directory=True)
    name = name.format(events=events_file.name, absolute=events_file.resolve())
    events = pd.read_csv(events_file, sep="\t")
    events.loc[0, "stim_file"] = name
    events.to_csv(events_file, sep="\t", index=False)
    before = events_file.read_bytes()
    with pytest.raises(BIDSError, match="outside stimuli/") as err:
        ieegrsa.load_recording(face_bids, "01", "faces")
    assert name in str(err.value) and events_file.name in str(err.value)
    assert err.value.field == "stim_file"
    assert events_file.read_bytes() == before


def test_custom_column_names(face_bids):
    events_file = next(face_bids.rglob("*_events.tsv"))
    events = pd.read_csv(events_file, sep="\t").rename(
        columns={"expression": "emotion", "stim_file": "image"}
    )
    events.to_csv(events_file, sep="\t", index=False)
    (face_bids / "stimuli" / "stimuli.tsv").unlink()
    rec = ieegrsa.load_recording(face_bids, "01", "faces", expression_column="emotion",
                                 stim_file_column="image")
    assert set(rec.stimuli["expression"]) == {"neutral", "happy"}
    # stimulus order without a table: first presentation
    assert list(rec.stimuli["stim_file"]) == list(pd.unique(events["image"]))


def test_write_tsv_and_description(tmp_path):
    table = pd.DataFrame({"name": ["a", "b"], "value": [1.5, np.nan]})
    path = write_tsv(table, tmp_path / "x" / "t.tsv", columns={"name": "Contact.",
                     "value": {"Description": "A value.", "Units": "s"}}, extra={"Seed": 1})
    assert path.read_text() == "name\tvalue\na\t1.5\nb\tn/a\n"
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["value"]["Units"] == "s" and sidecar["name"]["Description"] == "Contact."
    assert not list((tmp_path / "x").glob(".*part"))
    back = read_tsv(path)
    assert back["value"].isna().iloc[1]
    desc = json.loads(write_dataset_description(tmp_path, source_dataset=tmp_path).read_text())
    assert desc["DatasetType"] == "derivative"
    assert desc["GeneratedBy"][0]["Name"] == "ieegrsa"


# --- real data -----------------------------------------------------------------------------------

@pytest.mark.realdata
def test_py_neuromodulation(shared_data):
    root = shared_data / "ieeg" / "bids_py_neuromodulation"
    before = hash_tree(root)
    # a motor task: the reader loads it, and says clearly why it cannot be analysed
    with pytest.raises(BIDSError, match="no events file") as err:
        ieegrsa.load_recording(root, "testsub", "gripforce")
    assert "_events.tsv" in str(err.value)
    rec = ieegrsa.load_recording(root, "testsub", "gripforce", require_stimuli=False)
    assert rec.raw.info["sfreq"] == 1000.0 and rec.raw.n_times == 19001
    assert list(rec.contacts["name"]) == [f"ECOG_RIGHT_{i}" for i in range(6)]
    assert (rec.contacts["type"] == "ecog").all()
    # electrodes.tsv is in metres: converted to mm
    assert rec.contacts["x"].iloc[0] == pytest.approx(37.318174, abs=1e-5)
    assert rec.contacts["y"].iloc[0] == pytest.approx(-48.61012664, abs=1e-5)
    assert rec.session == "EphysMedOff" and rec.line_freq == 60.0
    assert rec.events.empty and rec.stimuli.empty
    assert hash_tree(root) == before


@pytest.mark.realdata
def test_real_seeg_edf_via_mne_bids(shared_data, tmp_path):
    import mne_bids

    folder = shared_data / "ieeg" / "mne_misc_data" / "seeg"
    raw = mne.io.read_raw_edf(folder / "sample_seeg.edf", preload=True, verbose="error")
    raw.set_channel_types({name: "seeg" for name in raw.ch_names})  # EDF says EEG
    raw.info["line_freq"] = 60.0
    root = tmp_path / "bids"
    bids_path = mne_bids.BIDSPath(root=root, subject="seeg01", task="rest", datatype="ieeg")
    mne_bids.write_raw_bids(raw, bids_path, format="EDF", allow_preload=True, verbose="error")
    # the contacts as the lab has them: in the patient's MRI space (mm), with FreeSurfer labels
    positions = pd.read_csv(folder / "sample_seeg_electrodes.tsv", sep="\t")
    ieeg_dir = bids_path.directory
    for placeholder in ieeg_dir.glob("sub-seeg01_[ce][ol]*"):  # mne-bids' n/a positions
        placeholder.unlink()
    positions.to_csv(ieeg_dir / "sub-seeg01_space-ACPC_electrodes.tsv", sep="\t", index=False,
                     na_rep="n/a")
    (ieeg_dir / "sub-seeg01_space-ACPC_coordsystem.json").write_text(json.dumps(
        {"iEEGCoordinateSystem": "ACPC", "iEEGCoordinateUnits": "mm"}))

    # patient MRI space: not placeable in MNI, a clear error naming the space found (with the
    # file's label columns ignored: with them, anatomy.label_source auto places the contacts,
    # tests/test_anatomy_dataset_labels.py)
    with pytest.raises(BIDSError, match="cannot place these contacts in MNI") as err:
        ieegrsa.load_recording(root, "seeg01", "rest", require_stimuli=False,
                               label_source="atlas")
    assert "ACPC" in str(err.value) and "coordsystem.json" in str(err.value)
    rec = ieegrsa.load_recording(root, "seeg01", "rest", require_stimuli=False, require_mni=False)
    assert rec.raw.ch_names == raw.ch_names
    assert (rec.contacts["type"] == "seeg").all() and len(rec.contacts) == 98
    got = rec.contacts.set_index("name").loc["L'2", ["x", "y", "z"]].to_numpy(float)
    np.testing.assert_allclose(got, [1.85841, 63.8435, 66.9489], atol=1e-3)
    original = raw.get_data(picks=["L'1"])
    scale = np.abs(original).max()
    assert np.max(np.abs(rec.raw.get_data(picks=["L'1"]) - original)) < 1e-3 * scale


@pytest.mark.realdata
def test_real_ecog_fif_via_mne_bids(shared_data, tmp_path):
    import mne_bids

    raw = mne.io.read_raw_fif(shared_data / "ieeg" / "mne_misc_data" / "ecog" /
                              "sample_ecog_ieeg.fif", preload=True, verbose="error")
    raw.info["line_freq"] = 60.0
    # positions in the FIF's head frame: written as the lab's own ("Other") space, in metres
    positions = raw.get_montage().get_positions()["ch_pos"]
    raw.set_montage(None)
    root = tmp_path / "bids"
    bids_path = mne_bids.BIDSPath(root=root, subject="ecog01", task="rest", datatype="ieeg")
    mne_bids.write_raw_bids(raw, bids_path, format="BrainVision", allow_preload=True,
                            verbose="error")
    _replace_with_fif(raw, bids_path)
    pd.DataFrame([(name, *xyz) for name, xyz in positions.items()],
                 columns=["name", "x", "y", "z"]).to_csv(
        bids_path.directory / "sub-ecog01_space-Other_electrodes.tsv", sep="\t", index=False)
    (bids_path.directory / "sub-ecog01_space-Other_coordsystem.json").write_text(json.dumps(
        {"iEEGCoordinateSystem": "Other", "iEEGCoordinateUnits": "m",
         "iEEGCoordinateSystemDescription": "head frame of the FIF file"}))
    rec = ieegrsa.load_recording(root, "ecog01", "rest", require_stimuli=False, require_mni=False)
    assert len(rec.contacts) == len(mne.pick_types(raw.info, ecog=True, seeg=True))
    first = next(iter(positions.items()))
    row = rec.contacts.set_index("name").loc[first[0]]
    np.testing.assert_allclose(row[["x", "y", "z"]].to_numpy(float), first[1] * 1000, rtol=1e-6)
    np.testing.assert_allclose(rec.raw.get_data(picks=[0]), raw.get_data(picks=[0]))


@pytest.mark.realdata
@pytest.mark.parametrize("dataset, subject, task, message", [
    ("ieeg_visual", "01", "visual", "cannot place these contacts in MNI"),
    ("ieeg_motorMiller2007", "bp", "motor", "cannot place these contacts in MNI"),
    ("ieeg_epilepsy_ecog", "ecog01", "seizure", "no events file|stimulus-file column"),
])
def test_bids_examples_give_clear_errors(shared_data, dataset, subject, task, message):
    root = shared_data / "ieeg" / "bids_examples" / dataset
    before = hash_tree(root)
    with pytest.raises(BIDSError, match=message):
        ieegrsa.load_recording(root, subject, task)
    # with every requirement relaxed, the placeholder signals are the clear error
    with pytest.raises(BIDSError, match="cannot be read|no usable signal") as err:
        ieegrsa.load_recording(root, subject, task, require_stimuli=False, require_mni=False)
    assert "_ieeg." in str(err.value)
    assert hash_tree(root) == before


def test_simulated_dataset_matches_its_ground_truth(tiny_dataset):
    before = hash_tree(tiny_dataset)
    truth_dir = tiny_dataset / "sourcedata" / "simulation"
    for subject in list_subjects(tiny_dataset):
        rec = ieegrsa.load_recording(tiny_dataset, subject, "faces")
        truth = pd.read_csv(truth_dir / f"sub-{subject}_contacts.tsv", sep="\t",
                            keep_default_na=False)
        assert list(rec.contacts["name"]) == list(truth["name"])
        np.testing.assert_allclose(rec.contacts[["x", "y", "z"]].to_numpy(float),
                                   truth[["x", "y", "z"]].to_numpy(float), atol=1e-3)
        bad = truth.loc[truth["bad"].astype(str).str.lower() == "true", "name"]
        assert set(rec.raw.info["bads"]) == set(bad)
        assert (rec.contacts.set_index("name").loc[list(bad), "status"] == "bad").all()
        # every face image has an identity and expression; non-faces have neither
        faces = rec.stimuli["category"] == "face"
        assert rec.stimuli.loc[faces, ["identity", "expression"]].notna().all().all()
        assert rec.stimuli.loc[~faces, ["identity", "expression"]].isna().all().all()
        # the events' sample column agrees with onset x sfreq
        sfreq = rec.raw.info["sfreq"]
        np.testing.assert_array_equal(rec.events["sample"],
                                      np.round(rec.events["onset"] * sfreq).astype(int))
        assert rec.line_freq in (50.0, 60.0)
    assert hash_tree(tiny_dataset) == before
