"""The contact table: every contact's place, ROI, face selectivity, and whether it is analysed.

:func:`localize` chains the anatomy stage: contact positions (from the epochs when given, so that
bipolar derivations are placed at their midpoints, else from the recording), atlas labels,
ROI membership, the face-selectivity localizer, and the inclusion decision with its reason.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..preprocessing import epochs_contacts
from ..preprocessing.core import excluded_contacts
from .atlases import atlas_info, register_atlas, resolve_atlas_name
from .columns import CONTACT_COLUMNS, TABLE_COLUMNS, contact_columns, describe_columns
from .labels import NA, atlas_column, hemisphere_of, label_contacts
from .localizer import COLUMNS as SELECTIVITY_COLUMNS
from .localizer import face_selectivity
from .native import contact_warp, warp_contacts
from .rois import (
    NO_ROI,
    dataset_roi_membership,
    load_roi_definitions,
    resolve_rois,
    roi_membership,
)

logger = logging.getLogger("ieegrsa")

__all__ = ["localize", "contact_positions", "describe_columns", "contact_columns",
           "CONTACT_COLUMNS", "TABLE_COLUMNS"]

_IEEG_TYPES = ("seeg", "ecog", "dbs")


def _recording_space(recording) -> str:
    if recording is None or getattr(recording, "contacts", None) is None:
        return NA
    spaces = pd.unique(recording.contacts.get("space", pd.Series(dtype=str)).dropna().astype(str))
    return spaces[0] if len(spaces) == 1 else (",".join(spaces) if len(spaces) else NA)


def contact_positions(recording=None, epochs=None) -> pd.DataFrame:
    """Contacts and their MNI positions (mm), from the epochs if given, else from the recording.

    With epochs, the rows are the epochs' iEEG channels in their order; positions come from
    :func:`ieegrsa.preprocessing.epochs_contacts`, i.e. the channel locations of the epochs'
    info (so re-referenced bipolar channels keep their midpoints).
    The recording's contact table supplies space, type, status and group by name; bad contacts
    of the recording that the epochs no longer hold are appended (so the table shows why they
    are not analysed).
    """
    base_cols = ["name", "x", "y", "z", "space", "type", "status", "status_description", "group"]
    rec = None
    if recording is not None and getattr(recording, "contacts", None) is not None:
        rec = recording.contacts.copy()
    if epochs is None:
        if rec is None:
            raise DataError("localize needs a recording or epochs", fix="Pass one of them")
        table = rec
        table["in_epochs"] = False
    else:
        table = _epochs_positions(epochs)
        table["in_epochs"] = True
        for column in ("space", "group", "type"):
            if column in table.columns:  # "n/a" from epochs_contacts means unknown
                table[column] = table[column].where(table[column].astype(str) != NA)
        if rec is not None:
            table = _complete_from_recording(table, rec)
            excluded = excluded_contacts(epochs)  # e.g. clinical: soz (preprocessing's reason)
            dropped = rec[~rec["name"].isin(table["name"])
                          & ((rec.get("status", pd.Series("good", index=rec.index)) == "bad")
                             | rec["name"].isin(list(excluded)))]
            if len(dropped):
                dropped = dropped.assign(in_epochs=False, _excluded=dropped["name"].map(excluded))
                table = pd.concat([table, dropped], ignore_index=True)
    for column in base_cols:
        if column not in table.columns:
            table[column] = np.nan
    space = _recording_space(recording)
    table["space"] = table["space"].where(table["space"].notna(), space)
    table["type"] = table["type"].where(table["type"].notna(), NA)
    table["status"] = table["status"].where(table["status"].notna(), "good")
    table["status_description"] = table["status_description"].where(
        table["status_description"].notna(), NA)
    table["group"] = table["group"].where(table["group"].notna(), NA)
    for column in ("x", "y", "z"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    rest = [c for c in table.columns if c not in base_cols]
    return table[base_cols + rest].reset_index(drop=True)


def _complete_from_recording(table: pd.DataFrame, rec: pd.DataFrame) -> pd.DataFrame:
    """Fill what the epochs do not know (positions, space, status ...) from the recording.

    A channel is matched to the recording's contacts by ``contact_a`` / ``contact_b`` (from
    :func:`ieegrsa.preprocessing.epochs_contacts`) or by name: a bipolar channel without a
    position is placed at the midpoint of its two contacts, and is bad if either is.
    """
    table = table.copy()
    rec = rec.drop_duplicates("name").set_index("name")
    a = table["contact_a"] if "contact_a" in table.columns else table["name"]
    a = a.where(a.notna(), table["name"])
    b = table["contact_b"] if "contact_b" in table.columns else pd.Series(None, index=table.index)
    b = b.where(b.notna() & b.astype(str).isin(rec.index))
    xyz_rec = rec.reindex(columns=["x", "y", "z"]).apply(pd.to_numeric, errors="coerce")
    pa = xyz_rec.reindex(a).to_numpy(float)
    pb = xyz_rec.reindex(b.fillna("")).to_numpy(float)
    pos = np.where(b.notna().to_numpy()[:, None], (pa + pb) / 2.0, pa)
    for k, column in enumerate(("x", "y", "z")):
        have = pd.to_numeric(table[column], errors="coerce") if column in table.columns \
            else pd.Series(np.nan, index=table.index)
        table[column] = have.where(have.notna(), pos[:, k])
    for column in ("space", "type", "status", "status_description", "group"):
        if column not in rec.columns:
            continue
        known = a.map(rec[column])
        if column in table.columns:
            table[column] = table[column].where(table[column].notna(), known)
        else:
            table[column] = known
    if "status" in rec.columns:
        bad_b = b.map(rec["status"]).eq("bad")
        table.loc[bad_b.to_numpy(), "status"] = "bad"
    if "_dataset_region" in rec.columns:
        _pair_labels(table, rec, a, b)
    return table


_LABEL_COLUMNS = ("dataset_label", "dataset_label_column", "_dataset_region",
                  "_dataset_hemisphere")


def _pair_labels(table, rec, a, b) -> None:
    """The dataset's labels of the epochs' channels: a bipolar pair has its contacts' label
    where both agree (region and hemisphere), else none (its label shows both)."""
    for column in _LABEL_COLUMNS:
        if column in rec.columns:
            table[column] = a.map(rec[column]).where(lambda v: v.notna(), NA).to_numpy(object)
    pair = b.notna()
    if not pair.any():
        return
    same = (a.map(rec["_dataset_region"]).eq(b.map(rec["_dataset_region"]))
            & a.map(rec["_dataset_hemisphere"]).eq(b.map(rec["_dataset_hemisphere"])))
    differ = (pair & ~same).to_numpy()
    if differ.any():
        both = (a.map(rec["dataset_label"]).astype(str) + " / "
                + b.map(rec["dataset_label"]).astype(str))
        table.loc[differ, "dataset_label"] = both[differ].to_numpy()
        table.loc[differ, "_dataset_region"] = NA
        table.loc[differ, "_dataset_hemisphere"] = NA


def _epochs_positions(epochs) -> pd.DataFrame:
    """The epochs' iEEG channels as contacts, bad ones marked (positions from the info)."""
    names = [epochs.ch_names[i] for i in _ieeg_picks(epochs)]
    table = epochs_contacts(epochs)
    table = table[table["name"].isin(names)].reset_index(drop=True)
    bads = set(epochs.info["bads"])
    if bads:
        table["status"] = np.where(table["name"].isin(bads), "bad", None)
    return table


