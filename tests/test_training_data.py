"""Face-image training sets read as distributed (issue 18, items 1 and 5): FER2013's CSV,
CelebA's identity and partition files, a class-folder tree, a table, a BIDS stimulus table;
written here from real London faces, read back exactly, with the split rule and every bad-input
message."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ieegrsa.errors import DataError
from ieegrsa.training import FER2013_CLASSES, FaceDataset, read_face_dataset

N_IDS = 20  # 20 identities × neutral / smiling = 40 images


@pytest.fixture(scope="module")
def faces(london_photos):
    """(path, identity, expression) of 20 London identities, neutral and smiling."""
    neutral, smiling = london_photos[:102], london_photos[102:]
    rows = []
    for n, s in zip(neutral[:N_IDS], smiling[:N_IDS]):
        identity = n.name[:3]
        assert s.name[:3] == identity
        rows += [(n, identity, "neutral"), (s, identity, "smiling")]
    return rows


def _grey48(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("L").resize((48, 48), Image.Resampling.BICUBIC))


def _small_png(path, target, side=64):
    from PIL import Image

    with Image.open(path) as image:
        image.convert("RGB").resize((side, side), Image.Resampling.BICUBIC).save(target)


def _write_fer(path, faces, usage=None, columns=("emotion", "pixels", "Usage")):
    code = {"neutral": FER2013_CLASSES.index("neutral"), "smiling": FER2013_CLASSES.index("happy")}
    rows, arrays = [], []
    for k, (image, identity, expression) in enumerate(faces):
        pixels = _grey48(image)
        arrays.append(pixels)
        part = usage[k] if usage else ("Training" if int(identity) % 5 else "PublicTest")
        rows.append({"emotion": code[expression], "pixels": " ".join(map(str, pixels.ravel())),
                     "Usage": part})
    pd.DataFrame(rows)[list(columns)].to_csv(path, index=False)
    return np.stack(arrays)


@pytest.fixture(scope="module")
def fer(tmp_path_factory, faces):
    path = tmp_path_factory.mktemp("fer") / "fer2013.csv"
    return path, _write_fer(path, faces)


# ---------------------------------------------------------------------------- FER2013


def test_fer2013_round_trip_is_exact(fer, faces):
    path, arrays = fer
    data = read_face_dataset(path, objective="expression")
    assert isinstance(data, FaceDataset) and data.format == "fer2013"
    assert data.images.shape == (40, 1, 48, 48) and data.images.dtype == np.uint8
    np.testing.assert_array_equal(data.images[:, 0], arrays)  # every grey value 0-255 back
    assert data.classes == list(FER2013_CLASSES) and data.chance == pytest.approx(1 / 7)
    expected = ["happy" if e == "smiling" else "neutral" for _, _, e in faces]
    assert [data.classes[k] for k in data.labels] == expected
    held = {i for _, i, _ in faces if int(i) % 5 == 0}
    assert [s == "val" for s in data.split] == [i in held for _, i, _ in faces]
    assert data.identities is None and data.names[0] == "fer2013.csv:2"
    assert data.summary()["val"]["happy"] == len(held) and data.summary()["train"]["angry"] == 0
    assert data.majority_rate("val") == pytest.approx(0.5)
    assert np.array_equal(data.as_float()[0, 0], arrays[0] / np.float32(255))
    # other sizes and RGB go through PIL (bicubic) from the same grey values
    small = read_face_dataset(path, objective="expression", image_size=32, grayscale=False)
    assert small.images.shape == (40, 3, 32, 32)
    assert np.array_equal(small.images[:, 0], small.images[:, 2])


def test_fer2013_classes_are_fers(fer):
    from ieegrsa.models.fer import FER_EXPRESSIONS

    assert FER2013_CLASSES == FER_EXPRESSIONS


def test_fer2013_hash_follows_the_bytes(fer, tmp_path):
    path, _ = fer
    first = read_face_dataset(path, objective="expression").content_sha256
    assert read_face_dataset(path, objective="expression").content_sha256 == first
    text = path.read_text().splitlines()
    row = text[5].split(",")
    pixels = row[1].split(" ")
    pixels[100] = str((int(pixels[100]) + 1) % 256)  # one pixel of one face
    text[5] = ",".join([row[0], " ".join(pixels), row[2]])
    changed = tmp_path / path.name
    changed.write_text("\n".join(text) + "\n")
    assert read_face_dataset(changed, objective="expression").content_sha256 != first
    renamed = tmp_path / "another_name.csv"
    shutil.copy(path, renamed)
    assert read_face_dataset(renamed, objective="expression").content_sha256 == first
    with pytest.raises(DataError, match="already 48×48 face crops"):
        read_face_dataset(path, objective="expression", crop="detect")


def test_fer2013_refusals(fer, tmp_path, faces):
    path, _ = fer
    with pytest.raises(DataError, match="FER2013 labels expressions") as err:
        read_face_dataset(path, objective="identity")
    assert err.value.field == "objective"
    wrong = tmp_path / "wrong.csv"
    pd.read_csv(path).rename(columns={"pixels": "pixel"}).to_csv(wrong, index=False)
    with pytest.raises(DataError, match="neither FER2013") as err:
        read_face_dataset(wrong, objective="expression")
    assert "pixel" in str(err.value) and err.value.file == str(wrong)
    with pytest.raises(DataError, match="needs the column") as err:
        read_face_dataset(wrong, format="fer2013", objective="expression")
    assert err.value.field == "columns" and "pixels" in err.value.what
    short = tmp_path / "short.csv"
    table = pd.read_csv(path)
    for row in (1, 3):  # file lines 3 and 5
        table.loc[row, "pixels"] = " ".join(table.loc[row, "pixels"].split()[:-4])
    table.to_csv(short, index=False)
    with pytest.raises(DataError, match="2,304 pixel values") as err:
        read_face_dataset(short, objective="expression")
    assert err.value.field == "pixels" and "lines 3, 5" in str(err.value)
    assert "2300" in str(err.value)
    usage = tmp_path / "usage.csv"
    table = pd.read_csv(path)
    table.loc[2, "Usage"] = "Holdout"
    table.to_csv(usage, index=False)
    with pytest.raises(DataError, match="unknown Usage") as err:
        read_face_dataset(usage, objective="expression")
    assert "line 4: Holdout" in str(err.value)
    codes = tmp_path / "codes.csv"
    table = pd.read_csv(path)
    table.loc[0, "emotion"] = 7
    table.to_csv(codes, index=False)
    with pytest.raises(DataError, match="outside 0-6"):
        read_face_dataset(codes, objective="expression")
    values = tmp_path / "values.csv"
    table = pd.read_csv(path)
    table.loc[4, "pixels"] = "256 " + table.loc[4, "pixels"].split(" ", 1)[1]
    table.to_csv(values, index=False)
    with pytest.raises(DataError, match="not integers 0-255") as err:
        read_face_dataset(values, objective="expression")
    assert "line 6" in str(err.value)


def test_fer2013_without_usage_draws_the_split(tmp_path, faces):
    path = tmp_path / "nousage.csv"
    _write_fer(path, faces, columns=("emotion", "pixels"))
    data = read_face_dataset(path, objective="expression", seed=3)
    assert data.settings["split_rule"] == "stratified"
    assert data.summary()["val"] == {**dict.fromkeys(FER2013_CLASSES, 0), "happy": 4,
                                     "neutral": 4}
    again = read_face_dataset(path, objective="expression", seed=3)
    assert np.array_equal(again.split, data.split)
    other = read_face_dataset(path, objective="expression", seed=4)
    assert not np.array_equal(other.split, data.split)


# ----------------------------------------------------------------------------- CelebA


def _write_celeba(root, faces, *, extra=(), partition=True, missing=0):
    """CelebA layout from the London faces: identity number = London face number; ``extra``
    identities get a third (mirrored) image."""
    from PIL import Image

    folder = root / "img_align_celeba"
    folder.mkdir(parents=True)
    lines, parts = [], []
    k = 0
    items = [(p, i) for p, i, _ in faces] + [(p, i) for p, i, e in faces
                                             if i in extra and e == "neutral"]
    for n, (path, identity) in enumerate(items):
        k += 1
        name = f"{k:06d}.jpg"
        with Image.open(path) as image:
            if n >= len(faces):
                image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            image.convert("RGB").resize((89, 109)).save(folder / name, quality=95)
        lines.append(f"{name} {int(identity)}")
        parts.append(f"{name} {0 if int(identity) % 4 else 1}")  # identities apart, as CelebA
    for j in range(missing):
        lines.append(f"{k + j + 1:06d}.jpg 9{j}")
    (root / "identity_CelebA.txt").write_text("\n".join(lines) + "\n")
    if partition:
        (root / "list_eval_partition.txt").write_text("\n".join(parts) + "\n")
    return items


def test_celeba_identity_and_top_k(tmp_path, faces):
    root = tmp_path / "celeba"
    _write_celeba(root, faces, extra={"013", "007"})
    data = read_face_dataset(root, objective="identity")
    assert data.format == "celeba" and len(data) == 42 and data.images.shape[1:] == (1, 48, 48)
    ids = sorted({str(int(i)) for _, i, _ in faces}, key=int)
    assert data.classes == ids and data.chance == pytest.approx(1 / 20)
    # CelebA's partition keeps people apart: identity training draws its own split, within
    # identity, every person in training and validation
    assert data.settings["split_rule"] == "stratified"
    for label in range(len(ids)):
        assert {"train", "val"} <= set(data.split[data.labels == label])
    assert np.array_equal(data.identities, np.array(data.classes, dtype=object)[data.labels])
    assert data.names[0] == "img_align_celeba/000001.jpg"
    # top_k: most images first (7 and 13 have three), ties by identity number
    top = read_face_dataset(root, objective="identity", top_k=4)
    assert top.classes == ["1", "2", "7", "13"] and len(top) == 10
    assert read_face_dataset(root, objective="identity", top_k=100).classes == ids
    # the given partition cannot serve identity classification: one message says so
    with pytest.raises(DataError, match="have no validation images") as err:
        read_face_dataset(root, objective="identity", split_rule="given")
    assert err.value.field == "partition" and "split_rule='stratified'" in err.value.fix
    assert err.value.file.endswith("list_eval_partition.txt")
    with pytest.raises(DataError, match="labels identities, not expressions"):
        read_face_dataset(root, objective="expression")
    with pytest.raises(DataError, match="keeps the identities"):
        read_face_dataset(root, objective="expression", format="folder", top_k=3)


def test_celeba_missing_images_are_listed(tmp_path, faces):
    root = tmp_path / "celeba"
    _write_celeba(root, faces[:10], partition=False, missing=7)
    with pytest.raises(DataError, match="7 of 17 image") as err:
        read_face_dataset(root, objective="identity")
    message = str(err.value)
    assert "000011.jpg" in message and "(7 in all)" in message
    assert err.value.file.endswith("identity_CelebA.txt")
    text = (root / "identity_CelebA.txt").read_text().replace("000002.jpg 1", "000002.jpg")
    (root / "identity_CelebA.txt").write_text(text)
    with pytest.raises(DataError, match="not 'image value' pairs") as err:
        read_face_dataset(root, objective="identity")
    assert "line 2" in str(err.value)


# ----------------------------------------------------------------- folder tree and hash


def _write_tree(root, faces, order, side=64):
    for k in order:
        path, identity, expression = faces[k]
        (root / expression).mkdir(parents=True, exist_ok=True)
        _small_png(path, root / expression / f"{identity}.png", side=side)


def test_folder_tree_and_a_hash_independent_of_order(tmp_path, faces):
    order = list(range(len(faces)))
    _write_tree(tmp_path / "a", faces, order)
    random.Random(1).shuffle(order)
    _write_tree(tmp_path / "b", faces, order)  # the same files written in another order
    a = read_face_dataset(tmp_path / "a", objective="expression")
    b = read_face_dataset(tmp_path / "b", objective="expression")
    assert a.format == "folder" and a.classes == ["neutral", "smiling"]
    assert a.content_sha256 == b.content_sha256
    assert np.array_equal(a.images, b.images) and np.array_equal(a.split, b.split)
    assert a.summary() == {"train": {"neutral": 16, "smiling": 16},
                           "val": {"neutral": 4, "smiling": 4}}
    assert a.names[0] == "neutral/001.png" and a.identities is None
    assert list(a.indices("val")) == list(np.flatnonzero(a.split == "val")) and len(a) == 40
    # one pixel of one image changes the hash
    from PIL import Image

    target = tmp_path / "b" / "smiling" / faces[7][1]
    target = target.with_suffix(".png")
    pixels = np.asarray(Image.open(target)).copy()
    pixels[10, 10, 0] ^= 1
    Image.fromarray(pixels).save(target)
    assert read_face_dataset(tmp_path / "b", objective="expression").content_sha256 \
        != a.content_sha256


def test_empty_folders_and_unknown_format(tmp_path, faces):
    with pytest.raises(DataError, match="no class folders with images") as err:
        read_face_dataset(tmp_path, objective="expression")
    assert "an empty folder" in str(err.value)
    shutil.copy(faces[0][0], tmp_path / "loose.jpg")
    with pytest.raises(DataError, match="no class folders"):
        read_face_dataset(tmp_path, objective="expression")
    (tmp_path / "happy").mkdir()
    with pytest.raises(DataError, match="directly in it; class folders happy without images"):
        read_face_dataset(tmp_path, objective="expression")
    with pytest.raises(DataError, match="unknown format") as err:
        read_face_dataset(tmp_path, format="pickle", objective="expression")
    assert "choose one of 'fer2013', 'celeba', 'folder', 'table'" in str(err.value)
    with pytest.raises(DataError, match="does not exist"):
        read_face_dataset(tmp_path / "nothing", objective="expression")
    with pytest.raises(DataError, match="unknown objective"):
        read_face_dataset(tmp_path, objective="age")
    with pytest.raises(DataError, match="reads a CSV file, not a folder"):
        read_face_dataset(tmp_path, format="fer2013", objective="expression")
    with pytest.raises(DataError, match="no CelebA identity file"):
        read_face_dataset(tmp_path, format="celeba", objective="identity")


# --------------------------------------------------------------- table and the rule


@pytest.fixture(scope="module")
def table_dir(tmp_path_factory, faces):
    root = tmp_path_factory.mktemp("table")
    (root / "images").mkdir()
    rows = []
    for path, identity, expression in faces:
        name = f"images/{identity}_{expression}.png"
        _small_png(path, root / name, side=56)
        rows.append({"image": name, "label": expression, "identity": identity})
    pd.DataFrame(rows).to_csv(root / "faces.tsv", sep="\t", index=False)
    return root


def _table(root, name, **columns) -> Path:
    table = pd.read_csv(root / "faces.tsv", sep="\t", dtype=str)
    for column, values in columns.items():
        table[column] = values
    path = root / f"{name}.tsv"  # beside the images
    table.to_csv(path, sep="\t", index=False)
    return path


def test_table_expression_splits_by_identity(table_dir):
    data = read_face_dataset(table_dir / "faces.tsv", objective="expression", seed=0)
    assert data.format == "table" and data.settings["split_rule"] == "identity"
    train = set(data.identities[data.split == "train"])
    val = set(data.identities[data.split == "val"])
    assert not train & val and len(val) == 4 and len(train) == 16  # 20 % of 20 people
    assert data.summary()["val"] == {"neutral": 4, "smiling": 4}
    again = read_face_dataset(table_dir / "faces.tsv", objective="expression", seed=0)
    assert np.array_equal(again.split, data.split)
    three = read_face_dataset(table_dir / "faces.tsv", objective="expression",
                              val_fraction=0.2, test_fraction=0.1, seed=1)
    assert {s: len(set(three.identities[three.split == s])) for s in ("train", "val", "test")} \
        == {"train": 14, "val": 4, "test": 2}


def test_the_identity_rule_both_ways(table_dir):
    # a given split with the same people in training and validation
    split = ["val" if k % 4 in (1, 2) and k < 30 else "train" for k in range(40)]
    path = _table(table_dir, "overlap", split=split)
    with pytest.raises(DataError, match="identit.*in training and in validation/test") as err:
        read_face_dataset(path, objective="expression")
    assert err.value.field == "split" and "001" in str(err.value)
    assert "allow_identity_overlap=True" in err.value.fix and "split_rule='identity'" in \
        err.value.fix
    data = read_face_dataset(path, objective="expression", allow_identity_overlap=True)
    assert list(data.split) == split
    # a stratified draw mixes people too: refused, or accepted when asked
    with pytest.raises(DataError, match="in training and in validation"):
        read_face_dataset(table_dir / "faces.tsv", objective="expression",
                          split_rule="stratified")
    mixed = read_face_dataset(table_dir / "faces.tsv", objective="expression",
                              split_rule="stratified", allow_identity_overlap=True)
    assert set(mixed.identities[mixed.split == "train"]) & set(
        mixed.identities[mixed.split == "val"])
    # a given split by person passes
    by_person = ["val" if int(i) % 5 == 0 else "train"
                 for i in pd.read_csv(table_dir / "faces.tsv", sep="\t", dtype=str)["identity"]]
    path = _table(table_dir, "by_person", split=by_person)
    assert list(read_face_dataset(path, objective="expression").split) == by_person


def test_identity_objective_on_a_table(table_dir):
    table = pd.read_csv(table_dir / "faces.tsv", sep="\t", dtype=str).drop(index=[3])
    path = table_dir / "one_short.tsv"
    table.to_csv(path, sep="\t", index=False)
    with pytest.warns(UserWarning, match="1 identit.* fewer than 2 images.*002"):
        data = read_face_dataset(path, objective="identity")  # the identity column: the label
    assert len(data.classes) == 19 and "002" not in data.classes and len(data) == 38
    assert all(set(data.split[data.labels == k]) == {"train", "val"} for k in range(19))
    with pytest.raises(DataError, match="unseen in training"):
        read_face_dataset(path, objective="identity", label_column="identity",
                          split_rule="identity")


def test_a_class_without_validation_images(table_dir):
    labels = pd.read_csv(table_dir / "faces.tsv", sep="\t", dtype=str)["label"]
    identities = pd.read_csv(table_dir / "faces.tsv", sep="\t", dtype=str)["identity"]
    split = ["val" if lab == "neutral" and int(i) % 5 == 0 else "train"
             for lab, i in zip(labels, identities)]
    path = _table(table_dir, "no_val", split=split)
    with pytest.raises(DataError, match="1 class.* no validation images") as err:
        read_face_dataset(path, objective="expression", allow_identity_overlap=True)
    assert "smiling" in str(err.value) and err.value.field == "split"
    with pytest.raises(DataError, match="unknown split"):
        read_face_dataset(_table(table_dir, "dev", split=["dev"] * 40),
                          objective="expression")
    with pytest.raises(DataError, match="gives no split"):
        read_face_dataset(table_dir / "faces.tsv", objective="expression", split_rule="given")


def test_labels_against_the_heads_classes(table_dir):
    path = table_dir / "faces.tsv"
    data = read_face_dataset(path, objective="expression", classes=["smiling", "fear", "neutral"])
    assert data.classes == ["smiling", "fear", "neutral"] and set(data.labels) == {0, 2}
    assert data.chance == pytest.approx(1 / 3)
    with pytest.raises(DataError, match="1 label.* not among the head's 2 classes") as err:
        read_face_dataset(path, objective="expression", classes=["neutral", "happy"])
    assert "smiling" in str(err.value) and err.value.field == "classes"


def test_table_refusals(table_dir):
    table = pd.read_csv(table_dir / "faces.tsv", sep="\t", dtype=str)
    bad = table_dir / "columns.tsv"
    table.rename(columns={"image": "file"}).to_csv(bad, sep="\t", index=False)
    with pytest.raises(DataError, match="needs the column.* image") as err:
        read_face_dataset(bad, format="table", objective="expression")
    assert "file" in str(err.value)
    gone = table_dir / "gone.tsv"
    table.assign(image=[f"images/x{k}.png" if k < 6 else v
                        for k, v in enumerate(table["image"])]).to_csv(gone, sep="\t",
                                                                       index=False)
    with pytest.raises(DataError, match="6 of 40 image.* missing") as err:
        read_face_dataset(gone, objective="expression")
    assert "images/x0.png" in str(err.value) and "(6 in all)" in str(err.value)
    blank = table_dir / "blank.tsv"
    table.assign(label=["n/a"] + list(table["label"][1:])).to_csv(blank, sep="\t", index=False)
    with pytest.raises(DataError, match="lack an image or a label") as err:
        read_face_dataset(blank, objective="expression")
    assert "line 2" in str(err.value)


def test_bids_stimulus_table(tmp_path, faces):
    root = tmp_path / "bids"
    (root / "stimuli" / "faces").mkdir(parents=True)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "x",
                                                               "BIDSVersion": "1.9.0"}))
    rows = []
    for path, identity, expression in faces[:12]:
        name = f"faces/{identity}_{expression}.png"
        _small_png(path, root / "stimuli" / name)
        rows.append({"stim_file": name, "identity": identity, "expression": expression,
                     "category": "face"})
    rows.append({"stim_file": "objects/house.png", "identity": "n/a", "expression": "n/a",
                 "category": "nonface"})
    pd.DataFrame(rows).to_csv(root / "stimuli" / "stimuli.tsv", sep="\t", index=False)
    data = read_face_dataset(root, objective="expression", val_fraction=1 / 3)
    assert data.format == "table" and len(data) == 12 and data.classes == ["neutral", "smiling"]
    assert data.names[0] == "stimuli/faces/001_neutral.png"
    assert not set(data.identities[data.split == "train"]) & set(
        data.identities[data.split == "val"])
    who = read_face_dataset(root, objective="identity", image_size=24)
    assert who.classes == [f"{k:03d}" for k in range(1, 7)] and who.images.shape[-1] == 24


def test_detected_face_crops(tmp_path, faces):
    pytest.importorskip("dlib")
    _write_tree(tmp_path / "t", faces[:4], range(4), side=192)
    whole = read_face_dataset(tmp_path / "t", objective="expression", val_fraction=0.5)
    found = read_face_dataset(tmp_path / "t", objective="expression", val_fraction=0.5,
                              crop="detect", cache_dir=tmp_path / "cache")
    assert found.images.shape == whole.images.shape == (4, 1, 48, 48)
    assert found.settings["crop"] == "detect" and found.content_sha256 == whole.content_sha256
    # the face fills the crop: its pixels differ from the whole photo's
    assert np.abs(found.images.astype(int) - whole.images.astype(int)).mean() > 10
