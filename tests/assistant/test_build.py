"""Building an answerer (``assistant.answering.build``) from the tiny Llama and a small real
index, and ``assistant ask`` built through it end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.answering.answer import (
    AnswerConfig,
    AnswerOptions,
    ClosedBookAnswerer,
    RagAnswerer,
)
from assistant.answering.build import (
    LoadedBase,
    build_answerer,
    load_adapter,
    load_generator,
    open_index,
)
from assistant.answering.citations import CitationVerifier
from assistant.answering.models import ModelConfig
from assistant.answering.records import Message
from assistant.cli.main import main
from core.errors import ConfigError, IndexNotFoundError
from core.refs import RefError
from index.build import ingest


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, embedder) -> Path:
    root = tmp_path_factory.mktemp("build-corpus")
    (root / "docs").mkdir()
    (root / "docs" / "park.md").write_text(
        "# Park\n\nThe dog ran to the park and the bird flew over it.\n")
    (root / "docs" / "mat.txt").write_text("The cat sat on a mat while people watched.\n")
    ingest([root / "docs"], root / "index", progress=False, embedder=embedder)
    return root / "index"


@pytest.fixture
def base(tiny_dir) -> LoadedBase:
    return load_generator(ModelConfig(base=str(tiny_dir), device="cpu"))


@pytest.fixture
def registry(base, tiny_adapter, tmp_path):
    from finetune.registry import AdapterRegistry

    registry = AdapterRegistry(tmp_path / "registry")
    manifest = {"base_model_id": base.loaded.model_id,
                "base_weights_hash": base.loaded.weights_hash}
    registry.register("support", tiny_adapter, manifest, promote=True)
    registry.register("support", tiny_adapter, manifest)
    return registry


def test_load_generator_generates_through_its_adapter_set(base, tiny_dir):
    loaded, adapters, generator = base  # unpacks like the tuple the eval keeps
    assert loaded.model_id == Path(tiny_dir).name and loaded.device == "cpu"
    assert adapters.loaded is loaded and generator.target is adapters
    assert generator.model_id == loaded.model_id


def test_load_adapter_by_directory_name_and_version(base, tiny_adapter, registry):
    assert load_adapter(base.adapters, str(tiny_adapter)) == tiny_adapter.name
    assert load_adapter(base.adapters, "support", registry.root) == "support@v1"
    assert load_adapter(base.adapters, "support@v2", registry.root) == "support@v2"
    assert base.adapters.names() == [tiny_adapter.name, "support@v1", "support@v2"]
    assert base.adapters.path("support@v2") == registry.get("support", 2).path
    # a registry's version folder given as a path is served under its name@vN, as the
    # record of an answer names it (found by the walkthrough: "v0001")
    from assistant.answering.adapters import AdapterSet

    folder = registry.get("support", 1).path
    assert load_adapter(AdapterSet(base.loaded), str(folder)) == "support@v1"


def test_load_adapter_errors(base, registry, tmp_path):
    from assistant.answering.models import AdapterError
    from finetune.registry import RegistryError

    with pytest.raises(RegistryError, match="no version 7"):
        load_adapter(base.adapters, "support@v7", registry.root)
    with pytest.raises(RegistryError, match="unknown adapter 'nope'"):
        load_adapter(base.adapters, "nope", registry.root)
    with pytest.raises(RefError, match="write NAME or NAME@vN"):
        load_adapter(base.adapters, "support@latest", registry.root)
    with pytest.raises(AdapterError, match="has no adapter_config.json"):
        load_adapter(base.adapters, str(tmp_path / "missing"), registry.root)
    assert base.adapters.names() == []


def test_a_missing_index_is_warned_about_once(embedder, tmp_path, caplog):
    # a server polls every few seconds until an index is published: one warning says it
    import logging

    caplog.set_level(logging.DEBUG, logger="assistant.answering.build")
    for _ in range(3):
        assert open_index(tmp_path / "waiting", embedder) == (None, embedder)
    levels = [r.levelno for r in caplog.records if "waiting" in r.getMessage()]
    assert levels == [logging.WARNING, logging.DEBUG, logging.DEBUG]


def test_open_index(index_dir, embedder, tmp_path):
    assert open_index(tmp_path / "none", embedder) == (None, embedder)
    assert open_index(None) == (None, None)
    with pytest.raises(IndexNotFoundError):
        open_index(tmp_path / "none", required=True)
    searcher, same = open_index(index_dir, embedder)
    assert same is embedder and searcher.search("dog park", k=1)[0].source == "park.md"
    searcher, loaded = open_index(index_dir)  # the index's own embedder, from its manifest
    assert loaded is not None and loaded.info.model_id == embedder.info.model_id
    assert searcher.search("dog park", k=1, mode="dense")[0].source == "park.md"


def test_build_answerer_kinds(base, index_dir, embedder):
    searcher, _ = open_index(index_dir, embedder)
    closed = build_answerer(base.generator)
    assert isinstance(closed, ClosedBookAnswerer) and closed.generator is base.generator
    rag = build_answerer(base.generator, searcher, embedder=embedder)
    assert isinstance(rag, RagAnswerer) and rag.verifier.embedder is embedder
    shared = CitationVerifier(embedder)
    assert build_answerer(base.generator, searcher, verifier=shared).verifier is shared
    with pytest.raises(ConfigError, match="needs an embedder"):
        build_answerer(base.generator, searcher)
    answer = rag.answer("where did the dog run ?", options=AnswerOptions(k=2, max_new_tokens=4))
    assert answer.model == base.loaded.model_id and answer.passages


def test_built_answerers_extract_or_decline_unless_generation_is_set(base, index_dir, embedder,
                                                                     monkeypatch):
    from core.settings import get_settings

    searcher, _ = open_index(index_dir, embedder)

    def built(**env: str) -> RagAnswerer:
        for name in ("ASSISTANT_ANSWER_GENERATE", "ASSISTANT_ANSWER_EVIDENCE_FIRST"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(f"ASSISTANT_ANSWER_{name}", value)
        get_settings.cache_clear()
        return build_answerer(base.generator, searcher, embedder=embedder)

    default = built()
    assert default.config.evidence_first and default.config.generate is False
    asked = []
    monkeypatch.setattr(base.generator, "generate", lambda *a, **k: asked.append(a))
    monkeypatch.setattr(base.generator, "stream", lambda *a, **k: asked.append(a))
    answer = default.answer("what colour was the bird ?", options=AnswerOptions(k=2))
    assert answer.abstained and answer.abstain_reason.startswith("no_extraction:")
    assert answer.passages and asked == []  # the model was never asked
    assert built(GENERATE="true").config.generate is True
    # Over whole passages only the model can answer, so it generates unless told not to.
    passages = built(EVIDENCE_FIRST="false").config
    assert not passages.evidence_first and passages.generate is True
    with pytest.raises(ConfigError, match="generate = false needs evidence_first"):
        built(EVIDENCE_FIRST="false", GENERATE="false")
    # the names the corpus is about, comma-separated
    assert built(CORPUS_NAMES=" PostgreSQL, Postgres ,").config.corpus_names == (
        "PostgreSQL", "Postgres")
    assert default.config.corpus_names == ()
    with pytest.raises(ConfigError, match="corpus_names"):
        AnswerConfig(corpus_names="PostgreSQL")


def test_ask_builds_the_answerer_and_serves_the_adapter(index_dir, tiny_dir, tiny_adapter,
                                                        capsys, caplog):
    code = main(["ask", "where did the dog run ?", "--index", str(index_dir), "--model",
                 str(tiny_dir), "--device", "cpu", "--adapter", str(tiny_adapter), "-k", "2",
                 "--max-new-tokens", "4", "--json"])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert record["adapter"] == tiny_adapter.name and record["model"] == Path(tiny_dir).name
    assert record["passages"]
    # By default answers are extracted or declined, so the adapter is told it is idle.
    assert "ASSISTANT_ANSWER_GENERATE=true" in caplog.text and tiny_adapter.name in caplog.text


def test_a_lazy_generator_answers_without_the_weights(index_dir, embedder, tiny_dir,
                                                      weight_loads):
    """Extract or decline (the default) never needs the weights: building the answerer
    and answering load only the tokenizer, which counts the tokens."""
    searcher, _ = open_index(index_dir, embedder)
    base = load_generator(ModelConfig(base=str(tiny_dir), device="cpu"), lazy=True)
    answerer = build_answerer(base.generator, searcher, embedder=embedder)
    assert answerer.config.generate is False
    for question in ("where did the dog run ?", "what colour was the bird ?"):
        answer = answerer.answer(question, history=[  # bounded by counting its tokens
            Message("user", "the cat sat on a mat"), Message("assistant", "who sat where ?")])
        assert answer.model == Path(tiny_dir).name and answer.passages
    assert base.generator.count_tokens("the cat sat") == 3
    assert weight_loads == [] and not base.loaded.is_loaded


def test_a_lazy_generator_loads_the_weights_once_on_first_generation(tiny_dir, weight_loads):
    from concurrent.futures import ThreadPoolExecutor

    from assistant.answering.generation import GenerationConfig

    eager = load_generator(ModelConfig(base=str(tiny_dir), device="cpu"))
    assert len(weight_loads) == 1 and not hasattr(eager.loaded, "is_loaded")
    lazy = load_generator(ModelConfig(base=str(tiny_dir), device="cpu"), lazy=True)
    assert len(weight_loads) == 1 and not lazy.loaded.is_loaded
    assert (lazy.generator.model_id, lazy.generator.context_window) \
        == (eager.generator.model_id, eager.generator.context_window)
    messages = [{"role": "user", "content": "who sat where ?"}]
    config = GenerationConfig(max_new_tokens=4)
    with ThreadPoolExecutor(3) as pool:
        texts = list(pool.map(lambda _: lazy.generator.generate(messages, config).text,
                              range(3)))
    assert len(weight_loads) == 2 and lazy.loaded.is_loaded
    assert set(texts) == {eager.generator.generate(messages, config).text}
    stream = lazy.generator.stream(messages, config)
    list(stream)
    assert stream.result.completion_tokens == 4 and len(weight_loads) == 2


def test_adding_an_adapter_loads_a_lazy_generators_weights(tiny_dir, tiny_adapter,
                                                           weight_loads):
    lazy = load_generator(ModelConfig(base=str(tiny_dir), device="cpu"), lazy=True)
    assert lazy.adapters.names() == [] and weight_loads == []
    assert load_adapter(lazy.adapters, str(tiny_adapter)) == tiny_adapter.name
    assert lazy.loaded.is_loaded and len(weight_loads) == 1


def test_a_lazy_generator_fails_at_start_on_a_model_it_cannot_find(tmp_path):
    from assistant.answering.models import ModelLoadError

    for lazy in (False, True):
        with pytest.raises(ModelLoadError, match="nope.gguf: no such file or directory"):
            load_generator(ModelConfig(base=str(tmp_path / "nope.gguf"), device="cpu"),
                           lazy=lazy)
        with pytest.raises(ModelLoadError, match="has no config.json"):
            load_generator(ModelConfig(base=str(tmp_path), device="cpu"), lazy=lazy)


def test_ask_loads_the_weights_only_when_the_model_may_answer(index_dir, tiny_dir, capsys,
                                                              monkeypatch, weight_loads):
    from core.settings import get_settings

    ask = ["ask", "where did the dog run ?", "--index", str(index_dir), "--model",
           str(tiny_dir), "--device", "cpu", "-k", "2", "--max-new-tokens", "4", "--json"]
    assert main(ask) == 0
    assert json.loads(capsys.readouterr().out)["passages"] and weight_loads == []
    monkeypatch.setenv("ASSISTANT_ANSWER_GENERATE", "true")
    get_settings.cache_clear()
    assert main(ask) == 0 and len(weight_loads) == 1  # loaded at start, as before


def test_ask_fails_on_a_missing_index_before_loading_a_model(tmp_path, monkeypatch, capsys):
    from assistant.answering import models

    def no_model(*args, **kwargs):
        raise AssertionError("no model may load before the index is found")

    monkeypatch.setattr(models, "load_base", no_model)
    monkeypatch.setattr(models, "locate_base", no_model)  # nor be looked for
    assert main(["ask", "q", "--index", str(tmp_path / "none"), "--device", "cpu"]) == 2
    assert "error" in capsys.readouterr().err


def test_ask_with_a_malformed_adapter_is_a_usage_error(index_dir, tiny_dir, capsys):
    code = main(["ask", "q", "--index", str(index_dir), "--model", str(tiny_dir),
                 "--device", "cpu", "--adapter", "support@vx"])
    assert code == 2 and "NAME@vN" in capsys.readouterr().err


@pytest.mark.slow
def test_ask_with_the_bundled_model(index_dir, bundled_home, capsys):
    code = main(["ask", "Where did the dog run?", "--index", str(index_dir), "--device", "cpu",
                 "-k", "2", "--max-new-tokens", "24", "--json"])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert record["model"] == "SmolLM2-135M-Instruct" and record["adapter"] is None
    assert record["answer"].strip() and record["passages"]


def test_corpus_names_let_a_unit_answer_without_repeating_them(base, embedder, monkeypatch,
                                                               tmp_path):
    from core.settings import get_settings

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "functions.md").write_text(
        "# Mathematical functions\n\nThe gcd function returns the greatest common divisor "
        "of its inputs; gcd(1071, 462) returns 21.\n")
    ingest([tmp_path / "docs"], tmp_path / "index", progress=False, embedder=embedder)
    searcher, _ = open_index(tmp_path / "index", embedder)
    question = "What does gcd(1071, 462) return in Acmebase?"

    def answer(names: str | None):
        monkeypatch.delenv("ASSISTANT_ANSWER_CORPUS_NAMES", raising=False)
        if names is not None:
            monkeypatch.setenv("ASSISTANT_ANSWER_CORPUS_NAMES", names)
        get_settings.cache_clear()
        answerer = build_answerer(base.generator, searcher, embedder=embedder)
        return answerer.answer(question, options=AnswerOptions(k=2))

    without = answer(None)
    assert without.abstained  # "Acmebase" is in no unit: the documents may be another product's
    named = answer("Acmebase, Acme Base")
    assert not named.abstained and "21" in named.answer and named.answer_kind == "extracted"
    assert named.citations and named.citations[0].source == "functions.md"
    get_settings.cache_clear()
