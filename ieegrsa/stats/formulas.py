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

__all__ = ["formula_columns", "ModelMatrix", "design", "design_rows", "random_effects",
           "check_nested"]

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


class ModelMatrix:
    """The fixed-effect design of a formula over a whole table, built once (patsy) and sliced
    per fit: treatment coding of the table's levels, so a fit lacking a level has a constant
    column, which :func:`design_rows` reports as a single level."""

    def __init__(self, formula, data):
        import patsy

        self.formula = formula
        try:
            y, x = patsy.dmatrices(formula, data, return_type="dataframe", NA_action="raise")
        except patsy.PatsyError as err:
            self.error = f"the formula cannot be evaluated on the table: {err}".replace("\n", " ")
            return
        self.error = None
        self.y = y.to_numpy()[:, 0]
        self.X = x.to_numpy()
        self.terms = list(x.columns)
        self.term_slices = [(term.name(), cols) for term, cols in
                            x.design_info.term_slices.items() if term.factors]


def design_rows(matrix: ModelMatrix, positions, subjects):
    """``(y, X, terms, None)`` of the rows at ``positions``, or ``(None, None, terms, reason)``
    where the fixed effects cannot be estimated on them."""
    if matrix.error is not None:
        return None, None, None, matrix.error
    n_groups = pd.unique(subjects).size
    if n_groups < 2:
        found = ", ".join(map(str, pd.unique(subjects)))
        return None, None, matrix.terms, (f"only one subject ({found}): a group model needs at "
                                          "least two")
    X, y = matrix.X[positions], matrix.y[positions]
    for name, cols in matrix.term_slices:
        if cols.stop == cols.start or np.all(np.ptp(X[:, cols], axis=0) == 0):
            return None, None, matrix.terms, f"term {name} has a single level in these rows"
    if X.shape[0] <= X.shape[1]:
        return None, None, matrix.terms, f"{X.shape[0]} rows for {X.shape[1]} fixed effects"
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        return None, None, matrix.terms, (
            f"the fixed effects are collinear ({X.shape[1]} columns, rank {rank}): some "
            "combination of the formula's levels is absent")
    if np.ptp(y) == 0:
        return None, None, matrix.terms, f"every value is identical ({y[0]:g})"
    return y, X, matrix.terms, None


def design(formula, rows, groups):
    """:func:`design_rows` of every row of ``rows``."""
    matrix = ModelMatrix(formula, rows)
    return design_rows(matrix, np.arange(len(rows)), rows[groups].to_numpy())


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
        # codes of (patient, level) sorted by patient then level; minus each patient's first
        # code = the level's index within its patient
        pair = rows.groupby([groups, *cols], sort=True, observed=True).ngroup().to_numpy()
        first = np.full(group.max() + 1, pair.max() + 1)
        np.minimum.at(first, group, pair)
        codes[name] = pair - first[group]
    return RandomEffects(group=group, slopes=np.column_stack(columns), slope_names=names,
                         nested=codes, group_name=groups)


def check_nested(x_reduced, x_full, formulas):
    """Raise unless the reduced design lies in the span of the full one's."""
    if np.linalg.matrix_rank(np.hstack([x_reduced, x_full])) > np.linalg.matrix_rank(x_full):
        raise DataError("the models are not nested: the reduced design is not within the "
                        "span of the full one", field="formula", found=list(formulas),
                        fix="the full formula must contain every term of the reduced one")
