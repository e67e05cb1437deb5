"""Electrode implants in MNI space: sEEG shafts and ECoG strips over face areas and elsewhere.

Each patient gets a clinical-looking implant: a few sEEG shafts entering the skull laterally and
running medially (contacts 3.5 mm apart, contact 1 at the deep tip) and ECoG strips on the cortical
surface (contacts 10 mm apart). Implant positions come from a catalogue of typical trajectories,
jittered per patient, and are chosen so that every patient has contacts in a face ROI.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .presets import AREAS

__all__ = ["TRAJECTORIES", "plan_implant"]

SEEG_SPACING = 3.5  # mm between contact centres (e.g. DIXI Microdeep)
ECOG_SPACING = 10.0  # mm between contact centres of a subdural strip
SEEG_SIZE = 5.0  # mm², a 2-mm long, 0.8-mm wide cylinder
ECOG_SIZE = 4.2  # mm², 2.3-mm exposed disc

#: Typical trajectories, right hemisphere (x mirrored for the left). Shafts: ``tip`` is the deep
#: target and ``entry`` where the shaft enters the cortex; contacts run from the tip outwards.
#: Strips: contacts start at ``start`` and run along ``direction``. ``roi``: the face ROI the
#: trajectory is planned to sample (None for the others).
TRAJECTORIES = {
    # face ROIs
    "TB": {"kind": "depth", "roi": "ventral", "tip": (24, -52, -20), "entry": (64, -52, -20),
           "target": "basal temporal: inferior temporal and fusiform gyri"},
    "OC": {"kind": "depth", "roi": "ventral", "tip": (16, -78, -12), "entry": (54, -80, -10),
           "target": "inferior occipital gyrus"},
    "VT": {"kind": "strip", "roi": "ventral", "start": (60, -48, -28),
           "direction": (-1, -0.15, 0.2),
           "target": "ventral temporal surface, across the fusiform gyrus"},
    "PS": {"kind": "depth", "roi": "lateral", "tip": (28, -50, 8), "entry": (66, -50, 12),
           "target": "posterior superior temporal sulcus"},
    "LT": {"kind": "strip", "roi": "lateral", "start": (58, -64, 16), "direction": (0, 1, -0.35),
           "target": "lateral temporal surface along the superior temporal sulcus"},
    # elsewhere
    "HC": {"kind": "depth", "roi": None, "tip": (26, -22, -14), "entry": (64, -22, -14),
           "target": "hippocampus"},
    "AM": {"kind": "depth", "roi": None, "tip": (22, -4, -20), "entry": (62, -4, -22),
           "target": "amygdala"},
    "TP": {"kind": "depth", "roi": None, "tip": (28, 10, -30), "entry": (56, 10, -30),
           "target": "temporal pole"},
    "IN": {"kind": "depth", "roi": None, "tip": (34, 6, 6), "entry": (62, 8, 12),
           "target": "insula"},
    "OF": {"kind": "depth", "roi": None, "tip": (14, 36, -18), "entry": (44, 44, -10),
           "target": "orbitofrontal cortex"},
    "CI": {"kind": "depth", "roi": None, "tip": (6, 16, 32), "entry": (58, 16, 38),
           "target": "anterior cingulate cortex"},
    "MT": {"kind": "depth", "roi": None, "tip": (34, -30, 4), "entry": (68, -30, 4),
           "target": "superior temporal gyrus and Heschl's gyrus"},
    "PA": {"kind": "depth", "roi": None, "tip": (14, -56, 40), "entry": (56, -56, 44),
           "target": "precuneus and inferior parietal lobule"},
    "LO": {"kind": "strip", "roi": None, "start": (48, -92, 0), "direction": (0.15, 0.35, 1),
           "target": "lateral occipital cortex"},
    "FS": {"kind": "strip", "roi": None, "start": (48, 10, 40), "direction": (0, 1, -0.3),
           "target": "dorsolateral prefrontal cortex"},
}

_AREA_PEAKS = {name: np.array(a["peak"]) for name, a in AREAS.items()}


def _label_contacts(xyz, hemisphere):
    """Nearest face area within its radius for each contact: (area, roi, distance in mm)."""
    sign = np.where(hemisphere == "L", -1.0, 1.0)
    areas = np.full(len(xyz), "other", dtype=object)
    rois = np.full(len(xyz), "n/a", dtype=object)
    best = np.full(len(xyz), np.inf)
    for name, peak in _AREA_PEAKS.items():
        mirrored = np.column_stack([sign * peak[0], np.full(len(xyz), peak[1]),
                                    np.full(len(xyz), peak[2])])
        dist = np.linalg.norm(xyz - mirrored, axis=1)
        inside = (dist <= AREAS[name]["radius"]) & (dist < best)
        areas[inside], rois[inside], best[inside] = name, AREAS[name]["roi"], dist[inside]
    return areas, rois, best


def _place(code, hemisphere, n, rng):
    """Contact coordinates (n, 3) of one jittered trajectory."""
    traj = TRAJECTORIES[code]
    sign = -1.0 if hemisphere == "L" else 1.0
    mirror = np.array([sign, 1.0, 1.0])
    shift = rng.normal(0, 3.0, 3)  # mm; surgical planning and anatomy vary between patients
    if traj["kind"] == "depth":
        start = np.array(traj["tip"]) * mirror + shift
        direction = (np.array(traj["entry"]) - np.array(traj["tip"])) * mirror
        spacing = SEEG_SPACING
    else:
        start = np.array(traj["start"]) * mirror + shift
        direction = np.array(traj["direction"], float) * mirror
        spacing = ECOG_SPACING
    direction = direction / np.linalg.norm(direction) + rng.normal(0, 0.06, 3)
    direction /= np.linalg.norm(direction)
    return start + spacing * np.arange(n)[:, None] * direction


def plan_implant(rng, preset, index) -> pd.DataFrame:
    """Choose and place one patient's electrodes.

    Parameters
    ----------
    rng : numpy.random.Generator
    preset : dict
        Resolved preset (see :data:`ieegrsa.simulate.PRESETS`).
    index : int
        0-based patient index; patients without both ROIs alternate between ventral and lateral.

    Returns
    -------
    pandas.DataFrame
        One row per contact: ``name``, ``group`` (shaft or strip), ``kind`` (depth/strip),
        ``hemisphere`` (L/R), ``x``, ``y``, ``z`` (MNI mm), ``size`` (mm²), ``area`` (FFA, OFA,
        pSTS or other), ``roi`` (ventral, lateral or n/a), ``distance`` (mm to the area's peak;
        inf outside every area), ``target`` (planned structure).
    """
    hemispheres = ["L", "R"] if rng.random() < preset["bilateral"] else [rng.choice(["L", "R"])]
    if rng.random() < preset["both_rois"]:
        wanted = ["ventral", "lateral"]
    else:
        wanted = [["ventral", "lateral"][index % 2]]
    lo, hi = preset["contacts"]
    target_n = int(rng.integers(lo, hi + 1))

    def n_contacts(code):
        low, high = preset["shaft_contacts" if TRAJECTORIES[code]["kind"] == "depth"
                           else "strip_contacts"]
        return int(rng.integers(low, high + 1))

    plan = []  # (code, hemisphere, n)
    for roi in wanted:
        codes = [c for c, t in TRAJECTORIES.items() if t["roi"] == roi]
        plan.append((str(rng.choice(codes)), str(rng.choice(hemispheres)), None))
    others = [(c, h) for c, t in TRAJECTORIES.items() if t["roi"] is None for h in hemispheres]
    # Extra face-ROI trajectories are common too (epilepsy in the posterior temporal lobe).
    others += [(c, h) for c, t in TRAJECTORIES.items() if t["roi"] in wanted for h in hemispheres]
    order = rng.permutation(len(others))
    plan = [(c, h, n_contacts(c)) for c, h, _ in plan]
    total = sum(n for *_, n in plan)
    for i in order:
        if total >= target_n:
            break
        code, hemi = others[i]
        if any(code == c and hemi == h for c, h, _ in plan):
            continue
        n = min(n_contacts(code), hi - total)
        if n >= 4:
            plan.append((code, hemi, n))
            total += n

    rows = []
    for code, hemi, n in plan:
        # Redraw the jitter until a face-ROI trajectory really reaches its ROI (≥ 2 contacts).
        for _ in range(20):
            xyz = _place(code, hemi, n, rng)
            _, rois, _ = _label_contacts(xyz, np.full(n, hemi))
            if TRAJECTORIES[code]["roi"] is None or (rois == TRAJECTORIES[code]["roi"]).sum() >= 2:
                break
        group = f"{hemi}{code}"
        for k in range(n):
            rows.append({"name": f"{group}{k + 1}", "group": group,
                         "kind": TRAJECTORIES[code]["kind"], "hemisphere": hemi,
                         "x": xyz[k, 0], "y": xyz[k, 1], "z": xyz[k, 2],
                         "size": SEEG_SIZE if TRAJECTORIES[code]["kind"] == "depth" else ECOG_SIZE,
                         "target": TRAJECTORIES[code]["target"]})
    contacts = pd.DataFrame(rows)
    contacts[["x", "y", "z"]] = contacts[["x", "y", "z"]].round(1)
    area, roi, dist = _label_contacts(contacts[["x", "y", "z"]].to_numpy(),
                                      contacts["hemisphere"].to_numpy())
    contacts["area"], contacts["roi"], contacts["distance"] = area, roi, dist
    return contacts
