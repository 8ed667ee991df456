"""A reader judging evidence units where extraction declines (``assistant.answering.judge``,
``extract.judged``): which unit the judge's probabilities pick and which they may not; a
tiny causal LM built here as the judge (loaded once, on first use); the answerer answering
a paraphrase extraction declines, cited to the unit with origin ``judge``, or declining
when no unit is rated high enough; the setting and the eval config that turn it on."""

from __future__ import annotations

import re

import pytest

from assistant.answering.answer import AnswerConfig, RagAnswerer
from assistant.answering.citations import CitationVerifier
from assistant.answering.extract import AnswerType, extract, judged
from assistant.answering.judge import UnitJudge
from core.errors import ConfigError
from index.build import ingest
from index.searcher import Searcher
from tests.assistant.test_answer import write_docs
from tests.assistant.test_extract import unit
from tests.tiny_models import build_tiny_model

WINDOW = unit("Customers may return a robot within 30 days of delivery for a full refund.",
              "Refunds > Refund window")
PAYOUT = unit("Refunds reach the original payment method within 5 business days.",
              "Refunds > Refund window")
PRICE = unit("The SweepBot X9 Pro costs $799 and comes with a charging dock.",
             "SweepBot X9 Pro > Price")
# Shares one key term ("back") with neither unit: extraction declines it.
PARAPHRASE = "Once you have my parcel back, how soon does the money reach my card?"


def test_the_judge_picks_the_unit_it_rates_highest_among_those_that_qualify():
    units = [WINDOW, PAYOUT, PRICE]
    assert extract(PARAPHRASE, units) is None
    found = judged(PARAPHRASE, units, [0.2, 0.8, 0.9], 0.5)
    # PRICE is rated higher but holds no duration; PAYOUT does.
    assert found is not None and found.unit is PAYOUT and found.span == "within 5 business days"
    assert found.answer_type is AnswerType.DURATION and "judge rates 0.80" in found.reason
    assert judged(PARAPHRASE, units, [0.2, 0.4, 0.9], 0.5) is None  # under min_p
    assert judged(PARAPHRASE, [], [], 0.5) is None
    # A name the question writes must be in the unit, however sure the judge is.
    assert judged("How long does the MopMate M3 take to refund?", units, [1.0, 1.0, 1.0],
                  0.0) is None
    # "other" questions take the whole unit.
    other = judged("What comes with the X9 Pro?", [PRICE], [0.7], 0.5)
    assert other is not None and other.span == PRICE.text


def test_where_to_look_holds_for_the_judge_as_for_extraction():
    question = "Under the Refunds policy, how soon does the money reach my card?"
    elsewhere = unit("Store credit reaches your account within 5 business days.",
                     "Shipping > Returns")
    # the judge's pick must come from where the question says, as extraction's must
    assert judged(question, [elsewhere], [0.9], 0.5) is None
    found = judged(question, [elsewhere, PAYOUT], [0.9, 0.6], 0.5)
    assert found is not None and found.unit is PAYOUT


def test_a_current_unit_wins_over_a_superseded_one():
    old = unit("Refunds reach the original payment method within 14 business days.",
               "Refunds (2023) > Refund window", status="superseded")
    found = judged(PARAPHRASE, [old, PAYOUT], [0.95, 0.6], 0.5)
    assert found is not None and found.unit is PAYOUT
    only_old = judged(PARAPHRASE, [old], [0.95], 0.5)
    assert only_old is not None and only_old.unit is old


@pytest.fixture(scope="module")
def judge_dir(tmp_path_factory):
    words = ("Yes No yes no Question : Sentence Does the sentence answer question ? You "
             "check whether a from company's documents answers customer's Reply with or "
             "only . Refunds reach original payment method within 5 business days")
    return build_tiny_model(tmp_path_factory.mktemp("judge"), words, max_positions=512)


