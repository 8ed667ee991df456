"""The torch device rule: auto, cpu, cuda and cuda:N; CUDA where there is none is an error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.devices import resolve_device
from core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
has_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_cpu_and_auto():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "cuda:", "CUDA", "mps", "", " cpu"])
def test_unknown_values_are_named(device):
    with pytest.raises(ConfigError, match=f"got {device!r}"):
        resolve_device(device)


@no_cuda
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_a_gpu_names_the_device(device):
    with pytest.raises(ConfigError, match=f"device {device!r}.*no CUDA GPU"):
        resolve_device(device)


def test_cuda_and_gpu_numbers_are_checked_through_torch(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda") == "cuda" and resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(ConfigError, match="'cuda:2': only 2 CUDA device"):
        resolve_device("cuda:2")


@has_cuda
def test_a_present_gpu_is_used():
    assert resolve_device("cuda") == "cuda" and resolve_device("cuda:0") == "cuda:0"
    count = torch.cuda.device_count()
    with pytest.raises(ConfigError, match=f"only {count} CUDA device"):
        resolve_device(f"cuda:{count}")


def test_importing_core_does_not_import_torch():
    code = ("import sys, core.devices, core.refs; "
            "assert 'torch' not in sys.modules, 'core imported torch'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
