"""Simulated patients whose contacts are given in their own (ACPC) space, not in MNI.

:func:`ieegrsa.simulate.make_dataset`'s ``anatomy`` chooses how a dataset places them, as real
labs do (issue 17):

- ``labels``: a ``destrieux`` column of FreeSurfer lookup-table names in electrodes.tsv, chosen
  from what the simulator planted: a contact inside a face area gets the Destrieux region the
  area lies in (FFA: ``G_oc-temp_lat-fusifor``, OFA: ``G_and_S_occipital_inf``, pSTS:
  ``S_temporal_sup``, the names ieegrsa's ROIs are made of), every other contact a plausible
  name of its trajectory's target, its entry or the white matter between, none of them an ROI's;
- ``t1w``: the patient's T1w in ``anat/`` (:func:`~ieegrsa.simulate.anatomy.native_anatomy`, an
  affine and a smooth deformation of nilearn's MNI152 template), named by coordsystem.json's
  ``IntendedFor``;
- ``transform``: an affine-only patient, the T1w as well, and the lab's ITK transform under
  ``derivatives/transforms/`` (``from-MNI152NLin2009cAsym_to-T1w``: it maps T1w points to MNI);
- ``native``: the native coordinates and nothing that places them.

The contacts' MNI positions stay the ground truth (``sourcedata/simulation/``); the native ones
are ``to_native(mni)`` rounded to 0.01 mm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ieegrsa._check import check_option

from .anatomy import native_anatomy
from .implants import SEEG_SPACING, TRAJECTORIES
from .writer import write_json, write_tsv

__all__ = ["ANATOMIES", "NATIVE_SPACE", "TEMPLATE", "check_anatomy", "patient_anatomy",
           "destrieux_labels", "write_native_contacts", "write_transforms_description"]

#: The values of ``make_dataset(anatomy=...)``.
ANATOMIES = ("mni", "labels", "t1w", "transform", "native")
#: The space native contacts are written in.
NATIVE_SPACE = "ACPC"
#: The template the lab transform goes to (the space of the simulator's MNI positions).
TEMPLATE = "MNI152NLin2009cAsym"
#: Largest non-linear displacement (mm) of a ``t1w`` patient; ``transform`` patients have none.
DEFORMATION_MM = 3.0
TRANSFORMS = "transforms"  # derivatives/<this>/

#: Destrieux region of each face area (what ieegrsa's rois.yaml makes its ROIs of).
AREA_LABELS = {"FFA": "G_oc-temp_lat-fusifor", "OFA": "G_and_S_occipital_inf",
               "pSTS": "S_temporal_sup"}
#: Per trajectory, the labels of contacts outside the face areas: a shaft's (tip, entry) and a
#: strip's (first half, second half). ``@`` is a subcortical FreeSurfer name (``Left-...``), the
#: others Destrieux cortex (``ctx_lh_...``); contacts of a shaft between tip and entry lie in
#: the white matter. No name here is one of an ROI's.
TARGET_LABELS = {
    "TB": ("G_oc-temp_med-Parahip", "G_temporal_inf"),
    "OC": ("G_oc-temp_med-Lingual", "G_occipital_middle"),
    "VT": ("G_temporal_inf", "G_oc-temp_med-Parahip"),
    "PS": ("@Cerebral-White-Matter", "G_temp_sup-Lateral"),
    "LT": ("G_pariet_inf-Angular", "G_temporal_middle"),
    "HC": ("@Hippocampus", "G_temporal_middle"),
    "AM": ("@Amygdala", "G_temporal_middle"),
    "TP": ("Pole_temporal", "G_temporal_middle"),
    "IN": ("G_insular_short", "G_front_inf-Opercular"),
    "OF": ("G_rectus", "G_front_inf-Orbital"),
    "CI": ("G_and_S_cingul-Ant", "G_front_middle"),
    "MT": ("G_temp_sup-G_T_transv", "G_temp_sup-Lateral"),
    "PA": ("G_precuneus", "G_pariet_inf-Supramar"),
    "LO": ("Pole_occipital", "G_occipital_middle"),
    "FS": ("G_front_middle", "G_front_middle"),
}
_NEAR_MM = 6.0  # a shaft's contacts this close to its tip or entry are in that structure


def check_anatomy(anatomy) -> str:
    """``anatomy`` if it is one of :data:`ANATOMIES`, else one DataError."""
    return check_option("anatomy", anatomy, ANATOMIES, what="simulated anatomy")


def patient_anatomy(kind, seed):
    """The patient's :class:`~ieegrsa.simulate.anatomy.NativeAnatomy` (None for ``mni``)."""
    if kind == "mni":
        return None
    return native_anatomy(seed=seed,
                          deformation_mm=0.0 if kind == "transform" else DEFORMATION_MM)


