"""The ``anatomy`` section: atlas labels, face ROIs (packaged or defined here), the lab's own
atlases and the face-selectivity localizer."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, StrictInt, field_validator, model_validator

from .._check import did_you_mean
from ..errors import ConfigError
from ._base import _renamed, _Section, invalid, ordered_interval

__all__ = ["AnatomyConfig", "LocalizerConfig", "ROIDefinitionConfig", "AtlasFileConfig",
           "WarpConfig"]

_PostStimulus = ordered_interval("[0.1, 0.4] (s after image onset)")


class ROIDefinitionConfig(_Section):
    """One region of interest (see ieegrsa/data/rois.yaml for the packaged ones).

    Given under an existing name, the fields set here replace those of the packaged ROI and the
    others are kept; under a new name it adds an ROI.
    """

    description: str = Field("", description="What the ROI is, in words (for reports).")
    atlas: str | None = Field(
        None,
        description="Atlas whose labels define the ROI; null = HCPEx (or the packaged ROI's).",
    )
    labels: list[str] = Field(
        [],
        description="Atlas label names (or glob patterns such as Fusiform_Face_Complex_*) that "
        "make up the ROI.",
    )
    peaks: list[str | list[float]] = Field(
        [],
        description="Peaks of the sphere definition: names of packaged literature peaks (e.g. "
        "FFA_right) or MNI coordinates [x, y, z] in mm.",
    )
    radius: float | None = Field(
        None,
        gt=0,
        le=50,
        description="Sphere radius (mm) for this ROI; null = anatomy.sphere_radius.",
    )
    dataset_labels: dict[str, list[str]] = Field(
        {},
        description="Region names of the dataset's own labels (electrodes.tsv label columns) "
        "that make up the ROI, by parcellation: destrieux, desikan_killiany, dkt or any other "
        "key; names without the hemisphere prefix (G_oc-temp_lat-fusifor, fusiform), compared "
        "case-insensitively.",
    )
    hemisphere: Literal["L", "R"] | None = Field(
        None,
        description="L or R: only contacts of that hemisphere belong to the ROI by dataset "
        "labels; null = both.",
    )

    @field_validator("peaks")
    @classmethod
    def _three_coordinates(cls, value):
        for peak in value:
            if not isinstance(peak, str) and len(peak) != 3:
                raise invalid("a peak given by coordinates needs exactly three numbers",
                              "Write it as [x, y, z] in MNI mm")
        return value


class AtlasFileConfig(_Section):
    """A lab's own atlas: a labelled NIfTI volume in MNI space and its label table."""

    image: str = Field(
        "",
        description="Path of the 3-D NIfTI volume of integer labels (0 = none), in MNI space; "
        "absolute, or relative to the BIDS dataset root or the working directory.",
    )
    labels: str = Field(
        "",
        description="Path of the label table (CSV or TSV with columns index and name).",
    )
    description: str = Field("", description="What the atlas is (for reports).")

    @field_validator("image", "labels")
    @classmethod
    def _given(cls, value: str) -> str:
        if not value.strip():
            raise invalid("the path is empty", "Give the path of the file")
        return value


class LocalizerConfig(_Section):
    """Functional face-selectivity localizer: faces versus non-face images, per contact.

    The high-gamma amplitude averaged over a post-stimulus window is compared between face and
    non-face trials (Welch's t-test or a permutation test), with Benjamini-Hochberg FDR across
    contacts; d' is recorded.
    """

    run: Literal["auto", "on", "off"] = Field(
        "auto",
        description="auto = run it when the epochs have face and non-face trials; on = require "
        "it (an error without non-face images); off = never.",
    )
    interval: _PostStimulus = Field(
        (0.1, 0.4),
        description="Post-stimulus interval [start, stop] (s) over which the amplitude is "
        "averaged (the old key window is accepted until the next release).",
    )
    test: Literal["welch", "permutation"] = Field(
        "welch",
        description="welch = Welch's unequal-variance t-test; permutation = permutation test of "
        "Welch's t (seeded by random_seed).",
    )
    n_permutations: StrictInt = Field(
        1000,
        ge=100,
        le=1_000_000,
        description="Relabellings of the permutation test.",
    )
    alternative: Literal["greater", "two-sided"] = Field(
        "greater",
        description="greater = faces above non-faces (face selectivity); two-sided = any "
        "difference (a contact still needs d' > 0 to count as face-selective).",
    )
    alpha: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="False discovery rate (Benjamini-Hochberg) across a patient's contacts.",
    )
    min_d_prime: float = Field(
        0.0,
        ge=0,
        description="Smallest d' (face minus non-face, in pooled standard deviations) for a "
        "face-selective contact.",
    )

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data):
        return _renamed(data, "window", "interval", "anatomy.localizer")


