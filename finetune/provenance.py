"""Where an adapter's training data came from, and whether those documents still stand.

``assistant finetune`` records in the adapter manifest the documents its examples were
built from (``manifest["data"]["documents"]``: the gold sources of the Q&A records that
made it into the examples, as the Q&A file names them). ``check_training_data`` compares
that list with an index's documents:

- ``superseded``: a source is now ``superseded`` or ``archived`` in the index (a newer
  version of it is in force, or it was withdrawn): the adapter learned what it used to say;
- ``deleted``: a source is no longer in the index at all;
- ``ok``: every source is in the index and in force (``current`` or ``unknown``);
- ``unknown``: the manifest names no documents (trained before they were recorded, or on
  data that does not come from the index, such as PubMedQA).

A recorded name matches an indexed source exactly, else the one indexed source that ends
with it, else the longest indexed source it ends with (the Q&A file and the index may be
relative to different folders: ``docs/a.md`` and ``a.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from index.records import DocRecord
from ingest.versions import STALE_STATUSES

DATA_STATES = ("ok", "superseded", "deleted", "unknown")


@dataclass(frozen=True)
class DataCheck:
    """How one adapter's training documents stand in an index (see the module doc).

    ``state`` is the worst finding (``deleted`` over ``superseded`` over ``ok``);
    ``superseded`` and ``deleted`` list the recorded names concerned; ``documents`` is how
    many names the manifest records.
    """

    state: str
    documents: int = 0
    superseded: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()

    def label(self) -> str:
        """Short text for a table cell: ``ok``, ``superseded 1/12``, ``deleted 2/12``, ``-``."""
        if self.state == "unknown":
            return "-"
        if self.state == "ok":
            return "ok"
        parts = []
        if self.deleted:
            parts.append(f"deleted {len(self.deleted)}/{self.documents}")
        if self.superseded:
            parts.append(f"superseded {len(self.superseded)}/{self.documents}")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "documents": self.documents,
                "superseded": list(self.superseded), "deleted": list(self.deleted)}


def training_documents(manifest: Mapping[str, Any]) -> list[str] | None:
    """The document names an adapter manifest records for its training data, or ``None``
    when it records none. Reads ``data.documents`` (a list of names, or of objects with a
    ``source`` or ``file``), sorted and without repeats."""
    data = manifest.get("data")
    if not isinstance(data, Mapping):
        return None
    value = data.get("documents")
    if not isinstance(value, list):
        return None
    names = []
    for item in value:
        if isinstance(item, Mapping):
            item = item.get("source") or item.get("file")
        if isinstance(item, str) and item.strip():
            names.append(item.strip())
    return sorted(set(names))


def check_training_data(manifest: Mapping[str, Any], documents: Iterable[DocRecord]) -> DataCheck:
    """Compare the documents ``manifest`` records with an index's ``documents``."""
    names = training_documents(manifest)
    if names is None:
        return DataCheck("unknown")
    by_source = {d.source: d for d in documents}
    superseded, deleted = [], []
    for name in names:
        source = match_source(name, by_source)
        if source is None:
            deleted.append(name)
        elif by_source[source].status in STALE_STATUSES:
            superseded.append(name)
    state = "deleted" if deleted else "superseded" if superseded else "ok"
    return DataCheck(state, len(names), tuple(superseded), tuple(deleted))


def match_source(name: str, sources: Mapping[str, Any] | Sequence[str]) -> str | None:
    """The indexed source ``name`` refers to: the same path, else the one source that ends
    with it, else the longest source it ends with; ``None`` when none (or several equally
    good ones) do."""
    name = name.strip().strip("/")
    if name in sources:
        return name
    longer = [s for s in sources if s.endswith("/" + name)]
    if longer:
        return longer[0] if len(longer) == 1 else None
    shorter = sorted((s for s in sources if name.endswith("/" + s)), key=len, reverse=True)
    return shorter[0] if shorter else None


def record_documents(records: Iterable[Any], used_ids: Iterable[str] | None = None) -> list[str]:
    """The gold source files of ``records`` (``QARecord``), only those whose id is in
    ``used_ids`` when given: what ``manifest["data"]["documents"]`` records."""
    used = set(used_ids) if used_ids is not None else None
    out = set()
    for record in records:
        if used is not None and record.id not in used:
            continue
        out.update(s.file for s in record.gold_sources if s.file)
    return sorted(out)
