"""Documents that are versions of one another, and which one of them is in force.

Two documents are one family when the document or the metadata file says so (the same
``family``, or ``supersedes``), when their titles (or file names in one folder) are the
same once a year, a version number or a status word is taken out ("Returns Policy (2023)"
and "Returns Policy"; ``firmware-2.txt`` and ``firmware-3.html``), or when one says near
its top that it replaces the other and the words it uses name exactly one other document
("These prices replace the 2023 price sheet").

Release notes are not versions of one another: the notes of 2.1 stay true about 2.1 once
2.2 ships. A document whose title or file name says it is release notes ("Release Notes",
"Changelog", "What's New", "Release 15.1") is not joined to another by its name alone
unless one of the documents so named says it is archived or superseded (a stated ``family`` or
``supersedes`` still joins it); release notes in force form a *series*
instead (``series_of``), which search orders by version when a question asks for the
latest one (``index.current_first``).

In each family the newest document in force is ``current`` (by effective date, else
version, else the year in its name); the others are ``superseded``, or ``archived`` where
they say so. What cannot be decided safely stays visible instead of being guessed: two
documents that both say they are current stay current, an unordered family keeps all its
candidates current, a ``supersedes`` cycle is ignored; each gets one line in the problems.
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import cmp_to_key
from pathlib import PurePosixPath

from ingest.versions import VersionInfo

_TOKEN = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)*")
_YEAR = re.compile(r"(?:19|20)\d\d")
_VERSION_TOKEN = re.compile(r"v?\d+(?:\.\d+)+|v?\d+\.x|v\d+")
_VERSION_WORDS = frozenset({"version", "ver", "rev", "revision", "edition", "release"})
_STATUS_WORDS = frozenset({"archived", "superseded", "obsolete", "withdrawn", "old"})
_STOP = frozenset({"the", "a", "an", "of", "for", "and", "to", "in", "on", "by", "our", "its",
                   "this", "these", "that", "with", "from", "at"})


_RELEASE_NOTES = re.compile(
    r"\brelease[\s_-]*notes?\b|\bchange[\s_-]*log\b|\bwhat'?s[\s_-]+new\b"
    r"|\brelease[\s_-]+v?\d",
    re.IGNORECASE,
)
_SECTION_NUMBER = re.compile(r"^\s*(?:[A-Z]|\d+)(?:\.\d+)*\.\s+")


def is_release_notes(title: str, source: str) -> bool:
    """True when the title or file name says the document is release notes."""
    return bool(_RELEASE_NOTES.search(title) or _RELEASE_NOTES.search(stem_of(source)[1]))


def series_of(title: str, source: str) -> tuple[str, tuple[int, ...]] | None:
    """``(series name, version)`` of a release-notes document: ``("release", (15, 1))``
    for "E.20. Release 15.1" (a leading section number is not part of the name), from its
    title, else from its file name; the name is scoped by folder. ``None`` when it is not
    release notes or does not carry exactly one version number."""
    if not is_release_notes(title, source):
        return None
    folder, stem = stem_of(source)
    for text, file_stem in ((_SECTION_NUMBER.sub("", title.split(" | ")[0]), False),
                            (stem.replace("-", " ").replace("_", " "), True)):
        key = name_key(text, file_stem=file_stem)
        if file_stem and len(key.versions) > 1 and all(len(v) == 1 for v in key.versions):
            key = NameKey(key.key, (tuple(v[0] for v in key.versions),), key.years, True)
        if len(key.versions) == 1:
            words = [t for t in _TOKEN.findall(text.lower()) if not any(c.isdigit() for c in t)]
            return f"{folder}/{' '.join(words)}", key.versions[0]
    return None


@dataclass(frozen=True)
class DocFacts:
    """One document as family resolution sees it: source, title and stated version info."""

    source: str
    title: str
    info: VersionInfo


@dataclass(frozen=True)
class Resolution:
    """Where a document stands: its family, status, effective date, when superseded the
    source of the family's current document, and the version it is known by (the metadata
    file's, else what the document states)."""

    family: str
    status: str
    effective_date: str | None
    superseded_by: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class NameKey:
    """A title or file name with its version markers taken out, and the markers."""

    key: str
    versions: tuple[tuple[int, ...], ...] = ()
    years: tuple[int, ...] = ()
    marked: bool = False  # something (year, version, status word) was taken out


