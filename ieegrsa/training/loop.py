"""Training seeded instances of a face network: the loop, its checkpoints and resuming.

Written with plain PyTorch rather than a trainer library (Lightning, ignite): the loop is short,
and bit-identical resumption needs every source of randomness in one place. Every epoch draws
its batch order and augmentations from a generator seeded by (seed, epoch) alone, so an epoch is
the same whether the run was interrupted before it or not; the optimizer's state and the torch
RNG state travel in the checkpoint, which is written atomically after every epoch and read with
``torch.load(weights_only=True)`` (no code in it runs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .._files import atomic_path
from .._logging import progress_bar
from ..errors import DataError

logger = logging.getLogger("ieegrsa")

__all__ = ["train_instance", "resolve_device", "build_network", "network_extractor",
           "HISTORY_COLUMNS", "CHECKPOINT_NAME", "HISTORY_NAME"]

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_NAME = "history.tsv"

#: The per-epoch table (``history.tsv``), column -> description.
HISTORY_COLUMNS = {
    "epoch": "Epoch (1-based).",
    "learning_rate": "SGD learning rate of the epoch.",
    "train_loss": "Mean cross-entropy over the training images (augmented, in training mode).",
    "train_accuracy": "Share of training images classified right during the epoch.",
    "val_loss": "Mean cross-entropy over the validation images (evaluation mode).",
    "val_accuracy": "Share of validation images classified right after the epoch.",
    "chance": "Chance accuracy: 1 / number of classes.",
    "majority": "Accuracy of always answering the commonest validation class.",
    "seconds": {"Description": "Wall time of the epoch.", "Units": "s"},
}


def resolve_device(device: str = "auto"):
    """``cpu``, ``cuda`` or ``auto`` (cuda when available) as a torch device."""
    import torch

    from .._check import check_option

    device = check_option("device", device, ("auto", "cpu", "cuda"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise DataError("CUDA is not available on this machine", field="training.device",
                        found="cuda", fix="use device cpu or auto")
    return torch.device(device)


def network_extractor(architecture, options, n_classes, objective):
    """The extractor of ``architecture`` with a head of ``n_classes`` (nothing built yet)."""
    import inspect

    from ..models import get_extractor
    from ..models.registry import _REGISTRY, _load_builtins

    _load_builtins()
    factory = _REGISTRY.get(architecture)
    parameters = inspect.signature(factory).parameters if factory is not None else {}
    if factory is not None and "num_classes" not in parameters:
        raise DataError(f"The architecture {architecture!r} has no classification head of a "
                        "chosen size (no num_classes option)", field="training.architecture",
                        found=architecture,
                        fix="train densenet_face or resnet18_gray (or another extractor that "
                        "takes num_classes)")
    full = {**options, "num_classes": int(n_classes)}
    if "objective" in parameters:
        full["objective"] = objective
    return get_extractor(architecture, **full)


def build_network(architecture, options, classes, objective, seed):
    """The extractor and its seeded, untrained network with a head of ``len(classes)``."""
    extractor = network_extractor(architecture, options, len(classes), objective)
    # every option, defaults included, so that the manifest rebuilds the same network
    return extractor, extractor.build("random", seed=seed), dict(extractor.options)


def _epoch_generator(seed: int, epoch: int):
    import torch

    digest = hashlib.sha256(f"ieegrsa-train:{seed}:{epoch}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))


def _augment(x, generator, augment, shift_pixels):
    """Random horizontal flips and translations of a batch, drawn from ``generator``."""
    import torch

    if "flip" in augment:
        flip = torch.rand(len(x), generator=generator) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if "shift" in augment and shift_pixels > 0:
        s = shift_pixels
        padded = torch.nn.functional.pad(x, (s, s, s, s))
        offsets = torch.randint(0, 2 * s + 1, (len(x), 2), generator=generator)
        h, w = x.shape[-2:]
        x = torch.stack([padded[i, :, dy:dy + h, dx:dx + w]
                         for i, (dy, dx) in enumerate(offsets.tolist())])
    return x


def _inputs(images, spec):
    """Images (N, 1|3, H, W; uint8 or [0, 1]) as the network's normalised float input."""
    import torch

    x = torch.as_tensor(np.asarray(images))
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    channels = 1 if spec.grayscale else 3
    if x.shape[1] != channels:
        x = x.mean(dim=1, keepdim=True) if channels == 1 else x.expand(-1, 3, -1, -1)
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(1, -1, 1, 1)
    return ((x - mean) / std).contiguous()


def _precise_batchnorm(module, x, batch_size, device):
    """Re-estimate every BatchNorm's running statistics on the (unaugmented) training images
    with the current weights ("precise BN", Wu & Johnson 2021): with few images and a high
    learning rate the running averages lag the weights, and evaluation-mode accuracy swings
    between epochs for that reason alone."""
    import torch

    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the pass
    module.train()
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            module(x[start:start + batch_size].to(device))
    for m, momentum in zip(norms, saved, strict=True):
        m.momentum = momentum


def _evaluate(module, x, y, batch_size, device):
    import torch

    module.eval()
    total, right = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
            logits = module(xb)
            total += float(torch.nn.functional.cross_entropy(logits, yb, reduction="sum"))
            right += int((logits.argmax(1) == yb).sum())
    n = max(len(x), 1)
    return total / n, right / n


