"""The layout shared by the condition-resampling tests (permutation and bootstrap).

Data RDMs are rows; their descriptors put each row in a *cell* (the ``groups`` × ``windows``
combination) and each cell in a *family* (``groups``), with one row per subject and cell; the
group statistic of a cell is the mean over its subjects. :class:`Layout` holds that map,
:func:`usable_inputs` the checked and aligned RDMs, :func:`model_table` and
:func:`cell_model_table` the result rows, and :func:`standardise` / :func:`nan_patterns` the
dot-product form of the correlation-type comparisons (see :mod:`~ieegrsa.rsa.permutation`).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import scipy.sparse
from scipy.stats import rankdata

from .._columns import WINDOW_COLUMNS
from ..errors import DataError
from ._inputs import as_rdms, descriptor_columns
from .rdms import RDMs, align

__all__ = ["Layout", "usable_inputs", "model_table", "cell_model_table", "standardise",
           "nan_patterns", "FAST_METHODS", "METHODS", "RANK_METHODS", "BLOCK"]

logger = logging.getLogger("ieegrsa")

#: Methods with a vectorised dot-product path (models must be free of NaN).
FAST_METHODS = ("spearman", "pearson", "cosine", "rho-a")
#: Every method of the resampling tests.
METHODS = FAST_METHODS + ("kendall-tau-a", "kendall-tau-b")
#: The fast methods that rank first.
RANK_METHODS = ("spearman", "rho-a")
#: Elements per temporary array of a block (float64): ~32 MB.
BLOCK = 4_000_000


def usable_inputs(data_rdms, model_rdms, method: str) -> tuple[RDMs, RDMs]:
    """Data and model RDMs over one condition order, the data RDMs that cannot be compared
    (constant, fewer than 3 valid pairs) left out with a warning."""
    data, models = as_rdms(data_rdms, "data_rdms"), as_rdms(model_rdms, "model_rdms")
    if isinstance(data_rdms, RDMs) and isinstance(model_rdms, RDMs):
        data, models = align(data, models)
    elif data.n_pairs != models.n_pairs:
        raise DataError("data and model RDMs must be over the same conditions",
                        field="model_rdms",
                        found=f"{models.n_conditions} conditions vs {data.n_conditions}",
                        fix="pass RDMs over the same conditions")
    if data.n_conditions < 3:
        raise DataError("at least 3 conditions are needed", field="data_rdms",
                        found=f"{data.n_conditions} conditions", fix="use more conditions")
    usable = _usable(data.values, method)
    if not usable.all():
        logger.warning("%d data RDM(s) left out: constant or fewer than 3 valid pairs",
                       int((~usable).sum()))
        if not usable.any():
            raise DataError("no data RDM can be compared", field="data_rdms",
                            found="every RDM is constant or has fewer than 3 valid pairs",
                            fix="check the data RDMs")
        data = data[usable]
    return data, models


def _usable(values: np.ndarray, method: str) -> np.ndarray:
    """RDMs with at least 3 valid pairs and a nonzero spread (nonzero norm for cosine)."""
    with warnings.catch_warnings():  # all-NaN rows warn; they are filtered here
        warnings.simplefilter("ignore", RuntimeWarning)
        n_valid = (~np.isnan(values)).sum(axis=1)
        if method == "cosine":
            spread = np.nanmax(np.abs(values), axis=1)
        else:
            spread = np.nanmax(values, axis=1) - np.nanmin(values, axis=1)
    return (n_valid >= 3) & (spread > 0)


class Layout:
    """Rows of the data → cells (groups × windows) → families (groups), sorted."""

    def __init__(self, data: RDMs, subject, windows, groups):
        desc = data.descriptors
        if subject is None:
            subject = "subject" if "subject" in desc.columns else None
        subject = descriptor_columns(subject, desc, "subject")
        if windows is None:
            windows = [c for c in WINDOW_COLUMNS if c in desc.columns]
        self.windows = descriptor_columns(windows, desc, "windows")
        self.groups = descriptor_columns(groups, desc, "groups")
        keys = self.groups + self.windows
        n = data.n_rdms
        self.cell = (desc.groupby(keys, sort=True, dropna=False).ngroup().to_numpy()
                     if keys else np.zeros(n, dtype=np.intp))
        unit = desc[subject[0]].to_numpy() if subject else np.arange(n)
        if pd.MultiIndex.from_arrays([self.cell, unit]).has_duplicates:
            raise DataError(
                "several data RDMs share one subject and cell", field="groups",
                found=f"subject column {subject or None}, windows {self.windows}, "
                      f"groups {self.groups}, descriptors {list(desc.columns)}",
                fix="name the columns that tell them apart (e.g. groups=['roi']) or average "
                    "them first",
            )
        n_cells = int(self.cell.max()) + 1
        self.n_units = np.bincount(self.cell, minlength=n_cells)
        self.weight = 1.0 / self.n_units[self.cell]
        first = np.unique(self.cell, return_index=True)[1]
        cells = desc.loc[first, keys].reset_index(drop=True) if keys else pd.DataFrame(
            index=range(1))
        family = (cells.groupby(self.groups, sort=True, dropna=False).ngroup().to_numpy()
                  if self.groups else np.zeros(n_cells, dtype=np.intp))
        cells["family"] = family
        cells["n_subjects"] = self.n_units
        self.cells = cells
        self.family = family
        self.family_starts = np.unique(family, return_index=True)[1]
        self.values = data.values
        self.n_cells = n_cells

    def cell_matrix(self) -> scipy.sparse.csr_matrix:
        """(n_cells, n_rows) weights: cell statistic = this @ per-row statistic."""
        n = len(self.cell)
        return scipy.sparse.csr_matrix((self.weight, (self.cell, np.arange(n))),
                                       shape=(self.n_cells, n))


def model_table(models: RDMs, layout: Layout) -> pd.DataFrame:
    """The models' descriptor rows (default: a ``model`` column 0, 1, ...)."""
    table = models.descriptors.reset_index(drop=True)
    if table.columns.empty:
        table = pd.DataFrame({"model": np.arange(models.n_rdms)})
    clash = [c for c in table.columns if c in layout.cells.columns]
    if clash:
        raise DataError("model descriptor columns clash with data cell columns",
                        field="model_rdms", found=f"{clash}",
                        fix="rename the model descriptor columns")
    return table


