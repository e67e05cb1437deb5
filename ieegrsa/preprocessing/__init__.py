"""Preprocessing: from a recording's raw signal to epochs of high-gamma amplitude.

:func:`preprocess` chains the steps; each is also a function of its own, on plain arrays and
tables, for scripts and tests:

- :mod:`~ieegrsa.preprocessing.channels`: channel selection (:func:`select_contacts`), shafts and
  strips (:func:`contact_groups`) and re-referencing as a matrix (:func:`reference_matrix`,
  :func:`rereference`);
- :mod:`~ieegrsa.preprocessing.signals`: line-noise notch (:func:`notch`), high-gamma amplitude
  (:func:`high_gamma_envelope`), anti-aliased resampling (:func:`resample`);
- :mod:`~ieegrsa.preprocessing.epochs`: epoch windows, trial rejection
  (:func:`outlier_trials`), baseline (:func:`apply_baseline`) and the contacts behind each
  channel of the epochs (:func:`epochs_contacts`).

Examples
--------
>>> import ieegrsa                                                       # doctest: +SKIP
>>> rec = ieegrsa.load_recording(bids_root, subject="01", task="faces")  # doctest: +SKIP
>>> epochs, report = ieegrsa.preprocess(rec, {"preprocessing": {"reference": "bipolar"}},
...                                     return_report=True)              # doctest: +SKIP
>>> ieegrsa.preprocessing.epochs_contacts(epochs)                        # doctest: +SKIP
"""

from __future__ import annotations

from .channels import REFERENCES, contact_groups, reference_matrix, rereference, select_contacts
from .core import (
    METADATA_COLUMNS,
    PREPROCESSING_COLUMNS,
    REPORT_COLUMNS,
    preprocess,
    preprocessing_columns,
)
from .epochs import apply_baseline, epochs_contacts, outlier_trials, window_indices
from .signals import band_gains, high_gamma_envelope, notch, resample, sub_bands

__all__ = [
    "preprocess", "preprocessing_columns", "epochs_contacts", "METADATA_COLUMNS",
    "PREPROCESSING_COLUMNS", "REPORT_COLUMNS", "REFERENCES",
    "contact_groups", "select_contacts", "reference_matrix", "rereference", "notch",
    "sub_bands", "band_gains", "high_gamma_envelope", "resample", "outlier_trials",
    "apply_baseline", "window_indices",
]
