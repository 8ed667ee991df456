"""Serving overhead and load: the HTTP server against bare ``model.generate``.

Builds (or opens) an index of the example corpus, loads the model the way ``assistant
serve`` does, and starts the real server on 127.0.0.1 (a free port). Then, with the same
grounded prompt:

1. bare generation: tokens/s of ``generation.generate`` on the prompt the answerer built;
2. served: tokens/s and latency of ``POST /v1/answer``, and time to first token of
   ``POST /v1/chat`` (SSE);
3. load: a bounded number of ``/v1/answer`` requests (distinct questions from
   ``examples/acme/qa.jsonl``) from 1, then 8 concurrent clients: requests/s, p50/p95
   latency, errors, and the mean batch size the batching layer formed.

All traffic stays on loopback; every loop is bounded by ``--requests``.

    .venv/bin/python benchmarks/serve_load.py --requests 16 --max-new-tokens 32
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "examples" / "acme" / "docs"
QA = ROOT / "examples" / "acme" / "qa.jsonl"
REPEATS = 3  # single timings: the median of three (shared CPUs are noisy)


def questions(n: int) -> list[str]:
    rows = [json.loads(line) for line in QA.read_text().splitlines() if line.strip()]
    answerable = [r["question"] for r in rows if r.get("answer")]
    return [answerable[i % len(answerable)] for i in range(n)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Server:
    def __init__(self, app) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def bare(services, question: str, max_new: int) -> dict:
    """Tokens/s of plain generation on the answerer's own prompt for ``question``."""
    from assistant.answering.answer import AnswerOptions, RagAnswerer
    from assistant.answering.citations import CitationVerifier
    from assistant.answering.generation import GenerationConfig, generate

    answerer = RagAnswerer(services.searcher, services.generator,
                           CitationVerifier(services.embedder))
    trace = answerer.answer_with_trace(question, (), AnswerOptions(max_new_tokens=max_new))
    if not trace.messages:
        raise SystemExit(f"the answerer abstained before generating for {question!r}")
    config = GenerationConfig(max_new_tokens=max_new)

    def timed() -> tuple[float, object]:
        clock = time.perf_counter()
        out = generate(services.adapters, list(trace.messages), config)
        return time.perf_counter() - clock, out

    # In a worker thread, as the server generates: on an oversubscribed CPU, torch's
    # OpenMP threads in the main thread measured several times slower here.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(timed).result()  # warm-up
        runs = [pool.submit(timed).result() for _ in range(REPEATS)]
    seconds, out = sorted(runs, key=lambda run: run[0])[REPEATS // 2]
    return {"tokens": out.completion_tokens, "seconds": seconds,
            "tokens_per_s": out.completion_tokens / seconds,
            "prompt_tokens": out.prompt_tokens}


def served(url: str, question: str, max_new: int) -> dict:
    body = {"question": question, "max_new_tokens": max_new}
    with httpx.Client(base_url=url, timeout=600) as http:
        http.post("/v1/answer", json=body).raise_for_status()  # warm-up
        times = []
        for _ in range(REPEATS):
            clock = time.perf_counter()
            record = http.post("/v1/answer", json=body).json()
            times.append(time.perf_counter() - clock)
        seconds = sorted(times)[REPEATS // 2]
        tokens = record["usage"].get("completion_tokens", 0)
        clock, first = time.perf_counter(), None
        with http.stream("POST", "/v1/chat", json={
                "messages": [{"role": "user", "content": question}],
                "max_new_tokens": max_new}) as r:
            for line in r.iter_lines():
                if line.startswith("event: token") and first is None:
                    first = time.perf_counter() - clock
        total = time.perf_counter() - clock
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds,
            "ttft_s": first, "stream_total_s": total}


def load(url: str, qs: list[str], clients: int, max_new: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    metrics_before = _batch_stats(url)

    def one(question: str) -> None:
        clock = time.perf_counter()
        try:
            r = httpx.post(f"{url}/v1/answer", timeout=600,
                           json={"question": question, "max_new_tokens": max_new})
            ok = r.status_code == 200
            reason = f"{r.status_code}: {r.text[:120]}"
        except httpx.HTTPError as exc:
            ok, reason = False, f"{type(exc).__name__}: {exc}"
        with lock:
            (latencies.append(time.perf_counter() - clock) if ok else errors.append(reason))

    clock = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, qs))
    wall = time.perf_counter() - clock
    after = _batch_stats(url)
    batches = after[1] - metrics_before[1]
    return {
        "clients": clients, "requests": len(qs), "errors": len(errors),
        "error_samples": errors[:3], "wall_s": wall, "requests_per_s": len(latencies) / wall,
        "p50_s": percentile(latencies, 0.5) if latencies else None,
        "p95_s": percentile(latencies, 0.95) if latencies else None,
        "mean_batch": (after[0] - metrics_before[0]) / batches if batches else None,
    }


