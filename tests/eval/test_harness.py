"""The eval harness end to end on a tiny Llama, a tiny LoRA adapter and a small real index:
four setups, results/report/manifest written, resume, config and adapter errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from eval_doubles import (
    build_lora_adapter,
    build_tiny_model,
    write_config,
    write_corpus,
    write_questions,
)
from isolated_home import isolated_home  # noqa: F401  (autouse: a fresh ASSISTANT_HOME)

from eval.config import EvalConfigError, load_config
from eval.harness import run_eval
from eval.results import EvalError, load_results
from eval.setups import MissingAdapterError

SETUPS = ("base", "rag", "finetune", "combined")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Tiny base model, an adapter directory, a registry holding 'grounded' (promoted),
    docs and a qa.jsonl with 4 test questions (one unanswerable) and one train question."""
    from assistant.answering.models import ModelConfig, load_base
    from finetune.registry import AdapterRegistry

    root = tmp_path_factory.mktemp("eval-world")
    base = build_tiny_model(root / "tiny")
    loaded = load_base(ModelConfig(base=str(base), device="cpu"))
    adapter = build_lora_adapter(base, root / "closed-book", loaded, seed=1)
    grounded = build_lora_adapter(base, root / "grounded-src", loaded, seed=2)
    registry = root / "registry"
    AdapterRegistry(registry).register("grounded", grounded, promote=True)
    docs = root / "docs"
    docs.mkdir()
    write_corpus(docs)
    qa = write_questions(root / "qa.jsonl")
    return {"base": base, "adapter": adapter, "registry": registry, "docs": docs, "qa": qa,
            "index": root / "index", "root": root}


def _config(world, tmp_path, **kwargs):
    path = write_config(tmp_path / "eval.toml", base=world["base"], docs=world["docs"],
                        qa=world["qa"], index=world["index"], registry=world["registry"],
                        adapter_dir=world["adapter"], **kwargs)
    return load_config(path)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_four_setups_end_to_end(world, tmp_path, embedder):
    out = tmp_path / "out"
    result = run_eval(_config(world, tmp_path), out, embedder=embedder, command="pytest run")
    for name in ("report.html", "report.md", "results.jsonl", "manifest.json", "summary.json",
                 "plots/metrics.png"):
        assert (out / name).is_file(), name
    lines = _lines(out / "results.jsonl")
    assert len(lines) == 16 and result.new_results == 16
    assert {(r["setup"], r["question_id"]) for r in lines} == {
        (s, q) for s in SETUPS for q in ("t1", "t2", "t3", "t4")}
    for r in lines:
        assert {"setup", "question_id", "question", "gold", "answer", "raw", "verification",
                "retrieved", "metrics", "error"} <= set(r)
        assert r["error"] is None
        assert set(r["answer"]) >= {"answer", "abstained", "citations", "passages", "usage"}
    by = {(r["setup"], r["question_id"]): r for r in lines}
    # retrieval metrics only for the retrieval setups, against the gold sources
    assert by[("base", "t1")]["metrics"]["recall@k"] is None
    rag = by[("rag", "t1")]
    assert rag["metrics"]["recall@k"] == 1.0 and rag["retrieved"][0]["gold"] is True
    assert rag["answer"]["passages"]
    # the unanswerable question takes part in abstention only
    assert by[("base", "t4")]["metrics"]["abstain_recall"] in (0.0, 1.0)
    assert by[("base", "t4")]["metrics"]["exact_match"] is None
    assert by[("base", "t1")]["metrics"]["exact_match"] in (0.0, 1.0)
    # the adapter setups ran with their adapters
    assert by[("finetune", "t1")]["answer"]["adapter"] == str(world["adapter"])
    assert by[("combined", "t1")]["answer"]["adapter"] == "grounded"
    assert by[("finetune", "t1")]["raw"] != by[("base", "t1")]["raw"]
    page = (out / "report.html").read_text()
    for name in SETUPS:
        assert f"<h4>{name}</h4>" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "data:image" not in page and 'src="plots/metrics.png"' in page
    assert "pytest run" in page and "torch device cpu" in page
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config_hash"] and manifest["started_at"] and manifest["finished_at"]
    assert manifest["adapters"]["combined"]["version"] == 1
    assert manifest["adapters"]["base"] is None
    assert manifest["base_models"][str(world["base"])]["weights_hash"]
    assert manifest["machine"]["cpu_count"]
    assert set(result.summary) == set(SETUPS)
    assert "latency_p50" in result.summary["rag"]


