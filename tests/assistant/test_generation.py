"""Generation on the tiny model: greedy determinism, streaming, batching, cancelling,
stop strings, adapters switched per call; and (slow) the real bundled model."""

from __future__ import annotations

import gc
import time

import pytest

from assistant.answering.adapters import AdapterSet
from assistant.answering.generation import (
    GenerationConfig,
    PromptError,
    count_tokens,
    deadline,
    generate,
    generate_batch,
    render_chat,
)
from assistant.answering.models import AdapterError, ModelConfig, load_base
from assistant.answering.text_stream import stream, stream_batch
from core.errors import ConfigError

CHAT = [{"role": "user", "content": "who sat on the mat ?"}]
PROMPTS = [
    CHAT,
    [{"role": "system", "content": "answer with one word"},
     {"role": "user", "content": "where did the dog run ?"}],
    "the bird flew over",
]
GREEDY = GenerationConfig(max_new_tokens=12)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("max_new_tokens", {"max_new_tokens": 0}),
        ("temperature", {"temperature": -0.1}),
        ("top_p", {"top_p": 0.0}),
        ("repetition_penalty", {"repetition_penalty": 0.0}),
        ("stop", {"stop": ("",)}),
        ("stop", {"stop": "END"}),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, kwargs):
    with pytest.raises(ConfigError, match=field):
        GenerationConfig(**kwargs)


def test_render_chat_and_count_tokens(tiny):
    text = render_chat(tiny.tokenizer, CHAT)
    assert text == "<|user|> who sat on the mat ? <eos> <|assistant|>"
    assert not render_chat(tiny.tokenizer, CHAT, add_generation_prompt=False).endswith(
        "<|assistant|>"
    )
    assert count_tokens(tiny.tokenizer, "the cat sat") == 3


@pytest.mark.parametrize("bad", [[], [{"role": "user"}], "not a list", [{"content": 3}]])
def test_bad_messages_are_refused(tiny, bad):
    with pytest.raises(PromptError):
        render_chat(tiny.tokenizer, bad)


def test_greedy_is_deterministic_and_runs_to_length(tiny):
    first = generate(tiny, CHAT, GREEDY)
    second = generate(tiny, CHAT, GREEDY)
    assert first.text == second.text
    assert first.text.strip()
    assert first.completion_tokens == 12
    assert first.finish_reason == "length"
    assert first.prompt_tokens == count_tokens(tiny.tokenizer, render_chat(tiny.tokenizer, CHAT))
    assert first.seconds > 0


