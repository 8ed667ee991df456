"""Section headings on chunks: how many chunks carry a heading path, whether it is the one
the gold questions cite, and whether chunk text is free of layout whitespace.

Parses and chunks (no embedding) the acme PDFs and HTML pages, the Federal Register PDF
and, unless ``--no-pg``, the whole PostgreSQL 15 manual, with the pipeline's chunker and
the bundled embedder's tokenizer. Prints, per corpus: chunks, the share with a non-empty
heading, the share whose heading ends in something that is not a section title (an
admonition title such as "Note", a table caption), and the share of chunks with a run of
spaces inside a line outside code. Then, for each gold source that names a heading
(acme ``qa.jsonl`` + ``eval_questions.jsonl``, ``examples/postgresql/questions.jsonl``):
whether a chunk of that file (and page, for PDFs) that holds the answer carries that
heading in its path. ``--spot N`` prints N random chunks of the manual and of the
Federal Register PDF for checking by hand.

    .venv/bin/python -m benchmarks.headings [--no-pg] [--spot 20]

To measure another checkout's parsers, run this file by path with that checkout first on
``PYTHONPATH`` (the script prints which ``ingest`` package it used).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections.abc import Iterable
from pathlib import Path

import ingest
from ingest.chunking import Chunker, ChunkerConfig
from ingest.discover import FileEntry
from ingest.embedding import Embedder
from ingest.loaders import load_document
from ingest.records import Chunk

REPO = Path(__file__).resolve().parents[1]
SHARED = next((p for p in (REPO.parent / "shared" / "data", Path("/work/shared/data"))
               if p.is_dir()), REPO.parent / "shared" / "data")
ACME = REPO / "examples" / "acme"
FEDERAL_REGISTER = SHARED / "pdfs" / "federal-register-2020-17221.pdf"
MANUAL = SHARED / "postgresql-15-docs" / "html"
# Admonition titles (or the first words of one) and table/example captions.
_NOT_SECTION = re.compile(r"^(?:(?:note|tip|warning|caution|important)\b|(?:table|example) \S)",
                          re.IGNORECASE)
_LAYOUT_SPACES = re.compile(r"\S {2,}\S")


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def chunk_files(paths: Iterable[Path], root: Path, chunker: Chunker) -> dict[str, list[Chunk]]:
    """source (relative to root) -> its chunks; files that fail are reported and skipped."""
    out: dict[str, list[Chunk]] = {}
    for path in paths:
        source = path.relative_to(root).as_posix()
        try:
            doc = load_document(FileEntry(path, source, path.stat().st_size, 0.0))
        except Exception as exc:  # a benchmark reports and goes on
            print(f"  skipped {source}: {exc}")
            continue
        out[source] = chunker.chunk(doc)
    return out


def shares(name: str, chunks: dict[str, list[Chunk]]) -> None:
    flat = [c for cs in chunks.values() for c in cs]
    if not flat:
        print(f"{name}: no chunks")
        return
    headed = sum(1 for c in flat if c.heading)
    odd = sum(1 for c in flat if c.heading and _NOT_SECTION.match(c.heading[-1].strip()))
    spaces = sum(1 for c in flat if _has_layout_spaces(c.text))
    print(f"{name}: {len(chunks)} files, {len(flat)} chunks; with a heading "
          f"{headed / len(flat):.3f} ({headed}); heading not a section title "
          f"{odd / len(flat):.3f} ({odd}); runs of spaces in prose {spaces / len(flat):.3f} "
          f"({spaces})")


def _has_layout_spaces(text: str) -> bool:
    # Code keeps its indentation: only lines that do not start with a space count.
    return any(_LAYOUT_SPACES.search(line) for line in text.split("\n")
               if line and not line.startswith(" "))


def gold_agreement(name: str, rows: Iterable[dict], chunks: dict[str, list[Chunk]]) -> None:
    """Share of gold sources whose answer-holding chunk carries the cited heading."""
    hits = total = no_chunk = 0
    misses: list[str] = []
    for row in rows:
        if not row.get("answer"):
            continue
        for src in row["sources"]:
            if src.get("role") or not src.get("heading") or src["file"] not in chunks:
                continue
            page = src.get("page")
            answer = norm(row["answer"])
            holding = [c for c in chunks[src["file"]]
                       if answer in norm(c.text) and (page is None or c.page_index == page)]
            if not holding:
                no_chunk += 1
                continue
            total += 1
            want = norm(src["heading"])
            if any(want in {norm(h) for h in c.heading} for c in holding):
                hits += 1
            else:
                misses.append(f"{row['id']} {src['file']} p{page} want {src['heading']!r} "
                              f"got {[c.heading_path for c in holding][:2]}")
    if total:
        print(f"{name}: cited heading on the answer's chunk {hits}/{total} = {hits / total:.3f}"
              f" ({no_chunk} answers split across chunks, not counted)")
    for miss in misses[:8]:
        print(f"    miss {miss}")


def read_jsonl(path: Path) -> list[dict]:
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def spot(name: str, chunks: dict[str, list[Chunk]], n: int, rng: random.Random) -> None:
    flat = [c for cs in chunks.values() for c in cs]
    print(f"\nspot check, {name}: {n} random chunks")
    for c in rng.sample(flat, min(n, len(flat))):
        where = f"{c.source}" + (f" p{c.page_index}" if c.page_index else "")
        text = " ".join(c.text.split())[:110]
        print(f"  {where} | {c.heading_path or '(none)'} | {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL manual")
    parser.add_argument("--spot", type=int, default=0, help="random chunks to print")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    print(f"ingest package: {Path(ingest.__file__).parent}")
    chunker = Chunker(ChunkerConfig(), Embedder().count_tokens)
    rng = random.Random(args.seed)

    docs = ACME / "docs"
    acme_pdf = chunk_files(sorted(docs.rglob("*.pdf")), docs, chunker)
    acme_html = chunk_files(sorted(docs.rglob("*.html")), docs, chunker)
    shares("acme PDFs", acme_pdf)
    shares("acme HTML", acme_html)
    acme_rows = read_jsonl(ACME / "qa.jsonl") + read_jsonl(ACME / "eval_questions.jsonl")
    gold_agreement("acme PDF gold sources", acme_rows, acme_pdf)
    gold_agreement("acme HTML gold sources", acme_rows, acme_html)

    if FEDERAL_REGISTER.is_file():
        fr = chunk_files([FEDERAL_REGISTER], FEDERAL_REGISTER.parent, chunker)
        shares("Federal Register PDF", fr)
        if args.spot:
            spot("Federal Register PDF", fr, max(1, args.spot // 4), rng)
    if not args.no_pg and MANUAL.is_dir():
        start = time.perf_counter()
        pg = chunk_files(sorted(MANUAL.glob("*.html")), MANUAL, chunker)
        print(f"PostgreSQL manual parsed and chunked in {time.perf_counter() - start:.0f} s")
        shares("PostgreSQL manual", pg)
        gold_agreement("PostgreSQL gold sources",
                       read_jsonl(REPO / "examples" / "postgresql" / "questions.jsonl"), pg)
        if args.spot:
            spot("PostgreSQL manual", pg, args.spot, rng)


if __name__ == "__main__":
    main()
