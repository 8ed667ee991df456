"""RAFT-style grounded examples from a real index built in the test from acme documents."""

from __future__ import annotations

import re

import pytest
from acme_corpus import ACME, acme_index

from core.errors import ConfigError
from core.prompt_format import ABSTAIN_TEXT, SYSTEM_PROMPT
from finetune.raft import RaftConfig, build_grounded, flat, quote_sentence
from finetune.records import QARecord, SourceRef
from finetune.sources import read_qa

FILES = [
    "policies/refunds-2025.md",
    "policies/refunds-2023.md",
    "policies/warranty.md",
    "billing/account-billing-faq.md",
    "policies/security-whitepaper-2025.pdf",
]


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, embedder):
    s = acme_index(tmp_path_factory.mktemp("acme"), FILES, embedder)
    yield s
    s.close()


@pytest.fixture(scope="module")
def records():
    """The acme train records whose gold sources are among FILES, plus unanswerable ones."""
    train, _ = read_qa(ACME / "qa.jsonl", split="train")
    return [r for r in train if r.answer is None or r.sources[0].file in FILES]


def passages_of(example) -> list[str]:
    block = example.messages[-2]["content"].split("Passages:\n\n", 1)[1]
    block = block.rsplit("\n\nQuestion: ", 1)[0]
    return re.split(r"\n\n(?=\[\d+\] Source: )", block)


@pytest.fixture(scope="module")
def built(searcher, records):
    return build_grounded(records, searcher, RaftConfig(k=4, p_gold=0.8, seed=3))


def test_grounded_examples_cite_and_quote_the_gold_passage(built, records):
    examples, report = built
    answerable = [r for r in records if r.answer is not None]
    assert report.dropped == {} and report.kept == len(records) == len(examples)
    assert report.gold_eligible == len(answerable)
    assert report.gold_present == round(0.8 * len(answerable))
    assert report.gold_by == {"sources": len(answerable)}
    by_id = {r.id: r for r in records}
    for example in examples:
        record = by_id[example.meta["record_id"]]
        passages = passages_of(example)
        assert len(passages) == 4
        assert [m["role"] for m in example.messages] == ["system", "user", "assistant"]
        assert example.messages[0]["content"] == SYSTEM_PROMPT
        assert example.messages[1]["content"].endswith("Question: " + record.question)
        positions = example.meta["gold_positions"]
        if not positions:
            assert example.target == ABSTAIN_TEXT
            # without the gold, no shown passage may hold the answer
            if record.answer is not None:
                assert all(flat(record.answer) not in flat(p) for p in passages)
            continue
        (n,) = positions
        gold = passages[n - 1]
        assert gold.startswith(f"[{n}] Source: {record.sources[0].file}")
        assert example.target.startswith(record.answer)
        assert f"[{n}]" in example.target
        assert set(re.findall(r"\[(\d+)\]", example.target)) == {str(n)}
        quote = re.search(r'says: "(.*)"$', example.target)
        assert quote is not None and flat(quote.group(1).strip(". ")) in flat(gold)
        assert flat(record.answer) in flat(quote.group(1))
        if record.sources[0].page is not None:
            assert f"| Page: {record.sources[0].page}" in gold.splitlines()[0]


def test_unanswerable_records_always_abstain(built, records):
    examples, report = built
    unanswerable = [e for e in examples if not e.meta["answerable"]]
    assert len(unanswerable) == report.kinds["grounded_unanswerable"] > 0
    assert len(unanswerable) == sum(r.answer is None for r in records)
    assert all(e.target == ABSTAIN_TEXT and e.meta["gold_positions"] == []
               for e in unanswerable)
    text = report.to_text()
    assert "gold passage present in" in text and "sources" in text


def test_p_gold_zero_gives_only_abstentions_and_seeds_repeat(searcher, records):
    few = [r for r in records if r.answer is not None][:6]
    examples, report = build_grounded(few, searcher, RaftConfig(p_gold=0.0))
    assert all(e.target == ABSTAIN_TEXT for e in examples) and report.gold_present == 0
    a, _ = build_grounded(few, searcher, RaftConfig(seed=5, p_gold=0.5))
    b, _ = build_grounded(few, searcher, RaftConfig(seed=5, p_gold=0.5))
    assert [e.messages for e in a] == [e.messages for e in b]
    assert sum(bool(e.meta["gold_positions"]) for e in a) == 3


def test_gold_by_retrieval_and_unfindable_answers(searcher):
    records = [
        QARecord("r1", "How long is the return window?", "30 days"),  # no sources
        QARecord("r2", "How long is the return window?", "30 days",
                 sources=(SourceRef("policies/not-indexed.md"),)),  # unknown file
        QARecord("r3", "What colour is the CEO's car?", "bright purple"),  # nowhere
        QARecord("r4", "How long is the return window?", "30 days",
                 sources=(SourceRef("docs/policies/refunds-2025.md", None, "Return window"),)),
    ]
    examples, report = build_grounded(records, searcher, RaftConfig(p_gold=1.0))
    assert [e.meta["record_id"] for e in examples] == ["r1", "r2", "r4"]
    assert [e.meta["gold_found_by"] for e in examples] == ["retrieval", "retrieval", "sources"]
    assert report.dropped == {"answer not in the top 20 retrieved passages": 1}
    assert all(e.target.startswith("30 days [") for e in examples)
    assert "Source: policies/refunds-2025.md" in examples[2].messages[1]["content"]


def test_quote_sentence():
    text = ("Intro line.\n\nYou can return items within **30 days** of delivery. Shipping is "
            "free.\n\n| Plan | Price |\n| Plus | $12.99 |")
    assert quote_sentence(text, "30 days") == "You can return items within 30 days of delivery."
    assert quote_sentence(text, "$12.99") == "Plus | $12.99 |"
    assert quote_sentence(text, "90 days") is None
    long = "word " * 100 + "the answer 42 here " + "more " * 100
    cut = quote_sentence(long, "answer 42", max_words=10)
    assert "answer 42" in cut and len(cut.split()) <= 12


