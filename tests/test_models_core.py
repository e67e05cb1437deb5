"""Feature extraction core: registry and plugins, torchvision backbones, images, cache, reduction.

Small random-weight networks at small image sizes keep this fast; nothing is downloaded.
References: plain forward hooks written here, PIL, numpy slicing, scikit-learn's PCA,
hashlib.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
import urllib.error

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from PIL import Image  # noqa: E402

from ieegrsa.errors import DataError  # noqa: E402
from ieegrsa.models import registry  # noqa: E402
from ieegrsa.models.backbones import TorchvisionExtractor  # noqa: E402
from ieegrsa.models.cache import default_cache_dir, resolve_cache_dir  # noqa: E402
from ieegrsa.models.extract import extract_features, pca_scores, sparse_projection  # noqa: E402
from ieegrsa.models.images import ImageSet, landmark_boxes, read_landmarks  # noqa: E402
from ieegrsa.models.registry import (  # noqa: E402
    Extractor,
    InputSpec,
    get_extractor,
    list_extractors,
    register_extractor,
)

SMALL = {"size": 32, "resize": None}  # 32×32 input, no crop: fast
MEAN, STD = np.array(registry.IMAGENET_MEAN), np.array(registry.IMAGENET_STD)


@pytest.fixture
def arrays():
    """Six random uint8 RGB images 40×48 (H×W)."""
    return np.random.default_rng(0).integers(0, 256, (6, 40, 48, 3), dtype=np.uint8)


@pytest.fixture
def clean_registry(monkeypatch):
    """A private copy of the registry, so registrations do not leak between tests."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


class TinyNet(Extractor):
    """A 3-layer conv net with 16×16 input, for plugin tests."""

    name = "tiny_net"
    objective = "custom"
    input_spec = InputSpec(size=16, resize=None)

    def create(self):
        return torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(), torch.nn.Linear(4, self.options.get("num_classes", 2)),
        )


def plain_hooks(module, batch, names):
    """Reference: forward hooks written out, independent of ieegrsa's helpers."""
    out = {}
    modules = dict(module.named_modules())
    handles = [modules[n].register_forward_hook(
        lambda _m, _i, o, n=n: out.__setitem__(n, o.detach().clone())) for n in names]
    with torch.no_grad():
        module(batch)
    for handle in handles:
        handle.remove()
    return out


# --- registry -----------------------------------------------------------------------------

def test_unknown_extractor_lists_valid_names_and_suggests():
    with pytest.raises(DataError) as err:
        get_extractor("resnet5O")
    message = str(err.value)
    assert "did you mean 'resnet50'" in message
    for name in ("alexnet", "resnet18", "vit_b_16", "squeezenet1_0"):
        assert name in message


def test_list_extractors_has_every_torchvision_classifier():
    names = list_extractors()
    assert set(torchvision.models.list_models(module=torchvision.models)) <= set(names)
    assert "fasterrcnn_resnet50_fpn" not in names  # detection models are not classifiers
    assert names == sorted(names)


def test_register_extractor_and_overwrite(clean_registry):
    register_extractor("tiny_net", TinyNet)
    extractor = get_extractor("tiny_net", num_classes=5)
    assert isinstance(extractor, TinyNet) and extractor.options == {"num_classes": 5}
    assert "tiny_net" in list_extractors()

    class Other(TinyNet):
        pass

    with pytest.raises(DataError, match="already registered"):
        register_extractor("tiny_net", Other)
    register_extractor("tiny_net", Other, overwrite=True)
    assert type(get_extractor("tiny_net")) is Other
    with pytest.raises(DataError, match="invalid options"):
        get_extractor("resnet18", no_such_option=1).layers()


PLUGIN_SOURCE = '''
import torch
from ieegrsa.models.registry import Extractor, InputSpec

class FakeNet(Extractor):
    objective = "identity"
    input_spec = InputSpec(size=16, resize=None, grayscale=True, mean=(0.5,), std=(0.25,))

    def create(self):
        return torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.ReLU(),
                                   torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())

    def default_layers(self):
        return ["0", "3"]
'''


