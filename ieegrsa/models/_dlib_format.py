"""dlib's own weights file of its face-recognition ResNet, read without dlib.

:func:`read_dlib_resnet` reads ``dlib_face_recognition_resnet_model_v1.dat`` (the network
``anet_type`` of dlib's ``dnn_face_recognition_ex.cpp``, whose layout :data:`STAGES` gives) into a
state dict of :class:`~ieegrsa.models.dlib_resnet.DlibFaceResNet`, checking every layer against
``anet_type`` on the way.

The file format (dlib ``serialize``):

- an integer is one byte ``b`` (bit 7: negative; low 4 bits: byte count ``n``) followed by
  ``|value|`` in ``n`` little-endian bytes;
- a float is two integers, mantissa ``m`` and exponent ``e``: ``m · 2**e``;
- a string is its length (integer) and its bytes; a bool is the character ``'1'`` or ``'0'``;
- a tensor is the integer 2 (version), the integers ``num_samples, k, nr, nc`` and that many
  little-endian float32 values; an alias tensor is the integer 1 and its four sizes;
- the network: the loss layer (version 1, ``"loss_metric_2"``, margin, distance threshold),
  then one version integer per nested layer from the output inwards (2 for a layer, 1 for a
  tag or skip, 3 for the layer holding the input), the input layer (``"input_rgb_image_sized"``,
  three channel means, rows, columns), then each layer from the input outwards: its details
  (name string and parameters, e.g. ``"con_4"``: the parameter tensor — filters
  ``(n_filters, k, nr, nc)`` then biases — and the filter count, kernel size, strides,
  paddings, alias tensors and learning-rate multipliers), three bools and three (empty)
  tensors — and, after the first layer only, one more integer (1) of the input-holding
  layer; tags and skips add nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["STAGES", "WEIGHTS_FILE", "read_dlib_resnet"]

WEIGHTS_FILE = "dlib_face_recognition_resnet_model_v1.dat"
#: (filters, residual blocks, first block down-samples) of layer1 … layer5 of ``anet_type``
STAGES = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))


class _Reader:
    """Cursor over the bytes of a dlib-serialised file (see the module docstring)."""

    def __init__(self, data: bytes, path):
        self.data, self.pos, self.path = data, 0, path

    def fail(self, what, found=None):
        raise DataError(f"not a dlib face-recognition ResNet file: {what}", file=self.path,
                        field="weights", found=found if found is not None else f"byte {self.pos}",
                        fix=f"pass dlib's {WEIGHTS_FILE}")

    def int(self) -> int:
        if self.pos >= len(self.data):
            self.fail("the file ends early")
        head = self.data[self.pos]
        size = head & 0x0F
        if size > 8 or head & 0x70:
            self.fail("bad integer encoding", f"byte 0x{head:02x} at {self.pos}")
        value = int.from_bytes(self.data[self.pos + 1:self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if head & 0x80 else value

    def float(self) -> float:
        mantissa = self.int()
        return float(mantissa * 2.0 ** self.int())

    def str(self) -> str:
        size = self.int()
        if not 0 <= size <= 256:
            self.fail("bad string length", size)
        text = self.data[self.pos:self.pos + size]
        self.pos += size
        return text.decode("latin-1")

    def bools(self, n: int) -> None:
        text = self.data[self.pos:self.pos + n]
        if len(text) != n or set(text) - {ord("0"), ord("1")}:
            self.fail("bad bool encoding")
        self.pos += n

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            self.fail("unknown tensor version")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        if self.pos + 4 * count > len(self.data):
            self.fail("a tensor runs past the end of the file", shape)
        values = np.frombuffer(self.data, "<f4", count, self.pos).reshape(shape)
        self.pos += 4 * count
        return values

    def alias(self) -> tuple[int, ...]:
        if self.int() != 1:
            self.fail("unknown alias-tensor version")
        return tuple(self.int() for _ in range(4))


def _read_layer(r: _Reader) -> tuple[str, dict]:
    """One layer's details: (dlib layer name, its settings and parameters)."""
    name = r.str()
    if name == "con_4":
        params = r.tensor().ravel()
        n_filters, nr, nc, sy, sx, py, px = (r.int() for _ in range(7))
        filters, _ = r.alias(), r.alias()
        for _ in range(4):  # learning-rate and weight-decay multipliers
            r.float()
        n_weights = int(np.prod(filters))
        if params.size != n_weights + n_filters or filters[0] != n_filters:
            r.fail("convolution parameters do not match its sizes", (params.size, filters))
        info = {"filters": n_filters, "kernel": (nr, nc), "stride": (sy, sx),
                "padding": (py, px), "weight": params[:n_weights].reshape(filters),
                "bias": params[n_weights:]}
    elif name == "affine_":
        params = r.tensor().ravel()
        gamma, beta = r.alias(), r.alias()
        mode = r.int()
        half = params.size // 2
        if mode != 0 or int(np.prod(gamma)) != half or int(np.prod(beta)) != half:
            r.fail("unexpected affine layer", (mode, gamma, beta))
        info = {"channels": half, "weight": params[:half], "bias": params[half:]}
    elif name in ("max_pool_2", "avg_pool_2"):
        info = {"pool": tuple(r.int() for _ in range(6))}
    elif name == "fc_2":
        n_out, n_in = r.int(), r.int()
        params = r.tensor()
        r.alias(), r.alias()
        bias_mode = r.int()
        for _ in range(4):
            r.float()
        if bias_mode != 1 or params.size != n_in * n_out:  # 1: fc_no_bias
            r.fail("expected a fully connected layer without bias", (n_in, n_out, bias_mode))
        info = {"outputs": n_out, "weight": params.reshape(n_in, n_out).T}
    elif name in ("relu_", "add_prev_"):
        info = {}
    else:
        r.fail("unknown layer type", name)
    return name, info


