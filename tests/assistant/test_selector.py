"""A unit selector tuned on the company's Q&A (``assistant.answering.selector``): pairs of
(question, answer unit, hard negative units) from a real index of acme documents, a tiny
BERT sentence-transformer trained and saved as a versioned ``kind: selector``, loaded by
``name@vN`` and used by the answerer to score evidence units; bad selector specs named in
clear errors. The slow test tunes the bundled MiniLM through the CLI and answers with it
and the bundled SmolLM2.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tiny_models
from acme_corpus import ACME, acme_index

from assistant.answering.answer import AnswerConfig, AnswerOptions, RagAnswerer
from assistant.answering.build import build_answerer
from assistant.answering.citations import CitationVerifier
from assistant.answering.evidence import split_passages
from assistant.answering.evidence_scoring import EmbeddingScorer, embedded_texts, with_path
from assistant.answering.selector import (
    KIND,
    SelectorConfig,
    build_selector_pairs,
    load_selector,
    resolve_selector,
    split_unit_pairs,
    train_selector,
    training_rows,
    unit_hits,
)
from core.errors import ConfigError
from finetune.pii import Redactor
from finetune.raft import flat
from finetune.records import DatasetError, QARecord, SourceRef
from finetune.retriever import MANIFEST, save_version
from finetune.sources import read_qa
from tests.assistant.test_evidence_first import PromptReader

FILES = [
    "policies/refunds-2025.md",
    "policies/warranty.md",
    "billing/account-billing-faq.md",
    "support/troubleshooting-error-codes.md",
]
NO_REDACTION = Redactor(enabled=False)


@pytest.fixture(scope="module")
def acme(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("acme-selector")
    searcher = acme_index(root, FILES, embedder)
    yield root, searcher
    searcher.close()


@pytest.fixture(scope="module")
def records():
    """Answerable train records on FILES (the first 16: embedding every unit of their
    passages is the cost) and the unanswerable ones."""
    train, _ = read_qa(ACME / "qa.jsonl", split="train")
    answerable = [r for r in train if r.answer is not None and r.sources[0].file in FILES]
    return answerable[:16] + [r for r in train if r.answer is None]


@pytest.fixture(scope="module")
def scorer(embedder):
    return EmbeddingScorer(embedder)


@pytest.fixture(scope="module")
def built(acme, records, scorer):
    return build_selector_pairs(records, acme[1], scorer, SelectorConfig(), NO_REDACTION)


@pytest.fixture(scope="module")
def tiny_embedder(tmp_path_factory) -> str:
    return str(tiny_models.build_tiny_embedder(tmp_path_factory.mktemp("tiny-embedder")))


@pytest.fixture(scope="module")
def tuned(built, tiny_embedder, tmp_path_factory):
    """A selector trained on the tiny model, saved twice (v1, v2) in a registry."""
    pairs, _ = built
    registry = tmp_path_factory.mktemp("selector-home") / "embedders"  # a home's registry
    config = SelectorConfig(epochs=3, lr=1e-3, batch_size=8, warmup=0.0)
    seen: list[dict] = []
    first = train_selector(pairs, pairs, tiny_embedder, registry, "acme-sel", config,
                           data={"source": "qa.jsonl"}, device="cpu", progress=False,
                           on_epoch=seen.append)
    second = train_selector(pairs[:6], [], tiny_embedder, registry, "acme-sel",
                            SelectorConfig(epochs=1, batch_size=4), device="cpu",
                            progress=False)
    return registry, first, second, seen


def _holds(record: QARecord, text: str) -> bool:
    return any(flat(a).rstrip(".") in flat(text) for a in (record.answer, *record.aliases))


# -- pairs ------------------------------------------------------------------------------


def test_pairs_hold_the_answer_unit_and_hard_negatives_of_the_same_passages(
        built, records, acme, scorer):
    pairs, report = built
    by_id = {r.id: r for r in records}
    assert len(pairs) >= 12
    searcher = acme[1]
    for pair in pairs:
        record = by_id[pair.record_id]
        assert pair.question == record.question
        positive = pair.positive_unit
        # the positive holds the answer and comes from the record's gold source file
        assert _holds(record, positive.text), (record.answer, positive.text)
        assert positive.source == record.sources[0].file
        assert pair.positive in pair.answers
        assert all(_holds(record, pair.units[i].text) for i in pair.answers)
        # hard negatives: other units of the same passages, none holding the answer,
        # the ones the scorer ranks highest first
        assert 1 <= len(pair.negatives) <= SelectorConfig().hard_negatives
        assert not set(pair.negatives) & set(pair.answers)
        assert not any(_holds(record, u.text) for u in pair.negative_units)
        scores = scorer.score(record.question, pair.units)
        others = [i for i in range(len(pair.units)) if i not in pair.answers]
        best = sorted(others, key=lambda i: (-float(scores[i]), i))[:len(pair.negatives)]
        assert list(pair.negatives) == best
        # the units are those of the passages serving retrieves (plus a missed gold one)
        retrieved = searcher.search(record.question, k=5, mode="hybrid")
        served = [u.text for u in split_passages(retrieved)]
        assert [u.text for u in pair.units[:len(served)]] == served
    q001 = next(p for p in pairs if p.record_id == "q001")
    assert "24 hours" in q001.positive_unit.text
    unanswerable = sum(r.answer is None for r in records)
    assert report.dropped["no answer in the documents (no unit to rank first)"] == unanswerable
    assert report.kept == len(pairs)
    assert report.gold_by["sources"] + report.gold_by["retrieval"] == len(pairs)
    assert sum(report.kinds.values()) == len(pairs) and report.kinds["gold passage retrieved"]


def test_records_without_an_answer_unit_are_skipped_and_counted(acme, records, scorer):
    good = next(r for r in records if r.id == "q001")
    no_unit = QARecord(id="x1", question="How long is the warranty on the robot?",
                       answer="forty-two parsecs",
                       sources=(SourceRef(file="policies/warranty.md",
                                          heading="Information you need"),))
    nowhere = QARecord(id="x2", question="What colour is the moon base?", answer="mauve")
    pairs, report = build_selector_pairs([good, no_unit, nowhere, good], acme[1], scorer,
                                         SelectorConfig(), NO_REDACTION)
    assert [p.record_id for p in pairs] == ["q001"]
    assert report.dropped["no unit of the gold passage holds the answer"] == 1
    assert report.dropped["gold passage not found (by sources, or the answer in the top 5)"] == 1
    assert report.dropped["duplicate (same question and answer unit)"] == 1
    with pytest.raises(DatasetError, match="no unit of the gold passage holds the answer"):
        build_selector_pairs([no_unit], acme[1], scorer, SelectorConfig(), NO_REDACTION)


def test_redaction_reaches_the_question_and_the_units(acme, records, scorer):
    record = QARecord(id="r1", question="Can jane.doe@example.com get a refund after 45 days?",
                      answer="30 days", sources=(SourceRef(file="policies/refunds-2025.md"),))
    pairs, report = build_selector_pairs([record], acme[1], scorer, SelectorConfig(),
                                         Redactor())
    assert "jane.doe@example.com" not in pairs[0].question
    assert report.pii["EMAIL_ADDRESS"] >= 1 and report.redaction.startswith("on")


@pytest.mark.parametrize("field,value", [("epochs", 0), ("batch_size", 1), ("lr", 0.0),
                                         ("hard_negatives", -1), ("mode", "fuzzy"), ("k", 0)])
def test_bad_config_is_rejected_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        SelectorConfig(**{field: value})


def test_training_rows_are_the_texts_the_scorer_embeds(built):
    pairs, _ = built
    columns, keys = training_rows(pairs, hard_negatives=2)
    assert list(columns) == ["anchor", "positive", "negative_1", "negative_2"]
    rows = [(p, form) for p in pairs for form in range(len(embedded_texts(p.positive_unit)))]
    assert len(columns["anchor"]) == len(rows) == len(keys)
    for n, (pair, form) in enumerate(rows):
        assert columns["anchor"][n] == pair.question
        assert columns["positive"][n] == embedded_texts(pair.positive_unit)[form]
        negative = pair.negative_units[0]
        assert columns["negative_1"][n] == [negative.text, with_path(negative)][form]
        assert keys[n][0] == pair.question and columns["positive"][n] in keys[n]
        assert columns["negative_1"][n] in keys[n]
    # a unit without a heading path has one text: one row, its negatives in the same form
    bare = replace(pairs[0], units=tuple(replace(u, path="") for u in pairs[0].units))
    columns, keys = training_rows([bare], hard_negatives=1)
    assert columns == {"anchor": [bare.question], "positive": [bare.positive_unit.text],
                       "negative_1": [bare.negative_units[0].text]}
    # with the default prefix weight (0.75) both of a unit's texts are embedded, the
    # second with its heading path, as EmbeddingScorer.cosines does
    unit = pairs[0].positive_unit
    assert unit.path and embedded_texts(unit) == [unit.text, with_path(unit)]
    assert embedded_texts(unit, 1.0) == [with_path(unit)]
    assert embedded_texts(unit, 0.0) == [unit.text]


def test_unit_hits_score_as_serving_does(built, embedder, scorer):
    pairs, _ = built
    expected = sum(int(np.argmax(scorer.score(p.question, p.units))) in p.answers
                   for p in pairs) / len(pairs)
    got = unit_hits(embedder, pairs)
    assert got["n"] == len(pairs) and got["hit@1"] == round(expected, 4)
    assert got["hit@1"] <= got["hit@3"]
    assert unit_hits(embedder, []) == {"hit@1": None, "hit@3": None, "n": 0}
    train, val = split_unit_pairs(pairs, 0.2)
    assert not {p.record_id for p in train} & {p.record_id for p in val} and val


# -- training, saving, loading ----------------------------------------------------------


def test_a_trained_selector_is_saved_with_a_manifest_and_loads_by_name(tuned, built,
                                                                       tiny_embedder, capsys):
    from assistant.cli.main import main
    from ingest.embedding import Embedder, EmbedderConfig

    registry, first, second, seen = tuned
    pairs, _ = built
    manifest = json.loads((first.path / MANIFEST).read_text())
    assert first.path == registry / "acme-sel" / "v0001" and first.version == 1
    assert manifest["kind"] == KIND == "selector" and manifest["version"] == 1
    assert manifest["config"]["lr"] == 1e-3 and manifest["config"]["hard_negatives"] == 3
    assert manifest["data"]["train_pairs"] == len(pairs)
    assert manifest["data"]["train_rows"] == 2 * len(pairs)  # text, and path: text
    assert len(manifest["data"]["data_hash"]) == 64
    assert manifest["scorer"] == {"lexical_weight": 0.3, "prefix_weight": 0.75,
                                  "trained_texts": "unit text and 'path: text'"}
    epochs = manifest["metrics"]["epochs"]
    assert epochs == seen and [e["epoch"] for e in epochs] == [1, 2, 3]
    assert {"val_hit@1", "val_hit@3", "train_loss"} <= set(epochs[0])
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    before = manifest["metrics"]["val_before"]
    assert before["n"] == len(pairs)
    # scored on the pairs it trained on, the tuned model ranks their answer units higher
    assert epochs[-1]["val_hit@1"] > before["hit@1"], (before, epochs)
    assert second.version == 2

    assert resolve_selector("acme-sel@v1", registry)[0] == first.path
    assert resolve_selector("acme-sel", registry)[0] == second.path  # the newest
    assert resolve_selector(str(first.path), registry)[0] == first.path
    loaded = load_selector("acme-sel@v1", registry, device="cpu")
    assert loaded.info.path == str(first.path)
    assert loaded.info.model_id != Embedder(EmbedderConfig(model=tiny_embedder)).info.model_id
    capsys.readouterr()
    assert main(["embedders", "list", "--registry", str(registry)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith("acme-sel@v1  unit selector") and str(first.path) in listed[0]
    assert listed[1].startswith("acme-sel@v2  unit selector")


def test_a_selector_is_never_taken_for_an_index_embedder(tuned, monkeypatch):
    from core.settings import get_settings
    from ingest.embedding import resolve_model_path

    registry, *_ = tuned
    monkeypatch.setenv("ASSISTANT_HOME", str(registry.parent))
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="'acme-sel@v1' is a unit selector"):
        resolve_model_path("acme-sel@v1")
    assert load_selector("acme-sel@v1").info.path.endswith("v0001")  # from the home registry


@pytest.fixture
def index_embedder(tiny_embedder, tmp_path):
    """A tuned *index* embedder (kind embedder) saved in a registry."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(tiny_embedder, device="cpu")
    path, _ = save_version(model, {"name": "acme-ret", "kind": "embedder"},
                           tmp_path / "embedders", "acme-ret")
    return tmp_path / "embedders", path


