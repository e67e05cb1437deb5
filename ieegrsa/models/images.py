"""Stimulus images → network input tensors.

:class:`ImageSet` takes the stimuli in any of the usual forms (a folder, a list of paths, an
array, PIL images), hashes their content for the feature cache, and yields fixed-size batches
converted per :class:`~ieegrsa.models.base.InputSpec`:

1. optional face crop: a bounding box ``(x0, y0, x1, y1)`` in pixels per image, or the
   bounding box of facial landmarks widened by a margin (see :func:`landmark_boxes`);
2. channels: RGB (a grayscale image is repeated ×3) or grayscale
   (ITU-R 601-2 luma ``L = 0.299 R + 0.587 G + 0.114 B`` as PIL's ``convert("L")``, rounded
   for uint8 images);
3. size: the shorter side resized to ``spec.resize`` then a centre crop of
   ``spec.size × spec.size``, or (``spec.resize=None``) a straight resize to
   ``spec.size × spec.size``; bilinear, with antialiasing unless ``spec.antialias`` is False;
4. scaling to [0, 1] (uint8 / 255) and normalisation ``(x - mean) / std`` per channel.

Images are decoded batch by batch, so memory holds one batch of images at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from ..errors import DataError
from .base import LUMA, InputSpec

__all__ = ["IMAGE_SUFFIXES", "ImageSet", "landmark_boxes", "read_landmarks", "transform_batch"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm",
                  ".pgm")
#: version of the conversion code; part of the cache key, bump it when the pixels change
PIPELINE_VERSION = 1


class ImageSet:
    """An ordered set of stimulus images with content hashes.

    Parameters
    ----------
    images : path-like | sequence | numpy.ndarray
        A folder (its image files, sorted by name; see :data:`IMAGE_SUFFIXES`), a list of image
        paths (e.g. the ``stim_file`` paths of a BIDS ``stimuli/`` folder), an array
        ``(n, H, W)`` or ``(n, H, W, C)`` (uint8 0–255, or float in [0, 1]), or a list of PIL
        images or of such single-image arrays.
    boxes : array-like, shape (n, 4), optional
        Face bounding box ``(x0, y0, x1, y1)`` in pixels of each original image (clipped to
        the image).
    landmarks : sequence, optional
        Per image, facial landmarks as a ``(k, 2)`` array of ``(x, y)`` pixels or the path of a
        landmark file (see :func:`read_landmarks`); the crop is their bounding box widened by
        ``margin`` (see :func:`landmark_boxes`). Not together with ``boxes``.
    margin : float
        Fraction of the landmarks' box size added on every side.

    Attributes
    ----------
    labels : list of str
        Per image: the file path (or ``"array[i]"``, ``"image[i]"``).
    hashes : list of str
        Per image: SHA-256 of the file bytes, or of dtype, shape and pixel bytes of an array
        (mode, size and pixels of a PIL image).
    boxes : numpy.ndarray | None
        ``(n, 4)`` crop boxes in pixels, or None.
    """

    def __init__(self, images, *, boxes=None, landmarks=None, margin: float = 0.25):
        self._items, self.labels = _sources(images)
        if not self._items:
            raise DataError("no images given", field="images", found=images,
                            fix="pass a folder of images, a list of paths or an array")
        self.hashes = [_hash(item, label) for item, label in zip(self._items, self.labels)]
        if boxes is not None and landmarks is not None:
            raise DataError("give either boxes or landmarks for the face crop, not both",
                            field="landmarks")
        if landmarks is not None:
            if len(landmarks) != len(self):
                raise DataError("one landmark set per image is needed", field="landmarks",
                                found=f"{len(landmarks)} for {len(self)} images")
            boxes = landmark_boxes(landmarks, margin=margin)
        self.boxes = None if boxes is None else _check_boxes(boxes, len(self))

    def __len__(self) -> int:
        return len(self._items)

    def load(self, index: int):
        """Image ``index`` as a ``(C, H, W)`` tensor (uint8, or float32 in [0, 1]), cropped."""
        import torch

        item, label = self._items[index], self.labels[index]
        if isinstance(item, Path):
            pixels = _read_file(item)
        elif isinstance(item, np.ndarray):
            pixels = _check_array(item, label)
        else:
            pixels = _pil_pixels(item)
        if not pixels.flags.writeable:  # torch wants writable memory
            pixels = pixels.copy()
        tensor = torch.from_numpy(np.ascontiguousarray(pixels))
        tensor = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)
        if self.boxes is not None:
            tensor = _crop(tensor, self.boxes[index], label)
        return tensor

    def batches(self, spec: InputSpec, batch_size: int) -> Iterator:
        """Yield ``(start, batch)`` with ``batch`` a float32 tensor ``(b, C, size, size)``."""
        for start in range(0, len(self), batch_size):
            stop = min(start + batch_size, len(self))
            yield start, transform_batch([self.load(i) for i in range(start, stop)], spec)

    def transform_key(self, spec: InputSpec) -> dict:
        """JSON-able description of the conversion (part of the cache key)."""
        return {
            "pipeline": PIPELINE_VERSION,
            "spec": spec.key(),
            "boxes": None if self.boxes is None else self.boxes.tolist(),
        }


def transform_batch(images: Sequence, spec: InputSpec):
    """Convert ``(C, H, W)`` image tensors to one normalised batch per ``spec``.

    Images of equal shape and dtype are converted together. uint8 images are converted to
    grayscale and resized in uint8 (as torchvision's and PIL's pipelines do), then scaled.

    Returns
    -------
    torch.Tensor
        float32, shape ``(n, spec.channels, spec.size, spec.size)``.
    """
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    if len(spec.mean) != spec.channels or len(spec.std) != spec.channels:
        raise DataError("mean and std need one value per input channel", field="transform",
                        found=f"{spec.channels} channel(s), mean {spec.mean}, std {spec.std}")
    out = torch.empty((len(images), spec.channels, spec.size, spec.size), dtype=torch.float32)
    groups: dict[tuple, list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault((tuple(image.shape), image.dtype), []).append(i)
    for index in groups.values():
        x = torch.stack([images[i] for i in index])
        if spec.grayscale and x.shape[1] == 3:
            weights = torch.tensor(LUMA).view(1, 3, 1, 1)
            luma = (x.to(torch.float32) * weights).sum(dim=1, keepdim=True)
            x = luma.round().to(torch.uint8) if x.dtype == torch.uint8 else luma
        elif not spec.grayscale and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if spec.resize is None:
            x = F.resize(x, [spec.size, spec.size], InterpolationMode.BILINEAR,
                         antialias=spec.antialias)
        else:
            x = F.resize(x, [spec.resize], InterpolationMode.BILINEAR,
                         antialias=spec.antialias)
            x = F.center_crop(x, [spec.size, spec.size])
        x = F.to_dtype(x, torch.float32, scale=True)
        out[index] = F.normalize(x, list(spec.mean), list(spec.std))
    return out


def landmark_boxes(landmarks, margin: float = 0.25, square: bool = True) -> np.ndarray:
    """Face boxes from landmarks.

    Parameters
    ----------
    landmarks : sequence
        Per image a ``(k, 2)`` array of ``(x, y)`` pixels, or a landmark file path.
    margin : float
        Added on each side as a fraction of the box width (x) and height (y).
    square : bool
        Widen the shorter side so the box is square around the same centre (face networks
        take square inputs; a later centre crop would otherwise cut the face).

    Returns
    -------
    numpy.ndarray
        ``(n, 4)`` boxes ``(x0, y0, x1, y1)``, float64, not yet clipped to the image.
    """
    boxes = []
    for points in landmarks:
        if isinstance(points, (str, PathLike)):
            points = read_landmarks(points)
        points = np.asarray(points, dtype=float)
        if points.ndim != 2 or points.shape[1] != 2 or not len(points):
            raise DataError("landmarks must be a (k, 2) array of x, y pixels",
                            field="landmarks", found=points.shape)
        lo, hi = points.min(axis=0), points.max(axis=0)
        pad = margin * (hi - lo)
        lo, hi = lo - pad, hi + pad
        if square:
            centre, half = (lo + hi) / 2, (hi - lo).max() / 2
            lo, hi = centre - half, centre + half
        boxes.append([lo[0], lo[1], hi[0], hi[1]])
    return np.asarray(boxes, dtype=float)


def read_landmarks(path) -> np.ndarray:
    """Landmarks ``(k, 2)`` from a file.

    Reads a Psychomorph/WebMorph template (``.tem``: the point count on the first line, then
    one ``x y`` line per point) or a text/CSV file of ``x, y`` rows (``.txt``, ``.csv``;
    a header row is skipped).
    """
    path = Path(path)
    try:
        lines = path.read_text().split("\n")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError("cannot read the landmark file", file=path, field="landmarks",
                        found=type(err).__name__) from err
    try:
        if path.suffix.lower() == ".tem":
            count = int(lines[0].split()[0])
            rows = [line.split()[:2] for line in lines[1:count + 1]]
        else:
            rows = [line.replace(",", " ").replace(";", " ").split()[:2] for line in lines
                    if line.strip()]
            if rows and not _is_number(rows[0][0]):
                rows = rows[1:]
        points = np.asarray(rows, dtype=float)
    except (ValueError, IndexError) as err:
        raise DataError("the landmark file is not a list of x, y points", file=path,
                        field="landmarks", found=str(err)) from err
    if points.ndim != 2 or points.shape[1] != 2:
        raise DataError("the landmark file is not a list of x, y points", file=path,
                        field="landmarks", found=points.shape)
    return points


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sources(images) -> tuple[list, list[str]]:
    """(items, labels): items are Paths, numpy arrays or PIL images."""
    from PIL import Image

    if isinstance(images, (str, PathLike)):
        folder = Path(images)
        if folder.is_file():
            return [folder], [str(folder)]
        if not folder.is_dir():
            raise DataError("image folder not found", file=folder, field="images")
        paths = sorted(p for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise DataError("no image files in the folder", file=folder, field="images",
                            fix=f"image files end in one of {', '.join(IMAGE_SUFFIXES)}")
        return paths, [str(p) for p in paths]
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3, 4)):
            raise DataError("an image array must be (n, H, W) or (n, H, W, C) with C in 1, 3, 4",
                            field="images", found=images.shape)
        return list(images), [f"array[{i}]" for i in range(len(images))]
    if isinstance(images, Image.Image):
        images = [images]
    try:
        images = list(images)
    except TypeError:
        raise DataError("images must be a folder, a list of paths or images, or an array",
                        field="images", found=type(images).__name__) from None
    items, labels = [], []
    for i, image in enumerate(images):
        if isinstance(image, (str, PathLike)):
            items.append(Path(image))
            labels.append(str(image))
        elif isinstance(image, Image.Image):
            items.append(image)
            labels.append(f"image[{i}]")
        elif isinstance(image, np.ndarray):
            items.append(_check_array(image, f"array[{i}]"))
            labels.append(f"array[{i}]")
        else:
            raise DataError("images must be paths, PIL images or arrays", field="images",
                            found=f"item {i}: {type(image).__name__}")
    return items, labels


def _hash(item, label: str) -> str:
    digest = hashlib.sha256()
    if isinstance(item, Path):
        try:
            with open(item, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        except OSError as err:
            raise DataError("cannot read the image file", file=item, field="images",
                            found=err.strerror or type(err).__name__) from err
    elif isinstance(item, np.ndarray):
        item = _check_array(item, label)
        digest.update(f"{item.dtype.str}{item.shape}".encode())
        digest.update(np.ascontiguousarray(item).data)
    else:
        digest.update(f"PIL{item.mode}{item.size}".encode())
        digest.update(item.tobytes())
    return digest.hexdigest()


def _check_array(array: np.ndarray, label: str) -> np.ndarray:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (1, 3, 4)):
        raise DataError("an image array must be (H, W) or (H, W, C) with C in 1, 3, 4",
                        field="images", found=f"{label}: shape {array.shape}")
    if array.ndim == 3 and array.shape[-1] == 4:
        array = array[..., :3]  # alpha dropped, as PIL's RGBA -> RGB does
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array).all()
        if not finite or array.min() < 0 or array.max() > 1:
            raise DataError("float image arrays must hold values in [0, 1]", field="images",
                            found=f"{label}: range {np.nanmin(array):g}..{np.nanmax(array):g}"
                            if finite else f"{label}: non-finite values",
                            fix="scale them to [0, 1] or pass uint8 arrays")
        return array.astype(np.float32, copy=False)
    raise DataError("image arrays must be uint8 or float", field="images",
                    found=f"{label}: {array.dtype}")


def _read_file(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return _pil_pixels(image)
    except FileNotFoundError as err:
        raise DataError("image file not found", file=path, field="images") from err
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise DataError("cannot read the image file", file=path, field="images",
                        found=str(err) or type(err).__name__) from err


def _pil_pixels(image) -> np.ndarray:
    """uint8 ``(H, W)`` for grayscale images, ``(H, W, 3)`` otherwise (alpha dropped)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        scaled = np.asarray(image, dtype=np.float64) / 65535.0
        return (np.clip(scaled, 0, 1) * 255 + 0.5).astype(np.uint8)
    if image.mode not in ("L", "RGB"):
        image = image.convert("L" if image.mode in ("1", "LA", "F") else "RGB")
    return np.asarray(image)


def _crop(tensor, box, label: str):
    height, width = tensor.shape[-2:]
    x0, y0 = max(int(round(box[0])), 0), max(int(round(box[1])), 0)
    x1, y1 = min(int(round(box[2])), width), min(int(round(box[3])), height)
    if x1 <= x0 or y1 <= y0:
        raise DataError("the crop box lies outside the image", field="boxes",
                        found=f"{label}: box {list(box)} on a {width}×{height} image")
    return tensor[:, y0:y1, x0:x1]


def _check_boxes(boxes, n: int) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=float)
    if boxes.shape != (n, 4) or not np.isfinite(boxes).all():
        raise DataError("boxes must be an (n_images, 4) array of finite x0, y0, x1, y1",
                        field="boxes", found=boxes.shape)
    if np.any(boxes[:, 2] <= boxes[:, 0]) or np.any(boxes[:, 3] <= boxes[:, 1]):
        raise DataError("each box needs x1 > x0 and y1 > y0", field="boxes")
    return boxes
