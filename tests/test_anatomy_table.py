"""Anatomy: the contact table of :func:`ieegrsa.localize`, its configuration and its figure."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from _anatomy_helpers import PEAKS, face_epochs, toy_atlas

from ieegrsa.anatomy import localize, plot_contacts
from ieegrsa.config import load_config
from ieegrsa.errors import ConfigError, DataError


def _recording(names, positions, status=None, space="MNI152NLin2009cAsym", nonface=True):
    status = status or ["good"] * len(names)
    contacts = pd.DataFrame({
        "name": names, "x": [p[0] for p in positions], "y": [p[1] for p in positions],
        "z": [p[2] for p in positions], "space": space, "type": "seeg", "status": status,
        "status_description": ["noisy" if s == "bad" else np.nan for s in status],
        "group": [re.sub(r"\d+$", "", n) for n in names],
    })
    categories = ["face", "nonface"] if nonface else ["face"]
    stimuli = pd.DataFrame({"stim_file": [f"{c}.png" for c in categories],
                            "category": categories})
    return SimpleNamespace(contacts=contacts, stimuli=stimuli, subject="01", bids_root=None)


NAMES = ["A1", "A2", "B1", "B2", "C1"]
POSITIONS = [PEAKS["FFA_right"], PEAKS["pSTS_left"], (30, -20, 30), (np.nan, np.nan, np.nan),
             PEAKS["OFA_right"]]


def test_localize_contact_table(caplog):
    recording = _recording(NAMES, POSITIONS, status=["good", "good", "good", "good", "bad"])
    epochs = face_epochs(effects=(1.0, 0.0, 1.0, 0.0, 1.0), names=NAMES, positions=POSITIONS)
    with caplog.at_level(logging.WARNING, logger="ieegrsa"):
        table = localize(recording, epochs, {"anatomy": {"atlases": ["HCPEx", "AAL3"]}})
    for column in ("name", "x", "y", "z", "space", "roi", "atlas_label", "included",
                   "exclusion_reason", "hemisphere", "t", "p", "p_fdr", "d_prime",
                   "face_selective", "hcpex_label", "hcpex_distance", "aal3_label"):
        assert column in table.columns
    table = table.set_index("name")
    assert list(table["roi"]) == ["ventral", "lateral", "n/a", "n/a", "ventral"]
    assert table.loc["A1", "atlas_label"] == "Fusiform_Face_Complex_R"
    assert table.loc["A1", "hemisphere"] == "R" and table.loc["A2", "hemisphere"] == "L"
    assert list(table["included"]) == [True, True, False, False, False]
    assert table.loc["A1", "exclusion_reason"] == "n/a"
    assert table.loc["B1", "exclusion_reason"] == "outside every ROI"
    assert table.loc["B2", "exclusion_reason"] == "missing coordinates"
    assert table.loc["C1", "exclusion_reason"] == "bad channel: noisy"
    assert table.loc["A1", "face_selective"] and not table.loc["A2", "face_selective"]
    assert table.attrs["empty_rois"] == []
    assert table.attrs["localizer"]["ran"]
    # positions came from the epochs' montage, not only from the recording
    assert table.loc["A1", "x"] == pytest.approx(40.0)
    from ieegrsa.anatomy import describe_columns

    described = describe_columns(table.reset_index())
    assert set(described) == set(table.reset_index().columns)
    assert "AAL3" in described["aal3_label"] and "ventral" in described["distance_ventral"]


def test_localize_without_epochs_and_empty_roi_is_reported(caplog):
    recording = _recording(NAMES[:3], POSITIONS[:1] + [(30, -20, 30), (0, 40, 40)])
    with caplog.at_level(logging.WARNING, logger="ieegrsa"):
        table = localize(recording, config={"anatomy": {"atlases": ["HCPEx"]}})
    assert table.attrs["empty_rois"] == ["lateral"]
    assert "'lateral' has no included contact" in caplog.text
    assert not table.attrs["localizer"]["ran"] and table["t"].isna().all()
    assert list(table["roi"]) == ["ventral", "n/a", "n/a"]


def test_localize_membership_both_and_function():
    positions = [PEAKS["FFA_right"], (46, -52, -16), PEAKS["pSTS_right"], (30, -20, 30)]
    names = ["F1", "F2", "P1", "W1"]
    recording = _recording(names, positions)
    epochs = face_epochs(effects=(1.0, 0.0, 1.0, 1.0), names=names, positions=positions)
    base = {"atlases": ["HCPEx"], "roi_method": "sphere", "sphere_radius": 10.0}
    both = localize(recording, epochs, {"anatomy": {**base, "membership": "both"}})
    assert list(both["roi"]) == ["ventral", "n/a", "lateral", "n/a"]
    assert list(both["exclusion_reason"]) == ["n/a", "not face-selective", "n/a",
                                              "outside every ROI"]
    function = localize(recording, epochs, {"anatomy": {**base, "membership": "function",
                                                        "function_max_distance": 5.0}})
    # W1 is face-selective but far from every ROI
    assert list(function["roi"]) == ["ventral", "n/a", "lateral", "n/a"]
    assert list(function["exclusion_reason"])[1] == "not face-selective"
    assert list(function["exclusion_reason"])[3] == "outside every ROI"


def test_localizer_required_without_nonface_stimuli_is_a_clear_error():
    recording = _recording(NAMES[:2], POSITIONS[:2], nonface=False)
    epochs = face_epochs(n_face=20, n_nonface=0, effects=(1.0, 0.0), names=NAMES[:2])
    with pytest.raises(DataError, match="no non-face stimuli.*anatomy.membership: anatomy"):
        localize(recording, epochs, {"anatomy": {"membership": "both"}})
    with pytest.raises(DataError, match="no non-face stimuli"):
        localize(recording, epochs, {"anatomy": {"localizer": {"run": "on"}}})
    # auto: no localizer, no error
    table = localize(recording, epochs, {"anatomy": {"atlases": ["HCPEx"]}})
    assert not table.attrs["localizer"]["ran"]


def test_bipolar_channels_are_placed_at_midpoints():
    from ieegrsa.anatomy.table import _complete_from_recording

    recording = _recording(["A1", "A2", "A3"], [(38, -52, -20), (42, -52, -20), (46, -52, -20)],
                           status=["good", "good", "bad"])
    epochs_table = pd.DataFrame({"name": ["A1-A2", "A2-A3"], "x": np.nan, "y": np.nan,
                                 "z": np.nan, "contact_a": ["A1", "A2"],
                                 "contact_b": ["A2", "A3"]})
    table = _complete_from_recording(epochs_table, recording.contacts)
    assert table["x"].tolist() == [40.0, 44.0]
    assert table["status"].tolist() == ["good", "bad"]
    assert table["space"].tolist() == ["MNI152NLin2009cAsym"] * 2


def test_contacts_in_a_non_mni_space_are_excluded_not_labelled():
    """Native contacts with no label, T1w or transform: an error naming the three ways out;
    with anatomy.warp.method off they are left out, never looked up in the MNI atlases."""
    recording = _recording(NAMES[:2], POSITIONS[:2], space="ACPC")
    with pytest.raises(DataError, match=r"cannot place these contacts \(ACPC\).*atlas label.*"
                       r"T1w.*transform"):
        localize(recording, config={"anatomy": {"atlases": ["HCPEx"]}})
    table = localize(recording, config={"anatomy": {"atlases": ["HCPEx"],
                                                    "warp": {"method": "off"}}})
    assert (~table["included"]).all()
    assert table["exclusion_reason"].str.contains("not in an MNI-aligned space").all()
    assert (table["atlas_label"] == "n/a").all()


def test_custom_atlas_from_the_config(tmp_path):
    image, labels = toy_atlas(tmp_path, "lab")
    config = {"anatomy": {
        "custom_atlases": {"lab": {"image": str(image), "labels": str(labels)}},
        "atlases": ["lab"], "primary_atlas": "lab", "rois": ["toy"],
        "roi_definitions": {"toy": {"atlas": "lab", "labels": ["Toy_Cortex_L"]}},
    }}
    recording = _recording(["T1", "T2"], [(5, 15, 15), (25, 15, 15)])
    table = localize(recording, config=config)
    assert list(table["atlas_label"]) == ["Toy_Cortex_L", "Left-Cerebral-White-Matter"]
    assert list(table["roi"]) == ["toy", "n/a"]


def test_anatomy_config_defaults_and_errors():
    anatomy = load_config().anatomy
    assert anatomy.rois == ["ventral", "lateral"] and anatomy.primary_atlas == "HCPEx"
    assert anatomy.localizer.interval == (0.1, 0.4)
    with pytest.raises(ConfigError, match=r"unknown atlas 'HCPX'.*Did you mean 'HCPEx'"):
        load_config({"anatomy": {"atlases": ["HCPX"]}})
    with pytest.raises(ConfigError, match=r"unknown ROI 'ventrl'.*Valid ROIs: ventral, lateral"):
        load_config({"anatomy": {"rois": ["ventrl"]}})
    with pytest.raises(ConfigError, match="needs the face-selectivity localizer"):
        load_config({"anatomy": {"membership": "both", "localizer": {"run": "off"}}})
    with pytest.raises(ConfigError, match="start must come before"):
        load_config({"anatomy": {"localizer": {"interval": [0.4, 0.1]}}})
    config = load_config({"anatomy": {"rois": ["mine"], "roi_definitions": {
        "mine": {"peaks": [[40, -52, -20]], "radius": 8}}}})
    assert config.anatomy.roi_definitions["mine"].radius == 8


def test_glass_brain_figure():
    from matplotlib.figure import Figure

    recording = _recording(NAMES, POSITIONS)
    epochs = face_epochs(effects=(1.0, 0.0, 1.0, 0.0, 1.0), names=NAMES, positions=POSITIONS)
    table = localize(recording, epochs, {"anatomy": {"atlases": ["HCPEx"]}})
    fig = plot_contacts(table, title="sub-01")
    assert isinstance(fig, Figure)
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue()[:4] == b"\x89PNG"
    texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert "ventral" in texts and "lateral" in texts
    empty = plot_contacts(table.iloc[:0])
    assert isinstance(empty, Figure)


def test_localize_takes_its_section_and_plain_values():
    from ieegrsa.anatomy import CONTACT_COLUMNS, contact_columns

    recording = _recording(NAMES, POSITIONS)
    epochs = face_epochs(effects=(1.0, 0.0, 1.0, 0.0, 1.0), names=NAMES, positions=POSITIONS)
    whole = {"anatomy": {"atlases": ["HCPEx"], "localizer": {"test": "permutation",
                                                              "n_permutations": 200}},
             "random_seed": 3}
    config = load_config(whole)
    table = localize(recording, epochs, config.anatomy, seed=3)
    pd.testing.assert_frame_equal(table, localize(recording, epochs, whole))
    assert not table.equals(localize(recording, epochs, config.anatomy, seed=4))
    columns = contact_columns(table)
    assert list(columns) == list(table.columns)
    known = [c for c in CONTACT_COLUMNS if c in table.columns]
    assert list(columns)[:len(known)] == known
    assert columns["x"] == {"Description": "Position, MNI x (bipolar channels: midpoint).",
                            "Units": "mm"}
    assert "HCPEx" in columns["hcpex_label"]
