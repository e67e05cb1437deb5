"""dlib's face-recognition ResNet in PyTorch, read straight from dlib's own weights file.

The network is ``anet_type`` of dlib's ``dnn_face_recognition_ex.cpp``, distributed as
``dlib_face_recognition_resnet_model_v1.dat`` (Davis King, CC0; in the PyPI package
``face_recognition_models``): trained with a metric loss on ~3 million faces;
its 128-D descriptor reaches 99.38% on LFW. Registered as the extractor
``dlib-resnet-face`` (objective ``identity``).

Architecture (input 150×150 RGB; sizes are channels × rows × columns)::

    conv1    7×7 stride 2, no padding, 32 filters, + affine1, relu1   32×72×72
    maxpool  3×3 stride 2, no padding                                  32×35×35
    layer1   3 residual blocks, 32 filters              (dlib alevel4) 32×35×35
    layer2   1 down-sampling + 3 blocks, 64 filters     (dlib alevel3) 64×17×17
    layer3   1 down-sampling + 2 blocks, 128 filters    (dlib alevel2) 128×8×8
    layer4   1 down-sampling + 2 blocks, 256 filters    (dlib alevel1) 256×4×4
    layer5   1 down-sampling block, 256 filters         (dlib alevel0) 256×2×2
    avgpool  mean over all positions                                   256
    fc       fully connected, no bias: the face descriptor             128

A block (dlib ``ares``) is ``relu(affine2(conv2(relu1(affine1(conv1(x))))) + x)`` with 3×3
convolutions (padding 1). A down-sampling block (``ares_down``) strides its first convolution by
2 without padding, and adds ``pool(x)``, a 2×2 stride-2 average pool of its input; where the two
differ in size, dlib adds them as if the smaller were zero-padded at the end of the channel, row
and column axes (``add``, here :func:`zero_padded_sum`): the pooled input fills the first
channels of the wider output, and in ``layer4``/``layer5`` the strided branch (3×3, 1×1) fills
the top-left of the pooled one (4×4, 2×2). ``affine`` layers take the place of batch
normalisation: ``y = γ_c x + β_c`` per channel (dlib trains with batch-norm and stores the
frozen scale and shift).

The input (dlib ``input_rgb_image_sized<150>``) is ``(p - m_c) / 256`` for 0–255 pixels ``p``
with ``m = (122.782, 117.001, 104.298)`` (R, G, B); :data:`DLIB_INPUT_SPEC` writes this in the
``[0, 1]`` convention of :class:`~ieegrsa.models.registry.InputSpec`. The network expects aligned
face chips (:func:`face_chips`), not whole photographs.

Every sub-module is a layer (forward hooks read them), in depth order:
``conv1, affine1, relu1, maxpool, layer1.0.conv1, layer1.0.affine1, …, layer1.0.add,
layer1.0.relu, layer1.0, …, layer1, …, avgpool, fc``.

The weights file format (dlib ``serialize``), as read by :func:`read_dlib_resnet`:

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

import dataclasses
import importlib.util
import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import DataError
from .crops import DLIB_CHIP, crop_faces, stimulus_faces
from .registry import (
    Extractor,
    InputSpec,
    check_layers,
    classify_weights,
    file_sha256,
    hook_features,
    load_state_dict_file,
    register_extractor,
)

__all__ = [
    "DLIB_INPUT_SPEC",
    "DLIB_MEAN_255",
    "Affine",
    "DlibBlock",
    "DlibFaceResNet",
    "DlibResNetExtractor",
    "dlib_weights_path",
    "face_chips",
    "read_dlib_resnet",
    "zero_padded_sum",
]

logger = logging.getLogger("ieegrsa")

#: per-channel means (R, G, B) of dlib's input layer, on 0–255 pixels
DLIB_MEAN_255 = (122.782, 117.001, 104.298)
#: dlib's input ``(p - m) / 256`` in the [0, 1] convention: ``(p/255 - m/255) / (256/255)``
DLIB_INPUT_SPEC = InputSpec(size=150, resize=None, grayscale=False,
                            mean=tuple(m / 255 for m in DLIB_MEAN_255),
                            std=(256 / 255,) * 3)
#: environment variable naming the weights file (``weights="dlib"``)
WEIGHTS_ENV = "IEEGRSA_DLIB_WEIGHTS"
WEIGHTS_FILE = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
#: (filters, residual blocks, first block down-samples) of layer1 … layer5
STAGES = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
_INSTALL_FIX = ('pip install face_recognition_models (an ieegrsa dependency), '
                f"set ${WEIGHTS_ENV}, or pass the path of {WEIGHTS_FILE}")


# --- the network ----------------------------------------------------------------------------

class Affine(nn.Module):
    """Per-channel ``y = weight_c · x + bias_c`` (dlib ``affine``: a frozen batch-norm)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return torch.addcmul(self.bias[:, None, None], x, self.weight[:, None, None])


