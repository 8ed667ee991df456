"""API keys and what each may do: the key store (SQLite), scopes, and keys from the environment.

A key is a random token (``ak_`` + 43 URL-safe characters, 256 bits) shown once when
``assistant keys create`` makes it. The store keeps its SHA-256 (a fast hash is enough
for a token of that entropy: nothing to guess), an id (``k_`` + 8 hex digits) that
``keys list`` shows and ``keys revoke`` takes, a name, its ``Scopes`` as JSON, and when
it was created and revoked. The server looks every presented key up in the file (one
indexed read), so a revocation applies to the next request without a restart, and opens
the file read-only, so it can be mounted read-only into a container.

``Scopes``: ``sources`` (glob patterns) and ``tags`` (document access tags) limit what
retrieval may return (None for both: every document); ``adapters`` which adapters the
key may name (None: all; ``support`` allows ``support@vN`` too; the base model is always
allowed); ``actions`` any of ``search``, ``answer``, ``feedback``, ``admin``; ``rate``
requests per period (``60/min``; None: unlimited).

Keys from the environment (``ASSISTANT_SERVER_API_KEYS``, a JSON list, or
``ASSISTANT_SERVER_API_KEYS_FILE``, one key a line, ``#`` comments) have every scope.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core.errors import AssistantError, ConfigError
from index.access import AccessFilter

ACTIONS = ("search", "answer", "feedback", "admin")
DEFAULT_ACTIONS = ("search", "answer", "feedback")
TOKEN_PREFIX = "ak_"
SCHEMA_VERSION = 1
_PERIODS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
            "h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*([a-z]+)\s*$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""


class KeyStoreError(AssistantError):
    """The key store file cannot be used (not SQLite, a newer schema, unwritable)."""


@dataclass(frozen=True)
class Rate:
    """At most ``requests`` per ``per_s`` seconds."""

    requests: int
    per_s: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``60/min``, ``5/s``, ``1000/hour``, ``10000/day``; ``ConfigError`` otherwise."""
        match = _RATE.match(text.lower())
        if not match or match.group(2) not in _PERIODS or int(match.group(1)) < 1:
            raise ConfigError(f"rate must look like 60/min (N/s, N/min, N/hour, N/day; "
                              f"N >= 1), got {text!r}")
        return cls(int(match.group(1)), _PERIODS[match.group(2)])

    def __str__(self) -> str:
        unit = {1.0: "s", 60.0: "min", 3600.0: "hour", 86400.0: "day"}.get(self.per_s)
        return f"{self.requests}/{unit}" if unit else f"{self.requests}/{self.per_s:g}s"


@dataclass(frozen=True)
class Scopes:
    """What a key may do (see the module docs). The default is everything."""

    sources: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    adapters: tuple[str, ...] | None = None
    actions: tuple[str, ...] = ACTIONS
    rate: Rate | None = None

    def __post_init__(self) -> None:
        for name in ("sources", "tags", "adapters"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, str):
                raise ConfigError(f"scope {name} must be a list, not one string")
            value = tuple(value)
            if not all(isinstance(v, str) and v.strip() and v == v.strip() for v in value):
                raise ConfigError(f"scope {name} must be non-empty names without spaces "
                                  f"around them, got {list(value)!r}")
            object.__setattr__(self, name, value)
        actions = tuple(dict.fromkeys(self.actions))
        unknown = [a for a in actions if a not in ACTIONS]
        if unknown or isinstance(self.actions, str):
            raise ConfigError(f"unknown action(s) {unknown or self.actions!r}; "
                              f"known: {', '.join(ACTIONS)}")
        object.__setattr__(self, "actions", actions)

    @property
    def access(self) -> AccessFilter | None:
        """The retrieval filter (None: every document)."""
        if self.sources is None and self.tags is None:
            return None
        return AccessFilter(self.sources or (), self.tags or ())

    @property
    def restricted(self) -> bool:
        """True when retrieval is limited to part of the index."""
        return self.access is not None

    def may(self, action: str) -> bool:
        return action in self.actions

    def allows_adapter(self, name: str | None) -> bool:
        """The base model (None) always; a named adapter when listed (``name`` allows
        ``name@vN``) or when no list is set."""
        if name is None or self.adapters is None:
            return True
        base = name.split("@", 1)[0]
        return any(name == a or base == a or fnmatch.fnmatchcase(name, a)
                   for a in self.adapters)

    def to_json(self) -> dict:
        return {"sources": list(self.sources) if self.sources is not None else None,
                "tags": list(self.tags) if self.tags is not None else None,
                "adapters": list(self.adapters) if self.adapters is not None else None,
                "actions": list(self.actions),
                "rate": str(self.rate) if self.rate else None}

    @classmethod
    def from_json(cls, data: dict) -> Scopes:
        rate = data.get("rate")
        return cls(sources=data.get("sources"), tags=data.get("tags"),
                   adapters=data.get("adapters"),
                   actions=tuple(data.get("actions") or ()),
                   rate=Rate.parse(rate) if rate else None)


FULL = Scopes()


