"""Evidence-first answering (``AnswerConfig(evidence_first=True)``) on a small real index
with the real embedder and generator doubles that read the prompt: confirmed model
citations, verifier citations, removed sentences, the extractive fallback, abstention
with the evidence kept, the repetition guard and checked-only streaming."""

from __future__ import annotations

import json
import re

import pytest

from assistant.answering.answer import (
    AnswerConfig,
    FinalEvent,
    RagAnswerer,
    TokenEvent,
)
from assistant.answering.citations import CitationVerifier
from assistant.answering.evidence import DEFAULT_K
from assistant.answering.evidence_first import guard_repetition, key_facts
from assistant.answering.generation import Generation
from core.errors import ConfigError
from core.prompt_format import ABSTAIN_TEXT
from index.build import ingest
from index.searcher import Searcher
from tests.assistant.test_answer import ANSWER_KEYS, CITATION_KEYS, write_docs

REFUND_Q = "How many days do customers have to return a robot?"
PRICE_Q = "How much does the SweepBot X9 Pro cost?"
REFUND = "Customers may return a robot within 30 days of delivery for a full refund"
PRICE = "The SweepBot X9 Pro costs $799 and comes with a two-year warranty"


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("evidence-corpus")
    write_docs(root / "docs")
    ingest([root / "docs"], root / "index", progress=False, embedder=embedder)
    return Searcher(root / "index", embedder=embedder)


@pytest.fixture(scope="module")
def verifier(embedder):
    return CitationVerifier(embedder)


class PromptReader:
    """TEST STUB, not a model: replies with ``reply``, where ``{n:WORDS}`` becomes the
    number of the prompt's unit holding WORDS (so a test can cite the right unit)."""

    model_id = "prompt-reader-stub"
    context_window = 2048

    def __init__(self, reply: str, finish_reason: str = "stop") -> None:
        self.reply, self.finish_reason, self.prompts = reply, finish_reason, []

    def count_tokens(self, text):
        return len(text.split())

    def prompt_tokens(self, messages):
        return sum(len(m["content"].split()) + 4 for m in messages)

    def _text(self, messages) -> str:
        prompt = messages[-1]["content"]
        blocks = re.split(r"\n\n(?=\[\d+\] Source:)", prompt)

        def number(match):
            for block in blocks:
                head = re.match(r"(?:Passages:\n\n)?\[(\d+)\] Source:", block)
                if head and match.group(1) in block:
                    return head.group(1)
            return "99"

        return re.sub(r"\{n:([^}]*)\}", number, self.reply)

    def _generation(self, messages):
        self.prompts.append(messages)
        text = self._text(messages)
        return Generation(text, self.prompt_tokens(messages), len(text.split()),
                          self.finish_reason, 0.001)

    def generate(self, messages, config, adapter=None):
        return self._generation(messages)

    def generate_many(self, batch, config, adapter=None):
        return [self._generation(m) for m in batch]

    def stream(self, messages, config, adapter=None):
        return _Stream(self._generation(messages))


class _Stream:
    def __init__(self, generation):
        self.result, self._pieces = generation, iter(generation.text.split(" "))

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._pieces) + " "

    def close(self):
        pass


def evidence(searcher, verifier, reply, extract_first=False, **kwargs):
    """An evidence-first answerer over a stub replying ``reply``; extract-first off, so
    the reply is what gets checked (``test_extract_first_answers_without_generating``)."""
    stub = PromptReader(reply, **kwargs)
    config = AnswerConfig(evidence_first=True, extract_first=extract_first)
    return RagAnswerer(searcher, stub, verifier, config), stub


def test_with_generation_off_it_extracts_or_declines_without_the_model(searcher, verifier):
    stub = PromptReader("Customers may return a robot within 30 days of delivery [1].")
    answerer = RagAnswerer(searcher, stub, verifier,
                           AnswerConfig(evidence_first=True, extract_first=False,
                                        generate=False))
    right = answerer.answer(REFUND_Q)
    assert right.answer_kind == "extracted" and "30 days" in right.answer
    # No unit states a colour: declined, the units kept as related passages.
    events = list(answerer.stream_answer("What colour is the SweepBot X9 Pro's dust bin?"))
    (final,) = events
    declined = final.answer
    assert declined.abstained and declined.abstain_reason.startswith("no_extraction:")
    assert declined.passages and stub.prompts == []
    with pytest.raises(ConfigError, match="generate = false needs evidence_first"):
        AnswerConfig(evidence_first=False, generate=False)


