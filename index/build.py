"""Files in, a new published index version out: the in-process ingest engine.

One run mirrors the given paths into the index: new and changed files (by content
hash) are parsed, chunked and embedded (``ingest.pipeline``, or ``ingest.ray_engine``);
unchanged files are carried over without re-embedding; files no longer present are
removed. The index writer publishes the result atomically, so readers see either the
old version or the new one.

Every run also decides each document's version status over the whole new version
(``ingest.families``, with the metadata file's overrides): a new version of a document
demotes the old one by rewriting its record only, never its chunks or vectors.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError, InputFileError
from core.hashing import file_sha256
from core.progress import Progress
from index.records import DocRecord
from index.store import CURRENT_FILE
from index.vectors import VectorIndexConfig
from index.writer import IndexWriter
from ingest.chunking import ChunkerConfig
from ingest.discover import DiscoverConfig, FileEntry, Skipped, discover
from ingest.embedding import Embedder, EmbedderConfig
from ingest.families import DocFacts, Resolution, resolve_families
from ingest.loaders import load_document, parse_outdated, parse_tag
from ingest.metadata_file import MetadataRules
from ingest.pipeline import Parsed, embed_chunks, parse_all
from ingest.versions import INFO_FORMAT, VersionInfo

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class IngestConfig:
    """Everything one ingest run needs besides the paths and the index directory."""

    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    chunker: ChunkerConfig = field(default_factory=ChunkerConfig)
    discover: DiscoverConfig = field(default_factory=DiscoverConfig)
    # None keeps the live version's vector settings (defaults for a new index).
    vectors: VectorIndexConfig | None = None
    engine: str = "local"
    lock_timeout: float = 0.0
    ray_address: str | None = None
    # The metadata file (``ingest.metadata_file``); None reuses the live version's rules.
    metadata: Path | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if not self.lock_timeout >= 0:  # NaN too
            raise ConfigError(f"lock_timeout must be >= 0 seconds, got {self.lock_timeout}")


@dataclass
class IngestReport:
    """What a run did, file by file; ``exit_code`` is 0 when nothing was skipped, else 3.

    ``warnings`` are version metadata that could not be read or decided (malformed front
    matter, an impossible date, two current documents in a family, a supersedes cycle,
    a metadata-file pattern that matches nothing): each document is still indexed.
    ``status_changed`` lists kept documents whose status, date or family changed.
    """

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_total: int = 0
    version: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    status_changed: list[str] = field(default_factory=list)
    metadata_reread: int = 0
    published: bool = True  # False: nothing changed, so no new version was published

    @property
    def exit_code(self) -> int:
        return 3 if self.skipped else 0

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "published": self.published,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": len(self.unchanged),
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
            "chunks_embedded": self.chunks_embedded,
            "chunks_total": self.chunks_total,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "warnings": self.warnings,
            "status_changed": self.status_changed,
            "metadata_reread": self.metadata_reread,
        }


def doc_record(parsed: Parsed, resolution: Resolution | None = None,
               access: tuple[str, ...] = (), parse: str = "") -> DocRecord:
    """What the index keeps about one parsed file; ``resolution`` is its version status
    among the other documents (None: only what the file itself states); ``parse`` what
    its chunks were made with (``ingest.loaders.parse_tag``)."""
    entry, document = parsed.entry, parsed.document
    record = DocRecord(
        doc_id=document.doc_id,
        source=entry.source,
        content_hash=document.content_hash,
        size=entry.size,
        mtime=entry.mtime,
        n_chunks=len(parsed.chunks),
        title=document.title,
        effective_date=document.effective_date,
        status=document.status,
        family=document.family,
        access=access,
        version_info=document.version_info,
        parse=parse,
    )
    return _resolved(record, resolution) if resolution else record


def _resolved(record: DocRecord, resolution: Resolution) -> DocRecord:
    return dataclasses.replace(
        record, effective_date=resolution.effective_date, status=resolution.status,
        family=resolution.family, superseded_by=resolution.superseded_by,
        version=resolution.version,
    )


def ingest(
    paths: Sequence[Path],
    index_dir: Path,
    config: IngestConfig | None = None,
    progress: Progress = True,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Mirror ``paths`` into the index at ``index_dir`` and publish a new version.

    Bad files are reported in ``report.skipped`` and never stop the run; a file that was
    indexed before and now fails to parse keeps its previous chunks. Raises
    ``IndexLockedError`` when another ingest holds the index, ``IndexMismatchError``
    when the index was built with another embedder, ``ConfigError`` for bad paths and
    when no file could be indexed at all (an index directory this call created is then
    removed again: nothing is left behind).
    """
    created = not index_dir.exists()
    try:
        return _ingest(paths, index_dir, config, progress, embedder)
    except ConfigError:
        if created and index_dir.is_dir() and not (index_dir / CURRENT_FILE).exists():
            shutil.rmtree(index_dir, ignore_errors=True)
        raise


