"""Current documents first: how search treats superseded and archived versions.

A version policy decides what happens to the chunks of a document whose status is
``superseded`` or ``archived`` (see ``ingest.families``):

- ``prefer`` (default): each ranks below every retrieved chunk of its family's current
  document; it still ranks above other documents it beats, and is left where it is when
  its family's current document was not retrieved at all (it may be the only answer).
- ``only-current``: they are left out before the top-k cut, so a search still returns
  ``k`` results when the index holds that many in force.
- ``off``: status plays no part.

A question that names a date, a year or a version reaches the older version under both
``prefer`` and ``only-current``: "under the 2023 policy" names the version that took
effect in 2023 (or, if none did, the one in force then), "on 1 May 2024" the one in force
that day, "in firmware 2.9" the one whose version or name is 2 or 2.9.

Release notes are a *series*, not versions (``ingest.families.series_of``): every release's
notes stay ``current``, so the policy above never demotes one. Under ``prefer`` and
``only-current`` search orders a series instead: a question that names a release ("in
15.3", "15.20") puts that release's passages first among the series' passages it
retrieved (from the whole candidate list, so a named release below the top ``k`` comes
up); a question that asks for the latest ("latest", "newest", "most recent", "current")
and names none orders the series' passages within the top ``k`` newest release first.
A question about the newest release itself ("the newest 15.x release", "the most recent
minor release", "the latest release notes": ``NamedVersions.newest``) also brings up the
newest release's best passage when a series shows in the top ``k`` without it, searched
within that release's document if it is not among the candidates (``Searcher``): which
release is newest is known from the series, not from what the words happened to match.
Other documents keep their places.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from core.errors import ConfigError
from index.chunkdb import StoredDocument
from ingest.families import name_key, series_of, stem_of, version_tuple
from ingest.versions import DATE_PATTERN, STALE_STATUSES, is_month_date, parse_date

VERSION_POLICIES = ("prefer", "only-current", "off")

_DATE = re.compile(DATE_PATTERN, re.IGNORECASE)
_YEAR = re.compile(r"(?<![\d.])((?:19|20)\d\d)(?![\d]|\.\d)")
_VERSION_AFTER_WORD = re.compile(
    r"\b(?:version|ver|rev|release|firmware|app|api|policy|edition|v)\.?\s*"
    r"(\d+(?:\.\d+)*)(?:\.x)?\b",
    re.IGNORECASE,
)
_VERSION_ALONE = re.compile(r"(?<![\w.$])(\d+\.\d+\.\d+|\d+\.x)\b", re.IGNORECASE)
_RELEASE_NUMBER = re.compile(r"(?<![\w.$/-])(\d+\.\d+(?:\.\d+)*)(?![\w.]*\d)(?!\.?\w)")
# "after 15.9 ... which release restored it?": a release named as a point of reference
# ("after", "before", "from", "prior to", "older than", ...) is not the one asked about.
_REFERENCE = re.compile(
    r"\b(?:after|before|from|prior\s+to|(?:earlier|older|later|newer)\s+than)\s+"
    r"(?:the\s+)?(?:(?:postgresql|version|release|v)\.?\s*)?$", re.IGNORECASE)
_LATEST = re.compile(r"\b(?:latest|newest|most\s+recent(?:ly)?|current)\b", re.IGNORECASE)
# The newest release itself: "newest PostgreSQL 15 minor release", "most recent 15.x
# update", "the latest release's notes"; not "which release most recently fixed X" (the
# newest of those that fixed X) nor "the current version of X".
_NEWEST_RELEASE = re.compile(
    r"\b(?:latest|newest|most\s+recent)\s+(?:[\w.]+\s+){0,3}?(?:release|update|notes)\b",
    re.IGNORECASE)


def check_policy(policy: str) -> str:
    """``policy`` if it is one of ``VERSION_POLICIES``, else ``ConfigError``."""
    if policy not in VERSION_POLICIES:
        raise ConfigError(
            f"versions policy must be one of {', '.join(VERSION_POLICIES)}, got {policy!r}"
        )
    return policy


@dataclass(frozen=True)
class NamedVersions:
    """The periods (inclusive first and last day) and versions a question names."""

    periods: tuple[tuple[date, date], ...] = ()
    versions: tuple[tuple[int, ...], ...] = ()
    releases: tuple[tuple[int, ...], ...] = ()  # "in 15.3": exact release numbers asked about
    latest: bool = False  # asks for the latest, newest, most recent or current one
    newest: bool = False  # asks about the newest release itself (``_NEWEST_RELEASE``)

    def __bool__(self) -> bool:
        return bool(self.periods or self.versions)


def named_versions(query: str) -> NamedVersions:
    """Dates ("1 May 2024", "2024-05-01"), months ("May 2024"), years ("2023") and
    versions ("version 2.1", "firmware 2.9", "v1", "2.9.3", "3.x") that ``query`` names."""
    periods: list[tuple[date, date]] = []
    taken: list[tuple[int, int]] = []
    for match in _DATE.finditer(query):
        iso, _ = parse_date(match.group(0))
        if iso is None:
            continue
        day = date.fromisoformat(iso)
        periods.append((day, _month_end(day)) if is_month_date(match.group(0)) else (day, day))
        taken.append(match.span())
    for match in _YEAR.finditer(query):
        if not any(a <= match.start() < b for a, b in taken):
            year = int(match.group(1))
            periods.append((date(year, 1, 1), date(year, 12, 31)))
    versions = []
    for pattern in (_VERSION_AFTER_WORD, _VERSION_ALONE):
        for match in pattern.finditer(query):
            version = version_tuple(match.group(1))
            if version and not (len(version) == 1 and 1900 <= version[0] <= 2099):
                versions.append(version)
    releases = [version_tuple(m.group(1)) for m in _RELEASE_NUMBER.finditer(query)
                if not any(a <= m.start() < b for a, b in taken)
                and not _REFERENCE.search(query[: m.start()])]
    releases += [v for v in versions if len(v) >= 2 and v in releases]
    return NamedVersions(tuple(periods), tuple(dict.fromkeys(versions)),
                         tuple(dict.fromkeys(releases)), bool(_LATEST.search(query)),
                         bool(_NEWEST_RELEASE.search(query)))


def _month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


class VersionTable:
    """One index version's documents as the policy needs them: row -> document,
    document -> family, stale or not, and each one's dates and version markers."""

    def __init__(self, documents: Sequence[StoredDocument], n_rows: int) -> None:
        self.sources = {d.record.source: i for i, d in enumerate(documents)}
        self.row_doc = np.full(n_rows, -1, dtype=np.int64)
        families: dict[str, int] = {}
        self.family = np.zeros(len(documents), dtype=np.int64)
        self.stale = np.zeros(len(documents), dtype=bool)
        self.effective: list[date | None] = []
        self.markers: list[tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]] = []
        for i, d in enumerate(documents):
            r = d.record
            self.row_doc[d.row_start : d.row_start + r.n_chunks] = i
            self.family[i] = families.setdefault(r.family or f"\0{r.source}", len(families))
            self.stale[i] = r.status in STALE_STATUSES
            self.effective.append(date.fromisoformat(r.effective_date)
                                  if r.effective_date else None)
            title, stem = name_key(r.title), name_key(stem_of(r.source)[1].replace("-", " "),
                                                       file_stem=True)
            declared = r.known_version
            versions = ((version_tuple(declared),) if declared else ()) + title.versions \
                + stem.versions
            self.markers.append((tuple(v for v in versions if v), title.years + stem.years))
        self.series = np.full(len(documents), -1, dtype=np.int64)
        self.series_version: list[tuple[int, ...]] = [()] * len(documents)
        found: dict[str, list[int]] = defaultdict(list)
        for i, d in enumerate(documents):
            if not self.stale[i] and (named := series_of(d.record.title, d.record.source)):
                found[named[0]].append(i)
                self.series_version[i] = named[1]
        self.newest: dict[int, int] = {}  # series (its first member) -> newest member
        for members in found.values():
            if len({_padded(self.series_version[i], 4) for i in members}) > 1:
                self.series[members] = members[0]
                self.newest[members[0]] = max(
                    members, key=lambda i: _padded(self.series_version[i], 4))
        self.has_series = bool((self.series >= 0).any())
        in_force = np.zeros(len(families), dtype=bool)
        in_force[self.family[~self.stale]] = True
        self.family_in_force = in_force
        self.has_stale = bool(self.stale.any())
        self._members: dict[int, list[int]] = defaultdict(list)
        for i, f in enumerate(self.family.tolist()):
            self._members[f].append(i)

    def named(self, query: NamedVersions) -> frozenset[int]:
        """The stale documents ``query`` names by date, year or version."""
        if not query or not self.has_stale:
            return frozenset()
        out: set[int] = set()
        for family in {int(self.family[i]) for i in np.flatnonzero(self.stale)}:
            members = self._members[family]
            for first, last in query.periods:
                out.update(self._in_period(members, first, last))
            for i in members:
                if any(_compatible(v, q) for v in self.markers[i][0] for q in query.versions):
                    out.add(i)
        return frozenset(i for i in out if self.stale[i])

    def _in_period(self, members: list[int], first: date, last: date) -> list[int]:
        """Members that took effect in the period, else those in force during it; members
        without a date count when a year in their name falls in it."""
        dated = sorted((self.effective[i], i) for i in members if self.effective[i])
        started = [i for day, i in dated if first <= day <= last]
        if not started:
            for n, (day, i) in enumerate(dated):
                following = dated[n + 1][0] if n + 1 < len(dated) else None
                if day <= last and (following is None or following > first):
                    started.append(i)
        by_name = [i for i in members
                   if any(first.year <= y <= last.year for y in self.markers[i][1])]
        return started + by_name

    def allowed_rows(self, named: frozenset[int]) -> np.ndarray:
        """Bool (n_rows,): rows of documents in force, plus those of ``named`` ones."""
        keep = ~self.stale
        if named:
            keep = keep.copy()
            keep[list(named)] = True
        return keep[self.row_doc] & (self.row_doc >= 0)

    def prefer(self, docs: Sequence[int], named: frozenset[int]) -> list[int]:
        """Positions of ``docs`` (document index per ranked item, -1 unknown) reordered so
        that each stale item comes after its family's last in-force item; stable."""
        demoted = [d >= 0 and self.stale[d] and d not in named
                   and self.family_in_force[self.family[d]] for d in docs]
        last: dict[int, int] = {}
        for pos, d in enumerate(docs):
            if d >= 0 and not demoted[pos]:
                last[int(self.family[d])] = pos
        keys = []
        for pos, d in enumerate(docs):
            anchor = max(pos, last.get(int(self.family[d]), -1)) if demoted[pos] else pos
            keys.append((anchor, demoted[pos], pos))
        return [k[2] for k in sorted(keys)]

    def series_order(self, docs: Sequence[int], query: NamedVersions, top: int) -> list[int]:
        """Positions of ``docs`` (document index per ranked item, -1 unknown) reordered
        for release-note series (see the module doc): items of a release ``query`` names
        first among their series' items, else, when it asks for the latest, the series'
        items among the first ``top`` newest release first; stable otherwise."""
        order = list(range(len(docs)))
        if not self.has_series:
            return order
        named = {_padded(v, 4) for v in query.releases}
        slots: dict[int, list[int]] = defaultdict(list)
        for pos, d in enumerate(docs):
            if d >= 0 and self.series[d] >= 0 and (named or pos < top):
                slots[int(self.series[d])].append(pos)
        for positions in slots.values():
            if named:
                hit = [p for p in positions
                       if _padded(self.series_version[docs[p]], 4) in named]
                if not hit:
                    continue
                ranked = hit + [p for p in positions if p not in hit]
            elif query.latest:
                ranked = sorted(positions, key=lambda p: (
                    tuple(-x for x in _padded(self.series_version[docs[p]], 4)), p))
            else:
                continue
            for slot, pos in zip(positions, ranked, strict=True):
                order[slot] = pos
        return order

    def missing_newest(self, docs: Sequence[int], query: NamedVersions, top: int
                       ) -> list[int]:
        """The newest release of each series with an item among the first ``top`` of
        ``docs`` (document index per ranked item) that has none there itself, when
        ``query`` asks about the newest release and names none; else none."""
        if not (self.has_series and query.newest and not query.releases):
            return []
        shown = {d for d in docs[:top] if d >= 0}
        series = {int(self.series[d]) for d in shown if self.series[d] >= 0}
        return [self.newest[s] for s in sorted(series) if self.newest[s] not in shown]

    def doc_of(self, source: str) -> int:
        return self.sources.get(source, -1)


def _padded(version: tuple[int, ...], n: int) -> tuple[int, ...]:
    """``version`` with zeros added up to ``n`` parts: 15 == 15.0 == 15.0.0."""
    return tuple(version) + (0,) * max(0, n - len(version))


def _compatible(marker: tuple[int, ...], named: tuple[int, ...]) -> bool:
    """True when one version is a prefix of the other: 2 ~ 2.9, 2.9 ~ 2.9.3."""
    n = min(len(marker), len(named))
    return n > 0 and marker[:n] == named[:n]
