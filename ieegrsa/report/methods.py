"""A methods paragraph generated from the configuration (a boilerplate, as fMRIPrep writes).

Each paragraph reads the sections of the validated :class:`~ieegrsa.config.Config`, so the
defaults stated are the schema's own, with no second copy here.
"""

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


def _preprocessing(pre) -> str:
    """The preprocessing sentences, from the ``preprocessing`` section."""
    types = _list([t.upper() if t == "seeg" else "ECoG" if t == "ecog" else t
                   for t in pre.channel_types])
    text = [f"Contacts of type {types.replace('SEEG', 'sEEG')} were analysed."]
    dropped = []
    if pre.drop_bad:
        dropped.append("contacts marked bad in channels.tsv")
    if pre.exclude_status:
        dropped.append("contacts whose status description mentioned "
                       + _list([f"\u201c{s}\u201d" for s in pre.exclude_status], "or"))
    if pre.exclude_channels:
        dropped.append(f"{len(pre.exclude_channels)} contact(s) named in the configuration")
    if dropped:
        text.append(f"We excluded {_list(dropped)}.")
    within = f" (neighbours at most {pre.neighbour_max_distance:g} mm apart)"
    text.append({
        "bipolar": f"Signals were re-referenced to a bipolar montage: each contact minus its next "
                   f"neighbour on the same shaft or strip{within}, placed at their midpoint.",
        "laplacian": f"Signals were re-referenced to a local Laplacian: each contact minus the "
                     f"mean of its two neighbours on the shaft or strip{within}.",
        "car": f"Signals were re-referenced to the common average of "
               f"{'each shaft or strip' if pre.car_scope == 'group' else 'all contacts'}.",
        "none": "Signals were analysed with their recorded reference.",
    }[pre.reference])
    if pre.notch:
        line = (f"{pre.line_freq:g} Hz" if pre.line_freq
                else "the power-line frequency of the recording's sidecar")
        text.append(f"Line noise was removed with notch filters at {line} and its harmonics.")
    if pre.signal == "high_gamma":
        low, high = pre.high_gamma_band
        norm = {"mean": "divided by its mean over the recording",
                "zscore": "z-scored over the recording",
                "none": "left unnormalised"}[pre.high_gamma_normalization]
        text.append(f"The signal was the high-gamma amplitude: the Hilbert envelope in sub-bands "
                    f"of at most {pre.high_gamma_band_width:g} Hz spanning "
                    f"{low:g}\u2013{high:g} Hz, each {norm}, averaged over sub-bands.")
    else:
        lowpass = pre.broadband_lowpass
        text.append("The signal was the broadband voltage" + (
            f", low-passed at {lowpass:g} Hz." if lowpass else "."))
    text.append(f"Data were resampled to {pre.sfreq:g} Hz and epoched from {_s(pre.tmin)} to "
                f"{_s(pre.tmax)} relative to image onset.")
    if pre.baseline_mode != "none":
        b0, b1 = pre.baseline
        how = ("z-scored against the baseline pooled over trials" if pre.baseline_mode == "zscore"
               else "corrected by subtracting each trial's baseline mean")
        text.append(f"Each contact was {how} ({_s(b0)} to {_s(b1)}).")
    if pre.reject:
        metrics = _list([m.replace("_", " ") for m in pre.reject_metrics])
        text.append(
            f"Outlier trials (e.g. interictal discharges) were detected per contact when their "
            f"{metrics} exceeded the median over trials by more than "
            f"{pre.reject_threshold:g} robust standard deviations; trials that "
            f"were outliers on more than {pre.reject_max_fraction:.0%} of the "
            f"contacts were dropped.")
    return " ".join(text)


def _anatomy(anat) -> str:
    """The anatomy and localizer sentences, from the ``anatomy`` section."""
    text = [f"Contacts were labelled in the {_list(anat.atlases)} atlases (primary: "
            f"{anat.primary_atlas}; contacts outside grey matter took the nearest label within "
            f"{anat.max_distance:g} mm)."]
    source = {"dataset": "Contacts were placed by the dataset's own anatomical labels "
              "(electrodes.tsv label columns).",
              "auto": "Contacts with an anatomical label in the dataset (electrodes.tsv label "
              "columns) were placed by it; the others by their MNI coordinates."}.get(
        anat.label_source)
    if source:
        text.append(source)
    warp = anat.warp
    if warp.method != "off" and anat.label_source != "dataset":
        steps = ("an affine (mutual information, MNE-Python) then a symmetric diffeomorphic "
                 "(cross-correlation, dipy) registration" if warp.nonlinear
                 else "an affine registration (mutual information, MNE-Python)")
        text.append(
            "Coordinates given in a patient's own space were brought to MNI "
            + {"transform": "by the lab's own transform.",
               "register": f"by {steps} of the patient's T1w to the MNI152 template "
               "(ICBM 2009a, nilearn).",
               "auto": "by the lab's own transform where given, else by "
               f"{steps} of the patient's T1w to the MNI152 template (ICBM 2009a, "
               "nilearn)."}[warp.method])
    if anat.roi_method == "sphere":
        how = f"spheres of {anat.sphere_radius:g} mm around literature peaks"
    else:
        how = "their atlas labels"
    text.append(f"They were assigned to the regions of interest {_list(anat.rois)} by {how}"
                + {"function": ", keeping face-selective contacts (membership by function)",
                   "both": ", keeping contacts that were also face-selective"}.get(
                       anat.membership, "") + ".")
    loc = anat.localizer
    if loc.run == "off":
        text.append("No face-selectivity localizer was run.")
    else:
        w0, w1 = loc.interval
        test = ("Welch's t-test" if loc.test == "welch" else
                f"a permutation test of Welch's t ({loc.n_permutations} relabellings)")
        alternative = "faces > non-faces" if loc.alternative == "greater" else "two-sided"
        text.append(
            f"{'Where the stimuli included non-face images, f' if loc.run == 'auto' else 'F'}ace "
            f"selectivity was tested per contact on the amplitude averaged from {_s(w0)} to "
            f"{_s(w1)} with {test} ({alternative}), Benjamini-Hochberg FDR at "
            f"{loc.alpha:g} across each patient's "
            f"contacts and d\u2032 > {loc.min_d_prime:g}.")
    return " ".join(text)


