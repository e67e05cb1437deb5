"""The examples run: the plugin package is found through its entry point, the script runs."""

from __future__ import annotations

import importlib
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from ieegrsa.cli import main
from ieegrsa.models import extract_features, get_extractor

tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python >= 3.11")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PLUGIN = EXAMPLES / "ieegrsa_plugin_example"


def _install_metadata(tmp_path, monkeypatch):
    """What `pip install examples/ieegrsa_plugin_example` puts on sys.path, without pip."""
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    entry_points = project["entry-points"]["ieegrsa.extractors"]
    dist = tmp_path / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    (dist / "entry_points.txt").write_text(
        "[ieegrsa.extractors]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(PLUGIN / "src"))
    importlib.invalidate_caches()
    return entry_points


def test_plugin_package_is_found_by_name(tmp_path, monkeypatch, capsys):
    assert _install_metadata(tmp_path, monkeypatch) == {
        "tiny_face_net": "ieegrsa_plugin_example:TinyFaceNet"}
    extractor = get_extractor("tiny_face_net")
    assert extractor.objective == "identity" and extractor.input_spec.grayscale
    assert main(["models", "layers", "tiny_face_net"]) == 0
    marked = [line[2:] for line in capsys.readouterr().out.splitlines() if line[0] == "*"]
    assert marked == ["0", "1", "2", "4", "5"]
    images = np.random.default_rng(0).integers(0, 256, (5, 80, 80, 3), dtype=np.uint8)
    features = extract_features("tiny_face_net", images, seed=1)
    assert [f.shape for f in features.values()] == [(5, 16 * 32 * 32), (5, 32 * 16 * 16),
                                                    (5, 64 * 8 * 8), (5, 64), (5, 100)]
    again = extract_features("tiny_face_net", images, seed=1)
    np.testing.assert_array_equal(features["5"], again["5"])
    sys.modules.pop("ieegrsa_plugin_example", None)


def test_script_example_runs(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["plugin_without_packaging.py"])
    runpy.run_path(str(EXAMPLES / "plugin_without_packaging.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "5 RDM(s) over 24 conditions" in out and out.count("Spearman") == 4