def test_bad_selector_specs_are_clear_errors_naming_them(tuned, index_embedder, tmp_path,
                                                         tiny_embedder):
    registry, *_ = tuned
    with pytest.raises(ConfigError, match=r"unit selector 'nobody': nothing named 'nobody'"):
        resolve_selector("nobody", registry)
    with pytest.raises(ConfigError, match=r"'acme-sel@v9': no version 9 .*acme-sel@v1, "
                                          r"acme-sel@v2"):
        resolve_selector("acme-sel@v9", registry)
    with pytest.raises(ConfigError, match=r"unit selector 'acme-sel@latest'.*NAME@vN"):
        resolve_selector("acme-sel@latest", registry)
    missing = tmp_path / "no" / "such"
    with pytest.raises(ConfigError, match=f"unit selector '{missing}': no such directory"):
        resolve_selector(str(missing), registry)
    with pytest.raises(ConfigError, match=r"is not a tuned selector \(no training.json"):
        resolve_selector(tiny_embedder, registry)  # a plain sentence-transformers dir
    root, path = index_embedder
    with pytest.raises(ConfigError, match=r"'acme-ret@v1': .* is a tuned embedder model, "
                                          r"not a unit selector"):
        resolve_selector("acme-ret@v1", root)
    with pytest.raises(ConfigError, match=f"'{path}': .* not a unit selector"):
        load_selector(str(path), root)


