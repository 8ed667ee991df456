"""API keys and scopes: ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` on every ``/v1`` route.

Keys come from the key store (``assistant keys create``; ``server_keys_db``, default
``$ASSISTANT_HOME/keys.sqlite``, read on every request so a revocation applies at once)
and from the environment (``ASSISTANT_SERVER_API_KEYS``, ``ASSISTANT_SERVER_API_KEYS_FILE``:
full access). Keys are required as soon as either has any, or the store file exists at
all (revoking the last key does not open the API). With neither the API is open to
anyone who can reach it, which ``assistant serve`` allows on loopback only (or with
``--insecure-no-auth``).

Each keyed route needs an action (``ACTION_OF``): a key without it gets 403, a key
over its rate 429. A key whose scopes limit retrieval (``sources``, ``tags``) has every
search made for its request filtered inside the index before the top-k cut
(``index.access``), and lists only the documents it may see (``/v1/documents``);
``check_sources`` refuses (403) a ``sources`` filter that reaches outside the key's
source patterns, ``check_adapter`` an adapter the key may not use,
``screen_history`` keeps only the client's own (user) turns of a conversation, since
assistant and system turns sent by a client can carry any text as if it were an
answer, and ``screen_passages`` checks, once more, that every passage and citation a
response carries comes from a document the key may see (a 500 instead of a leak).

``/healthz``, ``/readyz``, ``/metrics``, the chat page and the OpenAPI docs stay open:
probes and scrapers carry no keys, and none of them reveals documents or answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import Request

from assistant.server.errors import ApiError
from assistant.server.keystore import FULL, EnvKeys, KeyInfo, KeyStore
from assistant.server.limits import RateLimiter
from core.settings import Settings
from index.access import AccessFilter

OPEN = KeyInfo("open", "no keys configured", FULL)


class Auth:
    """The server's keys: the store (read-only), the environment's, and the rate limits.

    Raises ``ConfigError`` for unusable environment keys (empty, surrounding spaces) or
    an unreadable key file, ``KeyStoreError`` for a key store path that is not one.
    """

    def __init__(self, settings: Settings) -> None:
        self.env = EnvKeys(settings.server_api_keys, settings.server_api_keys_file)
        self.store = KeyStore(settings.keys_db, read_only=True)
        self.store.check()  # a path that is no key store fails at startup, not per request
        self.rates = RateLimiter()
        self._visible: dict[tuple[str, AccessFilter], frozenset[str]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """True when requests must carry a key."""
        return bool(self.env) or self.store.exists()

    def check(self, request: Request) -> KeyInfo:
        """The key the request presents; 401 without a known, unrevoked one."""
        if not self.enabled:
            return OPEN
        given = _presented(request)
        if given is None:
            raise _unauthorized("missing API key: send 'Authorization: Bearer KEY' or 'X-API-Key'")
        key = self.env.lookup(given) or self.store.lookup(given)
        if key is None:
            raise _unauthorized("invalid or revoked API key")
        return key

    def visible_sources(self, searcher: Any, access: AccessFilter) -> frozenset[str]:
        """Sources of the served index version that ``access`` allows (kept per version)."""
        cache_key = (searcher.version, access)
        found = self._visible.get(cache_key)
        if found is None:
            found = frozenset(d.source for d in searcher.documents()
                              if access.allows(d.source, d.access))
            with self._lock:
                if len(self._visible) > 64:
                    self._visible.clear()
                self._visible[cache_key] = found
        return found


# The action each keyed route needs; a ``/v1`` route missing here needs ``admin``.
ACTION_OF = {"/v1/search": "search", "/v1/documents": "search", "/v1/answer": "answer",
             "/v1/chat": "answer", "/v1/chat/completions": "answer", "/v1/models": "answer",
             "/v1/feedback": "feedback", "/v1/keys": "admin"}


async def require_key(request: Request) -> None:
    """FastAPI dependency of every keyed route: a key that may do the route's action
    (``ACTION_OF``; unknown routes need ``admin``) and is within its rate. The key is
    left in ``request.state.key``."""
    auth: Auth = request.app.state.auth
    key = auth.check(request)
    route = request.scope.get("route")
    action = ACTION_OF.get(getattr(route, "path", ""), "admin")
    if not key.scopes.may(action):
        raise ApiError(403, "forbidden", f"this API key may not {action} (it may: "
                       f"{', '.join(key.scopes.actions) or 'nothing'})")
    auth.rates.take(key.id, key.scopes.rate)
    request.state.key = key


def key_of(request: Request) -> KeyInfo:
    """The key ``require`` accepted for this request."""
    return getattr(request.state, "key", OPEN)


def check_sources(key: KeyInfo, sources: Sequence[str] | None, field: str) -> None:
    """403 when a requested source pattern reaches outside the key's source patterns.

    A key limited by tags as well accepts any pattern: its results are the documents
    that match the pattern and that the key may see.
    """
    access = key.scopes.access
    if access is None or not sources or access.tags:
        return
    for i, pattern in enumerate(sources):
        if not access.covers(pattern):
            raise ApiError(403, "forbidden",
                           f"{field}: source {pattern!r} is outside this API key's sources "
                           f"({', '.join(access.sources) or 'none'})", field=f"{field}.{i}")


def check_adapter(key: KeyInfo, adapter: str | None, field: str) -> None:
    """403 when the key may not use ``adapter``."""
    if not key.scopes.allows_adapter(adapter):
        raise ApiError(403, "forbidden",
                       f"{field}: this API key may not use adapter {adapter!r} (it may use: "
                       f"{', '.join(key.scopes.adapters or ()) or 'the base model only'})",
                       field=field)


def screen_history(key: KeyInfo, history: Sequence[Any]) -> list[Any]:
    """The conversation a scoped key's request is answered with: the user's own turns."""
    if key.scopes.access is None:
        return list(history)
    return [m for m in history if m.role == "user"]


def screen_passages(auth: Auth, key: KeyInfo, searcher: Any, sources: Iterable[str]) -> None:
    """A 500 ``ApiError`` if any of ``sources`` is outside what ``key`` may see. Search
    filters inside the index already; this is the check that a bug there cannot leak."""
    access = key.scopes.access
    if access is None:
        return
    visible = auth.visible_sources(searcher, access)
    outside = sorted({s for s in sources if s not in visible})
    if outside:
        raise ApiError(500, "scope_check_failed",
                       "a response would have carried a passage outside this API key's "
                       "scope; it was withheld")


def _presented(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = request.headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})
