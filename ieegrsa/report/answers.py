"""The answer of the group report, in words: one sentence per model family, ROI and objective
contrast, the classical-view sentences and the diagnostics note, built from the group tables.

Also the figure of the contrast over time that goes with the sentences.
"""

from __future__ import annotations

import logging
import math
import re

import numpy as np
import pandas as pd

from . import _common as common

logger = logging.getLogger("ieegrsa")

__all__ = ["answers", "answer_figure", "comparisons", "diagnostics", "objective_contrast",
           "objective_terms", "ordered", "CORRECTION_LABELS"]

TOO_FEW = "too few patients for a group claim"

_FAMILY_ORDER = ("categorical", "network")
CORRECTION_LABELS = {"fdr_bh": "FDR", "fdr_by": "FDR", "bonferroni": "Bonferroni",
                      "holm": "Holm", "none": None}
_MINUS = "\u2212"
_DASH = "\u2013"


def _signed(text: str) -> str:
    """A typographic minus for negative numbers."""
    return _MINUS + text[1:] if text.startswith("-") else text


def _decimals(value) -> int:
    """Decimals that show at least two significant digits of ``value`` (3 at least)."""
    value = abs(float(value))
    if not math.isfinite(value) or value == 0:
        return 3
    return int(min(6, max(3, 1 - math.floor(math.log10(value)))))


def _number(value, decimals: int) -> str:
    if not math.isfinite(float(value)):
        return "n/a"
    text = f"{float(value):.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return _signed(text)


def _p(p) -> str:
    """A p-value with two significant digits (``< 0.0001`` below)."""
    p = float(p)
    if not math.isfinite(p):
        return "n/a"
    return "< 0.0001" if p < 1e-4 else f"{p:.2g}"


def _p_is(p, name="p") -> str:
    """``p = 0.0026`` or ``p < 0.0001``."""
    text = _p(p)
    return f"{name} {text}" if text.startswith("<") else f"{name} = {text}"


def _ms(seconds) -> str:
    return _signed(str(int(round(float(seconds) * 1000))))


def _window(start, stop) -> str:
    """``100–200 ms`` (``−200 to −100 ms`` when a bound is negative)."""
    joint = " to " if float(start) < 0 or float(stop) < 0 else _DASH
    return f"{_ms(start)}{joint}{_ms(stop)} ms"


def _count(n, word) -> str:
    if n is None or not math.isfinite(float(n)):
        return None
    n = int(n)
    return f"{n} {word}{'' if n == 1 else 's'}"


def _plural_list(items) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _runs(rows: pd.DataFrame, significant) -> list[tuple[float, float]]:
    """Contiguous significant windows (neighbours in the sorted windows) as (start, stop)."""
    order = np.argsort(rows["window_start"].to_numpy(float), kind="stable")
    starts = rows["window_start"].to_numpy(float)[order]
    stops = rows["window_stop"].to_numpy(float)[order]
    sig = np.asarray(significant, bool)[order]
    runs, first = [], None
    for k, flag in enumerate(sig):
        if flag and first is None:
            first = k
        if first is not None and (not flag or k == len(sig) - 1):
            last = k if flag else k - 1
            runs.append((starts[first], stops[last]))
            first = None
    return runs


def ordered(values, preferred=()) -> list:
    """Unique ``values``: those of ``preferred`` first in its order, then the others sorted."""
    values = list(dict.fromkeys(values))
    first = [v for v in preferred if v in values]
    return first + sorted((v for v in values if v not in first), key=str)


# The objective contrast of a term

_TERM = re.compile(r"^C\(\s*objective\b(?P<args>[^\[]*)\)\[T\.(?P<level>[^\]]+)\]$")
_REFERENCE = re.compile(r"""reference\s*=\s*['"]?(?P<ref>[^'")\s,]+)""")


