"""Grounded training examples on evidence units (``assistant.grounded_units``), built from
a real index of acme documents (one of them archived) with the real embedder: the gold
unit shown and cited, the abstention when it is not, nothing archived shown or taken as
gold, and the prompt the one evidence-first serving sends for the same units."""

from __future__ import annotations

import re

import pytest
from acme_corpus import ACME, acme_index

from assistant.answering.answer import AnswerConfig, RagAnswerer
from assistant.answering.citations import CitationVerifier
from assistant.answering.evidence_scoring import EmbeddingScorer
from assistant.answering.generation import Generation
from assistant.grounded_units import UnitsConfig, build_grounded_units
from core.errors import ConfigError
from core.prompt_format import ABSTAIN_TEXT, SYSTEM_PROMPT
from finetune.raft import flat
from finetune.records import QARecord, SourceRef
from finetune.sources import read_qa
from index.searcher import Searcher

FILES = [
    "policies/refunds-2025.md",
    "policies/refunds-2023.md",  # archived: superseded by refunds-2025
    "policies/warranty.md",
    "billing/account-billing-faq.md",
]
STALE = "policies/refunds-2023.md"
P_GOLD = 0.75


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, embedder):
    s = acme_index(tmp_path_factory.mktemp("acme-units"), FILES, embedder)
    yield s
    s.close()


@pytest.fixture(scope="module")
def scorer(embedder):
    return EmbeddingScorer(embedder)


@pytest.fixture(scope="module")
def records():
    """The acme train records whose gold source is indexed, the unanswerable ones, and one
    whose only source is the archived policy (its answer, 14 days, is stale)."""
    train, _ = read_qa(ACME / "qa.jsonl", split="train")
    kept = [r for r in train if r.answer is None or r.sources[0].file in FILES]
    stale = QARecord(id="stale-1", question="How many days do I have to return a product?",
                     answer="14 days", sources=(SourceRef(STALE, heading="Return window"),),
                     split="train")
    return [*kept, stale]


@pytest.fixture(scope="module")
def built(searcher, scorer, records):
    return build_grounded_units(records, searcher, scorer, UnitsConfig(p_gold=P_GOLD, seed=1))


class PromptRecorder:
    """TEST STUB, not a model: keeps every prompt it is sent and abstains."""

    model_id = "prompt-recorder-stub"
    context_window = 2048

    def __init__(self) -> None:
        self.prompts: list[list[dict]] = []

    def count_tokens(self, text):
        return len(text.split())

    def prompt_tokens(self, messages):
        return sum(len(m["content"].split()) + 4 for m in messages)

    def generate(self, messages, config, adapter=None):
        self.prompts.append(messages)
        return Generation(ABSTAIN_TEXT, self.prompt_tokens(messages), 6, "stop", 0.001)

    def generate_many(self, batch, config, adapter=None):
        return [self.generate(m, config, adapter) for m in batch]


def units_of(example) -> list[str]:
    """The numbered blocks of an example's prompt."""
    block = example.messages[-2]["content"].split("Passages:\n\n", 1)[1]
    block = block.rsplit("\n\nQuestion: ", 1)[0]
    return re.split(r"\n\n(?=\[\d+\] Source: )", block)


def test_the_index_holds_an_archived_document(searcher):
    statuses = {d.source: d.status for d in searcher.documents()}
    assert statuses[STALE] in ("superseded", "archived")
    assert statuses["policies/refunds-2025.md"] == "current"


def test_the_gold_unit_is_shown_and_cited_with_a_short_answer(built, records):
    examples, report = built
    by_id = {r.id: r for r in records}
    cited = [e for e in examples if e.meta["gold_positions"]]
    assert len(cited) == report.gold_present > 10
    assert report.kinds["gold_unit_selector"] + report.kinds["gold_unit_forced"] \
        == report.gold_present
    for example in cited:
        record = by_id[example.meta["record_id"]]
        units = units_of(example)
        assert 1 <= len(units) <= 3  # the selector's k: units, not passages
        assert [m["role"] for m in example.messages] == ["system", "user", "assistant"]
        assert example.messages[0]["content"] == SYSTEM_PROMPT
        assert example.messages[1]["content"].endswith("Question: " + record.question)
        positions = example.meta["gold_positions"]
        markers = "".join(f"[{n}]" for n in positions)
        # a short answer sentence that ends citing the gold unit(s)
        assert example.target.startswith(record.answer.rstrip("."))
        assert example.target.endswith(f" {markers}.") or example.target.endswith(markers)
        assert len(example.target.split()) <= len(record.answer.split()) + 2
        for n in positions:
            gold = units[n - 1]
            assert gold.startswith(f"[{n}] Source: {record.sources[0].file}")
            assert flat(record.answer) in flat(gold)
        # each unit is one sentence, item or row, far shorter than a chunk
        assert all(len(u.split()) < 90 for u in units)


