"""The ``preprocessing`` section: from the raw recording to epochs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ._base import NJobs, _Section, invalid, ordered_interval

__all__ = ["PreprocessingConfig"]

_Band = ordered_interval("[70, 150] (Hz)", order="be below")
_Baseline = ordered_interval("[-0.2, 0] (s, relative to image onset)")

#: Columns of electrodes.tsv and channels.tsv that are no clinical yes/no mark.
_CONTACT_COLUMNS = ("name", "x", "y", "z", "size", "type", "group", "space", "status",
                    "status_description", "hemisphere", "material", "manufacturer")


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
    exclude_columns: list[str] = Field(
        ["soz", "resected", "silicon"],
        description="Clinical columns of electrodes.tsv (ds004080 style, matched "
        "case-insensitively) whose yes marks a contact to drop like a bad channel: values yes/no, "
        "true/false, 1/0 or y/n in any case; n/a or empty = unknown = kept; any other value is an "
        "error. The reason (e.g. 'clinical: soz, resected') reaches the preprocessing report and "
        "the contact table. The default drops seizure-onset-zone (soz) and resected contacts, "
        "whose activity is pathological (interictal discharges, abnormal high-gamma), and "
        "contacts covered by silicone (silicon), which do not touch the cortex; edge (a contact "
        "at the edge of the resection or of the grid) is a position, not a fault, so add it only "
        "for a stricter analysis. A column the dataset lacks is skipped; [] keeps every contact.",
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
    high_gamma_band: _Band = Field(
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
    baseline: _Baseline = Field(
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
    n_jobs: NJobs = Field(
        1,
        description="Cores used by the filters and FFTs of one recording (-1 = all cores). 1 is "
        "usually fastest for one recording; run participants in parallel instead (n_jobs).",
    )

    @field_validator("exclude_columns", mode="before")
    @classmethod
    def _column_names(cls, value):
        if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            return value  # pydantic reports the wrong type
        names = []
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise invalid(f"{item!r} is not a column name",
                              "Name electrodes.tsv columns, e.g. [soz, resected, silicon]")
            name = item.strip().lower()
            if name in _CONTACT_COLUMNS:
                raise invalid(f"{item!r} is a column every contact table has, not a clinical "
                              "mark", "Name yes/no columns of electrodes.tsv, e.g. soz or "
                              "resected (channels.tsv status is preprocessing.drop_bad)")
            names.append(name)
        return list(dict.fromkeys(names))

    @field_validator("high_gamma_band")
    @classmethod
    def _positive_band(cls, value):
        if value[0] <= 0:
            raise invalid("the band must start above 0 Hz", "Write e.g. [70, 150]")
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
