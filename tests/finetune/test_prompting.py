"""The grounded prompt format and the token budget, shared by answering and fine-tuning."""

from __future__ import annotations

import pytest

from core.prompt_format import (
    ABSTAIN_TEXT,
    DECLINE_TEXT,
    SYSTEM_PROMPT,
    PromptBudgetError,
    abstention_text,
    build_closed_book_messages,
    build_grounded_messages,
    fit_to_budget,
    format_passage,
    format_target,
    is_abstention,
)
from index.records import Passage


def words(text: str) -> int:  # a stand-in tokenizer: one token per word
    return len(text.split())


def passage(i: int, n_words: int = 20, **kwargs) -> Passage:
    text = " ".join(f"w{i}x{j}" for j in range(n_words))
    return Passage(f"c{i}", f"d{i}", f"docs/file{i}.md", text, 1.0 / (i + 1), **kwargs)


def test_format_passage_carries_number_source_page_and_heading():
    p = Passage("c1", "d1", "manuals/x9.pdf", "  Empty the bin weekly.\n", 0.5,
                page_index=6, page_label="3", heading=("Care", "Bin"))
    assert format_passage(2, p) == (
        "[2] Source: manuals/x9.pdf | Page: 6 (printed 3) | Section: Care > Bin\n"
        "Empty the bin weekly."
    )
    plain = Passage("c2", "d2", "faq.md", "Text.", 0.5)
    assert format_passage(1, plain) == "[1] Source: faq.md\nText."
    same = Passage("c3", "d3", "a.pdf", "T.", 0.5, page_index=4, page_label="4")
    assert format_passage(1, same).startswith("[1] Source: a.pdf | Page: 4\n")


def test_grounded_messages_layout():
    history = [{"role": "system", "content": "ignored"},
               {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    messages = build_grounded_messages("How long?", [passage(0, 3), passage(1, 3)], history)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0]["content"] == SYSTEM_PROMPT and ABSTAIN_TEXT in SYSTEM_PROMPT
    last = messages[-1]["content"]
    assert last.startswith("Passages:\n\n[1] Source: docs/file0.md\n")
    assert "\n\n[2] Source: docs/file1.md\n" in last
    assert last.endswith("\n\nQuestion: How long?")
    closed = build_closed_book_messages("How long?")
    assert [m["role"] for m in closed] == ["system", "user"]
    assert closed[-1]["content"] == "How long?"


def test_format_target_and_abstention():
    assert format_target("The refund window is 30 days.", [1]) == \
        "The refund window is 30 days [1]."
    assert format_target("30 days", [2, 1, 2]) == "30 days [2][1]"
    assert format_target("Yes.", []) == "Yes."
    with pytest.raises(ValueError):
        format_target("  ", [1])
    assert is_abstention(ABSTAIN_TEXT)
    assert is_abstention("the documents do NOT cover this question, sorry")
    assert not is_abstention("The documents say 30 days.")
    # The model's own words for "not covered" are an abstention; a statement is not.
    assert is_abstention("The document does not contain the information you are looking for.")
    assert is_abstention("I'm sorry, but the provided passages don't mention a fee.")
    assert is_abstention("The documents do not cover the last day to return the robot.")
    assert not is_abstention("The document states that refunds take 30 days.")
    assert not is_abstention("The warranty does not cover worn-out filters [2].")
    # Only the opening words decide: a later "do not" is part of an answer.
    assert not is_abstention("Yes. The documents do not limit the number of robots.")
    # an extraction decline says what happened, and is an abstention too
    assert abstention_text("no_extraction: no unit holds what ...") == DECLINE_TEXT
    assert abstention_text("low_evidence_score: best unit score 0.1") == ABSTAIN_TEXT
    assert is_abstention(DECLINE_TEXT)


def test_everything_fits_untouched():
    passages = [passage(i) for i in range(3)]
    kept, turns = fit_to_budget(words, "q?", passages, [{"role": "user", "content": "a"}],
                                context_window=1000, reserve_for_answer=100)
    assert kept == passages and len(turns) == 1


def test_lowest_ranked_passages_go_first_then_oldest_history():
    passages = [passage(i, 40) for i in range(4)]
    history = [{"role": "user", "content": "old " * 30}, {"role": "assistant", "content": "new"}]
    full = words(SYSTEM_PROMPT) + 8 * 4 + 200
    kept, turns = fit_to_budget(words, "How long?", passages, history,
                                context_window=full, reserve_for_answer=100)
    assert kept == passages[: len(kept)] and 1 <= len(kept) < 4
    assert len(turns) == 2  # passages went first
    kept, turns = fit_to_budget(words, "How long?", passages, history,
                                context_window=full - 50, reserve_for_answer=100)
    assert kept == passages[:1] and [t["content"] for t in turns] == ["new"]


def test_a_passage_is_cut_only_as_a_last_resort_and_the_question_never():
    question = "What is the refund window for a robot bought online?"
    long = passage(0, 500)
    budget = words(SYSTEM_PROMPT) + words(question) + 2 * 8 + 100
    kept, _ = fit_to_budget(words, question, [long, passage(1)], [], context_window=budget,
                            reserve_for_answer=0)
    (cut,) = kept
    assert cut.chunk_id == "c0" and cut.text.endswith(" ...")
    assert long.text.startswith(cut.text[:-4])
    messages = build_grounded_messages(question, kept)
    assert sum(words(m["content"]) + 8 for m in messages) <= budget
    assert messages[-1]["content"].endswith(question)


def test_an_oversize_question_is_a_clear_error():
    question = "why " * 300
    with pytest.raises(PromptBudgetError, match="shorten the question"):
        fit_to_budget(words, question, [passage(0)], [], context_window=256,
                      reserve_for_answer=16)
    with pytest.raises(PromptBudgetError, match="empty"):
        fit_to_budget(words, "  ", [passage(0)], [], context_window=256, reserve_for_answer=16)
    with pytest.raises(PromptBudgetError):
        fit_to_budget(words, "q", [], [], context_window=0, reserve_for_answer=16)


def test_no_room_for_any_passage_leaves_none():
    question = "short question"
    empty = build_grounded_messages(question, [])
    budget = sum(words(m["content"]) + 8 for m in empty) + 3
    kept, _ = fit_to_budget(words, question, [passage(0, 100)], [], context_window=budget,
                            reserve_for_answer=0)
    assert kept == []
