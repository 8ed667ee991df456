"""Reports from hand-made results: every setup and metric shown with its interval, text
escaped, plots written once and linked, the PubMedQA comparison present for PubMedQA runs."""

from __future__ import annotations

import re
from pathlib import Path

from eval.answer_metrics import Comparison, Estimate, question_metrics
from eval.config import parse_config
from eval.report import (
    RAFT_PUBMEDQA,
    ReportData,
    citation_positions,
    render_plots,
    write_reports,
)

EVIL = "<script>alert('x')</script>"


def _config(tmp_path: Path, fmt: str = "qa"):
    raw = {"run": {"name": f"demo {EVIL}"},
           "corpus": {"kind": "gold"},
           "questions": {"format": fmt, "path": "q.jsonl"},
           "setups": {"base": {}, "rag": {"retrieval": True},
                      "finetune": {"adapter": "cb"},
                      "combined": {"retrieval": True, "adapter": "g"}}}
    return parse_config(raw, tmp_path, tmp_path / "eval.toml")


def _record(setup: str, qid: str, answer: str, gold: str | None) -> dict:
    metrics = question_metrics(answer_text=answer, abstained=False, gold_answer=gold,
                               kind="short", refs=[], retrieval=False, latency_s=0.5,
                               completion_tokens=3)
    return {
        "setup": setup, "question_id": qid, "question": f"Q {qid} {EVIL}",
        "gold": {"answer": gold, "kind": "short",
                 "sources": [{"file": "a.md", "page": None, "heading": "H"}], "evidence": []},
        "answer": {"answer": answer, "abstained": False, "abstain_reason": None,
                   "citations": [{"n": 1, "source": "a.md", "page_index": None,
                                  "heading": "H", "quote": f"quote {EVIL}", "support": 0.9}],
                   "passages": [{"n": 1, "chunk_id": "a#0", "text": f"passage {EVIL}",
                                 "source": "a.md", "page_index": None, "heading": "H",
                                 "score": 1.0}],
                   "timings": {"total": 0.5}, "usage": {"completion_tokens": 3}},
        "raw": answer + " [1]",
        "verification": {"sentences": [{"index": 0, "text": answer, "cited": [1],
                                        "citations": [1], "support": 0.9, "supported": True,
                                        "is_claim": True}]},
        "retrieved": [{"chunk_id": "a#0", "gold": True}],
        "metrics": metrics, "error": None,
    }


def _data(tmp_path: Path, fmt: str = "qa") -> ReportData:
    config = _config(tmp_path, fmt)
    names = [s.name for s in config.setups]
    summary = {n: {"exact_match": Estimate(0.1 * (i + 1), 0.05 * i, 0.2 * (i + 1), 20),
                   "accuracy": Estimate(0.5 + 0.05 * i, 0.4, 0.7, 20),
                   "latency_p50": Estimate(1.0 + i, 0.5, 2.0 + i, 20),
                   "latency_p95": Estimate(2.0 + i, 1.5, 3.0 + i, 20)}
               for i, n in enumerate(names)}
    records = [_record(n, q, f"answer {n} {EVIL}", "gold") for q in ("q1", "q2") for n in names]
    comparisons = [Comparison("exact_match", "combined", "base", 0.3, 0.001, 20),
                   Comparison("exact_match", "rag", "base", 0.1, 0.4, 20)]
    manifest = {"finished_at": "2026-01-01T00:00:00+00:00",
                "machine": {"platform": "Linux-test", "cpu_count": 2, "torch_device": "cpu"},
                "code_version": {"commit": "abc123", "dirty": False},
                "adapters": {"finetune": {"path": "/x/cb", "registry_name": None},
                             "combined": {"path": "/r/g/v0001", "registry_name": "g",
                                          "version": 1}}}
    return ReportData(config=config, setups=list(config.setups), skipped={"other": "gone"},
                      records=records, summary=summary, comparisons=comparisons,
                      manifest=manifest, command="assistant eval run --config x --out y",
                      n_questions=2)


def test_html_report_is_escaped_and_links_its_plots(tmp_path):
    data = _data(tmp_path)
    md_path, html_path = write_reports(tmp_path, data)
    page = html_path.read_text()
    assert EVIL not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    for name in ("base", "rag", "finetune", "combined"):
        assert f"<h4>{name}</h4>" in page
    # figures with intervals, the command, the machine and the date
    assert "0.100 [0.000, 0.200]" in page and "1.00 [0.50, 2.00]" in page
    assert "assistant eval run --config x --out y" in page
    assert "Linux-test, 2 CPUs, torch device cpu" in page and "2026-01-01" in page
    assert "g v1" in page and "Skipped other" in page
    # significant difference marked, the other not
    assert re.search(r'<tr class="sig"><td>Exact match</td><td>combined - base', page)
    assert "<tr><td>Exact match</td><td>rag - base" in page
    # each plot once, as a PNG file beside the page, linked by relative path
    images = re.findall(r'<img alt="(\w+)" src="([^"]+)">', page)
    assert images == [("metrics", "plots/metrics.png"), ("latency", "plots/latency.png")]
    assert all((tmp_path / src).read_bytes().startswith(b"\x89PNG") for _, src in images)
    assert "data:image" not in page
    assert "PubMedQA" not in page


