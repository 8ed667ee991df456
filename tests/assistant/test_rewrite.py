"""Follow-up questions rewritten into standalone queries; history bounded in tokens."""

from __future__ import annotations

import pytest

from assistant.answering.generation import Generation
from assistant.answering.records import Message
from assistant.answering.rewrite import (
    FollowUp,
    bound_history,
    entities,
    is_follow_up,
    rewrite_follow_up,
)
from core.errors import ConfigError


def query_for(question: str, history=(), **kwargs) -> str:
    """What is searched for ``question`` after ``history``."""
    return rewrite_follow_up(question, history, **kwargs).query


def convo(*turns: str) -> list[Message]:
    roles = ["user", "assistant"]
    return [Message(roles[i % 2], t) for i, t in enumerate(turns)]


def test_a_standalone_question_is_left_alone():
    history = convo("How long is the warranty on the SweepBot S7?", "Two years [1].")
    question = "What is the return window for the MopMate M3?"
    assert query_for(question, history) == question
    assert query_for("  How much does it cost? ") == "How much does it cost?"


def test_pronoun_follow_up_gets_the_earlier_subject():
    history = convo("Tell me about the SweepBot X9 Pro.", "It is our flagship robot [1].")
    # the name is written in for "it", in the query and in what extraction reads
    assert rewrite_follow_up("How much does it cost?", history) == FollowUp(
        "How much does SweepBot X9 Pro cost?", "How much does SweepBot X9 Pro cost?")
    assert rewrite_follow_up("Is its battery covered?", history).question == \
        "Is SweepBot X9 Pro's battery covered?"


def test_a_pronoun_can_stand_for_a_name_the_answer_gave_in_code():
    """The answer named what the user asked for: "TRUNCATE", "shared_buffers"."""
    history = convo("What's the fastest way to remove all rows from a big table?",
                    "TRUNCATE. It removes all rows without scanning the table.")
    follow_up = rewrite_follow_up("Will it fire my ON DELETE triggers?", history)
    assert follow_up.question == "Will TRUNCATE fire my ON DELETE triggers?"
    assert follow_up.query.startswith(follow_up.question) and "fastest" in follow_up.query
    history = convo("What is the setting for PostgreSQL's shared buffer cache called?",
                    "It is shared_buffers; the default is 128MB.")
    assert rewrite_follow_up("What's its default?", history,
                             corpus_names=("PostgreSQL",)).question == \
        "What's shared_buffers default?"
    # an acronym inside the answer, or a sentence's capitalised subject, is no referent
    history = convo("Does Acme support two-step verification?",
                    "Yes, by an authenticator app or SMS codes.")
    follow_up = rewrite_follow_up("How do I turn it on?", history, corpus_names=("Acme",))
    assert follow_up.question.startswith("How do I turn it on?") and "SMS" not in \
        follow_up.query


def test_it_can_stand_for_what_the_question_asked_about():
    """Found by the walkthrough: "What was it in 2023?" after "How long is the refund
    window?" was answered with an unrelated sentence."""
    history = convo("How long is the refund window?", "Within **30 days** [1].")
    assert rewrite_follow_up("What was it in 2023?", history).question == \
        "What was the refund window in 2023?"


def test_an_elliptical_follow_up_asks_the_earlier_question_again():
    """"And on Saturday?" says what it asks only with the earlier question."""
    history = convo("What are your phone support hours on weekdays?", "8 to 8 [1].")
    follow_up = rewrite_follow_up("And on Saturday?", history)
    assert follow_up.question == "What are your phone support hours on Saturday?"
    assert follow_up.query == "And on Saturday? phone support hours weekdays"
    history = convo("How much is Acme Care Plus per month?", "$12.99 [1].")
    assert rewrite_follow_up("And Premium?", history).question == \
        "How much is Premium per month?"
    # nothing to put it in the place of: it reads as its query
    history = convo("Do you ship abroad?", "Yes [1].")
    follow_up = rewrite_follow_up("And Canada?", history)
    assert follow_up.question == follow_up.query == "And Canada? ship abroad"
    # a follow-up that says what it asks is read as asked
    history = convo("How often do I replace the AutoDock E2 dust bag?", "Every 60 days [1].")
    follow_up = rewrite_follow_up("Which part number should I order?", history)
    assert follow_up.question == "Which part number should I order?"


