"""Turn a follow-up question into a standalone search query, using the conversation.

``standalone_query("how much does it cost?", history)`` returns the question with the key
terms of the earlier user turns appended (``"how much does it cost? SweepBot X9 Pro"``),
so retrieval finds the right passages; the model still sees the conversation and the
original question. Rule-based by default; ``llm`` rewrites through a generator instead
(off by default: a 135M model rewrites worse than the rules).

``bound_history(history, count, max_tokens)`` keeps the newest turns that fit a token
budget; the answerer applies it before both rewriting and prompting.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from assistant.answering.records import Message
from assistant.answering.stopwords import STOPWORDS
from core.errors import ConfigError

if TYPE_CHECKING:
    from assistant.answering.generation import Generator

logger = logging.getLogger(__name__)

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-\.]*[A-Za-z0-9]|[A-Za-z0-9]")
_FOLLOW_UP_START = re.compile(
    r"^\s*(what about|how about|and|also|what if|same for|same with|or|but|then)\b", re.I
)
_REFERRING = frozenset(str.split(
    "it its it's they them their theirs this that these those he she him her his one ones "
    "there same"
))
_QUESTION_WORDS = frozenset(str.split("what which who whom whose when where why how is are do does "
                            "did can could will would should may"))
MAX_CARRIED_TERMS = 8
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
    """Whether ``question`` leans on earlier turns: it refers back ("it", "that one"),
    opens like a follow-up ("what about ...", "and ..."), or is too short to stand alone."""
    words = [w.lower() for w in _WORD.findall(question)]
    if _FOLLOW_UP_START.match(question):
        return True
    if any(w in _REFERRING for w in words):
        return True
    return len([w for w in words if w not in STOPWORDS]) <= 1


def entities(text: str) -> list[str]:
    """Names in ``text``: runs of capitalized or digit-bearing words (``SweepBot X9 Pro``),
    besides a capitalized question word at the start."""
    found, run = [], []
    for i, word in enumerate(_WORD.findall(text)):
        named = any(c.isdigit() for c in word) or (word[0].isupper() and not (
            i == 0 and word.lower() in _QUESTION_WORDS | STOPWORDS))
        if named and word.lower() not in STOPWORDS:
            run.append(word)
        elif run:
            found.append(" ".join(run))
            run = []
    if run:
        found.append(" ".join(run))
    return found


def key_terms(text: str) -> list[str]:
    """Content words of ``text`` in order, without names, question words or stopwords."""
    names = {w.lower() for e in entities(text) for w in e.split()}
    out = []
    for word in _WORD.findall(text):
        low = word.lower()
        if low in STOPWORDS or low in _QUESTION_WORDS or low in names or len(low) < 3:
            continue
        out.append(low)
    return list(dict.fromkeys(out))


def standalone_query(
    question: str,
    history: Sequence[Message] = (),
    max_history_tokens: int = 512,
    count: Callable[[str], int] | None = None,
    generator: Generator | None = None,
    llm: bool = False,
) -> str:
    """A search query for ``question`` that stands without the conversation.

    A question that is not a follow-up, or has no earlier user turn, comes back unchanged
    (stripped). Otherwise the names and key terms of the latest earlier user turns are
    appended; the question's own names replace earlier ones ("what about the X9?" after a
    question on the S7 asks about the X9). ``history`` is first bounded to
    ``max_history_tokens`` (``count`` defaults to a word count). With ``llm`` the
    ``generator`` rewrites it instead, falling back to the rules on an empty or rambling
    reply. Raises ``ConfigError`` for an empty question or ``llm`` without a generator.
    """
    if not question or not question.strip():
        raise ConfigError("question is empty")
    if llm and generator is None:
        raise ConfigError("llm rewrite needs a generator")
    question = " ".join(question.split())
    turns = bound_history(history, count or _word_count, max_history_tokens)
    users = [m.content for m in turns if m.role == "user"]
    if not users or not is_follow_up(question):
        return question
    if llm:
        rewritten = _llm_rewrite(question, turns, generator)
        if rewritten:
            return rewritten
    return _rule_rewrite(question, users)


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
