"""Participant and group levels: chain the stages and write BIDS derivatives.

Participant level, per patient (:func:`run_participant`): load the recording, preprocess,
localise the contacts, build neural RDMs, build the model RDMs of the configuration (network
features cached and shared across patients), compare them with permutation p-values and
split-half noise ceilings, and write the derivatives and ``sub-<L>.html``. A provenance file
holding the configuration's hash is written last: its presence marks a complete participant.

Group level (:func:`run_group`): read the participants' similarity tables, run the statistics of
the ``stats`` section and write ``group/`` tables and ``group.html``.

:func:`run_participants` runs patients in parallel with joblib, or on a Dask cluster through
joblib's dask backend.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

import pandas as pd

from .bids import atomic_path, derivative_name, load_recording, write_json, write_tsv
from .bids.derivatives import software_versions, write_dataset_description
from .config import config_to_yaml, load_config
from .errors import DataError, IeegrsaError

logger = logging.getLogger("ieegrsa")

__all__ = ["load_participant", "run_participant", "run_participants", "run_group",
           "participant_paths", "group_paths", "config_hash", "CONTACT_COLUMNS",
           "SIMILARITY_COLUMNS"]

#: Descriptions of the contact-table columns written to ``desc-contacts_electrodes.tsv``.
CONTACT_COLUMNS = {
    "name": "Channel name (bipolar channels as 'A-B').",
    "x": {"Description": "Position, MNI x (bipolar channels: midpoint).", "Units": "mm"},
    "y": {"Description": "Position, MNI y.", "Units": "mm"},
    "z": {"Description": "Position, MNI z.", "Units": "mm"},
    "space": "Coordinate space of x, y, z.",
    "type": "Channel type (seeg or ecog).",
    "status": "good or bad (from channels.tsv).",
    "status_description": "Reason given in channels.tsv for the status.",
    "group": "Shaft or strip.",
    "hemisphere": "L or R, from x.",
    "atlas_label": "Label in the primary atlas (nearest labelled voxel within the distance limit).",
    "atlas_distance": {"Description": "Distance to that labelled voxel (0 inside).", "Units": "mm"},
    "roi": "Region of interest the contact belongs to (n/a outside every ROI).",
    "rois": "Every ROI the contact belongs to, ';'-separated.",
    "roi_distance": {"Description": "Distance to the assigned ROI.", "Units": "mm"},
    "n_face": "Face trials in the localizer.",
    "n_nonface": "Non-face trials in the localizer.",
    "mean_face": "Mean response to faces in the localizer window.",
    "mean_nonface": "Mean response to non-faces in the localizer window.",
    "t": "Welch t statistic, faces versus non-faces.",
    "p": "p-value of the face-selectivity test.",
    "p_fdr": "Benjamini-Hochberg adjusted p-value across the patient's contacts.",
    "d_prime": "Effect size d' of faces versus non-faces.",
    "face_selective": "Whether the contact is face-selective (p_fdr below the threshold, t > 0).",
    "included": "Whether the contact enters the analysis.",
    "exclusion_reason": "Why it does not (n/a when included).",
}

#: Descriptions of further contact-table columns (they do not change the column order).
_MORE_CONTACT_COLUMNS = {
    "contact_a": "The contact itself, or the first contact of a bipolar pair.",
    "contact_b": "The second contact of a bipolar pair (n/a for a monopolar channel).",
    "reference": "Re-referencing scheme of the channel (preprocessing.reference).",
    "size": {"Description": "Contact surface area, from electrodes.tsv.", "Units": "mm^2"},
    "material": "Contact material, from electrodes.tsv.",
    "manufacturer": "Electrode manufacturer, from electrodes.tsv.",
    "electrode_type": "Electrode type (depth, strip, grid), from electrodes.tsv.",
}

#: Descriptions of the preprocessing report's columns (``desc-preprocessing_channels.tsv``).
PREPROCESSING_COLUMNS = {
    "name": "Contact (one row per recording contact) or derived channel (bipolar 'A-B').",
    "kind": "contact or bipolar.",
    "type": "Channel type (seeg or ecog).",
    "group": "Shaft or strip.",
    "included": "Whether its data reach the epochs.",
    "reason": "Why not (empty when included).",
    "channels": "The epochs' channels it feeds, ';'-separated.",
    "n_epochs": "Trials in the epochs.",
    "n_outliers": "Trials that were outliers on this channel, out of the trials inside the "
                  "recording (n/a for contacts of bipolar channels).",
    "n_nan": "Kept trials whose data on this channel were set to NaN (n/a for contacts of "
             "bipolar channels).",
}

_WINDOW = {
    "window_start": {"Description": "Start of the time window, from image onset.", "Units": "s"},
    "window_stop": {"Description": "End of the time window, from image onset.", "Units": "s"},
}
_NEURAL = {
    "roi": "Region of interest of the neural pattern.",
    "contact": "Contact of a single-contact pattern (n/a for ROI patterns).",
    "pattern": "roi (all included contacts of the ROI) or contact (one contact).",
    **_WINDOW,
}

#: Descriptions of the similarity-table columns written to ``desc-similarity_rsa.tsv``.
SIMILARITY_COLUMNS = {
    "subject": "Participant label.",
    "session": "Session label (n/a when the dataset has none).",
    "roi": _NEURAL["roi"], "contact": _NEURAL["contact"], "pattern": _NEURAL["pattern"],
    "metric": "Dissimilarity of the neural RDM (rsa.metric); cross-validated ones are unbiased "
              "and may be negative.",
    **_WINDOW,
    "n_contacts": "Contacts in the neural pattern.",
    "model": "Model RDM: a categorical model (stimulus-table column) or a network's label.",
    "objective": "What the model was trained for (identity, expression, object, untrained, "
                 "custom) or categorical.",
    "family": "categorical or network.",
    "instance": "Network instance (seeded initialisation or weights file; n/a for categorical).",
    "layer": "Network layer (n/a for categorical models).",
    "method": "Comparison of the neural with the model RDM (rsa.method).",
    "partial": "semi-partial / partial: the layer before in the same network was controlled "
               "for; none: plain comparison.",
    "value": "Similarity of the neural and model RDMs.",
    "p_value": "One-sided condition-permutation p-value of this window (rsa.n_permutations).",
    "p_fwe": "Family-wise p-value over the windows of this pattern and model (max-statistic).",
    "cluster_p_value": "p-value of the cluster of windows holding this one (cluster mass; n/a "
                       "outside clusters).",
    "noise_ceiling": "Split-half reliability of the neural RDM (odd vs even folds of "
                     "rsa.cv_column, Spearman-Brown corrected; n/a when not estimated).",
}

CEILING_COLUMNS = {
    **_NEURAL,
    "r_half": "Similarity of the RDMs of the two halves of the trials.",
    "r_full": "Spearman-Brown estimate for all trials: 2 r_half / (1 + r_half).",
    "method": "Comparison method.",
}

GROUP_TABLES = ("mixedlm", "signflip", "comparison", "clusters", "onsets", "patients")


# -- helpers -----------------------------------------------------------------------------------
def load_participant(bids_root, subject, config, *, session=None, task=None):
    """Load a participant's recording with the ``bids`` section of ``config``.

    ``session`` and ``task`` override ``config.bids.session`` and ``config.bids.task``.
    """
    bids = config.bids
    return load_recording(
        bids_root, subject, task or bids.task, session=session or bids.session, run=bids.run,
        assume_space=bids.assume_space, stim_file_column=bids.stim_file_column,
        identity_column=bids.identity_column, expression_column=bids.expression_column,
        repetition_column=bids.repetition_column, stimuli_table=bids.stimuli_table,
    )


def config_hash(config) -> str:
    """sha256 of the resolved configuration, without settings that cannot change results."""
    data = load_config(config).model_dump(mode="json")
    data.pop("n_jobs", None)
    data["models"].pop("device", None)
    data["models"].pop("cache_dir", None)
    data["models"].pop("batch_size", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def participant_paths(output_dir, subject, task, session=None) -> dict[str, Path]:
    """Where the participant level writes each file of one patient."""
    output_dir = Path(output_dir)
    folder = output_dir / f"sub-{subject}"
    if session:
        folder = folder / f"ses-{session}"
    folder = folder / "ieeg"

    def name(desc, suffix, extension):
        return folder / derivative_name(subject, task, desc, suffix, extension, session=session)

    report = f"sub-{subject}" + (f"_ses-{session}" if session else "") + ".html"
    return {
        "contacts": name("contacts", "electrodes", ".tsv"),
        "preprocessing": name("preprocessing", "channels", ".tsv"),
        "figure": name("contacts", "glassbrain", ".png"),
        "neural_rdms": name("neural", "rdms", ".npz"),
        "model_rdms": name("models", "rdms", ".npz"),
        "similarity": name("similarity", "rsa", ".tsv"),
        "ceiling": name("noiseceiling", "rsa", ".tsv"),
        "faces": name("faces", "stimuli", ".tsv"),
        "faces_figure": name("crops", "stimuli", ".png"),
        "provenance": name(None, "provenance", ".json"),
        "report": output_dir / report,
    }


def group_paths(output_dir, task="faces") -> dict[str, Path]:
    """Where the group level writes each table, by kind (:data:`GROUP_TABLES`)."""
    folder = Path(output_dir) / "group"
    return {kind: folder / f"task-{task}_desc-{kind}_stats.tsv" for kind in GROUP_TABLES}


def _check_previous(paths, digest, *, skip_existing, overwrite) -> dict | None:
    """The provenance record of finished outputs of this configuration to skip, or None after
    clearing the way to run."""
    provenance = paths["provenance"]
    if not provenance.exists():
        return None
    record = json.loads(provenance.read_text(encoding="utf-8"))
    previous = record.get("ConfigHash")
    if previous == digest and skip_existing:
        return record
    if previous != digest and not overwrite:
        raise DataError(
            "outputs of a different configuration exist for this participant",
            file=provenance, field="ConfigHash", found=f"{previous[:12]}... (now {digest[:12]}...)",
            fix="pass --overwrite to replace them, or write to another output folder",
        )
    provenance.unlink()  # from here on, the old outputs no longer look complete
    return None


# -- participant level -----------------------------------------------------------------------
def run_participant(bids_root, output_dir, subject, config=None, *, session=None, work_dir=None,
                    skip_existing=False, overwrite=False, report=True, verbose=None) -> dict:
    """Run the participant level for one patient and write its derivatives.

    Parameters
    ----------
    bids_root : path-like
        The BIDS dataset (only read).
    output_dir : path-like
        The derivatives root; files go under ``sub-<label>/[ses-<label>/]ieeg/`` and the report
        is ``sub-<label>.html``.
    subject : str
        Participant label.
    config : ieegrsa.Config | Mapping | path-like | None
        The configuration.
    session : str | None
        Session label (``None``: the only session holding the task).
    work_dir : path-like | None
        Scratch folder; network features are cached in ``work_dir/features`` (shared by all
        patients). None: ``config.models.cache_dir``.
    skip_existing : bool
        Skip a participant whose outputs of the same configuration are complete.
    overwrite : bool
        Replace outputs made with another configuration (otherwise an error).
    report : bool
        Write the HTML report.
    verbose : bool | None
        Progress bars and log messages of the long steps.

    Returns
    -------
    outputs : dict
        Paths of the files written, by kind; ``summary`` (:meth:`Recording.summary`), ``status``
        (``"done"`` or ``"skipped"``).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from .anatomy import describe_columns, localize, plot_contacts
    from .models import configured_model_rdms
    from .preprocessing import preprocess
    from .rsa import neural_rdms
    from .rsa.similarity import neural_ceiling, similarity_table

    started = time.time()
    config = load_config(config)
    digest = config_hash(config)
    task = config.bids.task
    if session is None and config.bids.session is None:
        session = _only_session(bids_root, subject, task)
    paths = participant_paths(output_dir, subject, task, session or config.bids.session)
    record = _check_previous(paths, digest, skip_existing=skip_existing, overwrite=overwrite)
    if record is not None:
        logger.info("sub-%s: outputs of this configuration exist; skipped", subject)
        return {**{k: Path(output_dir) / v for k, v in record["Files"].items()},
                "summary": record.get("Summary", {}), "status": "skipped"}

    recording = load_participant(bids_root, subject, config, session=session)
    epochs, channel_report = preprocess(recording, config, return_report=True)
    contacts = localize(recording, epochs, config)
    provenance = {"Config": config_to_yaml(config), "SoftwareVersions": software_versions(),
                  "Sources": [str(p.fpath) for p in recording.bids_paths]}
    outputs = {}
    columns = [c for c in CONTACT_COLUMNS if c in contacts.columns]
    columns += [c for c in contacts.columns if c not in columns]
    # every column described: per-atlas labels, ROI distances ... come from describe_columns
    described = {**describe_columns(contacts), **_MORE_CONTACT_COLUMNS, **CONTACT_COLUMNS}
    outputs["contacts"] = write_tsv(contacts[columns], paths["contacts"],
                                    columns=described, extra=provenance)
    outputs["preprocessing"] = write_tsv(
        channel_report, paths["preprocessing"],
        columns={c: PREPROCESSING_COLUMNS.get(c, c.replace("_", " "))
                 for c in channel_report.columns}, extra=provenance)
    figure = plot_contacts(contacts, title=f"sub-{recording.subject}: contacts by ROI")
    with atomic_path(paths["figure"]) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
    outputs["figure"] = paths["figure"]

    rsa = config.rsa
    neural_kwargs = dict(pattern=rsa.pattern, window=rsa.window, step=rsa.step,
                         metric=rsa.metric, window_features=rsa.window_features,
                         condition_column=rsa.condition_column, trials=rsa.trials,
                         cv_column=rsa.cv_column,
                         noise=None if rsa.noise == "none" else rsa.noise,
                         noise_pooling=rsa.noise_pooling, tmin=rsa.tmin, tmax=rsa.tmax)
    if not contacts["included"].astype(bool).any():
        raise DataError(
            "no contact of this participant is included in an ROI", file=paths["contacts"],
            field="included", found=f"0 of {len(contacts)} contacts",
            fix="check the contact positions and anatomy.rois, or leave the participant out "
                "(--participant-label)")
    neural = neural_rdms(epochs, contacts, subject=recording.subject, **neural_kwargs)
    outputs["neural_rdms"] = neural.save(paths["neural_rdms"])
    cache = Path(work_dir) / "features" if work_dir is not None else None
    models, faces = configured_model_rdms(recording.stimuli, neural.conditions, config,
                                          stimuli_root=Path(bids_root) / "stimuli",
                                          cache_dir=cache, verbose=verbose, return_faces=True)
    outputs["model_rdms"] = models.save(paths["model_rdms"])
    outputs.update(_write_faces(faces, neural.conditions, recording.stimuli,
                                Path(bids_root) / "stimuli", paths, provenance))
    ceiling = None
    if rsa.noise_ceiling:
        ceiling = neural_ceiling(epochs, contacts, rsa.method, conditions=neural.conditions,
                                 subject=recording.subject, **neural_kwargs)
        outputs["ceiling"] = write_tsv(ceiling, paths["ceiling"], columns=CEILING_COLUMNS,
                                       extra=provenance)
    table = similarity_table(neural, models, rsa.method, partial=rsa.partial,
                             n_permutations=rsa.n_permutations, seed=config.random_seed,
                             cluster_alpha=rsa.cluster_alpha, ceiling=ceiling,
                             session=recording.session)
    outputs["similarity"] = write_tsv(table, paths["similarity"], columns=SIMILARITY_COLUMNS,
                                      extra=provenance)
    if report:
        from .report import participant_report

        outputs["report"] = participant_report(output_dir, recording.subject, task=task,
                                               session=recording.session)
    summary = recording.summary()
    write_json({
        "ConfigHash": digest, **provenance, "Summary": summary,
        "Files": {k: str(Path(v).relative_to(output_dir)) for k, v in outputs.items()},
        "Started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "DurationSeconds": round(time.time() - started, 1),
    }, paths["provenance"])
    outputs["provenance"] = paths["provenance"]
    outputs["summary"] = summary
    outputs["status"] = "done"
    logger.info("sub-%s: %d epochs, %d of %d contacts included, %d similarities",
                recording.subject, len(epochs), int(contacts["included"].sum()), len(contacts),
                len(table))
    return outputs


