"""What each network sees of a stimulus: its own face crop, from boxes given or found.

A face network answers the question it was trained on only when it sees faces framed as in its
training set: dlib's ResNet an aligned chip, fer's classifier a tight grey box. Each extractor
declares its convention as a :class:`FaceCrop` (``Extractor.face_crop``, both in
:mod:`~ieegrsa.models.base`); ``models.networks[].crop`` overrides it (``auto`` keeps it). The
faces themselves come from :func:`stimulus_faces`: the boxes and 5 landmarks a lab gives in
``stimuli/stimuli.tsv`` where present (they take precedence), otherwise dlib's detector
(:func:`~ieegrsa.models.faces.find_faces`), with exactly one face per image or one error.
Untrained controls are instances of the same extractor, so they get exactly the trained
network's crops. What each network received is the participant level's faces derivative:
:func:`faces_table` (its columns, described) and :func:`crops_figure` (the contact sheet).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .._check import check_option
from ..errors import DataError
from .base import LUMA, FaceCrop
from .faces import FACE_COLUMNS, LANDMARK_NAMES, _dlib, _find, _read, _require_one, image_names

__all__ = ["BOX_COLUMNS", "CROPS", "DLIB_CHIP", "FACES_TABLE_COLUMNS", "FER_BOX",
           "LANDMARK_COLUMNS", "FaceCrop", "crop_faces", "crops_figure", "faces_table",
           "plot_crops", "resolve_crop", "stimulus_faces"]

#: The values of ``models.networks[].crop``.
CROPS = ("auto", "aligned", "box", "none")
BOX_COLUMNS = ("box_x0", "box_y0", "box_x1", "box_y1")
LANDMARK_COLUMNS = tuple(f"{name}_{axis}" for name in LANDMARK_NAMES for axis in "xy")
_LUMA = np.array(LUMA)


#: dlib's ResNet: the chip ``dlib.get_face_chip(image, shape, size=150, padding=0.25)`` of
#: ``compute_face_descriptor``.
DLIB_CHIP = FaceCrop("aligned", size=150, padding=0.25,
                     source="dlib compute_face_descriptor: get_face_chip, 150 px, padding 0.25")
#: fer's ``FER.detect_emotions``: OpenCV's Haar-cascade box made square, 10 px added on every
#: side, the image padded with the mean grey of its bottom two rows where the box reaches past
#: it. fer's Haar box (its defaults: scale factor 1.1, 5 neighbours, 50 px minimum) is 1.12 times
#: dlib's HOG box and centred 0.105 of its height higher, measured on the 202 London photos where
#: both find one face (s.d. 0.08 and 0.03); ``scale`` and ``shift`` map one to the other.
FER_BOX = FaceCrop("box", scale=1.12, shift=-0.105, offset=10, outside="pad",
                   source="fer FER.detect_emotions: Haar box (dlib's ×1.12, 0.105 up), square, "
                          "offsets (10, 10), padded")


#: Columns of the faces table the participant level writes (beside ``crop_<network>``).
FACES_TABLE_COLUMNS = {
    "image": "The stimulus (stim_file, relative to stimuli/).",
    "identity": "Identity of the person shown (from the stimulus table).",
    "expression": "Facial expression shown (from the stimulus table).",
    "source": "Where the face geometry comes from: stimuli.tsv (given), 'stimuli.tsv box, dlib "
              "landmarks' (landmarks placed inside the given box) or 'dlib detector'.",
    **{c: d for c, d in FACE_COLUMNS.items() if c != "image"},
}


def resolve_crop(extractor, crop: str = "auto") -> FaceCrop:
    """The :class:`FaceCrop` a network gets: its extractor's (``auto``), or the kind asked for.

    ``aligned`` or ``box`` keep the extractor's own parameters when its convention is of that
    kind; otherwise an aligned chip is the network's input size with dlib's padding 0.25, and a
    box is the square face box without margin.
    """
    check_option("crop", crop, CROPS)
    own = extractor.face_crop
    if crop == "auto" or crop == own.kind:
        return own
    if crop == "aligned":
        return FaceCrop("aligned", size=int(extractor.input_spec.size), padding=0.25,
                        source="crop: aligned (dlib's padding 0.25)")
    if crop == "box":
        return FaceCrop("box", source="crop: box (the square face box)")
    return FaceCrop()


def stimulus_faces(images, *, names=None, stimuli=None, landmarks=False, cache_dir=None,
                   upsample: int = 1, landmarks_file=None) -> pd.DataFrame:
    """The face box (and, where needed, the 5 landmarks) of every stimulus image.

    Parameters
    ----------
    images : sequence
        The image files (or uint8 RGB arrays), in the order of the output rows.
    names : sequence of str | None
        Row labels (default: the paths, or indices), e.g. the ``stim_file`` values.
    stimuli : pandas.DataFrame | None
        Rows aligned with ``images`` from ``stimuli/stimuli.tsv``. Where a row gives
        ``box_x0, box_y0, box_x1, box_y1`` (pixels, right/bottom exclusive), that box is used and
        nothing is detected; where it also gives the 5 landmark columns
        (:data:`LANDMARK_COLUMNS`), they are used as well.
    landmarks : bool
        The 5 landmarks are needed (an aligned crop): for a given box without them, dlib's
        5-point predictor places them inside the box.
    cache_dir : path-like | None
        Cache of detections (:func:`~ieegrsa.models.faces.find_faces`).
    upsample : int
        Detector upsampling for small faces.
    landmarks_file : path-like | None
        dlib's 5-point predictor (default: the one in ``face_recognition_models``).

    Returns
    -------
    pandas.DataFrame
        One row per image: ``image``, ``source`` (``stimuli.tsv``, ``stimuli.tsv box, dlib
        landmarks`` or ``dlib detector``) and the columns of
        :data:`~ieegrsa.models.faces.FACE_COLUMNS` (``n_faces``, ``score`` and ``upsample`` are
        NaN for given boxes).

    Raises
    ------
    DataError
        A given box is incomplete or empty, or an image without a given box shows no face or
        several (one message naming them all).
    """
    images = list(images)
    names = [str(n) for n in (image_names(images) if names is None else names)]
    given = _given_geometry(stimuli, names, len(images))
    detect = [i for i in range(len(images)) if given[i] is None]
    columns = ["image", "source", *(c for c in FACE_COLUMNS if c != "image")]
    table = pd.DataFrame(index=range(len(images)), columns=columns, dtype=object)
    table["image"] = names
    if detect:
        found, _ = _find([images[i] for i in detect], names=[names[i] for i in detect],
                         upsample=upsample, cache_dir=cache_dir, landmarks_file=landmarks_file)
        _require_one(found)
        for row, i in zip(found.to_dict("records"), detect):
            table.loc[i, list(row)] = list(row.values())
            table.loc[i, "source"] = "dlib detector"
    predictor = None
    for i, geometry in enumerate(given):
        if geometry is None:
            continue
        pixels, digest = _read(images[i], names[i])
        table.loc[i, "sha256"] = digest
        table.loc[i, list(geometry)] = list(geometry.values())
        table.loc[i, "source"] = "stimuli.tsv"
        if landmarks and not all(np.isfinite(geometry.get(c, np.nan)) for c in LANDMARK_COLUMNS):
            if predictor is None:
                dlib, path = _dlib(landmarks_file)
                predictor = dlib, dlib.shape_predictor(str(path))
            points = _predict(*predictor, pixels, geometry)
            table.loc[i, list(points)] = list(points.values())
            table.loc[i, "source"] = "stimuli.tsv box, dlib landmarks"
    numeric = [c for c in FACE_COLUMNS if c not in ("image", "sha256")]
    table[numeric] = table[numeric].apply(pd.to_numeric, errors="coerce")
    return table


def _given_geometry(stimuli, names, n) -> list[dict | None]:
    """Per image, the box (and landmarks) given in the stimulus table, or None."""
    out: list[dict | None] = [None] * n
    if stimuli is None or not set(BOX_COLUMNS) <= set(stimuli.columns):
        return out
    if len(stimuli) != n:
        raise DataError("one stimulus row per image is needed", field="stimuli",
                        found=f"{len(stimuli)} rows for {n} images")
    boxes = stimuli[list(BOX_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    has_points = set(LANDMARK_COLUMNS) <= set(stimuli.columns)
    points = (stimuli[list(LANDMARK_COLUMNS)].apply(pd.to_numeric, errors="coerce")
              .to_numpy(float) if has_points else None)
    for i in range(n):
        box = boxes[i]
        if np.isnan(box).all():
            continue  # this image's face is found by the detector
        if not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
            raise DataError("a face box in stimuli.tsv is incomplete or empty",
                            file="stimuli/stimuli.tsv", field="box_x0, box_y0, box_x1, box_y1",
                            found=f"{names[i]}: {box.tolist()}",
                            fix="give all four edges with box_x1 > box_x0 and box_y1 > box_y0 "
                                "(pixels), or leave all four n/a to detect the face")
        geometry = dict(zip(BOX_COLUMNS, box.tolist()))
        if points is not None and np.isfinite(points[i]).all():
            geometry.update(zip(LANDMARK_COLUMNS, points[i].tolist()))
        out[i] = geometry
    return out


def _predict(dlib, predictor, pixels, geometry) -> dict:
    rect = dlib.rectangle(int(round(geometry["box_x0"])), int(round(geometry["box_y0"])),
                          int(round(geometry["box_x1"])) - 1, int(round(geometry["box_y1"])) - 1)
    shape = predictor(pixels, rect)
    return {f"{name}_{axis}": float(getattr(shape.part(k), axis))
            for k, name in enumerate(LANDMARK_NAMES) for axis in "xy"}


def crop_faces(images, faces: pd.DataFrame, crop: FaceCrop) -> list[np.ndarray] | list[Path]:
    """Each image as ``crop`` frames it.

    Parameters
    ----------
    images : sequence of path-like
    faces : pandas.DataFrame
        From :func:`stimulus_faces`, one row per image (ignored for ``crop.kind == "none"``).
    crop : FaceCrop

    Returns
    -------
    list
        ``none``: the paths as given (the network converts the whole image); otherwise uint8
        RGB arrays: ``(size, size, 3)`` aligned chips, or the cut-out boxes.
    """
    images = list(images)
    if crop.kind == "none":
        return images
    if len(faces) != len(images):
        raise DataError("one face row per image is needed", field="faces",
                        found=f"{len(faces)} rows for {len(images)} images")
    return [_frame(_read(image, str(image))[0], face, crop)
            for image, face in zip(images, faces.to_dict("records"))]


def _frame(pixels, face, crop) -> np.ndarray:
    """One image's crop (``crop.kind`` aligned or box)."""
    return _aligned(pixels, face, crop) if crop.kind == "aligned" else _box(pixels, face, crop)


