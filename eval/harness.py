"""Run every setup on every question, write results.jsonl, manifest.json and the reports.

``run_eval(config, out_dir)`` answers each question with each setup, one line per
(setup, question) appended to ``results.jsonl`` as soon as its batch is done, so an
interrupted run resumes: pairs already there are skipped (a truncated last line is
dropped and rewritten). Adapters are resolved before any model loads, and nothing heavy
loads when nothing is left to answer. Then it summarises (means with bootstrap
intervals, paired tests) and writes ``summary.json``, ``report.md`` and ``report.html``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from core.errors import AssistantError
from core.progress import Progress, bar
from eval.answer_metrics import (
    Comparison,
    Estimate,
    gold_index,
    question_metrics,
)
from eval.config import EvalConfig, SetupConfig
from eval.questions import EvalQuestion, load_questions
from eval.results import (
    MANIFEST,
    RESULTS,
    EvalError,
    load_results,
    rescore_answer,
    score_and_report,
    write_json,
)
from eval.setups import EvalSetup, Models, build_setups, open_searcher, resolve_adapters

if TYPE_CHECKING:
    from ingest.embedding import Embedder

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
RETRIEVAL_DEPTH = 10  # passages fetched for retrieval metrics (nDCG@10), at least k


@dataclass
class RunResult:
    """What a run wrote and found: paths, per-setup ``summary``, paired ``comparisons``."""

    out_dir: Path
    new_results: int
    summary: dict[str, dict[str, Estimate]]
    comparisons: list[Comparison]
    skipped_setups: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def report_html(self) -> Path:
        return self.out_dir / "report.html"

    @property
    def report_md(self) -> Path:
        return self.out_dir / "report.md"

    @property
    def results(self) -> Path:
        return self.out_dir / RESULTS


def run_eval(config: EvalConfig, out_dir: Path | str, *, limit: int | None = None,
             progress: Progress = False, command: str | None = None,
             embedder: Embedder | None = None,
             on_batch: Callable[[str, int, int], None] | None = None) -> RunResult:
    """Run (or resume) the eval ``config`` describes into ``out_dir``.

    ``limit`` (None: ``[run] limit``; 0: all) keeps the first N questions. ``progress``
    shows a bar; ``on_batch(setup, done, total)`` is told after each batch of answers
    (plain progress lines for logs). ``embedder``
    overrides ``[corpus] embedder`` (tests pass the one they have). Raises
    ``EvalConfigError``/``MissingAdapterError`` before any question runs, ``EvalError`` for
    an out dir of another config, and the library's errors for a model or index that
    cannot load.
    """
    clock = time.perf_counter()
    started = _now()
    out_dir = Path(out_dir)
    all_questions = load_questions(config.questions)
    limit = config.run.limit if limit is None else limit
    questions = all_questions[:limit] if limit else all_questions
    embedder, trained = _train_missing_adapters(config, out_dir, all_questions, embedder,
                                                progress)
    adapters, skipped = resolve_adapters(config)
    active = [s for s in config.setups if s.name not in skipped]
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = _start_manifest(config, out_dir, adapters, skipped)
    if trained:
        manifest.setdefault("trained_adapters", {}).update(trained)
        write_json(out_dir / MANIFEST, manifest)
    done = load_results(out_dir / RESULTS)
    todo = {s.name: [q for q in questions if (s.name, q.id) not in done] for s in active}
    total = sum(len(v) for v in todo.values())
    logger.info("%d questions x %d setups: %d to answer, %d already in %s", len(questions),
                len(active), total, len(questions) * len(active) - total, RESULTS)
    if total:
        manifest["base_models"] = _answer_all(config, out_dir, active, todo, all_questions,
                                              adapters, embedder, progress, total,
                                              on_batch)
    records = load_results(out_dir / RESULTS)
    finished = _now()
    manifest.setdefault("runs", []).append({
        "started_at": started, "finished_at": finished, "command": command, "limit": limit,
        "questions": len(questions), "new_results": total})
    manifest["finished_at"] = finished
    write_json(out_dir / MANIFEST, manifest)
    summary, comparisons = score_and_report(out_dir, config, active, skipped, records,
                                            [q.id for q in questions], manifest, command)
    return RunResult(out_dir, total, summary, comparisons, skipped, time.perf_counter() - clock)


def _train_missing_adapters(config: EvalConfig, out_dir: Path,
                            questions: Sequence[EvalQuestion], embedder: Embedder | None,
                            progress: Progress) -> tuple[Embedder | None, dict[str, dict]]:
    """Train the setups' adapters that the registry lacks and the config has a recipe for
    (``eval.recipes``), building the run's index first when a recipe retrieves from it.
    Returns the embedder (loaded if the index had to be built) and what was trained."""
    from core.settings import get_settings
    from eval.recipes import train_missing

    registry = config.registry or get_settings().adapters_dir
    index_dir = config.corpus.index or out_dir / "index"
    loaded = embedder

    def build_index() -> None:
        nonlocal loaded
        if loaded is None:
            from ingest.embedding import Embedder, EmbedderConfig

            loaded = Embedder(EmbedderConfig(model=config.corpus.embedder))
        open_searcher(config, questions, loaded, index_dir, progress=progress).close()

    trained = train_missing(config, registry, index_dir, build_index)
    return loaded, trained


def _answer_all(config: EvalConfig, out_dir: Path, active: Sequence[SetupConfig],
                todo: dict[str, list[EvalQuestion]], all_questions: Sequence[EvalQuestion],
                adapters: dict, embedder: Embedder | None, progress: Progress,
                total: int, on_batch: Callable[[str, int, int], None] | None) -> dict:
    """Build what the pending setups need, answer their questions, append the results."""
    import torch

    torch.manual_seed(config.run.seed)
    if embedder is None:
        from ingest.embedding import Embedder, EmbedderConfig

        embedder = Embedder(EmbedderConfig(model=config.corpus.embedder))
    pending = [s for s in active if todo[s.name]]
    searchers: dict = {}
    index_dir = config.corpus.index or out_dir / "index"
    for reranker in dict.fromkeys(s.reranker for s in pending if s.retrieval):
        searchers[reranker] = open_searcher(config, all_questions, embedder, index_dir,
                                            reranker, progress)
    models = Models(config.model.device, config.model.dtype)
    setups = build_setups(config, pending, adapters, models, embedder, searchers)
    path = out_dir / RESULTS
    try:
        with path.open("a", encoding="utf-8") as f, \
                tqdm(total=total, disable=not bar(progress), desc="eval",
                     unit="answer") as progress_bar:
            for setup in pending:
                progress_bar.set_postfix_str(setup.name)
                items = todo[setup.name]
                for i in range(0, len(items), config.run.batch_size):
                    batch = items[i: i + config.run.batch_size]
                    for record in _run_batch(setups[setup.name], batch):
                        f.write(json.dumps(record, ensure_ascii=False) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
                    progress_bar.update(len(batch))
                    if on_batch is not None:
                        on_batch(setup.name, min(i + len(batch), len(items)), len(items))
    finally:
        for searcher in searchers.values():
            searcher.close()
    return {base: {"model_id": loaded.model_id, "weights_hash": loaded.weights_hash,
                   "device": loaded.device, "dtype": loaded.dtype}
            for base, (loaded, _, _) in models.loaded.items()}


def _run_batch(setup: EvalSetup, batch: Sequence[EvalQuestion]) -> list[dict]:
    texts = [q.question for q in batch]
    histories = [q.history for q in batch]
    depth = max(setup.config.k, RETRIEVAL_DEPTH)
    try:
        outcomes = list(setup.answer_batch(texts, histories))
    except AssistantError:  # one bad question must not sink its batch: retry one by one
        outcomes = []
        for text, history in zip(texts, histories, strict=True):
            try:
                outcomes.append(setup.answer_batch([text], [history])[0])
            except AssistantError as exc:
                logger.warning("setup %s: %s", setup.name, exc)
                outcomes.append(exc)
    # a follow-up's retrieval is measured on the query the answerer searched with (the
    # question with what it refers to from the conversation)
    queries = [t.answer.query or q.question if q.history and not isinstance(t, Exception)
               else q.question for q, t in zip(batch, outcomes, strict=True)]
    retrieved = setup.retrieve(queries, depth)
    return [make_record(setup.config, q, t, r) for q, t, r in
            zip(batch, outcomes, retrieved, strict=True)]


def make_record(setup: SetupConfig, question: EvalQuestion, trace, retrieved) -> dict:
    """The results.jsonl line of one (setup, question): gold, answer record, raw output,
    per-sentence support, retrieved passages and metric values; ``error`` when answering
    failed (its answer then scores as empty, never as abstained)."""
    error = str(trace) if isinstance(trace, Exception) else None
    answer = None if error else trace.answer
    verification = None if error else trace.verification
    metrics = question_metrics(
        answer_text=answer.answer if answer else "", abstained=bool(answer and answer.abstained),
        gold_answer=question.answer, kind=question.kind, refs=question.sources,
        retrieval=setup.retrieval, retrieved=retrieved, k=setup.k,
        sentences=verification.sentences if verification else None,
        passages=answer.passages if answer else (),
        latency_s=answer.timings.get("total") if answer else None,
        completion_tokens=answer.usage.get("completion_tokens") if answer else None)
    record = {
        "setup": setup.name,
        "question_id": question.id,
        "question": question.question,
        **({"history": question.history_json()} if question.history else {}),
        "gold": question.gold_json(),
        "setup_config": {"retrieval": setup.retrieval, "adapter": setup.adapter,
                         "k": setup.k, "mode": setup.mode, "base": setup.base,
                         **({"selector": setup.selector} if setup.selector else {}),
                         **({"judge": setup.judge, "judge_min_p": setup.judge_min_p}
                            if setup.judge else {})},
        "answer": answer.to_json() if answer else None,
        "raw": None if error else trace.raw,
        "verification": verification.to_json() if verification else None,
        "retrieved": [
            {"chunk_id": p.chunk_id, "source": p.source, "page_index": p.page_index,
             "heading": p.heading_path, "score": round(float(p.score), 6),
             "gold": gold_index(p, question.sources) is not None} for p in retrieved],
        "metrics": metrics,
        "error": error,
    }
    rescore_answer(record)  # the outcome metrics, computed as a re-render computes them
    return record


# -- manifest -------------------------------------------------------------------------------


def _start_manifest(config: EvalConfig, out_dir: Path, adapters: dict,
                    skipped: dict[str, str]) -> dict:
    path = out_dir / MANIFEST
    old = json.loads(path.read_text()) if path.is_file() else None
    if old is not None and old.get("config_hash") != config.hash:
        raise EvalError(f"{out_dir} holds a run of another config (hash {old.get('config_hash')},"
                        f" this one {config.hash}); use a fresh --out directory")
    manifest = old or {"format_version": FORMAT_VERSION, "started_at": _now()}
    manifest.update({
        "config_path": str(config.path), "config": config.raw, "config_hash": config.hash,
        "code_version": code_version(), "machine": machine_info(config.model.device),
        "base_model": config.model.base,
        "adapters": {name: a.to_json() if a else None for name, a in adapters.items()},
        "skipped_setups": skipped,
    })
    write_json(path, manifest)
    return manifest


def code_version() -> dict:
    """The git commit of this checkout (and whether it has local changes), when known."""
    root = Path(__file__).resolve().parents[1]
    out: dict = {}
    try:
        from importlib.metadata import version

        out["package"] = version("acme-assistant")
    except Exception:  # noqa: BLE001 - not installed as a package
        out["package"] = None
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=root, capture_output=True, text=True, timeout=10).stdout
        out.update(commit=head, dirty=bool(status.strip()))
    except (OSError, subprocess.SubprocessError):
        out.update(commit=None, dirty=None)
    return out


def machine_info(device: str = "auto") -> dict:
    """Platform, Python, CPU count and the torch device the run uses."""
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "hostname": platform.node()}
    try:
        import torch

        from core.devices import resolve_device

        info["torch"] = torch.__version__
        info["torch_device"] = resolve_device(device)
        if info["torch_device"].startswith("cuda"):
            info["gpu"] = torch.cuda.get_device_name(0)
    except (ImportError, AssistantError) as exc:
        info["torch_device"] = f"unknown ({exc})"
    return info


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
