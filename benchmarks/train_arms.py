"""What the training benchmarks share: the models they train, each arm in a child process
(so each peak RSS is its own), and the peak-memory figures of an arm."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def tiny_model() -> tuple[Any, Any]:
    """A 4-layer, 256-wide Llama and a word-level tokenizer over 512 made-up words."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = ["<pad>", "<unk>", "<eos>"] + [f"w{i}" for i in range(509)]
    vocab = {t: i for i, t in enumerate(words)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>",
                                        pad_token="<pad>", eos_token="<eos>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=256, intermediate_size=512,
                         num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, pad_token_id=0, eos_token_id=2,
                         bos_token_id=None)
    return LlamaForCausalLM(config), tokenizer


@dataclass
class Arm:
    """One arm's model, where it runs, and a scratch directory that lives as long as it."""

    model: Any
    tokenizer: Any
    model_id: str
    weights_hash: str
    device: Any
    tmp: Path

    def peaks(self) -> dict[str, float]:
        """Peak RSS of this process so far, and peak CUDA memory since the arm began."""
        import torch

        peaks = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if self.device.type == "cuda":
            peaks["peak_cuda_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
        return peaks


@contextmanager
def open_arm(args: argparse.Namespace) -> Iterator[Arm]:
    """Seed torch, set its threads (``args.threads`` where given), load the tiny model
    (``args.tiny``) or the bundled base (on ``args.device``), and reset the CUDA peak."""
    import torch

    if getattr(args, "threads", 0):
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp_name:
        if args.tiny:
            model, tokenizer = tiny_model()
            model_id, weights = "tiny-llama", "none"
        else:
            from assistant.answering.models import ModelConfig, load_base

            loaded = load_base(ModelConfig(device=args.device))
            model, tokenizer = loaded.model, loaded.tokenizer
            model_id, weights = loaded.model_id, loaded.weights_hash
        device = next(model.parameters()).device
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        yield Arm(model, tokenizer, model_id, weights, device, Path(tmp_name))


def run_child(module: str, argv: Sequence[str]) -> dict:
    """Run ``python -m module *argv`` and return the JSON object its last line prints."""
    done = subprocess.run([sys.executable, "-m", module, *argv],
                          stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])
