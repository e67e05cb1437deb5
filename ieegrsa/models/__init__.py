"""Deep-network features and model RDMs.

- :mod:`~ieegrsa.models.base`: the extractor interface (:class:`Extractor`, :class:`InputSpec`,
  the face crop and weights helpers); :mod:`~ieegrsa.models.registry`: extractors by name
  (built-ins, every torchvision classification model, and plugins registered through the
  ``ieegrsa.extractors`` entry-point group or :func:`register_extractor`).
- :mod:`~ieegrsa.models.layers`: layer lists in depth order and one-pass feature extraction.
- :mod:`~ieegrsa.models.backbones`: torchvision backbones; :mod:`~ieegrsa.models.architectures`:
  the seed studies' face networks (VGG-Face, VGGFace2 ResNet-50, grayscale ResNet-18, the 48×48
  DenseNet, a Siamese wrapper); :mod:`~ieegrsa.models.fer` and
  :mod:`~ieegrsa.models.dlib_resnet`: fer's expression and dlib's identity networks, with the
  readers of their weight formats in the private ``_keras`` and ``_dlib_format``.
- :mod:`~ieegrsa.models.faces`: the face box and 5 landmarks of each stimulus image
  (:func:`find_faces`, dlib, cached by image content).
- :mod:`~ieegrsa.models.images`: stimulus images to network input; :mod:`~ieegrsa.models.cache`
  and :mod:`~ieegrsa.models.extract`: batched, cached layer features (:func:`extract_features`).
- :mod:`~ieegrsa.models.rdms`: :func:`model_rdms` per layer and :func:`categorical_rdms` from
  the stimulus table; :mod:`~ieegrsa.models.configured`: :func:`configured_model_rdms`, the
  models a configuration asks for.

Names load lazily, so importing :mod:`ieegrsa.models` does not import torch.
"""

from __future__ import annotations

from .._lazy import lazy_exports

# public name -> submodule of ieegrsa.models
_LAZY = {
    "Extractor": "base",
    "InputSpec": "base",
    "register_extractor": "registry",
    "get_extractor": "registry",
    "list_extractors": "registry",
    "extract_features": "extract",
    "model_rdms": "rdms",
    "categorical_rdms": "rdms",
    "configured_model_rdms": "configured",
    "find_faces": "faces",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
