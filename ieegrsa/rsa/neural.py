"""Neural RDMs from epochs: sliding windows over ROI patterns or single contacts.

Windows are cut as strided views of the epochs' data, and every window of every pattern goes to
:func:`ieegrsa.rsa.rdm_movie` at once (windows, and contacts for the ``contact`` pattern, are its
"time" axis), so no Python loop runs over windows or condition pairs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._check import check_option
from ..errors import DataError
from ._inputs import off_to_none
from .kernels import CV_METRICS, METRICS, rdm_movie
from .rdms import RDMs, concat

logger = logging.getLogger("ieegrsa")

__all__ = ["neural_rdms", "pattern_metrics", "window_starts", "select_trials"]

NA = "n/a"
#: The neural patterns (``pattern``) and the features of an ROI pattern (``window_features``).
PATTERNS = ("roi", "contact")
WINDOW_FEATURES = ("flatten", "mean")

#: Largest array (float64 values) handed to one rdm_movie call for the contact pattern.
_MAX_CHUNK_VALUES = 2**24


def window_starts(times: np.ndarray, sfreq: float, window: float, step: float,
                  tmin: float | None = None, tmax: float | None = None
                  ) -> tuple[np.ndarray, int]:
    """First sample of every window and the window length in samples.

    A window is ``round(window * sfreq)`` samples long and starts every ``round(step * sfreq)``
    samples from the first sample at or after ``tmin``; the last window ends at or before
    ``tmax`` (its stop is its start plus its length, in seconds).

    Returns
    -------
    starts : numpy.ndarray of int
        Sample index (into ``times``) of each window's first sample.
    length : int
        Samples per window.
    """
    length = int(round(window * sfreq))
    stride = int(round(step * sfreq))
    if length < 1 or stride < 1:
        raise DataError(
            "the window and step must each span at least one sample",
            field="rsa.window" if length < 1 else "rsa.step",
            found=f"window {window} s and step {step} s at {sfreq:g} Hz",
            fix=f"use at least {1 / sfreq:g} s",
        )
    half = 0.5 / sfreq  # tolerance: half a sample
    tmin = times[0] if tmin is None else tmin
    tmax = times[-1] + 1 / sfreq if tmax is None else tmax
    first = int(np.searchsorted(times, tmin - half))
    # a window starting at sample s covers [times[s], times[s] + length / sfreq)
    last_start = int(np.searchsorted(times, tmax - length / sfreq + half, side="right")) - 1
    last_start = min(last_start, len(times) - length)
    if last_start < first:
        raise DataError(
            "no window fits in the epochs", field="rsa.window",
            found=f"a {window} s window in [{tmin:g}, {tmax:g}] s of epochs spanning "
                  f"[{times[0]:g}, {times[-1]:g}] s",
            fix="shorten the window or widen tmin/tmax",
        )
    return np.arange(first, last_start + 1, stride), length


def pattern_metrics(metric: str | Mapping[str, str], patterns: Sequence[str]) -> dict:
    """``{pattern: metric}`` for every pattern, from one metric or one per pattern."""
    if isinstance(metric, str):
        spec = dict.fromkeys(patterns, metric)
    elif isinstance(metric, Mapping):
        spec = dict(metric)
        missing = [p for p in patterns if p not in spec]
        if missing:
            raise DataError("no metric for a pattern", field="rsa.metric",
                            found=f"metrics for {sorted(spec)}, patterns {list(patterns)}",
                            fix=f"add {missing[0]}: <metric>, or give one metric for all")
    else:
        raise DataError("the metric must be a name or a {pattern: name} mapping",
                        field="rsa.metric", found=repr(metric)[:80],
                        fix="e.g. metric='cv-euclidean' or {'contact': 'cv-euclidean', "
                            "'roi': 'crossnobis'}")
    for p, m in spec.items():
        check_option(f"rsa.metric.{p}", m, METRICS, what="dissimilarity metric")
    return {p: spec[p] for p in patterns}


def select_trials(metadata: pd.DataFrame | None, trials: str | None = "face") -> np.ndarray:
    """Boolean mask of the epochs entering the RDMs.

    ``"face"`` keeps trials with a known identity and expression, ``"all"`` (or None) every trial,
    any other text is a :meth:`pandas.DataFrame.query` on the metadata.
    """
    if metadata is None:
        raise DataError("the epochs have no metadata", field="epochs.metadata",
                        found="None", fix="make the epochs with ieegrsa.preprocess, or set "
                                          "epochs.metadata to a table with a stim_file column")
    if trials in (None, "all"):
        return np.ones(len(metadata), dtype=bool)
    if trials == "face":
        mask = np.ones(len(metadata), dtype=bool)
        for column in ("identity", "expression"):
            if column not in metadata.columns:
                raise DataError(
                    "face trials are chosen by identity and expression", field="epochs.metadata",
                    found=f"metadata columns {list(metadata.columns)}",
                    fix="add identity and expression to the metadata, or set rsa.trials to "
                        "'all' or a query",
                )
            values = metadata[column]
            mask &= (values.notna() & (values.astype(str) != NA)).to_numpy()
        return mask
    try:
        kept = metadata.reset_index(drop=True).query(trials).index.to_numpy()
    except Exception as err:  # pandas raises many types for a bad query
        raise DataError("the trial query failed", field="rsa.trials", found=f"{trials!r}: {err}",
                        fix=f"write a pandas query over the columns {list(metadata.columns)}"
                        ) from None
    mask = np.zeros(len(metadata), dtype=bool)
    mask[kept] = True
    return mask


def _pattern_contacts(epochs, contacts, rois):
    """ROI name -> list of channel names, and channel -> its ROI, from the contact table."""
    names = list(epochs.ch_names)
    if contacts is None:
        return {"all": names}, dict.fromkeys(names, "all")
    for column in ("name", "included"):
        if column not in contacts.columns:
            raise DataError(f"the contact table lacks the {column} column", field="contacts",
                            found=f"columns {list(contacts.columns)}",
                            fix="pass the table made by ieegrsa.localize")
    table = contacts[contacts["included"].astype(bool) & contacts["name"].isin(names)]
    member = table["rois"] if "rois" in table.columns else table.get("roi")
    if member is None:
        raise DataError("the contact table has no ROI column", field="contacts",
                        found=f"columns {list(contacts.columns)}",
                        fix="pass the table made by ieegrsa.localize")
    member = member.fillna(NA).astype(str).str.split(";")
    if rois is None:
        rois = contacts.attrs.get("rois") or sorted({r for rs in member for r in rs} - {NA})
    order = {name: k for k, name in enumerate(names)}
    by_roi = {}
    for roi in rois:
        chosen = table.loc[member.apply(lambda rs, roi=roi: roi in rs), "name"]
        by_roi[roi] = sorted(chosen, key=order.get)  # the epochs' channel order
    primary = {}
    for roi, chans in by_roi.items():
        for ch in chans:
            primary.setdefault(ch, roi)
    return by_roi, primary


def neural_rdms(epochs, contacts: pd.DataFrame | None = None, pattern: str | Sequence[str] = "roi",
                window: float = 0.1, step: float = 0.02,
                metric: str | Mapping[str, str] = "cv-euclidean", *,
                rois: Sequence[str] | None = None, window_features: str = "flatten",
                condition_column: str = "stim_file", trials: str | None = "face",
                conditions: Sequence | None = None, cv_column: str = "repetition",
                noise=None, noise_pooling: str = "time", tmin: float | None = None,
                tmax: float | None = None, subject: str | None = None) -> RDMs:
    """Time-resolved neural RDMs from epochs, one per pattern and sliding window.

    Parameters
    ----------
    epochs : mne.Epochs
        Epochs whose metadata has ``condition_column`` (and identity/expression for
        ``trials="face"``), e.g. from :func:`ieegrsa.preprocess`. NaN values (rejected trials of a
        channel) are left out of that channel's condition means.
    contacts : pandas.DataFrame | None
        The contact table of :func:`ieegrsa.localize`: included contacts of each ROI (by its
        ``rois`` column) make up the patterns. None: every channel is one ROI named ``all``.
    pattern : "roi" | "contact" | list of them
        ``roi``: the included contacts of an ROI together; ``contact``: each included contact
        of the ROIs alone, its time course within the window as the pattern (Schwartz et al.
        2023 worked contact by contact).
    window, step : float
        Window length and the step between window starts (s); both are rounded to samples.
    metric : str | dict
        Dissimilarity (see :func:`ieegrsa.rsa.rdm_movie`): one for every pattern, or one per
        pattern, e.g. ``{"contact": "cv-euclidean", "roi": "crossnobis"}`` (the pipeline's
        default, with ``noise="shrinkage_diag"``; docs/rdm_metrics.md). The metric of each RDM is
        its ``metric`` descriptor.
    rois : list of str | None
        ROIs to build; None = the ROIs of the contact table (``contacts.attrs["rois"]``).
    window_features : "flatten" | "mean"
        ROI pattern only: every contact at every sample is a feature (flatten), or each
        contact's mean over the window is (mean).
    condition_column : str
        Metadata column whose values are the conditions (default: each image).
    trials : str | None
        ``"face"`` (known identity and expression), ``"all"``, or a pandas query on the metadata.
    conditions : sequence | None
        Condition labels in the order wanted (e.g. the stimulus table's); default: order of
        first appearance in the selected trials, never sorted.
    cv_column : str
        Metadata column of the folds for cross-validated metrics (default: the repetition).
        Every condition needs trials in at least two folds.
    noise, noise_pooling
        Noise precision for mahalanobis / crossnobis (see :func:`ieegrsa.rsa.rdm_movie`); the
        patterns with another metric ignore it. ``"none"`` (the configuration's off value) is
        None.
    tmin, tmax : float | None
        The windows lie within [tmin, tmax] (s); None = the whole epoch.
    subject : str | None
        Written to the descriptors; default ``contacts.attrs["subject"]`` or ``n/a``.

    Returns
    -------
    RDMs
        One RDM per pattern and window. Descriptors: ``subject``, ``roi``, ``contact`` (``n/a``
        for ROI patterns), ``pattern``, ``metric``, ``window_start``, ``window_stop`` (s),
        ``n_contacts``,
        ``n_features``. ROIs without an included contact are skipped with a warning.
    """
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    for p in patterns:
        check_option("pattern", p, PATTERNS)
    check_option("window_features", window_features, WINDOW_FEATURES)
    noise = off_to_none(noise)
    metadata = epochs.metadata
    keep = select_trials(metadata, trials)
    if condition_column not in metadata.columns:
        raise DataError("the condition column is not in the epochs metadata",
                        field="rsa.condition_column",
                        found=f"{condition_column!r} (columns: {list(metadata.columns)})",
                        fix="set rsa.condition_column to one of them")
    # a trial without a condition label (e.g. a house when conditions are identities) is out
    keep &= metadata[condition_column].notna().to_numpy()
    labels = metadata[condition_column].to_numpy()[keep]
    if not len(labels):
        raise DataError("no trial enters the RDMs", field="rsa.trials", found=repr(trials),
                        fix="check the trial selection against the epochs metadata")
    if conditions is None:
        conditions = list(pd.unique(labels))
    metrics = pattern_metrics(metric, patterns)
    cv = None
    if set(metrics.values()) & set(CV_METRICS):
        if cv_column not in metadata.columns:
            raise DataError("cross-validated metrics need a fold column in the metadata",
                            field="rsa.cv_column",
                            found=f"{cv_column!r} (columns: {list(metadata.columns)})",
                            fix="set rsa.cv_column to repetition or run")
        cv = metadata[cv_column].to_numpy()[keep]
    if subject is None:
        subject = (contacts.attrs.get("subject") if contacts is not None else None) or NA

    by_roi, primary = _pattern_contacts(epochs, contacts, rois)
    sfreq = epochs.info["sfreq"]
    starts, length = window_starts(epochs.times, sfreq, window, step, tmin, tmax)
    # rounded to a nanosecond so that window times print and match cleanly
    win_start = np.round(epochs.times[starts], 9)
    win_stop = np.round(epochs.times[starts] + length / sfreq, 9)
    wanted = sorted({ch for chans in by_roi.values() for ch in chans},
                    key=list(epochs.ch_names).index)
    if not wanted:
        raise DataError("no included contact in any ROI", field="contacts.included",
                        found=f"ROIs {list(by_roi)}", fix="check the contact table")
    data = epochs.get_data(picks=wanted)[keep]  # (trials, channels, times)
    # (trials, channels, windows, samples), a view
    windows = np.lib.stride_tricks.sliding_window_view(data, length, axis=2)[:, :, starts]
    column = {ch: k for k, ch in enumerate(wanted)}

    def kwargs(p):
        cross, noisy = metrics[p] in CV_METRICS, metrics[p] in ("mahalanobis", "crossnobis")
        return dict(metric=metrics[p], cv=cv if cross else None, noise=noise if noisy else None,
                    noise_pooling=noise_pooling, conditions=conditions)

    n_win = len(starts)
    pieces = []
    for roi, chans in by_roi.items():
        if not chans:
            logger.warning("ROI %r has no included contact; no RDM for it", roi)
            continue
        if "roi" not in patterns:
            continue
        sub = windows[:, [column[c] for c in chans]]
        if window_features == "mean":
            X = sub.mean(axis=3)  # (trials, contacts, windows)
        else:  # features = contacts x samples
            X = sub.transpose(0, 1, 3, 2).reshape(len(labels), -1, n_win)
        rdms = rdm_movie(X, labels, **kwargs("roi"))
        pieces.append(_with_descriptors(rdms, pd.DataFrame({
            "subject": subject, "roi": roi, "contact": NA, "pattern": "roi",
            "metric": metrics["roi"],
            "window_start": win_start, "window_stop": win_stop, "n_contacts": len(chans),
            "n_features": X.shape[1]})))
    if "contact" in patterns:
        chans = [ch for ch in wanted if ch in primary]
        per_chunk = max(1, _MAX_CHUNK_VALUES // max(1, len(labels) * length * n_win))
        for lo in range(0, len(chans), per_chunk):  # chunks bound the memory, not a hot loop
            chunk = chans[lo:lo + per_chunk]
            sub = windows[:, [column[c] for c in chunk]]  # (trials, c, windows, samples)
            # features = the samples of the window; "time" axis = contact x window
            X = sub.transpose(0, 3, 1, 2).reshape(len(labels), length, -1)
            rdms = rdm_movie(X, labels, **kwargs("contact"))
            pieces.append(_with_descriptors(rdms, pd.DataFrame({
                "subject": subject, "roi": np.repeat([primary[c] for c in chunk], n_win),
                "contact": np.repeat(chunk, n_win), "pattern": "contact",
                "metric": metrics["contact"],
                "window_start": np.tile(win_start, len(chunk)),
                "window_stop": np.tile(win_stop, len(chunk)), "n_contacts": 1,
                "n_features": length})))
    if not pieces:
        raise DataError("no pattern to build RDMs from", field="rsa.pattern",
                        found=f"patterns {patterns} over ROIs {list(by_roi)}",
                        fix="check that the ROIs have included contacts")
    return concat(pieces)


def _with_descriptors(rdms: RDMs, descriptors: pd.DataFrame) -> RDMs:
    return RDMs(rdms.values, rdms.conditions, descriptors, rdms.metric, copy=False)