def _batch_stats(url: str) -> tuple[float, float]:
    text = httpx.get(f"{url}/metrics").text
    values = {}
    for line in text.splitlines():
        if line.startswith(("assistant_batch_size_sum", "assistant_batch_size_count")):
            name, value = line.split()
            values[name] = float(value)
    return (values.get("assistant_batch_size_sum", 0.0),
            values.get("assistant_batch_size_count", 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=None,
                        help="index to serve (default: build examples/acme/docs into a temp dir)")
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--requests", type=int, default=16, help="requests per load level")
    parser.add_argument("--clients", default="1,8", help="concurrency levels, comma-separated")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from assistant.server import build_services, create_app
    from core.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        index = args.index
        if index is None:
            from index.build import ingest

            index = Path(tmp) / "index"
            ingest([DOCS], index, progress=False)
        levels = [int(c) for c in args.clients.split(",")]
        settings = Settings(server_index=index, server_model=args.model,
                            server_device=args.device, server_max_new_tokens=args.max_new_tokens,
                            server_max_concurrent=max(levels) + 1,
                            server_max_batch=max(levels), server_timeout_s=600,
                            server_feedback_db=Path(tmp) / "feedback.sqlite3")
        services = build_services(settings)
        qs = questions(max(args.requests, 1))
        report = {"model": services.model_id, "device": services.adapters.loaded.device,
                  "max_new_tokens": args.max_new_tokens,
                  "bare": bare(services, qs[0], args.max_new_tokens)}
        server = Server(create_app(settings, services))
        try:
            report["served"] = served(server.url, qs[0], args.max_new_tokens)
            report["load"] = [load(server.url, qs, c, args.max_new_tokens) for c in levels]
        finally:
            server.stop()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    b, s = report["bare"], report["served"]
    print(f"model {report['model']} on {report['device']}, {args.max_new_tokens} new tokens max")
    print(f"bare generate: {b['tokens']} tokens in {b['seconds']:.2f} s = "
          f"{b['tokens_per_s']:.1f} tok/s (prompt {b['prompt_tokens']} tokens)")
    print(f"served /v1/answer: {s['tokens']} tokens in {s['seconds']:.2f} s = "
          f"{s['tokens_per_s']:.1f} tok/s end to end; /v1/chat first token after "
          f"{s['ttft_s'] if s['ttft_s'] is None else round(s['ttft_s'], 3)} s")
    print(f"{'clients':>7} {'reqs':>5} {'errors':>6} {'req/s':>7} {'p50 s':>7} {'p95 s':>7} "
          f"{'batch':>6}")
    for row in report["load"]:
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        print(f"{row['clients']:>7} {row['requests']:>5} {row['errors']:>6} "
              f"{row['requests_per_s']:>7.2f} {fmt(row['p50_s']):>7} {fmt(row['p95_s']):>7} "
              f"{fmt(row['mean_batch']):>6}")
        for sample in row["error_samples"]:
            print(f"          error: {sample}")


if __name__ == "__main__":
    main()