class WarpConfig(_Section):
    """Contacts given in the patient's own space (ACPC, ScanRAS, Other ...) brought to MNI.

    Only contacts that need MNI coordinates are warped: with ``label_source: auto`` those
    without a label in the dataset, with ``atlas`` all of them, with ``dataset`` none. The
    contacts' x, y, z must be in the world (RAS mm) coordinates of the T1w or the transform's
    native side.
    """

    method: Literal["auto", "transform", "register", "off"] = Field(
        "auto",
        description="auto = the lab's transform where there is one, else register the "
        "patient's T1w to the MNI152 template; transform = require a transform; register = "
        "register the T1w even where a transform exists; off = never (native contacts without "
        "labels are an error).",
    )
    transform: str | None = Field(
        None,
        description="The lab's native-to-MNI transform: an ITK/ANTs file (.h5, .txt, .mat) or "
        "a plain-text 4x4 matrix (native RAS mm -> MNI152NLin2009cAsym mm); {subject} and "
        "{session} are filled in; relative paths are from the dataset root. null = found in "
        "the dataset by its BIDS name (sub-<label>_from-<MNI space>_to-T1w_mode-image_xfm.* or "
        "..._from-T1w_to-<MNI space>_... in anat/ or derivatives/*/sub-<label>/anat/).",
    )
    t1w: str | None = Field(
        None,
        description="The patient's T1w to register ({subject}, {session} filled in; relative "
        "paths from the dataset root). null = coordsystem.json's IntendedFor where it names a "
        "T1w, else the participant's one *_T1w.nii[.gz] in anat/.",
    )
    nonlinear: bool = Field(
        True,
        description="Follow the affine registration by the non-linear SDR step (dipy).",
    )
    affine_zoom: float = Field(
        4.0, gt=0, le=10,
        description="Voxel size (mm) the images are resliced to for the affine steps.",
    )
    sdr_zoom: float = Field(
        2.0, ge=1, le=10,
        description="Voxel size (mm) of the non-linear step (the template's own 2 mm: about "
        "30 s on 2 cores).",
    )
    max_displacement: float = Field(
        10.0, gt=0,
        description="QC: contacts the non-linear step moves further than this (mm) are flagged "
        "by a warning and in the report.",
    )


