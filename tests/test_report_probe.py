"""The probe report: sections, embedded figures, escaping, empty tables, a real browser."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import (  # noqa: E402  (the browser helper and page checks)
    EXTERNAL,
    _browse,
    _chromium,
    _console,
    _pngs,
)

INSTANCES = ("trained", "untrained", "object")
LAYERS = ("conv1", "layer2", "layer3", "<b>fc</b>")  # a name to escape
EXPRESSIONS = ("neutral", "happy", "fear")


def _result(*, empty=False, humans=True, morphs=True, **settings):
    """A ProbeResult with small synthetic tables of the columns the probing modules write."""
    from ieegrsa.probing.probe import ProbeResult

    settings = {"network": "resnet18", "weights": "face<weights>.pt",
                "layers": list(LAYERS), "controls": ["untrained", "object"],
                "object_weights": "imagenet.pt", "analyses": ["readouts", "units", "congruence",
                                                              "morphs"],
                "n_permutations": 37, "seed": 5, "C": 1.0, "n_stimuli": 24, "n_morphs": 44,
                **settings}
    if empty:
        blank = pd.DataFrame()
        return ProbeResult(readouts=blank, confusions={}, units=blank, humans=blank,
                           congruence=blank, identification=blank, boundaries=blank,
                           discrimination=blank, categorical=blank, settings=settings)
    rng = np.random.default_rng(0)
    readouts, confusions, units, human_rows, congruence = [], {}, [], [], []
    for i, instance in enumerate(INSTANCES):
        for k, layer in enumerate(LAYERS):
            depth = (k + 1) / len(LAYERS)
            for target, n_classes in (("expression", 3), ("identity", 8)):
                accuracy = 1 / n_classes + (0.6, 0.1, 0.3)[i] * depth
                readouts.append({
                    "instance": instance, "target": target, "layer": layer,
                    "accuracy": accuracy, "balanced_accuracy": accuracy, "chance": 1 / n_classes,
                    "majority": 1 / n_classes, "p_value": 0.01 if i == 0 and k else 0.4,
                    "n_classes": n_classes, "n_images": 24, "n_folds": 8 if target ==
                    "expression" else 3, "n_components": 15})
                labels = EXPRESSIONS if target == "expression" else [f"id{j}" for j in range(8)]
                counts = rng.integers(0, 3, (n_classes, n_classes)) + np.eye(n_classes, dtype=int) \
                    * (2 + 4 * (i == 0))
                confusions[(instance, target, layer)] = pd.DataFrame(
                    counts, index=pd.Index(labels, name="true"),
                    columns=pd.Index(labels, name="predicted"))
            units.append({"instance": instance, "layer": layer, "model": "additive",
                          "n_images": 24, "n_expressions": 3, "n_identities": 8,
                          "replicates": 1, "n_units": 512, "n_tested": 510,
                          "n_selective": int((200, 3, 60)[i] * depth),
                          "proportion": int((200, 3, 60)[i] * depth) / 512,
                          "n_neutral": 1, "n_happy": 2, "n_fear": 0})
            human_rows.append({"instance": instance, "layer": layer, "r": 0.2 * k,
                               "p_value": 0.03 if k == 3 else 0.5, "n_cells": 6})
            congruence.append({"instance": instance, "layer": layer,
                               "mean_abs_phi": 0.3 - 0.05 * k + 0.03 * i, "max_abs_phi": 0.6,
                               "p_value": 0.02 if k < 2 else 0.3, "n_identity_dirs": 7,
                               "n_expression_dirs": 2})
    identification, boundaries, discrimination, categorical = [], [], [], []
    levels = np.arange(0, 101, 10.0)
    for i, instance in enumerate(INSTANCES):
        for k, layer in enumerate(LAYERS):
            scale, boundary = (8.0, 40.0, 20.0)[i], (50.0, 55.0, 45.0)[i]
            p = 1 / (1 + np.exp(-(levels - boundary) / scale))
            for group in ("A", "B", "average"):
                identification.append(pd.DataFrame({
                    "instance": instance, "layer": layer, "group": group, "level": levels,
                    "p": np.clip(p + rng.normal(0, 0.03, len(levels)), 0, 1), "sem": 0.03,
                    "n": 2}))
                mid = (levels[:-1] + levels[1:]) / 2
                discrimination.append(pd.DataFrame({
                    "instance": instance, "layer": layer, "group": group,
                    "level_low": levels[:-1], "level_high": levels[1:], "midpoint": mid,
                    "step": 10.0, "distance": 0.1 + 0.02 * i + (0.2, 0.0, 0.05)[i]
                    * np.exp(-((mid - 50) / 10) ** 2), "n": 2 if group == "average" else 1}))
            boundaries.append({"instance": instance, "layer": layer, "boundary": boundary,
                               "boundary_ci_low": boundary - 4, "boundary_ci_high": boundary + 4,
                               "scale": scale, "slope": 1 / (4 * scale), "slope_ci_low": 0.01,
                               "slope_ci_high": 0.05, "boundary_inside": True,
                               "spearman_rho": 0.99, "spearman_p": 1e-6, "rises": True,
                               "nondecreasing": False, "n_levels": 11, "n_images": 22,
                               "n_groups": 2, "n_bootstrap": 100, "n_failed": 0})
            row = {"instance": instance, "layer": layer, "boundary": 50.0,
                   "statistic": 0.2 if i == 0 else 0.0, "p_value": 0.01 if i == 0 else 0.6,
                   "peak_at_boundary": i == 0, "argmax_midpoint": 55.0, "n_pairs": 10,
                   "n_groups": 2, "n_permutations": 37, "note": np.nan}
            if instance == "object" and k == 0:
                row.update(statistic=np.nan, p_value=np.nan, peak_at_boundary=False,
                           note="the boundary is outside the pairs tested")
            categorical.append(row)
    return ProbeResult(
        readouts=pd.DataFrame(readouts), confusions=confusions, units=pd.DataFrame(units),
        humans=pd.DataFrame(human_rows) if humans else pd.DataFrame(),
        congruence=pd.DataFrame(congruence),
        identification=pd.concat(identification, ignore_index=True) if morphs
        else pd.DataFrame(),
        boundaries=pd.DataFrame(boundaries) if morphs else pd.DataFrame(),
        discrimination=pd.concat(discrimination, ignore_index=True) if morphs
        else pd.DataFrame(),
        categorical=pd.DataFrame(categorical) if morphs else pd.DataFrame(),
        settings=settings)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from ieegrsa.report import probe_report

    folder = tmp_path_factory.mktemp("probe")
    path = probe_report(_result(), folder / "sub" / "resnet18_probe.html")
    return path, path.read_text(encoding="utf-8")


def test_probe_report_sections(page):
    path, html = page
    assert path.is_file() and path.name == "resnet18_probe.html"
    assert not list(path.parent.glob(".*.part"))  # written atomically
    assert "<title>ieegrsa probe: resnet18</title>" in html
    for anchor in ("summary", "readouts", "confusions", "units", "congruence", "morphs",
                   "methods", "versions"):
        assert f'id="{anchor}"' in html, anchor
    # readouts, confusions, units, congruence, identification, discrimination
    assert len(_pngs(html)) == 6
    # the settings summary
    for text in ("Permutations per test</td><td>37", "Seed</td><td>5", "imagenet.pt",
                 "untrained, object", "Face images</td><td>24", "Morph images</td><td>44"):
        assert text in html, text
    # tables: significant rows highlighted, the humans table, units preferring each expression
    assert html.count('class="hl"') > 10
    assert "<th>mean |φ|</th>" in html and "<th>preferring happy</th>" in html
    assert "<th>n_cells</th>" in html and "the boundary is outside the pairs tested" in html
    assert "expression readout, trained: best accuracy" in html
    # the morph figures show the last and a middle layer
    assert "at &lt;b&gt;fc&lt;/b&gt; and layer2" in html
    # methods written from the settings
    for text in ("leave-one-identity-out", "leave-one-expression-out", "37 permutations",
                 "Tucker", "FDR", "two-parameter logistic", "44 images", "seed 5",
                 "an object-trained instance of the same architecture (imagenet.pt)"):
        assert text in html, text
    assert "<td>numpy</td>" in html and "<td>python</td>" in html
    assert ">nan<" not in html.lower()


def test_probe_report_escaping_and_no_external(page):
    _, html = page
    assert "face&lt;weights&gt;.pt" in html and "face<weights>" not in html
    assert "&lt;b&gt;fc&lt;/b&gt;" in html and "<b>fc</b>" not in html
    assert "<script" not in html.lower()
    assert not EXTERNAL.search(html)
    for src in re.findall(r'src="([^"]*)"', html):
        assert src.startswith("data:image/png;base64,"), src
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith("#"), href


def test_probe_report_empty_tables(tmp_path):
    from ieegrsa.report import probe_report

    html = probe_report(_result(empty=True, analyses=["readouts", "units"], n_morphs=0),
                        tmp_path / "empty.html", title="Nothing <here>").read_text()
    assert "<title>Nothing &lt;here&gt;</title>" in html
    assert len(_pngs(html)) == 0
    for text in ("The readouts returned no row", "No confusion matrix was recorded",
                 "No human confusion matrix was given", "The selective-unit analysis returned",
                 "The congruence analysis was not run", "The morph analysis was not run"):
        assert text in html, text
    assert "Tucker" not in html  # no methods paragraph for what did not run
    html = probe_report(_result(empty=True), tmp_path / "e2.html").read_text()
    assert "No morph continuum was given" in html
    assert "The congruence analysis returned no row" in html


def test_probe_report_without_humans_or_morphs(tmp_path):
    from ieegrsa.report import probe_report

    html = probe_report(_result(humans=False, morphs=False, n_morphs=0),
                        tmp_path / "p.html").read_text()
    assert "No human confusion matrix was given" in html
    assert "No morph continuum was given" in html
    assert "two-parameter logistic" not in html
    assert len(_pngs(html)) == 4


def test_probe_report_bad_figure_keeps_page(tmp_path, caplog, monkeypatch):
    """A figure that fails to draw loses the figure, not the page; NaN accuracies are n/a."""
    from ieegrsa.report import probe_figures, probe_report

    def broken(*args, **kwargs):
        raise ValueError("cannot draw")

    monkeypatch.setattr(probe_figures, "plot_readouts", broken)
    result = _result(morphs=False)
    result = type(result)(**{**{k: getattr(result, k) for k in result.__dataclass_fields__},
                             "readouts": result.readouts.assign(accuracy=np.nan)})
    html = probe_report(result, tmp_path / "p.html").read_text()
    assert "The readout figure could not be drawn" in html
    assert "readout figure failed (cannot draw)" in caplog.text
    assert "best accuracy" not in html and ">n/a<" in html
    assert len(_pngs(html)) == 3


def test_probe_report_renders_in_browser(page, tmp_path):
    binary = _chromium()
    if binary is None:
        pytest.skip("no chromium binary (install Debian's chromium package to run this test)")
    from PIL import Image

    path, _ = page
    shot = tmp_path / "probe.png"
    height = 5000
    run = _browse(binary, path.as_uri(), f"--screenshot={shot}", f"--window-size=1280,{height}")
    assert shot.is_file(), run.stderr[-2000:]
    assert not _console(run.stderr), _console(run.stderr)
    image = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert image.shape == (height, 1280)
    assert image.std() > 10  # not blank
    assert image[:60].mean() < 128  # the dark header band
    # figures drawn: many mid-grey/coloured pixels below the header
    assert (np.abs(image[200:] - 246) > 30).mean() > 0.02
    import shutil

    shutil.copy(shot, path.parent / "probe_screenshot.png")  # for a person to look at
