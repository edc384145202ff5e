"""The packages depend on each other one way only, and the leaves stay light.

Every import in the tree (module level or inside a function, ``TYPE_CHECKING`` blocks
included) is an edge between top-level packages. The allowed edges form a ladder:
``languages`` <- ``captions``, ``glossary`` <- ``web`` <- ``interpreter`` <- ``bench``, and
``tests`` may use anything. A new upward edge or a cycle fails here with the importing file.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("languages", "captions", "glossary", "web", "interpreter", "bench", "tests")

ALLOWED: dict[str, frozenset[str]] = {
    "languages": frozenset(),
    "captions": frozenset({"languages"}),
    "glossary": frozenset({"languages"}),
    "web": frozenset({"languages", "captions", "glossary"}),
    "interpreter": frozenset({"languages", "captions", "glossary", "web"}),
    "bench": frozenset({"languages", "captions", "glossary", "web", "interpreter"}),
    "tests": frozenset(PACKAGES) - {"tests"},
}


def _imports(path: Path, *, root: Path = REPO) -> list[tuple[str, int]]:
    """Absolute module names ``path`` imports, with line numbers (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = ".".join(path.relative_to(root).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append((name, node.lineno))
    return out


def _edges() -> dict[tuple[str, str], list[str]]:
    """(importer package, imported package) -> where, for edges between our packages."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for top in PACKAGES:
        for path in sorted((REPO / top).rglob("*.py")):
            for name, line in _imports(path):
                target = name.split(".")[0]
                if target in PACKAGES and target != top:
                    edges[(top, target)].append(f"{path.relative_to(REPO)}:{line} -> {name}")
    return edges


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path, or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_walker_sees_imports_of_every_kind(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text(
        "import a.b\nfrom c import d\ndef f():\n    from e.f import g\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import h\n"
    )
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("from . import sibling\nfrom ..other import x\n")
    names = {name for name, _ in _imports(src, root=tmp_path)}
    assert {"a.b", "c", "e.f", "h"} <= names
    relative = {name for name, _ in _imports(tmp_path / "pkg" / "mod.py", root=tmp_path)}
    assert relative == {"pkg", "other"}


def test_cycle_finder_finds_a_cycle_and_no_false_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_packages_import_only_downwards() -> None:
    wrong = [
        where
        for (src, dst), places in sorted(_edges().items())
        if dst not in ALLOWED[src]
        for where in places
    ]
    assert not wrong, "imports against the layering (see this module's docstring):\n" + "\n".join(
        wrong
    )


def test_no_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for src, dst in _edges():
        graph[src].add(dst)
    assert _cycle(graph) is None


def test_production_code_never_imports_the_test_fakes() -> None:
    wrong = [
        f"{path.relative_to(REPO)}:{line}"
        for top in ("languages", "captions", "glossary", "web", "interpreter")
        for path in (REPO / top).rglob("*.py")
        if "testing" not in path.relative_to(REPO).parts
        for name, line in _imports(path)
        if name.startswith("interpreter.testing")
    ]
    assert not wrong


@pytest.mark.parametrize(
    "modules",
    [
        "languages",
        "captions, captions.protocol, captions.segments, captions.live",
        "captions.store, captions.export",
        "glossary, glossary.files, glossary.terms, glossary.matching",
    ],
)
def test_leaves_load_neither_livekit_rtc_nor_pydantic_settings(modules: str) -> None:
    probe = (
        f"import sys; import {modules}; "
        "bad = sorted(m for m in sys.modules if m.startswith(('livekit', 'pydantic_settings'))); "
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"importing {modules} loaded {out.stdout.strip()}"
