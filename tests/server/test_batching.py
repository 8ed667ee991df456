"""The batching layer alone, around a recording fake generator."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.server.batching import BatchingGenerator, deadline


class Recorder:
    """Generator protocol: answers each prompt with its upper-cased text; records batches."""

    def __init__(self, delay: float = 0.0, fail_on: str | None = None) -> None:
        self.batches: list[tuple[list, object, str | None]] = []
        self.delay, self.fail_on = delay, fail_on
        self.lock = threading.Lock()

    def generate_many(self, prompts, config, adapter):
        with self.lock:
            self.batches.append((list(prompts), config, adapter))
        time.sleep(self.delay)
        if self.fail_on is not None and self.fail_on in prompts:
            raise ValueError(f"bad prompt {self.fail_on!r}")
        return [p.upper() for p in prompts]

    def stream(self, prompt, config, adapter):
        yield from prompt.upper()


def _concurrently(generator, calls):
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(generator.generate, *call) for call in calls]
        return [f.result(timeout=10) for f in futures]


def test_concurrent_calls_with_the_same_key_share_one_batch():
    inner = Recorder()
    gen = BatchingGenerator(inner, window_s=0.2, max_batch=8)
    try:
        prompts = [f"p{i}" for i in range(6)]
        results = _concurrently(gen, [(p, "cfg", "a") for p in prompts])
        assert results == [p.upper() for p in prompts]
        assert len(inner.batches) == 1 and sorted(inner.batches[0][0]) == prompts
    finally:
        gen.close()


def test_batches_split_by_adapter_and_config_and_cap_at_max_batch():
    inner = Recorder()
    gen = BatchingGenerator(inner, window_s=0.2, max_batch=3)
    try:
        calls = [(f"x{i}", "cfg", "a") for i in range(5)] + [("y", "cfg", "b"), ("z", "other", "a")]
        _concurrently(gen, calls)
        sizes = sorted(len(b[0]) for b in inner.batches)
        assert sizes == [1, 1, 2, 3]
        for prompts, config, adapter in inner.batches:  # never mixes keys
            assert len({(config, adapter)}) == 1
            assert all(p[0] == {"a": "x", "b": "y"}[adapter] or config == "other" for p in prompts)
    finally:
        gen.close()


def test_one_bad_prompt_fails_only_its_own_request():
    inner = Recorder(fail_on="bad")
    gen = BatchingGenerator(inner, window_s=0.2)
    try:
        with ThreadPoolExecutor(3) as pool:
            futures = {p: pool.submit(gen.generate, p, "cfg", None) for p in ("ok1", "bad", "ok2")}
            assert futures["ok1"].result(5) == "OK1" and futures["ok2"].result(5) == "OK2"
            with pytest.raises(ValueError, match="bad prompt"):
                futures["bad"].result(5)
    finally:
        gen.close()


def test_a_request_past_its_deadline_times_out_and_is_dropped_from_the_queue():
    inner = Recorder(delay=0.5)
    gen = BatchingGenerator(inner, window_s=0.0, max_batch=1)
    try:
        first = threading.Thread(target=gen.generate, args=("slow", "cfg", None))
        first.start()
        time.sleep(0.1)  # "slow" is running; the next one waits behind it

        def late():
            deadline.set(time.monotonic() + 0.1)
            return gen.generate("late", "cfg", None)

        clock = time.monotonic()
        with pytest.raises(TimeoutError):
            late()
        assert time.monotonic() - clock < 0.4
        first.join(5)
        time.sleep(0.1)
        assert [b[0] for b in inner.batches] == [["slow"]]  # "late" never ran
    finally:
        gen.close()


def test_streams_pass_through_unbatched():
    inner = Recorder()
    gen = BatchingGenerator(inner)
    try:
        assert "".join(gen.stream("abc", "cfg", None)) == "ABC"
        assert inner.batches == []
    finally:
        gen.close()