def _expected_layers():
    """(torch module name or None, dlib layer name, settings to check) from input to output."""
    out = [("conv1", "con_4", {"filters": 32, "kernel": (7, 7), "stride": (2, 2),
                                "padding": (0, 0)}),
           ("affine1", "affine_", {"channels": 32}), (None, "relu_", {}),
           (None, "max_pool_2", {"pool": (3, 3, 2, 2, 0, 0)})]
    for i, (width, n_blocks, down) in enumerate(STAGES, start=1):
        for j in range(n_blocks):
            prefix, strided = f"layer{i}.{j}.", down and j == 0
            out += [(prefix + "conv1", "con_4",
                     {"filters": width, "kernel": (3, 3), "stride": (2, 2) if strided else (1, 1),
                      "padding": (0, 0) if strided else (1, 1)}),
                    (prefix + "affine1", "affine_", {"channels": width}), (None, "relu_", {}),
                    (prefix + "conv2", "con_4", {"filters": width, "kernel": (3, 3),
                                                 "stride": (1, 1), "padding": (1, 1)}),
                    (prefix + "affine2", "affine_", {"channels": width})]
            if strided:
                out.append((None, "avg_pool_2", {"pool": (2, 2, 2, 2, 0, 0)}))
            out += [(None, "add_prev_", {}), (None, "relu_", {})]
    out += [(None, "avg_pool_2", {"pool": (0, 0, 1, 1, 0, 0)}),  # avg_pool_everything
            ("fc", "fc_2", {"outputs": 128})]
    return out


def read_dlib_resnet(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read dlib's face-recognition ResNet file into a :class:`DlibFaceResNet` state dict.

    Parameters
    ----------
    path : path-like
        ``dlib_face_recognition_resnet_model_v1.dat`` (or a file of the same architecture).

    Returns
    -------
    state : dict of str to numpy.ndarray
        float32 parameters under the module's keys (``conv1.weight``, ``layer1.0.affine1.bias``,
        ``fc.weight`` ``(128, 256)`` …).
    meta : dict
        ``mean`` (the input layer's R, G, B means on 0–255 pixels), ``size`` (rows, columns),
        ``loss`` (``margin`` and ``distance_threshold`` of the metric loss).

    Raises
    ------
    DataError
        The file is missing, or not this network (the message names the first layer that
        differs from dlib's ``anet_type``).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError("cannot read the dlib weights file", file=path, field="weights",
                        found=err.strerror or type(err).__name__,
                        fix=f"pass the path of dlib's {WEIGHTS_FILE}") from err
    r = _Reader(data, path)
    if r.int() != 1 or r.str() != "loss_metric_2":
        r.fail("it does not start with dlib's metric loss layer", data[:24])
    loss = {"margin": r.float(), "distance_threshold": r.float()}
    nesting = []
    while (version := r.int()) != 3:  # 3: the innermost layer, holding the input layer
        if version not in (1, 2):
            r.fail("unexpected layer version", version)
        nesting.append(version)
    if r.str() != "input_rgb_image_sized":
        r.fail("the input layer is not input_rgb_image_sized")
    mean = tuple(r.float() for _ in range(3))
    size = (r.int(), r.int())
    expected = _expected_layers()
    if nesting.count(2) + 1 != len(expected):
        r.fail("unexpected number of layers", nesting.count(2) + 1)
    state = {}
    for i, (module, dlib_name, settings) in enumerate(expected):
        name, info = _read_layer(r)
        found = {key: info.get(key) for key in settings}
        if name != dlib_name or found != settings:
            r.fail(f"layer {i} ({module or dlib_name}) differs from dlib's anet_type",
                   f"{name} {found}, expected {dlib_name} {settings}")
        r.bools(3)
        for _ in range(3):  # gradients and cached output, empty in a saved network
            r.tensor()
        if i == 0:
            r.int()  # one more field of the layer holding the input (1)
        for key in ("weight", "bias"):
            if module is not None and key in info:
                state[f"{module}.{key}"] = np.array(info[key], dtype=np.float32)
    if r.pos != len(data):
        r.fail("bytes left after the last layer", len(data) - r.pos)
    return state, {"mean": mean, "size": size, "loss": loss}