def test_stop_string_ends_generation_and_is_cut(tiny):
    full = generate(tiny, CHAT, GREEDY)
    words = full.text.split()
    stop = words[len(words) // 2]
    cut = generate(tiny, CHAT, GenerationConfig(max_new_tokens=12, stop=(stop,)))
    assert cut.finish_reason == "stop"
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.completion_tokens < full.completion_tokens


def test_stream_concatenates_to_the_blocking_result(tiny):
    blocking = generate(tiny, CHAT, GREEDY)
    pieces = stream(tiny, CHAT, GREEDY)
    collected = list(pieces)
    assert len(collected) > 1
    assert "".join(collected) == blocking.text
    assert pieces.result.finish_reason == "length"
    assert pieces.result.completion_tokens == blocking.completion_tokens


def test_stream_with_stop_string_matches_blocking(tiny):
    words = generate(tiny, CHAT, GREEDY).text.split()
    config = GenerationConfig(max_new_tokens=12, stop=(words[len(words) // 2],))
    assert "".join(stream(tiny, CHAT, config)) == generate(tiny, CHAT, config).text


def test_closing_a_stream_cancels_generation(tiny):
    long = GenerationConfig(max_new_tokens=200)
    pieces = stream(tiny, CHAT, long)
    next(pieces)
    pieces.close()
    assert pieces.result.finish_reason == "cancelled"
    assert pieces.result.completion_tokens < 200
    assert not tiny.lock.locked()  # the next caller is not blocked


def test_dropping_a_stream_cancels_generation(tiny):
    pieces = stream(tiny, CHAT, GenerationConfig(max_new_tokens=200))
    next(pieces)
    state, thread = pieces._state, pieces._group.thread
    del pieces  # a client that goes away: no close(), just no references left
    gc.collect()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert state.result.finish_reason == "cancelled"
    assert state.result.completion_tokens < 200


def test_error_in_generation_thread_reaches_the_consumer(tiny, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom in generate")

    monkeypatch.setattr(tiny.model, "generate", broken)
    with pytest.raises(RuntimeError, match="boom in generate"):
        list(stream(tiny, CHAT, GREEDY))
    assert not tiny.lock.locked()


def test_batch_equals_one_by_one(tiny):
    batch = generate_batch(tiny, PROMPTS, GREEDY)
    single = [generate(tiny, p, GREEDY) for p in PROMPTS]
    assert [b.text for b in batch] == [s.text for s in single]
    assert [b.prompt_tokens for b in batch] == [s.prompt_tokens for s in single]
    assert len({b.prompt_tokens for b in batch}) > 1  # padding was really exercised


def test_batch_with_stop_strings_counts_each_row(tiny):
    words = generate(tiny, PROMPTS[0], GREEDY).text.split()
    config = GenerationConfig(max_new_tokens=12, stop=(words[len(words) // 2],))
    batch = generate_batch(tiny, PROMPTS, config)
    single = [generate(tiny, p, config) for p in PROMPTS]
    assert batch == [
        s.__class__(s.text, s.prompt_tokens, s.completion_tokens, s.finish_reason, b.seconds)
        for s, b in zip(single, batch, strict=True)
    ]
    assert batch[0].finish_reason == "stop"


def test_stream_batch_gives_each_row_its_own_text(tiny):
    blocking = generate_batch(tiny, PROMPTS, GREEDY)
    streams = stream_batch(tiny, PROMPTS, GREEDY)
    texts = ["".join(s) for s in reversed(streams)][::-1]  # consumed in any order
    assert texts == [b.text for b in blocking]
    assert texts == ["".join(stream(tiny, p, GREEDY)) for p in PROMPTS]
    assert [s.result.completion_tokens for s in streams] == [
        b.completion_tokens for b in blocking]
    assert not tiny.lock.locked()


def test_closing_one_stream_of_a_batch_leaves_the_others_running(tiny):
    long = GenerationConfig(max_new_tokens=40)
    alone = [generate(tiny, p, long).text for p in PROMPTS]
    first, *others = stream_batch(tiny, PROMPTS, long)
    next(first)
    first.close()
    assert first.result.finish_reason == "cancelled"
    assert ["".join(s) for s in others] == alone[1:]
    assert all(s.result.finish_reason == "length" for s in others)
    assert others[0].wait(timeout=60) and not tiny.lock.locked()


def test_a_row_that_ends_stops_its_stream_while_the_batch_goes_on(tiny, monkeypatch):
    ids = tiny.tokenizer(generate(tiny, PROMPTS[0], GREEDY).text,
                         add_special_tokens=False)["input_ids"]
    for end in ids:  # a token row 0 writes early and another row never writes: an end
        monkeypatch.setattr(tiny.model.generation_config, "eos_token_id", end)
        expected = generate_batch(tiny, PROMPTS, GREEDY)
        if expected[0].finish_reason == "stop" and any(
                e.finish_reason == "length" for e in expected):
            break
    else:
        pytest.fail("no token of row 0's answer ends it alone")
    streams = stream_batch(tiny, PROMPTS, GREEDY)
    assert ["".join(s) for s in streams] == [e.text for e in expected]
    assert [s.result.finish_reason for s in streams] == [e.finish_reason for e in expected]
    assert [s.result.completion_tokens for s in streams] == [
        e.completion_tokens for e in expected]


def test_prompt_longer_than_the_context_is_refused(tiny):
    with pytest.raises(PromptError, match="256"):
        generate(tiny, "the cat " * 200, GREEDY)


def test_max_new_tokens_is_capped_by_the_context_window(tiny):
    out = generate(tiny, "the cat " * 125, GenerationConfig(max_new_tokens=100))
    assert out.prompt_tokens == 250
    assert out.completion_tokens == 6
    assert out.finish_reason == "length"


def test_adapter_on_a_bare_model_is_refused(tiny):
    with pytest.raises(AdapterError, match="no adapters are loaded"):
        generate(tiny, CHAT, GREEDY, adapter="faq")


# ---- deadlines ------------------------------------------------------------------------


@pytest.fixture
def slow_steps(tiny, monkeypatch):
    """Each forward pass of the tiny model takes at least 20 ms: 200 tokens take 4 s."""
    forward = tiny.model.forward

    def slow(*args, **kwargs):
        time.sleep(0.02)
        return forward(*args, **kwargs)

    monkeypatch.setattr(tiny.model, "forward", slow)


def test_a_passed_deadline_stops_generation_after_one_step(tiny):
    out = generate(tiny, CHAT, GenerationConfig(max_new_tokens=200,
                                                deadline=time.monotonic() - 1))
    assert out.finish_reason == "deadline"
    assert 1 <= out.completion_tokens <= 2
    assert not tiny.lock.locked()


def test_generation_stops_soon_after_a_deadline_ahead(tiny, slow_steps):
    clock = time.monotonic()
    out = generate(tiny, CHAT, GenerationConfig(max_new_tokens=200, deadline=clock + 0.2))
    assert out.finish_reason == "deadline"
    assert out.completion_tokens < 100  # about 10 at 20 ms a step; 200 without the deadline
    assert time.monotonic() - clock < 2.0  # 4 s without it


def test_the_context_variable_is_the_deadline_of_a_config_without_one(tiny):
    token = deadline.set(time.monotonic() - 1)
    try:
        batch = generate_batch(tiny, PROMPTS, GenerationConfig(max_new_tokens=200))
    finally:
        deadline.reset(token)
    assert [g.finish_reason for g in batch] == ["deadline"] * len(PROMPTS)
    assert all(g.completion_tokens <= 2 for g in batch)
    assert generate(tiny, CHAT, GREEDY).finish_reason == "length"  # reset: no deadline


def test_a_deadline_not_reached_changes_nothing(tiny):
    later = GenerationConfig(max_new_tokens=12, deadline=time.monotonic() + 600)
    out, plain = generate(tiny, CHAT, later), generate(tiny, CHAT, GREEDY)
    assert (out.text, out.completion_tokens, out.finish_reason) == (
        plain.text, plain.completion_tokens, "length")
    # not a decoding setting: configs differing only in it are one batching key
    assert later == GREEDY and hash(later) == hash(GREEDY)


def test_a_stream_stops_at_its_deadline(tiny, slow_steps):
    clock = time.monotonic()
    pieces = stream(tiny, CHAT, GenerationConfig(max_new_tokens=200, deadline=clock + 0.2))
    text = "".join(pieces)
    assert pieces.result.finish_reason == "deadline"
    assert pieces.result.text == text
    assert pieces.result.completion_tokens < 100
    assert pieces.wait(timeout=10) and not tiny.lock.locked()


def test_a_stream_batch_stops_every_row_at_the_deadline(tiny):
    streams = stream_batch(tiny, PROMPTS, GenerationConfig(max_new_tokens=200,
                                                           deadline=time.monotonic() - 1))
    for s in streams:
        list(s)
    assert [s.result.finish_reason for s in streams] == ["deadline"] * len(PROMPTS)
    assert all(s.result.completion_tokens <= 2 for s in streams)


# ---- adapters switched per call -------------------------------------------------------


@pytest.fixture
def adapters(tiny_dir, tiny_adapter):
    adapters = AdapterSet(load_base(ModelConfig(base=str(tiny_dir), device="cpu")))
    adapters.add("faq", tiny_adapter)
    return adapters


def test_adapter_changes_output_and_base_is_unchanged(tiny, adapters):
    base_before = generate(tiny, CHAT, GREEDY).text  # the unwrapped session model
    assert generate(adapters, CHAT, GREEDY).text == base_before
    tuned = generate(adapters, CHAT, GREEDY, adapter="faq").text
    assert tuned != base_before
    assert generate(adapters, CHAT, GREEDY).text == base_before
    assert "".join(stream(adapters, CHAT, GREEDY, adapter="faq")) == tuned
    assert [g.text for g in generate_batch(adapters, [CHAT, CHAT], GREEDY, "faq")] == [tuned] * 2


def test_unknown_adapter_at_generation_is_refused_before_starting(adapters):
    with pytest.raises(AdapterError, match="known adapters: 'faq'"):
        generate(adapters, CHAT, GREEDY, adapter="hr")
    with pytest.raises(AdapterError, match="known adapters: 'faq'"):
        stream(adapters, CHAT, GREEDY, adapter="hr")
    assert not adapters.lock.locked()


def test_wrapped_model_must_be_used_through_its_adapter_set(adapters):
    with pytest.raises(AdapterError, match="AdapterSet"):
        generate(adapters.loaded, CHAT, GREEDY)


# ---- slow: the real bundled model -----------------------------------------------------


@pytest.mark.slow
def test_bundled_model_answers_a_short_chat(smollm2):
    loaded = smollm2.loaded
    question = [{"role": "user", "content": "What is the capital of France? One word."}]
    config = GenerationConfig(max_new_tokens=24)
    out = generate(loaded, question, config)
    assert out.text.strip()
    assert out.finish_reason in ("stop", "length")
    assert "".join(stream(loaded, question, config)) == out.text
    print(f"\nSmolLM2: {out.text!r}, {out.completion_tokens / out.seconds:.1f} tokens/s")


@pytest.mark.slow
def test_bundled_model_with_a_lora_adapter(smollm2, make_lora_adapter, tmp_path):
    adapter = make_lora_adapter(smollm2.loaded.path, tmp_path / "lora")
    question = [{"role": "user", "content": "Name a colour."}]
    config = GenerationConfig(max_new_tokens=8)
    base_text = generate(smollm2.loaded, question, config).text
    # a second copy from the cache directory: adding an adapter changes the model it wraps
    adapters = AdapterSet(load_base(ModelConfig(base=str(smollm2.loaded.path), device="cpu")))
    adapters.add("test", adapter)
    assert generate(adapters, question, config, adapter="test").text != base_text
    assert generate(adapters, question, config).text == base_text
