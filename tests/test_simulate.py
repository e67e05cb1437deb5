"""Tests of ieegrsa.simulate: BIDS validity, determinism, consistency, planted ground truth."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mne_bids
import numpy as np
import pandas as pd
import pytest
import scipy.signal
import scipy.stats
from PIL import Image
from scipy.spatial.distance import pdist

from ieegrsa.errors import DataError
from ieegrsa.simulate import AREAS, EFFECTS, PRESETS, images, make_dataset, signals
from ieegrsa.simulate.presets import resolve_effect

SPACE = "MNI152NLin2009cAsym"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def read_tsv(path):
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[])


def ground_truth(root):
    return json.loads((root / "sourcedata" / "simulation" / "ground_truth.json").read_text())


def contacts_truth(root, sub):
    table = read_tsv(root / "sourcedata" / "simulation" / f"sub-{sub}_contacts.tsv")
    for column in ("responsive", "face_selective", "bad"):
        table[column] = table[column].astype(str).str.lower() == "true"
    return table


def recording_path(root, sub):
    folder = root / f"sub-{sub}" / "ieeg"
    (path,) = [p for p in folder.iterdir() if p.suffix in (".edf", ".vhdr")]
    return path


def read_raw(root, sub):
    path = recording_path(root, sub)
    bids_path = mne_bids.BIDSPath(subject=sub, task="faces", datatype="ieeg", suffix="ieeg",
                                  extension=path.suffix, root=root)
    return mne_bids.read_raw_bids(bids_path, verbose="error")


def validate(root):
    """Run bids-validator-deno; return (errors, warnings) as lists of issue dicts."""
    from conftest import bids_validator_issues

    return bids_validator_issues(root)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("sim") / "tiny", preset="tiny", seed=0,
                        effect="classical", verbose=False)


@pytest.fixture(scope="module")
def tiny_none(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("sim") / "none", preset="tiny", seed=0,
                        effect="none", verbose=False)


# ---------------------------------------------------------------------------------------------
# Files and BIDS validity


def test_tiny_has_every_file(tiny):
    for name in ("dataset_description.json", "README", "participants.tsv", "participants.json",
                 "task-faces_events.json", "stimuli/stimuli.tsv", "stimuli/stimuli.json",
                 "sourcedata/simulation/ground_truth.json"):
        assert (tiny / name).is_file(), name
    gt = ground_truth(tiny)
    assert sorted(gt["subjects"]) == ["01", "02"]
    for sub, info in gt["subjects"].items():
        folder = tiny / f"sub-{sub}" / "ieeg"
        base = f"sub-{sub}_task-faces"
        raw_files = ([f"{base}_ieeg.edf"] if info["format"] == "edf"
                     else [f"{base}_ieeg.vhdr", f"{base}_ieeg.vmrk", f"{base}_ieeg.eeg"])
        for name in raw_files + [f"{base}_ieeg.json", f"{base}_channels.tsv", f"{base}_events.tsv",
                                 f"sub-{sub}_space-{SPACE}_electrodes.tsv",
                                 f"sub-{sub}_space-{SPACE}_coordsystem.json"]:
            assert (folder / name).is_file(), name
        assert (tiny / "sourcedata" / "simulation" / f"sub-{sub}_contacts.tsv").is_file()
    # formats alternate and sampling rates differ between patients
    assert [gt["subjects"][s]["format"] for s in ("01", "02")] == ["edf", "brainvision"]
    assert gt["subjects"]["01"]["sampling_frequency"] != gt["subjects"]["02"]["sampling_frequency"]
    description = json.loads((tiny / "dataset_description.json").read_text())
    assert description["DatasetType"] == "raw" and description["BIDSVersion"]
    participants = read_tsv(tiny / "participants.tsv")
    assert list(participants.columns) == ["participant_id", "age", "sex", "hand"]
    assert list(participants["participant_id"]) == ["sub-01", "sub-02"]
    assert not list(tiny.parent.glob(".tiny.partial-*"))


def test_tiny_passes_bids_validator(tiny):
    errors, warnings = validate(tiny)
    assert errors == [], [e["code"] for e in errors]
    # only recommended-but-unknowable keys remain (Cognitive Atlas ids, HED, source datasets)
    assert {w.get("subCode") for w in warnings} <= {"CogAtlasID", "CogPOID", "HEDVersion",
                                                    "SourceDatasets"}


def test_sidecars(tiny):
    gt = ground_truth(tiny)
    events_json = json.loads((tiny / "task-faces_events.json").read_text())
    for sub, info in gt["subjects"].items():
        folder = tiny / f"sub-{sub}" / "ieeg"
        ieeg = json.loads((folder / f"sub-{sub}_task-faces_ieeg.json").read_text())
        assert ieeg["TaskName"] == "faces"
        assert ieeg["SamplingFrequency"] == info["sampling_frequency"]
        assert ieeg["PowerLineFrequency"] == info["line_frequency"] in (50, 60)
        assert ieeg["RecordingDuration"] == info["duration_s"]
        channels = read_tsv(folder / f"sub-{sub}_task-faces_channels.tsv")
        assert ieeg["SEEGChannelCount"] == (channels["type"] == "SEEG").sum()
        assert ieeg["ECOGChannelCount"] == (channels["type"] == "ECOG").sum()
        assert (channels["sampling_frequency"] == info["sampling_frequency"]).all()
        coords = json.loads((folder / f"sub-{sub}_space-{SPACE}_coordsystem.json").read_text())
        assert coords["iEEGCoordinateSystem"] == SPACE and coords["iEEGCoordinateUnits"] == "mm"
        events = read_tsv(folder / f"sub-{sub}_task-faces_events.tsv")
        assert set(events.columns) <= set(events_json)  # every column described


# ---------------------------------------------------------------------------------------------
# Determinism


def _tables_and_data(root):
    files = sorted(p for p in root.rglob("*") if p.is_file()
                   and (p.suffix in (".tsv", ".edf", ".eeg", ".png") or p.name.endswith(".vmrk")))
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in files}


def test_same_seed_same_dataset_and_other_seed_differs(tiny, tmp_path):
    again = _tables_and_data(make_dataset(tmp_path / "again", seed=0, verbose=False))
    assert again == _tables_and_data(tiny)
    other_root = make_dataset(tmp_path / "other", seed=1, verbose=False)
    other = _tables_and_data(other_root)
    for sub in ("01", "02"):
        for suffix in ("task-faces_events.tsv", "task-faces_channels.tsv",
                       f"space-{SPACE}_electrodes.tsv"):
            name = f"sub-{sub}/ieeg/sub-{sub}_{suffix}"
            assert other[name] != again[name], name
        first = read_raw(tiny, sub).get_data()
        second = read_raw(other_root, sub).get_data()
        assert first.shape != second.shape or not np.allclose(first, second)
    assert other["stimuli/faces/id01_neutral.png"] != again["stimuli/faces/id01_neutral.png"]


# ---------------------------------------------------------------------------------------------
# Consistency of events, stimuli, channels, electrodes and ground truth


def test_events_match_stimuli(tiny):
    stimuli = read_tsv(tiny / "stimuli" / "stimuli.tsv")
    assert list(stimuli.columns[:4]) == ["stim_file", "identity", "expression", "category"]
    preset = PRESETS["tiny"]
    n_faces = preset["n_identities"] * len(preset["expressions"])
    assert (stimuli["category"] == "face").sum() == n_faces
    assert (stimuli["category"] == "nonface").sum() == preset["n_nonfaces"]
    for stim_file in stimuli["stim_file"]:
        with Image.open(tiny / "stimuli" / stim_file) as image:
            assert image.size == (preset["image_size"],) * 2
    by_file = stimuli.set_index("stim_file")
    for sub, info in ground_truth(tiny)["subjects"].items():
        events = read_tsv(tiny / f"sub-{sub}" / "ieeg" / f"sub-{sub}_task-faces_events.tsv")
        assert list(events.columns) == ["onset", "duration", "sample", "trial_type", "stim_file",
                                        "identity", "expression", "repetition", "value"]
        shown = by_file.loc[events["stim_file"]]
        assert (events["trial_type"].to_numpy() == shown["category"].to_numpy()).all()
        assert (events["identity"].to_numpy() == shown["identity"].to_numpy()).all()
        assert (events["expression"].to_numpy() == shown["expression"].to_numpy()).all()
        assert (events.loc[events["trial_type"] == "nonface", ["identity", "expression"]]
                == "n/a").all().all()
        row = {f: i + 1 for i, f in enumerate(stimuli["stim_file"])}  # trigger = 1-based row
        assert (events["value"] == events["stim_file"].map(row)).all()
        counts = events.groupby("stim_file")["repetition"].agg(["count", "min", "max"])
        assert (counts["count"] == preset["n_repetitions"]).all()
        assert (counts["min"] == 1).all() and (counts["max"] == preset["n_repetitions"]).all()
        for _, group in events.groupby("stim_file"):
            assert list(group["repetition"]) == list(range(1, preset["n_repetitions"] + 1))
        assert len(events) == len(stimuli) * preset["n_repetitions"]
        assert (events["duration"] == preset["stim_duration"]).all()
        soa = np.diff(events["onset"].to_numpy())
        assert soa.min() >= preset["soa"][0] - 0.002 and soa.max() <= preset["soa"][1] + 0.002
        assert (events["stim_file"].to_numpy()[1:] != events["stim_file"].to_numpy()[:-1]).all()
        fs = info["sampling_frequency"]
        assert np.array_equal(np.round(events["onset"] * fs).astype(int), events["sample"])
        assert events["onset"].max() + 1.0 < info["duration_s"]


def test_channels_recording_and_electrodes_agree(tiny):
    for sub, info in ground_truth(tiny)["subjects"].items():
        folder = tiny / f"sub-{sub}" / "ieeg"
        channels = read_tsv(folder / f"sub-{sub}_task-faces_channels.tsv")
        electrodes = read_tsv(folder / f"sub-{sub}_space-{SPACE}_electrodes.tsv")
        raw = read_raw(tiny, sub)
        assert list(channels["name"]) == raw.ch_names
        ieeg = channels[channels["type"].isin(["SEEG", "ECOG"])]
        assert list(ieeg["name"]) == list(electrodes["name"])
        assert set(channels["type"]) <= {"SEEG", "ECOG", "ECG"}
        assert raw.info["sfreq"] == info["sampling_frequency"]
        assert sorted(raw.info["bads"]) == sorted(channels.loc[channels["status"] == "bad", "name"])
        assert (channels.loc[channels["status"] == "bad", "status_description"] != "n/a").all()
        assert 1 <= len(raw.info["bads"]) <= 2
        assert {"name", "x", "y", "z", "size", "group", "hemisphere"} <= set(electrodes.columns)
        assert set(electrodes["hemisphere"]) <= {"L", "R"}
        left = electrodes["hemisphere"] == "L"
        assert (electrodes.loc[left, "x"] < 0).all() and (electrodes.loc[~left, "x"] > 0).all()
        lo, hi = PRESETS["tiny"]["contacts"]
        assert lo <= len(electrodes) <= hi
        # contacts of a shaft are 3.5 mm apart, of a strip 10 mm
        for group, rows in electrodes.groupby("group"):
            steps = np.linalg.norm(np.diff(rows[["x", "y", "z"]].to_numpy(), axis=0), axis=1)
            expected = 3.5 if (channels.set_index("name").loc[rows["name"], "type"]
                               == "SEEG").all() else 10.0
            assert np.allclose(steps, expected, atol=0.2), group
        # signals are in a plausible iEEG range (µV) and the montage is read in MNI space
        data = raw.get_data(picks=list(ieeg["name"][ieeg["status"] == "good"])) * 1e6
        assert 5 < np.median(data.std(axis=1)) < 200
        assert raw.get_montage() is not None


def test_ground_truth_is_consistent(tiny):
    gt = ground_truth(tiny)
    assert gt["preset"] == "tiny" and gt["seed"] == 0
    assert gt["effect"] == resolve_effect("classical")
    assert gt["effect"]["ventral"]["model"] == "identity"
    assert gt["effect"]["lateral"]["model"] == "expression"
    for sub in gt["subjects"]:
        truth = contacts_truth(tiny, sub)
        folder = tiny / f"sub-{sub}" / "ieeg"
        electrodes = read_tsv(folder / f"sub-{sub}_space-{SPACE}_electrodes.tsv")
        channels = read_tsv(folder / f"sub-{sub}_task-faces_channels.tsv")
        assert list(truth["name"]) == list(electrodes["name"])
        assert np.allclose(truth[["x", "y", "z"]], electrodes[["x", "y", "z"]])
        status = channels.set_index("name").loc[truth["name"], "status"]
        assert (truth["bad"].to_numpy() == (status == "bad").to_numpy()).all()
        area_roi = {name: a["roi"] for name, a in AREAS.items()} | {"other": "n/a"}
        assert (truth["roi"] == truth["area"].map(area_roi)).all()
        in_roi = truth["roi"] != "n/a"
        # every contact inside an area lies within its radius of the (mirrored) peak
        for _, row in truth[in_roi].iterrows():
            mirror = [1 if row["hemisphere"] == "R" else -1, 1, 1]
            peak = np.array(AREAS[row["area"]]["peak"]) * mirror
            assert np.linalg.norm(row[["x", "y", "z"]].to_numpy(float) - peak) \
                <= AREAS[row["area"]]["radius"] + 0.2
        assert set(truth.loc[in_roi, "roi"]) == {"ventral", "lateral"}  # tiny covers both ROIs
        assert (truth["face_selective"] == (in_roi & ~truth["bad"])).all()
        assert not (truth["responsive"] & truth["bad"]).any()
        assert (truth.loc[truth["face_selective"], "responsive"]).all()
        good_roi = truth[in_roi & ~truth["bad"]]
        assert (good_roi["planted_model"] == good_roi["roi"].map(
            {roi: g["model"] for roi, g in gt["effect"].items()})).all()
        assert (truth.loc[~in_roi | truth["bad"], "planted_model"] == "n/a").all()
        onset = pd.to_numeric(good_roi["onset_s"])
        planted_onset = {roi: g["onset"] for roi, g in gt["effect"].items()}
        assert np.allclose(onset, good_roi["roi"].map(planted_onset))


# ---------------------------------------------------------------------------------------------
# The planted ground truth is recoverable with plain numpy/scipy


def high_gamma(root, sub):
    """High-gamma (70–150 Hz) Hilbert envelope of every channel, its rate and the events."""
    raw = read_raw(root, sub)
    fs = raw.info["sfreq"]
    data = raw.get_data() * 1e6
    sos = scipy.signal.butter(4, [70.0, 150.0], "bandpass", fs=fs, output="sos")
    envelope = np.abs(scipy.signal.hilbert(scipy.signal.sosfiltfilt(sos, data, axis=1), axis=1))
    events = read_tsv(root / f"sub-{sub}" / "ieeg" / f"sub-{sub}_task-faces_events.tsv")
    return envelope, fs, events


def window_means(envelope, fs, onsets, start, stop):
    """Mean envelope per channel and trial in [start, stop) s after each onset: (n_ch, n_trials)."""
    index = np.round(onsets * fs).astype(int)[:, None] + np.arange(int(start * fs), int(stop * fs))
    return envelope[:, index].mean(axis=2)


def roi_rsa(root):
    """Spearman correlation of each ROI's neural RDM (faces, pooled over patients) with the
    categorical identity and expression RDMs: {roi: (rho_identity, rho_expression)}."""
    gt = ground_truth(root)
    stimuli = read_tsv(root / "stimuli" / "stimuli.tsv")
    faces = stimuli[stimuli["category"] == "face"].reset_index(drop=True)
    patterns = {roi: [] for roi in gt["effect"]}
    for sub in gt["subjects"]:
        envelope, fs, events = high_gamma(root, sub)
        truth = contacts_truth(root, sub)
        for roi, geometry in gt["effect"].items():
            picks = truth.index[(truth["roi"] == roi) & ~truth["bad"]].to_numpy()
            trials = window_means(envelope[picks], fs, events["onset"].to_numpy(),
                                  geometry["onset"], geometry["onset"] + geometry["window"])
            patterns[roi].append(np.stack([trials[:, (events["stim_file"] == f).to_numpy()].mean(1)
                                           for f in faces["stim_file"]]))
    identity_rdm = pdist(pd.factorize(faces["identity"])[0][:, None], "hamming")
    expression_rdm = pdist(pd.factorize(faces["expression"])[0][:, None], "hamming")
    result = {}
    for roi, parts in patterns.items():
        neural = pdist(np.concatenate(parts, axis=1), "correlation")
        result[roi] = (scipy.stats.spearmanr(neural, identity_rdm)[0],
                       scipy.stats.spearmanr(neural, expression_rdm)[0])
    return result


def test_planted_geometry_is_recovered(tiny):
    rho = roi_rsa(tiny)
    ventral_identity, ventral_expression = rho["ventral"]
    lateral_identity, lateral_expression = rho["lateral"]
    # 12 faces and a few contacts per ROI: the categorical ceiling is ~0.7; chance spreads ~±0.15
    assert ventral_identity > 0.2 and ventral_identity > ventral_expression + 0.3, rho
    assert lateral_expression > 0.2 and lateral_expression > lateral_identity + 0.3, rho


def test_no_geometry_when_effect_is_none(tiny_none):
    for roi, values in roi_rsa(tiny_none).items():
        assert max(abs(v) for v in values) < 0.35, (roi, values)


def _identity_f(root, roi, start, stop):
    """Per good contact of ``roi`` (all patients): the one-way F ratio over identities of the
    faces' mean high-gamma amplitude in [start, stop) s, each face averaged over its showings."""
    stimuli = read_tsv(root / "stimuli" / "stimuli.tsv")
    faces = stimuli[stimuli["category"] == "face"]
    out = []
    for sub in ground_truth(root)["subjects"]:
        envelope, fs, events = high_gamma(root, sub)
        truth = contacts_truth(root, sub)
        picks = truth.index[(truth["roi"] == roi) & ~truth["bad"]].to_numpy()
        trials = window_means(envelope[picks], fs, events["onset"].to_numpy(), start, stop)
        means = np.stack([trials[:, (events["stim_file"] == f).to_numpy()].mean(1)
                          for f in faces["stim_file"]], axis=1)  # (contacts, faces)
        groups = [means[:, (faces["identity"] == i).to_numpy()]
                  for i in faces["identity"].unique()]
        out += [scipy.stats.f_oneway(*[g[c] for g in groups]).statistic
                for c in range(len(picks))]
    return np.array(out)


