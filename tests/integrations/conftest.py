"""Fixtures for the agent integrations: a small real index built here, a fixed-answer
test double for the answerer, and real uvicorn servers on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from live_server import Live, live_fixture  # noqa: F401  (registers the live fixture)
from small_corpus import write_corpus

API_KEY = "real-server-key"


@pytest.fixture(scope="session")
def docs(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("docs"))


@pytest.fixture(scope="session")
def index_dir(docs, embedder, tmp_path_factory) -> Path:
    from index.build import ingest

    index_dir = tmp_path_factory.mktemp("index") / "index"
    ingest([docs], index_dir, progress=False, embedder=embedder)
    return index_dir


@pytest.fixture(scope="session")
def searcher(index_dir, embedder):
    from index.searcher import Searcher

    searcher = Searcher(index_dir, embedder=embedder)
    yield searcher
    searcher.close()


class FixedAnswerer:
    """TEST DOUBLE for the plumbing only: an ``Answerer`` that retrieves for real but always
    returns the same answer text, citing its first passage. It checks nothing about answer
    quality -- the real ``RagAnswerer`` needs a language model, which these tests avoid."""

    TEXT = "You can return a product within 30 days of delivery [1]."

    def __init__(self, searcher) -> None:
        self.searcher = searcher
        self.calls: list[tuple] = []

    def answer(self, question, history=(), options=None):
        from assistant.answering.answer import AnswerOptions
        from assistant.answering.records import Answer, Citation

        options = options or AnswerOptions()
        self.calls.append((question, tuple(history), options))
        passages = tuple(self.searcher.search(question, k=options.k, mode=options.mode,
                                              sources=options.sources))
        first = passages[0]
        citation = Citation(1, first.chunk_id, first.source, first.page_index, first.page_label,
                            first.heading_path, first.text[:60], support=0.9)
        return Answer(question=question, answer=self.TEXT, abstained=False,
                      citations=(citation,), passages=passages, model="fixed-test-double",
                      adapter=options.adapter, query=question)


@pytest.fixture
def fixed_answerer(searcher) -> FixedAnswerer:
    return FixedAnswerer(searcher)


@pytest.fixture
def real_server(live, tmp_path, searcher, fixed_answerer):
    """``(client, url)``: the project's real ``create_app`` on loopback, over the real
    searcher, with the fixed-answer test double as its answerer (the placeholder generator
    is never called: the double does not generate) and ``API_KEY`` required."""
    from assistant.feedback import FeedbackStore
    from assistant.integrations.client import AssistantClient
    from assistant.server import Services, create_app
    from core.settings import Settings

    settings = Settings(home=tmp_path / "home", server_api_keys=[API_KEY],
                        server_refresh_s=30.0)
    services = Services(generator=object(), model_id="test-double", searcher=searcher,
                        make_answerer=lambda searcher, generator: fixed_answerer,
                        feedback=FeedbackStore(tmp_path / "feedback.sqlite3"))
    server = live(create_app(settings, services))
    with AssistantClient(server.url, api_key=API_KEY, timeout=30) as client:
        yield client, server.url
