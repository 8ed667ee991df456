"""The layering contract (docs/architecture.md), checked over the real import graph.

Every import in the project's packages, including those inside functions and under
``TYPE_CHECKING``, may point only to its own layer or a lower one, and no two files may
import each other, directly or through others. A new import that breaks the contract
fails here with the offending file and line.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Lowest first. A module belongs to the layer of the longest prefix that names it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("core",)),
    ("ingest", ("ingest",)),
    ("index", ("index",)),
    ("finetune", ("finetune",)),
    ("answering", ("assistant.answering",)),
    ("eval", ("eval",)),
    ("interfaces", ("assistant",)),  # cli, server, integrations, feedback
]
PACKAGES = ("core", "ingest", "index", "finetune", "assistant", "eval")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int


def module_files() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts) if parts else None


def import_edges(modules: dict[str, Path]) -> list[Edge]:
    """Each import of one project module by another. ``from pkg import sub`` counts as an
    import of ``pkg.sub`` (not of ``pkg``'s ``__init__``) when ``sub`` is a module."""
    edges: list[Edge] = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                subs = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in modules]
                targets = subs if len(subs) == len(node.names) else [module, *subs]
            for target in targets:
                if target.split(".")[0] not in PACKAGES:
                    continue
                found = _resolve(target, modules)
                if found and found != name:
                    edges.append(Edge(name, found, node.lineno))
    return edges


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    if rank < 0:
        raise AssertionError(f"{module} is in no layer; add it to LAYERS")
    return rank


def cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected sets of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_import_points_down_the_layers():
    modules = module_files()
    bad = []
    for e in import_edges(modules):
        if layer_of(e.target) > layer_of(e.source):
            bad.append(f"{modules[e.source].relative_to(REPO)}:{e.line}: {e.source} "
                       f"({LAYERS[layer_of(e.source)][0]}) imports {e.target} "
                       f"({LAYERS[layer_of(e.target)][0]})")
    assert not bad, "imports against the layering (docs/architecture.md):\n" + "\n".join(bad)


def test_no_import_cycles_between_files():
    found = cycles(import_edges(module_files()))
    assert not found, f"import cycles: {found}"


def test_the_checker_sees_a_violation_and_a_cycle(tmp_path):
    """The checks above are only worth something if they can fail."""
    assert layer_of("ingest.embedding") < layer_of("index.searcher")
    assert layer_of("assistant.answering.answer") < layer_of("eval.harness")
    assert layer_of("eval.harness") < layer_of("assistant.server.app")
    edges = [Edge("a", "b", 1), Edge("b", "c", 1), Edge("c", "a", 1), Edge("c", "d", 1)]
    assert cycles(edges) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", ["core.errors", "core.settings", "core.prompt_format",
                                    "core.refs", "core.devices", "core.artifacts", "index",
                                    "ingest"])
def test_base_imports_stay_cheap(module):
    """The base and package roots load no model library: a CLI's --help and a search-only
    server do not pay for torch or transformers."""
    code = (f"import sys, {module}; heavy = [m for m in ('torch', 'transformers', "
            "'sentence_transformers', 'peft') if m in sys.modules]; print(','.join(heavy))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "", f"import {module} loaded {done.stdout.strip()}"
