"""The :class:`RDMs` container: a stack of representational dissimilarity matrices.

An RDM over ``n`` conditions is stored as its condensed upper triangle, ``n (n - 1) / 2`` values in
the pair order of :func:`scipy.spatial.distance.squareform` ((0, 1), (0, 2), ..., (1, 2), ...).
Many RDMs that share one set of conditions (time windows, contacts, subjects, network layers) are
one :class:`RDMs` with one row of ``values`` and one row of ``descriptors`` per RDM.

Conditions are labels, never positions: whenever two RDMs meet (concatenation, comparison) their
conditions are matched by label, and an order is never sorted behind the user's back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["RDMs", "concat", "align", "load_rdms", "n_conditions_from_pairs", "pair_index"]


def n_conditions_from_pairs(n_pairs: int, *, field: str = "values") -> int:
    """Number of conditions ``n`` such that ``n (n - 1) / 2 == n_pairs``."""
    n = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    if n * (n - 1) // 2 != n_pairs:
        raise DataError(
            "a condensed RDM must hold n (n - 1) / 2 values for some number of conditions n",
            field=field, found=f"{n_pairs} values",
            fix="pass condensed upper triangles in scipy squareform order, or use "
                "RDMs.from_square for square matrices",
        )
    return n


def pair_index(n_conditions: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each condensed pair, in :func:`scipy.spatial.distance.squareform` order."""
    return np.triu_indices(n_conditions, k=1)


def _as_labels(conditions, n: int | None = None) -> np.ndarray:
    labels = np.empty(len(conditions), dtype=object)
    labels[:] = list(conditions)
    if n is not None and len(labels) != n:
        raise DataError(
            "the number of condition labels does not match the RDM size",
            field="conditions", found=f"{len(labels)} labels for RDMs over {n} conditions",
            fix="give one label per condition, in the order of the RDM rows",
        )
    seen = pd.Index(labels)
    if seen.has_duplicates:
        dup = sorted({str(v) for v in seen[seen.duplicated()]})
        raise DataError(
            "condition labels must be unique", field="conditions",
            found=f"repeated label(s) {dup[:5]}", fix="give every condition its own label",
        )
    return labels


