"""The package's structure: nothing imports upward across the stages, no import cycles, no
module past ~600 lines (docs/architecture.md draws the same floors)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ieegrsa"

#: The floors of docs/architecture.md, bottom up: a package may import only from lower floors.
FLOORS = {
    "": 0, "errors": 0, "_check": 0, "_logging": 0, "_files": 0, "_docs": 0, "_lazy": 0,
    "_columns": 0,
    "config": 1, "simulate": 1,
    "bids": 2, "preprocessing": 2,
    "anatomy": 3, "stats": 3,
    "rsa": 4,
    "models": 5, "report": 5,
    "probing": 6,
    "training": 6,
    "pipeline": 7,
    "cli": 8,
}

#: Imports that go up on purpose, each with its reason (docs/architecture.md).
ALLOWED_UPWARD = {
    # the config's early did-you-mean for ROI and atlas names: a lazy import of two name
    # catalogues that import nothing but errors
    ("config", "anatomy"),
}

MAX_LINES = 600


def _modules(package=PACKAGE) -> dict[str, Path]:
    found = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules) -> set[str]:
    """The ieegrsa modules ``name`` imports, at module level or inside functions."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        out |= {t for t in targets if t in modules and t != name}
    return out


def _graph(package=PACKAGE):
    modules = _modules(package)
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _floor_of(module: str) -> tuple[str, int]:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else ""
    if key not in FLOORS:
        pytest.fail(f"{module}: package {key!r} has no floor in FLOORS (docs/architecture.md)")
    return key, FLOORS[key]


def test_nothing_imports_upward(package=PACKAGE):
    upward = []
    for module, targets in _graph(package).items():
        here, floor = _floor_of(module)
        for target in targets:
            there, level = _floor_of(target)
            if there == here or level == 0:  # the ground floor's helpers serve every floor
                continue
            if level >= floor and (here, there) not in ALLOWED_UPWARD:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that do not go down a floor:\n" + "\n".join(sorted(upward))


def test_no_import_cycles(package=PACKAGE):
    graph = _graph(package)
    # a package's __init__ re-exporting its own modules is not a cycle of the design
    edges = {m: {t for t in ts if not (m == t.rsplit(".", 1)[0] or t == m.rsplit(".", 1)[0]
                                       and package.joinpath(*t.split(".")[1:], "__init__.py")
                                       .exists())}
             for m, ts in graph.items()}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_module_past_600_lines():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules past ~600 lines: {long}"


def _copy(tmp_path) -> Path:
    """The package's modules copied aside, for the checks' own tests to add a bad one to."""
    import shutil

    copy = tmp_path / "ieegrsa"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("data", "__pycache__", "*.html"))
    return copy


def test_the_check_finds_an_upward_import(tmp_path):
    """The floor check is not vacuous: a stage importing the pipeline is caught."""
    package = _copy(tmp_path)
    (package / "stats" / "_upward_probe.py").write_text("from ..pipeline import run_group\n")
    with pytest.raises(AssertionError, match="stats._upward_probe -> ieegrsa.pipeline"):
        test_nothing_imports_upward(package)


def test_the_check_finds_a_cycle(tmp_path):
    """The cycle check is not vacuous: two modules importing each other are caught."""
    package = _copy(tmp_path)
    (package / "stats" / "_cycle_a.py").write_text("from . import _cycle_b\n")
    (package / "stats" / "_cycle_b.py").write_text("def f():\n    from ._cycle_a import f\n")
    with pytest.raises(AssertionError, match="_cycle_a <-> ieegrsa.stats._cycle_b"):
        test_no_import_cycles(package)
