"""A methods paragraph generated from the configuration (a boilerplate, as fMRIPrep writes)."""

from __future__ import annotations

from ..config import DEFAULT_NEURAL_METRIC

__all__ = ["methods_text"]

_METHODS = {
    "spearman": "Spearman's rank correlation",
    "pearson": "Pearson's correlation",
    "kendall-tau-b": "Kendall's \u03c4-b",
    "kendall-tau-a": "Kendall's \u03c4-a",
    "rho-a": "Spearman's \u03c1-a",
    "cosine": "the cosine similarity",
}
_METRICS = {
    "correlation": "correlation distance (1 \u2212 Pearson r)",
    "euclidean": "squared Euclidean distance divided by the number of features",
    "cosine": "cosine distance (1 \u2212 cosine similarity)",
    "mahalanobis": "Mahalanobis distance (noise-whitened Euclidean distance)",
    "crossnobis": "cross-validated Mahalanobis (crossnobis) distance",
    "cv-euclidean": "cross-validated Euclidean distance",
}
_CORRECTIONS = {
    "fdr_bh": "the Benjamini-Hochberg false discovery rate",
    "fdr_by": "the Benjamini-Yekutieli false discovery rate",
    "bonferroni": "Bonferroni's correction",
    "holm": "Holm's step-down correction",
    "none": "no correction",
}


def _get(config, dotted: str, default=None):
    """``config.a.b`` (attribute or key), ``default`` where a level is missing."""
    value = config
    for part in dotted.split("."):
        if value is None:
            return default
        if isinstance(value, dict):
            value = value.get(part, default)
        else:
            value = getattr(value, part, default)
    return value


def _ms(seconds) -> str:
    return f"{float(seconds) * 1000:g} ms"


def _s(seconds) -> str:
    return f"{float(seconds):g} s"


def _list(items, conj: str = "and") -> str:
    items = [str(i) for i in items]
    if not items:
        return "none"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


def _preprocessing(config) -> str:
    pre = _get(config, "preprocessing")
    types = _list([t.upper() if t == "seeg" else "ECoG" if t == "ecog" else t
                   for t in _get(pre, "channel_types", ["seeg", "ecog"])])
    text = [f"Contacts of type {types.replace('SEEG', 'sEEG')} were analysed."]
    dropped = []
    if _get(pre, "drop_bad", True):
        dropped.append("contacts marked bad in channels.tsv")
    status = _get(pre, "exclude_status", []) or []
    if status:
        dropped.append("contacts whose status description mentioned "
                       + _list([f"\u201c{s}\u201d" for s in status], "or"))
    channels = _get(pre, "exclude_channels", []) or []
    if channels:
        dropped.append(f"{len(channels)} contact(s) named in the configuration")
    if dropped:
        text.append(f"We excluded {_list(dropped)}.")
    reference = _get(pre, "reference", "bipolar")
    distance = _get(pre, "neighbour_max_distance", None)
    within = f" (neighbours at most {distance:g} mm apart)" if distance else ""
    text.append({
        "bipolar": f"Signals were re-referenced to a bipolar montage: each contact minus its next "
                   f"neighbour on the same shaft or strip{within}, placed at their midpoint.",
        "laplacian": f"Signals were re-referenced to a local Laplacian: each contact minus the "
                     f"mean of its two neighbours on the shaft or strip{within}.",
        "car": f"Signals were re-referenced to the common average of "
               f"{'each shaft or strip' if _get(pre, 'car_scope') == 'group' else 'all contacts'}.",
        "none": "Signals were analysed with their recorded reference.",
    }.get(reference, f"Signals were re-referenced ({reference})."))
    if _get(pre, "notch", True):
        line = _get(pre, "line_freq", None)
        line = f"{line:g} Hz" if line else "the power-line frequency of the recording's sidecar"
        text.append(f"Line noise was removed with notch filters at {line} and its harmonics.")
    if _get(pre, "signal", "high_gamma") == "high_gamma":
        low, high = _get(pre, "high_gamma_band", (70.0, 150.0))
        width = _get(pre, "high_gamma_band_width", 10.0)
        norm = _get(pre, "high_gamma_normalization", "mean")
        norm = {"mean": "divided by its mean over the recording",
                "zscore": "z-scored over the recording",
                "none": "left unnormalised"}.get(norm, norm)
        text.append(f"The signal was the high-gamma amplitude: the Hilbert envelope in sub-bands "
                    f"of at most {width:g} Hz spanning {low:g}\u2013{high:g} Hz, each {norm}, "
                    f"averaged over sub-bands.")
    else:
        lowpass = _get(pre, "broadband_lowpass", None)
        text.append("The signal was the broadband voltage" + (
            f", low-passed at {lowpass:g} Hz." if lowpass else "."))
    tmin, tmax = _get(pre, "tmin", -0.2), _get(pre, "tmax", 0.8)
    sfreq = _get(pre, "sfreq", None)
    text.append(f"Data were resampled to {sfreq:g} Hz and epoched from {_s(tmin)} to {_s(tmax)} "
                f"relative to image onset." if sfreq else
                f"Data were epoched from {_s(tmin)} to {_s(tmax)} relative to image onset.")
    mode = _get(pre, "baseline_mode", "zscore")
    if mode != "none":
        b0, b1 = _get(pre, "baseline", (-0.2, 0.0))
        how = ("z-scored against the baseline pooled over trials" if mode == "zscore"
               else "corrected by subtracting each trial's baseline mean")
        text.append(f"Each contact was {how} ({_s(b0)} to {_s(b1)}).")
    if _get(pre, "reject", True):
        metrics = _list([m.replace("_", " ") for m in _get(pre, "reject_metrics", [])])
        text.append(
            f"Outlier trials (e.g. interictal discharges) were detected per contact when their "
            f"{metrics} exceeded the median over trials by more than "
            f"{_get(pre, 'reject_threshold', 5.0):g} robust standard deviations; trials that "
            f"were outliers on more than {_get(pre, 'reject_max_fraction', 0.25):.0%} of the "
            f"contacts were dropped.")
    return " ".join(text)


