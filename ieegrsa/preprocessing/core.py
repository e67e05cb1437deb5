""":func:`preprocess`: one recording from raw signal to epochs, with a per-contact report."""

from __future__ import annotations

import json
import logging
import time
import warnings

import numpy as np
import pandas as pd

from .._docs import fill_doc
from .._logging import mne_log_level, verbose
from ..errors import DataError
from .channels import contact_groups, reference_matrix, select_contacts
from .epochs import (
    DESCRIPTION_KEY,
    apply_baseline,
    channels_description,
    cut,
    outlier_trials,
    window_indices,
)
from .signals import high_gamma_envelope, lowpass, notch, resample

logger = logging.getLogger("ieegrsa")

__all__ = ["preprocess", "preprocessing_columns", "bids_channels", "excluded_contacts",
           "BIDS_CHANNEL_COLUMNS",
           "METADATA_COLUMNS", "PREPROCESSING_COLUMNS", "REPORT_COLUMNS"]

#: Columns of ``epochs.metadata`` (one row per epoch, in event order). ``event`` is the row of
#: ``recording.events`` the epoch comes from; ``onset`` its onset (s) on the recording's time axis.
METADATA_COLUMNS = ("stim_file", "identity", "expression", "category", "repetition", "trial_type",
                    "run", "onset", "event")

#: The preprocessing report's columns (one row per recording contact, then one per bipolar
#: channel) in their order, each with its description (``desc-preprocessing_channels.tsv``).
PREPROCESSING_COLUMNS = {
    "name": "Contact (one row per recording contact) or derived channel (bipolar 'A-B').",
    "kind": "contact or bipolar.",
    "type": "Channel type (seeg or ecog).",
    "group": "Shaft or strip.",
    "included": "Whether its data reach the epochs.",
    "reason": "Why not (empty when included).",
    "channels": "The epochs' channels it feeds, ';'-separated.",
    "n_epochs": "Trials in the epochs.",
    "n_outliers": "Trials that were outliers on this channel, out of the trials inside the "
                  "recording (n/a for contacts of bipolar channels).",
    "n_nan": "Kept trials whose data on this channel were set to NaN (n/a for contacts of "
             "bipolar channels).",
}

#: The preprocessing report's column names, in order (the keys of
#: :data:`PREPROCESSING_COLUMNS`).
REPORT_COLUMNS = tuple(PREPROCESSING_COLUMNS)


#: The columns BIDS gives a ``channels.tsv``, added to the report when it is written as the
#: derived ``desc-preprocessing_channels.tsv`` (:func:`bids_channels`).
BIDS_CHANNEL_COLUMNS = {
    "units": "Unit of the channel's signal in the epochs (n/a: normalised, without a unit).",
    "low_cutoff": {"Description": "High-pass edge of the signal the preprocessing made "
                                  "(0: none applied).", "Units": "Hz"},
    "high_cutoff": {"Description": "Low-pass edge of the signal the preprocessing made "
                                   "(n/a: none applied).", "Units": "Hz"},
    "status": "good when the channel's data reach the epochs, else bad.",
    "status_description": "Why a bad channel does not (the reason column).",
}


