"""The seed studies' face networks as plain :class:`torch.nn.Module` classes.

:mod:`ieegrsa.models.architectures` wraps each in an extractor (input format, layers, weights
files). ReLUs are not in-place, so that a layer's features are its own output even when the next
node is a ReLU.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..errors import DataError

__all__ = ["VGGFace", "DenseNetFace", "SiameseNet", "dense_layers_per_block"]

#: VGG-16 (configuration D): (block, convolutions, channels)
_VGG16_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))
_VGG16_CONVS = [f"conv{b}_{i}" for b, n, _ in _VGG16_BLOCKS for i in range(1, n + 1)]


def _bare_linear(n_in: int, n_out: int) -> nn.Linear:
    """An uninitialised ``nn.Linear`` on the default device (``meta`` while listing layers).

    Skips the default initialisation, which the caller replaces anyway (0.7 s for ``fc6``).
    """
    return nn.Linear(n_in, n_out, device="meta").to_empty(device=torch.empty(0).device)


class VGGFace(nn.Sequential):
    """VGG-16 with the VGG-Face layer names (Parkhi, Vedaldi & Zisserman 2015).

    Thirteen 3×3 convolutions (``conv1_1`` … ``conv5_3``, each followed by ``relu<b>_<i>``) in
    five blocks closed by 2×2 max-pools ``pool1`` … ``pool5``; then ``flatten`` (512·7·7 =
    25088 values for a 224 px input), ``fc6`` and ``fc7`` (4096 units, ``relu6``/``relu7``,
    dropout ``drop6``/``drop7``) and ``fc8`` (one logit per identity).

    Parameters
    ----------
    num_classes : int
        Identities of the head (2622 in VGG-Face).

    Notes
    -----
    Initialisation as torchvision's VGG: Kaiming-normal (fan-out) convolutions, N(0, 0.01)
    fully connected weights, zero biases.
    """

    def __init__(self, num_classes: int = 2622):
        layers, channels = [], 3
        for block, n_convs, width in _VGG16_BLOCKS:
            for i in range(1, n_convs + 1):
                layers += [(f"conv{block}_{i}", nn.Conv2d(channels, width, 3, padding=1)),
                           (f"relu{block}_{i}", nn.ReLU())]
                channels = width
            layers.append((f"pool{block}", nn.MaxPool2d(2, 2)))
        layers += [("flatten", nn.Flatten(1)),
                   ("fc6", _bare_linear(512 * 7 * 7, 4096)), ("relu6", nn.ReLU()),
                   ("drop6", nn.Dropout(0.5)),
                   ("fc7", _bare_linear(4096, 4096)), ("relu7", nn.ReLU()),
                   ("drop7", nn.Dropout(0.5)),
                   ("fc8", _bare_linear(4096, num_classes))]
        super().__init__(OrderedDict(layers))
        for sub in self.modules():
            if isinstance(sub, nn.Conv2d):
                nn.init.kaiming_normal_(sub.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(sub.bias)
            elif isinstance(sub, nn.Linear):
                nn.init.normal_(sub.weight, 0.0, 0.01)
                nn.init.zeros_(sub.bias)


def _caffe_style(resnet: nn.Module) -> nn.Module:
    """Turn a torchvision ResNet into the original (Caffe, MSRA) ResNet of the same depth.

    The down-sampling blocks take their stride in the first 1×1 convolution instead of the 3×3
    one (torchvision's "v1.5"), and the stem max-pool has no padding and rounds up; at 224 px
    every feature map keeps its size (112 → 56 → 28 → 14 → 7).
    """
    resnet.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=0, ceil_mode=True)
    for stage in (resnet.layer2, resnet.layer3, resnet.layer4):
        first = stage[0]
        first.conv1.stride, first.conv2.stride = first.conv2.stride, (1, 1)
    return resnet


class _DenseLayer(nn.Sequential):
    """BN-ReLU-Conv3×3 producing ``growth_rate`` maps; with a bottleneck BN-ReLU-Conv1×1 to
    ``4·growth_rate`` maps first (DenseNet-B)."""

    def __init__(self, in_channels: int, growth_rate: int, bottleneck: bool):
        layers = []
        if bottleneck:
            width = 4 * growth_rate
            layers += [("norm0", nn.BatchNorm2d(in_channels)), ("relu0", nn.ReLU()),
                       ("conv0", nn.Conv2d(in_channels, width, 1, bias=False))]
            in_channels = width
        layers += [("norm1", nn.BatchNorm2d(in_channels)), ("relu1", nn.ReLU()),
                   ("conv1", nn.Conv2d(in_channels, growth_rate, 3, padding=1, bias=False))]
        super().__init__(OrderedDict(layers))


class _DenseBlock(nn.ModuleDict):
    """``n_layers`` dense layers, each fed the concatenation of the block input and all earlier
    layers' outputs; the block outputs that concatenation plus the last layer's maps."""

    def __init__(self, n_layers, in_channels, growth_rate, bottleneck):
        super().__init__()
        for i in range(n_layers):
            self[f"denselayer{i + 1}"] = _DenseLayer(in_channels + i * growth_rate, growth_rate,
                                                     bottleneck)

    def forward(self, x):
        maps = [x]
        for layer in self.values():
            maps.append(layer(torch.cat(maps, 1)))
        return torch.cat(maps, 1)


class _Transition(nn.Sequential):
    """BN-ReLU-Conv1×1 compressing the channels, then 2×2 average pooling."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(OrderedDict([
            ("norm", nn.BatchNorm2d(in_channels)), ("relu", nn.ReLU()),
            ("conv", nn.Conv2d(in_channels, out_channels, 1, bias=False)),
            ("pool", nn.AvgPool2d(2, 2)),
        ]))


