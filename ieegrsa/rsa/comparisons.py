"""Compare RDMs: every data RDM against every model RDM, in one vectorised call.

:func:`compare` returns an array (n_data, n_model) of similarities for Pearson, Spearman, Kendall
tau-a and tau-b, rho-a, cosine and whitened correlation (``corr_cov``), optionally partial or
semi-partial on covariate RDMs. :func:`regress` fits each data RDM on several model RDMs at once.

Missing pairs (NaN) are handled per (data, model) pair: a pair of conditions that is NaN in a data
RDM is dropped only from that data RDM's comparisons, and one that is NaN in a model (or in one of
its covariates) only from that model's. Rows are grouped by their NaN pattern, so that RDMs without
NaN, and every group sharing one pattern, are compared in one batch: ranks are computed once per
RDM and pattern and reused for every partner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._check import check_option
from ..errors import DataError
from ._inputs import check_partial, rdm_values
from .rdms import RDMs, n_conditions_from_pairs, pair_index

__all__ = ["compare", "regress", "RegressionResult", "METHODS"]

#: Comparison methods, and the ones that take ``partial``.
METHODS = ("pearson", "spearman", "kendall-tau-a", "kendall-tau-b", "rho-a", "cosine", "corr_cov")
_PARTIAL_METHODS = ("pearson", "spearman", "kendall-tau-b")
# names other tools use (rsatoolbox's ``compare`` names map to the same statistic)
_ALIASES = {
    "corr": "pearson", "correlation": "pearson", "kendall": "kendall-tau-b",
    "tau-b": "kendall-tau-b", "tau-a": "kendall-tau-a",
}


def compare(data_rdms, model_rdms, method: str = "spearman", covariates=None,
            partial: str | None = None) -> np.ndarray:
    r"""Similarity of every data RDM to every model RDM.

    Parameters
    ----------
    data_rdms : RDMs | array-like, shape (n_data, n_pairs) or (n_pairs,)
        Data RDMs (e.g. one per contact and window), condensed in squareform pair order.
    model_rdms : RDMs | array-like, shape (n_model, n_pairs) or (n_pairs,)
        Model RDMs. When both inputs are :class:`~ieegrsa.rsa.RDMs`, the model's conditions are
        put in the data's order by label (an error if the label sets differ).
    method : str
        - ``"pearson"`` (alias ``"corr"``): Pearson correlation.
        - ``"spearman"``: Pearson correlation of average ranks (ties share their mean rank).
        - ``"kendall-tau-a"`` (``"tau-a"``): :math:`(n_c - n_d) / n_0`, with
          :math:`n_0 = n (n - 1) / 2` over the ``n`` pairs of conditions compared.
        - ``"kendall-tau-b"`` (``"kendall"``): :math:`(n_c - n_d) / \sqrt{(n_0 - t_x)(n_0 - t_y)}`,
          :math:`t_x, t_y` the tied pairs in each RDM (as :func:`scipy.stats.kendalltau`).
        - ``"rho-a"``: :math:`12 \sum_i \tilde r_i \tilde s_i / (n^3 - n)` with
          :math:`\tilde r, \tilde s` the mean-centred average ranks (rsatoolbox's rho-a).
        - ``"cosine"``: :math:`x \cdot y / (\|x\| \|y\|)`.
        - ``"corr_cov"``: rsatoolbox's whitened correlation without a pattern covariance: the
          mean-centred RDM ``D`` is turned into the double-centred matrix :math:`-\frac12 H D H`
          (with NaN pairs, the additive row/column effects are removed by weighted least
          squares over the pairs present) and the cosine of those matrices is taken over all
          their entries, diagonal included.
    covariates : RDMs | array-like | list | None
        RDMs to control for, with ``partial``. Either shared by every model: an RDMs or an array
        (n_pairs,) or (n_cov, n_pairs); or one set per model: an array
        (n_model, n_cov, n_pairs), or a list with one entry per model, each None (that model is
        compared plainly), an RDMs or an array (n_pairs,) or (n_cov_k, n_pairs). "Control for
        the previous layer" is ``covariates=[None] + [layers[k] for k in range(n - 1)]``.
    partial : {"partial", "semi-partial"} | None
        With ``covariates``, for ``pearson``, ``spearman`` and ``kendall-tau-b`` (``"none"``,
        the configuration's off value, is None). With :math:`R` the correlation matrix
        (Pearson, Spearman or Kendall tau-b) among the data :math:`x`, the model :math:`y` and
        the covariates :math:`z`, and :math:`P = R^{-1}`:

        - partial: :math:`r_{xy \cdot z} = -P_{xy} / \sqrt{P_{xx} P_{yy}}`;
        - semi-partial (covariates removed from the model only):
          :math:`r_{x(y \cdot z)} = -P_{xy} / \sqrt{P_{xx} (P_{xx} P_{yy} - P_{xy}^2)}`,
          which for one covariate is
          :math:`(r_{xy} - r_{xz} r_{yz}) / \sqrt{1 - r_{yz}^2}` (Schwartz et al. 2023).

        Both are computed through the Schur complement of :math:`R_{zz}`,
        :math:`S = R_{ab} - R_{az} R_{zz}^{-1} R_{zb}` for :math:`a, b \in \{x, y\}`:
        partial :math:`= S_{xy} / \sqrt{S_{xx} S_{yy}}`, semi-partial
        :math:`= S_{xy} / \sqrt{S_{yy}}`. For Pearson these are exactly the correlations of
        regression residuals; for Spearman the same on ranks.

    Returns
    -------
    numpy.ndarray, shape (n_data, n_model)
        NaN where fewer than 3 pairs are present in both RDMs, where an RDM is constant over those
        pairs (zero vector for cosine), or where the covariates are collinear.

    Notes
    -----
    Each (data, model) pair is compared over the pairs of conditions present (not NaN) in the
    data RDM, the model and the model's covariates; ranks are taken over those pairs only, as
    rsatoolbox does after dropping NaN pairs.
    """
    method = check_option("method", method, METHODS, aliases=_ALIASES, lower=True)
    partial = check_partial(partial)
    if partial is not None:
        if method not in _PARTIAL_METHODS:
            raise DataError(
                f"partial and semi-partial comparisons are defined for {list(_PARTIAL_METHODS)}",
                field="method", found=method, fix="choose one of those methods, or partial=None")
        if covariates is None:
            raise DataError("a partial comparison needs covariates", field="covariates",
                            found=None, fix="pass the RDMs to control for as covariates")
    elif covariates is not None:
        raise DataError("covariates are used only by a partial comparison", field="partial",
                        found=None, fix="say partial='partial' or partial='semi-partial'")
    data, model, ref = _data_and_models(data_rdms, model_rdms, method)
    covs = _covariates(covariates, len(model), data.shape[1], ref)
    side, model_index, cov_index = _side_vectors(model, covs)
    model_groups = _model_groups(side, model_index, cov_index)
    out = np.full((len(data), len(model)), np.nan)
    for rows, data_valid in _groups(~np.isnan(data)):
        for models, side_valid, used in model_groups:
            valid = data_valid & side_valid
            if valid.sum() < 3:
                continue
            x = _take(data, rows, valid)
            u = side[np.ix_(used, valid)]
            xu, uu = _similarities(method, x, u, valid, bool(partial))
            where = {k: n for n, k in enumerate(used)}
            for k in models:
                y = where[model_index[k]]
                z = [where[c] for c in cov_index[k]]
                out[rows, k] = xu[:, y] if not z else _partial(xu, uu, y, z, partial)
    return out


# -- input parsing ---------------------------------------------------------------------------

def _data_and_models(data_rdms, model_rdms, method):
    ref = next((r for r in (data_rdms, model_rdms) if isinstance(r, RDMs)), None)
    data = rdm_values(data_rdms, "data_rdms")
    if method == "corr_cov":  # the only method that needs the square structure
        n_conditions_from_pairs(data.shape[1], field="data_rdms")
    model = rdm_values(model_rdms, "model_rdms", like=ref)
    if data.shape[1] != model.shape[1]:
        raise DataError(
            "data and model RDMs must have the same number of pairs of conditions",
            field="model_rdms", found=f"{data.shape[1]} pairs in the data, "
                                      f"{model.shape[1]} in the models",
            fix="build both over the same conditions (or pass RDMs so they align by label)")
    return data, model, ref


def _covariates(covariates, n_model, n_pairs, ref) -> list[np.ndarray]:
    """Covariates as one (n_cov_k, n_pairs) array per model."""
    if covariates is None:
        return [np.empty((0, n_pairs))] * n_model
    if isinstance(covariates, (list, tuple)):
        if len(covariates) != n_model:
            raise DataError(
                "a list of covariates needs one entry per model", field="covariates",
                found=f"{len(covariates)} entries for {n_model} models",
                fix="give one entry (None, RDMs or array) per model, or pass an array "
                    "(n_cov, n_pairs) shared by all models")
        per_model = [np.empty((0, n_pairs)) if c is None
                     else rdm_values(c, "covariates", like=ref) for c in covariates]
    elif isinstance(covariates, RDMs) or np.ndim(covariates) < 3:
        per_model = [rdm_values(covariates, "covariates", like=ref)] * n_model
    else:
        values = rdm_values(covariates, "covariates", ndim=3)
        if len(values) != n_model:
            raise DataError("per-model covariates need one set per model", field="covariates",
                            found=f"shape {values.shape} for {n_model} models",
                            fix="pass shape (n_model, n_cov, n_pairs)")
        per_model = list(values)
    for values in per_model:
        if values.shape[1] != n_pairs:
            raise DataError("covariate RDMs must have as many pairs as the data",
                            field="covariates", found=f"{values.shape[1]} pairs, not {n_pairs}",
                            fix="build the covariates over the data's conditions")
    return per_model


def _side_vectors(model, covs):
    """Distinct model and covariate vectors, and each model's (model, covariate) indices."""
    index: dict[bytes, int] = {}
    vectors = []

    def add(vector):
        key = vector.tobytes()
        if key not in index:
            index[key] = len(vectors)
            vectors.append(vector)
        return index[key]

    model_index = [add(row) for row in model]
    cov_index = [[add(row) for row in c] for c in covs]
    return np.array(vectors), model_index, cov_index


def _groups(valid):
    """(rows, mask) for each distinct pattern of present pairs; complete rows come first."""
    complete = valid.all(axis=1)
    groups = []
    if complete.any():
        groups.append((np.flatnonzero(complete), np.ones(valid.shape[1], bool)))
    incomplete = np.flatnonzero(~complete)
    if len(incomplete):
        packed = np.packbits(valid[incomplete], axis=1)
        _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
        for g, row in enumerate(first):
            groups.append((incomplete[inverse.ravel() == g], valid[incomplete[row]]))
    return groups


def _take(values, rows, valid):
    """``values[rows][:, valid]``, without a copy when that is everything."""
    if valid.all():
        return values if len(rows) == len(values) else values[rows]
    return values[np.ix_(rows, valid)]


def _model_groups(side, model_index, cov_index):
    """Models sharing one pattern of present pairs (model and covariates together)."""
    present = ~np.isnan(side)
    groups: dict[bytes, tuple[list, np.ndarray, set]] = {}
    for k, (y, z) in enumerate(zip(model_index, cov_index)):
        mask = present[[y, *z]].all(axis=0)
        models, _, used = groups.setdefault(np.packbits(mask).tobytes(), ([], mask, set()))
        models.append(k)
        used.update([y, *z])
    return [(models, mask, sorted(used)) for models, mask, used in groups.values()]


# -- methods on complete vectors -------------------------------------------------------------

def _similarities(method, x, u, valid, with_uu):
    """Similarities data × side vectors (n_x, n_u), and side × side when ``with_uu``."""
    if method in ("kendall-tau-a", "kendall-tau-b"):
        from . import _kendall  # numba: imported only when needed

        ranked = _kendall.rank_rows(u)
        b = method == "kendall-tau-b"
        return (_kendall.tau_matrix(x, ranked, b),
                _kendall.tau_matrix(u, ranked, b) if with_uu else None)
    prepared = _prepare(method, u, valid)
    return _prepare(method, x, valid) @ prepared.T, prepared @ prepared.T if with_uu else None


def _prepare(method, values, valid):
    """Rows transformed so that the similarity of two RDMs is the dot product of their rows."""
    if method in ("pearson", "spearman"):
        return _unit(_centre(_average_ranks(values) if method == "spearman" else values))
    if method == "cosine":
        return _unit(values)
    if method == "rho-a":
        n = values.shape[1]
        return _centre(_average_ranks(values)) * np.sqrt(12.0 / (n ** 3 - n))
    return _unit(_double_centred(_centre(values), valid))


def _centre(values):
    return values - values.mean(axis=1, keepdims=True)


def _unit(values):
    """Rows scaled to unit norm; a zero row becomes NaN (its similarity is undefined)."""
    norm = np.sqrt(np.einsum("ij,ij->i", values, values))
    with np.errstate(invalid="ignore", divide="ignore"):
        return values / np.where(norm > 0, norm, np.nan)[:, np.newaxis]


def _average_ranks(values):
    """Ranks 1..n of each row, tied values sharing their mean rank."""
    from ._kendall import average_ranks

    return average_ranks(values)


def _double_centred(values, valid):
    """rsatoolbox's whitening of RDM vectors (``corr_cov`` without a pattern covariance).

    Each vector ``d`` over the pairs present becomes ``g = -d / 2`` extended by a zero diagonal.
    With ``S`` the indicator of the conditions in each element (``e_i + e_j`` for pair (i, j),
    ``e_k`` for diagonal element k) and ``W`` the weights (1/2 per pair, 1 per diagonal element),
    ``g <- g - g S (S' W S)^-1 (W S)'``; with no pair missing this is double centring ``H G H``.
    Pairs are then scaled by sqrt(2), so that dot products are Frobenius products of the
    symmetric matrices.
    """
    n = n_conditions_from_pairs(len(valid))
    rows, cols = (index[valid] for index in pair_index(n))
    q = len(rows)
    design = np.zeros((q + n, n))
    design[np.arange(q), rows] = 1.0
    design[np.arange(q), cols] = 1.0
    design[q + np.arange(n), np.arange(n)] = 1.0
    weight = np.r_[np.full(q, 0.5), np.ones(n)]
    extended = np.zeros((len(values), q + n))
    extended[:, :q] = -0.5 * values
    weighted = weight[:, None] * design
    effects = np.linalg.solve(design.T @ weighted, (extended @ design).T).T
    residual = extended - effects @ weighted.T
    residual[:, :q] *= np.sqrt(2.0)
    return residual


def _partial(xu, uu, y, z, kind):
    """Partial or semi-partial correlation from correlations (see :func:`compare`)."""
    r_zz = uu[np.ix_(z, z)]
    r_yz = uu[y, z]
    r_xz = xu[:, z]
    try:
        inverse = np.linalg.inv(r_zz)
    except np.linalg.LinAlgError:
        return np.full(len(xu), np.nan)
    w = inverse @ r_yz
    s_xy = xu[:, y] - r_xz @ w
    s_yy = 1.0 - r_yz @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "semi-partial":
            return s_xy / np.sqrt(s_yy)
        s_xx = 1.0 - np.einsum("ac,cd,ad->a", r_xz, inverse, r_xz)
        return s_xy / np.sqrt(s_xx * s_yy)


# -- regression ------------------------------------------------------------------------------

@dataclass
class RegressionResult:
    """Least-squares fits of data RDMs on model RDMs (see :func:`regress`)."""

    betas: np.ndarray
    intercept: np.ndarray
    r2: np.ndarray
    unique_r2: np.ndarray


def regress(data_rdms, model_rdms, rank: bool = False) -> RegressionResult:
    r"""Ordinary least squares of each data RDM on all model RDMs together, plus an intercept.

    Parameters
    ----------
    data_rdms, model_rdms : RDMs | array-like
        As for :func:`compare` (models aligned to the data's conditions by label).
    rank : bool
        Regress average ranks instead of values (each RDM ranked over the pairs used).

    Returns
    -------
    RegressionResult
        ``betas`` (n_data, n_model) and ``intercept`` (n_data,) in the data's units per model
        unit; ``r2`` (n_data,) the coefficient of determination; ``unique_r2`` (n_data, n_model)
        the drop in :math:`R^2` when one model is left out,
        :math:`\Delta R^2_j = \beta_j^2 / ((X^\top X)^{-1}_{jj} \, SS_{tot})`.
        NaN for a data RDM with no more pairs than regressors, or constant over them.

    Notes
    -----
    A pair is used for a data RDM when it is present there and in every model. All data RDMs
    sharing one pattern of present pairs are fitted in one solve.
    """
    data, model, _ = _data_and_models(data_rdms, model_rdms, "pearson")
    n_data, n_model = len(data), len(model)
    betas = np.full((n_data, n_model + 1), np.nan)
    r2 = np.full(n_data, np.nan)
    unique = np.full((n_data, n_model), np.nan)
    model_valid = ~np.isnan(model).any(axis=0)
    for rows, data_valid in _groups(~np.isnan(data)):
        valid = data_valid & model_valid
        if valid.sum() <= n_model + 1:
            continue
        y = _take(data, rows, valid)
        x = model[:, valid]
        if rank:
            y, x = _average_ranks(y), _average_ranks(x)
        design = np.column_stack([np.ones(x.shape[1]), x.T])
        if np.linalg.matrix_rank(design) < n_model + 1:
            raise DataError("the model RDMs are collinear (or one is constant)",
                            field="model_rdms", found=f"{n_model} models over {x.shape[1]} pairs",
                            fix="drop the redundant model RDMs")
        inverse = np.linalg.inv(design.T @ design)
        coef = (y @ design) @ inverse
        total = np.sum((y - y.mean(axis=1, keepdims=True)) ** 2, axis=1)
        residual = np.sum((y - coef @ design.T) ** 2, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2[rows] = 1.0 - residual / total
            unique[rows] = coef[:, 1:] ** 2 / np.diag(inverse)[1:] / total[:, np.newaxis]
        betas[rows] = coef
    return RegressionResult(betas[:, 1:], betas[:, 0], r2, unique)