# -- the answerer uses it ---------------------------------------------------------------


def test_the_answerer_scores_units_with_the_tuned_selector(tuned, acme, embedder,
                                                           monkeypatch):
    from core.settings import get_settings

    registry, first, *_ = tuned
    searcher = acme[1]
    verifier = CitationVerifier(embedder)
    question = "How long is the email verification link valid?"
    config = AnswerConfig(extract_first=False)
    stub = PromptReader("The link is valid for 24 hours {n:24 hours}.")
    default = build_answerer(stub, searcher, verifier=verifier, config=config)
    tuned_answerer = build_answerer(stub, searcher, verifier=verifier, config=config,
                                    selector=str(first.path))
    assert isinstance(tuned_answerer, RagAnswerer)
    assert default.scorer.embedder is embedder
    assert tuned_answerer.scorer.embedder.info.path == str(first.path)

    units = split_passages(searcher.search(question, k=5, mode="hybrid"))
    base_scores = default.scorer.score(question, units)
    tuned_scores = tuned_answerer.scorer.score(question, units)
    assert not np.allclose(base_scores, tuned_scores)
    expected = EmbeddingScorer(load_selector(str(first.path), device="cpu"))
    assert np.allclose(tuned_scores, expected.score(question, units), atol=1e-5)

    # the answer's evidence carries the tuned selector's unit scores, not the default's
    options = AnswerOptions(k=5)
    answer = tuned_answerer.answer(question, options=options)
    by_text = {u.text: float(s) for u, s in zip(units, tuned_scores, strict=True)}
    shown = [p for p in answer.passages if p.text in by_text]
    assert shown
    for p in shown:
        assert p.score == pytest.approx(by_text[p.text], abs=1e-5)
    base_answer = default.answer(question, options=options)
    assert [p.score for p in base_answer.passages] != [p.score for p in answer.passages]

    # the setting: name@vN from $ASSISTANT_HOME/embedders, when no config is passed
    monkeypatch.setenv("ASSISTANT_HOME", str(registry.parent))
    monkeypatch.setenv("ASSISTANT_ANSWER_UNIT_SELECTOR", "acme-sel@v1")
    get_settings.cache_clear()
    from_setting = build_answerer(stub, searcher, verifier=verifier)
    assert from_setting.scorer.embedder.info.path.endswith("acme-sel/v0001")
    monkeypatch.setenv("ASSISTANT_ANSWER_UNIT_SELECTOR", "no-such-selector")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="unit selector 'no-such-selector'"):
        build_answerer(stub, searcher, verifier=verifier)
    get_settings.cache_clear()


