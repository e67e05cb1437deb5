"""The similarity table as the group level sees it: checks, Fisher z, patient-level means.

The input of every group statistic is the tidy similarity table of the RSA stage (DESIGN.md):
one row per subject × roi × contact × window × model × instance × layer × method, with columns
``subject``, ``roi``, ``contact`` (``n/a`` for ROI patterns), ``window_start``, ``window_stop``
(s), ``model``, ``objective``, ``instance``, ``layer``, ``method``, ``value`` and ``p_value``.

Correlation-type values (every comparison of :func:`ieegrsa.rsa.compare`) live in [-1, 1]; the
group models use their Fisher z, ``z = arctanh(value)``, whose sampling distribution is closer to
normal with a variance that does not depend on the correlation itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._check import check_option
from .._columns import WINDOW_COLUMNS
from ..errors import DataError

__all__ = ["patient_summary", "prepare_table", "CORRELATION_METHODS"]

#: Method names (or prefixes, e.g. ``kendall-tau-b-semi-partial``) whose values are correlations.
CORRELATION_METHODS = ("pearson", "spearman", "kendall", "tau-", "rho-a", "cosine", "corr")

#: The columns of a time window (described in :data:`ieegrsa._columns.WINDOW_COLUMNS`).
WINDOW = tuple(WINDOW_COLUMNS)


def prepare_table(table, *, columns=(), transform="fisher") -> pd.DataFrame:
    """Check a similarity table and return a copy with ``value`` transformed.

    Parameters
    ----------
    table : pandas.DataFrame
        The tidy similarity table.
    columns : sequence of str
        Columns the caller needs besides ``value`` and ``method``.
    transform : {"fisher", "none"}
        ``fisher``: ``value ← arctanh(value)``; allowed only where every ``method`` is
        correlation-type (:data:`CORRELATION_METHODS`) and every value lies in (-1, 1).
        ``none``: values as they are.

    Returns
    -------
    pandas.DataFrame
        A copy (same index and row order) with the rows whose ``value`` is NaN removed.

    Raises
    ------
    DataError
        A needed column is missing, ``value`` is not numeric, or the Fisher transform does not
        apply.
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError("the similarity table must be a pandas DataFrame", field="table",
                        found=type(table).__name__)
    need = ["value", *columns]
    missing = [c for c in dict.fromkeys(need) if c not in table.columns]
    if missing:
        raise DataError("the similarity table lacks columns the group statistics need",
                        field="table", found=missing,
                        fix="pass the table written by the RSA stage (desc-similarity_rsa.tsv)")
    check_option("transform", transform, ("fisher", "none"),
                 fix="use 'fisher' (arctanh, for correlations) or 'none'")
    try:
        value = pd.to_numeric(table["value"]).to_numpy(dtype=float)
    except (TypeError, ValueError) as err:
        raise DataError("the value column is not numeric", field="value",
                        found=str(err)) from None
    keep = ~np.isnan(value)
    out = table.loc[keep].copy()
    value = value[keep]
    if out.empty:
        raise DataError("the similarity table has no finite value", field="value",
                        found=f"{len(table)} rows")
    if transform == "fisher":
        if "method" in out.columns:
            methods = sorted(set(map(str, out["method"])))
            bad = [m for m in methods if not m.lower().startswith(CORRELATION_METHODS)]
            if bad:
                raise DataError("the Fisher transform is for correlation-type values",
                                field="method", found=bad,
                                fix="use transform='none' for these methods")
        if np.any(np.abs(value) >= 1):
            raise DataError("Fisher z is infinite for correlations of ±1 (or undefined beyond)",
                            field="value", found=f"max |value| = {np.abs(value).max():g}",
                            fix="use transform='none', or check the similarity values")
        value = np.arctanh(value)
    out["value"] = value
    return out


def patient_summary(table, *, by=("roi", "objective", *WINDOW), transform="fisher",
                    back_transform=False) -> pd.DataFrame:
    """Mean similarity per patient × ROI × objective × window, for plots and curve statistics.

    The mean of a cell is the plain mean of the (Fisher z) values of all its rows: contacts,
    models of the same objective, instances and layers weigh by their number of rows.

    Parameters
    ----------
    table : pandas.DataFrame
        The tidy similarity table.
    by : sequence of str
        Columns that define a cell besides ``subject``.
    transform : {"fisher", "none"}
        Transform of ``value`` before averaging (see :func:`prepare_table`).
    back_transform : bool
        With ``transform="fisher"``, also give ``mean_r = tanh(mean)`` (the correlation whose
        Fisher z is the mean).

    Returns
    -------
    pandas.DataFrame
        One row per ``subject`` × cell: the ``by`` columns, ``mean`` (in the transformed unit),
        ``sd`` (over the rows, ``ddof=1``), ``n_rows``, ``n_contacts`` (distinct contacts, when
        the table has a ``contact`` column) and ``mean_r`` when asked; sorted by subject and
        cell.
    """
    by = ["subject", *by]
    data = prepare_table(table, columns=by, transform=transform)
    if len(set(by)) != len(by):
        raise DataError("a column is named twice in by", field="by", found=by)
    if "method" in data.columns and "method" not in by and data["method"].nunique() > 1:
        raise DataError("values of different comparison methods cannot be averaged together",
                        field="method", found=sorted(data["method"].unique()),
                        fix="filter the table to one method, or add 'method' to by")
    grouped = data.groupby(by, sort=True, observed=True)
    out = grouped["value"].agg(mean="mean", sd="std", n_rows="size")
    if "contact" in data.columns:
        out["n_contacts"] = grouped["contact"].nunique()
    out = out.reset_index()
    if back_transform and transform == "fisher":
        out["mean_r"] = np.tanh(out["mean"])
    return out