def name_key(text: str, *, file_stem: bool = False) -> NameKey:
    """``text`` lower-cased without years, version numbers and status words.

    ``"Returns and Refunds Policy (2023)"`` -> ``returns and refunds policy`` (year 2023).
    For a file stem a trailing plain number is a version too (``firmware-2`` -> ``firmware``,
    version 2); in a title it is part of the name ("Top 10 Tips").
    """
    text = text.lower().split(" | ")[0]
    tokens = _TOKEN.findall(text.replace("_", " "))
    kept: list[str] = []
    versions: list[tuple[int, ...]] = []
    years: list[int] = []
    marked = False
    for i, token in enumerate(tokens):
        previous = tokens[i - 1] if i else ""
        if _YEAR.fullmatch(token):
            years.append(int(token))
        elif _VERSION_TOKEN.fullmatch(token) or (token.isdigit() and (
                previous in _VERSION_WORDS or (file_stem and i == len(tokens) - 1 and i))):
            versions.append(version_tuple(token))
        elif token in _STATUS_WORDS:
            pass
        elif token in _VERSION_WORDS and i + 1 < len(tokens) and tokens[i + 1][0].isdigit():
            continue  # "version 2": the number is taken out on the next token
        else:
            kept.append(token)
            continue
        marked = True
    return NameKey(" ".join(kept), tuple(versions), tuple(years), marked)


def version_tuple(text: str) -> tuple[int, ...]:
    """``"v2.9.1"`` -> ``(2, 9, 1)``, ``"3.x"`` -> ``(3,)``; non-numeric parts end it."""
    parts = []
    for part in text.lower().lstrip("v").split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def stem_of(source: str) -> tuple[str, str]:
    """(folder, file stem) of a source path."""
    path = PurePosixPath(source)
    return str(path.parent), path.stem


def _words(text: str) -> frozenset[str]:
    """Content words for matching a reference against a title: no stopwords, numbers,
    years, versions or status words; plurals folded ("prices" ~ "price")."""
    out = set()
    for token in _TOKEN.findall(text.lower().replace("_", " ")):
        if token in _STOP or token in _STATUS_WORDS or token in _VERSION_WORDS \
                or any(ch.isdigit() for ch in token):
            continue
        if token.endswith("ies") and len(token) > 4:
            token = token[:-3] + "y"
        elif token.endswith("s") and not token.endswith("ss") and len(token) > 3:
            token = token[:-1]
        out.add(token)
    return frozenset(out)


class _Docs:
    """The documents being resolved, with their name keys and a union-find over them."""

    def __init__(self, docs: list[DocFacts]) -> None:
        self.docs = docs
        self.index = {d.source: i for i, d in enumerate(docs)}
        self.titles = [name_key(d.title) for d in docs]
        self.stems = [name_key(stem_of(d.source)[1].replace("-", " "), file_stem=True)
                      for d in docs]
        self.words = [_words(d.title) | _words(self.stems[i].key) for i, d in enumerate(docs)]
        self.parent = list(range(len(docs)))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def resolve_ref(self, ref: str, me: int, explicit: bool) -> list[int]:
        """Documents ``ref`` names (other than ``me``): an exact source, a path suffix or
        glob, an exact title, or (prose too) content words that fit exactly one title."""
        ref = ref.strip()
        if explicit:
            for match in (
                lambda d: d.source == ref,
                lambda d: d.source.endswith("/" + ref.lstrip("./")),
                lambda d: fnmatch.fnmatchcase(d.source, ref),
                lambda d: d.title.strip().lower() == ref.lower(),
            ):
                found = [i for i, d in enumerate(self.docs) if i != me and match(d)]
                if found:
                    return found
        words = _words(ref)
        found = [
            i for i, w in enumerate(self.words)
            if i != me and ((len(words) >= 2 and words <= w) or (len(w) >= 2 and w <= words))
        ]
        return found if len(found) == 1 else []


