"""Training speed: ieegrsa train's loop against a plain PyTorch loop, same network and data.

The "tool people use today" is the loop every lab writes: shuffle, flip half the batch, forward,
cross-entropy, backward, SGD step, then evaluate on the validation images, once per epoch. Both
train the study's DenseNet (depth 13, growth 32, 48 px grey) from the same seed on the same 512
simulated faces (384 train, 128 validation, batch 64) for 2 epochs, with ieegrsa's precise-BN
pass off so that both do the same work; ieegrsa also writes its checkpoint and history every
epoch. A third run times ieegrsa with precise BN on (its default) to show what that costs.

Run with ``python benchmarks/run.py training_densenet``. ``maxabsdiff`` is the largest difference
between the two loops' final weights (they draw batch order and flips differently, so this shows
only that both trained, not that they agree). ``fer2013_epoch_min`` extrapolates ieegrsa's
images/s to one epoch of FER2013's 28,709 training images on this CPU.
"""

from __future__ import annotations

import tempfile
import time
from types import SimpleNamespace

import numpy as np

FER2013_TRAIN = 28_709


def _data(n=512, seed=0):
    from ieegrsa.simulate.images import draw_face, identity_traits

    rng = np.random.default_rng(seed)
    expressions = ("neutral", "happy", "sad", "angry")
    images, labels = [], []
    while len(images) < n:
        traits = identity_traits(rng)
        for k, expression in enumerate(expressions):
            face = draw_face(traits, expression, size=96).convert("L").resize((48, 48))
            images.append(np.asarray(face)[None])
            labels.append(k)
    images, labels = np.stack(images[:n]), np.array(labels[:n])
    split = np.where(np.arange(n) < 3 * n // 4, "train", "val")
    return SimpleNamespace(images=images, labels=labels, classes=list(expressions), split=split,
                           content_sha256="benchmark", objective="expression")


def _plain_loop(data, epochs, seed):
    import torch

    from ieegrsa.models import get_extractor

    torch.manual_seed(seed)
    module = get_extractor("densenet_face", num_classes=4,
                           objective="expression").build("random", seed=seed)
    x = torch.as_tensor(data.images).float() / 255.0
    y = torch.as_tensor(data.labels)
    train, val = data.split == "train", data.split == "val"
    xt, yt, xv, yv = x[train], y[train], x[val], y[val]
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        module.train()
        order = torch.randperm(len(xt), generator=generator)
        for first in range(0, len(order), 64):
            batch = order[first:first + 64]
            xb = xt[batch]
            flip = torch.rand(len(xb), generator=generator) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(module(xb), yt[batch])
            loss.backward()
            optimizer.step()
        module.eval()
        with torch.no_grad():
            float((module(xv).argmax(1) == yv).float().mean())
    return module.state_dict()


def _ieegrsa(data, epochs, seed, precise_bn):
    from ieegrsa.config import load_config
    from ieegrsa.training.loop import resolve_device, train_instance

    settings = load_config({"training": {"epochs": epochs, "objective": "expression",
                                         "precise_bn": precise_bn}}).training
    with tempfile.TemporaryDirectory() as folder:
        return train_instance(data, folder, settings, seed=seed,
                              device=resolve_device("cpu"))["state_dict"]


def training_densenet(epochs=2, seed=0):
    data = _data()
    n_images = int((data.split == "train").sum()) * epochs
    _plain_loop(data, 1, seed)  # warm-up: oneDNN picks its convolution kernels on first use
    start = time.perf_counter()
    ours = _ieegrsa(data, epochs, seed, precise_bn=False)
    ieegrsa_s = time.perf_counter() - start
    start = time.perf_counter()
    peer = _plain_loop(data, epochs, seed)
    peer_s = time.perf_counter() - start
    start = time.perf_counter()
    _ieegrsa(data, epochs, seed, precise_bn=True)
    precise_s = time.perf_counter() - start
    diff = max(float((ours[k].float() - peer[k].float()).abs().max()) for k in ours
               if ours[k].dtype.is_floating_point)
    rate = n_images / ieegrsa_s
    return {
        "ieegrsa_s": ieegrsa_s, "peer_s": peer_s, "maxabsdiff": diff,
        "extra": (f"ieegrsa_images_per_s={rate:.1f} peer_images_per_s={n_images / peer_s:.1f} "
                  f"precise_bn_s={precise_s:.1f} "
                  f"fer2013_epoch_min={FER2013_TRAIN / rate / 60:.1f}"),
        "note": f"DenseNet-13 (growth 32, 48 px), {n_images} training images over {epochs} "
                "epochs, batch 64, one run each\npeer: a plain PyTorch loop (shuffle, flip, "
                "SGD, validation per epoch); ieegrsa also checkpoints every epoch",
    }


CASES = {"training_densenet": training_densenet}
