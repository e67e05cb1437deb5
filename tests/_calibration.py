"""Simulated studies for the null calibration and power of the group tests.

Each study is :func:`ieegrsa.simulate.studies.similarity_study` (signal-level: contacts of a
patient share noise along the shaft, a common-reference artefact, bipolar neighbours share a
contact; by default no identity/expression geometry), analysed like the group level's
categorical models: the mixed model of ``value ~ C(model)`` per ROI × window (FDR over windows
and ROIs) and the sign-flip max-statistic check per ROI. A study "finds" an effect in a ROI when
any of its windows is significant after correction. Used by tests/test_stats_calibration.py and
benchmarks/calibration.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Analyses compared: name -> keyword arguments of mixed_model (None = the sign-flip check).
RULES = {
    "mixed": {},  # the default: random slope, two-stage floor
    "mixed_no_floor": {"se_floor": "none"},
    "contacts_as_replicates": {"slopes": (), "se_floor": "none"},  # the old model
    "signflip": None,
}


def one_study(n_patients, seed, *, effect=0.0, rules=("mixed", "signflip"), alpha=0.05,
              n_permutations=2000, **options):
    """Per ROI and rule: whether any window is significant, and whether one overlapping the
    planted interval (0.1-0.35 s) is, with the planted sign."""
    from threadpoolctl import threadpool_limits

    from ieegrsa.simulate.studies import similarity_study
    from ieegrsa.stats import mixed_model, sign_flip_test

    with threadpool_limits(1):
        table = similarity_study(n_patients, seed=seed, effect=effect, **options)
        out = []
        for rule in rules:
            if RULES[rule] is None:
                res = sign_flip_test(table, column="model", n_permutations=n_permutations,
                                     seed=seed, alpha=alpha, min_subjects=2)
                sig = res.assign(hit=res["p_corrected"] < alpha, sign=np.sign(res["mean"]))
            else:
                kwargs = {"slopes": ("model",), **RULES[rule]}
                res = mixed_model(table, "value ~ C(model)", min_subjects=2, alpha=alpha,
                                  **kwargs).table
                res = res[res["term"] == "C(model)[T.identity]"]
                sig = res.assign(hit=res["p_corrected"] < alpha, sign=np.sign(res["estimate"]))
            for roi, part in sig.groupby("roi"):
                inside = (part["window_start"] < 0.35) & (part["window_stop"] > 0.1)
                out.append({"n_patients": n_patients, "seed": seed, "effect": effect,
                            "rule": rule, "roi": roi, "any": bool(part["hit"].any()),
                            "planted": bool((part["hit"] & inside & (part["sign"] > 0)).any())})
    return out


def run_studies(n_patients, n_studies, *, effect=0.0, first_seed=0, n_jobs=2, **kwargs):
    """``n_studies`` seeded studies → one row per study × rule × ROI."""
    from joblib import Parallel, delayed

    rows = Parallel(n_jobs=n_jobs)(
        delayed(one_study)(n_patients, first_seed + k, effect=effect, **kwargs)
        for k in range(n_studies))
    return pd.DataFrame([r for study in rows for r in study])


def rates(results) -> pd.DataFrame:
    """Proportion of studies with a significant window, per patient count × rule × ROI, with
    the number of studies and an exact binomial 95% upper bound."""
    from scipy import stats

    grouped = results.groupby(["n_patients", "effect", "rule", "roi"])
    out = grouped.agg(rate=("any", "mean"), planted=("planted", "mean"),
                      n_studies=("any", "size"), hits=("any", "sum")).reset_index()
    out["upper95"] = stats.beta.ppf(0.975, out["hits"] + 1, out["n_studies"] - out["hits"])
    return out