def _ieeg_picks(epochs) -> list[int]:
    types = epochs.get_channel_types()
    picks = [i for i, t in enumerate(types) if t in _IEEG_TYPES]
    return picks or list(range(len(types)))


_CUSTOM: dict[str, tuple] = {}  # custom atlas name -> (image, labels) as registered


def _register_custom_atlases(custom_atlases, recording) -> None:
    root = getattr(recording, "bids_root", None)
    for name, spec in custom_atlases.items():
        paths = []
        for value in (spec.image, spec.labels):
            path = Path(value).expanduser()
            if not path.is_absolute() and root is not None and (Path(root) / path).exists():
                path = Path(root) / path
            if not path.exists():
                raise DataError(
                    f"A file of the custom atlas {name!r} does not exist",
                    file=path,
                    field=f"anatomy.custom_atlases.{name}",
                    fix="Give an absolute path, or one relative to the BIDS dataset root or the "
                    "working directory",
                )
            paths.append(path)
        if _CUSTOM.get(name) == tuple(paths):
            continue  # already registered (and possibly loaded): keep the cache
        register_atlas(name, paths[0], paths[1], description=spec.description, replace=True)
        _CUSTOM[name] = tuple(paths)


def _needs_localizer(anatomy) -> bool:
    return anatomy.membership != "anatomy" or anatomy.localizer.run == "on"


