"""The participant report: one self-contained HTML page per patient (and session)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .._docs import fill_doc
from .._logging import verbose
from . import _common as common

logger = logging.getLogger("ieegrsa")

__all__ = ["participant_report", "make_participant_report", "participant_files"]

_LOCALIZER = ["name", "roi", "atlas_label", "included", "n_face", "n_nonface", "mean_face",
              "mean_nonface", "t", "p", "p_fdr", "d_prime", "face_selective"]
_EXCLUDED = ["name", "type", "group", "atlas_label", "roi", "status", "exclusion_reason"]


#: The participant-level files a report reads (keys of
#: :func:`ieegrsa.bids.derivatives.participant_paths`).
_KINDS = ("contacts", "preprocessing", "figure", "neural_rdms", "model_rdms", "similarity",
          "ceiling")


#: Files only some configurations write (the contact sheet: networks that crop faces).
_OPTIONAL = ("faces", "faces_figure", "registration")


def participant_files(output_dir, subject, *, task="faces", session=None) -> dict[str, Path]:
    """Paths of a participant's derivative files (whether or not they exist), by kind.

    The files a finished participant recorded in its provenance file; before that (or without
    one), the names of :func:`ieegrsa.bids.derivatives.participant_paths`, with the space of the
    contact table found on disk.

    Parameters
    ----------
    output_dir : path-like
        The derivatives root.
    subject : str
        Participant label (with or without ``sub-``).
    task : str
    session : str | None

    Returns
    -------
    files : dict
        ``contacts``, ``preprocessing``, ``figure`` (glass brain), ``neural_rdms``,
        ``model_rdms``, ``similarity``, ``ceiling``, ``faces`` (the conditions' stimulus table),
        ``faces_figure`` (the contact sheet of crops) -> path.
    """
    from ..bids.derivatives import participant_paths

    subject = str(subject).removeprefix("sub-")
    session = str(session).removeprefix("ses-") if session else None
    paths = participant_paths(output_dir, subject, task, session)
    recorded = {}
    if paths["provenance"].is_file():
        record = json.loads(paths["provenance"].read_text(encoding="utf-8"))
        recorded = {k: Path(output_dir) / v for k, v in record.get("Files", {}).items()}
    else:
        prefix = paths["contacts"].name.removesuffix("_electrodes.tsv")
        found = sorted(paths["contacts"].parent.glob(f"{prefix}_space-*_electrodes.tsv"))
        if found:
            space = found[0].name.removeprefix(f"{prefix}_space-").split("_")[0]
            paths = participant_paths(output_dir, subject, task, session, space=space)
    return {kind: recorded.get(kind, paths[kind]) for kind in (*_KINDS, *_OPTIONAL)}


def _load_rdms(path):
    path = Path(path)
    if not path.is_file() or not path.with_suffix(".json").is_file():
        return None
    from ..rsa import load_rdms

    try:
        return load_rdms(path)
    except Exception as err:
        logger.warning("report: could not read %s (%s)", path, err)
        return None


def _roi_names(config, *tables) -> list[str]:
    names = list(getattr(getattr(config, "anatomy", None), "rois", None) or [])
    for frame in tables:
        if frame is not None and "roi" in frame:
            names += [str(r) for r in pd.unique(frame["roi"].dropna())]
    return list(dict.fromkeys(names))


def _contacts_section(contacts, preprocessing, rois):
    """Counts per ROI, excluded contacts and channels, the localizer table."""
    out = {"n_contacts": 0, "n_included": 0, "roi_counts": None, "excluded": None,
           "dropped_channels": None, "localizer": None, "localizer_note": None}
    if contacts is not None:
        included = common.as_bool(contacts.get("included", pd.Series(True, index=contacts.index)))
        selective = common.as_bool(contacts.get("face_selective",
                                                pd.Series(False, index=contacts.index)))
        roi = contacts.get("roi", pd.Series(np.nan, index=contacts.index))
        out["n_contacts"], out["n_included"] = len(contacts), int(included.sum())
        counts = pd.DataFrame({
            "roi": rois,
            "contacts": [int((roi.astype(str) == r).sum()) for r in rois],
            "included": [int(((roi.astype(str) == r) & included).sum()) for r in rois],
            "face_selective": [int(((roi.astype(str) == r) & included & selective).sum())
                               for r in rois],
        })
        out["roi_counts"] = common.table(counts, highlight=counts["included"] == 0)
        excluded = contacts[~included.to_numpy()]
        if "exclusion_reason" in excluded:
            excluded = excluded.assign(exclusion_reason=excluded["exclusion_reason"].fillna(
                "not given"))
        out["excluded"] = common.table(excluded, _EXCLUDED)
        localizer_columns = [c for c in ("t", "p", "p_fdr", "d_prime") if c in contacts]
        ran = bool(localizer_columns) and contacts[localizer_columns].notna().any().any()
        if ran:
            shown = contacts.assign(included=included, face_selective=selective)
            shown = shown.sort_values("t", ascending=False, na_position="last") \
                if "t" in shown else shown
            out["localizer"] = common.table(shown, _LOCALIZER,
                                            highlight=shown["face_selective"].to_numpy())
            out["n_selective"] = int(selective.sum())
        else:
            out["localizer_note"] = ("The face-selectivity localizer did not run for this "
                                     "participant (no non-face images, or localizer: off).")
    if preprocessing is not None and "included" in preprocessing:
        keep = common.as_bool(preprocessing["included"])
        dropped = preprocessing[~keep.to_numpy()]
        if "reason" in dropped:
            dropped = dropped.assign(reason=dropped["reason"].fillna("not given"))
        out["dropped_channels"] = common.table(dropped, ["name", "kind", "type", "group",
                                                         "reason"])
    return out


def _rdm_section(neural, models, rois, labels=None):
    from .figures import figure_data_uri, plot_rdms

    items = []
    for roi in rois:
        figure = None
        if neural is not None:
            try:
                figure = plot_rdms(neural, roi, models, labels=labels)
            except Exception as err:  # one bad panel should not lose the page
                logger.warning("report: RDM figure of ROI %s failed (%s)", roi, err)
        items.append({"roi": roi, "image": figure_data_uri(figure) if figure else None})
    return items


def _timecourse_section(similarity, noise, rois):
    from .figures import figure_data_uri, plot_timecourses

    items = []
    for roi in rois:
        figure = None
        if similarity is not None and {"roi", "value", "model"} <= set(similarity.columns):
            try:
                figure = plot_timecourses(similarity, roi, noise)
            except Exception as err:
                logger.warning("report: time-course figure of ROI %s failed (%s)", roi, err)
        items.append({"roi": roi, "image": figure_data_uri(figure) if figure else None})
    return items


def _peaks(similarity):
    """Per ROI pattern and model: the peak similarity, its window and its p_fwe."""
    if similarity is None or not {"roi", "model", "value"} <= set(similarity.columns):
        return None
    rows = similarity[np.isfinite(similarity["value"])]
    if "pattern" in rows:
        rows = rows[rows["pattern"].astype(str) == "roi"]
    if rows.empty:
        return None
    if "p_fwe" not in rows:
        rows = rows.assign(p_fwe=np.nan)
    mean = (rows.groupby(["roi", "model", "window_start", "window_stop"], dropna=False)
            .agg(value=("value", "mean"), p_fwe=("p_fwe", "min")).reset_index())
    peaks = mean.loc[mean.groupby(["roi", "model"])["value"].idxmax()]
    return common.table(peaks, ["roi", "model", "window_start", "window_stop", "value",
                                "p_fwe"], highlight=(peaks["p_fwe"] < 0.05).to_numpy(),
                        labels={"value": "peak value", "p_fwe": "p (FWE)"})


@fill_doc
@verbose
def participant_report(output_dir, subject, *, task="faces", session=None, files=None,
                       verbose=None) -> Path:
    """Write the HTML report of one participant from its derivative files.

    The page (``OUTPUT_DIR/sub-<label>.html``, or ``sub-<label>_ses-<label>.html`` with a
    session) is :func:`make_participant_report` of the files, read back from disk: the report
    shows what the derivatives hold.

    Parameters
    ----------
    output_dir : path-like
        The derivatives root (the pipeline's ``OUTPUT_DIR``).
    subject : str
        Participant label (with or without ``sub-``).
    task : str
        Task label of the derivative files.
    session : str | None
        Session label.
    files : dict | None
        The files by kind (default: :func:`participant_files`).
    %(verbose)s

    Returns
    -------
    path : pathlib.Path
        The HTML file written (atomically).
    """
    subject = str(subject).removeprefix("sub-")
    session = str(session).removeprefix("ses-") if session else None
    output_dir = Path(output_dir)
    files = files or participant_files(output_dir, subject, task=task, session=session)
    info = common.provenance([files[k] for k in ("similarity", "contacts", "preprocessing",
                                                 "ceiling") if k in files])
    report = make_participant_report(
        subject, task=task, session=session,
        contacts=common.read_table(files["contacts"]),
        preprocessing=common.read_table(files["preprocessing"]),
        similarity=common.read_table(files["similarity"]),
        ceiling=common.read_table(files["ceiling"]),
        neural_rdms=_load_rdms(files["neural_rdms"]),
        model_rdms=_load_rdms(files["model_rdms"]),
        faces=common.read_table(files["faces"]),
        glassbrain=files["figure"], crops=files["faces_figure"],
        registration=files["registration"] if files["registration"].is_file() else None,
        config=info["config"], config_yaml=info["config_yaml"], config_source=info["source"],
        versions=info["versions"],
        missing=[files[k].name for k in _KINDS if not files[k].is_file()],
        group_link="group.html" if (output_dir / "group.html").is_file() else None)
    path = report.save(output_dir / report.name)
    logger.info("report: wrote %s", path)
    return path


def make_participant_report(subject, *, task="faces", session=None, contacts=None,
                            preprocessing=None, similarity=None, ceiling=None, neural_rdms=None,
                            model_rdms=None, faces=None, glassbrain=None, crops=None,
                            registration=None, config=None, config_yaml=None,
                            config_source=None, versions=None, missing=(),
                            group_link=None) -> common.Report:
    """The participant report of results held in memory (no derivatives needed).

    The page shows the contacts by ROI (glass brain), the exclusions and their reasons, the
    localizer results, the faces as each network saw them, the neural RDMs of each ROI at a
    few windows beside the model RDMs, the similarity time courses with permutation
    significance and noise ceiling, a methods paragraph, the configuration and the software
    versions. A missing piece gives a short sentence instead of a section.

    Parameters
    ----------
    subject : str
        Participant label.
    task : str
    session : str | None
    contacts, preprocessing : pandas.DataFrame | None
        The contact table (:func:`ieegrsa.localize`) and the preprocessing report
        (:func:`ieegrsa.preprocess` with ``return_report=True``).
    similarity, ceiling : pandas.DataFrame | None
        The similarity table and the noise ceilings (:mod:`ieegrsa.rsa.similarity`).
    neural_rdms, model_rdms : ieegrsa.rsa.RDMs | None
    faces : pandas.DataFrame | None
        The faces table (:func:`ieegrsa.models.crops.faces_table`).
    glassbrain, crops : matplotlib.figure.Figure | bytes | path-like | None
        The contact figure and the contact sheet of the crops.
    registration : matplotlib.figure.Figure | bytes | path-like | None
        The registration QC figure (:func:`ieegrsa.anatomy.plot_registration`) of contacts
        warped from a native space.
    config : ieegrsa.Config | None
        The configuration (the methods paragraph is written from it).
    config_yaml : str | None
        The configuration as shown (default: ``config`` as YAML).
    config_source : str | None
        Where the configuration was read from.
    versions : dict | None
        Software versions (default: those installed now).
    missing : sequence of str
        Files that were looked for and not found.
    group_link : str | None
        Link to the group page.

    Returns
    -------
    report : Report
        ``report.save(path)`` writes it; a notebook shows it inline.
    """
    from ..bids.derivatives import software_versions

    subject = str(subject).removeprefix("sub-")
    if versions is None:
        versions = software_versions()
    if config is not None and config_yaml is None:
        from ..config import config_to_yaml

        config_yaml = config_to_yaml(config)
    rois = _roi_names(config, contacts, similarity)
    methods = None
    if config is not None:
        from .methods import methods_text

        methods = methods_text(config, versions=versions)
    name = f"sub-{subject}" + (f"_ses-{session}" if session else "")
    html = common.render(
        "participant.html",
        title=f"ieegrsa report: {name} (task {task})",
        subject=subject, session=session, task=task,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=common.ieegrsa_version(),
        missing=list(missing),
        glassbrain=common.image_uri(glassbrain),
        registration=_registration_section(contacts, registration),
        contacts=_contacts_section(contacts, preprocessing, rois),
        has_contacts=contacts is not None,
        rois=rois,
        rdms=_rdm_section(neural_rdms, model_rdms, rois, labels=faces),
        crops=_crops_section(faces, crops),
        has_rdms=neural_rdms is not None,
        models=_model_list(model_rdms),
        timecourses=_timecourse_section(similarity, ceiling, rois),
        has_similarity=similarity is not None,
        peaks=_peaks(similarity),
        methods=methods.split("\n\n") if methods else None,
        config_yaml=config_yaml, config_source=config_source,
        versions=common.versions_rows(versions),
        group_link=group_link,
    )
    return common.Report(html, f"{name}.html")


def _registration_section(contacts, figure):
    """How native contacts reached MNI: the QC figure and one sentence of numbers."""
    from ..anatomy.native import warped_contacts

    if contacts is None:
        return None
    warped = warped_contacts(contacts)
    if not len(warped):
        return None
    space = ", ".join(pd.unique(warped["space"].astype(str)))
    native = ", ".join(pd.unique(warped["space_native"].astype(str)))
    text = f"{len(warped)} contacts were warped from {native} to {space}."
    shift = pd.to_numeric(warped.get("warp_displacement", pd.Series(dtype=float)),
                          errors="coerce")
    if shift.notna().any():
        text += (f" The non-linear registration step moved them by {shift.median():.1f} mm "
                 f"(median; largest {shift.max():.1f} mm, {warped.loc[shift.idxmax(), 'name']}).")
    return {"image": common.image_uri(figure), "text": text}


def _crops_section(faces, figure):
    """The contact sheet, where each face's geometry came from, and each network's crop."""
    if faces is None or "source" not in faces:
        return None
    counts = faces["source"].fillna("n/a").value_counts().rename_axis("source")
    crops = {c.removeprefix("crop_"): faces[c].iloc[0] for c in faces.columns
             if c.startswith("crop_")}
    return {"image": common.image_uri(figure),
            "sources": common.table(counts.reset_index(name="stimuli"), ["source", "stimuli"]),
            "crops": common.table(pd.DataFrame({"network": list(crops),
                                                "crop": list(crops.values())}),
                                  ["network", "crop"])}


def _model_list(models):
    if models is None:
        return None
    desc = models.descriptors
    if "model" not in desc:
        return None
    frame = desc.assign(n=1).groupby("model", sort=False).agg(
        objective=("objective", "first") if "objective" in desc else ("n", "size"),
        rdms=("n", "size")).reset_index()
    return common.table(frame, ["model", "objective", "rdms"],
                        labels={"rdms": "RDMs (layers × instances)"})
