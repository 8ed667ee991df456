"""The ``assistant`` command line: ingest, search, index info, eval.

Library errors become one-line messages and exit codes: 0 success, 1 failure,
2 usage error (bad flag, bad value, missing path or index, a model or adapter given that
cannot be found: ``ConfigError`` and ``IndexNotFoundError``, and what ``cli.usage``
checks), 3 ingest finished but skipped some files (the rest is indexed and served).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from assistant.cli.usage import check_args, not_found
from core.errors import AssistantError, ConfigError, IndexNotFoundError
from core.progress import for_stderr

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def _progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def cmd_ingest(args: argparse.Namespace) -> int:
    from index.build import IngestConfig, ingest
    from index.vectors import VectorIndexConfig
    from ingest.chunking import ChunkerConfig
    from ingest.discover import DiscoverConfig
    from ingest.embedding import EmbedderConfig

    config = IngestConfig(
        embedder=EmbedderConfig(model=args.embedder, batch_size=args.batch_size),
        chunker=ChunkerConfig(chunk_tokens=args.chunk_tokens, overlap_tokens=args.overlap_tokens),
        discover=DiscoverConfig(max_file_bytes=int(args.max_file_mb * 2**20)),
        vectors=(
            VectorIndexConfig(kind=args.vector_index or "flat", device=args.device)
            if args.vector_index or args.device != "auto"
            else None
        ),
        engine=args.engine,
        lock_timeout=args.wait,
        ray_address=args.ray_address,
        metadata=Path(args.metadata) if args.metadata else None,
    )
    report = ingest([Path(p) for p in args.paths], Path(args.index), config,
                    for_stderr(getattr(args, "quiet", False), "ingest"))
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(
            f"index {args.index} -> version {report.version}"
            f"{'' if report.published else ' (nothing changed: not published again)'}: "
            f"{len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.removed)} removed, {len(report.unchanged)} unchanged, "
            f"{len(report.skipped)} skipped; {report.chunks_embedded} chunks embedded, "
            f"{report.chunks_total} in index"
        )
        for label, names in (("added", report.added), ("updated", report.updated),
                             ("removed", report.removed)):
            for name in names:
                print(f"  {label:8} {name}")
        for skip in report.skipped:
            print(f"  skipped  {skip.source}: {skip.reason}")
        for line in report.status_changed:
            print(f"  status   {line}")
        for line in report.warnings:
            print(f"  warning  {line}")
    return report.exit_code


def cmd_search(args: argparse.Namespace) -> int:
    from index.searcher import Searcher

    searcher = Searcher(Path(args.index), versions=args.versions)
    sources = args.source or None
    passages = searcher.search(args.query, k=args.k, mode=args.mode, sources=sources)
    if args.json:
        print(json.dumps({"results": [p.to_json() for p in passages]}, indent=2))
        return EXIT_OK
    if not passages:
        print("no results")
    for rank, p in enumerate(passages, 1):
        where = p.source
        if p.page_index is not None:
            where += f" p.{p.page_index}"
            if p.page_label and p.page_label != str(p.page_index):
                where += f" (label {p.page_label})"
        if p.heading:
            where += f" \u00a7 {p.heading_path}"
        if p.status in ("superseded", "archived"):
            where += f" [{p.status}]"
        text = " ".join(p.text.split())
        print(f"{rank}. [{p.score:.4f}] {where}\n   {text[:300]}{'...' if len(text) > 300 else ''}")
    return EXIT_OK


def cmd_index_info(args: argparse.Namespace) -> int:
    from index.searcher import Searcher

    info = Searcher(Path(args.index)).info()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        for key, value in info.items():
            shown = json.dumps(value, default=str) if isinstance(value, dict | list) else value
            print(f"{key}: {shown}")
    return EXIT_OK


def cmd_index_docs(args: argparse.Namespace) -> int:
    from index.searcher import Searcher

    docs = Searcher(Path(args.index)).documents()
    if args.json:
        print(json.dumps({"documents": [d.to_json() for d in docs]}, indent=2))
        return EXIT_OK
    head = ("source", "status", "effective", "version", "family", "title")
    rows = [(d.source, d.status, d.effective_date or "-", d.known_version or "-",
             d.family or "-", d.title) for d in docs]
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(5)]
    for row in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5])
    return EXIT_OK


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    from eval.retrieval import evaluate_beir, format_table

    results = evaluate_beir(
        Path(args.beir),
        index_dir=Path(args.index) if args.index else None,
        modes=tuple(args.modes.split(",")),
        progress=for_stderr(getattr(args, "quiet", False), "eval retrieval"),
    )
    print(json.dumps(results, indent=2) if args.json else format_table(results))
    return EXIT_OK


def _megabytes(text: str) -> float:
    """``--max-file-mb``: a finite number above 0 (argparse reports anything else)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of megabytes above 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant", description="Retrieval-augmented assistant over your own documents."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars, nor libraries' deprecation warnings")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="parse, chunk, embed and index files (incremental)")
    p.add_argument("paths", nargs="+", help="files or directories to index")
    p.add_argument("--index", required=True, help="index directory (created if new)")
    p.add_argument("--engine", choices=["local", "ray"], default="local")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: local)")
    p.add_argument("--embedder", default="all-MiniLM-L6-v2",
                   help="bundled name, sentence-transformers directory, or hub id")
    p.add_argument("--batch-size", type=int, default=32, help="embedding batch size")
    p.add_argument("--chunk-tokens", type=int, default=192, help="chunk size in embedder tokens")
    p.add_argument("--overlap-tokens", type=int, default=32, help="overlap in embedder tokens")
    p.add_argument("--max-file-mb", type=_megabytes, default=50.0,
                   help="skip files larger than this")
    p.add_argument("--vector-index", choices=["flat", "hnsw", "ivf"], default=None,
                   help="vector index kind (default: keep the index's, flat for a new one)")
    p.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto",
                   help="FAISS device; gpu without a GPU is an error")
    p.add_argument("--wait", type=float, default=0.0,
                   help="seconds to wait if another ingest holds the index (default: fail)")
    p.add_argument("--metadata", default=None, metavar="FILE",
                   help="TOML/JSON per-path overrides of title, family, status, effective date, "
                        "access tags (default: the index's last ones)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="search an index")
    p.add_argument("query")
    p.add_argument("--index", required=True)
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--mode", choices=["bm25", "dense", "hybrid"], default="hybrid")
    p.add_argument("--source", action="append", help="only these sources (glob); repeatable")
    p.add_argument("--versions", choices=["prefer", "only-current", "off"], default="prefer",
                   help="superseded/archived documents: rank below current (default), "
                        "leave out, or ignore status")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("index", help="inspect an index")
    isub = p.add_subparsers(dest="index_command", required=True)
    q = isub.add_parser("info", help="version, embedder, counts, size")
    q.add_argument("--index", required=True)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_index_info)
    q = isub.add_parser("docs", help="documents: title, family, status, effective date, version")
    q.add_argument("--index", required=True)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_index_docs)

    p = sub.add_parser("eval", help="benchmarks and evaluation")
    esub = p.add_subparsers(dest="eval_command", required=True)
    q = esub.add_parser("retrieval", help="BEIR retrieval benchmark: nDCG@10, Recall@100")
    q.add_argument("--beir", required=True, help="BEIR dataset dir (corpus.jsonl, queries, qrels)")
    q.add_argument("--index", default=None, help="where to keep the benchmark index for reuse")
    q.add_argument("--modes", default="bm25,dense,hybrid")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_eval_retrieval)
    from eval.cli import add_run_parser

    add_run_parser(esub)

    from assistant.cli import finetune as cli_finetune
    from assistant.cli import keys as cli_keys
    from assistant.cli import serve as cli_serve

    cli_serve.add_parsers(sub)
    cli_keys.add_parsers(sub)
    cli_finetune.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not _progress(args):
        _quiet_libraries()
    if getattr(args, "quiet", False):  # libraries' deprecation notices are not for users
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        check_args(args)  # paths, patterns and names typed that cannot be right
        code = func(args)
        sys.stdout.flush()  # a reader that left fails here, not at exit
        return code
    except (ConfigError, IndexNotFoundError) as exc:
        print(f"assistant: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AssistantError as exc:
        usage = not_found(args, exc)  # a model given that cannot be found
        print(f"assistant: error: {usage or exc}", file=sys.stderr)
        return EXIT_FAIL if usage is None else EXIT_USAGE
    except KeyboardInterrupt:
        print("assistant: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output left (`assistant index docs | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return EXIT_FAIL


def _quiet_libraries() -> None:
    """Silence third-party progress bars when ours are off (non-TTY or --quiet):
    transformers' and the hub's."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # transformers is a hard dependency; be safe in odd installs
        pass
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:
        pass


if __name__ == "__main__":
    sys.exit(main())
