"""The extractor interface: what a network is to ieegrsa, and the helpers every network shares.

A network is an :class:`Extractor` (built-in, torchvision or a lab's plugin): it declares the input
it expects (:class:`InputSpec`), how a face stimulus is framed for it (:class:`FaceCrop`), and
builds, lists layers and computes features. The name → extractor registry
(:mod:`ieegrsa.models.registry`) and every concrete network import this module; it imports none
of them, so the registry can load the networks without a cycle.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import _files
from .._check import check_option
from ..errors import DataError
from .layers import (
    _fx_extractor,
    _layer_table,
    _trace,
    check_layers,
    evenly_spaced,
    hook_features,
    without_inplace,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LUMA",
    "OBJECTIVES",
    "WEIGHT_FILE_SUFFIXES",
    "Extractor",
    "FaceCrop",
    "InputSpec",
    "check_batch",
    "classify_weights",
    "file_sha256",
    "load_state_dict_file",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: ITU-R 601-2 luma of R, G, B: the grey value of a colour pixel for one-channel networks
LUMA = (0.299, 0.587, 0.114)
OBJECTIVES = ("identity", "expression", "object", "untrained", "categorical", "custom")
#: file name endings taken as a local weights file rather than a weights name
WEIGHT_FILE_SUFFIXES = (".pt", ".pth", ".pkl", ".bin", ".ckpt", ".tar")


@dataclass(frozen=True)
class InputSpec:
    """What the network expects; every field is part of the feature-cache key.

    Parameters
    ----------
    size : int
        Side of the square input in pixels.
    resize : int | None
        Shorter side (px) the image is resized to before a centre crop to ``size``; ``None``
        resizes straight to ``size × size`` (aspect ratio not kept).
    grayscale : bool
        One-channel input (luminance ``L = 0.299 R + 0.587 G + 0.114 B``).
    mean, std : tuple of float
        Per-channel normalisation ``(x - mean) / std`` applied after scaling pixels to [0, 1];
        one value per input channel.
    antialias : bool
        Low-pass filter when shrinking (torchvision and PIL do); False resizes as OpenCV's
        bilinear ``cv2.resize`` does, for networks whose authors prepared inputs that way.
    """

    size: int = 224
    resize: int | None = 256
    grayscale: bool = False
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    antialias: bool = True

    @property
    def channels(self) -> int:
        """Number of input channels (1 or 3)."""
        return 1 if self.grayscale else 3

    def key(self) -> dict:
        """The spec as a JSON-able dict (for the cache key and provenance)."""
        out = dataclasses.asdict(self)
        out["mean"] = [float(v) for v in self.mean]
        out["std"] = [float(v) for v in self.std]
        if self.antialias:  # the key of the default stays as it was: cached features stay valid
            del out["antialias"]
        return out


@dataclass(frozen=True)
class FaceCrop:
    """A network's input convention for face images.

    The fields of :meth:`key` (all but ``source``) are recorded with the features; the cache
    keys on the cropped pixels themselves.

    Parameters
    ----------
    kind : {"aligned", "box", "none"}
        ``aligned``: ``dlib.get_face_chip`` of the 5 landmarks (a similarity transform onto
        dlib's mean face); ``box``: the face box made square around its centre (the shorter side
        lengthened), widened, then cut out; ``none``: the whole image.
    size : int
        Side of an aligned chip (px).
    padding : float
        Aligned chips: margin around the face, as a fraction of its size (dlib's ``padding``).
    scale, shift : float
        Boxes: the face box is first mapped to the box of the detector the network's authors
        used: its width and height multiplied by ``scale``, its centre moved down by ``shift``
        times its height (negative: up), e.g. dlib's HOG box to OpenCV's Haar box for fer.
    margin : float
        Boxes: fraction of the square box's side added on every side.
    offset : int
        Boxes: pixels added on every side after ``margin`` (fer's ``offsets``).
    outside : {"pad", "clip"}
        Boxes reaching past the image: ``pad`` fills with the mean grey of the image's bottom two
        rows (as fer pads), ``clip`` cuts the box at the image edge.
    source : str
        Where the convention comes from, for the reader of the code (not in :meth:`key`).
    """

    kind: str = "none"
    size: int = 150
    padding: float = 0.25
    scale: float = 1.0
    shift: float = 0.0
    margin: float = 0.0
    offset: int = 0
    outside: str = "clip"
    source: str = ""

    def __post_init__(self):
        check_option("crop", self.kind, ("aligned", "box", "none"), what="face crop")
        check_option("outside", self.outside, ("pad", "clip"),
                     what="handling of boxes past the image")

    def key(self) -> dict:
        """The crop as a JSON-able dict (cache key, provenance); ``none`` is just its kind."""
        if self.kind == "none":
            return {"kind": "none"}
        fields = ("size", "padding") if self.kind == "aligned" else (
            "scale", "shift", "margin", "offset", "outside")
        return {"kind": self.kind, **{f: getattr(self, f) for f in fields}}


class Extractor:
    """A network that turns a batch of images into layer activations.

    A plugin subclasses this and sets :attr:`name`, :attr:`objective` and :attr:`input_spec`,
    then either implements :meth:`create` (build the architecture with random weights; the
    base :meth:`build` handles seeding and state-dict files) or overrides :meth:`build` as a
    whole. :meth:`layers`, :meth:`default_layers` and :meth:`features` have working defaults
    based on torchvision's FX feature extraction (forward hooks when FX cannot trace).

    Parameters
    ----------
    **options
        Architecture options (e.g. ``num_classes``); kept in :attr:`options` and part of the
        cache key, so they must be JSON-able.

    Attributes
    ----------
    name : str
        Registry name.
    objective : str
        Training objective of the network's trained weights: one of ``identity``,
        ``expression``, ``object``, ``untrained``, ``categorical``, ``custom``. With
        ``weights="random"`` the loaded network is untrained whatever this says; see
        :meth:`objective_of`.
    input_spec : InputSpec
        What the network expects as input.
    face_crop : FaceCrop
        How a face stimulus is framed before ``input_spec`` converts it: an aligned chip, the
        face box, or the whole image (the default, for object networks); see
        :mod:`ieegrsa.models.crops`.
    wraps : tuple of str
        Options that name another extractor, for a network built around one (a Siamese
        wrapper's ``backbone``): the registry passes each as that extractor, built from the
        registry name given (or the parameter's default) and the options in
        ``<option>_options``, so a wrapper needs no registry of its own.
    """

    name: str = ""
    objective: str = "object"
    input_spec: InputSpec = InputSpec()
    face_crop: FaceCrop = FaceCrop()
    wraps: tuple[str, ...] = ()

    def __init__(self, **options):
        self.options = dict(options)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in sorted(self.get_options().items()))
        return f"<{type(self).__name__} {self.name!r}{' ' + opts if opts else ''}>"

    def get_options(self) -> dict:
        """The architecture options (JSON-able), as given to the factory."""
        return dict(getattr(self, "options", {}))

    # --- building ------------------------------------------------------------------------

    def create(self):
        """Construct the architecture with freshly initialised weights (override this)."""
        raise NotImplementedError(f"{type(self).__name__} must implement create() or build()")

    def build(self, weights="random", seed=0):
        """The network in eval mode with the given weights.

        Parameters
        ----------
        weights : str | path-like | None
            ``"random"`` (or ``None``): random initialisation after ``torch.manual_seed(seed)``,
            the untrained control (the global RNG state is restored afterwards). A path to a
            state-dict file (``.pt``, ``.pth``, ``.pkl`` …): loaded with a strict key check.
            Any other string: a model-specific weights name (see :meth:`load_named_weights`).
        seed : int
            Seed of the random initialisation (also used before loading a file, so that any
            buffer the file does not set is reproducible).

        Returns
        -------
        torch.nn.Module
        """
        import torch

        kind, value = classify_weights(weights)
        if kind == "name":
            module = self.load_named_weights(value)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed))
                module = self.create()
            if kind == "file":
                load_state_dict_file(module, value)
        return module.eval()

    def load_named_weights(self, name: str):
        """Build the network with the named pretrained weights (override for named weights)."""
        raise DataError(
            f"extractor {self.name!r} has no named weights", field="weights", found=name,
            fix='pass weights="random" or the path of a state-dict file (.pt/.pth)',
        )

    def objective_of(self, weights) -> str:
        """Objective of the network once ``weights`` are loaded: ``"untrained"`` for random."""
        return "untrained" if classify_weights(weights)[0] == "random" else self.objective

    def weights_id(self, weights, seed=0) -> str:
        """Identifier of the weights for the cache key.

        ``"random:seed=<seed>"``, ``"file:sha256=<hex digest of the file>"``, or
        ``"name:<weights name>"`` (torchvision backbones: ``"torchvision:<Enum>.<member>"``).
        """
        kind, value = classify_weights(weights)
        if kind == "random":
            return f"random:seed={int(seed)}"
        if kind == "file":
            return f"file:sha256={file_sha256(value)}"
        return f"name:{value}"

    # --- layers and features -------------------------------------------------------------

    def layers(self, module=None) -> list[str]:
        """Every selectable layer in network depth order.

        FX graph node names of the eval-mode graph (``get_graph_node_names``), without the
        input node; for a network FX cannot trace, the names of its sub-modules. Without
        ``module``, the architecture is built on the ``meta`` device (no memory, no weights).
        """
        if module is None:
            module = self._skeleton()
        return list(_layer_table(module)[0])

    def default_layers(self) -> list[str]:
        """A sensible set of layers spanning the network (override; default ~6 evenly spaced)."""
        return evenly_spaced(self.layers(), 6)

    def features(self, module, batch, layers):
        """Activations of ``layers`` for one batch, all in one forward pass.

        Parameters
        ----------
        module : torch.nn.Module
            The network from :meth:`build`.
        batch : torch.Tensor
            Input batch ``(n, channels, size, size)``.
        layers : list of str
            Layer names from :meth:`layers`.

        Returns
        -------
        dict of str to torch.Tensor
            One tensor per layer, first dimension ``n``.
        """
        names, traceable, node_of = _trace(module)
        check_layers(self, layers, names)
        if not traceable:
            return hook_features(without_inplace(module), batch, layers)
        # aliases (``layer1`` and its last node) share one graph output
        nodes = tuple(dict.fromkeys(node_of[name] for name in layers))
        out = _fx_extractor(module, nodes)(batch)
        return {name: out[node_of[name]] for name in layers}

    def _skeleton(self):
        """The architecture on the ``meta`` device (for listing layers cheaply), memoised per
        extractor class, name and options."""
        memo_key = (type(self), self.name,
                    json.dumps(self.get_options(), sort_keys=True, default=repr))
        if memo_key not in _SKELETONS:
            _SKELETONS[memo_key] = self._build_skeleton()
        return _SKELETONS[memo_key]

    def _build_skeleton(self):
        import torch

        try:
            with torch.device("meta"):
                return self.build("random", 0)
        except Exception:  # a constructor computing with tensors (regnet): build it for real
            return self.build("random", 0)


_SKELETONS: dict = {}  # architecture skeletons on the meta device, per extractor


# --- weights helpers ----------------------------------------------------------------------

def classify_weights(weights) -> tuple[str, object]:
    """``("random", None)``, ``("file", Path)`` or ``("name", str)`` for a weights argument."""
    if weights is None or (isinstance(weights, str) and weights.lower() == "random"):
        return "random", None
    if isinstance(weights, os.PathLike):
        return "file", Path(weights)
    if not isinstance(weights, str):
        raise DataError("weights must be 'random', a file path or a weights name",
                        field="weights", found=type(weights).__name__)
    path = Path(weights).expanduser()
    if path.exists() or path.suffix.lower() in WEIGHT_FILE_SUFFIXES or os.sep in weights:
        return "file", path
    return "name", weights


_SHA_MEMO: dict[tuple, str] = {}


def file_sha256(path) -> str:
    """SHA-256 hex digest of a file (memoised on path, size and modification time)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("weights file not found", file=path, field="weights",
                        fix="check the path, or pass weights='random'")
    stat = path.stat()
    memo_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo_key not in _SHA_MEMO:
        _SHA_MEMO[memo_key] = _files.file_sha256(path)
    return _SHA_MEMO[memo_key]


def load_state_dict_file(module, path, convert: Callable[[dict], dict] | None = None):
    """Load a state-dict file into ``module`` with a strict check of keys and shapes.

    Parameters
    ----------
    module : torch.nn.Module
    path : path-like
        A file written by ``torch.save(model.state_dict(), path)``. A checkpoint dict holding
        the state dict under ``"state_dict"`` or ``"model"`` is unwrapped, and a ``"module."``
        prefix common to all keys (``DataParallel``) is removed. Loaded with
        ``torch.load(weights_only=True)``: no code in the file runs.
    convert : callable, optional
        Maps the loaded dict to the module's key names (e.g. a converted VGG-Face file).

    Raises
    ------
    DataError
        The file is missing or unreadable, or its keys or tensor shapes do not match the
        architecture (the message lists the missing and unexpected keys).
    """
    import pickle

    import numpy as np
    import torch

    path = Path(path)
    if not path.is_file():
        raise DataError("weights file not found", file=path, field="weights",
                        fix="check the path, or pass weights='random'")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as err:
        raise DataError(
            "cannot read the weights file as a torch state dict", file=path, field="weights",
            found=str(err).splitlines()[0] if str(err) else type(err).__name__,
            fix="save it with torch.save(model.state_dict(), path)",
        ) from err
    if isinstance(state, dict):
        for wrapper in ("state_dict", "model"):
            if isinstance(state.get(wrapper), dict) and len(state) <= 8:
                state = state[wrapper]
                break
    if not isinstance(state, dict):
        raise DataError("the weights file holds no state dict", file=path, field="weights",
                        found=type(state).__name__,
                        fix="save it with torch.save(model.state_dict(), path)")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    if convert is not None:
        state = convert(state)
    state = {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in state.items()}
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and hasattr(state[k], "shape")
              and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                            ("shape mismatches", shapes)):
            if keys:
                shown = ", ".join(keys[:8]) + (f", … ({len(keys)} in all)" if len(keys) > 8
                                               else "")
                parts.append(f"{label}: {shown}")
        # the key lists go in the sentence itself: `found` is shortened for display
        raise DataError(
            f"the weights file does not match the architecture {type(module).__name__} ("
            + "; ".join(parts) + ")", file=path, field="weights",
            fix="use a file saved from the same architecture and options (e.g. num_classes)",
        )
    module.load_state_dict(state, strict=True)
    return module


# --- input checks -------------------------------------------------------------------------

def check_batch(extractor: Extractor, batch) -> None:
    """Raise a DataError unless ``batch`` is 4-D with the extractor's input channel count."""
    channels = extractor.input_spec.channels
    shape = tuple(getattr(batch, "shape", ()))
    if len(shape) != 4 or shape[1] != channels:
        kind = "grayscale" if channels == 1 else "RGB"
        raise DataError(
            f"{extractor.name!r} expects {kind} input batches (n, {channels}, height, width)",
            field="batch", found=shape,
            fix="convert images with the extractor's input_spec (extract_features does this); "
                + ("for a grayscale network use the luminance 0.299 R + 0.587 G + 0.114 B"
                   if channels == 1 else "repeat a grayscale channel three times"),
        )
