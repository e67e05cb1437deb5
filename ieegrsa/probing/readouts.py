"""Transfer readouts on frozen network features, and confusion matrices compared with humans.

A *transfer readout* asks whether a layer's features support a task the network was not trained
for: an L2-regularised logistic regression on the frozen, standardised features of each layer,
cross-validated so that the held-out images share nothing with the training images but the
label (expression readouts hold out whole identities; identity readouts hold out whole
expressions). :func:`transfer_readout` gives accuracy, chance, a permutation p-value, confusion
matrices, out-of-fold probabilities and whole-set weights per layer.

:func:`confusion_similarity` compares a readout's confusion matrix with a human one
(:func:`read_confusion` reads it from a CSV) by correlating the off-diagonal cells, with a
class-relabelling permutation null.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from itertools import permutations as _all_orders

import numpy as np
import pandas as pd

from ..errors import DataError
from ._inputs import as_layers, label_codes

__all__ = [
    "ReadoutResult",
    "transfer_readout",
    "readout_pipeline",
    "label_permutations",
    "confusion_similarity",
    "read_confusion",
]

READOUT_COLUMNS = ["layer", "accuracy", "balanced_accuracy", "chance", "majority", "p_value",
                   "n_classes", "n_images", "n_folds", "n_components"]


@dataclass(frozen=True)
class ReadoutResult:
    """What :func:`transfer_readout` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per layer: ``layer``, ``accuracy`` (pooled out-of-fold proportion correct),
        ``balanced_accuracy`` (mean per-class recall), ``chance`` (1 / n_classes),
        ``majority`` (proportion of the most frequent class), ``p_value`` (permutation),
        ``n_classes``, ``n_images``, ``n_folds``, ``n_components`` (PCA width, or the number
        of units when no PCA was needed).
    confusion : dict of str to pandas.DataFrame
        Per layer, counts of out-of-fold predictions: rows the true class (index ``true``),
        columns the predicted class (``predicted``), in the order of :attr:`classes`.
    probabilities : dict of str to pandas.DataFrame
        Per layer, out-of-fold predicted probabilities, ``n_images × n_classes`` (a class
        absent from a fold's training images gets probability 0 in that fold).
    weights : dict of str to numpy.ndarray
        Per layer, the readout trained on all images, mapped back to the standardised units:
        ``(n_classes, n_units)``, or ``(1, n_units)`` for two classes (positive = the second
        class of :attr:`classes`). ``standardised_features @ weights.T + intercept`` is the
        readout's decision function.
    null : dict of str to numpy.ndarray
        Per layer, the accuracies under the ``n_permutations`` label permutations.
    classes : list
        The classes in order of first appearance in ``labels``.
    permutation_scheme : str
        ``"within"`` (labels permuted within each group) or ``"between"`` (the groups'
        constant labels permuted across groups); see :func:`label_permutations`.
    """

    table: pd.DataFrame
    confusion: dict = field(repr=False)
    probabilities: dict = field(repr=False)
    weights: dict = field(repr=False)
    null: dict = field(repr=False)
    classes: list = field(repr=False)
    permutation_scheme: str = "within"


# --- validation ------------------------------------------------------------------------------

def _default_components(n_train: int, n_units: int, max_components) -> int:
    k = min(n_train - 1, n_units)
    if max_components is not None:
        if int(max_components) < 1:
            raise DataError("max_components must be at least 1", field="max_components",
                            found=max_components)
        k = min(k, int(max_components))
    return max(k, 1)


# --- the readout -----------------------------------------------------------------------------

def readout_pipeline(n_units: int, n_components: int | None = None, *, C: float = 1.0):
    """The readout: standardise → PCA (when narrower than the layer) → L2 logistic regression.

    Parameters
    ----------
    n_units : int
        Width of the layer.
    n_components : int | None
        PCA width; None, or at least ``n_units``, skips the PCA (``"passthrough"``).
    C : float
        Inverse L2 penalty of the logistic regression (scikit-learn's ``C``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``scale``, ``pca``, ``logistic``; PCA uses the exact (``"full"``) SVD.
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    reduce = n_components is not None and int(n_components) < int(n_units)
    return Pipeline([
        ("scale", StandardScaler()),
        ("pca", PCA(int(n_components), svd_solver="full") if reduce else "passthrough"),
        ("logistic", LogisticRegression(C=float(C), max_iter=5000)),
    ])


def label_permutations(labels, groups, n_permutations: int, *, seed=0, scheme="auto"):
    """Permuted copies of ``labels`` that respect the cross-validation groups.

    Parameters
    ----------
    labels, groups : array-like, 1-D
        Integer-coded labels and groups of the same length.
    n_permutations : int
    seed : int | numpy.random.Generator
    scheme : {"auto", "within", "between", "free"}
        ``"within"``: labels shuffled within each group (scikit-learn's
        ``permutation_test_score`` with ``groups``): each group keeps its own set of labels,
        so every training fold keeps its class balance. For an expression readout grouped by
        identity this swaps expressions within an identity; for an identity readout grouped by
        expression it re-pairs identities independently within each expression.
        ``"between"``: when every group has one constant label, shuffling within groups
        changes nothing; the groups' labels are permuted across groups instead (group ``g``
        takes the label of group ``π(g)``), keeping labels constant within groups.
        ``"free"``: all labels shuffled together. ``"auto"``: ``"between"`` when every group
        has a constant label, else ``"within"``.

    Returns
    -------
    permuted : numpy.ndarray
        ``(n_permutations, n_images)``.
    scheme : str
        The scheme used.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    rng = np.random.default_rng(seed)
    n_perm, n = int(n_permutations), len(labels)
    group_codes, group_index = np.unique(groups, return_inverse=True)
    constant = all(np.unique(labels[group_index == g]).size == 1 for g in range(len(group_codes)))
    if scheme == "auto":
        scheme = "between" if constant else "within"
    if scheme == "within":
        # sort by (group, random key): a random order inside each group, groups in code order
        keys = group_index[None, :] + rng.random((n_perm, n))
        order = np.argsort(keys, axis=1, kind="stable")
        base = np.argsort(group_index, kind="stable")
        permuted = np.empty((n_perm, n), dtype=labels.dtype)
        permuted[:, base] = labels[order]
    elif scheme == "between":
        if not constant:
            raise DataError("labels vary within groups; the 'between' scheme needs one label "
                            "per group", field="scheme", found=scheme, fix="use 'within'")
        group_label = np.empty(len(group_codes), dtype=labels.dtype)
        group_label[group_index] = labels
        moved = rng.permuted(np.tile(np.arange(len(group_codes)), (n_perm, 1)), axis=1)
        permuted = group_label[moved][:, group_index]
    elif scheme == "free":
        permuted = rng.permuted(np.tile(labels, (n_perm, 1)), axis=1)
    else:
        raise DataError("unknown permutation scheme", field="scheme", found=scheme,
                        fix="use 'auto', 'within', 'between' or 'free'")
    return permuted, scheme


def _fold_transforms(X, folds, n_components):
    """Standardise + PCA fitted on each training fold: [(Z_train, Z_test)], computed once."""
    out = []
    for train, test in folds:
        front = readout_pipeline(X.shape[1], n_components)[:-1]
        out.append((front.fit_transform(X[train]), front.transform(X[test])))
    return out


def _fit_predict(transformed, folds, y, n_classes, C, proba=False):
    """Out-of-fold predictions (and probabilities) of the logistic step on fixed transforms.

    The fits are small (``n_train × k``); multithreaded BLAS only adds overhead to them (tens
    of times slower on a busy machine), so BLAS is held to one thread while they run.
    """
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    pred = np.empty(len(y), dtype=np.intp)
    probs = np.zeros((len(y), n_classes)) if proba else None
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        # one image per class (identity readouts) is fine here
        warnings.filterwarnings("ignore", message="The number of unique classes")
        for (z_train, z_test), (train, test) in zip(transformed, folds):
            _fit_fold(LogisticRegression(C=float(C), max_iter=5000), z_train, z_test, y,
                      train, test, pred, probs)
    return pred, probs


def _fit_fold(model, z_train, z_test, y, train, test, pred, probs):
    model.fit(z_train, y[train])
    if probs is not None:
        probs[np.ix_(test, model.classes_)] = model.predict_proba(z_test)
    pred[test] = model.predict(z_test)


def _null_accuracies(transformed, folds, permuted, n_classes, C, n_jobs):
    from joblib import Parallel, delayed

    def one(y):
        return np.mean(_fit_predict(transformed, folds, y, n_classes, C)[0] == y)

    if n_jobs in (None, 1):
        return np.array([one(y) for y in permuted])
    return np.array(Parallel(n_jobs=n_jobs)(delayed(one)(y) for y in permuted))


def transfer_readout(features, labels, groups, *, C=1.0, max_components=None,
                     n_permutations=100, seed=0, n_jobs=None, scheme="auto") -> ReadoutResult:
    """Linear readout of ``labels`` from each layer's frozen features, leaving groups out.

    Per layer, a scikit-learn pipeline (:func:`readout_pipeline`): the units are standardised
    (z-scored on the training images), projected on their first ``k`` principal components
    when the layer is wider than ``k``, and read out by an L2-regularised multinomial logistic
    regression. Cross-validation is ``LeaveOneGroupOut`` over ``groups``: for an expression
    readout pass ``groups=identity`` (whole identities held out), for an identity readout
    ``groups=expression`` (leave-one-expression-out; on the London set this trains on the
    neutral faces and tests on the smiling ones, and the reverse). Predictions of all folds
    are pooled before scoring.

    Parameters
    ----------
    features : mapping of str to array-like | array-like
        ``{layer: (n_images, n_units)}`` in depth order (what
        :func:`~ieegrsa.models.extract_features` returns), or one 2-D array (layer
        ``"features"``).
    labels : array-like, 1-D
        The class of each image (e.g. expression). Classes keep their order of first
        appearance.
    groups : array-like, 1-D
        The group of each image; one fold per group.
    C : float
        Inverse L2 penalty of the logistic regression.
    max_components : int | None
        Upper bound on the PCA width. ``k = min(n_train - 1, n_units, max_components)`` with
        ``n_train`` the size of the smallest training fold; the default
        (``min(n_train - 1, n_units)``) keeps every direction the training images span, so the
        PCA is then only an exact rotation (the L2 penalty is rotation-invariant and the
        logistic solution lies in the span of the centred training images): it makes wide
        layers fast without changing the readout. The same ``k`` serves every fold; the
        whole-set fit of :attr:`ReadoutResult.weights` uses ``min(n_images - 1, n_units,
        max_components)``.
    n_permutations : int
        Label permutations for the p-value (0: no test, ``p_value`` NaN). The scaling and PCA
        do not see the labels, so they are fitted once per fold and reused.
    seed : int
        Seed of the permutations.
    n_jobs : int | None
        Parallel jobs over permutations (joblib).
    scheme : {"auto", "within", "between", "free"}
        Permutation scheme (see :func:`label_permutations`). ``"auto"`` permutes labels within
        groups (each group, hence each training fold, keeps its label counts), or across
        groups when every group has one constant label. The p-value is
        ``(1 + #{null accuracy ≥ accuracy}) / (1 + n_permutations)``.

    Returns
    -------
    ReadoutResult

    Raises
    ------
    DataError
        Bad shapes, missing labels, fewer than two classes or two groups, non-finite features.
    """
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix
    from sklearn.model_selection import LeaveOneGroupOut

    layers = as_layers(features)
    n_images = next(iter(layers.values())).shape[0]
    y, classes = label_codes(labels, n_images, "labels")
    g, group_names = label_codes(groups, n_images, "groups")
    if len(classes) < 2:
        raise DataError("a readout needs at least two classes", field="labels", found=classes)
    if len(group_names) < 2:
        raise DataError("leave-one-group-out needs at least two groups", field="groups",
                        found=group_names, fix="pass identity (or expression) per image")
    n_classes = len(classes)
    folds = list(LeaveOneGroupOut().split(np.zeros((n_images, 1)), y, g))
    n_train = min(len(train) for train, _ in folds)
    for train, test in folds:
        if np.unique(y[train]).size < 2:
            raise DataError("a training fold holds a single class", field="groups",
                            found=f"held out group {group_names[g[test[0]]]!r}",
                            fix="group the images so that every fold keeps two classes")
    permuted, scheme = label_permutations(y, g, n_permutations, seed=seed, scheme=scheme)
    row_names = list(getattr(features, "labels", []) or [])
    index = row_names if len(row_names) == n_images else pd.RangeIndex(n_images, name="image")
    class_index = pd.Index(classes, name="true")

    rows, confusion, probabilities, weights, nulls = [], {}, {}, {}, {}
    for name, X in layers.items():
        k = _default_components(n_train, X.shape[1], max_components)
        transformed = _fold_transforms(X, folds, k)
        k_all = _default_components(n_images, X.shape[1], max_components)
        pred, probs = _fit_predict(transformed, folds, y, n_classes, C, proba=True)
        accuracy = float(np.mean(pred == y))
        null = _null_accuracies(transformed, folds, permuted, n_classes, C, n_jobs)
        p_value = (1 + np.sum(null >= accuracy - 1e-12)) / (1 + len(null)) if len(null) else np.nan
        counts = confusion_matrix(y, pred, labels=np.arange(n_classes))
        confusion[name] = pd.DataFrame(counts, index=class_index,
                                       columns=pd.Index(classes, name="predicted"))
        probabilities[name] = pd.DataFrame(probs, index=index, columns=pd.Index(classes,
                                                                                name="class"))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The number of unique classes")
            whole = readout_pipeline(X.shape[1], k_all, C=C).fit(X, y)
        coef = whole.named_steps["logistic"].coef_
        pca = whole.named_steps["pca"]
        weights[name] = coef @ pca.components_ if pca != "passthrough" else coef.copy()
        nulls[name] = null
        rows.append({
            "layer": name, "accuracy": accuracy,
            "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
            "chance": 1.0 / n_classes, "majority": float(np.bincount(y).max() / n_images),
            "p_value": float(p_value), "n_classes": n_classes, "n_images": n_images,
            "n_folds": len(folds), "n_components": min(k, X.shape[1]),
        })
    table = pd.DataFrame(rows, columns=READOUT_COLUMNS)
    return ReadoutResult(table, confusion, probabilities, weights, nulls, classes, scheme)


# --- confusion matrices compared with humans -------------------------------------------------

def read_confusion(path, classes=None) -> pd.DataFrame:
    """Read a confusion matrix from a CSV: first column the true class, header the predictions.

    Parameters
    ----------
    path : path-like
        The CSV. Cells are counts or proportions (non-negative); the row and column class
        names must be the same set.
    classes : sequence | None
        The model's classes; when given, the matrix is reordered to them and any difference in
        class names raises an error naming the file.

    Returns
    -------
    pandas.DataFrame
        Square, index ``true`` and columns ``predicted`` as strings; ``attrs["file"]`` holds
        the path (used in later error messages).
    """
    try:
        table = pd.read_csv(path, index_col=0)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read the confusion matrix ({error})", file=path,
                        fix="write a CSV: first column the true class, header the predicted "
                            "classes") from None
    table.index = table.index.map(str)
    table.columns = table.columns.map(str)
    table.attrs["file"] = str(path)
    if set(table.index) != set(table.columns) or table.index.has_duplicates:
        raise DataError("rows (true classes) and columns (predicted classes) differ", file=path,
                        found=f"rows {list(table.index)}, columns {list(table.columns)}",
                        fix="use the same class names in the first column and the header")
    values = table.apply(pd.to_numeric, errors="coerce")
    if values.isna().any().any() or (values.to_numpy() < 0).any():
        raise DataError("confusion cells must be non-negative numbers", file=path,
                        found=values.isna().sum().sum(), fix="fill every cell with a count "
                        "or a proportion")
    table = values.loc[:, list(table.index)]
    table.index.name, table.columns.name = "true", "predicted"
    table.attrs["file"] = str(path)
    return table if classes is None else _align(table, classes, "human")


def _align(matrix, classes, what) -> pd.DataFrame:
    names = [str(c) for c in classes]
    where = matrix.attrs.get("file")
    if set(map(str, matrix.index)) != set(names) or len(names) != len(matrix):
        have = set(map(str, matrix.index))
        raise DataError(f"the {what} confusion matrix has other classes than the model",
                        file=where, field="classes",
                        found=f"missing {sorted(set(names) - have)}, extra "
                              f"{sorted(have - set(names))}",
                        fix="name the classes as in the model's labels")
    out = matrix.copy()
    out.index, out.columns = out.index.map(str), out.columns.map(str)
    return out.loc[names, names]


def _as_square(matrix, what) -> pd.DataFrame:
    if isinstance(matrix, pd.DataFrame):
        out = matrix
    else:
        values = np.asarray(matrix, dtype=float)
        out = pd.DataFrame(values, index=range(len(values)),
                           columns=range(values.shape[1] if values.ndim == 2 else 0))
    values = out.to_numpy(dtype=float)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] < 3:
        raise DataError(f"the {what} confusion matrix must be square with at least 3 classes "
                        "(fewer leave too few off-diagonal cells)", file=out.attrs.get("file"),
                        found=f"shape {values.shape}")
    if not np.isfinite(values).all() or (values < 0).any():
        raise DataError(f"the {what} confusion matrix must hold non-negative numbers",
                        file=out.attrs.get("file"), found="negative or missing cells")
    if (values.sum(axis=1) == 0).any():
        raise DataError(f"the {what} confusion matrix has an empty row",
                        file=out.attrs.get("file"),
                        found=list(out.index[values.sum(axis=1) == 0]),
                        fix="drop classes that were never shown")
    return out


def confusion_similarity(model, human, *, method="pearson", n_permutations=10000, seed=0):
    """Correlation of the off-diagonal cells of two confusion matrices, with a permutation test.

    Both matrices are row-normalised to proportions (each true class sums to 1), so the cells
    are ``P(predicted | true)``; the ``n (n - 1)`` off-diagonal cells (the errors) are then
    correlated.

    Parameters
    ----------
    model, human : pandas.DataFrame | array-like
        Square matrices, rows true and columns predicted (counts or proportions). When both
        are DataFrames the human one is aligned to the model's class names (an error names
        the human file, see :func:`read_confusion`, when they differ); arrays are taken in the
        same class order.
    method : {"pearson", "spearman"}
    n_permutations : int
        Size of the null. The null relabels the classes of the human matrix (the same
        permutation of its rows and columns). When ``n_classes! ≤ n_permutations`` every
        relabelling is enumerated (exact test, the identity included); otherwise random
        relabellings and ``p = (1 + #{null ≥ r}) / (1 + n_permutations)``.
    seed : int

    Returns
    -------
    dict
        ``r``, ``p_value`` (one-sided: more similar than relabelled classes), ``n_cells``,
        ``n_permutations`` (the size of the null used) and ``exact``.
    """
    from scipy.stats import rankdata

    if method not in ("pearson", "spearman"):
        raise DataError("unknown correlation method", field="method", found=method,
                        fix="use 'pearson' or 'spearman'")
    labelled = isinstance(model, pd.DataFrame) and isinstance(human, pd.DataFrame)
    model, human = _as_square(model, "model"), _as_square(human, "human")
    if labelled:
        human = _align(human, list(model.index), "human")
    elif len(human) != len(model):
        raise DataError("the two confusion matrices have different numbers of classes",
                        found=f"{len(model)} and {len(human)}")
    a = model.to_numpy(dtype=float)
    b = human.to_numpy(dtype=float)
    a, b = a / a.sum(axis=1, keepdims=True), b / b.sum(axis=1, keepdims=True)
    n = len(a)
    off = ~np.eye(n, dtype=bool)
    x, z = a[off], b[off]
    if method == "spearman":
        x, z = rankdata(x), rankdata(z)
    # a simultaneous row/column relabelling maps the off-diagonal cells onto themselves:
    # standardise once, then the null only re-indexes the standardised human cells
    x, z = x - x.mean(), z - z.mean()
    if not (x.any() and z.any()):
        raise DataError("an off-diagonal pattern is constant; the correlation is undefined",
                        found="no variation in the errors")
    x, z = x / np.linalg.norm(x), z / np.linalg.norm(z)
    r = float(x @ z)
    square = np.zeros((n, n))
    square[off] = z
    exact = math.factorial(n) <= int(n_permutations)
    if exact:
        orders = np.array(list(_all_orders(range(n))), dtype=np.intp)
    else:
        rng = np.random.default_rng(seed)
        orders = rng.permuted(np.tile(np.arange(n), (int(n_permutations), 1)), axis=1)
    null = np.empty(len(orders))
    step = max(1, 2_000_000 // (n * n))
    for start in range(0, len(orders), step):
        o = orders[start:start + step]
        null[start:start + step] = square[o[:, :, None], o[:, None, :]][:, off] @ x
    hits = np.sum(null >= r - 1e-12)
    p_value = hits / len(null) if exact else (1 + hits) / (1 + len(null))
    return {"r": r, "p_value": float(p_value), "n_cells": int(off.sum()),
            "n_permutations": int(len(null)), "exact": bool(exact)}
