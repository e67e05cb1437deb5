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
import pandas as pd
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
    assert "matrix &lt;X&gt; is singular" in pages["group"]  # a note of the mixed table
    assert "<X>" not in pages["group"]


def test_group_report(derivatives):
    root, pages = derivatives
    html = pages["group"]
    assert (root / "group.html").is_file()
    assert 'href="sub-01.html"' in html and 'href="sub-02.html"' in html
    for anchor in ("answer", "participants", "mixed", "signflip", "difference", "clusters",
                   "onsets", "comparison", "methods", "config", "versions"):
        assert f'id="{anchor}"' in html, anchor
    assert "C(objective)[T.identity]" in html
    assert "identity-expression" in html
    assert "value ~ C(objective) * C(roi)" in html  # comparison table
    # the new columns of the tables are shown
    for column in ("se_two_stage", "df_lmm", "inference", "gradient_norm", "n_contacts",
                   "n_permutations", "min_p"):
        assert f"<th>{column}</th>" in html, column
    assert "did not converge" not in html  # the old alarm is gone
    # the contrast figure at the top and the identity - expression difference figure
    assert len(_pngs(html)) == 2
    assert "windows of 100 ms" in html and "500 permutations" in html


def _text(fragment):
    """Visible text of an HTML fragment (tags dropped, entities decoded)."""
    import html as html_lib

    return html_lib.unescape(re.sub(r"<[^>]+>", "", fragment))


def _section(html, anchor):
    start = html.index(f'<section id="{anchor}"')
    return html[start:html.index("</section>", start)]


def _answer_items(html):
    return [_text(item) for item in re.findall(r"<li[^>]*>(.*?)</li>", _section(html, "answer"),
                                               re.S)]


def test_group_answer_comes_first(derivatives):
    root, pages = derivatives
    html = pages["group"]
    main = html[html.index("<main>"):]
    assert main.index('<section id="answer"') < main.index("<section", main.index("</section>"))
    assert main.index('id="answer"') < main.index("<table")
    assert html.index('href="#answer"') < html.index('href="#participants"')
    items = _answer_items(html)
    leads = [item.split(":")[0] for item in items]
    # categorical first, then network; ROIs in the configuration's order (ventral, lateral)
    assert leads[:4] == ["Ventral, categorical models", "Lateral, categorical models",
                         "Ventral, network models", "Lateral, network models"]
    # the numbers of the strongest window, from the fixture's table
    mixed = pd.read_csv(root / "group" / "task-faces_desc-mixedlm_stats.tsv", sep="\t")
    rows = mixed[(mixed.family == "categorical") & (mixed.roi == "lateral")
                 & (mixed.term == "C(objective)[T.identity]")]
    best = rows.loc[rows.p_corrected.idxmin()]
    assert (best.window_start, best.window_stop) == (0.15, 0.25)
    expected = (f"Lateral, categorical models: identity vs expression: estimate "
                f"{best.estimate:.3f} [{best.ci_low:.3f}, {best.ci_high:.3f}] (Fisher z), "
                f"t({best.df:.1f}) = {best.t:.2f}, p = {best.p_value:.2g} "
                f"(FDR {best.p_corrected:.2g}) at 150\u2013250 ms; 6 patients / 14 contacts; "
                f"significant windows (FDR < 0.05): 100\u2013300 ms; onset 100 ms [50, 150]; "
                f"sign-flip check: p_FWE = 0.031.")
    assert items[1] == expected, (items[1], expected)
    assert expected == ("Lateral, categorical models: identity vs expression: estimate 0.065 "
                        "[0.044, 0.086] (Fisher z), t(5.0) = 8.12, p = 0.00046 (FDR 0.0087) at "
                        "150\u2013250 ms; 6 patients / 14 contacts; significant windows "
                        "(FDR < 0.05): 100\u2013300 ms; onset 100 ms [50, 150]; sign-flip "
                        "check: p_FWE = 0.031.")
    # not significant: said so, with the strongest window's numbers
    assert items[3].startswith("Lateral, network models: identity vs expression: no window "
                               "significant after FDR; strongest at 150\u2013250 ms: estimate "
                               "0.015 [\u22120.016, 0.046] (Fisher z), t(5.0) = 1.25, p = 0.27")
    assert "no onset (no significant cluster)" in items[3]
    # the classical view and the seed study's BIC test
    classical = [i for i in items if "classical view" in i]
    assert classical[0].startswith("Categorical models, classical view (a different objective "
                                   "effect in ventral and lateral;")
    assert classical[0].endswith("likelihood-ratio test significant (p < 0.05, uncorrected) in "
                                 "3 of 19 windows (strongest: LR = 9.50, p = 0.0021 at "
                                 "150\u2013250 ms).")
    seed = [i for i in items if "seed study" in i]
    assert len(seed) == 1 and seed[0].endswith(
        "separate per-ROI regressions \u0394BIC = \u221211.7 (favours separate regressions).")


