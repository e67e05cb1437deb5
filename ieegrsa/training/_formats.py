"""The annotation side of each distributed face-image layout: which image, which label, which
split, which person.

Each reader returns :class:`Annotations` and reads no image (FER2013's pixels excepted: they
are the CSV). :mod:`ieegrsa.training.data` decides the split, reads the images and hashes them.
Every problem is one :class:`~ieegrsa.errors.DataError` naming the file, the field, what was
found and what to do.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["Annotations", "FORMATS", "FER2013_CLASSES", "layout", "read_annotations"]

FORMATS = ("fer2013", "celeba", "folder", "table")
#: FER2013's ``emotion`` codes 0-6, in order (the order of fer's classifier,
#: ``ieegrsa.models.fer.FER_EXPRESSIONS``).
FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER2013_USAGE = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
FER2013_SIDE = 48
FER2013_PIXELS = FER2013_SIDE * FER2013_SIDE
CELEBA_IDENTITY = "identity_CelebA.txt"
CELEBA_PARTITION = "list_eval_partition.txt"
CELEBA_PARTITIONS = {"0": "train", "1": "val", "2": "test"}
SPLITS = ("train", "val", "test")
SPLIT_ALIASES = {"training": "train", "validation": "val", "valid": "val", "testing": "test",
                 "publictest": "val", "privatetest": "test"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm",
                  ".ppm")
BIDS_TABLE = "stimuli/stimuli.tsv"


@dataclass
class Annotations:
    """One source's images, labels and (where given) splits and identities, in source order."""

    format: str
    root: Path  # names are relative to it
    names: list[str]  # per image: its path relative to root, or "<csv>:<line>" for FER2013
    labels: np.ndarray  # str per image
    classes: tuple | None = None  # fixed by the format (FER2013), else from the labels
    split: np.ndarray | None = None  # the source's own split, "train" / "val" / "test"
    split_field: str | None = None  # where that split comes from (for messages)
    split_file: Path | None = None  # the file holding it
    identities: np.ndarray | None = None  # str per image, None where unknown
    # annotation files hashed with the images, each under a key that does not depend on the
    # file's own name where the format does not fix it ("<fer2013 csv>", "<table>")
    files: list[tuple[str, Path]] = field(default_factory=list)
    pixels: np.ndarray | None = None  # FER2013: (N, 48, 48) uint8
    file: Path | None = None  # the file messages name

    def select(self, keep: np.ndarray) -> Annotations:
        keep = np.asarray(keep, dtype=bool)
        return replace(
            self, names=[n for n, k in zip(self.names, keep) if k], labels=self.labels[keep],
            split=None if self.split is None else self.split[keep],
            identities=None if self.identities is None else self.identities[keep],
            pixels=None if self.pixels is None else self.pixels[keep])


def listed(items, n: int = 5) -> str:
    """``a, b, c ... (12 in all)``."""
    items = [str(i) for i in items]
    text = ", ".join(items[:n])
    return text + (f" ... ({len(items)} in all)" if len(items) > n else "")


def _is_bids(source: Path) -> bool:
    return (source / BIDS_TABLE).is_file() and (source / "dataset_description.json").is_file()


def layout(source: Path, format: str | None) -> tuple[str, bool]:
    """The layout of ``source`` (``format``, checked, or guessed) and whether it is a BIDS
    dataset root (read as a table)."""
    if not source.exists():
        raise DataError("the face dataset does not exist", file=source, field="source",
                        fix="give a FER2013 CSV, a table, a CelebA or class-folder root, or a "
                            "BIDS root")
    if format is None:
        return guess_format(source)
    if source.is_file():
        if format in ("celeba", "folder"):
            raise DataError(f"format {format!r} reads a folder, not a file", file=source,
                            field="format", found="a file", fix="give the dataset's folder")
        return format, False  # the reader checks the columns
    if format == "fer2013":
        raise DataError("format 'fer2013' reads a CSV file, not a folder", file=source,
                        field="format", found="a folder", fix="give the CSV itself")
    if format == "table" and not _is_bids(source):
        raise DataError("format 'table' reads a CSV/TSV table or a BIDS root", file=source,
                        field="format", found="a folder without stimuli/stimuli.tsv and "
                                              "dataset_description.json",
                        fix="give the table file itself")
    if format == "celeba" and not (source / CELEBA_IDENTITY).is_file():
        raise DataError("the folder has no CelebA identity file", file=source, field="format",
                        found=f"no {CELEBA_IDENTITY}",
                        fix="give the folder holding identity_CelebA.txt and the image folder")
    return format, format == "table"


