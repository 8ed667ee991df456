"""Each answer, citation, abstention and summary metric on hand-made cases whose right
value is worked out in the comments."""

from __future__ import annotations

import math

import pytest

from assistant.answering.citations import SentenceSupport
from eval.answer_metrics import (
    Estimate,
    answer_part,
    answer_scores,
    citation_scores,
    compare_setups,
    contains_answer,
    parse_decision,
    passage_matches,
    quantile_ci,
    question_metrics,
    retrieval_scores,
    strip_markers,
    summarize,
)
from finetune.records import SourceRef
from index.records import Passage


def _p(source: str, page: int | None = None, heading: tuple[str, ...] = (), n: int = 0):
    return Passage(chunk_id=f"{source}#{n}", doc_id=source, source=source, text="t", score=0.0,
                   page_index=page, heading=heading)


def _s(cited, scores, citations=None, invalid=(), claim=True, t=0.5):
    return SentenceSupport(index=0, text="x", cited=tuple(cited), invalid=tuple(invalid),
                           citations=tuple(cited if citations is None else citations),
                           scores=tuple(scores), quotes=("",) * len(scores), is_claim=claim,
                           min_support=t)


def test_contains_answer_normalises_and_respects_word_bounds():
    assert contains_answer("You have 30 days [1] to return it.", "30 Days") == 1.0
    assert contains_answer("The fee is $10,000.", "$10,000") == 1.0
    assert contains_answer("within 130 days", "30 days") == 0.0  # not inside another number
    assert contains_answer("no idea", "30 days") == 0.0


def test_strip_markers_and_parse_decision():
    assert strip_markers("It is 30 days [1][2, 3]. Yes [4].") == "It is 30 days. Yes."
    assert parse_decision("Yes. The trial shows [1] no effect") == "yes"
    assert parse_decision("Maybe; the data are mixed.") == "maybe"
    assert parse_decision("Noted: no benefit was found") == "no"  # 'Noted' is not 'no'
    assert parse_decision("The documents do not cover this.") is None


def test_answer_part_drops_quoted_evidence_only():
    quote_after = '30 days. Passage says: "Invoices are available as PDF for 7 years."'
    assert answer_part(quote_after) == "30 days."
    quote_first = ('Passage says: "Refunds are accepted within 30 days of delivery." '
                   "So the answer is: 30 days.")
    assert answer_part(quote_first) == "30 days."
    cut_off = '7 years. Passage says: "Invoices are available as PDF for'
    assert answer_part(cut_off) == "7 years."
    assert answer_part('The window is "30 days".') == 'The window is "30 days".'  # short
    only_quote = '"Invoices are available as PDF for 7 years."'
    assert answer_part(only_quote) == only_quote  # nothing else to score
    # a quoted word inside a sentence: its closing mark opens no quotation (e056)
    sentence = ('Home owners can make a member an "Admin", who can change schedules but '
                'cannot delete the home.')
    assert answer_part(sentence) == sentence
    assert answer_part(f'**{sentence}**') == f'**{sentence}**'


def test_a_quote_holding_the_gold_does_not_make_a_wrong_answer_right():
    text = '30 days [3]. Passage [3] says: "Invoices are available as PDF for 7 years."'
    scores = answer_scores(text, False, "7 years", "short")
    assert scores == {"exact_match": 0.0, "token_f1": 0.0, "contains_answer": 0.0}
    right = answer_scores("7 years [3]. " + text.split(". ", 1)[1], False, "7 years", "short")
    assert right["contains_answer"] == 1.0 and right["exact_match"] == 1.0
    assert answer_scores(text, True, "7 years", "short")["contains_answer"] == 0.0
    assert answer_scores(text, False, None, "short") == {}


def test_passage_matches_file_page_and_heading():
    assert passage_matches(_p("policies/a.md"), SourceRef("policies/a.md"))
    assert passage_matches(_p("docs/policies/a.md"), SourceRef("policies/a.md"))
    assert not passage_matches(_p("policies/b.md"), SourceRef("policies/a.md"))
    assert passage_matches(_p("m.pdf", page=5), SourceRef("m.pdf", page=5, heading="H"))
    assert not passage_matches(_p("m.pdf", page=4), SourceRef("m.pdf", page=5))
    ref = SourceRef("a.md", heading="Refund window")
    assert passage_matches(_p("a.md", heading=("Refunds", "refund  window")), ref)
    assert not passage_matches(_p("a.md", heading=("Refunds", "Damaged items")), ref)