def resolve_families(
    docs: list[DocFacts], today: date | None = None
) -> tuple[dict[str, Resolution], list[str]]:
    """Group ``docs`` into families and decide each one's status (see the module doc).

    Returns one ``Resolution`` per source and the problems found, one line each. ``today``
    (default: the UTC date) decides which effective dates are still in the future.
    """
    today = today or datetime.now(UTC).date()
    state = _Docs(docs)
    problems: list[str] = []
    stated_family = [d.info.family.strip() if d.info.family else None for d in docs]
    for i, family in enumerate(stated_family):
        for j in range(i):
            if family and stated_family[j] == family:
                state.union(i, j)
    _join_by_name(state, stated_family)
    edges = _supersedes_edges(state, stated_family, problems)
    for new, old in edges:  # a cycle still says the documents are related
        state.union(new, old)
    edges = _drop_cycles(edges, docs, problems)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(docs)):
        groups[state.find(i)].append(i)
    out: dict[str, Resolution] = {}
    names: dict[str, list[int]] = defaultdict(list)
    for members in groups.values():
        statuses, current = _statuses(state, members, edges, today, problems)
        family = next((stated_family[i] for i in members if stated_family[i]), None)
        lead = current[0] if current else members[0]
        family = family or state.titles[lead].key or state.stems[lead].key or docs[lead].source
        names[family].append(lead)
        successor = docs[current[0]].source if len(current) == 1 else None
        for i in members:
            status = statuses[i]
            out[docs[i].source] = Resolution(
                family=family, status=status, effective_date=docs[i].info.effective_date,
                superseded_by=successor if status in ("superseded", "archived") else None,
                version=docs[i].info.version,
            )
    _disambiguate(out, names, state, groups)
    return out, problems


def _join_by_name(state: _Docs, stated_family: list[str | None]) -> None:
    """Same title, or same file name in one folder, once version markers are out; at least
    one of the two must have had a marker (two plain "FAQ" pages are not versions).
    Release notes (whose versions all stay true) join only a group in which a document
    says it is archived or superseded ("Firmware 2.x Release Notes (ARCHIVED)")."""
    notes = [is_release_notes(d.title, d.source) for d in state.docs]
    for keys, scope in ((state.titles, False), (state.stems, True)):
        seen: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            if key.key and not stated_family[i]:
                folder = stem_of(state.docs[i].source)[0] if scope else ""
                seen[(folder, key.key)].append(i)
        for members in seen.values():
            if not any(state.docs[i].info.status in ("archived", "superseded")
                       for i in members):
                members = [i for i in members if not notes[i]]
            marked = [i for i in members if keys[i].marked]
            for i in marked:
                for j in members:
                    state.union(i, j)


def _supersedes_edges(
    state: _Docs, stated_family: list[str | None], problems: list[str]
) -> set[tuple[int, int]]:
    """(newer, older) pairs from ``supersedes`` and "superseded by" statements."""
    edges: set[tuple[int, int]] = set()
    for i, doc in enumerate(state.docs):
        for ref in doc.info.supersedes:
            found = state.resolve_ref(ref, i, doc.info.explicit)
            if not found and doc.info.explicit:
                problems.append(f"{doc.source}: supersedes '{ref}' names no document in the "
                                "index; ignored")
            for j in found:
                if not doc.info.explicit and stated_family[j] != stated_family[i]:
                    continue  # prose never overrides a family someone stated
                edges.add((i, j))
        for ref in doc.info.superseded_by:
            for j in state.resolve_ref(ref, i, False):
                if stated_family[j] == stated_family[i]:
                    edges.add((j, i))
    return edges