def test_amplitude_and_latency_codes_are_planted(tmp_path, tiny_none):
    """An amplitude code makes a contact's mean response in the window differ by identity; a
    latency code moves the response's rise, so the amplitude early in it differs by identity."""
    effect = {"ventral": {"model": "identity", "code": "amplitude", "strength": 0.8},
              "lateral": {"model": "identity", "code": "latency", "strength": 1.0}}
    root = make_dataset(tmp_path / "codes", preset="tiny", seed=0, effect=effect, verbose=False)
    truth = pd.concat([contacts_truth(root, s) for s in ground_truth(root)["subjects"]])
    good = truth[~truth["bad"] & (truth["roi"] != "n/a")]
    assert (good["planted_code"] == good["roi"].map(
        {"ventral": "amplitude", "lateral": "latency"})).all()
    for roi, (start, stop) in {"ventral": (0.15, 0.35), "lateral": (0.15, 0.25)}.items():
        coded, null = _identity_f(root, roi, start, stop), _identity_f(tiny_none, roi, start, stop)
        # 4 identities, 3 expressions each: F(3, 8) exceeds 4.07 with probability 0.05 by chance
        assert np.median(coded) > 4.07 > np.median(null), (roi, coded, null)


def test_face_selectivity(tiny):
    for sub in ground_truth(tiny)["subjects"]:
        envelope, fs, events = high_gamma(tiny, sub)
        truth = contacts_truth(tiny, sub)
        response = window_means(envelope[: len(truth)], fs, events["onset"].to_numpy(), 0.1, 0.35)
        baseline = window_means(envelope[: len(truth)], fs, events["onset"].to_numpy(), -0.25, 0.0)
        face = (events["trial_type"] == "face").to_numpy()
        ratio = response[:, face].mean(1) / response[:, ~face].mean(1)
        increase = response[:, face].mean(1) / baseline[:, face].mean(1)
        selective = truth["face_selective"].to_numpy()
        silent = ~truth["responsive"].to_numpy() & ~truth["bad"].to_numpy()
        assert (ratio[selective] > 1.0).all() and np.median(ratio[selective]) > 1.2, ratio
        assert (increase[selective] > 1.0).all() and np.median(increase[selective]) > 1.2, increase
        assert np.all(np.abs(ratio[silent] - 1) < 0.15), ratio[silent]
        assert np.all(np.abs(increase[silent] - 1) < 0.15), increase[silent]