def test_extract_first_answers_without_generating(searcher, verifier):
    answerer, stub = evidence(searcher, verifier, "Something else entirely.",
                              extract_first=True)
    answer = answerer.answer(REFUND_Q)
    assert answer.answer_kind == "extracted" and not answer.abstained
    assert stub.prompts == [] and answer.usage["completion_tokens"] == 0
    (citation,) = answer.citations
    assert citation.origin == "extract" and "30 days" in citation.quote
    events = list(answerer.stream_answer(REFUND_Q))
    assert events[-1].answer.answer == answer.answer and stub.prompts == []
    assert "".join(e.text for e in events[:-1]) == answer.answer


def test_the_option_is_on_by_default_and_validated():
    assert AnswerConfig().evidence_first is True and AnswerConfig().extract_first is True
    with pytest.raises(ConfigError, match="evidence_first"):
        AnswerConfig(evidence_first="yes")


def test_a_confirmed_model_citation_keeps_origin_model(searcher, verifier):
    answerer, stub = evidence(searcher, verifier, f"{REFUND} [{{n:30 days}}].")
    answer = answerer.answer(REFUND_Q)
    assert answer.answer_kind == "generated" and not answer.abstained
    (citation,) = answer.citations
    assert citation.origin == "model"
    assert "30 days" in citation.quote and citation.heading
    assert answer.passages[citation.n - 1].text.startswith("Customers may return")
    assert answer.answer == f"{REFUND} [{citation.n}]."
    # The prompt numbers units, not passages: each block is one short unit.
    prompt = stub.prompts[0][-1]["content"]
    assert "[1] Source: " in prompt and len(answer.passages) <= DEFAULT_K
    assert "for a full refund.\n" in prompt  # the unit alone, not its whole chunk
    assert "full refund. Refunds reach" not in " ".join(prompt.split())
    data = json.loads(json.dumps(answer.to_json()))
    assert set(data) == ANSWER_KEYS and set(data["citations"][0]) == CITATION_KEYS
    assert data["answer_kind"] == "generated" and data["citations"][0]["origin"] == "model"
    assert "evidence" in data["timings"]


def test_an_uncited_supported_sentence_gets_a_verifier_citation(searcher, verifier):
    answerer, _ = evidence(searcher, verifier, f"{REFUND}.")
    answer = answerer.answer(REFUND_Q)
    assert answer.answer_kind == "generated"
    (citation,) = answer.citations
    assert citation.origin == "verifier" and "30 days" in citation.quote
    assert answer.answer == f"{REFUND} [{citation.n}]."


def test_an_unsupported_sentence_is_removed(searcher, verifier):
    reply = (f"{REFUND} [{{n:30 days}}]. The moon is made of green cheese and orbits "
             "Jupiter every Tuesday.")
    answerer, _ = evidence(searcher, verifier, reply)
    trace = answerer.answer_with_trace(REFUND_Q)
    answer = trace.answer
    assert answer.answer_kind == "generated"
    assert "moon" not in answer.answer and "30 days" in answer.answer
    assert [c.origin for c in answer.citations] == ["model"]
    assert "moon" in trace.raw


def test_a_number_alone_between_sentences_is_dropped():
    """Found by the walkthrough: "The main brush is cleaned every week [2]. 2 [3]." reached
    the user, the verifier having found the "2" in the cited row. Here the verifier
    supports every sentence, so only the fragment rule can drop it."""
    from assistant.answering.citations import SentenceSupport, Verification
    from assistant.answering.evidence_first import check_generated
    from index.records import Passage

    rows = [Passage("c1", "d", "care.md", "Main brush: clean every week.", 1.0,
                    heading=("Care",), title="Care"),
            Passage("c2", "d", "care.md", "Side brush: clean every 2 weeks.", 1.0,
                    heading=("Care",), title="Care")]

    class Supporting:
        def verify(self, text, passages):
            parts = [t.strip() for t in re.findall(r"[^.]+\.", text)]
            sentences = tuple(
                SentenceSupport(i, re.sub(r"\s*\[\d+\]", "", t), (i + 1,), (), (i + 1,),
                                (0.9, 0.9), (rows[0].text, rows[1].text), True, 0.5)
                for i, t in enumerate(parts))
            return Verification(text, (), sentences)

    question = "Describe the care of the brushes."
    checked = check_generated("The main brush is cleaned every week [1]. 2 [2].", question,
                              rows, Supporting(), 0.5)
    assert checked.failure is None and checked.text == "The main brush is cleaned every week [1]."
    assert checked.removed == ("2.",)
    # alone, a number is left to the kind check (a count's or a setting's answer)
    alone = check_generated("2 [2].", "How many side brushes are there?", rows,
                            Supporting(), 0.5)
    assert alone.removed == ()