def objective_contrast(term, levels=(), contrasts=()) -> tuple[str | None, str | None]:
    """``(level, reference)`` that a treatment-coded objective term compares.

    ``C(objective)[T.identity]`` is identity minus the reference level: the one named in
    ``Treatment(reference=...)``, else the first sorted of ``levels`` (the objective levels
    present, as patsy orders them), else the other level of a configured contrast starting
    with the term's level. ``(None, None)`` for a term of another form (an interaction ...).
    """
    match = _TERM.match(str(term).strip())
    if not match:
        return None, None
    level = match.group("level")
    explicit = _REFERENCE.search(match.group("args"))
    if explicit:
        return level, explicit.group("ref")
    others = sorted({str(v) for v in levels} - {level})
    if others and level in {str(v) for v in levels}:
        return level, others[0]
    for contrast in contrasts or ():
        if len(contrast) == 2 and str(contrast[0]) == level:
            return level, str(contrast[1])
    return level, None


def objective_terms(mixed: pd.DataFrame) -> pd.DataFrame:
    """Rows of the objective terms (``C(objective)[T.x]`` ...); all but the intercept if none."""
    terms = mixed["term"].astype(str)
    keep = terms.str.contains("objective", case=False)
    if not keep.any():
        keep = terms != "Intercept"
    return mixed[keep.to_numpy()]


def _with_keys(table: pd.DataFrame | None) -> pd.DataFrame | None:
    """``family`` and ``roi`` filled (``all`` / ``all ROIs``) so that rows can be matched."""
    if table is None:
        return None
    table = table.copy()
    table["family"] = table["family"].fillna("all").astype(str) if "family" in table else "all"
    table["roi"] = table["roi"].fillna("all ROIs").astype(str) if "roi" in table else "all ROIs"
    return table


def _levels(patients, family, roi) -> list[str]:
    """Objective levels present for a family (and ROI) in the patient summary."""
    if patients is None or "objective" not in patients:
        return []
    rows = patients[patients["family"] == family]
    if (rows["roi"] == roi).any():
        rows = rows[rows["roi"] == roi]
    return sorted(map(str, rows["objective"].dropna().unique()))


def _match(table, family, roi, contrast) -> pd.DataFrame | None:
    """Rows of ``table`` of one family, ROI and contrast (either order of its two levels)."""
    if table is None or "contrast" not in table or contrast is None:
        return None
    names = {contrast, "-".join(reversed(contrast.split("-", 1)))}
    rows = table[(table["family"] == family) & (table["roi"] == roi)
                 & table["contrast"].astype(str).isin(names)]
    return rows if len(rows) else None


def _notes(rows) -> pd.Series:
    if "note" not in rows:
        return pd.Series("", index=rows.index)
    return rows["note"].fillna("").astype(str)


def _floats(rows, column) -> np.ndarray:
    if column not in rows:
        return np.full(len(rows), np.nan)
    return pd.to_numeric(rows[column], errors="coerce").to_numpy(float)


def _onset_text(onsets, family, roi, contrast) -> str | None:
    rows = _match(onsets, family, roi, contrast)
    if rows is None:
        return None
    row = rows.iloc[0]
    onset, low, high = (float(row.get(c, np.nan)) for c in ("onset", "ci_low", "ci_high"))
    if math.isfinite(onset):
        text = f"onset {_ms(onset)} ms"
        if math.isfinite(low) and math.isfinite(high):
            text += f" [{_ms(low)}, {_ms(high)}]"
        return text
    if _notes(rows).str.startswith(TOO_FEW).any():
        return "onset not tested (too few patients)"
    return "no onset (no significant cluster)"


def _signflip_text(signflip, family, roi, contrast) -> str | None:
    rows = _match(signflip, family, roi, contrast)
    if rows is None:
        return None
    p = _floats(rows, "p_corrected")
    if np.isfinite(p).any():
        return f"sign-flip check: {_p_is(np.nanmin(p), 'p_FWE')}"
    notes = _notes(rows)
    few = notes[notes.str.startswith(TOO_FEW)]
    if len(few):
        return f"sign-flip check: {few.iloc[0]}"
    return "sign-flip check: no p-value"


