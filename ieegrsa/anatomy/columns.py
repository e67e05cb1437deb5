"""The contact table's columns: their order and descriptions (the BIDS sidecar of the table)."""

from __future__ import annotations

import pandas as pd

from .labels import atlas_column

__all__ = ["CONTACT_COLUMNS", "TABLE_COLUMNS", "describe_columns", "contact_columns"]

#: The contact table's columns in the order they are written, each with its description (a
#: string, or a dict with ``Description`` and ``Units`` as in a BIDS sidecar). Columns named per
#: atlas (``<atlas>_label``, ``<atlas>_distance``) and per ROI (``distance_<roi>``) follow, in
#: the table's order, described by :func:`describe_columns`.
CONTACT_COLUMNS = {
    "name": "Channel name (bipolar channels as 'A-B').",
    "x": {"Description": "Position, MNI x (bipolar channels: midpoint).", "Units": "mm"},
    "y": {"Description": "Position, MNI y.", "Units": "mm"},
    "z": {"Description": "Position, MNI z.", "Units": "mm"},
    "space": "Coordinate space of x, y, z.",
    "x_native": {"Description": "Position in the dataset's own (native) space, for contacts "
                 "warped to the template (n/a for the others).", "Units": "mm"},
    "y_native": {"Description": "Native y.", "Units": "mm"},
    "z_native": {"Description": "Native z.", "Units": "mm"},
    "space_native": "The dataset's own space the contact was warped from (n/a: not warped).",
    "warp_displacement": {"Description": "How far the non-linear registration step moved the "
                          "contact beyond the affine step (n/a: not registered, or affine "
                          "only).", "Units": "mm"},
    "type": "Channel type (seeg or ecog).",
    "status": "good or bad (from channels.tsv).",
    "status_description": "Reason given in channels.tsv for the status.",
    "group": "Shaft or strip.",
    "hemisphere": "L or R: from x in MNI space; for a contact placed by the dataset's label, from "
    "the label's prefix (ctx-lh-, Left- ...) or electrodes.tsv's hemisphere column where known.",
    "atlas_label": "Label in the primary atlas (nearest labelled voxel within the distance limit; "
    "n/a without MNI coordinates: native coordinates are never looked up in the MNI atlases).",
    "atlas_distance": {"Description": "Distance to that labelled voxel (0 inside).", "Units": "mm"},
    "dataset_label": "The contact's anatomical label in the dataset's own electrodes.tsv label "
    "column (codes as their names from electrodes.json; n/a without one). Present only when the "
    "dataset has label columns and anatomy.label_source is not atlas.",
    "dataset_label_column": "The electrodes.tsv column dataset_label comes from (the first with a "
    "label: anatomy.label_columns, then Destrieux, DKT, Desikan-Killiany).",
    "label_source": "What placed the contact in (or outside) the ROIs: dataset (its "
    "dataset_label), atlas (the atlases at its MNI coordinates) or n/a (not placed: no label "
    "and no MNI coordinates).",
    "roi": "Region of interest the contact belongs to (n/a outside every ROI).",
    "rois": "Every ROI the contact belongs to, ';'-separated.",
    "roi_distance": {"Description": "Distance to the assigned ROI (0 for a contact in it by its "
                     "dataset label; n/a without MNI coordinates).", "Units": "mm"},
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
    # from the epochs (ieegrsa.preprocessing.epochs_contacts), in the order they come
    "contact_a": "The contact itself, or the first contact of a bipolar pair.",
    "contact_b": "The second contact of a bipolar pair (n/a for a monopolar channel).",
    "reference": "Re-referencing scheme of the channel (preprocessing.reference).",
    "in_epochs": "Whether the channel is in the epochs (bad contacts dropped before are not)",
    # from electrodes.tsv, for the bad contacts the epochs no longer hold
    "size": {"Description": "Contact surface area, from electrodes.tsv.", "Units": "mm^2"},
    "material": "Contact material, from electrodes.tsv.",
    "manufacturer": "Electrode manufacturer, from electrodes.tsv.",
    "electrode_type": "Electrode type (depth, strip, grid), from electrodes.tsv.",
}

#: The contact table's named columns in their written order (the keys of
#: :data:`CONTACT_COLUMNS`).
TABLE_COLUMNS = list(CONTACT_COLUMNS)


def describe_columns(table: pd.DataFrame) -> dict:
    """A description of every column of a contact table, in the table's column order.

    Returns
    -------
    dict
        Column -> description (a string, or a dict with ``Description`` and ``Units``): from
        :data:`CONTACT_COLUMNS`, else made for the per-atlas and per-ROI columns (the atlases
        are read from ``table.attrs["atlases"]``), else the column name.
    """
    out = {}
    atlases = {atlas_column(a): a for a in table.attrs.get("atlases", [])}
    for column in table.columns:
        if column in CONTACT_COLUMNS:
            out[column] = CONTACT_COLUMNS[column]
        elif column.endswith("_label") and column[:-6] in atlases:
            out[column] = f"Label in the {atlases[column[:-6]]} atlas"
        elif column.endswith("_distance") and column[:-9] in atlases:
            out[column] = (f"Distance (mm) to the nearest grey-matter voxel of the "
                           f"{atlases[column[:-9]]} atlas (0 inside)")
        elif column.startswith("distance_"):
            out[column] = f"Distance (mm) from the contact to the ROI {column[9:]} (0 inside)"
        else:
            out[column] = column
    return out


def contact_columns(table: pd.DataFrame) -> dict:
    """Every column of a contact table with its description, in the order it is written.

    The columns of :data:`CONTACT_COLUMNS` come first, in its order; the others (per atlas,
    per ROI, any further) follow in the table's order.

    Parameters
    ----------
    table : pandas.DataFrame
        A contact table from :func:`localize`.

    Returns
    -------
    dict
        Column -> description, for the table's JSON sidecar
        (``write_tsv(table[list(columns)], path, columns=columns)``).
    """
    described = describe_columns(table)
    order = [c for c in CONTACT_COLUMNS if c in described]
    order += [c for c in described if c not in CONTACT_COLUMNS]
    return {column: described[column] for column in order}
