"""Every third-party module the project's packages import is declared in pyproject.toml.

Imports are read with ``ast`` from every file of the packages, including imports inside
functions (the lazy ones of heavy or optional libraries), and mapped to the distribution
that provides them (``importlib.metadata.packages_distributions``). Each must be named in
``[project] dependencies`` or one of ``[project.optional-dependencies]``: a module that
only arrives as some other package's dependency can vanish with its next release.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "ingest", "index", "finetune", "assistant", "eval")


def third_party_imports() -> dict[str, list[str]]:
    """Top-level module name -> the places (``file:line``) that import it."""
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top in sys.stdlib_module_names or top in PACKAGES:
                        continue
                    where = f"{path.relative_to(REPO)}:{node.lineno}"
                    found.setdefault(top, []).append(where)
    return found


def declared_distributions() -> set[str]:
    """Canonical names of every distribution pyproject.toml depends on, extras included."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        lines += extra
    return {canonicalize_name(Requirement(line).name) for line in lines}


def test_the_scan_sees_imports_inside_functions():
    imports = third_party_imports()
    # assistant/server/app.py imports uvicorn only inside serve()
    assert any(w.startswith("assistant/server/app.py:") for w in imports["uvicorn"])
    assert "json" not in imports and "core" not in imports


def test_every_third_party_import_is_declared():
    declared = declared_distributions()
    providers = importlib.metadata.packages_distributions()
    missing = []
    for module, where in sorted(third_party_imports().items()):
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists:  # not installed here: its distribution may still share its name
            dists = {canonicalize_name(module)}
        if not dists & declared:
            missing.append(f"{module} (from {' or '.join(sorted(dists))}), "
                           f"imported at {', '.join(where[:3])}")
    assert not missing, "imported but not declared in pyproject.toml:\n" + "\n".join(missing)