def bids_channels(report: pd.DataFrame, config=None) -> tuple[pd.DataFrame, dict]:
    """The preprocessing report as a derived BIDS ``channels.tsv``, with its descriptions.

    BIDS's columns come first (``name``, ``type`` in upper case as BIDS spells it, ``units``,
    ``low_cutoff``, ``high_cutoff``, ``status``, ``status_description``), then the report's own.

    Parameters
    ----------
    report : pandas.DataFrame
        The report of :func:`preprocess` (``return_report=True``).
    config : ieegrsa.config.PreprocessingConfig | ieegrsa.Config | Mapping | None
        The preprocessing that made it (the signal's unit and band).

    Returns
    -------
    table : pandas.DataFrame
    columns : dict
        Column -> description, in the written order.
    """
    from ..config import config_section

    cfg = config_section(config, "preprocessing")
    if cfg.signal == "high_gamma":
        low, high = cfg.high_gamma_band
        unitless = cfg.high_gamma_normalization != "none"
    else:
        low, high = 0.0, cfg.broadband_lowpass
        unitless = False
    unitless = unitless or cfg.baseline_mode == "zscore"
    included = report["included"].astype(bool)
    table = report.assign(
        type=report["type"].astype(str).str.upper(),
        units=None if unitless else "V", low_cutoff=low,
        high_cutoff=np.nan if high is None else high,
        status=np.where(included, "good", "bad"),
        status_description=report["reason"].where(~included & (report["reason"] != "")),
    )
    columns = {**{c: BIDS_CHANNEL_COLUMNS.get(c) or PREPROCESSING_COLUMNS[c]
                  for c in ("name", "type", "units", "low_cutoff", "high_cutoff", "status",
                            "status_description")},
               **preprocessing_columns(report)}
    columns["type"] = "Channel type, as BIDS spells it (SEEG, ECOG)."
    return table[list(columns)], columns


def preprocessing_columns(report: pd.DataFrame) -> dict:
    """Every column of a preprocessing report with its description, in the order it is written.

    Parameters
    ----------
    report : pandas.DataFrame
        The report of :func:`preprocess` (``return_report=True``).

    Returns
    -------
    dict
        Column -> description: :data:`PREPROCESSING_COLUMNS` first, in its order, then any
        other column of ``report`` (described by its name).
    """
    order = [c for c in PREPROCESSING_COLUMNS if c in report.columns]
    order += [c for c in report.columns if c not in PREPROCESSING_COLUMNS]
    return {c: PREPROCESSING_COLUMNS.get(c, c.replace("_", " ")) for c in order}


@fill_doc
@verbose
def preprocess(recording, config=None, *, verbose=None, return_report=False):
    """Turn one recording into epochs of high-gamma amplitude (or broadband voltage).

    The steps, each set in the ``preprocessing`` section of the configuration
    (:class:`ieegrsa.config.PreprocessingConfig`):

    1. **Channels**: keep sEEG/ECoG contacts; drop those channels.tsv marks bad, those whose
       ``status_description`` names an excluded status (seizure onset zone, resected ...),
       those listed in ``exclude_channels`` and those a clinical column of electrodes.tsv
       marks yes (``exclude_columns``: soz, resected, silicon). Each reason is in the report,
       and in the epochs for :func:`excluded_contacts` (so that the contact table shows it).
    2. **Re-reference**: common average per shaft/strip, bipolar, Laplacian or none
       (:func:`ieegrsa.preprocessing.reference_matrix`).
    3. **Notch** at the power-line frequency and its harmonics below Nyquist.
    4. **Signal**: high-gamma amplitude (:func:`ieegrsa.preprocessing.high_gamma_envelope`) or
       broadband, resampled with anti-aliasing to the analysis rate ``sfreq``; the broadband
       signal is then low-passed.
    5. **Epochs** from ``tmin`` to ``tmax`` around the onset of every event with a ``stim_file``
       (onsets rounded to the analysis rate's samples); events whose window leaves the
       recording, or overlaps a ``BAD``/``EDGE`` annotation (``reject_by_annotation``), are
       dropped.
    6. **Trial rejection** on the re-referenced, notch-filtered signal (see
       :mod:`ieegrsa.preprocessing.epochs`).
    7. **Baseline**: z-score against the pooled pre-stimulus window, subtract, or none.

    Parameters
    ----------
    recording : ieegrsa.Recording
        From :func:`ieegrsa.load_recording`.
    config : Config | PreprocessingConfig | dict | str | path-like | None
        Anything :func:`ieegrsa.load_config` accepts (a dict or file holds the whole
        configuration, e.g. ``{"preprocessing": {"reference": "bipolar"}}``), or the
        ``preprocessing`` section itself.
    %(verbose)s
    return_report : bool
        Also return the per-contact report (see :data:`PREPROCESSING_COLUMNS`).

    Returns
    -------
    epochs : mne.EpochsArray
        Channels in recording order (minus those dropped; bipolar channels ordered by their first
        contact), at ``sfreq``, with ``times`` from ``tmin`` to ``tmax``. ``metadata`` has
        :data:`METADATA_COLUMNS`. Positions are in the montage (m); read them, with each
        channel's group and source contacts, with :func:`ieegrsa.preprocessing.epochs_contacts`.
        ``drop_log`` names the reason for each dropped trial. With ``reject_bad_trials: nan``,
        a channel's data in its outlier trials are NaN.
    report : pandas.DataFrame
        Only with ``return_report=True``. Its ``attrs`` hold ``n_events`` (stimulus events),
        ``n_epochs``, ``n_outside`` (windows leaving the recording), ``n_annotated`` (windows
        overlapping a BAD/EDGE annotation), ``n_rejected`` (trials dropped as outliers on too
        many channels), and the ``line_freq`` used.

    Raises
    ------
    DataError
        No contact left to analyse, no stimulus event, a notch asked for without a known line
        frequency, or a band above the recording's Nyquist frequency.
    ConfigError
        An invalid configuration.
    """
    import mne

    from ..config import config_section

    cfg = config_section(config, "preprocessing")
    with mne.utils.use_log_level(mne_log_level()):
        epochs, report = _preprocess(recording, cfg)
    return (epochs, report) if return_report else epochs


