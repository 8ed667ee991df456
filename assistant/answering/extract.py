"""The extractive fallback: answer with the evidence itself, or not at all.

``asked_for(question)`` says what kind of thing the question wants (a duration for "how
long", an amount for "how much does X cost", a count for "how many", ...), read from its
asking sentence ("I'm in France. What does it cost?" -> the second).
``extract(question, units)`` returns the first unit, in the order given (best first),
that holds both that kind of thing (regular expressions per ``AnswerType``) and the
question's key terms, with the matching phrase as the answer span; ``None`` when no unit
qualifies, and then the system must abstain rather than guess.

A unit qualifies when

- its text and path (title and headings) hold at least ``min_coverage`` of the question's
  key terms (``evidence_scoring.content_terms``, less the words naming the kind asked
  for: "time", "cost", ...), at least one of them in its text and not one of the names
  required below (``top_min_coverage`` for
  the first, best-scored unit when the kind asked for has a pattern: the scorer already
  ranked it first, and the span of that kind is the stronger sign); given a
  ``RelatedTerms`` (a benchmark's option, not the answer path's), a key term the unit
  names in other words ("weekday": "Monday") counts too;
- they hold every *required* term: the question's names, model numbers and versions
  (capitalised words past a sentence's first, "S7", "3.4.2"), so a unit about another
  product, country or version never answers; a name may stand elsewhere in the unit's
  passage ("SOC 2 Type II ..." before "The most recent report covers ..."), but a default
  asked for must be stated by the unit or read beside it;
- its text holds a span of the kind asked for that is not the question's own number ("a
  100 square meter floor") and, for a measure, is in a unit that fits what is measured (a
  weight in kg or g, not liters); a count in a table row sits under a column naming what
  is counted, or is followed by it;
- it does not state the opposite condition to the question's ("with a full dust bag"
  against "without a dust bag", ``contradicts``);
- a table row whose table has other rows in the passage holds a key term (or a place
  the question gives) in its cells: the column headers every row carries say which
  column is asked for, never which row.

In a list of records (a section headed "KI-2044 ..."), a record's other lines count
toward a typed answer's key terms, and so do the other paragraphs of a list item (a
release note's "(CVE-2022-41862)" paragraph under the line that says what was fixed).
Of two prices, the one naming the period asked ("per month") is taken.

``UNIT`` ("in what unit is it given?") takes a unit of time or size, with or without a
number ("the given number of **seconds**"). ``PROCEDURE`` takes a menu path ("Account >
Subscription > Cancel plan") or a numbered step; ``YESNO`` needs a polarity word ("not",
"only", "never", "required", "off", "ignored", "unlimited", ...) and takes the clause
holding it, led by "No:" or "Yes:" where the clause settles it (``_verdict``: a plain
negation, or the opposite of a state the question asks about); ``OTHER`` has no pattern
and takes the whole unit, with ``other_min_coverage`` of the key terms. A unit of a
superseded or archived document answers only when no current one does. A ``DATE`` asked
by "when" may be a time of day, and an ``AMOUNT`` asked by a "how much" that names no
money any quantity in the dimension asked (``kind_patterns``).

A city, country or US state the question gives after "in", "from", "to", ... is named by
the country or group it is in ("I'm in London": "UK: GBP 16.99", ``places``), and the span
next to that name is taken. The attribute a question's adjective implies ("how heavy":
weight, ``attribute_terms``) is searched for (``search_query``) and, in a unit's text,
says what is asked about. A question that asks two things ("How big is it and how much
does it weigh?", ``asks_two``) is not answered: one span would answer half of it.
A quantity that states the opposite bound to the one asked ("one or more" for "at most")
is no answer.

Where a reference manual's structure says what a sentence is about, the question's words
matter less: asked for the default of a setting it names (by identifier, option or in
words), the definition under that setting's heading answers before any other unit
(``_definition_default``: "temp_buffers (integer): The default is **8MB**."), and where no
unit answers, a function named by its call ("strpos()") is answered from the one row that
defines it (``_function_row``).

The user-facing answer (``Extraction.text``) is the unit's sentence, trimmed to about
``MAX_ANSWER_WORDS`` words around the span (around the question's key terms when the span
is itself longer; a unit at most ``_UNCUT_WORDS`` longer is shown whole), with the span
marked ``**like this**``.
Thresholds were chosen on the acme dev split (``benchmarks/evidence_selection.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from assistant.answering.evidence import EvidenceUnit, ScoredUnit, Selection
from assistant.answering.evidence_scoring import (
    RelatedTerms,
    content_terms,
    stem,
    term_set,
    tokens,
)
from assistant.answering.lookup import lookup, row_cells
from assistant.answering.places import is_code as _is_code
from assistant.answering.places import named_in, place_names
from assistant.answering.stopwords import STOPWORDS
from ingest.text import LEAD_LABEL, is_record_heading

MIN_COVERAGE = 0.6
TOP_MIN_COVERAGE = 0.4  # the best-scored unit, for a kind with a pattern (a duration, ...)
OTHER_MIN_COVERAGE = 0.7  # dev: 0.6 gave 8 right, 1 wrong, 3 unanswerable answered; 0.7: 6, 0, 2
MAX_ANSWER_WORDS = 40
_UNCUT_WORDS = 12  # how far over MAX_ANSWER_WORDS a unit may go and still be shown whole
EXTRACT_UNITS = 5  # how many of the best-scored units the benchmark hands to extract
# Where none of those answers, the next best units down to this rank may, with
# DEEP_MIN_COVERAGE of the key terms whatever the kind asked for (``extract_ranked``).
# Chosen on the dev splits and training questions of both corpora: 12 and 0.7 answered 4
# more PostgreSQL questions right (dev 1, training 3) and none wrong; 0.6 added a wrong one.
DEEP_UNITS = 12
DEEP_MIN_COVERAGE = 0.7


class AnswerType(StrEnum):
    DURATION = "duration"
    AMOUNT = "amount"
    COUNT = "count"
    PERCENTAGE = "percentage"
    MEASURE = "measure"
    DATE = "date"
    TIME = "time"
    CODE = "code"
    NAME = "name"
    PLACE = "place"
    PROCEDURE = "procedure"
    UNIT = "unit"
    YESNO = "yesno"
    OTHER = "other"


@dataclass(frozen=True)
class Extraction:
    """An answer taken from the evidence: ``span`` (the phrase of ``answer_type``) at
    ``span_start:span_end`` of ``unit.text`` (0:0 for a release read from the unit's
    heading, ``_release_of``); ``text`` the sentence shown to the user with the span
    marked; ``reason`` why this unit was taken; ``matched``/``missing`` the
    question's key terms found and not found in the unit."""

    answer_type: AnswerType
    span: str
    span_start: int
    span_end: int
    unit: EvidenceUnit
    text: str
    reason: str
    matched: tuple[str, ...]
    missing: tuple[str, ...]
    coverage: float
    related: tuple[tuple[str, str], ...] = ()  # (key term, the unit's word for it)


# Kinds with a pattern of their own: an extracted unit must hold such a span, and so must a
# generated answer (``check_answer``). Names, places, yes/no and other questions have none.
_TYPED = frozenset({AnswerType.DURATION, AnswerType.AMOUNT, AnswerType.PERCENTAGE,
                    AnswerType.MEASURE, AnswerType.COUNT, AnswerType.DATE, AnswerType.TIME,
                    AnswerType.CODE, AnswerType.PROCEDURE, AnswerType.UNIT})


# -- what is asked for -----------------------------------------------------------------

# "when" asks when at the start of the asking sentence or of a clause ("..., and when
# does it end?"); elsewhere it is a condition ("What does NULLIF return when a equals b?"),
# which asks for whatever the rest of the question asks. Answered by a date or a time of day
# ("between 01:00 and 05:00").
_WHEN_ASKS = r"^(?:since |until |till )?when\b|(?:[,;:] |\band |\bor )when\b"
_WHEN = re.compile(_WHEN_ASKS)
# The verbs a yes/no question opens with ("Is ...", "Can ...", "Does ...").
_AUXILIARIES = ("is|are|was|were|can|could|do|does|did|will|would|should|shall|has|have|"
                "had|may|might|must")

# "Which date format", "what day type": what is asked is a name, not a date.
_NOT_A_DATE = r"(?!\s+(?:format|style|type|function|column|field|setting|value)s?\b)"

# "How long can a room name be?", "How long may a NOTIFY payload string be ...?": a length
# or size, not a time ("How long can the robot be left alone?" is a time)
_LONG_AS_LENGTH = (r"\bhow long (?:can|may|might|could|must|should)\b[^?]*\bbe\b"
                   r"(?=\s*(?:\?|$|,|\s+(?:in|on|at|for|with|under|when|if|by)\b))")

# "what is the maximum ...", "which ...", "what's its typical ...": what a question names the
# quantity it asks for after
_THE_MOST = (r"(?:'s|\s+(?:is|are|was|were))?\s+(?:(?:the|its|their)\s+)?(?:(?:maximum|minimum|"
             r"max|min|typical|total|average|approximate|usual|largest|smallest|expected)\s+)?")
_EMAIL_ASKED = re.compile(r"\b(?:what|which)(?:'s|\s+(?:is|are))?\s+(?:(?:the|your|its)\s+)?"
                          r"(?:[\w-]+\s+){0,2}e-?mail(?: address)?\b(?!\s+(?:settings?|"
                          r"notifications?|preferences?)\b)")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")


def _asks_email(answer_type: AnswerType, question: str) -> bool:
    """Whether a name question asks for an email address ("What email address do I use
    to contact ...?"): its span is the address, and its words say what the span is."""
    return answer_type is AnswerType.NAME and bool(_EMAIL_ASKED.search(_asked_sentence(question)))


_RULES: tuple[tuple[AnswerType, re.Pattern], ...] = tuple(
    (t, re.compile(p)) for t, p in (
        (AnswerType.UNIT, r"\b(?:in|with) (?:what|which) units?\b|"
                          r"\b(?:what|which) units? (?:is|are|does|do)\b"),
        # "From what date do the prices apply?": a date, though it names a price (not
        # "which date format": a name)
        (AnswerType.DATE, rf"\b(?:what|which) date\b{_NOT_A_DATE}|"
                      r"\b(?:what|which)(?:'s|\s+is)?\s+the\s+(?:last|latest|earliest|first|"
                      r"final|closing|due)\s+date\b"),
        (AnswerType.PERCENTAGE, r"\b(?:percent|percentage|per cent|what share|what proportion|"
                                r"discount)\b|\bwhat (?:level|charge level)\b.*\b(?:charge|"
                                r"battery)"),
        (AnswerType.TIME, r"\b(?:what|which) time\b|\bwhat hours\b|\bat what hour\b|"
                          r"\bwhat(?:'s|\s+(?:is|are))\s+(?:the\s+|your\s+)?(?:\w+\s+)?"
                          r"(?:opening\s+)?hours\b|"
                          r"^when (?:is|are|do|does|can)\b.*\b(?:open|available|reachable)\b"),
        # "How long can a room name be?": a length, not a time
        (AnswerType.MEASURE, _LONG_AS_LENGTH),
        (AnswerType.DURATION, r"\bhow (?:long|soon|quickly|often|frequently|old)\b|"
                              r"\bhow much time\b|"
                              r"\b(?:what|which|minimum|maximum|youngest|oldest)(?:'s)?"
                              r"(?:\s+the)?(?:\s+(?!(?:is|are|was|were|do|does|did)\b)\w+)?"
                              r"\s+age\b|"
                              r"\bhow many (?:seconds|minutes|hours|days|business days|weeks|"
                              r"months|years)\b|"
                              r"\b(?:what|which) (?:interval|period of time|length of time)\b|"
                              # "What is the runtime of the S7 in Eco mode?"
                              rf"\b(?:what|which){_THE_MOST}(?:runtime|run time|battery life|"
                              r"lifespan|response time|delivery time|processing time|"
                              r"turnaround time)\b"),
        (AnswerType.AMOUNT, r"\bhow much\b(?!.*\b(?:weigh|hold|store|space|storage|floor|area|"
                            r"water|data|memory)\b)|\bcost\b|\bprice\b(?!\s+(?:sheet|list)s?\b)|"
                            r"\bfee\b|\bsell for\b|"
                            r"\b(?:revenue|turnover|profit|income|earnings|salary|budget)\b|"
                            r"\bhow many (?:dollars|euros|pounds|cents)\b|\bwhat .* charge\b"),
        (AnswerType.MEASURE, r"\bhow (?:heavy|big|large|tall|high|wide|deep|far|close|loud|"
                             r"fast|strong|warm|cold|hot|thick|powerful|bright)\b|\bhow much\b|"
                             r"\b(?:what|which) (?:size|weight|capacity|dimensions|speed|range|"
                             r"volume|temperature|length|height|width|distance|suction|"
                             r"wattage|voltage|noise|loudness|pressure)\b"
                             r"(?!\s+(?:modes?|settings?|options?|fields?)\b)|"
                             # "what is the maximum length of a virtual wall?" (not a size or
                             # a range: of a table, a value, they are no physical measure)
                             rf"\b(?:what|which){_THE_MOST}(?:weight|dimensions|speed|"
                             r"temperature|length|height|width|depth|distance|suction|wattage|"
                             r"voltage|noise level|loudness|pressure|suction power) of\b"),
        (AnswerType.COUNT, r"\bhow many\b|\b(?:what|which)(?:'s|\s+(?:is|are|was|were))?\s+"
                           r"(?:the\s+)?(?:(?:maximum|minimum|largest|smallest|highest|lowest|"
                           r"total|greatest)\s+)?number of\b"),
        (AnswerType.PROCEDURE, r"^how (?:do|can|should|would|could) (?:i|we|you)\b|\bhow to\b|"
                               r"\bwhat steps\b"),
        (AnswerType.DATE, r"\b(?:which|what)\b.*\b(?:release|launch|effective|expiry) date\b"),
        # the kind named within two words of "which"/"what (is) the" ("which app version",
        # "what is the latest firmware version"), not a version the question gives
        # ("which map view was dropped in version 5.3.0")
        (AnswerType.CODE, r"\b(?:which|what)(?:'s|\s+(?:is|are|was|were))?\s+(?:the\s+)?"
                          r"(?:[\w.-]+\s+){0,3}(?:code|error|scope|"
                          r"status|model number|cve|part number|certification number|id|version|"
                          r"release|figure|appendix|chapter|paragraph)\b|"
                          # a phone or fax number: "What number do I fax it to?"
                          r"\b(?:phone|fax|telephone) number\b|"
                          r"\bwhat (?:phone |fax )?number (?:do|should|can|would) (?:i|we|you)\b"),
        (AnswerType.DATE,
         _WHEN_ASKS + rf"|\b(?:what|which) (?:date|day|year|month)\b{_NOT_A_DATE}"),
        # "What email address do I use to contact ...?": an address to write to
        (AnswerType.NAME, _EMAIL_ASKED.pattern),
        (AnswerType.NAME, r"^(?:who|whom|whose)\b|\bwho\b"),
        (AnswerType.PLACE, r"^where\b|\bwhere\b"),
        (AnswerType.YESNO, rf"^(?:{_AUXILIARIES})\b"),
    )
)


