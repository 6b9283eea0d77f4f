"""The code's layout: no import cycle between modules, no source file over 400 lines, and one-way package dependencies
(encoders never imports lcm; the heads never import lcm.training). Read with `ast`, nothing is imported."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lcm", "encoders", "diffusion_head", "quantized_head")
MAX_LINES = 400


def module_name(path: Path, root: Path = ROOT) -> str:
    """lcm/model/io.py -> lcm.model.io; lcm/cli/__init__.py -> lcm.cli."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(root: Path = ROOT) -> dict[str, Path]:
    """Module name -> file, for every .py under the packages."""
    return {module_name(p, root): p for top in PACKAGES for p in sorted((root / top).rglob("*.py"))}


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules `path` imports anywhere in it (inside functions too), resolved to the deepest known module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y / from . import y
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names]  # a submodule, else resolves to `base`
        else:
            continue
        for target in targets:
            while target and target not in known:  # `from lcm.x import func` -> lcm.x
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = source_files(root)
    return {name: imported_modules(path, name, set(files)) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> "list[str] | None":
    """One import cycle as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_detection_finds_a_real_cycle(tmp_path):
    """The check above would fail on a cycle, even one hidden in a function-level import."""
    for rel, text in {"lcm/__init__.py": "", "lcm/a.py": "from lcm.b import f\n",
                      "lcm/b.py": "def f():\n    from lcm import a\n", "lcm/c.py": "import lcm.a\n"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    for top in PACKAGES[1:]:
        (tmp_path / top).mkdir()
    assert find_cycle(import_graph(tmp_path)) == ["lcm.a", "lcm.b", "lcm.a"]


def test_no_source_file_over_400_lines():
    long = {name: n for name, path in source_files().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines (split them by concern): {long}"


@pytest.mark.parametrize("importer, forbidden", [("encoders", "lcm"), ("diffusion_head", "lcm.training"),
                                                 ("quantized_head", "lcm.training")])
def test_dependencies_point_one_way(importer, forbidden):
    graph = import_graph()
    bad = {f"{m} -> {t}" for m, targets in graph.items() if m.split(".")[0] == importer
           for t in targets if t == forbidden or t.startswith(forbidden + ".")}
    assert not bad, f"{importer} must not import {forbidden}: {sorted(bad)}"
