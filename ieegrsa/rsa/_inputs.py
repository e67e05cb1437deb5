"""Input checks shared by the RSA modules: trials, labels and folds, RDM arrays, options.

:mod:`~ieegrsa.rsa.kernels` and :mod:`~ieegrsa.rsa.noise` read trials through :func:`check_X`,
:func:`encode_labels` and :func:`encode_cv`; the comparison and inference modules take "RDMs or
an array of condensed vectors" through :func:`as_rdms` (or :func:`rdm_values` where any vector
length is allowed), descriptor columns through :func:`descriptor_columns`, and the
configuration's off value ``"none"`` through :func:`off_to_none`.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from .._check import check_option
from ..errors import DataError
from .rdms import RDMs, align, n_conditions_from_pairs

__all__ = ["check_X", "encode_labels", "encode_cv", "object_array", "check_descriptors",
           "as_rdms", "rdm_values", "descriptor_columns", "off_to_none", "check_partial",
           "PARTIAL"]

logger = logging.getLogger("ieegrsa")

#: The kinds of partial comparison (see :func:`~ieegrsa.rsa.compare`).
PARTIAL = ("partial", "semi-partial")


# -- trials ----------------------------------------------------------------------------------
def check_X(X) -> np.ndarray:
    """``X`` as a C-contiguous float64 array (n_trials, n_features, n_times)."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError("X must be a numeric array", field="X", found=str(err),
                        fix="pass a float array of shape (n_trials, n_features, n_times)") from None
    if X.ndim != 3 or 0 in X.shape:
        raise DataError(
            "X must be a non-empty 3-D array (n_trials, n_features, n_times)", field="X",
            found=f"shape {X.shape}",
            fix="add a time axis with X[..., None] for a single time point",
        )
    return np.ascontiguousarray(X)


def encode_labels(labels, n_trials: int, conditions) -> tuple[np.ndarray, list]:
    """Condition index of each trial (-1: left out) and the condition labels in RDM order."""
    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
        raise DataError("labels must be a sequence with one label per trial", field="labels",
                        found=repr(labels), fix="pass a list or array of length n_trials")
    values = object_array(labels)
    if len(values) != n_trials:
        raise DataError(
            "labels must have one entry per trial of X", field="labels",
            found=f"{len(values)} labels for {n_trials} trials", fix="give one label per trial",
        )
    missing = pd.isna(values)
    if missing.any():
        raise DataError("labels must not be missing", field="labels",
                        found=f"missing label at trial(s) {np.flatnonzero(missing)[:5].tolist()}",
                        fix="drop those trials or give them a condition")
    if conditions is None:
        code, uniques = pd.factorize(values, sort=False)  # first-appearance order
        return code.astype(np.intp), list(uniques)
    if isinstance(conditions, (str, bytes)):
        conditions = [conditions]
    conds = list(conditions)
    index = pd.Index(object_array(conds), tupleize_cols=False)
    if index.has_duplicates:
        raise DataError("conditions must be unique", field="conditions",
                        found=f"repeated {sorted(map(str, index[index.duplicated()]))[:5]}",
                        fix="list each condition once")
    code = index.get_indexer(values).astype(np.intp)
    if (code < 0).all():
        raise DataError(
            "no trial has one of the given conditions", field="conditions",
            found=f"conditions {conds[:5]}, labels {list(pd.unique(values))[:5]}",
            fix="give condition labels equal to (and of the same type as) the trial labels",
        )
    if (code < 0).any():
        logger.info("rdm_movie: %d trial(s) with labels outside `conditions` left out",
                    int((code < 0).sum()))
    empty = np.bincount(code[code >= 0], minlength=len(conds)) == 0
    if empty.any():
        warnings.warn(f"conditions without trials get NaN dissimilarities: "
                      f"{[conds[i] for i in np.flatnonzero(empty)][:10]}", stacklevel=3)
    return code, conds


