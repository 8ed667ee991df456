"""Fixtures for the server tests: a small corpus and index built here, a tiny Llama served
through the real generation code, and real uvicorn servers on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from isolated_home import isolated_home  # noqa: F401  (autouse: a fresh ASSISTANT_HOME)
from live_server import Live, live_fixture  # noqa: F401  (registers the live fixture)
from server_doubles import build_index, build_tiny_model
from small_corpus import write_corpus


@pytest.fixture(scope="session")
def docs(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("docs"))


@pytest.fixture(scope="session")
def index_dir(docs, embedder, tmp_path_factory) -> Path:
    return build_index(docs, tmp_path_factory.mktemp("index") / "index", embedder)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_set(tiny_dir):
    """The tiny model in an AdapterSet, shared; tests that add adapters load their own."""
    from assistant.answering.adapters import AdapterSet
    from assistant.answering.models import ModelConfig, load_base

    return AdapterSet(load_base(ModelConfig(base=str(tiny_dir), device="cpu")))


@pytest.fixture(scope="session")
def local_generator(tiny_set):
    from assistant.answering.answer import LocalGenerator

    return LocalGenerator(tiny_set)


@pytest.fixture
def settings(tmp_path, index_dir):
    """Server settings for tests: fast refresh, short batching window."""
    from core.settings import Settings

    def make(**overrides):
        values = {"home": tmp_path / "home", "server_index": index_dir,
                  "server_refresh_s": 0.2, "server_batch_window_ms": 5.0,
                  "server_max_new_tokens": 8, "server_timeout_s": 30.0, **overrides}
        return Settings(**values)

    return make


@pytest.fixture
def make_answerer(embedder):
    """``(searcher, generator) -> Answerer``: the real RAG answerer and citation checker,
    over whole passages (the server tests drive its mechanics with scripted generators:
    streaming, batching, cancellation); ``evidence_first=True`` for the default path."""
    from assistant.answering.answer import AnswerConfig, RagAnswerer

    def make(searcher, generator, evidence_first: bool = False):
        return RagAnswerer(searcher, generator, _verifier(embedder),
                           AnswerConfig(evidence_first=evidence_first))

    return make


def _verifier(embedder):
    from assistant.answering.citations import CitationVerifier

    return CitationVerifier(embedder)


@pytest.fixture
def services(tmp_path, index_dir, embedder, tiny_set, local_generator, make_answerer):
    """``services(**overrides)``: Services on the shared index and the tiny model."""
    from assistant.feedback import FeedbackStore
    from assistant.server import Services
    from index.searcher import Searcher

    def make(**overrides) -> Services:
        where = overrides.pop("index_dir", index_dir)
        searcher = overrides.pop("searcher", None)
        if searcher is None and (Path(where) / "CURRENT").exists():
            searcher = Searcher(where, embedder=embedder)
        values = dict(
            generator=local_generator, model_id="tiny", adapters=tiny_set, searcher=searcher,
            index_dir=where, embedder=embedder, make_answerer=make_answerer,
            feedback=FeedbackStore(tmp_path / "feedback.sqlite3"),
        )
        values.update(overrides)
        return Services(**values)

    return make


