"""Chat-template tokenization with answer-only loss, dedup, length filter, split, report."""

from __future__ import annotations

import json

import pytest

from core.errors import ConfigError
from finetune.dataset import (
    IGNORE_INDEX,
    data_hash,
    load_jsonl,
    prepare,
    split,
    tokenize_example,
    tokenize_examples,
)
from finetune.pii import Redactor
from finetune.records import DatasetError, Example

WORDS = (
    "the cat sat on a mat . who sat where ? answer with one word please . "
    "a dog ran to the park and the bird flew over it while people watched "
    "question : passages [1] [2] source says"
)
SPECIAL = ["<pad>", "<unk>", "<eos>", "<|system|>", "<|user|>", "<|assistant|>"]
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <eos> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer():
    """A word-level tokenizer with a chat template, built offline in the test."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIAL + sorted(set(WORDS.split())))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>",
                                  pad_token="<pad>", eos_token="<eos>",
                                  additional_special_tokens=SPECIAL[3:])
    tok.chat_template = TEMPLATE
    return tok


def example(i: int, question: str = "who sat where ?", answer: str = "the cat sat on a mat .",
            kind: str = "closed_book", record: str | None = None, system: bool = True,
            history: tuple = ()) -> Example:
    messages = ([{"role": "system", "content": "answer with one word please ."}] if system
                else [])
    messages += [*history, {"role": "user", "content": question},
                 {"role": "assistant", "content": answer}]
    return Example(id=f"e{i}", kind=kind, messages=tuple(messages),
                   meta={"record_id": record or f"r{i}"})


def supervised(row: dict) -> list[int]:
    return [t for t in row["labels"] if t != IGNORE_INDEX]


def test_loss_only_on_the_answer_and_end_of_turn(tokenizer):
    row = tokenize_example(example(0), tokenizer)
    assert len(row["input_ids"]) == len(row["labels"]) == len(row["attention_mask"])
    assert tokenizer.decode(supervised(row)) == "the cat sat on a mat . <eos>"
    # the supervised tokens are one contiguous run at the end of the sequence
    first = next(i for i, t in enumerate(row["labels"]) if t != IGNORE_INDEX)
    assert row["labels"][:first] == [IGNORE_INDEX] * first
    assert row["labels"][first:] == row["input_ids"][first:]
    assert tokenizer.decode(row["input_ids"][:first]).endswith("<|assistant|>")


def test_only_the_final_assistant_turn_is_supervised(tokenizer):
    history = ({"role": "user", "content": "who ran ?"},
               {"role": "assistant", "content": "a dog ran to the park ."})
    row = tokenize_example(example(0, history=history), tokenizer)
    assert tokenizer.decode(supervised(row)) == "the cat sat on a mat . <eos>"


def test_tokenize_examples_keeps_order(tokenizer):
    rows = tokenize_examples([example(0), example(1, answer="people watched .")], tokenizer)
    assert [tokenizer.decode(supervised(r)) for r in rows] == [
        "the cat sat on a mat . <eos>", "people watched . <eos>"]


def test_prepare_dedups_filters_splits_and_reports(tokenizer):
    examples = [example(i, question=f"who sat where ? {'a ' * i}") for i in range(10)]
    examples.append(example(10, question="who sat  WHERE ?"))  # a duplicate of e0
    examples.append(example(11, question="the bird flew over it " * 20))  # too long
    examples.append(example(12, question="who ran ?"))  # a held-out question
    train, val, report = prepare(examples, tokenizer, max_length=64, val_fraction=0.2,
                                 seed=1, redactor=Redactor(enabled=False),
                                 exclude_questions=["Who ran ?"])
    assert report.kept == 10 and len(train) + len(val) == 10
    assert len(val) == 2 and report.train == 8 and report.val == 2
    assert report.dropped == {"duplicate (same kind, question and answer)": 1,
                              "longer than max_length 64 tokens": 1,
                              "question is in the held-out set": 1}
    assert {e.id for e in train}.isdisjoint({e.id for e in val})
    assert all(e.meta["tokens"] <= 64 for e in train + val)
    assert report.redaction.startswith("off")
    text = report.to_text()
    assert "longer than max_length 64 tokens" in text and "PII redaction: off" in text
    as_json = json.loads(json.dumps(report.to_json()))
    assert as_json["dropped"]["question is in the held-out set"] == 1
    # deterministic: same seed, same split and hash; another seed, another split
    again = prepare(examples, tokenizer, 64, 0.2, 1, Redactor(enabled=False),
                    exclude_questions=["Who ran ?"])
    assert [e.id for e in again[1]] == [e.id for e in val]
    assert again[2].data_hash == report.data_hash == data_hash(train, val)
    other = prepare(examples, tokenizer, 64, 0.2, 2, Redactor(enabled=False))
    assert other[2].data_hash != report.data_hash


def test_split_keeps_a_records_examples_together():
    examples = []
    for r in range(6):
        examples.append(example(2 * r, record=f"q{r}"))
        examples.append(example(2 * r + 1, record=f"q{r}", kind="grounded"))
    train, val = split(examples, 0.3, seed=0)
    assert len(val) == 4  # ceil(0.3 * 6) = 2 records
    assert {e.meta["record_id"] for e in train}.isdisjoint({e.meta["record_id"] for e in val})


def test_prepare_redacts_before_anything_else(tokenizer, caplog):
    secret = "jane.doe@example.com"
    examples = [example(0, question=f"who sat where ? mail {secret}",
                        answer=f"the cat sat on a mat . write to {secret}"),
                example(1, question="who sat ? call +1 503 555 0142", answer="people watched .")]
    caplog.set_level("DEBUG")
    train, val, report = prepare(examples, tokenizer, 256, 0.0, 0, Redactor())
    assert report.pii == {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1}
    dumped = json.dumps([e.to_json() for e in train + val])
    assert secret not in dumped and "555 0142" not in dumped and "<EMAIL>" in dumped
    assert secret not in caplog.text and secret not in report.to_text()
    assert "EMAIL_ADDRESS" in report.to_text()


def test_redactor_is_required(tokenizer):
    with pytest.raises(ConfigError, match="redactor is required"):
        prepare([example(0)], tokenizer, 64)


def test_empty_or_all_filtered_is_a_clear_error(tokenizer):
    with pytest.raises(DatasetError, match="no examples left to train on"):
        prepare([], tokenizer, 64, redactor=Redactor(enabled=False))
    too_long = [example(0, question="the bird flew over it " * 30)]
    with pytest.raises(DatasetError, match="longer than max_length"):
        prepare(too_long, tokenizer, 32, redactor=Redactor(enabled=False))


@pytest.mark.parametrize("bad", [dict(max_length=2), dict(val_fraction=1.0),
                                 dict(val_fraction=-0.1)])
def test_prepare_rejects_bad_arguments(tokenizer, bad):
    kwargs = dict(max_length=64, val_fraction=0.1, redactor=Redactor(enabled=False)) | bad
    with pytest.raises(ConfigError):
        prepare([example(0)], tokenizer, **kwargs)


def test_template_that_drops_the_answer_is_an_error(tokenizer):
    from transformers import PreTrainedTokenizerFast

    broken = PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer,
                                     eos_token="<eos>", unk_token="<unk>")
    broken.chat_template = "{% for m in messages %}{{ m['role'] }} {% endfor %}"
    with pytest.raises(DatasetError, match="dropped the answer"):
        tokenize_example(example(0), broken)


def test_save_and_load_round_trip(tmp_path):
    from finetune.dataset import save_jsonl

    examples = [example(0), example(1, kind="grounded")]
    path = save_jsonl(examples, tmp_path / "data" / "train.jsonl")
    loaded = load_jsonl(path)
    assert loaded == examples and loaded[1].meta == {"record_id": "r1"}
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(DatasetError, match=r"train.jsonl:3"):
        load_jsonl(path)


@pytest.mark.slow
def test_masking_with_the_real_smollm2_tokenizer(bundled_home):
    """The bundled SmolLM2 template: labels decode to exactly the target + <|im_end|>."""
    from assistant.answering import models
    from core.prompt_format import build_grounded_messages
    from index.records import Passage

    loaded = models.load_base(models.ModelConfig(device="cpu"))
    tok = loaded.tokenizer
    passage = Passage(chunk_id="c", doc_id="d", source="policies/refunds-2025.md",
                      text="You can return any product within 30 days.", score=1.0,
                      heading=("Refund window",))
    target = '30 days [1]. Passage [1] says: "You can return any product within 30 days."'
    messages = (*build_grounded_messages("How long do I have to return it?", [passage]),
                {"role": "assistant", "content": target})
    row = tokenize_example(Example(id="x", kind="grounded", messages=messages), tok)
    assert tok.decode(supervised(row)) == target + "<|im_end|>"
    assert tok.decode(row["input_ids"][: row["labels"].index(supervised(row)[0])]).endswith(
        "<|im_start|>assistant\n")


def test_public_documents_keep_published_contact_details(tokenizer):
    from core.prompt_format import build_grounded_messages
    from finetune.dataset import passage_texts
    from index.records import Passage

    passage = Passage(chunk_id="c", doc_id="d", source="support/contact.html", score=1.0,
                      text="Ireland support line. Phone: +353 1 555 0123", heading=("Europe",))
    messages = (*build_grounded_messages("my number is +1 503 555 0142, whom do I call?",
                                         [passage]),
                {"role": "assistant", "content": "+353 1 555 0123 [1]."})
    grounded = Example(id="g", kind="grounded", messages=messages, meta={"record_id": "q6"})
    assert passage_texts([grounded]) == [passage.text]
    strict, _, report = prepare([grounded], tokenizer, 512, 0.0, redactor=Redactor())
    assert strict[0].target == "<PHONE> [1]." and report.pii == {"PHONE_NUMBER": 3}
    kept, _, report = prepare([grounded], tokenizer, 512, 0.0, redactor=Redactor(),
                              public_documents=True)
    assert kept[0].target == "+353 1 555 0123 [1]."
    assert "503 555 0142" not in kept[0].question and report.pii == {"PHONE_NUMBER": 1}


def test_build_and_prepare_reports_merge(tokenizer):
    from finetune.records import BuildReport

    build = BuildReport(kept=3, gold_eligible=4, gold_present=3)
    build.drop("answer not in the top 20 retrieved passages")
    build.gold_by["sources"] = 4
    _, _, prepared = prepare([example(0), example(1, question="who ran ?")], tokenizer, 64,
                             0.5, redactor=Redactor(enabled=False))
    merged = build.merge(prepared)
    data = merged.to_json()
    assert data["dropped"] == {"answer not in the top 20 retrieved passages": 1}
    assert data["gold_fraction"] == 0.75 and data["gold_found_by"] == {"sources": 4}
    assert data["train"] == 1 and data["val"] == 1 and data["data_hash"] == prepared.data_hash
    assert data["pii"]["redaction"].startswith("off")
    # what prepare kept is what survives both stages: not the sum of the two reports
    assert data["kept"] == prepared.kept == 2 and sum(data["kinds"].values()) == 2
