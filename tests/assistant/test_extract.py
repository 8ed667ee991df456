"""The extractive fallback: what a question asks for, the evidence unit that holds it, and
the refusals (a unit with a number of the wrong kind, or the right kind about something
else). Hand-made units, no model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from assistant.answering.evidence import EvidenceUnit, select_units
from assistant.answering.evidence_scoring import LexicalScorer
from assistant.answering.extract import (
    MIN_COVERAGE,
    AnswerType,
    asked_for,
    asked_terms,
    asks_two,
    attribute_terms,
    check_answer,
    context_phrase,
    contradicts,
    extract,
    extract_ranked,
    key_terms,
    search_query,
)
from index.records import Passage


def unit(text: str, path: str = "Guide", status: str | None = None,
         kind: str = "sentence") -> EvidenceUnit:
    return EvidenceUnit(text=text, prefix=path, chunk_id="c", source="guide.md", page_index=None,
                        page_label=None, heading=tuple(path.split(" > ")), start=0, end=len(text),
                        kind=kind, status=status, path=path)


@pytest.mark.parametrize("question, expected", [
    ("What is the maximum length of a virtual wall?", AnswerType.MEASURE),
    ("What's the weight of the S7?", AnswerType.MEASURE),
    ("What is the suction power of the X9 Pro?", AnswerType.MEASURE),  # in Pa
    ("What is the maximum size of one table?", AnswerType.OTHER),  # not a physical measure
    ("What are the length limits for the network name?", AnswerType.OTHER),  # no "of"
    ("What is the runtime of the S7 in Eco mode?", AnswerType.DURATION),
    ("How frequently are the encryption keys rotated?", AnswerType.DURATION),
    ("What are your support hours on Saturdays?", AnswerType.TIME),
    ("What's the last date I can return it?", AnswerType.DATE),
    # a document's name is no price asked for
    ("In the 2023 price sheet, what minimum number of seats was required?", AnswerType.COUNT),
    ("What is the price of Plus?", AnswerType.AMOUNT),
    ("What email address do I use to contact the privacy team?", AnswerType.NAME),
    ("Which email notifications does the app send?", AnswerType.OTHER),
    ("Can I email support?", AnswerType.YESNO),
    ("How long does the MopMate take to charge?", AnswerType.DURATION),
    ("In what unit does pg_sleep take its argument?", AnswerType.UNIT),
    ("pg_terminate_backend has a timeout argument: in which unit is it given?", AnswerType.UNIT),
    ("How often should I replace the filter?", AnswerType.DURATION),
    ("What suction does the S7 use in Eco mode?", AnswerType.MEASURE),  # in Pa
    ("What noise level does the X9 Pro make on Quiet?", AnswerType.MEASURE),  # in dB
    ("What suction mode does the robot use by default?", AnswerType.OTHER),  # a mode's name
    ("From what date do the Acme Care prices apply?", AnswerType.DATE),  # not a price
    ("Which date format does COPY use by default?", AnswerType.OTHER),
    ("How many days do I have to return it?", AnswerType.DURATION),
    ("How much does Premium cost per month?", AnswerType.AMOUNT),
    ("What does the SweepBot S7 cost in France?", AnswerType.AMOUNT),
    ("I'm in France. What does the S7 sell for there?", AnswerType.AMOUNT),
    ("What was Acme Robotics' revenue last year?", AnswerType.AMOUNT),  # money, by its name
    ("What is the annual marketing budget?", AnswerType.AMOUNT),
    ("How many household members can I add?", AnswerType.COUNT),
    ("What is the maximum number of columns a result set may return?", AnswerType.COUNT),
    ("What's the number of retries?", AnswerType.COUNT),
    ("What is the phone number of support?", AnswerType.CODE),  # a number to dial, no count
    ("Closer together than what interval does the server warn?", AnswerType.DURATION),
    ("What percentage of the battery is used?", AnswerType.PERCENTAGE),
    ("How heavy is the SweepBot S7?", AnswerType.MEASURE),
    ("How much cloud storage do I get?", AnswerType.MEASURE),
    ("When did the HomeHub H2 come out?", AnswerType.DATE),
    ("Until what time can I call support?", AnswerType.TIME),
    ("When is the Dublin team available?", AnswerType.TIME),
    ("Which error code means the update failed?", AnswerType.CODE),
    ("What SQLSTATE does a unique violation raise?", AnswerType.OTHER),
    ("Which app version fixes the widget?", AnswerType.CODE),
    ("What's the release date of 15.20?", AnswerType.DATE),
    ("Who represents Acme in the EU?", AnswerType.NAME),
    ("Where do returned items get shipped?", AnswerType.PLACE),
    ("How do I cancel my plan?", AnswerType.PROCEDURE),
    ("Is two-step verification mandatory for admins?", AnswerType.YESNO),
    ("Can the MopMate go over a rug?", AnswerType.YESNO),
    ("What does the locate command do?", AnswerType.OTHER),
    ("Which CVE did 15.4 fix?", AnswerType.CODE),
    # the kind is named right after "which"/"what", not by a version the question gives
    ("Which map view was dropped from the app in version 5.3.0?", AnswerType.OTHER),
    ("What's the code for inserting NULL into a NOT NULL column?", AnswerType.CODE),
    ("Which 15.x release most recently fixed SIMILAR TO?", AnswerType.CODE),
    ("What exit status does pg_isready return?", AnswerType.CODE),
    # "when" as a condition asks for whatever the rest of the question asks
    ("What does NULLIF(a, b) return when a equals b?", AnswerType.OTHER),
    ("Which elliptic curve is used when ssl_ecdh_curve is not set?", AnswerType.OTHER),
    ("Is there a free trial when I buy an X9 Pro?", AnswerType.YESNO),
    ("Which plans exist, and when does the trial end?", AnswerType.DATE),
])
def test_asked_for(question, expected):
    assert asked_for(question) is expected


def test_key_terms_and_required_names():
    terms, required = key_terms("What does the SweepBot S7 cost in Canada for a 30-day plan?")
    assert terms == ["sweepbot", "s7", "canada", "30-day", "30", "day", "plan"]
    assert required == ["sweepbot", "s7", "canada"]  # "30-day" is a plain number
    assert key_terms("What did firmware 3.4.2 fix?")[1] == ["3.4.2"]
    # a dotted number after a name or "firmware" names a release; a measure does not
    assert key_terms("When was PostgreSQL 15.0 released?")[1] == ["postgresql", "15.0"]
    assert key_terms("What changed in firmware 3.2?")[1] == ["3.2"]
    assert key_terms("How big is a 1.5 m mat?")[1] == []
    history = unit("Version 1 was released to a few external users in June 1989.",
                   path="A Brief History of PostgreSQL")
    assert extract("When was PostgreSQL 15.0 released?", [history]) is None


# One case per answer type: (question, the unit that answers, its span, a unit holding a
# number (or phrase) of another kind, a unit of the right kind about something else).
CASES = [
    ("How long is the return window for robots?",
     "You can return robots within 30 days of delivery.", "within 30 days",
     "Robots cost $449 when you return them to the shop.",
     "The support line answers calls within 5 minutes."),
    ("How much does Acme Care Plus cost?", "Acme Care Plus costs $12.99 per month.",
     "$12.99 per month", "Acme Care Plus includes 50 GB of storage.",
     "The AutoDock E2 costs $249 separately."),
    ("How much is the SweepBot S7 in the European Union?",
     "The SweepBot S7 sells for EUR 479 in the European Union.", "EUR 479",
     "The SweepBot S7 is sold in 9 countries of the European Union.",
     "The MopMate M3 sells for EUR 369 in the European Union."),
    ("How many household members does Premium allow?",
     "Premium allows up to 10 household members.", "up to 10 household members",
     "Premium costs $19.99 per month for household members.",
     "Free allows up to 2 homes."),
    ("What discount on consumables do Premium members get?",
     "Premium members get 20% off consumables.", "20% off",
     "Premium members get consumables within 2 days.",
     "The bug bounty pays 10% more for critical reports."),
    ("How heavy is the SweepBot S7?", "The SweepBot S7 weighs 3.6 kg.", "3.6 kg",
     "The SweepBot S7 has a 450 mL dustbin.", "The MopMate M3 weighs 2.4 kg."),
    ("When did the HomeHub H2 launch?", "The HomeHub H2 launched in October 2024.",
     "October 2024", "The HomeHub H2 launch price was $129.",
     "The MopMate M3 launched in May 2024."),
    ("Until what time is phone support open on weekdays?",
     "Phone support is open on weekdays from 6:00 a.m. to 6:00 p.m. Pacific Time.",
     "6:00 a.m. to 6:00 p.m. Pacific Time", "Phone support answers 95% of weekday calls.",
     "The dock empties between 01:00 and 05:00 local time."),
    ("Which error code means the firmware update failed?",
     "Error E70 means the firmware update failed.", "E70",
     "The firmware update failed for 3% of robots.",
     "Error E42 means the Wi-Fi connection failed."),
    ("Which SQLSTATE error code does a unique violation raise?",
     "A unique violation raises SQLSTATE 23505.", "SQLSTATE 23505",
     "A unique violation is raised in 2 cases.",
     "A deadlock raises SQLSTATE 40P01."),
    ("Who represents Acme Robotics for privacy matters in the EEA?",
     "For privacy matters in the EEA, Acme Robotics is represented by Acme Robotics Europe Ltd.",
     "Acme Robotics Europe Ltd.", "Privacy matters in the EEA are answered within 30 days.",
     "Support for the EEA is run by the Dublin team."),
    ("In what unit does pg_sleep take its delay argument?",
     "pg_sleep takes its delay argument as a number of seconds.", "seconds",
     "pg_sleep takes its delay argument as a double precision value.",
     "The statement_timeout argument is given in milliseconds."),
    ("Where do I change the email address on my account?",
     "Change the email address under Account > Profile > Email.",
     "Account > Profile > Email", "The email address on your account needs 12 characters.",
     "Change the password under Account > Security."),
]


@pytest.mark.parametrize("question, answer, span, other_kind, other_topic", CASES,
                         ids=[c[0].split("?")[0][:40] for c in CASES])
def test_extract_answers_with_the_span_and_refuses_the_rest(question, answer, span, other_kind,
                                                             other_topic):
    got = extract(question, [unit(other_kind), unit(other_topic), unit(answer)])
    assert got is not None and got.span == span, got
    assert got.unit.text == answer
    assert got.text == answer.replace(span, f"**{span}**", 1)
    assert got.answer_type is asked_for(question) and got.reason
    # A unit with a number (or a name) that is not the kind asked for.
    assert extract(question, [unit(other_kind)]) is None
    # The kind asked for, but about something else (the best-scored unit is held to the
    # same coverage here; ``test_the_best_scored_unit_needs_less_coverage`` shows the rest).
    assert extract(question, [unit(other_topic)], top_min_coverage=MIN_COVERAGE) is None
    assert extract(question, [unit(answer), unit(other_topic)]).unit.text == answer


def test_the_best_scored_unit_needs_less_coverage():
    question = "For error E12, how long should the robot stay off its base before I try again?"
    first = unit("Leave the robot off the base for 30 minutes so the battery can cool.",
                 "Error E12")
    got = extract(question, [first])
    assert got is not None and got.span == "30 minutes" and got.coverage < MIN_COVERAGE
    # The same unit ranked second is held to min_coverage.
    assert extract(question, [unit("The base has a light."), first]) is None
    assert extract(question, [first], top_min_coverage=MIN_COVERAGE) is None


def test_yes_no_takes_the_clause_with_its_polarity():
    question = "Will the robot connect to a network that uses WPA3 only?"
    got = extract(question, [unit("Security: WPA2-Personal or WPA3 transition mode. WPA3-only "
                                  "networks are not supported.",
                                  "Connect your robot > Network requirements")])
    assert got is not None and got.span == "WPA3-only networks are not supported"
    # Same terms, no yes/no word in it: no answer.
    assert extract(question, [unit("The robot connects to networks that use WPA3 and WPA2.")]
                   ) is None
    # A polarity word, but about something else.
    assert extract(question, [unit("Schedules are not lost when the robot is off.")]) is None


@pytest.mark.parametrize("question, text, path, span", [
    ("Are push notifications on by default?",
     "Push notifications are off by default for new installations.", "Release notes",
     "Push notifications are off by default for new installations"),
    ("Does pg_restore --jobs have any effect when the output is a script file?",
     "This option is ignored when emitting a script file.", "pg_restore > --jobs",
     "This option is ignored when emitting a script file"),
    ("Is there an upper limit on the size of a database?",
     "Item: database size; Upper Limit: unlimited", "Limits", "unlimited"),
])
def test_yes_no_polarity_in_a_state_word(question, text, path, span):
    # "off", "ignored", "unlimited": the answer is a state, not a "not"
    got = extract(question, [unit(text, path)])
    assert got is not None and span in got.span


@pytest.mark.parametrize("question, text, span", [
    ("How much notice do I need to give to cancel?",
     "To cancel, give written notice at least 30 days before the renewal date.",
     "at least 30 days"),
    ("How much cleaning history do I get on the free plan?",
     "The free plan keeps 7 days of cleaning history.", "7 days"),
    ("By how much does Care Premium extend my warranty?",
     "With Care Premium, the warranty is extended by 2 years.", "2 years"),
])
def test_how_much_without_money_asks_for_any_quantity(question, text, span):
    assert asked_for(question) is AnswerType.AMOUNT
    got = extract(question, [unit(text)])
    assert got is not None and got.span == span


def test_how_big_is_a_length_or_what_it_holds():
    got = extract("How big is the battery in the S7?",
                  [unit("The S7 is powered by a 5,200 mAh lithium-ion battery.")])
    assert got is not None and got.span == "5,200 mAh"
    got = extract("Up to what size is a new table written to WAL, by default?",
                  [unit("New tables written to WAL: the default is two megabytes (2MB).")])
    assert got is not None and got.span == "2MB"
    # a weight is no answer to how big
    assert extract("How big is the S7?", [unit("The S7 weighs 3.6 kg.")]) is None


def test_when_is_answered_by_a_date_or_a_time_of_day():
    question = "When do business robots install firmware updates by default?"
    got = extract(question, [unit("By default, business robots install firmware updates "
                                  "between 01:00 and 05:00 local site time.")])
    assert got is not None and got.span.startswith("01:00")
    # "which date" asks for a date only
    assert extract("Which date do business robots install firmware updates by default?",
                   [unit("By default, business robots install firmware updates at 01:00.")]
                   ) is None


def _item_units(texts_kinds: list[tuple[str, str]], path: str = "Release 15.2 > Changes"
                ) -> list[EvidenceUnit]:
    """Units of one passage, in order, with their offsets in it."""
    out, pos = [], 0
    for text, kind in texts_kinds:
        u = unit(text, path, kind=kind)
        out.append(replace(u, start=pos, end=pos + len(text)))
        pos += len(text) + 2
    return out


def test_a_list_items_paragraphs_count_together_for_a_typed_answer():
    # release notes: an item's first line says what was fixed, a later paragraph of the same
    # item gives its CVE
    units = _item_units([
        ("Fix libpq leaking memory contents after GSSAPI encryption setup fails.", "item"),
        ("A modified server could send an unterminated error message.", "sentence"),
        ("Fix by properly zero-terminating the message. (CVE-2022-41862)", "sentence"),
        ("Fix crash in ALTER TABLE with a restrict_nonsystem_relation_kind setting.", "item"),
    ])
    question = "Which CVE was fixed for libpq leaking memory contents after GSSAPI setup fails?"
    cve = units[2]
    assert extract(question, [cve]) is None  # its own words are too few
    got = extract(question, [cve], pool=units)
    assert got is not None and got.span == "CVE-2022-41862"
    # the next item is another fix: its words do not count for this one
    assert extract("Which CVE was fixed for the ALTER TABLE crash?", [units[3], cve],
                   pool=units) is None
    # "which CVE" takes a CVE number, not an identifier beside it
    assert extract("Which CVE concerned the restrict_nonsystem_relation_kind crash?",
                   [units[3]], pool=units) is None


def test_a_list_items_first_line_says_what_a_bare_paragraph_is_about():
    # the CVE paragraph names nothing the question asks about: the item's first line does,
    # so the answer is shown with it (PostgreSQL training question pgt167)
    units = _item_units([
        ("Prevent unauthorized code execution during pg_dump (Masahiko Sawada)", "item"),
        ("An attacker able to create objects could run arbitrary SQL as the dumping user.",
         "sentence"),
        ("The PostgreSQL Project thanks Noah Misch for reporting this problem. "
         "(CVE-2024-7348)", "sentence"),
        ("Fix crash in ALTER TABLE with a restrict_nonsystem_relation_kind setting.", "item"),
    ], path="Release 15.8 > Changes")
    question = "Which CVE did 15.8 fix regarding unauthorized code execution during pg_dump?"
    got = extract(question, [units[2]], pool=units)
    assert got is not None and got.span == "CVE-2024-7348"
    assert got.text.startswith("Prevent unauthorized code execution during pg_dump "
                               "(Masahiko Sawada): The PostgreSQL Project thanks")
    # without its item the paragraph says nothing of pg_dump: no answer
    assert extract(question, [units[2]]) is None
    # another item's question is not answered from this item's paragraph
    assert extract("Which CVE did 15.8 fix for the ALTER TABLE crash?", [units[2]],
                   pool=units) is None


def test_a_number_in_scientific_notation_is_no_count():
    question = "How many decimal digits of precision does the real type have?"
    got = extract(question, [unit("The real type has a range of around 1E-37 to 1E+37 with "
                                  "a precision of at least 6 decimal digits.")])
    assert got is not None and got.span == "at least 6 decimal digits"


def test_how_much_without_money_keeps_to_the_dimension_it_names():
    # found on the acme test split (e202): a cord's length is no answer to how much power
    question = "How much power does the charging base draw on standby?"
    assert extract(question, [unit("Charging base CB-S7 with 1.5 m power cord")]) is None
    got = extract(question, [unit("On standby the charging base draws 0.5 W of power.")])
    assert got is not None and got.span == "0.5 W"


def test_how_much_with_money_asks_for_an_amount():
    question = "How much does a cancellation cost?"
    assert extract(question, [unit("A cancellation takes 30 days to process.")]) is None
    got = extract(question, [unit("A cancellation costs $25 and takes 30 days.")])
    assert got is not None and got.span == "$25"


def test_procedure_takes_a_menu_path_or_a_step():
    question = "How do I make a colleague the owner of our organization?"
    path = unit("An owner of the organization can be changed under Settings > Organization "
                "> Transfer ownership.")
    step = unit("1. Open the organization settings and choose a new owner.", kind="item")
    assert extract(question, [path]).span == "Settings > Organization > Transfer ownership"
    assert extract(question, [step]).span == step.text
    assert extract(question, [unit("Each organization has exactly one owner.")]) is None


def test_other_question_needs_most_key_terms():
    question = "What does the locate command do?"
    answer = unit("The locate command makes the robot play a sound so you can find it.")
    assert extract(question, [answer]).span == answer.text
    assert extract(question, [unit("Supported commands: start, pause and dock.")]) is None


def test_required_name_missing_refuses():
    # The unit has the price of the right product, but not for the country asked about.
    question = "What is the price of the MopMate M3 in Canada?"
    assert extract(question, [unit("The MopMate M3 costs $349 in the United States.")]) is None
    assert extract("What did firmware 3.4.2 fix?",
                   [unit("Firmware 3.4.1 fixed the dock error E55.")]) is None


def test_the_corpus_names_need_not_be_repeated_by_the_unit():
    # A manual's rows do not repeat the product's name; a question naming it is still
    # answered when the corpus is declared to be about it, and only then.
    row = unit("gcd ( numeric_type, numeric_type ) → numeric_type Greatest common divisor; "
               "gcd(1071, 462) → 21", path="9.3. Mathematical Functions")
    question = "What is gcd(1071, 462) in PostgreSQL?"
    assert asked_terms(question)[2] == ["postgresql"]
    assert extract(question, [row]) is None
    got = extract(question, [row], corpus_names=("PostgreSQL", "Postgres"))
    assert got is not None and "→ 21" in got.text
    assert asked_terms(question, ["PostgreSQL"])[2] == []
    assert "postgresql" in asked_terms(question, ["PostgreSQL"])[1]  # still a key term
    # another name the question gives is still required
    assert extract("What is gcd(1071, 462) in MySQL?", [row],
                   corpus_names=("PostgreSQL",)) is None


def test_a_lower_ranked_unit_answers_only_with_more_of_the_key_terms():
    question = "How long does a full charge of the robot battery take on the dock?"
    filler = [unit(f"Unrelated sentence number {i} about logging.") for i in range(5)]
    full = unit("A full charge of the robot battery on the dock takes about 4 hours.")
    half = unit("A robot battery charge takes about 4 hours.")  # 4 of 6 key terms
    got = extract_ranked(question, [*filler, full])
    assert got is not None and got.span == "about 4 hours" and got.unit is full
    # ranked first, fewer key terms are enough; from sixth place they are not
    assert extract_ranked(question, [half]) is not None
    assert extract_ranked(question, [*filler, half]) is None
    # nothing below DEEP_UNITS
    assert extract_ranked(question, [*filler, *filler, *filler[:2], full]) is None
    # a current unit lower down wins over a superseded one in the top five
    old = unit("A full charge of the robot battery on the dock takes about 6 hours.",
               status="superseded")
    got = extract_ranked(question, [old, *filler[:4], full])
    assert got is not None and got.unit is full


def test_the_version_of_a_named_system_is_that_name_with_its_number():
    row = unit("Changed: Minimum supported systems raised to iOS 16 and Android 10. Devices "
               "on iOS 15 or Android 9 can keep using app 5.2.4 but will not receive updates.")
    got = extract("What is the oldest iOS version the current app supports?", [row])
    assert got is not None and got.span == "iOS 16"  # not the app's own 5.2.4
    got = extract("Which Android version does the current app need?", [row])
    assert got is not None and got.span == "Android 10"
    # a version asked without a name keeps reading dotted versions
    got = extract("Which app version do older devices keep using?", [row])
    assert got is not None and got.span == "5.2.4"
    # ... and a version the word names ("version 4"), not the question's own
    uuid = unit("This function returns a version 4 (random) UUID. This is the most commonly "
                "used type of UUID.", "9.14. UUID Functions")
    got = extract("Which version of UUID does gen_random_uuid() produce?", [uuid])
    assert got is not None and got.span == "version 4"
    assert extract("Which version of UUID came after version 4 from gen_random_uuid()?",
                   [uuid]) is None  # the question's own version is no answer


def test_which_release_did_something_is_read_from_the_heading_naming_the_release():
    fix = unit("Fix self-deadlock when replaying WAL generated by an older minor version "
               "(Andrey Borodin)", "E.2. Release 15.19 > E.2.2. Changes")
    question = ("Which release fixed standbys getting stuck in a self-deadlock while "
                "replaying WAL from a primary on an older minor version?")
    got = extract(question, [fix])
    assert got is not None and got.span == "15.19"
    assert got.text.startswith("E.2. Release **15.19**: Fix self-deadlock")
    assert (got.span_start, got.span_end) == (0, 0) and got.unit is fix
    # a version the unit states itself comes first, wherever it ranks
    stated = unit("Fixed in 15.19.1: standbys no longer get stuck in a self-deadlock when "
                  "replaying WAL from a primary on an older minor version.", "Upgrade notes")
    got = extract(question, [fix, stated])
    assert got is not None and got.span == "15.19.1"
    # asked for a named system's version: no heading answer
    assert extract("Which Android version fixed the self-deadlock when replaying WAL from "
                   "an older minor version?", [fix]) is None
    # a superseded document's release only when no current one says it
    old = unit(fix.text, "E.3. Release 15.18 > E.3.2. Changes", status="superseded")
    got = extract(question, [old, fix])
    assert got is not None and got.span == "15.19"
    assert extract(question, [old]).span == "15.18"
    # a heading naming two releases, or none, says nothing of which one
    two = unit(fix.text, "Release 15.18 and Release 15.19 > Changes")
    assert extract(question, [two]) is None
    assert extract(question, [unit(fix.text, "E.2. Changes")]) is None


@pytest.mark.parametrize("path, release", [
    # the innermost heading opens with the release: not its parent's minor series
    ("Acme Home App Release Notes > Version 5.3 > 5.3.2 (released 28 April 2025)", "5.3.2"),
    ("Robot Firmware 3.x Release Notes > Firmware 3.3 > 3.3.0 (10 February 2025)", "3.3.0"),
    ("Release notes > 3.3.0 - February 2025", "3.3.0"),
    ("Robot Firmware 3.x Release Notes > Firmware 3.3", "3.3"),
    # an outline number is no release
    ("Manual > 20.3.1. Connection Settings", None),
])
def test_a_release_is_read_from_the_innermost_heading_naming_one(path, release):
    fix = unit("The subscription screen showed old 2023 prices to some users in Canada.", path)
    got = extract("Which app release stopped the subscription screen from showing 2023 "
                  "prices in Canada?", [fix])
    assert (got and got.span) == release


def test_a_release_the_question_names_is_a_point_of_reference_not_the_answer():
    earlier = unit("Settings for roles were not applied if they came from ALTER ROLE SET or "
                   "PGOPTIONS", "E.12. Release 15.9 > E.12.2. Changes")
    later = unit("Restore ALTER ROLE SET settings and PGOPTIONS, which had stopped being "
                 "applied (Tom Lane)", "E.11. Release 15.10 > E.11.2. Changes")
    question = ("After 15.9, ALTER ROLE ... SET role settings and PGOPTIONS stopped being "
                "applied. Which release restored that?")
    got = extract(question, [earlier, later])  # the 15.9 notes are not its answer
    assert got is not None and got.span == "15.10" and got.unit is later
    # "15.x" stands for any 15 release: no unit need name it
    got = extract("Which 15.x release restored ALTER ROLE SET settings and PGOPTIONS role "
                  "settings?", [later])
    assert got is not None and got.span == "15.10"


def test_no_charge_is_an_amount_unless_the_question_says_it():
    row = unit("Return shipping: United States: free; EU: EUR 12; UK: GBP 10.")
    got = extract("How much does return shipping cost within the United States?", [row])
    assert got is not None and got.span == "free"
    got = extract("What does a damaged item cost to replace?",
                  [unit("A damaged item is replaced free of charge.")])
    assert got is not None and got.span == "free of charge"
    # the question's own "free" is no answer; how much history is a duration
    got = extract("How much history do I get on the free plan?",
                  [unit("The Free plan keeps 30 days of history.")])
    assert got is not None and got.span == "30 days"
    assert extract("How much does the free plan cost?",
                   [unit("The Free plan keeps 30 days of history.")]) is None


def test_a_list_items_number_is_no_count():
    question = "How many floor maps does the robot keep?"
    step = unit("1. Open the floor maps the robot keeps.", kind="item")
    assert extract(question, [step]) is None
    got = extract(question, [step, unit("Saved floor maps the robot keeps: 3")])
    assert got is not None and got.span == "3"
    # what is counted may also be a unit of measure ("floors", "characters")
    got = extract(question, [step, unit("The robot keeps 3 floor maps.")])
    assert got is not None and got.span == "3 floor maps"
    got = extract("How many characters does the robot serial number have?",
                  [unit("The robot serial number has 14 characters.")])
    assert got is not None and got.span == "14 characters"


def test_a_count_in_a_row_must_be_under_a_column_naming_what_is_asked():
    row = unit("Robot: SweepBot S7; Saved floor maps: 3", path="Plans > Limits", kind="row")
    # the row holds "robot", but its 3 counts floor maps
    assert extract("How many robots can I add to the SweepBot S7 plan?", [row]) is None
    got = extract("How many floor maps can the SweepBot S7 remember?", [row])
    assert got is not None and got.span == "3"
    # the counted word after the number is enough, in a row too
    got = extract("How many robots can one home have?",
                  [unit("Plan: Home; Limit: 10 robots per home", kind="row")])
    assert got is not None and got.span == "10 robots"
    # a sentence is not judged by columns
    got = extract("How many floor maps can the SweepBot S7 remember?",
                  [unit("The SweepBot S7 remembers 3 of them.")])
    assert got is not None and got.span == "3"


@pytest.mark.parametrize("question, text, expected", [
    ("How much does the dock weigh with a full dust bag?", "Weight 5.2 kg without a dust bag.",
     True),
    ("How often should I replace the filter if I don't have pets?",
     "Homes with pets: replace it every 2 months.", True),
    ("How often should I replace the filter if I don't have pets?",
     "Homes without pets: replace it every 3 months.", False),
    ("What does the dock weigh without a bag?", "Weight 5.2 kg without a dust bag.", False),
    ("Does the plan come with no commitment?", "Plans with a yearly commitment save 15%.",
     True),
    # "with" about something else, and a negated verb, are no opposite condition
    ("Can I clean the mop with vinegar?", "Do not use vinegar: it damages the seals.", False),
    ("Does the app work with Android 15?", "The app works without an account.", False),
    # a condition ends with its phrase: "(no date), with time zone" has a time zone
    ("How many bytes does a time with time zone value occupy?",
     "Name: time with time zone; Description: time of day (no date), with time zone", False),
])
def test_contradicts_finds_the_opposite_condition(question, text, expected):
    assert contradicts(question, text) is expected


def test_a_unit_stating_the_opposite_condition_does_not_answer():
    without = unit("Weight 5.2 kg without a dust bag.", path="AutoDock E2 > Dimensions")
    assert extract("How much does the AutoDock E2 weigh with a full dust bag?", [without]) is None
    got = extract("How much does the AutoDock E2 weigh without a dust bag?", [without])
    assert got is not None and got.span == "5.2 kg"
    pets = unit("Homes with pets: replace the HEPA filter every 2 months.", path="Care")
    no_pets = unit("Homes without pets: replace the HEPA filter every 3 months.", path="Care")
    got = extract("How often should I replace the HEPA filter if I don't have pets?",
                  [pets, no_pets])
    assert got is not None and got.unit is no_pets and got.span == "every 3 months"


def test_a_price_per_period_asked_is_the_one_naming_that_period():
    plan = unit("Acme Care Plus: $12.99 per month or $129 per year", path="Plans")
    got = extract("How much does Acme Care Plus cost per month?", [plan])
    assert got is not None and got.span == "$12.99 per month"
    got = extract("How much is Acme Care Plus a year?", [plan])
    assert got is not None and got.span == "$129 per year"
    # no period asked: the first price, as before
    got = extract("How much does Acme Care Plus cost?", [plan])
    assert got is not None and got.span == "$12.99 per month"


def test_a_records_lines_say_what_its_value_is_about():
    def line(text: str, heading: str) -> EvidenceUnit:
        path = f"Known issues > {heading}"
        return EvidenceUnit(text=text, prefix=path, chunk_id="ki", source="known-issues.txt",
                            page_index=None, page_label=None, heading=("Known issues", heading),
                            start=0, end=len(text), path=path)
    record = "KI-2044 Acme Home app 5.4.0 on Android 15"
    symptom = line('Symptom: The lock-screen widget shows "Battery --" instead of the '
                   "percentage after the phone restarts.", record)
    fixed = line("Fixed in app 5.4.1, currently in staged rollout.", record)
    question = 'Which app version fixes the lock-screen widget that shows "Battery --"?'
    got = extract(question, [fixed], pool=[symptom, fixed])
    assert got is not None and got.span == "5.4.1"
    # the same lines under a heading that is no record: the version says nothing of the widget
    plain = "Android notes"
    assert extract(question, [line(fixed.text, plain)],
                   pool=[line(symptom.text, plain), line(fixed.text, plain)]) is None


def test_question_numbers_and_wrong_dimensions_are_not_answers():
    # "100 square meter" is the question's own number; "3.0 liters" is not a weight.
    got = extract("How long does mapping a 100 square meter floor take?",
                  [unit("Mapping a 100 square meter floor takes about 12 minutes.")])
    assert got.span == "about 12 minutes"
    assert extract("How much does the AutoDock E2 weigh?",
                   [unit("The AutoDock E2 dust bag holds 3.0 liters.")]) is None
    assert extract("How many robots can I add to the HomeHub H2?",
                   [unit("The HomeHub H2 supports firmware 3.4 for robots.")]) is None


def test_a_current_document_wins_over_a_stale_one():
    question = "How much does Acme Care Plus cost per month?"
    old = unit("Acme Care Plus costs $9.99 per month.", "Price sheet 2023", status="archived")
    new = unit("Acme Care Plus costs $12.99 per month.", "Plans and pricing", status="current")
    assert extract(question, [old, new]).span == "$12.99 per month"
    assert extract(question, [old]).span == "$9.99 per month"  # only the old one says it


def test_first_qualifying_unit_in_the_given_order_wins():
    question = "How long is the warranty on batteries?"
    a = unit("The warranty on batteries is 12 months.")
    b = unit("The warranty on batteries lasts 24 months with Premium.")
    assert extract(question, [b, a]).span == "24 months"
    assert extract(question, [a, b]).span == "12 months"


def test_extract_takes_a_selection_and_trims_long_units():
    long = ("The warranty on robots is 24 months. " + "It also covers the dock and the base "
            "in every country where the robot is sold, " * 3 + "and nothing else.")
    p = Passage(chunk_id="c", doc_id="d", source="warranty.md", text=long, score=1.0,
                heading=("Warranty",), title="Warranty")
    sel = select_units("How long is the warranty on robots?", [p], LexicalScorer(), min_score=0)
    got = extract("How long is the warranty on robots?", sel)
    assert got is not None and got.span == "24 months"
    assert "**24 months**" in got.text and len(got.text.split()) <= 42


def test_nothing_to_go_on():
    assert extract("How long?", [unit("It takes 3 hours.")]) is None
    assert extract("How long does charging take?", []) is None


@pytest.mark.parametrize("question, answer, cited, rule", [
    # The question restated: nothing new, whatever it cites.
    ("Does the SweepBot S7 have a child lock?", "The SweepBot S7 has a child lock [2].",
     ["The SweepBot S7 has a child lock button."], "echo"),
    ("Which map view was dropped from the app in version 5.3.0?",
     "The map view was dropped from the app in version 5.3.0 [1].",
     ['Removed the legacy "Classic map" view.'], "echo"),
    # A code asked for, none given; an amount asked for, a volume given.
    ("Which error code means the update failed?", "The error is about the update failure.",
     ["Error E70 means the firmware update failed."], "missing_kind"),
    ("How much does a bottle of cleaning solution cost?", "A 50 mL bottle of solution [1].",
     ["Cleaning solution comes in 50 mL bottles."], "missing_kind"),
    # An amount the cited unit does not state.
    ("How much does Acme Care Plus cost?", "Plus costs $14.99 per month [1].",
     ["Acme Care Plus costs $12.99 per month."], "missing_kind"),
    # An acronym whose expansion the cited unit does not hold (European Union, not EEA).
    ("Who represents Acme Robotics for privacy matters in the EEA?",
     "Acme Robotics Europe Ltd. represents it [1].",
     ["In the European Union our representative is Acme Robotics Europe Ltd."],
     "other_subject"),
    # The asking sentence names Premium; the cited unit is about Plus.
    ("I'm in London. What will Premium cost me per month?", "It costs GBP 12.99 [1].",
     ["Plus: GBP 12.99 per month."], "other_subject"),
    # A number alone, where a name, steps or a yes or no is asked for.
    ("Who handles warranty repairs in Canada?", "3 [3].",
     ["Warranty repairs in Canada are handled by 3 service partners."], "bare_number"),
    ("Where is the serial number of the SweepBot S7?", "3 [1].",
     ["The serial number is on sticker 3, under the dust bin."], "bare_number"),
    ("Is the MopMate M3 waterproof?", "7 [2].", ["The MopMate M3 is rated IPX7."],
     "bare_number"),
])
def test_check_answer_refuses_answers_that_do_not_answer(question, answer, cited, rule):
    reason = check_answer(question, answer, cited)
    assert reason is not None and reason.startswith(rule + ":"), reason


@pytest.mark.parametrize("question, answer, cited", [
    ("How much does Acme Care Plus cost?", "Acme Care Plus costs $12.99 per month [1].",
     ["Acme Care Plus costs $12.99 per month."]),
    ("I'm in London. What will Premium cost me per month?",
     "Premium costs GBP 16.99 per month [1].", ["Premium: GBP 16.99 per month (UK)."]),
    ("Which error code means the update failed?", "It is E70 [1].",
     ["Error E70 means the firmware update failed."]),
    ("Can I use vinegar in the tank?", "No, do not use vinegar [1].",
     ["Do not use bleach or vinegar."]),
    # A number alone is an answer to a count, or to a setting's value.
    ("How many service partners handle warranty repairs in Canada?", "3 [3].",
     ["Warranty repairs in Canada are handled by 3 service partners."]),
    ("What is the default value of max_connections?", "100 [1].",
     ["max_connections (integer): The default is typically 100 connections."]),
    # An acronym the question writes is named by its expansion.
    ("Who represents Acme Robotics for privacy matters in the EEA and the UK?",
     "Acme Robotics Europe Ltd. represents it [1].",
     ["For customers in the European Economic Area and the United Kingdom, our "
      "representative is Acme Robotics Europe Ltd."]),
])
def test_check_answer_passes_answers_of_the_kind_asked(question, answer, cited):
    assert check_answer(question, answer, cited) is None


def test_an_acronym_spelt_out_counts_toward_the_key_terms():
    question = "How many years of citizenship does someone need before becoming a U.S. senator?"
    text = ("No Person shall be a Senator who shall not have been nine Years a Citizen of the "
            "United States.")
    got = extract(question, [unit(text, "Constitution > Article I > Section 3")])
    assert got is not None and got.span == "nine Years"
    # the acronym's letters alone are no expansion
    assert extract(question, [unit("No Person shall be a Senator who shall not have been "
                                   "nine Years a Citizen of the Union.",
                                   "Constitution > Article I > Section 3")]) is None


def test_of_a_list_of_values_the_one_after_the_name_asked_is_taken():
    question = "On what date was the Twenty-first Amendment ratified by Massachusetts?"
    text = ("The Amendment was ratified on these dates: Michigan, April 10, 1933; Indiana, "
            "June 26, 1933; Massachusetts, June 27, 1933; New York, June 28, 1933.")
    path = "Constitution > Article XXI > Ratification"
    got = extract(question, [unit(text, path)])
    assert got is not None and got.span == "June 27, 1933"
    # "first" is not named by "Article XXI" (twenty-first): the compound is one term
    other = extract("On what date were the first ten amendments ratified by Massachusetts?",
                    [unit(text, path)])
    assert other is not None and "first" in other.missing


def test_a_sentence_a_few_words_over_the_window_is_shown_whole():
    question = "How would the District be treated for representation in Congress?"
    text = ("For purposes of representation in the Congress, election of the President and "
            "Vice President, and article V of this Constitution, the District constituting "
            "the seat of government of the United States of America, as the Congress may "
            "by law provide, shall be treated as though it were a State.")
    got = extract(question, [unit(text, "Proposed amendments > District of Columbia")])
    assert got is not None and got.text.endswith("as though it were a State.**")
    assert 40 < len(got.text.split()) <= 52
    # a much longer unit is still cut to the window, around the question's words, the
    # window's last sentence shown to its end and the mark closed
    long = text + " " + " ".join(["Further words of another provision follow here."] * 6)
    cut = extract(question, [unit(long, "Proposed amendments > District of Columbia")])
    assert cut is not None and cut.text.endswith("though it were a State.** ...")
    assert cut.text.startswith("... **") and len(cut.text.split()) <= 54


def test_a_version_asked_for_is_answered_only_by_a_version():
    question = "What is the latest firmware version for the HomeHub H2?"
    model = unit("HomeHub H2 (ARH-H200) firmware", path="HomeHub H2 Quick Start")
    assert extract(question, [model]) is None  # a model code is not a version
    release = unit("HomeHub H2 firmware 2.4.1 is the latest", path="Release notes")
    found = extract(question, [model, release])
    assert found is not None and found.span == "2.4.1"
    # a code asked for keeps every code pattern
    coded = extract("Which error code means the firmware update failed?",
                    [unit("Error ERR-42 means the firmware update failed.")])
    assert coded is not None and coded.span == "ERR-42"


def test_a_sqlstate_span_is_a_five_character_code():
    question = "Which error code does a deadlock raise?"
    assert extract(question, [unit("When specifying an error code by SQLSTATE code, "
                                   "any five characters can be used for a deadlock.")]) is None
    found = extract(question, [unit("A deadlock error will raise SQLSTATE 40P01.")])
    assert found is not None and found.span == "SQLSTATE 40P01"


def test_a_default_asked_for_needs_a_unit_that_states_one():
    question = "How many autovacuum workers can run at the same time out of the box?"
    launcher = unit("The launcher tries to start one worker within each database at a time.",
                    path="Autovacuum workers")
    assert extract(question, [launcher]) is None
    setting = unit("Sets the maximum number of autovacuum workers that may be running at the "
                   "same time. The default is three.", path="autovacuum_max_workers")
    found = extract(question, [launcher, setting])
    assert found is not None and found.unit is setting


def test_a_money_question_is_not_answered_by_a_supported_figure_of_another_kind():
    # the untuned model's reply to "revenue" once cited a true "7 years" of spare parts
    question = "What was Acme Robotics' revenue last year?"
    cited = ["Spare parts are sold for at least 7 years after a model is discontinued."]
    why = check_answer(question, "Acme Robotics has a warranty of 7 years [1].", cited)
    assert why is not None and why.startswith("missing_kind")
    assert check_answer(question, "Revenue was $12 million [1].",
                        ["Acme Robotics revenue in 2024 was $12 million."]) is None


# -- key terms by meaning (RelatedTerms) ----------------------------------------------------

# The hours second, below a unit without a time (the first unit needs fewer key terms).
HOURS = [unit("Support answers by e-mail within one business day.", "Contact Acme Support"),
         unit("Day: Monday to Friday; Phone and live chat: 6:00 a.m. to 6:00 p.m.",
              "Contact Acme Support > Support hours")]


def test_a_key_term_in_other_words_counts_with_related_terms(embedder):
    """"weekday" is not in the unit, "Monday" is: word for word the unit holds 2 of 4 key
    terms, under ``MIN_COVERAGE``, and is declined; with the embedder's related words it
    answers, and says which word stood for which term."""
    from assistant.answering.evidence_scoring import EmbeddingScorer, RelatedTerms

    related = RelatedTerms(EmbeddingScorer(embedder).vectors, 0.65)
    question = "Until what time can I call or chat with support on a weekday?"
    assert extract(question, HOURS) is None
    found = extract(question, HOURS, related=related)
    assert found is not None and found.span == "6:00 a.m. to 6:00 p.m."
    assert found.related == (("weekday", "monday"),) and "'monday' for weekday" in found.reason
    assert "weekday" not in found.missing and found.coverage == 0.75
    # A day the unit does not cover matches nothing, and a named day must be there as
    # written ("Sunday" is required: a name past the sentence's first word).
    assert extract("Until what time can I call support on a holiday?", HOURS,
                   related=related) is None
    assert extract("Until what time can I call support on Sunday?", HOURS,
                   related=related) is None


def test_related_terms_threshold_and_forms():
    """A hand-made word table: a term matches through any of its forms in the question,
    at ``min_cosine`` and not below it; only plain words of three letters or more count."""
    from assistant.answering.evidence_scoring import RelatedTerms
    from core.errors import ConfigError

    table = {"heavy": [1.0, 0.0], "weight": [0.8, 0.6], "kg": [1.0, 0.0], "the": [1.0, 0.0],
             "robot": [0.0, 1.0], "net": [0.6, 0.8]}

    def vectors(words):
        import numpy as np

        return np.array([table[w] for w in words], dtype=np.float32)

    weight = unit("Net weight of the robot", "Specs")  # "specs" is not in the table
    table["specs"] = [0.0, 1.0]
    assert RelatedTerms(vectors, 0.8)("How heavy is it?", ["heavy"], weight) == {
        "heavy": "weight"}
    assert RelatedTerms(vectors, 0.81)("How heavy is it?", ["heavy"], weight) == {}
    # "kg" is too short to stand for anything; a term the question does not write is ignored
    assert RelatedTerms(vectors, 0.8)("How heavy is it?", ["weigh"], unit("3.6 kg")) == {}
    for bad in (0.0, 1.5):
        with pytest.raises(ConfigError, match="min_cosine"):
            RelatedTerms(vectors, bad)


SETTING = "Connection Settings > max_connections (integer)"


def _at(text: str, chunk: str, start: int, path: str = SETTING) -> EvidenceUnit:
    return EvidenceUnit(text=text, prefix=path, chunk_id=chunk, source="runtime-config.html",
                        page_index=None, page_label=None, heading=tuple(path.split(" > ")),
                        start=start, end=start + len(text), kind="sentence", path=path)


def test_a_default_is_read_from_beside_its_subject_in_the_same_passage():
    # The best unit names what is asked about but not its default; the passage's other
    # unit states it. Only with the pool, and only from the same passage.
    subject = _at("Sets the maximum number of client connections that this server will accept.",
                  "c1", 0)
    stated = _at("The default is typically 100 connections.", "c1", 80)
    other = _at("The default is three connections.", "c2", 0,
                "Connection Settings > superuser_reserved_connections (integer)")
    question = "How many client connections does a default server accept at most?"
    assert extract(question, [subject]) is None
    found = extract(question, [subject], pool=[other, subject, stated])
    assert found is not None and found.span == "100 connections" and found.unit is stated
    assert "default stated beside" in found.reason
    assert extract(question, [subject], pool=[subject, other]) is None  # another passage
    # not asked for a default: the rule does not apply
    assert extract("How many client connections does the server accept at most?", [subject],
                   pool=[subject, stated]) is None


@pytest.mark.parametrize("question, asks_default", [
    ("What is checkpoint_timeout by default?", True),
    ("Which severity must a message have, with the stock log_min_messages?", True),
    ("Is there a cap on temporary files, unless temp_file_limit is set?", True),
    ("Does the planner consider partition-wise joins on a fresh install?", True),
    ("Which JIT provider library is loaded when jit_provider is untouched?", True),
    ("What is VACUUM's INDEX_CLEANUP option set to when I don't specify it?", True),
    ("Is Bonjour advertising switched on in a new installation?", True),
    ("How long does a refund take?", False),
    ("Unless you are in the EU, is VAT added at checkout?", False),
])
def test_a_default_asked_in_other_words_is_required(question, asks_default):
    required = asked_terms(question).required
    assert ("default" in required) is asks_default



def test_a_count_per_something_needs_a_unit_that_says_per_what():
    # PostgreSQL dev: "one row per logical replication slot" was taken as a rate of rows
    # per second, for a question the manual does not answer.
    question = "How many rows per second can logical replication apply on a typical server?"
    assert "second" in asked_terms(question)[2]
    slot = unit("The view will contain one row per logical replication slot, showing "
                "statistics about its usage.", "Logical replication")
    assert extract(question, [slot]) is None
    rate = unit("Logical replication typically applies 5,000 rows per second.",
                "Logical replication")
    assert extract(question, [rate]).span.startswith("5,000")
    # not a count: a price per month is read from a row headed "monthly"
    assert "month" not in asked_terms("What does Plus cost per month in the UK?")[2]

def test_a_name_the_question_gives_may_be_in_the_units_passage():
    # "SOC 2" names the report in the passage's first sentence, not in the unit that
    # answers; another passage's unit with the same words does not answer.
    paper = "Acme Security Whitepaper"
    named = _at("Certifications: SOC 2 Type II for the Acme cloud.", "c1", 0, paper)
    covers = _at("The most recent report covers the period 1 October 2023 to 30 September "
                 "2024.", "c1", 50, paper)
    elsewhere = _at("The most recent report covers the period 1 May 2022 to 30 April 2023.",
                    "c2", 0, paper)
    question = "Which period does Acme's most recent SOC 2 report cover?"
    assert extract(question, [covers]) is None
    found = extract(question, [covers], pool=[named, covers])
    assert found is not None and found.unit is covers
    assert extract(question, [elsewhere], pool=[named, covers, elsewhere]) is None


def test_a_default_named_only_elsewhere_in_the_passage_is_not_stated():
    # "default" must be stated by the unit itself (or read beside it), never counted
    # from a neighbour that does not give the value.
    subject = _at("Sets the number of connections reserved for superusers, at most 10.",
                  "c1", 0)
    note = _at("See the default configuration file for examples.", "c1", 60)
    question = "How many connections are reserved for superusers by default?"
    assert extract(question, [subject], pool=[subject, note]) is None


@pytest.mark.parametrize("text, span", [
    ("The delay between rounds is 200 milliseconds (200ms).", "200 milliseconds"),
    ("The delay between rounds is five minutes (5min).", "five minutes"),
    ("Sets the delay between rounds; the default is 200ms.", "200ms"),
])
def test_durations_in_milliseconds_and_a_configuration_files_form(text, span):
    found = extract("How long does the background writer sleep between rounds?",
                    [unit(text, "Background Writer > bgwriter_delay (integer)")])
    assert found is not None and found.span == span


@pytest.mark.parametrize("question, text, span", [
    # numbers in words, as laws and policies write them, compounds included
    ("How long is a senator's term?",
     "Senators are chosen for a term of six Years.", "six Years"),
    ("How old must the President be?",
     "No Person shall be President who has not attained the Age of thirty five Years.",
     "thirty five Years"),
    ("What is the minimum age of a member?",
     "A member must be at least eighteen years of age.", "at least eighteen years"),
    ("How long does the license run?",
     "The license runs for twenty-one days.", "twenty-one days"),
    ("How long may the policy be kept?",
     "The policy may be kept for two hundred days.", "two hundred days"),
    # dates, work-hours, part-number versions, figures, phone numbers, "twice"
    ("On what date was the treaty signed?",
     "On the 17th of September, 1787, the treaty was signed by all members.",
     "17th of September, 1787"),
    ("How many hours of labor does the wiring change take?",
     "Wiring change: up to 79 work-hours at $85 per hour.", "up to 79 work-hours"),
    ("Which flight software version must be installed?",
     "Install flight software version P12.1.2 before further flight.", "P12.1.2"),
    ("Which figure replaces the checklist?",
     "Replace the checklist with the information in figure 3 of this directive.", "figure 3"),
    ("I want to fax my comment. What number do I send it to?",
     "Fax your comment to 202\u2013493\u20132251.", "202\u2013493\u20132251"),
    ("How many times can a member be elected chair?",
     "No member shall be elected chair more than twice.", "more than twice"),
    ("What's the minimum voting age for members?",
     "Members who are eighteen years of age may vote.", "eighteen years"),
    # an address to write to, not the names beside it
    ("What email address do I use to contact the Data Protection Officer?",
     "You can contact our Data Protection Officer at privacy@acme.example.",
     "privacy@acme.example"),
    ("What is the maximum length of a virtual wall?",
     "Virtual walls can be up to 6 meters long.", "up to 6 meters"),
    # a range of values has no unit
    ("What range of values can rand() return?",
     "rand() returns a random value in the range 0.0 <= x < 1.0.", "0.0 <= x < 1.0"),
    ("Which range does a short integer column cover?",
     "A short integer column covers the range -32768 to +32767.", "-32768 to +32767"),
    # a file a program reads: where it is read from
    ("Where is the TLS private key read from by default?",
     "TLS private key: the key file is read at start; the default is server.key.",
     "server.key"),
    ("Where does the server write its process ID?",
     "The server writes its process ID to /var/run/acme/server.pid at start.",
     "/var/run/acme/server.pid"),
    # a toll-free number with its one-digit trunk code
    ("What number do I call for support?",
     "For support, call 1-800-555-0199 (toll-free).", "1-800-555-0199"),
    # a size written against its number, as configuration references write it
    ("How much data does the writer flush at a time by default?",
     "The writer flushes data at a time; the default is 512kB.", "512kB"),
    # free space in front of something is a length, not a size on disk
    ("How much free space should be in front of the base?",
     "Place the base on a level floor with 0.5 m of clear space on each side and 1.5 m in front.",
     "1.5 m"),
    # a fee that is a share of the price
    ("What restocking fee applies to returns without the box?",
     "A 10% restocking fee applies to returns without the original box.", "10%"),
    # when a policy applies: a point of a period, not a day of the calendar
    ("When does a plan downgrade take effect?",
     "A plan downgrade takes effect at the start of the next billing period.",
     "at the start of the next billing period"),
])
def test_spans_laws_rules_and_policies_write(question, text, span):
    found = extract(question, [unit(text, "Terms")])
    assert found is not None and found.span == span


@pytest.mark.parametrize("question, span", [
    ("What exit status does the tool return when the server gives no response?", "2"),
    ("The tool was given invalid parameters. Which exit code does it return?", "3"),
])
def test_an_outcome_is_read_under_its_condition(question, span):
    text = ("The tool returns 0 to the shell if the server is accepting connections, 1 if "
            "the server is rejecting connections, 2 if there was no response to the "
            "connection attempt, and 3 if no attempt was made (for example due to invalid "
            "parameters).")
    found = extract(question, [unit(text, "tool > Exit Status")])
    assert found is not None and found.span == span


def test_an_outcome_needs_a_condition_the_question_names_alone():
    from assistant.answering.extract import _outcome_asked

    text = "It returns 0 if the copy finished, 1 if the copy failed."
    assert _outcome_asked(text, {"copy", "fail"}) == (text.index("1 if"), text.index("1 if") + 1)
    assert _outcome_asked(text, {"timeout"}) is None  # no condition shares a word
    assert _outcome_asked(text, {"copy"}) is None  # both do, equally
    assert _outcome_asked("It returns 0 if the copy finished.", {"copy"}) is None  # one listed


def test_a_paragraphs_leading_label_is_no_answer():
    # "SECTION 1." and the clause number "2" a law starts a paragraph with are not counts
    found = extract("How many times can the same person be elected president?",
                    [unit("SECTION 1. 2 No person shall be elected president more than twice.",
                          "Amendments")])
    assert found is not None and found.span == "more than twice"


def test_a_whole_unit_answer_starts_after_the_label():
    found = extract("In which cases may the privilege of the writ be suspended?",
                    [unit("2 The Privilege of the Writ shall not be suspended, unless when in "
                          "Cases of Rebellion.", "Article I > Section 9")])
    assert found is not None and found.span.startswith("The Privilege of the Writ")


def test_a_dotted_initialism_is_one_sentence_and_named_by_its_expansion():
    # "U.S." ends no sentence, so "how many years" is what the question asks; "U.S." is
    # named by "United States"
    question = "How many years of citizenship does a U.S. senator need?"
    found = extract(question, [unit("A senator must have been a citizen of the United States "
                                    "for nine years.", "Senate")])
    assert found is not None and found.span == "nine years"


@pytest.mark.parametrize("question, phrase", [
    ("According to the historical note, on what date was the Constitution signed?",
     "the historical note"),
    ("In the proposed 737 MAX AD, which figure replaces the old checklist?",
     "the proposed 737 MAX AD"),
    ("Under Section 4 of the Twenty-fifth Amendment, within how many hours must Congress "
     "assemble?", "Section 4 of the Twenty-fifth Amendment"),
    ("By default, how many connections are allowed?", ""),  # "by default" is what is asked
    ("In json_object_agg may the keys be null?", ""),  # no comma: no phrase
])
def test_a_leading_phrase_that_says_where_to_look(question, phrase):
    found, rest = context_phrase(question)
    assert found == phrase
    assert rest == (question.split(", ", 1)[1] if phrase else question)


def test_where_to_look_is_matched_against_the_units_path_not_its_words():
    question = ("Under Section 4 of the Twenty-fifth Amendment, within how many hours must "
                "Congress assemble to decide the issue?")
    text = "Thereupon Congress shall decide the issue, assembling within forty-eight hours."
    found = extract(question, [unit(text, "Constitution > Article XXV > Section 4")])
    assert found is not None and found.span == "within forty-eight hours"
    # the phrase's words are not the unit's to hold, but one of its names must be where
    # the unit is from
    assert extract(question, [unit(text, "Constitution > Article II > Clause 3")]) is None


def test_an_ordinal_is_no_duration():
    # "the 3d day of January" (as old laws write "third") is a date, not three days
    question = "How long is the session?"
    assert extract(question, [unit("The session begins at noon on the 3d day of January.",
                                   "Sessions")]) is None


def test_a_unit_must_say_what_is_asked_about_not_only_name_the_product():
    # "AutoDock E2" and "SweepBot S7" are the question's names; the unit holds both, and a
    # yes/no polarity word, but nothing of what is asked (using them together).
    question = "Can I use the AutoDock E2 with my SweepBot S7?"
    names_only = unit("The AutoDock E2 is included with the SweepBot S7 only in the US.",
                      "Products")
    assert extract(question, [names_only]) is None
    says_it = unit("Use of the AutoDock E2 with the SweepBot S7 is supported.", "Products")
    assert extract(question, [says_it]) is not None


@pytest.mark.parametrize("question, words", [
    ("How heavy is the SweepBot S7?", ["weight"]),
    ("How big is the M3 and how much does it weigh?", ["weight", "size", "dimensions"]),
    ("How loud is the S7 in Eco mode?", ["noise"]),
    ("What does the S7 cost in France?", ["price"]),
    ("What is the weight of the S7?", []),  # said already
    ("How long does a refund take?", []),
])
def test_attribute_terms_name_what_an_adjective_asks_for(question, words):
    assert attribute_terms(question) == words
    where = ["EU", "EEA"] if "France" in question else []
    extra = " ".join([*words, *where])
    assert search_query(question) == (f"{question} {extra}" if extra else question)


def test_a_unit_naming_the_implied_attribute_says_what_is_asked():
    # "How heavy" names no word of "Weight: 3.6 kg"; the specification's heading names the
    # product. The attribute word is what ties the row to the question.
    spec = unit("Weight: 3.6 kg", "SweepBot S7 > Dimensions and weight")
    found = extract("How heavy is the SweepBot S7?", [spec])
    assert found is not None and found.span == "3.6 kg"
    other = unit("Height: 9.2 cm", "SweepBot S7 > Dimensions and weight")
    assert extract("How heavy is the SweepBot S7?", [other]) is None


@pytest.mark.parametrize("question, two", [
    ("How big is the MopMate M3 and how much does it weigh?", True),
    ("What's the flat repair fee, and what do you charge to replace its battery?", True),
    ("How loud is the S7 in Eco mode compared with Max mode?", True),
    ("Which app version and what kind of connection do I need?", True),
    ("How much does the M3 weigh?", False),
    ("I'm in London and moving soon. What will Premium cost me?", False),  # asks once
    ("Which rows and columns does COPY read?", False),
    ("What does a new rubber main brush cost, and a 2-pack of side brushes?", True),
    ("If I buy the S7, and a spare brush, what do I pay in total?", False),  # one total
    ("Which state ratified the Constitution first, and on what date?", True),
    ("Which form do I fill in, and in what order?", True),
    ("Which app version do I need to run on the S7 and on the M3?", False),  # no question word
])
def test_a_question_asking_two_things_is_not_answered_by_one_span(question, two):
    assert asks_two(question) is two
    spec = unit("Weight: 2.4 kg, with dimensions 290 x 290 mm and a loudness of 58 dB; the "
                "repair fee is $89, app version 5.2.", "MopMate M3 > Dimensions and weight")
    if two:
        assert extract(question, [spec]) is None


def test_a_long_whole_unit_answer_is_cut_around_what_the_question_asks():
    # A function's table row: the signature first, the default the question asks about
    # near the end. Cut to its first 40 words, the answer would not show it.
    filler = " ".join(f"word{i}" for i in range(60))
    row_text = (f"lag ( value anycompatible [, offset integer ] ) {filler} When no offset "
                "is given, lag uses 1 as its offset.")
    found = extract("What does lag() use as its offset when none is given?",
                    [unit(row_text, "Window Functions")])
    assert found is not None and found.answer_type.value == "other"
    assert "uses 1 as its offset" in found.text and found.text.startswith("...")


def test_a_stated_default_says_what_a_default_question_asks():
    # The setting is named by the heading only; "default" in the unit's text is what the
    # question asks about (it is required, but not a name).
    stated = _at("The default is 80 MB.", "c1", 0, "WAL Configuration > min_wal_size (integer)")
    found = extract("What is the default min_wal_size?", [stated])
    assert found is not None and "80 MB" in found.span


def test_a_row_is_picked_by_its_cells_not_by_the_headers_every_row_shares():
    rows = [unit("Connection: Wi-Fi; Pairing timeout: 30 seconds", path="Setup > Limits",
                 kind="row"),
            unit("Connection: Bluetooth; Pairing timeout: 60 seconds", path="Setup > Limits",
                 kind="row")]
    question = "How long is the pairing timeout?"
    # "pairing timeout" is every row's column, so it says which column, not which row:
    # the first row read by its headers alone would answer 30 seconds for any connection
    assert extract(question, rows, pool=rows) is None
    got = extract("How long is the pairing timeout over Bluetooth?", rows, pool=rows)
    assert got is not None and got.span == "60 seconds"
    # a table's only row in the passage is picked by its headers as a sentence would be
    alone = extract(question, rows[:1], pool=rows[:1])
    assert alone is not None and alone.span == "30 seconds"


def test_a_sentence_saying_this_mode_is_shown_after_the_heading_it_means():
    row_share = unit("The SELECT command acquires a lock of this mode on all tables on which "
                     "one of the FOR UPDATE or FOR SHARE options is specified.",
                     path="13.3. Explicit Locking > ROW SHARE (RowShareLock)")
    found = extract("Which lock mode does SELECT FOR UPDATE take on the tables?", [row_share])
    assert found is not None
    assert found.text.startswith("ROW SHARE (RowShareLock): **The SELECT command")
    # a unit that names its subject itself, or says no "this ...", is shown as it is
    named = unit("ROW SHARE: the SELECT command acquires a lock of this mode on all tables "
                 "on which FOR UPDATE is specified.",
                 path="13.3. Explicit Locking > ROW SHARE")
    found = extract("Which lock mode does SELECT FOR UPDATE take on the tables?", [named])
    assert found is not None and found.text.startswith("**ROW SHARE: the SELECT")
    plain = unit("Refunds take 30 days.", path="Refunds > Refund window")
    found = extract("How long do refunds take?", [plain])
    assert found is not None and found.text == "Refunds take **30 days**."


def test_a_plain_no_leads_a_yes_no_answer():
    tar = unit("The tar archive format currently does not support compression at all.",
               path="pg_dump > Options")
    found = extract("Can a tar-format pg_dump archive be compressed?", [tar])
    assert found is not None and found.text.startswith("No: **The tar archive format")
    hedged = unit("Opened items cannot be returned unless they are defective.",
                  path="Returns > Opened items")
    found = extract("Can opened items be returned?", [hedged])
    assert found is not None and not found.text.startswith("No")  # a condition, not a no
    said = unit("No. The S7 cannot join a 5 GHz network.", path="S7 > Wi-Fi")
    found = extract("Can the S7 join a 5 GHz network?", [said])
    assert found is not None and not found.text.startswith("No: ")  # it says so itself
    cell = unit("Function: array_agg; Partial Mode: No", path="Aggregate Functions", kind="row")
    found = extract("Does array_agg support partial mode?", [cell])
    assert found is not None and found.text == "Function: array_agg; Partial Mode: **No**"


@pytest.mark.parametrize("question, clause, verdict", [
    ("Are notifications for finished jobs on by default?",
     "Push notifications are now off by default", "No"),
    ("Is two-step verification compulsory for admins?",
     "Two-step verification is required for Owners and Admins", "Yes"),
    ("Is two-step verification compulsory for admins?", "It is optional for admins", "No"),
    ("Can a tar archive be compressed?", "The tar format does not support compression", "No"),
    # not settled: a place "on" the dock, a hedged no, a state the question does not name
    ("Can I leave it on the dock?", "Switch the robot off before cleaning it", None),
    ("Can I return opened items?", "Opened items cannot be returned unless defective", None),
    ("Does pg_restore --jobs have any effect on a script?", "This option is ignored", None),
])
def test_yes_no_verdicts(question, clause, verdict):
    from assistant.answering.extract import _verdict

    assert _verdict(question, clause) == verdict


def test_a_leading_when_clause_is_a_condition_not_a_date_asked_for():
    assert asked_for("When one backend crashes, does the server restart itself?") is (
        AnswerType.YESNO)
    assert asked_for("When I cancel, what happens to my data?") is AnswerType.OTHER
    assert asked_for("When the battery is low, how long does it take?") is AnswerType.DURATION
    assert asked_for("When does the trial end?") is AnswerType.DATE
    assert asked_for("When, exactly, does the trial end?") is AnswerType.DATE


def test_a_window_does_not_end_on_an_examples_arrow():
    text = ("Function Description Example(s): translate ( string text, from text, to text ) → "
            "text Replaces each character in string that matches a character in the from set "
            "with the corresponding character in the to set. If from is longer than to, "
            "occurrences of the extra characters in from are deleted. "
            "translate('12345', '143', 'ax') → a2x5")
    got = extract("translate('12345', '143', 'ax') yields what string?",
                  [unit(text, "9.4. String Functions and Operators", kind="row")])
    assert got is not None and got.text.endswith("→ a2x5**")


@pytest.mark.parametrize("question, text, span", [
    # a maximum asked: a lower bound is no answer, an upper bound or a plain number is
    ("How many databases can a single cluster hold at most?",
     "A database cluster contains one or more named databases.", None),
    ("What is the maximum number of robots per account?",
     "Each account needs at least 1 robot to use the app.", None),
    ("What is the maximum number of robots per account?",
     "An account holds up to 20 robots.", "up to 20 robots"),
    ("How many robots can an account hold at most?",
     "An account holds 20 robots or fewer.", "20 robots"),
    # a minimum asked: an upper bound is no answer
    ("How many characters must a password have at least?",
     "A password may have up to 64 characters.", None),
    ("How many characters must a password have at least?",
     "A password must have at least 12 characters.", "at least 12 characters"),
    # no bound asked: either is an answer
    ("How many robots can an account hold?", "An account holds up to 20 robots.",
     "up to 20 robots"),
])
def test_a_span_stating_the_opposite_bound_does_not_answer(question, text, span):
    found = extract(question, [unit(text, "Accounts")])
    assert (found and found.span) == span


def test_a_default_is_read_from_the_definition_under_the_named_settings_heading():
    path = "20.4. Resource Consumption > 20.4.1. Memory > temp_buffers (integer)"
    says = unit("Sets the maximum amount of memory used for temporary buffers within each "
                "database session.", path)
    default = unit("The default is eight megabytes (8MB).", path)
    other = unit("The default is 64 megabytes (64MB).",
                 "20.4. Resource Consumption > 20.4.1. Memory > work_mem (integer)")
    # few of the question's words are in the definition: its heading says whose it is
    question = ("How big is the per-session temp_buffers pool for temporary tables unless I "
                "change it?")
    got = extract(question, [other, says], pool=[other, says, default])
    assert got is not None and got.span == "eight megabytes (8MB)" and got.unit is default
    assert got.text == "temp_buffers (integer): The default is **eight megabytes (8MB)**."
    assert extract("How big is the temp_buffers pool?", [other, says]) is None  # no default asked
    # a setting the question sets is a condition, not what it asks the default of
    assert extract("With temp_buffers=16MB, how big is a session's pool unless I change "
                   "work_mem?", [default]) is None
    # a remark about the default is no value
    remark = unit("The default is usually a reasonable choice.",
                  "20.3. SSL > ssl_ciphers (string)")
    assert extract("Which cipher list is offered if ssl_ciphers is left at its default?",
                   [remark]) is None
    # a current definition before a superseded one
    old = unit("The default is four megabytes (4MB).", path, status="superseded")
    assert extract(question, [old, default]).span == "eight megabytes (8MB)"
    # and a superseded definition only when no current unit answers at all
    asked = "Which format are bytea values printed in unless bytea_output is changed?"
    gone = unit("The default is escape.", "Client Defaults > bytea_output (enum)",
                status="superseded")
    current = unit("By default, bytea values are printed in hex format unless bytea_output "
                   "is changed.", "8.4. Binary Data Types")
    assert extract(asked, [gone, current]).unit is current
    assert extract(asked, [gone]).unit is gone


@pytest.mark.parametrize("question, path, text, span", [
    # "... (the default)" under an option's heading
    ("Does pg_basebackup start with an immediate or a spread checkpoint unless --checkpoint "
     "is given?", "pg_basebackup > Options > -c {fast|spread}, --checkpoint={fast|spread}",
     "Sets checkpoint mode to fast (immediate) or spread (the default).", "spread"),
    # an option left out asks for its default too
    ("Which locale provider does initdb pick when --locale-provider is omitted?",
     "initdb > Options > --locale-provider={libc|icu}", "The default is libc.", "libc"),
    ("Which shutdown mode does pg_ctl stop use when -m is not given?",
     "pg_ctl > Options > -m mode, --mode=mode", "The default is fast.", "fast"),
    ("How much extra WAL does the primary keep if wal_keep_size is unchanged?",
     "20.6.1. Sending Servers > wal_keep_size (integer)",
     "If wal_keep_size is zero (the default), the system doesn't keep any extra segments.",
     "zero"),
    # a setting spelt out in words
    ("Is there a statement timeout out of the box?",
     "20.11.2. Statement Behavior > statement_timeout (integer)",
     "A value of zero (the default) disables the timeout.", "zero"),
    # "X is the default" under the setting's heading
    ("Which backslash_quote setting applies out of the box?",
     "19.13. Version Compatibility > backslash_quote (enum)",
     "The allowed values are on, off and safe_encoding. safe_encoding is the default.",
     "safe_encoding"),
    # a sentence elsewhere that names the setting
    ("In which format are bytea values printed unless bytea_output is changed?",
     "8.4. Binary Data Types",
     "The output format depends on the configuration parameter bytea_output; the default "
     "is hex.", "hex"),
    # not a condition on the default, nor "which is the default"
    ("Why is adding a column slow when its default is clock_timestamp()?",
     "5.6.1. Adding a Column",
     "However, if the default value is volatile (e.g., clock_timestamp()) each row will "
     "need to be updated.", None),
    ("What is create_if_missing in jsonb_set by default?", "9.16. JSON Functions",
     "If create_if_missing is true (which is the default), the item is added.", None),
])
def test_a_default_is_read_in_the_forms_definitions_state_it(question, path, text, span):
    got = extract(question, [unit(text, path)])
    if span is None:  # no default read (the unit may still answer as any other would)
        assert got is None or not got.reason.startswith("the default")
    else:
        assert got is not None and got.span == span and got.reason.startswith("the default")


def test_a_function_named_by_its_call_is_answered_from_its_row():
    path = "9.4. String Functions and Operators"
    row = unit("Function/Operator Description Example(s): strpos ( string text, substring "
               "text ) \u2192 integer Returns first starting index of the specified substring "
               "within string, or zero if it's not present. strpos('high', 'ig') \u2192 2",
               path, kind="row")
    other = unit("Function/Operator Description Example(s): position ( substring text IN "
                 "string text ) \u2192 integer Returns first starting index of the specified "
                 "substring within string, or zero if it's not present.", path, kind="row")
    question = "What does strpos() give back when the substring is not found at all?"
    got = extract(question, [other, row])
    assert got is not None and got.unit is row and "zero if it's not present" in got.text
    assert got.reason.startswith("the row defining strpos()")
    # not named by its call: no row is the answer by name
    assert extract("What does strpos give back when the substring is not found at all?",
                   [other, row]) is None
    # overloads in rows of their own: which one is asked is not known
    log1 = unit("Function Description Example(s): log ( numeric ) \u2192 numeric Base 10 "
                "logarithm log(100) \u2192 2", path, kind="row")
    log2 = unit("Function Description Example(s): log ( b numeric, x numeric ) \u2192 numeric "
                "Logarithm of x to base b log(2.0, 64.0) \u2192 6.0", path, kind="row")
    assert extract("With a single argument, which base does log() use?", [log2, log1]) is None


def test_a_release_date_answers_when_a_release_came_out():
    # "come out" is said "Release date" in release notes (PostgreSQL training pgt168)
    notes = unit("Release date: 2024-08-08", "E.13. Release 15.8")
    for question in ("On what date did PostgreSQL 15.8 come out?",
                     "When did 15.8 come out?"):
        got = extract(question, [notes], corpus_names=("PostgreSQL",))
        assert got is not None and got.span == "2024-08-08", question
    # another release's date does not answer
    assert extract("When did PostgreSQL 15.9 come out?", [notes],
                   corpus_names=("PostgreSQL",)) is None
    # a date that names no release is not a release date
    assert extract("When did PostgreSQL 15.8 come out?",
                   [unit("Support for 15.8 ends on 2029-11-08.", "E.13. Release 15.8")],
                   corpus_names=("PostgreSQL",)) is None


def _definition(heading: str, texts: list[str], source: str = "runtime-config-logging.html"
                ) -> list[EvidenceUnit]:
    path = f"20.8. What to Log > {heading}"
    out, pos = [], 0
    for text in texts:
        u = replace(unit(text, path), source=source, chunk_id=heading, start=pos,
                    end=pos + len(text))
        out.append(u)
        pos += len(text) + 1
    return out


def test_a_yes_no_question_about_a_default_is_answered_by_the_switch_it_describes():
    # no setting is named: the best units are from log_checkpoints' definition, a switch,
    # whose default answers (PostgreSQL fresh dev question pgd001)
    switch = _definition("log_checkpoints (boolean)", [
        "Causes checkpoints and restartpoints to be logged in the server log.",
        "The default is on."])
    question = ("My server log is suddenly full of 'checkpoint complete' lines. Is checkpoint "
                "logging switched on by default now?")
    got = extract(question, switch[:1], pool=switch)
    assert got is not None and got.span == "on"
    assert got.text == "log_checkpoints (boolean): The default is **on**."
    # a setting of another type is not read this way
    timeout = _definition("log_rotation_age (integer)", [
        "Causes checkpoints and log rotation to be logged after this many minutes.",
        "The default is 24 hours."])
    assert extract(question, timeout[:1], pool=timeout) is None
    # the default stated the other way definitions state it (pgd009)
    crash = _definition("restart_after_crash (boolean)", [
        "When set to on, which is the default, PostgreSQL will automatically reinitialize "
        "after a backend crash."], source="runtime-config-error-handling.html")
    got = extract("When one backend crashes, does the server reinitialize itself "
                  "automatically by default, or do I have to restart it by hand?",
                  crash, pool=crash)
    assert got is not None and got.span == "on"
    # nor a switch whose definition states no default
    quiet = _definition("log_checkpoints (boolean)", switch[0].text.split("\n"))
    assert extract(question, quiet[:1], pool=quiet) is None


@pytest.mark.parametrize("question, kind", [
    ("How long can a room name be?", AnswerType.MEASURE),
    ("How long may a NOTIFY payload string be in the default configuration?",
     AnswerType.MEASURE),
    ("How long can the robot be left alone?", AnswerType.DURATION),
    ("How long is the warranty?", AnswerType.DURATION),
    ("How long should I wait before it can be used?", AnswerType.DURATION),
])
def test_how_long_something_may_be_is_a_length(question, kind):
    assert asked_terms(question).kind is kind


def test_a_length_is_read_in_characters_or_bytes():
    got = extract("How long can a room name be?",
                  [unit("Room names can be up to 24 characters long.", "Maps > Rooms")])
    assert got is not None and got.span == "up to 24 characters"
    got = extract("How long may a NOTIFY payload string be in the default configuration?",
                  [unit("In the default configuration it must be shorter than 8000 bytes.",
                        "NOTIFY > Description > payload")])
    assert got is not None and got.span == "8000 bytes"
    # a time is no length
    assert extract("How long can a room name be?",
                   [unit("Room names can be changed for up to 30 days.", "Maps > Rooms")]
                   ) is None


def test_an_option_the_question_writes_must_be_in_the_passage():
    # --swap is not an option of this manual's pg_upgrade: a sentence about --link mode
    # does not answer (fresh PostgreSQL dev pgd054, unanswerable)
    link = unit("If you use link mode, the upgrade will be much faster (no file copying) and "
                "use less disk space.", "pg_upgrade > Description")
    assert extract("Is pg_upgrade --swap faster than --link for a large cluster?", [link]) is None
    # an option named in the unit's heading counts ("-j number-of-jobs, --jobs=...")
    jobs = unit("This option is ignored when emitting a script rather than connecting "
                "directly to a database server.",
                "pg_restore > Options > -j number-of-jobs, --jobs=number-of-jobs")
    got = extract("Does pg_restore --jobs have any effect when the output is a script file "
                  "rather than a live server?", [jobs])
    assert got is not None


# -- the value of a setting the question names is its definition's default ----------------

SETTING = "Server Configuration > Planner Options > join_merge_limit (integer)"
SETTING_UNITS = [
    unit("The planner merges join items into the parent query when the resulting list "
         "would have no more than this many items.", SETTING),
    unit("The default is eight.", SETTING),
]


def test_a_named_settings_value_is_its_stated_default():
    found = extract("Up to how many join items will the planner merge into the parent query "
                    "(join_merge_limit)?", SETTING_UNITS[:1], pool=SETTING_UNITS)
    assert found is not None and found.span == "eight"
    assert found.text.startswith("join_merge_limit (integer): ")


def test_no_stated_default_answers_for_another_place():
    # "on Amazon RDS": a name the manual's definition does not give
    found = extract("What is join_merge_limit set to on Amazon RDS?", SETTING_UNITS[:1],
                    pool=SETTING_UNITS)
    assert found is None


def test_a_clause_in_capitals_is_read_under_its_own_heading():
    path = "CREATE TEAM > Parameters > MEMBER LIMIT memberlimit"
    units = [unit("If the team is open, this specifies how many members can join it.", path),
             unit("-1 (the default) means no limit.", path)]
    found = extract("If CREATE TEAM has no MEMBER LIMIT, how many members may join?",
                    units[:1], pool=units)
    assert found is not None and found.span == "-1" and "no limit" in found.text


def test_the_command_itself_heads_no_default():
    # "CREATE TEAM" heads every part of its page: its capitals name no clause
    path = "CREATE TEAM"
    units = [unit("CREATE TEAM makes a new team; limit (the default) is applied.", path)]
    assert extract("How many members does CREATE TEAM allow?", units, pool=units) is None


# -- read off the fresh PostgreSQL and acme dev questions (fifteenth session) ----------

def test_a_year_inside_an_identifier_is_no_date():
    units = [unit("The fix for CVE-2024-10978 accidentally caused settings for role to not "
                  "be applied.", "E.11. Release 15.10 > E.11.2. Changes")]
    assert extract("When did the 15.10 minor release come out?", units) is None
    found = extract("When did the 15.10 minor release come out?",
                    [*units, unit("The 15.10 minor release came out in 2024.", "News")])
    assert found is not None and "2024" in found.span


def test_a_span_that_restates_the_question_is_no_answer():
    question = "What kind of UUID does gen_random_uuid() return?"
    assert extract(question, [unit("gen_random_uuid() returns uuid",
                                   "F.28. pgcrypto > Random-Data Functions")]) is None


def test_an_option_asked_for_is_named_by_its_heading():
    units = [unit("use hard links instead of copying files to the new cluster",
                  "pg_upgrade > Options > -k, --link"),
             unit("Use efficient file cloning instead of copying files to the new cluster.",
                  "pg_upgrade > Options > --clone")]
    found = extract("What pg_upgrade option makes it use hard links instead of copying the "
                    "data files?", units)
    assert found is not None and found.span == "-k, --link"
    assert found.text.startswith("**-k, --link**: use hard links")
    # an option the question names itself is asked about, not for
    assert extract("What does the pg_upgrade option --link do with the data files?",
                   units[:1]) is None or "**-k, --link**" not in extract(
        "What does the pg_upgrade option --link do with the data files?", units[:1]).text


def test_a_default_read_from_the_named_setting_not_one_that_names_it():
    other = unit("It defaults to -1, indicating that the value of maintenance_work_mem should "
                 "be used instead.", "20.4.1. Memory > autovacuum_work_mem (integer)")
    own = unit("If this value is specified without units, it is taken as kilobytes. It "
               "defaults to 64 megabytes (64MB).",
               "20.4.1. Memory > maintenance_work_mem (integer)")
    found = extract("default maintenance_work_mem value?", [other, own])
    assert found is not None and found.span == "64 megabytes (64MB)"
    assert found.unit is own


@pytest.mark.parametrize("question", [
    "What isolation level do new transactions get if nobody changes "
    "default_transaction_isolation?",
    "Which database does CREATE DATABASE copy when no template is given?",
    "I didn't pass a DELIMITER option. What column separator will it expect?",
    "How much memory does each sort get, if I haven't touched the setting?",
])
def test_more_ways_of_asking_for_a_default(question):
    assert "default" in asked_terms(question).required


def test_one_of_several_is_no_count_of_them():
    question = "How many backup codes do I get when I enable two-step verification?"
    share = unit("If you have two-step verification turned on, you will also need your "
                 "second factor or one of your backup codes.", "Billing FAQ > Account")
    assert extract(question, [share]) is None
    count = unit("When you turn on 2SV you receive 10 single-use backup codes.",
                 "Security Whitepaper > Two-Step Verification > Backup codes")
    found = extract(question, [share, count])
    assert found is not None and found.span == "10"
    # "13 of the 17 States" counts how many of them
    # "3 of the ..." is how many
    found = extract("How many backup codes do I get?",
                    [unit("You get 3 of the backup codes at once.")])
    assert found is not None and found.span == "3"


def test_a_default_asked_by_describing_the_setting():
    described = unit("Specifies a fraction of the table size to add to "
                     "autovacuum_vacuum_threshold when deciding whether to trigger a VACUUM.",
                     "20.10. Automatic Vacuuming > autovacuum_vacuum_scale_factor (floating point)")
    stated = replace(described, text="The default is 0.2 (20% of table size).", start=200,
                     end=240)
    question = ("What fraction of a table must change (on top of the threshold) before "
                "autovacuum vacuums it, with stock settings?")
    found = extract(question, [described], pool=[described, stated])
    assert found is not None and found.span == "0.2 (20% of table size)"
    assert found.text.startswith("autovacuum_vacuum_scale_factor (floating point): ")
    # a setting the question names is read from its own definition or not at all
    assert extract("What fraction of a table must change before autovacuum vacuums it, with "
                   "the stock vacuum_trigger_ratio?", [described],
                   pool=[described, stated]) is None


def test_a_default_the_question_states_is_not_asked():
    assert "default" not in asked_terms(
        "What's the maximum size of one table with the default 8 kB block size?").required
    assert "default" in asked_terms("What is the default block size?").required


def test_a_count_in_words_up_to_billions():
    found = extract("How many transactions can a cluster run before wraparound?",
                    [unit("A cluster can run about four billion transactions before "
                          "wraparound.")])
    assert found is not None and found.span.startswith("about four billion")


def test_a_value_a_current_document_says_was_changed_gives_way_to_the_change():
    manual = unit("The default suction mode for new cleaning jobs is Standard.",
                  "X9 Pro User Manual > Suction modes")
    notes = unit("Changed: The default suction mode for new cleaning jobs is now Auto "
                 "(previously Standard).", "Firmware 3.2 > 3.2.0 (18 November 2024)")
    question = "Which suction mode do new cleaning jobs use by default now?"
    found = extract_ranked(question, [manual, notes])
    assert found is not None and found.span == "Auto" and found.unit is notes
    # a change from another value leaves the answer as it is
    other = replace(notes, text="Changed: The default suction mode for new cleaning jobs is "
                                "now Auto (previously Quiet).")
    assert extract_ranked(question, [manual, other]).unit is manual


def test_a_count_is_the_one_of_the_name_asked():
    """Found by the walkthrough: "How many Zigbee devices ...?" marked the Matter count."""
    found = extract("How many Zigbee devices can the HomeHub support?",
                    [unit("The hub supports up to 64 Zigbee devices and 32 Matter devices.",
                          "HomeHub H2 > Adding devices")])
    assert found is not None and "64" in found.span and "32" not in found.span
    found = extract("How many Matter devices can the HomeHub support?",
                    [unit("The hub supports up to 64 Zigbee devices and 32 Matter devices.",
                          "HomeHub H2 > Adding devices")])
    assert found is not None and found.span.startswith("32")


def test_a_window_or_period_asked_for_is_answered_by_a_stretch_of_time():
    """Found by the walkthrough: "What is the return period for a robot vacuum?" was
    answered with the S7's description."""
    description = unit("The SweepBot S7 is Acme Robotics' mid-range robot vacuum for "
                       "apartments and small to medium homes.", "SweepBot S7 Robot Vacuum")
    assert extract("What is the return period for a robot vacuum?", [description]) is None
    window = unit("The return period for a robot vacuum is 30 days from delivery.",
                  "Refund window")
    found = extract("What is the return period for a robot vacuum?", [description, window])
    assert found is not None and "30 days" in found.text
    # a period of dates, or a window of hours, is one
    assert extract("Which period does the SOC 2 report cover?",
                   [unit("The most recent SOC 2 report covers the period 1 October 2023 to "
                         "30 September 2024.", "Compliance")]) is not None