# Where a question's sentences end: not after a capital initial ("a U.S. senator", "D.C.")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])(?<!\b[A-Z]\.)\s+")


def _asked_sentence(question: str) -> str:
    """The sentence of ``question`` that asks (the last one ending in "?", else the
    last), lower-cased."""
    return _asking(question).casefold()


def _asking(question: str) -> str:
    """The sentence of ``question`` that asks, as written (``_asked_sentence`` folds case)."""
    parts = [p.strip() for p in _SENTENCE_BREAK.split(question.strip()) if p.strip()]
    asking = [p for p in parts if p.endswith("?")]
    return asking[-1] if asking else parts[-1] if parts else ""


# "When one backend crashes, does the server restart itself?": a leading "when" clause
# followed by the question proper is a condition, not a date asked for.
_WHEN_CLAUSE = re.compile(
    rf"^when\b[^,?]*,\s*(?=(?:{_AUXILIARIES}|what|which|who|whom|how|where|why|when)\b)")


def asked_for(question: str) -> AnswerType:
    """The kind of answer ``question`` wants, from its asking sentence (rules above, first
    match wins; a leading "when ..." condition left out); ``OTHER`` when none applies."""
    q = _asked_sentence(question)
    q = q[m.end():] if (m := _WHEN_CLAUSE.match(q)) else q
    for answer_type, pattern in _RULES:
        if pattern.search(q):
            return answer_type
    return AnswerType.OTHER


# -- what each kind looks like ---------------------------------------------------------

_NUM = r"\d+(?:[.,]\d+)*"
# Numbers in words, as laws and policies write them: "thirty five", "twenty-one", "two
# hundred", "eighteen".
_WORD_UNITS = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_WORD_BASE = (rf"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
              rf"(?:[\s-]{_WORD_UNITS}\b)?|ten|eleven|twelve|thirteen|fourteen|fifteen|"
              rf"sixteen|seventeen|eighteen|nineteen|{_WORD_UNITS})")
_WORD_NUM = (rf"(?:{_WORD_BASE}(?:\s+(?:hundred|thousand|million|billion))?|a hundred|hundred|"
             r"a few|several|half an?)")
_N = rf"(?:{_NUM}|{_WORD_NUM})"
_RANGE = rf"{_N}(?:\s*(?:to|-|\u2013|and|or)\s*{_N})?"
_QUANT = (r"(?:(?:up to|at least|at most|about|around|approximately|roughly|more than|less "
          r"than|fewer than|under|over|within|after|every|between|maximum|minimum|only|"
          r"exactly|nearly|almost)\s+)?")
_TIME_UNIT = (r"(?:(?:business|calendar|working)\s+|(?:work|man|labou?r|person)-?)?"
              r"(?:(?:milli|micro)seconds?|seconds?|secs?|"
              r"minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|decades?)")
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_MEASURE_UNIT = (r"(?:mm|cm|km|m|meters?|metres?|square (?:meters?|metres?)|m2|sq ?m|kg|g|"
                 r"grams?|kilograms?|lbs?|ml|l|liters?|litres?|tb|gb|mb|kb|db|decibels?|pa|"
                 r"pascals?|rpm|revolutions per minute|v|volts?|amps?|w|watts?|mah|ghz|mhz|"
                 r"mbps|gbps|degrees(?: [cf])?|\u00b0[cf]?|characters?|bytes?|floors?|inches)")

_CLOCK = r"\d{1,2}(?::\d{2})?\s?(?:a\.m\.|p\.m\.|am\b|pm\b)"
_UI_PATH = (r"\b[A-Z][\w'-]*(?: [a-z][\w'-]*)? > [A-Z0-9+][\w'-]*(?: [\w'-]+){0,3}"
            r"(?: > [A-Z0-9+][\w'-]*(?: [\w'-]+){0,3})*")
_IMPERATIVE = re.compile(
    r"^(?:\d{1,2}[.)]\s+)?(?:open|go|tap|press|hold|select|choose|remove|pull|push|turn|set|"
    r"use|add|click|sign|contact|unplug|plug|insert|place|wipe|check|enter|copy|upload|"
    r"download|restart|reset|drag|move|keep|make|put|fill|attach|leave|call|email|send|slide|"
    r"close|lift|clean|replace|update|switch|find|follow|wait|register|request|return)\b", re.I)

# 5.4.1, v2.9.0, P12.1.2 (a software load's part-number form)
_VERSION = re.compile(r"(?<![\w.])(?:v|[A-Z]{1,2})?\d+(?:\.\d+){1,3}(?![\w.]*\d)")
# A version named by the word: "a version 4 (random) UUID", "protocol version 3".
_WORD_VERSION = re.compile(r"\bversion\s+\d+(?:\.\d+)*\b", re.I)

_PATTERNS: dict[AnswerType, tuple[re.Pattern, ...]] = {
    AnswerType.DURATION: (
        re.compile(rf"\b{_QUANT}{_RANGE}[\s-]{_TIME_UNIT}\b", re.I),
        re.compile(r"\b(?:half an hour|an hour|a day|a week|a month|a year|overnight|"
                   r"immediately)\b", re.I),
        # a configuration file's form: "200ms", "5min", "30s", "1h", "7d" (not the
        # ordinal of "the 3d day of January")
        re.compile(r"\b\d+(?:ms|s|min|h|d(?!\s+[A-Za-z]))\b"),
    ),
    AnswerType.AMOUNT: (
        re.compile(rf"{_QUANT}(?:(?:US|C|A)?\$|\u20ac|\u00a3)\s?{_NUM}"
                   rf"(?:\s+per\s+\w+(?:\s+per\s+\w+)?)?", re.I),
        re.compile(rf"\b{_QUANT}(?:USD|EUR|GBP|CAD|AUD|CHF|JPY)\s?{_NUM}"
                   rf"(?:\s+per\s+\w+(?:\s+per\s+\w+)?)?"),
        re.compile(rf"\b{_QUANT}{_NUM}\s?(?:USD|EUR|GBP|CAD|dollars?|euros?|pounds?|cents?)\b"),
        # no price at all: "Return shipping is free", "replaced free of charge"
        re.compile(r"\b(?:free(?:\s+of\s+charge)?|no\s+(?:extra\s+)?charge|"
                   r"at\s+no\s+(?:extra\s+|additional\s+)?(?:cost|charge))\b", re.I),
    ),
    AnswerType.PERCENTAGE: (
        re.compile(rf"\b{_QUANT}{_NUM}\s?(?:%|percent\b|per cent\b)(?:\s+off\b)?", re.I),
    ),
    AnswerType.MEASURE: (
        re.compile(rf"\b{_QUANT}{_NUM}(?:\s?(?:x|by|\u00d7)\s?{_NUM}(?:\s?{_MEASURE_UNIT})?)*"
                   rf"(?:\s?(?:to|-|and)\s?{_NUM})?\s?{_MEASURE_UNIT}\b", re.I),
    ),
    AnswerType.COUNT: (
        re.compile(rf"\b{_QUANT}(?:{_NUM}\s+(?:million|thousand|billion)|\d{{1,3}}(?:,\d{{3}})*|"
                   rf"\d+|{_WORD_NUM}|once|twice|thrice)\b", re.I),
    ),
    AnswerType.DATE: (
        re.compile(rf"\b(?:\d{{1,2}}(?:st|nd|rd|th|d)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?|{_MONTH}\s+"
                   rf"\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|{_MONTH}\s+\d{{4}}|"
                   rf"\d{{4}}-\d{{2}}-\d{{2}})\b", re.I),
        # a year, but not one inside an identifier ("CVE-2024-10978", "AD 2018\u201323\u201351")
        re.compile(r"\b(?:(?:at least|until|by|in|since|from|before|after)\s+)?"
                   r"(?<![\w\-\u2013\u2014])(?:19|20)\d{2}\b(?![\-\u2013\u2014]\w)"),
        re.compile(r"\b(?:every\s+)?(?:monday|tuesday|wednesday|thursday|friday|saturday|"
                   r"sunday)s?\b", re.I),
    ),
    AnswerType.TIME: (
        re.compile(rf"\b{_CLOCK}(?:\s?(?:to|-|\u2013|until)\s?{_CLOCK})?(?:\s+(?:pacific|eastern|"
                   r"central|mountain) time|\s+(?:PT|ET|CT|MT|UTC|GMT|CET))?", re.I),
        re.compile(r"\b\d{1,2}:\d{2}(?:\s?(?:to|-|\u2013)\s?\d{1,2}:\d{2})?(?:\s+(?:UTC|GMT|CET|"
                   r"local(?: \w+)? time|[A-Z][a-z]+ time))?", re.I),
        re.compile(r"\b(?:noon|midday|midnight)\b", re.I),
    ),
    AnswerType.CODE: (
        re.compile(r"\bSQLSTATE\s+[0-9A-Z]{5}\b|\bHTTP\s+\d{3}\b"),
        # a phone or fax number: "202-493-2251", "+44 20 7946 0958", "1-800-555-0199"
        re.compile(r"(?<![\w-])(?:\+\d{1,3}[\s.]?|1[\s.-])?(?:\(\d{2,4}\)\s?)?\d{2,4}"
                   r"(?:[\s.\u2013-]\d{2,4}){2,3}(?![\w-])"),
        # a part of the document: "figure 3", "paragraph (h)(4)", "Appendix B"
        re.compile(r"\b(?:figure|appendix|chapter|paragraph)\s+(?:[A-Z0-9][\w.]*|\([a-z0-9]+\))"
                   r"(?:\([a-z0-9]+\))*", re.I),
        re.compile(r"\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]{1,}(?:-[A-Z0-9]+)+\b"),
        re.compile(r"\b[A-Z]{1,3}\d{2,4}\b"),
        re.compile(r"\b[a-z]+(?:_[a-z]+)+\b|\b[a-z]+:[a-z]+\b"),
        _VERSION,
    ),
    AnswerType.NAME: (
        _EMAIL,
        re.compile(r"\b[A-Z][\w&'-]*(?:\s+(?:of|and|for|&)?\s*[A-Z][\w&'.-]*)*(?:,?\s+"
                   r"(?:Inc|Ltd|LLC|GmbH|plc)\.?)?"),
    ),
    AnswerType.PROCEDURE: (re.compile(_UI_PATH),),
    # "In what unit is the timeout given?": a unit of time, size or count, with or without a
    # number ("the given number of seconds", "in milliseconds", "8kB blocks").
    AnswerType.UNIT: (
        re.compile(r"\b(?:(?:micro|milli|nano)?seconds?|minutes?|hours?|days?|ms|us|"
                   r"(?:kilo|mega|giga|tera)?bytes?|[kmgt]i?b|blocks?|pages?|"
                   r"characters?|percent)\b", re.I),
    ),
    AnswerType.PLACE: (
        re.compile(_UI_PATH),
        re.compile(r"\b\d+\s+[A-Z]\w*(?:\s+[A-Z]\w*)*\s+(?:Lane|Street|St\.|Road|Rd\.|Avenue|"
                   r"Ave\.|Square|Boulevard|Blvd\.|Drive|Way|Place)\b(?:,\s*[A-Z0-9][\w ]*)*"),
        re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)*, (?:[A-Z][a-z]+(?: [A-Z][a-z]+)*|[A-Z]{2})"
                   r"\b"),
        re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b|\b(?:https?://)?[\w-]+(?:\.[\w-]+)+/"
                   r"[\w./-]*"),
        # a file a program reads or writes: "The default is server.key.", "$PGDATA/pg_wal"
        re.compile(r"(?<![\w/.-])(?:[\w.-]+\.(?:key|crt|pem|conf|cnf|log|pid|csv|json|yaml|yml|"
                   r"ini|sql|db|dat|txt)\b|(?:~|\$\w+)?/[\w.-]+(?:/[\w.-]+)+)"),
    ),
}
# What a measure question asks about -> the units that can answer it.
_DIMENSIONS: tuple[tuple[re.Pattern, re.Pattern], ...] = tuple(
    (re.compile(q), re.compile(u, re.I)) for q, u in (
        (_LONG_AS_LENGTH, r"(?<![a-z])(?:characters?|bytes?|kb|mb|gb|mm|cm|m|meters?|metres?|"
                          r"inches)\b"),
        (r"\b(?:weigh\w*|heavy|heavier|mass)\b", r"\b(?:kg|g|grams?|kilograms?|lbs?)\b"),
        (r"\b(?:loud\w*|noisy|noise|quiet)\b", r"\b(?:db|decibels?)\b"),
        (r"\b(?:suction|strong|strength|pressure)\b", r"\b(?:pa|pascals?)\b"),
        (r"\b(?:power|wattage|draw|draws|consume|consumes|consumption)\b",
         r"\b(?:w|watts?|kw|kilowatts?)\b"),
        (r"\b(?:warm|cold|hot|temperature)\b", r"degrees|\u00b0"),
        (r"\b(?:floor|area|surface)\b", r"square|m2|sq ?m"),
        # "512kB", "16MB": a size is written against its number
        (r"\b(?:storage|memory|data)\b", r"(?<![a-z])(?:tb|gb|mb|kb|bytes?)\b"),
        # "disk space" or "free space in front of the base": a size or a length
        (r"\b(?:space|room|clearance)\b",
         r"(?<![a-z])(?:tb|gb|mb|kb|bytes?|mm|cm|m|meters?|metres?|inches)\b"),
        (r"\b(?:hold|holds|capacity|volume|tank|reservoir)\b", r"\b(?:ml|l|liters?|litres?)\b"),
        # how big a thing is: its length, or what it holds (a battery's mAh, a tank's ml)
        (r"\b(?:big|bigger|large|larger|small|smaller)\b",
         r"(?<![a-z])(?:mm|cm|km|m|meters?|metres?|inches|mah|ml|l|liters?|litres?)\b"),
        (r"\bsize\b",
         r"(?<![a-z])(?:mm|cm|km|m|meters?|metres?|inches|tb|gb|mb|kb|bytes?)\b"),
        (r"\b(?:far|close|distance|tall|high|wide|deep|dimensions|long)\b",
         r"\b(?:mm|cm|km|m|meters?|metres?|inches)\b"),
        (r"\b(?:fast|speed|spin)\b", r"\b(?:rpm|revolutions|mbps|gbps)\b"),
    ))


def _measure_units(question: str) -> re.Pattern | None:
    """The units a measure question can be answered in, from its asking sentence (None:
    any)."""
    q = _asked_sentence(question)
    for asks, units in _DIMENSIONS:
        if asks.search(q):
            return units
    return None