def test_retrieval_scores_count_each_gold_source_once():
    refs = [SourceRef("a.md"), SourceRef("b.md")]
    # ranks: x, a, a (again: no gain), b  -> gold at ranks 2 and 4
    ranked = [_p("x.md"), _p("a.md", n=1), _p("a.md", n=2), _p("b.md")]
    scores = retrieval_scores(ranked, refs, k=3)
    assert scores["recall@k"] == pytest.approx(0.5)  # only a.md in the top 3
    assert scores["mrr"] == pytest.approx(0.5)
    idcg = 1 + 1 / math.log2(3)
    assert scores["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / idcg)
    assert retrieval_scores([_p("x.md")], refs, k=5) == {"recall@k": 0.0, "mrr": 0.0,
                                                         "ndcg@10": 0.0}


def test_citation_recall_and_precision_alce_style():
    passages = [_p("gold.md"), _p("other.md")]
    refs = [SourceRef("gold.md")]
    sentences = [
        _s([1], [0.9, 0.1]),        # supported by its citation          -> recall 1
        _s([1, 2], [0.8, 0.2]),     # supported; citation 2 is irrelevant -> recall 1
        _s([], [0.9, 0.0]),         # supported but uncited               -> recall 0
        _s([2], [0.1, 0.3]),        # cited, unsupported                  -> recall 0
        _s([], [], claim=False),    # not a claim: ignored
    ]
    scores = citation_scores(sentences, passages, refs)
    assert scores["citation_recall"] == pytest.approx(2 / 4)
    # written citations: 1 (ok), 1 (ok), 2 (irrelevant), 2 (not supporting) -> 2 / 4
    assert scores["citation_precision"] == pytest.approx(2 / 4)
    assert scores["citation_gold"] == pytest.approx(2 / 4)  # two of four point to gold.md
    assert scores["valid_citation"] == 1.0  # a kept citation points to gold.md


def test_invalid_and_moved_citations():
    passages = [_p("gold.md"), _p("other.md")]
    refs = [SourceRef("gold.md")]
    # the model cited passage 2 (unsupported); the verifier moved it to 1, plus [9]
    sentences = [_s([2], [0.9, 0.1], citations=[1], invalid=[9])]
    scores = citation_scores(sentences, passages, refs)
    assert scores["citation_recall"] == 0.0
    assert scores["citation_precision"] == 0.0  # 0 of 2 (the out-of-range one fails too)
    assert scores["valid_citation"] == 0.0  # the gold citation was moved in, not kept
    assert citation_scores([_s([1], [0.9, 0.1])], passages, [])["valid_citation"] is None


def test_question_metrics_short_answer_and_abstention():
    m = question_metrics(answer_text="30 days [1].", abstained=False, gold_answer="30 days",
                         kind="short", refs=[SourceRef("a.md")], retrieval=False,
                         latency_s=1.5, completion_tokens=4)
    assert (m["exact_match"], m["contains_answer"], m["token_f1"]) == (1.0, 1.0, 1.0)
    assert m["abstain_recall"] is None and m["abstain_precision"] is None
    assert m["recall@k"] is None and m["citation_recall"] is None  # closed book
    assert (m["latency_s"], m["completion_tokens"], m["abstained"]) == (1.5, 4.0, 0.0)
    long = question_metrics(answer_text="You can return it within 30 days of delivery.",
                            abstained=False, gold_answer="30 days", kind="short", refs=[],
                            retrieval=False)
    assert long["exact_match"] == 0.0 and long["contains_answer"] == 1.0
    # 9 tokens (you can return it within 30 days of delivery): P 2/9, R 1 -> F1 4/11
    assert long["token_f1"] == pytest.approx(4 / 11)
    # abstaining on an unanswerable question is right; on an answerable one it is not
    right = question_metrics(answer_text="The documents do not cover this.", abstained=True,
                             gold_answer=None, kind="short", refs=[], retrieval=True)
    assert (right["abstain_recall"], right["abstain_precision"]) == (1.0, 1.0)
    assert right["exact_match"] is None and right["citation_recall"] is None
    wrong = question_metrics(answer_text="The documents do not cover this.", abstained=True,
                             gold_answer="30 days", kind="short", refs=[], retrieval=True)
    assert (wrong["abstain_recall"], wrong["abstain_precision"]) == (None, 0.0)
    assert wrong["exact_match"] == 0.0 and wrong["contains_answer"] == 0.0
    missed = question_metrics(answer_text="It is 5 days.", abstained=False, gold_answer=None,
                              kind="short", refs=[], retrieval=False)
    assert missed["abstain_recall"] == 0.0 and missed["abstain_precision"] is None


def test_question_metrics_yes_no_accuracy():
    def acc(text, gold, abstained=False):
        return question_metrics(answer_text=text, abstained=abstained, gold_answer=gold,
                                kind="yesno", refs=[], retrieval=False)["accuracy"]

    assert acc("Yes. The study found ...", "yes") == 1.0
    assert acc("No, it does not [2].", "yes") == 0.0
    assert acc("It is unclear, maybe.", "maybe") == 1.0
    assert acc("The documents do not cover this.", "no", abstained=True) == 0.0
    m = question_metrics(answer_text="Yes.", abstained=False, gold_answer="yes", kind="yesno",
                         refs=[], retrieval=False)
    assert m["exact_match"] is None


def test_summarize_means_intervals_and_latency_quantiles():
    per_q = {str(i): {"exact_match": float(i < 3), "latency_s": float(i + 1),
                      "abstain_recall": None} for i in range(10)}
    s = summarize(per_q, n_resamples=500)
    em = s["exact_match"]
    assert em.value == pytest.approx(0.3) and em.n == 10
    assert 0.0 <= em.low <= 0.3 <= em.high <= 1.0
    assert "abstain_recall" not in s
    assert s["latency_p50"].value == pytest.approx(5.5)  # median of 1..10
    assert s["latency_p95"].value == pytest.approx(9.55)  # linear interpolation
    constant = quantile_ci([2.0] * 5, 0.5)
    assert (constant.value, constant.low, constant.high) == (2.0, 2.0, 2.0)


def test_compare_setups_finds_real_differences_only():
    good = {str(i): {"accuracy": 1.0} for i in range(30)}
    bad = {str(i): {"accuracy": 0.0 if i < 25 else 1.0} for i in range(30)}
    same = {str(i): {"accuracy": 1.0} for i in range(30)}
    out = {(c.a, c.b): c for c in compare_setups({"good": good, "bad": bad, "same": same},
                                                  metrics=["accuracy"], n_resamples=2000)}
    assert out[("good", "bad")].significant and out[("good", "bad")].diff == pytest.approx(25 / 30)
    assert out[("good", "same")].p_value == 1.0 and not out[("good", "same")].significant
    # a metric only one setup has is not compared
    assert compare_setups({"a": {"1": {"mrr": 1.0}}, "b": {"1": {"mrr": None}}}) == []
    assert Estimate(1.0, 0.5, 1.0, 3).to_json()["n"] == 3


# -- outcomes: answered, correct, wrong, stale, cited, long -----------------------------------

from eval.answer_metrics import LONG_ANSWER_WORDS, answer_kind, outcome_scores  # noqa: E402


def _ans(text: str, abstained: bool = False, citations=(), usage=None, **extra) -> dict:
    return {"answer": text, "abstained": abstained, "citations": list(citations),
            "usage": usage or {}, **extra}


def _gold(answer, **extra) -> dict:
    return {"answer": answer, "kind": "short",
            "sources": [{"file": "policies/refunds-2025.md", "page": None,
                         "heading": "Refund window"}], **extra}


GOLD_CITE = {"source": "policies/refunds-2025.md", "page_index": None,
             "heading": "Refunds > Refund window"}
STALE_CITE = {"source": "policies/refunds-2023.md", "page_index": None,
              "heading": "Refund window"}


def test_correct_takes_an_alias_and_refuses_the_stale_answer():
    gold = _gold("30 days", aliases=["thirty days"], stale_answer="14 days")
    assert outcome_scores(_ans("You have thirty days [1]."), gold)["correct"] == 1.0
    # both values: the archived one is there too, so it is not a correct answer
    both = outcome_scores(_ans("It was 14 days, now 30 days."), gold)
    assert both["correct"] == 0.0 and both["wrong"] == 1.0 and both["stale"] == 1.0
    old = outcome_scores(_ans("14 days."), gold)
    assert (old["correct"], old["wrong"], old["stale"]) == (0.0, 1.0, 1.0)
    # "30 days" inside "130 days" is not the answer (whole words only)
    assert outcome_scores(_ans("130 days."), gold)["correct"] == 0.0


def test_every_answer_part_is_needed():
    gold = _gold("58 dB", answer_parts=["58 dB", "69 dB"])
    assert outcome_scores(_ans("58 dB in Eco, 69 dB in Max."), gold)["correct"] == 1.0
    assert outcome_scores(_ans("58 dB in Eco."), gold)["correct"] == 0.0


def test_quoted_evidence_does_not_count_beside_another_answer():
    gold = _gold("30 days")
    quoted = _ans('Passage [1] says: "You can return any product within 30 days of '
                  'delivery" So the answer is: 60 days.')
    assert outcome_scores(quoted, gold)["correct"] == 0.0
    # a quote alone is an extractive answer: it holds the answer
    alone = _ans('"You can return any product within 30 days of delivery"')
    assert outcome_scores(alone, gold)["correct"] == 1.0


def test_wrong_is_over_answers_given_and_abstentions_are_not_wrong():
    answerable, unanswerable = _gold("30 days"), _gold(None, sources=[])
    abstained = outcome_scores(_ans("The documents do not cover this.", abstained=True),
                               answerable)
    assert abstained["answered"] == 0.0 and abstained["correct"] == 0.0
    assert abstained["wrong"] is None and abstained["long_answer"] is None
    made_up = outcome_scores(_ans("Yes, 90 days."), unanswerable)
    assert made_up["wrong"] == 1.0 and made_up["correct"] is None
    declined = outcome_scores(_ans("x", abstained=True), unanswerable)
    assert declined["wrong"] is None and declined["answered"] == 0.0
    failed = outcome_scores(None, answerable, error="boom")
    assert failed["answered"] == 0.0 and failed["correct"] == 0.0 and failed["wrong"] is None


def test_a_decline_points_to_the_answer_only_when_a_shown_passage_holds_it():
    gold = _gold("30 days", aliases=["thirty days"])
    shown = [{"text": "Shipping takes 5 days."}, {"text": "Returns: within thirty days."}]
    pointed = outcome_scores(_ans("The documents do not cover this.", abstained=True,
                                  passages=shown), gold)
    assert pointed["correct"] == 0.0 and pointed["declined_pointed"] == 1.0
    assert pointed["correct_or_pointed"] == 1.0
    # only the first three passages are shown as related; a fourth does not count
    late = [{"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "within 30 days"}]
    hidden = outcome_scores(_ans("x", abstained=True, passages=late), gold)
    assert hidden["declined_pointed"] == 0.0 and hidden["correct_or_pointed"] == 0.0
    # "130 days" is not the answer; nor is an answer given pointing
    near = outcome_scores(_ans("x", abstained=True, passages=[{"text": "130 days"}]), gold)
    assert near["declined_pointed"] == 0.0
    answered = outcome_scores(_ans("30 days [1].", passages=shown), gold)
    assert answered["declined_pointed"] is None and answered["correct_or_pointed"] == 1.0
    wrong = outcome_scores(_ans("60 days [1].", passages=shown), gold)
    assert wrong["correct_or_pointed"] == 0.0
    # unanswerable and yes/no questions take no part
    none = outcome_scores(_ans("x", abstained=True, passages=shown), _gold(None, sources=[]))
    assert none["declined_pointed"] is None and none["correct_or_pointed"] is None
    verdict = outcome_scores(_ans("x", abstained=True, passages=[{"text": "yes"}]),
                             {"answer": "yes", "kind": "yesno", "sources": []})
    assert verdict["declined_pointed"] is None and verdict["correct_or_pointed"] is None


def test_correct_and_cited_needs_a_citation_to_the_gold_section():
    gold = _gold("30 days", stale_answer="14 days")
    cited = outcome_scores(_ans("30 days [1].", citations=[GOLD_CITE]), gold)
    assert cited["correct_and_cited"] == 1.0 and cited["gold_cited_model"] == 1.0
    elsewhere = outcome_scores(_ans("30 days [1].", citations=[STALE_CITE]), gold)
    assert elsewhere["correct_and_cited"] == 0.0 and elsewhere["gold_cited_model"] == 0.0
    uncited = outcome_scores(_ans("30 days."), gold)
    assert uncited["correct"] == 1.0 and uncited["correct_and_cited"] == 0.0
    # a stale source listed beside the gold one is never gold
    with_stale = _gold("30 days", sources=[
        {"file": "policies/refunds-2025.md", "page": None, "heading": "Refund window"},
        {"file": "policies/refunds-2023.md", "page": None, "heading": "Refund window",
         "role": "stale"}])
    assert outcome_scores(_ans("30 days [1].", citations=[STALE_CITE]),
                          with_stale)["correct_and_cited"] == 0.0


def test_model_and_system_citations_are_scored_apart():
    gold = _gold("30 days")
    # no origin recorded: every citation is the model's, nothing is known of the system's
    plain = outcome_scores(_ans("30 days [1].", citations=[GOLD_CITE]), gold)
    assert plain["gold_cited_model"] == 1.0 and plain["gold_cited_system"] is None
    mixed = outcome_scores(_ans("30 days [1][2].", citations=[
        {**STALE_CITE, "origin": "model"}, {**GOLD_CITE, "origin": "verifier"}]), gold)
    assert mixed["gold_cited_model"] == 0.0 and mixed["gold_cited_system"] == 1.0
    assert mixed["correct_and_cited"] == 1.0


def test_long_answers_are_flagged_and_tokens_kept():
    gold = _gold("30 days")
    long_text = "30 days. " + "word " * LONG_ANSWER_WORDS
    scores = outcome_scores(_ans(long_text, usage={"prompt_tokens": 812}), gold)
    assert scores["long_answer"] == 1.0 and scores["prompt_tokens"] == 812.0
    assert outcome_scores(_ans("30 days."), gold)["long_answer"] == 0.0


def test_yes_no_questions_are_correct_by_their_decision():
    gold = {"answer": "yes", "kind": "yesno", "sources": []}
    assert outcome_scores(_ans("Yes, it does."), gold)["correct"] == 1.0
    assert outcome_scores(_ans("No."), gold)["wrong"] == 1.0


def test_answer_kind_reads_the_record_or_falls_back():
    assert answer_kind(_ans("x", answer_kind="extracted")) == "extracted"
    assert answer_kind(_ans("x", abstained=True)) == "abstained"
    assert answer_kind(_ans("x")) == "generated"
    assert answer_kind(None, error="boom") == "error"


def test_a_yes_no_alias_must_open_the_answer():
    gold = _gold("not accepted as returns", aliases=["no"])
    assert outcome_scores(_ans("No, opened items are not accepted."), gold)["correct"] == 1.0
    assert outcome_scores(_ans("The answer is: No."), gold)["correct"] == 1.0
    rambling = _ans("1. The robot is returnable. 2. There is no box needed.")
    assert outcome_scores(rambling, gold)["correct"] == 0.0
    assert outcome_scores(_ans("Yes, no problem."), gold)["correct"] == 0.0


def test_a_gold_the_question_names_must_occur_as_written():
    # "RMA-" normalises to the question's own "RMA": naming the RMA number is not saying
    # what it starts with.
    q = "What does the RMA number for a warranty repair start with?"
    gold = _gold("RMA-")
    said = outcome_scores(_ans('It starts with "RMA-" [1].', question=q), gold)
    named = outcome_scores(_ans("The RMA number is 11111 [1].", question=q), gold)
    assert said["correct"] == 1.0 and (named["correct"], named["wrong"]) == (0.0, 1.0)
    # A choice the question offers as written keeps the plain rule.
    choice = _gold("NULL")
    q2 = "What does array_length return for an empty array: 0 or NULL?"
    assert outcome_scores(_ans("It returns NULL.", question=q2), choice)["correct"] == 1.0
