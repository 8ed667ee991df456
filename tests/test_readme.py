"""The README's Python library example runs as written, on the real bundled models."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)


def test_the_readme_has_one_library_example():
    (block,) = readme_python_blocks()
    assert "build_answerer" in block and "ingest(" in block


@pytest.mark.slow
def test_the_library_example_runs(bundled_home, tmp_path):
    (block,) = readme_python_blocks()
    (tmp_path / "examples").mkdir()
    shutil.copytree(REPO / "examples" / "acme" / "docs", tmp_path / "examples" / "acme" / "docs")
    env = {**os.environ, "ASSISTANT_HOME": str(bundled_home),
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("v") and "[]" in lines[0]  # a version, chunks, nothing skipped
    assert any("refunds-2025.md" in line for line in lines[1:4])  # the search hits
    assert lines[-1].endswith("]")  # the answer line: text, abstained, citations
