"""Fake but realistic ieegrsa derivatives, written with the project's own writers.

:func:`write_fake_derivatives` writes, for each participant, every file of the derivatives
contract (contact table, preprocessing report, glass brain, neural and model RDMs, similarity and
noise-ceiling tables) and the group tables, with small random data, NaNs, an excluded contact, a
ROI without contacts (sub-02 has no ventral contact) and a contact named ``<b>x</b>`` (to test
HTML escaping). Used by the report tests, and handy to look at a report without running the
pipeline.
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
    from ieegrsa.bids.derivatives import software_versions

    return {"Config": config_yaml(), "SoftwareVersions": software_versions(),
            "Sources": [str(s) for s in sources]}


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


def write_participant(root, subject, *, task=TASK, seed=0, session=None) -> dict:
    """Write one participant's derivative files; return their paths by kind."""
    from ieegrsa.bids import derivative_name, write_tsv

    rng = np.random.default_rng(seed + int(subject))
    folder = Path(root) / f"sub-{subject}"
    if session:
        folder = folder / f"ses-{session}"
    folder = folder / "ieeg"
    names = {"subject": subject, "task": task, "session": session}
    extra = provenance([f"bids/sub-{subject}/ieeg/sub-{subject}_task-{task}_ieeg.edf"])

    def name(desc, suffix, ext):
        return folder / derivative_name(**names, desc=desc, suffix=suffix, extension=ext)

    def describe(table):
        return {c: c.replace("_", " ") for c in table.columns}

    paths = {}
    contacts = _contacts(subject, rng)
    paths["contacts"] = write_tsv(contacts, name("contacts", "electrodes", ".tsv"),
                                  describe(contacts), extra)
    report = _preprocessing(contacts)
    paths["preprocessing"] = write_tsv(report, name("preprocessing", "channels", ".tsv"),
                                       describe(report), extra)
    paths["glassbrain"] = name("contacts", "glassbrain", ".png")
    _glassbrain(paths["glassbrain"])
    neural = _neural_rdms(subject, contacts, rng)
    paths["neural_rdms"] = neural.save(name("neural", "rdms", ".npz"))
    models = _model_rdms()
    paths["model_rdms"] = models.save(name("models", "rdms", ".npz"))
    similarity = _similarity(subject, neural, models, rng)
    if session:
        similarity["session"] = session
    paths["similarity"] = write_tsv(similarity, name("similarity", "rsa", ".tsv"),
                                    describe(similarity), extra)
    noise = _noise_ceiling(neural, rng)
    paths["noiseceiling"] = write_tsv(noise, name("noiseceiling", "rsa", ".tsv"),
                                      describe(noise), extra)
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


def write_group(root, similarities, *, task=TASK, seed=0, with_comparison=True) -> dict:
    """Write the group tables of the contract from the participants' similarity tables."""
    from ieegrsa.bids import write_tsv
    from ieegrsa.stats.tables import COLUMNS

    rng = np.random.default_rng(seed)
    folder = Path(root) / "group"
    extra = provenance()
    family = {"family": "Model family: categorical or network"}
    patients = _patients(similarities)
    cells = patients[["family", "roi", "window_start", "window_stop"]].drop_duplicates()
    rows = []
    for _, cell in cells.iterrows():
        for term in ("Intercept", "C(objective)[T.identity]"):
            estimate = rng.normal(0.05, 0.05)
            se = abs(rng.normal(0.03, 0.005))
            p = float(np.clip(rng.uniform(0, 0.3) if cell["window_start"] > 0.05 else
                              rng.uniform(0.2, 1), 1e-4, 1))
            rows.append({**cell.to_dict(), "term": term, "estimate": estimate, "se": se,
                         "ci_low": estimate - 1.96 * se, "ci_high": estimate + 1.96 * se,
                         "z": estimate / se, "p_value": p, "p_corrected": min(1.0, 3 * p),
                         "converged": True, "warning": NA, "n_subjects": 2, "n_obs": 40,
                         "random": "1 | subject"})
    mixed = pd.DataFrame(rows)
    mixed["warning"] = mixed["warning"].astype(object)
    mixed.loc[mixed.index[5], ["estimate", "ci_low", "ci_high", "z", "p_value",
                               "p_corrected"]] = NA
    mixed.loc[mixed.index[5], ["converged", "warning"]] = [False, "singular <fit>"]
    paths = {"patients": patients}
    columns = {k: {**family, **COLUMNS[k]} for k in COLUMNS}

    def write(table, kind):
        path = folder / f"task-{task}_desc-{kind}_stats.tsv"
        return write_tsv(table, path, columns[kind], extra)

    paths["mixedlm"] = write(mixed, "mixedlm")
    paths["patients"] = write(patients, "patients")
    clusters = pd.DataFrame([
        {"family": "categorical", "roi": "lateral", "contrast": "identity-expression",
         "start": 0.1, "stop": 0.3, "statistic": 12.5, "p_value": 0.01, "n_windows": 4,
         "n_subjects": 2},
        {"family": "network", "roi": "lateral", "contrast": "identity-expression",
         "start": 0.45, "stop": 0.55, "statistic": 3.1, "p_value": 0.4, "n_windows": 2,
         "n_subjects": 2},
    ])
    paths["clusters"] = write(clusters, "clusters")
    onsets = pd.DataFrame([
        {"family": "categorical", "roi": "lateral", "contrast": "identity-expression",
         "onset": 0.1, "ci_low": 0.05, "ci_high": 0.15, "detected": 0.8, "n_bootstrap": 200,
         "n_subjects": 2},
        {"family": "categorical", "roi": "ventral", "contrast": "identity-expression",
         "onset": NA, "ci_low": NA, "ci_high": NA, "detected": 0.0, "n_bootstrap": 200,
         "n_subjects": 1},
    ])
    paths["onsets"] = write(onsets, "onsets")
    if with_comparison:
        comparison = pd.DataFrame([
            {"roi": NA, "model": m, "formula": f, "llf": llf, "df": df, "aic": -2 * llf + 2 * df,
             "bic": -2 * llf + 4 * df, "delta_bic": NA, "n_obs": 400, "converged": True,
             "warning": NA, "lr_stat": lr, "df_diff": dd, "p_value": p}
            for m, f, llf, df, lr, dd, p in [
                ("reduced", "value ~ C(objective) + C(roi)", 120.0, 5, NA, NA, NA),
                ("full", "value ~ C(objective) * C(roi)", 124.0, 6, 8.0, 1, 0.0047)]
        ])
        paths["comparison"] = write(comparison, "comparison")
    return paths


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