def _write_faces(faces, conditions, stimuli, stimuli_root, paths, provenance) -> dict:
    """The RSA conditions' stimulus table (labels; face geometry and each network's crop when
    networks crop) and, when they do, the contact sheet of the crops."""
    from .models.crops import FACES_TABLE_COLUMNS, FaceCrop, plot_crops

    labels = stimuli.drop_duplicates("stim_file").set_index("stim_file")
    faces = pd.DataFrame({"image": list(conditions)}) if faces is None else faces.copy()
    for column in ("identity", "expression"):
        faces[column] = faces["image"].map(labels[column]) if column in labels else None
    crop_columns = [c for c in faces.columns if c.startswith("crop_")]
    order = [*(c for c in FACES_TABLE_COLUMNS if c in faces), *crop_columns]
    described = {**FACES_TABLE_COLUMNS, **{
        c: f"The crop network {c.removeprefix('crop_')!r} received (JSON: kind, parameters and "
           "input channels, 1 = grey)" for c in crop_columns}}
    out = {"faces": write_tsv(faces[order], paths["faces"], columns=described, extra=provenance)}
    shared: dict[str, list[str]] = {}  # networks sharing one crop share a row of the sheet
    for column in crop_columns:
        shared.setdefault(faces[column].iloc[0], []).append(column.removeprefix("crop_"))
    crops, grey = {}, set()
    for key, names in shared.items():
        record = json.loads(key)
        channels = record.pop("channels", 3)
        if record["kind"] != "none":
            crops[", ".join(names)] = FaceCrop(**record)
            if channels == 1:
                grey.add(", ".join(names))
    if not crops:
        return out
    ordered = faces.sort_values(["identity", "expression"], kind="stable", na_position="last")
    figure = plot_crops([stimuli_root / str(i) for i in ordered["image"]],
                        ordered.reset_index(drop=True), crops, grey=grey)
    with atomic_path(paths["faces_figure"]) as tmp:
        figure.savefig(tmp, dpi=110, format="png")  # a plain Figure: pyplot never held it
    out["faces_figure"] = paths["faces_figure"]
    return out


