"""The feature cache: a hit or a miss for each part of the key, its files and provenance, no
partial file after a failure, and where the cache lives.

Reference: hashlib.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from _models import SMALL  # noqa: E402

from ieegrsa.models.backbones import TorchvisionExtractor  # noqa: E402
from ieegrsa.models.cache import default_cache_dir, resolve_cache_dir  # noqa: E402
from ieegrsa.models.extract import extract_features  # noqa: E402
from ieegrsa.models.registry import get_extractor  # noqa: E402


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
