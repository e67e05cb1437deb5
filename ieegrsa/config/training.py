"""The ``training`` section: identity- and expression-trained networks from a lab's face images."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, field_validator

from ._base import _Section, invalid

__all__ = ["TrainingConfig"]


class TrainingConfig(_Section):
    """``ieegrsa train``: N seeded instances of a network trained to classify face identity or
    expression, with the recipe of Schwartz et al. 2023 as the default (SGD, momentum 0.9,
    batch 64, learning rate 0.1 halved every 30 epochs, random horizontal flips).
    """

    objective: Literal["identity", "expression"] | None = Field(
        None,
        description="What the networks learn to classify: identity or expression (required, "
        "here or as --objective).",
    )
    format: Literal["auto", "fer2013", "celeba", "folder", "table"] = Field(
        "auto",
        description="How the training images are laid out: fer2013 (the CSV of 48x48 pixels), "
        "celeba (identity_CelebA.txt + list_eval_partition.txt + images), folder (one folder "
        "per class), table (image, label, optional split and identity: e.g. a BIDS dataset's "
        "stimuli.tsv); auto = recognised from the data.",
    )
    architecture: str = Field(
        "densenet_face",
        description="A registered extractor with a classification head (densenet_face: the "
        "study's DenseNet, depth 13, growth 32, compression 0.5, 48 px grey; resnet18_gray).",
    )
    options: dict[str, str | int | float | bool] = Field(
        {},
        description="Options of the architecture (num_classes and objective are set from the "
        "data).",
    )
    instances: StrictInt = Field(
        10, ge=1, le=1000,
        description="Instances trained, instance k with seed random_seed + k (the study "
        "trained 10 per architecture and objective).",
    )
    epochs: StrictInt = Field(
        100, ge=1,
        description="Training epochs of each instance.",
    )
    batch_size: StrictInt = Field(64, ge=1, description="Images per SGD step.")
    learning_rate: float = Field(0.1, gt=0, description="Initial SGD learning rate.")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum.")
    weight_decay: float = Field(
        1e-4, ge=0,
        description="L2 weight decay (not reported by the study; 1e-4 as for DenseNets).",
    )
    lr_decay: float = Field(
        0.5, gt=0, le=1,
        description="Factor the learning rate is multiplied by every lr_step epochs.",
    )
    lr_step: StrictInt = Field(30, ge=1, description="Epochs between learning-rate decays.")
    augment: list[Literal["flip", "shift"]] = Field(
        ["flip"],
        description="Augmentations of the training images: flip = random horizontal flip "
        "(p = 0.5; the study's, done so that it really flips); shift = random translation by "
        "up to shift_pixels (zero padding).",
    )
    shift_pixels: StrictInt = Field(
        4, ge=0, le=16, description="Largest translation (px) of the shift augmentation.",
    )
    precise_bn: bool = Field(
        True,
        description="Re-estimate the BatchNorm statistics on the training images after each "
        "epoch, before validation (Wu & Johnson 2021): with few images the running averages "
        "lag the weights and validation accuracy swings; costs one forward pass per epoch.",
    )
    val_fraction: float = Field(
        0.2, gt=0, lt=1,
        description="Share of the images held out for validation when the data give no split "
        "(by identity for the expression objective).",
    )
    top_k: StrictInt | None = Field(
        None, ge=2,
        description="celeba: keep the k identities with the most images (the study used "
        "1503); null = all.",
    )
    crop: Literal["none", "detect"] = Field(
        "none",
        description="none = the images are already face crops (FER2013, aligned CelebA); "
        "detect = find the face in each image and crop it as the architecture expects.",
    )
    allow_identity_overlap: bool = Field(
        False,
        description="Expression objective: allow the same identity in training and validation "
        "(refused by default: the network could learn the person, not the expression).",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where to train: auto = cuda when available, else cpu.",
    )

    @field_validator("augment")
    @classmethod
    def _unique(cls, value):
        if len(set(value)) != len(value):
            raise invalid("an augmentation is listed twice", "List each once")
        return value
