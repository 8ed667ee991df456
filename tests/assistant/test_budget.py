"""The cheap checks that bound a request's work: content words, declining, the budget."""

from __future__ import annotations

import pytest

from assistant.answering.budget import (
    BASE_TOKENS,
    PER_WORD_TOKENS,
    STEP_TOKENS,
    content_words,
    decline_reason,
    question_budget,
)
from assistant.answering.records import Message


@pytest.mark.parametrize("question", ["hi", "??", "  hello!  ", "ok thanks", "a", "...",
                                      "what is it?", "Hi, how are you?"])
def test_questions_without_content_words_are_declined(question):
    reason = decline_reason(question)
    assert reason is not None and reason.startswith("no_content:")


@pytest.mark.parametrize("question", ["refund?", "How long is the refund window?",
                                      "error 404?", "退款多久", "¿Cuánto cuesta el envío?"])
def test_questions_with_content_go_on(question):
    assert decline_reason(question) is None


def test_a_follow_up_counts_the_users_earlier_turns_only():
    asked = [Message("user", "How long is the refund window?"), Message("assistant", "30 days")]
    assert decline_reason("why?", asked) is None
    assert decline_reason("why?", [{"role": "user", "content": "refund window"}]) is None
    said = [Message("user", "hi"), Message("assistant", "The refund window is 30 days.")]
    assert decline_reason("why?", said) is not None  # the assistant's words are not asked


def test_content_words_drop_stopwords_small_talk_and_letters():
    assert content_words("Hi! What is the SweepBot X9 filter, a part no. 7?") == \
        ["sweepbot", "x9", "filter", "part", "7"]


def test_the_budget_grows_with_content_words_up_to_the_cap():
    assert question_budget("why?", 256) == BASE_TOKENS
    three = question_budget("How long is the refund window?", 256)
    wanted = BASE_TOKENS + 3 * PER_WORD_TOKENS
    assert three % STEP_TOKENS == 0 and wanted <= three < wanted + STEP_TOKENS
    assert question_budget("How long is the refund window?", 256, step=1) == wanted
    long = ("Which filter, brush, battery, charger, dock, wheel, sensor, bin, mop, pad, "
            "hose or nozzle fits the SweepBot?")
    assert question_budget(long, 256) == 256
    assert question_budget(long, 40) == 40 and question_budget("why?", 1) == 1
    assert three < question_budget(long, 10_000)


@pytest.mark.parametrize("cap", [0, -3, 2.5, True, None])
def test_a_bad_cap_is_refused(cap):
    with pytest.raises(ValueError, match="cap"):
        question_budget("refund?", cap)
