"""The ``stats`` section: group statistics across patients."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, model_validator

from ._base import _renamed, _Section

__all__ = ["StatsConfig"]


class StatsConfig(_Section):
    """Group statistics across patients: mixed models per ROI and window, sign-flip checks,
    cluster tests, onsets.

    Patients are the unit of inference: similarities (Fisher z for correlation-type methods)
    are modelled with a random intercept and a random slope of the objective contrast per
    patient, and random intercepts of contacts (and network instances) nested in patients,
    tested with Satterthwaite degrees of freedom (lme4/lmerTest semantics); a sign-flip
    permutation test of patient contrast curves checks the answer without model assumptions.
    """

    pattern: Literal["contact", "roi"] = Field(
        "contact",
        description="Which neural patterns' similarities the group statistics model: contact "
        "(each contact a row, as in Schwartz et al. 2023) or roi. Categorical models are "
        "analysed with their name (identity, expression) as the objective, apart from the "
        "networks.",
    )
    formula: str = Field(
        "value ~ C(objective)",
        description="Fixed effects of the mixed model (patsy formula over the similarity "
        "table's columns); the random effects are set by vc.",
    )
    vc: Literal["auto", "none"] = Field(
        "auto",
        description="auto = random intercepts for contacts within patients (and network "
        "instances) where a patient has several; none = patient-level random effects only.",
    )
    slopes: list[str] = Field(
        ["objective"],
        description="Columns given a random slope by patient beside its random intercept "
        "(lme4's (1 + objective | subject)), so that their contrasts are tested against "
        "between-patient variability; [] = random intercepts only (contacts then count as "
        "replicates of the contrast, which is anticonservative).",
    )
    se_floor: Literal["two-stage", "none"] = Field(
        "two-stage",
        description="two-stage = where the patient-level random effects are at the boundary "
        "(the slope variance estimated at 0, so that contacts would count as replicates of the "
        "contrast) and the standard error of the mean of per-patient estimates exceeds the "
        "model's, the term is tested with it on patients - 1 df; none = the mixed model's own "
        "(Satterthwaite) numbers everywhere.",
    )
    min_patients: StrictInt = Field(
        5,
        ge=2,
        le=1000,
        description="A ROI with fewer patients gets estimates but no p-value: 'too few "
        "patients for a group claim'. Also applies when the sign-flip test cannot reach alpha "
        "with the ROI's patients.",
    )
    by: list[str] = Field(
        ["roi", "window_start", "window_stop"],
        description="Columns whose combinations are fitted separately (empty = one model of "
        "all rows).",
    )
    transform: Literal["fisher", "none"] = Field(
        "fisher",
        description="fisher = arctanh of correlation-type similarities before modelling; "
        "none = the values as they are.",
    )
    reml: bool = Field(
        True, description="REML fits (true) or ML; likelihood-ratio tests always refit by ML."
    )
    alpha: float = Field(
        0.05, gt=0, lt=1, description="Significance level; intervals are 1 - alpha."
    )
    correction: Literal["fdr_bh", "fdr_by", "bonferroni", "holm", "none"] = Field(
        "fdr_bh",
        description="Correction of the per-window p-values, per term across windows and ROIs.",
    )
    compare: list[tuple[str, str]] = Field(
        [("value ~ C(objective) + C(roi)", "value ~ C(objective) * C(roi)")],
        description="Nested [reduced, full] formula pairs compared by likelihood ratio, AIC and "
        "BIC (default: the same objective effect in every ROI versus one per ROI).",
    )
    seed_study_bic: bool = Field(
        False,
        description="Also compare one pooled OLS regression with separate per-ROI regressions "
        "by BIC (Schwartz et al. 2023).",
    )
    contrasts: list[list[str]] = Field(
        [["identity", "expression"]],
        description="Cluster tests over time: [a, b] tests a - b, [a] tests a against 0 "
        "(levels of the objective column).",
    )
    n_permutations: StrictInt = Field(
        1000,
        ge=0,
        le=1_000_000,
        description="Sign-flip permutations of the cluster and per-window tests (all 2^n "
        "flips of n patients when 2^n is at most this).",
    )
    alternative: Literal["two-sided", "greater", "less"] = Field(
        "two-sided", description="Alternative hypothesis of the sign-flip, cluster and onset "
        "tests (the old key tail, 0 / 1 / -1, is accepted until the next release).",
    )
    cluster_threshold: float | None = Field(
        None,
        description="Cluster-forming t value; null = the t quantile of a two-sided (or "
        "one-sided, by alternative) test at alpha.",
    )
    n_bootstrap: StrictInt = Field(
        200,
        ge=0,
        le=100_000,
        description="Patient bootstraps for the confidence interval of onset latencies "
        "(0 = no interval).",
    )

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data):
        tails = {0: "two-sided", 1: "greater", -1: "less"}
        return _renamed(data, "tail", "alternative", "stats",
                        convert=lambda v: tails.get(v, v) if not isinstance(v, bool) else v)
