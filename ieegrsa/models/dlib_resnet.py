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
``[0, 1]`` convention of :class:`~ieegrsa.models.base.InputSpec`. The network expects aligned
face chips (:func:`face_chips`), not whole photographs.

Every sub-module is a layer (forward hooks read them), in depth order:
``conv1, affine1, relu1, maxpool, layer1.0.conv1, layer1.0.affine1, …, layer1.0.add,
layer1.0.relu, layer1.0, …, layer1, …, avgpool, fc``.

The weights file is read by :mod:`ieegrsa.models._dlib_format` (its docstring describes dlib's
``serialize`` format).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import DataError
from ._dlib_format import STAGES, WEIGHTS_FILE, read_dlib_resnet
from .base import Extractor, InputSpec, classify_weights, file_sha256, load_state_dict_file
from .crops import DLIB_CHIP, crop_faces, stimulus_faces
from .faces import _package_file
from .layers import check_layers, hook_features

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

#: per-channel means (R, G, B) of dlib's input layer, on 0–255 pixels
DLIB_MEAN_255 = (122.782, 117.001, 104.298)
#: dlib's input ``(p - m) / 256`` in the [0, 1] convention: ``(p/255 - m/255) / (256/255)``
DLIB_INPUT_SPEC = InputSpec(size=150, resize=None, grayscale=False,
                            mean=tuple(m / 255 for m in DLIB_MEAN_255),
                            std=(256 / 255,) * 3)
#: environment variable naming the weights file (``weights="dlib"``)
WEIGHTS_ENV = "IEEGRSA_DLIB_WEIGHTS"
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


# --- weights discovery ----------------------------------------------------------------------

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


#: registry name → extractor, loaded by :mod:`ieegrsa.models.registry` on first lookup
EXTRACTORS = {"dlib-resnet-face": DlibResNetExtractor}


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
