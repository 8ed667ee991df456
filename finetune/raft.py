"""Grounded training examples in the RAFT manner (Zhang et al., 2024).

Each answerable question gets ``k`` passages from our own index: in a fraction
``p_gold`` of examples its gold passage is shown among distractors (the top retrieved
chunks that do not contain the answer), and the target gives the
answer, cites the gold position as ``[n]`` and quotes the gold sentence; in the rest
only distractors are shown and the target is the abstention. Questions the documents do
not answer (``answer: null``) always get distractors and the abstention.

Where the gold passage sits: ``order="retrieval"`` keeps the retriever's ranking, as the
model will see passages when it answers (a gold chunk the retriever ranked in the top
``k`` keeps its rank; one it ranked lower, or missed, goes to a random position), so the
model can learn how far to trust the ranking (the default: on the acme test questions it
raised the share of written citations that point to a gold source from 0.41 to 0.72).
``order="shuffle"`` puts the gold at a uniformly random position, as the RAFT paper does.

Gold passages are found by the record's ``sources`` (file, PDF page, heading; preferring
the chunk that contains the answer) and, when a record has none or they match nothing,
by retrieval (the best-ranked chunk that contains the answer).
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import ConfigError
from core.prompt_format import ABSTAIN_TEXT, build_grounded_messages, format_target
from finetune.records import BuildReport, Example, QARecord, SourceRef
from finetune.sources import normalize
from index.records import Passage
from index.searcher import MODES, Searcher
from ingest.versions import STALE_STATUSES

logger = logging.getLogger(__name__)


ORDERS = ("retrieval", "shuffle")


@dataclass(frozen=True)
class RaftConfig:
    """``k`` passages per example; the gold passage is present in a fraction ``p_gold`` of
    answerable examples; ``depth`` chunks are retrieved to find distractors (and gold by
    retrieval); ``quote_words`` caps the quoted gold sentence; ``quote_first`` puts the
    quote before the answer (RAFT's chain-of-thought order: find the evidence, then
    answer from it); ``order`` places the gold passage by the retriever's rank
    (``retrieval``) or at random (``shuffle``)."""

    k: int = 4
    p_gold: float = 0.8
    seed: int = 0
    mode: str = "hybrid"
    depth: int = 20
    quote_words: int = 40
    quote_first: bool = False
    order: str = "retrieval"

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= 20:
            raise ConfigError(f"k must be an integer in 1..20, got {self.k!r}")
        if not 0.0 <= self.p_gold <= 1.0:
            raise ConfigError(f"p_gold must be in [0, 1], got {self.p_gold!r}")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not self.k <= self.depth <= 1000:
            raise ConfigError(f"depth must be in k..1000 ({self.k}..1000), got {self.depth}")
        if not 5 <= self.quote_words <= 200:
            raise ConfigError(f"quote_words must be in 5..200, got {self.quote_words}")
        if self.order not in ORDERS:
            raise ConfigError(f"order must be one of {', '.join(ORDERS)}, got {self.order!r}")


def build_grounded(
    records: Sequence[QARecord], searcher: Searcher, config: RaftConfig | None = None
) -> tuple[list[Example], BuildReport]:
    """One grounded example per usable record, and a report of what was kept and why not.

    Records whose gold passage cannot be found (by sources or retrieval) and records with
    too few distractors in the index are dropped with the reason. Raises ``ConfigError``
    from the searcher for an empty index query.
    """
    config = config or RaftConfig()
    rng = random.Random(config.seed)
    report = BuildReport()
    if not records:
        return [], report
    retrieved = searcher.search_batch(
        [r.question for r in records], k=config.depth, mode=config.mode
    )
    sources = chunks_per_source(searcher)

    by_sources = golds_by_sources(records, searcher, sources)

    plans = []  # (record, golds, found_by, hits)
    for record, hits, cited in zip(records, retrieved, by_sources, strict=True):
        if record.answer is None:
            plans.append((record, [], None, hits))
            continue
        golds, found_by = cited[: config.k], "sources"
        if not golds:
            golds, found_by = gold_by_retrieval(record.answer, hits), "retrieval"
        if not golds:
            reason = ("gold source not found in the index, nor the answer in the top "
                      f"{config.depth} retrieved" if record.gold_sources
                      else f"answer not in the top {config.depth} retrieved passages")
            report.drop(reason)
            continue
        plans.append((record, golds, found_by, hits))

    answerable = [i for i, (_, golds, _, _) in enumerate(plans) if golds]
    with_gold = set(rng.sample(answerable, round(config.p_gold * len(answerable))))

    examples = []
    for i, (record, golds, found_by, hits) in enumerate(plans):
        gold_ids = {g.chunk_id for g in golds}
        distractors = [
            h for h in hits
            if h.chunk_id not in gold_ids
            and (record.answer is None or flat(record.answer) not in flat(h.text))
        ]
        show_gold = i in with_gold
        n_distract = config.k - len(golds) if show_gold else config.k
        if len(distractors) < n_distract:
            report.drop("too few distractor passages in the index")
            continue
        passages = distractors[:n_distract]
        if show_gold:
            passages = _place_golds(golds, passages, hits, config.k, config.order, rng)
            positions = [passages.index(g) + 1 for g in golds]
            cite = _cited(record.answer, passages, positions)
            target = answer_target(record.answer, cite, passages, record.question,
                                   config.quote_words, config.quote_first)
        else:
            positions, target = [], ABSTAIN_TEXT
        messages = (*build_grounded_messages(record.question, passages),
                    {"role": "assistant", "content": target})
        examples.append(Example(
            id=f"{record.id}:grounded", kind="grounded", messages=tuple(messages),
            meta={
                "record_id": record.id, "origin": record.origin, "split": record.split,
                "gold_positions": positions, "gold_found_by": found_by,
                "answerable": record.answer is not None,
                "chunk_ids": [p.chunk_id for p in passages],
            },
        ))
        report.kinds["grounded"] += 1
        if golds:
            report.gold_eligible += 1
            report.gold_by[found_by] += 1
            report.gold_present += bool(show_gold)
        else:
            report.kinds["grounded_unanswerable"] += 1
    report.kept = len(examples)
    logger.info("grounded examples: %d kept, %d dropped", report.kept, sum(report.dropped.values()))
    return examples, report


def _place_golds(golds: Sequence[Passage], distractors: list[Passage],
                 hits: Sequence[Passage], k: int, order: str,
                 rng: random.Random) -> list[Passage]:
    """``distractors`` (in rank order) with each gold inserted: at its rank among the
    shown passages when ``order`` is ``retrieval`` and the retriever ranked it within
    the top ``k``, else at a random position."""
    passages = list(distractors)
    rank = {h.chunk_id: i for i, h in enumerate(hits)}
    shown = {p.chunk_id for p in distractors}
    placed, unplaced = [], []
    for gold in golds:
        r = rank.get(gold.chunk_id)
        if order == "retrieval" and r is not None and r < k:
            # after the shown distractors the retriever ranked above it
            placed.append((sum(1 for h in hits[:r] if h.chunk_id in shown), r, gold))
        else:
            unplaced.append(gold)
    for offset, (at, _, gold) in enumerate(sorted(placed, key=lambda x: x[:2])):
        passages.insert(at + offset, gold)
    for gold in unplaced:
        passages.insert(rng.randrange(len(passages) + 1), gold)
    return passages


def answer_target(
    answer: str,
    cite: Sequence[int],
    passages: Sequence[Passage],
    question: str = "",
    quote_words: int = 40,
    quote_first: bool = False,
) -> str:
    """``"<answer> [n]."`` then, when the answer is found in passage ``n``, the sentence
    holding it: ``Passage [n] says: "..."``. With ``quote_first`` the quote comes first:
    ``Passage [n] says: "..." So the answer is: <answer> [n].``"""
    target = cited_answer(answer, cite)
    for n in cite:
        quote = quote_sentence(passages[n - 1].text, answer, question, quote_words)
        if quote and flat(quote) != flat(answer).rstrip("."):
            if quote_first:
                return f'Passage [{n}] says: "{quote}" So the answer is: {target}'
            return f'{target} Passage [{n}] says: "{quote}"'
    return target


def cited_answer(answer: str, cite: Sequence[int]) -> str:
    """``"<answer> [n]."``: the answer as one short sentence citing ``cite`` (an answer
    ending in its own full stop, "... 2:00 p.m.", keeps it and the markers follow)."""
    text = answer.strip()
    if re.search(r"[.!?]$", text):
        return text + " " + "".join(f"[{n}]" for n in cite)
    return format_target(text + ".", cite)


def quote_sentence(
    text: str, answer: str, question: str = "", max_words: int = 40
) -> str | None:
    """The sentence of ``text`` that contains ``answer`` (ignoring case, whitespace and
    markdown emphasis), None if none does. Where several do, the one sharing most words
    with ``question``; a sentence over ``max_words`` (a table) falls back to its line,
    then is cut to ``max_words`` around the answer."""
    needle = flat(answer).rstrip(".")
    if not needle:
        return None
    asked = set(re.findall(r"\w+", question.lower()))

    def best(units: list[str]) -> str | None:
        holding = [u for u in map(_plain, units) if needle in u.lower()]
        if not holding:
            return None
        return max(holding, key=lambda u: len(asked & set(re.findall(r"\w+", u.lower()))))

    quote = best(_sentences(text))
    if quote is not None and len(quote.split()) > max_words:
        quote = best(text.splitlines()) or quote
    if quote is None:
        return None
    words = quote.split(" ")
    if len(words) <= max_words:
        return quote
    first = len(quote[: quote.lower().find(needle)].split())  # word where the answer starts
    start = max(0, min(first - max_words // 3, len(words) - max_words))
    cut = " ".join(words[start:start + max_words])
    return ("... " if start else "") + cut + (" ..." if start + max_words < len(words) else "")


def _plain(unit: str) -> str:
    plain = " ".join(_EMPHASIS.sub("", unit).split())
    return re.sub(r"^(?:[-*+|]|\d+\.)\s+", "", plain)  # list markers, table pipes


def _sentences(text: str) -> list[str]:
    parts = []
    for line in re.split(r"\n\s*\n|\n(?=\s*(?:[-*|#]|\d+\.)\s)", text):
        parts.extend(re.split(r"(?<=[.!?])\s+(?=[A-Z\"(])", line))
    return [p.strip() for p in parts if p.strip()]


def _cited(answer: str, passages: Sequence[Passage], gold_positions: list[int]) -> list[int]:
    """The gold positions whose passage holds the answer (all gold positions if none)."""
    holding = [n for n in gold_positions if flat(answer) in flat(passages[n - 1].text)]
    return holding or gold_positions


# -- finding gold passages -------------------------------------------------------------


def chunks_per_source(searcher: Searcher) -> dict[str, int]:
    """Chunks per indexed source (the ``sources`` ``golds_by_sources`` takes)."""
    return {doc.source: doc.n_chunks for doc in searcher.documents()}


def _resolve(file: str, sources: dict[str, int]) -> str | None:
    """The indexed source for a record's ``file``: the same path, else the one source
    that ends with it or that it ends with (index and records may be relative to
    different folders: ``docs/a.md`` and ``a.md``)."""
    file = file.strip("/")
    if file in sources:
        return file
    matches = [s for s in sources if s.endswith("/" + file) or file.endswith("/" + s)]
    return matches[0] if len(matches) == 1 else None


def golds_by_sources(
    records: Sequence[QARecord], searcher: Searcher, sources: dict[str, int]
) -> list[list[Passage]]:
    """For each record, the chunk each of its ``sources`` points at (see ``_pick_gold``);
    an empty list for a record without an answer or whose sources are not indexed.

    Every chunk of a cited file is fetched by a dense search restricted to that file,
    most similar to the question first; the questions citing one file share one batch.
    """
    wanted: dict[str, list[tuple[int, SourceRef]]] = {}
    for i, record in enumerate(records):
        if record.answer is None:
            continue
        for ref in record.gold_sources:
            source = _resolve(ref.file, sources)
            if source is None or sources[source] < 1:
                logger.debug("%s: source %s is not in the index", record.id, ref.file)
                continue
            wanted.setdefault(source, []).append((i, ref))
    found: dict[tuple[int, SourceRef], Passage] = {}
    for source, refs in wanted.items():
        chunk_lists = searcher.search_batch(
            [records[i].question for i, _ in refs], k=min(sources[source], 1000),
            mode="dense", sources=[source],
        )
        for (i, ref), chunks in zip(refs, chunk_lists, strict=True):
            gold = _pick_gold(chunks, ref, records[i].answer or "")
            if gold is not None:
                found[(i, ref)] = gold
    golds: list[list[Passage]] = []
    for i, record in enumerate(records):
        picked = [found[(i, ref)] for ref in record.gold_sources if (i, ref) in found]
        golds.append(list({g.chunk_id: g for g in picked}.values()))
    return golds


def _pick_gold(chunks: list[Passage], ref: SourceRef, answer: str) -> Passage | None:
    """The chunk of ``chunks`` (all of one file, best retrieved first) that ``ref`` points
    at: on its page, holding the answer, under its heading (as a heading, else printed in
    the text: PDF and text headings are often plain lines). None when nothing fits."""
    candidates = chunks
    if ref.page is not None:
        on_page = [c for c in candidates if c.page_index == ref.page]
        candidates = on_page or [c for c in candidates if c.page_index is None]
    wanted = flat(ref.heading) if ref.heading else None

    def heading_rank(c: Passage) -> int:
        if wanted is None:
            return 0
        if any(wanted in flat(h) for h in c.heading):
            return 0
        return 1 if wanted in flat(c.text) else 2

    needle = flat(answer)
    holding = sorted((c for c in candidates if needle in flat(c.text)), key=heading_rank)
    if holding:
        return holding[0]
    if wanted is not None:
        under = sorted((c for c in candidates if heading_rank(c) < 2), key=heading_rank)
        if under:
            return under[0]
    if ref.page is not None and candidates:
        return candidates[0]
    return None


def gold_by_retrieval(answer: str, hits: list[Passage]) -> list[Passage]:
    """The first of ``hits`` whose text holds ``answer`` (compared ``flat``), as a
    one-item list; empty if none does."""
    needle = flat(answer)
    return next(([h] for h in hits if needle in flat(h.text)), [])


def answer_needles(record: QARecord) -> list[str]:
    """``record``'s answer and aliases as ``flat`` match strings, a final full stop
    dropped; empty for an unanswerable record."""
    return [n for n in (flat(a).rstrip(".") for a in (record.answer or "", *record.aliases))
            if n]


def holds_needle(needles: Sequence[str], text: str) -> bool:
    """Whether ``text`` (compared ``flat``) holds any of ``needles`` (``answer_needles``)."""
    text = flat(text)
    return any(n in text for n in needles)


def in_force(passages: Sequence[Passage]) -> list[Passage]:
    """``passages`` less those of superseded or archived documents."""
    return [p for p in passages if p.status not in STALE_STATUSES]


STALE_GOLD = "gold source is superseded or archived"


def current_golds(record: QARecord, cited: Sequence[Passage], candidates: Sequence[Passage],
                  ) -> tuple[list[Passage], str | None]:
    """The gold passages of an answerable ``record`` in the current documents, and how
    they were found: its ``cited`` source passages (``golds_by_sources``) in force
    (``"sources"``), else the first of ``candidates`` (retrieved passages) holding its
    answer (``"retrieval"``). ``([], STALE_GOLD)`` when every cited passage is superseded
    or archived (its answer is an outdated one: never a target), ``([], None)`` when
    nothing holds it."""
    golds = in_force(cited)
    if cited and not golds:
        return [], STALE_GOLD
    if golds:
        return golds, "sources"
    needles = answer_needles(record)
    golds = [h for h in candidates if holds_needle(needles, h.text)][:1]
    return golds, "retrieval" if golds else None


def flat(text: str) -> str:
    """Text for matching answers: lower-cased, markdown emphasis removed, whitespace
    collapsed (``**15 seconds**`` holds ``15 seconds``)."""
    return normalize(_EMPHASIS.sub("", text))


_EMPHASIS = re.compile(r"(\*\*|__|`|(?<!\w)[*_]|[*_](?!\w))")
