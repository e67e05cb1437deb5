"""ieegrsa train: seeded instances learn their objective, resume bit-identically, and are used
by the model RDMs through their manifests.

The faces are the simulator's procedurally drawn ones (an identity × expression design of any
size; identity lives only in traits that expressions do not move), with a small jitter of
position, size and brightness per image so that a class is more than one picture. The network is
a small DenseNet (growth 12, depth 10, 32 px) so that a CI-sized run learns in seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import ImageEnhance
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr

from ieegrsa.errors import DataError
from ieegrsa.simulate.images import draw_face, identity_traits
from ieegrsa.training import train_networks

EXPRESSIONS = ("neutral", "happy", "sad", "angry")
TINY = {"random_seed": 3, "training": {
    "options": {"growth_rate": 12, "depth": 10, "size": 32}, "epochs": 20, "instances": 1,
    "batch_size": 32, "learning_rate": 0.05, "lr_step": 10, "augment": ["flip", "shift"],
    "shift_pixels": 2}}


def _faces(folder: Path, n_identities: int, n_variants: int, seed: int) -> pd.DataFrame:
    """Simulated faces on disk: identity x expression x jittered variants, as a table."""
    rng = np.random.default_rng(seed)
    (folder / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_identities):
        traits = identity_traits(rng)
        for expression in EXPRESSIONS:
            face = draw_face(traits, expression, size=128)
            for v in range(n_variants):
                dx, dy = rng.integers(-6, 7, 2)
                s = int(rng.integers(-6, 7)) if n_variants > 1 else 0
                if n_variants == 1:
                    dx = dy = 0
                image = face.crop((24 + dx - s, 16 + dy - s, 104 + dx + s, 112 + dy + s))
                image = ImageEnhance.Brightness(image).enhance(
                    rng.uniform(0.8, 1.2) if n_variants > 1 else 1.0)
                name = f"img/id{i:02d}_{expression}_{v}.png"
                image.save(folder / name)
                rows.append({"image": name, "label": expression, "identity": f"id{i:02d}",
                             "stim_file": name, "expression": expression, "category": "face"})
    table = pd.DataFrame(rows)
    table[["image", "label", "identity"]].to_csv(folder / "faces.tsv", sep="\t", index=False)
    return table


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("faces")
    _faces(folder, 30, 3, seed=0)
    return folder / "faces.tsv"


@pytest.fixture(scope="module")
def trained(faces, tmp_path_factory):
    """One expression-trained and one identity-trained instance (the CI-sized runs)."""
    out = tmp_path_factory.mktemp("trained")
    summaries = {objective: train_networks(faces, out / objective, TINY, objective=objective)
                 for objective in ("expression", "identity")}
    return out, summaries


def test_both_objectives_learn_well_above_chance(trained):
    out, summaries = trained
    expression, identity = summaries["expression"].iloc[0], summaries["identity"].iloc[0]
    assert expression["chance"] == 0.25 and expression["val_accuracy"] >= 0.5, expression
    assert identity["chance"] == pytest.approx(1 / 30) and identity["val_accuracy"] >= 0.2
    history = pd.read_csv(out / "expression" / "instance-0" / "history.tsv", sep="\t")
    assert list(history["epoch"]) == list(range(1, 21))
    assert history["learning_rate"].iloc[0] == 0.05 and history["learning_rate"].iloc[-1] \
        == 0.025  # halved after lr_step epochs
    assert (out / "expression" / "report.html").is_file()
    assert (out / "expression" / "instance-0" / "history.png").stat().st_size > 1000
    page = (out / "expression" / "instance-0" / "report.html").read_text()
    assert "reached a validation accuracy of" in page and "chance is 0.250" in page


def test_the_manifest_records_how_the_weights_were_made(trained, faces):
    from ieegrsa.models.base import file_sha256

    out, _ = trained
    folder = out / "expression" / "instance-0"
    manifest = json.loads((folder / "weights.json").read_text())
    assert manifest["architecture"] == "densenet_face" and manifest["objective"] == "expression"
    assert manifest["classes"] == sorted(EXPRESSIONS)
    assert manifest["options"]["num_classes"] == 4 and manifest["options"]["size"] == 32
    assert manifest["seed"] == 3 and manifest["instance"] == 0
    assert manifest["weights_sha256"] == file_sha256(folder / "weights.pt")
    assert manifest["data"]["format"] == "table" and len(manifest["data"]["content_sha256"]) == 64
    assert manifest["training"]["epochs"] == 20 and "torch" in manifest["versions"]
    assert manifest["final"]["val_accuracy"] == pytest.approx(
        pd.read_csv(folder / "history.tsv", sep="\t")["val_accuracy"].iloc[-1])
    # the weights' sha256 is what the feature cache keys on
    from ieegrsa.models import get_extractor

    extractor = get_extractor("densenet_face", **manifest["options"])
    assert extractor.weights_id(folder / "weights.pt") == \
        f"file:sha256={manifest['weights_sha256']}"
    # the weights load without unpickling anything
    state = torch.load(folder / "weights.pt", weights_only=True)
    assert "classifier.weight" in state and state["classifier.weight"].shape[0] == 4


def _last_layer_rdm(weights, images, objective):
    from ieegrsa.models import extract_features, get_extractor

    options = dict(TINY["training"]["options"], num_classes=4 if objective == "expression"
                   else 30, objective=objective)
    features = extract_features(get_extractor("densenet_face", **options), images,
                                layers=["avgpool"], weights=weights, seed=3)
    return pdist(features["avgpool"], "correlation")


@pytest.mark.parametrize("objective", ["expression", "identity"])
def test_trained_layer_looks_like_its_objective(trained, faces, tmp_path, objective):
    """The trained network's last layer RDM is closer to its objective's categorical RDM than
    the untrained control's is: for expression on new people; for identity on the people it
    learned (8 of them, every expression and variant: a new person has no identity class)."""
    out, _ = trained
    if objective == "expression":
        stimuli = _faces(tmp_path, 8, 1, seed=99)
        images = [tmp_path / name for name in stimuli["stim_file"]]
    else:
        stimuli = pd.read_csv(faces, sep="\t")
        stimuli = stimuli[stimuli["identity"] < "id08"].rename(columns={"label": "expression"})
        images = [faces.parent / name for name in stimuli["image"]]
    column = "expression" if objective == "expression" else "identity"
    codes = pd.factorize(stimuli[column])[0][:, None]
    model = pdist(codes, lambda a, b: float(a[0] != b[0]))
    weights = out / objective / "instance-0" / "weights.pt"
    trained_rho = spearmanr(_last_layer_rdm(weights, images, objective), model)[0]
    control_rho = spearmanr(_last_layer_rdm("random", images, objective), model)[0]
    assert trained_rho > control_rho + 0.05, (trained_rho, control_rho)


def test_trained_instances_are_models_networks_weights(trained, tmp_path):
    """A training output folder as a weights entry: every instance, objective and head from the
    manifest, the weights' sha256 in the feature provenance; a wrong architecture is refused."""
    from ieegrsa.config import load_config
    from ieegrsa.models import configured

    out, _ = trained
    stimuli = _faces(tmp_path, 3, 1, seed=5)
    config = load_config({"models": {"categorical": [], "cache_dir": None, "networks": [
        {"name": "densenet_face", "weights": [str(out / "expression"), "random"],
         "layers": ["avgpool"], "crop": "none"}]}})
    rdms = configured.configured_model_rdms(stimuli, stimuli["stim_file"], config.models,
                                            condition_column="stim_file", stimuli_root=tmp_path)
    assert rdms.descriptors["objective"].tolist() == ["expression", "untrained"]
    assert rdms.descriptors["instance"].tolist() == [0, 1]
    wrong = load_config({"models": {"categorical": [], "cache_dir": None, "networks": [
        {"name": "resnet18_gray", "weights": [str(out / "expression")]}]}})
    with pytest.raises(DataError, match="trained for another architecture"):
        configured.configured_model_rdms(stimuli, stimuli["stim_file"], wrong.models,
                                         condition_column="stim_file", stimuli_root=tmp_path)
    with pytest.raises(DataError, match="holds no trained instance"):
        from ieegrsa.models.trained import expand_trained_weights

        expand_trained_weights([str(tmp_path)])