# ---------------------------------------------------------------------------------------------
# Stimuli


def test_faces_vary_by_identity_more_than_by_expression():
    identities = [images.identity_traits(np.random.default_rng([0, 1, k])) for k in range(4)]
    expressions = list(images.EXPRESSION_SHAPES)
    pictures = np.array([[np.asarray(images.draw_face(t, e, 64), float) for e in expressions]
                         for t in identities])  # identity × expression × 64 × 64 × 3
    same_identity = np.mean([np.abs(pictures[i, a] - pictures[i, b]).mean()
                             for i in range(4) for a in range(len(expressions)) for b in range(a)])
    same_expression = np.mean([np.abs(pictures[i, e] - pictures[j, e]).mean()
                               for e in range(len(expressions))
                               for i in range(4) for j in range(i)])
    assert same_identity > 0.5  # expressions change the picture …
    assert same_expression > 2 * same_identity  # … but far less than identity does
    redrawn = np.asarray(images.draw_face(identities[0], "happy", 64), float)
    assert np.array_equal(redrawn, pictures[0, expressions.index("happy")])


def test_lab_stimuli_are_used(tmp_path, tiny):
    source = tmp_path / "lab"
    (source / "img").mkdir(parents=True)
    rows = []
    for stim_file in ["faces/id01_neutral.png", "faces/id01_happy.png", "faces/id02_neutral.png",
                      "faces/id02_happy.png", "nonfaces/house01.png"]:
        name = "img/" + stim_file.replace("/", "_")
        shutil.copyfile(tiny / "stimuli" / stim_file, source / name)
        face = stim_file.startswith("faces")
        identity, expression = Path(stim_file).stem.split("_") if face else ("n/a", "n/a")
        rows.append((name, f"person{identity}" if face else identity, expression,
                     "face" if face else "nonface"))
    pd.DataFrame(rows, columns=["stim_file", "identity", "expression", "category"]).to_csv(
        source / "stimuli.tsv", sep="\t", index=False)
    root = make_dataset(tmp_path / "ds", seed=3, verbose=False, stimuli=source)
    stimuli = read_tsv(root / "stimuli" / "stimuli.tsv")
    assert list(stimuli["stim_file"]) == [r[0] for r in rows]
    events = read_tsv(root / "sub-01" / "ieeg" / "sub-01_task-faces_events.tsv")
    assert set(events["stim_file"]) == set(stimuli["stim_file"])
    assert set(events["identity"]) == {"personid01", "personid02", "n/a"}
    assert all((root / "stimuli" / f).is_file() for f in stimuli["stim_file"])
    (source / "stimuli.tsv").write_text("stim_file\tidentity\nimg/x.png\ta\n")
    with pytest.raises(DataError, match="lacks required columns"):
        make_dataset(tmp_path / "bad", verbose=False, stimuli=source)
    assert not (tmp_path / "bad").exists() and not list(tmp_path.glob(".bad.partial-*"))


