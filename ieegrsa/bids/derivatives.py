"""Write BIDS derivatives: names, tables with column sidecars, and the dataset description.

Every write goes to a temporary name in the same folder and is renamed into place, so an
interrupted run never leaves a file that looks complete.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pandas as pd

from .._files import atomic_path, write_text

__all__ = [
    "atomic_path",
    "derivative_name",
    "participant_paths",
    "group_path",
    "BIDSIGNORE",
    "config_hash",
    "provenance_record",
    "complete_participants",
    "write_coordsystem",
    "write_bids_table",
    "ELECTRODES_FIRST",
    "CHANNELS_FIRST",
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


#: The tool's own file types, which BIDS does not define: declared in the output's ``.bidsignore``
#: so that the BIDS validator checks only the files with a BIDS suffix (as fMRIPrep does).
BIDSIGNORE = (
    "*.html",            # reports
    "/group",            # group statistics tables
    "*_rdms.npz", "*_rdms.json",              # RDM archives and their descriptors
    "*_rsa.tsv", "*_rsa.json",                # similarity and noise-ceiling tables
    "*_stimuli.tsv", "*_stimuli.json", "*_stimuli.png",  # faces table, crops contact sheet
    "*_glassbrain.png",  # contact figure
    "*_desc-registration_T1w.png",  # registration QC figure of warped contacts
    "*_provenance.json",  # the completion record of a participant
)


def participant_paths(output_dir, subject, task, session=None, *, space=None) -> dict[str, Path]:
    """Where the participant level writes each file of one patient.

    Parameters
    ----------
    output_dir : path-like
        The derivatives root.
    subject, task : str
        Participant and task labels.
    session : str | None
        Session label.
    space : str | None
        Coordinate space of the contact table (the ``space`` entity of the derived
        ``electrodes.tsv`` and its ``coordsystem.json``, which BIDS names without ``task``).

    Returns
    -------
    paths : dict
        ``contacts``, ``coordsystem``, ``preprocessing``, ``figure``, ``registration`` (the
        registration QC figure, written only for warped contacts), ``neural_rdms``,
        ``model_rdms``, ``similarity``, ``ceiling``, ``faces``, ``faces_figure``,
        ``provenance``, ``report`` -> path.
    """
    output_dir = Path(output_dir)
    folder = output_dir / f"sub-{subject}"
    if session:
        folder = folder / f"ses-{session}"
    folder = folder / "ieeg"

    def name(desc, suffix, extension):
        return folder / derivative_name(subject, task, desc, suffix, extension, session=session)

    prefix = f"sub-{subject}" + (f"_ses-{session}" if session else "")
    spaced = prefix + (f"_space-{space}" if space else "")
    return {
        "contacts": folder / f"{spaced}_electrodes.tsv",
        "coordsystem": folder / f"{spaced}_coordsystem.json",
        "preprocessing": name("preprocessing", "channels", ".tsv"),
        "figure": name("contacts", "glassbrain", ".png"),
        "registration": name("registration", "T1w", ".png"),
        "neural_rdms": name("neural", "rdms", ".npz"),
        "model_rdms": name("models", "rdms", ".npz"),
        "similarity": name("similarity", "rsa", ".tsv"),
        "ceiling": name("noiseceiling", "rsa", ".tsv"),
        "faces": name("faces", "stimuli", ".tsv"),
        "faces_figure": name("crops", "stimuli", ".png"),
        "provenance": name(None, "provenance", ".json"),
        "report": output_dir / f"{prefix}.html",
    }


def group_path(output_dir, task, kind) -> Path:
    """Where the group level writes its table of ``kind`` (``mixedlm``, ``clusters`` ...; the
    kinds are the stats stage's, :data:`ieegrsa.stats.group.TABLES`)."""
    return Path(output_dir) / "group" / f"task-{task}_desc-{kind}_stats.tsv"


def config_hash(config) -> str:
    """sha256 of the resolved configuration, without settings that cannot change results.

    ``config`` is anything :func:`ieegrsa.load_config` accepts.
    """
    import hashlib

    data = _resolved(config).model_dump(mode="json")
    data.pop("n_jobs", None)
    # how networks are trained never changes a participant's outputs: trained weights enter
    # through models.networks[].weights, by their content hash
    data.pop("training", None)
    for key in ("device", "cache_dir", "batch_size"):
        data["models"].pop(key, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def provenance_record(config, sources=()) -> dict:
    """The one provenance record every sidecar and completion file carries.

    Parameters
    ----------
    config : ieegrsa.Config
        The resolved configuration (written as a JSON object, the form machines parse).
    sources : iterable of path-like
        The input files the outputs come from.

    Returns
    -------
    record : dict
        ``Config``, ``ConfigHash``, ``SoftwareVersions``, ``Sources``.
    """
    config = _resolved(config)
    return {"Config": config.model_dump(mode="json"), "ConfigHash": config_hash(config),
            "SoftwareVersions": software_versions(), "Sources": [str(p) for p in sources]}


def _resolved(config):
    from ..config import Config, load_config

    return config if isinstance(config, Config) else load_config(config)


def complete_participants(output_dir, task="faces") -> list[dict]:
    """The participants whose participant level finished, from their provenance files.

    A provenance file is written last, so its presence marks a complete participant; the
    group statistics and the group report both take their participants from here.

    Returns
    -------
    participants : list of dict
        ``subject``, ``session`` (None without one), ``provenance`` (path) and ``files``
        (kind -> absolute path, as recorded), sorted by subject and session.
    """
    output_dir = Path(output_dir)
    found = []
    for path in sorted(output_dir.glob(f"sub-*/**/sub-*_task-{task}_provenance.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        entities = dict(part.split("-", 1) for part in path.name.split("_")[:-1] if "-" in part)
        found.append({"subject": entities["sub"], "session": entities.get("ses"),
                      "provenance": path,
                      "files": {k: output_dir / v for k, v in record.get("Files", {}).items()}})
    return found


#: The leading columns BIDS requires of an ``electrodes.tsv`` and a ``channels.tsv``, in order.
ELECTRODES_FIRST = ("name", "x", "y", "z", "size")
CHANNELS_FIRST = ("name", "type", "units", "low_cutoff", "high_cutoff")


def write_bids_table(table, path, columns: dict, first, *, extra=None) -> Path:
    """Write a table whose BIDS suffix requires leading columns (``electrodes``, ``channels``).

    The ``first`` columns come first, in BIDS's order; the others follow in the order of
    ``columns``, which describes every column (a missing one is an error: a required column
    cannot be left out, and an undescribed one cannot be written).
    """
    missing = [c for c in (*first, *table.columns) if c not in columns]
    if missing:
        raise ValueError(f"{Path(path).name}: columns {missing} are not described")
    order = [*first, *(c for c in columns if c not in first)]
    return write_tsv(table.reindex(columns=order), path, columns=columns, extra=extra)


def write_coordsystem(path, space: str, *, warp: dict | None = None) -> Path:
    """The ``coordsystem.json`` of a derived ``electrodes.tsv`` (mm), in a template space or
    in the dataset's own (native) space where the dataset's labels placed the contacts.

    ``warp``: the contact table's ``attrs["warp"]`` when native contacts were warped to the
    template (its description goes to ``iEEGCoordinateProcessingDescription``)."""
    from .electrodes import MNI_SPACES

    where = (f"Template space {space}" if space in MNI_SPACES or space == "MNI" else
             f"The dataset's own coordinate system ({space}), as its coordsystem.json gives it; "
             "contacts were placed in ROIs from the dataset's labels")
    record = {
        "iEEGCoordinateSystem": space,
        "iEEGCoordinateUnits": "mm",
        "iEEGCoordinateSystemDescription": f"{where}; bipolar channels are at the midpoint of "
                                           "their two contacts.",
    }
    if warp:
        record["iEEGCoordinateProcessingDescription"] = (
            f"{warp.get('n_warped', 0)} contacts warped from {warp.get('native_space')} to "
            f"{space}: {warp.get('description', warp.get('method'))}")
    return write_json(record, path)


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
    """Write ``dataset_description.json`` and ``.bidsignore`` of a derivatives folder.

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
    output_dir = Path(output_dir)
    # a skipped re-run touches nothing it need not: each file is written only when it changes
    _write_if_changed("\n".join(BIDSIGNORE) + "\n", output_dir / ".bidsignore")
    path = output_dir / "dataset_description.json"
    _write_if_changed(json.dumps(description, indent=2, default=_jsonable) + "\n", path)
    return path


def _write_if_changed(text: str, path: Path) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_text(text, path)


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
