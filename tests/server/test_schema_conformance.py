"""The API matches its OpenAPI schema: schemathesis, every check, against a live server.

A real uvicorn server on loopback with an API key set, the real answer path (retrieval,
generation, citation checking) on the tiny Llama, and ``schemathesis run --checks all``
sending generated requests (valid and invalid) at every operation of ``/openapi.json``.
Any server error, undocumented status or content type, response that breaks its schema,
schema-valid request refused or invalid one accepted is a failure.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant.server import create_app

pytestmark = pytest.mark.slow

KEY = "conformance-test-key"


def run_schemathesis(url: str, out: Path, max_examples: int, seed: int = 1,
                     timeout_s: float = 600) -> tuple[int, str]:
    """``schemathesis run`` with every check against ``url``; (exit code, output)."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run", f"{url}/openapi.json",
        "--checks", "all", "--header", f"Authorization: Bearer {KEY}",
        "--max-examples", str(max_examples), "--seed", str(seed), "--workers", "1",
        "--request-timeout", "120", "--suppress-health-check", "too_slow",
        "--report", "junit", "--report-dir", str(out),
    ]
    here = str(Path(__file__).parent)
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
           "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                          cwd=out, env=env)
    return done.returncode, done.stdout + done.stderr


def counts(output: str) -> dict[str, int]:
    """The run's figures: requests ``generated``, ``failures`` and failures ``dropped`` by
    the hook (``schemathesis_hooks``)."""
    generated = re.search(r"(\d+) generated", output)
    failures = re.search(r"(\d+) unique failures?", output)
    dropped = re.search(r"Filtered: (\d+)", output)
    return {"generated": int(generated.group(1)) if generated else 0,
            "failures": int(failures.group(1)) if failures else 0,
            "dropped": int(dropped.group(1)) if dropped else 0}


def check_run(code: int, output: str, out: Path, at_least: int) -> dict[str, int]:
    (out / "schemathesis-output.txt").write_text(output)
    found = counts(output)
    print("schemathesis:", found)
    assert code == 0 and found["failures"] == 0, output
    assert found["generated"] >= at_least, output  # it really ran
    return found


def test_the_api_conforms_to_its_schema_on_the_tiny_model(live, settings, services, tmp_path):
    app = create_app(settings(server_api_keys=[KEY], server_max_new_tokens=8), services())
    server = live(app)
    assert httpx.post(f"{server.url}/v1/answer", json={"question": "refund?"}).status_code == 401
    code, output = run_schemathesis(server.url, tmp_path, max_examples=20)
    check_run(code, output, tmp_path, at_least=300)


def test_the_api_conforms_to_its_schema_on_the_bundled_model(live, settings, bundled_home,
                                                             tmp_path):
    """The server as a new user runs it: the bundled SmolLM2 loaded by the server itself.
    Bounded to a few minutes on 2 cores: 5 examples an operation, 8 tokens an answer."""
    app = create_app(settings(home=bundled_home, server_device="cpu", server_api_keys=[KEY],
                              server_max_new_tokens=8, server_timeout_s=300))
    server = live(app)
    until = time.monotonic() + 300
    while httpx.get(f"{server.url}/readyz").status_code != 200:
        assert time.monotonic() < until, "the bundled model did not load"
        time.sleep(0.5)
    code, output = run_schemathesis(server.url, tmp_path, max_examples=5)
    check_run(code, output, tmp_path, at_least=100)
