"""The training report: how well each trained instance learned, against chance, epoch by epoch."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from . import _common as common

__all__ = ["make_training_report", "plot_training_curves"]


def plot_training_curves(manifests, histories):
    """Loss and accuracy per epoch (train solid, validation dashed), one colour per instance,
    with chance (dotted).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.6))
    for k, (manifest, history) in enumerate(zip(manifests, histories, strict=True)):
        color = f"C{k % 10}"
        label = f"instance {manifest.get('instance', k)}"
        loss_ax.plot(history["epoch"], history["train_loss"], color=color, lw=1, label=label)
        loss_ax.plot(history["epoch"], history["val_loss"], color=color, lw=1, ls="--")
        acc_ax.plot(history["epoch"], history["train_accuracy"], color=color, lw=1)
        acc_ax.plot(history["epoch"], history["val_accuracy"], color=color, lw=1, ls="--")
    if histories:
        acc_ax.axhline(float(histories[0]["chance"].iloc[0]), color="k", lw=0.8, ls=":",
                       label="chance")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss (dashed: validation)")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02),
               title="accuracy (dashed: validation)")
    loss_ax.legend(fontsize=7, loc="upper right")
    acc_ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def make_training_report(manifests, histories) -> common.Report:
    """The report of trained instances held in memory.

    Parameters
    ----------
    manifests : list of dict
        The instances' manifests (``weights.json``).
    histories : list of pandas.DataFrame
        Their per-epoch tables (``history.tsv``), in the same order.

    Returns
    -------
    Report
        The answer first (validation accuracy against chance across instances), then the
        curves, the per-instance table, the data, the recipe and the software versions.
    """
    first = manifests[0]
    final = pd.DataFrame([{**m["final"], "instance": m["instance"], "seed": m["seed"],
                           "epochs": m["epochs_trained"], "weights_sha256":
                           m["weights_sha256"][:12]} for m in manifests])
    val = final["val_accuracy"].to_numpy(float)
    spread = f" ± {np.std(val, ddof=1):.3f} (SD)" if len(val) > 1 else ""
    answer = (f"{len(manifests)} instance{'s' if len(manifests) > 1 else ''} of "
              f"{first['architecture']} trained on {first['objective']} "
              f"({len(first['classes'])} classes) reached a validation accuracy of "
              f"{np.mean(val):.3f}{spread}; chance is {first['final']['chance']:.3f} and always "
              f"answering the commonest class gives {first['final']['majority']:.3f}.")
    data = first["data"]
    rows = [("source", data["source"]), ("format", data["format"]),
            ("content SHA-256", data["content_sha256"]),
            ("classes", ", ".join(map(str, first["classes"][:20]))
             + (" ..." if len(first["classes"]) > 20 else ""))]
    images = data.get("images") or {}
    for split, counts in images.items() if isinstance(images, dict) else []:
        total = sum(counts.values()) if isinstance(counts, dict) else counts
        rows.append((f"{split} images", str(total)))
    recipe = [(k, str(v)) for k, v in first["training"].items()]
    title = f"ieegrsa training: {first['architecture']} on {first['objective']}"
    html = common.render(
        "training.html", title=title,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=common.ieegrsa_version(), answer=answer,
        curves=common.image_uri(plot_training_curves(manifests, histories)),
        instances=common.table(final, ["instance", "seed", "epochs", "train_accuracy",
                                       "val_accuracy", "best_val_accuracy", "best_epoch",
                                       "chance", "weights_sha256"]),
        data=rows, recipe=recipe, versions=common.versions_rows(first.get("versions", {})))
    return common.Report(html, "report.html")