def test_group_answer_too_few_patients(derivatives):
    _, pages = derivatives
    items = _answer_items(pages["group"])
    for family in ("categorical", "network"):
        (item,) = [i for i in items if i.startswith(f"Ventral, {family} models")]
        assert item == (f"Ventral, {family} models: identity vs expression: too few patients "
                        f"for a group claim (3 < 5); 3 patients / 5 contacts; no p-value is "
                        f"given.")
        assert "p =" not in item and "p_FWE" not in item and "FDR" not in item
    assert 'class="answer-too_few"' in _section(pages["group"], "answer")


def test_group_diagnostics_are_quiet(derivatives):
    _, pages = derivatives
    html = pages["group"]
    answer = _section(html, "answer")
    match = re.search(r'<div class="diagnostics small">(.*?)</div>', answer, re.S)
    assert match, "no diagnostic note"
    note = _text(match.group(1))
    assert ("8 of 76 mixed-model fits are singular: a random-effect variance was estimated at "
            "zero (lme4's isSingular); the fits are kept and their tests remain valid") in note
    assert "1 of 76 fits stopped short of the optimiser's convergence criterion" in note
    assert "1 of 76 fits could not be estimated" in note
    assert 'class="warn' not in html and "warn" not in match.group(0)
    css = html[html.index("<style>"):html.index("</style>")]
    rule = re.search(r"\.diagnostics \{([^}]*)\}", css).group(1)
    assert "color" not in rule.replace("border-top", "")  # muted text (.small), no alarm colour


def test_group_tables_scroll(derivatives):
    _, pages = derivatives
    html = pages["group"]
    css = html[html.index("<style>"):html.index("</style>")]
    assert re.search(r"\.scroll-x \{[^}]*overflow-x: auto", css)
    assert re.search(r"\.scroll \{[^}]*overflow: auto", css)
    for anchor in ("participants", "mixed", "signflip", "clusters", "onsets", "comparison"):
        section = _section(html, anchor)
        tables = section.count("<table")
        wrapped = len(re.findall(r'<div class="scroll(?:-x)?">\s*<table', section))
        assert tables and wrapped == tables, anchor