@pytest.mark.parametrize("bad", [dict(k=0), dict(k=21), dict(p_gold=1.5), dict(p_gold=-0.1),
                                 dict(mode="fuzzy"), dict(depth=2), dict(quote_words=1),
                                 dict(order="random")])
def test_config_is_validated(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        RaftConfig(**bad)


@pytest.mark.slow
def test_acme_train_split_end_to_end(tmp_path, embedder):
    """The whole acme corpus and train split: gold fraction is P, targets cite the gold,
    and no test question is used."""
    from index.build import ingest
    from index.searcher import Searcher

    ingest([ACME / "docs"], tmp_path / "index", progress=False, embedder=embedder)
    searcher = Searcher(tmp_path / "index", embedder=embedder)
    train, _ = read_qa(ACME / "qa.jsonl", split="train")
    test, _ = read_qa(ACME / "qa.jsonl", split="test")
    examples, report = build_grounded(train, searcher, RaftConfig(k=4, p_gold=0.8))
    assert report.kept >= 0.95 * len(train)
    assert abs(report.gold_fraction - 0.8) < 0.02
    assert report.gold_by["sources"] >= 0.9 * report.gold_eligible
    test_ids = {r.id for r in test}
    assert not {e.meta["record_id"] for e in examples} & test_ids
    by_id = {r.id: r for r in train}
    quoted = 0
    for example in examples:
        record = by_id[example.meta["record_id"]]
        if example.meta["gold_positions"]:
            n = example.meta["gold_positions"][0]
            gold = passages_of(example)[n - 1]
            assert f"[{n}]" in example.target
            assert flat(record.answer) in flat(gold)
            quoted += "says:" in example.target
        else:
            assert example.target == ABSTAIN_TEXT
    assert quoted >= 0.9 * report.gold_present
    searcher.close()


def test_quote_first_targets_give_the_evidence_then_the_answer(searcher, records):
    examples, _ = build_grounded(records, searcher, RaftConfig(k=4, p_gold=1.0, seed=3,
                                                                quote_first=True))
    by_id = {r.id: r for r in records}
    quoted = 0
    for example in examples:
        record = by_id[example.meta["record_id"]]
        if record.answer is None:
            assert example.target == ABSTAIN_TEXT
            continue
        (n,) = example.meta["gold_positions"]
        match = re.fullmatch(rf'Passage \[{n}\] says: "(.*)" So the answer is: (.*)',
                             example.target)
        if match is None:  # the answer is the whole sentence: nothing to quote
            assert example.target.startswith(record.answer)
            continue
        quoted += 1
        assert flat(record.answer) in flat(match.group(1))
        assert match.group(2).startswith(record.answer) and f"[{n}]" in match.group(2)
    assert quoted >= len([r for r in records if r.answer]) // 2


def test_retrieval_order_keeps_the_gold_where_the_retriever_ranked_it(searcher, records):
    answerable = [r for r in records if r.answer is not None]
    config = RaftConfig(k=4, p_gold=1.0, order="retrieval")
    examples, _ = build_grounded(answerable, searcher, config)
    shuffled, _ = build_grounded(answerable, searcher,
                                 RaftConfig(k=4, p_gold=1.0, seed=1, order="shuffle"))
    hits = searcher.search_batch([r.question for r in answerable], k=config.depth,
                                 mode=config.mode)
    in_top, positions = 0, []
    for example, ranked in zip(examples, hits, strict=True):
        (n,) = example.meta["gold_positions"]
        positions.append(n)
        shown = example.meta["chunk_ids"]
        gold = shown[n - 1]
        ranks = {h.chunk_id: i for i, h in enumerate(ranked)}
        # the shown distractors keep their retrieval order
        others = [ranks[c] for c in shown if c != gold]
        assert others == sorted(others)
        if ranks.get(gold, config.k) < config.k:
            in_top += 1
            # nothing shown above the gold ranks below it, nothing below ranks above
            assert all(ranks[c] < ranks[gold] for c in shown[: n - 1])
            assert all(ranks[c] > ranks[gold] for c in shown[n:])
    assert in_top >= len(examples) // 2  # the small index ranks most golds in its top 4
    # ranked first far more often than the uniform placement does
    first = sum(p == 1 for p in positions)
    shuffled_first = sum(e.meta["gold_positions"] == [1] for e in shuffled)
    assert first > shuffled_first and first >= len(examples) // 2


def test_the_cli_records_how_the_examples_were_built():
    from assistant.cli.finetune import builder_settings
    from assistant.cli.main import build_parser

    parse = build_parser().parse_args
    grounded = parse(["finetune", "--data", "qa.jsonl", "--mode", "grounded", "--name", "a",
                      "--index", "idx", "--k", "5"])
    assert builder_settings(grounded) == {
        "split": "train", "k": 5, "p_gold": 0.8, "order": "retrieval", "quote_first": False,
        "quote_words": 40, "seed": 0, "index": "idx"}
    shuffled = parse(["finetune", "--data", "qa.jsonl", "--mode", "grounded", "--name", "a",
                      "--index", "idx", "--order", "shuffle", "--p-gold", "0.9"])
    assert builder_settings(shuffled)["order"] == "shuffle"
    assert builder_settings(shuffled)["p_gold"] == 0.9
    pubmed = parse(["finetune", "--data", "d", "--mode", "pubmedqa", "--name", "p"])
    assert builder_settings(pubmed) == {"split": "train", "distractors": 3, "p_gold": 1.0,
                                        "seed": 0}