def test_plugin_through_entry_point(tmp_path, monkeypatch, arrays):
    """A package installed with an ``ieegrsa.extractors`` entry point adds a network."""
    (tmp_path / "fakeplug.py").write_text(PLUGIN_SOURCE)
    dist = tmp_path / "fakeplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[ieegrsa.extractors]\nfake_net = fakeplug:FakeNet\nbroken_net = fakeplug:Missing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    names = list_extractors()
    assert {"fake_net", "broken_net"} <= set(names)
    extractor = get_extractor("fake_net")
    assert type(extractor).__name__ == "FakeNet" and extractor.name == "fake_net"
    feats = extract_features("fake_net", arrays, verbose=False)
    assert list(feats) == ["0", "3"]
    assert feats["0"].shape == (6, 3 * 14 * 14) and feats["3"].shape == (6, 12)
    assert feats.provenance["objective"] == "untrained"
    with pytest.raises(DataError, match="fails to load") as err:
        get_extractor("broken_net")
    assert "fakeplug:Missing" in str(err.value)
    sys.modules.pop("fakeplug", None)


def test_weights_classification():
    assert registry.classify_weights(None) == ("random", None)
    assert registry.classify_weights("random") == ("random", None)
    assert registry.classify_weights("IMAGENET1K_V1") == ("name", "IMAGENET1K_V1")
    assert registry.classify_weights("nets/a.pth")[0] == "file"
    with pytest.raises(DataError):
        registry.classify_weights(3)


# --- torchvision backbones: layers, features, weights -------------------------------------

def test_layers_in_depth_order_with_module_prefixes():
    extractor = get_extractor("resnet18")
    layers = extractor.layers()
    _, eval_nodes = torchvision.models.feature_extraction.get_graph_node_names(
        torchvision.models.resnet18().eval())
    # every graph node (without the input) is a layer, in graph order
    nodes = [n for n in eval_nodes if n != "x"]
    assert [n for n in layers if n in set(nodes)] == nodes
    # module prefixes sort right after the node that ends them
    for prefix, last in (("layer1", "layer1.1.relu_1"), ("layer4.0", "layer4.0.relu_1")):
        assert layers.index(prefix) > layers.index(last)
        assert layers.index(prefix) < layers.index(nodes[nodes.index(last) + 1])
    assert extractor.default_layers() == ["layer1", "layer2", "layer3", "layer4", "avgpool",
                                          "fc"]
    # the meta-device skeleton lists the same layers as a real network
    assert extractor.layers(extractor.build("random", 0)) == layers


@pytest.mark.parametrize("name", ["squeezenet1_0", "mobilenet_v3_small", "vgg11", "alexnet",
                                  "densenet121", "regnet_x_400mf", "vit_b_16",
                                  "shufflenet_v2_x0_5"])
def test_default_layers_are_valid_spread_in_order(name):
    extractor = get_extractor(name)
    layers, default = extractor.layers(), extractor.default_layers()
    assert 4 <= len(default) <= 8
    position = [layers.index(layer) for layer in default]
    assert position == sorted(position) and len(set(position)) == len(position)
    assert position[-1] == len(layers) - 1  # ends with the network's output


def test_unknown_layer_lists_valid_ones(arrays):
    with pytest.raises(DataError) as err:
        extract_features("resnet18", arrays, ["layer5"], transform=SMALL)
    message = str(err.value)
    assert "layer5" in message and "did you mean 'layer4'" in message
    assert "layer4.1.bn2" in message


def test_features_equal_plain_forward_hooks():
    extractor = get_extractor("resnet18")
    module = extractor.build("random", seed=1)
    batch = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    names = ["layer1", "layer3.0.conv1", "avgpool", "fc"]
    with torch.inference_mode():
        ours = extractor.features(module, batch, names)
    reference = plain_hooks(module, batch, names)
    for name in names:
        assert torch.equal(ours[name], reference[name]), name
    # an alias of the same tensor (a module and its last node) comes back under both names
    with torch.inference_mode():
        both = extractor.features(module, batch, ["layer1", "layer1.1.relu_1"])
    assert torch.equal(both["layer1"], both["layer1.1.relu_1"])


