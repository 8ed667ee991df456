// Support chat: POST /v1/chat, read its Server-Sent Events, show tokens as they come,
// then the final answer with clickable [n] citations (source, page, heading, quote).
// Answer text comes from documents: it is only ever put in the page as text nodes (the
// **bold** marks become <strong> elements built here), never parsed as HTML.
(function () {
  "use strict";
  const log = document.getElementById("log");
  const form = document.getElementById("ask");
  const input = document.getElementById("question");
  const send = document.getElementById("send");
  const keyForm = document.getElementById("keyform");
  const keyInput = document.getElementById("apikey");
  const panel = document.getElementById("source");
  // The conversation sent with each question: answered turns only, user then assistant,
  // so a failed or interrupted answer never leaves two user turns in a row.
  const history = [];
  const MAX_PAIRS = 10; // question/answer pairs sent as context (the server takes 50 turns)
  const KEY = "assistant-api-key";

  function headers() {
    const h = { "Content-Type": "application/json" };
    const key = localStorage.getItem(KEY);
    if (key) h["Authorization"] = "Bearer " + key;
    return h;
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function pageOf(c) {
    if (c.page_label) return c.page_label;
    return c.page_index === null || c.page_index === undefined ? null : String(c.page_index);
  }

  function citeLabel(c) {
    const page = pageOf(c);
    return page ? "[" + c.n + ", p. " + page + "]" : "[" + c.n + "]";
  }

  function showSource(c, passage) {
    document.getElementById("source-file").textContent = c.source;
    document.getElementById("source-page").textContent = pageOf(c) || "—";
    document.getElementById("source-heading").textContent = c.heading || "—";
    document.getElementById("source-quote").textContent = c.quote || "—";
    document.getElementById("source-passage").textContent = passage ? passage.text : "";
    panel.hidden = false;
    document.getElementById("source-close").focus();
  }

  function citeLink(c, passage) {
    const a = el("a", "cite", citeLabel(c));
    a.href = "#";
    a.dataset.n = c.n;
    a.title = c.source + (pageOf(c) ? ", page " + pageOf(c) : "");
    a.addEventListener("click", function (e) { e.preventDefault(); showSource(c, passage); });
    return a;
  }

  // Append `text` to `parent` with its **bold** spans as <strong> elements. Every piece
  // goes in as a text node (`inline` turns a plain piece into nodes), so markup in the
  // answer shows as the characters it is. An unclosed ** (mid-stream) stays as typed.
  function appendMarked(parent, text, inline) {
    const add = inline || function (into, piece) {
      into.appendChild(document.createTextNode(piece));
    };
    const bold = /\*\*(?=\S)([\s\S]*?\S)\*\*/g;
    let last = 0, m;
    while ((m = bold.exec(text)) !== null) {
      if (m.index > last) add(parent, text.slice(last, m.index));
      const strong = document.createElement("strong");
      add(strong, m[1]);
      parent.appendChild(strong);
      last = bold.lastIndex;
    }
    if (last < text.length) add(parent, text.slice(last));
  }

  // Show (streamed or partial) answer text in `textNode`, replacing what it held.
  function showMarked(textNode, text) {
    textNode.replaceChildren();
    appendMarked(textNode, text);
  }

  // Render the final answer: text with its **bold** spans and its [n] / [n, m] markers
  // as links.
  function renderAnswer(textNode, record) {
    const byN = {};
    record.citations.forEach(function (c) { byN[c.n] = c; });
    const passages = {};
    (record.passages || []).forEach(function (p) { passages[p.n] = p; });
    function withCitations(into, text) {
      const marker = /\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]/g;
      let last = 0, m;
      while ((m = marker.exec(text)) !== null) {
        into.appendChild(document.createTextNode(text.slice(last, m.index)));
        m[1].split(/[,;]/).forEach(function (part) {
          const c = byN[parseInt(part, 10)];
          into.appendChild(c ? citeLink(c, passages[c.n]) : document.createTextNode("[" + part.trim() + "]"));
        });
        last = marker.lastIndex;
      }
      into.appendChild(document.createTextNode(text.slice(last)));
    }
    textNode.replaceChildren();
    appendMarked(textNode, record.answer, withCitations);
    return passages;
  }

  function renderSources(msg, record, passages) {
    if (record.abstained && (record.passages || []).length) {
      // No answer: show the closest evidence instead of nothing.
      const related = el("ul", "cites");
      related.appendChild(el("li", null, "Related passages:"));
      record.passages.slice(0, 3).forEach(function (p) {
        const where = p.source + (p.heading ? " — " + p.heading : "");
        related.appendChild(el("li", null, where + ": " + p.text.slice(0, 200)));
      });
      msg.appendChild(related);
      return;
    }
    if (!record.citations.length) return;
    const list = el("ul", "cites");
    const seen = {};
    record.citations.forEach(function (c) {
      if (seen[c.n]) return;
      seen[c.n] = true;
      const li = el("li");
      li.appendChild(citeLink(c, passages[c.n]));
      li.appendChild(document.createTextNode(" " + c.source + (c.heading ? " — " + c.heading : "")));
      list.appendChild(li);
    });
    msg.appendChild(list);
  }

  function renderFeedback(msg, record) {
    const box = el("div", "feedback");
    box.appendChild(el("span", null, "Helpful?"));
    [[1, "Yes"], [-1, "No"]].forEach(function (pair) {
      const b = el("button", null, pair[1]);
      b.type = "button";
      b.setAttribute("aria-label", pair[0] > 0 ? "good answer" : "bad answer");
      b.addEventListener("click", async function () {
        const r = await fetch("/v1/feedback", { method: "POST", headers: headers(),
          body: JSON.stringify({ answer_id: record.id, rating: pair[0] }) });
        box.textContent = r.ok ? "Thanks for the feedback." : "Feedback not saved.";
      });
      box.appendChild(b);
    });
    msg.appendChild(box);
  }

  // Mark the answer failed: `text` is a message of ours; `partial`, if given, the answer
  // text streamed before the failure (shown with its bold marks, then the message).
  function fail(msg, text, partial) {
    msg.classList.remove("pending");
    msg.classList.add("error");
    const textNode = msg.querySelector(".text");
    textNode.replaceChildren();
    if (partial) appendMarked(textNode, partial + " ");
    textNode.appendChild(document.createTextNode(text));
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      return body.error && body.error.message ? body.error.message : response.statusText;
    } catch (e) {
      return response.status + " " + response.statusText;
    }
  }

  // Ask `question` with the answered turns so far; the question and its answer join
  // `history` only once the answer event came, so every failure path (no connection,
  // an error status, an error event, a stream cut off or a read that fails) leaves it
  // as it was: alternating, ending with an assistant turn.
  async function ask(question) {
    const turn = { role: "user", content: question };
    log.appendChild(el("div", "msg user", question));
    const msg = el("div", "msg bot pending");
    const textNode = el("span", "text");
    msg.appendChild(textNode);
    log.appendChild(msg);
    msg.scrollIntoView({ block: "end" });

    let response;
    try {
      response = await fetch("/v1/chat", { method: "POST", headers: headers(),
        body: JSON.stringify({ messages: history.slice(-2 * MAX_PAIRS).concat([turn]) }) });
    } catch (e) {
      return fail(msg, "Cannot reach the server.");
    }
    if (!response.ok) {
      if (response.status === 401) keyForm.hidden = false;
      return fail(msg, await errorText(response));
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", streamed = "", done = false;
    while (!done) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (e) { // the connection dropped mid-answer
        break;
      }
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message", data = "";
        block.split("\n").forEach(function (line) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        });
        if (!data) continue;
        let payload;
        try {
          payload = JSON.parse(data);
        } catch (e) { // a garbled event: skip it (without an answer event the answer
          continue;   // counts as interrupted below)
        }
        if (event === "token") {
          streamed += payload.text;
          showMarked(textNode, streamed);
        } else if (event === "answer") {
          msg.classList.remove("pending");
          msg.dataset.answerId = payload.id;
          const passages = renderAnswer(textNode, payload);
          renderSources(msg, payload, passages);
          renderFeedback(msg, payload);
          history.push(turn, { role: "assistant", content: payload.answer });
          done = true;
        } else if (event === "error") {
          fail(msg, payload.error ? payload.error.message : "The answer failed.");
          done = true;
        }
      }
      msg.scrollIntoView({ block: "end" });
    }
    if (!done) {
      reader.cancel().catch(function () { /* already closed or failed */ });
      fail(msg, streamed ? "(interrupted)" : "The answer was interrupted.", streamed);
    }
  }

  form.addEventListener("submit", async function (e) {
    e.preventDefault();
    const question = input.value.trim();
    if (!question) return;
    input.value = "";
    send.disabled = true;
    try { await ask(question); } finally { send.disabled = false; input.focus(); }
  });

  keyForm.addEventListener("submit", function (e) {
    e.preventDefault();
    localStorage.setItem(KEY, keyInput.value.trim());
    keyForm.hidden = true;
  });

  document.getElementById("source-close").addEventListener("click", function () {
    panel.hidden = true;
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") panel.hidden = true;
  });
})();
