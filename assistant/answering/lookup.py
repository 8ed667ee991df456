"""Reading a table row as a lookup: the question gives one cell of a row and asks for
another by its column.

Support questions about codes are lookups in a table of codes: "Writing to a hot standby
fails with 25006. What's the condition name?" is answered by the row "Error Code: 25006;
Condition Name: read_only_sql_transaction" (an evidence unit of kind ``row``, each cell
under its header, ``segment``'s rendering), and "What SQLSTATE is division by zero?" by
the row whose condition is ``division_by_zero``. The general reading of ``extract`` does
not see this: the row shares one word with the question, far under its key-term floor.

``lookup(question, units)`` finds, in the units given (best first), the first row that

1. holds a cell the question quotes whole: a code ("25006", "22P02": a digit and three
   characters or more) or an identifier ("check_violation"), matched case-insensitively;
   or, failing that, a cell the question describes in words: every word of an identifier
   cell ("division by zero" for ``division_by_zero``, at least two words), when no other
   row of the units is described as well; or, failing both, a first cell that is one
   word of four letters or more the question holds ("smallint" in "What's the range of a
   smallint column?"), when no other row's first cell is named too; and
2. has another column the question names: every word of its header but "name" stands in
   the question ("condition" for "Condition Name"; "SQLSTATE", "errno" and "status" name
   a column headed "... Code"), or, when the question asks what a quoted code means
   ("What does 42P01 mean?", "... stand for?") and the row has one other cell, that cell;

and answers with that column's cell. None when no row qualifies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.answering.evidence import EvidenceUnit
from assistant.answering.evidence_scoring import stem
from assistant.answering.segment import norm
from assistant.answering.stopwords import STOPWORDS

# A cell the question can quote: a code (a digit, no spaces, three characters or more) or
# an identifier with an underscore.
_CODE = re.compile(r"^(?=\S*\d)[A-Za-z0-9][\w-]{2,}$")
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+$")
# Words that name a column of codes without saying "code".
_CODE_WORDS = frozenset({"sqlstate", "errno", "errcode", "status"})
# Asking what a code means: "What does 42P01 mean?", "... stand for?", "What condition is
# that?"; not the adjective of "local mean solar time" (PostgreSQL test, pg119).
_MEANS = re.compile(r"\b(?:does|do|did)\s+(?:\S+\s+){0,4}?mean\b|\bstands? for\b|"
                    r"\bwhat (?:condition|error) is (?:that|it|this)\b", re.I)
_GENERIC_HEADER_WORDS = frozenset({"name", "value", "the", "of"})


@dataclass(frozen=True)
class Lookup:
    """A row read as a lookup: ``unit`` (the row), the cell answered at
    ``start:end`` of ``unit.text``, and why (which cell matched, which column was asked)."""

    unit: EvidenceUnit
    start: int
    end: int
    reason: str


def row_cells(unit: EvidenceUnit) -> list[tuple[str, str, int]] | None:
    """``(header, value, value offset)`` of each cell of a row rendered "H: v; H: v", or
    None for a unit that is not such a row."""
    if unit.kind != "row":
        return None
    out = []
    offset = 0
    for part in unit.text.split("; "):
        header, sep, value = part.partition(": ")
        if not sep or not header.strip() or not value.strip():
            return None
        out.append((header.strip(), value.strip(), offset + len(header) + 2))
        offset += len(part) + 2
    return out if len(out) >= 2 else None


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.casefold()) if w not in STOPWORDS]


def _names_column(header: str, question_words: set[str], question: str) -> bool:
    words = [w for w in _words(header) if w not in _GENERIC_HEADER_WORDS]
    if words and all(stem(w) in question_words for w in words):
        return True
    return "code" in words and bool(_CODE_WORDS & {w.casefold() for w in
                                                    re.findall(r"\w+", question)})


def lookup(question: str, units: Sequence[EvidenceUnit],
           of_kind: Callable[[str], bool] | None = None) -> Lookup | None:
    """The first row of ``units`` that answers ``question`` as a lookup (module
    docstring), or None. ``of_kind``: whether a cell is of the kind the question asks for
    ("how long": a duration); a row named by its key word answers only with such a cell
    ("How long will the S7 run on Standard suction?" is not answered by the row's
    "Suction: 2,500 Pa", though "Standard" and "suction" are both named)."""
    raw = {t.casefold() for t in re.findall(r"[\w-]+", question)}
    quoted = {t for t in raw if _CODE.match(t) or _IDENTIFIER.match(t)}
    question_words = {stem(w) for w in _words(question)}
    rows = [(u, cells) for u in units if (cells := row_cells(u)) is not None]
    found = _by_quote(question, rows, quoted, question_words)
    if found is not None or quoted & {v.casefold() for _, cs in rows for _, v, _ in cs}:
        return found
    return _by_description(question, rows, question_words) or _by_key(
        question, rows, {t for t in raw if _KEY_WORD.match(t)}, question_words, of_kind)


# A row's key the question can name in passing: one word of four letters or more
# ("smallint" in "What's the range of a smallint column?").
_KEY_WORD = re.compile(r"^[a-z][a-z0-9]{3,}$")


def _by_key(question: str, rows: list, words: set[str], question_words: set[str],
            of_kind: Callable[[str], bool] | None) -> Lookup | None:
    """The row whose first cell is one word the question holds, when no other row's first
    cell is one of them too, answered by the one other column the question names when
    that cell is of the kind asked (``of_kind``)."""
    hits = [(unit, cells) for unit, cells in rows if cells[0][1].casefold() in words]
    if len({norm(cells[0][1]) for _, cells in hits}) != 1:
        return None  # no row named, or two rows named
    unit, cells = hits[0]
    answer = _answer(unit, cells, 0, question, question_words, means=False)
    if answer is None:
        return None
    start, end, asked = answer
    if of_kind is not None and not of_kind(unit.text[start:end]):
        return None
    return Lookup(unit, start, end, f"the row whose {cells[0][0]} is '{cells[0][1]}', "
                                    f"named by the question: its {asked}")


def _answer(unit: EvidenceUnit, cells: list[tuple[str, str, int]], skip: int,
            question: str, question_words: set[str], means: bool) -> tuple[int, int, str] | None:
    named = [c for i, c in enumerate(cells)
             if i != skip and _names_column(c[0], question_words, question)]
    others = [c for i, c in enumerate(cells) if i != skip]
    if len(named) == 1:
        header, value, at = named[0]
    elif not named and means and len(others) == 1:
        header, value, at = others[0]
    else:
        return None
    if unit.text[at:at + len(value)] != value:
        return None
    return at, at + len(value), header


def _by_quote(question: str, rows: list, quoted: set[str], question_words: set[str]
              ) -> Lookup | None:
    means = bool(_MEANS.search(question))
    for unit, cells in rows:
        for i, (header, value, _) in enumerate(cells):
            if value.casefold() not in quoted:
                continue
            answer = _answer(unit, cells, i, question, question_words, means)
            if answer is not None:
                start, end, asked = answer
                return Lookup(unit, start, end, f"the row where {header} is '{value}': "
                                                f"its {asked}")
    return None


def _by_description(question: str, rows: list, question_words: set[str]) -> Lookup | None:
    hits = []
    for unit, cells in rows:
        for i, (header, value, _) in enumerate(cells):
            if not _IDENTIFIER.match(value):
                continue
            words = _words(value.replace("_", " "))
            if len(words) < 2 or not all(stem(w) in question_words for w in words):
                continue
            answer = _answer(unit, cells, i, question, question_words, means=False)
            if answer is not None:
                hits.append((unit, answer, header, value))
    if len({norm(v) for *_, v in hits}) != 1:
        return None  # nothing described, or two rows described alike
    unit, (start, end, asked), header, value = hits[0]
    return Lookup(unit, start, end, f"the row whose {header} '{value}' the question "
                                    f"describes: its {asked}")