@dataclass(frozen=True)
class KeyInfo:
    """A stored key, without its token."""

    id: str
    name: str
    scopes: Scopes = field(default_factory=Scopes)
    created_at: str = ""
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "scopes": self.scopes.to_json(),
                "created_at": self.created_at, "revoked_at": self.revoked_at}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyStore:
    """The keys in the SQLite file ``path``.

    ``read_only=True`` (the server) never creates or writes the file; a missing file
    holds no keys and is looked for again on the next call. Safe to share between
    threads. Raises ``KeyStoreError`` for a file that is not a key store.
    """

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.read_only = read_only
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    def check(self) -> None:
        """Open the store now, so that a path that is not a key store (a directory, a
        file of another kind, a newer schema) fails here with ``KeyStoreError`` rather
        than on a request. A missing file is fine when read-only: it holds no keys."""
        with self._lock:
            self._conn()

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        if self.path.is_dir():
            raise KeyStoreError(f"{self.path}: a directory, not a key store file")
        if self.read_only and not self.path.is_file():
            return None
        try:
            if self.read_only:
                db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                     check_same_thread=False, isolation_level=None)
            else:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:  # a file where its folder should be; no permission
                    raise KeyStoreError(f"{self.path}: cannot create its folder "
                                        f"({exc.strerror or exc})") from exc
                db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise KeyStoreError(f"{self.path}: key store schema {version} is newer than "
                                    f"this code's ({SCHEMA_VERSION}); upgrade the assistant")
            if not self.read_only:
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                self.path.chmod(0o600)
            else:
                db.execute("SELECT 1 FROM keys LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            raise KeyStoreError(f"{self.path}: not a key store ({exc})") from exc
        self._db = db
        return db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def create(self, name: str, scopes: Scopes = FULL) -> tuple[KeyInfo, str]:
        """A new key: ``(info, token)``. The token is not stored; show it once."""
        if not name.strip() or len(name) > 200:
            raise ConfigError("key name must be 1..200 characters")
        if self.read_only:
            raise KeyStoreError(f"{self.path}: opened read-only")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        info = KeyInfo(f"k_{secrets.token_hex(4)}", name.strip(), scopes, _now())
        with self._lock:
            db = self._conn()
            assert db is not None
            db.execute("INSERT INTO keys (id, name, hash, scopes, created_at) VALUES (?,?,?,?,?)",
                       (info.id, info.name, hash_token(token), json.dumps(scopes.to_json()),
                        info.created_at))
        return info, token

    def list(self, include_revoked: bool = True) -> list[KeyInfo]:
        with self._lock:
            db = self._conn()
            rows = [] if db is None else db.execute(
                "SELECT id, name, scopes, created_at, revoked_at FROM keys ORDER BY created_at"
            ).fetchall()
        keys = [_info(row) for row in rows]
        return keys if include_revoked else [k for k in keys if k.active]

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke ``key_id`` (again is a no-op); ``ConfigError`` if there is no such key."""
        if self.read_only:
            raise KeyStoreError(f"{self.path}: opened read-only")
        with self._lock:
            db = self._conn()
            assert db is not None
            db.execute("UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                       (_now(), key_id))
            row = db.execute("SELECT id, name, scopes, created_at, revoked_at FROM keys "
                             "WHERE id = ?", (key_id,)).fetchone()
        if row is None:
            raise ConfigError(f"no key with id {key_id!r} in {self.path}; "
                              "see `assistant keys list`")
        return _info(row)

    def lookup(self, token: str) -> KeyInfo | None:
        """The active key whose token this is, or None."""
        digest = hash_token(token)
        with self._lock:
            db = self._conn()
            if db is None:
                return None
            row = db.execute("SELECT id, name, scopes, created_at, revoked_at, hash FROM keys "
                             "WHERE hash = ?", (digest,)).fetchone()
        if row is None or not hmac.compare_digest(row[5], digest) or row[4] is not None:
            return None
        return _info(row[:5])


class EnvKeys:
    """Full-access keys from settings and a key file; compared in constant time."""

    def __init__(self, keys: Iterable[str] = (), file: Path | None = None) -> None:
        listed = list(keys)
        if file is not None:
            listed += read_key_file(file)
        if any(not key or key != key.strip() for key in listed):
            raise ConfigError("API keys must be non-empty and without surrounding spaces")
        self._keys = [(f"env-{i}", key.encode()) for i, key in enumerate(listed, 1)]

    def __bool__(self) -> bool:
        return bool(self._keys)

    def lookup(self, token: str) -> KeyInfo | None:
        candidate, found = token.encode(), None
        for key_id, key in self._keys:  # no early exit: every key is compared
            if hmac.compare_digest(candidate, key) and found is None:
                found = key_id
        return KeyInfo(found, "environment", FULL) if found else None


def read_key_file(path: Path) -> list[str]:
    """Keys in ``path``, one a line; blank lines and ``#`` comments skipped."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the API key file {path}: {exc.strerror or exc}") from exc
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def parse_list(values: Sequence[str] | None) -> tuple[str, ...] | None:
    """Repeatable, comma-separated CLI values as a tuple (None when not given)."""
    if values is None:
        return None
    out = [v.strip() for value in values for v in value.split(",")]
    if not all(out):
        raise ConfigError(f"empty item in {','.join(values)!r}")
    return tuple(out)


def _info(row: Sequence) -> KeyInfo:
    return KeyInfo(row[0], row[1], Scopes.from_json(json.loads(row[2])), row[3], row[4])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
