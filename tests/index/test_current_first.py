"""Search prefers documents in force: the three version policies, questions that name a
date or a version, the reranker, dense-vector search and the fields passages carry."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
from synthetic import INFO, FakeEmbedder, make_doc

from core.errors import ConfigError
from index.current_first import named_versions
from index.searcher import Searcher
from index.writer import IndexWriter

EMBED = FakeEmbedder()
OLD, NEW = "policies/refunds-2023.md", "policies/refunds-2025.md"
FW2, FW3 = "notes/firmware-2.txt", "notes/firmware-3.html"
CORPUS = {
    # source: (texts, status, family, effective date)
    OLD: (["Refund window: customers may request a refund within 14 days of delivery.",
           "Refunds are paid within 10 business days by cheque."],
          "archived", "refund policy", "2023-01-01"),
    NEW: (["You can send products back for a full refund for 30 days.",
           "Refund money arrives within 5 business days."],
          "current", "refund policy", "2025-04-01"),
    FW2: (["Firmware 2.9: default suction mode is Standard, Do Not Disturb 22:00."],
          "archived", "firmware", None),
    FW3: (["Firmware 3.2: suction now starts in Auto mode by default."],
          "current", "firmware", None),
    "support/shipping.md": (["Shipping takes five business days.",
                             "Express shipping costs extra and arrives tomorrow."],
                            "current", "shipping", None),
    "support/contact.md": (["Call support any day of the week about your refund or order."],
                           "current", "contact", None),
}


@pytest.fixture
def index(index_dir):
    with IndexWriter.open(index_dir, INFO) as writer:
        for source, (texts, status, family, effective) in CORPUS.items():
            record, chunks = make_doc(source, texts, title=source.split("/")[-1])
            record = dataclasses.replace(record, status=status, family=family,
                                         effective_date=effective)
            writer.add_document(record, chunks, EMBED.encode(texts))
        writer.commit()
    return index_dir


def sources(passages) -> list[str]:
    return [p.source for p in passages]


QUERY = "Refund window: may customers request a refund within days of delivery"


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_current_version_ranks_above_the_archived_one(index, mode):
    searcher = Searcher(index, embedder=EMBED)
    off = sources(searcher.search(QUERY, k=4, mode=mode, versions="off"))
    assert off[0] == OLD  # its words match best: without the policy it wins
    hits = searcher.search(QUERY, k=4, mode=mode)
    ranked = sources(hits)
    assert ranked[0] == NEW
    assert OLD in ranked and ranked.index(OLD) > max(i for i, s in enumerate(ranked) if s == NEW)
    assert sorted(ranked) == sorted(off)  # the same passages, reordered
    stale = next(p for p in hits if p.source == OLD)
    assert (stale.status, stale.effective_date, stale.family) == (
        "archived", "2023-01-01", "refund policy")
    assert stale.to_json()["status"] == "archived"
    assert stale.to_json()["effective_date"] == "2023-01-01"


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_only_current_filters_before_the_cut_and_still_returns_k(index, mode):
    searcher = Searcher(index, embedder=EMBED, versions="only-current")
    query = "refund days" if mode == "bm25" else QUERY
    hits = searcher.search(query, k=3, mode=mode)
    assert len(hits) == 3
    assert all(p.status == "current" for p in hits)
    everything = searcher.search(QUERY, k=9, mode="dense")  # 6 of the 9 chunks are in force
    assert len(everything) == 6 and {p.status for p in everything} == {"current"}


def test_a_question_that_names_a_year_or_version_reaches_the_older_one(index):
    searcher = Searcher(index, embedder=EMBED)
    dated = "Under the 2023 policy, may customers request a refund within days of delivery?"
    assert searcher.search(dated, k=3, mode="bm25")[0].source == OLD
    strict = Searcher(index, embedder=EMBED, versions="only-current")
    assert OLD in sources(strict.search(dated, k=3, mode="bm25"))
    assert OLD in sources(strict.search("in May 2024, may customers request a refund",
                                        k=3, mode="bm25"))
    versioned = "In firmware 2.9 what is the default suction mode, Standard?"
    assert searcher.search(versioned, k=2, mode="bm25")[0].source == FW2
    assert searcher.search("default suction mode Standard", k=2, mode="bm25")[0].source == FW3
    # the passages of the version the question names say so; no other passage does
    hits = searcher.search(dated, k=4, mode="bm25")
    assert {p.source for p in hits if p.named} == {OLD}
    assert not any(p.named for p in searcher.search(QUERY, k=4, mode="bm25"))


def test_named_versions_reads_dates_years_and_versions():
    named = named_versions("under the 2023 policy, on 1 May 2024, firmware 2.9, API v1, 3.x")
    assert [(a.isoformat(), b.isoformat()) for a, b in named.periods] == [
        ("2024-05-01", "2024-05-01"), ("2023-01-01", "2023-12-31")]
    assert named.versions == ((2, 9), (1,), (3,))
    assert not named_versions("Does it work on 2.4 GHz Wi-Fi? It costs EUR 12.99.")
    assert named_versions("What changed in March 2025?").periods[0][1].isoformat() == "2025-03-31"


@dataclass
class StaleFirst:
    """A reranker that puts archived passages first, to check the policy runs after it."""

    candidates: int = 6

    def rerank(self, query, passages):
        return sorted(passages, key=lambda p: p.status != "archived")


def test_the_policy_holds_after_reranking(index):
    searcher = Searcher(index, embedder=EMBED, reranker=StaleFirst())
    assert sources(searcher.search(QUERY, k=3, mode="bm25"))[0] == NEW
    off = sources(searcher.search(QUERY, k=3, mode="bm25", versions="off"))
    assert off[0] in (OLD, FW2)


def test_dense_vector_search_follows_the_searchers_policy(index):
    vector = EMBED.encode([QUERY])
    assert sources(Searcher(index, versions="off").search_vectors(vector, k=3)[0])[0] == OLD
    assert sources(Searcher(index).search_vectors(vector, k=3)[0])[0] == NEW
    strict = Searcher(index, versions="only-current").search_vectors(vector, k=5)[0]
    assert len(strict) == 5 and OLD not in sources(strict)


def test_info_counts_documents_by_status_and_documents_list_them(index):
    searcher = Searcher(index, embedder=EMBED)
    assert searcher.info()["documents_by_status"] == {"archived": 2, "current": 4}
    docs = {d.source: d for d in searcher.documents()}
    assert docs[OLD].to_json()["status"] == "archived"
    assert docs[NEW].to_json()["effective_date"] == "2025-04-01"


def test_an_unknown_policy_is_a_config_error(index):
    with pytest.raises(ConfigError, match="prefer, only-current, off"):
        Searcher(index, versions="newest")
    with pytest.raises(ConfigError, match="prefer, only-current, off"):
        Searcher(index, embedder=EMBED).search("refund", versions="latest")


def test_an_index_without_statuses_searches_as_before(index_dir):
    with IndexWriter.open(index_dir, INFO) as writer:
        for source, (texts, *_rest) in CORPUS.items():
            record, chunks = make_doc(source, texts, title=source.split("/")[-1])
            writer.add_document(record, chunks, EMBED.encode(texts))
        writer.commit()
    searcher = Searcher(index_dir, embedder=EMBED)
    for mode in ("bm25", "dense", "hybrid"):
        default = searcher.search(QUERY, k=4, mode=mode)
        assert default == searcher.search(QUERY, k=4, mode=mode, versions="off")
        assert {p.status for p in default} == {"unknown"}