def test_html_drilldown_shows_each_answer(tmp_path):
    """Abstention, raw output, citations, per-sentence support, passages with the gold
    one marked, and an error record, each escaped."""
    data = _data(tmp_path)
    first = data.records[0]
    first["answer"]["abstained"], first["answer"]["abstain_reason"] = True, f"low {EVIL}"
    data.records[1] = {**data.records[1], "error": f"boom {EVIL}", "answer": None}
    page = write_reports(tmp_path, data)[1].read_text()
    assert "(abstained: low &lt;script&gt;" in page
    assert "Raw model output: answer base &lt;script&gt;" in page
    assert "<p>Error: boom &lt;script&gt;" in page
    passage = '<li class="gold"><b>[1]</b> a.md \u00a7 H<div class="psg">passage &lt;script&gt;'
    assert passage in page
    assert "<td>quote &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</td><td>0.9</td>" in page
    assert "<td>[1]</td><td>[1]</td><td>0.9</td><td>True</td><td>True</td>" in page
    assert "Gold answer: <b>gold</b><br>Gold sources: a.md \u00a7 H" in page
    # two questions, each with the four setups, one of which failed
    assert page.count("<details><summary>q") == 2 and page.count('<div class="setup">') == 8


def test_markdown_report(tmp_path):
    md = write_reports(tmp_path, _data(tmp_path))[0].read_text()
    assert "| metric | base | rag | finetune | combined |" in md
    assert "| Exact match | 0.100 [0.000, 0.200] |" in md
    assert "| Exact match | combined - base | +0.300 | 0.0010 | 20 |" in md
    assert "![metrics](plots/metrics.png)" in md
    assert (tmp_path / "plots" / "metrics.png").read_bytes().startswith(b"\x89PNG")
    assert "**skipped other**: gone" in md


def test_pubmedqa_section_beside_published_figures(tmp_path):
    data = _data(tmp_path, fmt="pubmedqa")
    md_path, html_path = write_reports(tmp_path, data)
    md, page = md_path.read_text(), html_path.read_text()
    for text in (md, page):
        assert "PubMedQA beside published figures" in text
        for label, _, value in RAFT_PUBMEDQA:
            assert f"{value:.1f}" in text and label.split(" (")[0] in text
        assert "50.0 [40.0, 70.0]" in text  # ours: base accuracy in %
    assert "55.2" in md and "73.3" in md


def test_plots_without_figures(tmp_path):
    data = _data(tmp_path)
    data.summary = {s.name: {} for s in data.setups}
    assert render_plots(data) == {}


def test_where_citations_point(tmp_path):
    """Written passage numbers beside the rank the gold passage was shown at, per setup
    with retrieval; abstentions and setups without retrieval do not count."""
    data = _data(tmp_path)
    moved = _record("combined", "q3", "answer", "gold")  # cites [1], gold shown as [2]
    first = moved["answer"]["passages"][0]
    moved["answer"]["passages"] = [{**first, "chunk_id": "b#0"}, {**first, "n": 2}]
    missed = _record("combined", "q4", "answer", "gold")  # cites [1], no gold shown
    missed["retrieved"] = [{"chunk_id": "a#0", "gold": False}]
    abstained = _record("combined", "q5", "answer", "gold")
    abstained["answer"]["abstained"] = True
    data.records += [moved, missed, abstained]
    header, rows = citation_positions({s.name: [r for r in data.records if r["setup"] == s.name]
                                       for s in data.setups if s.retrieval})
    assert header == ["passage", "rag: answers citing it", "rag: gold shown first",
                      "combined: answers citing it", "combined: gold shown first"]
    assert rows == [("[1]", "2", "2", "4", "2"), ("[2]", "0", "0", "0", "1"),
                    ("no gold shown", "-", "0", "-", "1")]
    md = write_reports(tmp_path, data)[0].read_text()
    assert "## Where citations point" in md
    assert "| [1] | 2 | 2 | 4 | 2 |" in md


def test_no_citation_table_without_citations(tmp_path):
    data = _data(tmp_path)
    for r in data.records:
        r["verification"]["sentences"][0]["cited"] = []
    assert citation_positions({"rag": data.records}) == ([], [])
    assert "Where citations point" not in write_reports(tmp_path, data)[0].read_text()
