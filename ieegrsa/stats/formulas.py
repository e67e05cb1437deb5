"""Fixed-effect formulas (patsy) and the random-effect designs of the group models.

Shared by :mod:`~ieegrsa.stats.mixed` (the models) and :mod:`~ieegrsa.stats.group` (which checks
``stats.formula`` against the table before any fit).
"""

from __future__ import annotations

import ast

import numpy as np
import pandas as pd

from ..errors import DataError
from .lmm import RandomEffects

__all__ = ["formula_columns", "design", "random_effects", "check_nested"]

_PATSY_NAMES = {"C", "Treatment", "Sum", "Diff", "Helmert", "Poly", "np", "I", "center",
                "standardize", "scale", "bs", "cr", "cc", "te", "Q", "log", "exp", "levels",
                "reference"}

#: Nested random intercepts used by ``nested="auto"``: name -> columns whose combination is a
#: level within the patient (an instance is one seed of one network, so model and instance).
AUTO_NESTED = {"contact": ("contact",), "instance": ("model", "instance")}


def formula_columns(formula) -> list:
    """Data columns a patsy formula reads (its variables that are not patsy/numpy names)."""
    import patsy

    if not isinstance(formula, str) or "~" not in formula:
        raise DataError("the formula must be a patsy formula 'value ~ ...'", field="formula",
                        found=formula)
    try:
        desc = patsy.ModelDesc.from_formula(formula)
    except patsy.PatsyError as err:
        raise DataError(f"the formula does not parse: {err}", field="formula",
                        found=formula) from None
    names = set()
    for term in desc.lhs_termlist + desc.rhs_termlist:
        for factor in term.factors:
            names.update(_identifiers(factor.code))
    return sorted(n for n in names if n not in _PATSY_NAMES)


def _identifiers(code: str) -> set:
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:
        return {code}
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    # Q("odd name") refers to a column by string
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "Q" and node.args
                and isinstance(node.args[0], ast.Constant)):
            names.add(node.args[0].value)
    return names


def design(formula, rows, groups):
    """``(y, X, terms, None)`` of the fixed effects, or ``(None, None, None, reason)`` where they
    cannot be estimated on these rows."""
    import patsy

    n_groups = rows[groups].nunique()
    if n_groups < 2:
        found = ", ".join(map(str, rows[groups].unique()))
        return None, None, None, (f"only one {groups} ({found}): a group model needs at least two")
    try:
        y, x = patsy.dmatrices(formula, rows, return_type="dataframe", NA_action="raise")
    except patsy.PatsyError as err:
        return None, None, None, f"the formula cannot be evaluated on the table: {err}".replace(
            "\n", " ")
    for term, cols in x.design_info.term_slices.items():
        if term.factors and cols.stop == cols.start:
            return None, None, None, f"term {term.name()} has a single level in these rows"
    if x.shape[0] <= x.shape[1]:
        return None, None, None, f"{x.shape[0]} rows for {x.shape[1]} fixed effects"
    rank = np.linalg.matrix_rank(x.to_numpy())
    if rank < x.shape[1]:
        return None, None, None, (f"the fixed effects are collinear ({x.shape[1]} columns, rank "
                            f"{rank}): some combination of the formula's levels is absent")
    yv = y.to_numpy()[:, 0]
    if np.ptp(yv) == 0:
        return None, None, None, f"every value is identical ({yv[0]:g})"
    return yv, x.to_numpy(), list(x.columns), None


def random_effects(rows, groups, slopes=(), nested="auto") -> RandomEffects:
    """The patient-level random intercept and slopes, and the intercepts nested in patients.

    Parameters
    ----------
    rows : pandas.DataFrame
        The fit's rows.
    groups : str
        Patient column.
    slopes : sequence of str
        Columns whose levels get a random slope by patient, treatment-coded on sorted levels
        (lme4's ``(1 + a | subject)`` for a factor ``a``); a column that takes one value in every
        patient is left out (there is no slope to estimate).
    nested : "auto" | sequence of str | None
        Nested random intercepts: ``auto`` = a contact intercept where a patient has several
        contacts, and a network-instance intercept where it has several instances; or names of
        :data:`AUTO_NESTED` (or columns) to use as given.
    """
    group = pd.factorize(rows[groups], sort=True)[0]
    used = [c for c in slopes if c in rows.columns
            and rows.groupby(groups, observed=True)[c].nunique().max() > 1]
    columns, names = [np.ones(len(rows))], ["(Intercept)"]
    for column in used:
        levels = sorted(rows[column].astype(str).unique())
        values = rows[column].astype(str).to_numpy()
        for level in levels[1:]:
            columns.append((values == level).astype(float))
            names.append(f"C({column})[T.{level}]")
    if nested == "auto":
        # a factor enters where some patient has several levels of it (several instances of
        # one network: one instance per network would duplicate the objective slope)
        outer = {"contact": [groups], "instance": [groups, "model"]}
        chosen = {name: cols for name, cols in AUTO_NESTED.items()
                  if set(cols) <= set(rows.columns)
                  and rows.groupby([groups, *cols], observed=True).ngroups
                  > rows.groupby(outer[name], observed=True).ngroups}
    else:
        chosen = {name: AUTO_NESTED.get(name, (name,)) for name in (nested or ())}
    codes = {}
    for name, cols in chosen.items():
        missing = [c for c in cols if c not in rows.columns]
        if missing:
            raise DataError("a nested random effect names a column not in the table",
                            field="nested", found=missing)
        key = rows[list(cols)].astype(str).agg("\x1f".join, axis=1)
        frame = pd.DataFrame({"g": group, "key": key.to_numpy()})
        codes[name] = frame.groupby("g")["key"].transform(
            lambda s: pd.factorize(s, sort=True)[0]).to_numpy()
    return RandomEffects(group=group, slopes=np.column_stack(columns), slope_names=names,
                         nested=codes, group_name=groups)


def check_nested(reduced, full, rows):
    """Raise unless the reduced formula's design lies in the span of the full one's."""
    import patsy

    xs = [patsy.dmatrices(f, rows, return_type="matrix")[1] for f in (reduced, full)]
    if np.linalg.matrix_rank(np.hstack(xs)) > np.linalg.matrix_rank(xs[1]):
        raise DataError("the models are not nested: the reduced design is not within the "
                        "span of the full one", field="formula", found=[reduced, full],
                        fix="the full formula must contain every term of the reduced one")