def _only_session(bids_root, subject, task):
    """The session holding the task when there is exactly one (else None: the reader decides)."""
    from .bids import find_recordings

    found = find_recordings(bids_root, subject=subject, task=task)
    sessions = found["session"].dropna().unique() if "session" in found else []
    return sessions[0] if len(sessions) == 1 else None


def _participant_job(bids_root, output_dir, subject, config, kwargs) -> dict:
    """One participant, for a worker process: errors come back as a message, not a raise."""
    try:
        outputs = run_participant(bids_root, output_dir, subject, config, **kwargs)
        return {"subject": subject, "status": outputs["status"], "error": None}
    except IeegrsaError as err:
        return {"subject": subject, "status": "failed", "error": str(err)}
    except Exception as err:  # a bug: the other participants go on, the traceback is logged
        logger.exception("sub-%s crashed", subject)
        return {"subject": subject, "status": "crashed", "error": f"{type(err).__name__}: {err}"}


def run_participants(bids_root, output_dir, subjects=None, config=None, *, n_jobs=None,
                     scheduler=None, progress=None, **kwargs) -> pd.DataFrame:
    """The participant level for several patients, in parallel.

    Parameters
    ----------
    bids_root, output_dir, config
        As in :func:`run_participant`.
    subjects : list of str | None
        Participant labels (default: every ``sub-*`` of the dataset).
    n_jobs : int | None
        Patients at once (joblib convention: -1 = all cores); default ``config.n_jobs``.
    scheduler : str | None
        Address of a Dask distributed scheduler (e.g. ``tcp://10.0.0.5:8786``): the same jobs
        run on that cluster through joblib's dask backend.
    progress : bool | None
        A progress bar (default: when stderr is a terminal).
    **kwargs
        Passed to :func:`run_participant` (session, work_dir, skip_existing, overwrite ...).

    Returns
    -------
    pandas.DataFrame
        One row per participant: ``subject``, ``status`` (done, skipped, failed: bad input,
        crashed: an unexpected error, logged with its traceback), ``error``. A failed or
        crashed participant does not stop the others.
    """
    import sys

    from joblib import Parallel, delayed, parallel_config
    from tqdm.auto import tqdm

    from .bids import list_subjects

    config = load_config(config)
    available = list_subjects(bids_root)
    subjects = list(subjects) if subjects else available
    unknown = [s for s in subjects if s not in available]
    if unknown:  # before anything is written to the output folder
        raise DataError("no such participant in the dataset", file=bids_root,
                        field="--participant-label", found=", ".join(map(repr, unknown)),
                        fix=f"choose among {', '.join(available[:20]) or 'none'}")
    n_jobs = config.n_jobs if n_jobs is None else n_jobs
    output_dir = Path(output_dir)
    write_dataset_description(output_dir, source_dataset=bids_root, config=config)
    jobs = (delayed(_participant_job)(bids_root, output_dir, s, config, kwargs) for s in subjects)
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(subjects), desc="participants", unit="patient", disable=not show)
    results = []
    if scheduler:
        client = _dask_client(scheduler)
        try:
            with parallel_config(backend="dask"):
                for result in Parallel(return_as="generator_unordered")(jobs):
                    results.append(result)
                    bar.update()
        finally:
            client.close()
    else:
        for result in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
            results.append(result)
            bar.update()
    bar.close()
    order = {s: k for k, s in enumerate(subjects)}
    return pd.DataFrame(results).sort_values("subject", key=lambda s: s.map(order)).reset_index(
        drop=True)