def _anatomy(config) -> str:
    anat = _get(config, "anatomy")
    atlases = _get(anat, "atlases", []) or []
    rois = _get(anat, "rois", []) or []
    text = [f"Contacts were labelled in the {_list(atlases)} atlases (primary: "
            f"{_get(anat, 'primary_atlas', atlases[0] if atlases else 'n/a')}; contacts outside "
            f"grey matter took the nearest label within {_get(anat, 'max_distance', 3.0):g} mm)."]
    if _get(anat, "roi_method", "atlas") == "sphere":
        how = f"spheres of {_get(anat, 'sphere_radius', 10.0):g} mm around literature peaks"
    else:
        how = "their atlas labels"
    text.append(f"They were assigned to the regions of interest {_list(rois)} by {how}"
                + {"function": ", keeping face-selective contacts (membership by function)",
                   "both": ", keeping contacts that were also face-selective"}.get(
                       _get(anat, "membership", "anatomy"), "") + ".")
    loc = _get(anat, "localizer")
    run = _get(loc, "run", "auto")
    if run == "off":
        text.append("No face-selectivity localizer was run.")
    else:
        w0, w1 = _get(loc, "interval", (0.1, 0.4))
        test = _get(loc, "test", "welch")
        test = ("Welch's t-test" if test == "welch" else
                f"a permutation test of Welch's t ({_get(loc, 'n_permutations', 1000)} "
                f"relabellings)")
        alternative = _get(loc, "alternative", "greater")
        alternative = "faces > non-faces" if alternative == "greater" else "two-sided"
        text.append(
            f"{'Where the stimuli included non-face images, f' if run == 'auto' else 'F'}ace "
            f"selectivity was tested per contact on the amplitude averaged from {_s(w0)} to "
            f"{_s(w1)} with {test} ({alternative}), Benjamini-Hochberg FDR at "
            f"{_get(loc, 'alpha', 0.05):g} across each patient's "
            f"contacts and d\u2032 > {_get(loc, 'min_d_prime', 0.0):g}.")
    return " ".join(text)


