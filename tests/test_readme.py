"""The README's two commands are the ones CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    blocks = text.split("```bash\n")[1:3]
    return [block.split("\n```")[0].strip() for block in blocks]


def test_two_commands_near_the_top():
    demo, tests = _readme_commands()
    assert demo.startswith("python3 -m venv .venv") and "ieegrsa demo" in demo
    assert tests.startswith("python3 -m venv .venv") and "pytest" in tests


def test_ci_runs_the_readme_commands():
    demo, tests = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert demo in ci
    # CI adds reporting flags to pytest; the rest of the command is verbatim
    assert tests.replace("-m pytest", "-m pytest -p no:cacheprovider -ra --durations=15") in ci


def _python_block(text, heading):
    return text.split(heading)[1].split("```python\n")[1].split("\n```")[0]


def test_python_api_tour_runs(tmp_path, monkeypatch):
    """The README's Python blocks run as written (on the tiny simulated dataset)."""
    text = (ROOT / "README.md").read_text()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IEEGRSA_CACHE", str(tmp_path / "cache"))
    (tmp_path / "my_config.yaml").write_text("rsa:\n  window: 0.1\n")
    namespace = {}
    exec(compile(_python_block(text, "## Python API"), "README.md", "exec"), namespace)
    neural, test = namespace["neural"], namespace["test"]
    assert {"roi", "window_start", "window_stop"} <= set(neural.descriptors.columns)
    assert namespace["similarity"].shape == (neural.n_rdms, 2)
    assert {"observed", "p_value", "p_fwe"} <= set(test.table.columns)

    exec(compile(_python_block(text, "## Networks"), "README.md", "exec"), namespace)
    layer_rdms = namespace["layer_rdms"]
    assert list(layer_rdms.conditions) == list(neural.conditions)
    assert list(layer_rdms.descriptors.layer) == list(namespace["features"])
    assert list((tmp_path / "cache").rglob("*.npy"))  # cache_dir="auto" honours IEEGRSA_CACHE
