"""Anatomy: the packaged ROI definitions, their overrides and ROI membership."""

from __future__ import annotations

import numpy as np
import pytest
from _anatomy_helpers import PEAKS

from ieegrsa.anatomy import list_rois, load_peaks, load_roi_definitions, roi_membership
from ieegrsa.anatomy.rois import resolve_rois, roi_label_values
from ieegrsa.errors import ConfigError


def test_packaged_rois_and_peaks():
    definitions = load_roi_definitions()
    assert {"ventral", "lateral", "ventral_left", "ventral_right", "lateral_left",
            "lateral_right", "FFA", "OFA", "pSTS"} <= set(definitions)
    assert list_rois()[:2] == ["ventral", "lateral"]
    peaks = load_peaks()
    assert (peaks["source"].str.len() > 10).all()  # every peak states where it comes from
    for name, xyz in PEAKS.items():
        row = peaks.set_index("name").loc[name]
        assert (row["x"], row["y"], row["z"]) == xyz
    for roi in definitions.values():  # every packaged label exists in its atlas
        values, names = roi_label_values(roi)
        assert len(values) == len(names) >= 1
    ventral = definitions["ventral"]
    assert {p[0] for p in ventral.peaks} == {"FFA_left", "FFA_right", "OFA_left", "OFA_right"}


def test_roi_overrides_and_errors():
    definitions = load_roi_definitions({
        "ventral": {"labels": ["Fusiform_Face_Complex_*"]},  # keeps the packaged peaks
        "v1": {"atlas": "AAL3", "labels": ["Calcarine_L", "Calcarine_R"], "peaks": [[0, -90, 0]]},
    })
    assert definitions["ventral"].labels == ("Fusiform_Face_Complex_*",)
    assert len(definitions["ventral"].peaks) == 4
    _, names = roi_label_values(definitions["ventral"])
    assert names == ["Fusiform_Face_Complex_L", "Fusiform_Face_Complex_R"]
    assert definitions["v1"].peaks == (("v1_peak1", (0.0, -90.0, 0.0)),)
    with pytest.raises(ConfigError, match=r"Unknown ROI.*Did you mean 'ventral'.*lateral"):
        resolve_rois(["ventrl"], definitions)
    with pytest.raises(ConfigError, match="not in the atlas HCPEx"):
        roi_label_values(load_roi_definitions({"x": {"labels": ["Fusiform_Face_Complx_L"]}})["x"])
    with pytest.raises(ConfigError, match="unknown peak"):
        load_roi_definitions({"x": {"peaks": ["FFA_rigth"]}})


def test_roi_membership_sphere_and_atlas():
    definitions = load_roi_definitions()
    rois = resolve_rois(["ventral", "lateral"], definitions)
    xyz = np.array([PEAKS["FFA_right"], PEAKS["pSTS_left"], (40, -52, -9), (0, 40, 40),
                    (np.nan, 0, 0)], float)
    member, distance = roi_membership(xyz, rois, method="sphere", radius=10.0)
    # reference: distance to the nearest peak of each ROI, minus the radius
    for roi in rois:
        centres = np.array([p[1] for p in roi.peaks])
        d = np.array([min(np.linalg.norm(x - c) for c in centres) for x in xyz[:4]])
        np.testing.assert_allclose(distance[roi.name].to_numpy()[:4], np.maximum(d - 10, 0))
        np.testing.assert_array_equal(member[roi.name].to_numpy()[:4], d <= 10)
    assert not member.iloc[4].any() and distance.iloc[4].isna().all()
    member, distance = roi_membership(xyz, rois, method="atlas", max_distance=3.0)
    assert list(member["ventral"]) == [True, False, False, False, False]
    assert list(member["lateral"]) == [False, True, False, False, False]
    assert distance.loc[0, "ventral"] == 0 and distance.loc[3, "ventral"] > 30