def test_resume_skips_done_pairs_and_repairs_a_truncated_line(world, tmp_path, embedder,
                                                              monkeypatch):
    from eval import setups

    asked: list[str] = []
    original = setups.EvalSetup.answer_batch

    def counting(self, questions, histories=None):
        asked.extend(questions)
        return original(self, questions, histories)

    monkeypatch.setattr(setups.EvalSetup, "answer_batch", counting)
    config, out = _config(world, tmp_path), tmp_path / "out"
    run_eval(config, out, limit=2, embedder=embedder)
    assert len(asked) == 8 and len(_lines(out / "results.jsonl")) == 8
    asked.clear()
    run_eval(config, out, embedder=embedder)
    assert len(asked) == 8  # only questions 3 and 4, for each setup
    assert len(_lines(out / "results.jsonl")) == 16
    # an interrupted write: cut the last line in half
    raw = (out / "results.jsonl").read_bytes()
    cut = raw[: raw.rstrip(b"\n").rfind(b"\n") + 1 + 40]
    (out / "results.jsonl").write_bytes(cut)
    asked.clear()
    run_eval(config, out, embedder=embedder)
    assert len(asked) == 1
    lines = _lines(out / "results.jsonl")
    assert len(lines) == 16 and len({(r["setup"], r["question_id"]) for r in lines}) == 16
    asked.clear()
    result = run_eval(config, out, embedder=embedder)  # nothing left: no model, no answers
    assert asked == [] and result.new_results == 0
    assert len(json.loads((out / "manifest.json").read_text())["runs"]) == 4


def test_stored_answers_are_rescored_with_todays_metric_definitions(world, tmp_path,
                                                                      embedder):
    config, out = _config(world, tmp_path), tmp_path / "out"
    run_eval(config, out, limit=2, embedder=embedder)
    lines = _lines(out / "results.jsonl")
    record = next(r for r in lines if r["setup"] == "base" and r["gold"]["answer"])
    gold = record["gold"]["answer"]
    # an answer that quotes the gold but says something else, scored by an older rule
    record["answer"]["answer"] = f'Nothing [1]. Passage [1] says: "so it was {gold} in the end"'
    record["answer"]["abstained"] = False
    record["metrics"]["contains_answer"] = 1.0
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    run_eval(config, out, limit=2, embedder=embedder)
    summary = json.loads((out / "summary.json").read_text())["setups"]["base"]
    others = [r["metrics"]["contains_answer"] for r in lines
              if r["setup"] == "base" and r is not record and r["gold"]["answer"]]
    assert summary["contains_answer"]["value"] == pytest.approx(
        sum(others) / (len(others) + 1))  # the edited answer now scores 0


def test_corrupt_line_before_the_end_is_an_error(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"setup": "a", "question_id": "1"}\nnot json\n'
                    '{"setup": "a", "question_id": "2"}\n')
    with pytest.raises(EvalError, match="line 2"):
        load_results(path)


def test_out_dir_of_another_config_is_refused(world, tmp_path, embedder):
    out = tmp_path / "out"
    run_eval(_config(world, tmp_path, extra='[setups.other]\n'), out, limit=1,
             embedder=embedder)
    with pytest.raises(EvalError, match="another config"):
        run_eval(_config(world, tmp_path), out, limit=1, embedder=embedder)


