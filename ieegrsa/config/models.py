"""The ``models`` section: network and categorical model RDMs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt

from ._base import _Section

__all__ = ["ModelsConfig", "NetworkConfig"]


class NetworkConfig(_Section):
    """One network whose layer RDMs are compared with the neural RDMs."""

    name: str = Field(
        description="Extractor name (see `ieegrsa models list`): a torchvision model such as "
        "resnet50, a seed-study network (vggface, vggface2_resnet50, resnet18_gray, "
        "densenet_face, siamese) or a plugin's name.",
    )
    label: str | None = Field(
        None, description="Name of the model in the outputs (default: name)."
    )
    objective: Literal["identity", "expression", "object", "untrained", "custom"] | None = Field(
        None,
        description="What the weights were trained for; null = the extractor's own (random "
        "weights are always untrained).",
    )
    options: dict[str, str | int | float | bool] = Field(
        {}, description="Options of the extractor (e.g. num_classes: 7 for densenet_face)."
    )
    weights: list[str] = Field(
        ["random"],
        description="One entry per instance: random (seeded initialisation: the untrained "
        "control), a weights name the extractor knows (dlib for dlib-resnet-face, fer2013 for "
        "fer-mini-xception, IMAGENET1K_V1, DEFAULT ... for torchvision networks; those need "
        "the file in the torch cache when offline) or the path of a weights file.",
    )
    instances: StrictInt = Field(
        1,
        ge=1,
        le=1000,
        description="Seeded instances made of each random entry of weights (seeds random_seed, "
        "random_seed + 1, ... after the other entries), e.g. weights [dlib, random] with "
        "instances 3 = the trained network and 3 untrained controls.",
    )
    layers: list[str] | None = Field(
        None,
        description="Layers (graph node names, see `ieegrsa models layers NAME`); null = a "
        "default set spanning the network.",
    )
    crop: Literal["auto", "aligned", "box", "none"] = Field(
        "auto",
        description="How face stimuli are framed for the network: auto = the extractor's own "
        "convention (dlib-resnet-face: dlib's aligned 150-px chip; fer-mini-xception and the "
        "48-px seed networks: fer's square face box; vggface, vggface2_resnet50: the box "
        "extended by 0.3; torchvision networks: the whole image); aligned = a 5-landmark chip; "
        "box = the square face box; none = the whole image. Boxes given in stimuli.tsv "
        "(box_x0, box_y0, box_x1, box_y1) take precedence over face detection.",
    )


class ModelsConfig(_Section):
    """Model RDMs: network layers computed from the stimulus images, and categorical ones.

    Layer features are cached by network, weights (file hash or seed), layer, image transform
    and the images' content, so a changed input never returns stale features.
    """

    networks: list[NetworkConfig] = Field(
        default_factory=lambda: [
            NetworkConfig(name="dlib-resnet-face", weights=["dlib", "random"]),
            NetworkConfig(name="fer-mini-xception", weights=["fer2013", "random"]),
        ],
        description="Networks to compare with (a list of {name, weights, instances, layers, "
        "crop ...}). Default: dlib's identity-trained face ResNet and fer's expression-trained "
        "mini-Xception (both shipped with ieegrsa), each with one seeded untrained instance "
        "as its control; [] = categorical models only.",
    )
    categorical: list[str] = Field(
        ["identity", "expression"],
        description="Stimulus-table columns that become categorical model RDMs (0 = same, "
        "1 = different); identity and expression answer the basic question without weights.",
    )
    metric: Literal["correlation", "euclidean", "cosine"] = Field(
        "correlation", description="Dissimilarity between the stimuli's layer features."
    )
    batch_size: StrictInt = Field(32, ge=1, le=4096, description="Images per forward pass.")
    device: Literal["cpu", "cuda", "auto"] = Field(
        "cpu", description="Where the networks run; auto = cuda when a GPU is present."
    )
    cache_dir: str | None = Field(
        "auto",
        description="Feature cache folder; auto = $IEEGRSA_CACHE or ~/.cache/ieegrsa/features; "
        "null = no cache.",
    )
    reduce: Literal["none", "pca", "srp"] = Field(
        "none",
        description="Reduce very wide layers before the RDM: pca (principal components) or srp "
        "(seeded sparse random projection); none keeps every unit.",
    )
    n_components: StrictInt | None = Field(
        None, ge=1, description="Dimensions kept by reduce (null = the extractor's default)."
    )
