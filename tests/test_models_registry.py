"""The extractor registry: names, suggestions, registration, entry-point plugins, weights kinds.

Small random-weight networks keep this fast; nothing is downloaded.
"""

from __future__ import annotations

import importlib
import sys

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from _models import TinyNet  # noqa: E402

from ieegrsa.errors import DataError  # noqa: E402
from ieegrsa.models import registry  # noqa: E402
from ieegrsa.models.extract import extract_features  # noqa: E402
from ieegrsa.models.registry import get_extractor, list_extractors, register_extractor  # noqa: E402


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


def test_register_extractor_refuses_a_wrong_type(clean_registry):
    """Misuse of the API is a TypeError, not a data error."""
    with pytest.raises(TypeError, match="factory must be callable"):
        register_extractor("tiny_net", 3)
    with pytest.raises(TypeError, match="name must be str"):
        register_extractor(3, TinyNet)


def test_weights_classification():
    assert registry.classify_weights(None) == ("random", None)
    assert registry.classify_weights("random") == ("random", None)
    assert registry.classify_weights("IMAGENET1K_V1") == ("name", "IMAGENET1K_V1")
    assert registry.classify_weights("nets/a.pth")[0] == "file"
    with pytest.raises(DataError):
        registry.classify_weights(3)