def test_unknown_config_keys_are_named(world, tmp_path):
    with pytest.raises(EvalConfigError, match=r"unknown key 'bogus' in \[setups.combined\]"):
        _config(world, tmp_path, extra="bogus = 1\n")
    with pytest.raises(EvalConfigError, match=r"'colour'.*top level"):
        _config(world, tmp_path, extra="[colour]\nred = 1\n")
    path = tmp_path / "bad.toml"
    path.write_text('[questions]\npath = "qa.jsonl"\n[run]\nseeed = 1\n[setups.base]\n')
    with pytest.raises(EvalConfigError, match=r"unknown key 'seeed' in \[run\]"):
        load_config(path)
    path.write_text('[questions]\npath = "qa.jsonl"\n[run]\nbatch_size = "4"\n[setups.b]\n')
    with pytest.raises(EvalConfigError, match=r"\[run\] batch_size must be an integer"):
        load_config(path)


def test_missing_adapter_fails_before_any_question(world, tmp_path, embedder, monkeypatch):
    from eval import setups

    def no_model(self, base):
        raise AssertionError("no model may load before the adapters are checked")

    monkeypatch.setattr(setups.Models, "get", no_model)
    out = tmp_path / "out"
    with pytest.raises(MissingAdapterError, match="setup 'combined'.*'nope'"):
        run_eval(_config(world, tmp_path, grounded="nope"), out, embedder=embedder)
    assert not (out / "results.jsonl").exists()
    with pytest.raises(MissingAdapterError, match="setup 'combined'.*no version 7"):
        run_eval(_config(world, tmp_path, grounded="grounded@v7"), out, embedder=embedder)
    with pytest.raises(MissingAdapterError, match="setup 'finetune'.*adapter_config.json"):
        config = write_config(tmp_path / "e.toml", base=world["base"], docs=world["docs"],
                              qa=world["qa"], index=world["index"],
                              registry=world["registry"], adapter_dir=tmp_path / "nowhere")
        run_eval(load_config(config), out, embedder=embedder)


def test_skip_missing_skips_the_setup_and_says_so(world, tmp_path, embedder):
    extra = ""
    config = _config(world, tmp_path, grounded="grounded@v9", extra=extra)
    text = config.path.read_text().replace("seed = 0", "seed = 0\nskip_missing = true")
    config.path.write_text(text)
    out = tmp_path / "out"
    result = run_eval(load_config(config.path), out, limit=1, embedder=embedder)
    assert set(result.skipped_setups) == {"combined"}
    assert {r["setup"] for r in _lines(out / "results.jsonl")} == {"base", "rag", "finetune"}
    assert "skipped combined" in (out / "report.md").read_text().lower()
    assert "Skipped combined" in (out / "report.html").read_text()


def test_setup_answers_through_the_answerer_interface(world, tmp_path, embedder):
    from assistant.answering.records import Answer
    from eval.setups import Models, build_setups, open_searcher, resolve_adapters

    config = _config(world, tmp_path)
    adapters, _ = resolve_adapters(config)
    models = Models("cpu", "auto")
    searcher = open_searcher(config, [], embedder, world["index"])
    built = build_setups(config, config.setups, adapters, models, embedder, {None: searcher})
    for name in SETUPS:
        answer = built[name].answer("who sat where ?")
        assert isinstance(answer, Answer) and answer.question == "who sat where ?"
    assert len(models.loaded) == 1  # one base model shared by all four setups
    # each setup's own evidence_first / extract_first reach its answerer
    assert all(built[n].answerer.config.extract_first for n in SETUPS)
    from dataclasses import replace

    late = replace(config.setups[-1], name="late", extract_first=False, evidence_first=True)
    built = build_setups(config, [late], adapters, models, embedder, {None: searcher})
    assert not built["late"].answerer.config.extract_first
    assert built["late"].answerer.config.evidence_first
    searcher.close()