def _fingerprint(dataset, settings, seed) -> str:
    """What a checkpoint must have been made from to be resumed: data, settings and seed."""
    record = {"data": dataset.content_sha256, "classes": list(dataset.classes),
              "settings": settings, "seed": int(seed)}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _write_history(rows, folder: Path) -> Path:
    from ..bids.derivatives import write_tsv

    table = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    return write_tsv(table, folder / HISTORY_NAME, columns=HISTORY_COLUMNS)


def train_instance(dataset, folder, settings, *, seed, device, resume=False, stop_after=None):
    """Train one instance; checkpoint every epoch; write the weights and the history.

    Parameters
    ----------
    dataset : ieegrsa.training.FaceDataset
        Images, labels, classes and the train / val split.
    folder : path-like
        ``OUT_DIR/instance-<k>``.
    settings : ieegrsa.config.TrainingConfig
        Architecture, options and the recipe.
    seed : int
        Seed of the initial weights, the batch order and the augmentations.
    device : torch.device
    resume : bool
        Continue from ``checkpoint.pt`` (it must come from the same data, settings and seed).
    stop_after : int | None
        Stop after this many epochs in total, leaving the checkpoint (for tests and for
        spreading a long run over sessions); None: train all epochs.

    Returns
    -------
    dict
        ``history`` (DataFrame), ``state_dict``, ``options`` (the architecture's, with
        num_classes and objective), ``finished`` (all epochs done), ``input_spec``.
    """
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recipe = settings.model_dump(mode="json")
    fingerprint = _fingerprint(dataset, recipe, seed)
    torch.manual_seed(seed)
    extractor, module, options = build_network(settings.architecture, settings.options,
                                               dataset.classes, dataset.objective, seed)
    module = module.to(device)
    optimizer = torch.optim.SGD(module.parameters(), lr=settings.learning_rate,
                                momentum=settings.momentum, weight_decay=settings.weight_decay)
    split = np.asarray(dataset.split).astype(str)
    x_all = _inputs(dataset.images, extractor.input_spec)
    y_all = torch.as_tensor(np.asarray(dataset.labels), dtype=torch.long)
    train, val = np.flatnonzero(split == "train"), np.flatnonzero(split == "val")
    x_train, y_train = x_all[train], y_all[train]
    x_val, y_val = x_all[val], y_all[val]
    chance = 1.0 / len(dataset.classes)
    majority = float(np.bincount(y_val.numpy(), minlength=len(dataset.classes)).max()
                     / max(len(val), 1))

    history, start = [], 0
    checkpoint = folder / CHECKPOINT_NAME
    if resume and checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if state.get("fingerprint") != fingerprint:
            raise DataError("The checkpoint comes from another run (other data, settings or "
                            "seed)", file=checkpoint, field="--resume",
                            fix="resume with the same data, configuration and seed, or train "
                            "into a new OUT_DIR")
        module.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        history, start = list(state["history"]), int(state["epoch"])
        logger.info("%s: resumed after epoch %d", folder.name, start)
    elif checkpoint.is_file():
        raise DataError("This instance has a checkpoint already", file=checkpoint,
                        fix="pass --resume to continue it, or train into a new OUT_DIR")

    end = settings.epochs if stop_after is None else min(settings.epochs, int(stop_after))
    for epoch in progress_bar(range(start, end), total=end - start, desc=folder.name,
                              unit="epoch"):
        began = time.perf_counter()
        rate = settings.learning_rate * settings.lr_decay ** (epoch // settings.lr_step)
        for group in optimizer.param_groups:
            group["lr"] = rate
        generator = _epoch_generator(seed, epoch)
        order = torch.randperm(len(train), generator=generator)
        module.train()
        total, right = 0.0, 0
        for first in range(0, len(order), settings.batch_size):
            batch = order[first:first + settings.batch_size]
            xb = _augment(x_train[batch], generator, settings.augment, settings.shift_pixels)
            xb, yb = xb.to(device), y_train[batch].to(device)
            optimizer.zero_grad(set_to_none=True)
            logits = module(xb)
            loss = torch.nn.functional.cross_entropy(logits, yb)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
            right += int((logits.argmax(1) == yb).sum())
        if settings.precise_bn:
            _precise_batchnorm(module, x_train, settings.batch_size, device)
        val_loss, val_accuracy = _evaluate(module, x_val, y_val, settings.batch_size, device)
        history.append({"epoch": epoch + 1, "learning_rate": rate,
                        "train_loss": total / max(len(train), 1),
                        "train_accuracy": right / max(len(train), 1),
                        "val_loss": val_loss, "val_accuracy": val_accuracy,
                        "chance": chance, "majority": majority,
                        "seconds": time.perf_counter() - began})
        state = {"model": {k: v.detach().cpu() for k, v in module.state_dict().items()},
                 "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state(),
                 "epoch": epoch + 1, "history": history, "fingerprint": fingerprint}
        with atomic_path(checkpoint) as tmp:
            torch.save(state, tmp)
        _write_history(history, folder)
        logger.info("%s epoch %d: loss %.3f, train %.3f, validation %.3f (chance %.3f)",
                    folder.name, epoch + 1, history[-1]["train_loss"],
                    history[-1]["train_accuracy"], val_accuracy, chance)
    return {"history": pd.DataFrame(history, columns=list(HISTORY_COLUMNS)),
            "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
            "options": options, "finished": len(history) >= settings.epochs,
            "input_spec": extractor.input_spec}