def _drop_cycles(
    edges: set[tuple[int, int]], docs: list[DocFacts], problems: list[str]
) -> set[tuple[int, int]]:
    """Edges minus every one on a cycle (A supersedes B supersedes A), each cycle reported."""
    out: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        out[a].add(b)

    def reaches(start: int, goal: int) -> list[int] | None:
        stack, seen = [(start, [start])], {start}
        while stack:
            node, path = stack.pop()
            for nxt in sorted(out[node]):
                if nxt == goal:
                    return path + [nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None

    bad: set[tuple[int, int]] = set()
    reported: set[frozenset[int]] = set()
    for a, b in sorted(edges):
        path = [a, b] if a == b else reaches(b, a)
        if path is None:
            continue
        cycle = [a] + path if a != b else path
        bad.update(zip(cycle, cycle[1:], strict=False))
        key = frozenset(cycle)
        if key not in reported:
            reported.add(key)
            names = " -> ".join(docs[i].source for i in cycle)
            problems.append(f"supersedes cycle: {names}; one family, but these supersedes "
                            "statements are ignored (dates decide)")
    return edges - bad


def _statuses(
    state: _Docs, members: list[int], edges: set[tuple[int, int]], today: date,
    problems: list[str],
) -> tuple[dict[int, str], list[int]]:
    """Each member's status and the current members (sources in order)."""
    docs = state.docs
    stated = {i: docs[i].info.status for i in members}
    if len(members) == 1:
        (i,) = members
        status = stated[i] or "current"
        return {i: status}, [i] if status == "current" else []
    replaced = {old for new, old in edges if new in members and old in members}
    candidates = [i for i in members
                  if stated[i] == "current" or (stated[i] is None and i not in replaced)]
    future = [i for i in candidates if _future(docs[i].info.effective_date, today)]
    if future and len(future) < len(candidates):
        for i in future:
            problems.append(f"{docs[i].source}: effective {docs[i].info.effective_date} is "
                            "in the future; not in force yet, its status is upcoming")
        candidates = [i for i in candidates if i not in future]
    said_current = [i for i in candidates if stated[i] == "current"]
    if len(said_current) > 1:
        problems.append(f"{len(said_current)} documents of one family say they are current "
                        f"({_sources(docs, said_current)}); all are kept current")
        current = said_current
    elif said_current:
        current = said_current
    elif candidates:
        current = _newest(state, candidates)
        if len(current) > 1:
            problems.append(f"cannot tell which of {_sources(docs, current)} is newer (no "
                            "comparable dates or versions); all are kept current")
    else:
        current = []
    statuses = {}
    for i in members:
        if i in current:
            statuses[i] = "current"
        elif i in future:
            statuses[i] = "upcoming"
        else:
            statuses[i] = stated[i] if stated[i] in ("archived", "superseded") else "superseded"
    return statuses, sorted(current, key=lambda i: docs[i].source)


def _sources(docs: list[DocFacts], ids: list[int]) -> str:
    return ", ".join(docs[i].source for i in ids)


def _future(effective: str | None, today: date) -> bool:
    return bool(effective) and date.fromisoformat(effective) > today


def _order_keys(state: _Docs, i: int) -> tuple[str | None, tuple[int, ...] | None, int | None]:
    """(effective date, version, year in the name) of member ``i``; None where unknown."""
    doc, title, stem = state.docs[i], state.titles[i], state.stems[i]
    version = version_tuple(doc.info.version) if doc.info.version else None
    version = version or (title.versions or stem.versions or (None,))[0]
    years = title.years or stem.years
    return doc.info.effective_date, version or None, max(years) if years else None


def _newest(state: _Docs, candidates: list[int]) -> list[int]:
    """The newest candidate; several when they cannot be told apart."""
    keys = {i: _order_keys(state, i) for i in candidates}

    def compare(a: int, b: int) -> int | None:
        for x, y in zip(keys[a], keys[b], strict=True):
            if x is not None and y is not None and x != y:
                return 1 if x > y else -1
        return None

    best = max(candidates, key=cmp_to_key(lambda a, b: compare(a, b) or 0))
    tied = [i for i in candidates if i != best and compare(best, i) is None]
    return [best, *tied]


def _disambiguate(
    out: dict[str, Resolution], names: dict[str, list[int]], state: _Docs,
    groups: dict[int, list[int]],
) -> None:
    """Give families that ended up with one name (two unrelated "FAQ" pages) distinct
    names, so that search never treats them as one family."""
    for name, leads in names.items():
        if len(leads) < 2:
            continue
        for lead in leads[1:]:
            new = f"{name} ({state.docs[lead].source})"
            for i in groups[state.find(lead)]:
                r = out[state.docs[i].source]
                out[state.docs[i].source] = replace(r, family=new)