def _ingest(paths: Sequence[Path], index_dir: Path, config: IngestConfig | None,
            progress: Progress, embedder: Embedder | None) -> IngestReport:
    config = config or IngestConfig()
    report = IngestReport()
    clock = time.perf_counter()
    entries, skipped = discover(list(paths), config.discover)
    if not entries and not skipped:
        raise ConfigError(f"nothing to ingest: no files under {_names(paths)}")
    report.skipped.extend(skipped)
    rules = MetadataRules.load(config.metadata) if config.metadata is not None else None
    embedder = embedder or Embedder(config.embedder)
    config.chunker.check_window(embedder.info.max_tokens)

    with IndexWriter.open(
        index_dir, embedder.info, vector_config=config.vectors, lock_timeout=config.lock_timeout
    ) as writer:
        previous = writer.previous_documents()
        # A file still there that was skipped (too large, unreadable, a broken link, a
        # folder that cannot be listed) keeps what was indexed of it, as one that fails
        # to parse does.
        held = _held(skipped, previous, {e.source for e in entries})
        if not entries and previous and not held:
            raise _emptying(f"no document to index under {_names(paths)}", previous, index_dir,
                            "check the paths (an empty or unmounted folder?), or delete the "
                            "index directory to start over")
        if rules is None and (stored := writer.previous_metadata_rules()) is not None:
            rules = MetadataRules.from_json(stored)
            logger.info("metadata rules of the live version reused (%s)", rules.origin)
        changed: list[FileEntry] = []
        reparsed = 0
        kept: list[FileEntry] = []  # carried over, in the order they are kept
        for entry in entries:
            old = previous.get(entry.source)
            if old is not None and old.content_hash == file_sha256(entry.path):
                if not parse_outdated(old.parse, entry.source, config.chunker):
                    kept.append(entry)
                    report.unchanged.append(entry.source)
                    continue
                reparsed += 1  # same bytes, but a new parser or chunk size: parse again
            changed.append(entry)
        if reparsed:
            report.warnings.append(
                f"{reparsed} unchanged file(s) parsed again: their parser or the chunk "
                "settings changed since they were indexed")
        report.seconds["scan"] = time.perf_counter() - clock

        if config.engine == "ray":
            from ingest.ray_engine import parse_and_embed_with_ray

            parsed, vectors, failed = parse_and_embed_with_ray(
                changed, config.embedder, config.chunker, embedder.info,
                address=config.ray_address,
            )
            report.seconds["parse"] = 0.0
        else:
            parsed, failed, parse_s = parse_all(changed, config.chunker, embedder, progress)
            report.seconds["parse"] = parse_s
            clock = time.perf_counter()
            all_chunks = [c for p in parsed for c in p.chunks]
            vectors = embed_chunks(embedder, all_chunks, config.chunker.prefix_tokens, progress)
            report.seconds["embed"] = time.perf_counter() - clock

        by_source = {e.source: e for e in entries}
        failed_kept = set(held)
        for skip in failed:
            report.skipped.append(skip)
            if skip.source in previous:  # keep what we had rather than lose the document
                failed_kept.add(skip.source)
        kept_sources = [e.source for e in kept] + sorted(failed_kept)
        if not kept_sources and not parsed:
            # every file found failed to parse ("not a PDF"): publishing would empty the
            # index, as an empty folder would (refused above, before parsing), or start
            # one with no document
            reasons = "; ".join(f"{s.source}: {s.reason}" for s in report.skipped[:3])
            if previous:
                raise _emptying(f"no document of {_names(paths)} could be indexed "
                                f"({reasons})", previous, index_dir, "nothing was changed")
            raise ConfigError(f"nothing to index: no file under {_names(paths)} could be "
                              f"indexed ({reasons}); no index was published")
        report.unchanged.extend(sorted(failed_kept))

        clock = time.perf_counter()
        infos: dict[str, VersionInfo | None] = {}
        titles: dict[str, str] = {}
        for source in kept_sources:
            record = previous[source]
            info = record.version_info
            if source not in failed_kept and (info is None or info.format < INFO_FORMAT):
                info = _reread(by_source[source], report) or info  # read before versions were
            infos[source], titles[source] = info, record.title
        for item in parsed:
            info = item.document.version_info or _reread(item.entry, report)  # Ray drops it
            infos[item.entry.source], titles[item.entry.source] = info, item.document.title
            report.warnings.extend(f"{item.entry.source}: {p}" for p in (info.problems if info
                                                                          else ()))
        resolutions = _resolve(infos, titles, rules, report)
        for source in kept_sources:
            old = previous[source]
            new = dataclasses.replace(
                old, version_info=infos[source], access=_access(rules, source),
            )
            resolution = resolutions.get(source)
            new = _resolved(new, resolution) if resolution else new
            writer.keep_document(source, new)
            if (change := _changes(old, new)) and old.version_info is not None:
                report.status_changed.append(f"{source}: {change}")
        report.seconds["versions"] = time.perf_counter() - clock
        offset = 0
        for item in parsed:
            n = len(item.chunks)
            source = item.entry.source
            record = doc_record(item, resolutions.get(source), _access(rules, source),
                                parse_tag(source, config.chunker))
            writer.add_document(record, item.chunks, vectors[offset : offset + n])
            offset += n
            (report.updated if item.entry.source in previous else report.added).append(
                item.entry.source
            )
        report.chunks_embedded = offset
        seen = {e.source for e in entries} | set(held)
        report.removed = sorted(s for s in previous if s not in seen)

        writer.metadata_rules = rules.to_json() if rules is not None else None
        clock = time.perf_counter()
        live = writer.live_manifest()
        if live is not None and writer.same_as_live():
            writer.abort()  # nothing changed: the live version stays, no new one to load
            report.published = False
            manifest = live
        else:
            manifest = writer.commit()
        report.seconds["commit"] = time.perf_counter() - clock
    report.version = manifest.version
    report.chunks_total = manifest.n_chunks
    return report


