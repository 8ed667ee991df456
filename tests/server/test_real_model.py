"""(slow) The real bundled SmolLM2 served end to end: loaded by the server itself from
settings in the background, then answering over HTTP, SSE and the OpenAI client."""

from __future__ import annotations

import time

import httpx
import pytest

from assistant.server import create_app

pytestmark = pytest.mark.slow


def test_bundled_model_served_end_to_end(live, settings, bundled_home):
    app = create_app(settings(home=bundled_home, server_device="cpu", server_max_new_tokens=48,
                              server_timeout_s=300))
    server = live(app)
    assert httpx.get(f"{server.url}/healthz").status_code == 200  # up while loading
    until = time.monotonic() + 300
    while (ready := httpx.get(f"{server.url}/readyz")).status_code != 200:
        assert time.monotonic() < until, ready.text
        assert "failed" not in ready.text, ready.text
        time.sleep(0.5)
    assert ready.json()["model"] == "SmolLM2-135M-Instruct"

    question = "How many days do I have to return a product for a refund?"
    r = httpx.post(f"{server.url}/v1/answer", json={"question": question, "k": 3}, timeout=300)
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["model"] == "SmolLM2-135M-Instruct" and record["answer"].strip()
    # The default path: extracted (no tokens generated), generated, or abstained.
    assert record["answer_kind"] in ("extracted", "generated", "abstained")
    assert record["usage"]["completion_tokens"] > 0 or record["answer_kind"] != "generated"

    r = httpx.post(f"{server.url}/v1/chat", timeout=300,
                   json={"messages": [{"role": "user", "content": question}]})
    kinds = [line.split(": ", 1)[1] for line in r.text.splitlines()
             if line.startswith("event: ")]
    assert kinds[-1] == "answer" and set(kinds[:-1]) <= {"token"}

    from openai import OpenAI

    client = OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=300)
    response = client.chat.completions.create(
        model="SmolLM2-135M-Instruct", messages=[{"role": "user", "content": question}])
    assert response.choices[0].message.content.strip()
    assert isinstance(response.model_extra["citations"], list)
    assert response.model_extra["answer_id"]