def test_an_eval_setup_names_its_selector(tuned, tmp_path):
    from eval.config import EvalConfigError, parse_config
    from eval.setups import _selectors

    registry, first, *_ = tuned
    raw = {"questions": {"path": "qa.jsonl"}, "corpus": {"docs": "docs"},
           "setups": {"rag": {"retrieval": True},
                      "tuned": {"retrieval": True, "selector": str(first.path)}}}
    config = parse_config(raw, tmp_path)
    assert [s.selector for s in config.setups] == [None, str(first.path)]
    loaded = _selectors(config, config.setups)
    assert list(loaded) == [str(first.path)]
    assert loaded[str(first.path)].info.path == str(first.path)

    bad = {**raw, "setups": {"tuned": {"retrieval": True, "selector": "./nope"}}}
    config = parse_config(bad, tmp_path)
    with pytest.raises(EvalConfigError, match=r"\[setups.tuned\] unit selector './nope': no "
                                              f"such directory {tmp_path / 'nope'}"):
        _selectors(config, config.setups)
    closed = {**raw, "setups": {"base": {"selector": str(first.path)}}}
    with pytest.raises(EvalConfigError, match=r"\[setups.base\] selector .* needs retrieval"):
        parse_config(closed, tmp_path)


# -- the real models (slow) -------------------------------------------------------------


