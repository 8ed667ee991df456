"""The metadata file (``assistant ingest --metadata FILE``): what the documents do not say.

TOML or JSON; each top-level key is a source path or glob (matched like ``--source``),
each value a table of overrides::

    ["policies/refunds-2023.md"]
    status = "archived"

    ["plans/*.pdf"]
    family = "plans and pricing"
    effective = "2023-02-01"
    access = ["support", "sales"]

Keys: ``title``, ``family``, ``status`` (current, superseded, archived), ``effective``
(YYYY-MM-DD), ``version``, ``supersedes`` (a source, glob or title, or a list of them)
and ``access`` (tags). When several patterns match a source, later ones win per key. A
file that cannot be read, an unknown key or a bad value is a ``ConfigError`` naming it:
the ingest stops before anything changes.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from ingest.versions import VersionInfo, parse_date

KEYS = ("title", "family", "status", "effective", "version", "supersedes", "access")
_STATUSES = ("current", "superseded", "archived")


@dataclass(frozen=True)
class Override:
    """What the metadata file states about one document; ``None``/empty: nothing."""

    title: str | None = None
    family: str | None = None
    status: str | None = None
    effective: str | None = None
    version: str | None = None
    supersedes: tuple[str, ...] = ()
    access: tuple[str, ...] = ()

    def apply(self, info: VersionInfo) -> VersionInfo:
        """``info`` with every field this override states replaced by it."""
        changes: dict[str, Any] = {}
        for name in ("title", "family", "status", "version"):
            if getattr(self, name) is not None:
                changes[name] = getattr(self, name)
        if self.effective is not None:
            changes.update(effective_date=self.effective, date_source="metadata file")
        if self.supersedes:
            changes.update(supersedes=self.supersedes, explicit=True)
        return dataclasses.replace(info, **changes)


@dataclass(frozen=True)
class MetadataRules:
    """The rules of one metadata file, in file order; ``origin`` names where they came from."""

    rules: tuple[tuple[str, Override], ...] = ()
    origin: str = ""

    @classmethod
    def load(cls, path: Path) -> MetadataRules:
        """Read a ``.toml`` or ``.json`` metadata file. Raises ``ConfigError``."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"metadata file {path}: cannot read it ({exc})") from exc
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text) if text.strip() else {}
            elif path.suffix.lower() == ".toml":
                data = tomllib.loads(text)
            else:
                raise ConfigError(f"metadata file {path}: must end in .toml or .json")
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"metadata file {path}: not valid {path.suffix[1:]} ({exc})") from exc
        return cls.from_json({"origin": str(path), "rules": data})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MetadataRules:
        """Rules from ``{"origin": ..., "rules": {pattern: {key: value}}}``."""
        origin = str(data.get("origin", ""))
        raw = data.get("rules")
        if not isinstance(raw, dict):
            raise ConfigError(f"metadata file {origin}: expected a table of path patterns, "
                              f"got {type(raw).__name__}")
        return cls(tuple((str(p), _override(origin, str(p), v)) for p, v in raw.items()), origin)

    def to_json(self) -> dict[str, Any]:
        """What ``from_json`` reads back (stored with each index version)."""
        rules = {}
        for pattern, o in self.rules:
            entry = {k: getattr(o, k) for k in ("title", "family", "status", "effective",
                                                "version") if getattr(o, k) is not None}
            entry.update({k: list(getattr(o, k)) for k in ("supersedes", "access")
                          if getattr(o, k)})
            rules[pattern] = entry
        return {"origin": self.origin, "rules": rules}

    def for_source(self, source: str) -> Override | None:
        """The merged override of every pattern matching ``source``; None when none does."""
        merged: dict[str, Any] = {}
        for pattern, override in self.rules:
            if source == pattern or fnmatch.fnmatchcase(source, pattern):
                merged.update({f.name: getattr(override, f.name)
                               for f in dataclasses.fields(override)
                               if getattr(override, f.name) not in (None, ())})
        return Override(**merged) if merged else None

    def unmatched(self, sources: Iterable[str]) -> list[str]:
        """Patterns that match none of ``sources`` (probably a typo)."""
        sources = list(sources)
        return [p for p, _ in self.rules
                if not any(s == p or fnmatch.fnmatchcase(s, p) for s in sources)]


def _override(origin: str, pattern: str, value: Any) -> Override:
    where = f"metadata file {origin}, [{pattern!r}]"
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table of keys, got {type(value).__name__}")
    unknown = sorted(set(value) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {', '.join(unknown)}; allowed: {', '.join(KEYS)}")
    fields: dict[str, Any] = {}
    for key in ("title", "family", "version"):
        if key in value:
            fields[key] = _text(where, key, value[key])
    if "status" in value:
        status = _text(where, "status", value["status"]).lower()
        if status not in _STATUSES:
            raise ConfigError(f"{where}: status must be one of {', '.join(_STATUSES)}, "
                              f"got {value['status']!r}")
        fields["status"] = status
    if "effective" in value:
        raw = value["effective"]
        iso, problem = parse_date(raw.isoformat() if hasattr(raw, "isoformat") else str(raw))
        if iso is None:
            raise ConfigError(f"{where}: effective {problem or 'is empty'}")
        fields["effective"] = iso
    for key in ("supersedes", "access"):
        if key in value:
            items = value[key] if isinstance(value[key], list) else [value[key]]
            fields[key] = tuple(_text(where, key, item) for item in items)
    return Override(**fields)


def _text(where: str, key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(value):
        raise ConfigError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return str(value).strip()