def _dask_client(address):
    try:
        from dask.distributed import Client
    except ImportError:
        raise DataError("a Dask scheduler needs dask.distributed", field="--scheduler",
                        found=address, fix='pip install "ieegrsa[dask]"') from None
    try:
        return Client(address, timeout="10s")
    except OSError as err:
        raise DataError("cannot reach the Dask scheduler", field="--scheduler", found=address,
                        fix=f"start it first or check the address ({err})") from None


# -- group level -----------------------------------------------------------------------------
def read_similarity_tables(output_dir, task="faces") -> pd.DataFrame:
    """The similarity tables of every complete participant under ``output_dir``."""
    output_dir = Path(output_dir)
    tables = []
    for provenance in sorted(output_dir.glob(f"sub-*/**/sub-*_task-{task}_provenance.json")):
        record = json.loads(provenance.read_text(encoding="utf-8"))
        path = output_dir / record["Files"]["similarity"]
        tables.append(pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False,
                                  dtype={"subject": str, "session": str, "contact": str,
                                         "instance": str, "layer": str}))
    if not tables:
        raise DataError("no complete participant outputs to analyse", file=output_dir,
                        field="participant level", found=f"no sub-*_task-{task}_provenance.json",
                        fix="run the participant level first")
    return pd.concat(tables, ignore_index=True)