def _answer(rows, *, family, roi, what, contrast, onsets, signflip, alpha, label, units):
    """One sentence for one family × ROI × objective term (see :func:`_answers`)."""
    lead = f"{roi[:1].upper()}{roi[1:]}, {family} models"
    notes = _notes(rows)
    few = notes.str.startswith(TOO_FEW).to_numpy()
    if few.all():
        n = _floats(rows, "n_subjects")
        pick = int(np.nanargmax(n)) if np.isfinite(n).any() else 0
        counts = [_count(n[pick], "patient"), _count(_floats(rows, "n_contacts")[pick], "contact")]
        counts = " / ".join(c for c in counts if c)
        text = f"{what}: {notes.iloc[pick]}" + (f"; {counts}" if counts else "")
        text += "; no p-value is given."
        return {"lead": lead, "text": text, "kind": "too_few"}
    rows = rows[~few]
    estimate = _floats(rows, "estimate")
    if not np.isfinite(estimate).any():
        reason = next((n for n in _notes(rows) if n), "no fit could be estimated")
        return {"lead": lead, "text": f"{what}: not estimable ({reason}).", "kind": "none"}
    rows = rows[np.isfinite(estimate)]
    p_corr = _floats(rows, "p_corrected" if "p_corrected" in rows else "p_value")
    t = _floats(rows, "t")
    strength = np.where(np.isfinite(t), np.abs(t), -np.inf)
    if np.isfinite(p_corr).any():
        key = np.lexsort((-strength, np.where(np.isfinite(p_corr), p_corr, np.inf)))
    elif np.isfinite(t).any():
        key = np.argsort(-strength, kind="stable")
    else:
        key = np.argsort(-np.abs(_floats(rows, "estimate")), kind="stable")
    best = rows.iloc[int(key[0])]
    value = float(best["estimate"])
    decimals = _decimals(value)
    interval = ""
    low, high = float(best.get("ci_low", np.nan)), float(best.get("ci_high", np.nan))
    if math.isfinite(low) and math.isfinite(high):
        interval = f" [{_number(low, decimals)}, {_number(high, decimals)}]"
    stat = float(best.get("t", np.nan))
    df = float(best.get("df", np.nan))
    numbers = f"estimate {_number(value, decimals)}{interval}{units}"
    if math.isfinite(stat):
        numbers += f", t({df:.1f}) = {_signed(f'{stat:.2f}')}" if math.isfinite(df) else \
            f", t = {_signed(f'{stat:.2f}')}"
    p = float(best.get("p_value", np.nan))
    numbers += f", {_p_is(p)}" if math.isfinite(p) else ", no p-value"
    corrected = float(best.get("p_corrected", np.nan))
    if label and math.isfinite(corrected):
        numbers += f" ({label} {_p(corrected)})"
    where = _window(best["window_start"], best["window_stop"])
    counts = [_count(best.get("n_subjects", np.nan), "patient"),
              _count(best.get("n_contacts", np.nan), "contact")]
    counts = " / ".join(c for c in counts if c)
    significant = np.isfinite(p_corr) & (p_corr < alpha)
    after = f"after {label}" if label else f"at p < {alpha:g}"
    if significant.any():
        ranges = ", ".join(_window(a, b) for a, b in _runs(rows, significant))
        parts = [f"{what}: {numbers} at {where}", counts,
                 f"significant windows ({label or 'p'} < {alpha:g}): {ranges}"]
        kind = "significant"
    else:
        parts = [f"{what}: no window significant {after}; strongest at {where}: {numbers}",
                 counts]
        kind = "none"
    parts += [_onset_text(onsets, family, roi, contrast),
              _signflip_text(signflip, family, roi, contrast)]
    text = "; ".join(p for p in parts if p) + "."
    return {"lead": lead, "text": text, "kind": kind}