def cell_model_table(layout: Layout, model_rows: pd.DataFrame,
                     observed: np.ndarray) -> pd.DataFrame:
    """One row per (cell, model): cell and model columns, ``n_subjects``, ``observed``.

    ``model_rows`` is :func:`model_table`'s; ``observed`` (n_cells, n_models).
    """
    n_models = len(model_rows)
    cells = layout.cells.drop(columns="family").loc[np.repeat(np.arange(layout.n_cells),
                                                              n_models)]
    models = model_rows.loc[np.tile(np.arange(n_models), layout.n_cells)]
    table = pd.concat([cells.reset_index(drop=True), models.reset_index(drop=True)], axis=1)
    n_subjects = table.pop("n_subjects")
    table["n_subjects"] = n_subjects
    table["observed"] = observed.ravel()
    return table


def standardise(x: np.ndarray, method: str) -> np.ndarray:
    """``z(x)`` along the last axis over the non-NaN entries (0 at NaN): sim = z(a)·z(b)."""
    if method in RANK_METHODS:
        x = rankdata(x, axis=-1, nan_policy="omit")
    if method != "cosine":
        x = x - np.nanmean(x, axis=-1, keepdims=True)
    if method == "rho-a":
        n = (~np.isnan(x)).sum(axis=-1, keepdims=True)
        scale = np.sqrt((n**3 - n) / 12.0)
    else:
        scale = np.sqrt(np.nansum(x**2, axis=-1, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = x / scale
    return np.where(np.isnan(x), 0.0, z)


def nan_patterns(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``valid`` (pairs present) and the index of each row's pattern."""
    if valid.all():
        return valid[:1], np.zeros(len(valid), dtype=np.intp)
    packed = np.packbits(valid, axis=1)  # one bytes key per row: fast to sort
    keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return valid[first], inverse.ravel()
