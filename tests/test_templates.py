"""The files in bids_templates/ and the citation file stay valid and in step with the code."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ieegrsa.config import config_template_yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "bids_templates"

# Every events column ieegrsa reads (see bids_templates/README.md).
EVENTS_COLUMNS = ("onset", "duration", "trial_type", "stim_file", "identity", "expression",
                  "repetition")
STIMULI_COLUMNS = ("stim_file", "identity", "expression", "category")


def _json(name):
    return json.loads((TEMPLATES / name).read_text(encoding="utf-8"))


def test_config_template_is_generated():
    # newline="" keeps the file's own line endings, so a CRLF checkout fails loudly too
    with open(TEMPLATES / "config.yaml", encoding="utf-8", newline="") as f:
        text = f.read()
    assert text == config_template_yaml(), (
        "bids_templates/config.yaml is out of date: regenerate it with "
        "`python -m ieegrsa.config > bids_templates/config.yaml`"
    )


def test_events_json_describes_every_column():
    events = _json("events.json")
    assert set(EVENTS_COLUMNS) <= set(events)
    for column in EVENTS_COLUMNS:
        assert events[column].get("Description"), column
        assert events[column].get("LongName"), column
    assert events["onset"]["Units"] == "s"
    assert events["duration"]["Units"] == "s"
    assert {"face", "nonface"} <= set(events["trial_type"]["Levels"])
    assert {"neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"} <= set(
        events["expression"]["Levels"]
    )
    assert "stimuli/" in events["stim_file"]["Description"]
    assert "1" in events["repetition"]["Description"]


def test_stimuli_table_has_the_columns():
    with open(TEMPLATES / "stimuli.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    header, body = rows[0], rows[1:]
    assert tuple(header) == STIMULI_COLUMNS
    assert body and all(len(row) == len(header) for row in body)
    files = [row[0] for row in body]
    assert len(set(files)) == len(files)  # one row per image
    assert {row[3] for row in body} <= {"face", "nonface"}
    sidecar = _json("stimuli.json")
    assert set(STIMULI_COLUMNS) <= set(sidecar)
    assert all(sidecar[column].get("Description") for column in STIMULI_COLUMNS)


def test_derivatives_dataset_description(tmp_path):
    description = _json("dataset_description.json")
    assert description["DatasetType"] == "derivative"
    assert description["BIDSVersion"] == "1.10.0"
    assert description["Name"]
    generated = description["GeneratedBy"]
    assert isinstance(generated, list) and generated[0]["Name"] == "ieegrsa"
    assert generated[0]["Version"] and generated[0]["CodeURL"].startswith("https://")

    # the template shows what the derivatives writer writes: same keys, same fixed values
    from ieegrsa.bids.derivatives import write_dataset_description

    written = json.loads(
        write_dataset_description(tmp_path, source_dataset=tmp_path).read_text(encoding="utf-8")
    )
    assert set(written) == set(description)
    for key in ("BIDSVersion", "DatasetType", "Name"):
        assert written[key] == description[key], key
    assert set(written["GeneratedBy"][0]) == set(generated[0])
    assert written["GeneratedBy"][0]["CodeURL"] == generated[0]["CodeURL"]


def test_templates_readme_covers_every_file():
    readme = (TEMPLATES / "README.md").read_text(encoding="utf-8")
    for path in TEMPLATES.iterdir():
        if path.name != "README.md":
            assert path.name in readme, f"bids_templates/README.md does not mention {path.name}"


def test_citation_file_is_valid():
    cffconvert = pytest.importorskip(
        "cffconvert", reason="cffconvert is not installed (pip install cffconvert)"
    )
    text = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    cffconvert.Citation(text).validate()  # raises on any schema violation


def test_license_is_bsd3():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("BSD 3-Clause License")
    assert "Copyright (c) 2026, The ieegrsa developers" in text