@pytest.mark.parametrize("question, text", [
    # a vague quantity is no count
    ("How many members does the House have?",
     "The House shall be composed of Members chosen by the People of the several States."),
    # the first part of an ordinal ("Sixty-eighth Congress")
    ("How many states ratified the child labor amendment?",
     "A child labor amendment was proposed by the Sixty-eighth Congress to the states."),
    # parts of a code written with en dashes, and a year inside it
    ("How many airplanes would the AD affect?",
     "On that day the FAA issued AD 2018\u201323\u201351 to the owners of the airplanes."),
    # a footnote's number, and numbers in names (a flight, a model)
    ("How many people died on Lion Air Flight 610?",
     "6 Flight data recorder data from Lion Air Flight 610 was read by the investigators."),
    ("How many flights did the airplane make before the accident?",
     "The airplane operated as Lion Air Flight 043 before the accident flight."),
    ("How many airplanes are affected?",
     "The AD applies to all affected airplanes of the Boeing Model 737 family."),
])
def test_numbers_that_count_nothing_are_no_count(question, text):
    assert extract(question, [unit(text, "Doc")]) is None


def test_a_count_in_a_sentence_still_counts():
    found = extract("How many people died in the accident?",
                    [unit("All 189 people on board died in the accident.", "Background")])
    assert found is not None and "189 people" in found.span