def _held(skipped: Sequence[Skipped], previous: Mapping[str, DocRecord],
          found: set[str]) -> list[str]:
    """The previous documents that discovery skipped (a file too large or unreadable, a
    broken link, a folder that cannot be listed) but that are not gone: kept as they
    were. A duplicate keeps nothing: its file is indexed under another name."""
    held: set[str] = set()
    for skip in skipped:
        if skip.kind == "file" and skip.source in previous:
            held.add(skip.source)
        elif skip.kind == "directory":
            held.update(s for s in previous if s.startswith(skip.source + "/"))
    return sorted(held - found)


def _emptying(why: str, previous: Mapping[str, DocRecord], index_dir: Path,
              advice: str) -> ConfigError:
    """The refusal of an ingest that would publish an empty version over ``previous``."""
    return ConfigError(f"{why}: this ingest would remove all {len(previous)} documents of "
                       f"index {index_dir}; {advice}")


def _names(paths: Sequence[Path]) -> str:
    return ", ".join(str(p) for p in paths)


def _reread(entry: FileEntry, report: IngestReport) -> VersionInfo | None:
    """Read a file's version statements again (parse only, no chunking or embedding)."""
    try:
        info = load_document(entry).version_info
    except InputFileError as exc:
        logger.warning("cannot read the version statements of %s: %s", entry.source, exc)
        return None
    report.metadata_reread += 1
    return info


def _access(rules: MetadataRules | None, source: str) -> tuple[str, ...]:
    override = rules.for_source(source) if rules is not None else None
    return override.access if override is not None else ()


def _resolve(
    infos: Mapping[str, VersionInfo | None], titles: Mapping[str, str],
    rules: MetadataRules | None, report: IngestReport,
) -> dict[str, Resolution]:
    """Each document's family and status over the whole new version (documents whose
    statements could not be read stay ``unknown``); problems go to ``report.warnings``."""
    facts = []
    for source, info in infos.items():
        if info is None:
            continue
        override = rules.for_source(source) if rules is not None else None
        if override is not None:
            info = override.apply(info)
        facts.append(DocFacts(source, info.title or titles[source], info))
    resolutions, problems = resolve_families(facts)
    report.warnings.extend(problems)
    if rules is not None:
        report.warnings.extend(f"metadata file: '{p}' matches no document"
                               for p in rules.unmatched(infos))
    return resolutions


def _changes(old: DocRecord, new: DocRecord) -> str:
    """``"status current -> superseded (by x.md), ..."`` for what changed between records."""
    parts = []
    for name in ("status", "effective_date", "family"):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            text = f"{name} {before or '-'} -> {after or '-'}"
            if name == "status" and new.superseded_by:
                text += f" (by {new.superseded_by})"
            parts.append(text)
    return ", ".join(parts)
