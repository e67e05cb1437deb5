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