def test_a_year_inside_an_en_dash_code_is_no_date():
    assert extract("When was the 737 MAX grounding lifted?",
                   [unit("The FAA proposes to supersede AD 2018\u201323\u201351 for the 737 "
                         "MAX grounding.", "Summary")]) is None


def test_a_duration_is_in_the_unit_asked():
    text = ("If Congress is not in session, within twenty-one days after it is required to "
            "assemble, it decides; Congress assembles within forty-eight hours.")
    found = extract("Within how many hours must Congress assemble if not in session?",
                    [unit(text, "Amendment XXV")])
    assert found is not None and "forty-eight hours" in found.span
    assert extract("Within how many hours must Congress assemble if not in session?",
                   [unit("If Congress is not in session, it must assemble within twenty-one "
                         "days.", "Amendment XXV")]) is None


def test_a_value_labelled_by_the_name_in_brackets_after_it():
    """Found by the walkthrough: "$69" (the M3's, right after "(X9 Pro)") for the X9 Pro."""
    text = ("Battery replacement for out-of-warranty robots costs $99 (S7), $119 (X9 Pro) or "
            "$69 (M3), including the battery and labour.")
    found = extract("What does a battery replacement cost for the X9 Pro?",
                    [unit(text, "Out-of-warranty repairs")])
    assert found is not None and found.span == "$119"


