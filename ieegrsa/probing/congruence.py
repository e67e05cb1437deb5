"""Congruence of identity and expression subspaces: Tucker's coefficient per layer.

Do the directions of a layer that discriminate identities and those that discriminate
expressions overlap, or are they orthogonal? :func:`tucker_congruence` is Tucker's (1951)
coefficient φ = Σxy / √(Σx² Σy²) (a cosine without centring); :func:`subspace_congruence`
finds identity- and expression-discriminant directions per layer (LDA or logistic readout
weights) and summarises φ over every identity × expression pair, with a label-permutation null.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataError
from ._inputs import as_layers, label_codes
from .readouts import label_permutations, readout_pipeline

__all__ = ["CongruenceResult", "tucker_congruence", "subspace_congruence"]

CONGRUENCE_COLUMNS = ["layer", "mean_abs_phi", "max_abs_phi", "null_mean_abs_phi", "p_value",
                      "n_identity_dirs", "n_expression_dirs", "n_images", "n_components"]


@dataclass(frozen=True)
class CongruenceResult:
    """What :func:`subspace_congruence` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per layer: ``layer``, ``mean_abs_phi`` and ``max_abs_phi`` (mean and maximum
        of |φ| over every identity × expression direction pair), ``null_mean_abs_phi`` (mean of
        the permutation null of ``mean_abs_phi``), ``p_value``, ``n_identity_dirs``,
        ``n_expression_dirs``, ``n_images``, ``n_components`` (PCA width).
    phi : dict of str to numpy.ndarray
        Per layer, φ ``(n_identity_dirs, n_expression_dirs)``.
    null : dict of str to numpy.ndarray
        Per layer, ``mean_abs_phi`` under each permutation.
    method : str
    alternative : str
    """

    table: pd.DataFrame
    phi: dict = field(repr=False)
    null: dict = field(repr=False)
    method: str = "lda"
    alternative: str = "two-sided"


def tucker_congruence(x, y):
    """Tucker's congruence coefficient φ = Σxy / √(Σx² Σy²).

    Parameters
    ----------
    x : array-like, ``(n,)`` or ``(a, n)``
    y : array-like, ``(n,)`` or ``(b, n)``
        Vectors (rows) over the same ``n`` coordinates (e.g. units). No centring: φ is the
        cosine of the angle between the raw vectors, in [-1, 1].

    Returns
    -------
    float | numpy.ndarray
        A float for two vectors, else ``(a, b)`` (a 1-D argument counts as one row).

    Raises
    ------
    DataError
        Different lengths, or an all-zero vector (its direction is undefined).
    """
    xa, ya = np.atleast_2d(np.asarray(x, dtype=float)), np.atleast_2d(np.asarray(y, dtype=float))
    if xa.ndim != 2 or ya.ndim != 2 or xa.shape[1] != ya.shape[1]:
        raise DataError("x and y must be vectors (or rows of vectors) of the same length",
                        field="x, y", found=f"shapes {np.shape(x)} and {np.shape(y)}")
    nx, ny = np.sqrt(np.einsum("ij,ij->i", xa, xa)), np.sqrt(np.einsum("ij,ij->i", ya, ya))
    if not (nx > 0).all() or not (ny > 0).all():
        raise DataError("an all-zero vector has no direction", field="x" if not (nx > 0).all()
                        else "y", found="a zero row")
    phi = np.clip((xa @ ya.T) / np.outer(nx, ny), -1.0, 1.0)
    if np.ndim(x) == 1 and np.ndim(y) == 1:
        return float(phi[0, 0])
    return phi


def _class_means(z, labels, n_classes):
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    sums = np.zeros((n_classes, z.shape[1]))
    np.add.at(sums, labels, z)
    return sums / np.maximum(counts, 1)[:, None], counts


def _lda_pair(z, ids, exprs, n_id, n_ex):
    """Discriminant directions of both factors against one shared noise covariance.

    The noise is the two-way residual ``z - identity mean - expression mean + grand mean``
    (Ledoit-Wolf shrinkage); each factor's directions are the generalised eigenvectors of its
    between-class scatter relative to that noise, largest first (``n_classes - 1`` of them).
    """
    from scipy.linalg import eigh
    from sklearn.covariance import ledoit_wolf

    zc = z - z.mean(axis=0)
    id_means, id_counts = _class_means(zc, ids, n_id)
    ex_means, ex_counts = _class_means(zc, exprs, n_ex)
    noise, _ = ledoit_wolf(zc - id_means[ids] - ex_means[exprs], assume_centered=True)
    out = []
    for means, counts, n in ((id_means, id_counts, n_id), (ex_means, ex_counts, n_ex)):
        between = (means * counts[:, None]).T @ means / len(z)
        _, vectors = eigh(between, noise)
        out.append(vectors[:, ::-1][:, :min(n - 1, z.shape[1])].T)
    return out


def _directions(z, ids, exprs, n_id, n_ex, method, C):
    """Identity and expression discriminant directions (rows) in the PCA space ``z``."""
    if method == "lda":
        return _lda_pair(z, ids, exprs, n_id, n_ex)
    from sklearn.linear_model import LogisticRegression

    return [LogisticRegression(C=float(C), max_iter=5000).fit(z, labels).coef_
            for labels in (ids, exprs)]


def _summary(identity_dirs, expression_dirs):
    phi = tucker_congruence(identity_dirs, expression_dirs)
    return phi, float(np.abs(phi).mean()), float(np.abs(phi).max())


def subspace_congruence(features, identity, expression, *, method="lda", n_permutations=200,
                        seed=0, max_components=None, C=1.0, alternative="two-sided",
                        ) -> CongruenceResult:
    """Tucker's congruence between identity- and expression-discriminant directions per layer.

    Per layer the units are standardised and projected on their first ``k`` principal
    components (all images; ``k = min(n_images - 1, n_units, max_components)``, and for LDA
    at most ``n_images - n_identities - n_expressions + 1``, the residual degrees of freedom of
    the noise covariance: 101 for 102 identities × 2 expressions); the
    directions are found there. Because the PCA basis is orthonormal, φ between two
    directions in component space equals φ between the same directions mapped back to the
    standardised units, so nothing is lost by not mapping back.

    Parameters
    ----------
    features : mapping of str to array-like | array-like
        ``{layer: (n_images, n_units)}`` or one 2-D array.
    identity, expression : array-like, 1-D
        Labels per image.
    method : {"lda", "readout"}
        ``"lda"``: discriminant directions, the generalised eigenvectors of each factor's
        between-class scatter relative to the shared noise covariance (see Notes; Ledoit–Wolf
        shrinkage), the first ``n_classes - 1`` per factor.
        ``"readout"``: the weight vectors of the L2 logistic regression used by
        :func:`~ieegrsa.probing.readouts.transfer_readout` (one per class; one for two
        classes), trained on all images.
    n_permutations : int
        The null: identity labels permuted within each expression and expression labels
        permuted within each identity (independently, by
        :func:`~ieegrsa.probing.readouts.label_permutations`, which falls back to permuting
        across groups when a label is constant within every group); the directions are refitted
        and ``mean_abs_phi`` recomputed. This gives the congruence expected of directions that
        discriminate arbitrary (but equally balanced) classes of the same images.
    seed : int
    max_components : int | None
        Upper bound on the PCA width.
    C : float
        Inverse L2 penalty (``method="readout"``).
    alternative : {"two-sided", "greater", "less"}
        ``"greater"``: more congruent than the null; ``"less"``: more orthogonal; two-sided:
        twice the smaller one-sided p-value (at most 1). One-sided p-values are
        ``(1 + #{null ≥ observed}) / (1 + n_permutations)`` (≤ for ``"less"``).

    Returns
    -------
    CongruenceResult

    Notes
    -----
    Both factors' LDA directions are whitened by one shared noise covariance, the residual of
    the additive identity + expression model. Whitening each factor by its own within-class
    covariance instead would be biased in a crossed design with one image per cell (the London
    set): there the within-identity scatter *is* the expression scatter, which pushes identity
    directions away from the expression direction by construction, in untrained networks too.
    The residual is exact for balanced designs (every identity in every expression).
    """
    if method not in ("lda", "readout"):
        raise DataError("unknown direction method", field="method", found=method,
                        fix="use 'lda' or 'readout'")
    if alternative not in ("two-sided", "greater", "less"):
        raise DataError("unknown alternative", field="alternative", found=alternative,
                        fix="use 'two-sided', 'greater' or 'less'")
    layers = as_layers(features)
    n_images = next(iter(layers.values())).shape[0]
    ids, id_classes = label_codes(identity, n_images, "identity")
    exprs, expr_classes = label_codes(expression, n_images, "expression")
    for name, classes in (("identity", id_classes), ("expression", expr_classes)):
        if len(classes) < 2:
            raise DataError(f"{name} needs at least two classes", field=name, found=classes)
    rng = np.random.default_rng(seed)
    perm_ids, _ = label_permutations(ids, exprs, n_permutations, seed=rng)
    perm_exprs, _ = label_permutations(exprs, ids, n_permutations, seed=rng)

    rows, phis, nulls = [], {}, {}
    for name, X in layers.items():
        k = min(n_images - 1, X.shape[1], int(max_components or X.shape[1]))
        if method == "lda":  # no wider than the residual degrees of freedom of the noise
            k = max(1, min(k, n_images - len(id_classes) - len(expr_classes) + 1))
        z = readout_pipeline(X.shape[1], k)[:-1].fit_transform(X)
        n_id, n_ex = len(id_classes), len(expr_classes)
        id_dirs, ex_dirs = _directions(z, ids, exprs, n_id, n_ex, method, C)
        phi, mean_abs, max_abs = _summary(id_dirs, ex_dirs)
        null = np.array([_summary(*_directions(z, pi, pe, n_id, n_ex, method, C))[1]
                         for pi, pe in zip(perm_ids, perm_exprs)])
        phis[name], nulls[name] = phi, null
        rows.append({
            "layer": name, "mean_abs_phi": mean_abs, "max_abs_phi": max_abs,
            "null_mean_abs_phi": float(null.mean()) if len(null) else np.nan,
            "p_value": _p_value(mean_abs, null, alternative),
            "n_identity_dirs": len(id_dirs), "n_expression_dirs": len(ex_dirs),
            "n_images": n_images, "n_components": k,
        })
    table = pd.DataFrame(rows, columns=CONGRUENCE_COLUMNS)
    return CongruenceResult(table, phis, nulls, method, alternative)


def _p_value(observed, null, alternative) -> float:
    if not len(null):
        return float("nan")
    greater = (1 + np.sum(null >= observed - 1e-12)) / (1 + len(null))
    less = (1 + np.sum(null <= observed + 1e-12)) / (1 + len(null))
    if alternative == "greater":
        return float(greater)
    if alternative == "less":
        return float(less)
    return float(min(1.0, 2 * min(greater, less)))
