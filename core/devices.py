"""The torch device a model runs on: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

One rule for every model the project loads (embedder, cross-encoder, base model): ``auto``
takes the first CUDA GPU when torch sees one and the CPU otherwise; asking for CUDA where
there is none is an error, never a silent fallback. Which GPU FAISS uses is another
question (``index.vectors``, through ``faiss.get_num_gpus()``).

torch is imported inside ``resolve_device`` only, so importing ``core`` stays cheap.
"""

from __future__ import annotations

import re

from core.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "cuda:N")
_CUDA = re.compile(r"cuda(?::(\d+))?")


def resolve_device(device: str) -> str:
    """Turn ``auto``/``cpu``/``cuda``/``cuda:N`` into the concrete device to load onto.

    Returns ``cpu``, ``cuda`` or ``cuda:N``. Raises ``ConfigError`` naming the value when
    it is none of those, and naming the device when CUDA (or GPU N) is not there.
    """
    if device == "cpu":
        return "cpu"
    cuda = _CUDA.fullmatch(device) if isinstance(device, str) else None
    if device != "auto" and cuda is None:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but no CUDA GPU is available; use cpu")
    index = int(cuda.group(1)) if cuda.group(1) is not None else 0
    if index >= torch.cuda.device_count():
        raise ConfigError(
            f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here"
        )
    return device