def guess_format(source: Path) -> tuple[str, bool]:
    """The layout of ``source`` and whether it is a BIDS dataset root (read as a table)."""
    if source.is_file():
        if source.suffix.lower() not in (".csv", ".tsv"):
            raise DataError("a face dataset file must be a FER2013 CSV or a .csv/.tsv table",
                            file=source, field="source", found=f"suffix {source.suffix!r}",
                            fix="give the CSV/TSV, a CelebA or class-folder root, or a BIDS "
                                "root, or name the layout with format=")
        columns = _header(source)
        if {"emotion", "pixels"} <= set(columns):
            return "fer2013", False
        if {"image", "label"} <= set(columns):
            return "table", False
        raise DataError("the table's columns are neither FER2013's nor an image table's",
                        file=source, field="columns", found=columns,
                        fix="FER2013: emotion, pixels, Usage; a table: image, label [, split, "
                            "identity]")
    if (source / CELEBA_IDENTITY).is_file():
        return "celeba", False
    if _is_bids(source):
        return "table", True
    return "folder", False


def read_annotations(source: Path, fmt: str, bids: bool, *, objective: str, label_column,
                     identity_column: str, image_folder: str) -> Annotations:
    """The reader of ``fmt``."""
    if fmt == "fer2013":
        return read_fer2013(source, objective=objective)
    if fmt == "celeba":
        return read_celeba(source, objective=objective, image_folder=image_folder)
    if fmt == "folder":
        return read_folder(source)
    if bids:
        return read_table(source / BIDS_TABLE, root=source, image_column="stim_file",
                          label_column=label_column or objective, identity_column=identity_column,
                          prefix="stimuli", bids=True)
    if label_column is None:  # identity: the identity column where the table has one
        columns = _header(source)
        label_column = (identity_column if objective == "identity" and identity_column in columns
                        else "label")
    return read_table(source, root=source.parent, image_column="image",
                      label_column=label_column, identity_column=identity_column)


def _header(path: Path) -> list[str]:
    try:
        return list(pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",",
                                nrows=0, encoding="utf-8-sig").columns)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError("the table cannot be read", file=path, field="columns",
                        found=str(err).strip() or type(err).__name__,
                        fix="give a UTF-8 CSV (or TSV) with one header line") from None