# The attribute a question names by an adjective or verb ("How heavy is the S7?" asks for
# its weight): the word a specification or a price list uses for it. ``attribute_terms``
# adds them to the search query, and a unit that names the attribute ("Weight: 3.6 kg")
# says what is asked about.
_ATTRIBUTES: tuple[tuple[re.Pattern, tuple[str, ...]], ...] = tuple(
    (re.compile(q), words) for q, words in (
        (r"\bhow heavy\b|\bweigh(?:s|ed)?\b", ("weight",)),
        (r"\bhow (?:loud|noisy|quiet)\b", ("noise",)),
        (r"\bhow (?:big|large|small)\b", ("size", "dimensions")),
        (r"\bhow tall\b", ("height",)),
        (r"\bhow wide\b", ("width",)),
        (r"\bhow deep\b", ("depth",)),
        (r"\bhow far\b", ("distance", "range")),
        (r"\bhow fast\b", ("speed",)),
        (r"\bhow (?:warm|hot|cold)\b", ("temperature",)),
        (r"\bcosts?\b|\bsells? for\b|\bhow much is\b", ("price",)),
        # "When did 15.3 come out?": "Release date: 2023-05-11"
        (r"\b(?:come|came|comes) out\b|\bwas released\b|\bgot released\b", ("release",)),
    ))


def attribute_terms(question: str) -> list[str]:
    """The attribute words ``question``'s asking sentence implies and does not say
    ("How heavy is the S7?" -> ["weight"]), for the search query and for ``extract``."""
    asked = _asked_sentence(question)
    said = set(re.findall(r"[a-z]+", asked))
    return [w for pattern, words in _ATTRIBUTES if pattern.search(asked)
            for w in words if w not in said]


def _attribute_phrase_terms(question: str) -> set[str]:
    """The key terms (stems) of the phrases that imply an attribute in ``question``'s
    asking sentence ("come", "out" of "come out"): a unit that names the attribute
    ("Release date: ...") states them in its own word."""
    asked = _asked_sentence(question)
    return {stem(w) for pattern, _ in _ATTRIBUTES for m in pattern.finditer(asked)
            for w in re.findall(r"[a-z]+", m.group(0))}


def search_query(question: str) -> str:
    """``question`` with the attribute words it implies appended (``attribute_terms``):
    "How heavy is the S7? weight" meets a specification row "Weight: 3.6 kg" that the
    question shares no word with; and with where a place it gives is (``where_terms``):
    "... a customer in Spain? EU EEA" meets the price row headed "EU"."""
    extra = [*attribute_terms(question), *where_terms(question)]
    return f"{question} {' '.join(extra)}" if extra else question


def where_terms(question: str) -> list[str]:
    """For each place ``question`` gives after a word that says where ("in Spain", "to
    Toronto"), the names of where it is that a document would head a row or section with:
    its country's name when the place is a city or state, and the abbreviations of the
    country and its groups ("UK", "EU", "EEA"; not the two-letter ISO code, which is a
    word in too many languages)."""
    out: list[str] = []
    for word in dict.fromkeys(_PLACE_WORD.findall(question)):
        names = place_names(word)
        if not names:
            continue
        country, iso = names[0], names[1]
        picked = [country] if country.casefold() != word.casefold() else []
        picked += [n for n in names[2:] if _is_code(n) and n != iso]
        out += [n for n in picked if n not in out]
    return out


# Words that name the kind of answer rather than what it is about.
_KIND_WORDS = {
    AnswerType.TIME: ("time", "hour"), AnswerType.DURATION: ("time", "old"),
    AnswerType.DATE: ("date", "day", "year"), AnswerType.CODE: ("code", "version", "number"),
    AnswerType.UNIT: ("unit",),
    AnswerType.AMOUNT: ("cost", "price", "pay"), AnswerType.PERCENTAGE: ("percent", "percentage"),
}

_POLARITY = re.compile(
    r"\b(?:yes|no|not|never|none|cannot|can't|don't|doesn't|won't|isn't|aren't|only|must|"
    r"required|mandatory|optional|always|free|included?|includes|exclude[sd]?|supported|"
    r"unsupported|allowed|accepted|refused|covered|off|disabled|enabled|ignored|unlimited|"
    r"untouched|permitted|prohibited|forbidden|compatible|incompatible|unaffected)"
    r"\b(?![-\w])", re.I)


# -- key terms -------------------------------------------------------------------------


# "by default", "out of the box", "the default ...": what holds unless configured.
# ... also in the words the PostgreSQL training questions use for it: "on a fresh
# install", "the stock value", "if X is untouched / left alone", "unless X is set".
_DEFAULT_ASKED = re.compile(
    r"\bdefaults?\b(?!\s+\d)|\bout of the box\b|\bstock\b|\bfresh (?:cluster|install\w*|setup|"
    r"database|build)\b|\buntouched\b|\bleft alone\b|\bbuilt-in\b|\b(?:is|are) not set\b|"
    r"\b(?:do(?:n't| not)|never) (?:set|specify|give|pass)\b|\bunchanged\b|\bnew install\w*\b|"
    r"\bunless\b.*\b(?:set|changed?|given|declared|configured|otherwise|turn\w*)\b|"
    r"\b(?:is|are) (?:omitted|left out|not (?:given|specified))\b|"
    r"\b(?:did(?:n't| not)|does(?:n't| not)) (?:set|specify|give|pass|change)\b|"
    r"\b(?:nobody|no one|no-one) (?:changes?|sets?|touch\w*)\b|\bbrand[- ]new\b|"
    r"\b(?:have|has)(?:n't| not) (?:touched|changed|set)\b|"
    r"\bno \w+(?: \w+)? (?:is|are) (?:given|specified|set)\b", re.I)
_RELEASE_WORDS = frozenset(("version", "release", "firmware", "app", "update", "v"))


def key_terms(question: str) -> tuple[list[str], list[str]]:
    """``(terms, required)``: the question's content terms, and those of them that are
    names, model numbers or versions (capitalised past a sentence's first word, letters
    with digits such as "S7", "3.4.2", or a dotted number after a name or "version",
    "firmware", ... as in "PostgreSQL 15.0"); a plain number ("30-day", "1.5 m") is not
    required."""
    terms = content_terms(question)
    required = []
    for sentence in _SENTENCE_BREAK.split(question.strip()):
        words = re.findall(r"[\w.'-]*\w", sentence)
        for i, word in enumerate(words):
            lower = word.casefold().split("'")[0]
            if lower in STOPWORDS or not lower:
                continue
            alnum = (any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
                     and not re.fullmatch(r"\d+(?:[.,]\d+)?-?[a-z]+", lower))  # not "30-day"
            version = re.fullmatch(r"v?\d+(?:\.\d+){2,}", word) is not None or (
                # "PostgreSQL 15.0", "firmware 3.2": a dotted number naming a release
                i > 0 and re.fullmatch(r"\d+(?:\.\d+)+", word) is not None
                and (words[i - 1][:1].isupper() or words[i - 1].casefold() in _RELEASE_WORDS))
            if alnum or version or (i > 0 and word[:1].isupper()):
                for tok in tokens(lower):
                    term = stem(tok)
                    if term in terms and term not in required:
                        required.append(term)
                        break
    return terms, required


def unnamed(required: Sequence[str], question: str, have: set[str], text: str) -> list[str]:
    """The ``required`` terms (``key_terms``) that ``text`` (whose terms are ``have``)
    does not name. An acronym the question writes in capitals ("EEA", "UK") is also named
    by its expansion, capitalised words whose initials spell it ("European Economic Area",
    "United Kingdom"; "of", "and", "the" and "for" may sit between them); a city, country
    or US state by the country or group it is in ("London" by "UK", "Spain" by "EU",
    ``places.named_in``)."""
    acronyms = _acronyms(question)
    out = []
    for term in required:
        if term in have:
            continue
        if term in acronyms and acronyms[term].search(text):
            continue
        if (place := _place_word(term, question)) and named_in(place, text):
            continue  # "London": the unit names where it is ("UK: GBP 16.99")
        out.append(term)
    return out


def _elsewhere(context: Sequence[str], named: set[str]) -> bool:
    """Whether a unit whose path and passage give the terms ``named`` is from somewhere
    else than the question's "where to look" phrase says (``asked_terms``' ``context``:
    one of its names must be given)."""
    return bool(context) and not set(context) & named


@lru_cache(maxsize=512)
def _acronyms(question: str) -> dict[str, re.Pattern[str]]:
    """The acronyms ``question`` writes in capitals ("EEA", "U.S."), by their term
    ("eea", "u.s"), each with the pattern of its expansion ("European Economic Area",
    "United States"). Cached: ``unnamed`` asks it of every unit a question is checked
    against; callers do not change the dict."""
    found = {w.casefold(): w for w in re.findall(r"\b[A-Z]{2,6}\b", question)}
    # "U.S." is the term "u.s", spelt out as "United States"
    found |= {w.casefold().rstrip("."): w.replace(".", "")
              for w in re.findall(r"\b(?:[A-Z]\.){2,6}", question)}
    return {term: _expansion(word) for term, word in found.items()}


# A place is given after a word that says where: "I'm in London", "ordering to Vancouver",
# "shopping from Manchester"; a capitalised word elsewhere may be a product that shares a
# city's name ("the Aurora hub").
_PLACE_WORD = re.compile(r"\b(?:in|from|to|near|at|into|across|around|within|outside)\s+"
                         r"([A-Z][a-z]+)\b")


def _place_word(term: str, question: str) -> str | None:
    """The capitalised word of ``question`` that ``term`` (a required term) stems from,
    when it follows a word that says where ("in", "from", "to", ...) and names a place
    (``places.place_names``); None otherwise."""
    for word in _PLACE_WORD.findall(question):
        if stem(word.casefold()) == term and place_names(word):
            return word
    return None


def _expansion(acronym: str) -> re.Pattern[str]:
    glue = r"(?:\s+(?:of|and|the|for|&))*\s+"
    return re.compile(r"\b" + glue.join(f"{c}[a-z]+" for c in acronym) + r"\b")


def _numbers(text: str) -> set[str]:
    """The free-standing numbers of ``text`` (not the 3 of "M3")."""
    return {n.replace(",", "") for n in re.findall(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])", text)}


# -- extraction ------------------------------------------------------------------------


def _as_units(units: Selection | Iterable[EvidenceUnit | ScoredUnit]) -> list[EvidenceUnit]:
    if isinstance(units, Selection):
        return [s.unit for s in units.by_score()]
    return [u.unit if isinstance(u, ScoredUnit) else u for u in units]


# Outcomes listed each under its condition, as a manual gives exit statuses and return
# values: "returns 0 to the shell if the server is accepting connections normally, 1 if
# the server is rejecting connections ..., 2 if there was no response ...".
_OUTCOME = re.compile(r"(?<![\w.-])(-?\d+)\s+(?:to the (?:shell|caller)\s+)?if\s+([^,;]+)")


def _outcome_asked(text: str, question_terms: set[str]) -> tuple[int, int] | None:
    """The value of ``text``'s listed outcomes (two or more, ``_OUTCOME``) whose condition
    shares the most words with the question, when one does and no other shares as many;
    None otherwise."""
    listed = list(_OUTCOME.finditer(text))
    if len(listed) < 2:
        return None
    shared = [len(term_set(m.group(2)) & question_terms) for m in listed]
    best = max(shared)
    if not best or shared.count(best) > 1:
        return None
    return listed[shared.index(best)].span(1)


def _spans(answer_type: AnswerType, unit: EvidenceUnit, question: str,
           question_terms: set[str], terms: set[str]) -> list[tuple[int, int]]:
    # "Which exit code does psql return when ...?": the outcome listed under that condition
    if answer_type in (AnswerType.CODE, AnswerType.COUNT) and (
            outcome := _outcome_asked(unit.text, question_terms)):
        return [outcome]
    spans = _text_spans(answer_type, unit.text, question, question_terms, terms,
                        item=unit.kind == "item")
    lead = LEAD_LABEL.match(unit.text).end()
    # a law's paragraph label is part of no answer: a span inside it goes, one that runs
    # past it (a whole unit) starts after it
    if lead:
        spans = [(max(s, lead), e) for s, e in spans if e > lead]
    if answer_type is AnswerType.COUNT:
        spans = [s for s in spans if _counts_what_is_asked(unit, s, question)
                 and not (unit.text[s[0]:s[1]].casefold() == "one"
                          and _PARTITIVE.match(unit.text, s[1]))
                 and not _VAGUE.match(unit.text[s[0]:s[1]])]
    if answer_type is AnswerType.DURATION and (asked := _TIME_UNIT_ASKED.search(question)):
        # "within how many hours": a duration in hours, not the "twenty-one days" beside it
        unit_asked = asked.group(1).casefold().rstrip("s")
        spans = [s for s in spans if re.search(rf"\b{unit_asked}s?\b",
                                                unit.text[s[0]:s[1]], re.I)] or (
            spans if not any(_TIME_WORD.search(unit.text[a:b]) for a, b in spans) else [])
    if answer_type is AnswerType.OTHER:
        # a span that only restates the question ("gen_random_uuid() returns uuid" to
        # "What kind of UUID does gen_random_uuid() return?") answers nothing
        spans = [s for s in spans if not _echoes(unit.text[s[0]:s[1]], question)]
        if _SPAN_ASKED.search(_asking(question)):
            # "What is the warranty period?": a span of time, a date or a time of day
            spans = [s for s in spans if any(
                p.search(unit.text, s[0], s[1]) for kind in _SPANS_OF_TIME
                for p in _PATTERNS[kind])]
    if answer_type in _BOUNDED and (bound := _bound_asked(question)):
        # "How many databases can a cluster hold at most?": not the "one" of "one or more"
        spans = [s for s in spans if _bound_of(unit.text, *s) != -bound]
    if answer_type is AnswerType.AMOUNT and len(spans) > 1 and (asked := _periods(question)):
        # "How much does Care Plus cost per month?": "$12.99 per month", not the "$129 per
        # year" beside it (the price and a few words after it name the period)
        same = [s for s in spans if _periods(unit.text[s[0]:s[1] + 12]) & asked]
        spans = same or spans
    return spans


# A bound the question asks for ("at most", "the maximum"; "at least", "the minimum") and
# the bound a span states ("up to 3", "3 or fewer"; "at least 3", "3 or more"): a span that
# states the opposite bound does not answer ("one or more" is no maximum).
_QUANTITIES = (AnswerType.AMOUNT, AnswerType.DURATION, AnswerType.MEASURE,
               AnswerType.PERCENTAGE)
_BOUNDED = frozenset({AnswerType.COUNT, *_QUANTITIES})
_ASKS_MAX = re.compile(r"\b(?:at most|at the most|maximum|upper limit|largest|longest|highest|"
                       r"biggest)\b", re.I)