def run_group(output_dir, config=None, *, report=True, n_jobs=None) -> dict:
    """Run the group level: statistics across the participants' similarity tables.

    Parameters
    ----------
    output_dir : path-like
        The derivatives root written by the participant level.
    config : ieegrsa.Config | Mapping | path-like | None
        The configuration (its ``stats`` section; ``bids.task`` names the tables).
    report : bool
        Write ``group.html``.
    n_jobs : int | None
        Parallel jobs of the cluster tests (default ``config.n_jobs``).

    Returns
    -------
    dict
        Paths of the tables written (``mixedlm``, ``clusters``, ``onsets``, ``patients``,
        ``comparison`` when there is one) and ``report``.
    """
    from .stats.group import group_statistics
    from .stats.tables import write_stats_table

    config = load_config(config)
    output_dir = Path(output_dir)
    task = config.bids.task
    similarity = read_similarity_tables(output_dir, task)
    tables = group_statistics(similarity, config,
                              n_jobs=config.n_jobs if n_jobs is None else n_jobs)
    paths = group_paths(output_dir, task)
    folder = output_dir / "group"
    # written aside and swapped in whole: no mix of old and new tables, no half folder
    for stale in output_dir.glob(".group.*.part"):  # left by an interrupted group level
        shutil.rmtree(stale, ignore_errors=True)
    staging = output_dir / f".group.{os.getpid()}.part"
    written = []
    for kind in GROUP_TABLES:
        table = tables.get(kind)
        if table is None or (table.empty and kind == "comparison"):
            continue
        name = paths[kind].name
        write_stats_table(table, staging / name, kind, config=config)
        written.append((kind, name))
    staging.mkdir(parents=True, exist_ok=True)
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(staging, folder)
    outputs = {kind: folder / name for kind, name in written}
    if report:
        from .report import group_report

        outputs["report"] = group_report(output_dir, task=task)
    return outputs