def test_a_wrong_number_falls_back_to_extraction(searcher, verifier):
    answerer, _ = evidence(searcher, verifier,
                           "Customers may return a robot within 60 days of delivery for a "
                           "full refund [{n:30 days}].")
    answer = answerer.answer(REFUND_Q)
    assert answer.answer_kind == "extracted" and not answer.abstained
    assert "30 days" in answer.answer and "60" not in answer.answer
    (citation,) = answer.citations
    assert citation.origin == "extract" and "30 days" in citation.quote
    assert answer.passages[citation.n - 1].text == citation.quote
    assert f"[{citation.n}]" in answer.answer


def test_a_wrong_model_name_falls_back_to_extraction(searcher, verifier):
    answerer, _ = evidence(searcher, verifier,
                           "The SweepBot X7 Pro costs $799 [{n:$799}].")
    answer = answerer.answer(PRICE_Q)
    assert answer.answer_kind == "extracted"
    assert "$799" in answer.answer and "X7" not in answer.answer
    assert answer.citations[0].origin == "extract"


def test_the_model_abstaining_gives_way_to_an_extracted_answer(searcher, verifier):
    answerer, _ = evidence(searcher, verifier, ABSTAIN_TEXT)
    answer = answerer.answer(PRICE_Q)
    assert answer.answer_kind == "extracted" and "$799" in answer.answer


def test_nothing_extractable_abstains_and_keeps_the_evidence(searcher, verifier):
    answerer, stub = evidence(searcher, verifier,
                              "The SweepBot X9 Pro was released on March 3, 2021.")
    answer = answerer.answer("When was the SweepBot X9 Pro released?")
    assert stub.prompts  # generated, then checked: not supported, nothing to extract
    assert answer.abstained and answer.answer == ABSTAIN_TEXT
    assert answer.abstain_reason.endswith("nothing to extract")
    assert answer.answer_kind == "abstained" and answer.citations == ()
    assert answer.passages  # the closest evidence stays, as related passages
    assert answer.to_json()["answer_kind"] == "abstained"


def test_repetition_is_removed(searcher, verifier):
    answerer, _ = evidence(searcher, verifier, f"{REFUND} [{{n:30 days}}]. " * 3)
    answer = answerer.answer(REFUND_Q)
    assert answer.answer_kind == "generated"
    assert answer.answer.count("30 days") == 1


def test_repetition_guard_cuts_loops_and_an_unfinished_tail():
    assert guard_repetition("A cat sat. a cat sat! The dog ran.") == "A cat sat. The dog ran."
    looped = guard_repetition("Press the red button then press the red button then press the "
                              "red button then")
    assert looped == "Press the red button then."
    assert guard_repetition("Refunds take 5 days. Shipping is free on orders over",
                            truncated=True) == "Refunds take 5 days."


def test_key_facts_are_numbers_codes_and_months():
    facts = key_facts("The SweepBot X9 costs $1,299 from March 3.")
    assert {"#1299", "#3", "@x9", "@sweepbot", "@march"} <= facts


def test_streaming_sends_only_the_checked_answer(searcher, verifier):
    reply = (f"{REFUND} [{{n:30 days}}]. The moon is made of green cheese and orbits "
             "Jupiter every Tuesday.")
    answerer, _ = evidence(searcher, verifier, reply)
    events = list(answerer.stream_answer(REFUND_Q))
    assert isinstance(events[-1], FinalEvent)
    tokens = [e.text for e in events if isinstance(e, TokenEvent)]
    assert "".join(tokens) == events[-1].answer.answer
    assert "moon" not in "".join(tokens)


def test_batched_answers_match_single_ones(searcher, verifier):
    answerer, _ = evidence(searcher, verifier, f"{REFUND} [{{n:30 days}}].")
    (batched,) = answerer.answer_many([REFUND_Q])
    single = answerer.answer(REFUND_Q)
    assert batched.answer == single.answer and batched.answer_kind == single.answer_kind


def test_streaming_sends_checked_sentences_as_they_complete(searcher, verifier):
    # An echo first (held: alone it answers nothing), then the answer (sent with it, while
    # the model is still writing), then a sentence no unit supports (never sent).
    reply = ("Customers have days to return a robot. "
             f"{REFUND} [{{n:30 days}}]. The moon orbits Jupiter every Tuesday and never "
             "stops for anyone at all.")
    answerer, stub = evidence(searcher, verifier, reply)
    streams = []
    make = stub.stream
    stub.stream = lambda *a, **k: streams.append(make(*a, **k)) or streams[-1]
    events = answerer.stream_answer(REFUND_Q)
    first = next(e for e in events if isinstance(e, TokenEvent))
    left = list(streams[0]._pieces)  # what the model had not yet written
    assert left and "Jupiter" in "".join(left), left
    assert first.text.startswith("Customers have days") and "30 days" in first.text
    rest = [first, *events]
    tokens = [e.text for e in rest if isinstance(e, TokenEvent)]
    final = rest[-1].answer
    assert "".join(tokens) == final.answer and final.answer_kind == "generated"
    assert "moon" not in final.answer
    assert 0 < final.timings["first_token"] <= final.timings["total"]


