"""The participant level: one patient from the BIDS dataset to its derivatives and report."""

from __future__ import annotations

import inspect
import json
import logging
import time
from pathlib import Path

import pandas as pd

from .._docs import fill_doc
from .._files import atomic_path
from .._logging import progress_bar, verbose
from ..bids import MNI_SPACES, load_recording, write_json, write_tsv
from ..bids.derivatives import (
    CHANNELS_FIRST,
    ELECTRODES_FIRST,
    config_hash,
    participant_paths,
    provenance_record,
    write_bids_table,
    write_coordsystem,
    write_dataset_description,
)
from ..config import load_config
from ..errors import DataError, IeegrsaError

logger = logging.getLogger("ieegrsa")

__all__ = ["load_participant", "run_participant", "run_participants", "participant_paths",
           "config_hash"]


def load_participant(bids_root, subject, config=None, *, session=None, task=None,
                     label_source=None, label_columns=None):
    """Load a participant's recording with the ``bids`` section of ``config``.

    Parameters
    ----------
    bids_root : path-like
        The BIDS dataset.
    subject : str
        Participant label.
    config : ieegrsa.config.BIDSConfig | ieegrsa.Config | Mapping | path-like | None
        The ``bids`` section, or anything :func:`ieegrsa.load_config` accepts.
    session, task : str | None
        Override ``bids.session`` and ``bids.task``.
    label_source, label_columns : str, list of str | None
        ``anatomy.label_source`` and ``anatomy.label_columns`` (None: those of a whole
        ``config``, else their defaults).
    """
    from ..config import config_section, config_value

    bids = config_section(config, "bids")
    label_source = config_value(config, "anatomy.label_source", label_source)
    label_columns = config_value(config, "anatomy.label_columns", label_columns)
    # native contacts load unless anatomy.warp is off: the anatomy stage warps them to MNI
    require_mni = config_value(config, "anatomy.warp.method", None) == "off"
    return load_recording(
        bids_root, subject, task or bids.task, session=session or bids.session, run=bids.run,
        require_mni=require_mni, assume_space=bids.assume_space, label_source=label_source,
        label_columns=tuple(label_columns), stim_file_column=bids.stim_file_column,
        identity_column=bids.identity_column, expression_column=bids.expression_column,
        repetition_column=bids.repetition_column, stimuli_table=bids.stimuli_table,
    )


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
            fix="set overwrite=True to replace them, or write to another output folder",
        )
    provenance.unlink()  # from here on, the old outputs no longer look complete
    return None


def _arguments(section, function, **fixed) -> dict:
    """The fields of ``section`` that are parameters of ``function``, by name (the config's
    field names are the stage's parameter names; tests/test_config_signatures.py holds them
    together), plus ``fixed``."""
    parameters = inspect.signature(function).parameters
    return {**{name: getattr(section, name) for name in type(section).model_fields
               if name in parameters}, **fixed}


