"""Stimulus images to network input: sources that agree, grey conversion, resizing, face
crops, and errors that name the file.

References: PIL and numpy slicing.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from _models import MEAN, SMALL, STD  # noqa: E402
from PIL import Image  # noqa: E402

from ieegrsa.errors import DataError  # noqa: E402
from ieegrsa.models.base import InputSpec  # noqa: E402
from ieegrsa.models.extract import extract_features  # noqa: E402
from ieegrsa.models.images import ImageSet, landmark_boxes, read_landmarks  # noqa: E402


def _normalised(rgb_uint8):
    """Reference conversion without resizing: (x / 255 - mean) / std, channels first."""
    x = rgb_uint8.astype(np.float64) / 255
    return ((x - MEAN) / STD).transpose(0, 3, 1, 2)


def test_images_from_folder_paths_arrays_pil_agree(tmp_path, arrays):
    folder = tmp_path / "stim"
    folder.mkdir()
    for i, image in enumerate(arrays):
        Image.fromarray(image).save(folder / f"im{i:02d}.png")
    (folder / "notes.txt").write_text("not an image")
    spec = InputSpec(size=40, resize=40)  # 40×48 → centre crop 40×40, no resampling
    expected = _normalised(arrays[:, :, 4:44])
    paths = sorted(folder.glob("*.png"))
    sources = [folder, paths, [str(p) for p in paths], arrays, list(arrays),
               [Image.fromarray(a) for a in arrays], arrays.astype(np.float32) / 255]
    for source in sources:
        images = ImageSet(source)
        assert len(images) == 6
        (_, batch), = images.batches(spec, 8)
        np.testing.assert_allclose(batch.numpy(), expected, atol=1e-6)
    assert ImageSet(folder).labels == [str(p) for p in paths]
    assert ImageSet(folder).hashes == [hashlib.sha256(p.read_bytes()).hexdigest()
                                       for p in paths]
    assert ImageSet(arrays).hashes == ImageSet(list(arrays)).hashes


def test_grayscale_resize_and_crop(arrays):
    images = ImageSet(arrays)
    # grayscale from float images: the exact luma formula, one channel, own mean/std
    floats = ImageSet(arrays.astype(np.float32) / 255)
    spec = InputSpec(size=40, resize=40, grayscale=True, mean=(0.5,), std=(0.25,))
    (_, gray), = floats.batches(spec, 6)
    luma = (arrays[..., :3].astype(np.float64) / 255) @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(gray[:, 0].numpy(), (luma[:, :, 4:44] - 0.5) / 0.25, atol=1e-5)
    # from uint8: within one grey level of PIL's convert("L")
    (_, gray8), = images.batches(spec, 6)
    pil = np.stack([np.asarray(Image.fromarray(a).convert("L")) for a in arrays])[:, :, 4:44]
    levels = gray8[:, 0].numpy() * 0.25 * 255 + 0.5 * 255
    assert np.abs(levels - pil).max() <= 1.0 + 1e-3
    # a grey input to an RGB network: the level repeated in three channels
    (_, rgb), = ImageSet(pil).batches(InputSpec(size=40, resize=None), 6)
    np.testing.assert_allclose(rgb.numpy(), _normalised(np.repeat(pil[..., None], 3, -1)),
                               atol=1e-6)
    # straight resize: within one level of PIL's antialiased bilinear resize
    (_, small), = images.batches(InputSpec(size=20, resize=None, mean=(0, 0, 0),
                                           std=(1, 1, 1)), 6)
    pil_small = np.stack([np.asarray(Image.fromarray(a).resize((20, 20), Image.BILINEAR))
                          for a in arrays])
    assert small.shape == (6, 3, 20, 20)
    assert np.abs(small.numpy().transpose(0, 2, 3, 1) * 255 - pil_small).max() <= 1.0 + 1e-3
    # resize the shorter side, then centre crop: 40×48 → 20×24 → 20×20 at columns 2..22
    (_, cropped), = images.batches(InputSpec(size=20, resize=20, mean=(0, 0, 0),
                                             std=(1, 1, 1)), 6)
    assert np.abs(cropped.numpy().transpose(0, 2, 3, 1) * 255
                  - np.stack([np.asarray(Image.fromarray(a).resize((24, 20), Image.BILINEAR))
                              for a in arrays])[:, :, 2:22]).max() <= 1.0 + 1e-3


def test_face_crop_from_boxes_and_landmarks(arrays, shared_data):
    boxes = np.tile([10, 5, 30, 25], (6, 1))
    spec = InputSpec(size=20, resize=None)
    (_, batch), = ImageSet(arrays, boxes=boxes).batches(spec, 6)
    np.testing.assert_allclose(batch.numpy(), _normalised(arrays[:, 5:25, 10:30]), atol=1e-6)
    points = [np.array([[12.0, 8.0], [28.0, 8.0], [20.0, 20.0]])] * 6
    box = landmark_boxes(points, margin=0.25)[0]
    # 16 wide, 12 high; +25 % each side → 24 × 18; squared to 24 × 24 around (20, 14)
    np.testing.assert_allclose(box, [8.0, 2.0, 32.0, 26.0])
    images = ImageSet(arrays, landmarks=points)
    np.testing.assert_allclose(images.boxes, np.tile(box, (6, 1)))
    assert images.transform_key(spec)["boxes"][0] == box.tolist()
    with pytest.raises(DataError, match="outside the image"):
        ImageSet(arrays, boxes=np.tile([100, 100, 120, 120], (6, 1))).load(0)
    with pytest.raises(DataError, match="either boxes or landmarks"):
        ImageSet(arrays, boxes=boxes, landmarks=points)
    # a real Psychomorph template of the London set
    tem = shared_data / "faces" / "london" / "landmarks" / "001_03.tem"
    landmarks = read_landmarks(tem)
    assert landmarks.shape == (189, 2)
    np.testing.assert_allclose(landmarks[0], [565.0, 632.0])


def test_bad_images_name_the_file(tmp_path, arrays):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    good = tmp_path / "good.png"
    Image.fromarray(arrays[0]).save(good)
    with pytest.raises(DataError) as err:
        ImageSet([good, bad]).load(1)
    assert str(bad) in str(err.value)
    with pytest.raises(DataError) as err:
        extract_features("resnet18", [good, bad], ["fc"], transform=SMALL)
    assert str(bad) in str(err.value)
    missing = tmp_path / "missing.jpg"
    with pytest.raises(DataError) as err:
        ImageSet([good, missing])
    assert str(missing) in str(err.value)
    with pytest.raises(DataError, match="not found"):
        ImageSet(tmp_path / "no_folder")
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        ImageSet(arrays.astype(np.float32))
    with pytest.raises(DataError, match="no image files"):
        ImageSet(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None)
