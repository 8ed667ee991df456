"""Evidence-first answering: the pieces ``RagAnswerer`` uses when
``AnswerConfig.evidence_first`` is on.

- ``gather``: retrieved passages -> evidence units, scored once -> ``choose_units`` (the
  dev-chosen defaults of ``select_units``) plus the best-scored units ``extract`` reads
  (``DEEP_UNITS``; ``extract.extract_ranked`` reads the first ``EXTRACT_UNITS`` at its
  usual thresholds, the rest only with more of the question's key terms).
- ``unit_passage``: a unit as a ``Passage`` (its text, source, page, heading path and its
  document's date and status), so the grounded prompt numbers units and the citation
  verifier checks against them.
- ``guard_repetition``: no sentence twice in one answer, a phrase looping inside a sentence
  cut, a sentence cut off by the token limit dropped.
- ``check_generated``: the model's reply against the units. A sentence no unit supports is
  removed; a supported one keeps the model's ``[n]`` when the verifier confirms it
  (origin ``model``), else gets the unit the verifier attributes it to (``verifier``). The
  whole reply fails when every claim is removed, when under ``min_supported_fraction`` of
  its claims are supported, or when a key fact (number, amount, date, code, model name)
  of a kept sentence is in none of the units it cites (facts the question itself states
  are exempt).
- ``checked_prefixes``: verified streaming's buffer: as a streamed reply completes each
  sentence, the reply so far is checked, and what passes is handed on.
- ``extracted``: ``extract``'s answer with the unit itself as its citation (``extract``),
  or where extraction declines and a unit judge is configured, the judge's pick
  (``judge``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.answering.citations import CitationVerifier, Verification, numbers, split_sentences
from assistant.answering.evidence import (
    EvidenceUnit,
    Selection,
    UnitScorer,
    choose_units,
    split_passages,
)
from assistant.answering.extract import (
    DEEP_UNITS,
    EXTRACT_UNITS,
    Extraction,
    check_answer,
    extract_ranked,
    judged,
)
from assistant.answering.records import Citation
from core.prompt_format import insert_markers, is_abstention

if TYPE_CHECKING:
    from assistant.answering.judge import UnitJudge
from index.records import Passage

_MARKERS = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")
_WORD = re.compile(r"[A-Za-z0-9$%][\w$%.,'/-]*")
# Codes and model names: a word mixing letters and digits (X9, S7, ERR-42, v2.9.0) or with
# a capital inside (SweepBot, iPhone).
_CODE = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9][\w.-]*[A-Za-z0-9]\b"
                   r"|\b[A-Za-z]+[a-z][A-Z][A-Za-z]*\b")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_MONTH = re.compile(r"\b(" + "|".join(m.capitalize() for m in _MONTHS) + r")\b")
LOOP_NGRAM = 4  # words: a phrase this long seen twice in one sentence is a loop


@dataclass(frozen=True)
class Evidence:
    """What ``gather`` found: the ``selection`` (prompt units), ``passages`` (those units as
    ``Passage``s, numbered in the prompt) and ``ranked`` (the best-scored units, best first,
    for ``extract``) with their ``scores``; ``units`` every unit of the passages, in
    passage order (``extract``'s ``pool``)."""

    selection: Selection
    passages: list[Passage]
    ranked: list[EvidenceUnit]
    scores: dict[tuple[str, int, int], float] = field(default_factory=dict)
    units: list[EvidenceUnit] = field(default_factory=list)


def unit_key(unit: EvidenceUnit) -> tuple[str, int, int]:
    return unit.chunk_id, unit.start, unit.end


def unit_passage(unit: EvidenceUnit, source: Passage | None, score: float = 0.0) -> Passage:
    """``unit`` as a ``Passage`` (the ``PassageLike`` the prompt reads): its text, source,
    page, heading; document fields (doc id, title, date, status) from ``source``, the
    passage it came from (None: left empty). ``start``/``end`` are offsets in the document
    when ``source`` has them."""
    base = source.start if source is not None else 0
    return Passage(
        chunk_id=unit.chunk_id, doc_id=source.doc_id if source else "", source=unit.source,
        text=unit.text, score=float(score), page_index=unit.page_index,
        page_label=unit.page_label, heading=unit.heading, start=base + unit.start,
        end=base + unit.end, title=source.title if source else "",
        effective_date=source.effective_date if source else unit.effective_date,
        status=source.status if source else (unit.status or "unknown"),
        family=source.family if source else "")


def gather(query: str, passages: Sequence[Passage], scorer: UnitScorer) -> Evidence:
    """Units of ``passages`` for ``query``: the selection (``select_units``'s defaults), the
    selection as passages, and the top ``DEEP_UNITS`` units by score."""
    by_chunk = {p.chunk_id: p for p in passages}
    units = split_passages(passages)  # split and scored once, for selection and ranking
    values = [float(s) for s in scorer.score(query, units)] if units else []
    selection = choose_units(units, values)
    order = sorted(range(len(units)), key=lambda i: (-values[i], i))
    ranked = [units[i] for i in order[:DEEP_UNITS]]
    scores = {unit_key(u): v for u, v in zip(units, values, strict=True)}
    shown = [unit_passage(s.unit, by_chunk.get(s.unit.chunk_id), s.score)
             for s in selection.units]
    return Evidence(selection, shown, ranked, scores, units)


def guard_repetition(text: str, truncated: bool = False) -> str:
    """``text`` with every sentence said before dropped (markers and case ignored), a
    phrase of ``LOOP_NGRAM`` words repeated inside a sentence cut at its second
    occurrence, and (``truncated``: the token limit cut the reply) an unfinished last
    sentence dropped. Sentences are rejoined with single spaces."""
    spans = split_sentences(text)
    kept: list[str] = []
    seen: set[str] = set()
    for i, (a, b) in enumerate(spans):
        sentence = _cut_loop(text[a:b])
        last = i == len(spans) - 1
        if last and truncated and not re.search(r"[.!?][\"')\]]*(?:\s*\[[\d,; ]+\])*$",
                                                sentence):
            break
        key = _norm_sentence(sentence)
        if not key or key in seen:
            continue
        seen.add(key)
        kept.append(sentence)
    return " ".join(kept)


def _norm_sentence(sentence: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", _MARKERS.sub(" ", sentence).lower()).split())


def _cut_loop(sentence: str) -> str:
    words = sentence.split()
    seen: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - LOOP_NGRAM + 1):
        gram = tuple(w.lower().strip(".,;:!?") for w in words[i:i + LOOP_NGRAM])
        if gram in seen and seen[gram] + LOOP_NGRAM <= i:
            cut = " ".join(words[:i]).rstrip(" ,;:")
            return cut if cut.endswith((".", "!", "?")) else cut + "."
        seen.setdefault(gram, i)
    return sentence


def key_facts(text: str) -> set[str]:
    """The facts of ``text`` a unit must state for the text to pass: normalized numbers
    (``$1,299`` -> ``1299``), codes and model names (lower-cased, hyphens and spaces
    removed) and month names."""
    out = {f"#{n}" for n in numbers(text)}
    out |= {"@" + _compact(m.group(0)) for m in _CODE.finditer(text)}
    out |= {"@" + m.group(0).lower() for m in _MONTH.finditer(text)}
    return out


def _has_words(sentence: str) -> bool:
    """Whether ``sentence`` (its ``[n]`` markers aside) has a word, not only numbers."""
    return bool(re.search(r"[^\W\d_]{2,}", re.sub(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]", " ",
                                                  sentence)))