def test_extract_features_equals_manual_pipeline(arrays):
    """extract_features = manual conversion + forward hooks, rows flattened, depth order."""
    feats = extract_features("resnet18", arrays, ["fc", "layer2"], weights="random", seed=4,
                             transform={"size": 32, "resize": 36}, batch_size=4, verbose=False)
    assert list(feats) == ["layer2", "fc"]
    module = get_extractor("resnet18").build("random", 4)
    x = torch.from_numpy(arrays).permute(0, 3, 1, 2)
    x = torchvision.transforms.v2.functional.resize(x, [36], antialias=True)
    x = torchvision.transforms.v2.functional.center_crop(x, [32, 32]).float() / 255
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1).float()) / torch.tensor(STD).view(
        1, 3, 1, 1).float()
    reference = plain_hooks(module, x, ["layer2", "fc"])
    for name in ("layer2", "fc"):
        np.testing.assert_allclose(feats[name], reference[name].flatten(1).numpy(),
                                   rtol=1e-5, atol=1e-5)
    assert feats["layer2"].dtype == np.float32 and feats["layer2"].shape == (6, 128 * 4 * 4)
    assert feats.labels == [f"array[{i}]" for i in range(6)]


def test_hook_fallback_for_untraceable_network(clean_registry, arrays):
    class Branchy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 2, 3)
            self.head = torch.nn.Linear(2, 3)

        def forward(self, x):
            y = self.conv(x)
            if y.sum() > 0:  # data-dependent control flow: FX cannot trace this
                y = -y
            return self.head(y.mean(dim=(2, 3)))

    class BranchyNet(TinyNet):
        def create(self):
            return Branchy()

    register_extractor("branchy", BranchyNet)
    extractor = get_extractor("branchy")
    assert extractor.layers() == ["conv", "head"]
    module = extractor.build("random", 0)
    batch = torch.randn(2, 3, 16, 16)
    with torch.inference_mode():
        ours = extractor.features(module, batch, ["conv", "head"])
    reference = plain_hooks(module, batch, ["conv", "head"])
    assert all(torch.equal(ours[n], reference[n]) for n in ("conv", "head"))
    assert extract_features("branchy", arrays, ["head"])["head"].shape == (6, 3)


def test_random_weights_seeded_reproducible_and_rng_untouched():
    extractor = get_extractor("squeezenet1_0")
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = extractor.build("random", seed=7).state_dict()
    assert torch.equal(torch.rand(3), expected_next)  # the global RNG is restored
    b = extractor.build(None, seed=7).state_dict()
    c = extractor.build("random", seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["features.0.weight"], c["features.0.weight"])
    assert not extractor.build("random", 0).training
    assert extractor.weights_id("random", 7) == "random:seed=7"
    assert extractor.objective_of("random") == "untrained"
    assert extractor.objective_of("IMAGENET1K_V1") == "object"


def test_state_dict_file_loads_and_mismatch_lists_keys(tmp_path):
    extractor = get_extractor("resnet18")
    source = extractor.build("random", seed=3)
    path = tmp_path / "r18.pt"
    torch.save(source.state_dict(), path)
    loaded = extractor.build(str(path), seed=99).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert extractor.weights_id(path) == f"file:sha256={digest}"
    # DataParallel checkpoints ("module." prefix, wrapped in {"state_dict": ...}) load too
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()},
                "epoch": 3}, wrapped)
    assert torch.equal(extractor.build(wrapped).fc.weight, source.fc.weight)

    other = tmp_path / "squeeze.pt"
    torch.save(get_extractor("squeezenet1_0").build("random").state_dict(), other)
    with pytest.raises(DataError) as err:
        extractor.build(other)
    message = str(err.value)
    assert str(other) in message
    assert "missing keys: conv1.weight" in message
    assert "unexpected keys: features.0.weight" in message
    ten = tmp_path / "ten.pt"
    torch.save(get_extractor("resnet18", num_classes=10).build("random").state_dict(), ten)
    with pytest.raises(DataError, match=r"shape mismatches: fc.weight: file \(10, 512\)"):
        extractor.build(ten)
    with pytest.raises(DataError, match="weights file not found"):
        extractor.build(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="cannot read the weights file"):
        extractor.build(junk)