def test_cli_run(world, tmp_path, embedder, monkeypatch, capsys):
    from eval import cli, harness

    real = harness.run_eval
    monkeypatch.setattr(harness, "run_eval",
                        lambda *a, **k: real(*a, **{**k, "embedder": embedder}))
    parser = argparse.ArgumentParser()
    esub = parser.add_subparsers(dest="eval_command")
    cli.add_run_parser(esub)
    config = _config(world, tmp_path)
    args = parser.parse_args(["run", "--config", str(config.path), "--out",
                              str(tmp_path / "out"), "--limit", "1"])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    assert "report.html" in captured.out
    assert "eval: base 1/1" in captured.err.splitlines()  # stderr is no terminal here
    assert len(_lines(tmp_path / "out" / "results.jsonl")) == 4
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--config", "x", "--out", "y", "--limit", "-1"])


FOLLOW_UPS = [
    {"id": "c1", "split": "test", "answer": "24 hours",
     "history": [{"role": "user", "content": "How often should I rinse the dust filter?"},
                 {"role": "assistant", "content": "Every two weeks, with cold water."}],
     "question": "And how long must it dry?",
     "standalone": "How long must the dust filter dry after rinsing?",
     "sources": [{"file": "support/cleaning.md", "page": None, "heading": "Filter"}]},
    {"id": "c2", "split": "test", "answer": "five seconds",
     "history": [{"role": "user", "content": "How do I connect to Wi-Fi?"},
                 {"role": "assistant", "content": "Use the pairing button."}],
     "question": "How long do I hold it?",
     "standalone": "How long do I hold the pairing button for Wi-Fi setup?",
     "sources": [{"file": "support/wifi.md", "page": None, "heading": "Wi-Fi setup"}]},
]


@pytest.mark.parametrize("form", ["asked", "standalone"])
def test_follow_ups_are_asked_after_their_conversation(world, tmp_path, embedder, form):
    """A question with a ``history`` is asked after those turns (``form = "asked"``), and
    its retrieval is measured on the query the answerer searched with; ``form =
    "standalone"`` asks each alone, in its written-out form."""
    qa = tmp_path / "follow-ups.jsonl"
    qa.write_text("".join(json.dumps(q) + "\n" for q in FOLLOW_UPS))
    path = tmp_path / "eval.toml"
    path.write_text(f"""
[run]
name = "follow-ups"
batch_size = 2
bootstrap_resamples = 200
permutation_resamples = 200
[model]
base = "{world['base']}"
device = "cpu"
[corpus]
kind = "docs"
docs = "{world['docs']}"
index = "{world['index']}"
[questions]
format = "qa"
path = "{qa}"
form = "{form}"
[answer]
min_retrieval_score = 0.1
[setups.extract]
retrieval = true
k = 3
generate = false
""")
    run_eval(load_config(path), tmp_path / "out", embedder=embedder)
    by = {r["question_id"]: r for r in _lines(tmp_path / "out" / "results.jsonl")}
    for q in FOLLOW_UPS:
        record = by[q["id"]]
        if form == "asked":
            assert record["question"] == q["question"] and record["history"] == q["history"]
            # the conversation's terms were searched for: the gold passage comes first
            assert q["history"][0]["content"].split()[-1].rstrip("?") in \
                record["answer"]["query"]
        else:
            assert record["question"] == q["standalone"] and "history" not in record
        assert record["retrieved"][0]["gold"] is True, record["retrieved"]
        assert q["answer"] in record["answer"]["answer"], record["answer"]


def test_a_malformed_history_is_named(tmp_path):
    from finetune.sources import read_qa

    qa = tmp_path / "bad.jsonl"
    rows = [{**FOLLOW_UPS[0], "history": [{"role": "robot", "content": "hi"}]},
            {**FOLLOW_UPS[1], "id": "c3", "history": "How do I connect?"}]
    qa.write_text("".join(json.dumps(r) + "\n" for r in rows))
    records, problems = read_qa(qa)
    assert records == []
    assert problems == [(1, "history turn 1: role must be one of user, assistant, system, "
                            "got 'robot'"),
                        (2, "history must be a list of {role, content} turns")]
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(FOLLOW_UPS[0]) + "\n")
    (record,), _ = read_qa(good)
    assert record.history[0] == ("user", "How often should I rinse the dust filter?")
    assert record.to_json()["history"] == FOLLOW_UPS[0]["history"]
    assert record.to_json()["standalone"] == FOLLOW_UPS[0]["standalone"]


