"""Networks trained by ``ieegrsa train``, as ``models.networks[].weights`` entries.

Each trained instance is a state-dict file (``weights.pt``) with its manifest beside it
(``weights.json``, written by :mod:`ieegrsa.training`): the architecture and its options (head
size, objective), the classes, the data and the recipe. A weights entry may name the file, or the
training output folder (every complete ``instance-<k>/weights.pt`` in it, in instance order).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import DataError

__all__ = ["MANIFEST_NAME", "WEIGHTS_NAME", "read_manifest", "expand_trained_weights",
           "trained_options"]

WEIGHTS_NAME = "weights.pt"
MANIFEST_NAME = "weights.json"


def read_manifest(weights) -> dict | None:
    """The training manifest beside a weights file (``weights.json``), or None without one."""
    path = Path(weights).with_name(MANIFEST_NAME)
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError("The training manifest cannot be read", file=path, found=str(err),
                        fix="Train the instance again, or remove the manifest") from None
    return manifest if isinstance(manifest, dict) and "ieegrsa_training" in manifest else None


def _instance_number(path: Path) -> int:
    match = re.fullmatch(r"instance-(\d+)", path.parent.name)
    return int(match.group(1)) if match else -1


def expand_trained_weights(weights: list[str]) -> list[str]:
    """``weights`` with each training output folder replaced by its complete instances' files.

    Raises
    ------
    DataError
        A folder holds no complete instance (``instance-<k>/weights.pt`` with its manifest).
    """
    out = []
    for entry in weights:
        path = Path(entry).expanduser()
        if entry == "random" or not path.is_dir():
            out.append(entry)
            continue
        found = sorted((p for p in path.glob(f"instance-*/{WEIGHTS_NAME}")
                        if p.with_name(MANIFEST_NAME).is_file()), key=_instance_number)
        if not found:
            raise DataError("This folder holds no trained instance", file=path,
                            field="models.networks[].weights",
                            found="no instance-<k>/weights.pt with its weights.json",
                            fix="name a folder written by ieegrsa train (finished instances), "
                            "or a weights file")
        out.extend(str(p) for p in found)
    return out


def trained_options(network, weights: list[str]) -> tuple[dict, str | None]:
    """The architecture options and objective the trained weights of a network entry need.

    Returns ``({}, None)`` when no entry has a manifest. The manifests' options come first and
    the entry's own ``options`` override them.

    Raises
    ------
    DataError
        A manifest of another architecture, or instances of one entry trained with different
        options (give them separate entries).
    """
    manifests = [(w, read_manifest(w)) for w in weights if w != "random"]
    manifests = [(w, m) for w, m in manifests if m is not None]
    if not manifests:
        return {}, None
    first_path, first = manifests[0]
    for path, manifest in manifests:
        if manifest.get("architecture") != network.name:
            raise DataError("These weights were trained for another architecture",
                            file=Path(path).with_name(MANIFEST_NAME),
                            field="models.networks[].name",
                            found=f"{manifest.get('architecture')!r} in the manifest, "
                            f"{network.name!r} in the configuration",
                            fix=f"set name: {manifest.get('architecture')}")
        if (manifest.get("options"), manifest.get("objective")) != (first.get("options"),
                                                                   first.get("objective")):
            raise DataError("The instances of one network were trained with different "
                            "options or objectives", file=Path(path).with_name(MANIFEST_NAME),
                            field="models.networks[].weights",
                            found=f"{manifest.get('options')} vs {first.get('options')} "
                            f"({first_path})",
                            fix="list them as separate networks")
    return {**first.get("options", {}), **network.options}, first.get("objective")