class AnatomyConfig(_Section):
    """Where each contact is: atlas labels, face ROIs and face selectivity.

    Contacts are labelled in each atlas (the nearest grey-matter label within max_distance for
    contacts in white matter), assigned to the ROIs (by atlas labels or by spheres around
    literature peaks) and, where the stimuli include non-face images, tested for face
    selectivity. membership says what puts a contact in an ROI.
    """

    atlases: list[str] = Field(
        ["HCPEx", "Desikan-Killiany", "Destrieux", "AAL3"],
        description="Atlases to label every contact in (see ieegrsa.anatomy.list_atlases(): "
        "HCPEx, AAL, AAL3, Desikan-Killiany, Destrieux, Harvard-Oxford, Juelich ...).",
    )
    primary_atlas: str = Field(
        "HCPEx",
        description="Atlas of the contact table's atlas_label column (added to atlases if "
        "missing).",
    )
    max_distance: float = Field(
        3.0,
        ge=0,
        le=20,
        description="A contact in white matter or just off the cortex takes the label of the "
        "nearest grey-matter voxel within this distance (mm); the distance is recorded.",
    )
    rois: list[str] = Field(
        ["ventral", "lateral"],
        description="ROIs to assign contacts to, in order of precedence: ventral (FFA + OFA), "
        "lateral (pSTS), ventral_left, ventral_right, lateral_left, lateral_right, FFA, OFA, "
        "pSTS, or any defined under roi_definitions.",
    )
    roi_method: Literal["atlas", "sphere"] = Field(
        "atlas",
        description="atlas = a contact is in an ROI when its label (in the ROI's atlas) is one of "
        "the ROI's labels; sphere = when it lies within sphere_radius of one of the ROI's "
        "literature peaks.",
    )
    sphere_radius: float = Field(
        10.0,
        gt=0,
        le=50,
        description="Radius (mm) of the spheres around ROI peaks (roi_method: sphere).",
    )
    roi_definitions: dict[str, ROIDefinitionConfig] = Field(
        {},
        description="ROIs to add, or fields of packaged ROIs to replace: name -> {description, "
        "atlas, labels, peaks, radius}.",
    )
    custom_atlases: dict[str, AtlasFileConfig] = Field(
        {},
        description="The lab's own atlases: name -> {image, labels, description}; usable in "
        "atlases, primary_atlas and ROI definitions.",
    )
    membership: Literal["anatomy", "function", "both"] = Field(
        "anatomy",
        description="What puts a contact in an ROI: anatomy = its location; function = being "
        "face-selective (assigned to the nearest ROI within function_max_distance); both = "
        "location and face selectivity. function and both need non-face images.",
    )
    function_max_distance: float = Field(
        10.0,
        ge=0,
        le=50,
        description="membership: function: how far (mm) from an ROI a face-selective contact may "
        "lie and still be assigned to it.",
    )
    label_source: Literal["auto", "atlas", "dataset"] = Field(
        "auto",
        description="What places a contact in an ROI: dataset = the dataset's own labels "
        "(electrodes.tsv label columns: destrieux, desikan-killiany, dkt, Destrieux_label with "
        "its code table, or label_columns), which also places contacts given in a native "
        "space; atlas = the atlases at the MNI coordinates; auto = the dataset's label where a "
        "contact has one, else the atlases in MNI.",
    )
    label_columns: list[str] = Field(
        [],
        description="Further electrodes.tsv columns holding each contact's atlas label "
        "(FreeSurfer names such as ctx-lh-fusiform, or bare Destrieux names), read before the "
        "known ones.",
    )
    localizer: LocalizerConfig = Field(
        default_factory=LocalizerConfig,
        description="The face-selectivity localizer.",
    )
    warp: WarpConfig = Field(
        default_factory=WarpConfig,
        description="Native-space contacts to MNI: the lab's transform or a registration of "
        "the patient's T1w.",
    )

    @field_validator("atlases", "rois")
    @classmethod
    def _nonempty_unique(cls, value: list[str]) -> list[str]:
        if not value:
            raise invalid("the list is empty", "Name at least one")
        seen = set()
        for item in value:
            if item in seen:
                raise invalid(f"{item!r} is listed twice", "List each once")
            seen.add(item)
        return value

    @model_validator(mode="after")
    def _known_names(self):
        # Lazy, and the one upward import of the configuration: the atlas and ROI catalogues
        # live with the anatomy stage, and a misspelt name is best caught when the file loads.
        from ..anatomy.atlases import resolve_atlas_name
        from ..anatomy.rois import list_rois

        def norm(name):
            return re.sub(r"[^a-z0-9]", "", name.lower())

        custom = {norm(name) for name in self.custom_atlases}
        for key, names in (("atlases", self.atlases), ("primary_atlas", [self.primary_atlas])):
            for name in names:
                if norm(name) in custom:
                    continue
                try:
                    resolve_atlas_name(name)
                except ConfigError as err:
                    raise invalid(f"{key}: unknown atlas {name!r}", err.fix) from None
        for name, roi in self.roi_definitions.items():
            if roi.atlas is not None and norm(roi.atlas) not in custom:
                try:
                    resolve_atlas_name(roi.atlas)
                except ConfigError as err:
                    raise invalid(f"roi_definitions.{name}.atlas: unknown atlas {roi.atlas!r}",
                                  err.fix) from None
        valid = list_rois(self.roi_definitions)
        for name in self.rois:
            if name not in valid:
                hint = did_you_mean(name, valid)
                raise invalid(
                    f"rois: unknown ROI {name!r}",
                    f"{hint[:1].upper()}{hint[1:]}Valid ROIs: {', '.join(valid)} (or define it "
                    "under roi_definitions)",
                )
        if self.membership != "anatomy" and self.localizer.run == "off":
            raise invalid(
                f"membership: {self.membership} needs the face-selectivity localizer, which "
                "localizer.run turns off",
                "Set localizer.run to auto or on, or membership to anatomy",
            )
        return self