@pytest.mark.realdata
def test_real_face_images_as_stimuli(tmp_path):
    london = SHARED / "faces" / "london"
    if not london.is_dir():
        pytest.skip(f"real face images not found at {london}")
    source = tmp_path / "london"
    rows = []
    face_ids = sorted(p.stem.split("_")[0] for p in (london / "neutral").glob("*_03.jpg"))
    for face_id in face_ids[:3]:
        for expression, folder, suffix in (("neutral", "neutral", "03"),
                                           ("happy", "smiling", "08")):
            name = f"{folder}/{face_id}_{suffix}.jpg"
            (source / folder).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(london / name, source / name)
            rows.append((name, f"london{face_id}", expression, "face"))
    pd.DataFrame(rows, columns=["stim_file", "identity", "expression", "category"]).to_csv(
        source / "stimuli.tsv", sep="\t", index=False)
    root = make_dataset(tmp_path / "ds", verbose=False, stimuli=source)
    errors, _ = validate(root)
    assert errors == []
    assert len(read_tsv(root / "sub-02" / "ieeg" / "sub-02_task-faces_events.tsv")) == 6 * 3


# ---------------------------------------------------------------------------------------------
# Arguments


def test_effect_specifications():
    assert resolve_effect("ventral=identity,lateral=expression") == resolve_effect("classical")
    partial = resolve_effect("lateral=identity")
    assert partial["lateral"]["model"] == "identity" and partial["ventral"]["model"] == "none"
    custom = resolve_effect({"ventral": {"model": "expression", "onset": 0.2, "strength": 1}})
    assert custom["ventral"] == {"model": "expression", "code": "spatial", "onset": 0.2,
                                 "window": 0.25, "strength": 1.0}
    assert resolve_effect({"lateral": {"model": "identity", "code": "latency"}})[
        "lateral"]["code"] == "latency"
    with pytest.raises(DataError, match="Unknown code"):
        resolve_effect({"lateral": {"model": "identity", "code": "phase"}})
    assert set(EFFECTS) == {"classical", "identity", "expression", "none"}
    for name, effect in EFFECTS.items():
        assert set(effect) == {"ventral", "lateral"}, name