class ZeroPaddedSum(nn.Module):
    """``a + b`` with the smaller zero-padded at the end of each axis (dlib ``add_prev``)."""

    def forward(self, a, b):
        return zero_padded_sum(a, b)


def zero_padded_sum(a, b):
    """``a + b`` for ``(n, c, h, w)`` tensors of different sizes, as dlib's ``tt::add``.

    The result has the larger size on every axis; each input counts as zero beyond its own
    extent (so it sits at the start of the channel, row and column axes).
    """
    if a.shape == b.shape:
        return a + b
    shape = [max(p, q) for p, q in zip(a.shape, b.shape)]
    out = torch.zeros(shape, dtype=a.dtype, device=a.device)
    out[tuple(slice(0, s) for s in a.shape)] += a
    out[tuple(slice(0, s) for s in b.shape)] += b
    return out


class DlibBlock(nn.Module):
    """dlib's ``ares`` residual block, or ``ares_down`` with ``down=True``."""

    def __init__(self, in_channels: int, channels: int, down: bool):
        super().__init__()
        stride, pad = (2, 0) if down else (1, 1)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, pad)
        self.affine1 = Affine(channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.affine2 = Affine(channels)
        self.pool = nn.AvgPool2d(2, 2) if down else None
        self.add = ZeroPaddedSum()
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.affine2(self.conv2(self.relu1(self.affine1(self.conv1(x)))))
        return self.relu(self.add(out, x if self.pool is None else self.pool(x)))


class DlibFaceResNet(nn.Module):
    """dlib's face-recognition ResNet (see the module docstring).

    ``forward`` maps ``(n, 3, 150, 150)`` normalised face chips to the 128-D descriptors
    ``(n, 128)``.

    Random initialisation (the untrained control) as torchvision's ResNets: Kaiming-normal
    (fan-out) convolutions with zero biases, unit affine scales and zero shifts, PyTorch's
    default for ``fc``. (PyTorch's default convolution initialisation shrinks the activations
    layer by layer into subnormal floats, which makes CPU inference ~50× slower.)
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 7, 2, 0)
        self.affine1 = Affine(32)
        self.relu1 = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 0)
        channels = 32
        for i, (width, n_blocks, down) in enumerate(STAGES, start=1):
            blocks = []
            for j in range(n_blocks):
                blocks.append(DlibBlock(channels, width, down and j == 0))
                channels = width
            self.add_module(f"layer{i}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(256, 128, bias=False)
        for sub in self.modules():
            if isinstance(sub, nn.Conv2d):
                nn.init.kaiming_normal_(sub.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(sub.bias)

    def forward(self, x):
        x = self.maxpool(self.relu1(self.affine1(self.conv1(x))))
        for i in range(1, len(STAGES) + 1):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(self.flatten(self.avgpool(x)))


# --- the dlib file --------------------------------------------------------------------------

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
                        found=err.strerror or type(err).__name__, fix=_INSTALL_FIX) from err
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


# --- weights discovery ----------------------------------------------------------------------

def _package_file(name: str) -> Path | None:
    """``face_recognition_models/models/<name>`` without importing the package (its
    ``__init__`` needs ``pkg_resources``)."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "models" / name
        if candidate.is_file():
            return candidate
    return None


def dlib_weights_path(weights="dlib") -> Path:
    """The dlib weights file for ``weights``: a path, or ``"dlib"`` for the installed one.

    ``"dlib"`` resolves to ``$IEEGRSA_DLIB_WEIGHTS`` if set, else the file shipped by the
    ``face_recognition_models`` package.

    Raises
    ------
    DataError
        The file is not found (the message says how to install it).
    """
    if isinstance(weights, str) and weights.lower() == "dlib":
        env = os.environ.get(WEIGHTS_ENV)
        if env:
            path = Path(env).expanduser()
            if not path.is_file():
                raise DataError(f"${WEIGHTS_ENV} names no file", file=path, field="weights",
                                fix=f"point it at {WEIGHTS_FILE}, or unset it")
            return path
        path = _package_file(WEIGHTS_FILE)
        if path is None:
            raise DataError("dlib's face-recognition weights are not installed",
                            field="weights", found=weights, fix=_INSTALL_FIX)
        return path
    path = Path(weights).expanduser()
    if not path.is_file():
        raise DataError("dlib weights file not found", file=path, field="weights",
                        fix=_INSTALL_FIX)
    return path


# --- the extractor --------------------------------------------------------------------------

class DlibResNetExtractor(Extractor):
    """dlib's face-recognition ResNet (``dlib-resnet-face``), objective ``identity``.

    Weights: ``"dlib"`` (the installed file, see :func:`dlib_weights_path`), the path of a
    dlib ``.dat`` file, the path of a PyTorch state dict of :class:`DlibFaceResNet`, or
    ``"random"`` (seeded default initialisation, the untrained control).

    Input: 150×150 RGB aligned face chips (:func:`face_chips`); ``input_spec`` resizes
    straight to 150×150 and normalises as dlib (see :data:`DLIB_INPUT_SPEC`). Layers: every
    sub-module (read with forward hooks), see the module docstring.
    """

    name = "dlib-resnet-face"
    objective = "identity"
    input_spec = DLIB_INPUT_SPEC
    face_crop = DLIB_CHIP

    def create(self):
        return DlibFaceResNet()

    def build(self, weights="random", seed=0):
        """The network in eval mode; see :meth:`Extractor.build` and the class docstring."""
        kind, value = classify_weights(weights)
        if kind == "name" or (kind == "file" and value.suffix.lower() == ".dat"):
            path = dlib_weights_path(value)
            state, _ = read_dlib_resnet(path)
            with torch.device("cpu"):
                module = self.create()
            module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
            return module.eval()
        if kind == "file":
            module = super().build("random", seed)
            return load_state_dict_file(module, value).eval()
        return super().build(weights, seed)

    def weights_id(self, weights, seed=0) -> str:
        kind, value = classify_weights(weights)
        if kind == "name" or (kind == "file" and value.suffix.lower() == ".dat"):
            return f"dlib:sha256={file_sha256(dlib_weights_path(value))}"
        return super().weights_id(weights, seed)

    def layers(self, module=None) -> list[str]:
        """Every sub-module in depth order, a container right after its last sub-module
        (``layer1.0.add``, ``layer1.0.relu``, ``layer1.0``, …, ``layer1``); ``flatten``, a
        mere reshape of ``avgpool``, is left out."""
        if module is None:
            module = self._skeleton()
        return [name for name in _post_order(module, "") if name and name != "flatten"]

    def default_layers(self) -> list[str]:
        """The stem and each stage's output, the pooled features and the descriptor."""
        return ["maxpool", "layer1", "layer2", "layer3", "layer4", "layer5", "avgpool", "fc"]

    def features(self, module, batch, layers):
        """Activations of ``layers`` for one batch ``(n, 3, 150, 150)`` (forward hooks)."""
        shape = tuple(getattr(batch, "shape", ()))
        if len(shape) != 4 or shape[1] != 3:
            raise DataError(f"{self.name!r} expects RGB batches (n, 3, 150, 150)",
                            field="batch", found=shape)
        check_layers(self, layers, self.layers(module))
        return hook_features(module, batch, list(layers))


def _post_order(module, prefix):
    for name, child in module.named_children():
        yield from _post_order(child, f"{prefix}.{name}" if prefix else name)
    yield prefix


register_extractor("dlib-resnet-face", DlibResNetExtractor)


# --- face chips -----------------------------------------------------------------------------

def face_chips(images, *, size: int = 150, padding: float = 0.25, upsample: int = 1,
               landmarks_file=None) -> np.ndarray:
    """Aligned face chips as dlib's ``compute_face_descriptor`` makes them (needs dlib).

    For each image: dlib's frontal face detector (HOG) finds the face (exactly one:
    :func:`~ieegrsa.models.faces.find_faces`), the 5-point shape predictor
    (``shape_predictor_5_face_landmarks.dat``) places eye corners and the nose base, and
    ``dlib.get_face_chip`` samples the ``size × size`` chip whose similarity transform puts
    those points on dlib's mean face, with ``padding`` (fraction of the face size) around
    it. ``size=150, padding=0.25`` is what the network was trained on.

    Parameters
    ----------
    images : sequence
        Image paths, or uint8 RGB arrays ``(H, W, 3)``.
    size : int
        Chip side in pixels.
    padding : float
    upsample : int
        Times the detector upsamples the image when it finds no face at the original size.
    landmarks_file : path-like, optional
        The 5-point predictor (default: the one in ``face_recognition_models``).

    Returns
    -------
    numpy.ndarray
        uint8 ``(n, size, size, 3)``; pass it to
        :func:`~ieegrsa.models.extract_features` as the images.

    Raises
    ------
    DataError
        dlib or the landmark model is missing, or an image has no face or several.
    """
    faces = stimulus_faces(images, upsample=upsample, landmarks_file=landmarks_file)
    crop = dataclasses.replace(DLIB_CHIP, size=int(size), padding=float(padding))
    return np.stack(crop_faces(images, faces, crop))
