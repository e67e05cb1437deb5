"""Group statistics across patients: mixed models, model comparisons, cluster tests over time.

The pieces, one module each:

- :mod:`~ieegrsa.stats.mixed`: :func:`mixed_model`, linear mixed-effects models of the (Fisher z)
  similarity with patients as the unit (a random intercept and objective slope per patient,
  contacts and network instances nested in patients), fitted per ROI × window with
  Satterthwaite t tests and FDR over windows; :func:`compare_models`, likelihood-ratio tests
  and AIC/BIC between nested models; :func:`compare_regressions`, the seed study's BIC
  comparison of pooled versus per-ROI ordinary regressions.
- :mod:`~ieegrsa.stats.lmm`: :func:`fit_lmm`, the profiled-REML/ML solver behind them (lme4's
  parametrisation, lmerTest's Satterthwaite df).
- :mod:`~ieegrsa.stats.signflip`: :func:`sign_flip_test`, the patient-level sign-flip check of
  contrast curves with a max-statistic over windows.
- :mod:`~ieegrsa.stats.clusters`: :func:`cluster_test`, sign-flip cluster permutation tests over
  windows of patient-level curves (mne), and :func:`onset_latency`, the first significant
  cluster's start with a bootstrap CI over patients.
- :mod:`~ieegrsa.stats.summaries`: :func:`patient_summary`, mean similarity per patient × ROI ×
  objective × window, for plots.

Names load lazily so that importing :mod:`ieegrsa.stats` stays cheap (scipy, statsmodels and mne
load on first use).
"""

from __future__ import annotations

from .._lazy import lazy_exports

# public name -> submodule of ieegrsa.stats
_LAZY = {
    "mixed_model": "mixed",
    "MixedModelResult": "mixed",
    "compare_models": "mixed",
    "compare_regressions": "mixed",
    "fit_lmm": "lmm",
    "sign_flip_test": "signflip",
    "min_attainable_p": "signflip",
    "cluster_test": "clusters",
    "ClusterResult": "clusters",
    "onset_latency": "clusters",
    "patient_curves": "clusters",
    "patient_summary": "summaries",
    "write_stats_table": "tables",
    "group_statistics": "group",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
