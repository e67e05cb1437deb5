"""Fake but realistic ieegrsa derivatives, written with the project's own writers.

:func:`write_fake_derivatives` writes, for each participant, every file of the derivatives
contract (contact table, preprocessing report, glass brain, neural and model RDMs, similarity and
noise-ceiling tables) and the group tables, with small random data, NaNs, an excluded contact, a
ROI without contacts (sub-02 has no ventral contact) and a contact named ``<b>x</b>`` (to test
HTML escaping). The group tables have the exact columns of the group level and fabricated,
deterministic numbers (see :func:`write_group`). Used by the report tests, and handy to look at a
report without running the pipeline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

NA = np.nan
TASK = "faces"

#: The configuration recorded in the fake sidecars.
CONFIG = {
    "random_seed": 7,
    "models": {
        "networks": [
            {"name": "resnet18", "label": "idnet", "objective": "identity",
             "layers": ["layer1", "layer2", "layer3", "layer4"]},
            {"name": "resnet18", "label": "exprnet", "objective": "expression",
             "layers": ["layer2", "layer4"]},
        ],
    },
    "rsa": {"window": 0.1, "step": 0.05, "method": "kendall-tau-b", "n_permutations": 200},
    "stats": {"n_permutations": 500},
}

STIMULI = pd.DataFrame({
    "stim_file": [f"faces/id{i}_{e}.png" for i in range(1, 5) for e in ("happy", "fear")],
    "identity": [f"id{i}" for i in range(1, 5) for _ in range(2)],
    "expression": ["happy", "fear"] * 4,
})
WINDOW_STARTS = np.round(np.arange(-0.2, 0.71, 0.05), 3)

# name, x, y, z, type, group, roi, included, reason, status_description
_CONTACTS = {
    "01": [
        ("LVT1-LVT2", -40.0, -55.0, -20.0, "seeg", "LVT", "ventral", True, None, None),
        ("LVT2-LVT3", -36.0, -56.0, -19.0, "seeg", "LVT", "ventral", True, None, None),
        ("<b>x</b>", -44.0, -52.0, -21.0, "seeg", "LVT", "ventral", True, None, None),
        ("LPS4-LPS5", -50.0, -48.0, 12.0, "seeg", "LPS", "lateral", True, None, None),
        ("LPS5-LPS6", -53.0, -47.0, 13.0, "seeg", "LPS", "lateral", True, None, None),
        ("LA1-LA2", -25.0, -5.0, -20.0, "seeg", "LA", None, False, "outside every ROI", None),
        ("LH1-LH2", -30.0, -20.0, -15.0, "seeg", "LH", None, False,
         "seizure onset zone (channels.tsv: SOZ)", "SOZ"),
    ],
    "02": [
        ("RPS1-RPS2", 50.0, -45.0, 10.0, "ecog", "RPS", "lateral", True, None, None),
        ("RPS2-RPS3", 54.0, -44.0, 11.0, "ecog", "RPS", "lateral", True, None, None),
        ("RPS3-RPS4", 57.0, -43.0, 12.0, "ecog", "RPS", "lateral", False,
         "bad channel (channels.tsv: noisy)", "noisy"),
        ("RO1-RO2", 30.0, -90.0, 0.0, "ecog", "RO", None, False, "outside every ROI", None),
    ],
}


def config_yaml():
    from ieegrsa.config import config_to_yaml

    return config_to_yaml(CONFIG)


def provenance(sources=()):
    from ieegrsa.bids.derivatives import provenance_record
    from ieegrsa.config import load_config

    return provenance_record(load_config(CONFIG), sources)


def _contacts(subject, rng):
    rows = []
    for name, x, y, z, kind, group, roi, included, reason, status in _CONTACTS[subject]:
        t = rng.normal(3, 2)
        rows.append({
            "name": name, "x": x, "y": y, "z": z, "space": "MNI152NLin2009cAsym", "type": kind,
            "status": "bad" if status == "noisy" else "good", "status_description": status,
            "group": group, "hemisphere": "L" if x < 0 else "R",
            "atlas_label": "Fusiform_Face_Complex_L" if roi == "ventral" else "Area_STSdp_L",
            "atlas_distance": 0.0, "roi": roi, "rois": roi, "roi_distance": 0.0 if roi else NA,
            "n_face": 36, "n_nonface": 12, "mean_face": rng.normal(2, 1),
            "mean_nonface": rng.normal(0.5, 0.3), "t": t, "p": float(np.exp(-abs(t))),
            "p_fdr": min(1.0, float(np.exp(-abs(t))) * 2), "d_prime": t / 3,
            "face_selective": bool(t > 2.5), "included": included, "exclusion_reason": reason,
        })
    table = pd.DataFrame(rows)
    table.loc[table.index[-1], ["t", "p", "p_fdr", "d_prime"]] = NA  # localizer n/a
    return table


def _preprocessing(contacts):
    rows = []
    for _, row in contacts.iterrows():
        for name in str(row["name"]).split("-"):
            bad = row["status_description"] in ("SOZ", "noisy")
            rows.append({"name": name, "kind": "contact", "type": row["type"],
                         "group": row["group"], "included": not bad,
                         "reason": f"status_description: {row['status_description']}"
                         if bad else NA,
                         "channels": row["name"], "n_epochs": 48, "n_outliers": NA, "n_nan": NA})
    return pd.DataFrame(rows).drop_duplicates("name")


def _glassbrain(path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ieegrsa.bids import atomic_path

    fig = Figure(figsize=(6, 2.4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.add_patch(__import__("matplotlib.patches", fromlist=["Ellipse"]).Ellipse(
        (0, 0), 140, 170, fill=False))
    ax.scatter([-40, 50], [-50, -45], c=["#d62728", "#1f77b4"])
    ax.set_xlim(-80, 80)
    ax.set_ylim(-100, 80)
    ax.set_title("fake glass brain")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=60)


def _model_rdms():
    from ieegrsa.models import categorical_rdms
    from ieegrsa.rsa import RDMs, concat

    categorical = categorical_rdms(STIMULI, columns=("identity", "expression"))
    rng = np.random.default_rng(1)
    n_pairs = len(STIMULI) * (len(STIMULI) - 1) // 2
    parts = [categorical]
    for net in CONFIG["models"]["networks"]:
        for instance in (0, 1):
            layers = net["layers"]
            base = categorical.values[0 if net["objective"] == "identity" else 1]
            values = base + rng.normal(0, 0.4, (len(layers), n_pairs))
            parts.append(RDMs(values, list(STIMULI["stim_file"]), pd.DataFrame({
                "model": net["label"], "objective": net["objective"], "instance": instance,
                "layer": layers, "n_units": 64}), metric="correlation"))
    return concat(parts)


def _neural_rdms(subject, contacts, rng):
    from ieegrsa.rsa import RDMs

    included = contacts[contacts["included"]]
    rows, values = [], []
    n_pairs = len(STIMULI) * (len(STIMULI) - 1) // 2
    for roi, members in included.groupby("roi"):
        patterns = [("roi", NA, len(members))] + [("contact", c, 1) for c in members["name"]]
        for pattern, contact, n in patterns:
            for start in WINDOW_STARTS:
                rows.append({"subject": subject, "roi": roi, "contact": contact,
                             "pattern": pattern, "window_start": start,
                             "window_stop": round(start + 0.1, 3), "n_contacts": n,
                             "n_features": 20 * n})
                values.append(rng.random(n_pairs))
    values = np.array(values)
    values[3, 2] = NA  # a pair that could not be computed
    return RDMs(values, list(STIMULI["stim_file"]), pd.DataFrame(rows), metric="correlation")


def _similarity(subject, neural, models, rng):
    rows = []
    for _, n in neural.descriptors.iterrows():
        centre = n["window_start"] + 0.05
        effect = 0.25 * np.exp(-((centre - 0.2) / 0.1) ** 2)
        for _, m in models.descriptors.iterrows():
            objective = m["objective"]
            identity_like = m["model"] in ("identity", "idnet")
            value = rng.normal(effect * (1.0 if identity_like else 0.3), 0.05)
            p = float(np.clip(np.exp(-value * 20), 1e-3, 1))
            rows.append({
                "subject": subject, "session": NA, "roi": n["roi"], "contact": n["contact"],
                "pattern": n["pattern"], "window_start": n["window_start"],
                "window_stop": n["window_stop"], "model": m["model"], "objective": objective,
                "family": "categorical" if objective == "categorical" else "network",
                "instance": m["instance"], "layer": m["layer"], "method": "kendall-tau-b",
                "partial": "none" if objective == "categorical" else "semi-partial",
                "value": value, "p_value": p, "p_fwe": min(1.0, p * 5),
                "noise_ceiling": 0.3 + rng.normal(0, 0.02), "n_contacts": n["n_contacts"],
            })
    table = pd.DataFrame(rows)
    table.loc[table.index[::17], "value"] = NA  # values that could not be computed
    table.loc[table.index[::23], "noise_ceiling"] = NA
    return table


def _noise_ceiling(neural, rng):
    desc = neural.descriptors
    r_half = rng.uniform(0.1, 0.3, len(desc))
    table = desc[["roi", "contact", "pattern", "window_start", "window_stop"]].assign(
        r_half=r_half, r_full=2 * r_half / (1 + r_half), method="split-half")
    table.loc[table.index[::11], ["r_half", "r_full"]] = NA
    return table


def write_participant(root, subject, *, task=TASK, seed=0, session=None,
                      complete=True) -> dict:
    """Write one participant's derivative files; return their paths by kind.

    With ``complete`` (as the participant level does), the provenance file that marks the
    participant complete is written last; without it, the outputs look interrupted.
    """
    from ieegrsa.bids import write_json, write_tsv
    from ieegrsa.bids.derivatives import participant_paths

    rng = np.random.default_rng(seed + int(subject))
    files = participant_paths(root, subject, task, session, space="MNI152NLin2009cAsym")
    record = provenance([f"bids/sub-{subject}/ieeg/sub-{subject}_task-{task}_ieeg.edf"])
    extra = {k: record[k] for k in ("Config", "SoftwareVersions", "Sources")}

    def describe(table):
        return {c: c.replace("_", " ") for c in table.columns}

    paths = {}
    contacts = _contacts(subject, rng)
    paths["contacts"] = write_tsv(contacts, files["contacts"], describe(contacts), extra)
    report = _preprocessing(contacts)
    paths["preprocessing"] = write_tsv(report, files["preprocessing"], describe(report), extra)
    paths["glassbrain"] = files["figure"]
    _glassbrain(paths["glassbrain"])
    neural = _neural_rdms(subject, contacts, rng)
    paths["neural_rdms"] = neural.save(files["neural_rdms"])
    models = _model_rdms()
    paths["model_rdms"] = models.save(files["model_rdms"])
    similarity = _similarity(subject, neural, models, rng)
    if session:
        similarity["session"] = session
    paths["similarity"] = write_tsv(similarity, files["similarity"], describe(similarity),
                                    extra)
    noise = _noise_ceiling(neural, rng)
    paths["noiseceiling"] = write_tsv(noise, files["ceiling"], describe(noise), extra)
    if complete:
        kinds = {"glassbrain": "figure", "noiseceiling": "ceiling"}
        write_json({**record, "Files": {kinds.get(k, k): str(Path(v).relative_to(root))
                                        for k, v in paths.items()}}, files["provenance"])
    return paths


def _patients(similarities):
    table = pd.concat(similarities, ignore_index=True)
    table = table[np.isfinite(table["value"])].copy()
    table["objective"] = np.where(table["family"] == "categorical", table["model"],
                                  table["objective"])
    table["z"] = np.arctanh(np.clip(table["value"], -0.999, 0.999))
    keys = ["family", "subject", "roi", "objective", "window_start", "window_stop"]
    out = table.groupby(keys).agg(mean=("z", "mean"), sd=("z", "std"),
                                  n_rows=("z", "size"),
                                  n_contacts=("contact", "nunique")).reset_index()
    out.insert(out.columns.get_loc("mean") + 1, "mean_r", np.tanh(out["mean"]))
    return out


#: The fabricated group study of the group tables: patients and contacts per ROI. Lateral has
#: enough patients for a group claim; ventral has too few (stats.min_patients is 5).
GROUP_COUNTS = {"lateral": (6, 14), "ventral": (3, 5)}
MIN_PATIENTS = 5
TERM = "C(objective)[T.identity]"


def _bump(centre, peak, width=0.08):
    return peak * np.exp(-(((centre - 0.2) / width) ** 2))


def _mixed_rows(family, roi, starts):
    """Rows of one family × ROI: the intercept and the identity − expression term per window.

    Numbers follow the new mixed-model semantics: the two-stage floor (se_two_stage > se_lmm)
    sets se and df = patients - 1 in lateral, a t test with its CI; ventral has too few
    patients, so estimates but no p-values.
    """
    from scipy import stats

    n_subjects, n_contacts = GROUP_COUNTS[roi]
    n_obs = n_contacts * (2 if family == "categorical" else 12)
    rows = []
    for start in starts:
        centre = start + 0.05
        for term in ("Intercept", TERM):
            if term == "Intercept":
                estimate, se_lmm, se2 = 0.02 + _bump(centre, 0.02), 0.008, 0.006
            elif family == "categorical":
                estimate, se_lmm, se2 = 0.005 + _bump(centre, 0.06), 0.007, 0.008
            else:
                estimate, se_lmm, se2 = 0.003 + _bump(centre, 0.012, 0.12), 0.010, 0.012
            df_lmm = 30.0 + 10 * centre
            floor = se2 > se_lmm
            se, df = (se2, n_subjects - 1.0) if floor else (se_lmm, df_lmm)
            t = estimate / se
            half = stats.t.ppf(0.975, df) * se
            too_few = n_subjects < MIN_PATIENTS
            rows.append({
                "family": family, "roi": roi, "window_start": start,
                "window_stop": round(start + 0.1, 3), "term": term, "estimate": estimate,
                "se": se, "df": df, "t": t, "ci_low": estimate - half, "ci_high": estimate + half,
                "p_value": NA if too_few else float(2 * stats.t.sf(abs(t), df)),
                "p_corrected": NA, "se_lmm": se_lmm, "df_lmm": df_lmm, "se_two_stage": se2,
                "inference": "two-stage floor" if floor else "mixed model",
                "singular": False, "patient_singular": False, "converged": True,
                "gradient_norm": 1e-6,
                "note": f"too few patients for a group claim ({n_subjects} < {MIN_PATIENTS})"
                if too_few else "",
                "n_subjects": n_subjects, "n_contacts": n_contacts, "n_obs": n_obs,
                "random": f"(1 + {TERM} | subject) + (1 | subject:contact)"
                + (" + (1 | subject:instance)" if family == "network" else ""),
            })
    return rows


def fake_mixedlm(starts=WINDOW_STARTS) -> pd.DataFrame:
    """The fake mixed-model table: lateral categorical significant around 100-300 ms, lateral
    network not significant after FDR, ventral too few patients; the early lateral fits are
    singular, one network fit did not converge and one could not be estimated."""
    from statsmodels.stats.multitest import multipletests

    rows = [r for family in ("categorical", "network") for roi in ("ventral", "lateral")
            for r in _mixed_rows(family, roi, starts)]
    mixed = pd.DataFrame(rows)
    lateral = mixed["roi"] == "lateral"
    early = lateral & (mixed["window_start"] < 0.0)
    mixed.loc[early, ["singular", "patient_singular"]] = True
    mixed.loc[early, "note"] = f"singular: subject:{TERM} sd 0"
    last = lateral & (mixed["family"] == "network")
    late = last & np.isclose(mixed["window_start"], starts[-2])
    mixed.loc[late, ["converged", "gradient_norm"]] = [False, 0.004]
    failed = last & np.isclose(mixed["window_start"], starts[-1])
    mixed.loc[failed, ["estimate", "se", "df", "t", "ci_low", "ci_high", "p_value", "se_lmm",
                       "df_lmm", "gradient_norm"]] = NA
    mixed.loc[failed, ["inference", "converged", "note", "random"]] = [
        "none", False, "not estimable: the fit failed: matrix <X> is singular", "n/a"]
    for _, index in mixed.groupby(["family", "term"]).indices.items():
        p = mixed["p_value"].to_numpy(float)[index]
        ok = np.isfinite(p)
        corrected = np.full(p.shape, np.nan)
        corrected[ok] = multipletests(p[ok], method="fdr_bh")[1]
        mixed.loc[mixed.index[index], "p_corrected"] = corrected
    return mixed


def fake_signflip(starts=WINDOW_STARTS) -> pd.DataFrame:
    """Sign-flip checks: 6 lateral patients (exact, 64 flips), 3 ventral (too few)."""
    rows = []
    for family, peak in (("categorical", 0.06), ("network", 0.012)):
        for roi in ("ventral", "lateral"):
            n = GROUP_COUNTS[roi][0]
            few = n < MIN_PATIENTS
            for start in starts:
                mean = 0.004 + _bump(start + 0.05, peak)
                t = mean / 0.012
                step = 2 / 2**n  # exact two-sided sign-flip p-values are multiples of it

                def grid(x, step=step):
                    return float(np.clip(step * np.ceil(x / step), step, 1.0))

                p, p_fwe = grid(np.exp(-abs(t))), grid(6 * np.exp(-abs(t)))
                rows.append({"family": family, "roi": roi, "contrast": "identity-expression",
                             "window_start": start, "window_stop": round(start + 0.1, 3),
                             "mean": mean, "t": t, "p_value": NA if few else p,
                             "p_corrected": NA if few else p_fwe, "min_p": step,
                             "n_subjects": n, "n_permutations": 2**n, "exact": True,
                             "note": f"too few patients for a group claim ({n} < {MIN_PATIENTS})"
                             if few else ""})
    return pd.DataFrame(rows)


def write_group(root, similarities, *, task=TASK, seed=0, with_comparison=True) -> dict:
    """Write the group tables from fabricated, deterministic group statistics.

    The tables have exactly the columns the group level writes
    (:data:`ieegrsa.stats.tables.COLUMNS`, checked by
    :func:`ieegrsa.stats.tables.write_stats_table`). Their numbers describe a fabricated study
    (:data:`GROUP_COUNTS`) rather than the two fake participants; only the patient summary is
    computed from the participants' similarity tables.
    """
    from ieegrsa.bids.derivatives import provenance_record
    from ieegrsa.config import load_config
    from ieegrsa.pipeline import group_paths
    from ieegrsa.stats.tables import write_stats_table

    config = load_config(CONFIG)
    files = group_paths(root, task)
    paths = {}

    def write(table, kind):
        record = provenance_record(config)
        paths[kind] = write_stats_table(table, files[kind], kind, extra={
            k: record[k] for k in ("Config", "SoftwareVersions")})

    write(_patients(similarities), "patients")
    write(fake_mixedlm(), "mixedlm")
    write(fake_signflip(), "signflip")
    few = f"too few patients for a group claim (3 < {MIN_PATIENTS})"
    clusters = pd.DataFrame([
        {"family": "categorical", "roi": "lateral", "contrast": "identity-expression",
         "start": 0.1, "stop": 0.35, "statistic": 25.3, "p_value": 0.03125, "n_windows": 4,
         "n_subjects": 6, "note": "", "min_p": 0.03125},
        {"family": "network", "roi": "lateral", "contrast": "identity-expression",
         "start": 0.45, "stop": 0.55, "statistic": 3.1, "p_value": 0.4, "n_windows": 2,
         "n_subjects": 6, "note": "", "min_p": 0.03125},
        *[{"family": family, "roi": "ventral", "contrast": "identity-expression", "start": NA,
           "stop": NA, "statistic": NA, "p_value": NA, "n_windows": 0, "n_subjects": 3,
           "note": few, "min_p": 0.25} for family in ("categorical", "network")],
    ])
    write(clusters, "clusters")
    onsets = pd.DataFrame([
        {"family": "categorical", "roi": "lateral", "contrast": "identity-expression",
         "onset": 0.1, "ci_low": 0.05, "ci_high": 0.15, "detected": 0.8, "n_bootstrap": 200,
         "n_subjects": 6, "note": ""},
        {"family": "network", "roi": "lateral", "contrast": "identity-expression",
         "onset": NA, "ci_low": NA, "ci_high": NA, "detected": 0.1, "n_bootstrap": 200,
         "n_subjects": 6, "note": ""},
        *[{"family": family, "roi": "ventral", "contrast": "identity-expression", "onset": NA,
           "ci_low": NA, "ci_high": NA, "detected": NA, "n_bootstrap": 0, "n_subjects": 3,
           "note": few} for family in ("categorical", "network")],
    ])
    write(onsets, "onsets")
    if with_comparison:
        write(fake_comparison(), "comparison")
    return paths


def fake_comparison(starts=WINDOW_STARTS) -> pd.DataFrame:
    """Likelihood-ratio tests per window (the classical view) and the seed study's BIC rows."""
    from scipy import stats

    rows = []
    for family in ("categorical", "network"):
        for start in starts:
            lr = 0.5 + _bump(start + 0.05, 9.0 if family == "categorical" else 1.5)
            llf, n_obs = 120.0 + 10 * start, 380
            window = {"family": family, "window_start": start,
                      "window_stop": round(start + 0.1, 3)}
            for model, formula, gain, k in (
                    ("reduced", "value ~ C(objective) + C(roi)", 0.0, 8),
                    ("full", "value ~ C(objective) * C(roi)", lr / 2, 9)):
                rows.append({**window, "model": model, "formula": formula, "llf": llf + gain,
                             "df": k, "aic": -2 * (llf + gain) + 2 * k,
                             "bic": -2 * (llf + gain) + k * np.log(n_obs), "n_obs": n_obs,
                             "singular": bool(start < 0.0), "converged": True,
                             "lr_stat": lr if model == "full" else NA,
                             "df_diff": 1 if model == "full" else NA,
                             "p_value": float(stats.chi2.sf(lr, 1)) if model == "full" else NA,
                             "delta_bic": NA})
    for model, n_obs, llf, k in (("combined", 760, 2381.5, 2), ("roi=lateral", 560, 1316.5, 2),
                                 ("roi=ventral", 200, 1077.5, 2), ("separate", 760, 2394.0, 4)):
        bic = -2 * llf + k * np.log(n_obs)
        rows.append({"family": "categorical", "window_start": NA, "window_stop": NA,
                     "model": model, "formula": NA, "llf": llf, "df": k,
                     "aic": -2 * llf + 2 * k, "bic": bic, "n_obs": n_obs, "singular": NA,
                     "converged": NA, "lr_stat": NA, "df_diff": NA, "p_value": NA,
                     "delta_bic": NA})
    out = pd.DataFrame(rows)
    ends = out["model"].isin(["combined", "separate"])
    combined = out.loc[out["model"] == "combined", "bic"].iloc[0]
    out.loc[ends, "delta_bic"] = out.loc[ends, "bic"] - combined
    return out


def write_fake_derivatives(root, subjects=("01", "02"), *, task=TASK, seed=0,
                           group=True) -> Path:
    """Write a derivatives folder as the pipeline would, with small random data.

    Parameters
    ----------
    root : path-like
        The derivatives root (``OUTPUT_DIR``).
    subjects : sequence of str
        Participant labels; ``"01"`` and ``"02"`` have contact layouts (others reuse ``"02"``'s).
    task : str
    seed : int
    group : bool
        Also write the ``group/`` tables.

    Returns
    -------
    root : pathlib.Path
    """
    from ieegrsa.bids import write_dataset_description

    root = Path(root)
    write_dataset_description(root)
    similarities = []
    for subject in subjects:
        if subject not in _CONTACTS:
            _CONTACTS[subject] = _CONTACTS["02"]
        paths = write_participant(root, subject, task=task, seed=seed)
        similarities.append(pd.read_csv(paths["similarity"], sep="\t", na_values=["n/a"],
                                        keep_default_na=False, dtype={"subject": str}))
    if group:
        write_group(root, similarities, task=task, seed=seed)
    return root
