"""Evidence units: splitting retrieved passages into sentences, list items and table rows,
and selecting the few that answer a question. Hand-made passages, no model, except the
last test: every gold answer of examples/acme/eval_questions.jsonl must fall inside one
unit of its gold passage in a real index of the acme documents."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from assistant.answering.evidence import (
    EvidenceUnit,
    select_units,
    split_passage,
    split_passages,
)
from assistant.answering.evidence_scoring import (
    EmbeddingScorer,
    LexicalScorer,
    content_terms,
    division_numbers,
    lexical_overlap,
    term_set,
)
from assistant.answering.segment import MAX_MERGED_WORDS, clean_text, split_sentences
from core.errors import ConfigError
from index.records import Passage


def passage(text: str, heading: tuple[str, ...] = ("Guide", "Section"), title: str = "Guide",
            chunk_id: str = "c1", source: str = "guide.md", **kw) -> Passage:
    return Passage(chunk_id=chunk_id, doc_id="d", source=source, text=text, score=1.0,
                   heading=heading, title=title, **kw)


def texts(p) -> list[str]:
    return [u.text for u in split_passage(p)]


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


# -- sentences -------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Use a mild cleaner, e.g. Acme Clean, on the tank.",
    "Acme Robotics, Inc. designs robots in Portland.",
    "Our representative is Acme Robotics Europe Ltd. in Dublin.",
    "Press to clean a 1.5 m by 1.5 m area around the robot.",
    "The X9 Pro shipped with firmware v2.9.0 and later 3.4.1 in June.",
    "Support opens at 9 a.m. Pacific Time on weekdays.",
    "The window ends at 11:59 p.m. Pacific Time on the 30th day.",
    "The battery holds 3.6 kWh vs. 2.1 kWh in the S5.",
    "Store it between 10 and 30 degrees C in a dry room.",
])
def test_no_break_inside_abbreviations_decimals_times_versions(text):
    assert sentences(text) == [text]


def test_breaks_between_sentences():
    text = ("Rinse the pads at 60 degrees C. Do not use softener! Is it dry? "
            "Call us at 9 a.m. The line opens then. Costs $9.95. Launched 2024.")
    assert sentences(text) == [
        "Rinse the pads at 60 degrees C.", "Do not use softener!", "Is it dry?",
        "Call us at 9 a.m.", "The line opens then.", "Costs $9.95.", "Launched 2024."]


def test_wrapped_lines_are_joined_before_splitting():
    text = ("Regulatory information\n"
            "The HomeHub H2 connects your robots to other smart home devices. It speaks "
            "Matter, Zigbee\n"
            "3.0 and Thread, so robots can react to sensors. Lockouts last\n"
            "15 minutes.")
    got = texts(passage(text, heading=("Guide", "Regulatory information")))
    assert any("Matter, Zigbee 3.0 and Thread" in t for t in got)
    assert got[-1] == "Lockouts last 15 minutes."


def test_a_narrow_columns_wrapped_lines_are_joined():
    # a Federal Register column: lines of about 40 characters, no line ends a sentence
    text = ("2 The Privilege of the Writ of Habeas Corpus\n"
            "shall not be suspended, unless when in Cases of\n"
            "Rebellion or Invasion the public Safety may\n"
            "require it. For more information about this\n"
            "AD, contact Ian Won, Manager, Seattle ACO\n"
            "Branch, FAA, 2200 South 216th St.\n")
    got = texts(passage(text))
    assert got[0].endswith("unless when in Cases of Rebellion or Invasion the public Safety "
                           "may require it.")
    assert got[1].startswith("For more information about this AD, contact Ian Won, Manager, "
                             "Seattle ACO Branch, FAA")
    # a passage of long lines keeps the usual width: a short unfinished line followed by a
    # capital starts a new unit
    long = ("Regulatory information for the HomeHub H2 hub and robots\n"
            "Matter and Thread are supported on every hub sold since 2024.\n")
    assert len(texts(passage(long * 3))) > 1


# -- merging ---------------------------------------------------------------------------


def test_fragment_merges_with_next_sentence():
    got = texts(passage("Yes. The home owner invites members under Home > Members > Invite. "
                        "Members need their own account to join."))
    assert got == ["Yes. The home owner invites members under Home > Members > Invite.",
                   "Members need their own account to join."]


def test_last_fragment_merges_with_previous():
    got = texts(passage("The company ships robots to nine countries. Updated June 2025."))
    assert got == ["The company ships robots to nine countries. Updated June 2025."]


def test_sentence_referring_back_merges_with_previous():
    got = texts(passage("The M3 was released in May 2024. It is designed for sealed hard floors "
                        "only. Do not use it on carpet or rugs at all."))
    assert got == ["The M3 was released in May 2024. It is designed for sealed hard floors only.",
                   "Do not use it on carpet or rugs at all."]


def test_merging_stops_at_max_words():
    long = " ".join(["word"] * (MAX_MERGED_WORDS - 5)) + "."
    got = texts(passage(f"{long} This sentence refers back but would make it too long."))
    assert len(got) == 2


# -- lists, tables, headings -----------------------------------------------------------


def test_list_items_are_whole_and_in_order():
    text = ("Setting up\n\n1. Place the hub at least 1 m away from the router. Keep it dry.\n"
            "2. Plug in the adapter and wait until the light flashes green, about\n"
            "40 seconds.\n3. Scan the QR code.\n- Quick start guide\n* Ethernet cable, 1 m")
    got = split_passage(passage(text, heading=("Guide", "Setting up")))
    assert [u.text for u in got] == [
        "1. Place the hub at least 1 m away from the router. Keep it dry.",
        "2. Plug in the adapter and wait until the light flashes green, about 40 seconds.",
        "3. Scan the QR code.", "Quick start guide", "Ethernet cable, 1 m"]
    assert {u.kind for u in got} == {"item"}


def test_markdown_table_rows_carry_their_header():
    text = ("Regional prices\n\n| Plan | Canada | EU |\n|---|---|---|\n"
            "| Plus monthly | CAD 16.99 | EUR 12.99 |\n"
            "| Premium monthly | CAD 25.99 | EUR 19.99 |\n\n"
            "EU prices include VAT.")
    got = split_passage(passage(text, heading=("Guide", "Regional prices")))
    assert [u.text for u in got] == [
        "Plan: Plus monthly; Canada: CAD 16.99; EU: EUR 12.99",
        "Plan: Premium monthly; Canada: CAD 25.99; EU: EUR 19.99",
        "EU prices include VAT."]
    assert [u.kind for u in got] == ["row", "row", "sentence"]
    assert "| Plus monthly |" in text[got[0].start:got[0].end]


def test_markdown_table_without_header_and_escapes():
    text = "| Battery | 6,400 mAh |\n| Error | invalid\\_token |"
    assert texts(passage(text)) == ["Battery: 6,400 mAh", "Error: invalid_token"]


def test_table_without_separator_row_still_has_its_header():
    # As HTML tables come out: no |---| row, a first row of labels over rows of figures.
    text = "| Day | Phone and live chat |\n| Monday to Friday | 6:00 a.m. to 6:00 p.m. |"
    assert texts(passage(text)) == [
        "Day: Monday to Friday; Phone and live chat: 6:00 a.m. to 6:00 p.m."]


def test_plain_table_rows_carry_their_first_line():
    text = ("Suction modes\nThe X9 Pro has four suction modes.\nMode Suction Typical use\n"
            "Quiet 1,800 Pa Daily cleaning at night\nTurbo 4,500 Pa Rugs and pet hair\n"
            "Owner Everything, including billing and deleting the\norganization\n"
            "Guide - Page 3")
    got = texts(passage(text, heading=("Guide", "Suction modes")))
    assert got == ["The X9 Pro has four suction modes.",
                   "Mode Suction Typical use: Quiet 1,800 Pa Daily cleaning at night",
                   "Mode Suction Typical use: Turbo 4,500 Pa Rugs and pet hair",
                   "Mode Suction Typical use: Owner Everything, including billing and deleting "
                   "the organization"]


def test_headings_dropped_and_text_file_headings_join_the_prefix():
    text = ("STORAGE\n-------\n\nIf you will not use the robot for more than 1 month, charge it\n"
            "to about 50%.\n\nHOW TO REPLACE THE BRUSH\n\n1. Switch the robot off.")
    got = split_passage(passage(text, heading=(), title="maintenance"))
    assert [u.text for u in got] == [
        "If you will not use the robot for more than 1 month, charge it to about 50%.",
        "1. Switch the robot off."]
    assert got[0].prefix == "maintenance > STORAGE"
    assert got[1].prefix == "maintenance > HOW TO REPLACE THE BRUSH"


def test_lead_in_colon_merges_into_what_follows():
    text = "Base URL\n\nAll requests go to:\n\n```\nhttps://api.example/v2\n```\n"
    assert texts(passage(text, heading=("Guide", "Base URL"))) == [
        "All requests go to: https://api.example/v2"]


def test_address_lines_become_one_unit():
    text = ("Mailing address\n\nAcme Robotics, Inc.\n\nCustomer Support\n\n2200 Foundry Lane\n\n"
            "Portland, OR 97209\n\nDo not send products to this address.")
    got = texts(passage(text, heading=("Guide", "Mailing address")))
    assert got[0] == "Acme Robotics, Inc., Customer Support, 2200 Foundry Lane, Portland, OR 97209"


def test_clean_text_removes_markup():
    assert clean_text("> The **reset link** is valid for *60 minutes* (`E70`, a\\_b).") == (
        "The reset link is valid for 60 minutes (E70, a_b).")


# -- unit records ----------------------------------------------------------------------


def test_unit_keeps_where_it_came_from():
    text = ("Refund window\n\nYou can return any product within **30 days**. Fees for opened "
            "items apply after that.")
    p = passage(text, heading=("Returns Policy", "Refund window"), title="Returns Policy",
                chunk_id="abc", source="policies/refunds.md", page_index=3, page_label="iii")
    unit = split_passage(p, passage_rank=2)[0]
    assert unit == EvidenceUnit(
        text="You can return any product within 30 days.", prefix="Returns Policy > Refund window",
        chunk_id="abc", source="policies/refunds.md", page_index=3, page_label="iii",
        heading=("Returns Policy", "Refund window"), start=unit.start, end=unit.end,
        kind="sentence", passage_rank=2, position=0, path="Returns Policy > Refund window")
    assert text[unit.start:unit.end] == "You can return any product within **30 days**."
    with pytest.raises(AttributeError):
        unit.text = "changed"  # frozen


def test_prefix_carries_status_and_date_when_known():
    # Read with getattr, so any passage-like record works, with or without the fields.
    p = SimpleNamespace(text="Plus costs $9.99 per month in the old sheet.", chunk_id="c",
                        source="plans/2023.pdf", page_index=1, page_label="1", title="Sheet",
                        heading=("Sheet", "Plans"), status="archived", effective_date="2023-02-01")
    unit = split_passage(p)[0]
    assert unit.prefix == "Sheet > Plans (archived; effective 2023-02-01)"
    assert unit.path == "Sheet > Plans" and unit.stale
    del p.status, p.effective_date
    assert split_passage(p)[0].prefix == "Sheet > Plans"


def test_overlapping_chunks_are_not_repeated():
    a = passage("Parts are sold for 7 years. Support continues until at least 2030.")
    b = passage("Support continues until at least 2030. The S5 is discontinued.", chunk_id="c2")
    got = split_passages([a, b])
    assert [u.text for u in got] == ["Parts are sold for 7 years.",
                                     "Support continues until at least 2030.",
                                     "The S5 is discontinued."]
    assert [u.passage_rank for u in got] == [0, 0, 1]


def test_empty_passage_has_no_units():
    assert split_passage(passage("")) == []
    assert split_passage(passage("Section\n\n")) == []


# -- selection -------------------------------------------------------------------------

PASSAGES = [
    passage("The dust bag holds 3.0 liters. It lasts up to 60 days. Use genuine bags only.",
            chunk_id="p0", heading=("Manual", "Dust bag")),
    passage("The dustbin holds 400 mL. Empty the dustbin after every run.", chunk_id="p1",
            heading=("Manual", "Dustbin")),
    passage("Replacement dust bags cost $21.99 for a 6-pack.", chunk_id="p2",
            heading=("Parts", "Prices")),
]


def test_selection_is_in_document_order_with_scores():
    sel = select_units("How much does the dustbin hold after a run?", PASSAGES, LexicalScorer(),
                       k=3, min_score=0.0)
    kept = [(s.unit.chunk_id, s.unit.position) for s in sel.units]
    assert kept == sorted(kept, key=lambda cp: (int(cp[0][1]), cp[1]))
    best = sel.by_score()[0]
    assert best.rank == 0 and best.unit.chunk_id == "p1"
    assert [s.rank for s in sel.by_score()] == [0, 1, 2]
    assert sel.best_score == best.score and not sel.abstain
    assert sel.n_candidates == 5  # "It lasts ..." joined the sentence before it


def test_selection_keeps_k_units_within_the_budget():
    scorer = LexicalScorer()
    question = "How long does the dust bag last?"
    assert len(select_units(question, PASSAGES, scorer, k=1, min_score=0).units) == 1
    tight = select_units(question, PASSAGES, scorer, budget_tokens=9, k=5, min_score=0)
    assert sum(len(s.unit.text.split()) * 4 / 3 for s in tight.units) <= 9 + 1
    assert tight.units  # a unit that overflows is skipped, a shorter one still fits
    counted = select_units(question, PASSAGES, scorer, budget_tokens=2, k=5, min_score=0,
                           count_tokens=lambda text: 1)
    assert len(counted.units) == 2


def test_selection_abstains_below_min_score():
    sel = select_units("What is the capital of France?", PASSAGES, LexicalScorer(),
                       min_score=0.2)
    assert sel.abstain and sel.best_score < 0.2
    none = select_units("anything", [], LexicalScorer())
    assert none.abstain and none.units == () and none.n_candidates == 0


def test_selection_rejects_bad_limits():
    with pytest.raises(ConfigError, match="k must be"):
        select_units("q", PASSAGES, LexicalScorer(), k=0)
    with pytest.raises(ConfigError, match="budget_tokens"):
        select_units("q", PASSAGES, LexicalScorer(), budget_tokens=0)


# -- scoring ---------------------------------------------------------------------------


class BagOfWords:
    """A stand-in embedder: normalized word counts over a fixed vocabulary."""

    VOCAB = ("dust", "bag", "holds", "liters", "dustbin", "ml", "lasts", "days", "price", "parts",
             "manual")

    def __init__(self):
        self.calls: list[str] = []

    def encode(self, texts):
        self.calls.extend(texts)
        rows = []
        for t in texts:
            words = t.lower().replace(".", " ").replace(":", " ").split()
            v = np.array([words.count(w) for w in self.VOCAB], dtype=np.float32) + 1e-3
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows)


def test_content_terms_and_overlap():
    assert content_terms("How long does the dust bag last in my X9 Pro?") == [
        "dust", "bag", "last", "x9", "pro"]
    unit = split_passage(PASSAGES[0])[0]
    assert lexical_overlap("dust bag colour", unit) == pytest.approx(2 / 3)
    # A term found only in the heading path counts half by default.
    assert lexical_overlap("manual colour", unit) == pytest.approx(0.25)
    assert lexical_overlap("manual colour", unit, prefix_weight=1.0) == pytest.approx(0.5)


@pytest.mark.parametrize("words, same", [
    (("quickly", "quick"), True), (("weekly", "week"), True), (("monthly", "month"), True),
    (("apply", "app"), False), (("reply", "rep"), False), (("early", "ear"), False),
    (("supply", "supp"), False),
])
def test_an_adverb_loses_its_ly_but_a_verb_ending_in_ly_keeps_it(words, same):
    # "From what date do the prices apply?" must not name the Acme "app"
    assert (term_set(words[0]) == term_set(words[1])) is same


def test_embedding_scorer_mixes_cosine_and_overlap_and_embeds_once():
    embedder = BagOfWords()
    units = split_passages(PASSAGES)
    cosine_only = EmbeddingScorer(embedder, lexical_weight=0.0, prefix_weight=0.0)
    scores = cosine_only.score("dustbin ml", units)
    assert units[int(np.argmax(scores))].chunk_id == "p1"
    n_calls = len(embedder.calls)
    cosine_only.score("dustbin ml", units)
    assert len(embedder.calls) == n_calls  # cached
    lexical_only = EmbeddingScorer(embedder, lexical_weight=1.0)
    assert np.allclose(lexical_only.score("dust bag", units), LexicalScorer().score("dust bag",
                                                                                    units))
    ranked = EmbeddingScorer(embedder, lexical_weight=0.0, prefix_weight=0.0, rank_weight=1.0)
    assert ranked.score("price", units)[0] > ranked.score("price", units)[-1]
    with pytest.raises(ConfigError, match="lexical_weight"):
        EmbeddingScorer(embedder, lexical_weight=1.5)


# -- the acme gold answers -------------------------------------------------------------


def _norm(text: str) -> str:
    return " ".join(clean_text(text).casefold().split())


def _heading_matches(chunk_heading: tuple[str, ...], heading: str | None) -> bool:
    return heading is None or not chunk_heading or _norm(heading) in {
        _norm(h) for h in chunk_heading}


@pytest.fixture(scope="module")
def acme_searcher(tmp_path_factory, embedder):
    from acme_corpus import ACME, acme_index

    files = sorted(str(p.relative_to(ACME / "docs")) for p in (ACME / "docs").rglob("*")
                   if p.is_file())
    searcher = acme_index(tmp_path_factory.mktemp("acme-evidence"), files, embedder)
    yield searcher
    searcher.close()


def test_every_gold_answer_falls_inside_one_unit_of_its_passage(acme_searcher):
    """For every answerable question (dev and test), the gold answer string is inside a
    single evidence unit of each chunk of its gold source that holds it. All types are
    checked, ``multi`` included: its ``answer`` is one span by construction (its
    ``answer_parts`` may sit in different sentences and are not checked together)."""
    from acme_corpus import ACME

    records = [json.loads(line) for line in
               (ACME / "eval_questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    answerable = [r for r in records if r["answer"] is not None]
    assert len(answerable) >= 150
    failures, in_heading, checked = [], [], 0
    for r in answerable:
        src = next(s for s in r["sources"] if s.get("role") != "stale")
        chunks = acme_searcher.search(r["question"], k=1000, mode="dense", sources=[src["file"]])
        if src["page"] is not None:
            chunks = [c for c in chunks if c.page_index == src["page"]]
        answer = _norm(r["answer"])
        holding = [c for c in chunks if answer in _norm(c.text)]
        in_section = [c for c in holding if _heading_matches(c.heading, src["heading"])]
        if not holding:
            failures.append(f"{r['id']}: {r['answer']!r} in no chunk of {src['file']}")
            continue
        for chunk in in_section or holding:
            checked += 1
            units = split_passage(chunk)
            if any(answer in _norm(u.text) for u in units):
                continue
            # An answer that is the section's own heading ("E70: Firmware update failed",
            # "3.4.0 (6 May 2025)") is in every unit's prefix instead.
            if answer in _norm(" > ".join(chunk.heading)) and units and all(
                    answer in _norm(u.display) for u in units):
                in_heading.append(r["id"])
                continue
            failures.append(f"{r['id']} ({r['type']}): {r['answer']!r} split across "
                            f"{[u.text for u in units]}")
    assert not failures, "\n".join(failures)
    assert checked >= len(answerable)
    assert len(set(in_heading)) <= 3, in_heading


def test_unit_offsets_point_into_the_chunk(acme_searcher):
    for chunk in acme_searcher.search("warranty battery price", k=60, mode="dense"):
        for unit in split_passage(chunk):
            source = chunk.text[unit.start:unit.end]
            assert source.strip() and unit.end <= len(chunk.text)
            if unit.kind == "sentence":
                assert _norm(source) == _norm(unit.text)
            assert replace(unit, text=unit.text).chunk_id == chunk.chunk_id


@pytest.mark.parametrize("text, spelled", [
    ("Article XIV > Section 1", {"14", "14th", "fourteenth", "xiv", "1", "first"}),
    ("the Twenty-fifth Amendment", {"25", "25th", "xxv", "twenty-fifth"}),
    ("under the 22nd amendment", {"22", "xxii", "twenty-second"}),
    ("Chapter 3", {"3", "3rd", "iii", "third"}),
    ("ARTICLE [XVIII].16", {"18", "eighteenth", "xviii"}),
    ("Article LX and Article XLIX", {"60", "sixtieth", "49", "forty-ninth"}),
])
def test_a_numbered_division_is_named_by_each_spelling_of_its_number(text, spelled):
    assert spelled <= division_numbers(text)
    assert spelled <= term_set(text)


def test_a_compound_ordinal_is_one_key_term():
    # "first" of "Article XXI" (twenty-first) would name "the first ten amendments"
    assert "first" not in division_numbers("Article XXI")
    assert content_terms("the Twenty-fifth Amendment") == ["twenty-fifth", "amendment"]
    assert "twenty" in content_terms("within twenty-one days")  # a number, not an ordinal


def test_numerals_away_from_a_division_word_stay_words():
    # "DC", "mix" and "vi" are Roman numerals only beside "article", "chapter", ...
    assert division_numbers("Mix DC power with vi in 3 sections") == set()
    assert "600" not in term_set("Washington, DC")
    assert {"fourteenth", "amendment"} <= term_set("Amendments > Article XIV")


def test_the_version_a_question_names_holds_for_it():
    from assistant.answering.evidence import split_passages

    old = Passage(chunk_id="o", doc_id="o", source="refunds-2023.md", score=1.0,
                  text="Returns are accepted within 14 days.", status="archived",
                  family="refunds", named=True)
    new = replace(old, chunk_id="n", source="refunds-2025.md", named=False,
                              text="Returns are accepted within 30 days.", status="current")
    other = replace(new, chunk_id="x", source="shipping.md", family="shipping",
                                text="Shipping takes five days.")
    units = {u.source: u for u in split_passages([new, old, other])}
    assert not units["refunds-2023.md"].stale  # named: the version that holds
    assert units["refunds-2025.md"].stale  # in force, but another version was asked
    assert not units["shipping.md"].stale  # no version of it was named
    plain = {u.source: u for u in split_passages([replace(old, named=False), new])}
    assert plain["refunds-2023.md"].stale and not plain["refunds-2025.md"].stale