def _networks(models) -> str:
    """The network-model sentences, from the ``models`` section."""
    if not models.networks:
        return "No network models were used."
    parts = []
    for net in models.networks:
        name = net.label or net.name
        weights = net.weights or ["random"]
        n = net.instances
        untrained = f"{n} randomly initialised (untrained) instance{'s' if n != 1 else ''}"
        named = [w for w in weights if w != "random"]
        weights = ("weights " + _list(named) if named else "") + (
            (" and " if named else "") + untrained if "random" in weights else "")
        layers = f"layers {_list(net.layers)}" if net.layers else "its default layers"
        objective = f", {net.objective}-trained" if net.objective else ""
        extractor = f"{net.name}{objective}; " if net.name != name else objective[2:] + (
            "; " if objective else "")
        parts.append(f"{name} ({extractor}{weights}; {layers})")
    crops = {net.crop for net in models.networks}
    framing = ("Each network received the faces framed as it was trained to see them (dlib: "
               "the aligned 5-landmark chip of dlib.get_face_chip, 150 px, padding 0.25; fer "
               "and the 48-px networks: fer's square face box, 10 px added; VGG-Face(2): the "
               "face box extended by 0.3; object networks: the whole image), from the face "
               "boxes of the stimulus table where given, else dlib's HOG face detector with "
               "its 5-point landmarks; untrained instances received their trained network's "
               "crops." if crops == {"auto"} else
               f"Faces were cropped as configured per network ({_list(sorted(crops))}).")
    return (f"Network model RDMs were computed from the stimulus images with "
            f"{_list(parts)}, using the {_METRICS[models.metric]} between the layer activations. "
            f"{framing}")


def _dissimilarity(rsa) -> str:
    """The dissimilarity sentence part: one metric, or one per pattern; folds, noise, why."""
    patterns = rsa.pattern
    metric = rsa.metric
    by_pattern = metric if isinstance(metric, dict) else dict.fromkeys(patterns, metric)
    names = {"roi": "ROI patterns", "contact": "single contacts"}
    used = {by_pattern[p] for p in patterns}
    if len(used) == 1:
        text = f"the {_METRICS[next(iter(used))]} as dissimilarity"
    else:
        text = "as dissimilarity " + _list([f"the {_METRICS[by_pattern[p]]} for {names[p]}"
                                            for p in patterns])
    if used & {"crossnobis", "cv-euclidean"}:
        text += (f" (cross-validated over the folds of the {rsa.cv_column} column: "
                 "the product of two conditions' difference in one fold with their "
                 "difference in the other folds pooled, averaged over folds; unbiased, so "
                 "conditions that do not differ have distances around 0, some negative)")
    if used & {"crossnobis", "mahalanobis"} and rsa.noise != "none":
        noise = {"shrinkage_diag": "shrunk toward its diagonal",
                 "shrinkage_eye": "shrunk toward a scaled identity",
                 "diag": "its diagonal only",
                 "full": "the full sample covariance"}[rsa.noise]
        text += (f", the noise precision estimated from the trial residuals ({noise}, "
                 f"{'per window' if rsa.noise_pooling == 'time' else 'pooled'})")
    if by_pattern == {p: DEFAULT_NEURAL_METRIC[p] for p in patterns}:
        text += ("; ieegrsa's default, chosen from simulated studies (ieegrsa docs/"
                 "rdm_metrics.md): a single contact's high-gamma response codes stimuli largely "
                 "by its amplitude, which a correlation distance removes, and the "
                 "noise-whitened crossnobis best detected codes spread across an ROI's "
                 "contacts")
    return text


