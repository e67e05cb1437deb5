"""The seed studies' face networks, registered as extractors.

=====================  ===========================================================================
name                   network
=====================  ===========================================================================
``vggface``            VGG-16 with a 2622-identity head (VGG-Face, Parkhi et al. 2015); 224 px RGB
``vggface2_resnet50``  ResNet-50 with an 8631-identity head (VGGFace2, Cao et al. 2018); 224 px RGB
``resnet18_gray``      ResNet-18 with a one-channel first convolution (grayscale input)
``densenet_face``      DenseNet, growth rate 32, depth 13, compression 0.5, 48×48 grayscale input;
                       1503 identities or 7 expressions
``siamese``            verification wrapper: a shared backbone (any registered extractor) and a
                       distance head
=====================  ===========================================================================

Every network is built with seeded random weights (``weights="random"``, the untrained control)
or from a local state-dict file, checked strictly: a file that does not fit names its missing and
unexpected keys. The common converted VGG-Face and VGGFace2 files are accepted as they are
distributed (see :meth:`VGGFaceExtractor.convert_state_dict` and
:meth:`VGGFace2ResNet50Extractor.convert_state_dict`). No pretrained weights are downloaded.

ReLUs are not in-place, so that a layer's features are its own output even when the next node is
a ReLU.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from .._check import check_option, validate_type
from ..errors import DataError
from .base import (
    Extractor,
    FaceCrop,
    InputSpec,
    check_batch,
    classify_weights,
    load_state_dict_file,
)
from .crops import FER_BOX
from .facenets import (
    _VGG16_CONVS,
    DenseNetFace,
    SiameseNet,
    VGGFace,
    _caffe_style,
    dense_layers_per_block,
)

__all__ = [
    "DenseNetFace",
    "DenseNetFaceExtractor",
    "ResNet18GrayExtractor",
    "SiameseExtractor",
    "SiameseNet",
    "VGGFace",
    "VGGFace2ResNet50Extractor",
    "VGGFaceExtractor",
]

#: VGG-Face / VGGFace2 preprocessing: RGB means of 0–255 images, no scaling. With pixels scaled
#: to [0, 1] first, ``(x - m / 255) / (1 / 255) = 255 x - m``, the original input.
VGGFACE_MEAN_255 = (129.1863, 104.7624, 93.5940)
VGGFACE2_MEAN_255 = (131.0912, 103.8827, 91.4953)
#: identities of the 48×48 grayscale identity training set (the DenseNet's identity head)
FACE_IDENTITIES = 1503
#: basic expressions (FER2013: angry, disgust, fear, happy, sad, surprise, neutral)
FACE_EXPRESSIONS = 7


# --- base class ---------------------------------------------------------------------------

class SeedExtractor(Extractor):
    """Common behaviour of the seed-study extractors.

    Subclasses implement :meth:`create`; this class adds state-dict key conversion on load, a
    check of the input's channel count, a layer list computed once, and an error for named
    (downloadable) weights, which these networks do not have.
    """

    #: where users find trained weights (shown when a weights name is given)
    weights_hint = "train the network or convert published weights to a PyTorch state dict"
    #: name of the classification head module (replaced by the embedding in :class:`SiameseNet`)
    head = "fc"

    def __init__(self, **options):
        super().__init__(**options)
        self._layer_cache: list[str] | None = None

    def build(self, weights="random", seed=0):
        """The network in eval mode; see :meth:`Extractor.build`.

        A weights file goes through :meth:`convert_state_dict` before the strict key check.
        """
        kind, value = classify_weights(weights)
        if kind != "file":
            return super().build(weights, seed)
        module = super().build("random", seed)
        load_state_dict_file(module, value,
                             convert=lambda state: _bn_counters(self.convert_state_dict(state)))
        return module.eval()

    def convert_state_dict(self, state: dict) -> dict:
        """Rename a loaded state dict's keys to this architecture's (default: drop ``module.``)."""
        return strip_module_prefix(state)

    def load_named_weights(self, name: str):
        raise DataError(
            f"extractor {self.name!r} has no downloadable weights", field="weights", found=name,
            fix="pass weights='random' or the path of a local state-dict file "
                f"({self.weights_hint})",
        )

    def layers(self, module=None) -> list[str]:
        if module is not None:
            return super().layers(module)
        if self._layer_cache is None:
            self._layer_cache = super().layers(None)
        return list(self._layer_cache)

    def features(self, module, batch, layers):
        """Activations of ``layers`` for one batch; see :meth:`Extractor.features`.

        Raises
        ------
        DataError
            ``batch`` is not ``(n, channels, height, width)`` with the channel count of
            :attr:`input_spec` (a grayscale network given RGB images or vice versa; the image
            pipeline of :func:`~ieegrsa.models.extract_features` converts images to the spec).
        """
        check_batch(self, batch)
        return super().features(module, batch, layers)


def strip_module_prefix(state: dict) -> dict:
    """Drop the ``module.`` prefixes that ``torch.nn.DataParallel`` adds to every key."""
    out = {}
    for key, value in state.items():
        while key.startswith("module."):
            key = key[len("module."):]
        out[key] = value
    return out


def _bn_counters(state: dict) -> dict:
    """Add the ``num_batches_tracked`` counters that files from torch < 0.4.1 lack.

    The counter only matters for training with ``momentum=None``; evaluation never reads it.
    """
    out = dict(state)
    for key in state:
        if key.endswith(".running_mean"):
            out.setdefault(key[: -len("running_mean")] + "num_batches_tracked",
                           torch.tensor(0, dtype=torch.long))
    return out


def _flip_input_channels(weight):
    """First-conv weights for RGB input from weights trained on BGR input (exact)."""
    return weight.flip(1) if isinstance(weight, torch.Tensor) else weight[:, ::-1].copy()


def _as_linear(weight):
    """A fully connected layer stored as a convolution: ``(out, in, kh, kw)`` -> a matrix.

    The flattening order (channel, row, column) is that of ``torch.flatten`` on ``(n, c, h, w)``.
    """
    return weight.reshape(weight.shape[0], -1) if weight.ndim == 4 else weight


def _no_inplace(module: nn.Module) -> nn.Module:
    for sub in module.modules():
        if isinstance(sub, nn.ReLU):
            sub.inplace = False
    return module


def _check_classes(num_classes) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise DataError("num_classes must be a positive integer", field="num_classes",
                        found=num_classes)
    return num_classes


def _face_objective(objective, num_classes):
    """(objective, num_classes) of a face network trained on identity or expression labels."""
    if objective is None:
        objective = "expression" if num_classes == FACE_EXPRESSIONS else "identity"
    check_option("objective", objective, ("identity", "expression"))
    if num_classes is None:
        num_classes = FACE_IDENTITIES if objective == "identity" else FACE_EXPRESSIONS
    return objective, _check_classes(num_classes)


def _gray_spec(size, mean, std) -> InputSpec:
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise DataError("input size must be an integer of at least 16 px", field="size",
                        found=size)
    mean, std = (float(mean),), (float(std),)
    if not std[0] > 0:
        raise DataError("std must be positive", field="std", found=std[0])
    return InputSpec(size=size, resize=None, grayscale=True, mean=mean, std=std)


# --- VGG-Face -----------------------------------------------------------------------------

#: torchvision ``vgg16().features`` indices of the convolutions, and of the classifier's Linears
_TV_FEATURE_CONV = dict(zip((0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28), _VGG16_CONVS))
_TV_CLASSIFIER = {0: "fc6", 3: "fc7", 6: "fc8"}


class VGGFaceExtractor(SeedExtractor):
    """VGG-Face: VGG-16 trained to classify 2622 identities (Parkhi et al. 2015).

    Parameters
    ----------
    num_classes : int
        Identities of the head (default 2622).
    channel_order : {"rgb", "bgr"}
        Channel order the weights file was trained on. The original Caffe model takes BGR
        images; the MatConvNet/PyTorch conversions (``vgg_face_dag.pth``) take RGB. With
        ``"bgr"`` the first convolution's input channels are reversed on loading, which is
        exactly equivalent, so the network always takes RGB input.

    Notes
    -----
    Input: the face box widened by 0.3 of its side on every side and clipped at the image edge
    (:attr:`face_crop`), resized to 224×224 RGB, 0–255 pixel values minus the training-set
    mean ``(129.1863, 104.7624, 93.5940)`` (R, G, B), no scaling; as an :class:`InputSpec` on
    [0, 1] pixels: ``mean = m / 255``, ``std = 1 / 255``. Parkhi et al. (2015) trained on
    detector boxes without stating the margin; the 0.3 extension is the one the VGGFace2
    authors give for their models (below), taken here for both as the nearest published crop.

    Layers: the :class:`VGGFace` module names (``conv1_1`` … ``pool5``, ``fc6``, ``relu6``,
    ``fc7``, ``relu7``, ``fc8`` …). Default layers: the five pools, ``relu6``, ``relu7`` and
    ``fc8``.
    """

    name = "vggface"
    objective = "identity"
    head = "fc8"
    input_spec = InputSpec(size=224, resize=None, mean=tuple(m / 255 for m in VGGFACE_MEAN_255),
                           std=(1 / 255,) * 3)
    face_crop = FaceCrop("box", margin=0.3, outside="clip",
                         source="VGGFace2 convention (face box extended by 0.3, clipped); "
                                "Parkhi et al. 2015 give no margin")
    weights_hint = ("e.g. vgg_face_dag.pth of the PyTorch conversion of VGG-Face, or any "
                    "state dict in torchvision vgg16 layout")

    def __init__(self, num_classes: int = 2622, channel_order: str = "rgb"):
        _check_classes(num_classes)
        check_option("channel_order", channel_order, ("rgb", "bgr"))
        super().__init__(num_classes=num_classes, channel_order=channel_order)

    def create(self):
        return VGGFace(self.options["num_classes"])

    def default_layers(self) -> list[str]:
        return ["pool1", "pool2", "pool3", "pool4", "pool5", "relu6", "relu7", "fc8"]

    def convert_state_dict(self, state: dict) -> dict:
        """Map the key names of the common VGG-Face state dicts to :class:`VGGFace`'s.

        Accepted layouts (also mixed, and with ``module.`` prefixes from ``DataParallel``):

        - VGG-Face names ``conv1_1.weight`` … ``conv5_3.bias``, ``fc6`` … ``fc8`` (the
          MatConvNet → PyTorch conversion ``vgg_face_dag``); ``conv_1_1`` spelt with an
          underscore (another widely used conversion) is accepted too;
        - torchvision ``vgg16`` layout ``features.<i>.weight``, ``classifier.<i>.weight``;
        - fully connected layers stored as convolutions (``fc6.weight`` of shape
          ``(4096, 512, 7, 7)``, Caffe style) are reshaped to matrices.

        Keys that fit none of these are kept, so the strict check reports them as unexpected.
        """
        out = {}
        for key, value in strip_module_prefix(state).items():
            key = re.sub(r"^conv_(\d)_(\d)\.", r"conv\1_\2.", key)
            match = re.fullmatch(r"(features|classifier)\.(\d+)\.(weight|bias)", key)
            if match:
                table = _TV_FEATURE_CONV if match[1] == "features" else _TV_CLASSIFIER
                if int(match[2]) in table:
                    key = f"{table[int(match[2])]}.{match[3]}"
            if re.fullmatch(r"fc[678]\.weight", key):
                value = _as_linear(value)
            out[key] = value
        if self.options["channel_order"] == "bgr" and "conv1_1.weight" in out:
            out["conv1_1.weight"] = _flip_input_channels(out["conv1_1.weight"])
        return out


# --- ResNets ------------------------------------------------------------------------------

#: Caffe/MatConvNet ResNet names -> torchvision: conv<stage>_<block>_<part>[_bn]
_CAFFE_PART = {"1x1_reduce": ("conv1", "bn1"), "3x3": ("conv2", "bn2"),
               "1x1_increase": ("conv3", "bn3"), "1x1_proj": ("downsample.0", "downsample.1")}
_CAFFE_KEY = re.compile(r"conv(\d)_(\d+)_(1x1_reduce|3x3|1x1_increase|1x1_proj)(_bn)?\.(\w+)")


class VGGFace2ResNet50Extractor(SeedExtractor):
    """ResNet-50 trained to classify the 8631 training identities of VGGFace2 (Cao et al. 2018).

    Parameters
    ----------
    num_classes : int
        Identities of the head (default 8631).
    stride_in_1x1 : bool
        Build the original Caffe ResNet-50 the VGGFace2 models were trained as (default): the
        stride-2 of each down-sampling block sits in its first 1×1 convolution and the stem
        max-pool has no padding and rounds up. ``False`` gives torchvision's ResNet-50 (stride
        in the 3×3 convolution), for weights trained with torchvision. The state-dict keys are
        the same either way; the computation is not.
    channel_order : {"rgb", "bgr"}
        Channel order the weights were trained on: the Caffe models and their direct
        conversions take BGR, the MatConvNet conversions (``resnet50_ft_dag.pth``) RGB. With
        ``"bgr"`` the first convolution's input channels are reversed on loading (exact).

    Notes
    -----
    Input: the face box extended by a factor 0.3 on every side, except past the image edge
    (:attr:`face_crop`; the VGGFace2 models' release notes: MTCNN box extended by 0.3 "to
    include the whole head"), then the shorter side resized to 256 px, centre-crop 224×224,
    RGB, 0–255 pixel values minus ``(131.0912, 103.8827, 91.4953)`` (R, G, B), no scaling (the
    VGGFace2 protocol). The box here is dlib's, which is tighter than MTCNN's.

    Layers: torchvision ResNet node names (``conv1``, ``layer1`` … ``layer4.2.relu_2``,
    ``avgpool``, ``flatten``, ``fc``). Default layers: ``maxpool``, ``layer1`` … ``layer4``,
    ``avgpool`` (the 2048-d face descriptor) and ``fc``.
    """

    name = "vggface2_resnet50"
    objective = "identity"
    input_spec = InputSpec(size=224, resize=256,
                           mean=tuple(m / 255 for m in VGGFACE2_MEAN_255), std=(1 / 255,) * 3)
    face_crop = FaceCrop("box", margin=0.3, outside="clip",
                         source="VGGFace2 (Cao et al. 2018): face box extended by 0.3, clipped")
    weights_hint = ("e.g. resnet50_ft_dag.pth of the MatConvNet conversion of the VGGFace2 "
                    "models, or a state dict in torchvision resnet50 layout")

    def __init__(self, num_classes: int = 8631, stride_in_1x1: bool = True,
                 channel_order: str = "rgb"):
        _check_classes(num_classes)
        check_option("channel_order", channel_order, ("rgb", "bgr"))
        super().__init__(num_classes=num_classes, stride_in_1x1=bool(stride_in_1x1),
                         channel_order=channel_order)

    def create(self):
        import torchvision

        net = torchvision.models.resnet50(weights=None, num_classes=self.options["num_classes"])
        if self.options["stride_in_1x1"]:
            net = _caffe_style(net)
        return _no_inplace(net)

    def default_layers(self) -> list[str]:
        return ["maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]

    def convert_state_dict(self, state: dict) -> dict:
        """Map the key names of the common VGGFace2 ResNet-50 state dicts to torchvision's.

        Accepted: torchvision layout (``conv1.weight``, ``layer1.0.conv1.weight`` …,
        ``fc.weight``); the same with the head named ``classifier`` (possibly a 1×1
        convolution); the MatConvNet/Caffe names of ``resnet50_ft_dag``/``resnet50_scratch_dag``
        (``conv1_7x7_s2``, ``conv2_1_1x1_reduce_bn``, ``conv3_1_1x1_proj``, ``classifier`` …);
        all with or without ``module.`` prefixes.
        """
        out = {}
        for key, value in strip_module_prefix(state).items():
            match = _CAFFE_KEY.fullmatch(key)
            if match:
                stage, block, part, bn, leaf = match.groups()
                name = _CAFFE_PART[part][1 if bn else 0]
                key = f"layer{int(stage) - 1}.{int(block) - 1}.{name}.{leaf}"
            elif key.startswith("conv1_7x7_s2_bn."):
                key = "bn1." + key.split(".", 1)[1]
            elif key.startswith("conv1_7x7_s2."):
                key = "conv1." + key.split(".", 1)[1]
            elif key.startswith("classifier."):
                key = "fc." + key.split(".", 1)[1]
            if key == "fc.weight":
                value = _as_linear(value)
            out[key] = value
        if self.options["channel_order"] == "bgr" and "conv1.weight" in out:
            out["conv1.weight"] = _flip_input_channels(out["conv1.weight"])
        return out


class ResNet18GrayExtractor(SeedExtractor):
    """ResNet-18 with a one-channel first convolution, for grayscale face images.

    torchvision's ResNet-18 (He et al. 2016) with ``conv1`` a 7×7 stride-2 convolution from one
    input channel; everything else, including the initialisation, is torchvision's.

    Parameters
    ----------
    num_classes : int | None
        Classes of the head. Default: 1503 identities (the identity training set of the
        grayscale networks, as for ``densenet_face``), or 7 with ``objective="expression"``.
    objective : {"identity", "expression"} | None
        What the trained weights classify; default from ``num_classes`` (7 → expression).
    size : int
        Input side in px (default 48, the grayscale face training images; the whole image is
        resized). At 48 px the stages give 12, 12, 6, 3 and 2 px maps.
    mean, std : float
        Normalisation of [0, 1] pixels (default 0 and 1: pixels / 255, as the networks were
        trained); pass the training values of other weights.

    Notes
    -----
    Layers: torchvision ResNet node names. Default layers: ``maxpool``, ``layer1`` …
    ``layer4``, ``avgpool``, ``fc``.
    """

    name = "resnet18_gray"
    # FER2013's 48-px faces are registered face boxes (Goodfellow et al. 2013): fer's box crop
    face_crop = FER_BOX
    objective = "identity"

    def __init__(self, num_classes: int | None = None, objective: str | None = None,
                 size: int = 48, mean: float = 0.0, std: float = 1.0):
        objective, num_classes = _face_objective(objective, num_classes)
        self.objective = objective
        self.input_spec = _gray_spec(size, mean, std)
        super().__init__(num_classes=num_classes, objective=objective, size=size,
                         mean=float(mean), std=float(std))

    def create(self):
        import torchvision

        net = torchvision.models.resnet18(weights=None, num_classes=self.options["num_classes"])
        net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        return _no_inplace(net)

    def default_layers(self) -> list[str]:
        return ["maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]


# --- DenseNet -----------------------------------------------------------------------------

class DenseNetFaceExtractor(SeedExtractor):
    """The DenseNet of the identity- vs expression-trained face networks (48×48 grayscale).

    Growth rate 32, depth 13, reduction (compression) 0.5, no bottleneck: three dense blocks of
    three 3×3 convolutions; see :class:`DenseNetFace` for the arithmetic and channel counts.

    Parameters
    ----------
    num_classes : int | None
        Classes of the head: 1503 identities (default) or 7 expressions (FER2013 labels).
    objective : {"identity", "expression"} | None
        What the trained weights classify; default from ``num_classes`` (7 → expression), and
        ``num_classes`` from it when only the objective is given.
    depth, growth_rate, reduction, bottleneck
        Architecture (defaults 13, 32, 0.5, False).
    size : int
        Input side in px (default 48; the whole image is resized to it).
    mean, std : float
        Normalisation of [0, 1] pixels (default 0 and 1, i.e. pixels / 255).

    Notes
    -----
    Default layers: ``features.conv0``, the three dense blocks, the two transitions,
    ``avgpool`` (the embedding) and ``classifier``.
    """

    name = "densenet_face"
    # FER2013's 48-px faces are registered face boxes (Goodfellow et al. 2013): fer's box crop
    face_crop = FER_BOX
    objective = "identity"
    head = "classifier"

    def __init__(self, num_classes: int | None = None, objective: str | None = None,
                 depth: int = 13, growth_rate: int = 32, reduction: float = 0.5,
                 bottleneck: bool = False, size: int = 48, mean: float = 0.0,
                 std: float = 1.0):
        objective, num_classes = _face_objective(objective, num_classes)
        dense_layers_per_block(depth, bottleneck)
        if isinstance(growth_rate, bool) or not isinstance(growth_rate, int) or growth_rate < 1:
            raise DataError("growth_rate must be a positive integer", field="growth_rate",
                            found=growth_rate)
        if not 0 <= reduction < 1:
            raise DataError("reduction must be in [0, 1)", field="reduction", found=reduction)
        self.objective = objective
        self.input_spec = _gray_spec(size, mean, std)
        super().__init__(num_classes=num_classes, objective=objective, depth=depth,
                         growth_rate=growth_rate, reduction=float(reduction),
                         bottleneck=bool(bottleneck), size=size, mean=float(mean),
                         std=float(std))

    def create(self):
        opts = self.options
        return DenseNetFace(opts["num_classes"], depth=opts["depth"],
                            growth_rate=opts["growth_rate"], reduction=opts["reduction"],
                            bottleneck=opts["bottleneck"])

    def default_layers(self) -> list[str]:
        return ["features.conv0", "features.denseblock1", "features.transition1",
                "features.denseblock2", "features.transition2", "features.denseblock3",
                "avgpool", "classifier"]


# --- Siamese ------------------------------------------------------------------------------

class SiameseExtractor(SeedExtractor):
    """A Siamese verification network around any registered backbone.

    Parameters
    ----------
    backbone : str | Extractor
        The shared backbone: a registry name (default ``"resnet18_gray"``; not ``"siamese"``),
        which :func:`~ieegrsa.models.get_extractor` builds (this class :attr:`wraps` it), or an
        extractor.
    backbone_options : dict | None
        Options of the backbone (e.g. ``{"num_classes": 7}``; its head is dropped, so only
        options that change the trunk matter). Default for an extractor given: its own.

    Notes
    -----
    The network is :class:`SiameseNet`: objective ``identity`` (same/different person), input
    spec the backbone's. Features are computed on single images by the shared backbone: the
    layers are the backbone's, prefixed ``backbone.``; the backbone's head layer (e.g.
    ``backbone.fc``) is an identity giving the embedding. The distance head needs image pairs
    and is not a selectable layer. Default layers: the backbone's, without its head.

    A weights file holds the whole Siamese state dict (``backbone.*`` and ``head.*`` keys, as
    saved from :class:`SiameseNet`); ``backbone.*`` keys go through the backbone's own key
    conversion (so a converted VGG-Face trunk under ``backbone.`` loads).
    """

    name = "siamese"
    objective = "identity"
    wraps = ("backbone",)

    def __init__(self, backbone: str | Extractor = "resnet18_gray",
                 backbone_options: dict | None = None):
        # a name is built by the registry (``wraps``); constructed directly, an extractor
        validate_type("backbone", backbone, Extractor,
                      type_name="an Extractor (get_extractor('siamese', backbone=name) builds "
                                "one from a name)")
        if isinstance(backbone, SiameseExtractor):
            raise DataError("a Siamese backbone cannot itself be Siamese", field="backbone",
                            found=backbone.name)
        options = backbone.get_options() if backbone_options is None else dict(backbone_options)
        self.backbone = backbone
        self.input_spec = backbone.input_spec
        super().__init__(backbone=backbone.name, backbone_options=options)

    def create(self):
        return SiameseNet(self.backbone.create())

    def layers(self, module=None) -> list[str]:
        if module is None:
            if self._layer_cache is None:
                self._layer_cache = self.layers(self._skeleton())
            return list(self._layer_cache)
        return ["backbone." + name for name in self.backbone.layers(module.backbone)]

    def default_layers(self) -> list[str]:
        head = self._skeleton().head_name
        return ["backbone." + name for name in self.backbone.default_layers() if name != head]

    def features(self, module, batch, layers):
        check_batch(self, batch)
        inner = []
        for name in layers:
            if not name.startswith("backbone."):
                raise DataError(f"unknown layer for {self.name!r}", field="layers", found=name,
                                fix="Siamese layers are the backbone's, prefixed 'backbone.'")
            inner.append(name[len("backbone."):])
        out = self.backbone.features(module.backbone, batch, inner)
        return {"backbone." + name: out[name] for name in inner}

    def convert_state_dict(self, state: dict) -> dict:
        state = strip_module_prefix(state)
        inner = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
        if isinstance(self.backbone, SeedExtractor):
            inner = self.backbone.convert_state_dict(inner)
        out = {k: v for k, v in state.items() if not k.startswith("backbone.")}
        out.update({"backbone." + k: v for k, v in inner.items()})
        return out


# --- registration -------------------------------------------------------------------------

#: registry name → extractor, loaded by :mod:`ieegrsa.models.registry` on first lookup
EXTRACTORS = {
    "vggface": VGGFaceExtractor,
    "vggface2_resnet50": VGGFace2ResNet50Extractor,
    "resnet18_gray": ResNet18GrayExtractor,
    "densenet_face": DenseNetFaceExtractor,
    "siamese": SiameseExtractor,
}
