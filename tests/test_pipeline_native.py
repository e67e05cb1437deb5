"""The BIDS-App end to end on simulated patients whose contacts are in their own (ACPC) space.

``make_dataset(anatomy=...)`` (tiny preset: 2 patients) gives the three ways a native contact
reaches the ROIs (dataset labels, a T1w ieegrsa registers to MNI, the lab's transform), and one
dataset with none of them. Each runs through ``ieegrsa BIDS OUT participant`` then ``group``;
the contact table's positions are scored against the simulator's MNI truth, and the input
dataset must be untouched.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FAST_CONFIG, hash_tree

from ieegrsa.cli import main
from ieegrsa.simulate import make_dataset

SUBJECTS = ("01", "02")
GROUP_TABLES = ("mixedlm", "signflip", "patients")


def read_tsv(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False,
                       dtype={"name": str, "contact_a": str, "contact_b": str})


def truth(bids, subject) -> pd.DataFrame:
    path = Path(bids) / "sourcedata" / "simulation" / f"sub-{subject}_contacts.tsv"
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[]).set_index("name")


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("ieegrsa: error:")]


def contact_table(out, subject):
    """The one contact table of a participant (its space in the name) and that space."""
    (path,) = (Path(out) / f"sub-{subject}" / "ieeg").glob(f"sub-{subject}_space-*_electrodes.tsv")
    return read_tsv(path), path.name.split("_space-")[1].removesuffix("_electrodes.tsv")


def members(row) -> list[str]:
    """The recorded contacts of a contact-table row: one, or the two of a bipolar pair."""
    return [row.name] if pd.isna(row.contact_b) else [row.contact_a, row.contact_b]


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "fast.yaml"
    path.write_text(FAST_CONFIG)
    return path


def run_app(bids, out, config_file, work, capsys, *extra):
    """participant then group; their exit statuses, stderr, and the seconds each took."""
    start = time.perf_counter()
    participant = main([str(bids), str(out), "participant", "--config", str(config_file),
                        "--work-dir", str(work), *map(str, extra)])
    middle = time.perf_counter()
    err = capsys.readouterr().err
    group = main([str(bids), str(out), "group", "--config", str(config_file)])
    err += capsys.readouterr().err
    return (participant, group), err, (middle - start, time.perf_counter() - middle)


def check_group(out):
    for name in GROUP_TABLES:
        path = Path(out) / "group" / f"task-faces_desc-{name}_stats.tsv"
        assert path.is_file(), name
    assert len(read_tsv(Path(out) / "group" / "task-faces_desc-mixedlm_stats.tsv")) > 0


def check_warped(out, bids, space, median_mm, max_mm):
    """Contact tables in ``space`` with the native positions beside the MNI ones, and the MNI
    positions within the bounds of the simulator's truth (a bipolar pair: its contacts' mean)."""
    distances = []
    for subject in SUBJECTS:
        folder = Path(out) / f"sub-{subject}" / "ieeg"
        table, named = contact_table(out, subject)
        assert named == space
        for column in ("x_native", "y_native", "z_native", "space_native", "warp_displacement"):
            assert column in table.columns, column
        electrodes = read_tsv(Path(bids) / f"sub-{subject}" / "ieeg"
                              / f"sub-{subject}_space-ACPC_electrodes.tsv").set_index("name")
        planted = truth(bids, subject)
        rows = table[table[["x", "y", "z"]].notna().all(axis=1)]
        assert len(rows) >= 10
        assert rows["space"].eq(space).all() and rows["space_native"].eq("ACPC").all()
        for row in rows.itertuples():
            names = members(row)
            native = electrodes.loc[names, ["x", "y", "z"]].to_numpy(float).mean(axis=0)
            np.testing.assert_allclose([row.x_native, row.y_native, row.z_native], native,
                                       atol=0.006)
            mni = planted.loc[names, ["x", "y", "z"]].to_numpy(float).mean(axis=0)
            distances.append(np.linalg.norm(np.array([row.x, row.y, row.z]) - mni))
        coordsystem = json.loads((folder / f"sub-{subject}_space-{space}_coordsystem.json"
                                  ).read_text())
        assert coordsystem["iEEGCoordinateSystem"] == space
        provenance = json.loads((folder / f"sub-{subject}_task-faces_provenance.json"
                                 ).read_text())
        assert provenance["Warp"]["n_warped"] == len(rows)
        assert provenance["Warp"]["space"] == space
        assert (folder / f"sub-{subject}_task-faces_desc-registration_T1w.png").is_file()
    distances = np.array(distances)
    assert np.median(distances) <= median_mm, np.median(distances)
    assert distances.max() <= max_mm, distances.max()
    return distances


# ------------------------------------------------------------------------------ dataset labels

def test_labels_place_the_contacts_in_the_planted_rois(tmp_path, config_file, capsys):
    bids = make_dataset(tmp_path / "bids", preset="tiny", seed=0, anatomy="labels",
                        verbose=False)
    before = hash_tree(bids)
    status, err, _ = run_app(bids, tmp_path / "out", config_file, tmp_path / "work", capsys)
    assert status == (0, 0), err
    assert "Traceback" not in err
    check_group(tmp_path / "out")
    found = {"ventral": 0, "lateral": 0}
    for subject in SUBJECTS:
        table, space = contact_table(tmp_path / "out", subject)
        assert space == "ACPC"  # nothing was warped: the labels placed the contacts
        assert "x_native" not in table.columns or table["x_native"].isna().all()
        planted = truth(bids, subject)["roi"]
        # single contacts (the bad ones) and bipolar pairs of two contacts with the same label
        labelled = table[table["label_source"].eq("dataset")]
        assert len(labelled) >= 5
        assert labelled["dataset_label"].str.match(r"^(ctx_[lr]h_|Left-|Right-)").all()
        for row in labelled.itertuples():
            names = [row.name] if pd.isna(row.contact_b) else [row.contact_a, row.contact_b]
            want = set(planted.loc[names])
            roi = "n/a" if pd.isna(row.roi) else row.roi
            if len(want) == 1:
                assert roi == want.pop(), (subject, row.name, roi, want)
            if roi in found and row.included:
                found[roi] += 1
    assert min(found.values()) >= 2, found  # both planted ROIs are analysed
    for subject in SUBJECTS:
        similarity = read_tsv(tmp_path / "out" / f"sub-{subject}" / "ieeg"
                              / f"sub-{subject}_task-faces_desc-similarity_rsa.tsv")
        assert set(similarity["roi"]) <= {"ventral", "lateral"} and len(similarity) > 0
    assert hash_tree(bids) == before


# ------------------------------------------------------------------------ the lab's transform

# ieegrsa/anatomy/figures.py plot_registration: with no non-linear step (a lab transform) it sets
# max_displacement = None, so np.where(None is not None and shift > 0, ...) is a 0-d array and
# matplotlib's bar(color=...) raises "TypeError: len() of unsized object"; sub-01 and sub-02
# crash. Strict: remove this mark when plot_registration is fixed.
def test_lab_transform_brings_the_contacts_to_mni(tmp_path, config_file, capsys):
    bids = make_dataset(tmp_path / "bids", preset="tiny", seed=0, anatomy="transform",
                        verbose=False)
    before = hash_tree(bids)
    status, err, _ = run_app(bids, tmp_path / "out", config_file, tmp_path / "work", capsys)
    assert status == (0, 0), err
    assert "Traceback" not in err
    distances = check_warped(tmp_path / "out", bids, "MNI152NLin2009cAsym", 0.05, 0.05)
    assert distances.max() <= 0.05
    for subject in SUBJECTS:
        provenance = json.loads((tmp_path / "out" / f"sub-{subject}" / "ieeg"
                                 / f"sub-{subject}_task-faces_provenance.json").read_text())
        assert provenance["Warp"]["method"] == "transform"
        assert provenance["Warp"]["file"].endswith(
            f"sub-{subject}_from-MNI152NLin2009cAsym_to-T1w_mode-image_xfm.txt")
    assert not (tmp_path / "work" / "warps").exists() or not any(
        (tmp_path / "work" / "warps").iterdir())  # the transform is preferred: no registration
    check_group(tmp_path / "out")
    # the same patients given in MNI: the same ROIs, contact by contact
    mni = make_dataset(tmp_path / "mni", preset="tiny", seed=0, verbose=False)
    assert main([str(mni), str(tmp_path / "out_mni"), "participant", "--config",
                 str(config_file)]) == 0, capsys.readouterr().err
    for subject in SUBJECTS:
        warped, _ = contact_table(tmp_path / "out", subject)
        direct, _ = contact_table(tmp_path / "out_mni", subject)
        pd.testing.assert_series_equal(warped["roi"], direct["roi"])
        pd.testing.assert_series_equal(warped["included"], direct["included"])
    assert hash_tree(bids) == before


# ---------------------------------------------------------------------- the T1w, registered

@pytest.mark.slow
def test_t1w_registration_brings_the_contacts_to_mni(tmp_path, config_file, capsys, caplog):
    bids = make_dataset(tmp_path / "bids", preset="tiny", seed=0, anatomy="t1w", verbose=False)
    before = hash_tree(bids)
    work = tmp_path / "work"
    status, err, seconds = run_app(bids, tmp_path / "out", config_file, work, capsys)
    assert status == (0, 0), err
    assert "Traceback" not in err
    check_warped(tmp_path / "out", bids, "MNI152NLin2009aAsym", 3.0, 6.0)
    check_group(tmp_path / "out")
    cached = sorted((work / "warps").glob("*.npz"))
    assert len(cached) == len(SUBJECTS), cached
    mtimes = {p: p.stat().st_mtime_ns for p in cached}

    # a second participant run (fresh outputs, same work folder) reads the registration back
    again = tmp_path / "again"
    caplog.set_level(logging.INFO, logger="ieegrsa")
    caplog.clear()
    start = time.perf_counter()
    status = main([str(bids), str(again), "participant", "--config", str(config_file),
                   "--work-dir", str(work), "--participant-label", "01", "-v"])
    rerun = time.perf_counter() - start
    err = capsys.readouterr().err
    assert status == 0, err
    # the CLI's log reaches stderr, or pytest's log capture when it has taken the logger
    assert "read from the cache" in err + caplog.text
    provenance = json.loads((again / "sub-01" / "ieeg" / "sub-01_task-faces_provenance.json"
                             ).read_text())
    assert provenance["Warp"]["cached"] is True
    assert {p: p.stat().st_mtime_ns for p in sorted((work / "warps").glob("*.npz"))} == mtimes
    first, _ = contact_table(tmp_path / "out", "01")
    second, _ = contact_table(again, "01")
    pd.testing.assert_frame_equal(first[["name", "x", "y", "z"]], second[["name", "x", "y", "z"]])
    assert rerun < seconds[0], (rerun, seconds)
    assert hash_tree(bids) == before


# --------------------------------------------------------------------- nothing places them

def test_native_contacts_nothing_places_exit_2(tmp_path, config_file, capsys):
    bids = make_dataset(tmp_path / "bids", preset="tiny", seed=0, anatomy="native",
                        verbose=False)
    before = hash_tree(bids)
    for labels, n_messages in ((["--participant-label", "01"], 1), ([], len(SUBJECTS))):
        out = tmp_path / f"out{n_messages}"
        status = main([str(bids), str(out), "participant", "--config", str(config_file),
                       *labels])
        err = capsys.readouterr().err
        assert status == 2, err
        assert "Traceback" not in err
        messages = error_lines(err)
        assert len(messages) == n_messages, messages
        for message in messages:
            assert "ACPC" in message
            for way in ("label", "T1w", "transform"):
                assert way in message, (way, message)
        # it failed before preprocessing: no participant output
        assert not list(out.glob("sub-*/ieeg/*_provenance.json"))
    assert hash_tree(bids) == before

