"""Every torchvision classification model as an :class:`~ieegrsa.models.base.Extractor`.

Names are torchvision's (``torchvision.models.list_models(module=torchvision.models)``:
``resnet50``, ``vgg16``, ``vit_b_16`` …); options pass to ``torchvision.models.get_model``
(e.g. ``num_classes``). Layers are FX graph node names of the eval-mode graph.

Weights
-------
``"random"``
    Seeded random initialisation (torchvision's own initialisation scheme): the untrained
    control; :meth:`~Extractor.objective_of` gives ``"untrained"``.
a torchvision weights name
    ``"DEFAULT"``, ``"IMAGENET1K_V1"`` or the full ``"ResNet50_Weights.IMAGENET1K_V2"``. The
    file is taken from the torch hub cache (``$TORCH_HOME/hub/checkpoints``, by default
    ``~/.cache/torch/hub/checkpoints``) or downloaded there; offline, a DataError says where to
    put the file. ``objective`` is ``"object"`` (ImageNet classification).
a state-dict file
    Loaded into the architecture with a strict key check.

The input spec (size, resize, mean, std) follows the preprocessing of the model's ``DEFAULT``
weights (e.g. 299 px for ``inception_v3``); pass ``transform=`` to :func:`extract_features` to
use another one.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

from ..errors import DataError
from .base import IMAGENET_MEAN, IMAGENET_STD, Extractor, InputSpec, classify_weights
from .layers import evenly_spaced

__all__ = ["TorchvisionExtractor", "torchvision_names"]

# constructors whose default initialisation warns about a future change; keep the paper's
_INIT_WEIGHTS = ("googlenet", "inception_v3")


@functools.lru_cache(maxsize=1)
def _names() -> tuple[str, ...]:
    import torchvision

    return tuple(torchvision.models.list_models(module=torchvision.models))


def torchvision_names() -> list[str]:
    """Names of every torchvision classification model."""
    return list(_names())


@functools.cache
def _input_spec(name: str) -> InputSpec:
    import torchvision

    try:
        keywords = torchvision.models.get_model_weights(name).DEFAULT.transforms.keywords
    except (AttributeError, ValueError):
        return InputSpec()
    crop = int(keywords.get("crop_size", 224))
    resize = int(keywords.get("resize_size", round(crop * 256 / 224)))
    return InputSpec(size=crop, resize=resize,
                     mean=tuple(keywords.get("mean", IMAGENET_MEAN)),
                     std=tuple(keywords.get("std", IMAGENET_STD)))


class TorchvisionExtractor(Extractor):
    """A torchvision classification model.

    Parameters
    ----------
    arch : str
        torchvision model name (one of :func:`torchvision_names`).
    **options
        Keyword arguments of the torchvision builder (e.g. ``num_classes=10``).
    """

    objective = "object"

    def __init__(self, arch: str, **options):
        if arch not in _names():
            raise DataError("unknown torchvision model", field="model", found=arch,
                            fix=f"valid names: {', '.join(_names())}")
        super().__init__(**options)
        self.name = arch
        self.arch = arch
        self.input_spec = _input_spec(arch)

    def _builder_kwargs(self) -> dict:
        kwargs = dict(self.options)
        if self.arch in _INIT_WEIGHTS:
            kwargs.setdefault("init_weights", True)
        return kwargs

    def create(self):
        import torchvision

        try:
            return torchvision.models.get_model(self.arch, weights=None,
                                                **self._builder_kwargs())
        except TypeError as err:  # an option the builder does not take
            raise DataError(f"invalid options for {self.arch!r}", field="options",
                            found=self.options, fix=str(err)) from err

    def resolve_weights(self, name: str):
        """The torchvision weights enum member for ``name`` (``"DEFAULT"``, ``"IMAGENET1K_V1"``,
        ``"ResNet50_Weights.IMAGENET1K_V2"``)."""
        import torchvision

        enum = torchvision.models.get_model_weights(self.arch)
        member = name.split(".", 1)[1] if name.startswith(enum.__name__ + ".") else name
        try:
            return enum[member]
        except KeyError:
            valid = ["DEFAULT"] + [m.name for m in enum]
            raise DataError(f"unknown weights for {self.arch!r}", field="weights", found=name,
                            fix=f"choose one of {', '.join(valid)}, 'random' or a state-dict "
                                "file path") from None

    def load_named_weights(self, name: str):
        import torch
        import torchvision

        member = self.resolve_weights(name)
        target = Path(torch.hub.get_dir()) / "checkpoints" / Path(member.url).name
        try:
            return torchvision.models.get_model(self.arch, weights=member,
                                                **self._builder_kwargs())
        except (OSError, RuntimeError) as err:  # URLError is an OSError; a bad hash RuntimeError
            if target.exists() and isinstance(err, RuntimeError) and "hash" in str(err).lower():
                raise DataError("the cached weights file is corrupt", file=target,
                                field="weights", fix="delete it and download it again") from err
            raise DataError(
                f"cannot download the {member} weights (offline?)", field="weights",
                found=str(err).splitlines()[0] if str(err) else type(err).__name__,
                fix=f"download {member.url} on a machine with internet access and put it at "
                    f"{target} (or set $TORCH_HOME), or pass the file path as weights=",
            ) from err

    def weights_id(self, weights, seed=0) -> str:
        kind, value = classify_weights(weights)
        if kind == "name":
            return f"torchvision:{self.resolve_weights(value)}"
        return super().weights_id(weights, seed)

    def build(self, weights="random", seed=0):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*default weight initialization.*")
            return super().build(weights, seed)

    def default_layers(self) -> list[str]:
        """A spread of stage outputs, ending with the classifier output.

        ResNets: ``layer1``–``layer4``, ``avgpool``, ``fc``; VGG/AlexNet: each max-pool and
        the fully connected ReLUs; ShuffleNets: the stages; DenseNets: transitions, final
        norm, classifier; ViTs: four encoder blocks, the final norm and the head; otherwise
        about six evenly spaced outputs of the children of the network's main stage container.
        """
        skeleton = self._skeleton()
        nodes = self.layers()
        modules = dict(skeleton.named_modules())
        arch = self.arch
        if arch.startswith(("resnet", "resnext", "wide_resnet")):
            return ["layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
        if arch.startswith(("vgg", "alexnet")):
            import torch.nn as nn

            pools = [n for n in nodes if isinstance(modules.get(n), nn.MaxPool2d)]
            relus = [n for n in nodes if n.startswith("classifier.")
                     and isinstance(modules.get(n), nn.ReLU)]
            return pools + relus + [nodes[-1]]
        if arch.startswith("densenet"):
            return [n for n in nodes if n in ("features.transition1", "features.transition2",
                                              "features.transition3", "features.norm5")] + [
                    nodes[-2], nodes[-1]]
        if arch.startswith("shufflenet"):
            return ["maxpool", "stage2", "stage3", "stage4", "conv5", "fc"]
        if arch.startswith("vit"):
            blocks = [n for n in nodes if n.startswith("encoder.layers.encoder_layer_")
                      and n.count(".") == 2]
            return evenly_spaced(blocks, 4) + ["encoder.ln", nodes[-1]]
        return _stage_outputs(skeleton, nodes)


def _stage_outputs(module, nodes: list[str], n: int = 6) -> list[str]:
    """About ``n`` outputs of the network's stages, spread evenly, ending with its output.

    The stages are the children of the child container (three children or more) holding most of
    the parameters outside the head, e.g. ``features`` of MobileNets or ``blocks`` of MaxViT,
    when it holds at least half of them; otherwise the children of the network itself. The
    head is the child that computes the output. Dropout, flatten and identity modules are
    left out (they repeat their input in eval mode).
    """
    import torch.nn as nn

    def size(mod):
        return sum(p.numel() for p in mod.parameters())

    head = nodes[-1].split(".")[0]
    body = [(name, child) for name, child in module.named_children() if name != head]
    total = sum(size(child) for _, child in body)
    prefix, trunk = "", module
    containers = [item for item in body if len(list(item[1].children())) >= 3]
    best = max(containers, key=lambda item: size(item[1]), default=None)
    if best is not None and size(best[1]) >= total / 2:
        prefix, trunk = best
    trivial = (nn.Dropout, nn.Dropout2d, nn.Identity, nn.Flatten)
    children = {f"{prefix}.{name}" if prefix else name for name, child in trunk.named_children()
                if not isinstance(child, trivial)}
    stages = [node for node in nodes if node in children and node != nodes[-1]]
    return evenly_spaced(stages, n - 1) + [nodes[-1]]