def _train_cli(faces, out, config, *extra):
    return [sys.executable, "-m", "ieegrsa.cli", "train", str(faces), str(out),
            "--objective", "expression", "--config", str(config), *extra]


def test_a_killed_run_resumes_bit_identically(faces, tmp_path):
    """SIGKILL mid-run, then --resume: the final weights equal an uninterrupted run's."""
    import yaml

    config = tmp_path / "config.yaml"
    settings = json.loads(json.dumps(TINY))
    settings["training"]["epochs"] = 8
    config.write_text(yaml.safe_dump(settings))
    whole = tmp_path / "whole"
    subprocess.run(_train_cli(faces, whole, config), check=True, capture_output=True,
                   timeout=600)
    killed = tmp_path / "killed"
    process = subprocess.Popen(_train_cli(faces, killed, config), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    history = killed / "instance-0" / "history.tsv"
    deadline = time.time() + 300
    while time.time() < deadline:
        if history.is_file() and len(history.read_text().splitlines()) >= 4:  # 3 epochs
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "instance-0" / "weights.pt").exists()
    # without --resume the checkpoint is not overwritten: one clear message, exit 2
    again = subprocess.run(_train_cli(faces, killed, config), capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 2 and "--resume" in again.stderr and "Traceback" not in \
        again.stderr
    subprocess.run(_train_cli(faces, killed, config, "--resume"), check=True,
                   capture_output=True, timeout=600)
    a = torch.load(whole / "instance-0" / "weights.pt", weights_only=True)
    b = torch.load(killed / "instance-0" / "weights.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert pd.read_csv(killed / "instance-0" / "history.tsv", sep="\t")["epoch"].tolist() \
        == list(range(1, 9))


def test_resuming_with_other_data_is_refused(faces, tmp_path):
    out = tmp_path / "out"
    train_networks(faces, out, TINY, objective="expression", stop_after=1)
    other = tmp_path / "other"
    _faces(other, 30, 3, seed=1)
    with pytest.raises(DataError, match="another run"):
        train_networks(other / "faces.tsv", out, TINY, objective="expression", resume=True)


def test_bad_input_is_one_message(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("emotion,pixels\n0,1 2 3\n")
    run = subprocess.run([sys.executable, "-m", "ieegrsa.cli", "train", str(bad),
                          str(tmp_path / "out"), "--objective", "expression"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.count("ieegrsa: error:") == 1 and "bad.csv" in run.stderr
    with pytest.raises(DataError, match="needs an objective"):
        train_networks(bad, tmp_path / "out", None)


def _four_layouts(root: Path) -> dict:
    """The same simulated faces as FER2013's CSV, CelebA's files, class folders and a table."""
    from PIL import Image

    table = _faces(root / "table", 12, 2, seed=4)
    source = root / "table"
    fer_codes = {"angry": 0, "happy": 3, "sad": 4, "neutral": 6}
    pixels = [" ".join(map(str, np.asarray(Image.open(source / name).convert("L")
                                            .resize((48, 48))).ravel()))
              for name in table["image"]]
    usage = np.where(table["identity"] < "id09", "Training", "PublicTest")
    pd.DataFrame({"emotion": table["label"].map(fer_codes), "pixels": pixels,
                  "Usage": usage}).to_csv(root / "fer2013.csv", index=False)
    celeba = root / "celeba"
    (celeba / "img_align_celeba").mkdir(parents=True)
    lines = []
    for k, (name, identity) in enumerate(zip(table["image"], table["identity"], strict=True)):
        file = f"{k + 1:06d}.jpg"
        Image.open(source / name).convert("RGB").save(celeba / "img_align_celeba" / file)
        lines.append(f"{file} {int(identity[2:]) + 1}")
    (celeba / "identity_CelebA.txt").write_text("\n".join(lines) + "\n")
    folder = root / "folders"
    for name, label in zip(table["image"], table["label"], strict=True):
        (folder / label).mkdir(parents=True, exist_ok=True)
        (folder / label / Path(name).name).write_bytes((source / name).read_bytes())
    return {"fer2013": (root / "fer2013.csv", "expression"),
            "celeba": (celeba, "identity"),
            "folder": (folder, "expression"),
            "table": (source / "faces.tsv", "expression")}


def test_every_layout_trains_seeded_instances(tmp_path):
    """ieegrsa train from each of the four layouts: N instances, each its own seed, manifest
    and history; the format is recognised and recorded."""
    settings = json.loads(json.dumps(TINY))
    settings["training"].update(epochs=2, instances=2)
    for layout, (data, objective) in _four_layouts(tmp_path / "data").items():
        out = tmp_path / layout
        summary = train_networks(data, out, settings, objective=objective)
        assert summary["instance"].tolist() == [0, 1] and summary["seed"].tolist() == [3, 4]
        manifests = [json.loads((out / f"instance-{k}" / "weights.json").read_text())
                     for k in (0, 1)]
        assert {m["data"]["format"] for m in manifests} == {layout}, layout
        assert manifests[0]["weights_sha256"] != manifests[1]["weights_sha256"]
        assert len(pd.read_csv(out / "instance-1" / "history.tsv", sep="\t")) == 2
        if layout == "fer2013":  # FER2013's seven expressions are the head, present or not
            assert len(manifests[0]["classes"]) == 7


@pytest.mark.measurement
@pytest.mark.realdata
def test_london_expression_on_held_out_people(shared_data, tmp_path):
    """The London faces (neutral vs smiling), people split 80 / 22: the study's DenseNet-13
    (growth 32, 48 px) trained from scratch on CPU classifies the 44 held-out photos at >= 85%.

    About 10 minutes on 2 cores, so not in CI (``pytest -m measurement``); measured here: 0.909
    after 100 epochs (0.82-0.93 over the last 40). The recipe is the study's schedule (learning
    rate 0.1 halved every 30 epochs, flips) with batch 16 instead of 64 (160 training photos
    give 3 steps an epoch at 64), faces cut out as the stimuli are (crop detect), and BatchNorm
    statistics re-estimated before each validation. Shifts, growth 12 or 60 epochs stayed
    below 0.85 (0.80-0.84).
    """
    london = shared_data / "faces" / "london"
    rows = [{"image": str(path), "label": kind, "identity": path.name.split("_")[0]}
            for kind, code in (("neutral", "03"), ("smiling", "08"))
            for path in sorted((london / kind).glob(f"*_{code}.jpg"))]
    if len(rows) != 204:
        pytest.skip("needs the 204 London photos")
    pd.DataFrame(rows).to_csv(tmp_path / "london.tsv", sep="\t", index=False)
    settings = {"random_seed": 0, "training": {
        "epochs": 100, "instances": 1, "batch_size": 16, "augment": ["flip"],
        "crop": "detect", "val_fraction": 22 / 102}}
    summary = train_networks(tmp_path / "london.tsv", tmp_path / "out", settings,
                             objective="expression")
    manifest = json.loads((tmp_path / "out" / "instance-0" / "weights.json").read_text())
    assert manifest["data"]["images"]["val"] == {"neutral": 22, "smiling": 22}
    assert manifest["options"]["depth"] == 13 and manifest["options"]["growth_rate"] == 32
    assert summary["val_accuracy"].iloc[0] >= 0.85, summary


def test_training_settings_do_not_change_the_analysis_hash():
    from ieegrsa.bids.derivatives import config_hash

    assert config_hash({"training": {"epochs": 3, "objective": "identity"}}) == config_hash(None)
    assert config_hash({"rsa": {"step": 0.05}}) != config_hash(None)