def test_pretrained_weights_offline_says_where_to_put_the_file(tmp_path, monkeypatch):
    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    extractor = get_extractor("resnet18")
    with pytest.raises(DataError) as err:
        extractor.build("DEFAULT")
    message = str(err.value)
    assert str(tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in message
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    assert "weights=" in message
    assert extractor.weights_id("DEFAULT") == "torchvision:ResNet18_Weights.IMAGENET1K_V1"
    assert extractor.weights_id("ResNet18_Weights.IMAGENET1K_V1") == extractor.weights_id(
        "IMAGENET1K_V1")
    with pytest.raises(DataError, match="IMAGENET1K_V1"):
        extractor.build("IMAGENET9K")


def test_options_reach_torchvision(arrays):
    feats = extract_features("resnet18", arrays, ["fc"], transform=SMALL)
    assert feats["fc"].shape == (6, 1000)
    extractor = get_extractor("resnet18", num_classes=7)
    assert extract_features(extractor, arrays, ["fc"], transform=SMALL)["fc"].shape == (6, 7)


# --- images -------------------------------------------------------------------------------

def _normalised(rgb_uint8):
    """Reference conversion without resizing: (x / 255 - mean) / std, channels first."""
    x = rgb_uint8.astype(np.float64) / 255
    return ((x - MEAN) / STD).transpose(0, 3, 1, 2)


def test_images_from_folder_paths_arrays_pil_agree(tmp_path, arrays):
    folder = tmp_path / "stim"
    folder.mkdir()
    for i, image in enumerate(arrays):
        Image.fromarray(image).save(folder / f"im{i:02d}.png")
    (folder / "notes.txt").write_text("not an image")
    spec = InputSpec(size=40, resize=40)  # 40×48 → centre crop 40×40, no resampling
    expected = _normalised(arrays[:, :, 4:44])
    paths = sorted(folder.glob("*.png"))
    sources = [folder, paths, [str(p) for p in paths], arrays, list(arrays),
               [Image.fromarray(a) for a in arrays], arrays.astype(np.float32) / 255]
    for source in sources:
        images = ImageSet(source)
        assert len(images) == 6
        (_, batch), = images.batches(spec, 8)
        np.testing.assert_allclose(batch.numpy(), expected, atol=1e-6)
    assert ImageSet(folder).labels == [str(p) for p in paths]
    assert ImageSet(folder).hashes == [hashlib.sha256(p.read_bytes()).hexdigest()
                                       for p in paths]
    assert ImageSet(arrays).hashes == ImageSet(list(arrays)).hashes


def test_grayscale_resize_and_crop(arrays):
    images = ImageSet(arrays)
    # grayscale from float images: the exact luma formula, one channel, own mean/std
    floats = ImageSet(arrays.astype(np.float32) / 255)
    spec = InputSpec(size=40, resize=40, grayscale=True, mean=(0.5,), std=(0.25,))
    (_, gray), = floats.batches(spec, 6)
    luma = (arrays[..., :3].astype(np.float64) / 255) @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(gray[:, 0].numpy(), (luma[:, :, 4:44] - 0.5) / 0.25, atol=1e-5)
    # from uint8: within one grey level of PIL's convert("L")
    (_, gray8), = images.batches(spec, 6)
    pil = np.stack([np.asarray(Image.fromarray(a).convert("L")) for a in arrays])[:, :, 4:44]
    levels = gray8[:, 0].numpy() * 0.25 * 255 + 0.5 * 255
    assert np.abs(levels - pil).max() <= 1.0 + 1e-3
    # a grey input to an RGB network: the level repeated in three channels
    (_, rgb), = ImageSet(pil).batches(InputSpec(size=40, resize=None), 6)
    np.testing.assert_allclose(rgb.numpy(), _normalised(np.repeat(pil[..., None], 3, -1)),
                               atol=1e-6)
    # straight resize: within one level of PIL's antialiased bilinear resize
    (_, small), = images.batches(InputSpec(size=20, resize=None, mean=(0, 0, 0),
                                           std=(1, 1, 1)), 6)
    pil_small = np.stack([np.asarray(Image.fromarray(a).resize((20, 20), Image.BILINEAR))
                          for a in arrays])
    assert small.shape == (6, 3, 20, 20)
    assert np.abs(small.numpy().transpose(0, 2, 3, 1) * 255 - pil_small).max() <= 1.0 + 1e-3
    # resize the shorter side, then centre crop: 40×48 → 20×24 → 20×20 at columns 2..22
    (_, cropped), = images.batches(InputSpec(size=20, resize=20, mean=(0, 0, 0),
                                             std=(1, 1, 1)), 6)
    assert np.abs(cropped.numpy().transpose(0, 2, 3, 1) * 255
                  - np.stack([np.asarray(Image.fromarray(a).resize((24, 20), Image.BILINEAR))
                              for a in arrays])[:, :, 2:22]).max() <= 1.0 + 1e-3


def test_face_crop_from_boxes_and_landmarks(arrays, shared_data):
    boxes = np.tile([10, 5, 30, 25], (6, 1))
    spec = InputSpec(size=20, resize=None)
    (_, batch), = ImageSet(arrays, boxes=boxes).batches(spec, 6)
    np.testing.assert_allclose(batch.numpy(), _normalised(arrays[:, 5:25, 10:30]), atol=1e-6)
    points = [np.array([[12.0, 8.0], [28.0, 8.0], [20.0, 20.0]])] * 6
    box = landmark_boxes(points, margin=0.25)[0]
    # 16 wide, 12 high; +25 % each side → 24 × 18; squared to 24 × 24 around (20, 14)
    np.testing.assert_allclose(box, [8.0, 2.0, 32.0, 26.0])
    images = ImageSet(arrays, landmarks=points)
    np.testing.assert_allclose(images.boxes, np.tile(box, (6, 1)))
    assert images.transform_key(spec)["boxes"][0] == box.tolist()
    with pytest.raises(DataError, match="outside the image"):
        ImageSet(arrays, boxes=np.tile([100, 100, 120, 120], (6, 1))).load(0)
    with pytest.raises(DataError, match="either boxes or landmarks"):
        ImageSet(arrays, boxes=boxes, landmarks=points)
    # a real Psychomorph template of the London set
    tem = shared_data / "faces" / "london" / "landmarks" / "001_03.tem"
    landmarks = read_landmarks(tem)
    assert landmarks.shape == (189, 2)
    np.testing.assert_allclose(landmarks[0], [565.0, 632.0])


def test_bad_images_name_the_file(tmp_path, arrays):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    good = tmp_path / "good.png"
    Image.fromarray(arrays[0]).save(good)
    with pytest.raises(DataError) as err:
        ImageSet([good, bad]).load(1)
    assert str(bad) in str(err.value)
    with pytest.raises(DataError) as err:
        extract_features("resnet18", [good, bad], ["fc"], transform=SMALL)
    assert str(bad) in str(err.value)
    missing = tmp_path / "missing.jpg"
    with pytest.raises(DataError) as err:
        ImageSet([good, missing])
    assert str(missing) in str(err.value)
    with pytest.raises(DataError, match="not found"):
        ImageSet(tmp_path / "no_folder")
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        ImageSet(arrays.astype(np.float32))
    with pytest.raises(DataError, match="no image files"):
        ImageSet(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None)


# --- cache --------------------------------------------------------------------------------

@pytest.fixture
def count_forward(monkeypatch):
    """Count forward passes and the layers they asked for."""
    calls = []
    original = TorchvisionExtractor.features

    def counted(self, module, batch, layers):
        calls.append(tuple(layers))
        return original(self, module, batch, layers)

    monkeypatch.setattr(TorchvisionExtractor, "features", counted)
    return calls


def test_cache_hit_and_miss_for_each_key_part(tmp_path, arrays, count_forward):
    cache = tmp_path / "cache"
    base = dict(model="resnet18", images=arrays, layers=["layer2", "fc"], weights="random",
                cache_dir=cache, seed=0, transform=SMALL, batch_size=4, verbose=False)

    def run(**change):
        count_forward.clear()
        feats = extract_features(**{**base, **change})
        return feats, list(count_forward)

    first, calls = run()
    assert calls == [("layer2", "fc")] * 2  # 6 images in batches of 4: one pass per batch
    again, calls = run()
    assert calls == [] and all(again.provenance["cached"].values())
    for name in first:
        assert isinstance(again[name], np.memmap)
        np.testing.assert_array_equal(first[name], again[name])

    changed_pixel = arrays.copy()
    changed_pixel[3, 0, 0, 0] ^= 1
    weights_file = tmp_path / "w.pt"
    torch.save(get_extractor("resnet18").build("random", 5).state_dict(), weights_file)
    changes = {
        "seed": dict(seed=1),
        "image bytes": dict(images=changed_pixel),
        "image order": dict(images=arrays[::-1].copy()),
        "transform size": dict(transform={"size": 40, "resize": None}),
        "normalisation": dict(transform={**SMALL, "mean": (0.5, 0.5, 0.5)}),
        "face crop": dict(boxes=np.tile([0, 0, 40, 40], (6, 1))),
        "reduce": dict(reduce="srp", n_components=16),
        "weights file": dict(weights=weights_file),
        "model options": dict(model=get_extractor("resnet18", num_classes=10)),
    }
    for what, change in changes.items():
        feats, calls = run(**change)
        assert calls, f"no new extraction after changing the {what}"
        assert not any(feats.provenance["cached"].values()), what
        _, calls = run(**change)
        assert calls == [], f"second run with changed {what} missed the cache"
    # more reduce settings, each its own entry
    for change in (dict(reduce="srp", n_components=8), dict(reduce="srp", n_components=16,
                                                             reduce_seed=1),
                   dict(reduce="pca", n_components=3)):
        assert run(**change)[1] and not run(**change)[1]
    # the weights file's content (not its name) is the key: same name, new bytes → miss
    torch.save(get_extractor("resnet18").build("random", 6).state_dict(), weights_file)
    assert run(weights=weights_file)[1]
    # a new layer computes only that layer; the cached one is read
    feats, calls = run(layers=["layer2", "layer3", "fc"])
    assert calls == [("layer3",)] * 2
    assert feats.provenance["cached"] == {"layer2": True, "layer3": False, "fc": True}
    np.testing.assert_array_equal(feats["layer2"], first["layer2"])


def test_cache_files_and_provenance(tmp_path, arrays):
    feats = extract_features("resnet18", arrays, ["avgpool"], seed=2, cache_dir=tmp_path,
                             transform=SMALL)
    (sidecar,) = tmp_path.rglob("avgpool.json")
    meta = json.loads(sidecar.read_text())
    assert meta["layer"] == "avgpool" and meta["shape"] == [6, 512]
    parts = meta["parts"]
    assert parts["weights"] == "random:seed=2"
    assert parts["images"] == [hashlib.sha256(
        f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest() for a in arrays]
    assert parts["transform"]["spec"]["size"] == 32
    assert set(parts["versions"]) >= {"ieegrsa", "torch", "torchvision"}
    assert meta["provenance"]["objective"] == "untrained"
    assert sidecar.parent.name == meta["key"] and sidecar.parent.parent.name == "resnet18"
    np.testing.assert_array_equal(np.load(sidecar.with_suffix(".npy")), feats["avgpool"])
    # a sidecar naming another key is a miss, and the entry is rewritten
    meta["key"] = "0" * 64
    sidecar.write_text(json.dumps(meta))
    again = extract_features("resnet18", arrays, ["avgpool"], seed=2, cache_dir=tmp_path,
                             transform=SMALL)
    assert again.provenance["cached"] == {"avgpool": False}
    assert json.loads(sidecar.read_text())["key"] == sidecar.parent.name
    # a features file without its sidecar (a run killed between the two renames) is a miss
    sidecar.unlink()
    third = extract_features("resnet18", arrays, ["avgpool"], seed=2, cache_dir=tmp_path,
                             transform=SMALL)
    assert third.provenance["cached"] == {"avgpool": False} and sidecar.exists()


def test_failure_mid_extraction_leaves_no_files(tmp_path, arrays, monkeypatch):
    original = TorchvisionExtractor.features
    calls = []

    def failing(self, module, batch, layers):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # e.g. Ctrl-C during the second batch
        return original(self, module, batch, layers)

    monkeypatch.setattr(TorchvisionExtractor, "features", failing)
    for reduce in (None, "pca"):
        calls.clear()
        with pytest.raises(KeyboardInterrupt):
            extract_features("resnet18", arrays, ["layer1", "fc"], cache_dir=tmp_path,
                             transform=SMALL, batch_size=4, reduce=reduce)
        assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    monkeypatch.setattr(TorchvisionExtractor, "features", original)
    feats = extract_features("resnet18", arrays, ["layer1", "fc"], cache_dir=tmp_path,
                             transform=SMALL, batch_size=4)
    assert feats["fc"].shape == (6, 1000)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "fc.json", "fc.npy", "layer1.json", "layer1.npy"]


def test_cache_dir_resolution(monkeypatch, tmp_path):
    assert resolve_cache_dir(None) is None
    monkeypatch.setenv("IEEGRSA_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir("auto") == tmp_path / "env" == default_cache_dir()
    monkeypatch.delenv("IEEGRSA_CACHE")
    assert default_cache_dir().parts[-3:] == (".cache", "ieegrsa", "features")
    assert resolve_cache_dir(tmp_path) == tmp_path


# --- reduction ----------------------------------------------------------------------------

def test_pca_scores_match_sklearn():
    decomposition = pytest.importorskip("sklearn.decomposition")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 50)) @ np.diag(np.linspace(3, 0.1, 50))
    x[:, 7] = x[:, 3]  # tied columns
    ours = pca_scores(x.astype(np.float32), block=16)
    reference = decomposition.PCA(n_components=11, svd_solver="full").fit_transform(x)
    assert ours.shape == (12, 12)
    np.testing.assert_allclose(np.abs(ours[:, :11]), np.abs(reference), atol=1e-4)
    signs = np.sign(ours[np.abs(ours).argmax(axis=0), np.arange(12)])
    assert np.all(signs[:11] > 0)
    # all components keep the centred Euclidean geometry
    xc = x - x.mean(axis=0)
    gram = xc @ xc.T
    np.testing.assert_allclose(ours @ ours.T, gram, atol=1e-3 * np.abs(gram).max())


