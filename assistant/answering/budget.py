"""How much work a question may cause: cheap checks before retrieval and generation.

Pure functions, no model and no index:

- ``content_words(text)``: the words of ``text`` that carry meaning (not stopwords, not
  greetings or fillers, not single letters);
- ``decline_reason(question, history)``: ``"no_content: ..."`` when neither the question
  nor any earlier user turn has a content word (``"hi"``, ``"??"``, ``"ok thanks"``),
  else ``None``. Such a question cannot be grounded in documents, and without this check
  it costs a retrieval and a full generation (a two-character ``"hi"`` took 22 s on the
  bundled SmolLM2: 23 sentences before the citation check declined). A follow-up such
  as ``"why?"`` passes when an earlier user turn has content;
- ``question_budget(question, cap)``: the most answer tokens a question gets,
  ``min(cap, BASE_TOKENS + PER_WORD_TOKENS * content words)`` rounded up to a multiple
  of ``STEP_TOKENS`` (64), so concurrent requests still share a few decoding settings
  and batch together. The reference answers of ``examples/acme`` (396 questions) are at
  most 12 words, and their questions have 3 to 13 content words: a 3-word question gets
  128 tokens (about 90 words), a 7-word one 192, a 12-word one the usual cap of 256.

The server applies both (``assistant.server``); the answer path is meant to call them
too (``RagAnswerer._prepare``: abstain on ``decline_reason`` before retrieval, and
generate at most ``question_budget`` tokens) so the CLI and the eval are bounded alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from assistant.answering.stopwords import STOPWORDS

BASE_TOKENS = 64
PER_WORD_TOKENS = 16
STEP_TOKENS = 64

# Words that greet, thank or fill, and say nothing a document could answer.
_SMALL_TALK = (
    "hi hello hey hiya howdy yo hallo hola bonjour ciao thanks thank thx ty cheers ok okay "
    "k kk bye goodbye cya sup hmm hm huh uh um er lol haha test testing ping"
)
SMALL_TALK = frozenset(_SMALL_TALK.split())

_WORD = re.compile(r"\w+", re.UNICODE)


def content_words(text: str) -> list[str]:
    """The meaningful words of ``text``, lower-cased, in order (duplicates kept).

    A word is a run of letters, digits or underscores; stopwords, small talk and single
    letters are dropped, numbers kept (``"error 404?"`` has two content words).
    """
    words = _WORD.findall(text.lower()) if isinstance(text, str) else []
    return [w for w in words
            if w not in STOPWORDS and w not in SMALL_TALK and (len(w) > 1 or w.isdigit())]


def decline_reason(question: str, history: Sequence[Any] = ()) -> str | None:
    """Why to decline before any retrieval or generation, or ``None`` to go on.

    ``history`` items have ``role`` and ``content`` (objects or mappings); only the
    user's turns count, since those are what the user asked.
    """
    if content_words(question):
        return None
    for turn in history:
        role = turn.get("role") if isinstance(turn, Mapping) else getattr(turn, "role", None)
        content = turn.get("content") if isinstance(turn, Mapping) \
            else getattr(turn, "content", "")
        if role == "user" and content_words(content or ""):
            return None
    shown = question.strip()
    shown = shown if len(shown) <= 40 else shown[:40] + "..."
    return f"no_content: the question {shown!r} has no word a document could answer"


def question_budget(question: str, cap: int, base: int = BASE_TOKENS,
                    per_word: int = PER_WORD_TOKENS, step: int = STEP_TOKENS) -> int:
    """At most ``cap`` answer tokens, fewer for a short question (at least 1).

    ``base + per_word * len(content_words(question))`` rounded up to a multiple of
    ``step``, then capped: a follow-up with no content word of its own (``"why?"``) gets
    ``base``. Raises ``ValueError`` for a cap, base, step or per-word figure below its
    minimum (1, 1, 1, 0).
    """
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ValueError(f"cap must be an integer >= 1, got {cap!r}")
    if base < 1 or per_word < 0 or step < 1:
        raise ValueError(f"base and step must be >= 1 and per_word >= 0, got {base}, "
                         f"{step} and {per_word}")
    wanted = base + per_word * len(content_words(question))
    return max(1, min(cap, -(-wanted // step) * step))
