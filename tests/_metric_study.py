"""The validation study of the neural RDM dissimilarities: which metric sees which code.

One simulated study (:func:`ieegrsa.simulate.trials.code_study`, every patient's single trials)
goes through the pipeline's own steps: :func:`ieegrsa.rsa.neural_rdms` (ROI and contact
patterns, each metric), :func:`ieegrsa.rsa.similarity.similarity_table` against the categorical
identity and expression RDMs (the configured comparison method), and the calibrated group test
of the group level: :func:`ieegrsa.stats.mixed_model` of ``value ~ C(objective)`` per ROI ×
window with a random objective slope by patient, FDR over windows and ROIs. A study *finds* the
code in a ROI when a window is significant after correction with the planted sign (identity >
expression for an identity code); under the null, any significant window is a false positive.
Used by tests/test_rdm_metrics.py and benchmarks/rdm_metrics.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Dissimilarities compared: name -> keyword arguments of neural_rdms.
METRICS = {
    "correlation": {"metric": "correlation"},
    "euclidean": {"metric": "euclidean"},
    "cv-euclidean": {"metric": "cv-euclidean"},
    "crossnobis": {"metric": "crossnobis", "noise": "shrinkage_diag"},
}
PATTERNS = ("contact", "roi")
#: The analysis windows: 100 ms every 100 ms over the simulated epoch.
WINDOW = {"window": 0.1, "step": 0.1}


def study_table(patients, metric_kwargs, *, method="kendall-tau-b", rsa=None):
    """The study's similarity table (every patient, both patterns) for one metric."""
    from ieegrsa.models.rdms import categorical_rdms
    from ieegrsa.rsa import neural_rdms
    from ieegrsa.rsa.similarity import similarity_table
    from ieegrsa.simulate.trials import patient_epochs

    rsa = {**WINDOW, "pattern": list(PATTERNS), **(rsa or {})}
    parts = []
    for patient in patients:
        epochs, contacts = patient_epochs(patient)
        neural = neural_rdms(epochs, contacts, subject=patient.subject, **rsa, **metric_kwargs)
        stimuli = (patient.metadata.drop_duplicates("stim_file")
                   [["stim_file", "identity", "expression"]].reset_index(drop=True))
        models = categorical_rdms(stimuli).reorder(neural.conditions)
        parts.append(similarity_table(neural, models, method, partial="none", n_permutations=0))
    return pd.concat(parts, ignore_index=True)


def group_fits(table, pattern, *, alpha=0.05):
    """The group level's identity - expression test per ROI × window (the mixed model's rows
    of the identity term, expression the reference level)."""
    from ieegrsa.stats import mixed_model
    from ieegrsa.stats.group import analysis_table

    rows = analysis_table(table, "categorical", pattern)
    res = mixed_model(rows, "value ~ C(objective)", slopes=("objective",), alpha=alpha,
                      min_subjects=2).table
    return res[res["term"] == "C(objective)[T.identity]"]


def group_hits(table, pattern, *, alpha=0.05, effect_model="identity"):
    """Per ROI: any window significant, and one significant with the planted sign."""
    res = group_fits(table, pattern, alpha=alpha)
    sign = 1.0 if effect_model == "identity" else -1.0
    out = {}
    for roi, part in res.groupby("roi"):
        hit = part["p_corrected"] < alpha
        out[roi] = (bool(hit.any()), bool((hit & (np.sign(part["estimate"]) == sign)).any()))
    return out


def one_study(n_patients, seed, code, *, effect=0.5, metrics=tuple(METRICS),
              patterns=PATTERNS, **options):
    """Rows (one per metric × pattern × ROI) of one seeded study with ``code`` in every ROI
    (``effect=0`` or code ``none``: the null)."""
    from threadpoolctl import threadpool_limits

    from ieegrsa.simulate.trials import code_study

    with threadpool_limits(1):
        patients = code_study(n_patients, codes=code, seed=seed, effect=effect, **options)
        rows = []
        for metric in metrics:
            table = study_table(patients, METRICS[metric])
            for pattern in patterns:
                for roi, (any_hit, planted) in group_hits(table, pattern).items():
                    rows.append({"code": code, "effect": effect, "n_patients": n_patients,
                                 "seed": seed, "metric": metric, "pattern": pattern,
                                 "roi": roi, "any": any_hit, "planted": planted})
    return rows


def run_studies(cells, n_studies, *, n_jobs=2, first_seed=0, **options):
    """Every (code, n_patients, effect) of ``cells`` × ``n_studies`` seeds → one table."""
    from joblib import Parallel, delayed

    jobs = [delayed(one_study)(n, first_seed + k, code, effect=effect, **options)
            for code, n, effect in cells for k in range(n_studies)]
    rows = Parallel(n_jobs=n_jobs)(jobs)
    return pd.DataFrame([r for study in rows for r in study])


def rates(results) -> pd.DataFrame:
    """Power (planted-sign hits) and false-positive rate (any hit) per cell, with the number
    of studies and an exact binomial 95% interval of the rate that matters (``rate``: the FPR
    under the null, the power otherwise)."""
    from scipy import stats

    keys = ["code", "effect", "n_patients", "metric", "pattern"]
    out = results.groupby(keys).agg(any=("any", "mean"), planted=("planted", "mean"),
                                    n=("any", "size")).reset_index()
    null = (out["code"] == "none") | (out["effect"] == 0)
    out["rate"] = np.where(null, out["any"], out["planted"])
    k = np.round(out["rate"] * out["n"])
    out["low95"] = np.where(k > 0, stats.beta.ppf(0.025, k, out["n"] - k + 1), 0.0)
    out["high95"] = np.where(k < out["n"], stats.beta.ppf(0.975, k + 1, out["n"] - k), 1.0)
    return out
