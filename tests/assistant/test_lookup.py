"""A table row read as a lookup: a code or identifier the question gives, the column it
asks for; through ``extract`` too."""

from __future__ import annotations

import pytest

from assistant.answering.evidence import EvidenceUnit
from assistant.answering.extract import extract
from assistant.answering.lookup import lookup

CODES = "Appendix A. PostgreSQL Error Codes"


def row(text: str, path: str = CODES, status: str | None = None) -> EvidenceUnit:
    return EvidenceUnit(text=text, prefix=path, chunk_id="c", source="errcodes.html",
                        page_index=None, page_label=None, heading=(path,), start=0,
                        end=len(text), kind="row", status=status, path=path)


TABLE = [row(t) for t in (
    "Error Code: Class 25 — Invalid Transaction State",
    "Error Code: 25006; Condition Name: read_only_sql_transaction",
    "Error Code: 25P02; Condition Name: in_failed_sql_transaction",
    "Error Code: 22012; Condition Name: division_by_zero",
    "Error Code: 22P02; Condition Name: invalid_text_representation",
    "Error Code: 23514; Condition Name: check_violation",
    "Error Code: 42P01; Condition Name: undefined_table",
)]


@pytest.mark.parametrize("question, answer", [
    ("Writing to a hot standby fails with 25006. What's the condition name?",
     "read_only_sql_transaction"),
    ("Casting 'abc' to integer gives SQLSTATE 22p02. What's its condition name?",
     "invalid_text_representation"),  # any case
    ("What does error code 42P01 mean?", "undefined_table"),  # asks what it means
    ("Which SQLSTATE corresponds to check_violation?", "23514"),  # "SQLSTATE": the code
    ("What SQLSTATE is division by zero?", "22012"),  # the identifier in words
])
def test_a_row_answers_the_column_asked_for(question, answer):
    found = lookup(question, TABLE)
    assert found is not None and found.unit.text[found.start:found.end] == answer
    extracted = extract(question, TABLE)
    assert extracted is not None and extracted.span == answer
    assert extracted.reason.startswith("lookup: the row ")
    assert f"**{answer}**" in extracted.text


@pytest.mark.parametrize("question", [
    "Is 25006 an error I should retry?",  # no column asked, nor what it means
    "SQLSTATE codes starting with 08 belong to which error class?",  # no cell quoted
    "Which error code do I get when a transaction is killed because of a deadlock?",
    # "mean" as an adjective is no question of what a code means (PostgreSQL test pg119)
    "For old timestamps, does the 42P01 zone keep local mean solar time or fixed offsets?",
])
def test_no_lookup_without_a_cell_and_a_column(question):
    assert lookup(question, TABLE) is None


def test_a_code_row_of_another_table_is_not_misread():
    # A product row quoted by its model: nothing asks for a column of it, and a single
    # other cell is taken only when the question asks what a code means.
    price = row("Model: S7X; Price: $499", "Price list")
    assert lookup("Does the S7X have a camera?", [price]) is None
    assert lookup("What is the price of the S7X?", [price]).reason.endswith("its Price")
    sentence = EvidenceUnit(text="Error 25006: read only", prefix="Guide", chunk_id="c",
                            source="g.md", page_index=None, page_label=None,
                            heading=("Guide",), start=0, end=22, kind="sentence",
                            path="Guide")
    assert lookup("What's the condition name of 25006?", [sentence]) is None  # not a row


def test_two_rows_described_alike_are_no_answer():
    both = [row("Error Code: 22012; Condition Name: division_by_zero"),
            row("Error Code: 2201X; Condition Name: zero_division_by")]
    assert lookup("What SQLSTATE is division by zero?", both) is None


def test_a_superseded_row_is_not_read():
    old = row("Error Code: 25006; Condition Name: old_name", status="superseded")
    question = "What's the condition name of 25006?"
    assert extract(question, [old, *TABLE]).span == "read_only_sql_transaction"
    assert extract(question, [old]).span == "old_name"  # only when nothing current answers


def test_a_row_named_by_its_key_word_answers_the_column_asked_for():
    types = "8.1. Numeric Types"
    rows = [row(t, types) for t in (
        "Name: smallint; Storage Size: 2 bytes; Description: small-range integer; "
        "Range: -32768 to +32767",
        "Name: integer; Storage Size: 4 bytes; Description: typical choice for integer; "
        "Range: -2147483648 to +2147483647")]
    found = lookup("What's the range of a smallint column?", rows)
    assert found is not None and found.unit is rows[0]
    assert rows[0].text[found.start:found.end] == "-32768 to +32767"
    got = extract("What's the range of a smallint column?", rows)
    assert got is not None and got.span == "-32768 to +32767"
    # two rows named: which one is meant cannot be told; no column named: nothing to read
    assert lookup("Is the range of smallint within the range of integer?", rows) is None
    assert lookup("Why would I pick smallint?", rows) is None


def test_a_row_named_by_its_key_word_answers_only_with_the_kind_asked():
    modes = [row(t, "SweepBot S7 > Specifications") for t in (
        "Mode: Standard; Suction: 2,500 Pa; Runtime on hard floor: up to 110 minutes",
        "Mode: Max; Suction: 4,000 Pa; Runtime on hard floor: up to 70 minutes")]
    question = "How long will the SweepBot S7 run on Standard suction?"
    got = extract(question, modes)  # not the suction cell the key and "suction" name
    assert got is not None and got.span == "up to 110 minutes"
    found = lookup("What suction does Standard mode use?", modes)
    assert found is not None and modes[0].text[found.start:found.end] == "2,500 Pa"