@fill_doc
@verbose
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
    %(verbose)s

    Returns
    -------
    outputs : dict
        Paths of the files written, by kind; ``summary`` (:meth:`Recording.summary`), ``status``
        (``"done"`` or ``"skipped"``).
    """
    from ..anatomy import contact_warp, localize, plot_contacts, plot_registration
    from ..models import configured_model_rdms
    from ..preprocessing import preprocess
    from ..rsa import neural_rdms
    from ..rsa.similarity import (
        CEILING_COLUMNS,
        SIMILARITY_COLUMNS,
        neural_ceiling,
        similarity_table,
    )

    started = time.time()
    config = load_config(config)  # validated once; each stage gets its own section
    digest = config_hash(config)
    task = config.bids.task
    if session is None and config.bids.session is None:
        session = _only_session(bids_root, subject, task)
    session = session or config.bids.session
    paths = participant_paths(output_dir, subject, task, session)
    record = _check_previous(paths, digest, skip_existing=skip_existing, overwrite=overwrite)
    if record is not None:
        logger.info("sub-%s: outputs of this configuration exist; skipped", subject)
        return {**{k: Path(output_dir) / v for k, v in record["Files"].items()},
                "summary": record.get("Summary", {}), "status": "skipped"}

    recording = load_participant(bids_root, subject, config, session=session)
    # before the preprocessing, so that a native space nothing can place fails fast
    warp = contact_warp(recording, config.anatomy,
                        cache_dir=Path(work_dir) / "warps" if work_dir is not None else None)
    epochs, channel_report = preprocess(recording, config.preprocessing, return_report=True)
    contacts = localize(recording, epochs, config.anatomy, stimuli_table=config.bids.stimuli_table,
                        seed=config.random_seed, warp=warp)
    provenance = provenance_record(config, [p.fpath for p in recording.bids_paths])
    sidecar = {k: provenance[k] for k in ("Config", "SoftwareVersions", "Sources")}
    space = _space(contacts, recording.bids_root)
    paths = participant_paths(output_dir, subject, task, session, space=space)
    outputs = _write_contacts(contacts, channel_report, config.preprocessing, paths, space,
                              sidecar)
    if space in MNI_SPACES or space == "MNI":  # native coordinates would land anywhere
        figure = plot_contacts(contacts, title=f"sub-{recording.subject}: contacts by ROI")
        with atomic_path(paths["figure"]) as tmp:
            figure.savefig(tmp, dpi=100, format="png")
        outputs["figure"] = paths["figure"]
    else:
        logger.info("sub-%s: contacts in the native space %s: no glass brain", subject, space)
    if contacts.attrs.get("warp", {}).get("n_warped"):
        figure = plot_registration(
            contacts, warp, max_displacement=config.anatomy.warp.max_displacement,
            title=f"sub-{recording.subject}: {warp.native_space} to {warp.space}")
        with atomic_path(paths["registration"]) as tmp:
            figure.savefig(tmp, dpi=100, format="png")
        outputs["registration"] = paths["registration"]

    if not contacts["included"].astype(bool).any():
        raise DataError(
            "no contact of this participant is included in an ROI", file=paths["contacts"],
            field="included", found=f"0 of {len(contacts)} contacts",
            fix="check the contact positions and anatomy.rois, or leave the participant out")
    rsa = config.rsa
    neural_kwargs = _arguments(rsa, neural_rdms)
    neural = neural_rdms(epochs, contacts, subject=recording.subject, **neural_kwargs)
    outputs["neural_rdms"] = neural.save(paths["neural_rdms"])
    cache = Path(work_dir) / "features" if work_dir is not None else None
    models, faces = configured_model_rdms(
        recording.stimuli, neural.conditions, config.models,
        condition_column=rsa.condition_column, seed=config.random_seed,
        stimuli_root=Path(bids_root) / "stimuli", cache_dir=cache, return_faces=True)
    outputs["model_rdms"] = models.save(paths["model_rdms"])
    outputs.update(_write_faces(faces, neural.conditions, recording.stimuli,
                                Path(bids_root) / "stimuli", paths, sidecar))
    ceiling = None
    if rsa.noise_ceiling:
        ceiling = neural_ceiling(epochs, contacts, rsa.method, conditions=neural.conditions,
                                 subject=recording.subject, **neural_kwargs)
        outputs["ceiling"] = write_tsv(ceiling, paths["ceiling"], columns=CEILING_COLUMNS,
                                       extra=sidecar)
    table = similarity_table(neural, models, **_arguments(
        rsa, similarity_table, seed=config.random_seed, ceiling=ceiling,
        session=recording.session))
    outputs["similarity"] = write_tsv(table, paths["similarity"], columns=SIMILARITY_COLUMNS,
                                      extra=sidecar)
    if report:
        from ..report import participant_report

        outputs["report"] = participant_report(
            output_dir, recording.subject, task=task, session=recording.session,
            files={k: v for k, v in paths.items() if k != "report"})
    summary = recording.summary()
    write_json({
        **provenance, "Summary": summary, "Warp": contacts.attrs.get("warp") or None,
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


def _space(contacts, source) -> str:
    """The one coordinate space of the contact table (the ``space`` entity of its file)."""
    spaces = [s for s in pd.unique(contacts.get("space", pd.Series(dtype=str)).dropna())
              if str(s) not in ("", "n/a")]
    if len(spaces) != 1:  # the reader gives one template space; say so if that ever breaks
        raise DataError("the contacts must be in one coordinate space", file=source,
                        field="space", found=", ".join(map(str, spaces)) or "none",
                        fix="give every contact of electrodes.tsv the coordsystem.json's space")
    return str(spaces[0])


def _write_contacts(contacts, channel_report, preprocessing, paths, space, sidecar) -> dict:
    """The contact table as a derived ``electrodes.tsv`` with its ``coordsystem.json``, and the
    preprocessing report as a derived ``channels.tsv``."""
    from ..anatomy.table import contact_columns
    from ..preprocessing.core import bids_channels

    contacts = _with_columns(contacts, ELECTRODES_FIRST)  # size is n/a when not recorded
    outputs = {"contacts": write_bids_table(contacts, paths["contacts"],
                                            contact_columns(contacts), ELECTRODES_FIRST,
                                            extra=sidecar)}
    outputs["coordsystem"] = write_coordsystem(paths["coordsystem"], space,
                                               warp=contacts.attrs.get("warp"))
    channels, described = bids_channels(channel_report, preprocessing)
    outputs["preprocessing"] = write_bids_table(channels, paths["preprocessing"], described,
                                                CHANNELS_FIRST, extra=sidecar)
    return outputs


def _with_columns(table, columns):
    """``table`` with the ``columns`` it lacks added as missing values."""
    return table.reindex(columns=[*table.columns, *(c for c in columns if c not in table)])


def _write_faces(faces, conditions, stimuli, stimuli_root, paths, sidecar) -> dict:
    """The RSA conditions' faces table and, when networks crop, the contact sheet."""
    from ..models.crops import crops_figure, faces_table

    table, columns = faces_table(faces, conditions, stimuli)
    out = {"faces": write_tsv(table, paths["faces"], columns=columns, extra=sidecar)}
    figure = crops_figure(table, stimuli_root)
    if figure is not None:
        with atomic_path(paths["faces_figure"]) as tmp:
            figure.savefig(tmp, dpi=110, format="png")  # a plain Figure: pyplot never held it
        out["faces_figure"] = paths["faces_figure"]
    return out