def test_objective_contrasts_of_terms():
    from ieegrsa.report.answers import answers as _answers
    from ieegrsa.report.answers import objective_contrast

    assert objective_contrast("C(objective)[T.identity]", ["expression", "identity"]) == (
        "identity", "expression")
    assert objective_contrast("C(objective)[T.object]", ["object", "identity", "expression"]) \
        == ("object", "expression")
    assert objective_contrast(
        "C(objective, Treatment(reference='untrained'))[T.identity]",
        ["identity", "untrained"]) == ("identity", "untrained")
    assert objective_contrast("C(objective)[T.identity]", [],
                              [["identity", "expression"]]) == ("identity", "expression")
    assert objective_contrast("C(objective)[T.identity]:C(roi)[T.ventral]") == (None, None)
    # networks of three objectives: one sentence per term, against the first sorted level
    windows = [(0.1, 0.2), (0.15, 0.25), (0.2, 0.3), (0.3, 0.4)]
    rows = []
    for term, p in (("Intercept", 0.5), ("C(objective)[T.identity]", 0.01),
                    ("C(objective)[T.object]", 0.5)):
        for k, (a, b) in enumerate(windows):
            rows.append({"family": "network", "roi": "ventral", "window_start": a,
                         "window_stop": b, "term": term, "estimate": 0.1, "ci_low": 0.05,
                         "ci_high": 0.15, "t": 4.0 - k, "df": 7.0, "p_value": p,
                         "p_corrected": p if k in (0, 1, 3) else 0.2, "note": "",
                         "n_subjects": 8, "n_contacts": 30})
    mixed = pd.DataFrame(rows)
    patients = pd.DataFrame({"family": "network", "roi": "ventral", "subject": "01",
                             "objective": ["identity", "expression", "object"], "mean": 0.0})
    items = _answers(mixed, patients, None, None, alpha=0.05, correction="holm")
    assert [i["text"].split(":")[0] for i in items] == ["identity vs expression",
                                                        "object vs expression"]
    assert "significant windows (Holm < 0.05): 100\u2013250 ms, 300\u2013400 ms" in \
        items[0]["text"]
    assert "t(7.0) = 4.00" in items[0]["text"] and "(Holm 0.01)" in items[0]["text"]
    assert "no window significant after Holm" in items[1]["text"]
    assert "(Fisher z)" not in items[0]["text"]  # no transform known: no unit claimed


def test_group_report_without_optional_tables(derivatives, tmp_path):
    """No comparison, no patient summary (rebuilt from similarity), no clusters, no pages."""
    from ieegrsa.report import group_report

    root, _ = derivatives
    copy = tmp_path / "out"
    shutil.copytree(root, copy)
    for pattern in ("group/*comparison*", "group/*patients*", "group/*clusters*",
                    "group/*signflip*", "*.html"):
        for path in copy.glob(pattern):
            path.unlink()
    html = group_report(copy).read_text()
    assert "No model comparison was run" in html
    assert "No cluster table was found" in html
    assert "No sign-flip table was found" in html
    assert "the participants&#39; similarity tables" in html
    assert "not written" in html  # no participant pages to link to
    assert len(_pngs(html)) == 2  # the difference figure comes from the similarity tables
    items = _answer_items(html)
    assert "Classical view" not in html
    assert items[1].startswith("Lateral, categorical models: identity vs expression: estimate")
    assert "sign-flip" not in items[1] and "onset 100 ms [50, 150]" in items[1]


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
    html = group_report(tmp_path).read_text()
    # a page alone is not a complete participant: named as left out, not linked as a result
    assert 'href="sub-07.html"' not in html
    assert "Left out as incomplete" in html and "sub-07" in html


def test_group_report_and_statistics_agree_on_complete_participants(tmp_path):
    """An interrupted participant (outputs, no provenance file) is in neither the group
    statistics' input nor the group report's participants; the report names it as left out."""
    from ieegrsa.bids.derivatives import complete_participants, participant_paths
    from ieegrsa.pipeline import read_similarity_tables
    from ieegrsa.report import group_report

    root = write_fake_derivatives(tmp_path / "out", subjects=("01", "02", "03"))
    participant_paths(root, "03", "faces")["provenance"].unlink()  # interrupted
    assert [p["subject"] for p in complete_participants(root)] == ["01", "02"]
    assert set(read_similarity_tables(root)["subject"]) == {"01", "02"}
    html = group_report(root).read_text()
    section = html[html.index('<section id="participants">'):]
    section = section[:section.index("</section>")]
    rows = re.findall(r"<tr><td>sub-(\w+)</td>", section)
    assert rows == ["01", "02"]
    assert "Left out as incomplete" in section and "sub-03" in section


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


