"""The batching layer alone, around a recording fake generator."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.answering.generation import GenerationConfig
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
            token = deadline.set(time.monotonic() + 0.1)
            try:
                return gen.generate("late", "cfg", None)
            finally:
                deadline.reset(token)

        clock = time.monotonic()
        with pytest.raises(TimeoutError):
            late()
        assert time.monotonic() - clock < 0.4
        first.join(5)
        time.sleep(0.1)
        assert [b[0] for b in inner.batches] == [["slow"]]  # "late" never ran
    finally:
        gen.close()


class FakeStream:
    """A stream of one prompt's upper-cased characters; ``wait`` blocks on ``done``."""

    def __init__(self, prompt: str, done: threading.Event) -> None:
        self.pieces, self.done = iter(prompt.upper()), done

    def __iter__(self):
        return self.pieces

    def wait(self) -> None:
        self.done.wait(10)


class StreamRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.stream_batches: list[list] = []
        self.done = threading.Event()

    def stream_many(self, prompts, config, adapter):
        with self.lock:
            self.stream_batches.append(list(prompts))
        return [FakeStream(p, self.done) for p in prompts]


def test_concurrent_streams_share_one_batch_and_never_mix_with_generate():
    inner = StreamRecorder()
    inner.done.set()
    gen = BatchingGenerator(inner, window_s=0.2, max_batch=8)
    try:
        with ThreadPoolExecutor(6) as pool:
            streams = [pool.submit(gen.stream, f"s{i}", "cfg", None) for i in range(4)]
            blocking = [pool.submit(gen.generate, f"g{i}", "cfg", None) for i in range(2)]
            texts = ["".join(f.result(10)) for f in streams]
            assert [f.result(10) for f in blocking] == ["G0", "G1"]
        assert texts == ["S0", "S1", "S2", "S3"]
        assert [sorted(b) for b in inner.stream_batches] == [["s0", "s1", "s2", "s3"]]
        assert [sorted(b[0]) for b in inner.batches] == [["g0", "g1"]]
    finally:
        gen.close()


def test_the_next_batch_waits_until_a_stream_batch_is_generated():
    inner = StreamRecorder()
    gen = BatchingGenerator(inner, window_s=0.0, max_batch=4)
    try:
        stream = gen.stream("abc", "cfg", None)  # returned at once: its batch started
        with ThreadPoolExecutor(1) as pool:
            after = pool.submit(gen.generate, "next", "cfg", None)
            time.sleep(0.3)
            assert not after.done() and inner.batches == []  # the model is still busy
            inner.done.set()
            assert after.result(5) == "NEXT"
        assert "".join(stream) == "ABC"
    finally:
        gen.close()


def test_streams_fall_back_to_one_by_one_without_stream_many():
    inner = Recorder()
    gen = BatchingGenerator(inner)
    try:
        assert "".join(gen.stream("abc", "cfg", None)) == "ABC"
        assert inner.batches == []
    finally:
        gen.close()


# -- deadlines reach the generation -------------------------------------------------------


class DeadlineRecorder:
    """Generator protocol: records, per batch, the config's deadline and the context
    variable's value the wrapped generator sees; ends as ``finish_reason``."""

    def __init__(self, finish_reason: str = "length") -> None:
        self.seen: list[tuple[float | None, float | None]] = []
        self.finish_reason = finish_reason

    def generate_many(self, prompts, config, adapter):
        from assistant.answering.generation import Generation

        self.seen.append((config.deadline, deadline.get()))
        return [Generation(p, 1, 1, self.finish_reason, 0.0) for p in prompts]


def _generate_by(gen, prompt, until):
    token = deadline.set(until)
    try:
        return gen.generate(prompt, GenerationConfig(max_new_tokens=4), None)
    finally:
        deadline.reset(token)


def test_a_batch_generates_under_the_latest_deadline_of_its_requests():
    inner = DeadlineRecorder()
    gen = BatchingGenerator(inner, window_s=5.0, max_batch=2)  # runs once two are in
    try:
        soon, later = time.monotonic() + 30, time.monotonic() + 60
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(_generate_by, gen, p, u)
                       for p, u in (("a", soon), ("b", later))]
            assert sorted(f.result(10).text for f in futures) == ["a", "b"]
        assert inner.seen == [(later, later)]  # in the config, and set in the worker
        with ThreadPoolExecutor(2) as pool:  # one request without a deadline: none
            futures = [pool.submit(_generate_by, gen, p, u)
                       for p, u in (("c", soon), ("d", None))]
            assert sorted(f.result(10).text for f in futures) == ["c", "d"]
        assert inner.seen[-1] == (None, None)
    finally:
        gen.close()


def test_a_generation_cut_off_at_the_deadline_is_a_timeout():
    gen = BatchingGenerator(DeadlineRecorder(finish_reason="deadline"), window_s=0.0)
    try:
        with pytest.raises(TimeoutError):
            _generate_by(gen, "a", time.monotonic() + 30)
    finally:
        gen.close()


def test_deadline_lives_in_the_generation_module():
    from assistant.answering import generation

    assert deadline is generation.deadline