class RDMs:
    """A stack of RDMs over one ordered set of labelled conditions.

    Parameters
    ----------
    values : array-like, shape (n_rdms, n_pairs) or (n_pairs,)
        Condensed dissimilarity vectors (float64), pairs in the order of
        :func:`scipy.spatial.distance.squareform`. NaN marks a pair that could not be computed.
    conditions : sequence
        The condition labels, one per row of the square RDM, in order. Labels must be unique.
    descriptors : pandas.DataFrame | None
        One row per RDM (subject, roi, contact, window_start, window_stop, model, layer ...).
    metric : str | None
        The dissimilarity measure (``"correlation"``, ``"crossnobis"`` ...).
    copy : bool
        Copy ``values`` (default). False keeps a float64 array as given, without a copy: for
        producers that hand over an array nobody else holds.

    Attributes
    ----------
    values : numpy.ndarray, shape (n_rdms, n_pairs)
    conditions : numpy.ndarray of object, shape (n_conditions,)
    descriptors : pandas.DataFrame, n_rdms rows, index ``0 .. n_rdms - 1``
    metric : str | None

    Examples
    --------
    >>> import numpy as np
    >>> rdms = RDMs(np.array([1.0, 2.0, 3.0]), ["a", "b", "c"], metric="euclidean")
    >>> rdms.square()[0]
    array([[0., 1., 2.],
           [1., 0., 3.],
           [2., 3., 0.]])
    """

    def __init__(self, values, conditions, descriptors: pd.DataFrame | None = None,
                 metric: str | None = None, *, copy: bool = True):
        values = np.array(values, dtype=np.float64, copy=True if copy else None)
        if values.ndim == 1:
            values = values[np.newaxis]
        if values.ndim != 2:
            raise DataError(
                "RDM values must be condensed vectors", field="values",
                found=f"an array of shape {values.shape}",
                fix="pass shape (n_rdms, n_pairs), or use RDMs.from_square for square matrices",
            )
        n_cond = n_conditions_from_pairs(values.shape[1])
        self.values = values
        self.conditions = _as_labels(conditions, n_cond)
        if descriptors is None:
            descriptors = pd.DataFrame(index=range(len(values)))
        else:
            descriptors = pd.DataFrame(descriptors).reset_index(drop=True)
            if len(descriptors) != len(values):
                raise DataError(
                    "descriptors must have one row per RDM", field="descriptors",
                    found=f"{len(descriptors)} rows for {len(values)} RDMs",
                    fix="give one descriptor row per row of values",
                )
        self.descriptors = descriptors
        self.metric = metric

    # -- shape -------------------------------------------------------------------------------
    @property
    def n_rdms(self) -> int:
        return self.values.shape[0]

    @property
    def n_pairs(self) -> int:
        return self.values.shape[1]

    @property
    def n_conditions(self) -> int:
        return len(self.conditions)

    def __len__(self) -> int:
        return self.n_rdms

    def __repr__(self) -> str:
        columns = ", ".join(map(str, self.descriptors.columns)) or "none"
        return (f"<RDMs: {self.n_rdms} RDM(s) over {self.n_conditions} conditions, "
                f"metric={self.metric!r}, descriptors: {columns}>")

    # -- conversions -------------------------------------------------------------------------
    def square(self) -> np.ndarray:
        """Square matrices, shape (n_rdms, n_conditions, n_conditions), zero diagonal."""
        n = self.n_conditions
        out = np.zeros((self.n_rdms, n, n))
        rows, cols = pair_index(n)
        out[:, rows, cols] = self.values
        out[:, cols, rows] = self.values
        return out

    @classmethod
    def from_square(cls, square, conditions, descriptors=None, metric=None, *,
                    check_symmetric: bool = True) -> RDMs:
        """Build from square matrices (n_rdms, n, n) or (n, n); the upper triangle is kept.

        With ``check_symmetric`` (default) a matrix whose lower triangle differs from its upper
        triangle (beyond 1e-10 relative) is an error, since the condensed form would lose it.
        """
        square = np.asarray(square, dtype=np.float64)
        if square.ndim == 2:
            square = square[np.newaxis]
        if square.ndim != 3 or square.shape[1] != square.shape[2]:
            raise DataError("square RDMs must be (n_rdms, n, n) or (n, n)", field="square",
                            found=f"shape {square.shape}", fix="pass square matrices")
        rows, cols = pair_index(square.shape[1])
        upper, lower = square[:, rows, cols], square[:, cols, rows]
        if check_symmetric and not np.allclose(upper, lower, rtol=1e-10, atol=1e-12,
                                               equal_nan=True):
            raise DataError(
                "square RDMs must be symmetric", field="square",
                found="a lower triangle that differs from the upper triangle",
                fix="symmetrise the matrices, or pass check_symmetric=False to keep the upper "
                    "triangle",
            )
        return cls(upper, conditions, descriptors, metric)

    def to_frame(self) -> pd.DataFrame:
        """A tidy long table: descriptors, then ``condition_1``, ``condition_2``, ``value``."""
        rows, cols = pair_index(self.n_conditions)
        index = np.repeat(np.arange(self.n_rdms), self.n_pairs)
        table = self.descriptors.iloc[index].reset_index(drop=True)
        table["condition_1"] = np.tile(self.conditions[rows], self.n_rdms)
        table["condition_2"] = np.tile(self.conditions[cols], self.n_rdms)
        table["value"] = self.values.ravel()
        return table

    # -- selection ---------------------------------------------------------------------------
    def __getitem__(self, index) -> RDMs:
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        index = np.arange(self.n_rdms)[index]
        return RDMs(self.values[index], self.conditions, self.descriptors.iloc[index],
                    self.metric)

    def subset(self, **criteria) -> RDMs:
        """RDMs whose descriptors match every criterion (a value, or a list of accepted values).

        >>> rdms.subset(roi="ventral", window_start=[0.1, 0.2])  # doctest: +SKIP
        """
        mask = np.ones(self.n_rdms, dtype=bool)
        for column, accepted in criteria.items():
            if column not in self.descriptors.columns:
                raise DataError(
                    "no such descriptor", field=column,
                    found=f"descriptors {list(self.descriptors.columns)}",
                    fix="select by one of the descriptor columns",
                )
            values = self.descriptors[column]
            if isinstance(accepted, (list, tuple, set, np.ndarray, pd.Index)):
                mask &= values.isin(list(accepted)).to_numpy()
            else:
                mask &= (values == accepted).to_numpy()
        return self[mask]

    def reorder(self, conditions: Sequence) -> RDMs:
        """The same RDMs over ``conditions``, in that order (a subset of the labels is allowed)."""
        position = pd.Index(self.conditions).get_indexer(list(conditions))
        if np.any(position < 0):
            missing = [c for c, p in zip(conditions, position) if p < 0]
            raise DataError(
                "conditions not in these RDMs", field="conditions",
                found=f"{missing[:5]} (RDMs have {list(self.conditions[:5])}...)",
                fix="select only labels that the RDMs hold",
            )
        labels = _as_labels(conditions)
        if np.array_equal(position, np.arange(self.n_conditions)):
            return RDMs(self.values, labels, self.descriptors, self.metric)
        square = self.square()[:, position[:, None], position[None, :]]
        rows, cols = pair_index(len(position))
        return RDMs(square[:, rows, cols], labels, self.descriptors, self.metric)

    # -- files -------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write ``path`` (``.npz``: values and conditions) and a JSON sidecar beside it.

        The sidecar (same name, ``.json``) holds the metric, the condition labels and the
        descriptors as records, so that a person or another tool can read them without numpy.
        Both files are written to temporary names first and renamed into place.
        """
        from ..bids.derivatives import atomic_path, write_json

        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, values=self.values,
                         conditions=np.array([str(c) for c in self.conditions]))
        write_json({
            "metric": self.metric,
            "conditions": [_jsonable(c) for c in self.conditions],
            "n_rdms": self.n_rdms,
            "descriptors": json.loads(self.descriptors.to_json(orient="records")),
            "descriptor_columns": list(map(str, self.descriptors.columns)),
        }, path.with_suffix(".json"))
        return path


def _jsonable(value):
    return value.item() if isinstance(value, np.generic) else value


def load_rdms(path) -> RDMs:
    """Read RDMs written by :meth:`RDMs.save` (the ``.npz`` and its JSON sidecar)."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    sidecar = path.with_suffix(".json")
    for needed in (path, sidecar):
        if not needed.is_file():
            raise DataError("RDMs file not found", file=needed, found="no such file",
                            fix="pass the .npz written by RDMs.save, with its .json beside it")
    with np.load(path, allow_pickle=False) as data:
        values = data["values"]
    meta = json.loads(sidecar.read_text())
    descriptors = pd.DataFrame.from_records(meta["descriptors"],
                                            columns=meta["descriptor_columns"])
    if descriptors.empty and meta["n_rdms"]:
        descriptors = pd.DataFrame(index=range(meta["n_rdms"]))
    return RDMs(values, meta["conditions"], descriptors, meta["metric"])


