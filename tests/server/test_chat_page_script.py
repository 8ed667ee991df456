"""The chat page's script as a live server serves it, read without a browser (the
browser tests in ``test_chat_page.py`` need Chromium): answer text is put in the page
only as text nodes and <strong> elements built from ``**`` marks, never as HTML, and the
conversation sent keeps only answered turns."""

from __future__ import annotations

import re

import httpx

from assistant.server import create_app


def _served_script(live, settings, services) -> str:
    server = live(create_app(settings(), services()))
    page = httpx.get(f"{server.url}/", timeout=30)
    assert page.status_code == 200
    (src,) = re.findall(r'<script src="([^"]+)"', page.text)
    script = httpx.get(server.url + src, timeout=30)
    assert script.status_code == 200
    return script.text


def test_answer_text_is_never_parsed_as_html(live, settings, services):
    js = _served_script(live, settings, services)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                 "createContextualFragment", "DOMParser"):
        assert sink not in js, sink
    # Answer text (streamed, final or partial) no longer goes in through textContent,
    # which showed the ** marks as typed; it is split into text nodes and <strong>s.
    answer_text = r"textContent\s*=\s*(?:streamed|payload|record|partial|.*\.answer)"
    assert not re.search(answer_text, js)
    assert 'createElement("strong")' in js and "createTextNode" in js
    assert "showMarked(textNode, streamed)" in js
    assert "appendMarked(textNode, record.answer" in js


def test_only_answered_turns_join_the_conversation(live, settings, services):
    js = _served_script(live, settings, services)
    # The question joins the history together with its answer, in the answer event only;
    # no failure path has to take it back out.
    assert js.count("history.push(") == 1
    assert 'history.push(turn, { role: "assistant", content: payload.answer })' in js
    assert "history.pop()" not in js