def _check_nonface(recording, epochs, anatomy, stimuli_table) -> bool:
    """Whether the localizer runs; raises when the configuration requires it but cannot."""
    required = _needs_localizer(anatomy)
    if anatomy.localizer.run == "off":
        return False
    category = None
    where = None
    if epochs is not None and getattr(epochs, "metadata", None) is not None \
            and "category" in epochs.metadata.columns:
        category = epochs.metadata["category"].astype(str).str.lower()
        where = "the epochs' metadata (category)"
    elif recording is not None and getattr(recording, "stimuli", None) is not None \
            and "category" in recording.stimuli.columns:
        category = recording.stimuli["category"].astype(str).str.lower()
        where = "the stimulus table (category)"
    has_nonface = category is not None and (category == "nonface").any()
    if not required:
        return epochs is not None and has_nonface
    why = ("membership: " + anatomy.membership) if anatomy.membership != "anatomy" \
        else "localizer.run: on"
    if not has_nonface:
        file = None
        if recording is not None and getattr(recording, "bids_root", None) is not None:
            file = Path(recording.bids_root) / stimuli_table
        raise DataError(
            f"The configuration asks for the face-selectivity localizer ({why}), but this "
            "dataset has no non-face stimuli",
            file=file,
            field="category",
            found=f"no 'nonface' category in {where}" if where else "no category column",
            fix="Add non-face images (houses, objects, scrambled faces) with category 'nonface' "
            "to the stimuli, or set anatomy.membership: anatomy and anatomy.localizer.run: auto",
        )
    if epochs is None:
        raise DataError(
            f"The face-selectivity localizer ({why}) needs the epochs",
            fix="Call ieegrsa.localize(recording, epochs=ieegrsa.preprocess(recording, config), "
            "config=config)",
        )
    return True


