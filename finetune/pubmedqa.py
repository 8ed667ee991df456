"""PubMedQA (PQA-L) as grounded examples, comparable with the RAFT paper.

``ori_pqal.json`` holds 1,000 expert-labelled questions; ``test_ground_truth.json`` names
the official 500-question test split. Training uses only the other 500. Each example
shows the question's CONTEXTS as numbered passages among distractor contexts taken from
other questions *of the same split* (so no test text reaches training), and the target is
the yes/no/maybe decision followed by the long answer, citing the gold passages.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from core.prompt_format import ABSTAIN_TEXT, build_grounded_messages, format_target
from finetune.closed_book import build_closed_book
from finetune.records import BuildReport, DatasetError, Example, QARecord
from index.records import Passage

logger = logging.getLogger(__name__)

DATA_FILE = "ori_pqal.json"
TEST_FILE = "test_ground_truth.json"
DECISIONS = ("yes", "no", "maybe")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class PubMedQAItem:
    """One PQA-L question: ``contexts`` are its gold passages, ``labels`` their section
    names (BACKGROUND, METHODS, ...), ``decision`` is yes/no/maybe."""

    id: str
    question: str
    contexts: tuple[str, ...]
    labels: tuple[str, ...]
    long_answer: str
    decision: str


@dataclass(frozen=True)
class PubMedQAConfig:
    """``distractors`` contexts from other questions join the gold ones; the gold contexts
    are present in a fraction ``p_gold`` of examples (the abstention is the target
    otherwise), as in RAFT."""

    distractors: int = 3
    p_gold: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.distractors, bool) or not 0 <= self.distractors <= 20:
            raise ConfigError(f"distractors must be in 0..20, got {self.distractors!r}")
        if not 0.0 <= self.p_gold <= 1.0:
            raise ConfigError(f"p_gold must be in [0, 1], got {self.p_gold!r}")


def load_pubmedqa(directory: Path | str, split: str = "train") -> list[PubMedQAItem]:
    """The PQA-L questions of ``split``: ``test`` = the ids in ``test_ground_truth.json``,
    ``train`` = every other id of ``ori_pqal.json``. Sorted by id. Raises
    ``DatasetError`` when a file is missing or malformed, or a test id has no question."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    directory = Path(directory)
    data = _read_json(directory / DATA_FILE)
    test = _read_json(directory / TEST_FILE)
    missing = sorted(set(test) - set(data))
    if missing:
        raise DatasetError(f"{directory / TEST_FILE}: ids not in {DATA_FILE}: {missing[:5]}")
    ids = sorted(test) if split == "test" else sorted(set(data) - set(test))
    items = []
    for pmid in ids:
        row = data[pmid]
        try:
            item = PubMedQAItem(
                id=str(pmid),
                question=row["QUESTION"].strip(),
                contexts=tuple(c.strip() for c in row["CONTEXTS"]),
                labels=tuple(row.get("LABELS") or ()),
                long_answer=row["LONG_ANSWER"].strip(),
                decision=row["final_decision"].strip().lower(),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise DatasetError(f"{directory / DATA_FILE}: question {pmid} is malformed "
                               f"({exc!r})") from exc
        if item.decision not in DECISIONS or not item.contexts:
            raise DatasetError(f"{directory / DATA_FILE}: question {pmid} has decision "
                               f"{item.decision!r} and {len(item.contexts)} contexts")
        if split == "test" and str(test[pmid]).lower() != item.decision:
            raise DatasetError(f"{TEST_FILE}: label of {pmid} disagrees with {DATA_FILE}")
        items.append(item)
    logger.info("PubMedQA %s: %d questions", split, len(items))
    return items


def build_pubmedqa_examples(
    items: Sequence[PubMedQAItem], config: PubMedQAConfig | None = None
) -> tuple[list[Example], BuildReport]:
    """One grounded example per item; distractors come only from ``items`` themselves, so
    pass one split at a time. Target: ``"Yes. <long answer> [n][m]."``."""
    config = config or PubMedQAConfig()
    rng = random.Random(config.seed)
    report = BuildReport()
    splits = {i.id for i in items}
    if len(splits) != len(items):
        raise DatasetError("PubMedQA items have duplicate ids")
    with_gold = set(rng.sample(range(len(items)), round(config.p_gold * len(items))))
    examples = []
    for index, item in enumerate(items):
        others = [o for o in items if o.id != item.id]
        if len(others) == 0 and config.distractors:
            report.drop("no other question to take distractor contexts from")
            continue
        pool = rng.sample(others, min(config.distractors, len(others)))
        distractors = [_passage(o, rng.randrange(len(o.contexts))) for o in pool]
        passages = list(distractors)
        positions: list[int] = []
        if index in with_gold:
            # Random slots, but the abstract's own order (background before results).
            total = len(distractors) + len(item.contexts)
            positions = sorted(n + 1 for n in rng.sample(range(total), len(item.contexts)))
            for n, i in zip(positions, range(len(item.contexts)), strict=True):
                passages.insert(n - 1, _passage(item, i))
            target = format_target(f"{item.decision.capitalize()}. {item.long_answer}",
                                   positions)
        else:
            target = ABSTAIN_TEXT
        if not passages:
            report.drop("no passages (no gold and no distractors)")
            continue
        messages = (*build_grounded_messages(item.question, passages),
                    {"role": "assistant", "content": target})
        examples.append(Example(
            id=f"pubmedqa:{item.id}", kind="pubmedqa", messages=tuple(messages),
            meta={"record_id": item.id, "origin": "pubmedqa", "decision": item.decision,
                  "gold_positions": positions,
                  "distractor_ids": [o.id for o in pool]},
        ))
        report.kinds["pubmedqa"] += 1
        report.gold_eligible += 1
        report.gold_present += bool(positions)
    report.kept = len(examples)
    return examples, report


def build_pubmedqa_closed_book(
    items: Sequence[PubMedQAItem],
) -> tuple[list[Example], BuildReport]:
    """Closed-book examples for the fine-tune-only setup: the question alone, target
    ``"Yes. <long answer>"`` (the same answer as the grounded target, without citations)."""
    records = [
        QARecord(id=f"pubmedqa:{item.id}", question=item.question,
                 answer=f"{item.decision.capitalize()}. {item.long_answer}", origin="pubmedqa")
        for item in items
    ]
    return build_closed_book(records)


def _passage(item: PubMedQAItem, i: int) -> Passage:
    label = item.labels[i].title() if i < len(item.labels) else ""
    return Passage(
        chunk_id=f"pubmed-{item.id}-{i}", doc_id=f"pubmed-{item.id}",
        # One source name for all: a per-article name would tell gold from distractors.
        source="PubMed abstract", text=item.contexts[i], score=0.0,
        heading=(label,) if label else (),
    )


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError(f"{path}: no such file (PubMedQA PQA-L: {DATA_FILE}, {TEST_FILE})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected an object keyed by PubMed id")
    return data
