"""BM25: Anserini-like analysis, bm25s-identical scores, empty queries and corpora."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest
import Stemmer

from core.errors import ConfigError
from index.analysis import TOKEN_PATTERN, TermCounts, Vocabulary
from index.bm25 import BM25Config, BM25Index

TEXTS = [
    "Our refund policy: refunds are paid within 30 days.",
    "Shipping is free for orders over 50 euros.",
    "The office opens at nine and closes at six.",
    "Employees may work from home on Fridays.",
    "",
]


def build(texts, config=None):
    config = config or BM25Config()
    vocab = Vocabulary()
    counts = config.analyzer().count(texts, vocab)
    return BM25Index.build(counts, vocab, config), vocab, counts


@pytest.mark.parametrize("stemmer", ["english", "porter", "none"])
def test_analyzer_matches_bm25s_tokenize(stemmer):
    texts = TEXTS + ["Le café coûte 3,50 € — naïve résumés; it's the companies' policies",
                     "A I x 42 4x4 e-mail re-ingest UPPER lower MiXeD", "the was will"]
    analyzer = BM25Config(stemmer=stemmer).analyzer()
    reference = bm25s.tokenize(
        texts, stopwords="en", stemmer=Stemmer.Stemmer(stemmer) if stemmer != "none" else None,
        return_ids=False, show_progress=False, token_pattern=TOKEN_PATTERN,
    )
    assert [analyzer.terms(t) for t in texts] == reference
    vocab = Vocabulary()
    counts = analyzer.count(texts, vocab)
    assert counts.lengths.tolist() == [len(r) for r in reference]


def test_numbers_and_single_characters_stay_whole_as_in_lucene():
    terms = BM25Config().analyzer().terms("A p-value of 0.05 in 1,000 mice with vitamin D")
    assert "0.05" in terms and "1,000" in terms and "d" in terms


def test_stemming_matches_inflections():
    index, _, _ = build(TEXTS)
    rows, scores = index.search("refund", 3)
    assert rows.tolist() == [0]
    rows, _ = index.search("How do I get my money REFUNDED?", 3)
    assert rows[0] == 0
    assert index.search("employee working", 3)[0].tolist() == [3]


def test_stopword_only_and_unknown_queries_return_empty():
    index, _, _ = build(TEXTS)
    for query in ("the and of", "zebra xylophone", "   "):
        rows, scores = index.search(query, 5)
        assert rows.size == 0 and scores.size == 0


def test_scores_equal_bm25s_reference():
    config = BM25Config()
    index, vocab, _ = build(TEXTS, config)
    reference = bm25s.BM25(k1=config.k1, b=config.b, method="lucene")
    tokens = bm25s.tokenize(TEXTS, stopwords="en", stemmer=Stemmer.Stemmer(config.stemmer),
                            show_progress=False, token_pattern=TOKEN_PATTERN)
    reference.index(tokens, show_progress=False)
    for query in ("refunds within days", "free shipping orders", "office six"):
        terms = index.analyzer.terms(query)
        mine = index.retriever.get_scores_from_ids([vocab.ids[t] for t in terms])
        np.testing.assert_allclose(mine, reference.get_scores(terms), rtol=1e-5)


@pytest.mark.parametrize("method", ["robertson", "atire"])
def test_other_methods_equal_bm25s(method):
    config = BM25Config(method=method, k1=1.2, b=0.75)
    index, vocab, _ = build(TEXTS, config)
    reference = bm25s.BM25(k1=1.2, b=0.75, method=method)
    tokens = bm25s.tokenize(TEXTS, stopwords="en", stemmer=Stemmer.Stemmer(config.stemmer),
                            show_progress=False, token_pattern=TOKEN_PATTERN)
    reference.index(tokens, show_progress=False)
    terms = index.analyzer.terms("refund shipping")
    mine = index.retriever.get_scores_from_ids([vocab.ids[t] for t in terms])
    np.testing.assert_allclose(mine, reference.get_scores(terms), rtol=1e-5)


def test_mask_and_top_n():
    index, _, _ = build(TEXTS * 3)
    rows, scores = index.search("refunds", 2)
    assert len(rows) == 2 and set(rows.tolist()) <= {0, 5, 10}
    assert scores[0] >= scores[1]
    mask = np.zeros(len(TEXTS) * 3, dtype=bool)
    mask[10] = True
    assert index.search("refunds", 5, mask=mask)[0].tolist() == [10]


def test_save_load_round_trip(tmp_path):
    index, vocab, counts = build(TEXTS)
    index.save(tmp_path / "bm25", vocab, counts)
    loaded = BM25Index.load(tmp_path / "bm25", index.config)
    expected = index.search("refund days", 5)[0]
    np.testing.assert_array_equal(loaded.search("refund days", 5)[0], expected)
    vocab2, counts2 = BM25Index.load_terms(tmp_path / "bm25")
    assert vocab2.terms == vocab.terms
    np.testing.assert_array_equal(counts2.terms, counts.terms)


def test_empty_corpus():
    index, vocab, counts = build([])
    assert index.size == 0 and len(counts) == 0
    assert index.search("anything", 5)[0].size == 0


def test_term_counts_slice_and_concat_round_trip():
    vocab = Vocabulary()
    counts = BM25Config().analyzer().count(TEXTS, vocab)
    parts = [counts.slice(0, 2), counts.slice(2, 2), counts.slice(2, 5)]
    joined = TermCounts.concat(parts)
    for name in ("offsets", "terms", "tfs", "lengths"):
        np.testing.assert_array_equal(getattr(joined, name), getattr(counts, name))
    # "refund" twice in chunk 0: one entry with tf 2
    refund = vocab.ids["refund"]
    first = slice(counts.offsets[0], counts.offsets[1])
    assert counts.tfs[first][counts.terms[first] == refund].tolist() == [2]


def test_compaction_drops_dead_terms():
    vocab = Vocabulary()
    counts = BM25Config().analyzer().count(TEXTS, vocab)
    kept = counts.slice(1, 2)  # only the shipping chunk survives
    compact, small = kept.compacted(vocab)
    assert len(small) < len(vocab)
    words = sorted(small.terms[t] for t in compact.terms)
    assert words == sorted(vocab.terms[t] for t in kept.terms)


def test_title_is_indexed_when_asked():
    config = BM25Config()
    assert config.document_text("Refunds", "body") == "Refunds\nbody"
    assert BM25Config(include_title=False).document_text("Refunds", "body") == "body"
    # the heading path follows the title, as dense search embeds it
    assert config.document_text("Refunds", "body", ("Policy", "Window")) == \
        "Refunds > Policy > Window\nbody"
    assert BM25Config(include_heading=False).document_text(
        "Refunds", "body", ("Policy",)) == "Refunds\nbody"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"k1": -1}, "bm25.k1"), ({"b": 1.5}, "bm25.b"), ({"method": "bm42"}, "bm25.method"),
     ({"stemmer": "klingon"}, "bm25.stemmer"), ({"stopwords": "xx"}, "bm25.stopwords"),
     ({"code_weight": 0}, "bm25.code_weight"), ({"code_weight": 1.5}, "bm25.code_weight")],
)
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        BM25Config(**kwargs)
    with pytest.raises(ConfigError, match="unknown"):
        BM25Config.from_json({"k2": 1})


CODES = [
    "Writing to a hot standby fails. On a hot standby, writing is refused; a standby "
    "is read only, so writing fails on the standby.",
    "| 25006 | read_only_sql_transaction |",
    "| 22P02 | invalid_text_representation |",
    "Release 15.10 fixed a crash. Release 15.10 also changed 15.10 defaults.",
    "Upgrade to 15.10 or later. Since 15.9 the setting is ignored.",
    "A warm standby replays WAL; a hot standby also answers queries.",
    "Promote the standby when the primary fails.",
    "Writing to the log can fail when the disk is full.",
]


def test_a_rare_code_counts_three_times():
    question = "Writing to a hot standby fails with 25006. What's the condition name?"
    once, _, _ = build(CODES, BM25Config(code_weight=1))
    rows, _ = once.search(question, 5)
    assert rows[0] == 0  # the page that repeats the question's words wins on the sum
    thrice, _, _ = build(CODES)
    rows, scores = thrice.search(question, 5)
    assert rows[0] == 1  # the row holding the code the asker quoted
    assert scores[0] == pytest.approx(3 * once.search("25006", 1)[1][0])
    assert thrice.search("22P02", 1)[0][0] == 2


def test_versions_and_common_numbers_are_not_codes():
    plain, _, _ = build(CODES, BM25Config(code_weight=1))
    weighted, _, _ = build(CODES)
    for query in ("what did 15.10 fix", "since 15.9", "refunds within 30 days"):
        for a, b in zip(plain.search(query, 5), weighted.search(query, 5), strict=True):
            np.testing.assert_array_equal(a, b)
    common = [f"error 25006 in log {i}" for i in range(25)] + ["hot standby writing"]
    once, _, _ = build(common, BM25Config(code_weight=1))
    many, _, _ = build(common)  # in more than CODE_MAX_CHUNKS chunks: an ordinary term
    np.testing.assert_array_equal(once.search("standby 25006", 30)[1],
                                  many.search("standby 25006", 30)[1])


ERRCODES = [
    "Class 40 — Transaction Rollback. 40P01 deadlock_detected. 40001 serialization_failure.",
    "Class 22 — Data Exception. 22012 division_by_zero. 22P02 invalid_text_representation.",
    "A deadlock happens when two transactions each wait for a lock the other holds; "
    "PostgreSQL detects the deadlock and aborts one of them. Deadlocks are rare.",
    "Division of integers truncates the result; division by a numeric keeps the scale.",
]


def test_identifiers_count_as_their_parts_and_whole():
    analyzer = BM25Config().analyzer()
    assert analyzer.terms("22012 division_by_zero") == ["22012", "division_by_zero", "divis",
                                                         "zero"]
    assert analyzer.terms("max_connections (integer)") == ["max_connect", "integ", "max", "connect"]
    assert BM25Config(split_identifiers=False).analyzer().terms("division_by_zero") == [
        "division_by_zero"]
    # ``count`` counts the parts as terms, but a chunk's length only by its tokens
    vocab = Vocabulary()
    counts = analyzer.count(["division_by_zero", "zero division"], vocab)
    assert counts.lengths.tolist() == [1, 2]
    assert sorted(vocab.terms[t] for t in counts.slice(0, 1).terms) == [
        "divis", "division_by_zero", "zero"]


def test_a_question_in_words_finds_the_row_naming_the_identifier():
    split, _, _ = build(ERRCODES)
    whole, _, _ = build(ERRCODES, BM25Config(split_identifiers=False))
    question = "What SQLSTATE is division by zero?"
    assert split.search(question, 4)[0][0] == 1
    assert whole.search(question, 4)[0][0] == 3  # only the prose about dividing matches
    assert split.search("error code when killed because of a deadlock", 4)[0].tolist()[:2] == [
        2, 0]
    # the identifier quoted whole still ranks its own row first
    assert split.search("deadlock_detected", 4)[0][0] == 0
    assert split.search("serialization_failure", 4)[0].tolist() == [0]
