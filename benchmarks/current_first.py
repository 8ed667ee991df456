"""Does search put the document in force first? The acme conflict questions, dev split.

Each ``conflict`` question of ``examples/acme/eval_questions.jsonl`` cites the current
document and the older one it contradicts (``"role": "stale"``). This script indexes the
acme documents once (bundled embedder; the index is reused on later runs), searches each
dev question (hybrid, k=5) under every version policy the code on the path supports, and
prints per policy:

- ``top-1 current``: the top passage comes from the current document;
- ``current first``: of the passages from the current and the stale document in the top
  5, the first is from the current one (a question with neither counts as a miss);
- ``top-1 stale`` and ``stale in top 5``: how often the older document leads or shows;
- ``top-1 states current``: the top passage's text holds the question's current answer
  (or an alias, ``eval.answer_metrics.holds``) and not its ``stale_answer``, whichever
  document it is from: another current document may state the same fact (the business
  admin guide and the security whitepaper both require two-step verification for
  Owners and Admins). A passage that holds the answer string for another reason counts
  too, so read it beside ``top-1 current``, not instead of it.

It runs on older code too (no version policies: one row), which is how the "before"
figure is made::

    git worktree add /tmp/cf-before HEAD
    (cd /tmp && PYTHONPATH=/tmp/cf-before /path/to/repo/.venv/bin/python \\
        /path/to/repo/benchmarks/current_first.py)
    git worktree remove --force /tmp/cf-before
    .venv/bin/python -m benchmarks.current_first          # after

Flags: ``--index DIR`` (default ``/tmp/current-first-index`` plus ``-before`` for code
without policies), ``--split dev|test|all``, ``-k``, ``--mode``, ``--details``,
``--no-ingest`` (search ``--index`` as it is: an index of the whole PostgreSQL manual,
for instance, which the default run would otherwise cut down to the benchmark's pages).

``--corpus postgresql`` runs the same measure on the PostgreSQL 15 release notes
(``examples/postgresql/questions.jsonl``, pages from ``../shared/data/postgresql-15-docs``):
an index of the 21 ``release-15*.html`` pages plus ``release.html``, ``release-prior.html``
and seven manual pages the release questions touch (default ``/tmp/pg-release-index``).
Two groups are scored: the questions with a ``stale_answer`` (a later release changed
what an earlier one said; the stale page is marked ``"role": "stale"``) and every
``release`` question (the gold page is "current", whether it is the newest release or the
one the question names).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ACME = REPO / "examples" / "acme"
POSTGRESQL = REPO / "examples" / "postgresql"
PG_HTML = next((p / "postgresql-15-docs" / "html" for p in
                (REPO.parent / "shared" / "data", Path("/work/shared/data"))
                if (p / "postgresql-15-docs" / "html").is_dir()),
               REPO.parent / "shared" / "data" / "postgresql-15-docs" / "html")
# Manual pages beside the release notes, so the release questions have distractors that
# talk about the same functions and settings.
PG_OTHER_PAGES = ("release.html", "release-prior.html", "runtime-config-resource.html",
                  "functions-string.html", "functions-matching.html", "libpq-exec.html",
                  "pgcrypto.html", "datatype-datetime.html")


def load_questions(split: str) -> list[dict]:
    """Conflict questions of ``split`` with their current and stale source files."""
    out = []
    for line in (ACME / "eval_questions.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        if q["type"] != "conflict" or (split != "all" and q["split"] != split):
            continue
        current = {s["file"] for s in q["sources"] if s.get("role") != "stale"}
        stale = {s["file"] for s in q["sources"] if s.get("role") == "stale"}
        out.append({"id": q["id"], "question": q["question"], "current": current,
                    "stale": stale, **_answers(q)})
    return out


def _answers(q: dict) -> dict:
    """The answer strings a passage may state (a bare "yes"/"no" alias is a verdict, not
    something a passage states) and the stale one."""
    return {"answers": [a for a in (q.get("answer"), *q.get("aliases", ()))
                        if a and a.strip().casefold() not in ("yes", "no")],
            "stale_answer": q.get("stale_answer")}


def load_pg_questions(split: str, group: str, path: Path | None = None) -> list[dict]:
    """PostgreSQL ``release`` questions of ``split`` in ``path`` (default: the measured
    questions): those with a ``stale_answer`` (``group="stale"``) or all of them
    (``"release"``), with current and stale pages."""
    out = []
    path = path or POSTGRESQL / "questions.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        if q.get("type") != "release" or (split != "all" and q["split"] != split):
            continue
        if group == "stale" and not q.get("stale_answer"):
            continue
        out.append({"id": q["id"], "question": q["question"],
                    "current": {s["file"] for s in q["sources"] if s.get("role") != "stale"},
                    "stale": {s["file"] for s in q["sources"] if s.get("role") == "stale"},
                    **_answers(q)})
    return out


def pg_pages() -> list[Path]:
    """The PostgreSQL pages the ``--corpus postgresql`` index holds."""
    pages = sorted(PG_HTML.glob("release-15*.html")) + [PG_HTML / n for n in PG_OTHER_PAGES]
    missing = [str(p) for p in pages if not p.is_file()]
    if not pages or missing:
        raise SystemExit(f"PostgreSQL pages not found under {PG_HTML}: {missing or 'none'}")
    return pages


def score(questions: list[dict], results: list[list]) -> dict[str, float]:
    """The five shares (see the module doc) over ``questions`` and their ranked passages."""
    from eval.answer_metrics import holds

    counts = {"top-1 current": 0, "current first": 0, "top-1 stale": 0, "stale in top 5": 0,
              "top-1 states current": 0}
    for q, passages in zip(questions, results, strict=True):
        if passages and any(holds(passages[0].text, a) for a in q["answers"]) and not (
                q["stale_answer"] and holds(passages[0].text, q["stale_answer"])):
            counts["top-1 states current"] += 1
        ranked = [p.source for p in passages]
        if ranked and ranked[0] in q["current"]:
            counts["top-1 current"] += 1
        if ranked and ranked[0] in q["stale"]:
            counts["top-1 stale"] += 1
        either = [s for s in ranked if s in q["current"] or s in q["stale"]]
        if either and either[0] in q["current"]:
            counts["current first"] += 1
        if any(s in q["stale"] for s in ranked):
            counts["stale in top 5"] += 1
    return {name: n / max(len(questions), 1) for name, n in counts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=["acme", "postgresql"], default="acme")
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--split", choices=["dev", "test", "all"], default="dev")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--mode", choices=["bm25", "dense", "hybrid"], default="hybrid")
    parser.add_argument("--details", action="store_true", help="print each question's top 5")
    parser.add_argument("--questions", type=Path, default=None,
                        help="with --corpus postgresql: the release questions of this "
                             "JSONL file instead of examples/postgresql/questions.jsonl "
                             "(the training or fresh dev questions, say)")
    parser.add_argument("--no-ingest", action="store_true",
                        help="search --index as it is (it must hold the pages); without it "
                             "the index is made to mirror the benchmark's documents")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import index.searcher as searcher_module
    from index.build import ingest
    from ingest.embedding import Embedder

    Searcher = searcher_module.Searcher
    has_policies = "versions" in inspect.signature(Searcher.search).parameters
    code = Path(searcher_module.__file__).resolve().parents[1]
    pg = args.corpus == "postgresql"
    default = "/tmp/pg-release-index" if pg else "/tmp/current-first-index"
    index_dir = args.index or Path(default + ("" if has_policies else "-before"))
    print(f"code: {code} ({'version policies' if has_policies else 'no version policies'})")
    embedder = Embedder()
    if args.no_ingest:  # e.g. an index of the whole manual, searched as it is
        print(f"index: {index_dir} (as it is, not re-ingested)")
    else:
        report = ingest(pg_pages() if pg else [ACME / "docs"], index_dir, progress=False,
                        embedder=embedder)
        print(f"index: {index_dir} ({report.version}, {report.chunks_total} chunks, "
              f"{report.chunks_embedded} embedded this run)")
    if pg:
        groups = [("release questions with a stale_answer", load_pg_questions(
                      args.split, "stale", args.questions)),
                  ("release questions", load_pg_questions(args.split, "release",
                                                          args.questions))]
    else:
        groups = [("conflict questions", load_questions(args.split))]
    searcher = Searcher(index_dir, embedder=embedder)
    policies = ["off", "prefer", "only-current"] if has_policies else [None]
    for title, questions in groups:
        texts = [q["question"] for q in questions]
        rows = []
        for policy in policies:
            kw = {"versions": policy} if policy else {}
            results = searcher.search_batch(texts, k=args.k, mode=args.mode, **kw)
            rows.append((policy or "(no policy: code before versions)",
                         score(questions, results)))
            if args.details:
                for q, passages in zip(questions, results, strict=True):
                    marks = "".join("C" if p.source in q["current"] else
                                    "S" if p.source in q["stale"] else "." for p in passages)
                    states = "states" if score([q], [passages])["top-1 states current"] \
                        else "      "
                    print(f"  {policy or '-':13} {q['id']} {marks:6} {states} "
                          f"{', '.join(p.source.rsplit('/', 1)[-1] for p in passages)}")

        names = list(rows[0][1])
        print(f"\n{len(questions)} {args.split} {title}, {args.mode}, k={args.k}\n")
        print("| policy | " + " | ".join(names) + " |")
        print("| --- |" + " --- |" * len(names))
        for policy, shares in rows:
            print(f"| {policy} | " + " | ".join(f"{shares[n]:.2f}" for n in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
