"""The same ``assistant finetune`` command under ``torchrun``: two CPU processes (gloo),
one registered adapter version that records the world size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import build_tiny_model

pytestmark = pytest.mark.slow

WORDS = "what is the refund window number it is thirty days"


def test_finetune_runs_unchanged_under_torchrun(tmp_path):
    model = build_tiny_model(tmp_path / "model", WORDS + " " + " ".join(map(str, range(12))))
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(
        json.dumps({"question": f"what is the refund window number {i}",
                    "answer": "it is thirty days"}) + "\n" for i in range(12)))
    env = {**os.environ, "ASSISTANT_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "assistant.cli.main", "finetune",
               "--data", str(data), "--mode", "closed-book", "--name", "ddp",
               "--model", str(model), "--max-steps", "3", "--batch-size", "2",
               "--split", "all", "--no-redact", "--promote", "--json"]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[2])
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout[run.stdout.index("{"):])  # only rank 0 prints it
    assert summary["global_step"] == 3 and summary["adapter"]["promoted"]
    versions = sorted((tmp_path / "home" / "adapters" / "ddp").glob("v*"))
    assert [v.name for v in versions] == ["v0001"]  # rank 1 registered nothing
    manifest = json.loads((versions[0] / "manifest.json").read_text())
    assert manifest["world_size"] == 2
    assert manifest["data"]["builder"] == {"split": "all"}
    assert manifest["data"]["train_examples"] + manifest["data"]["val_examples"] == 12
    assert (versions[0] / "adapter_model.safetensors").is_file()