@pytest.mark.slow
def test_real_model_on_three_acme_questions(tmp_path, embedder, bundled_home):
    root = Path(__file__).resolve().parents[2] / "examples" / "acme"
    path = tmp_path / "eval.toml"
    path.write_text(f"""
[run]
name = "acme smoke"
batch_size = 3
max_new_tokens = 48
[model]
base = "SmolLM2-135M-Instruct"
device = "cpu"
[corpus]
kind = "docs"
docs = "{root / 'docs'}"
[questions]
path = "{root / 'qa.jsonl'}"
split = "test"
[setups.base]
[setups.rag]
retrieval = true
""")
    out = tmp_path / "out"
    result = run_eval(load_config(path), out, limit=3, embedder=embedder)
    lines = _lines(out / "results.jsonl")
    assert len(lines) == 6 and all(r["error"] is None for r in lines)
    assert all(r["answer"]["model"] == "SmolLM2-135M-Instruct" for r in lines)
    rag = [r for r in lines if r["setup"] == "rag"]
    # hybrid retrieval finds the gold section for most acme questions
    assert sum(r["metrics"]["recall@k"] or 0 for r in rag) >= 1
    assert result.summary["rag"]["latency_p50"].value > 0


def _pubmedqa_dir(root: Path) -> Path:
    """A PQA-L-shaped folder: 3 test questions with 2 contexts each."""
    data, test = {}, {}
    topics = [("the cat sat on a mat", "yes"), ("a dog ran to the park", "no"),
              ("the bird flew over it", "maybe")]
    for i, (topic, decision) in enumerate(topics, 1):
        data[str(i)] = {"QUESTION": f"Does {topic} ?",
                        "CONTEXTS": [f"Background: {topic} while people watched.",
                                     f"Results: {topic} and the cat sat."],
                        "LABELS": ["BACKGROUND", "RESULTS"],
                        "LONG_ANSWER": f"{decision} because {topic}.",
                        "final_decision": decision}
        test[str(i)] = decision
    root.mkdir()
    (root / "ori_pqal.json").write_text(json.dumps(data))
    (root / "test_ground_truth.json").write_text(json.dumps(test))
    return root


@pytest.mark.parametrize("kind", ["contexts", "gold"])
def test_pubmedqa_run_with_its_contexts(world, tmp_path, embedder, kind):
    data = _pubmedqa_dir(tmp_path / "pqa")
    path = tmp_path / "pubmedqa.toml"
    path.write_text(f"""
[run]
name = "pqa"
max_new_tokens = 3
bootstrap_resamples = 100
permutation_resamples = 100
[model]
base = "{world['base']}"
device = "cpu"
[corpus]
kind = "{kind}"
index = "{tmp_path / 'pqa-index'}"
[questions]
format = "pubmedqa"
path = "{data}"
[answer]
min_retrieval_score = -1.0
min_supported_fraction = 0.0
[setups.base]
[setups.rag]
retrieval = true
k = 2
""")
    out = tmp_path / "out"
    run_eval(load_config(path), out, limit=2, embedder=embedder)
    lines = _lines(out / "results.jsonl")
    assert len(lines) == 4
    rag = [r for r in lines if r["setup"] == "rag"]
    for r in rag:
        assert r["metrics"]["accuracy"] in (0.0, 1.0)
        sources = {p["source"] for p in r["answer"]["passages"]}
        assert sources <= {f"pubmed/{i}" for i in "123"}
    if kind == "gold":  # the oracle hands each question its own two contexts
        assert all(r["metrics"]["recall@k"] == 1.0 for r in rag)
        assert all({p["source"] for p in r["answer"]["passages"]}
                   == {f"pubmed/{r['question_id']}"} for r in rag)
    else:  # the index holds all three questions' contexts, not only the two asked
        from index import Searcher

        searcher = Searcher(tmp_path / "pqa-index", embedder=embedder)
        assert {d.source for d in searcher.documents()} == {f"pubmed/{i}" for i in "123"}
        searcher.close()
    page = (out / "report.html").read_text()
    assert "PubMedQA beside published figures" in page and "73.3" in page