def _networks(config) -> str:
    networks = _get(config, "models.networks", []) or []
    if not networks:
        return "No network models were used."
    parts = []
    for net in networks:
        name = _get(net, "label") or _get(net, "name")
        weights = _get(net, "weights", ["random"]) or ["random"]
        n = _get(net, "instances", 1)
        untrained = f"{n} randomly initialised (untrained) instance{'s' if n != 1 else ''}"
        named = [w for w in weights if w != "random"]
        weights = ("weights " + _list(named) if named else "") + (
            (" and " if named else "") + untrained if "random" in weights else "")
        layers = _get(net, "layers", None)
        layers = f"layers {_list(layers)}" if layers else "its default layers"
        objective = _get(net, "objective", None)
        objective = f", {objective}-trained" if objective else ""
        extractor = _get(net, "name")
        extractor = f"{extractor}{objective}; " if extractor != name else objective[2:] + (
            "; " if objective else "")
        parts.append(f"{name} ({extractor}{weights}; {layers})")
    metric = _METRICS.get(_get(config, "models.metric", "correlation"),
                          _get(config, "models.metric", "correlation"))
    crops = {_get(net, "crop", "auto") for net in networks}
    framing = ("Each network received the faces framed as it was trained to see them (dlib: "
               "the aligned 5-landmark chip of dlib.get_face_chip, 150 px, padding 0.25; fer "
               "and the 48-px networks: fer's square face box, 10 px added; VGG-Face(2): the "
               "face box extended by 0.3; object networks: the whole image), from the face "
               "boxes of the stimulus table where given, else dlib's HOG face detector with "
               "its 5-point landmarks; untrained instances received their trained network's "
               "crops." if crops == {"auto"} else
               f"Faces were cropped as configured per network ({_list(sorted(crops))}).")
    return (f"Network model RDMs were computed from the stimulus images with "
            f"{_list(parts)}, using the {metric} between the layer activations. {framing}")


def _dissimilarity(metric, patterns, rsa) -> str:
    """The dissimilarity sentence part: one metric, or one per pattern; folds, noise, why."""
    by_pattern = metric if isinstance(metric, dict) else dict.fromkeys(patterns, metric)
    names = {"roi": "ROI patterns", "contact": "single contacts"}
    used = {by_pattern.get(p, "correlation") for p in patterns}
    if len(used) == 1:
        text = f"the {_METRICS.get(next(iter(used)), next(iter(used)))} as dissimilarity"
    else:
        text = "as dissimilarity " + _list([
            f"the {_METRICS.get(by_pattern[p], by_pattern[p])} for {names.get(p, p)}"
            for p in patterns])
    if used & {"crossnobis", "cv-euclidean"}:
        text += (f" (cross-validated over the folds of the {_get(rsa, 'cv_column')} column: "
                 "the product of two conditions' difference in one fold with their "
                 "difference in the other folds pooled, averaged over folds; unbiased, so "
                 "conditions that do not differ have distances around 0, some negative)")
    noise = _get(rsa, "noise", "none")
    if used & {"crossnobis", "mahalanobis"} and noise != "none":
        noise = {"shrinkage_diag": "shrunk toward its diagonal",
                 "shrinkage_eye": "shrunk toward a scaled identity",
                 "diag": "its diagonal only",
                 "full": "the full sample covariance"}.get(noise, noise)
        text += (f", the noise precision estimated from the trial residuals ({noise}, "
                 f"{'per window' if _get(rsa, 'noise_pooling', 'time') == 'time' else 'pooled'})")
    if by_pattern == {p: DEFAULT_NEURAL_METRIC[p] for p in patterns
                      if p in DEFAULT_NEURAL_METRIC}:
        text += ("; ieegrsa's default, chosen from simulated studies (ieegrsa docs/"
                 "rdm_metrics.md): a single contact's high-gamma response codes stimuli largely "
                 "by its amplitude, which a correlation distance removes, and the "
                 "noise-whitened crossnobis best detected codes spread across an ROI's "
                 "contacts")
    return text