def localize(recording=None, epochs=None, config=None, *, stimuli_table=None,
             seed=None, warp=None, cache_dir=None) -> pd.DataFrame:
    """The contact table: where each contact is, its ROI, face selectivity, and inclusion.

    Parameters
    ----------
    recording : ieegrsa.Recording | None
        The patient's recording (contacts with MNI coordinates, space, status; stimuli).
    epochs : mne.Epochs | None
        High-gamma amplitude epochs from :func:`ieegrsa.preprocess`. When given, the table has
        one row per iEEG channel of the epochs (bipolar channels at their midpoints), plus the
        recording's bad contacts that the epochs dropped; the localizer runs on them.
    config : AnatomyConfig | Config | Mapping | str | path-like | None
        The ``anatomy`` section (what the pipeline passes), or anything
        :func:`ieegrsa.load_config` accepts, of which only that section is used.
    stimuli_table : str | None
        The stimulus table's path relative to the dataset root, named in the error when the
        localizer lacks non-face stimuli; None: ``bids.stimuli_table`` of a whole ``config``,
        else its default.
    seed : int | None
        Seed of the localizer's permutations; None: ``random_seed`` of a whole ``config``,
        else its default.
    warp : ieegrsa.anatomy.ContactWarp | None
        How native-space contacts reach MNI (:func:`ieegrsa.anatomy.contact_warp`); None: made
        here by ``anatomy.warp`` when contacts need it.
    cache_dir : path-like | None
        Where a registration made here is cached (by the T1w's content); None: not cached.

    Returns
    -------
    pandas.DataFrame
        One row per contact with: ``name``, ``x``, ``y``, ``z`` (MNI mm), ``space``, ``type``,
        ``status``, ``status_description``, ``group``, ``hemisphere`` (L/R from x, or from the
        dataset's label), ``atlas_label`` and ``atlas_distance`` (primary atlas; n/a without MNI
        coordinates), ``dataset_label`` and ``dataset_label_column`` (the dataset's own label,
        when electrodes.tsv has label columns and ``anatomy.label_source`` is not atlas),
        ``label_source`` (dataset / atlas / n/a: what placed the contact), ``roi`` (the first
        configured
        ROI the contact belongs to, ``n/a`` outside every ROI), ``rois`` (all of them, joined
        by ``;``), ``roi_distance`` (mm to the assigned ROI), the localizer's ``n_face``,
        ``n_nonface``, ``mean_face``, ``mean_nonface``, ``t``, ``p``, ``p_fdr``, ``d_prime``,
        ``face_selective`` (NaN / False when it did not run), ``included`` (bool),
        ``exclusion_reason`` (``n/a`` when included), then ``<atlas>_label`` and
        ``<atlas>_distance`` for every atlas, ``distance_<roi>`` for every ROI and
        ``in_epochs``.

        ``table.attrs`` holds ``empty_rois`` (ROIs without any included contact: reported by a
        warning, not an error), ``rois``, ``atlases``, ``primary_atlas``, ``roi_method``,
        ``membership``, ``localizer`` (whether it ran, its test and window), ``label_source``
        and ``label_columns`` (the dataset's label columns read, with their parcellation).

        With ``anatomy.label_source`` auto (the default) a contact with a label in the
        dataset's own electrodes.tsv label columns is placed in the ROIs by that label (the
        ROIs' ``dataset_labels``), whatever its coordinates; the others by the atlases at their
        MNI coordinates. dataset: only by the labels; atlas: only by the atlases. Coordinates
        in a space that is not MNI-aligned are never looked up in the MNI atlases.

    Raises
    ------
    ConfigError
        For an unknown atlas or ROI, or an ROI label missing from its atlas.
    DataError
        When the configuration requires the localizer and the dataset has no non-face stimuli
        (or no epochs were given).
    """
    from ..config import SUPPORTED_SPACES, config_section, config_value

    anatomy = config_section(config, "anatomy")
    stimuli_table = config_value(config, "bids.stimuli_table", stimuli_table)
    seed = config_value(config, "random_seed", seed)
    _register_custom_atlases(anatomy.custom_atlases, recording)
    atlases = [resolve_atlas_name(a) for a in anatomy.atlases]
    primary = resolve_atlas_name(anatomy.primary_atlas)
    if primary not in atlases:
        atlases.insert(0, primary)
    definitions = load_roi_definitions(anatomy.roi_definitions)
    rois = resolve_rois(anatomy.rois, definitions)
    run_localizer = _check_nonface(recording, epochs, anatomy, stimuli_table)

    table = contact_positions(recording, epochs)
    if warp is None and recording is not None:
        warp = contact_warp(recording, anatomy, contacts=table, cache_dir=cache_dir)
    table = warp_contacts(table, warp, max_displacement=anatomy.warp.max_displacement)
    warp_info = table.attrs.get("warp", {})
    n = len(table)
    xyz = table[["x", "y", "z"]].to_numpy(float)
    finite = np.isfinite(xyz).all(axis=1)
    spaces = table["space"].astype(str)
    mni = spaces.isin(SUPPORTED_SPACES) | spaces.str.upper().eq("MNI") | spaces.eq(NA)
    placeable = finite & mni.to_numpy()
    if (spaces == NA).any():
        logger.warning("The contacts' space is unknown; assuming MNI coordinates")
    xyz_used = np.where(placeable[:, None], xyz, np.nan)

    labels = label_contacts(xyz_used, atlases, anatomy.max_distance)
    labels.index = table.index
    hemisphere = hemisphere_of(xyz_used)
    stem = atlas_column(primary)
    table["atlas_label"] = labels[f"{stem}_label"]
    table["atlas_distance"] = labels[f"{stem}_distance"]

    member, distance = roi_membership(xyz_used, rois, method=anatomy.roi_method,
                                      max_distance=anatomy.max_distance,
                                      radius=anatomy.sphere_radius)
    member.index = distance.index = table.index

    # The dataset's own labels (anatomy.label_source): they place a contact without MNI
    # coordinates; the atlases place the others (auto) or none (dataset).
    source = anatomy.label_source
    has_labels = source != "atlas" and "_dataset_region" in table.columns
    if has_labels:
        region = table["_dataset_region"].where(table["_dataset_region"].notna(), NA)
        side = table["_dataset_hemisphere"].where(table["_dataset_hemisphere"].notna(), NA)
        by_label = region.astype(str).ne(NA).to_numpy()
        by_dataset = dataset_roi_membership(region, side, rois).to_numpy(bool)
        # the label's hemisphere (or the file's hemisphere column) where x cannot tell
        known_side = (by_label | ~placeable) & side.astype(str).ne(NA).to_numpy()
        hemisphere = np.where(known_side, side.to_numpy(object), hemisphere)
        member.loc[by_label, :] = by_dataset[by_label]
        distance.loc[by_label, :] = np.where(by_dataset[by_label], 0.0,
                                             distance.to_numpy(float)[by_label])
    else:
        by_label = np.zeros(n, dtype=bool)
        for column in _LABEL_COLUMNS:
            if column in table.columns:
                del table[column]
    by_atlas = placeable & ~by_label & (source != "dataset")
    if source == "dataset":
        member.loc[~by_label, :] = False
        distance.loc[~by_label, :] = np.nan
    table["hemisphere"] = hemisphere
    table["label_source"] = np.where(by_label, "dataset", np.where(by_atlas, "atlas", NA))

    # Face selectivity
    stats = pd.DataFrame({c: np.nan for c in SELECTIVITY_COLUMNS}, index=table.index)
    stats["face_selective"] = False
    localizer_info = {"ran": False}
    if run_localizer:
        loc = anatomy.localizer
        in_epochs = table["in_epochs"].to_numpy(bool)
        result = face_selectivity(
            epochs, interval=loc.interval, test=loc.test, n_permutations=loc.n_permutations,
            alternative=loc.alternative, alpha=loc.alpha, min_d_prime=loc.min_d_prime,
            seed=seed, picks=list(table.loc[in_epochs, "name"]),
        ).set_index("name")
        for column in SELECTIVITY_COLUMNS:
            stats.loc[in_epochs, column] = table.loc[in_epochs, "name"].map(
                result[column]).to_numpy()
        stats["face_selective"] = stats["face_selective"].fillna(False).astype(bool)
        localizer_info = {"ran": True, "test": loc.test, "window": list(loc.interval),
                          "alternative": loc.alternative, "alpha": loc.alpha,
                          "n_face": int(result["n_face"].max()) if len(result) else 0,
                          "n_nonface": int(result["n_nonface"].max()) if len(result) else 0}
    selective = stats["face_selective"].to_numpy(bool)

    # ROI assignment
    roi_names = [r.name for r in rois]
    anat = member.to_numpy(bool)
    dist = distance.to_numpy(float)
    if anatomy.membership == "function":
        near = np.where(np.isfinite(dist), dist, np.inf)
        within = near <= anatomy.function_max_distance
        assigned = selective[:, None] & within
        # the nearest ROI first; among equally near ones (e.g. inside several) config order
        order = np.argsort(near, axis=1, kind="stable")
    elif anatomy.membership == "both":
        assigned = anat & selective[:, None]
        order = np.tile(np.arange(len(rois)), (n, 1))
    else:
        assigned = anat
        order = np.tile(np.arange(len(rois)), (n, 1))
    roi = np.full(n, NO_ROI, dtype=object)
    roi_distance = np.full(n, np.nan)
    all_rois = np.full(n, NO_ROI, dtype=object)
    for i in range(n):  # per contact, over a handful of ROIs: cheap
        hits = [k for k in order[i] if assigned[i, k]]
        if hits:
            roi[i] = roi_names[hits[0]]
            roi_distance[i] = dist[i, hits[0]]
            all_rois[i] = ";".join(roi_names[k] for k in sorted(hits))

    table["roi"] = roi
    table["rois"] = all_rois
    table["roi_distance"] = np.round(roi_distance, 2)
    for column in SELECTIVITY_COLUMNS:
        table[column] = stats[column]

    # Inclusion, with the first reason that applies
    reason = np.full(n, "", dtype=object)
    status = table["status"].astype(str).str.lower().to_numpy()
    pair_labels = (table["dataset_label"].astype(str).to_numpy() if "dataset_label" in table
                   else np.full(n, NA, dtype=object))
    desc = table["status_description"].astype(str).to_numpy()
    left_out = table.get("_excluded", pd.Series(np.nan, index=table.index)).to_numpy(object)
    for i in range(n):
        if status[i] == "bad":
            reason[i] = "bad channel" + (f": {desc[i]}" if desc[i] not in (NA, "", "nan") else "")
        elif isinstance(left_out[i], str):
            reason[i] = left_out[i]  # left out by preprocessing (clinical columns, config)
        elif by_label[i] and roi[i] == NO_ROI:
            reason[i] = "outside every ROI"  # placed by its dataset label, whatever x, y, z
        elif by_label[i]:
            if anatomy.membership != "anatomy" and not selective[i] \
                    and (anatomy.membership == "function" or anat[i].any()):
                reason[i] = "not face-selective"
        elif source == "dataset":
            reason[i] = "no anatomical label in the dataset"
        elif not finite[i]:
            reason[i] = "missing coordinates" + (" and no dataset label" if has_labels else "")
        elif not placeable[i] and " / " in pair_labels[i]:
            reason[i] = f"the pair's contacts have different dataset labels ({pair_labels[i]})"
        elif not placeable[i]:
            reason[i] = (f"coordinates not in an MNI-aligned space ({spaces.iloc[i]})"
                         + (" and no dataset label" if has_labels else "")
                         + " (no T1w or transform to warp them: anatomy.warp)")
        elif anatomy.membership == "both" and anat[i].any() and not selective[i]:
            reason[i] = "not face-selective"
        elif anatomy.membership == "function" and not selective[i]:
            reason[i] = "not face-selective"
        elif roi[i] == NO_ROI:
            reason[i] = "outside every ROI"
    included = reason == ""
    # a bad contact keeps its ROI for the record, but is not analysed
    table["included"] = included
    table["exclusion_reason"] = np.where(included, NA, reason)

    for column in labels.columns:
        table[column] = labels[column]
    for name in roi_names:
        table[f"distance_{name}"] = np.round(distance[name].to_numpy(float), 2)
    table = table.drop(columns=[c for c in ("_dataset_region", "_dataset_hemisphere",
                                            "_excluded") if c in table.columns])
    table = table[list(contact_columns(table))]

    empty = [name for name in roi_names if not (table["included"] & (table["roi"] == name)).any()]
    subject = getattr(recording, "subject", "") or ""
    for name in empty:
        logger.warning("ROI %r has no included contact%s; it is skipped for this patient",
                       name, f" for sub-{subject}" if subject else "")
    table.attrs.update({
        "subject": subject,
        "empty_rois": empty,
        "rois": roi_names,
        "atlases": atlases,
        "primary_atlas": primary,
        "atlas_citations": {a: atlas_info(a).citation for a in atlases},
        "roi_method": anatomy.roi_method,
        "membership": anatomy.membership,
        "max_distance": anatomy.max_distance,
        "localizer": localizer_info,
        "label_source": source,
        "label_columns": dict(getattr(getattr(recording, "contacts", None), "attrs", {})
                              .get("label_columns", {})) if has_labels else {},
        "warp": warp_info,
    })
    return table
