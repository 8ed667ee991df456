"""The official ``openai`` client against ``/v1/chat/completions``, streaming and not:
the answer as content, citations from the extra fields."""

from __future__ import annotations

import httpx
import pytest
from server_doubles import Quoting

from assistant.server import create_app
from core.prompt_format import DECLINE_TEXT

QUESTION = "How many days do I have to return a product for a refund?"


@pytest.fixture
def server(live, settings, services):
    return live(create_app(settings(server_api_keys=["k1"]), services(generator=Quoting())))


@pytest.fixture
def client(server):
    from openai import OpenAI

    return OpenAI(base_url=f"{server.url}/v1", api_key="k1", max_retries=0, timeout=30)


def test_completion_carries_citations_in_extra_fields(client):
    response = client.chat.completions.create(
        model="tiny", messages=[{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": QUESTION}])
    content = response.choices[0].message.content
    assert "return a product within 30 days" in content and content.endswith("[1].")
    assert response.choices[0].finish_reason == "stop"
    extra = response.model_extra
    assert extra["answer_id"] and extra["abstained"] is False and extra["adapter"] is None
    (citation,) = extra["citations"]
    assert citation["source"] == "policies/refunds.md" and citation["n"] == 1
    assert "30 days" in citation["quote"]
    assert response.to_dict()["citations"] == extra["citations"]
    assert response.usage.completion_tokens > 0


def test_streaming_chunks_then_citations_on_the_last_chunk(client):
    chunks = list(client.chat.completions.create(
        model="tiny", stream=True, messages=[{"role": "user", "content": QUESTION}]))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "return a product within 30 days" in text and text.endswith("[1].")
    assert len([c for c in chunks if c.choices[0].delta.content]) > 3  # streamed, not at once
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["citations"][0]["source"] == "policies/refunds.md"
    assert last.model_extra["answer_id"]


def test_streamed_chunks_carry_the_answers_id(client, server):
    """Every chunk's id is ``chatcmpl-<answer_id>``, as the non-streamed completion's,
    and that answer id is the one ``/v1/feedback`` takes (found by the walkthrough: the
    chunks had an id of their own)."""
    chunks = list(client.chat.completions.create(
        model="tiny", stream=True, messages=[{"role": "user", "content": QUESTION}]))
    answer_id = chunks[-1].model_extra["answer_id"]
    assert {c.id for c in chunks} == {f"chatcmpl-{answer_id}"}
    r = httpx.post(f"{server.url}/v1/feedback", headers={"Authorization": "Bearer k1"},
                   json={"answer_id": answer_id, "rating": 1}, timeout=10)
    assert r.status_code == 201, r.text
    response = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": QUESTION}])
    assert response.id == f"chatcmpl-{response.model_extra['answer_id']}"


def test_pdf_citations_carry_the_page(client):
    response = client.chat.completions.create(
        model="base", messages=[{"role": "user",
                                 "content": "How often should I rinse the dust filter brush?"}])
    (citation,) = response.model_extra["citations"]
    assert citation["source"] == "manuals/sweepbot-x9.pdf" and citation["page_index"] == 2


def test_errors_reach_the_client_as_openai_errors(client, server):
    import openai

    with pytest.raises(openai.NotFoundError, match="unknown adapter"):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    bad = openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}])
    assert [m.id for m in client.models.list()] == ["tiny"]


def test_the_raw_stream_ends_with_done(server):
    r = httpx.post(f"{server.url}/v1/chat/completions", timeout=30,
                   headers={"Authorization": "Bearer k1"},
                   json={"model": "tiny", "stream": True,
                         "messages": [{"role": "user", "content": QUESTION}]})
    lines = [line for line in r.text.splitlines() if line]
    assert lines[-1] == "data: [DONE]" and all(line.startswith("data: ") for line in lines)
    assert "\r" not in r.text and r.text.endswith("data: [DONE]\n\n")


def test_an_abstention_shows_its_related_passages_in_the_content(live, settings, services):
    from openai import OpenAI

    # the server's own answerer: extract or decline; no unit answers this one
    server = live(create_app(settings(), services(make_answerer=None)))
    client = OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0, timeout=30)
    messages = [{"role": "user", "content": "Who pays for replacing a broken product?"}]
    response = client.chat.completions.create(model="tiny", messages=messages)
    extra = response.model_extra
    assert extra["abstained"] and not extra["citations"]
    related = extra["related_passages"]
    assert 1 <= len(related) <= 3 and related[0]["source"] and related[0]["text"]
    content = response.choices[0].message.content
    refusal, listed = content.split("\n\nRelated passages:\n")
    # found evidence, but no sentence of it answers: not "the documents do not cover this"
    assert refusal == DECLINE_TEXT
    assert listed.splitlines()[0].startswith(f"- {related[0]['source']}")
    # streamed: the same content, the same extra fields on the last chunk
    chunks = list(client.chat.completions.create(model="tiny", messages=messages,
                                                 stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == content
    assert chunks[-1].model_extra["related_passages"] == related
    # an answer lists no related passages
    answered = client.chat.completions.create(model="tiny", messages=[
        {"role": "user", "content": QUESTION}])
    assert answered.model_extra["related_passages"] == []
    assert "Related passages" not in answered.choices[0].message.content


class _Adapters:
    """An adapter set holding ``faq`` (the scripted generator ignores which one answers)."""

    def __init__(self, names: list[str]) -> None:
        self.loaded = dict.fromkeys(names)

    def names(self) -> list[str]:
        return list(self.loaded)

    def add(self, name, path) -> None:
        self.loaded[name] = path


@pytest.mark.parametrize("stream", [False, True])
def test_a_clients_default_model_gets_a_404_that_says_what_to_send(live, settings, services,
                                                                   stream):
    """An OpenAI client's default ``model`` ("gpt-4o") is still an error, never answered
    by another model, but the message says what ``model`` means here, lists the accepted
    values (as ``/v1/models`` does) and points there; a client recovers with one of them
    (found by the walkthrough: a bare "unknown adapter 'gpt-4o'")."""
    import openai

    server = live(create_app(settings(server_api_keys=["k1"]),
                             services(generator=Quoting(), adapters=_Adapters(["faq"]))))
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="k1", max_retries=0,
                           timeout=30)
    messages = [{"role": "user", "content": QUESTION}]
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=messages, stream=stream)
    error = caught.value.body
    message = error["message"]
    assert error["type"] == "adapter_not_found" and error["field"] == "body.model"
    assert "'gpt-4o'" in message and "unknown adapter" in message
    assert "`model` selects" in message and "not an OpenAI model" in message
    assert "model='tiny' (or 'base') for the base model" in message
    assert "or an adapter's name: 'faq'" in message and "GET /v1/models" in message
    assert error["accepted"] == ["tiny", "base", "faq"] and error["known"] == ["faq"]

    # What the message names is what /v1/models lists, and each works.
    listed = [m.id for m in client.models.list()]
    assert listed == ["tiny", "faq"]
    assert set(listed) <= set(error["accepted"])
    for model in error["accepted"]:
        response = client.chat.completions.create(model=model, messages=messages)
        assert "30 days" in response.choices[0].message.content
        assert response.model_extra["adapter"] == (model if model == "faq" else None)


def test_the_unknown_model_message_without_adapters(client):
    import openai

    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o-mini",
                                       messages=[{"role": "user", "content": QUESTION}])
    message = caught.value.body["message"]
    assert "'gpt-4o-mini'" in message and "model='tiny' (or 'base')" in message
    assert "there are no adapters to choose from" in message
    assert caught.value.body["accepted"] == ["tiny", "base"]
