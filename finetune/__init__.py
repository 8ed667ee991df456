"""Fine-tuning: examples in, LoRA adapter out, versioned in a registry.

``train_adapter`` trains and writes an adapter with its ``manifest.json``;
``AdapterRegistry`` versions adapters and says which one is promoted or on canary.
Importing this package loads no model and imports neither torch nor transformers.
"""

from core.prompt_format import (
    ABSTAIN_TEXT,
    PromptBudgetError,
    build_closed_book_messages,
    build_grounded_messages,
    fit_to_budget,
)
from finetune.batches import PaddingCollator
from finetune.closed_book import build_closed_book
from finetune.dataset import (
    data_hash,
    load_jsonl,
    prepare,
    save_jsonl,
    split,
    tokenize_example,
    tokenize_examples,
)
from finetune.pii import Redactor
from finetune.pubmedqa import (
    PubMedQAConfig,
    PubMedQAItem,
    build_pubmedqa_closed_book,
    build_pubmedqa_examples,
    load_pubmedqa,
)
from finetune.raft import RaftConfig, build_grounded
from finetune.records import BuildReport, DatasetError, Example, QARecord, SourceRef
from finetune.registry import (
    AdapterRegistry,
    AdapterVersion,
    RegistryError,
    render_version,
    render_versions,
)
from finetune.sources import drop_overlap, read_qa
from finetune.train import (
    TrainConfig,
    TrainingError,
    TrainResult,
    train_adapter,
)

__all__ = [
    "ABSTAIN_TEXT",
    "BuildReport",
    "DatasetError",
    "Example",
    "PromptBudgetError",
    "PubMedQAConfig",
    "PubMedQAItem",
    "QARecord",
    "RaftConfig",
    "Redactor",
    "SourceRef",
    "build_closed_book",
    "build_closed_book_messages",
    "build_grounded",
    "build_grounded_messages",
    "build_pubmedqa_closed_book",
    "build_pubmedqa_examples",
    "data_hash",
    "drop_overlap",
    "fit_to_budget",
    "load_jsonl",
    "load_pubmedqa",
    "prepare",
    "read_qa",
    "save_jsonl",
    "split",
    "tokenize_example",
    "tokenize_examples",
    "AdapterRegistry",
    "AdapterVersion",
    "PaddingCollator",
    "RegistryError",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "render_version",
    "render_versions",
    "train_adapter",
]
