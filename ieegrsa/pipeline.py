"""Participant level: chain the stages for one patient and write BIDS derivatives.

So far the participant level loads the recording, preprocesses it and localises its contacts,
writing the contact table, the preprocessing report and a glass-brain figure. The RSA, model and
statistics stages join here as they are built (DESIGN.md, "The flow").
"""

from __future__ import annotations

import logging
from pathlib import Path

from .bids import atomic_path, derivative_name, load_recording, write_tsv
from .bids.derivatives import software_versions
from .config import config_to_yaml, load_config

logger = logging.getLogger("ieegrsa")

__all__ = ["load_participant", "run_participant", "CONTACT_COLUMNS"]

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


def run_participant(bids_root, output_dir, subject, config=None, *, session=None):
    """Run the participant level for one patient and write its derivatives.

    Parameters
    ----------
    bids_root : path-like
        The BIDS dataset (only read).
    output_dir : path-like
        The derivatives root; files go under ``sub-<label>/ieeg/``.
    subject : str
        Participant label.
    config : ieegrsa.Config | Mapping | path-like | None
        The configuration.
    session : str | None
        Session label (``None``: the only session holding the task).

    Returns
    -------
    outputs : dict
        Paths of the files written, by kind, and ``summary`` (:meth:`Recording.summary`).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from .anatomy import localize, plot_contacts
    from .preprocessing import preprocess

    config = load_config(config)
    recording = load_participant(bids_root, subject, config, session=session)
    epochs, report = preprocess(recording, config, return_report=True)
    contacts = localize(recording, epochs, config)

    folder = Path(output_dir) / f"sub-{recording.subject}" / "ieeg"
    names = {"subject": recording.subject, "task": recording.task, "session": recording.session}
    provenance = {"Config": config_to_yaml(config), "SoftwareVersions": software_versions(),
                  "Sources": [str(p.fpath) for p in recording.bids_paths]}
    outputs = {}
    columns = [c for c in CONTACT_COLUMNS if c in contacts.columns]
    columns += [c for c in contacts.columns if c not in columns]
    outputs["contacts"] = write_tsv(
        contacts[columns], folder / derivative_name(**names, desc="contacts", suffix="electrodes",
                                                    extension=".tsv"),
        columns=CONTACT_COLUMNS, extra=provenance,
    )
    outputs["preprocessing"] = write_tsv(
        report, folder / derivative_name(**names, desc="preprocessing", suffix="channels",
                                         extension=".tsv"),
        columns={c: c.replace("_", " ") for c in report.columns}, extra=provenance,
    )
    figure = plot_contacts(contacts, title=f"sub-{recording.subject}: contacts by ROI")
    figure_path = folder / derivative_name(**names, desc="contacts", suffix="glassbrain",
                                           extension=".png")
    with atomic_path(figure_path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
    outputs["figure"] = figure_path
    outputs["summary"] = recording.summary()
    logger.info("sub-%s: %d epochs, %d of %d contacts included", recording.subject, len(epochs),
                int(contacts["included"].sum()), len(contacts))
    return outputs
