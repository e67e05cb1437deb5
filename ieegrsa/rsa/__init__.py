"""Representational similarity analysis: RDMs, dissimilarity kernels, comparisons, inference.

The pieces, one module each:

- :mod:`~ieegrsa.rsa.rdms`: the :class:`RDMs` container (condensed vectors, labelled conditions,
  one descriptor row per RDM), concatenation, alignment of conditions by label, save/load.
- :mod:`~ieegrsa.rsa.kernels`: :func:`rdm_movie`, one RDM per time point from an array of trials,
  with cross-validated (crossnobis, cv-euclidean) and noise-normalised metrics;
  :mod:`~ieegrsa.rsa.noise`: the noise precision they use.
- :mod:`~ieegrsa.rsa.neural`: :func:`neural_rdms`, sliding-window RDMs from epochs, per ROI or per
  contact.
- :mod:`~ieegrsa.rsa.comparisons`: :func:`compare`, every RDM comparison the field uses,
  vectorised over data × model RDMs, including partial and semi-partial Kendall tau-b, and
  :func:`regress` (multiple regression on model RDMs).
- :mod:`~ieegrsa.rsa.ceilings`: split-half and leave-one-subject-out noise ceilings.
- :mod:`~ieegrsa.rsa.permutation`: condition-label permutation nulls (per window, max-statistic and
  cluster-mass over windows).
- :mod:`~ieegrsa.rsa.bootstrap`: bootstrap confidence intervals over conditions.
- :mod:`~ieegrsa.rsa.similarity`: :func:`similarity_table`, one patient's tidy table of neural ×
  model similarities with permutation p-values and noise ceilings.

Names load lazily so that importing :mod:`ieegrsa.rsa` stays cheap.
"""

from __future__ import annotations

from .._lazy import lazy_exports

# public name -> submodule of ieegrsa.rsa
_LAZY = {
    "RDMs": "rdms",
    "concat": "rdms",
    "align": "rdms",
    "load_rdms": "rdms",
    "rdm_movie": "kernels",
    "noise_precision": "noise",
    "neural_rdms": "neural",
    "compare": "comparisons",
    "regress": "comparisons",
    "noise_ceiling": "ceilings",
    "split_half_ceiling": "ceilings",
    "split_half_rdms": "ceilings",
    "permutation_test": "permutation",
    "bootstrap_conditions": "bootstrap",
    "similarity_table": "similarity",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