def answers(mixed, patients, onsets, signflip, *, alpha, correction="fdr_bh",
             transform=None, rois=(), contrasts=()) -> list[dict]:
    """The answer sentences: per family (categorical, network ...) × ROI × objective term.

    Each uses the term's window with the smallest corrected p (the largest |t| when none is
    finite), the windows significant after correction merged into ranges, the onset of the
    contrast (onset table) and the sign-flip check (smallest family-wise p over the ROI's
    windows). A ROI whose rows all carry "too few patients for a group claim" gets that note
    and its counts, without p-values.
    """
    if mixed is None or not {"term", "estimate"} <= set(mixed.columns):
        return []
    shown = _with_keys(objective_terms(mixed))
    patients, onsets, signflip = map(_with_keys, (patients, onsets, signflip))
    label = CORRECTION_LABELS.get(correction, correction)
    units = " (Fisher z)" if transform == "fisher" else ""
    items = []
    for family in ordered(shown["family"], _FAMILY_ORDER):
        rows_family = shown[shown["family"] == family]
        for roi in ordered(rows_family["roi"], rois):
            rows_roi = rows_family[rows_family["roi"] == roi]
            levels = _levels(patients, family, roi)
            for term in pd.unique(rows_roi["term"].astype(str)):
                level, reference = objective_contrast(term, levels, contrasts)
                if level is None:
                    what, contrast = f"term {term}", None
                else:
                    what = f"{level} vs {reference or 'the reference level'}"
                    contrast = f"{level}-{reference}" if reference else None
                item = _answer(rows_roi[rows_roi["term"].astype(str) == term], family=family,
                               roi=roi, what=what, contrast=contrast, onsets=onsets,
                               signflip=signflip, alpha=alpha, label=label, units=units)
                items.append({**item, "family": family, "roi": roi, "term": term,
                              "label": what.replace(" vs ", " \u2212 ")})
    return items


def answer_figure(mixed, items, alpha, *, families, rois, transform, correction):
    from .figures import figure_data_uri
    from .group_figures import plot_contrasts

    if mixed is None or not items:
        return None
    shown = _with_keys(objective_terms(mixed))
    labels = {item["term"]: item["label"] for item in items}
    try:
        fig = plot_contrasts(shown, labels=labels, alpha=alpha, families=families, rois=rois,
                             ylabel="estimate (Fisher z)" if transform == "fisher"
                             else "estimate", too_few=TOO_FEW,
                             marked=f"{CORRECTION_LABELS.get(correction, correction) or 'p'}"
                                    f" < {alpha:g}")
    except Exception as err:
        logger.warning("report: the contrast figure failed (%s)", err)
        return None
    return figure_data_uri(fig) if fig is not None else None


