"""Use a custom network in a script, without packaging it: ``register_extractor``.

Run from the repository root::

    python examples/plugin_without_packaging.py [IMAGE_FOLDER]

It registers the example network under a name, extracts its layer features for the images of
IMAGE_FOLDER (default: the London faces in ../shared/data, else random images), and prints the
layer RDMs' sizes and how similar consecutive layers' RDMs are.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent / "ieegrsa_plugin_example" / "src"))

from ieegrsa_plugin_example import TinyFaceNet  # noqa: E402

from ieegrsa import rsa  # noqa: E402
from ieegrsa.models import extract_features, model_rdms, register_extractor  # noqa: E402


def main(folder=None) -> None:
    register_extractor("my_lab_net", TinyFaceNet, overwrite=True)
    london = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "london"
    if folder is None and (london / "neutral").is_dir():
        images = sorted((london / "neutral").glob("*.jpg"))[:24]
    elif folder is not None:
        images = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in
                        (".png", ".jpg", ".jpeg", ".bmp"))
    else:
        images = np.random.default_rng(0).integers(0, 256, (24, 96, 96, 3), dtype=np.uint8)
    features = extract_features("my_lab_net", images, weights="random", seed=0)
    rdms = model_rdms(features, conditions=features.labels, model="my_lab_net",
                      objective="untrained", instance=0)
    print(rdms)
    similarity = rsa.compare(rdms, rdms, method="spearman")
    for k in range(1, rdms.n_rdms):
        print(f"layer {rdms.descriptors.layer[k - 1]!r} vs {rdms.descriptors.layer[k]!r}: "
              f"Spearman {similarity[k - 1, k]:.3f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
