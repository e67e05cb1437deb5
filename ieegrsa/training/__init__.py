"""Training face networks on a lab's own images (issue 18).

- :func:`read_face_dataset`, :class:`FaceDataset`: face-image training sets read as they are
  distributed (FER2013's CSV, CelebA's identity and partition files, a folder per class, a table
  of image files or a BIDS dataset's ``stimuli/stimuli.tsv``), as the network's input, with the
  split (the identity rule: :func:`read_face_dataset`) and a content hash for manifests and
  cache keys;
- :func:`train_networks`: N seeded instances of an architecture trained on them (``ieegrsa
  train``), each with its weights, manifest, per-epoch history and report; a killed run resumes
  from the last epoch's checkpoint, bit-identically on CPU.

This package sits above :mod:`ieegrsa.models` (docs/architecture.md, floor 6). Names load
lazily, so importing :mod:`ieegrsa.training` imports neither torch nor PIL.
"""

from __future__ import annotations

from .._lazy import lazy_exports

# public name -> submodule of ieegrsa.training, imported on first use
_LAZY = {
    "FaceDataset": "data",
    "read_face_dataset": "data",
    "FER2013_CLASSES": "data",
    "FORMATS": "data",
    "OBJECTIVES": "data",
    "SPLIT_RULES": "data",
    "train_networks": "run",
    "train_instance": "loop",
    "SUMMARY_COLUMNS": "run",
    "HISTORY_COLUMNS": "loop",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