@pytest.mark.parametrize("kwargs, message", [
    ({"preset": "huge"}, "tiny, small, paper"),
    ({"effect": "strong"}, "classical, identity, expression, none"),
    ({"effect": "ventral:identity"}, "classical, identity"),
    ({"effect": "fusiform=identity"}, "ventral, lateral"),
    ({"effect": "ventral=gaze"}, "identity, expression, none"),
    ({"effect": {"ventral": {"model": "identity", "latency": 0.1}}}, "onset, window and strength"),
    ({"effect": {"lateral": {"model": "identity", "onset": -0.1}}}, "between 0 and 2"),
    ({"seed": -1}, "integer"),
    ({"seed": 1.5}, "integer"),
    ({"stimuli": "/nonexistent/folder"}, "no stimuli.tsv"),
])
def test_bad_arguments_raise_data_error(tmp_path, kwargs, message):
    with pytest.raises(DataError, match=message):
        make_dataset(tmp_path / "ds", verbose=False, **kwargs)
    assert not (tmp_path / "ds").exists()
    assert not list(tmp_path.glob(".ds.partial-*"))


def test_existing_folders_are_protected(tmp_path, monkeypatch):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not empty"):
        make_dataset(occupied, verbose=False)
    with pytest.raises(DataError, match="not a simulated dataset"):
        make_dataset(occupied, overwrite=True, verbose=False)
    assert (occupied / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        make_dataset(tmp_path / "file", verbose=False)

    empty = tmp_path / "empty"
    empty.mkdir()
    root = make_dataset(empty, verbose=False)  # an empty folder is fine
    assert (root / "dataset_description.json").is_file()
    make_dataset(root, seed=1, overwrite=True, verbose=False)  # replaces a simulated dataset
    assert ground_truth(root)["seed"] == 1

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(signals, "simulate_patient", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_dataset(tmp_path / "crashed", verbose=False)
    with pytest.raises(RuntimeError):
        make_dataset(root, seed=2, overwrite=True, verbose=False)
    assert not (tmp_path / "crashed").exists()
    assert ground_truth(root)["seed"] == 1  # the previous dataset is untouched
    assert not list(tmp_path.glob(".*.partial-*"))


# ---------------------------------------------------------------------------------------------
# The paper-sized preset


@pytest.mark.slow
def test_paper_preset(tmp_path):
    root = make_dataset(tmp_path / "paper", preset="paper", seed=0, verbose=False)
    errors, warnings = validate(root)
    assert errors == [], [e["code"] for e in errors]
    gt = ground_truth(root)
    preset = PRESETS["paper"]
    assert len(gt["subjects"]) == preset["n_subjects"] == 11
    covered = {"ventral": 0, "lateral": 0}
    for sub in gt["subjects"]:
        truth = contacts_truth(root, sub)
        assert preset["contacts"][0] <= len(truth) <= preset["contacts"][1]
        rois = set(truth.loc[~truth["bad"], "roi"]) - {"n/a"}
        assert rois, f"sub-{sub} has no good contact in a face ROI"
        for roi in rois:
            covered[roi] += 1
    assert min(covered.values()) >= 5, covered
    rates = {info["sampling_frequency"] for info in gt["subjects"].values()}
    assert rates == {1000.0, 1024.0, 2048.0}
    assert {info["format"] for info in gt["subjects"].values()} == {"edf", "brainvision"}
    size_mb = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6
    assert size_mb < 500
    rho = roi_rsa(root)
    assert rho["ventral"][0] > 0.3 and rho["ventral"][0] > rho["ventral"][1] + 0.3, rho
    assert rho["lateral"][1] > 0.3 and rho["lateral"][1] > rho["lateral"][0] + 0.3, rho
