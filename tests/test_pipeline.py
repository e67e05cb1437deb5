"""The BIDS-App end to end: participant and group levels on the simulator's tiny dataset.

One module-scoped run of ``ieegrsa tiny OUT participant`` then ``group`` (fast settings) feeds most
tests; the re-run, interrupt and parallel tests work on copies or fresh folders and compare their
similarity tables with that run's.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FAST_CONFIG, hash_tree
from scipy import stats

from ieegrsa.cli import main
from ieegrsa.pipeline import read_similarity_tables, run_participants

N_PERMUTATIONS = 50

CONTACT_COLUMNS = ["name", "x", "y", "z", "space", "roi", "atlas_label", "included",
                   "exclusion_reason"]
SIMILARITY_COLUMNS = ["subject", "roi", "contact", "window_start", "window_stop", "model",
                      "objective", "instance", "layer", "method", "value", "p_value"]
MIXEDLM_COLUMNS = ["roi", "window_start", "window_stop", "term", "estimate", "se", "df", "t",
                   "ci_low", "ci_high", "p_value", "p_corrected", "singular", "converged",
                   "n_subjects"]
CLUSTERS_COLUMNS = ["roi", "contrast", "start", "stop", "statistic", "p_value"]
SUBJECTS = ("01", "02")


def read_tsv(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False,
                       dtype={"subject": str, "contact": str, "instance": str, "layer": str})


def similarity_path(out, subject) -> Path:
    name = f"sub-{subject}_task-faces_desc-similarity_rsa.tsv"
    return Path(out) / f"sub-{subject}" / "ieeg" / name


def contacts_path(out, subject) -> Path:
    """The contact table: a derived electrodes.tsv, named as BIDS names it (space, no task)."""
    name = f"sub-{subject}_space-MNI152NLin2009cAsym_electrodes.tsv"
    return Path(out) / f"sub-{subject}" / "ieeg" / name


def provenance_path(out, subject) -> Path:
    return Path(out) / f"sub-{subject}" / "ieeg" / f"sub-{subject}_task-faces_provenance.json"


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("ieegrsa: error:")]


def assert_same_similarity(out, reference, subjects=SUBJECTS):
    """Byte-identical similarity tables (the same config must give the same numbers)."""
    for subject in subjects:
        assert similarity_path(out, subject).read_bytes() == \
            similarity_path(reference, subject).read_bytes(), subject


def assert_no_part_files(out):
    left = [p for p in Path(out).rglob("*") if ".part" in p.name]
    assert not left, left


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "fast.yaml"
    path.write_text(FAST_CONFIG)
    return path


@pytest.fixture(scope="module")
def app_run(tiny_dataset, config_file, tmp_path_factory):
    """``ieegrsa tiny OUT participant`` then ``group``, once; the input hashed before and after."""
    out = tmp_path_factory.mktemp("app") / "derivatives"
    before = hash_tree(tiny_dataset)
    status_participant = main([str(tiny_dataset), str(out), "participant",
                               "--config", str(config_file)])
    status_group = main([str(tiny_dataset), str(out), "group", "--config", str(config_file)])
    after = hash_tree(tiny_dataset)
    return {"out": out, "status": (status_participant, status_group), "before": before,
            "after": after, "bids": tiny_dataset}


# -- 1. end to end, contract files and columns ----------------------------------------------
def test_app_exit_status(app_run):
    assert app_run["status"] == (0, 0)


def test_contract_files_and_columns(app_run):
    out = app_run["out"]
    for subject in SUBJECTS:
        contacts = read_tsv(contacts_path(out, subject))
        assert set(CONTACT_COLUMNS) <= set(contacts.columns)
        assert contacts["included"].astype(bool).any()
        similarity = read_tsv(similarity_path(out, subject))
        assert set(SIMILARITY_COLUMNS) <= set(similarity.columns)
        assert len(similarity) > 0
        assert set(similarity["subject"]) == {subject}
        # the default config always holds the categorical identity and expression models
        assert {"identity", "expression"} <= set(similarity["model"])
        assert (similarity["window_stop"] > similarity["window_start"]).all()
        assert (out / f"sub-{subject}.html").stat().st_size > 0
        assert provenance_path(out, subject).is_file()
    mixedlm = read_tsv(out / "group" / "task-faces_desc-mixedlm_stats.tsv")
    assert set(MIXEDLM_COLUMNS) <= set(mixedlm.columns) and len(mixedlm) > 0
    clusters = read_tsv(out / "group" / "task-faces_desc-clusters_stats.tsv")
    assert set(CLUSTERS_COLUMNS) <= set(clusters.columns)
    # two patients: estimates, but no p-value that looks like an answer
    assert mixedlm["p_value"].isna().all() and mixedlm["estimate"].notna().any()
    assert mixedlm["note"].str.contains("too few patients for a group claim|not estimable").all()
    signflip = read_tsv(out / "group" / "task-faces_desc-signflip_stats.tsv")
    assert signflip["p_value"].isna().all() and len(signflip)
    assert (out / "group.html").stat().st_size > 0


def test_dataset_description(app_run, config_file):
    description = json.loads((app_run["out"] / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    assert description["BIDSVersion"]
    generated = description["GeneratedBy"][0]
    assert generated["Name"] == "ieegrsa"
    import ieegrsa

    assert generated["Version"] == ieegrsa.__version__
    assert generated["CodeURL"].startswith("https://")
    configuration = generated["Configuration"]
    assert configuration["rsa"]["n_permutations"] == N_PERMUTATIONS
    assert configuration["stats"]["n_bootstrap"] == 10
    sources = description["SourceDatasets"]
    assert any(str(Path(app_run["bids"]).resolve()) in json.dumps(s) for s in sources), sources


def test_every_tsv_has_a_sidecar_describing_every_column(app_run):
    tables = sorted(app_run["out"].rglob("*.tsv"))
    assert len(tables) >= 2 * 4 + 2
    for table in tables:
        sidecar = table.with_suffix(".json")
        assert sidecar.is_file(), table
        described = json.loads(sidecar.read_text())
        columns = pd.read_csv(table, sep="\t", nrows=0).columns
        # a real description, not just the column's name again
        missing = [c for c in columns if described.get(c) in (None, "", c, {"Description": c})]
        assert not missing, (table.name, missing)


def test_similarity_values_recomputed_independently(app_run):
    """``value`` is Kendall's tau-b between the saved neural RDM and the categorical model RDM
    (scipy, from the saved files); p-values lie in [1/(n+1), 1]."""
    from ieegrsa.rsa import load_rdms

    out = app_run["out"]
    checked = 0
    for subject in SUBJECTS:
        folder = out / f"sub-{subject}" / "ieeg"
        table = read_tsv(similarity_path(out, subject))
        assert table["p_value"].between(1 / (N_PERMUTATIONS + 1) - 1e-12, 1).all()
        assert table["method"].eq("kendall-tau-b").all()
        neural = load_rdms(folder / f"sub-{subject}_task-faces_desc-neural_rdms.npz")
        models = load_rdms(folder / f"sub-{subject}_task-faces_desc-models_rdms.npz")
        models = models.reorder(list(neural.conditions))
        model_rows = {m: k for k, m in enumerate(models.descriptors["model"])}
        described = neural.descriptors.reset_index(drop=True)
        rows = table[table["objective"].eq("categorical")]
        rows = rows.iloc[np.linspace(0, len(rows) - 1, 6).astype(int)]
        for row in rows.itertuples():
            match = (described["roi"].eq(row.roi)
                     & np.isclose(described["window_start"].astype(float), row.window_start)
                     & np.isclose(described["window_stop"].astype(float), row.window_stop))
            if isinstance(row.contact, str):
                match &= described["contact"].astype(str).eq(row.contact)
            else:
                match &= described["pattern"].eq("roi")
            (index,) = np.flatnonzero(match.to_numpy())
            x = np.asarray(neural.values[index], float)
            y = np.asarray(models.values[model_rows[row.model]], float)
            keep = np.isfinite(x) & np.isfinite(y)
            expected = stats.kendalltau(x[keep], y[keep], variant="b").statistic
            assert row.value == pytest.approx(expected, abs=1e-9), row
            checked += 1
    assert checked == 2 * 6


# -- 2. the input is never written --------------------------------------------------------------
def test_input_dataset_unchanged(app_run):
    assert app_run["after"] == app_run["before"]


# -- 3. safe re-runs ----------------------------------------------------------------------------
@pytest.fixture
def out_copy(app_run, tmp_path):
    target = tmp_path / "derivatives"
    shutil.copytree(app_run["out"], target)  # copy2: mtimes kept
    return target


def test_skip_existing_touches_nothing(app_run, out_copy, config_file, capsys):
    mtimes = {p: p.stat().st_mtime_ns for p in out_copy.rglob("*") if p.is_file()}
    status = main([str(app_run["bids"]), str(out_copy), "participant", "--config",
                   str(config_file), "--skip-existing"])
    assert status == 0
    out = capsys.readouterr().out
    for subject in SUBJECTS:
        assert f"sub-{subject}: skipped" in out
    changed = [p for p, t in mtimes.items()
               if p.name != "dataset_description.json" and p.stat().st_mtime_ns != t]
    assert not changed, changed


def test_changed_config_needs_overwrite(app_run, out_copy, tmp_path, capsys):
    changed = tmp_path / "changed.yaml"
    changed.write_text(FAST_CONFIG.replace("n_permutations: 50", "n_permutations: 60"))
    before = similarity_path(out_copy, "01").read_bytes()
    args = [str(app_run["bids"]), str(out_copy), "participant", "--config", str(changed),
            "--participant-label", "01"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (message,) = error_lines(err)
    assert provenance_path(out_copy, "01").name in message and "--overwrite" in message
    assert similarity_path(out_copy, "01").read_bytes() == before  # nothing replaced
    assert provenance_path(out_copy, "01").is_file()

    assert main(args + ["--overwrite"]) == 0
    assert "sub-01: done" in capsys.readouterr().out
    record = json.loads(provenance_path(out_copy, "01").read_text())
    assert record["Config"]["rsa"]["n_permutations"] == 60
    assert read_tsv(similarity_path(out_copy, "01"))["p_value"].min() >= 1 / 61 - 1e-12
    assert_no_part_files(out_copy)


def test_interrupted_participant_is_not_complete(app_run, out_copy, config_file, monkeypatch,
                                                 capsys):
    import ieegrsa.rsa.similarity

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    args = [str(app_run["bids"]), str(out_copy), "participant", "--config", str(config_file),
            "--participant-label", "01"]
    stale = similarity_path(out_copy, "01")
    stale.write_text("stale\n")  # an earlier run's table that the crash must not bless
    with monkeypatch.context() as patch:
        patch.setattr(ieegrsa.rsa.similarity, "similarity_table", interrupted)
        assert main(args) == 130
    assert "interrupted" in capsys.readouterr().err
    assert contacts_path(out_copy, "01").is_file()  # got that far
    assert not provenance_path(out_copy, "01").exists()
    assert_no_part_files(out_copy)
    # the group level only sees complete participants
    assert set(read_similarity_tables(out_copy)["subject"]) == {"02"}

    assert main(args) == 0
    assert provenance_path(out_copy, "01").is_file()
    assert_same_similarity(out_copy, app_run["out"])
    assert_no_part_files(out_copy)


def test_crash_in_fresh_folder_leaves_nothing_for_group(app_run, config_file, tmp_path,
                                                       monkeypatch, capsys):
    import ieegrsa.rsa.similarity

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")

    out = tmp_path / "derivatives"
    with monkeypatch.context() as patch:
        patch.setattr(ieegrsa.rsa.similarity, "similarity_table", crash)
        # a bug in one participant is reported (traceback logged), the others go on
        results = run_participants(app_run["bids"], out, ["02"], config_file, n_jobs=1)
    assert results["status"].tolist() == ["crashed"]
    assert results["error"].iloc[0] == "RuntimeError: simulated crash"
    assert contacts_path(out, "02").is_file()
    assert not similarity_path(out, "02").exists()
    assert not provenance_path(out, "02").exists()
    assert_no_part_files(out)
    assert main([str(app_run["bids"]), str(out), "group", "--config", str(config_file)]) == 2
    (message,) = error_lines(capsys.readouterr().err)
    assert "no complete participant" in message and "participant level" in message


# -- 4. parallel ------------------------------------------------------------------------------
def test_two_jobs_same_tables(app_run, config_file, tmp_path):
    out = tmp_path / "derivatives"
    results = run_participants(app_run["bids"], out, None, config_file, n_jobs=2)
    assert list(results["subject"]) == list(SUBJECTS)
    assert results["status"].eq("done").all(), results
    assert_same_similarity(out, app_run["out"])


def test_dask_cluster_same_tables(app_run, config_file, tmp_path):
    distributed = pytest.importorskip(
        "dask.distributed", reason="dask.distributed is not installed (pip install ieegrsa[dask])")
    out = tmp_path / "derivatives"
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        results = run_participants(app_run["bids"], out, None, config_file,
                                   scheduler=cluster.scheduler_address)
    assert results["status"].eq("done").all(), results
    assert_same_similarity(out, app_run["out"])


def test_unreachable_scheduler_is_exit_2(app_run, config_file, tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    status = main([str(app_run["bids"]), str(tmp_path / "out"), "participant", "--config",
                   str(config_file), "--scheduler", "tcp://127.0.0.1:9"])
    assert status == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (message,) = error_lines(err)
    assert "tcp://127.0.0.1:9" in message and "scheduler" in message


# -- 5. real, non-face data ---------------------------------------------------------------------
def test_real_motor_dataset_is_refused_clearly(shared_data, tmp_path, capsys):
    bids = shared_data / "ieeg" / "bids_py_neuromodulation"
    if not bids.is_dir():
        pytest.skip(f"{bids} is absent")
    before = hash_tree(bids)
    # the default task, faces, is not in this dataset
    assert main([str(bids), str(tmp_path / "a"), "participant"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (message,) = error_lines(err)
    assert "task 'faces'" in message and "gripforce" in message and "--task" in message
    # its own task has no events naming face images
    assert main([str(bids), str(tmp_path / "b"), "participant", "--task", "gripforce"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (message,) = error_lines(err)
    assert "task-gripforce" in message and "events" in message and "stim_file" in message
    assert "face image" in message
    assert not list((tmp_path / "b").rglob("*.tsv"))
    assert hash_tree(bids) == before


# -- 6. naming --------------------------------------------------------------------------------
# task files carry task (and desc); the contact table is a BIDS electrodes.tsv: space, no task
NAME = re.compile(r"^sub-(?P<sub>[A-Za-z0-9]+)(?:_ses-(?P<ses>[A-Za-z0-9]+))?"
                  r"(?:_task-[A-Za-z0-9]+(?:_desc-[A-Za-z0-9]+)?_[A-Za-z0-9]+"
                  r"|_space-[A-Za-z0-9]+_(?:electrodes|coordsystem))\.[a-z0-9.]+$")


def test_output_names_follow_bids_derivatives(app_run):
    out = app_run["out"]
    checked = 0
    for path in out.rglob("*"):
        rel = path.relative_to(out)
        if (path.is_dir() or rel.parts[0] == "group" or path.suffix == ".html"
                or rel.as_posix() == "dataset_description.json"
                or any(part.startswith(".") for part in rel.parts)):
            continue
        match = NAME.match(path.name)
        assert match, rel
        folder = [f"sub-{match['sub']}"] + ([f"ses-{match['ses']}"] if match["ses"] else [])
        assert list(rel.parts[:-1]) == folder + ["ieeg"], rel
        checked += 1
    assert checked >= 2 * 8
    for path in (out / "group").iterdir():
        assert re.match(r"^task-[A-Za-z0-9]+_desc-[A-Za-z0-9]+_stats\.(tsv|json)$", path.name)


def test_derivatives_pass_the_bids_validator(app_run):
    """Participant and group outputs: zero errors from bids-validator-deno (files with a BIDS
    suffix follow its rules; the tool's own file types are declared in .bidsignore)."""
    from conftest import bids_validator_issues

    errors, _ = bids_validator_issues(app_run["out"])
    assert not errors, sorted({(e["code"], e.get("subCode"), e.get("location")) for e in errors})
    ignored = (app_run["out"] / ".bidsignore").read_text().split()
    assert "*.html" in ignored and "/group" in ignored
    coordsystem = json.loads((contacts_path(app_run["out"], "01").parent /
                              "sub-01_space-MNI152NLin2009cAsym_coordsystem.json").read_text())
    assert coordsystem["iEEGCoordinateSystem"] == "MNI152NLin2009cAsym"
    header = contacts_path(app_run["out"], "01").read_text().splitlines()[0].split("\t")
    assert header[:5] == ["name", "x", "y", "z", "size"]


# -- 7. bad command lines -----------------------------------------------------------------------
def assert_one_error(capsys, args, *needles):
    status = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    (message,) = error_lines(err)
    for needle in needles:
        assert needle in message, (needle, message)
    return message


def test_missing_bids_dir(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert_one_error(capsys, [missing, tmp_path / "out", "participant"], str(missing))
    assert not (tmp_path / "out").exists()


def test_output_dir_is_bids_dir(tiny_dataset, capsys):
    before = hash_tree(tiny_dataset)
    assert_one_error(capsys, [tiny_dataset, tiny_dataset, "participant"], "OUTPUT_DIR",
                     "input dataset")
    assert hash_tree(tiny_dataset) == before


def test_unknown_participant_label(tiny_dataset, tmp_path, capsys):
    assert_one_error(capsys, [tiny_dataset, tmp_path / "out", "participant",
                              "--participant-label", "sub-99"], "'99'", "01, 02")
    assert not (tmp_path / "out").exists()  # checked before anything is written


def test_group_before_participant(tiny_dataset, tmp_path, capsys):
    assert_one_error(capsys, [tiny_dataset, tmp_path / "out", "group"],
                     "no complete participant")


@pytest.mark.parametrize("argv", [["--help"], ["X", "Y", "participant", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    assert "--participant-label" in capsys.readouterr().out


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))


def test_coordsystem_says_which_space_it_is(tmp_path):
    """A template space is named as one; a native space (contacts placed by the dataset's
    labels) is said to be the dataset's own, not a template's."""
    from ieegrsa.bids.derivatives import write_coordsystem

    mni = json.loads(write_coordsystem(tmp_path / "a.json", "MNI152NLin2009cAsym").read_text())
    native = json.loads(write_coordsystem(tmp_path / "b.json", "ACPC").read_text())
    assert mni["iEEGCoordinateSystemDescription"].startswith("Template space MNI152NLin2009cAsym")
    assert "own coordinate system (ACPC)" in native["iEEGCoordinateSystemDescription"]
    assert native["iEEGCoordinateSystem"] == "ACPC" and native["iEEGCoordinateUnits"] == "mm"
