"""torchvision backbones through the extractor interface: layers in depth order, features
against plain forward hooks, the hook fallback, seeded and file weights, builder options.

Small random-weight networks at small image sizes keep this fast; nothing is downloaded.
Reference: plain forward hooks written here.
"""

from __future__ import annotations

import hashlib
import urllib.error

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from _models import MEAN, SMALL, STD, TinyNet  # noqa: E402

from ieegrsa.errors import DataError  # noqa: E402
from ieegrsa.models.extract import extract_features  # noqa: E402
from ieegrsa.models.registry import get_extractor, register_extractor  # noqa: E402


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