_ASKS_MIN = re.compile(r"\b(?:at least|minimum|lower limit|fewest|smallest|shortest|lowest)\b",
                       re.I)
_MAX_WORDS = r"up to|at most|no more than|not more than|maximum(?: of)?|as (?:many|much|long) as"
_MIN_WORDS = r"at least|no (?:fewer|less) than|not (?:fewer|less) than|minimum(?: of)?"
_SAYS_MAX = (re.compile(rf"\b(?:{_MAX_WORDS})\s+$", re.I), re.compile(rf"(?:{_MAX_WORDS})\s", re.I),
             re.compile(r"\s*(?:or (?:less|fewer|shorter|lower|smaller|under)|max(?:imum)?)\b",
                        re.I))
_SAYS_MIN = (re.compile(rf"\b(?:{_MIN_WORDS})\s+$", re.I), re.compile(rf"(?:{_MIN_WORDS})\s", re.I),
             re.compile(r"\s*(?:or (?:more|longer|greater|higher|larger|over|above)\b|\+)",
                        re.I))


def _bound_asked(question: str) -> int:
    """1 when the asking sentence asks for a maximum, -1 for a minimum, 0 for neither (or
    both)."""
    asking = _asking(question)
    return bool(_ASKS_MAX.search(asking)) - bool(_ASKS_MIN.search(asking))


def _bound_of(text: str, start: int, end: int) -> int:
    """1 when the span ``text[start:end]`` states a maximum ("up to 30 days", "3 or
    fewer"), -1 a minimum ("at least 8", "one or more"), 0 neither: the words before the
    span, at its start (a quantifier the span's pattern took in) or after it."""
    parts = (text[max(0, start - 24):start], text[start:end], text[end:end + 16])

    def says(patterns: tuple[re.Pattern, ...]) -> bool:
        before, span, after = patterns
        return bool(before.search(parts[0]) or span.match(parts[1]) or after.match(parts[2]))

    return says(_SAYS_MAX) - says(_SAYS_MIN)


# A price's period: "per month", "a year", "monthly", "annual".
_PERIOD = re.compile(r"\b(?:per|a|an|each|every)\s+(day|week|month|year|hour)\b|"
                     r"\b(daily|weekly|monthly|yearly|annual(?:ly)?|hourly)\b", re.I)
_PERIOD_OF = {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year",
              "annual": "year", "annually": "year", "hourly": "hour"}


def _periods(text: str) -> set[str]:
    """The periods ``text`` names ("month" for "per month" and "monthly")."""
    out = set()
    for m in _PERIOD.finditer(text):
        word = (m.group(1) or m.group(2)).casefold()
        out.add(_PERIOD_OF.get(word, word))
    return out


# What "how many" counts: the words after it ("how many floor maps can ...").
_HOW_MANY = re.compile(r"\bhow many\s+((?:[\w-]+\W*){1,3})", re.I)


# A stretch of time asked for by its name ("the refund window", "the warranty period"):
# what answers it states a duration, dates or times of day.
_SPAN_ASKED = re.compile(r"\b(?:what|which)(?:'s|\s+(?:is|was|are|were))?\s+(?:the\s+|your\s+|"
                         r"my\s+)?(?:[\w-]+\s+){0,2}(?:window|period)\b", re.I)
_SPANS_OF_TIME = (AnswerType.DURATION, AnswerType.DATE, AnswerType.TIME)
# "several States", "a few": no count
_VAGUE = re.compile(r"(?:\w+\s+)?(?:several|a few|many|numerous)\b", re.I)
# "how many hours", "how many business days": the unit a duration must be in
_TIME_UNIT_ASKED = re.compile(r"\bhow many (?:business |calendar |working )?(seconds|minutes|"
                              r"hours|days|weeks|months|years)\b", re.I)
_TIME_WORD = re.compile(r"\b(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b", re.I)
# "one of your backup codes": one member of something counted elsewhere, not its count
_PARTITIVE = re.compile(r"\s+of\s+(?:the|your|its|these|those|our|my|their|them|us|his|her)\b",
                        re.I)


def _counts_what_is_asked(unit: EvidenceUnit, span: tuple[int, int], question: str) -> bool:
    """Whether a count in a table row counts what the question asks about: the number is
    followed by a counted word ("3 floor maps"), or its cell's column names one ("Saved
    floor maps: 3" for "how many floor maps"). "Robot: SweepBot S7; Saved floor maps: 3"
    holds the word "robot", but its 3 is no answer to "how many robots can I add?".
    Sentences, and questions that say nothing after "how many", are not judged here."""
    asked = _HOW_MANY.search(question)
    cells = row_cells(unit)
    if asked is None or cells is None:
        return True
    counted = {stem(t) for t in tokens(asked.group(1))} - STOPWORDS
    if counted & {stem(t) for t in tokens(unit.text[span[0]:span[1]])}:
        return True
    for header, value, offset in cells:
        if offset <= span[0] < offset + len(value):
            return bool(counted & {stem(t) for t in tokens(header)})
    return True


# "Which version / release ..." (and not a code or id as well): only a version answers.
_VERSION_ASKED = re.compile(r"\b(?:version|release)\b(?!.*\b(?:code|id|number)\b)", re.I)
# The version of a named system ("the oldest iOS version", "which Android version", "the
# minimum TLS version"): a name with a capital or a digit right before "version"; the
# answer is that name with its number.
_NAMED_VERSION = re.compile(r"(?<!^)\b([A-Za-z]*[A-Z][A-Za-z0-9]*)\s+version\b")


# A version as a key term: "15.9", "v2.1", "15.x" (any 15 release).
_REFERENCE_VERSION = re.compile(r"v?\d+(?:\.(?:\d+|x))+", re.I)
# A heading that names one release ("E.4. Release 15.17", "Version 5.3.0"): the notes of
# that release, so what its units say changed in it.
_RELEASE_HEADING = re.compile(
    r"(?:\b(?:release|version|firmware)\s+(?=v?\d)|"
    # a heading that opens with the release: "5.3.2 (released 28 April 2025)", "3.3.0 - ..."
    r"^(?=v?\d+(?:\.\d+){1,3}\s*(?:\(|[-\u2013\u2014:]|$)))(v?\d+(?:\.\d+){1,3})\b", re.I)


def _release_of(unit: EvidenceUnit, asked_numbers: set[str], terms: Sequence[str],
                have: set[str]) -> Extraction | None:
    """Which release did something, read from the heading of the unit that says it: asked
    "Which release fixed standbys getting stuck ...?", a unit of the release notes ("Fix
    ... standby servers ...") states no version, but the innermost heading of its path
    that names one release ("E.2. Release 15.19") is the answer. Only a heading naming
    exactly one release, and not a release the question itself names (``asked_numbers``:
    "After 15.9 ..."). The answer is the heading, its version marked, then the unit;
    ``span_start`` and ``span_end`` are 0, the version being in the heading rather than
    in ``unit.text``. The caller has checked that a version is asked for (not a named
    system's, as in "which Android version") and the unit's key-term coverage, as for
    any other span."""
    for heading in reversed([part.strip() for part in unit.path.split(" > ")]):
        releases = list(_RELEASE_HEADING.finditer(heading))
        if not releases:
            continue
        if len(releases) > 1 or _numbers(releases[0].group(1)) <= asked_numbers:
            return None
        version = releases[0]
        found = _taken(AnswerType.CODE, unit, 0, 0, "", terms, have)
        return replace(
            found, span=version.group(1),
            text=(f"{heading[:version.start(1)]}**{version.group(1)}**"
                  f"{heading[version.end(1):]}: {found.text}"),
            reason=(f"release {version.group(1)} named by the heading '{heading}' of a unit "
                    f"holding {len(found.matched)} of {len(terms)} key terms "
                    f"({', '.join(found.matched)})"))
    return None


# "which option", "what pg_basebackup flag", "which command-line switch"
_OPTION_ASKED = re.compile(r"\b(?:which|what)\b(?:\s+[\w-]+){0,2}?\s+(?:options?|flags?|"
                           r"switch(?:es)?)\b(?!\s+(?:do(?:es)?|is|are)\s+(?:-|the\s+-))", re.I)
# An option's own heading: "-k, --link", "--clone", "-c {fast|spread}, --checkpoint=..."
_OPTION_HEADING = re.compile(r"^(?:-[A-Za-z0-9]|--[a-z][\w-]*)\b[^>]*$")


def _option_heading(unit: EvidenceUnit, quoted: set[str]) -> str | None:
    """The innermost heading of ``unit`` when it is a command-line option's own ("-k,
    --link") and not one the question writes itself (``quoted``: then the question asks
    about that option, not for one); else None."""
    heading = unit.heading[-1].strip() if unit.heading else ""
    if not _OPTION_HEADING.match(heading):
        return None
    if quoted & set(_OPTION.findall(heading)):
        return None
    return heading


def _named_by_heading(unit: EvidenceUnit, heading: str, terms: Sequence[str],
                      have: set[str], what: str) -> Extraction:
    """The answer named by ``unit``'s own heading (an option asked for): the heading
    marked, then the unit that defines it; ``span_start`` and ``span_end`` are 0, the
    answer being in the heading rather than in ``unit.text``."""
    found = _taken(AnswerType.NAME, unit, 0, 0, "", terms, have)
    return replace(
        found, span=heading, text=f"**{heading}**: {found.text}",
        reason=(f"{what} '{heading}' named by the heading of a unit holding "
                f"{len(found.matched)} of {len(terms)} key terms "
                f"({', '.join(found.matched)})"))


def _text_spans(answer_type: AnswerType, text: str, question: str, question_terms: set[str],
                terms: set[str], item: bool = False) -> list[tuple[int, int]]:
    if answer_type is AnswerType.YESNO:
        return _clauses(text) if _POLARITY.search(text) else []
    if answer_type is AnswerType.OTHER:
        return [(0, len(text))]
    if answer_type is AnswerType.PROCEDURE:
        paths = [m.span() for m in _PATTERNS[answer_type][0].finditer(text)]
        step = item and _IMPERATIVE.match(text)
        return paths or ([(0, len(text))] if step else [])
    patterns = kind_patterns(answer_type, question)
    # the dimension a measure is asked in ("how heavy": kg), also for the quantity a "how
    # much" without money asks ("how much power": watts, not "1.5 m")
    dimension = _measure_units(question) if answer_type is AnswerType.MEASURE or \
        _any_quantity(answer_type, question) else None
    asked_numbers = _numbers(question)
    found: list[tuple[int, int]] = []
    if answer_type is AnswerType.CODE and _VERSION_ASKED.search(question):
        # a version asked for: "ARH-H200" is a model, not a version; "version 4" is one
        patterns = (_VERSION, _WORD_VERSION)
        named = _NAMED_VERSION.search(question)
        if named:  # "the oldest iOS version": "iOS 16", not the app's own "5.2.4"
            patterns = (re.compile(rf"\b{re.escape(named.group(1))}\s+v?\d+(?:\.\d+)*\b",
                                   re.I),)
    for pattern in patterns:
        for m in pattern.finditer(text):
            start, end = m.start(), m.end()
            span = text[start:end].strip(" ,;")
            if not span or any(s <= start < e or start <= s < end for s, e in found):
                continue
            numbers = _numbers(span)
            if numbers and numbers <= asked_numbers:
                continue  # the question's own number
            if dimension is not None and not dimension.search(span):
                continue  # a length where a weight is asked
            if (answer_type in (AnswerType.NAME, AnswerType.CODE) or not numbers) and (
                    term_set(span) <= question_terms | STOPWORDS):
                continue  # a name, code or "free" the question already gives
            if answer_type is AnswerType.COUNT:
                if not text[:start].strip() and re.match(r"\s[A-Z][a-z]", text[end:end + 3]):
                    continue  # a footnote's number ("6 Flight data recorder (FDR) data ..."):
                    # a sentence does not open with a numeral before a capital
                if text[start].isdigit() and (_NAMED_NUMBER.search(text[:start])
                                              or text[start] == "0" != span):
                    continue  # a name's number ("Lion Air Flight 043", "Model 737")
                counted = _extend_with_terms(text, end, terms)  # "14 characters" asked
                if counted == end and _is_part_of_other(text, start, end):
                    continue  # not followed by what is counted, and part of a measure, ...
                end = counted
            found.append((start, start + len(text[start:end].rstrip(" ,;"))))
    return found


# A question that asks for money in so many words; "how much notice", "how much cleaning
# history", "by how much does it extend the warranty" ask for a quantity of another kind.
_MONEY_ASKED = re.compile(
    r"\b(?:cost|costs|price|prices|priced|fee|fees|pay|paid|sell|sells|sold|spend|bill|"
    r"billed|refund|revenue|turnover|profit|income|earnings|salary|budget|dollars?|euros?|"
    r"pounds?|cents?)\b|[$\u20ac\u00a3]|\bcharge (?:for|me|us|you)\b|"
    r"\b(?:do|does|will|would) (?:you|they|acme|it) charge\b|\bhow much (?:is|are|was|were)\b",
    re.I)
_CVE_ASKED = re.compile(r"\bCVEs?\b")
_CVE = re.compile(r"\bCVE-\d{4}-\d{4,7}\b")


def _any_quantity(answer_type: AnswerType, question: str) -> bool:
    """Whether an ``AMOUNT`` is asked by a "how much" with no word for money, and so is any
    quantity (``kind_patterns``)."""
    return answer_type is AnswerType.AMOUNT and not _MONEY_ASKED.search(_asking(question))


# A charge that is often a share of a price: "A 10% restocking fee applies ...".
_SHARE_ASKED = re.compile(r"\b(?:fees?|surcharges?|commissions?|discounts?|markups?)\b", re.I)
# When a policy's date is a point of a period rather than a day of the calendar: "at the
# start of the next billing period", "on the last day of that month".
_PERIOD_POINT = re.compile(
    r"\b(?:at|from|on|until|by|before|after)\s+the\s+(?:start|end|beginning|close|"
    r"first day|last day)\s+of\s+(?:the|your|that|this|each|every|its)\s+"
    r"(?:(?:next|current|following|previous|same)\s+)?(?:[a-z]+\s+)?"
    r"(?:period|cycle|month|year|term|week|quarter)\b", re.I)


# "What range of values can random() return?": "0.0 <= x < 1.0", "-32768 to +32767"
_RANGE_ASKED = re.compile(r"\brange\b", re.I)
_VALUE_RANGE = re.compile(rf"(?<![\w.])[-+]?{_NUM}\s*<=?\s*[a-z]\w*\s*<=?\s*[-+]?{_NUM}"
                          rf"|(?<![\w.])[-+]?{_NUM}\s+to\s+[-+]?{_NUM}\b")