def test_a_yes_no_answer_is_the_clause_that_says_what_is_asked():
    """Found by the walkthrough: "No:" from the unit's second sentence, about the S7."""
    text = ("The AutoDock E2 works with the SweepBot X9 Pro only. It is not compatible with "
            "the SweepBot S7 or the discontinued S5.")
    found = extract("Does the SweepBot X9 Pro work with the AutoDock E2?",
                    [unit(text, "Compatibility")])
    assert found is not None and found.span.startswith("The AutoDock E2 works")
    assert not found.text.startswith("No")
    # asked about the S7, no one clause says all that is asked: the one after the name
    found = extract("Does the SweepBot S7 work with the AutoDock E2?",
                    [unit(text, "Compatibility")])
    assert found is not None and found.text.startswith("No:")


def test_a_row_is_not_taken_when_the_question_names_another_row():
    """Found by the walkthrough: "the battery warranty on the SweepBot S7" was answered by
    the Robots row (it names the S7) with the robots' 24 months."""
    rows = [unit("Product or part: Robots (SweepBot S7, SweepBot X9 Pro); Warranty period: "
                 "24 months", "Warranty periods", kind="row"),
            unit("Product or part: Batteries (robot battery packs); Warranty period: 12 months",
                 "Warranty periods", kind="row")]
    found = extract("How long is the battery warranty on the SweepBot S7?", rows, pool=rows)
    assert found is None or "12 months" in found.span
    found = extract("How long is the warranty on the SweepBot S7?", rows, pool=rows)
    assert found is not None and found.span == "24 months"
    # a word further into a row's first cell names no row ("Data of deleted accounts")
    table = [unit("Data: Cleaning history; Retention: 180 days", "Data Retention", kind="row"),
             unit("Data: Data of deleted accounts; Retention: Deleted within 30 days",
                  "Data Retention", kind="row")]
    found = extract("How long is cleaning history data kept before deleting it?", table,
                    pool=table)
    assert found is not None and found.span == "180 days"


def test_the_unit_under_the_asked_heading_beats_a_partial_best_unit():
    """Found by the walkthrough: "How long is the refund window?" was answered by "We issue
    the refund within 3 business days" (best scored, under "Refund timing") rather than
    the sentence under "Refund window", which says neither word itself."""
    timing = unit("We issue the refund within 3 business days after the return arrives.",
                  "Returns and Refunds Policy > Refund timing")
    window = unit("You can return any hardware product within 60 days of the delivery date.",
                  "Returns and Refunds Policy > Refund window")
    found = extract("How long is the refund window?", [timing, window])
    assert found is not None and found.span == "within 60 days"
    # alone, the best unit still answers by its lower floor
    assert extract("How long is the refund window?", [timing]) is not None
