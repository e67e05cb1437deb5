"""Analyses of the networks themselves: what did identity- and expression-trained networks learn?

The pieces, one module each:

- :mod:`~ieegrsa.probing.readouts`: :func:`transfer_readout`, linear readouts on frozen layer
  features with cross-validation that respects the design (expression read out leaving whole
  identities out, identity leaving whole expressions out), and :func:`confusion_similarity`,
  the model's confusion matrix against a human one.
- :mod:`~ieegrsa.probing.units`: :func:`selective_units`, expression-selective units by a
  two-way ANOVA per unit.
- :mod:`~ieegrsa.probing.congruence`: :func:`tucker_congruence` and
  :func:`subspace_congruence`, how aligned identity and expression directions are, layer by layer.
- :mod:`~ieegrsa.probing.morphs`: identification and discrimination along morph continua and
  the test of categorical perception.
- :mod:`~ieegrsa.probing.probe`: :func:`probe`, all of them on a network and its untrained and
  object-trained controls in one call (its tables and report are written by
  :func:`ieegrsa.pipeline.write_probe`).

Names load lazily, so importing :mod:`ieegrsa.probing` does not import torch or scikit-learn.
"""

from __future__ import annotations

from .._lazy import lazy_exports

# public name -> submodule of ieegrsa.probing
_LAZY = {
    "transfer_readout": "readouts",
    "ReadoutResult": "readouts",
    "confusion_similarity": "readouts",
    "read_confusion": "readouts",
    "readout_pipeline": "readouts",
    "label_permutations": "readouts",
    "selective_units": "units",
    "UnitResult": "units",
    "tucker_congruence": "congruence",
    "subspace_congruence": "congruence",
    "CongruenceResult": "congruence",
    "parse_morph_names": "morphs",
    "identification_curve": "morphs",
    "fit_logistic": "morphs",
    "discrimination_curve": "morphs",
    "categorical_perception_test": "morphs",
    "probe": "probe",
    "ProbeResult": "probe",
    "read_stimuli": "probe",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