def test_without_the_gold_unit_the_target_is_the_abstention(built, records):
    examples, report = built
    by_id = {r.id: r for r in records}
    answerable = [e for e in examples if e.meta["answerable"]]
    absent = [e for e in answerable if not e.meta["gold_positions"]]
    assert report.gold_eligible == len(answerable)
    assert report.gold_present == round(P_GOLD * report.gold_eligible)
    assert len(absent) == report.gold_eligible - report.gold_present > 0
    for example in absent:
        record = by_id[example.meta["record_id"]]
        assert example.target == ABSTAIN_TEXT
        assert units_of(example)  # distractor units are shown
        assert all(flat(record.answer) not in flat(u) for u in units_of(example))
    unanswerable = [e for e in examples if not e.meta["answerable"]]
    assert unanswerable and all(e.target == ABSTAIN_TEXT for e in unanswerable)
    assert report.kinds["grounded_unanswerable"] == len(unanswerable)


def test_no_archived_unit_is_shown_or_taken_as_gold(built):
    examples, report = built
    for example in examples:
        assert all(not u.split("\n", 1)[0].startswith(f"[{n}] Source: {STALE}")
                   for n, u in enumerate(units_of(example), 1))
    # the record whose only source is archived is dropped: its answer is the outdated one
    # ("14 days" is also in the current policy, about something else)
    assert not [e for e in examples if e.meta["record_id"] == "stale-1"]
    assert report.dropped["gold source is superseded or archived"] == 1


def test_the_prompt_is_the_one_evidence_first_serving_sends(built, searcher, embedder):
    """Where the selector kept the gold unit by itself (and for unanswerable questions),
    the example's prompt is exactly what ``RagAnswerer`` sends with ``evidence_first``
    over an index searched for current documents only."""
    examples, _ = built
    serving = Searcher(searcher.store.root, embedder=embedder, versions="only-current")
    stub = PromptRecorder()
    answerer = RagAnswerer(serving, stub, CitationVerifier(embedder),
                           AnswerConfig(evidence_first=True))
    same = [e for e in examples
            if e.meta["gold_selected"] == "selector" or not e.meta["answerable"]]
    compared = 0
    for example in same:
        question = example.messages[1]["content"].rsplit("\n\nQuestion: ", 1)[1]
        before = len(stub.prompts)
        answerer.answer(question)
        if len(stub.prompts) == before:
            continue  # served without the model (retrieval or evidence too weak)
        assert [dict(m) for m in stub.prompts[-1]] == list(example.prompt)
        compared += 1
    serving.close()
    assert compared >= 5


def test_the_config_is_checked():
    with pytest.raises(ConfigError, match="p_gold"):
        UnitsConfig(p_gold=1.5)
    with pytest.raises(ConfigError, match="k must"):
        UnitsConfig(k=0)


def test_the_cli_mode_records_how_the_examples_were_built():
    from assistant.cli.finetune import builder_settings
    from assistant.cli.main import build_parser

    parse = build_parser().parse_args
    args = parse(["finetune", "--data", "qa.jsonl", "--mode", "grounded-units", "--name", "a",
                  "--index", "idx", "--p-gold", "0.7"])
    assert builder_settings(args) == {
        "split": "train", "format": "units", "k": 5, "p_gold": 0.7, "seed": 0,
        "mode": "hybrid", "versions": "only-current", "index": "idx"}
    grounded = parse(["finetune", "--data", "qa.jsonl", "--mode", "grounded", "--name", "a",
                      "--index", "idx"])
    assert builder_settings(grounded)["k"] == 4
