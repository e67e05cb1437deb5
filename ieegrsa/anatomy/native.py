"""Contacts given in the patient's own space, brought to MNI for the atlases and ROIs.

Three ways place a contact recorded in a native space (ACPC, ScanRAS, Other ...): its label in the
dataset (:mod:`ieegrsa.bids.dataset_labels`, no warp needed), the lab's own native-to-MNI
transform (:mod:`ieegrsa.anatomy._transform_files`), or a registration of the patient's T1w to
the MNI152 template (:mod:`ieegrsa.anatomy.warp`). :func:`contact_warp` chooses by
``anatomy.warp`` and the contacts that need MNI coordinates; :func:`warp_contacts` applies it to
a contact table, keeping the native positions beside the MNI ones.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .labels import NA

logger = logging.getLogger("ieegrsa")

__all__ = ["ContactWarp", "contact_warp", "warp_plan", "warp_contacts", "warped_contacts",
           "find_t1w", "needs_mni", "WAYS_OUT"]

#: The three ways a native-space contact can be placed, for error messages.
WAYS_OUT = (
    "give each contact's atlas label in an electrodes.tsv column (destrieux, desikan-killiany, "
    "dkt, Destrieux_label with its code table, or one named in anatomy.label_columns), or put "
    "the patient's T1w in anat/ (coordsystem.json IntendedFor, or anatomy.warp.t1w) for ieegrsa "
    "to register to MNI, or give the lab's native-to-MNI transform "
    "(sub-<label>_from-MNI152NLin2009cAsym_to-T1w_mode-image_xfm.h5 as fMRIPrep writes it, or "
    "anatomy.warp.transform)"
)


@dataclass(frozen=True, eq=False)
class ContactWarp:
    """A map of a patient's native contact positions (mm) to an MNI template (mm).

    Attributes
    ----------
    method : str
        ``"transform"`` (the lab's) or ``"registration"`` (ieegrsa registered the T1w).
    space : str
        The template space the positions land in.
    native_space : str
        The space the contacts are given in.
    info : dict
        What the methods and provenance record: ``method``, ``file`` (the transform or the T1w),
        ``sha256`` (of the T1w), ``description``, ``cached``, ``settings``.
    registration : ieegrsa.anatomy.warp.TemplateWarp | None
        The registration (for the QC figure), None for a transform.
    t1w : pathlib.Path | None
        The registered T1w.
    """

    method: str
    space: str
    native_space: str
    info: dict
    transform: object = field(repr=False, default=None)
    registration: object = field(repr=False, default=None)
    t1w: Path | None = None

    def apply(self, xyz) -> np.ndarray:
        """Native mm (N, 3) -> template mm (N, 3); NaN rows stay NaN."""
        xyz = np.atleast_2d(np.asarray(xyz, float))
        if self.registration is not None:
            return self.registration.apply(xyz)
        return np.asarray(self.transform.apply(xyz), float).reshape(xyz.shape)

    def nonlinear_displacement(self, xyz) -> np.ndarray:
        """How far (mm) the non-linear step moves each position beyond the affine one (NaN for a
        transform or an affine registration)."""
        xyz = np.atleast_2d(np.asarray(xyz, float))
        reg = self.registration
        if reg is None or reg.sdr is None:
            return np.full(len(xyz), np.nan)
        return np.linalg.norm(reg.apply(xyz) - reg.apply_affine(xyz), axis=1)


def needs_mni(contacts: pd.DataFrame, label_source: str) -> np.ndarray:
    """Which contacts are in a native space, have coordinates, and need them in MNI: all of them
    with ``label_source`` atlas, those without a dataset label with auto, none with dataset."""
    from ..config import SUPPORTED_SPACES

    space = contacts.get("space", pd.Series(NA, index=contacts.index)).astype(str)
    native = ~(space.isin(SUPPORTED_SPACES) | space.str.upper().eq("MNI") | space.eq(NA))
    xyz = contacts.reindex(columns=["x", "y", "z"]).apply(pd.to_numeric, errors="coerce")
    finite = np.isfinite(xyz.to_numpy(float)).all(axis=1)
    if label_source == "dataset":
        return np.zeros(len(contacts), dtype=bool)
    labelled = np.zeros(len(contacts), dtype=bool)
    if label_source == "auto" and "_dataset_region" in contacts.columns:
        labelled = contacts["_dataset_region"].astype(str).ne(NA).to_numpy() \
            & contacts["_dataset_region"].notna().to_numpy()
    return native.to_numpy() & finite & ~labelled


def warped_contacts(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a contact table that were warped from a native space (``space_native``
    given: ``n/a`` in memory, missing once read back from the TSV)."""
    native = table.get("space_native", pd.Series(np.nan, index=table.index))
    return table[native.notna() & ~native.astype(str).isin((NA, "nan", ""))]


def _filled(pattern: str, recording) -> Path:
    text = pattern.format(subject=recording.subject, session=recording.session or "")
    path = Path(text).expanduser()
    root = Path(recording.bids_root) if recording.bids_root is not None else None
    if not path.is_absolute() and root is not None:
        path = root / path
    return path


def _configured(pattern, recording, key) -> Path | None:
    if pattern is None:
        return None
    path = _filled(pattern, recording)
    if not path.is_file():
        raise DataError(f"The file named by anatomy.warp.{key} does not exist", file=path,
                        field=f"anatomy.warp.{key}",
                        fix="Give an absolute path or one relative to the dataset root "
                        "({subject} and {session} are filled in), or null to find it")
    return path


def _coordsystem(recording) -> Path | None:
    """The recording's coordsystem.json (None when it cannot be found)."""
    from ..bids.electrodes import find_electrodes
    from ..errors import BIDSError

    if recording.bids_root is None:
        return None
    try:
        return Path(find_electrodes(Path(recording.bids_path.fpath),
                                    Path(recording.bids_root))[1])
    except (BIDSError, OSError, AttributeError, TypeError):
        return None


def _intended_t1w(recording) -> Path | None:
    """coordsystem.json's IntendedFor, where it names a T1w image."""
    root = Path(recording.bids_root)
    coordsystem = _coordsystem(recording)
    try:
        intended = json.loads(coordsystem.read_text(encoding="utf-8")).get("IntendedFor")
    except (OSError, ValueError, AttributeError):
        return None
    for item in [intended] if isinstance(intended, str) else (intended or []):
        item = str(item)
        if "_T1w.nii" not in item:
            continue
        relative = item[len("bids::"):] if item.startswith("bids::") else item
        for base in (root, root / f"sub-{recording.subject}"):
            if (base / relative).is_file():
                return base / relative
    return None


def find_t1w(recording, warp) -> Path | None:
    """The patient's T1w: ``anatomy.warp.t1w``, else coordsystem.json's IntendedFor where it
    names one, else the participant's one ``*_T1w.nii[.gz]`` in anat/ (the recording's session
    first); None without one. Several and no way to choose: an error listing them."""
    configured = _configured(warp.t1w, recording, "t1w")
    if configured is not None or recording.bids_root is None:
        return configured
    intended = _intended_t1w(recording)
    if intended is not None:
        return intended
    subject_dir = Path(recording.bids_root) / f"sub-{recording.subject}"
    found = sorted(p for pattern in ("anat/*_T1w.nii*", "ses-*/anat/*_T1w.nii*")
                   for p in subject_dir.glob(pattern))
    if recording.session:
        same = [p for p in found if f"_ses-{recording.session}_" in p.name]
        found = same or found
    if len(found) > 1:
        raise DataError("Several T1w images could be the one the contacts are given in",
                        file=subject_dir, field="anatomy.warp.t1w",
                        found=", ".join(str(p.relative_to(subject_dir)) for p in found),
                        fix="Name it in anatomy.warp.t1w ({subject} and {session} are filled in) "
                        "or in coordsystem.json's IntendedFor")
    return found[0] if found else None


def _lab_transform(recording, warp):
    from ._transform_files import find_template_transform, read_point_transform

    path = _configured(warp.transform, recording, "transform")
    if path is None and recording.bids_root is not None:
        path = find_template_transform(recording.bids_root, recording.subject, recording.session)
    return None if path is None else read_point_transform(path)


def warp_plan(recording, anatomy, *, contacts=None) -> dict | None:
    """What :func:`contact_warp` would do, without registering: None when no contact needs MNI
    coordinates (or only unlabelled ones with others placed by labels), else ``{"method":
    "transform", "transform": PointTransform}`` or ``{"method": "registration", "t1w": Path}``,
    with ``native_space`` and ``n_contacts``. Raises as :func:`contact_warp` does."""
    contacts = recording.contacts if contacts is None else contacts
    warp = anatomy.warp
    need = needs_mni(contacts, anatomy.label_source)
    if not need.any() or warp.method == "off":
        return None
    plan = {"native_space": str(contacts.loc[need, "space"].iloc[0]),
            "n_contacts": int(need.sum())}
    native_space = plan["native_space"]
    transform = _lab_transform(recording, warp) if warp.method in ("auto", "transform") else None
    if transform is not None:
        return {**plan, "method": "transform", "transform": transform}
    t1w = find_t1w(recording, warp) if warp.method in ("auto", "register") else None
    if t1w is not None:
        return {**plan, "method": "registration", "t1w": t1w}
    labelled = any("_dataset_region" in table.columns
                   and table["_dataset_region"].dropna().astype(str).ne(NA).any()
                   for table in (contacts, recording.contacts))
    if warp.method == "auto" and labelled:
        return None  # the labelled contacts are placed; the others are left out, with why
    what = {"transform": "anatomy.warp.method is transform, but there is no transform",
            "register": "anatomy.warp.method is register, but there is no T1w"}.get(
        warp.method, f"ieegrsa cannot place these contacts ({native_space}) in MNI space, "
        "which its atlases and ROIs need")
    raise DataError(what, file=_coordsystem(recording), field="iEEGCoordinateSystem",
                    found=f"{native_space!r} for {int(need.sum())} contacts, with no dataset "
                    "label, no T1w and no transform",
                    fix=WAYS_OUT[:1].upper() + WAYS_OUT[1:])


def contact_warp(recording, anatomy, *, contacts=None, cache_dir=None) -> ContactWarp | None:
    """How this patient's native contacts reach MNI, or None when none needs to.

    Parameters
    ----------
    recording : ieegrsa.Recording
        The patient (its contacts, dataset root, subject and session).
    anatomy : ieegrsa.config.AnatomyConfig
        ``warp`` and ``label_source`` are used.
    contacts : pandas.DataFrame | None
        The contacts to place (default: the recording's).
    cache_dir : path-like | None
        Where registrations are cached by the T1w's content hash; None: not cached.

    Returns
    -------
    ContactWarp | None
        None when no contact needs MNI coordinates, or none can get them but others are placed
        by their dataset labels (those are then left out, with the reason).

    Raises
    ------
    DataError
        When contacts need MNI coordinates, none has a dataset label, and there is neither a
        transform nor a T1w (the message names the three ways out); for ``method: transform``
        without a transform or ``register`` without a T1w; for an unreadable file.
    """
    from .warp import TEMPLATE_SPACE, cached_registration, register_t1w

    plan = warp_plan(recording, anatomy, contacts=contacts)
    if plan is None:
        return None
    warp = anatomy.warp
    native_space = plan["native_space"]
    if plan["method"] == "transform":
        transform = plan["transform"]
        logger.info("sub-%s: native contacts to %s by the lab's transform %s", recording.subject,
                    transform.space or "MNI152NLin2009cAsym", Path(transform.file).name)
        return ContactWarp(method="transform", space=transform.space or "MNI152NLin2009cAsym",
                           native_space=native_space, transform=transform,
                           info={"method": "transform", "file": str(transform.file),
                                 "description": transform.description})
    t1w = plan["t1w"]
    settings = {"nonlinear": warp.nonlinear,
                "zooms": {"affine": warp.affine_zoom, "sdr": warp.sdr_zoom}}
    if cache_dir is not None:
        registration, info = cached_registration(t1w, cache_dir, **settings)
    else:
        registration = register_t1w(t1w, **settings)
        info = {"t1w": str(t1w), "cached": False}
    steps = "affine + SDR" if warp.nonlinear else "affine"
    info = {**info, "method": "registration", "file": str(t1w),
            "description": f"{t1w.name} registered to nilearn's MNI152 template "
            f"({TEMPLATE_SPACE}) by MNE-Python and dipy ({steps})"}
    return ContactWarp(method="registration", space=registration.space,
                       native_space=native_space, registration=registration, t1w=t1w,
                       info=info)


def warp_contacts(table: pd.DataFrame, warp: ContactWarp | None, *,
                  max_displacement=10.0) -> pd.DataFrame:
    """The contact table with its native contacts moved to the template.

    Every contact in the warp's native space with coordinates gets template ``x``, ``y``, ``z``
    and ``space``; its native position goes to ``x_native``, ``y_native``, ``z_native`` and
    ``space_native``, and ``warp_displacement`` is how far the non-linear step moved it (mm).
    Contacts moved further than ``max_displacement`` are named in a warning.
    """
    if warp is None:
        return table
    table = table.copy()
    xyz = table[["x", "y", "z"]].to_numpy(float)
    moved = table["space"].astype(str).eq(warp.native_space).to_numpy() \
        & np.isfinite(xyz).all(axis=1)
    for k, axis in enumerate("xyz"):
        table[f"{axis}_native"] = np.where(moved, xyz[:, k], np.nan)
    table["space_native"] = np.where(moved, warp.native_space, NA)
    template = warp.apply(xyz[moved]) if moved.any() else np.empty((0, 3))
    for k, axis in enumerate("xyz"):
        column = table[axis].to_numpy(float).copy()
        column[moved] = np.round(template[:, k], 2)
        table[axis] = column
    table.loc[moved, "space"] = warp.space
    shift = np.full(len(table), np.nan)
    if moved.any():
        shift[moved] = warp.nonlinear_displacement(xyz[moved])
    table["warp_displacement"] = np.round(shift, 2)
    far = table.loc[shift > max_displacement, "name"].astype(str).tolist()
    if far:
        logger.warning("The non-linear registration moved %d contact(s) more than %g mm: %s; "
                       "check the registration figure", len(far), max_displacement,
                       ", ".join(far))
    table.attrs["warp"] = {**warp.info, "space": warp.space, "native_space": warp.native_space,
                           "n_warped": int(moved.sum()), "far_moved": far,
                           "max_displacement": float(max_displacement)}
    return table
