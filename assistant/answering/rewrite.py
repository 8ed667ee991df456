"""Make a follow-up question stand without the conversation.

``rewrite_follow_up("How much does it cost?", history)`` returns a ``FollowUp``: the
question extraction reads, with "it" written in as what the conversation is about ("How
much does SweepBot X9 Pro cost?") or an elliptical follow-up asked as the earlier question
again ("And on Saturday?" -> "What are your phone support hours on Saturday?"), and the
search query, the question with the earlier user turns' names and key terms appended, so
retrieval finds the right passages; the model still sees the conversation and the original
question. A question on a new topic comes back unchanged. Rule-based by default; ``llm``
rewrites through a generator instead (off by default: a 135M model rewrites worse than the
rules).

``bound_history(history, count, max_tokens)`` keeps the newest turns that fit a token
budget; the answerer applies it before both rewriting and prompting.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.answering.records import Message
from assistant.answering.stopwords import STOPWORDS
from core.errors import ConfigError

if TYPE_CHECKING:
    from assistant.answering.generation import Generator

logger = logging.getLogger(__name__)

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-\.]*[A-Za-z0-9]|[A-Za-z0-9]")
# The words a follow-up opens with before what is new ("And on Saturday?"), and those it
# may end with ("... instead?"); "what if" opens one too, but asks a new question.
_OPENING = "and|also|or|but|then|what about|how about|same for|same with"
_CLOSING = "then|instead|too|as well"
_FOLLOW_UP_START = re.compile(rf"^\s*(what if|{_OPENING})\b", re.I)
_REFERRING = frozenset(str.split(
    "it its it's they them their theirs this that these those he she him her his there same"
))
_QUESTION_WORDS = frozenset(str.split("what which who whom whose when where why how is are do does "
                            "did can could will would should may"))
# "Is there ...", "there are ...": "there" that points nowhere
_EXISTENTIAL = re.compile(r"(?:.*\b(?:is|are|was|were|be)\s+there\b|"
                          r"\s*there\s+(?:is|are|was|were)\b)", re.I)
# "..., then?", "... instead?": a question that continues the conversation's topic
_FOLLOW_UP_END = re.compile(rf"\b(?:{_CLOSING}|either)\s*[?.!]*\s*$", re.I)
MAX_CARRIED_TERMS = 8
# A question refers back to the conversation with "it" only when it has said at most this
# many content words before it (dev, the conversation and topic-switch sets).
_SAID_BEFORE_REFERRING = 2
_REWRITE_PROMPT = (
    "Rewrite the last user question so it can be understood without the conversation. "
    "Reply with the rewritten question only."
)


def bound_history(history: Sequence[Message], count: Callable[[str], int],
                  max_tokens: int) -> list[Message]:
    """The newest turns of ``history`` whose contents total at most ``max_tokens`` tokens.

    System turns are dropped. A turn is kept whole or not at all; ``max_tokens`` 0 keeps
    nothing. Raises ``ConfigError`` for a negative budget.
    """
    if max_tokens < 0:
        raise ConfigError(f"max_history_tokens must be >= 0, got {max_tokens}")
    kept: list[Message] = []
    used = 0
    for message in reversed([m for m in history if m.role != "system"]):
        cost = count(message.content)
        if used + cost > max_tokens:
            break
        kept.append(message)
        used += cost
    return kept[::-1]


def is_follow_up(question: str) -> bool:
    """Whether ``question`` leans on earlier turns: it refers back ("it", "that one")
    before it has named anything or said much itself, opens like a follow-up ("what about
    ...", "and ..."), or is too short to stand alone. "Does current_timestamp return a
    different value each time I call it ...?" and "I stopped using the app for a few
    weeks and want to know when it will sign me out" refer to what they said themselves."""
    if _FOLLOW_UP_START.match(question):
        return True
    for match in _WORD.finditer(question):
        if match.group(0).lower() in _REFERRING and not _EXISTENTIAL.match(
                question, max(0, match.start() - 5)):
            before = question[:match.start()]
            said = [w for w in _WORD.findall(before)
                    if w.lower() not in STOPWORDS | _QUESTION_WORDS]
            named = entities(before) or _IDENTIFIER.search(before)
            return not named and len(said) <= _SAID_BEFORE_REFERRING
    if _FOLLOW_UP_END.search(question):
        return True  # "What's the default column separator then?", "... instead?"
    # A short question that names nothing ("Which part number should I order?", three
    # content words) was tried as a follow-up too: +1 right of the 25 answerable dev
    # follow-ups, but short new questions asked after another topic ("What is the
    # restocking fee?") then lost their answers; not adopted.
    return _too_short(question)


def _elliptical(question: str) -> bool:
    """A follow-up that says only what is new ("And on Saturday?", "Why?")."""
    return bool(_FOLLOW_UP_START.match(question)) or _too_short(question)


def _too_short(question: str) -> bool:
    """At most one content word: too short to stand alone."""
    return len([w for w in _WORD.findall(question) if w.lower() not in STOPWORDS]) <= 1


def entities(text: str) -> list[str]:
    """Names in ``text``: runs of capitalized or digit-bearing words (``SweepBot X9 Pro``),
    besides a capitalized question word at the start."""
    found, run = [], []
    for i, match in enumerate(_WORD.finditer(text)):
        word = match.group(0)
        opens = i == 0 or text[:match.start()].rstrip().endswith((".", "?", "!"))
        named = any(c.isdigit() for c in word) or (word[0].isupper() and not (
            opens and _plain(word) in _QUESTION_WORDS | STOPWORDS))
        if named and word.lower() not in STOPWORDS:
            run.append(word)
        elif run:
            found.append(" ".join(run))
            run = []
    if run:
        found.append(" ".join(run))
    return found


def _plain(word: str) -> str:
    """``word`` in lower case without a contraction: "What's" -> "what", "I've" -> "i"."""
    return re.sub(r"'(?:s|ve|re|ll|d|m)$", "", word.lower())


def key_terms(text: str) -> list[str]:
    """Content words of ``text`` in order, without names, question words or stopwords."""
    names = {w.lower() for e in entities(text) for w in e.split()}
    out = []
    for word in _WORD.findall(text):
        low = word.lower()
        if low in STOPWORDS or _plain(word) in _QUESTION_WORDS or low in names or len(low) < 3:
            continue
        out.append(low)
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class FollowUp:
    """A question made to stand without its conversation.

    ``question``: what extraction reads. The question as asked, with the name a pronoun
    stands for written in ("Will it fire my ON DELETE triggers?" after an answer naming
    TRUNCATE: "Will TRUNCATE fire my ON DELETE triggers?"); an elliptical follow-up ("And
    on Saturday?") reads as its search query, since what it asks is in the earlier turn.
    ``query``: what is searched, the question with the conversation's names and key terms
    appended. Both are the question itself when it is no follow-up."""

    question: str
    query: str


def rewrite_follow_up(
    question: str,
    history: Sequence[Message] = (),
    max_history_tokens: int = 512,
    count: Callable[[str], int] | None = None,
    generator: Generator | None = None,
    llm: bool = False,
    corpus_names: Sequence[str] = (),
) -> FollowUp:
    """``question`` made to stand without the conversation (``FollowUp``).

    A question that is not a follow-up, or has no earlier user turn, comes back unchanged
    (stripped). Otherwise the names and key terms of the latest earlier user turns are
    appended to the query; the question's own names replace earlier ones ("what about
    the X9?" after a question on the S7 asks about the X9). A pronoun standing for a name
    ("it", "its", "they") is replaced by the name the conversation is about
    (``referent``). ``history`` is first bounded to ``max_history_tokens`` (``count``
    defaults to a word count). With ``llm`` the ``generator`` rewrites it instead,
    falling back to the rules on an empty or rambling reply. ``corpus_names`` (what the
    whole corpus is about, "PostgreSQL") are no referent. Raises ``ConfigError`` for an
    empty question or ``llm`` without a generator.
    """
    if not question or not question.strip():
        raise ConfigError("question is empty")
    if llm and generator is None:
        raise ConfigError("llm rewrite needs a generator")
    question = " ".join(question.split())
    turns = bound_history(history, count or _word_count, max_history_tokens)
    users = [m.content for m in turns if m.role == "user"]
    if not users or not is_follow_up(question):
        return FollowUp(question, question)
    if llm:
        rewritten = _llm_rewrite(question, turns, generator)
        if rewritten:
            return FollowUp(rewritten, rewritten)
    composed = _compose(question, users[-1], corpus_names)
    if composed:
        return FollowUp(composed, _rule_rewrite(question, users))
    name = referent(turns, corpus_names)
    resolved = _write_in(question, name) if name else question
    query = _rule_rewrite(resolved, users)
    if resolved != question:
        return FollowUp(resolved, query)
    return FollowUp(query if _elliptical(question) else question, query)


# What an elliptical follow-up opens with before the new thing it asks about.
_OPENER = re.compile(rf"^\s*(?:{_OPENING})\b[\s,]*", re.I)
_CLOSER = re.compile(rf"[\s,]*\b(?:{_CLOSING})?\s*[?.!]*\s*$", re.I)
_PREPOSITION = r"(?:in|on|at|for|to|with|from|under|during|before|after|by|per|via|over)"
# The last phrase of a question that a new one opening with a preposition takes the place
# of: "in the contiguous US" of "How long does standard shipping take in the contiguous
# US?", for "What about to Canada?".
_LAST_PHRASE = re.compile(rf"\s{_PREPOSITION}\s(?:(?!\s{_PREPOSITION}\s)[^?])*\?\s*$", re.I)


def _compose(question: str, earlier: str, corpus_names: Sequence[str] = ()) -> str | None:
    """The earlier question asked again about what an elliptical follow-up names: "What
    about to Canada?" after "How long does standard shipping take in the contiguous US?"
    is "How long does standard shipping take to Canada?"; "And Premium?" after "How much
    is Acme Care Plus per month?" is "How much is Premium per month?". None when the
    follow-up says more than a phrase, or the earlier question has nothing it replaces."""
    if not _OPENER.match(question):
        return None
    new = _CLOSER.sub("", _OPENER.sub("", question, count=1)).strip()
    sentences = re.findall(r"[^.?!]*\?", earlier)
    if not new or not sentences or len(new.split()) > 8:
        return None
    asked = sentences[-1].strip()
    if re.match(rf"{_PREPOSITION}\s", new, re.I):
        if _LAST_PHRASE.search(asked):
            return _LAST_PHRASE.sub(f" {new}?", asked, count=1)
        return None
    ignore = {n.lower() for n in corpus_names}
    names = [e for e in entities(asked) if e.lower() not in ignore]
    own = [e for e in entities(new) if e.lower() not in ignore]
    if names and own:
        return asked.replace(names[-1], new.removeprefix("the ").removeprefix("The "), 1)
    return None


def _rule_rewrite(question: str, earlier_user_turns: list[str]) -> str:
    own_names = entities(question)
    present = {w.lower() for w in _WORD.findall(question)}
    carried: list[str] = []
    for turn in reversed(earlier_user_turns[-3:]):
        names = [] if own_names else entities(turn)
        carried += [n for n in names if n.lower() not in present]
        carried += [t for t in key_terms(turn) if t not in present]
        if names or entities(turn):  # this turn named what the follow-up is about
            break
    carried = list(dict.fromkeys(carried))[:MAX_CARRIED_TERMS]
    return f"{question} {' '.join(carried)}".strip() if carried else question


# A pronoun that stands for a thing with a name: "it", "its" ("they" and "them" more often
# stand for things without one: notifications, schedules, tokens).
_STANDS_FOR_NAME = re.compile(r"\b(it's|its|it)\b", re.I)
# Names written in lower case or in capitals: settings ("shared_buffers"), functions
# ("now()"), psql commands ("\watch"), SQL commands ("TRUNCATE", "VACUUM FULL").
_IDENTIFIER = re.compile(r"(?<![\w\\])(?:\\[a-z]+|[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?:\(\))?|"
                         r"[a-z][a-z0-9_]*\(\)|[A-Z]{3,}(?:\s+[A-Z]{3,})*)(?![\w(])")


# The subject of a question that asks what something is: "How long is the refund
# window?", "What are the support hours?" (a short noun phrase opening with an article).
_COPULAR_SUBJECT = re.compile(
    r"(?:what|which|how \w+)(?:'s|\s+(?:is|are|was|were))\s+((?:the|your|my|a|an)\s+"
    r"[\w\s-]{2,40}?)\s*\?$", re.I)


def referent(turns: Sequence[Message], corpus_names: Sequence[str] = ()) -> str | None:
    """The name the conversation is about, for a pronoun to stand for: the first name
    the latest user turn gives ("What is the AutoDock E2?"), else the first name written
    as code in the answer after it ("TRUNCATE. It removes all rows ..."), else the
    subject the turn asked about ("How long is the refund window?"); names of the whole
    corpus and bare numbers are none."""
    ignore = {n.lower() for n in corpus_names}

    def names(text: str) -> list[str]:
        found = [(m.start(), m.group(0)) for m in _IDENTIFIER.finditer(text)]
        found += [(text.find(e), e) for e in entities(text)]
        found.sort(key=lambda f: (f[0], -len(f[1])))  # the longest name where two start
        return [n for _, n in found if n.lower().removesuffix("'s") not in ignore
                and any(c.isalpha() for c in n)]

    last_user = max((i for i, m in enumerate(turns) if m.role == "user"), default=None)
    if last_user is None:
        return None
    own = names(turns[last_user].content)
    if own:
        return own[0].removesuffix("'s")
    answers = [m.content for m in turns[last_user + 1:] if m.role == "assistant"]
    # from the answer, only a name written as code ("shared_buffers", "\watch"), or one in
    # capitals that opens it ("TRUNCATE. It removes ..."): its capitalised words are as
    # often a sentence's subject, or an acronym, as what the conversation is about
    after = [m for m in _IDENTIFIER.finditer(answers[0])] if answers else []
    after = [m.group(0) for m in after if not m.group(0).isupper() or m.start() == 0]
    if after:
        return after[0]
    # else what the question asked about: "How long is the refund window?" -> "the refund
    # window", for "What was it in 2023?"
    subject = _COPULAR_SUBJECT.match(turns[last_user].content.strip())
    return subject.group(1) if subject else None


def _write_in(question: str, name: str) -> str:
    """``question`` with its first pronoun that stands for a name replaced by ``name``."""
    match = _STANDS_FOR_NAME.search(question)
    if match is None:
        return question
    word = match.group(1).lower()
    owner = f"{name}'s" if name[-1].isalnum() and "_" not in name else name  # "shared_buffers"
    text = {"its": owner, "it's": f"{name} is"}.get(word, name)
    return question[:match.start()] + text + question[match.end():]


def _llm_rewrite(question: str, turns: list[Message], generator: Generator) -> str | None:
    from assistant.answering.generation import GenerationConfig

    convo = "\n".join(f"{m.role}: {m.content}" for m in turns)
    messages = [
        {"role": "system", "content": _REWRITE_PROMPT},
        {"role": "user", "content": f"Conversation:\n{convo}\n\nLast question: {question}"},
    ]
    reply = generator.generate(messages, GenerationConfig(max_new_tokens=48, stop=("\n",)),
                               None).text.strip().strip('"')
    if not reply or len(reply) > 4 * len(question) + 200:
        logger.debug("llm rewrite unusable (%r); using the rules", reply)
        return None
    return reply


def _word_count(text: str) -> int:
    return len(text.split())