class DenseNetFace(nn.Module):
    """A small DenseNet for 48×48 grayscale faces (Huang et al. 2017, the three-block design).

    Depth counts the convolutional and fully connected layers on the longest path:
    ``depth = 3·n·(2 if bottleneck else 1) + 4``, the 4 being the initial convolution, the two
    transition convolutions and the classifier. Depth 13 without bottlenecks gives
    ``n = (13 - 4) / 3 = 3`` layers per block, three dense blocks of 3×3 convolutions, exactly;
    with bottlenecks ``(13 - 4) / 6`` is not whole and is rounded down to 1 (as the reference
    implementations do), which is why the default has none.

    With growth rate ``k = 32``, ``2k = 64`` initial maps and compression 0.5 (the "reduction"
    of Keras DenseNets; each transition keeps half the channels) the channels are::

        conv0 (3×3)     1 → 64                        48×48
        denseblock1     64 + 3·32 = 160               48×48
        transition1     160 → 80, 2×2 average pool    24×24
        denseblock2     80 + 96 = 176                 24×24
        transition2     176 → 88, pool                12×12
        denseblock3     88 + 96 = 184                 12×12
        norm5, relu5, global average pool, classifier 184 → num_classes

    Parameters
    ----------
    num_classes : int
    depth : int
        See above; ``(depth - 4)`` must be a multiple of 3.
    growth_rate : int
    reduction : float
        Fraction of channels a transition removes: it keeps ``floor((1 - reduction)·c)``.
    bottleneck : bool
    in_channels : int

    Notes
    -----
    Module names follow torchvision's DenseNets (``features.conv0``,
    ``features.denseblock1.denselayer1.conv1``, ``features.transition1.conv``,
    ``features.norm5``, ``classifier``). Initialisation: Kaiming-normal convolutions, unit
    BatchNorm scales, zero biases.
    """

    def __init__(self, num_classes: int, depth: int = 13, growth_rate: int = 32,
                 reduction: float = 0.5, bottleneck: bool = False, in_channels: int = 1):
        super().__init__()
        per_block = dense_layers_per_block(depth, bottleneck)
        channels = 2 * growth_rate
        stages = [("conv0", nn.Conv2d(in_channels, channels, 3, padding=1, bias=False))]
        for block in (1, 2, 3):
            stages.append((f"denseblock{block}",
                           _DenseBlock(per_block, channels, growth_rate, bottleneck)))
            channels += per_block * growth_rate
            if block < 3:
                kept = int((1 - reduction) * channels)
                stages.append((f"transition{block}", _Transition(channels, kept)))
                channels = kept
        stages += [("norm5", nn.BatchNorm2d(channels)), ("relu5", nn.ReLU())]
        self.features = nn.Sequential(OrderedDict(stages))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.classifier = nn.Linear(channels, num_classes)
        for sub in self.modules():
            if isinstance(sub, nn.Conv2d):
                nn.init.kaiming_normal_(sub.weight)
            elif isinstance(sub, nn.BatchNorm2d):
                nn.init.ones_(sub.weight)
                nn.init.zeros_(sub.bias)
            elif isinstance(sub, nn.Linear):
                nn.init.zeros_(sub.bias)

    def forward(self, x):
        return self.classifier(self.flatten(self.avgpool(self.features(x))))


def dense_layers_per_block(depth: int, bottleneck: bool) -> int:
    """Dense layers per block of a three-block DenseNet of ``depth`` layers (see DenseNetFace)."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 7 or (depth - 4) % 3:
        raise DataError("DenseNet depth must be an integer 3·n + 4 (n ≥ 1)", field="depth",
                        found=depth, fix="e.g. depth=13 (3 layers per block) or 40")
    per_block = (depth - 4) // 3
    if bottleneck:
        per_block //= 2
        if per_block < 1:
            raise DataError("a bottleneck DenseNet needs depth ≥ 10", field="depth", found=depth)
    return per_block


class SiameseNet(nn.Module):
    """Verification network: one shared backbone embeds both images; a linear head scores
    ``|e1 - e2|``.

    ``forward(x1, x2)`` returns the logit ``w · |f(x1) - f(x2)| + b`` of "same identity", shape
    ``(n,)``; :meth:`embed` gives ``f(x)``, the backbone's penultimate features (its
    classification head is replaced by ``nn.Identity``).

    Parameters
    ----------
    backbone : torch.nn.Module
        A classifier whose last ``nn.Linear`` is its head.
    """

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.head_name, dim = _drop_head(backbone)
        self.backbone = backbone
        self.head = nn.Linear(dim, 1)

    def embed(self, x):
        return torch.flatten(self.backbone(x), 1)

    def forward(self, x1, x2):
        return self.head(torch.abs(self.embed(x1) - self.embed(x2))).squeeze(1)


def _drop_head(module: nn.Module) -> tuple[str, int]:
    """Replace the last ``nn.Linear`` of ``module`` by ``nn.Identity``; (its name, in_features)."""
    linears = [(name, sub) for name, sub in module.named_modules() if isinstance(sub, nn.Linear)]
    if not linears:
        raise DataError("the Siamese backbone has no fully connected classification head",
                        field="backbone", found=type(module).__name__,
                        fix="choose a backbone whose last layer is an nn.Linear")
    name, linear = linears[-1]
    parent_name, _, attr = name.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    setattr(parent, attr, nn.Identity())
    return name, linear.in_features