def _compact(text: str) -> str:
    return re.sub(r"[\s_-]+", "", text.lower())


def _has_fact(fact: str, facts: set[str], compact: str) -> bool:
    if fact in facts:
        return True
    return fact.startswith("@") and fact[1:] in compact


@dataclass(frozen=True)
class Checked:
    """The model's reply after ``check_generated``: the ``text`` with checked markers and
    its ``citations`` when it passed; ``failure`` (a reason, ``rule: details``) when not;
    ``removed`` sentences no unit supports; ``verification`` the verifier's check."""

    text: str
    citations: tuple[Citation, ...]
    failure: str | None
    removed: tuple[str, ...] = ()
    verification: Verification | None = None


def check_generated(reply: str, question: str, passages: Sequence[Passage],
                    verifier: CitationVerifier, min_supported_fraction: float,
                    truncated: bool = False) -> Checked:
    """Check the model's ``reply`` (its ``[n]`` numbering ``passages``, the prompt's units)
    as the module docstring says. Never raises for odd text."""
    if is_abstention(reply):
        return Checked("", (), "model_abstained: the model replied with the abstention sentence")
    text = guard_repetition(reply, truncated)
    if not text.strip():
        return Checked("", (), "empty_answer: the model produced no text")
    verification = verifier.verify(text, passages)
    asked = key_facts(question)
    unit_facts = [key_facts(p.text + " " + p.heading_path + " " + p.title) for p in passages]
    unit_compact = [_compact(p.text + " " + p.heading_path + " " + p.title) for p in passages]
    pieces: list[str] = []
    removed: list[str] = []
    best: dict[int, tuple[float, str, str]] = {}  # n -> (support, quote, origin)
    claims = supported = 0
    worded = sum(s.is_claim and _has_words(s.text) for s in verification.sentences)
    for s in verification.sentences:
        if not s.is_claim:
            if s.text and not is_abstention(s.text):
                pieces.append(s.text)
            continue
        if worded and not _has_words(s.text):
            removed.append(s.text)  # "2 [3]." among sentences: a fragment, no claim
            continue
        claims += 1
        if not s.supported:
            removed.append(s.text)
            continue
        supported += 1
        cited = list(s.citations) or [s.best_n]
        for fact in sorted(key_facts(s.text) - asked):
            if not any(_has_fact(fact, unit_facts[n - 1], unit_compact[n - 1]) for n in cited):
                return Checked("", (), f"unchecked_fact: {fact[1:]!r} of {s.text!r} is in "
                                       f"none of the units it cites ({cited})",
                               tuple(removed), verification)
        for n in cited:
            origin = "model" if n in s.cited else "verifier"
            score = s.scores[n - 1]
            old = best.get(n)
            if old is None or (origin == "model" and old[2] != "model") or (
                    origin == old[2] and score > old[0]):
                best[n] = (score, s.quotes[n - 1], origin)
        pieces.append(insert_markers(s.text, "".join(f"[{n}]" for n in cited)))
    if not supported:
        return Checked("", (), f"unsupported: none of the {claims} claim sentence(s) is "
                               "supported by the evidence", tuple(removed), verification)
    if supported / claims < min_supported_fraction:
        return Checked("", (), f"unsupported: {supported}/{claims} sentences supported < "
                               f"min_supported_fraction {min_supported_fraction}",
                       tuple(removed), verification)
    text = " ".join(pieces)
    cited = [f"{passages[n - 1].title} {passages[n - 1].heading_path} {passages[n - 1].text}"
             for n in sorted(best)]
    unfit = check_answer(question, text, cited)
    if unfit is not None:
        return Checked("", (), unfit, tuple(removed), verification)
    citations = tuple(citation(n, passages[n - 1], quote, score, origin)
                      for n, (score, quote, origin) in sorted(best.items()))
    return Checked(text, citations, None, tuple(removed), verification)


