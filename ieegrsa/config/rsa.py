"""The ``rsa`` section: neural RDMs over sliding windows, their comparison with model RDMs,
noise ceilings and permutation tests."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, model_validator

from ._base import _Section, invalid

__all__ = ["RSAConfig", "NeuralMetric", "DEFAULT_NEURAL_METRIC"]


NeuralMetric = Literal[
    "correlation", "euclidean", "cosine", "mahalanobis", "crossnobis", "cv-euclidean"]
#: The default neural dissimilarity per pattern, chosen from the validation study
#: (docs/rdm_metrics.md): single contacts carry gains that correlation distance removes; across
#: an ROI's contacts the noise-whitened crossnobis found spatial and shape codes best.
DEFAULT_NEURAL_METRIC = {"contact": "cv-euclidean", "roi": "crossnobis"}


class RSAConfig(_Section):
    """Neural RDMs over sliding windows, their comparison with model RDMs, and inference.

    For every window, the trials of each condition (by default each face image) are averaged
    and the dissimilarity between conditions computed from the pattern of an ROI (its included
    contacts, times the samples of the window) or of each single contact (its time course within
    the window). Cross-validated metrics (crossnobis, cv-euclidean) need a fold column.
    """

    pattern: list[Literal["roi", "contact"]] = Field(
        ["roi", "contact"],
        min_length=1,
        description="Which neural patterns to build RDMs from: roi = all included contacts of an "
        "ROI together; contact = each included contact on its own (as in Schwartz et al. 2023).",
    )
    window: float = Field(
        0.1, gt=0, le=2.0, description="Length of the sliding window (s)."
    )
    step: float = Field(
        0.02, gt=0, le=2.0, description="Step between the starts of consecutive windows (s)."
    )
    tmin: float | None = Field(
        None, description="Start of the first window (s); null = the start of the epochs."
    )
    tmax: float | None = Field(
        None, description="Latest end of a window (s); null = the end of the epochs."
    )
    window_features: Literal["flatten", "mean"] = Field(
        "flatten",
        description="How the samples of a window enter an ROI pattern: flatten = every contact "
        "at every sample is a feature; mean = each contact's average over the window.",
    )
    metric: NeuralMetric | dict[Literal["roi", "contact"], NeuralMetric] = Field(
        default_factory=lambda: dict(DEFAULT_NEURAL_METRIC),
        description="Dissimilarity between condition patterns, one for every pattern or one per "
        "pattern ({contact: ..., roi: ...}): correlation = 1 - Pearson r; euclidean = squared "
        "distance / features; cosine = 1 - cosine similarity; mahalanobis = noise-whitened "
        "euclidean; crossnobis / cv-euclidean = cross-validated over cv_column (unbiased, may "
        "be negative). Defaults from the validation study (docs/rdm_metrics.md, simulated "
        "studies of 3-11 patients with the group test): for a single contact, correlation "
        "distance removes the response's amplitude and missed gain codes (power 0.05 with 11 "
        "patients, against 0.93 for cv-euclidean), at the same false-positive rate; for ROI "
        "patterns crossnobis (with the noise precision of rsa.noise) found spatial, shape and "
        "latency codes best (0.96, 0.42, 0.64 with 6 patients, against 0.76, 0.29, 0.50 for "
        "cv-euclidean) but a gain shared by all contacts less well (0.23 against 0.44).",
    )
    condition_column: str = Field(
        "stim_file",
        description="Epochs metadata column whose values are the RSA conditions (each image "
        "by default; identity or expression give coarser RDMs).",
    )
    trials: str | None = Field(
        "face",
        description="Trials entering the RDMs: face = trials with a known identity and "
        "expression; all = every trial; any other text is a pandas query on the epochs "
        "metadata (e.g. \"repetition <= 2\").",
    )
    cv_column: str = Field(
        "repetition",
        description="Epochs metadata column of the folds for cross-validated metrics (repetition "
        "or run).",
    )
    noise: Literal["none", "shrinkage_diag", "shrinkage_eye", "diag", "full"] = Field(
        "shrinkage_diag",
        description="Noise normalisation of the mahalanobis / crossnobis patterns (the others "
        "ignore it): a precision estimated from the trial residuals (shrinkage toward the "
        "diagonal or a scaled identity, the diagonal only, or the full sample covariance); "
        "none = identity (crossnobis is then cv-euclidean).",
    )
    noise_pooling: Literal["time", "pooled"] = Field(
        "time",
        description="Estimate the noise precision per window (time) or once over all windows "
        "(pooled).",
    )
    method: Literal[
        "spearman", "pearson", "kendall-tau-b", "kendall-tau-a", "rho-a", "cosine"
    ] = Field(
        "kendall-tau-b",
        description="Comparison of a neural with a model RDM (Schwartz et al. 2023 used "
        "Kendall tau-b).",
    )
    partial: Literal["none", "partial", "semi-partial"] = Field(
        "semi-partial",
        description="Control each network layer's RDM for the layer before it: semi-partial "
        "removes the previous layer from the model RDM only (Schwartz et al. 2023); partial "
        "from both; none = plain comparison.",
    )
    n_permutations: StrictInt = Field(
        1000,
        ge=0,
        le=1_000_000,
        description="Condition-label permutations for p-values per window and family-wise "
        "(max-statistic, cluster-mass) control over windows; 0 = no permutation test.",
    )
    cluster_alpha: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Cluster-forming level of the cluster-mass test: a window joins a cluster "
        "when its own permutation test reaches this level (its statistic exceeds the 1 - "
        "cluster_alpha quantile of its null).",
    )
    noise_ceiling: bool = Field(
        True,
        description="Estimate split-half noise ceilings (odd versus even folds of cv_column, "
        "Spearman-Brown corrected) per pattern and window.",
    )

    @model_validator(mode="after")
    def _metric_for_every_pattern(self):
        if isinstance(self.metric, dict):
            missing = [p for p in self.pattern if p not in self.metric]
            if missing:
                raise invalid(f"metric names no dissimilarity for the pattern {missing[0]!r} "
                              f"(it has {sorted(self.metric)})",
                              f"Add {missing[0]}: <metric> to metric, or give one metric")
        return self

    @model_validator(mode="after")
    def _interval_holds_a_window(self):
        if self.tmin is not None and self.tmax is not None and self.tmax - self.tmin < self.window:
            raise invalid("the interval [tmin, tmax] is shorter than one window",
                          "Widen tmin/tmax or shorten window")
        return self
