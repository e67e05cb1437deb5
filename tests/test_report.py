"""HTML reports: content from the derivatives, robustness to missing pieces, a real browser."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _derivatives_fixture import CONFIG, write_fake_derivatives  # noqa: E402

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?(?:https?:)?//"""
                      r"""|@import""", re.IGNORECASE)
DATA_PNG = re.compile(r'<img[^>]+src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def derivatives(tmp_path_factory):
    """Fake derivatives of two participants and the group, with both kinds of report written."""
    from ieegrsa.report import group_report, participant_report

    root = write_fake_derivatives(tmp_path_factory.mktemp("derivatives"))
    pages = {"sub-01": participant_report(root, "01"), "sub-02": participant_report(root, "02")}
    pages["group"] = group_report(root)
    return root, {name: path.read_text(encoding="utf-8") for name, path in pages.items()}


def _pngs(html):
    images = []
    for data in DATA_PNG.findall(html):
        raw = base64.b64decode(data)
        assert raw.startswith(b"\x89PNG")
        images.append(raw)
    return images


def test_participant_report_sections(derivatives):
    root, pages = derivatives
    assert (root / "sub-01.html").is_file() and (root / "sub-02.html").is_file()
    assert not list(root.glob(".*.part"))  # written atomically, nothing left behind
    html = pages["sub-01"]
    for anchor in ("summary", "contacts", "exclusions", "localizer", "rdms", "timecourses",
                   "methods", "config", "versions"):
        assert f'id="{anchor}"' in html, anchor
    # exclusions with their reasons (contact table and preprocessing report)
    assert "seizure onset zone (channels.tsv: SOZ)" in html
    assert "outside every ROI" in html
    assert "status_description: SOZ" in html
    # glass brain, 2 RDM figures and 2 time-course figures, all embedded PNG
    assert len(_pngs(html)) == 5
    # localizer table: its columns and a face-selective (highlighted) row
    assert "d_prime" in html and "p_fdr" in html and 'class="hl"' in html
    # model RDMs named beside the neural ones
    for model in ("identity", "expression", "idnet", "exprnet"):
        assert f"<td>{model}</td>" in html
    # configuration and versions
    assert "random_seed: 7" in html and "n_permutations: 200" in html
    assert "<td>numpy</td>" in html and "<td>ieegrsa</td>" in html
    # the methods paragraph states the real values
    assert "windows of 100 ms" in html and "steps of 50 ms" in html
    assert "Kendall" in html and "kendall-tau-b" in html and "200 permutations" in html
    assert "seed 7" in html


def test_missing_roi_and_nan(derivatives):
    _, pages = derivatives
    html = pages["sub-02"]  # no ventral contact; a contact without localizer values
    assert "No ROI-pattern RDM for ventral" in html
    assert "No similarity values for ventral" in html
    assert len(_pngs(html)) == 3  # glass brain, lateral RDMs, lateral time courses
    assert "bad channel (channels.tsv: noisy)" in html
    assert ">n/a<" in html  # NaN shown as n/a, never "nan"
    assert ">nan<" not in html.lower()


def test_no_external_resources(derivatives):
    _, pages = derivatives
    for name, html in pages.items():
        assert not EXTERNAL.search(html), (name, EXTERNAL.search(html).group(0))
        assert "<script" not in html.lower()
        for src in re.findall(r'src="([^"]*)"', html):
            assert src.startswith("data:image/png;base64,"), src
        for href in re.findall(r'href="([^"]*)"', html):
            assert href.startswith("#") or re.fullmatch(r"(sub-[^/]+|group)\.html", href), href


def test_escaping(derivatives):
    _, pages = derivatives
    html = pages["sub-01"]
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html
    assert "singular &lt;fit&gt;" in pages["group"]
    assert "<fit>" not in pages["group"]


def test_group_report(derivatives):
    root, pages = derivatives
    html = pages["group"]
    assert (root / "group.html").is_file()
    assert 'href="sub-01.html"' in html and 'href="sub-02.html"' in html
    for anchor in ("participants", "mixed", "difference", "clusters", "onsets", "comparison",
                   "methods", "config", "versions"):
        assert f'id="{anchor}"' in html, anchor
    assert "C(objective)[T.identity]" in html
    assert "identity-expression" in html
    assert "value ~ C(objective) * C(roi)" in html  # comparison table
    assert "did not converge" in html
    # estimates (one figure per family) and the identity - expression difference figure
    assert len(_pngs(html)) == 3
    assert "windows of 100 ms" in html and "500 permutations" in html


def test_group_report_without_optional_tables(derivatives, tmp_path):
    """No comparison, no patient summary (rebuilt from similarity), no clusters, no pages."""
    from ieegrsa.report import group_report

    root, _ = derivatives
    copy = tmp_path / "out"
    shutil.copytree(root, copy)
    for pattern in ("group/*comparison*", "group/*patients*", "group/*clusters*", "*.html"):
        for path in copy.glob(pattern):
            path.unlink()
    html = group_report(copy).read_text()
    assert "No model comparison was run" in html
    assert "No cluster table was found" in html
    assert "the participants&#39; similarity tables" in html
    assert "not written" in html  # no participant pages to link to
    assert len(_pngs(html)) == 3  # the difference figure comes from the similarity tables


def test_reports_on_empty_folder(tmp_path):
    """Nothing written yet: both pages still render, saying what is missing."""
    from ieegrsa.report import group_report, participant_report

    html = group_report(tmp_path).read_text()
    assert "No participant results were found" in html
    assert "No mixed-model table was found" in html
    html = participant_report(tmp_path, "sub-07", task="faces").read_text()
    assert "No contact table was found" in html
    assert "No neural RDMs were found" in html
    assert "No similarity table was found" in html
    assert "No configuration was found" in html
    assert 'href="sub-07.html"' in group_report(tmp_path).read_text()


def test_session_and_partial_participant(tmp_path):
    """A session in the names; no networks in the config; no RDM files."""
    import _derivatives_fixture as fixture
    from _derivatives_fixture import write_participant

    from ieegrsa.report import participant_report

    saved = fixture.CONFIG
    fixture.CONFIG = {**CONFIG, "models": {"networks": []}}
    try:
        paths = write_participant(tmp_path, "01", session="pre")
    finally:
        fixture.CONFIG = saved
    paths["neural_rdms"].unlink()
    paths["glassbrain"].unlink()
    path = participant_report(tmp_path, "01", session="pre")
    assert path.name == "sub-01_ses-pre.html"
    html = path.read_text()
    assert "ses-pre" in html
    assert "No neural RDMs were found" in html
    assert "No glass-brain figure was found" in html
    assert "No network models were used" in html
    assert len(_pngs(html)) == 2  # time courses still drawn


def test_methods_text_follows_config():
    from ieegrsa.config import load_config
    from ieegrsa.report import methods_text

    default = methods_text()
    assert "Kendall's" in default and "100 ms" in default and "20 ms" in default
    text = methods_text(yaml.safe_load(
        "rsa: {method: spearman, window: 0.05, step: 0.01, n_permutations: 321,"
        " partial: none, metric: euclidean, noise_ceiling: false}\n"
        "preprocessing: {reference: laplacian, high_gamma_band: [60, 160]}\n"
        "models: {networks: [{name: resnet18, label: facenet, objective: identity,"
        " layers: [layer3, layer4]}], categorical: [identity]}\n"
        "stats: {formula: 'value ~ C(objective) + C(roi)', correction: holm,"
        " n_permutations: 999}\n"
        "random_seed: 42\n"))
    assert text != default
    assert "Spearman" in text and "Kendall" not in text
    assert "50 ms" in text and "10 ms" in text and "321 permutations" in text
    assert "Laplacian" in text and "60\u2013160 Hz" in text
    assert "Euclidean" in text
    assert "facenet" in text and "layer3 and layer4" in text and "identity-trained" in text
    assert "No partial or semi-partial control" in text
    assert "No noise ceiling was estimated" in text
    assert "value ~ C(objective) + C(roi)" in text and "Holm" in text and "999" in text
    assert "random seed 42" in text
    assert "ieegrsa" in text
    # a Config object and a dict give the same text
    assert methods_text(load_config({"random_seed": 42})) == methods_text({"random_seed": 42})
    assert "MNE-Python 9.9" in methods_text(versions={"mne": "9.9"})


# A real browser


def _chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _browse(binary, url, *extra, timeout=90):
    with tempfile.TemporaryDirectory() as profile:
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr",
               "--v=0", "--hide-scrollbars", *extra, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _console(stderr):
    return [line for line in stderr.splitlines() if "CONSOLE" in line]


@pytest.mark.slow
def test_reports_render_in_browser(request, tmp_path):
    binary = _chromium()
    if binary is None:
        pytest.skip("no chromium binary (install Debian's chromium package to run this test)")
    from PIL import Image

    root, _ = request.getfixturevalue("derivatives")
    # the console capture works: a page that logs an error shows up
    control = tmp_path / "control.html"
    control.write_text('<html><body><p>x</p><script>console.error("probe-error")</script>'
                       "</body></html>")
    probe = _browse(binary, control.as_uri(), "--dump-dom")
    assert any("probe-error" in line for line in _console(probe.stderr)), probe.stderr[-2000:]

    for name, height in (("sub-01", 4200), ("group", 3600)):
        page = root / f"{name}.html"
        shot = tmp_path / f"{name}.png"
        run = _browse(binary, page.as_uri(), f"--screenshot={shot}",
                      f"--window-size=1280,{height}")
        assert shot.is_file(), run.stderr[-2000:]
        assert not _console(run.stderr), _console(run.stderr)
        image = np.asarray(Image.open(shot).convert("L"), dtype=float)
        assert image.shape == (height, 1280)
        assert image.std() > 10  # not blank
        # the top of the page (header) and the figures are drawn
        assert image[:60].mean() < 128  # dark header band
        dom = _browse(binary, page.as_uri(), "--dump-dom")
        assert not _console(dom.stderr), _console(dom.stderr)
        assert "Methods" in dom.stdout and "Software versions" in dom.stdout
        shutil.copy(shot, root / f"{name}_screenshot.png")  # for a person to look at
