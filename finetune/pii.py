"""Redact personal data from training text with Presidio, offline and without an NLP model.

Presidio's analyzer normally runs a spaCy model (a download at run time, which this
project must not need). Here it runs with Presidio's ``NoOpNlpEngine`` and only
self-contained recognizers: Presidio's own for e-mail (with an offline public-suffix
list), phone numbers (Google's libphonenumber), credit cards (Luhn-checked), IBANs
(checksum), US SSNs and IP addresses; plus three of ours for account numbers (a number
after "account"/"acct"/...), street addresses and personal names. Without NER, names are
found only after cues: titles ("Ms. Jane Doe"), "my name is", "Name:", "Dear", "this is
... from", and sign-offs ("Thanks,\\nJane"). Spans become placeholders such as ``<EMAIL>``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from core.errors import ConfigError

logger = logging.getLogger(__name__)

PLACEHOLDERS = {
    "EMAIL_ADDRESS": "<EMAIL>",
    "PHONE_NUMBER": "<PHONE>",
    "CREDIT_CARD": "<CARD_NUMBER>",
    "IBAN_CODE": "<IBAN>",
    "ACCOUNT_NUMBER": "<ACCOUNT_NUMBER>",
    "US_SSN": "<SSN>",
    "IP_ADDRESS": "<IP_ADDRESS>",
    "STREET_ADDRESS": "<ADDRESS>",
    "PERSON": "<NAME>",
}
ENTITIES = tuple(PLACEHOLDERS)
# IP addresses are off by default: four-part version numbers ("10.2.3.4") look the same.
DEFAULT_ENTITIES = tuple(e for e in ENTITIES if e != "IP_ADDRESS")
PHONE_REGIONS = ("US", "CA", "GB", "IE", "DE", "FR", "ES", "IT", "NL", "AU", "IN", "BR")
SCORE_THRESHOLD = 0.4

_CITATION = re.compile(r"\[\d{1,3}\]")
_DECIMAL_RANGE = re.compile(r"\(?\d{1,3}[.,]\d+\s*[-\u2013]\s*\d{1,3}[.,]\d+\)?")
_FRACTION = re.compile(r"\d\s*/\s*\d")
_NAME = r"[A-Z][a-z'’-]+(?:[ \t]+[A-Z][a-z'’-]+){0,2}"
_NAME_CUES = [
    re.compile(rf"\b(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof)\.?[ \t]+(?P<v>{_NAME})"),
    re.compile(rf"(?i:\bmy name is|\bmy name's|\bname:|\bdear)[ \t]+(?P<v>{_NAME})"),
    re.compile(rf"(?i:\bthis is)[ \t]+(?P<v>{_NAME})(?=[ \t]+(?i:from|with|at|here)\b)"),
    re.compile(
        rf"(?im:^[ \t]*(?:thanks|thank you|regards|best regards|kind regards|best|cheers|"
        rf"sincerely|yours),?[ \t]*\n[ \t]*)(?P<v>{_NAME})[ \t]*$"
    ),
]
_STREET = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Ter|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Square|Sq|Trail|Trl"
)
_ADDRESS = re.compile(
    r"\b\d{1,6}[ \t]+(?:[A-Z0-9][\w'.-]*[ \t]+){1,4}"  # number + capitalized street name
    rf"(?:{_STREET})\b\.?(?:[ \t]+(?:NW|NE|SW|SE|N|S|E|W)\b)?"
    r"(?:,?[ \t]+(?i:apt|apartment|suite|ste|unit|#)\.?[ \t]*[\w-]+)?"
    r"(?:,[ \t]*[A-Z][a-zA-Z]+(?:[ \t]+[A-Z][a-zA-Z]+)?)?"  # city
    r"(?:,?[ \t]*[A-Z]{2}[ \t]+\d{5}(?:-\d{4})?)?"  # state + ZIP
    r"|\bP\.?[ \t]?O\.?[ \t]+Box[ \t]+\d+"
)
_ACCOUNT = re.compile(
    r"(?i:\b(?:account|acct|a/c|routing|member|customer|policy)[ \t]*"
    r"(?:number|no\.?|num|id|#)?[ \t]*(?:is|:|=|#)?[ \t]*)"
    r"(?P<v>\d[\d -]{4,22}\d)\b"
)


@dataclass(frozen=True)
class Span:
    entity: str
    start: int
    end: int
    text: str


class Redactor:
    """Replace personal data in text with placeholders; counts what it replaced.

    ``enabled=False`` turns redaction off: it must be asked for, and is logged and shown
    in every report. ``entities`` picks from ``ENTITIES``; ``allow`` lists exact strings
    that are never redacted (a company's own published phone number or address, which
    the assistant must be able to quote). Raises ``ConfigError`` for unknown entities.
    """

    def __init__(
        self,
        enabled: bool = True,
        entities: Iterable[str] = DEFAULT_ENTITIES,
        allow: Iterable[str] = (),
        score_threshold: float = SCORE_THRESHOLD,
    ) -> None:
        self.enabled = bool(enabled)
        self.entities = tuple(entities)
        unknown = sorted(set(self.entities) - set(ENTITIES))
        if unknown or not self.entities:
            raise ConfigError(
                f"entities must be a non-empty subset of {', '.join(ENTITIES)}; "
                f"unknown: {unknown}"
            )
        if not 0.0 <= score_threshold <= 1.0:
            raise ConfigError(f"score_threshold must be in [0, 1], got {score_threshold}")
        self.allow = tuple(sorted({a for a in allow if a}))
        self.score_threshold = score_threshold
        if not self.enabled:
            logger.warning("PII redaction is turned OFF: training text is used as written")

    @property
    def description(self) -> str:
        if not self.enabled:
            return "off (disabled explicitly)"
        allow = f", {len(self.allow)} allowed strings" if self.allow else ""
        return f"on (presidio pattern recognizers: {', '.join(self.entities)}{allow})"

    def allowing(self, texts: Iterable[str]) -> Redactor:
        """A redactor like this one that also keeps every personal-data string found in
        ``texts``: for the company's own documents, which the assistant quotes to its users
        anyway (support phone numbers, office addresses)."""
        found = {span.text for text in texts for span in self.find(text)} if self.enabled \
            else set()
        return Redactor(self.enabled, self.entities, (*self.allow, *found), self.score_threshold)

    def find(self, text: str) -> list[Span]:
        """The personal-data spans in ``text`` that redaction would replace, in order."""
        if not text:
            return []
        # Citation markers glued to a number ("+353 1 555 0123 [4]") make libphonenumber
        # reject the whole candidate; blank them out, keeping every offset.
        masked = _CITATION.sub(lambda m: " " * len(m.group()), text)
        results = self._analyzer.analyze(
            text=masked, language="en", entities=list(self.entities),
            score_threshold=self.score_threshold, allow_list=list(self.allow) or None,
        )
        results = [r for r in results if not (
            r.entity_type == "PHONE_NUMBER" and _not_a_phone(text[r.start:r.end]))]
        results = sorted(results, key=lambda r: (r.start, -(r.end - r.start), -r.score))
        spans, end = [], -1
        for r in results:  # keep the first, longest span where spans overlap
            if r.start >= end:
                spans.append(Span(r.entity_type, r.start, r.end, text[r.start:r.end]))
                end = r.end
        return spans

    def redact(self, text: str) -> tuple[str, Counter]:
        """``text`` with each personal-data span replaced by its placeholder, and the
        number of replacements per entity type. Disabled: ``text`` unchanged, no counts."""
        if not self.enabled or not text:
            return text, Counter()
        counts: Counter = Counter()
        out, pos = [], 0
        for span in self.find(text):
            out.append(text[pos:span.start])
            out.append(PLACEHOLDERS[span.entity])
            counts[span.entity] += 1
            pos = span.end
        out.append(text[pos:])
        return "".join(out), counts

    @cached_property
    def _analyzer(self):
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        registry = RecognizerRegistry(recognizers=_recognizers(), supported_languages=["en"])
        return AnalyzerEngine(
            registry=registry,
            nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}]),
            supported_languages=["en"],
        )


def _not_a_phone(candidate: str) -> bool:
    """Whether a phone-number match is a statistic libphonenumber's lenient matching takes
    for a short number: a decimal range ("0.80-2.46", a confidence interval), a fraction
    ("136/243"), or anything under 7 digits. Scientific and financial documents are full
    of them, and redacting them changes facts."""
    if sum(c.isdigit() for c in candidate) < 7:
        return True
    return bool(_DECIMAL_RANGE.fullmatch(candidate.strip()) or _FRACTION.search(candidate))


def _recognizers() -> list:
    import tldextract
    from presidio_analyzer import LocalRecognizer, RecognizerResult
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    # The default extractor fetches the public-suffix list over the network; use the
    # snapshot that ships inside tldextract instead.
    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return offline(pattern_text.rsplit("@", 1)[-1]).fqdn != ""

    class CueRecognizer(LocalRecognizer):
        """Spans of the named group ``v`` of each pattern (whole match when absent)."""

        def __init__(self, entity: str, patterns: list[re.Pattern], score: float) -> None:
            self.patterns, self.score = patterns, score
            super().__init__(supported_entities=[entity], name=f"Acme{entity.title()}")

        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            found = []
            for pattern in self.patterns:
                for m in pattern.finditer(text):
                    group = "v" if "v" in pattern.groupindex else 0
                    start, end = m.span(group)
                    found.append(RecognizerResult(self.supported_entities[0], start, end,
                                                  self.score))
            return found

    return [
        OfflineEmailRecognizer(),
        PhoneRecognizer(supported_regions=PHONE_REGIONS),
        CreditCardRecognizer(),
        IbanRecognizer(),
        UsSsnRecognizer(),
        IpRecognizer(),
        CueRecognizer("ACCOUNT_NUMBER", [_ACCOUNT], 0.6),
        CueRecognizer("STREET_ADDRESS", [_ADDRESS], 0.6),
        CueRecognizer("PERSON", _NAME_CUES, 0.6),
    ]
