"""Group-level tables as BIDS-derivative TSVs, with a JSON sidecar describing each column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .._check import check_option
from .._columns import WINDOW_COLUMNS
from ..bids.derivatives import software_versions, write_tsv
from ..errors import DataError

__all__ = ["COLUMNS", "write_stats_table"]

_TEST = {
    "roi": "Region of interest",
    "contrast": "What was tested: a-b (difference of two objectives) or a (against 0)",
}
_FAMILY = {
    "family": "Models analysed: categorical (the objective is the model's name, identity or "
              "expression) or network (the networks' training objective)",
}
_FIT = {
    "singular": "Whether a random-effect variance was estimated at the boundary (a relative "
                "SD below 1e-4, as lme4::isSingular); the fit is kept and valid",
    "converged": "Whether the optimiser reached a stationary point (largest projected "
                 "gradient of the criterion below 2e-3)",
}
_NOTE = {
    "note": "Why no p-value is given (too few patients for a group claim, not estimable) or "
            "which random effects are at the boundary (n/a when none)",
}

#: Description of every column the stats tables can hold, per table kind.
COLUMNS = {
    "mixedlm": {
        **_FAMILY,
        "roi": "Region of interest of the fit (n/a when fitted across ROIs)",
        **WINDOW_COLUMNS,
        "term": "Fixed-effect term of the mixed model (patsy name)",
        "estimate": "Estimated coefficient (Fisher z units when the values were transformed)",
        "se": "Standard error used for inference: se_two_stage where the patient-level "
              "random effects are at the boundary and it exceeds se_lmm (stats.se_floor "
              "two-stage), else se_lmm",
        "df": "Degrees of freedom of the t test: patients - 1 with the two-stage floor, else "
              "df_lmm",
        "t": "t statistic (estimate / se)",
        "ci_low": "Lower bound of the 1 - alpha confidence interval (t quantile on df)",
        "ci_high": "Upper bound of the 1 - alpha confidence interval (t quantile on df)",
        "p_value": "Two-sided t-test p-value, uncorrected (n/a with too few patients)",
        "p_corrected": "p-value corrected across windows and ROIs, per term (stats.correction)",
        "se_lmm": "Standard error of the mixed model (as lme4)",
        "df_lmm": "Satterthwaite degrees of freedom of the mixed model (as lmerTest)",
        "se_two_stage": "Standard error of the mean of per-patient least-squares estimates",
        "inference": "Which standard error the test used: mixed model or two-stage floor",
        **_FIT,
        "patient_singular": "Whether the patient-level random effects (intercept and objective "
                            "slopes) are at the boundary: a variance of 0 or a correlation of "
                            "±1",
        "gradient_norm": "Largest projected gradient of the REML/ML criterion at the optimum",
        **_NOTE,
        "n_subjects": "Patients in the fit",
        "n_contacts": "Contacts in the fit",
        "n_obs": "Rows (similarity values) in the fit",
        "random": "Random effects, in lme4 notation",
    },
    "signflip": {
        **_FAMILY,
        **_TEST,
        **WINDOW_COLUMNS,
        "mean": "Mean over patients of the patient contrast curve (Fisher z when transformed)",
        "t": "One-sample t over patients",
        "p_value": "Sign-flip permutation p-value of the window, uncorrected",
        "p_corrected": "Sign-flip p-value of the maximum statistic over the ROI's windows "
                       "(family-wise over windows)",
        "min_p": "Smallest p-value attainable with this many patients",
        "n_subjects": "Patients in the test",
        "n_permutations": "Sign flips used",
        "exact": "Whether every one of the 2^n sign flips was enumerated",
        **_NOTE,
    },
    "comparison": {
        **_FAMILY,
        **WINDOW_COLUMNS,
        "roi": "Region of interest (n/a when compared across ROIs)",
        "model": "reduced or full (likelihood-ratio tests); combined, roi=<name> or separate "
                 "(the seed study's OLS comparison)",
        "formula": "Fixed-effect formula of the model",
        "llf": "Log-likelihood (maximum likelihood)",
        "df": "Number of estimated parameters",
        "aic": "Akaike information criterion",
        "bic": "Bayesian information criterion",
        "delta_bic": "BIC minus the combined model's BIC",
        "n_obs": "Rows in the fit",
        **_FIT,
        "lr_stat": "Likelihood-ratio statistic of full against reduced",
        "df_diff": "Degrees of freedom of the likelihood-ratio test",
        "p_value": "Chi-square p-value of the likelihood-ratio test",
    },
    "clusters": {
        **_FAMILY,
        **_TEST,
        "start": {"Description": "Start of the cluster's first window", "Units": "s"},
        "stop": {"Description": "End of the cluster's last window", "Units": "s"},
        "statistic": "Cluster mass: sum of the t values of its windows",
        "p_value": "Sign-flip permutation p-value of the cluster mass",
        "n_windows": "Windows in the cluster",
        "n_subjects": "Patients in the test",
        "min_p": "Smallest p-value the sign-flip test can give with this many patients",
        **_NOTE,
    },
    "onsets": {
        **_FAMILY,
        **_TEST,
        "onset": {"Description": "Start of the first significant cluster, of either sign with "
                             "a two-sided stats.alternative (n/a when none)",
                  "Units": "s"},
        "ci_low": {"Description": "Lower bound of the patient-bootstrap interval", "Units": "s"},
        "ci_high": {"Description": "Upper bound of the patient-bootstrap interval", "Units": "s"},
        "detected": "Share of bootstrap resamples with a significant cluster",
        "n_bootstrap": "Patient bootstrap resamples",
        "n_subjects": "Patients in the test",
        **_NOTE,
    },
    "patients": {
        **_FAMILY,
        "subject": "Patient label",
        "roi": "Region of interest",
        "objective": "Training objective of the models averaged",
        **WINDOW_COLUMNS,
        "mean": "Mean similarity of the patient's rows in the cell (Fisher z when transformed)",
        "mean_r": "The mean transformed back to a correlation",
        "sd": "Standard deviation of those rows",
        "n_rows": "Rows averaged",
        "n_contacts": "Contacts averaged",
    },
}


def write_stats_table(table: pd.DataFrame, path, kind: str, *, extra: dict | None = None,
                      config=None) -> Path:
    """Write one group-level table as TSV with a JSON sidecar describing every column.

    Parameters
    ----------
    table : pandas.DataFrame
        ``MixedModelResult.table``, a sign-flip table, a comparison table,
        ``ClusterResult.clusters``, an onset table or a patient summary.
    path : path-like
        The ``.tsv`` to write (atomically; the sidecar is the same name with ``.json``).
    kind : {"mixedlm", "signflip", "comparison", "clusters", "onsets", "patients"}
    extra : dict | None
        Further sidecar fields (e.g. the run's provenance record), written after the software
        versions (``SoftwareVersions``, which ``extra`` may replace).
    config : ieegrsa.Config | None
        Deprecated: pass ``extra={"Config": config.model_dump(mode="json")}`` (the pipeline
        passes its one provenance record).
    """
    if config is not None:
        import warnings

        warnings.warn("write_stats_table(config=...) is deprecated: pass the provenance as "
                      "extra={'Config': ...}", FutureWarning, stacklevel=2)
        extra = {"Config": config.model_dump(mode="json"), **(extra or {})}
    check_option("kind", kind, sorted(COLUMNS), what="stats table kind")
    described = COLUMNS[kind]
    missing = [c for c in table.columns if c not in described]
    if missing:
        raise DataError(f"columns without a description in a {kind} table", field="table",
                        found=str(missing), fix="describe them in ieegrsa.stats.tables.COLUMNS")
    return write_tsv(table, path, described, {"SoftwareVersions": software_versions(),
                                              **(extra or {})})