def comparisons(comparison, alpha, rois_of) -> list[dict]:
    """The classical-view test (likelihood ratio per window) and the seed study's BIC test."""
    if comparison is None or "model" not in comparison:
        return []
    table = _with_keys(comparison).reset_index(drop=True)
    models = table["model"].astype(str)
    items = []
    for family in ordered(table["family"], _FAMILY_ORDER):
        in_family = (table["family"] == family).to_numpy()
        lead = f"{family[:1].upper()}{family[1:]} models"
        pairs = {}
        for i in np.flatnonzero(in_family & (models == "full").to_numpy()):
            reduced = (table.at[i - 1, "formula"] if i > 0 and models[i - 1] == "reduced"
                       and in_family[i - 1] else None)
            pairs.setdefault((reduced, table.at[i, "formula"]), []).append(i)
        rois = rois_of.get(family) or sorted(
            m.split("=", 1)[1] for m in models[in_family] if m.startswith("roi="))
        for (reduced, full), index in pairs.items():
            rows = table.loc[index]
            formulas = f"{reduced} against {full}" if reduced else str(full)
            full_text = str(full)
            classical = ("roi" in full_text and "objective" in full_text
                         and ("*" in full_text or ":" in full_text)
                         and not (reduced and ("*" in reduced or ":" in reduced)))
            name = "classical view" if classical else "model comparison"
            detail = (f"(a different objective effect in {_plural_list(rois) or 'each ROI'}; "
                      f"{formulas})" if classical else f"({formulas})")
            p = _floats(rows, "p_value")
            lr = _floats(rows, "lr_stat")
            finite = np.isfinite(p)
            if not finite.any():
                text = "likelihood-ratio test without a p-value (see the table)"
            else:
                best = int(np.nanargmin(np.where(finite, p, np.inf)))
                row = rows.iloc[best]
                has_window = "window_start" in rows and np.isfinite(
                    _floats(rows, "window_start")).any()
                where = (f" at {_window(row['window_start'], row['window_stop'])}"
                         if has_window else "")
                strongest = f"LR = {lr[best]:.2f}, {_p_is(p[best])}{where}"
                if finite.sum() > 1 or has_window:
                    k = int((p[finite] < alpha).sum())
                    text = (f"likelihood-ratio test significant (p < {alpha:g}, uncorrected) "
                            f"in {k} of {int(finite.sum())} windows (strongest: {strongest})")
                else:
                    text = f"likelihood-ratio test {strongest}"
            items.append({"lead": lead, "name": name, "detail": detail, "text": text + "."})
        separate = table[in_family & (models == "separate").to_numpy()]
        delta = _floats(separate, "delta_bic")
        if np.isfinite(delta).any():
            d = float(delta[np.isfinite(delta)][0])
            favours = ("favours separate regressions" if d < 0 else
                       "favours one combined regression")
            items.append({"lead": lead,
                          "name": "seed study's test",
                          "detail": "(one pooled OLS regression against separate per-ROI "
                                    "regressions; patients not modelled)",
                          "text": f"separate per-ROI regressions \u0394BIC = "
                                  f"{_signed(f'{d:.1f}')} ({favours})."})
    return items


def diagnostics(mixed, comparison) -> list[str]:
    """Quiet notes on singular, non-converged and non-estimable fits."""
    notes = []
    if mixed is not None and {"term", "estimate"} <= set(mixed.columns):
        keys = [c for c in ("family", "roi", "window_start", "window_stop") if c in mixed]
        table = _with_keys(mixed).assign(
            _singular=common.as_bool(mixed["singular"]) if "singular" in mixed else False,
            _converged=common.as_bool(mixed["converged"]) if "converged" in mixed else True,
            _finite=np.isfinite(_floats(mixed, "estimate")))
        fits = (table.groupby(keys, dropna=False, sort=False)
                .agg(singular=("_singular", "any"), converged=("_converged", "all"),
                     finite=("_finite", "any")) if keys else
                pd.DataFrame({"singular": [table["_singular"].any()],
                              "converged": [table["_converged"].all()],
                              "finite": [table["_finite"].any()]}))
        n = len(fits)
        k = int((fits["singular"] & fits["finite"]).sum())
        if k:
            notes.append(f"{k} of {n} mixed-model fits are singular: a random-effect variance "
                         f"was estimated at zero (lme4's isSingular); the fits are kept and "
                         f"their tests remain valid \u2014 this is common with few patients or "
                         f"contacts (the note column names the variances).")
        k = int((~fits["converged"] & fits["finite"]).sum())
        if k:
            notes.append(f"{k} of {n} fits stopped short of the optimiser's convergence "
                         f"criterion (largest projected gradient \u2265 2e-3, column "
                         f"gradient_norm); their estimates are kept and shown.")
        k = int((~fits["finite"]).sum())
        if k:
            notes.append(f"{k} of {n} fits could not be estimated (the note column says why).")
    if comparison is not None and {"model", "singular"} <= set(comparison.columns):
        lrt = comparison[comparison["model"].astype(str).isin(["reduced", "full"])]
        k = int(common.as_bool(lrt["singular"]).sum())
        if k:
            notes.append(f"{k} of {len(lrt)} model-comparison fits are singular too (same "
                         f"meaning).")
    return notes