def test_scifact_claims_become_yes_no_questions(tmp_path):
    from eval.config import QuestionsConfig
    from eval.questions import load_questions

    (tmp_path / "corpus_sentences.jsonl").write_text(
        json.dumps({"doc_id": 11, "title": "T", "abstract": ["First.", "Second one."]}) + "\n")
    claims = tmp_path / "claims_dev.jsonl"
    claims.write_text("\n".join(json.dumps(c) for c in [
        {"id": 1, "claim": "A is B.", "evidence": {"11": {"label": "SUPPORT",
                                                          "sentences": [1]}},
         "cited_doc_ids": [11]},
        {"id": 2, "claim": "C is D.", "evidence": {"11": {"label": "CONTRADICT",
                                                          "sentences": [0]}},
         "cited_doc_ids": [11]},
        {"id": 3, "claim": "E is F.", "evidence": {}, "cited_doc_ids": [11]}]) + "\n")
    qs = load_questions(QuestionsConfig(format="scifact", path=claims, split=None))
    assert [q.answer for q in qs] == ["yes", "no", None]
    assert qs[0].question == "Is the following claim true? A is B."
    assert qs[0].evidence == ("Second one.",) and qs[0].sources[0].file == "beir/scifact/11"
    assert qs[2].sources == () and qs[2].contexts[0].text == "First. Second one."


def test_an_unknown_question_split_is_a_config_error(tmp_path):
    from eval.config import QuestionsConfig
    from eval.questions import load_questions

    questions = tmp_path / "qa.jsonl"
    questions.write_text(json.dumps({"question": "Q?", "answer": "A", "split": "test"}) + "\n")
    with pytest.raises(EvalConfigError, match=r"\[questions\] split must be one of .*'tset'"):
        load_questions(QuestionsConfig(format="qa", path=questions, split="tset"))


def test_citations_can_be_checked_with_another_embedder_than_the_corpus(world, tmp_path,
                                                                        embedder):
    from types import SimpleNamespace

    from eval.setups import verifier_embedder

    config = _config(world, tmp_path)
    assert config.answer.verifier_embedder is None
    path = tmp_path / "verifier.toml"
    path.write_text(config.path.read_text().replace(
        "[answer]\n", '[answer]\nverifier_embedder = "all-MiniLM-L6-v2"\n', 1))
    assert load_config(path).answer.verifier_embedder == "all-MiniLM-L6-v2"
    assert config.answer.corpus_names == ()
    path.write_text(config.path.read_text().replace(
        "[answer]\n", '[answer]\ncorpus_names = ["PostgreSQL", "Postgres"]\n', 1))
    assert load_config(path).answer.corpus_names == ("PostgreSQL", "Postgres")
    path.write_text(config.path.read_text().replace(
        "[answer]\n", '[answer]\ncorpus_names = "PostgreSQL"\n', 1))
    with pytest.raises(EvalConfigError, match=r"\[answer\] corpus_names must be a list"):
        load_config(path)
    assert verifier_embedder(None, embedder) is embedder
    assert verifier_embedder("all-MiniLM-L6-v2", embedder) is embedder
    assert verifier_embedder(embedder.info.path, embedder) is embedder
    tuned = SimpleNamespace(info=SimpleNamespace(path=str(tmp_path / "tuned-embedder")))
    other = verifier_embedder("all-MiniLM-L6-v2", tuned)
    assert other is not tuned and other.info.model_id == embedder.info.model_id