def _rsa(config) -> str:
    """The RSA paragraph, from the ``rsa`` and ``models`` sections of a whole Config."""
    rsa = config.rsa
    pattern_text = _list([{"roi": "the pattern of all included contacts of each ROI",
                           "contact": "the time course of each single contact"}[p]
                          for p in rsa.pattern])
    text = [
        f"Neural representational dissimilarity matrices (RDMs) were computed in sliding "
        f"windows of {_ms(rsa.window)} moved in steps of {_ms(rsa.step)}, from {pattern_text}, "
        f"over the conditions given by the {rsa.condition_column} column (trials averaged per "
        f"condition), with {_dissimilarity(rsa)}.",
    ]
    categorical = config.models.categorical
    if categorical:
        text.append(f"Categorical model RDMs were built from the {_list(categorical)} columns of "
                    f"the stimulus table (0 = same, 1 = different).")
    else:
        text.append("No categorical model RDM was used.")
    text.append(_networks(config.models))
    partial_text = {
        "semi-partial": " Each network layer's RDM was controlled for the previous layer by a "
                        "semi-partial comparison (the previous layer removed from the model RDM "
                        "only).",
        "partial": " Each network layer's RDM was controlled for the previous layer by a partial "
                   "comparison (the previous layer removed from both RDMs).",
        "none": " No partial or semi-partial control was applied (partial: none).",
    }[rsa.partial]
    text.append(f"Neural and model RDMs were compared with {_METHODS[rsa.method]} "
                f"(method: {rsa.method}).{partial_text}")
    if rsa.n_permutations:
        text.append(
            f"Significance was assessed with {rsa.n_permutations} permutations of the condition "
            f"labels: a p-value per window, and family-wise error control over the windows of "
            f"each pattern and model with the maximum statistic and the cluster mass "
            f"(cluster-forming level {rsa.cluster_alpha:g}).")
    else:
        text.append("No permutation test was run (n_permutations: 0).")
    if rsa.noise_ceiling:
        text.append(f"Noise ceilings were estimated per pattern and window as the split-half "
                    f"reliability of the neural RDM (odd versus even "
                    f"{rsa.cv_column} folds), Spearman-Brown corrected.")
    else:
        text.append("No noise ceiling was estimated.")
    return " ".join(text)


def _stats(stats) -> str:
    """The group-statistics paragraph, from the ``stats`` section."""
    slopes = stats.slopes
    if slopes:
        random = (f"a random intercept and a random slope of the {_list(slopes)} per patient "
                  f"(lme4: (1 + {' + '.join(slopes)} | subject))")
    else:
        random = ("a random intercept per patient only (lme4: (1 | subject); without a random "
                  "slope, contacts count as replicates of the contrast)")
    if stats.vc == "auto":
        random += ", random intercepts of contacts (and network instances) nested in patients"
    by = stats.by
    if set(by) == {"roi", "window_start", "window_stop"}:
        where = " per ROI and window"
    else:
        where = f" separately per {_list(by)}" if by else " in one model of all rows"
    tests = ("Fixed effects were tested with t tests on Satterthwaite degrees of freedom (as "
             "lmerTest)")
    if stats.se_floor == "two-stage":
        tests += ("; where the patient-level random effects were at the boundary (the "
                  "slope variance estimated at zero), the standard error was floored at the "
                  "two-stage (per-patient) estimate with the number of patients \u2212 1 "
                  "degrees of freedom (stats.se_floor)")
    text = [
        f"Across patients, similarities"
        f"{' (Fisher z-transformed)' if stats.transform == 'fisher' else ''}"
        f" were modelled{where} with linear mixed models (formula {stats.formula}) "
        f"with {random}, fitted by {'REML' if stats.reml else 'maximum likelihood'}.",
        f"{tests}; p-values were corrected with {_CORRECTIONS[stats.correction]} per "
        f"term across windows and ROIs (\u03b1 = {stats.alpha:g}).",
    ]
    if stats.compare:
        pairs = _list([f"{reduced} against {full}" for reduced, full in stats.compare])
        text.append(f"Nested models were compared by likelihood ratio, AIC and BIC, refitted by "
                    f"maximum likelihood per window ({pairs}).")
    if stats.seed_study_bic:
        text.append("As in the seed study, one pooled ordinary least-squares regression was "
                    "also compared with separate per-ROI regressions by BIC (patients not "
                    "modelled).")
    n_perm = stats.n_permutations
    if stats.contrasts:
        names = _list([" \u2212 ".join(c) if len(c) > 1 else f"{c[0]} against 0"
                       for c in stats.contrasts])
        tail = {"two-sided": "two-sided", "greater": "one-sided (greater)",
                "less": "one-sided (less)"}[stats.alternative]
        threshold = stats.cluster_threshold
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
            f"confidence intervals from {stats.n_bootstrap} patient bootstraps.")
    text.append(
        f"ROIs with fewer than {stats.min_patients} patients (stats.min_patients), "
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
             f"{config.random_seed}.")
    paragraphs = [intro, _preprocessing(config.preprocessing), _anatomy(config.anatomy),
                  _rsa(config), _stats(config.stats)]
    return "\n\n".join(p for p in paragraphs if p)
