"""Builders for the eval harness tests: a tiny Llama, a tiny LoRA adapter, a small corpus,
a 4-question qa.jsonl and a config. A plain module (not a conftest), named so no other
test folder has a module of the same name."""

from __future__ import annotations

import json
from pathlib import Path

import tiny_models

CORPUS = {
    "policies/refunds.md": (
        "# Refunds\n\n## Refund window\n\nYou can return a product within 30 days of delivery "
        "for a full refund. Refunds are paid to the original payment method within 5 "
        "business days.\n\n## Damaged items\n\nA damaged item is replaced free of charge; send "
        "a photo to support first.\n"
    ),
    "support/wifi.md": (
        "# Wi-Fi setup\n\nHold the pairing button for five seconds until the light blinks "
        "blue, then open the Acme Home app and choose Add device.\n"
    ),
    "support/cleaning.md": (
        "# Cleaning\n\n## Filter\n\nRinse the dust filter every two weeks with cold water and "
        "let it dry for 24 hours before putting it back.\n"
    ),
}
QUESTIONS = [
    {"id": "t1", "question": "How many days do I have to return a product for a refund?",
     "answer": "30 days", "split": "test",
     "sources": [{"file": "policies/refunds.md", "page": None, "heading": "Refund window"}]},
    {"id": "t2", "question": "How long do I hold the pairing button for Wi-Fi setup?",
     "answer": "five seconds", "split": "test",
     "sources": [{"file": "support/wifi.md", "page": None, "heading": "Wi-Fi setup"}]},
    {"id": "t3", "question": "How often should I rinse the dust filter? <script>alert(1)</script>",
     "answer": "every two weeks", "split": "test",
     "sources": [{"file": "support/cleaning.md", "page": None, "heading": "Filter"}]},
    {"id": "t4", "question": "What was the refund policy revenue impact last year?",
     "answer": None, "split": "test", "sources": []},
    {"id": "x1", "question": "A training question that must not be asked?",
     "answer": "no", "split": "train", "sources": []},
]


def build_tiny_model(directory: Path, seed: int = 0) -> Path:
    """The shared grounded tiny Llama, which can also say yes and no."""
    return tiny_models.build_grounded_model(directory, seed, extra_words="yes no")


build_lora_adapter = tiny_models.build_lora_adapter


def write_corpus(root: Path) -> Path:
    for name, text in CORPUS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def write_questions(path: Path) -> Path:
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return path


def write_config(path: Path, *, base: Path, docs: Path, qa: Path, index: Path,
                 registry: Path, adapter_dir: Path, extra: str = "",
                 grounded: str = "grounded") -> Path:
    """A four-setup config over the tiny model; ``extra`` is appended verbatim."""
    path.write_text(f"""
[run]
name = "tiny"
seed = 0
batch_size = 2
max_new_tokens = 6
bootstrap_resamples = 200
permutation_resamples = 200

[model]
base = "{base}"
device = "cpu"

[corpus]
kind = "docs"
docs = "{docs}"
index = "{index}"

[questions]
format = "qa"
path = "{qa}"
split = "test"

[answer]
min_retrieval_score = 0.1

[adapters]
registry = "{registry}"

[setups.base]

[setups.rag]
retrieval = true
k = 3

[setups.finetune]
adapter = "{adapter_dir}"

[setups.combined]
retrieval = true
k = 3
adapter = "{grounded}"
{extra}
""")
    return path
