"""``ieegrsa train``: N seeded instances of a face network, each with its weights and manifest.

Layout of ``OUT_DIR``::

    config.yaml                   the resolved configuration
    training.tsv / .json          one row per instance: seed, accuracies, weights file, sha256
    report.html                   every instance's curves and final accuracies
    instance-<k>/weights.pt       the trained state dict (torch.save; loads weights_only)
    instance-<k>/weights.json     its manifest: architecture, options, objective, classes,
                                  data source and content hash, recipe, seed, accuracies,
                                  versions, the weights' sha256
    instance-<k>/history.tsv      per epoch: learning rate, losses, accuracies, chance
    instance-<k>/history.png      loss and accuracy curves, with chance
    instance-<k>/checkpoint.pt    the last finished epoch (for --resume)
    instance-<k>/report.html      the instance's training report

An instance is complete when its manifest exists; the manifest is written last.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pandas as pd

from .._files import atomic_path, file_sha256
from .._logging import verbose
from ..errors import DataError
from ..models.trained import MANIFEST_NAME, WEIGHTS_NAME, read_manifest
from .loop import HISTORY_NAME, network_extractor, resolve_device, train_instance

logger = logging.getLogger("ieegrsa")

__all__ = ["train_networks", "SUMMARY_COLUMNS"]

#: ``training.tsv``, column -> description.
SUMMARY_COLUMNS = {
    "instance": "Instance number k (folder instance-<k>).",
    "seed": "Seed of the instance (random_seed + k).",
    "epochs": "Epochs trained.",
    "train_accuracy": "Training accuracy of the last epoch.",
    "val_accuracy": "Validation accuracy after the last epoch.",
    "best_val_accuracy": "Best validation accuracy over the epochs.",
    "chance": "Chance accuracy (1 / classes).",
    "weights": "The weights file, relative to OUT_DIR (a models.networks[].weights entry).",
    "weights_sha256": "SHA-256 of the weights file (part of the feature-cache key).",
}


def _settings(config, **overrides):
    from ..config import load_config

    config = load_config(config)
    values = {k: v for k, v in overrides.items() if v is not None and k != "seed"}
    # the overridden values validated as the configuration would
    training = type(config.training).model_validate({**config.training.model_dump(), **values})
    seed = overrides.get("seed")
    return config, training, config.random_seed if seed is None else int(seed)


def _manifest(dataset, training, result, *, instance, seed, device, weights_path):
    from ..bids.derivatives import software_versions

    history = result["history"]
    last = history.iloc[-1]
    best = history.loc[history["val_accuracy"].idxmax()]
    return {
        "ieegrsa_training": 1,
        "architecture": training.architecture,
        "options": result["options"],
        "objective": dataset.objective,
        "classes": list(dataset.classes),
        "instance": instance,
        "seed": seed,
        "data": {"source": str(dataset.source), "format": dataset.format,
                 "content_sha256": dataset.content_sha256,
                 "images": dataset.summary() if hasattr(dataset, "summary") else {}},
        "training": training.model_dump(mode="json"),
        "device": str(device),
        "epochs_trained": int(last["epoch"]),
        "final": {"train_accuracy": float(last["train_accuracy"]),
                  "val_accuracy": float(last["val_accuracy"]),
                  "val_loss": float(last["val_loss"]), "chance": float(last["chance"]),
                  "majority": float(last["majority"]),
                  "best_val_accuracy": float(best["val_accuracy"]),
                  "best_epoch": int(best["epoch"])},
        "weights": WEIGHTS_NAME,
        "weights_sha256": file_sha256(weights_path),
        "versions": software_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


@verbose
def train_networks(data, out_dir, config=None, *, objective=None, format=None,
                   architecture=None, instances=None, epochs=None, seed=None, device=None,
                   resume=False, stop_after=None, verbose=None) -> pd.DataFrame:
    """Train ``instances`` seeded networks on a lab's face images and write them to ``out_dir``.

    Parameters
    ----------
    data : path-like
        The images: a FER2013 CSV, a CelebA folder, a folder of class folders, a table
        (image, label[, split, identity]) or a BIDS dataset (its stimuli table).
    out_dir : path-like
        Where the instances go (see the module's layout).
    config : ieegrsa.Config | Mapping | path-like | None
        The configuration; its ``training`` section is the recipe.
    objective, format, architecture, instances, epochs, device
        Override those ``training`` settings.
    seed : int | None
        Instance k gets ``seed + k``; None: ``random_seed``.
    resume : bool
        Continue interrupted instances from their checkpoints and skip complete ones.
    stop_after : int | None
        Stop each instance after this many epochs in total (its checkpoint stays, for a later
        ``resume``).
    %(verbose)s

    Returns
    -------
    pandas.DataFrame
        One row per complete instance (:data:`SUMMARY_COLUMNS`).
    """
    from ..bids.derivatives import write_tsv
    from ..config import write_config
    from .data import read_face_dataset

    config, training, seed = _settings(config, objective=objective, format=format,
                                       architecture=architecture, instances=instances,
                                       epochs=epochs, device=device, seed=seed)
    if training.objective is None:
        raise DataError("Training needs an objective", field="training.objective",
                        fix="pass --objective identity or --objective expression")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(training.device)
    # the input the architecture expects, without building (and initialising) a network
    spec = network_extractor(training.architecture, training.options, 2,
                             training.objective).input_spec
    dataset = read_face_dataset(
        data, format=None if training.format == "auto" else training.format,
        objective=training.objective, top_k=training.top_k, image_size=spec.size,
        grayscale=spec.grayscale, crop=training.crop, val_fraction=training.val_fraction,
        allow_identity_overlap=training.allow_identity_overlap, seed=seed)
    write_config(config.model_copy(update={"training": training, "random_seed": seed}),
                 out_dir / "config.yaml")
    rows = []
    for k in range(training.instances):
        folder = out_dir / f"instance-{k}"
        weights_path, manifest_path = folder / WEIGHTS_NAME, folder / MANIFEST_NAME
        if manifest_path.is_file():
            if not resume:
                raise DataError("This instance is trained already", file=manifest_path,
                                fix="pass --resume to keep it and train the others, or train "
                                "into a new OUT_DIR")
            manifest = read_manifest(weights_path)
            logger.info("%s: complete, kept", folder.name)
        else:
            result = train_instance(dataset, folder, training, seed=seed + k, device=device,
                                    resume=resume, stop_after=stop_after)
            if not result["finished"]:
                logger.info("%s: stopped after epoch %d of %d (checkpoint kept)", folder.name,
                            len(result["history"]), training.epochs)
                continue
            import torch

            with atomic_path(weights_path) as tmp:
                torch.save(result["state_dict"], tmp)
            manifest = _manifest(dataset, training, result, instance=k, seed=seed + k,
                                 device=device, weights_path=weights_path)
            _instance_report(folder, manifest, result["history"])
            with atomic_path(manifest_path) as tmp:  # last: the instance is complete
                tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        final = manifest["final"]
        rows.append({"instance": k, "seed": manifest["seed"],
                     "epochs": manifest["epochs_trained"],
                     "train_accuracy": final["train_accuracy"],
                     "val_accuracy": final["val_accuracy"],
                     "best_val_accuracy": final["best_val_accuracy"],
                     "chance": final["chance"],
                     "weights": str(weights_path.relative_to(out_dir)),
                     "weights_sha256": manifest["weights_sha256"]})
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    write_tsv(summary, out_dir / "training.tsv", columns=SUMMARY_COLUMNS)
    _summary_report(out_dir, summary)
    return summary


def _instance_report(folder, manifest, history):
    import matplotlib.pyplot as plt

    from ..report.training import make_training_report, plot_training_curves

    figure = plot_training_curves([manifest], [history])
    with atomic_path(folder / "history.png") as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
    make_training_report([manifest], [history]).save(folder / "report.html")


def _summary_report(out_dir, summary):
    from ..report.training import make_training_report

    manifests, histories = [], []
    for weights in summary["weights"]:
        folder = (out_dir / weights).parent
        manifest = read_manifest(out_dir / weights)
        if manifest is None or not (folder / HISTORY_NAME).is_file():
            continue
        manifests.append(manifest)
        histories.append(pd.read_csv(folder / HISTORY_NAME, sep="\t"))
    if manifests:
        make_training_report(manifests, histories).save(out_dir / "report.html")