def align(a: RDMs, b: RDMs) -> tuple[RDMs, RDMs]:
    """``a`` and ``b`` over one condition order (``a``'s); the label sets must be equal."""
    if set(a.conditions) != set(b.conditions):
        only_a = [c for c in a.conditions if c not in set(b.conditions)]
        only_b = [c for c in b.conditions if c not in set(a.conditions)]
        raise DataError(
            "the two RDM sets have different conditions", field="conditions",
            found=f"only in the first: {only_a[:5]}; only in the second: {only_b[:5]}",
            fix="subset both to the shared conditions with RDMs.reorder",
        )
    return a, b.reorder(a.conditions)


def concat(rdms: Iterable[RDMs]) -> RDMs:
    """Stack RDMs; conditions are matched by label to the first, descriptors are unioned.

    The metric is kept when all agree, else set to None.
    """
    rdms = list(rdms)
    if not rdms:
        raise DataError("nothing to concatenate", field="rdms", found="an empty list",
                        fix="pass at least one RDMs")
    first = rdms[0]
    aligned = [first] + [align(first, other)[1] for other in rdms[1:]]
    metrics = {r.metric for r in rdms}
    descriptors = pd.concat([r.descriptors for r in aligned], ignore_index=True)
    return RDMs(np.concatenate([r.values for r in aligned]), first.conditions, descriptors,
                metrics.pop() if len(metrics) == 1 else None, copy=False)
