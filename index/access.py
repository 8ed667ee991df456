"""Which documents a caller may retrieve: source patterns and access tags.

An ``AccessFilter`` lets a document through when its source equals or glob-matches one
of ``sources`` (``public/*``) or it carries one of ``tags`` (the ``access`` tags of
``assistant ingest --metadata FILE``). Search applies it before the top-k cut, as it
applies a source filter (``Searcher.search(..., access=...)``), so a filtered search
still returns ``k`` passages when that many are allowed.

``restricted(access)`` applies a filter to every search made in the current context
(thread or task, and the worker threads that copy it), on top of the one a call passes:
a server sets it around a request so that every search the answering code makes on the
request's behalf is filtered, without that code knowing about keys.

``select_documents`` applies the same filters, with a source filter and a status, to a
list of ``DocRecord``s: the listing counterpart of a filtered search, shared by the
server's ``GET /v1/documents`` and the in-process client so both list the same documents.
"""

from __future__ import annotations

import contextvars
import fnmatch
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import ConfigError
from ingest.versions import STATUSES

if TYPE_CHECKING:
    from index.records import DocRecord

MAX_DOCUMENTS = 5000  # the largest page of a listing: ``GET /v1/documents``, ``documents()``

_CURRENT: contextvars.ContextVar[tuple[AccessFilter, ...]] = contextvars.ContextVar(
    "index_access", default=())


def source_matches(source: str, pattern: str) -> bool:
    """True when ``source`` equals ``pattern`` or glob-matches it (case-sensitive)."""
    return source == pattern or fnmatch.fnmatchcase(source, pattern)


@dataclass(frozen=True)
class AccessFilter:
    """Documents whose source matches one of ``sources`` or which carry one of ``tags``.

    Both empty: nothing is allowed. Raises ``ConfigError`` for empty patterns or tags.
    """

    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("sources", "tags"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise ConfigError(f"access {name} must be a list, not one string")
            value = tuple(value)
            if not all(isinstance(v, str) and v.strip() for v in value):
                raise ConfigError(f"access {name} must be non-empty strings")
            object.__setattr__(self, name, value)

    def allows(self, source: str, tags: Iterable[str] = ()) -> bool:
        """True when a document at ``source`` carrying ``tags`` may be retrieved."""
        if any(source_matches(source, p) for p in self.sources):
            return True
        return bool(self.tags) and not set(self.tags).isdisjoint(tags)

    def covers(self, pattern: str) -> bool:
        """True when every source ``pattern`` (exact or glob) can match lies inside
        ``sources``: ``public/faq.md`` and ``public/*.md`` are inside ``public/*``.
        A conservative test (tags are not considered): False means "not provably"."""
        return any(fnmatch.fnmatchcase(pattern, p) for p in self.sources)


def current() -> tuple[AccessFilter, ...]:
    """The filters ``restricted`` set in this context (all must allow a document)."""
    return _CURRENT.get()


@contextmanager
def restricted(access: AccessFilter | None) -> Iterator[None]:
    """Within the block, every search in this context also applies ``access`` (None:
    no change). Nested blocks add up: a document must pass every filter."""
    if access is None:
        yield
        return
    token = _CURRENT.set((*_CURRENT.get(), access))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def effective(access: AccessFilter | Sequence[AccessFilter] | None) -> tuple[AccessFilter, ...]:
    """The filters a search applies: those given plus those of the context."""
    given: tuple[AccessFilter, ...]
    if access is None:
        given = ()
    elif isinstance(access, AccessFilter):
        given = (access,)
    else:
        given = tuple(access)
    if not all(isinstance(a, AccessFilter) for a in given):
        raise ConfigError("access must be an AccessFilter, a list of them, or None")
    return given + current()


def select_documents(
    documents: Iterable[DocRecord], sources: str | Sequence[str] | None = None,
    status: str | None = None, access: AccessFilter | Sequence[AccessFilter] | None = None,
) -> list[DocRecord]:
    """The documents, in their order, whose source equals or glob-matches one of
    ``sources`` (one pattern or several; None or empty: any), whose status is ``status``
    (None: any), and which ``access`` and the context's filters (``effective``) all
    allow, as a search would.

    Raises ``ConfigError`` for a status outside ``STATUSES`` or a blank pattern.
    """
    if status is not None and status not in STATUSES:
        raise ConfigError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    patterns = [sources] if isinstance(sources, str) else list(sources or ())
    if not all(isinstance(p, str) and p.strip() for p in patterns):
        raise ConfigError("sources must be non-empty path patterns (exact or glob)")
    filters = effective(access)
    return [d for d in documents
            if (not patterns or any(source_matches(d.source, p) for p in patterns))
            and (status is None or d.status == status)
            and all(f.allows(d.source, d.access) for f in filters)]
