"""Clinical hygiene columns of electrodes.tsv (soz, resected, silicon, edge) as exclusion sources.

A contact that a configured column (``preprocessing.exclude_columns``) marks yes is dropped from
the epochs like a bad channel of channels.tsv; its reason reaches the preprocessing report, the
derived channels.tsv, the contact table and the participant report. The input dataset and the
Recording are left as they were.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _preprocessing_helpers import contact_table
from conftest import hash_tree

import ieegrsa
from ieegrsa.config import PreprocessingConfig, load_config
from ieegrsa.errors import BIDSError, ConfigError
from ieegrsa.preprocessing import select_contacts
from ieegrsa.preprocessing.channels import clinical_marks
from ieegrsa.preprocessing.core import bids_channels, excluded_contacts

CLINICAL = "(electrodes.tsv; preprocessing.exclude_columns)"


def _files(root, subject="01"):
    ieeg = root / f"sub-{subject}" / "ieeg"
    return next(ieeg.glob("*_electrodes.tsv")), next(ieeg.glob("*_channels.tsv"))


def _mark(root, soz: dict, resected: dict, *, resected_header="Resected"):
    """Add a soz column (yes/no/n/a) and a resected column (1/0/empty) to sub-01's
    electrodes.tsv; unnamed contacts get no / 0."""
    electrodes, _ = _files(root)
    table = pd.read_csv(electrodes, sep="\t", dtype=str, keep_default_na=False)
    table["soz"] = [soz.get(name, "no") for name in table["name"]]
    table[resected_header] = [resected.get(name, "0") for name in table["name"]]
    table.to_csv(electrodes, sep="\t", index=False, lineterminator="\n")
    return electrodes


@pytest.fixture
def marked(tiny_copy):
    """sub-01 of the tiny dataset with soz and Resected columns, and the expected exclusions."""
    _, channels = _files(tiny_copy)
    status = pd.read_csv(channels, sep="\t", dtype=str, keep_default_na=False)
    status = status[status["type"].isin(["SEEG", "ECOG"])]
    good = list(status.loc[status["status"] == "good", "name"])
    bad = list(status.loc[status["status"] == "bad", "name"])
    assert len(good) >= 11 and bad
    soz = {good[3]: "YES", good[7]: "yes", good[1]: "n/a", good[2]: "No", bad[0]: "yes"}
    resected = {good[7]: "1", good[10]: "1", good[4]: ""}
    electrodes = _mark(tiny_copy, soz, resected)
    expected = {good[3]: f"clinical: soz {CLINICAL}",
                good[7]: f"clinical: soz, resected {CLINICAL}",
                good[10]: f"clinical: resected {CLINICAL}"}
    return {"root": tiny_copy, "electrodes": electrodes, "expected": expected, "good": good,
            "bad": bad}


def _preprocess(recording, **settings):
    config = {"preprocessing": {"reference": "car", **settings}}
    return ieegrsa.preprocess(recording, config, return_report=True)


def test_marked_contacts_are_dropped_with_their_reason_everywhere(marked):
    root, expected, good, bad = marked["root"], marked["expected"], marked["good"], marked["bad"]
    before = hash_tree(root)
    rec = ieegrsa.load_recording(root, "01", "faces")
    contacts_before = rec.contacts.copy()

    epochs, report = _preprocess(rec)
    reasons = report.set_index("name")["reason"]
    clinical = reasons[reasons.str.startswith("clinical:")].to_dict()
    assert clinical == expected  # exactly these contacts, each with every column that marks it
    assert not set(expected) & set(epochs.ch_names)
    # n/a, empty and no (any case) are not exclusions
    assert {good[1], good[2], good[4]} <= set(epochs.ch_names)
    # a contact bad in channels.tsv keeps that reason (the first that applies)
    assert reasons[bad[0]].startswith("bad in channels.tsv")
    assert excluded_contacts(epochs) == {name: reasons[name] for name in [*expected, *bad]}

    # the derived channels.tsv: bad, with the reason as status_description
    channels, _ = bids_channels(report, load_config({"preprocessing": {"reference": "car"}}))
    rows = channels.set_index("name").loc[list(expected)]
    assert (rows["status"] == "bad").all()
    assert rows["status_description"].to_dict() == expected

    # the contact table: the dropped contacts are there, not included, with the reason
    table = ieegrsa.localize(rec, epochs).set_index("name")
    shown = table.loc[list(expected)]
    assert not shown["included"].any() and not shown["in_epochs"].any()
    assert shown["exclusion_reason"].to_dict() == expected
    assert (shown["status"] == "good").all()  # channels.tsv said good: not rewritten
    assert table.loc[bad[0], "exclusion_reason"].startswith("bad channel")

    # nothing was changed in place
    pd.testing.assert_frame_equal(rec.contacts, contacts_before)
    assert hash_tree(root) == before


def test_bipolar_pairs_skip_marked_contacts(marked):
    rec = ieegrsa.load_recording(marked["root"], "01", "faces")
    epochs, report = _preprocess(rec, reference="bipolar")
    used = {part for name in epochs.ch_names for part in name.split("-")}
    assert not used & set(marked["expected"])
    table = ieegrsa.localize(rec, epochs).set_index("name")
    assert table.loc[list(marked["expected"]), "exclusion_reason"].to_dict() == \
        marked["expected"]


def test_switching_the_columns_off_keeps_the_contacts(marked):
    rec = ieegrsa.load_recording(marked["root"], "01", "faces")
    for off in ([], "none", None):
        epochs, report = _preprocess(rec, exclude_columns=off)
        assert set(marked["expected"]) <= set(epochs.ch_names)
        assert not report["reason"].str.startswith("clinical:").any()
    # one column only: the resected marks alone
    _, report = _preprocess(rec, exclude_columns=["RESECTED"])
    reasons = report.set_index("name")["reason"]
    assert reasons[reasons.str.startswith("clinical:")].to_dict() == {
        marked["good"][7]: f"clinical: resected {CLINICAL}",
        marked["good"][10]: f"clinical: resected {CLINICAL}"}


def test_a_value_that_is_not_yes_or_no_is_one_clear_error(marked):
    good = marked["good"]
    electrodes = _mark(marked["root"], {good[5]: "maybe", good[6]: "Yes"}, {})
    rec = ieegrsa.load_recording(marked["root"], "01", "faces")
    with pytest.raises(BIDSError) as err:
        _preprocess(rec)
    message = str(err.value)
    assert err.value.field == "soz" and err.value.file == str(electrodes)
    assert electrodes.name in message and "'maybe'" in message and good[5] in message
    assert "preprocessing.exclude_columns" in message and "yes or no" in message
    assert "Yes" not in err.value.found  # only the wrong values are listed
    # a column that is not configured is not read
    epochs, _ = _preprocess(rec, exclude_columns=["resected"])
    assert good[5] in epochs.ch_names and good[6] in epochs.ch_names


def test_the_values_and_column_names_read(caplog):
    values = ["yes", "YES", "y", "True", "1", "1.0", "no", "N", "false", "0", "0.0", np.nan, "",
              "n/a"]
    contacts = contact_table([f"A{k}" for k in range(1, len(values) + 1)])
    contacts["SOZ"] = values
    contacts.attrs["electrodes_file"] = "sub-01_electrodes.tsv"
    with caplog.at_level("INFO", logger="ieegrsa"):
        marks = clinical_marks(contacts, ["soz", "edge"])
    assert list(marks.columns) == ["soz"]
    assert marks["soz"].tolist() == [True] * 6 + [False] * 8
    assert "no edge column" in caplog.text
    kept, reasons = select_contacts(contacts, exclude_columns=["soz"])
    assert list(reasons) == [f"A{k}" for k in range(1, 7)]
    assert list(kept["name"]) == [f"A{k}" for k in range(7, 15)]
    contacts.loc[3, "SOZ"] = "2"
    with pytest.raises(BIDSError, match=r"\[SOZ\].*'2' \(A4\)"):
        clinical_marks(contacts, ["soz"])
    # a table without the column: nothing excluded
    assert select_contacts(contacts.drop(columns="SOZ"), exclude_columns=["soz"])[1] == {}


def test_the_configuration_key():
    assert PreprocessingConfig().exclude_columns == ["soz", "resected", "silicon"]
    assert PreprocessingConfig(exclude_columns=[" SOZ", "soz", "Edge"]).exclude_columns == [
        "soz", "edge"]
    assert PreprocessingConfig(exclude_columns="none").exclude_columns == []
    assert PreprocessingConfig(exclude_columns="soz").exclude_columns == ["soz"]
    for wrong in (["status"], ["name"], [""]):
        with pytest.raises(ConfigError, match="exclude_columns"):
            load_config({"preprocessing": {"exclude_columns": wrong}})


def test_the_participant_report_lists_the_reasons(marked, tmp_path):
    from ieegrsa.report import make_participant_report
    from ieegrsa.report._common import read_table

    rec = ieegrsa.load_recording(marked["root"], "01", "faces")
    epochs, report = _preprocess(rec)
    table = ieegrsa.localize(rec, epochs)
    # as the report reads them back from the derivatives (n/a = missing)
    table.to_csv(tmp_path / "contacts.tsv", sep="\t", index=False, na_rep="n/a")
    report.to_csv(tmp_path / "channels.tsv", sep="\t", index=False, na_rep="n/a")
    html = make_participant_report(
        "01", contacts=read_table(tmp_path / "contacts.tsv"),
        preprocessing=read_table(tmp_path / "channels.tsv"))._repr_html_()
    section = html[html.index('id="exclusions"'):html.index('id="localizer"')]
    for reason in set(marked["expected"].values()):
        count = list(marked["expected"].values()).count(reason)
        # once in the contact table's exclusions, once in the preprocessing's dropped channels
        assert section.count(reason) == 2 * count, reason
    for name in marked["expected"]:
        assert f">{name}<" in section
