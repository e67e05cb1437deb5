"""A small grayscale face network, as a lab would plug its own into ieegrsa."""

from __future__ import annotations

from torch import nn

from ieegrsa.models import Extractor, InputSpec


class TinyFaceNet(Extractor):
    """Three convolution blocks and a linear identity head on 64×64 grayscale faces.

    ``create`` builds the architecture with fresh weights; ieegrsa seeds it for
    ``weights="random"`` and loads (and checks) a state-dict file for ``weights="file.pt"``.
    """

    name = "tiny_face_net"
    objective = "identity"  # what the trained weights were trained for
    input_spec = InputSpec(size=64, resize=None, grayscale=True, mean=(0.5,), std=(0.5,))

    def __init__(self, num_classes: int = 100):
        super().__init__(num_classes=num_classes)  # options enter the feature-cache key
        self.num_classes = int(num_classes)

    def create(self) -> nn.Module:
        def block(c_in, c_out):
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out),
                                 nn.ReLU(), nn.MaxPool2d(2))

        return nn.Sequential(
            block(1, 16), block(16, 32), block(32, 64),  # 64 -> 32 -> 16 -> 8 px
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, self.num_classes),
        )

    def default_layers(self) -> list[str]:
        return ["0", "1", "2", "4", "5"]  # the three blocks, the pooled embedding, the logits