def kind_patterns(answer_type: AnswerType, question: str) -> tuple[re.Pattern, ...]:
    """The patterns of a span of ``answer_type``: an ``AMOUNT`` asked by "how much"
    without a word for money ("How much notice do I need to give?") is any quantity, an
    amount, a duration, a measure or a percentage ("30 days", "2.4 kg", "10%"); a fee,
    surcharge or discount may be a percentage too ("A 10% restocking fee"); a ``DATE``
    asked by "when" is a date, a time of day ("between 01:00 and 05:00") or a point of a
    period ("at the start of the next billing period")."""
    if _any_quantity(answer_type, question):
        return tuple(p for kind in _QUANTITIES for p in _PATTERNS[kind])
    if answer_type is AnswerType.AMOUNT and _SHARE_ASKED.search(_asking(question)):
        return _PATTERNS[AnswerType.AMOUNT] + _PATTERNS[AnswerType.PERCENTAGE]
    if answer_type is AnswerType.DATE and _WHEN.search(_asked_sentence(question)):
        return _PATTERNS[AnswerType.DATE] + _PATTERNS[AnswerType.TIME] + (_PERIOD_POINT,)
    if answer_type is AnswerType.MEASURE and _RANGE_ASKED.search(_asked_sentence(question)):
        return _PATTERNS[AnswerType.MEASURE] + (_VALUE_RANGE,)  # a range of values, unitless
    if _asks_email(answer_type, question):
        return (_EMAIL,)  # an address to write to, not a name beside it
    if answer_type is AnswerType.CODE and _CVE_ASKED.search(question):
        return (_CVE,)  # "Which CVE ...?": not a setting's name beside it
    return _PATTERNS.get(answer_type, ())


# A capitalised word right before a number, not opening its sentence: the number is part
# of a name ("Lion Air Flight 043", "the Boeing Model 737"), not a count.
_NAMED_NUMBER = re.compile(r"(?<=[\w,;)] )(?!(?:The|A|An|All|About|Over|Up|Only)\s)"
                           r"[A-Z][A-Za-z]+\s$")


def _is_part_of_other(text: str, start: int, end: int) -> bool:
    """Whether a bare number belongs to a version, date, code, time, amount or measure,
    or numbers the step it opens ("1. Collect the robot's serial number ...")."""
    before, after = text[max(0, start - 1):start], text[end:end + 12]
    if re.match(r"[.:/\-\u2013\u2014>]\d|\s?(?:%|[ap]\.m\.)", after) or re.match(
            r"[\w.$\u20ac\u00a3+%/<>\-\u2013\u2014]", before):
        return True  # a part of a code ("AD 2018\u201323\u201351"), a URL, a time, ...
    if re.match(r"[-\u2013](?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
                r"[a-z]+th)\b", after, re.I):
        return True  # an ordinal's first part ("Sixty-eighth Congress")
    if not text[:start].strip() and re.match(r"[.)]\s", after):
        return True  # a list item's number
    for answer_type in (AnswerType.DURATION, AnswerType.AMOUNT, AnswerType.MEASURE,
                        AnswerType.DATE, AnswerType.PERCENTAGE):
        for pattern in _PATTERNS[answer_type]:
            for m in pattern.finditer(text):
                if m.start() <= start and end <= m.end() and (m.end() - m.start()) > end - start:
                    return True
    return False


def _extend_with_terms(text: str, end: int, question_terms: set[str], limit: int = 3) -> int:
    """Extend a count over up to ``limit`` following words that are question terms
    ("10" -> "10 household members")."""
    pos = end
    for _ in range(limit):
        m = re.match(r"\s+([A-Za-z][\w-]*)", text[pos:])
        if not m or stem(m.group(1).casefold()) not in question_terms:
            break
        pos += m.end()
    return pos


def _clauses(text: str) -> list[tuple[int, int]]:
    """Clauses (split at ";", ":" and sentence ends) that hold a polarity word."""
    out, start = [], 0
    for m in re.finditer(r"[;:]\s+|(?<=[a-z)])\.\s+(?=[A-Z])|$", text):
        clause = text[start:m.start()]
        if _POLARITY.search(clause):
            lead = len(clause) - len(clause.lstrip())
            out.append((start + lead, start + len(clause.rstrip(" ."))))
        start = m.end()
    return out


def _best_span(text: str, spans: list[tuple[int, int]], terms: list[str],
               anchors: Sequence[int] = (), counted: bool = False) -> tuple[int, int]:
    """The span nearest to where the question's terms occur in ``text``, or the first
    after one of ``anchors`` when given (where the text names the place or the name asked
    about: in "Canada: CAD 25.99; UK: GBP 16.99" the price after "UK" answers a question
    about London; a count, ``counted``, with or right before the name it counts)."""
    if len(spans) == 1:
        return spans[0]
    positions = list(anchors) or _positions(text, terms)
    if not positions:
        return spans[0]
    if anchors:
        # a count with, or right before, the name it counts ("up to 64 Zigbee devices and
        # 32 Matter devices"), else a value after the name it belongs to ("UK: GBP 16.99",
        # "Ohio, May 2")
        before = [s for s in spans if any(s[0] <= p <= s[1] + 1 for p in positions)]
        if counted and before:
            return before[0]
        # a value labelled by the name in brackets after it: "$99 (S7), $119 (X9 Pro) or
        # $69 (M3)" gives the X9 Pro $119, not the $69 that follows its name
        labelled = [s for s in spans if any(p > s[1] and re.fullmatch(r"\s*\(\s*", text[s[1]:p])
                                            for p in positions)]
        if labelled:
            return labelled[0]
        return min(spans, key=lambda s: min(s[0] - p if s[0] >= p else 1000 + p - s[0]
                                            for p in positions))
    return min(spans, key=lambda s: min(abs(p - s[0]) for p in positions))


def _positions(text: str, terms: Iterable[str]) -> list[int]:
    """Where the words of ``text`` that give one of ``terms`` (stemmed) start."""
    return [m.start() for m in re.finditer(r"[\w.:-]+", text)
            if any(stem(t) in terms for t in tokens(m.group(0)))]


def _taken(answer_type: AnswerType, unit: EvidenceUnit, start: int, end: int, reason: str,
           terms: Sequence[str], have: set[str], alike: dict[str, str] | None = None,
           question: str = "") -> Extraction:
    """The ``Extraction`` of ``unit.text[start:end]``: key terms found in ``have`` (and
    those ``alike`` names in other words) and missing, and their share. A yes/no answer is
    led by the verdict its clause gives the ``question`` (``_verdict``), unless the unit
    is a table row (its "No" is a cell's) or already opens with "Yes" or "No"."""
    alike = alike or {}
    matched = tuple(t for t in terms if t in have)
    shown = _answer_text(unit, start, end, terms)
    if (answer_type is AnswerType.YESNO and unit.kind != "row"
            and not re.match(r"\W*(?:yes|no)\b", unit.text, re.I)):
        verdict = _verdict(question, unit.text[start:end])
        if verdict:
            shown = f"{verdict}: {shown}"
    return Extraction(answer_type, unit.text[start:end], start, end, unit,
                      shown, reason, matched,
                      tuple(t for t in terms if t not in have and t not in alike),
                      (len(matched) + len(alike)) / len(terms) if terms else 0.0,
                      tuple(alike.items()))


# A sentence that names its subject only as "this mode", "this parameter", ...: its
# heading says which ("ROW SHARE" for "The SELECT command acquires a lock of this mode").
_DEICTIC = re.compile(r"\b(?:this|that|these) (?:mode|modes|parameter|parameters|option|options|"
                      r"setting|settings|function|functions|command|lock|flag|variable|"
                      r"field|column|key|method|format|level|feature|value)\b", re.I)


def _referent(unit: EvidenceUnit) -> str | None:
    """The heading a sentence of ``unit`` points back to with "this mode" and the like,
    when the unit does not name it itself; None otherwise."""
    if not unit.heading or not _DEICTIC.search(unit.text):
        return None
    last = unit.heading[-1].strip()
    return last if last and last.casefold() not in unit.text.casefold() else None


# A clause that says no outright: a negation, not hedged by a condition or an exception
# ("not ... unless", "only if", "if not", "not only").
_NEGATION = re.compile(r"\b(?:not|never|cannot|can't|don't|doesn't|won't|isn't|aren't|no)\b",
                       re.I)
_HEDGE = re.compile(r"\b(?:unless|except|if|only|but|however|otherwise|without)\b", re.I)


# States that answer each other: a question asking whether something is "on" is answered
# no by "off" and yes by "on" (a negation aside).
_STATES = (({"on", "enabled"}, {"off", "disabled"}),
           ({"required", "mandatory", "compulsory", "obligatory"}, {"optional"}),
           ({"supported"}, {"unsupported"}),
           ({"allowed", "permitted"}, {"prohibited", "forbidden"}),
           ({"compatible"}, {"incompatible"}), ({"included"}, {"excluded"}))


_ON_STATE = re.compile(r"\b(?:switched|turned|set|left|is|are)\s+on\b|\bon\s*(?:by default|"
                       r"out of the box|now|\?|,|$)")


def _verdict(question: str, clause: str) -> str | None:
    """"No" or "Yes" for a yes/no question whose polarity clause settles it: a plain
    negation says no (``_denies``); else a state word of the question ("on by default?")
    answered by its opposite ("off by default") says no, and by itself yes. None when the
    clause does not settle it."""
    if _denies(clause):
        return "No"
    if _NEGATION.search(question) or _HEDGE.search(clause):
        return None  # (a clause's negation with no hedge is ``_denies``'s "No")
    asking = _asked_sentence(question)
    asked = set(re.findall(r"[a-z]+", asking))
    if not _ON_STATE.search(asking):
        asked.discard("on")  # "on the dock", "on Fridays": a place or a time, not a state
    said = set(re.findall(r"[a-z]+", clause.casefold()))
    for yes, no in _STATES:
        for same, other in ((yes, no), (no, yes)):
            if asked & same:
                if said & other:
                    return "No"
                if said & same:
                    return "Yes"
    return None


def _denies(clause: str) -> bool:
    """Whether ``clause`` (the polarity clause extraction took for a yes/no question)
    answers it with a plain no: the answer is then led by "No:"."""
    return bool(_NEGATION.search(clause)) and not _HEDGE.search(clause)


def _answer_text(unit: EvidenceUnit, start: int, end: int, terms: Sequence[str] = ()) -> str:
    """The unit with ``start:end`` marked, cut to ``MAX_ANSWER_WORDS`` words around the
    span; when the span is most of the unit (an "other" or yes/no answer), around the
    stretch holding most of the question's key ``terms`` instead of its first words (a
    function's table row: its signature first, what the question asks at the end). A
    unit that says "this mode" for its heading's subject is led by that heading
    (``_referent``)."""
    referent = _referent(unit)
    shown = _cut(unit, start, end, terms)
    return f"{referent}: {shown}" if referent else shown


