"""Helpers of the models tests: a tiny plugin network and the small input settings."""

from __future__ import annotations

import numpy as np
import torch

from ieegrsa.models.base import IMAGENET_MEAN, IMAGENET_STD, Extractor, InputSpec

SMALL = {"size": 32, "resize": None}  # 32×32 input, no crop: fast
MEAN, STD = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)


class TinyNet(Extractor):
    """A 3-layer conv net with 16×16 input, for plugin tests."""

    name = "tiny_net"
    objective = "custom"
    input_spec = InputSpec(size=16, resize=None)

    def create(self):
        return torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(), torch.nn.Linear(4, self.options.get("num_classes", 2)),
        )
