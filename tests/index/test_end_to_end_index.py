"""The real bundled embedder end to end: index a dozen chunks, find the right one."""

from __future__ import annotations

import pytest
from synthetic import make_doc

from index.searcher import Searcher
from index.writer import IndexWriter

DOCS = {
    "policies/refunds.md": [
        "Customers can return any product within 30 days of delivery for a full refund.",
        "Refunds are credited to the original payment method within five business days.",
    ],
    "policies/shipping.md": [
        "Standard shipping is free on orders over 50 euros and takes three to five days.",
        "Express delivery arrives the next business day if ordered before noon.",
    ],
    "handbook/leave.md": [
        "Full-time employees receive 25 days of paid vacation per calendar year.",
        "Parental leave of up to 16 weeks is paid at full salary.",
    ],
    "handbook/it.md": [
        "Lost or stolen laptops must be reported to the IT security desk immediately.",
        "Passwords must be at least 14 characters and are rotated every 180 days.",
    ],
    "handbook/office.md": [
        "The Berlin office is open from 8 am to 7 pm on weekdays.",
        "Visitors must sign in at reception and wear a guest badge.",
    ],
    "product/warranty.md": [
        "All espresso machines carry a two-year manufacturer warranty.",
        "The warranty does not cover damage from limescale or misuse.",
    ],
}


@pytest.mark.slow
def test_real_embedder_hybrid_search(tmp_path, embedder):
    index_dir = tmp_path / "index"
    with IndexWriter.open(index_dir, embedder.info) as writer:
        for source, texts in DOCS.items():
            record, chunks = make_doc(source, texts, title=source.rsplit("/", 1)[-1])
            writer.add_document(record, chunks, embedder.encode(texts))
        manifest = writer.commit()
    assert manifest.n_chunks == 12 and manifest.embedder == embedder.info

    searcher = Searcher(index_dir)  # loads the embedder named in the manifest, lazily
    expectations = {
        "How many days do I have to return a product?": DOCS["policies/refunds.md"][0],
        "what should I do if my notebook computer was stolen": DOCS["handbook/it.md"][0],
        "how many holidays do staff get each year": DOCS["handbook/leave.md"][0],
        "Is descaling damage covered?": DOCS["product/warranty.md"][1],
    }
    for query, expected in expectations.items():
        for mode in ("dense", "hybrid"):
            top = searcher.search(query, k=3, mode=mode)
            assert top[0].text == expected, (mode, query, [p.text for p in top])
    assert searcher.search("warranty", k=2, mode="hybrid", sources=["product/*"])[0].source == (
        "product/warranty.md"
    )