def _fs_name(region, hemisphere):
    if region.startswith("@"):
        return f"{'Left' if hemisphere == 'L' else 'Right'}-{region[1:]}"
    return f"ctx_{hemisphere.lower()}h_{region}"


def destrieux_labels(contacts: pd.DataFrame) -> np.ndarray:
    """Each contact's FreeSurfer lookup-table name (Destrieux cortex, or subcortical).

    A contact in a face area (``area`` FFA/OFA/pSTS, so in the planted ROI) gets that area's
    region (:data:`AREA_LABELS`); the others get their trajectory's (:data:`TARGET_LABELS`).
    """
    out = []
    for row in contacts.itertuples(index=False):
        if row.area in AREA_LABELS:
            out.append(_fs_name(AREA_LABELS[row.area], row.hemisphere))
            continue
        code = row.group[1:]
        k = int(row.name[len(row.group):]) - 1  # contact 1 is the shaft's tip
        deep, outer = TARGET_LABELS[code]
        trajectory = TRAJECTORIES[code]
        if trajectory["kind"] == "depth":
            length = np.linalg.norm(np.subtract(trajectory["entry"], trajectory["tip"]))
            depth = SEEG_SPACING * k
            region = (deep if depth <= _NEAR_MM else outer if depth >= length - _NEAR_MM
                      else "@Cerebral-White-Matter")
        else:
            n = int((contacts["group"] == row.group).sum())
            region = deep if k < (n + 1) // 2 else outer
        out.append(_fs_name(region, row.hemisphere))
    return np.array(out, dtype=object)


def _itk_text(ras):
    """An ITK affine text file of a RAS points matrix (ITK works in LPS; centre 0)."""
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ ras @ np.diag([-1.0, -1.0, 1.0, 1.0])
    numbers = lambda v: " ".join(f"{x:.17g}" for x in v)  # noqa: E731
    return ("#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\n"
            f"Parameters: {numbers(np.r_[lps[:3, :3].ravel(), lps[:3, 3]])}\n"
            "FixedParameters: 0 0 0\n")


def write_transforms_description(root, version):
    """``derivatives/transforms/dataset_description.json`` (the lab's transforms)."""
    folder = root / "derivatives" / TRANSFORMS
    folder.mkdir(parents=True, exist_ok=True)
    write_json({
        "Name": "Native-to-template transforms of the simulated patients",
        "BIDSVersion": "1.10.0",
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "ieegrsa", "Version": version,
                         "Description": "ieegrsa.simulate.make_dataset: each patient's exact "
                                        "T1w-to-MNI152NLin2009cAsym affine, as an ITK transform",
                         "CodeURL": "https://github.com/ieegrsa/ieegrsa"}],
        "SourceDatasets": [{"URL": "bids::"}],
    }, folder / "dataset_description.json")


