"""Anatomy on real data: labels agree with expert and FreeSurfer label sets in ../shared/data."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from ieegrsa.anatomy import label_contacts, load_atlas

#: Expert area code of the Miller faces/houses release -> gyrus.
MILLER_GYRI = {1: "temporal_pole", 2: "parahippocampal", 3: "inferior_temporal",
               4: "middle_temporal", 5: "fusiform", 6: "lingual", 7: "inferior_occipital",
               8: "cuneus", 9: "posterior_cingulate", 10: "middle_occipital",
               11: "occipital_pole", 12: "precuneus", 13: "superior_occipital"}
#: Gyrus -> label names of Desikan-Killiany, Destrieux, AAL3 and Harvard-Oxford.
GYRUS_LABELS = {
    "temporal_pole": r"temporalpole|Pole_temporal|Temporal_Pole",
    "parahippocampal": r"parahippocampal|entorhinal|Parahip",
    "inferior_temporal": r"inferiortemporal|temporal_inf|Inferior_Temporal",
    "middle_temporal": r"middletemporal|temporal_middle|Temporal_Mid|Middle_Temporal",
    "superior_temporal": r"superiortemporal|bankssts|transversetemporal|temporal_sup|Temp_sup|"
                         r"Superior_Temporal|Heschl|Planum",
    "fusiform": r"fusiform|fusifor|oc-temp_lat",
    "lingual": r"lingual",
    "inferior_occipital": r"lateraloccipital|occipital_inf|Lateral_Occipital_Cortex_inferior|"
                          r"S_occipital_ant",
    "middle_occipital": r"lateraloccipital|occipital_middle|oc_middle|Occipital_Mid|"
                        r"Lateral_Occipital",
    "superior_occipital": r"occipital_sup|oc_sup|Lateral_Occipital_Cortex_superior|"
                          r"superiorparietal",
    "cuneus": r"cuneus|pericalcarine|calcarine|Cuneal",
    "occipital_pole": r"Pole_occipital|Occipital_Pole|lateraloccipital|pericalcarine",
    "precuneus": r"precuneus|Precune",
    "posterior_cingulate": r"isthmuscingulate|posteriorcingulate|cingul-Post|Cingulate_Post|"
                           r"Cingulate_Gyrus_posterior|pericallosal",
}
#: Neighbouring gyri (a label one gyrus off counts as "adjacent").
NEIGHBOURS = {
    "temporal_pole": ["superior_temporal", "middle_temporal", "inferior_temporal",
                      "parahippocampal", "fusiform"],
    "parahippocampal": ["fusiform", "lingual", "temporal_pole"],
    "inferior_temporal": ["middle_temporal", "fusiform", "temporal_pole", "inferior_occipital"],
    "middle_temporal": ["superior_temporal", "inferior_temporal", "temporal_pole",
                        "middle_occipital"],
    "fusiform": ["inferior_temporal", "parahippocampal", "lingual", "inferior_occipital"],
    "lingual": ["fusiform", "parahippocampal", "cuneus", "inferior_occipital"],
    "inferior_occipital": ["middle_occipital", "fusiform", "lingual", "inferior_temporal",
                           "occipital_pole"],
    "middle_occipital": ["inferior_occipital", "superior_occipital", "middle_temporal",
                         "occipital_pole"],
    "superior_occipital": ["middle_occipital", "cuneus", "precuneus"],
    "cuneus": ["lingual", "precuneus", "superior_occipital", "occipital_pole"],
    "occipital_pole": ["cuneus", "lingual", "inferior_occipital", "middle_occipital"],
    "precuneus": ["cuneus", "posterior_cingulate", "superior_occipital"],
    "posterior_cingulate": ["precuneus", "parahippocampal", "lingual"],
}


def _gyrus_agreement(codes, labels):
    exact, adjacent = [], []
    for code, label in zip(codes, labels):
        gyrus = MILLER_GYRI[int(code)]
        hit = bool(re.search(GYRUS_LABELS[gyrus], label, re.IGNORECASE))
        exact.append(hit)
        adjacent.append(hit or any(re.search(GYRUS_LABELS[g], label, re.IGNORECASE)
                                   for g in NEIGHBOURS[gyrus]))
    return float(np.mean(exact)), float(np.mean(adjacent))


@pytest.mark.realdata
def test_labels_agree_with_expert_areas_miller(shared_data):
    """Patient ja of Miller's faces/houses ECoG: atlas labels vs the expert's gyrus per contact.

    The coordinates are ja's own (close to MNI, not normalised), the expert read the gyrus on
    ja's MRI, and the atlases are population templates: exact gyrus agreement is expected well
    below 1, with most disagreements one gyrus off. The floor is checked against a null of
    shuffled expert labels.
    """
    table = pd.read_csv(shared_data / "ieeg" / "miller_fhpred_locs" /
                        "electrodes_all_subjects.tsv", sep="\t")
    ja = table[(table["subject"] == "ja") & (table["elcode"] != 20)].reset_index(drop=True)
    assert len(ja) == 35  # contacts with an expert label (20 = "non-included area")
    rng = np.random.default_rng(0)
    lines = []
    for atlas in ("Desikan-Killiany", "Destrieux", "AAL3", "Harvard-Oxford"):
        labels = label_contacts(ja, [atlas], max_distance=3.0).iloc[:, 0].to_numpy()
        exact, adjacent = _gyrus_agreement(ja["elcode"], labels)
        null = [_gyrus_agreement(rng.permutation(ja["elcode"].to_numpy()), labels)[0]
                for _ in range(200)]
        chance = float(np.quantile(null, 0.95))
        lines.append(f"{atlas}: exact {exact:.2f}, same-or-adjacent gyrus {adjacent:.2f} "
                     f"(shuffled labels, 95th percentile: {chance:.2f})")
        assert exact >= 0.35 and exact > chance
        assert adjacent >= 0.75
    print("\nMiller patient ja, 35 contacts vs expert gyrus:\n  " + "\n  ".join(lines))


@pytest.mark.realdata
def test_freesurfer_label_names_and_fsaverage_contacts(shared_data):
    """The mne-misc-data sEEG files: FreeSurfer labels and fsaverage (MNI305) contacts.

    The two files are two different implants, so no per-contact comparison is possible:
    ``sample_seeg_electrodes.tsv`` (the EDF's 98 channels, in the patient's MRI space, with the
    FreeSurfer Destrieux and Desikan-Killiany label of each contact) has six shafts of 12-16
    contacts (L', N', F', O', G', X'); ``sample_seeg_electrodes_fsaverage.tsv`` has 127 contacts
    on 15 other shafts (LAMY, RAHP ...). What is compared:

    1. the FreeSurfer label names of the first file are the names of ieegrsa's Desikan-Killiany
       and Destrieux atlases, with the same meaning (hemisphere, cortex versus white matter);
    2. the fsaverage contacts' Desikan-Killiany labels against the target that the shaft name
       abbreviates (our reading of the abbreviations, which the data do not document), for the
       deepest contact of the shafts whose abbreviation names a structure unambiguously.
    """
    folder = shared_data / "ieeg" / "mne_misc_data" / "seeg"
    native = pd.read_csv(folder / "sample_seeg_electrodes.tsv", sep="\t")
    fsaverage = pd.read_csv(folder / "sample_seeg_electrodes_fsaverage.tsv", sep="\t",
                            index_col=0).rename(columns={"R": "x", "A": "y", "S": "z"})
    shafts_native = native["name"].str.extract(r"^([A-Z]+'?)\d+$")[0].dropna()
    shafts_fs = fsaverage["name"].str.split().str[0]
    assert set(shafts_native) & set(shafts_fs) == set()
    assert sorted(shafts_native.value_counts()) != sorted(shafts_fs.value_counts())

    # 1. FreeSurfer names and their meaning
    checked = known = 0
    for column, atlas in (("destriuex", "Destrieux"), ("desikan-killiany", "Desikan-Killiany")):
        table = load_atlas(atlas).labels.set_index("name")
        for name in native[column].dropna():
            if name == "n/a":
                continue
            checked += 1
            if name not in table.index:
                continue
            known += 1
            row = table.loc[name]
            cortex = name.startswith(("ctx-", "ctx_"))
            assert bool(row["grey"]) == cortex, name
            side = "L" if re.search(r"lh|Left", name) else "R" if re.search(r"rh|Right", name) \
                else "n/a"
            assert row["hemisphere"] == side, name
    print(f"\nFreeSurfer labels of sample_seeg: {known}/{checked} found in ieegrsa's atlases")
    assert known == checked

    # 2. fsaverage contacts vs the shaft's target
    targets = {  # abbreviation -> Desikan-Killiany labels of the structure it names
        "AMY": r"Amygdala", "AHP": r"Hippocampus", "PHP": r"Hippocampus",
        "PHG": r"parahippocampal", "ACN": r"anteriorcingulate", "PCN": r"precuneus",
        "OFC": r"orbitofrontal", "PIT": r"inferiortemporal|fusiform", "ENT": r"entorhinal",
    }
    fsaverage["shaft"] = shafts_fs
    fsaverage["number"] = fsaverage["name"].str.split().str[1].astype(int)
    tips = fsaverage[fsaverage["number"] == 1].copy()
    tips["target"] = tips["shaft"].str[1:].map(targets)
    tips = tips.dropna(subset=["target"]).reset_index(drop=True)
    labels = label_contacts(tips, ["Desikan-Killiany"], max_distance=3.0)
    tips["label"] = labels["desikan_killiany_label"]
    tips["hit"] = [bool(re.search(t, lab)) for t, lab in zip(tips["target"], tips["label"])]
    side_ok = [lab.startswith(("Left", "ctx-lh")) == (shaft[0] == "L")
               for lab, shaft in zip(tips["label"], tips["shaft"]) if lab != "n/a"]
    rate = tips["hit"].mean()
    print(f"fsaverage sEEG, deepest contact vs shaft target: {tips['hit'].sum()}/{len(tips)} "
          f"({rate:.2f}); " + ", ".join(f"{s}:{lab}" for s, lab in zip(tips["shaft"],
                                                                       tips["label"])))
    assert len(tips) == 9
    assert rate >= 0.6
    assert all(side_ok)  # L... shafts in the left hemisphere, R... in the right