def test_sparse_projection_is_seeded_and_scaled():
    p, k = 400, 300
    r = sparse_projection(p, k, seed=0)
    assert r.shape == (p, k)
    np.testing.assert_array_equal(r.toarray(), sparse_projection(p, k, seed=0).toarray())
    assert (r != sparse_projection(p, k, seed=1)).nnz > 0
    values = np.unique(np.abs(r.data))
    np.testing.assert_allclose(values, [np.sqrt(np.sqrt(p) / k)], rtol=1e-6)
    assert abs(r.nnz / (p * k) - 1 / np.sqrt(p)) < 0.01
    x = np.random.default_rng(2).normal(size=(200, p)).astype(np.float32)
    ratio = (np.asarray(x @ r) ** 2).sum(1) / (x ** 2).sum(1)
    assert abs(ratio.mean() - 1) < 0.05


def test_reduction_through_extract_features(arrays):
    common = dict(layers=["layer1", "fc"], transform=SMALL, batch_size=4)
    raw = extract_features("resnet18", arrays, **common)
    pca = extract_features("resnet18", arrays, **common, reduce="pca", n_components=4)
    assert {k: v.shape for k, v in pca.items()} == {"layer1": (6, 4), "fc": (6, 4)}
    np.testing.assert_allclose(pca["fc"], pca_scores(raw["fc"])[:, :4], rtol=1e-4, atol=1e-4)
    srp = extract_features("resnet18", arrays, **common, reduce="srp", n_components=20,
                           reduce_seed=3)
    assert srp["layer1"].shape == (6, 20)
    projected = raw["layer1"] @ sparse_projection(raw["layer1"].shape[1], 20, seed=3)
    np.testing.assert_allclose(srp["layer1"], projected, rtol=1e-4, atol=1e-4)
    other = extract_features("resnet18", arrays, **common, reduce="srp", n_components=20,
                             reduce_seed=4)
    assert not np.allclose(other["layer1"], srp["layer1"])
    # a layer narrower than n_components is kept whole
    wide = extract_features("resnet18", arrays, ["avgpool"], transform=SMALL, reduce="srp",
                            n_components=1000)
    np.testing.assert_array_equal(wide["avgpool"],
                                  extract_features("resnet18", arrays, ["avgpool"],
                                                   transform=SMALL)["avgpool"])
    with pytest.raises(DataError, match="unknown reduction"):
        extract_features("resnet18", arrays, ["fc"], reduce="umap")
    with pytest.raises(DataError, match="n_components needs"):
        extract_features("resnet18", arrays, ["fc"], n_components=3)
    with pytest.raises(DataError, match="unknown transform field"):
        extract_features("resnet18", arrays, ["fc"], transform={"sise": 3})


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu_is_a_clear_error(arrays):
    with pytest.raises(DataError, match="no CUDA device"):
        extract_features("resnet18", arrays, ["fc"], device="cuda")


