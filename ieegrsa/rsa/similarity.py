"""One patient's similarity table: every neural RDM against every model RDM, with inference.

This chains :func:`~ieegrsa.rsa.compare` (with each network layer controlled for the layer
before it, as in Schwartz et al. 2023), :func:`~ieegrsa.rsa.permutation_test` (condition-label
permutations: per-window and family-wise p-values) and split-half noise ceilings into the tidy
long table of DESIGN.md ("Similarity table"). The columns of that table and of the noise-ceiling
table are described here (:data:`SIMILARITY_COLUMNS`, :data:`CEILING_COLUMNS`), in their order.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .._columns import WINDOW_COLUMNS
from ..errors import DataError
from ._inputs import check_partial
from .ceilings import split_half_ceiling
from .comparisons import compare
from .kernels import CV_METRICS
from .neural import neural_rdms, pattern_metrics
from .permutation import permutation_test
from .rdms import RDMs, align

__all__ = ["similarity_table", "neural_ceiling", "previous_layer_covariates", "NEURAL_KEYS",
           "MODEL_KEYS", "SIMILARITY_COLUMNS", "CEILING_COLUMNS"]

NA = "n/a"
logger = logging.getLogger("ieegrsa")

# the columns that identify a neural RDM of one patient
_NEURAL_COLUMNS = {
    "pattern": "roi (all included contacts of the ROI) or contact (one contact).",
    "roi": "Region of interest of the neural pattern.",
    "contact": "Contact of a single-contact pattern (n/a for ROI patterns).",
    **WINDOW_COLUMNS,
}

#: Descriptor columns that identify a neural RDM of one patient.
NEURAL_KEYS = list(_NEURAL_COLUMNS)
#: Descriptor columns that identify a model RDM.
MODEL_KEYS = ["model", "instance", "layer"]

#: The columns of :func:`similarity_table` (``desc-similarity_rsa.tsv``), in order, described.
SIMILARITY_COLUMNS = {
    "subject": "Participant label.",
    "session": "Session label (n/a when the dataset has none).",
    "roi": _NEURAL_COLUMNS["roi"],
    "contact": _NEURAL_COLUMNS["contact"],
    "pattern": _NEURAL_COLUMNS["pattern"],
    "metric": "Dissimilarity of the neural RDM (rsa.metric); cross-validated ones are unbiased "
              "and may be negative.",
    **WINDOW_COLUMNS,
    "n_contacts": "Contacts in the neural pattern.",
    "model": "Model RDM: a categorical model (stimulus-table column) or a network's label.",
    "objective": "What the model was trained for (identity, expression, object, untrained, "
                 "custom) or categorical.",
    "family": "categorical or network.",
    "instance": "Network instance (seeded initialisation or weights file; n/a for categorical).",
    "layer": "Network layer (n/a for categorical models).",
    "method": "Comparison of the neural with the model RDM (rsa.method).",
    "partial": "semi-partial / partial: the layer before in the same network was controlled "
               "for; none: plain comparison.",
    "value": "Similarity of the neural and model RDMs.",
    "p_value": "One-sided condition-permutation p-value of this window (rsa.n_permutations).",
    "p_fwe": "Family-wise p-value over the windows of this pattern and model (max-statistic).",
    "cluster_p_value": "p-value of the cluster of windows holding this one (cluster mass; n/a "
                       "outside clusters).",
    "noise_ceiling": "Split-half reliability of the neural RDM (odd vs even folds of "
                     "rsa.cv_column, Spearman-Brown corrected; n/a when not estimated).",
}

#: The columns of :func:`neural_ceiling` (``desc-ceiling_rsa.tsv``), in order, described.
CEILING_COLUMNS = {
    **_NEURAL_COLUMNS,
    "r_half": "Similarity of the RDMs of the two halves of the trials.",
    "r_full": "Spearman-Brown estimate for all trials: 2 r_half / (1 + r_half).",
    "method": "Comparison method.",
}


def previous_layer_covariates(models: RDMs) -> list:
    """Per model RDM, the RDM of the layer before it in the same network instance (or None).

    Categorical models and the first layer of each network have no covariate.
    """
    desc = models.descriptors.reset_index(drop=True)
    covariates = [None] * models.n_rdms
    if "objective" not in desc.columns:
        return covariates
    previous = {}
    for k, row in desc.iterrows():
        if row["objective"] == "categorical":
            continue
        key = (row["model"], str(row["instance"]))
        if key in previous:
            covariates[k] = models.values[previous[key]]
        previous[key] = k
    return covariates


def similarity_table(neural: RDMs, models: RDMs, method: str = "kendall-tau-b", *,
                     partial: str = "semi-partial", n_permutations: int = 1000, seed=0,
                     cluster_alpha: float = 0.05, ceiling: pd.DataFrame | None = None,
                     session: str | None = None) -> pd.DataFrame:
    """Tidy table of one patient's neural × model similarities.

    Parameters
    ----------
    neural : RDMs
        The patient's neural RDMs (:func:`~ieegrsa.rsa.neural_rdms`: descriptors ``subject``,
        ``pattern``, ``roi``, ``contact``, ``window_start``, ``window_stop`` ...).
    models : RDMs
        Model RDMs (descriptors ``model``, ``objective``, ``instance``, ``layer``), over the same
        conditions (matched by label).
    method : str
        Comparison of :func:`~ieegrsa.rsa.compare`.
    partial : {"semi-partial", "partial", "none"} | None
        Control each network layer for the layer before it (categorical models and first layers
        are compared plainly); ``"none"`` or None: compare every model plainly.
    n_permutations : int
        Condition permutations; 0 = no p-values. p-values are one-sided (similarity greater
        than chance): per window (``p_value``), family-wise over the windows of each pattern,
        ROI, contact and model (``p_fwe``, max-statistic) and of the cluster holding the window
        (``cluster_p_value``, cluster mass).
    seed : int
        Seed of the permutations.
    cluster_alpha : float
        Cluster-forming level (see :func:`~ieegrsa.rsa.permutation_test`).
    ceiling : pandas.DataFrame | None
        Split-half reliability per neural RDM (``r_full`` with the :data:`NEURAL_KEYS`
        columns), written as ``noise_ceiling``.
    session : str | None
        Written to the ``session`` column.

    Returns
    -------
    pandas.DataFrame
        One row per neural RDM × model RDM, the :data:`SIMILARITY_COLUMNS` in their order:
        ``subject``, ``session``, ``roi``, ``contact``, ``pattern``, ``metric`` (the neural
        dissimilarity), ``window_start``, ``window_stop``, ``n_contacts``, ``model``,
        ``objective``, ``family`` (categorical or network), ``instance``, ``layer``, ``method``,
        ``partial``, ``value``, ``p_value``, ``p_fwe``, ``cluster_p_value``, ``noise_ceiling``.
    """
    neural, models = align(neural, models)
    partial = check_partial(partial)
    covariates = previous_layer_covariates(models) if partial else None
    if covariates is not None and all(c is None for c in covariates):
        covariates, partial = None, None
    values = compare(neural, models, method, covariates, partial)

    ndesc = neural.descriptors.reset_index(drop=True)
    mdesc = models.descriptors.reset_index(drop=True)
    missing = [c for c in NEURAL_KEYS if c not in ndesc.columns]
    missing += [c for c in (*MODEL_KEYS, "objective") if c not in mdesc.columns]
    if missing:
        raise DataError("descriptor columns are missing", field="descriptors",
                        found=f"{missing}", fix="build the RDMs with neural_rdms and "
                                                "configured_model_rdms / model_rdms")
    n_data, n_models = values.shape
    left = ndesc.loc[np.repeat(np.arange(n_data), n_models)].reset_index(drop=True)
    right = mdesc.loc[np.tile(np.arange(n_models), n_data), [*MODEL_KEYS, "objective"]]
    table = pd.concat([left, right.reset_index(drop=True)], axis=1)
    if "subject" not in table.columns:
        table["subject"] = NA
    table["session"] = session if session else NA
    table["family"] = np.where(table["objective"] == "categorical", "categorical", "network")
    table["method"] = method
    has_covariate = np.tile([c is not None for c in (covariates or [None] * n_models)], n_data)
    table["partial"] = np.where(has_covariate, partial or "none", "none")
    table["value"] = values.ravel()
    for column in ("p_value", "p_fwe", "cluster_p_value"):
        table[column] = np.nan
    if n_permutations:
        table = _add_p_values(table, neural, models, method, covariates, partial,
                              n_permutations, seed, cluster_alpha)
    table["noise_ceiling"] = np.nan
    if ceiling is not None and len(ceiling):
        keyed = ceiling.set_index(NEURAL_KEYS)["r_full"]
        index = pd.MultiIndex.from_frame(table[NEURAL_KEYS])
        table["noise_ceiling"] = keyed.reindex(index).to_numpy()
    if "metric" not in table.columns:
        table["metric"] = neural.metric or NA
    return table[[c for c in SIMILARITY_COLUMNS if c in table.columns]]


def _add_p_values(table, neural, models, method, covariates, partial, n_permutations, seed,
                  cluster_alpha):
    # a unique subject per call: the group statistic of a cell is this patient's similarity
    data = RDMs(neural.values, neural.conditions,
                neural.descriptors[NEURAL_KEYS].assign(subject="this"), neural.metric,
                copy=False)
    model_rdms = RDMs(models.values, models.conditions,
                      models.descriptors[MODEL_KEYS].astype(str), models.metric, copy=False)
    result = permutation_test(
        data, model_rdms, method, n_permutations, seed, subject="subject",
        groups=["pattern", "roi", "contact"], alternative="greater", cluster_alpha=cluster_alpha,
        covariates=covariates, partial=partial,
    )
    keys = [*NEURAL_KEYS, *MODEL_KEYS]
    found = result.table.set_index(keys)[["p_value", "p_fwe", "cluster_p_value"]]
    index = pd.MultiIndex.from_frame(table[NEURAL_KEYS].join(table[MODEL_KEYS].astype(str)))
    matched = found.reindex(index)
    for column in found.columns:
        table[column] = matched[column].to_numpy()
    return table


def neural_ceiling(epochs, contacts, method: str = "kendall-tau-b", *,
                   cv_column: str = "repetition", conditions=None,
                   **neural_kwargs) -> pd.DataFrame:
    """Split-half reliability of each neural RDM: odd against even folds of ``cv_column``.

    The folds (e.g. repetitions) are sorted and alternately assigned to two halves; each half's
    RDMs are built with :func:`~ieegrsa.rsa.neural_rdms` (same windows, patterns and conditions)
    and compared with ``method``; ``r_full`` is the Spearman-Brown estimate for all trials
    (:func:`~ieegrsa.rsa.split_half_ceiling`), an upper bound on how well any model can match
    this patient's RDM.

    Parameters
    ----------
    epochs : mne.Epochs
    contacts : pandas.DataFrame
    method : str
    cv_column : str
        Metadata column of the folds (at least two distinct values are needed).
    conditions : sequence | None
        Condition order of both halves (a condition absent from a half leaves NaN pairs).
    **neural_kwargs
        Passed to :func:`~ieegrsa.rsa.neural_rdms` (pattern, window, step, metric ...).

    Returns
    -------
    pandas.DataFrame
        The :data:`CEILING_COLUMNS`: the :data:`NEURAL_KEYS` columns, ``r_half``, ``r_full``,
        ``method``; empty when the folds cannot be split.
    """
    metadata = epochs.metadata
    if metadata is None or cv_column not in metadata.columns:
        return pd.DataFrame(columns=list(CEILING_COLUMNS))
    folds = metadata[cv_column]
    levels = np.sort(folds.dropna().unique())
    if len(levels) < 2:
        return pd.DataFrame(columns=list(CEILING_COLUMNS))
    odd = folds.isin(levels[0::2]).to_numpy()
    even = folds.isin(levels[1::2]).to_numpy()
    # a cross-validated RDM of a half needs two folds in that half: four in all
    patterns = neural_kwargs.pop("pattern", "roi")
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    metrics = pattern_metrics(neural_kwargs.pop("metric", "correlation"), patterns)
    too_few = [p for p in patterns if metrics[p] in CV_METRICS and len(levels) < 4]
    if too_few:
        logger.warning("no noise ceiling for the %s pattern(s): a cross-validated split half "
                       "needs 2 folds, and %s has %d", too_few, cv_column, len(levels))
    patterns = [p for p in patterns if p not in too_few]
    if not patterns:
        return pd.DataFrame(columns=list(CEILING_COLUMNS))
    metrics = {p: metrics[p] for p in patterns}
    halves = [neural_rdms(epochs[mask], contacts, conditions=conditions, pattern=patterns,
                          metric=metrics, cv_column=cv_column, **neural_kwargs)
              for mask in (odd, even)]
    table = split_half_ceiling(*halves, method, on=NEURAL_KEYS)
    return table[list(CEILING_COLUMNS)]