def _cut(unit: EvidenceUnit, start: int, end: int, terms: Sequence[str]) -> str:
    text = unit.text
    marked = f"{text[:start]}**{text[start:end]}**{text[end:]}" if end > start else text
    words = marked.split()
    if len(words) <= MAX_ANSWER_WORDS + _UNCUT_WORDS:
        return marked  # a sentence a few words over is shown whole, not cut before its end
    before = len(text[:start].split())
    lo = max(0, min(before - MAX_ANSWER_WORDS // 3, len(words) - MAX_ANSWER_WORDS))
    if terms and len(text[start:end].split()) > MAX_ANSWER_WORDS:
        held = [any(stem(t) in terms for t in tokens(w)) for w in words]
        counts = [sum(held[i:i + MAX_ANSWER_WORDS])
                  for i in range(len(words) - MAX_ANSWER_WORDS + 1)]
        best = [i for i, c in enumerate(counts) if c == max(counts)]
        lo = best[len(best) // 2]  # the middle of the windows holding most
    hi = lo + MAX_ANSWER_WORDS
    # the window's last sentence is shown to its end when that is near ("... then the
    # shorter ones are padded with NULLs.", not "... then the shorter ...")
    ends = [i + 1 for i in range(hi - 1, min(len(words), hi + _UNCUT_WORDS))
            if words[i].rstrip("*)]\"'”").endswith((".", "?", "!", ";"))]
    hi = ends[0] if ends else hi
    while hi < len(words) and words[hi - 1].strip("*") in ("→", "->", "=>"):
        hi += 1  # an example's result after its arrow ("translate(...) → a2x5")
    shown = words[lo:hi]
    if sum(w.count("**") for w in words[:lo]) % 2:  # the window starts inside the mark
        shown[0] = "**" + shown[0]
    if sum(w.count("**") for w in words[:hi]) % 2:  # ... or ends inside it
        shown[-1] += "**"
    return ("... " if lo else "") + " ".join(shown) + (" ..." if hi < len(words) else "")


# "How big is it and how much does it weigh?", "What's the fee, and what do you charge
# for ...?", "How loud is it in Eco mode compared with Max mode?": two things asked.
# "What does a main brush cost, and a 2-pack of side brushes?": a second thing named after
# ", and" at the end of the question, its question left out.
_TWO_ASKED = re.compile(
    r"(?:,\s*|\s)(?:and|or)\s+(?:(?:on|in|at|by|from|for|to|until|since|after|before|within)"
    r"\s+)?(?:how|what|which|when|where|who|whom|whose)\b|"
    r"\b(?:compared (?:with|to)|versus|vs\.?)\s|"
    r",\s+and\s+(?:a|an|the|its|my|one|two|\d)\b[^?,]*\?\s*$", re.I)


def asks_two(question: str) -> bool:
    """Whether the asking sentence asks for two things (a second question word after
    "and"/"or", or a comparison), which one extracted span cannot answer."""
    return _TWO_ASKED.search(_asking(question)) is not None


def corpus_terms(names: Iterable[str]) -> frozenset[str]:
    """The terms (stems, as ``key_terms`` gives them) of ``names``."""
    return frozenset(stem(t) for name in names for t in tokens(name))


# A leading phrase that says where to look, before the question proper: "According to the
# historical note, on what date ...", "In the proposed 737 MAX AD, which figure ...",
# "Under Section 4 of the Twenty-fifth Amendment, within how many hours ...".
_CONTEXT = re.compile(r"^(?:according to|in|under|for|per|as per|within)\s+([^,?]{3,90}),\s+"
                      r"(?=(?:(?:on|in|at|by|for|to|from|with|under|until|since|after|before|"
                      r"within)\s+)?(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|"
                      r"does|did|can|could|will|would|should|must|may|might|has|have)\b)",
                      re.I)


def context_phrase(question: str) -> tuple[str, str]:
    """``(phrase, rest)``: the leading phrase of the asking sentence that says where to
    look (``_CONTEXT``) and the question after it; ``("", asking sentence)`` when there
    is none."""
    asking = _asking(question)
    m = _CONTEXT.match(asking)
    return (m.group(1), asking[m.end():]) if m else ("", asking)


class Asked(NamedTuple):
    """What a question asks, as ``extract`` reads it (``asked_terms``)."""

    kind: AnswerType
    terms: list[str]  # key terms
    required: list[str]  # names the unit must give
    context: list[str]  # names of where to look: the unit's path or passage must give one


def asked_terms(question: str, corpus_names: Iterable[str] = ()) -> Asked:
    """``(kind asked for, key terms, required terms, context)`` as ``extract`` reads
    ``question``:
    ``key_terms`` less the words naming the kind ("time", "cost", ...), and "default"
    required when a default is asked for (the unit must state one); for a count of
    something per something ("how many rows per second"), what it is per is required too:
    "one row per replication slot" is no answer to it. The words of ``corpus_names`` (the
    names the whole corpus is about: "PostgreSQL" for its manual) are not required: every
    unit speaks for them, named or not ("What is gcd(1071, 462) in PostgreSQL?" is
    answered by the function's row, which does not repeat the product's name); they stay
    key terms. A leading phrase that says where to look ("Under Section 4 of the
    Twenty-fifth Amendment, ...", ``context_phrase``) gives no key terms; the names in it
    are the ``context``, which the unit's path or passage must name, not the unit itself."""
    answer_type = asked_for(question)
    terms, required = key_terms(question)
    given = corpus_terms(corpus_names)
    required = [t for t in required if t not in given]
    if _DEFAULT_ASKED.search(question) and "default" not in required:
        required = [*required, "default"]
    if answer_type is AnswerType.COUNT:  # "how many rows per second": a rate of seconds
        for word in re.findall(r"\bper\s+(\w+)", question, re.I):
            term = stem(word.casefold())
            if term in terms and term not in required:
                required = [*required, term]
    context: list[str] = []
    phrase, rest = context_phrase(question)
    if phrase:
        kept = set(key_terms(rest)[0])
        dropped = [t for t in term_set(phrase) if t not in kept and t not in STOPWORDS]
        terms = [t for t in terms if t not in dropped] or terms
        context = [t for t in required if t in dropped]
        required = [t for t in required if t not in dropped]
    kind_words = set(_KIND_WORDS.get(answer_type, ()))
    if _asks_email(answer_type, question):
        kind_words |= {"email", "e-mail", "mail", "address"}  # what the span itself is
    return Asked(answer_type, [t for t in terms if t not in kind_words], required, context)


def extract(
    question: str,
    units: Selection | Sequence[EvidenceUnit | ScoredUnit],
    min_coverage: float = MIN_COVERAGE,
    other_min_coverage: float = OTHER_MIN_COVERAGE,
    top_min_coverage: float = TOP_MIN_COVERAGE,
    related: RelatedTerms | None = None,
    pool: Sequence[EvidenceUnit] = (),
    corpus_names: Sequence[str] = (),
    facts: PoolFacts | None = None,
) -> Extraction | None:
    """The first unit of ``units`` that answers ``question`` (module docstring), or None.

    ``units`` are taken in the order given, best first (a ``Selection`` by score); a unit
    of a superseded or archived document is taken only when no current one qualifies.
    With ``related``, a key term the unit lacks counts toward coverage when the unit has
    a word of like meaning for it (``RelatedTerms``); required terms and the key term in
    the unit's text must still be there word for word.

    ``pool`` (every unit of the retrieved passages) lets a default be read from beside
    its subject: when a default is asked, a unit that names what is asked about but not
    its default ("Sets the maximum number of client connections ...") answers through a
    unit of the same passage that states one ("The default is typically 100
    connections"), the two units' terms counted together (``_default_beside``).

    ``corpus_names``: the names the whole corpus is about, which no unit need repeat
    (``asked_terms``). ``facts``: ``PoolFacts.of(pool)`` when the caller has it already.
    """
    answer_type, terms, required, context = asked_terms(question, corpus_names)
    given = corpus_terms(corpus_names)
    if not terms or asks_two(question):
        return None  # one span cannot answer two questions: the reader, or a decline
    version_asked = answer_type is AnswerType.CODE and bool(_VERSION_ASKED.search(question))
    if version_asked:
        # "After 15.9, ... Which release restored that?": a release the question names is
        # a point of reference, not a name the answer must repeat
        required = [t for t in required if not _REFERENCE_VERSION.fullmatch(t)]
    # a release a unit's heading names may answer (``_release_of``), not another system's
    release_asked = version_asked and not _NAMED_VERSION.search(question)
    asked_numbers = _numbers(question)
    # A row read as a lookup (the cell under the column asked for), from a current
    # document; from a superseded one only when nothing current answers at all.
    listed = _as_units(units)
    stale: Extraction | None = None
    question_terms = set(terms) | {stem(t) for t in tokens(question)}

    def of_kind(cell: str) -> bool:  # a cell holds a span of the kind asked, as a unit must
        return answer_type not in _TYPED or bool(
            _text_spans(answer_type, cell, question, question_terms, set(terms)))

    for old in (False, True):
        table = lookup(question, [u for u in listed if u.stale is old], of_kind)
        if table is not None:
            have = term_set(table.unit.text) | term_set(table.unit.path)
            found = _taken(answer_type, table.unit, table.start, table.end,
                           f"lookup: {table.reason}", terms, have, question=question)
            if not old:
                return found
            stale = found
    if "default" in required:
        found = _definition_default(question, [*listed, *pool], answer_type, terms)
        if found is None and answer_type is AnswerType.YESNO:
            found = _switch_default(listed[:SWITCH_UNITS], pool, terms)
        if found is not None and not found.unit.stale:
            return found
        stale = stale or found  # a superseded definition only if nothing current answers
    threshold = other_min_coverage if answer_type is AnswerType.OTHER else min_coverage
    facts = facts or PoolFacts.of(pool)
    conditions = _conditions(question)
    # What the question asks about besides its names: a unit must say one of these words,
    # not only name the product ("Price: $899, including the mopping module" does not
    # answer "How much is a replacement mopping module for the X9 Pro?" by its name alone).
    topic = [t for t in terms if t not in required or t == "default"] or terms
    # The attribute the question implies ("weight" for "how heavy"): in a unit's text it
    # says what is asked about (the key-term floor is counted without it).
    implied = {stem(w) for w in attribute_terms(question)} - set(terms)
    # ... and the question's words for it ("come out"), which such a unit says its own way
    phrased = _attribute_phrase_terms(question) & set(terms) if implied else set()
    # The places the question gives ("London"), found once: each unit may name them by
    # their country or group ("UK").
    places = {t: word for t in required if (word := _place_word(t, question))}
    acronyms = {t: spelt for t, spelt in _acronyms(question).items() if t in terms}
    titled: Extraction | None = None  # a release a unit's heading names
    # The command-line options the question writes ("--swap"): an answer's passage must
    # have them, or it is about other options (of another version, say).
    quoted = set(_OPTION.findall(question)) - {"-"}
    # "Which pg_upgrade option avoids copying the data files?": an option is asked for,
    # and a unit under an option's own heading ("-k, --link") is that option's definition
    option_asked = answer_type in (AnswerType.OTHER, AnswerType.NAME) and bool(
        _OPTION_ASKED.search(_asking(question)))
    passages_text: dict[str, str] = {}

    def passage_text(chunk_id: str) -> str:
        if chunk_id not in passages_text:
            passages_text[chunk_id] = "\n".join(
                f"{u.path}\n{u.text}" for u in [*pool, *listed] if u.chunk_id == chunk_id)
        return passages_text[chunk_id]

    for rank, unit in enumerate(listed):
        in_text = term_set(unit.text)
        have = in_text | term_set(unit.path)
        where = f"{unit.path}\n{unit.text}"  # what names a place, an acronym or a name
        item: set[str] = set()
        if answer_type in _TYPED:  # a record's or list item's other lines say what its
            # value is about
            item = facts.item(unit)
            have |= facts.records.get((unit.chunk_id, unit.heading), set()) | item
        # a place the question gives, named by its country or group ("UK" for "London")
        have |= {t for t, word in places.items()
                 if t not in have and named_in(word, where)}
        # an acronym the question writes, spelt out ("United States" for "U.S.")
        have |= {t for t, spelt in acronyms.items()
                 if t not in have and spelt.search(where)}
        named_attribute = bool(implied & in_text)
        # ... or in its own heading: "You can return any hardware product within 60 days"
        # under "Refund window"
        topic_in_text = any(t in in_text for t in topic) or bool(
            unit.heading and any(t in term_set(unit.heading[-1]) for t in topic))
        if named_attribute:
            have |= phrased
        matched = tuple(t for t in terms if t in have)
        coverage = len(matched) / len(terms)
        needed = min(threshold, top_min_coverage) if rank == 0 and answer_type in _TYPED \
            else threshold
        alike: dict[str, str] = {}
        if coverage < needed and related is not None:
            lacking = [t for t in terms if t not in have and t not in required]
            alike = related(question, lacking, unit) if lacking else {}
            coverage = (len(matched) + len(alike)) / len(terms)
        if coverage < needed or not (named_attribute or topic_in_text
                                     or any(t in item for t in topic)):
            continue
        if coverage < threshold and _fully_covered(listed[rank + 1:], terms, answer_type,
                                                   question, question_terms):
            # the best unit passes only by the best unit's lower floor, and another holds
            # every key term and a span of the kind: "We issue the refund within 3 business
            # days" (Refund timing) is not the refund window that another unit gives
            continue
        if not _row_named(unit, matched, places, facts.tables):
            continue  # only the header names what is asked: every row of the table does
        if _names_other_row(unit, terms, have, facts.row_keys):
            continue  # "the battery warranty of the S7": the Batteries row, not the Robots'

        # A name the question gives may be in the unit's passage rather than the unit
        # ("Which period does the SOC 2 report cover?": "The most recent report covers
        # ..." after "SOC 2 Type II ..."); a default asked for must be stated in the unit
        # itself, or beside it (``_default_beside``).
        named = have | (facts.passages.get(unit.chunk_id, set()) - {"default"})
        if _elsewhere(context, named | given):
            continue  # the unit is from somewhere else than the question says
        if quoted and not all(_written(o, passage_text(unit.chunk_id)) for o in quoted):
            continue  # "Is pg_upgrade --swap faster ...?": a passage without --swap
        if unnamed(required, question, named, where):
            found = _default_beside(question, unit, have, pool, answer_type, terms, required,
                                    question_terms, needed)
            if found is not None and not found.unit.stale:
                return found
            stale = stale or found
            continue
        if answer_type is not AnswerType.YESNO and _opposite(conditions, unit.text):
            continue  # "with a full dust bag" read from "Weight 5.2 kg without a dust bag."
        if option_asked and (option := _option_heading(unit, quoted)):
            found = _named_by_heading(unit, option, terms, have, "option")
            if not unit.stale:
                return found
            stale = stale or found
            continue
        spans = _spans(answer_type, unit, question, question_terms, set(terms))
        if not spans and release_asked and (titled is None or titled.unit.stale):
            found = _release_of(unit, asked_numbers, terms, have)
            if found is not None and (titled is None or not found.unit.stale):
                titled = found  # the first current one, else the first
            continue
        if not spans:
            continue
        anchors = [m.start() for t, word in places.items()
                   if t not in in_text and (m := named_in(word, unit.text))]
        if len(spans) > 1 and not anchors:
            # of a list's values, the one next to the name the question gives ("which date
            # did Massachusetts ratify": "Massachusetts, June 26, 1933", not the first date)
            anchors = _positions(unit.text, required)
        whole = [s for s in spans if set(terms) <= term_set(unit.text[s[0]:s[1]])] \
            if answer_type is AnswerType.YESNO and len(spans) > 1 else []
        if whole:
            # the clause that says all that is asked: "The AutoDock E2 works with the
            # SweepBot X9 Pro only. It is not compatible with the SweepBot S7" answers "Does
            # the X9 Pro work with the AutoDock E2?" in its first clause, and "... the
            # S7 ...?" (which no one clause says whole) in the one after the name
            start, end = whole[0]
        else:
            start, end = _best_span(unit.text, spans, terms, anchors,
                                    counted=answer_type is AnswerType.COUNT)
        span = unit.text[start:end]
        reason = (f"{answer_type.value} '{span}' in a unit holding {len(matched)} of "
                  f"{len(terms)} key terms ({', '.join(matched)})")
        if alike:
            reason += " and " + ", ".join(f"{w!r} for {t}" for t, w in alike.items())
        found = _taken(answer_type, unit, start, end, reason, terms, have, alike, question)
        head = facts.heads.get((unit.chunk_id, unit.start))
        if head and not named_attribute and not topic_in_text:
            # what the paragraph is about is said by its item's first line: shown with it
            # ("Fix MERGE to enforce row security policies properly (Dean Rasheed): The
            # PostgreSQL Project thanks ... (CVE-2023-39418)")
            found = replace(found, text=f"{head.rstrip(' .:')}: {found.text}",
                            reason=f"{found.reason}, about its list item's first line")
        if not unit.stale:
            return found
        stale = stale or found
    # a release named by a heading only where no unit states a version itself
    if titled is not None and (stale is None or not titled.unit.stale):
        return titled
    if stale is None and (answer_type in _SETTING_VALUE_KINDS or (
            answer_type is AnswerType.OTHER and _VALUE_ASKED.search(question))):
        # "How many cost points does vacuum charge ... (vacuum_cost_page_dirty)?": the
        # value of a setting the question names is the one its definition states
        found = _definition_default(question, [*listed, *pool], answer_type, terms)
        if found is not None and not unnamed(
                required, question, term_set(found.unit.text) | term_set(found.unit.path),
                f"{found.unit.path}\n{found.unit.text}"):
            return found  # ... unless the question is about another place (Amazon RDS)
    if stale is None and "default" in required and answer_type is not AnswerType.YESNO:
        found = _described_default(question, listed[:DESCRIBED_UNITS], pool, answer_type,
                                   terms, required, question_terms)
        if found is not None:
            return found
    if stale is None and answer_type in (AnswerType.OTHER, AnswerType.YESNO):
        return _function_row(question, listed, terms)
    return stale


# The kinds of a setting's value, and the words that ask for one when the kind is "other"
# ("What value does maintenance_io_concurrency start at ...?")
_SETTING_VALUE_KINDS = frozenset({AnswerType.COUNT, AnswerType.AMOUNT, AnswerType.MEASURE,
                                  AnswerType.DURATION, AnswerType.PERCENTAGE})
_VALUE_ASKED = re.compile(r"\b(?:what|which) value\b|\bset to\b|\bstarts? (?:at|with|out)\b",
                          re.I)


# A function the question names by its call ("strpos()"), and the row of a function
# reference that defines it: its signature after the row's header or after another
# signature's result ("Function/Operator Description Example(s): strpos ( string text,
# substring text ) → integer ...").
_CALLED = re.compile(r"\b([A-Za-z_][\w.]*)\s*\(\)")


def _function_row(question: str, units: Sequence[EvidenceUnit],
                  terms: Sequence[str]) -> Extraction | None:
    """Where no unit answers by the key terms, the row that defines a function the
    question names by its call: "What does strpos() give back when the substring is not
    found at all?" is about strpos, whose row says "... or zero if it's not present" in
    other words. Shown around the question's words (``_answer_text``). None when no unit
    of ``units`` (current documents only) defines such a function, or more than one does
    (overloads: which one is asked, the rules cannot tell)."""
    named = set(_CALLED.findall(question))
    rows = [unit for unit in units if not unit.stale and any(
        re.search(rf"(?:^|Example\(s\): |Description: |\u2192 [\w ]+? ){re.escape(n)} \(",
                  unit.text) for n in named)]
    if not rows or len({unit.text for unit in rows}) > 1:
        return None  # none, or overloads in rows of their own ("log ( numeric )", "log ( b, x )")
    unit = rows[0]
    have = term_set(unit.text) | term_set(unit.path)
    matched = [t for t in terms if t in have]
    return _taken(AnswerType.OTHER, unit, 0, len(unit.text),
                  f"the row defining {', '.join(sorted(named))}() holding "
                  f"{len(matched)} of {len(terms)} key terms", terms, have)


# A condition with or without something: "with a full dust bag", "homes with pets" against
# "without a dust bag", "if I don't have pets", "no pets". What the condition is about is
# up to three words after it, within its phrase ("time of day (no date), with time zone":
# no date, with a time zone). A bare "not" negates a verb ("Do not use vinegar"), which is
# a yes/no question's answer, not a condition: left out.
_WITHOUT = re.compile(r"\b(?:without|no|(?:do|does|did)(?:n't|n\u2019t| not) have|lacks?)\s+"
                      r"([\w-]+(?:[ \t]+[\w-]+){0,2})", re.I)
_WITH = re.compile(r"\b(?:with|has|have|having)\s+([\w-]+(?:[ \t]+[\w-]+){0,2})", re.I)


def _condition_words(pattern: re.Pattern[str], text: str) -> set[str]:
    out: set[str] = set()
    for m in pattern.finditer(text):
        out |= {stem(t) for t in tokens(m.group(1))} - STOPWORDS
    return out


def _conditions(question: str) -> tuple[set[str], set[str]]:
    """What ``question`` is with and without (``_WITH``, ``_WITHOUT``)."""
    without = _condition_words(_WITHOUT, question)
    return _condition_words(_WITH, question) - without, without


def _opposite(conditions: tuple[set[str], set[str]], text: str) -> bool:
    q_with, q_without = conditions
    t_without = _condition_words(_WITHOUT, text)
    t_with = _condition_words(_WITH, text) - t_without
    return bool(q_with & t_without) or bool(q_without & t_with)


def contradicts(question: str, text: str) -> bool:
    """Whether ``text`` states the opposite condition to one ``question`` gives: the
    question is with something the text is without ("How much does the dock weigh with a
    full dust bag?" against "Weight 5.2 kg without a dust bag."), or without something the
    text is with ("if I don't have pets" against "Homes with pets: replace it every 2
    months")."""
    return _opposite(_conditions(question), text)


def extract_ranked(question: str, ranked: Sequence[EvidenceUnit | ScoredUnit],
                   pool: Sequence[EvidenceUnit] = (), corpus_names: Sequence[str] = (),
                   ) -> Extraction | None:
    """``extract`` as the answer path runs it over units ranked best first: the best
    ``EXTRACT_UNITS`` at the usual thresholds; where none of them answers (or only a unit
    of a superseded document does), the next ones down to rank ``DEEP_UNITS`` with
    ``DEEP_MIN_COVERAGE`` of the question's key terms, whatever the kind asked for. A unit
    the scorer ranks low but that holds most of the question's words and a span of the
    kind asked for is still the answer ("The default is eight megabytes (8MB)." under
    "temp_buffers" when other passages share more words with the question)."""
    facts = PoolFacts.of(pool)
    found = extract(question, ranked[:EXTRACT_UNITS], pool=pool, corpus_names=corpus_names,
                    facts=facts)
    if (found is not None and not found.unit.stale) or len(ranked) <= EXTRACT_UNITS:
        return _superseded(question, found, [*_as_units(ranked), *pool], corpus_names)
    deeper = extract(question, ranked[EXTRACT_UNITS:DEEP_UNITS],
                     min_coverage=DEEP_MIN_COVERAGE,
                     other_min_coverage=max(OTHER_MIN_COVERAGE, DEEP_MIN_COVERAGE),
                     top_min_coverage=DEEP_MIN_COVERAGE, pool=pool, corpus_names=corpus_names,
                     facts=facts)
    if deeper is not None and not deeper.unit.stale:
        return _superseded(question, deeper, [*_as_units(ranked), *pool], corpus_names)
    return found or deeper


# A change stated with the value it replaced: "The default suction mode for new cleaning
# jobs is now Auto (previously Standard)", "The return window is now 30 days (previously
# 14 days)".
_NOW_PREVIOUSLY = re.compile(r"\bnow\s+(?:is\s+|are\s+)?(.+?)\s*\(previously\s+([^)]+)\)", re.I)


def _superseded(question: str, found: Extraction | None, units: Sequence[EvidenceUnit],
                corpus_names: Sequence[str]) -> Extraction | None:
    """``found``, or the change that replaced its value: a current unit among ``units``
    that says the thing is "now X (previously Y)", Y being (in) found's span, and holds half the
    question's key terms answers with X ("Which suction mode do new cleaning jobs use by
    default now?": the manual's "is Standard" is what the release notes say was changed
    to Auto). Two current documents disagree there, and the one that states the change
    knows of both values."""
    if found is None or found.unit.stale:
        return found
    old = _squash(found.span)
    if not old:
        return found
    terms = asked_terms(question, corpus_names).terms
    for unit in units:
        if unit.stale or unit is found.unit:
            continue
        m = _NOW_PREVIOUSLY.search(unit.text)
        if m is None or f" {_squash(m.group(2))} " not in f" {old} " \
                or f" {_squash(m.group(1))} " in f" {old} ":
            continue  # the old value is not what was found, or the new one is there too
        have = term_set(unit.text) | term_set(unit.path)
        if not terms or sum(t in have for t in terms) / len(terms) < 0.5:
            continue
        changed = _taken(found.answer_type, unit, m.start(1), m.end(1), "", terms, have,
                         question=question)
        return replace(changed, reason=f"'{m.group(1)}' replaced '{found.span}' ({found.reason}): "
                                       f"a current document states the change")
    return found


def _squash(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.casefold()))


def _table_key(unit: EvidenceUnit, cells: Sequence[tuple[str, str, int]]
               ) -> tuple[str, tuple[str, ...]]:
    """A row's table: its passage and its column headers (``cells``: ``row_cells(unit)``)."""
    return unit.chunk_id, tuple(h for h, _, _ in cells)


def _row_named(unit: EvidenceUnit, matched: Sequence[str], places: dict[str, str],
               tables: dict[tuple[str, tuple[str, ...]], int]) -> bool:
    """Whether a table row is picked by what it says rather than by its table's headers
    alone: a row whose table has other rows in the passage must hold one of the
    ``matched`` key terms (or a place the question gives) in its cells. The headers
    ("Parameter: ...; Default: ...") are the same for every row, so the words they share
    with the question say which column is asked for, never which row. Other units, and
    a table's only row, pass."""
    cells = row_cells(unit)
    if cells is None or tables.get(_table_key(unit, cells), 0) < 2:
        return True
    values = "\n".join(value for _, value, _ in cells)
    in_cells = term_set(values)
    return any(t in in_cells for t in matched) or any(
        named_in(word, values) for word in places.values())


def _fully_covered(units: Sequence[EvidenceUnit], terms: Sequence[str],
                   answer_type: AnswerType, question: str, question_terms: set[str]) -> bool:
    """Whether one of ``units`` holds every key term (in its text or heading path) and a
    span of the kind asked."""
    for unit in units:
        have = term_set(unit.text) | term_set(unit.path)
        if all(t in have for t in terms) and _spans(answer_type, unit, question,
                                                     question_terms, set(terms)):
            return True
    return False


def _row_key(cells: Sequence[tuple[str, str, int]]) -> set[str]:
    """The first term of a row's first cell (``row_cells``), what the row is about:
    {"battery"} for "Batteries (robot battery packs)"; empty for a cell of stopwords."""
    return set([stem(t) for t in tokens(cells[0][1]) if t not in STOPWORDS][:1])


def _names_other_row(unit: EvidenceUnit, terms: Sequence[str], have: set[str],
                     row_keys: dict[tuple[str, tuple[str, ...]], list[set[str]]]) -> bool:
    """Whether the question names another row of ``unit``'s table: a key term the row
    lacks opens another row's first cell. "How long is the battery warranty on the
    SweepBot S7?" names the "Batteries (robot battery packs)" row; the "Robots (SweepBot
    S7, ...)" row's 24 months is the robots' warranty, not the battery's. (A word further
    into a first cell, "deleted" of "Data of deleted accounts", names no row.)"""
    cells = row_cells(unit)
    if cells is None:
        return False
    own = _row_key(cells)
    others = [k for k in row_keys.get(_table_key(unit, cells), []) if k != own]
    return any(t not in have and any(t in k for k in others) for t in terms)


@dataclass(frozen=True)
class PoolFacts:
    """What ``extract`` reads off the whole pool (every unit of the retrieved passages),
    read once per question: ``passages``, the terms of each passage (chunk id) over all
    its units; ``records``, the terms of each record (a section headed "KI-2044 Acme Home
    app 5.4.0 on Android 15", within one passage: chunk id and heading path) over all its
    lines; ``tables``, how many rows of each table (``_table_key``) the pool holds;
    ``items``, the terms of each list item that goes on in paragraphs (``_item_terms``);
    ``heads``, for each later paragraph of such an item, the item's first line.

    A record's "Fixed in app 5.4.1" answers which version fixes the widget its "Symptom:"
    line describes, so a kind with a pattern (a version, a duration, ...) may count the
    record's words toward the key-term floor."""

    passages: dict[str, set[str]]
    records: dict[tuple[str, tuple[str, ...]], set[str]]
    tables: dict[tuple[str, tuple[str, ...]], int]
    items: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    heads: dict[tuple[str, int], str] = field(default_factory=dict)
    # the first term of each row's first cell (what the row is about: "batteries"), per
    # table
    row_keys: dict[tuple[str, tuple[str, ...]], list[set[str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, pool: Sequence[EvidenceUnit]) -> PoolFacts:
        passages: dict[str, set[str]] = {}
        records: dict[tuple[str, tuple[str, ...]], set[str]] = {}
        tables: dict[tuple[str, tuple[str, ...]], int] = {}
        row_keys: dict[tuple[str, tuple[str, ...]], list[set[str]]] = {}
        for unit in pool:
            terms = term_set(unit.text)
            passages.setdefault(unit.chunk_id, set()).update(terms)
            if unit.heading and is_record_heading(unit.heading[-1]):
                records.setdefault((unit.chunk_id, unit.heading), set()).update(terms)
            if (cells := row_cells(unit)) is not None:
                key = _table_key(unit, cells)
                tables[key] = tables.get(key, 0) + 1
                row_keys.setdefault(key, []).append(_row_key(cells))
        return cls(passages, records, tables, *_item_terms(pool), row_keys=row_keys)

    def item(self, unit: EvidenceUnit) -> set[str]:
        """The terms of the list item ``unit`` is part of (``_item_terms``), or none."""
        return self.items.get((unit.chunk_id, unit.start), set())


def _item_terms(pool: Sequence[EvidenceUnit]) -> tuple[dict[tuple[str, int], set[str]],
                                                       dict[tuple[str, int], str]]:
    """For each unit of a list item that goes on in paragraphs ("- Prevent CREATE SCHEMA
    from defeating ...", then "Within a CREATE SCHEMA command, ...", then "The PostgreSQL
    Project thanks ... (CVE-2023-2454)", before the next item), keyed by chunk id and the
    unit's start: the terms of the whole item; and for each paragraph after the first, the
    item's first line (what the paragraph is about). The paragraphs after a list's last
    item go with it up to the passage's end or a table row (a passage cut inside a list
    holds no next item to end it)."""
    out: dict[tuple[str, int], set[str]] = {}
    heads: dict[tuple[str, int], str] = {}
    by_chunk: dict[str, list[EvidenceUnit]] = {}
    for unit in pool:
        by_chunk.setdefault(unit.chunk_id, []).append(unit)
    for chunk_id, units in by_chunk.items():
        units.sort(key=lambda u: u.start)
        group: list[EvidenceUnit] = []
        for unit in [*units, None]:
            if unit is None or unit.kind == "item" or unit.kind == "row":
                if len(group) > 1:
                    terms = set().union(*(term_set(u.text) for u in group))
                    out.update({(chunk_id, u.start): terms for u in group})
                    heads.update({(chunk_id, u.start): group[0].text for u in group[1:]})
                group = [unit] if unit is not None and unit.kind == "item" else []
            elif group:
                group.append(unit)
    return out, heads


_DEFAULT_STATED = re.compile(r"\bdefaults?\b", re.I)
# A setting named by its identifier ("temp_buffers"), not one the question sets itself
# ("With wal_level=minimal, ..."); a command's option ("--checkpoint").
_IDENTIFIER = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b(?!\s*=)")
_OPTION = re.compile(r"(?<![\w-])(?:--[a-z][a-z0-9-]*[a-z0-9]|-[A-Za-z])\b")
# An SQL clause or parameter written in capitals: "DELIMITER", "CONNECTION LIMIT"
_CLAUSE = re.compile(r"\b[A-Z]{3,}(?:[ _][A-Z]{2,})*\b")
# A default's value as a definition states it: "The default is eight megabytes (8MB).",
# "The default setting is -1, which ...", "on, off and try (the default)", "VOLATILE is the
# default if ...", "When set to on, which is the default, ..."; not a remark ("The default
# is usually a reasonable choice") or a condition ("if the default value is volatile, ...").
_DEFAULT_VALUE = (
    re.compile(r"(?<!\bif the )(?<!\bwhen the )\bdefault(?: value| setting)? is\s+"
               r"(?!(?:usually|generally|normally|often|a|an|the|to|that|not|set|chosen|"
               r"determined|based|computed)\b)(.+?)(?=[.;]\s|[.;]?$|,\s+(?:which|but|and|"
               r"so)\b)", re.I),
    re.compile(r"(?<![\w'-])((?!(?:which|that|this|it|what)\b)[\w.'+-]+)\s+\(the default\)",
               re.I),
    re.compile(r"(?:^|[.;:]\s+)((?!(?:which|that|this|it|what)\b)[\w.'+-]+) is the default\b",
               re.I),
    # "It defaults to 64 megabytes (64MB).", "... and defaults to on"
    re.compile(r"\bdefaults to\s+(?!(?:the|a|an|whatever|that|being|using)\b)(.+?)"
               r"(?=[.;]\s|[.;]?$|,\s+(?:which|but|and|so|indicating|meaning)\b)", re.I),
    # "When set to on, which is the default, PostgreSQL will ..."
    re.compile(r"\bset to ((?!(?:which|that|this|it|what)\b)[\w.'+-]+)(?:,| \()\s*which is the "
               r"default\b", re.I),
)


def _written(name: str, text: str) -> bool:
    """Whether ``text`` writes ``name`` (an identifier, a command-line option: "--swap",
    "-m") as a word of its own."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def _defined(unit: EvidenceUnit) -> str:
    """What the unit's innermost heading defines, folded: "temp_buffers" for
    "temp_buffers (integer)"."""
    heading = unit.heading[-1] if unit.heading else ""
    return re.sub(r"\s*\([^)]*\)$", "", heading).strip().casefold()


def _definition_default(question: str, units: Sequence[EvidenceUnit],
                        answer_type: AnswerType, terms: Sequence[str]) -> Extraction | None:
    """The default of a setting or option the question names, from its definition: a
    unit under that setting's own heading ("temp_buffers (integer)": "The default is
    eight megabytes (8MB)."; "-c {fast|spread}, --checkpoint={fast|spread}": "... fast
    (immediate) or spread (the default)"), or one whose text names the setting ("The
    output format depends on the configuration parameter bytea_output; the default is
    hex."). "How big is the per-session temp_buffers pool for temporary tables unless I
    change it?" shares few words with that sentence, but the heading says whose default
    it is. A current document's first; the heading is shown before the sentence. None
    when no unit of ``units`` is such a definition."""
    identifiers = {m.group(0) for m in _IDENTIFIER.finditer(question)}
    options = {m.group(0) for m in _OPTION.finditer(question)}
    spelt = _squash(question)
    # a setting spelt out in words ("Is there a statement timeout out of the box?")
    identifiers |= {term for unit in units if "_" in (term := _defined(unit))
                    and f" {term.replace('_', ' ')} " in f" {spelt} "
                    and term not in question.casefold()}  # written as set: not asked
    # a command's clause or parameter in capitals ("unless DELIMITER is given", "has no
    # CONNECTION LIMIT"), defined under a heading that opens with it ("CONNECTION LIMIT
    # connlimit"); not the command itself ("COPY"), which heads every part of its page
    clauses = {m.group(0) for m in _CLAUSE.finditer(question)} - {
        h for unit in units for h in (*unit.heading[:-1], *unit.heading[:1])}
    if not identifiers and not options and not clauses:
        return None

    def headed(unit: EvidenceUnit) -> bool:  # under the setting's or option's own heading
        heading = unit.heading[-1] if unit.heading else ""
        return (_defined(unit) in identifiers
                or any(o in re.findall(r"(?<![\w-])--?[\w-]+", heading) for o in options)
                or any(re.match(rf"{re.escape(c)}\b", heading) for c in clauses))

    def naming(unit: EvidenceUnit) -> bool:  # its text names the setting ...
        defined = _defined(unit)  # ... not under another setting's own definition, whose
        # default is that setting's ("autovacuum_work_mem": "It defaults to -1, indicating
        # that the value of maintenance_work_mem should be used instead.")
        if _IDENTIFIER.fullmatch(defined) and defined not in identifiers:
            return False
        return any(_written(i, unit.text) for i in identifiers)

    stale: Extraction | None = None
    for unit in [*filter(headed, units), *filter(naming, units)]:
        found = _stated_default(unit, answer_type, terms, "stated in the definition under "
                                f"'{unit.heading[-1] if unit.heading else ''}'")
        if found is None:
            continue
        if not unit.stale:
            return found
        stale = stale or found
    return stale


def _stated_default(unit: EvidenceUnit, answer_type: AnswerType, terms: Sequence[str],
                    why: str) -> Extraction | None:
    """The default ``unit`` states in one of the forms of ``_DEFAULT_VALUE``, marked, shown
    after the unit's innermost heading (unless its text opens with it already: "This
    parameter" sentences name the setting only there); ``why`` ends the reason. None when
    the unit states no default."""
    m = next((m for p in _DEFAULT_VALUE if (m := p.search(unit.text))), None)
    if m is None:
        return None
    heading = unit.heading[-1] if unit.heading else ""
    have = term_set(unit.text) | term_set(unit.path)
    found = _taken(answer_type, unit, m.start(1), m.end(1),
                   f"the default '{m.group(1)}' {why}", terms, have)
    if not found.text.startswith(heading):
        found = replace(found, text=f"{heading}: {found.text}")
    return found


# How many of the best-scored units a yes/no question about a default may take its switch
# from (``_switch_default``): chosen on the PostgreSQL training and fresh dev questions.
SWITCH_UNITS = 3


def _switch_default(ranked: Sequence[EvidenceUnit], pool: Sequence[EvidenceUnit],
                    terms: Sequence[str]) -> Extraction | None:
    """A yes/no question about what happens by default that names no setting ("Is
    checkpoint logging switched on by default now?", "Does the planner consider
    partition-wise joins on a fresh install?"), answered by the default of the on/off
    switch whose definition the best-scored units are from: the first of ``ranked`` under
    a heading "<setting> (boolean)", and the sentence of that definition (the units of
    ``pool`` under the same heading) that states its default ("log_checkpoints (boolean):
    ... The default is **on**."). A switch is one setting doing one thing, so its
    description standing first is what the question describes; a setting of any other
    type is not read this way (measured: as many wrong answers as right). None when no
    such unit or no stated default."""
    for unit in ranked:
        heading = unit.heading[-1] if unit.heading else ""
        if "_" not in _defined(unit) or not re.search(r"\(boolean\)\s*$", heading):
            continue
        why = f"of the switch '{heading}' whose definition the best units are from"
        for other in pool:  # its definition: the units under the same heading
            if other.heading == unit.heading and other.source == unit.source \
                    and (found := _stated_default(other, AnswerType.YESNO, terms, why)):
                return found
        return None  # the first switch states no default: not another's
    return None


def _default_beside(question: str, subject: EvidenceUnit, have: set[str],
                    pool: Sequence[EvidenceUnit], answer_type: AnswerType, terms: list[str],
                    required: list[str], question_terms: set[str], needed: float
                    ) -> Extraction | None:
    """A default stated in another unit of ``subject``'s passage: asked for a default,
    ``subject`` names what is asked about but not its default, so the first unit of the
    same passage (same chunk, so the same heading path: one setting's definition once
    definition terms head sections) that says "default" and holds a span of the kind
    asked for answers, when the two units' terms together hold ``needed`` of the key
    terms and every required one. None otherwise (and always when no default is asked)."""
    if "default" not in required or answer_type is AnswerType.YESNO:
        return None
    for unit in pool:
        if unit.chunk_id != subject.chunk_id or unit.start == subject.start \
                or not _DEFAULT_STATED.search(unit.text):
            continue
        both = have | term_set(unit.text)
        matched = tuple(t for t in terms if t in both)
        if len(matched) / len(terms) < needed or unnamed(required, question, both,
                                                           f"{subject.text} {unit.text}"):
            continue
        # the span of the kind asked for ("other": the whole unit, as ``_spans`` gives it)
        spans = _spans(answer_type, unit, question, question_terms, set(terms))
        if not spans:
            continue
        start, end = _best_span(unit.text, spans, terms)
        return _taken(answer_type, unit, start, end,
                      f"{answer_type.value} '{unit.text[start:end]}' in the default stated "
                      f"beside a unit holding {len(matched)} of {len(terms)} key terms "
                      f"({', '.join(matched)})", terms, both, question=question)
    return None


# A setting's own definition heading: "autovacuum_max_workers (integer)"
_SETTING_HEADING = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+\s+\((?:integer|boolean|enum|"
                              r"string|floating point|real)\)$")
# How many of the best-scored units a default asked for without the setting's name may be
# described by (``_described_default``), and the key terms their definition must hold.
DESCRIBED_UNITS = 1
DESCRIBED_MIN_COVERAGE = 0.5


def _described_default(question: str, ranked: Sequence[EvidenceUnit],
                       pool: Sequence[EvidenceUnit], answer_type: AnswerType,
                       terms: list[str], required: list[str], question_terms: set[str]
                       ) -> Extraction | None:
    """A default asked for by describing the setting, not naming it ("Maximum number of
    autovacuum worker processes allowed to run concurrently by default"): one of the best
    ``ranked`` units is a setting's own definition ("autovacuum_max_workers (integer)":
    "Specifies the maximum number of autovacuum processes ..."), and the definition's
    units together (its heading with them) hold ``DESCRIBED_MIN_COVERAGE`` of the key
    terms and every required one; its stated default is the answer. None otherwise."""
    if _IDENTIFIER.search(question):
        return None  # a setting named: its own definition or nothing (``_definition_default``)
    for unit in ranked:
        heading = unit.heading[-1] if unit.heading else ""
        if unit.stale or not _SETTING_HEADING.match(heading):
            continue
        definition = [u for u in pool if u.chunk_id == unit.chunk_id
                      and u.heading == unit.heading] or [unit]
        have = term_set(unit.path) | {t for u in definition for t in term_set(u.text)}
        matched = [t for t in terms if t in have]
        if len(matched) / len(terms) < DESCRIBED_MIN_COVERAGE or unnamed(
                required, question, have, " ".join(u.text for u in definition)):
            continue
        for u in definition:
            found = _stated_default(u, answer_type, terms,
                                    f"stated in the definition under '{heading}', which the "
                                    f"question describes ({len(matched)} of {len(terms)} key "
                                    f"terms: {', '.join(matched)})")
            if found is None:
                continue
            if answer_type in _TYPED and not _text_spans(answer_type, found.span, question,
                                                          question_terms, set(terms)):
                continue  # a default of another kind than asked
            return found
        return None  # the best described setting states no default: no other is taken
    return None


def judged(question: str, units: Sequence[EvidenceUnit], probs: Sequence[float],
           min_p: float, corpus_names: Sequence[str] = ()) -> Extraction | None:
    """The answer a unit judge picks (``judge.UnitJudge``: ``probs[i]`` is P(yes) that
    ``units[i]`` answers ``question``): the unit rated highest among those that name the
    question's required terms and hold a span of the kind asked for (the whole unit for
    "other" and yes/no questions), when its P(yes) is at least ``min_p``; a unit of a
    superseded or archived document only when no current one qualifies. None otherwise.
    No key-term coverage is asked for: that is what the judge stands in for."""
    answer_type, terms, required, context = asked_terms(question, corpus_names)
    question_terms = set(terms) | {stem(t) for t in tokens(question)}
    given = corpus_terms(corpus_names)
    best: dict[bool, tuple[float, Extraction]] = {}
    for unit, p in zip(_as_units(units), probs, strict=True):
        if p < min_p:
            continue
        have = term_set(unit.text) | term_set(unit.path)
        if unnamed(required, question, have, unit.text):
            continue
        if _elsewhere(context, have | given):
            continue  # the unit is from somewhere else than the question says
        if answer_type in (AnswerType.OTHER, AnswerType.YESNO):
            start, end = 0, len(unit.text)
        else:
            spans = _spans(answer_type, unit, question, question_terms, set(terms))
            if not spans:
                continue
            start, end = _best_span(unit.text, spans, terms)
        found = _taken(answer_type, unit, start, end,
                       f"{answer_type.value} '{unit.text[start:end]}' in the unit the judge "
                       f"rates {p:.2f} that it answers", terms, have, question=question)
        if unit.stale not in best or p > best[unit.stale][0]:
            best[unit.stale] = (p, found)
    chosen = best.get(False) or best.get(True)
    return chosen[1] if chosen else None


# -- checking a generated answer against what was asked -----------------------------------

# Words a reply uses to frame an answer; they add nothing the question did not ask.
_FRAME = frozenset(term_set("answer document documents state states stated say says "
                            "mention mentions provide provided information text passage "
                            "according yes no"))


def _echoes(answer: str, question: str) -> bool:
    """Whether ``answer`` adds no term and no number ``question`` does not already hold."""
    answer = re.sub(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]", " ", answer)
    said = term_set(answer) - term_set(question) - STOPWORDS - _FRAME
    return not said and not (_numbers(answer) - _numbers(question))


# Kinds no bare number answers (a count, a default, a measure's value may be one).
_NOT_A_NUMBER = frozenset({AnswerType.NAME, AnswerType.PLACE, AnswerType.PROCEDURE,
                           AnswerType.YESNO})


def check_answer(question: str, answer: str, cited: Sequence[str]) -> str | None:
    """Why a generated ``answer`` does not answer ``question`` from its ``cited`` unit
    texts (title and heading path included), or None when it may be shown:

    - ``echo``: it adds no term and no number the question does not already hold (the
      question restated as a statement), nor, to a yes/no question, a yes, a no or a
      polarity word ("not", "only", ...) the question lacks;
    - ``missing_kind``: the question asks for a kind of thing (a duration, amount, code,
      menu path or step, ...) and the answer holds none that is not the question's own,
      or holds one whose numbers no cited unit states;
    - ``bare_number``: it is a number and nothing more, to a question that asks for a
      name, a place, steps or a yes or no ("3 [3]." to "Who makes ...?");
    - ``other_subject``: a name, model or version the asking sentence gives (the "Premium"
      of "What will Premium cost?") is in none of the cited units, so they are about
      something else.
    """
    answer = re.sub(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]", " ", answer)
    asked_terms = term_set(question)
    said = term_set(answer) - asked_terms - STOPWORDS - _FRAME
    answer_type = asked_for(question)
    polar = answer_type is AnswerType.YESNO and (
        re.match(r"\W*(?:yes|no)\b", answer, re.I) or
        (_POLARITY.search(answer) and not _POLARITY.search(question)))
    if _echoes(answer, question) and not polar:
        return "echo: the answer only restates the question"
    if (answer_type in _NOT_A_NUMBER and not polar
            and not any(re.search(r"[^\W\d]", term) for term in said)):
        return (f"bare_number: the answer is a number alone, and the question asks for a "
                f"{answer_type.value}")
    cited_text = " ".join(cited)
    if answer_type in _TYPED:
        terms = set(content_terms(question))
        spans = _text_spans(answer_type, answer, question, asked_terms | terms, terms,
                            item=True)
        cited_numbers = _numbers(cited_text)
        backed = [(s, e) for s, e in spans
                  if _numbers(answer[s:e]) <= cited_numbers]
        if not backed:
            why = "none" if not spans else "only unbacked ones"
            return (f"missing_kind: the question asks for a {answer_type.value}; the answer "
                    f"holds {why}")
    _, required = key_terms(_asking(question))
    missing = unnamed(required, question, term_set(cited_text), cited_text)
    if missing:
        return f"other_subject: the cited evidence never names {', '.join(missing)}"
    return None
