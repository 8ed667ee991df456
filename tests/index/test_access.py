"""Access filters (``index.access``): applied inside search before the top-k cut, by
source pattern and by the metadata file's access tags, given or set for a context."""

from __future__ import annotations

import json
import threading

import pytest

from core.errors import ConfigError
from index.access import AccessFilter, restricted

SECRET = "ZEBRA-7731-SECRET"
PUBLIC = {f"public/topic-{i}.md": f"# Refund topic {i}\n\nRefunds for order type {i} are "
          f"paid back within {i + 3} days to the card used.\n" for i in range(6)}
INTERNAL = {
    "internal/secret.md": f"# Refund escalation\n\nThe refund escalation code is {SECRET}. "
                          "Refunds above the limit need it.\n",
    "internal/hours.md": "# Opening hours\n\nRefund desks open at nine in the morning.\n",
}


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, embedder):
    from index.build import IngestConfig, ingest
    from index.searcher import Searcher

    root = tmp_path_factory.mktemp("access")
    docs = root / "docs"
    for name, text in {**PUBLIC, **INTERNAL}.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text)
    meta = root / "meta.json"
    meta.write_text(json.dumps({"internal/hours.md": {"access": ["public"]},
                                "internal/secret.md": {"access": ["staff"]}}))
    ingest([docs], root / "index", IngestConfig(metadata=meta), progress=False,
           embedder=embedder)
    searcher = Searcher(root / "index", embedder=embedder)
    yield searcher
    searcher.close()


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_filter_applies_before_the_top_k_cut(searcher, mode):
    query = f"refund escalation code {SECRET}"
    unfiltered = searcher.search(query, k=5, mode=mode)
    assert unfiltered[0].source == "internal/secret.md"  # the test can fail: it ranks first
    public = AccessFilter(sources=("public/*",))
    found = searcher.search(query, k=5, mode=mode, access=public)
    assert len(found) == 5  # still k results
    assert all(p.source.startswith("public/") for p in found)
    assert not any(SECRET in p.text for p in found)


def test_tags_let_documents_in_and_either_rule_suffices(searcher):
    query = "refund desks opening hours"
    by_tag = searcher.search(query, k=10, mode="hybrid", access=AccessFilter(tags=("public",)))
    assert {p.source for p in by_tag} == {"internal/hours.md"}
    both = searcher.search(query, k=10, mode="hybrid",
                           access=AccessFilter(sources=("public/*",), tags=("public",)))
    assert {p.source for p in both} == set(PUBLIC) | {"internal/hours.md"}
    staff = searcher.search(query, k=10, mode="bm25", access=AccessFilter(tags=("staff",)))
    assert {p.source for p in staff} <= {"internal/secret.md"}
    assert searcher.search(query, k=3, access=AccessFilter()) == []  # nothing allowed


def test_context_filter_reaches_searches_that_pass_none(searcher):
    query = f"escalation code {SECRET}"
    with restricted(AccessFilter(sources=("public/*",))):
        inside = searcher.search(query, k=4)
        # a filter given to the call narrows further; it cannot widen the context's
        widened = searcher.search(query, k=4, access=AccessFilter(sources=("internal/*",)))
        vectors = searcher.search_vector(searcher._encode([query])[0], k=4)
        other_thread: list = []
        thread = threading.Thread(target=lambda: other_thread.extend(searcher.search(query, k=4)))
        thread.start()
        thread.join()
    assert len(inside) == 4 and all(p.source.startswith("public/") for p in inside)
    assert widened == []
    assert len(vectors) == 4 and all(p.source.startswith("public/") for p in vectors)
    # a plain new thread does not inherit the context (servers copy it on purpose)
    assert other_thread[0].source == "internal/secret.md"
    assert searcher.search(query, k=1)[0].source == "internal/secret.md"  # reset after


def test_covers_and_bad_filters():
    public = AccessFilter(sources=("public/*",))
    assert public.covers("public/faq.md") and public.covers("public/*.md")
    assert not public.covers("internal/secret.md") and not public.covers("*")
    assert not AccessFilter(tags=("public",)).covers("public/faq.md")
    with pytest.raises(ConfigError, match="sources"):
        AccessFilter(sources="public/*")
    with pytest.raises(ConfigError, match="tags"):
        AccessFilter(tags=("",))