def _rsa(config) -> str:
    rsa = _get(config, "rsa")
    patterns = _get(rsa, "pattern", ["roi"]) or ["roi"]
    pattern_text = _list([{"roi": "the pattern of all included contacts of each ROI",
                           "contact": "the time course of each single contact"}.get(p, p)
                          for p in patterns])
    metric = _get(rsa, "metric", "correlation")
    method = _get(rsa, "method", "spearman")
    text = [
        f"Neural representational dissimilarity matrices (RDMs) were computed in sliding "
        f"windows of {_ms(_get(rsa, 'window', 0.1))} moved in steps of "
        f"{_ms(_get(rsa, 'step', 0.02))}, from {pattern_text}, over the conditions given by "
        f"the {_get(rsa, 'condition_column', 'stim_file')} column (trials averaged per "
        f"condition), with {_dissimilarity(metric, patterns, rsa)}.",
    ]
    categorical = _get(config, "models.categorical", []) or []
    if categorical:
        text.append(f"Categorical model RDMs were built from the {_list(categorical)} columns of "
                    f"the stimulus table (0 = same, 1 = different).")
    else:
        text.append("No categorical model RDM was used.")
    text.append(_networks(config))
    partial = _get(rsa, "partial", "none")
    partial_text = {
        "semi-partial": " Each network layer's RDM was controlled for the previous layer by a "
                        "semi-partial comparison (the previous layer removed from the model RDM "
                        "only).",
        "partial": " Each network layer's RDM was controlled for the previous layer by a partial "
                   "comparison (the previous layer removed from both RDMs).",
    }.get(partial, " No partial or semi-partial control was applied (partial: none).")
    text.append(f"Neural and model RDMs were compared with {_METHODS.get(method, method)} "
                f"(method: {method}).{partial_text}")
    n_perm = _get(rsa, "n_permutations", 0)
    if n_perm:
        text.append(
            f"Significance was assessed with {n_perm} permutations of the condition labels: a "
            f"p-value per window, and family-wise error control over the windows of each "
            f"pattern and model with the maximum statistic and the cluster mass "
            f"(cluster-forming level {_get(rsa, 'cluster_alpha', 0.05):g}).")
    else:
        text.append("No permutation test was run (n_permutations: 0).")
    if _get(rsa, "noise_ceiling", False):
        text.append(f"Noise ceilings were estimated per pattern and window as the split-half "
                    f"reliability of the neural RDM (odd versus even "
                    f"{_get(rsa, 'cv_column', 'repetition')} folds), Spearman-Brown corrected.")
    else:
        text.append("No noise ceiling was estimated.")
    return " ".join(text)


