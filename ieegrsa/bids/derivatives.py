"""Write BIDS derivatives: names, tables with column sidecars, and the dataset description.

Every write goes to a temporary name in the same folder and is renamed into place, so an
interrupted run never leaves a file that looks complete.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pandas as pd

from .._files import atomic_path

__all__ = [
    "atomic_path",
    "derivative_name",
    "write_json",
    "write_tsv",
    "write_dataset_description",
    "software_versions",
]

CODE_URL = "https://github.com/ieegrsa/ieegrsa"
BIDS_VERSION = "1.10.0"


def derivative_name(subject, task, desc, suffix, extension, *, session=None, **entities) -> str:
    """Build a BIDS derivatives file name.

    ``derivative_name("01", "faces", "contacts", "electrodes", ".tsv")`` gives
    ``sub-01_task-faces_desc-contacts_electrodes.tsv``. Extra entities (``run``, ``space`` ...)
    are placed between task and desc in the order given.
    """
    parts = [f"sub-{subject}"]
    if session:
        parts.append(f"ses-{session}")
    parts.append(f"task-{task}")
    parts += [f"{key}-{value}" for key, value in entities.items() if value is not None]
    if desc:
        parts.append(f"desc-{desc}")
    return "_".join(parts) + f"_{suffix}{extension}"


def write_json(data, path) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    return path


def write_tsv(
    table: pd.DataFrame, path, columns: dict | None = None, extra: dict | None = None
) -> Path:
    """Write a table as BIDS TSV (``n/a`` for missing values) with a JSON sidecar.

    Parameters
    ----------
    table : pandas.DataFrame
        The table; its index is not written.
    path : path-like
        The ``.tsv`` path; the sidecar is the same name with ``.json``.
    columns : dict | None
        ``{column: description}`` or ``{column: {"Description": ..., "Units": ...}}``; every
        column of ``table`` should be described.
    extra : dict | None
        Further sidecar fields (e.g. the resolved configuration).
    """
    path = Path(path)
    sidecar = {}
    for name, description in (columns or {}).items():
        if name in table.columns:
            sidecar[name] = description if isinstance(description, dict) else {
                "Description": description
            }
    sidecar.update(extra or {})
    write_json(sidecar, path.with_suffix(".json"))
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="n/a", lineterminator="\n")
    return path


def software_versions() -> dict:
    """Versions of Python and of the libraries whose numbers enter the results."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for package in ("ieegrsa", "numpy", "scipy", "pandas", "mne", "mne-bids", "nilearn",
                    "statsmodels", "torch", "torchvision"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def write_dataset_description(output_dir, source_dataset=None, name="ieegrsa", *,
                              config=None) -> Path:
    """Write ``dataset_description.json`` of a derivatives folder (BIDS ``DatasetType``).

    Parameters
    ----------
    output_dir : path-like
        The derivatives root.
    source_dataset : path-like | None
        The raw dataset the derivatives come from (recorded in ``SourceDatasets``).
    name : str
        The derivatives' name.
    config : ieegrsa.Config | None
        The resolved configuration, recorded in ``GeneratedBy`` (``Configuration``).
    """
    from .. import __version__

    description = {
        "Name": name,
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "ieegrsa", "Version": __version__, "CodeURL": CODE_URL}],
    }
    if config is not None:
        description["GeneratedBy"][0]["Configuration"] = config.model_dump(mode="json")
    if source_dataset is not None:
        description["SourceDatasets"] = [{"URL": Path(source_dataset).resolve().as_uri()}]
    return write_json(description, Path(output_dir) / "dataset_description.json")


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