def _preprocess(recording, cfg):
    started = time.perf_counter()
    raw = recording.raw
    sfreq = float(raw.info["sfreq"])
    contacts = recording.contacts
    kept, reasons = select_contacts(
        contacts, channel_types=cfg.channel_types, drop_bad=cfg.drop_bad,
        exclude_status=cfg.exclude_status, exclude_channels=cfg.exclude_channels,
        exclude_columns=cfg.exclude_columns,
    )
    if not len(kept):
        raise DataError("No contact is left to analyse after channel selection",
                        field="preprocessing", found=_summarise(reasons),
                        fix="Check channels.tsv (type, status), electrodes.tsv's clinical "
                        "columns and preprocessing.channel_types, exclude_status, "
                        "exclude_channels and exclude_columns")
    # contacts left out on purpose (not for their type), for the contact table
    excluded = {name: why for name, why in reasons.items()
                if not why.startswith("channel type ")}
    line_freq = _line_freq(recording, cfg)
    events = _stimulus_events(recording)
    W, channels, ref_dropped = reference_matrix(
        kept, cfg.reference, max_distance=cfg.neighbour_max_distance,
        laplacian_ends=cfg.laplacian_ends, car_scope=cfg.car_scope,
    )
    reasons.update(ref_dropped)
    if not len(channels):
        raise DataError(f"No channel is left after re-referencing ({cfg.reference})",
                        field="preprocessing.reference", found=_summarise(ref_dropped),
                        fix="Use another reference (car, none) or check the contact names")
    if cfg.signal == "broadband" and cfg.broadband_lowpass is not None \
            and cfg.broadband_lowpass >= cfg.sfreq / 2:
        raise DataError("The broadband low-pass is not below the analysis Nyquist frequency",
                        field="preprocessing.broadband_lowpass", found=cfg.broadband_lowpass,
                        fix=f"Use a cut-off below {cfg.sfreq / 2:g} Hz or raise "
                        "preprocessing.sfreq")
    if cfg.sfreq > sfreq:
        raise DataError("The analysis rate is above the recording's sampling rate",
                        field="preprocessing.sfreq", found=f"{cfg.sfreq:g} Hz > {sfreq:g} Hz",
                        fix=f"Use preprocessing.sfreq of at most {sfreq:g}")

    # Continuous signal: re-reference (one matrix product), notch.
    data = raw.get_data(picks=list(kept["name"]))
    data = data if cfg.reference == "none" else W @ data
    if line_freq is not None:
        data = notch(data, sfreq, line_freq, n_jobs=cfg.n_jobs)
    clean = resample(data, sfreq, cfg.sfreq, n_jobs=cfg.n_jobs)  # for rejection and broadband
    if cfg.signal == "high_gamma":
        # The envelope is computed at an intermediate rate of at least twice the analysis rate
        # (exact samples of it, see high_gamma_envelope), then resampled with anti-aliasing.
        decim = max(1, int(sfreq // (2 * cfg.sfreq)))
        signal = high_gamma_envelope(data, sfreq, cfg.high_gamma_band, cfg.high_gamma_band_width,
                                     cfg.high_gamma_normalization, n_jobs=cfg.n_jobs, decim=decim)
        signal = resample(signal, sfreq / decim, cfg.sfreq, n_jobs=cfg.n_jobs)
    else:
        signal = clean if cfg.broadband_lowpass is None else lowpass(
            clean, cfg.sfreq, cfg.broadband_lowpass, n_jobs=cfg.n_jobs)
    del data

    # Epochs.
    n_times = min(signal.shape[-1], clean.shape[-1])  # resamplers may differ by a sample
    starts, inside, times = window_indices(events["onset"], cfg.sfreq, cfg.tmin, cfg.tmax,
                                           n_times)
    n_events = len(events)
    drop_log = [()] * n_events
    for k in np.flatnonzero(~inside):
        drop_log[k] = ("OUTSIDE RECORDING",)
    if cfg.reject_by_annotation:
        for k, reason in _annotated(raw, events["onset"].to_numpy(float), cfg).items():
            if inside[k]:
                drop_log[k] = (reason,)
                inside[k] = False
    n_annotated = sum(1 for entry in drop_log if entry and entry[0] != "OUTSIDE RECORDING")
    valid = np.flatnonzero(inside)
    if not len(valid):
        raise DataError("No stimulus epoch is left: every window leaves the recording or "
                        "overlaps a BAD annotation", field="onset",
                        found=f"{n_events} events, recording {raw.times[-1]:.1f} s, "
                        f"{n_annotated} window(s) on BAD annotations",
                        fix="Check the events' onsets (s from the start of the recording), or "
                        "set preprocessing.reject_by_annotation: false")
    x = cut(signal, starts[valid], len(times))
    outliers = np.zeros((len(valid), len(channels)), dtype=bool)
    n_rejected = 0
    keep = np.ones(len(valid), dtype=bool)
    if cfg.reject:
        outliers = outlier_trials(cut(clean, starts[valid], len(times)), cfg.reject_metrics,
                                  cfg.reject_threshold)
        too_many = outliers.mean(axis=1) > cfg.reject_max_fraction
        for k in np.flatnonzero(too_many):
            drop_log[valid[k]] = (f"IEEGRSA OUTLIER ON {int(outliers[k].sum())} OF "
                                  f"{len(channels)} CHANNELS",)
        keep = ~too_many
        n_rejected = int(too_many.sum())
        if cfg.reject_bad_trials == "nan":
            x[outliers & keep[:, None]] = np.nan
    x = x[keep]
    selection = valid[keep]
    if not len(selection):
        raise DataError("Every trial was rejected as an outlier", field="preprocessing.reject",
                        found=f"{len(valid)} trials",
                        fix="Raise preprocessing.reject_threshold or reject_max_fraction, or "
                        "set reject: false")
    x = apply_baseline(x, times, cfg.baseline, cfg.baseline_mode)

    epochs = _make_epochs(x, times, channels, events, selection, drop_log, cfg, contacts,
                          excluded)
    report = _report(contacts, channels, reasons, outliers, keep, cfg)
    n_outside = sum(1 for entry in drop_log if entry == ("OUTSIDE RECORDING",))
    report.attrs.update({"n_events": n_events, "n_epochs": len(epochs), "n_outside": n_outside,
                         "n_annotated": n_annotated, "n_rejected": n_rejected,
                         "line_freq": line_freq})
    logger.info(
        "Preprocessed %d contacts -> %d %s channels, %d of %d trials (%d outside the recording, "
        "%d rejected) in %.1f s", len(contacts), len(channels), cfg.reference, len(epochs),
        n_events, n_outside, n_rejected, time.perf_counter() - started,
    )
    return epochs, report


def _annotated(raw, onsets, cfg):
    """{event index: annotation description} for epochs overlapping a BAD/EDGE annotation."""
    annotations = raw.annotations
    if not len(annotations):
        return {}
    marked = np.array([d.lower().startswith(("bad", "edge")) for d in annotations.description])
    if not marked.any():
        return {}
    sfreq = float(raw.info["sfreq"])
    starts = raw.time_as_index(annotations.onset[marked], use_rounding=True,
                               origin=annotations.orig_time) / sfreq
    stops = starts + annotations.duration[marked]
    overlap = (starts[None, :] <= (onsets + cfg.tmax)[:, None]) & \
        (stops[None, :] >= (onsets + cfg.tmin)[:, None])
    descriptions = annotations.description[marked]
    return {int(k): str(descriptions[np.argmax(overlap[k])])
            for k in np.flatnonzero(overlap.any(axis=1))}


def _line_freq(recording, cfg):
    if not cfg.notch:
        return None
    line_freq = cfg.line_freq if cfg.line_freq is not None else recording.line_freq
    if line_freq is None or not np.isfinite(line_freq) or line_freq <= 0:
        sidecar = None
        try:
            sidecar = recording.bids_path.copy().update(suffix="ieeg", extension=".json").fpath
        except Exception:  # a Recording built by hand has no BIDS path
            pass
        raise DataError(
            "The power-line frequency is unknown, so the line noise cannot be notch-filtered",
            file=sidecar, field="PowerLineFrequency", found=line_freq,
            fix="Add PowerLineFrequency (50 or 60) to the _ieeg.json sidecar, or set "
            "preprocessing.line_freq, or turn the notch off with preprocessing.notch: false",
        )
    return float(line_freq)


def _stimulus_events(recording):
    events = recording.events
    shown = events["stim_file"].notna() if "stim_file" in events.columns else pd.Series(
        False, index=events.index)
    shown &= events.get("stim_file", pd.Series("", index=events.index)).astype(str).str.strip() \
        .ne("")
    if not shown.any():
        raise DataError("The recording has no event with a stim_file", field="stim_file",
                        found=f"{len(events)} events",
                        fix="Name the image shown in the stim_file column of events.tsv")
    return events[shown]


def _make_epochs(x, times, channels, events, selection, drop_log, cfg, contacts, excluded):
    import mne

    names = list(channels["name"])
    info = mne.create_info(names, cfg.sfreq, list(channels["type"]))
    space = ",".join(pd.unique(contacts["space"].astype(str))) if "space" in contacts else "n/a"
    described = json.loads(channels_description(channels, cfg.reference, space))
    described[DESCRIPTION_KEY]["excluded"] = dict(excluded)
    info["description"] = json.dumps(described)
    kept = events.iloc[selection]
    metadata = pd.DataFrame({
        column: kept[column].to_numpy() if column in kept.columns else np.nan
        for column in METADATA_COLUMNS if column not in ("event",)
    })
    metadata["event"] = kept.index.to_numpy()
    trial_types = kept["trial_type"].fillna("stimulus").astype(str) \
        if "trial_type" in kept.columns else pd.Series("stimulus", index=kept.index)
    event_id = {name: code for code, name in enumerate(sorted(pd.unique(trial_types)), start=1)}
    samples = np.round(kept["onset"].to_numpy(dtype=float) * cfg.sfreq).astype(int)
    if len(np.unique(samples)) < len(samples):
        dup = kept["onset"].to_numpy()[np.flatnonzero(np.diff(np.sort(samples)) == 0)[0]]
        raise DataError("Two stimulus events fall on the same sample of the analysis rate",
                        field="onset", found=f"onset near {dup:.3f} s",
                        fix="Keep one event per image shown (or raise preprocessing.sfreq)")
    mne_events = np.column_stack([samples, np.zeros_like(samples),
                                  trial_types.map(event_id).to_numpy()])
    epochs = mne.EpochsArray(
        x, info, events=mne_events, tmin=times[0], event_id=event_id, metadata=metadata,
        selection=selection, drop_log=tuple(drop_log), baseline=None, verbose="error",
    )
    positions = {name: np.array([x_, y_, z_], dtype=float) / 1000.0 for name, x_, y_, z_ in
                 zip(names, channels["x"], channels["y"], channels["z"])}
    frame = "mni_tal" if space != "n/a" else "unknown"
    montage = mne.channels.make_dig_montage(ch_pos=positions, coord_frame=frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no fiducials: MNE assumes an identity transform
        epochs.set_montage(montage, on_missing="ignore", verbose="error")
    return epochs


def excluded_contacts(epochs) -> dict:
    """The recording's contacts that :func:`preprocess` left out of ``epochs`` on purpose.

    Parameters
    ----------
    epochs : mne.Epochs
        Made by :func:`preprocess` (epochs from elsewhere give ``{}``).

    Returns
    -------
    dict
        ``{contact name: reason}`` for the contacts dropped at channel selection: bad in
        channels.tsv, an excluded ``status_description``, listed in ``exclude_channels``, or
        marked by a clinical column of electrodes.tsv (``"clinical: soz (electrodes.tsv;
        preprocessing.exclude_columns)"``). Contacts of types not analysed, and those the
        re-referencing left without a channel, are not in it.
    """
    try:
        stored = json.loads(epochs.info.get("description") or "{}").get(DESCRIPTION_KEY, {})
    except (ValueError, AttributeError):
        return {}
    excluded = stored.get("excluded") if isinstance(stored, dict) else None
    return dict(excluded) if isinstance(excluded, dict) else {}


def _report(contacts, channels, reasons, outliers, keep, cfg):
    feeds = {}
    for row in channels.itertuples(index=False):
        for source in (row.contact_a, row.contact_b):
            if source is not None:
                feeds.setdefault(source, []).append(row.name)
    n_outliers = dict(zip(channels["name"], outliers.sum(axis=0).astype(int)))
    nan = (outliers & keep[:, None]).sum(axis=0) if cfg.reject_bad_trials == "nan" else \
        np.zeros(outliers.shape[1], dtype=int)
    n_nan = dict(zip(channels["name"], nan.astype(int)))
    n_epochs = int(keep.sum())
    bipolar = cfg.reference == "bipolar"
    groups = dict(zip(contacts["name"], contact_groups(contacts)["group"]))
    rows = []
    for name, kind in zip(contacts["name"], contacts["type"]):
        own = name in n_outliers and not bipolar
        rows.append({
            "name": name, "kind": "contact", "type": kind, "group": groups.get(name),
            "included": name in feeds, "reason": reasons.get(name, ""),
            "channels": ";".join(feeds.get(name, [])),
            "n_epochs": n_epochs if name in feeds else 0,
            "n_outliers": n_outliers[name] if own else np.nan,
            "n_nan": n_nan[name] if own else np.nan,
        })
    if bipolar:
        for row in channels.itertuples(index=False):
            rows.append({
                "name": row.name, "kind": "bipolar", "type": row.type, "group": row.group,
                "included": True, "reason": "", "channels": row.name, "n_epochs": n_epochs,
                "n_outliers": n_outliers[row.name], "n_nan": n_nan[row.name],
            })
    report = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    return report.astype({"n_epochs": "int64", "n_outliers": "Int64", "n_nan": "Int64",
                          "included": bool})


def _summarise(reasons, limit=5):
    if not reasons:
        return "no contact"
    items = [f"{name}: {why}" for name, why in list(reasons.items())[:limit]]
    more = len(reasons) - limit
    return "; ".join(items) + (f"; and {more} more" if more > 0 else "")
