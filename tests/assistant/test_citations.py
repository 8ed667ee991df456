"""The citation verifier on hand-made answers and passages, with the real bundled embedder."""

from __future__ import annotations

import pytest

from assistant.answering.citations import (
    CitationConfig,
    CitationVerifier,
    content_terms,
    numbers,
    passage_units,
    split_sentences,
)
from core.errors import ConfigError
from index.records import Passage

PASSAGES = [
    Passage("c-refund", "d1", "policies/refunds-2025.md",
            "You can return any robot within 30 days of delivery for a full refund. "
            "Refunds are paid to the original payment method within 5 business days.",
            0.9, heading=("Refunds", "Return window")),
    Passage("c-ship", "d2", "support/shipping.html",
            "Standard shipping is free on orders over $50. Express shipping costs $14.99 "
            "and arrives in 2 business days.",
            0.8, heading=("Shipping",)),
    Passage("c-about", "d3", "company/about-acme.txt",
            "Acme Robotics was founded in Portland, Oregon in 2012. It makes home cleaning "
            "robots.",
            0.7, page_index=2, page_label="ii"),
]


@pytest.fixture(scope="module")
def verifier(embedder):
    return CitationVerifier(embedder)


def test_supported_citation_is_kept_with_the_supporting_quote(verifier):
    result = verifier.verify("The return window is 30 days [1].", PASSAGES)
    assert result.text == "The return window is 30 days [1]."
    (citation,) = result.citations
    assert citation.n == 1 and citation.chunk_id == "c-refund"
    assert citation.source == "policies/refunds-2025.md"
    assert citation.heading == "Refunds > Return window"
    assert citation.quote == ("You can return any robot within 30 days of delivery for a "
                              "full refund.")
    assert citation.quote in PASSAGES[0].text
    assert citation.support >= verifier.config.min_support
    assert result.counts["kept"] == 1 and result.counts["dropped"] == 0
    (sentence,) = result.sentences
    assert sentence.supported and sentence.best_n == 1 and sentence.cited == (1,)


def test_wrong_citation_is_moved_to_the_passage_that_supports_it(verifier):
    result = verifier.verify("Express shipping costs $14.99 [1].", PASSAGES)
    assert result.text == "Express shipping costs $14.99 [2]."
    (citation,) = result.citations
    assert citation.n == 2 and citation.chunk_id == "c-ship"
    assert "$14.99" in citation.quote
    assert result.counts["moved"] == 1 and result.counts["kept"] == 0


def test_unsupported_citation_is_dropped(verifier):
    result = verifier.verify("The CEO of Acme is Jane Doe [3].", PASSAGES)
    assert result.text == "The CEO of Acme is Jane Doe."
    assert result.citations == ()
    assert result.counts["dropped"] == 1
    assert result.counts["unsupported_sentences"] == 1
    assert result.supported_fraction == 0.0


def test_a_contradicting_number_is_not_support(verifier):
    right = verifier.verify("The return window is 30 days [1].", PASSAGES).sentences[0]
    wrong = verifier.verify("The return window is 60 days [1].", PASSAGES)
    assert not wrong.sentences[0].supported
    assert wrong.sentences[0].scores[0] < right.scores[0] - 0.3
    assert wrong.citations == () and wrong.text == "The return window is 60 days."


def test_out_of_range_and_multiple_markers(verifier):
    answer = ("You get a full refund within 30 days [1, 7]. Acme was founded in 2012. [3] "
              "Express shipping arrives in 2 business days [2][9].")
    result = verifier.verify(answer, PASSAGES)
    first, second, third = result.sentences
    assert first.cited == (1,) and first.invalid == (7,)
    assert second.cited == (3,)  # a marker after the full stop belongs to that sentence
    assert third.cited == (2,) and third.invalid == (9,)
    assert result.counts["invalid"] == 2 and result.counts["kept"] == 3
    assert result.text == ("You get a full refund within 30 days [1]. Acme was founded in "
                           "2012 [3]. Express shipping arrives in 2 business days [2].")
    assert [c.n for c in result.citations] == [1, 3, 2]
    assert result.citations[1].page_index == 2 and result.citations[1].page_label == "ii"


def test_two_markers_one_wrong_keeps_the_right_one(verifier):
    result = verifier.verify("Refunds are paid within 5 business days [1][2].", PASSAGES)
    assert result.sentences[0].citations == (1,)
    assert result.counts == {**result.counts, "kept": 1, "dropped": 1, "moved": 0}


def test_abstention_and_empty_answers_have_no_claims(verifier):
    result = verifier.verify("The documents do not cover this.", PASSAGES)
    assert result.claims == [] and result.citations == ()
    assert verifier.verify("", PASSAGES).sentences == ()


def test_uncited_sentence_stays_uncited_unless_asked(verifier, embedder):
    plain = verifier.verify("Acme Robotics was founded in 2012.", PASSAGES)
    assert plain.citations == () and plain.sentences[0].supported
    adding = CitationVerifier(embedder, CitationConfig(add_missing=True))
    added = adding.verify("Acme Robotics was founded in 2012.", PASSAGES)
    assert added.text == "Acme Robotics was founded in 2012 [3]."
    assert added.counts["added"] == 1


def test_deterministic_and_json(verifier):
    answer = "Express shipping costs $14.99 [2]. The return window is 60 days [1]."
    first, second = verifier.verify(answer, PASSAGES), verifier.verify(answer, PASSAGES)
    assert first.to_json() == second.to_json()
    data = first.to_json()
    assert data["sentences"][1]["supported"] is False
    assert data["supported_fraction"] == 0.5


def test_lexical_method_needs_no_embedder():
    lexical = CitationVerifier(None, CitationConfig(method="lexical"))
    result = lexical.verify("Express shipping costs $14.99 [1].", PASSAGES)
    assert result.sentences[0].citations == (2,)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"min_support": 1.5}, "min_support"),
    ({"method": "magic"}, "method"),
    ({"number_penalty": -0.1}, "number_penalty"),
    ({"max_quote_chars": 5}, "max_quote_chars"),
    ({"cache_size": -1}, "cache_size"),
])
def test_config_rejects_bad_values(kwargs, name):
    with pytest.raises(ConfigError, match=name):
        CitationConfig(**kwargs)


def test_embedding_method_without_embedder_is_an_error():
    with pytest.raises(ConfigError, match="embedder"):
        CitationVerifier(None)


def test_text_helpers():
    text = "First one here. Second [1]! Third?\nA line"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "First one here.", "Second [1]!", "Third?", "A line"]
    assert numbers("costs $10,000 or 12.99 and 30-day 15%") == {"10000", "12.99", "30", "15"}
    assert {"refund", "day", "30"} <= content_terms("The refunds take 30 days")
    units = passage_units("## Title\nThis is the first real sentence. Short tail.")
    assert len(units) == 1  # short pieces join their neighbours