def test_a_tiny_model_judges_each_unit_once_loaded(judge_dir, monkeypatch):
    from assistant.answering import models

    loads = []
    real = models.load_base
    monkeypatch.setattr(models, "load_base", lambda *a, **k: loads.append(a) or real(*a, **k))
    judge = UnitJudge(str(judge_dir), 0.5, device="cpu")
    assert loads == []  # nothing loads before the first question
    probs = judge(PARAPHRASE, [WINDOW, PAYOUT, PRICE])
    assert len(probs) == 3 and all(0.0 < p < 1.0 for p in probs)
    assert judge(PARAPHRASE, [PAYOUT]) == pytest.approx([probs[1]], abs=1e-5)  # no padding leak
    assert judge(PARAPHRASE, []) == [] and len(loads) == 1
    for bad, match in ((-0.1, "min_p"), (1.5, "min_p")):
        with pytest.raises(ConfigError, match=match):
            UnitJudge(str(judge_dir), bad)
    with pytest.raises(ConfigError, match="needs a model"):
        UnitJudge(" ")


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("judge-corpus")
    write_docs(root / "docs")
    ingest([root / "docs"], root / "index", progress=False, embedder=embedder)
    return Searcher(root / "index", embedder=embedder)


class NoModel:
    """TEST STUB, not a model: extract or decline never asks it (a call fails the test)."""

    model_id = "no-model"
    context_window = 2048

    def count_tokens(self, text):
        return len(text.split())

    def __getattr__(self, name):
        raise AssertionError(f"the generator was asked ({name})")


def test_the_answerer_answers_what_extraction_declines_with_the_judges_unit(
        searcher, embedder, judge_dir):
    config = AnswerConfig(generate=False)
    plain = RagAnswerer(searcher, NoModel(), CitationVerifier(embedder), config)
    declined = plain.answer(PARAPHRASE)
    assert declined.abstained and declined.abstain_reason.startswith("no_extraction:")
    lenient = RagAnswerer(searcher, NoModel(), CitationVerifier(embedder), config,
                          judge=UnitJudge(str(judge_dir), 0.0, device="cpu"))
    answer = lenient.answer(PARAPHRASE)
    assert not answer.abstained and answer.answer_kind == "extracted"
    (cite,) = answer.citations
    assert cite.origin == "judge" and cite.quote in answer.passages[cite.n - 1].text
    # An untrained judge rates units at random; what it picks must still be a unit that
    # holds the kind of thing asked for (a duration), marked in the quoted sentence.
    assert re.search(r"\*\*[^*]*\bdays\*\*", answer.answer)
    strict = RagAnswerer(searcher, NoModel(), CitationVerifier(embedder), config,
                         judge=UnitJudge(str(judge_dir), 1.0, device="cpu"))
    assert strict.answer(PARAPHRASE).abstained  # P(yes) is never 1: nothing is picked


def test_the_setting_gives_built_answerers_a_judge(searcher, embedder, judge_dir,
                                                   monkeypatch):
    from assistant.answering.build import build_answerer
    from core.settings import get_settings

    monkeypatch.setenv("ASSISTANT_ANSWER_UNIT_JUDGE", str(judge_dir))
    monkeypatch.setenv("ASSISTANT_ANSWER_UNIT_JUDGE_MIN_P", "0.7")
    get_settings.cache_clear()
    try:
        built = build_answerer(NoModel(), searcher, embedder=embedder)
        assert built.judge.model_name == str(judge_dir) and built.judge.min_p == 0.7
        monkeypatch.setenv("ASSISTANT_ANSWER_UNIT_JUDGE_MIN_P", "2")
        get_settings.cache_clear()
        with pytest.raises(ConfigError, match="ASSISTANT_ANSWER_UNIT_JUDGE_MIN_P"):
            get_settings()
    finally:
        monkeypatch.delenv("ASSISTANT_ANSWER_UNIT_JUDGE")
        monkeypatch.delenv("ASSISTANT_ANSWER_UNIT_JUDGE_MIN_P")
        get_settings.cache_clear()
    assert build_answerer(NoModel(), searcher, embedder=embedder).judge is None