def encode_cv(cv, n_trials: int, code: np.ndarray, metric: str,
               conds: list) -> tuple[np.ndarray, int]:
    if cv is None:
        raise DataError(
            f"metric {metric!r} is cross-validated and needs the fold of each trial", field="cv",
            found="cv=None", fix="pass cv=<repetition or run of each trial>",
        )
    if isinstance(cv, (str, bytes)) or not hasattr(cv, "__len__") or len(cv) != n_trials:
        raise DataError("cv must have one fold label per trial of X", field="cv",
                        found=f"{cv!r}"[:80] if not hasattr(cv, "__len__") else
                        f"{len(cv)} labels for {n_trials} trials",
                        fix="give the repetition or run of each trial")
    values = object_array(cv)
    if pd.isna(values).any():
        raise DataError("cv must not be missing", field="cv",
                        found=f"missing fold at trial(s) {np.flatnonzero(pd.isna(values))[:5]}",
                        fix="give every trial a fold")
    fold, uniques = pd.factorize(values)
    fold = np.where(code >= 0, fold, -1)
    n_folds = len(np.unique(fold[fold >= 0]))
    if n_folds < 2:
        raise DataError(
            "cross-validation needs at least 2 folds", field="cv",
            found=f"{n_folds} fold ({list(uniques)[:3]})",
            fix="use a cv label with several values (repetition, run)",
        )
    # a condition seen in one fold only has no training or no test side in every fold: its
    # cross-validated distances do not exist (a condition without any trial stays NaN)
    kept = fold >= 0
    per_condition = pd.Series(fold[kept]).groupby(code[kept]).nunique()
    single = per_condition[per_condition < 2]
    if len(single):
        counts = pd.Series(code[kept]).value_counts()
        listed = ", ".join(f"{conds[c]!r} (trials in {per_condition[c]} fold, {counts[c]} "
                           f"trial{'s' if counts[c] != 1 else ''})" for c in single.index[:5])
        raise DataError(
            f"every condition needs trials in at least 2 of the {n_folds} folds for "
            f"{metric!r}", field="cv",
            found=f"{len(single)} condition(s) in one fold only: {listed}"
                  + (" ..." if len(single) > 5 else ""),
            fix="leave those conditions out (rsa.trials), use another fold column "
                "(rsa.cv_column), or a metric that is not cross-validated")
    # renumber so that folds with no kept trial do not appear
    _, fold_kept = np.unique(fold[kept], return_inverse=True)
    fold[kept] = fold_kept
    return fold.astype(np.intp), n_folds


def object_array(seq) -> np.ndarray:
    """1-D object array of the items (tuples stay items, not rows)."""
    return np.fromiter(seq, dtype=object, count=len(seq))


def check_descriptors(descriptors, n_times: int) -> pd.DataFrame:
    if descriptors is None:
        return pd.DataFrame({"time_index": np.arange(n_times)})
    descriptors = pd.DataFrame(descriptors).reset_index(drop=True)
    if len(descriptors) != n_times:
        raise DataError("descriptors must have one row per time point", field="descriptors",
                        found=f"{len(descriptors)} rows for {n_times} time points",
                        fix="give one row per time point of X")
    return descriptors


# -- RDMs ------------------------------------------------------------------------------------
def rdm_values(obj, name: str, *, like: RDMs | None = None, ndim: int = 2) -> np.ndarray:
    """Condensed vectors of ``obj`` as a C-contiguous float64 array of ``ndim`` dimensions.

    Parameters
    ----------
    obj : RDMs | array-like
        RDMs, or condensed vectors of any length (a 1-D array is one vector).
    name : str
        The parameter, for errors.
    like : RDMs | None
        With ``obj`` an :class:`~ieegrsa.rsa.RDMs` too, its conditions are put in ``like``'s
        order by label (an error if the label sets differ).
    ndim : int
        Dimensions of the result; missing leading axes are added.

    Returns
    -------
    numpy.ndarray
    """
    if isinstance(obj, RDMs) and like is not None:
        obj = align(like, obj)[1]
    values = obj.values if isinstance(obj, RDMs) else np.asarray(obj, dtype=np.float64)
    while values.ndim < ndim:
        values = values[np.newaxis]
    if values.ndim != ndim or values.shape[-1] < 1:
        raise DataError("RDMs must be condensed vectors", field=name,
                        found=f"an array of shape {np.shape(values)}",
                        fix="pass RDMs, or arrays (n_rdms, n_pairs) in squareform pair order")
    return np.ascontiguousarray(values, dtype=np.float64)


def as_rdms(obj, name: str) -> RDMs:
    """``obj`` as :class:`~ieegrsa.rsa.RDMs`: RDMs as they are; an array (n_rdms, n_pairs) or
    (n_pairs,) of condensed vectors over conditions labelled ``0 .. n - 1``.

    ``name`` is the parameter, for errors (a length that is not ``n (n - 1) / 2``, a shape).
    """
    if isinstance(obj, RDMs):
        return obj
    values = rdm_values(obj, name)
    return RDMs(values, range(n_conditions_from_pairs(values.shape[1], field=name)))


def descriptor_columns(columns, descriptors: pd.DataFrame, name: str) -> list:
    """``columns`` (None, one name or several) as a list of columns of ``descriptors``."""
    columns = [] if columns is None else [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in columns if c not in descriptors.columns]
    if missing:
        raise DataError("no such descriptor column", field=name, found=f"{missing}",
                        fix=f"choose among {list(descriptors.columns)}")
    return columns


# -- options ---------------------------------------------------------------------------------
def off_to_none(value):
    """None for None or the configuration's off value ``"none"``; any other value as it is."""
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        return None
    return value


def check_partial(partial) -> str | None:
    """``"partial"``, ``"semi-partial"`` or None (also for ``"none"``)."""
    partial = off_to_none(partial)
    if partial is None:
        return None
    return check_option("partial", partial, PARTIAL, aliases={"semipartial": "semi-partial"},
                        lower=True)
