"""Talk to the assistant from agents and scripts: over HTTP or in-process, same methods.

- ``AssistantClient(base_url, api_key)``: the HTTP API (``/v1/answer``, ``/v1/search``,
  ``/v1/documents``, ``/v1/feedback``, ``/healthz``) with httpx. A 4xx/5xx reply, a
  refused connection or a timeout raises ``AssistantAPIError`` with the server's error
  ``type`` and ``message``.
- ``LocalClient(searcher, answerer)``: the same ``search``/``answer``/``documents`` over
  a local ``Searcher`` and ``Answerer``, returning the same JSON records.

Both satisfy ``Backend``, which the LangChain tools (``langchain_tools``) and the MCP
server (``mcp_server``) are built on. ``answer_text(record)`` renders an
answer record as text with ``[n] source p.N`` citation lines, for tools whose consumer is
a language model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import httpx

from core.errors import AssistantError, ConfigError
from core.render import related_text, where

if TYPE_CHECKING:
    from assistant.answering.answer import Answerer
    from index.searcher import Searcher

logger = logging.getLogger(__name__)

History = Sequence[Any]  # {"role", "content"} mappings or ``assistant.answering.records.Message``s
Patterns = str | Sequence[str] | None  # one source pattern, several, or None (any source)


class AssistantAPIError(AssistantError):
    """The API answered with an error, or could not be reached.

    ``status`` is the HTTP status (None when no reply came: ``type`` is then
    ``connection_error`` or ``timeout``); ``type``, ``message`` and ``field`` come from
    the error body ``{"error": {"type", "message", "field"}}``; ``body`` is that body.
    """

    def __init__(self, status: int | None, type: str, message: str, field: str | None = None,
                 body: dict | None = None) -> None:
        where = f" ({field})" if field and field not in message else ""
        super().__init__(f"{status or 'no reply'} {type}: {message}{where}")
        self.status, self.type, self.message, self.field = status, type, message, field
        self.body = body or {}


@runtime_checkable
class Backend(Protocol):
    """What the agent integrations need: JSON search results, answer records and the
    page of documents listed."""

    def search(self, query: str, k: int = 5, mode: str = "hybrid",
               sources: Sequence[str] | None = None) -> list[dict]: ...

    def documents(self, source: Patterns = None, status: str | None = None,
                  limit: int = 1000, offset: int = 0) -> dict: ...

    def answer(self, question: str, *, history: History = (), k: int = 5, mode: str = "hybrid",
               adapter: str | None = None, sources: Sequence[str] | None = None,
               max_new_tokens: int | None = None) -> dict: ...


class AssistantClient:
    """A client of the assistant's HTTP API at ``base_url`` (``http://host:8000``).

    ``api_key`` is sent as ``Authorization: Bearer KEY``; ``timeout`` (seconds) bounds
    each request. ``transport`` replaces httpx's (tests, proxies). Close it, or use it
    as a context manager, to release its connections.
    """

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 120.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        if api_key is not None and (not api_key or api_key != api_key.strip()):
            raise ConfigError("api_key must be non-empty and without surrounding spaces")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout,
                                  transport=transport)

    def __enter__(self) -> AssistantClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"AssistantClient({self.base_url!r})"

    # -- endpoints -------------------------------------------------------------------

    def answer(self, question: str, *, history: History = (), k: int = 5, mode: str = "hybrid",
               adapter: str | None = None, sources: Sequence[str] | None = None,
               max_new_tokens: int | None = None) -> dict:
        """``POST /v1/answer``: the answer record (``Answer.to_json()``) for ``question``.

        ``history`` is the conversation so far: ``{"role", "content"}`` mappings or
        ``Message``s. Raises ``AssistantAPIError`` (422 for a bad field, 404 for an unknown adapter,
        503 while the server is loading, 504 past its deadline).
        """
        body: dict[str, Any] = {"question": question, "k": k, "mode": mode,
                                "history": [{"role": role, "content": content}
                                            for role, content in map(_turn, history)]}
        if adapter is not None:
            body["adapter"] = adapter
        if sources:
            body["sources"] = list(sources)
        if max_new_tokens is not None:
            body["max_new_tokens"] = max_new_tokens
        return self._request("POST", "/v1/answer", json=body)

    def search(self, query: str, k: int = 5, mode: str = "hybrid",
               sources: Sequence[str] | None = None) -> list[dict]:
        """``GET /v1/search``: the ``k`` best passages as JSON (``Passage.to_json()``)."""
        params: list[tuple[str, str | int]] = [("q", query), ("k", k), ("mode", mode)]
        params += [("source", s) for s in sources or ()]
        body = self._request("GET", "/v1/search", params=params)
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise AssistantAPIError(200, "invalid_response", "GET /v1/search: no 'results' list")
        return body["results"]

    def documents(self, source: Patterns = None, status: str | None = None,
                  limit: int = 1000, offset: int = 0) -> dict:
        """``GET /v1/documents``: ``{"index_version", "total", "offset", "limit",
        "documents": [DocRecord.to_json(), ...]}``, the documents whose source matches
        one of ``source`` (a pattern or a list of them) and whose status is ``status``.

        Raises ``AssistantAPIError`` (422 for an unknown status or a limit outside
        1..5000, 403 for a source outside the key's scope, 503 while the server loads).
        """
        params: list[tuple[str, str | int]] = [("source", s) for s in _pattern_list(source)]
        if status is not None:
            params.append(("status", status))
        params += [("limit", limit), ("offset", offset)]
        body = self._request("GET", "/v1/documents", params=params)
        if not isinstance(body, dict) or not isinstance(body.get("documents"), list):
            raise AssistantAPIError(200, "invalid_response",
                                    "GET /v1/documents: no 'documents' list")
        return body

    def feedback(self, answer_id: str, rating: int, correction: str | None = None,
                 comment: str | None = None) -> dict:
        """``POST /v1/feedback``: rate answer ``answer_id`` -1 or +1; the stored record.

        Raises ``AssistantAPIError`` 404 ``answer_not_found`` for an unknown id.
        """
        body: dict[str, Any] = {"answer_id": answer_id, "rating": rating}
        if correction is not None:
            body["correction"] = correction
        if comment is not None:
            body["comment"] = comment
        return self._request("POST", "/v1/feedback", json=body)

    def health(self) -> dict:
        """``GET /healthz``: ``{"status": "ok"}`` while the server process is up
        (``AssistantAPIError`` 503 once its model failed to load)."""
        return self._request("GET", "/healthz")

    # -- plumbing --------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise AssistantAPIError(None, "timeout",
                                    f"{method} {self.base_url}{path} timed out") from exc
        except httpx.TransportError as exc:
            raise AssistantAPIError(None, "connection_error",
                                    f"cannot reach {self.base_url}: {exc}") from exc
        if response.is_error:
            raise _api_error(response)
        try:
            return response.json()
        except ValueError as exc:
            raise AssistantAPIError(response.status_code, "invalid_response",
                                    f"{method} {path} did not return JSON") from exc


def _api_error(response: httpx.Response) -> AssistantAPIError:
    """The ``AssistantAPIError`` for a 4xx/5xx reply, JSON error body or not."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and "message" in error:
        return AssistantAPIError(response.status_code, str(error.get("type", "http_error")),
                                 str(error["message"]), error.get("field"), body)
    text = " ".join(response.text.split())[:300] or response.reason_phrase
    return AssistantAPIError(response.status_code, "http_error", text)


class LocalClient:
    """``Backend`` over an in-process ``Searcher`` and ``Answerer`` (either may be None).

    Returns the same records as the HTTP API; library errors (``ConfigError`` for a bad
    ``k`` or mode) propagate. Calling a method whose part is missing raises ``ConfigError``.
    ``adapter``: the adapter an answer uses when its call names none (``assistant mcp
    --adapter NAME``).
    """

    def __init__(self, searcher: Searcher | None = None, answerer: Answerer | None = None,
                 adapter: str | None = None) -> None:
        if searcher is None and answerer is None:
            raise ConfigError("LocalClient needs a searcher, an answerer or both")
        self.searcher, self.answerer, self.adapter = searcher, answerer, adapter

    @property
    def can_answer(self) -> bool:
        return self.answerer is not None

    def search(self, query: str, k: int = 5, mode: str = "hybrid",
               sources: Sequence[str] | None = None) -> list[dict]:
        """The ``k`` best passages as JSON (``Passage.to_json()``)."""
        if self.searcher is None:
            raise ConfigError("no index is open: this LocalClient was built without a searcher")
        return [p.to_json() for p in self.searcher.search(query, k=k, mode=mode, sources=sources)]

    def documents(self, source: Patterns = None, status: str | None = None,
                  limit: int = 1000, offset: int = 0) -> dict:
        """The page of documents ``GET /v1/documents`` would list, filtered the same way
        (``index.access.select_documents``). Raises ``ConfigError`` for an unknown status,
        a blank pattern, a limit outside 1..5000 or a negative offset."""
        from index.access import MAX_DOCUMENTS, select_documents

        if self.searcher is None:
            raise ConfigError("no index is open: this LocalClient was built without a searcher")
        if not 1 <= limit <= MAX_DOCUMENTS:
            raise ConfigError(f"limit must be in 1..{MAX_DOCUMENTS}, got {limit}")
        if offset < 0:
            raise ConfigError(f"offset must be 0 or more, got {offset}")
        version = self.searcher.version
        selected = select_documents(self.searcher.documents(), _pattern_list(source), status)
        return {"index_version": version, "total": len(selected), "offset": offset,
                "limit": limit, "documents": [d.to_json() for d in selected[offset:offset + limit]]}

    def answer(self, question: str, *, history: History = (), k: int = 5, mode: str = "hybrid",
               adapter: str | None = None, sources: Sequence[str] | None = None,
               max_new_tokens: int | None = None) -> dict:
        """The answer record for ``question`` (``Answer.to_json()``).

        ``adapter`` must be one the answerer's model has loaded (``resolve_adapter``),
        as the server's 404 ``adapter_not_found`` has it: ``AdapterError`` naming the
        known ones otherwise, also when answers are extracted and no adapter would write.
        """
        from assistant.answering.answer import AnswerOptions
        from assistant.answering.records import Message

        if self.answerer is None:
            raise ConfigError("no model is loaded: this LocalClient was built without an answerer")
        adapter = adapter if adapter is not None else self.adapter
        if adapter is not None:
            adapter = resolve_adapter(adapter, known_adapters(self.answerer))
        extra = {} if max_new_tokens is None else {"max_new_tokens": max_new_tokens}
        options = AnswerOptions(k=k, mode=mode, adapter=adapter,
                                sources=tuple(sources) if sources else None, **extra)
        turns = [Message(*_turn(m)) for m in history]  # type: ignore[arg-type]
        return self.answerer.answer(question, turns, options).to_json()


def known_adapters(answerer: Any) -> list[str] | None:
    """The adapters ``answerer``'s model has loaded (its generator's ``AdapterSet``): a
    list, empty for a model without adapters; None when it cannot be told (an answerer
    that does not generate through a ``LocalGenerator``, such as a test double)."""
    target = getattr(getattr(answerer, "generator", None), "target", None)
    if target is None:
        return None
    names = getattr(target, "names", None)
    return list(names()) if callable(names) else []


def resolve_adapter(name: str, known: list[str] | None) -> str:
    """The loaded adapter a request's ``name`` means: ``name`` itself, or for a registry
    name the one version of it loaded (``support`` -> ``support@v3``, as ``assistant mcp
    --adapter support`` loads it). Raises ``AdapterError`` naming the known adapters for
    any other name; with ``known`` None, ``name`` is passed on unchecked."""
    if known is None or name in known:
        return name
    versions = [n for n in known if n.partition("@")[0] == name and "@v" in n]
    if len(versions) == 1:
        return versions[0]
    from assistant.answering.models import AdapterError

    shown = ", ".join(repr(n) for n in known) or "none"
    raise AdapterError(f"unknown adapter {name!r}; known adapters: {shown}")


def _pattern_list(source: Patterns) -> list[str]:
    """``source`` as a list of patterns: one string is one pattern, not its letters."""
    if source is None:
        return []
    return [source] if isinstance(source, str) else list(source)


def _turn(message: Any) -> tuple[str, str]:
    """(role, content) of a chat turn given as a mapping or a ``Message``."""
    if isinstance(message, Mapping):
        return str(message["role"]), str(message["content"])
    return message.role, message.content


def as_backend(target: Any) -> Backend:
    """``target`` as a ``Backend``: clients pass through, a ``Searcher`` or an ``Answerer``
    (with the ``searcher`` it carries, if any) is wrapped in a ``LocalClient``. Raises
    ``TypeError`` for anything else."""
    if isinstance(target, (AssistantClient, LocalClient)):
        return target
    if hasattr(target, "search_batch") and hasattr(target, "search"):  # a Searcher
        return LocalClient(searcher=target)
    if callable(getattr(target, "answer", None)) and not hasattr(target, "search"):
        # A RagAnswerer carries its searcher: search through the same index it answers from.
        return LocalClient(searcher=getattr(target, "searcher", None), answerer=target)
    if isinstance(target, Backend):
        return target
    raise TypeError(f"expected an AssistantClient, LocalClient, Searcher or Answerer, "
                    f"got {type(target).__name__}")


def answer_text(record: Mapping[str, Any]) -> str:
    """An answer record as text: the answer, then one ``[n] source p.N`` line per citation.

    An abstention says so (with its reason) and lists up to three related passages, the
    closest evidence found, instead of sources.
    """
    text = str(record.get("answer", "")).strip()
    if record.get("abstained"):
        reason = record.get("abstain_reason") or "the documents do not cover the question"
        out = f"{text}\n\n(No answer from the documents: {reason}.)".lstrip()
        related = related_text(record.get("passages") or ())
        return out + (f"\n\n{related}" if related else "")
    lines, seen = [], set()
    for citation in sorted(record.get("citations", ()), key=lambda c: c.get("n", 0)):
        if citation.get("n") in seen:
            continue
        seen.add(citation.get("n"))
        lines.append(f"[{citation.get('n')}] {where(citation)}")
    return f"{text}\n\nSources:\n" + "\n".join(lines) if lines else text