def test_methods_stats_paragraph():
    from ieegrsa.report import methods_text

    text = methods_text().split("\n\n")[-1]
    for phrase in ("linear mixed models (formula value ~ C(objective))",
                   "a random intercept and a random slope of the objective per patient "
                   "(lme4: (1 + objective | subject))",
                   "random intercepts of contacts (and network instances) nested in patients",
                   "fitted by REML", "Satterthwaite degrees of freedom (as lmerTest)",
                   "floored at the two-stage (per-patient) estimate",
                   "slope variance estimated at zero",
                   "patients \u2212 1 degrees of freedom (stats.se_floor)", "Benjamini-Hochberg",
                   "sign-flip permutation test", "maximum statistic over windows",
                   "2^n \u2264 1000", "fewer than 5 patients (stats.min_patients)",
                   "without p-values"):
        assert phrase in text, phrase
    other = methods_text({"stats": {"slopes": [], "se_floor": "none", "vc": "none",
                                    "min_patients": 8, "reml": False,
                                    "seed_study_bic": True}}).split("\n\n")[-1]
    assert "random intercept per patient only" in other and "nested" not in other
    assert "two-stage" not in other and "maximum likelihood" in other
    assert "fewer than 8 patients" in other and "separate per-ROI regressions by BIC" in other


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


def test_rdm_images_of_unbiased_distances_are_percentiles():
    """Cross-validated RDMs are about half negative: each panel shows the percentile of every
    pair within its own RDM (scipy rankdata), so the sign and scale do not matter."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from scipy.stats import rankdata

    from ieegrsa.report.figures import plot_rdms
    from ieegrsa.rsa import RDMs

    rng = np.random.default_rng(3)
    n = 7
    values = np.round(rng.normal(0, 1, (2, n * (n - 1) // 2)), 1)  # signed, with ties
    values[1, 3] = np.nan
    neural = RDMs(values, [f"c{i}" for i in range(n)], pd.DataFrame({
        "roi": "ventral", "pattern": "roi", "window_start": [0.0, 0.1],
        "window_stop": [0.1, 0.2]}), metric="cv-euclidean")
    fig = plot_rdms(neural, "ventral", n_windows=2)
    images = [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]
    plt.close(fig)
    assert len(images) == 2
    rows, cols = np.triu_indices(n, 1)
    for image, row in zip(images, values):
        shown = np.ma.filled(image.astype(float), np.nan)[rows, cols]
        finite = np.isfinite(row)
        expected = (rankdata(row[finite]) - 1) / (finite.sum() - 1) * 100
        np.testing.assert_allclose(shown[finite], expected, atol=1e-12)
        assert np.isnan(shown[~finite]).all()


def test_reports_from_results_in_memory(derivatives, tmp_path):
    """A script's tables, RDMs and configuration make the same page as the derivatives do,
    shown inline (_repr_html_) and saved where asked, without writing derivatives first."""
    from ieegrsa.config import load_config
    from ieegrsa.report import make_group_report, make_participant_report
    from ieegrsa.report._common import read_table
    from ieegrsa.report.participant import _load_rdms, participant_files
    from ieegrsa.rsa import RDMs

    root, pages = derivatives
    files = participant_files(root, "01")
    neural = _load_rdms(files["neural_rdms"])
    assert isinstance(neural, RDMs)
    report = make_participant_report(
        "01", contacts=read_table(files["contacts"]),
        preprocessing=read_table(files["preprocessing"]),
        similarity=read_table(files["similarity"]), ceiling=read_table(files["ceiling"]),
        neural_rdms=neural, model_rdms=_load_rdms(files["model_rdms"]),
        glassbrain=files["figure"].read_bytes(), config=load_config(CONFIG))
    html = report._repr_html_()
    assert "sub-01" in html and len(_pngs(html)) == len(_pngs(pages["sub-01"]))

    def body(text):  # the page without its time stamp and configuration block
        text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "", text)
        return text[:text.index('id="config"')]

    assert body(html) == body(pages["sub-01"])
    assert report.save(tmp_path).name == "sub-01.html"
    assert (tmp_path / "sub-01.html").read_text(encoding="utf-8") == html

    tables = {kind: read_table(root / "group" / f"task-faces_desc-{kind}_stats.tsv")
              for kind in ("mixedlm", "signflip", "clusters", "onsets", "patients")}
    group = make_group_report(tables, config=load_config(CONFIG))
    assert "Answer" in group._repr_html_() and repr(group).startswith("<Report 'group.html'")
