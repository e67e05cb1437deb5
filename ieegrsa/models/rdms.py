"""Model RDMs: one per network layer, and categorical ones from the stimulus table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from ..rsa.kernels import rdm_movie
from ..rsa.rdms import RDMs, concat, pair_index

__all__ = ["model_rdms", "categorical_rdms"]

NA = "n/a"


def model_rdms(features: Mapping[str, np.ndarray], metric: str = "correlation", *,
               conditions: Sequence | None = None, model: str = NA, objective: str = NA,
               instance: str | int = NA) -> RDMs:
    """One RDM per layer from layer features.

    Parameters
    ----------
    features : dict of str to array, shape (n_stimuli, ...)
        Per layer, the activations to each stimulus (as returned by
        :func:`ieegrsa.models.extract_features`); trailing axes are flattened into units.
    metric : str
        Dissimilarity between stimuli (any non-cross-validated metric of
        :func:`ieegrsa.rsa.rdm_movie`: correlation, euclidean, cosine, mahalanobis).
    conditions : sequence | None
        One label per stimulus, in the order of the feature rows (e.g. the ``stim_file`` column
        of the stimulus table); default ``0 .. n_stimuli - 1``.
    model, objective, instance
        Written to the descriptors of every RDM (e.g. ``"vggface"``, ``"identity"``, ``0``).

    Returns
    -------
    RDMs
        One RDM per layer, in the order of ``features``; descriptors ``model``, ``objective``,
        ``instance``, ``layer``, ``n_units``.
    """
    if not features:
        raise DataError("no layer features given", field="features", found="an empty mapping",
                        fix="pass {layer: array (n_stimuli x units)}")
    pieces = []
    for layer, values in features.items():
        values = np.asarray(values, dtype=np.float64)
        if values.ndim < 2:
            raise DataError("layer features must be (n_stimuli, units ...)", field=str(layer),
                            found=f"shape {values.shape}", fix="pass one row per stimulus")
        values = values.reshape(len(values), -1)
        labels = list(range(len(values))) if conditions is None else list(conditions)
        if len(labels) != len(values):
            raise DataError(
                "one condition label per stimulus is needed", field="conditions",
                found=f"{len(labels)} labels for {len(values)} rows of layer {layer!r}",
                fix="give the labels in the order of the feature rows",
            )
        # each stimulus is one "trial" of its own condition, at one "time point"
        rdms = rdm_movie(values[:, :, None], labels, metric=metric)
        pieces.append(RDMs(rdms.values, rdms.conditions, pd.DataFrame({
            "model": [model], "objective": [objective], "instance": [instance],
            "layer": [layer], "n_units": [values.shape[1]]}), rdms.metric, copy=False))
    return concat(pieces)


def categorical_rdms(stimuli: pd.DataFrame, columns: Sequence[str] = ("identity", "expression"),
                     *, condition_column: str = "stim_file",
                     conditions: Sequence | None = None) -> RDMs:
    """Categorical model RDMs from the stimulus table: 0 = same category, 1 = different.

    Parameters
    ----------
    stimuli : pandas.DataFrame
        The stimulus table (``Recording.stimuli`` or ``stimuli/stimuli.tsv``): one row per
        stimulus with ``condition_column`` and each of ``columns``.
    columns : sequence of str
        One RDM per column (identity, expression, gender ...).
    condition_column : str
        The column naming each stimulus (the RDM conditions).
    conditions : sequence | None
        The conditions in the order wanted (e.g. a neural RDM's ``conditions``); default the
        table's order. Stimuli not listed are left out.

    Returns
    -------
    RDMs
        One RDM per column; a pair involving a stimulus without a value (NaN or ``n/a``) is
        NaN. Descriptors ``model`` (the column), ``objective`` (``categorical``),
        ``instance`` and ``layer`` (``n/a``). Metric ``categorical``.
    """
    if isinstance(columns, str):
        columns = [columns]
    for column in [condition_column, *columns]:
        if column not in stimuli.columns:
            raise DataError("the stimulus table lacks a column", field=column,
                            found=f"columns {list(stimuli.columns)}",
                            fix="add it to stimuli/stimuli.tsv or the events, or choose "
                                "another column")
    table = stimuli.drop_duplicates(condition_column).set_index(condition_column)
    if conditions is not None:
        missing = [c for c in conditions if c not in table.index]
        if missing:
            raise DataError("conditions missing from the stimulus table",
                            field=condition_column, found=f"{missing[:5]}",
                            fix="describe every stimulus in stimuli/stimuli.tsv")
        table = table.loc[list(conditions)]
    rows, cols = pair_index(len(table))
    values = []
    for column in columns:
        labels = table[column]
        known = (labels.notna() & (labels.astype(str) != NA)).to_numpy()
        codes = pd.factorize(labels.astype(str))[0]
        different = (codes[rows] != codes[cols]).astype(float)
        different[~(known[rows] & known[cols])] = np.nan
        values.append(different)
    descriptors = pd.DataFrame({"model": list(columns), "objective": "categorical",
                                "instance": NA, "layer": NA})
    return RDMs(np.array(values), list(table.index), descriptors, metric="categorical")