def _stats(config) -> str:
    stats = _get(config, "stats")
    transform = _get(stats, "transform", "fisher")
    slopes = list(_get(stats, "slopes", ["objective"]) or [])
    if slopes:
        random = (f"a random intercept and a random slope of the {_list(slopes)} per patient "
                  f"(lme4: (1 + {' + '.join(slopes)} | subject))")
    else:
        random = ("a random intercept per patient only (lme4: (1 | subject); without a random "
                  "slope, contacts count as replicates of the contrast)")
    if _get(stats, "vc", "auto") == "auto":
        random += ", random intercepts of contacts (and network instances) nested in patients"
    by = list(_get(stats, "by", []) or [])
    if set(by) == {"roi", "window_start", "window_stop"}:
        where = " per ROI and window"
    else:
        where = f" separately per {_list(by)}" if by else " in one model of all rows"
    correction = _get(stats, "correction", "fdr_bh")
    alpha = _get(stats, "alpha", 0.05)
    tests = ("Fixed effects were tested with t tests on Satterthwaite degrees of freedom (as "
             "lmerTest)")
    if _get(stats, "se_floor", "two-stage") == "two-stage":
        tests += ("; where the patient-level random effects were at the boundary (the "
                  "slope variance estimated at zero), the standard error was floored at the "
                  "two-stage (per-patient) estimate with the number of patients \u2212 1 "
                  "degrees of freedom (stats.se_floor)")
    text = [
        f"Across patients, similarities{' (Fisher z-transformed)' if transform == 'fisher' else ''}"
        f" were modelled{where} with linear mixed models (formula {_get(stats, 'formula')}) "
        f"with {random}, fitted by "
        f"{'REML' if _get(stats, 'reml', True) else 'maximum likelihood'}.",
        f"{tests}; p-values were corrected with {_CORRECTIONS.get(correction, correction)} per "
        f"term across windows and ROIs (\u03b1 = {alpha:g}).",
    ]
    compare = _get(stats, "compare", []) or []
    if compare:
        pairs = _list([f"{reduced} against {full}" for reduced, full in compare])
        text.append(f"Nested models were compared by likelihood ratio, AIC and BIC, refitted by "
                    f"maximum likelihood per window ({pairs}).")
    if _get(stats, "seed_study_bic", False):
        text.append("As in the seed study, one pooled ordinary least-squares regression was "
                    "also compared with separate per-ROI regressions by BIC (patients not "
                    "modelled).")
    contrasts = _get(stats, "contrasts", []) or []
    n_perm = _get(stats, "n_permutations", 1000)
    if contrasts:
        names = _list([" \u2212 ".join(c) if len(c) > 1 else f"{c[0]} against 0"
                       for c in contrasts])
        tail = {"two-sided": "two-sided", "greater": "one-sided (greater)",
                "less": "one-sided (less)"}[stats.alternative]
        threshold = _get(stats, "cluster_threshold", None)
        threshold = (f"a cluster-forming t of {threshold:g}" if threshold is not None
                     else "the t quantile at \u03b1 as cluster-forming threshold")
        text.append(
            f"As a check without model assumptions, the contrasts ({names}) were tested on "
            f"per-patient contrast curves with a {tail} sign-flip permutation test, the "
            f"maximum statistic over windows controlling the family-wise error (exact "
            f"enumeration of the 2^n sign flips of n patients when 2^n \u2264 {n_perm}, else "
            f"{n_perm} random flips).")
        text.append(
            f"Differences over time were tested with {tail} cluster-based sign-flip "
            f"permutation tests ({n_perm} permutations, {threshold}); onset latencies had "
            f"confidence intervals from {_get(stats, 'n_bootstrap', 0)} patient bootstraps.")
    text.append(
        f"ROIs with fewer than {_get(stats, 'min_patients', 5)} patients (stats.min_patients), "
        f"or too few for the sign-flip test to reach \u03b1, are reported with their estimates "
        f"but without p-values (\u201ctoo few patients for a group claim\u201d).")
    return " ".join(text)


def methods_text(config=None, *, versions: dict | None = None) -> str:
    """The methods paragraphs of an analysis, generated from its configuration.

    Like fMRIPrep's boilerplate, the text states the values actually used (reference, filters,
    epochs, atlases and ROIs, localizer, windows, dissimilarity, comparison method, permutations,
    noise ceiling, models, group statistics, seed and software versions), so that it can be
    pasted into a paper and edited.

    Parameters
    ----------
    config : ieegrsa.config.Config | Mapping | str | path-like | None
        Anything :func:`ieegrsa.config.load_config` accepts (``None``: the defaults).
    versions : dict | None
        Software versions (package -> version), e.g. a sidecar's ``SoftwareVersions``; the
        installed ieegrsa version is used where ieegrsa is missing.

    Returns
    -------
    text : str
        Paragraphs separated by blank lines.

    Examples
    --------
    >>> from ieegrsa.report import methods_text
    >>> "Kendall" in methods_text({"rsa": {"method": "kendall-tau-b"}})
    True
    """
    from .. import __version__
    from ..config import load_config

    config = load_config(config)
    versions = dict(versions or {})
    version = versions.get("ieegrsa") or __version__
    tools = [f"ieegrsa {version}"]
    for package, label in (("python", "Python"), ("mne", "MNE-Python"),
                           ("mne-bids", "MNE-BIDS"), ("nilearn", "nilearn"),
                           ("statsmodels", "statsmodels"), ("torch", "PyTorch")):
        if versions.get(package) and versions[package] != "not installed":
            tools.append(f"{label} {versions[package]}")
    intro = (f"Data were analysed with {_list(tools)}. All randomness (permutations, bootstraps, "
             f"network initialisation) was seeded with random seed "
             f"{_get(config, 'random_seed', 0)}.")
    paragraphs = [intro, _preprocessing(config), _anatomy(config), _rsa(config), _stats(config)]
    return "\n\n".join(p for p in paragraphs if p)