def test_streaming_embeds_each_answer_sentence_once(searcher, embedder):
    # Each completed sentence re-checks the reply so far; the verifier's cache keeps the
    # earlier sentences' vectors, so the embedding work grows with the answer, not with
    # its square.
    class Counting:
        def __init__(self):
            self.texts = []

        def encode(self, texts):
            self.texts.extend(texts)
            return embedder.encode(texts)

    counting = Counting()
    tails = ("in most cases", "in every shop", "in every case", "in all shops")
    reply = " ".join(f"{fact} {tail} [{{n:{key}}}]." for tail, (fact, key) in
                     zip(tails, [(REFUND, "30 days"), (PRICE, "$799")] * 2, strict=True))
    answerer, _ = evidence(searcher, CitationVerifier(counting), reply)
    events = list(answerer.stream_answer(REFUND_Q))
    assert isinstance(events[-1], FinalEvent) and events[-1].answer.answer_kind == "generated"
    claims = [t for t in counting.texts if t.rstrip(".").endswith(tails)]
    assert len(claims) >= 4 and len(claims) == len(set(claims)), counting.texts


def test_an_answer_only_from_a_superseded_document_says_so():
    from assistant.answering.answer import stale_note
    from assistant.answering.records import Citation

    def cite(status, date=None):
        return Citation(n=1, chunk_id="c", source="policies/refunds-2023.md", page_index=None,
                        page_label=None, heading="", quote="q", support=1.0,
                        effective_date=date, status=status)

    assert stale_note([cite("superseded", "2023-01-01")]) == (
        " (From policies/refunds-2023.md, a superseded document, effective 2023-01-01.)")
    assert stale_note([cite("archived")]) == (
        " (From policies/refunds-2023.md, an archived document.)")
    assert stale_note([cite("superseded"), cite("current")]) == ""
    assert stale_note([cite("unknown")]) == "" and stale_note([]) == ""
    # a version whose effective date is still ahead (found by the walkthrough: a 2027
    # policy's 60 days was given as the rule in force, with no word of it)
    assert stale_note([cite("upcoming", "2027-06-01")]) == (
        " (From policies/refunds-2023.md, a document not in force until 2027-06-01.)")


def test_checked_prefixes_hand_on_only_checked_complete_sentences():
    from assistant.answering.evidence_first import Checked, checked_prefixes

    def check(upto):  # fails any prefix holding the second sentence
        return Checked("", (), "unsupported: test") if "moon" in upto else Checked(upto, (), None)

    pieces = ["Returns take ", "30 days. The moon ", "is cheese. Refunds ", "take a week. ", "End"]
    assert [c.text for c in checked_prefixes(pieces, check)] == ["Returns take 30 days."]
    passing = [c.text for c in checked_prefixes(pieces, lambda u: Checked(u, (), None))]
    assert passing == ["Returns take 30 days.", "Returns take 30 days. The moon is cheese.",
                       "Returns take 30 days. The moon is cheese. Refunds take a week."]


class RecordingSearcher:
    """The real searcher, remembering each query it was asked."""

    def __init__(self, inner):
        self.inner, self.queries = inner, []

    def search(self, query, **kwargs):
        self.queries.append(query)
        return self.inner.search(query, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_the_attribute_a_question_implies_is_searched_for(searcher, verifier):
    recording = RecordingSearcher(searcher)
    answerer = RagAnswerer(recording, PromptReader("unused"), verifier,
                           AnswerConfig(evidence_first=True, generate=False))
    answerer.answer("How heavy is the SweepBot X9 Pro?")
    answerer.answer(REFUND_Q)
    assert recording.queries == ["How heavy is the SweepBot X9 Pro? weight", REFUND_Q]


def test_a_two_part_question_is_declined_saying_why(searcher, verifier):
    answerer = RagAnswerer(searcher, PromptReader("unused"), verifier,
                           AnswerConfig(evidence_first=True, generate=False))
    declined = answerer.answer("How much does the SweepBot X9 Pro cost, and how long is its "
                               "warranty?")
    assert declined.abstained and "asks two things" in declined.abstain_reason
    assert declined.passages  # the related passages are still shown
    one = answerer.answer(PRICE_Q)
    assert not one.abstained and "$799" in one.answer