def _read_table(path: Path, sep: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=sep, dtype=str, na_values=["n/a", "N/A", ""],
                           keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError("the table cannot be read", file=path, field="columns",
                        found=str(err).strip().splitlines()[-1] if str(err).strip()
                        else type(err).__name__,
                        fix="give a UTF-8 CSV (or TSV) with one header line") from None


def _lines(rows) -> str:
    """``line 4`` / ``lines 3, 5``: file line numbers (header = line 1) of 0-based data rows."""
    rows = list(rows)
    return ("line " if len(rows) == 1 else "lines ") + listed([int(r) + 2 for r in rows], n=10)


# ----------------------------------------------------------------------------------- FER2013

def read_fer2013(path: Path, *, objective: str) -> Annotations:
    """FER2013's CSV: ``emotion`` 0-6, ``pixels`` 2,304 grey values, ``Usage`` (optional)."""
    if objective != "expression":
        raise DataError("FER2013 labels expressions, not identities", file=path,
                        field="objective", found=repr(objective),
                        fix="use objective='expression' with FER2013, or a CelebA, folder or "
                            "table source with identity labels for objective='identity'")
    table = _read_table(path, ",")
    missing = [c for c in ("emotion", "pixels") if c not in table.columns]
    if missing:
        raise DataError(f"a FER2013 CSV needs the column(s) {', '.join(missing)}", file=path,
                        field="columns", found=list(table.columns),
                        fix="give FER2013 as distributed (columns emotion, pixels, Usage), or "
                            "format='table' for a table of image files")
    if not len(table):
        raise DataError("the FER2013 CSV has no rows", file=path, field="pixels", found="0 rows")
    text = table["pixels"].fillna("").str.strip()
    counts = text.str.count(" ").to_numpy() + 1  # fast; exact below where it looks wrong
    for i in np.flatnonzero(counts != FER2013_PIXELS):
        counts[i] = len(text.iloc[i].split())
    bad = np.flatnonzero(counts != FER2013_PIXELS)
    if len(bad):
        raise DataError(f"{len(bad)} row(s) do not hold {FER2013_PIXELS:,} pixel values "
                        f"({FER2013_SIDE}×{FER2013_SIDE})", file=path, field="pixels",
                        found=f"{_lines(bad)} (header = line 1) with "
                              f"{listed(counts[bad].tolist(), n=10)} values",
                        fix=f"each pixels cell holds {FER2013_PIXELS} space-separated grey "
                            "values 0-255; mend or delete those rows")
    pixels, wrong = _parse_pixels(text)
    invalid = (pixels < 0) | (pixels > 255) | (pixels != np.round(pixels))
    wrong = sorted(set(wrong) | set(np.flatnonzero(invalid.any(axis=1)).tolist()))
    if wrong:
        raise DataError(f"{len(wrong)} row(s) hold pixel values that are not integers 0-255",
                        file=path, field="pixels", found=f"{_lines(wrong)}",
                        fix="grey values are whole numbers from 0 to 255")
    emotion = pd.to_numeric(table["emotion"], errors="coerce").to_numpy()
    bad = np.flatnonzero(~np.isin(emotion, np.arange(len(FER2013_CLASSES))))
    if len(bad):
        raise DataError(f"{len(bad)} row(s) have an emotion code outside 0-6", file=path,
                        field="emotion", found=f"{_lines(bad)}: "
                                               f"{listed(table['emotion'].iloc[bad].tolist())}",
                        fix="FER2013 codes 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, "
                            "5 surprise, 6 neutral")
    split = None
    if "Usage" in table.columns:
        usage = table["Usage"].map(FER2013_USAGE)
        bad = np.flatnonzero(usage.isna().to_numpy())
        if len(bad):
            raise DataError(f"{len(bad)} row(s) have an unknown Usage", file=path, field="Usage",
                            found=f"{_lines(bad)}: "
                                  f"{listed(table['Usage'].iloc[bad].fillna('').tolist())}",
                            fix="Usage is Training, PublicTest or PrivateTest (or drop the "
                                "column to have the split drawn)")
        split = usage.to_numpy(dtype=object)
    labels = np.array([FER2013_CLASSES[int(e)] for e in emotion], dtype=object)
    return Annotations(
        format="fer2013", root=path.parent, file=path, files=[("<fer2013 csv>", path)],
        labels=labels,
        names=[f"{path.name}:{i + 2}" for i in range(len(table))], classes=FER2013_CLASSES,
        split=split, split_field="Usage", split_file=path,
        pixels=pixels.astype(np.uint8).reshape(-1, FER2013_SIDE, FER2013_SIDE))


def _parse_pixels(text: pd.Series) -> tuple[np.ndarray, list[int]]:
    """``(N, 2304)`` float64 values of the pixels cells (each known to hold 2,304 tokens) and
    the rows with a token that is not a number."""
    joined = io.StringIO("\n".join(text) + "\n")
    values = pd.read_csv(joined, sep=r"\s+", header=None, engine="c")  # C parser: fast
    if all(pd.api.types.is_numeric_dtype(t) for t in values.dtypes):
        return values.to_numpy(dtype=np.float64), []
    pixels = np.zeros((len(text), FER2013_PIXELS))
    wrong = []
    for i, row in enumerate(text):  # slow, only to name the rows
        try:
            pixels[i] = np.array(row.split(), dtype=np.float64)
        except ValueError:
            wrong.append(i)
    return pixels, wrong


# ------------------------------------------------------------------------------------ CelebA

def _pairs(path: Path, what: str, field: str, fix: str) -> list[tuple[str, str]]:
    """The ``name value`` lines of a CelebA list file."""
    pairs, bad = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            bad.append(number)
            continue
        pairs.append((parts[0], parts[1]))
    if bad:
        raise DataError(f"{len(bad)} line(s) of the {what} are not 'image value' pairs",
                        file=path, field=field, fix=fix,
                        found=("line " if len(bad) == 1 else "lines ") + listed(bad, n=10))
    return pairs


def read_celeba(root: Path, *, objective: str, image_folder: str) -> Annotations:
    """CelebA: ``identity_CelebA.txt``, optional ``list_eval_partition.txt``, the images."""
    identity_file = root / CELEBA_IDENTITY
    if objective != "identity":
        raise DataError("CelebA's identity file labels identities, not expressions",
                        file=identity_file, field="objective", found=repr(objective),
                        fix="use objective='identity', or a table with expression labels")
    pairs = _pairs(identity_file, "identity file", "identity",
                   "each line is '<image> <identity number>', e.g. '000001.jpg 2880'")
    if not pairs:
        raise DataError("the identity file names no image", file=identity_file,
                        field="identity", found="0 lines")
    names = [p[0] for p in pairs]
    ids = [p[1] for p in pairs]
    bad = [i for i, v in enumerate(ids) if not v.isdigit()]
    if bad:
        raise DataError(f"{len(bad)} identity value(s) are not identity numbers",
                        file=identity_file, field="identity",
                        found=listed(f"line {i + 1}: {ids[i]!r}" for i in bad),
                        fix="each line is '<image> <identity number>'")
    folder = root / image_folder
    if not folder.is_dir():
        raise DataError("the CelebA image folder is missing", file=folder, field="image_folder",
                        found=f"no folder {image_folder!r} in {root}",
                        fix="unpack img_align_celeba beside identity_CelebA.txt, or name the "
                            "folder with image_folder=")
    files = [(CELEBA_IDENTITY, identity_file)]
    split = None
    partition_file = root / CELEBA_PARTITION
    if partition_file.is_file():
        files.append((CELEBA_PARTITION, partition_file))
        given = dict(_pairs(partition_file, "partition file", "partition",
                            "each line is '<image> 0|1|2'"))
        values = [given.get(n) for n in names]
        absent = [n for n, v in zip(names, values) if v is None]
        if absent:
            raise DataError(f"{len(absent)} image(s) of the identity file have no partition",
                            file=partition_file, field="partition", found=listed(absent),
                            fix="give every image a line '<image> 0|1|2', or delete the file "
                                "to have the split drawn")
        unknown = sorted({v for v in values if v not in CELEBA_PARTITIONS})
        if unknown:
            raise DataError("the partition file holds values other than 0, 1, 2",
                            file=partition_file, field="partition", found=listed(unknown),
                            fix="0 = train, 1 = val, 2 = test")
        split = np.array([CELEBA_PARTITIONS[v] for v in values], dtype=object)
    ids = np.array([str(int(v)) for v in ids], dtype=object)
    return Annotations(format="celeba", root=root, file=identity_file, files=files,
                       names=[f"{image_folder}/{n}" for n in names], labels=ids, identities=ids,
                       split=split, split_field="partition", split_file=partition_file)


def check_images_exist(ann: Annotations, field: str = "image") -> None:
    """One error for the images an annotation names that are not there."""
    missing = [n for n in ann.names if not (ann.root / n).is_file()]
    if missing:
        raise DataError(f"{len(missing)} of {len(ann.names)} image(s) named are missing",
                        file=ann.file, field=field, found=listed(missing),
                        fix=f"put them under {ann.root}, or delete their lines")


# ------------------------------------------------------------------------------------ folder

def _is_image(path: Path) -> bool:
    return (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
            and not path.name.startswith("."))


def read_folder(root: Path) -> Annotations:
    """``root/<class>/<image files>`` (sub-folders of a class count as that class)."""
    names, labels, empty = [], [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = sorted(p for p in folder.rglob("*") if _is_image(p))
        if not images:
            empty.append(folder.name)
        names += [p.relative_to(root).as_posix() for p in images]
        labels += [folder.name] * len(images)
    if not names:
        loose = [p.name for p in sorted(root.iterdir()) if _is_image(p)]
        found = "; ".join(([f"{len(loose)} image(s) directly in it"] if loose else [])
                          + ([f"class folders {listed(empty)} without images"] if empty
                             else []))
        raise DataError("the folder holds no class folders with images", file=root,
                        field="source", found=found or "an empty folder",
                        fix="put each class's images in a folder named by the class "
                            "(root/<class>/<image>), or give a table")
    return Annotations(format="folder", root=root, file=root, names=names,
                       labels=np.array(labels, dtype=object))


# ------------------------------------------------------------------------------------- table

def read_table(path: Path, *, root: Path, image_column: str, label_column: str,
               identity_column: str, prefix: str = "", bids: bool = False) -> Annotations:
    """A table of image files (``image`` relative to the table), ``label``, optional ``split``
    and identity; a BIDS ``stimuli/stimuli.tsv`` (``stim_file`` relative to ``stimuli/``)."""
    table = _read_table(path, "\t" if path.suffix.lower() == ".tsv" else ",")
    missing = [c for c in (image_column, label_column) if c not in table.columns]
    if missing:
        raise DataError(f"the table needs the column(s) {', '.join(missing)}", file=path,
                        field="columns", found=list(table.columns),
                        fix=f"give {image_column} (the image file relative to the table) and "
                            f"{label_column}" + (" (the label column is the objective's: "
                                                 "identity or expression)" if bids else ""))
    if bids:  # non-face and unlabelled stimuli are no training images
        keep = table[label_column].notna() & table[image_column].notna()
        if "category" in table.columns:
            keep &= table["category"].fillna("face").str.lower() != "nonface"
        table = table[keep].reset_index(drop=True)
    else:
        empty = np.flatnonzero(table[[image_column, label_column]].isna().any(axis=1))
        if len(empty):
            raise DataError(f"{len(empty)} row(s) lack an image or a label", file=path,
                            field=f"{image_column}, {label_column}",
                            found=f"{_lines(empty)}",
                            fix="give every row both, or delete it")
    if not len(table):
        raise DataError("the table lists no labelled image", file=path, field=label_column,
                        found="0 rows")
    split = None
    if "split" in table.columns:
        raw = table["split"].fillna("").str.strip().str.lower()
        values = raw.map(lambda v: SPLIT_ALIASES.get(v, v))
        bad = np.flatnonzero(~values.isin(SPLITS).to_numpy())
        if len(bad):
            raise DataError(f"{len(bad)} row(s) have an unknown split", file=path, field="split",
                            found=f"{_lines(bad)}: "
                                  f"{listed(table['split'].iloc[bad].fillna('n/a').tolist())}",
                            fix="split is train, val or test (or drop the column to have it "
                                "drawn)")
        split = values.to_numpy(dtype=object)
    identities = None
    if identity_column in table.columns:
        identities = np.array([None if pd.isna(v) else str(v) for v in table[identity_column]],
                              dtype=object)
    base = f"{prefix}/" if prefix else ""
    names = [(Path(base + str(v).replace("\\", "/"))).as_posix() for v in table[image_column]]
    key = path.relative_to(root).as_posix() if bids else "<table>"
    return Annotations(format="table", root=root, file=path, files=[(key, path)], names=names,
                       labels=table[label_column].astype(str).to_numpy(dtype=object),
                       split=split, split_field="split", split_file=path,
                       identities=identities)