def write_native_contacts(root, label, kind, electrodes, contacts, anatomy):
    """Write one patient's native-space electrodes.tsv, coordsystem.json and what places them.

    Parameters
    ----------
    root : pathlib.Path
        The dataset being written.
    label : str
        The subject label.
    kind : str
        ``labels``, ``t1w``, ``transform`` or ``native``.
    electrodes : pandas.DataFrame
        The electrodes.tsv table with MNI x, y, z (replaced here by native ones).
    contacts : pandas.DataFrame
        The implant (:func:`~ieegrsa.simulate.implants.plan_implant`): ``area``, ``group``,
        ``hemisphere``, ``name`` give the labels.
    anatomy : ieegrsa.simulate.anatomy.NativeAnatomy

    Returns
    -------
    dict
        The patient's ``anatomy`` entry of ground_truth.json.
    """
    folder = root / f"sub-{label}" / "ieeg"
    base = f"sub-{label}_space-{NATIVE_SPACE}"
    native = np.round(anatomy.to_native(electrodes[["x", "y", "z"]].to_numpy(float)), 2)
    electrodes = electrodes.copy()
    electrodes[["x", "y", "z"]] = native
    if kind == "labels":
        electrodes["destrieux"] = destrieux_labels(contacts)
        write_json({"destrieux": {
            "LongName": "Destrieux atlas label",
            "Description": "The contact's region in the Destrieux parcellation (FreeSurfer "
                           "aparc.a2009s+aseg, lookup-table names: ctx_<lh|rh>_<region> for "
                           "cortex, <Left|Right>-<structure> for white matter and subcortical "
                           "structures), from the patient's own MRI (simulated)"}},
            folder / f"{base}_electrodes.json")
    write_tsv(electrodes, folder / f"{base}_electrodes.tsv")

    t1w = f"sub-{label}/anat/sub-{label}_T1w.nii.gz"
    how = {"labels": "each contact's region is given in the destrieux column",
           "t1w": f"the T1w is {t1w}",
           "transform": f"the T1w is {t1w}; its transform to {TEMPLATE} is in "
                        f"derivatives/{TRANSFORMS}/",
           "native": "nothing places them in a template"}[kind]
    coordsystem = {
        "iEEGCoordinateSystem": NATIVE_SPACE,
        "iEEGCoordinateUnits": "mm",
        "iEEGCoordinateSystemDescription": "The patient's own anterior commissure - posterior "
                                           "commissure aligned space, RAS orientation, mm "
                                           f"(simulated); {how}",
        "iEEGCoordinateProcessingDescription": "contacts localised on the post-implantation CT "
                                               "co-registered to the pre-implantation T1w "
                                               "(simulated)",
        "iEEGCoordinateProcessingReference": "simulated with ieegrsa.simulate",
    }
    if kind in ("t1w", "transform"):
        coordsystem["IntendedFor"] = f"bids::{t1w}"
        _write_t1w(root, label, anatomy)
    write_json(coordsystem, folder / f"{base}_coordsystem.json")
    truth = {"kind": kind, "space": NATIVE_SPACE,
             "affine_mni_to_native": np.round(anatomy.affine, 12).tolist(),
             "deformation_mm": float(np.abs(anatomy.field).max(initial=0.0))}
    if kind == "transform":
        anat = root / "derivatives" / TRANSFORMS / f"sub-{label}" / "anat"
        anat.mkdir(parents=True, exist_ok=True)
        path = anat / f"sub-{label}_from-{TEMPLATE}_to-T1w_mode-image_xfm.txt"
        # an image-mode from-MNI_to-T1w transform maps T1w points to MNI points
        path.write_text(_itk_text(np.linalg.inv(anatomy.affine)), encoding="utf-8")
        truth["transform"] = path.relative_to(root).as_posix()
    if kind in ("t1w", "transform"):
        truth["t1w"] = t1w
    return truth


def _write_t1w(root, label, anatomy):
    import nibabel as nib

    anat = root / f"sub-{label}" / "anat"
    anat.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(np.asarray(anatomy.t1w.dataobj, np.float32), anatomy.t1w.affine)
    image.header.set_xyzt_units("mm")
    image.set_data_dtype(np.int16)  # scaled: ~0.5 MB compressed at 2 mm
    nib.save(image, anat / f"sub-{label}_T1w.nii.gz")