# --- real images --------------------------------------------------------------------------

@pytest.mark.realdata
def test_london_faces_through_resnet18(shared_data, tmp_path, count_forward):
    folder = shared_data / "faces" / "london" / "neutral"
    paths = sorted(folder.glob("*.jpg"))[:12]
    first = extract_features("resnet18", paths, cache_dir=tmp_path, batch_size=8)
    assert list(first) == ["layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    assert first["layer1"].shape == (12, 64 * 56 * 56) and first["fc"].shape == (12, 1000)
    assert all(np.isfinite(v).all() for v in first.values())
    assert first.labels == [str(p) for p in paths]
    assert len(count_forward) == 2
    count_forward.clear()
    again = extract_features("resnet18", paths, cache_dir=tmp_path, batch_size=8)
    assert count_forward == [] and all(again.provenance["cached"].values())
    np.testing.assert_array_equal(first["fc"], again["fc"])
    # cropped to the landmarks' face box: other features, same shapes
    tems = [shared_data / "faces" / "london" / "landmarks" / (p.stem + ".tem") for p in paths]
    cropped = extract_features("resnet18", paths, ["avgpool"], landmarks=tems, batch_size=12)
    assert cropped["avgpool"].shape == (12, 512)
    assert not np.allclose(cropped["avgpool"], first["avgpool"])


def test_in_place_relu_does_not_overwrite_the_layer_before_it():
    """torchvision's ResNets use ReLU(inplace=True): bn1 must come back before rectification."""
    images = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    features = extract_features("resnet18", images, layers=["bn1", "relu"],
                                transform={"size": 64, "resize": None})
    assert features["bn1"].min() < 0
    np.testing.assert_array_equal(np.maximum(features["bn1"], 0), features["relu"])