@pytest.mark.slow
def test_cli_tunes_the_bundled_embedder_as_a_selector_and_answers_with_it(
        acme, tmp_path, capsys, smollm2, embedder, monkeypatch):
    from assistant.answering.answer import LocalGenerator
    from assistant.cli.main import main
    from core.settings import get_settings

    root, searcher = acme
    data = tmp_path / "qa.jsonl"
    train, _ = read_qa(ACME / "qa.jsonl", split="train")
    few = [r for r in train if r.answer and r.sources[0].file in FILES][:24]
    lines = [json.loads(line) for line in (ACME / "qa.jsonl").read_text().splitlines()]
    data.write_text("".join(json.dumps(row) + "\n" for row in lines
                            if row["id"] in {r.id for r in few}))
    home = tmp_path / "home"
    monkeypatch.setenv("ASSISTANT_HOME", str(home))
    get_settings.cache_clear()
    code = main(["-q", "finetune", "--mode", "selector", "--data", str(data),
                 "--index", str(root / "index"), "--name", "acme-selector", "--epochs", "1",
                 "--keep-document-contacts", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    path = Path(out["path"])
    assert path == home / "embedders" / "acme-selector" / "v0001"
    assert out["kind"] == "selector"
    assert out["base_embedder"]["model_id"].startswith("all-MiniLM-L6-v2@")
    assert out["data"]["train_pairs"] >= 15 and out["data"]["val_pairs"] >= 1
    after = out["metrics"]["val_after"]
    assert 0 <= after["val_hit@1"] <= after["val_hit@3"] <= 1

    monkeypatch.setenv("ASSISTANT_ANSWER_UNIT_SELECTOR", "acme-selector@v1")
    get_settings.cache_clear()
    answerer = build_answerer(LocalGenerator(smollm2.loaded), searcher,
                              verifier=CitationVerifier(embedder))
    assert answerer.scorer.embedder.info.path == str(path)
    answer = answerer.answer("How long is the email verification link valid?",
                             options=AnswerOptions(k=5, max_new_tokens=48))
    data = answer.to_json()
    assert data["answer_kind"] in ("generated", "extracted"), data
    assert "24 hours" in data["answer"]
    assert data["citations"] and all(c["quote"] for c in data["citations"])
    get_settings.cache_clear()


def test_the_server_does_not_start_with_a_bad_selector(tiny_dir, tuned, tmp_path):
    from assistant.server.services import build_services
    from core.settings import Settings

    registry, first, *_ = tuned
    settings = Settings(home=tmp_path / "home", server_model=str(tiny_dir),
                        server_device="cpu", answer_unit_selector="acme-sel@v3")
    with pytest.raises(ConfigError, match="unit selector 'acme-sel@v3': nothing named"):
        build_services(settings)
    good = Settings(home=registry.parent, server_model=str(tiny_dir), server_device="cpu",
                    answer_unit_selector="acme-sel@v1",
                    server_feedback_db=tmp_path / "feedback.sqlite3")
    services = build_services(good)
    assert services.selector.info.path == str(first.path)