def checked_prefixes(pieces: Iterable[str], check: Callable[[str], Checked],
                     ) -> Iterator[Checked]:
    """Verified streaming: read the model's ``pieces``; each time a sentence is complete,
    ``check`` the reply up to it (``check_generated`` with every rule, the whole-answer
    ones included) and yield the result when it passes and extends what was yielded
    before. The last sentence is held until the next one starts (it may be unfinished),
    so a sentence that fails is never handed on; what a caller sends is the growing
    ``Checked.text``."""
    text = upto = sent = ""
    for piece in pieces:
        text += piece
        spans = split_sentences(text)
        if len(spans) < 2 or text[:spans[-2][1]] == upto:
            continue
        upto = text[:spans[-2][1]]
        checked = check(upto)
        if checked.failure is None and checked.text.startswith(sent) \
                and len(checked.text) > len(sent):
            sent = checked.text
            yield checked


def citation(n: int, passage: Passage, quote: str, support: float, origin: str) -> Citation:
    """A ``Citation`` of the ``n``-th passage (a unit) with ``quote`` and ``origin``."""
    return Citation(n=n, chunk_id=passage.chunk_id, source=passage.source,
                    page_index=passage.page_index, page_label=passage.page_label,
                    heading=passage.heading_path, quote=quote, support=float(support),
                    effective_date=passage.effective_date, status=passage.status,
                    origin=origin)


def extracted(question: str, evidence: Evidence, passages: list[Passage],
              retrieved: Sequence[Passage], max_quote_chars: int = 300,
              judge: UnitJudge | None = None, corpus_names: Sequence[str] = (),
              ) -> tuple[str, Citation, list[Passage], Extraction] | None:
    """``extract``'s answer over ``evidence.ranked``: the text with its ``[n]`` marker, the
    ``extract`` citation of the unit, and ``passages`` with the unit appended when it was
    not among them (its number ``n``); where nothing qualifies, the ``judge``'s pick
    (``extract.judged``; citation origin ``judge``); None when neither answers.
    ``corpus_names``: the names the whole corpus is about (``extract.asked_terms``)."""
    origin = "extract"
    found = extract_ranked(question, evidence.ranked, pool=evidence.units,
                           corpus_names=corpus_names)
    best = evidence.ranked[:EXTRACT_UNITS]
    if found is None and judge is not None and best:
        found = judged(question, best, judge(question, best), judge.min_p, corpus_names)
        origin = "judge"
    if found is None:
        return None
    unit = found.unit
    by_chunk = {p.chunk_id: p for p in retrieved}
    score = evidence.scores.get(unit_key(unit), 0.0)
    shown = unit_passage(unit, by_chunk.get(unit.chunk_id), score)
    out = list(passages)
    n = next((i for i, p in enumerate(out, 1)
              if (p.chunk_id, p.text) == (shown.chunk_id, shown.text)), None)
    if n is None:
        out.append(shown)
        n = len(out)
    quote = unit.text if len(unit.text) <= max_quote_chars else \
        unit.text[:max_quote_chars].rsplit(" ", 1)[0]
    text = insert_markers(found.text, f"[{n}]")
    return text, citation(n, out[n - 1], quote, score, origin), out, found