def test_what_about_swaps_the_entity_and_keeps_the_topic():
    history = convo("How long is the warranty on the SweepBot S7?", "Two years [1].")
    query = query_for("What about the X9?", history)
    assert query.startswith("What about the X9?")
    assert "warranty" in query
    assert "S7" not in query


def test_the_subject_comes_from_the_latest_turn_that_named_one():
    history = convo("What error codes does the MopMate M3 show?", "E61 and E62 [1].",
                    "And what does the first one mean?", "The water tank is empty [1].")
    query = query_for("How do I fix it?", history)
    assert "MopMate M3" in query


def test_history_is_bounded_in_tokens():
    history = convo("one two three", "four five", "six seven eight nine")
    kept = bound_history(history, lambda t: len(t.split()), 6)
    assert [m.content for m in kept] == ["four five", "six seven eight nine"]
    assert bound_history(history, lambda t: len(t.split()), 0) == []
    with pytest.raises(ConfigError, match="max_history_tokens"):
        bound_history(history, len, -1)
    old = convo("Tell me about the SweepBot X9 Pro.", "It is " + "very " * 600 + "good.")
    # the only user turn naming the robot falls outside the budget: nothing to add
    assert query_for("How much does it cost?", old, max_history_tokens=100) == \
        "How much does it cost?"


def test_follow_up_detection_and_entities():
    assert is_follow_up("what about the X9?")
    assert is_follow_up("And the price?")
    assert is_follow_up("Is it waterproof?")
    # a pronoun after the question has named or said what it stands for, and an
    # existential "there", refer to nothing earlier (these lost right answers when asked
    # after an unrelated conversation)
    assert not is_follow_up("Does current_timestamp return a different value each time I "
                            "call it within one transaction?")
    assert not is_follow_up("I stopped using the app for a few weeks and want to know when "
                            "it will sign me out automatically.")
    assert not is_follow_up("Which index type is currently the only one that can be "
                            "declared unique?")
    assert not is_follow_up("Is there an Acme Home desktop app for macOS?")
    assert is_follow_up("How do I get there?")
    # a question that says it goes on from the last one
    assert is_follow_up("What's the default column separator then?")
    assert is_follow_up("Which function gives the actual current time instead?")
    assert not is_follow_up("Which part number should I order?")
    assert not is_follow_up("How long is the warranty on the SweepBot S7?")
    assert entities("How do I pair the SweepBot X9 Pro with HomeHub H2?") == [
        "SweepBot X9 Pro", "HomeHub H2"]
    # a question word opening a later sentence is no name
    assert entities("I updated my SweepBot S7. What's new?") == ["SweepBot S7"]


class FixedReplyGenerator:
    """TEST STUB: a generator that always replies with one fixed text (no model)."""

    model_id, context_window = "stub", 1024

    def __init__(self, reply: str) -> None:
        self.reply, self.calls = reply, []

    def generate(self, messages, config, adapter=None):
        self.calls.append(messages)
        return Generation(self.reply, 10, 5, "stop", 0.01)


def test_llm_rewrite_uses_the_generator_and_falls_back_to_rules():
    history = convo("Tell me about the SweepBot X9 Pro.", "It is our flagship robot.")
    good = FixedReplyGenerator("How much does the SweepBot X9 Pro cost?")
    assert query_for("How much does it cost?", history, generator=good, llm=True) == \
        "How much does the SweepBot X9 Pro cost?"
    assert "Tell me about the SweepBot X9 Pro." in good.calls[0][-1]["content"]
    empty = FixedReplyGenerator("")
    assert "SweepBot X9 Pro" in query_for("How much does it cost?", history,
                                                 generator=empty, llm=True)
    with pytest.raises(ConfigError, match="generator"):
        query_for("How much does it cost?", history, llm=True)
    with pytest.raises(ConfigError, match="empty"):
        query_for("  ", history)