def _only_session(bids_root, subject, task):
    """The session holding the task when there is exactly one (else None: the reader decides)."""
    from ..bids.discovery import task_sessions

    sessions = task_sessions(bids_root, subject, task)
    return sessions[0] if len(sessions) == 1 else None


def _participant_job(bids_root, output_dir, subject, config, kwargs) -> dict:
    """One participant, for a worker process: errors come back as a message, not a raise."""
    try:
        outputs = run_participant(bids_root, output_dir, subject, config, **kwargs)
        return {"subject": subject, "status": outputs["status"], "error": None}
    except IeegrsaError as err:
        return {"subject": subject, "status": "failed", "error": str(err), "exception": err}
    except Exception as err:  # a bug: the other participants go on, the traceback is logged
        logger.exception("sub-%s crashed", subject)
        return {"subject": subject, "status": "crashed", "error": f"{type(err).__name__}: {err}"}


@fill_doc
@verbose
def run_participants(bids_root, output_dir, subjects=None, config=None, *, n_jobs=None,
                     scheduler=None, verbose=None, progress=None, **kwargs) -> pd.DataFrame:
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
    %(verbose)s
    progress : bool | None
        Deprecated: the progress bar follows ``verbose`` (it is shown at ``"INFO"`` and below).
    **kwargs
        Passed to :func:`run_participant` (session, work_dir, skip_existing, overwrite ...).

    Returns
    -------
    pandas.DataFrame
        One row per participant: ``subject``, ``status`` (done, skipped, failed: bad input,
        crashed: an unexpected error, logged with its traceback), ``error``. A failed or
        crashed participant does not stop the others. ``attrs["exceptions"]`` holds the
        :class:`~ieegrsa.errors.IeegrsaError` of each failed participant.
    """
    from joblib import Parallel, delayed, parallel_config

    from ..bids import list_subjects

    if progress is not None:
        import warnings

        warnings.warn("run_participants(progress=...) is deprecated: the progress bar follows "
                      "verbose (shown at 'INFO' and below)", FutureWarning, stacklevel=3)
    config = load_config(config)
    available = list_subjects(bids_root)
    subjects = list(subjects) if subjects else available
    unknown = [s for s in subjects if s not in available]
    if unknown:  # before anything is written to the output folder
        raise DataError("no such participant in the dataset", file=bids_root,
                        field="subjects", found=", ".join(map(repr, unknown)),
                        fix=f"choose among {', '.join(available[:20]) or 'none'}")
    n_jobs = config.n_jobs if n_jobs is None else n_jobs
    output_dir = Path(output_dir)
    write_dataset_description(output_dir, source_dataset=bids_root, config=config)
    jobs = (delayed(_participant_job)(bids_root, output_dir, s, config, kwargs) for s in subjects)
    bar = progress_bar(total=len(subjects), desc="participants", unit="patient")
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
    exceptions = {r["subject"]: r.pop("exception") for r in results if "exception" in r}
    table = pd.DataFrame(results).sort_values("subject", key=lambda s: s.map(order))
    table = table.reset_index(drop=True)
    table.attrs["exceptions"] = exceptions  # the errors themselves, for the command line
    return table


def _dask_client(address):
    try:
        from dask.distributed import Client
    except ImportError:
        raise DataError("a Dask scheduler needs dask.distributed", field="scheduler",
                        found=address, fix='pip install "ieegrsa[dask]"') from None
    try:
        return Client(address, timeout="10s")
    except OSError as err:
        raise DataError("cannot reach the Dask scheduler", field="scheduler", found=address,
                        fix=f"start it first or check the address ({err})") from None