def _aligned(pixels, face, crop) -> np.ndarray:
    dlib, _ = _dlib(None)
    missing = [c for c in LANDMARK_COLUMNS if not np.isfinite(float(face.get(c, np.nan)))]
    if missing:
        raise DataError("an aligned crop needs the 5 face landmarks", field="crop",
                        found=f"{face['image']}: no {missing[0]}",
                        fix="let stimulus_faces place them (landmarks=True), or use crop: box")
    rect = dlib.rectangle(int(face["box_x0"]), int(face["box_y0"]), int(face["box_x1"]) - 1,
                          int(face["box_y1"]) - 1)
    points = [dlib.point(int(face[f"{n}_x"]), int(face[f"{n}_y"])) for n in LANDMARK_NAMES]
    shape = dlib.full_object_detection(rect, points)
    return dlib.get_face_chip(pixels, shape, size=int(crop.size), padding=float(crop.padding))


def _box(pixels, face, crop) -> np.ndarray:
    """The square, widened face box (integer pixels, as fer cuts it)."""
    x0, y0, x1, y1 = (float(face[c]) for c in BOX_COLUMNS)
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2 + crop.shift * (y1 - y0)
    width, height = crop.scale * (x1 - x0), crop.scale * (y1 - y0)
    x0, y0 = centre_x - width / 2, centre_y - height / 2
    # lengthen the shorter side about the centre, as fer's tosquare does
    if height > width:
        x0, width = x0 - (height - width) / 2, height
    elif width > height:
        y0, height = y0 - (width - height) / 2, width
    grow = crop.margin * width + crop.offset
    left, top = int(round(x0 - grow)), int(round(y0 - grow))
    side = int(round(width + 2 * grow))  # square; edges rounded once, not each on its own
    right, bottom = left + side, top + side
    rows, cols = pixels.shape[:2]
    if crop.outside == "clip":
        left, top, right, bottom = max(left, 0), max(top, 0), min(right, cols), min(bottom, rows)
        if right <= left or bottom <= top:
            raise DataError("the face box lies outside the image", field="crop",
                            found=f"{face['image']}: box {[x0, y0, x1, y1]} on {cols}×{rows}")
        return np.ascontiguousarray(pixels[top:bottom, left:right])
    grey = pixels[-2:].astype(float) @ _LUMA
    canvas = np.empty((bottom - top, right - left, 3), dtype=np.uint8)
    canvas[:] = int(round(grey.mean()))
    sy0, sx0 = max(top, 0), max(left, 0)
    sy1, sx1 = min(bottom, rows), min(right, cols)
    if sy1 > sy0 and sx1 > sx0:
        canvas[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = pixels[sy0:sy1, sx0:sx1]
    return canvas


def plot_crops(images, faces: pd.DataFrame, crops: dict, *, grey=(), per_row: int = 8):
    """A contact sheet: every stimulus with its face box and landmarks, and each crop.

    Parameters
    ----------
    images : sequence of path-like
    faces : pandas.DataFrame
        From :func:`stimulus_faces` (``image`` labels the columns).
    crops : dict
        ``{title: FaceCrop}``, e.g. the network labels sharing a crop joined by commas.
    grey : collection of str
        Titles whose networks take grey input: their crops are shown in luma, as they see them.
    per_row : int
        Stimuli side by side before the sheet wraps.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    images = list(images)
    views = ["stimulus", *crops]
    blocks = -(-len(images) // per_row)
    n_rows = blocks * len(views)
    fig = Figure(figsize=(1.25 * min(per_row, len(images)) + 1.6, 1.3 * n_rows + 0.3))
    axes = fig.subplots(n_rows, min(per_row, len(images)), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    records = faces.to_dict("records")
    for k, (image, face) in enumerate(zip(images, records)):
        block, column = divmod(k, per_row)
        pixels, _ = _read(image, str(image))
        for v, view in enumerate(views):
            ax = axes[block * len(views) + v, column]
            if view == "stimulus":
                ax.imshow(pixels)
                x0, y0, x1, y1 = (float(face[c]) for c in BOX_COLUMNS)
                ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1,
                                       ec="#e8590c"))
                xs = [float(face.get(f"{n}_x", np.nan)) for n in LANDMARK_NAMES]
                ys = [float(face.get(f"{n}_y", np.nan)) for n in LANDMARK_NAMES]
                ax.plot(xs, ys, ".", ms=2, color="#1c7ed6")
                ax.set_title(Path(str(face["image"])).name, fontsize=6)
            else:
                crop = _frame(pixels, face, crops[view])
                if view in grey:
                    ax.imshow(np.rint(crop @ _LUMA), cmap="gray", vmin=0, vmax=255)
                else:
                    ax.imshow(crop)
            ax.set_axis_on()
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(view, fontsize=6)
    fig.tight_layout(pad=0.3)
    return fig


# --- the faces derivative ------------------------------------------------------------------

def faces_table(faces, conditions, stimuli) -> tuple[pd.DataFrame, dict]:
    """The faces table of the participant level and the description of each of its columns.

    Parameters
    ----------
    faces : pandas.DataFrame | None
        From :func:`~ieegrsa.models.configured.configured_model_rdms` (``return_faces``): the
        face geometry and one ``crop_<label>`` column per network; None when no network crops.
    conditions : sequence
        The RSA conditions (``stim_file`` values), the rows when ``faces`` is None.
    stimuli : pandas.DataFrame
        The stimulus table, for each image's ``identity`` and ``expression``.

    Returns
    -------
    table : pandas.DataFrame
        ``image``, ``identity``, ``expression``, the face geometry present, then the
        ``crop_<label>`` columns, in that order.
    columns : dict
        ``{column: description}`` for every column of ``table``, in its order.
    """
    labels = stimuli.drop_duplicates("stim_file").set_index("stim_file")
    table = pd.DataFrame({"image": list(conditions)}) if faces is None else faces.copy()
    for column in ("identity", "expression"):
        table[column] = table["image"].map(labels[column]) if column in labels else None
    crop_columns = [c for c in table.columns if c.startswith("crop_")]
    columns = {c: FACES_TABLE_COLUMNS[c] for c in FACES_TABLE_COLUMNS if c in table}
    columns.update({c: f"The crop network {c.removeprefix('crop_')!r} received (JSON: kind, "
                       "parameters and input channels, 1 = grey)" for c in crop_columns})
    return table[list(columns)], columns


def crops_figure(table: pd.DataFrame, stimuli_root):
    """The contact sheet of the crops in a :func:`faces_table`, or None when no network crops.

    Networks that received the same crop share a row (titled with their labels joined by
    commas); grey networks' crops are shown grey. Stimuli are ordered by identity, then
    expression.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`faces_table`.
    stimuli_root : path-like
        Folder the ``image`` values are relative to (the dataset's ``stimuli/``).

    Returns
    -------
    matplotlib.figure.Figure | None
        See :func:`plot_crops`.
    """
    shared: dict[str, list[str]] = {}  # the crop's JSON -> the networks that received it
    for column in (c for c in table.columns if c.startswith("crop_")):
        shared.setdefault(table[column].iloc[0], []).append(column.removeprefix("crop_"))
    crops, grey = {}, set()
    for key, names in shared.items():
        record = json.loads(key)
        channels = record.pop("channels", 3)
        if record["kind"] != "none":
            title = ", ".join(names)
            crops[title] = FaceCrop(**record)
            if channels == 1:
                grey.add(title)
    if not crops:
        return None
    ordered = table.sort_values(["identity", "expression"], kind="stable", na_position="last")
    return plot_crops([Path(stimuli_root) / str(image) for image in ordered["image"]],
                      ordered.reset_index(drop=True), crops, grey=grey)
