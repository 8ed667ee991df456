"""Training a LoRA adapter: a tiny Llama built in the test, a few steps on CPU."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import tiny_models

from core.errors import AssistantError, ConfigError
from finetune import PaddingCollator, TrainConfig, TrainingError, train_adapter
from finetune.train import resolve_bf16

WORDS = (
    "the cat sat on a mat . who sat where ? answer with one word please . "
    "a dog ran to the park and the bird flew over it while people watched"
)
SPECIAL = ["<pad>", "<unk>", "<eos>", "<|user|>", "<|assistant|>"]
PAIRS = [  # (prompt, answer): the tiny dataset, repeated
    ("who sat where ?", "the cat sat on a mat ."),
    ("who ran where ?", "a dog ran to the park ."),
    ("who flew over it ?", "the bird flew over it ."),
    ("who watched ?", "people watched ."),
]
FAST = dict(rank=4, alpha=8, dropout=0.0, lr=2e-2, batch_size=2, max_length=64, bf16="off",
            logging_steps=1, save_steps=100)


def build_tiny(directory: Path, seed: int = 0) -> Path:
    """The shared tiny Llama, 128 positions, its end token left trainable."""
    return tiny_models.build_tiny_model(directory, WORDS, seed=seed, max_positions=128,
                                        special=SPECIAL, zero_eos=False)


def rows_for(tokenizer, pairs=PAIRS, repeat: int = 2) -> list[dict]:
    """Tokenized rows: labels -100 on the prompt, the answer (+ eos) supervised."""
    out = []
    for prompt, answer in pairs * repeat:
        p = tokenizer("<|user|> " + prompt + " <|assistant|>")["input_ids"]
        a = tokenizer(answer)["input_ids"] + [tokenizer.eos_token_id]
        out.append({"input_ids": p + a, "attention_mask": [1] * (len(p) + len(a)),
                    "labels": [-100] * len(p) + a})
    return out


@pytest.fixture(scope="module")
def ft_tiny_dir(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("ft-models") / "tiny")


@pytest.fixture()
def ft_tiny(ft_tiny_dir):
    """A fresh (model, tokenizer) per test: training must leave the model as it was."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return (AutoModelForCausalLM.from_pretrained(ft_tiny_dir),
            AutoTokenizer.from_pretrained(ft_tiny_dir))


def run(model, tokenizer, out: Path, *, train=None, val=None, resume=False, callbacks=(),
        **overrides) -> object:
    config = TrainConfig(**{**FAST, **overrides})
    train = rows_for(tokenizer) if train is None else train
    val = rows_for(tokenizer, repeat=1) if val is None else val
    return train_adapter(model, tokenizer, train, val, config, out, resume=resume,
                         progress=False, base_model_id="tiny", base_weights_hash="abc123",
                         data_manifest={"data_hash": "d" * 16, "mode": "closed-book"},
                         callbacks=callbacks)


def log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---- config and collator ---------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("rank", 0), ("alpha", -1), ("dropout", 1.0), ("lr", 0.0), ("epochs", 0),
    ("max_steps", 0), ("batch_size", 0), ("bf16", "maybe"), ("target_modules", ()),
    ("target_modules", "q_proj"), ("lr_scheduler", "zigzag"), ("rank", 2.5),
    ("micro_batch_size", 0), ("micro_batch_size", 3),  # 3 does not divide batch_size 4
])
def test_config_rejects_out_of_range_values_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value})


def test_config_from_dict_refuses_unknown_keys_and_round_trips():
    config = TrainConfig.from_dict({"rank": 8, "target_modules": ["q_proj"]})
    assert config.target_modules == ("q_proj",)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="learning_rate"):
        TrainConfig.from_dict({"learning_rate": 1e-4})


def test_collator_pads_dynamically_and_masks_padding_in_labels():
    collate = PaddingCollator(pad_token_id=0, max_length=4)
    batch = collate([
        {"input_ids": [5, 6], "attention_mask": [1, 1], "labels": [-100, 6]},
        {"input_ids": [7, 8, 9, 10, 11], "attention_mask": [1] * 5, "labels": [7, 8, 9, 10, 11]},
    ])
    assert batch["input_ids"].tolist() == [[5, 6, 0, 0], [7, 8, 9, 10]]
    assert batch["attention_mask"].tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    assert batch["labels"].tolist() == [[-100, 6, -100, -100], [7, 8, 9, 10]]
    assert collate([{"input_ids": [1], "attention_mask": [1], "labels": [1]}])[
        "input_ids"].shape == (1, 1)  # width follows the batch, not max_length


# ---- bad input -------------------------------------------------------------------------


def test_empty_dataset_is_a_clear_error_before_training(ft_tiny, tmp_path):
    model, tokenizer = ft_tiny
    unlabeled = [{**r, "labels": [-100] * len(r["labels"])} for r in rows_for(tokenizer)]
    for train in ([], unlabeled):
        with pytest.raises(TrainingError, match="no training examples"):
            run(model, tokenizer, tmp_path / "out", train=train)
    assert list(tmp_path.iterdir()) == []  # no checkpoint dir, no partial adapter
    assert issubclass(TrainingError, AssistantError)


def test_unknown_target_module_is_a_config_error_and_leaves_the_model_bare(ft_tiny, tmp_path):
    model, tokenizer = ft_tiny
    with pytest.raises(ConfigError, match="target_modules"):
        run(model, tokenizer, tmp_path / "out", target_modules=("no_such_proj",))
    assert not hasattr(model, "peft_config")


def test_refuses_an_output_that_already_holds_files(ft_tiny, tmp_path):
    model, tokenizer = ft_tiny
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    with pytest.raises(TrainingError, match="already holds"):
        run(model, tokenizer, out, max_steps=1)
    assert (out / "keep.txt").read_text() == "precious"


def test_resume_without_a_checkpoint_is_an_error(ft_tiny, tmp_path):
    model, tokenizer = ft_tiny
    with pytest.raises(TrainingError, match="nothing to resume"):
        run(model, tokenizer, tmp_path / "out", resume=True, max_steps=2)


# ---- a real (tiny) run -----------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(ft_tiny_dir, tmp_path_factory):
    """Five epochs of 4 steps on the repeated tiny dataset, eval after each epoch."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(ft_tiny_dir)
    tokenizer = AutoTokenizer.from_pretrained(ft_tiny_dir)
    out = tmp_path_factory.mktemp("trained") / "adapter"
    result = run(model, tokenizer, out, epochs=5)
    return result, model, tokenizer


def test_training_loss_is_finite_and_decreases(trained):
    result, _, _ = trained
    losses = [e["loss"] for e in log_lines(result.metrics_log) if "loss" in e]
    assert result.global_step == 20 and len(losses) == 20
    assert all(math.isfinite(x) for x in losses)
    assert sum(losses[-4:]) / 4 < 0.7 * sum(losses[:4]) / 4
    epochs = result.manifest["metrics"]["epochs"]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]


def test_eval_loss_is_logged_each_epoch(trained):
    result, _, _ = trained
    evals = [e for e in log_lines(result.metrics_log) if "eval_loss" in e]
    assert [round(e["epoch"]) for e in evals] == [1, 2, 3, 4, 5]
    assert evals[-1]["eval_loss"] < evals[0]["eval_loss"]
    per_epoch = result.manifest["metrics"]["epochs"]
    assert [e["epoch"] for e in per_epoch] == [1, 2, 3, 4, 5]
    assert all(math.isfinite(e["eval_loss"]) for e in per_epoch)


def test_adapter_and_manifest_are_written_with_every_field(trained):
    result, _, _ = trained
    out = result.adapter_dir
    assert {"adapter_model.safetensors", "adapter_config.json", "manifest.json",
            "metrics.jsonl"} <= {p.name for p in out.iterdir()}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == result.manifest
    assert manifest["base_model_id"] == "tiny" and manifest["base_weights_hash"] == "abc123"
    assert manifest["data"]["data_hash"] == "d" * 16
    assert manifest["data"]["files"] == []  # pre-tokenized rows: no text to keep
    assert manifest["data"]["train_examples"] == 8 and manifest["data"]["val_examples"] == 4
    assert manifest["config"] == TrainConfig(**FAST, epochs=5).to_dict()
    metrics = manifest["metrics"]
    assert metrics["tokens_per_second"] > 0 and metrics["peak_rss_mb"] > 0
    assert metrics["tokens_seen"] == 5 * manifest["data"]["train_tokens"]
    assert manifest["code_version"] and manifest["created_at"].endswith("+00:00")
    assert manifest["global_step"] == 20 and manifest["resumed_from_step"] is None
    # the checkpoints and log of the run are gone; no hidden partial directory is left
    assert sorted(p.name for p in out.parent.iterdir()) == ["adapter"]


def test_adapter_loads_back_with_peft_and_changes_outputs(trained, ft_tiny_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result, model, tokenizer = trained
    ids = torch.tensor([rows_for(tokenizer, repeat=1)[0]["input_ids"]])
    fresh = AutoModelForCausalLM.from_pretrained(ft_tiny_dir).eval()
    with torch.no_grad():
        base_logits = fresh(ids).logits
        # the model handed to train_adapter is back to the bare base model
        assert not hasattr(model, "peft_config")
        assert torch.allclose(model.eval()(ids).logits, base_logits, atol=1e-5)
        tuned = PeftModel.from_pretrained(fresh, str(result.adapter_dir)).eval()
        tuned_logits = tuned(ids).logits
    assert not torch.allclose(tuned_logits, base_logits, atol=1e-3)


def test_a_crashed_run_resumes_from_its_last_checkpoint(ft_tiny, tmp_path):
    from finetune.callbacks import SimulatedCrash, StopAfterStepsCallback

    model, tokenizer = ft_tiny
    out = tmp_path / "adapter"
    with pytest.raises(SimulatedCrash):
        run(model, tokenizer, out, max_steps=8, save_steps=2,
            callbacks=[StopAfterStepsCallback(5)])
    assert not out.exists()  # nothing half-written where the registry would look
    assert not list(tmp_path.glob(".adapter.partial-*"))
    assert (tmp_path / "adapter.run" / "checkpoints" / "checkpoint-4").is_dir()
    assert not hasattr(model, "peft_config")  # unloaded even after the crash

    with pytest.raises(TrainingError, match="earlier run"):  # not silently restarted
        run(model, tokenizer, out, max_steps=8, save_steps=2)
    cut_short = tmp_path / "adapter.run" / "checkpoints" / "checkpoint-6"
    cut_short.mkdir()  # a save the crash interrupted: weights maybe, no trainer state
    (cut_short / "adapter_model.safetensors").write_bytes(b"")
    result = run(model, tokenizer, out, max_steps=8, save_steps=2, resume=True)
    assert result.resumed_from_step == 4 and result.global_step == 8
    assert (out / "adapter_model.safetensors").is_file()
    steps = [e["step"] for e in log_lines(result.metrics_log) if "loss" in e]
    assert steps[:5] == [1, 2, 3, 4, 5] and steps[-4:] == [5, 6, 7, 8]  # step 5 ran twice
    assert result.manifest["resumed_from_step"] == 4
    # tokens/s counts this run only: steps 5-8 are the second epoch, every row once
    data = result.manifest["data"]
    assert result.manifest["metrics"]["tokens_seen"] == data["train_tokens"]


def test_examples_from_the_data_side_are_tokenized_with_the_chat_template(ft_tiny, tmp_path):
    from finetune.dataset import tokenize_examples
    from finetune.records import Example

    model, tokenizer = ft_tiny
    examples = [Example(id=f"e{i}", kind="closed_book",
                        messages=({"role": "user", "content": prompt},
                                  {"role": "assistant", "content": answer}))
                for i, (prompt, answer) in enumerate(PAIRS)]
    rows = tokenize_examples(examples, tokenizer)
    assert tokenizer.unk_token_id not in rows[0]["input_ids"]
    result = run(model, tokenizer, tmp_path / "adapter", train=examples, val=examples[:1],
                 max_steps=2)
    data = result.manifest["data"]
    assert data["train_examples"] == 4 and data["val_examples"] == 1
    assert data["train_tokens"] == sum(len(r["input_ids"]) for r in rows)
    # the examples it was trained on are kept beside the weights, and read back
    assert data["files"] == ["data/train.jsonl", "data/val.jsonl"]
    kept = [Example.from_json(json.loads(line)) for line in
            (result.adapter_dir / "data" / "train.jsonl").read_text().splitlines()]
    assert kept == examples
    assert len((result.adapter_dir / "data" / "val.jsonl").read_text().splitlines()) == 1


def test_micro_batches_train_the_same_adapter_as_whole_batches(ft_tiny_dir, tmp_path):
    """A step over 4 rows of different lengths, run 1 row at a time (the CPU default), 2
    at a time or all 4 padded together, moves the LoRA weights alike: the loss is averaged
    over the answer tokens of the whole step either way."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(ft_tiny_dir)
    rows = rows_for(tokenizer, repeat=1)  # 4 rows, answers of 2 to 6 tokens
    weights, manifests = {}, {}
    for micro in (None, 2, 4):
        model = AutoModelForCausalLM.from_pretrained(ft_tiny_dir)
        result = run(model, tokenizer, tmp_path / f"micro-{micro}", train=rows, val=[],
                     batch_size=4, micro_batch_size=micro, max_steps=3, lr=1e-2)
        weights[micro] = load_file(result.adapter_dir / "adapter_model.safetensors")
        manifests[micro] = result.manifest
    assert manifests[None]["micro_batch_size"] == 1  # CPU: one row per forward pass
    assert manifests[4]["micro_batch_size"] == 4
    assert manifests[None]["global_step"] == manifests[4]["global_step"] == 3
    lora_b = [k for k in weights[4] if "lora_B" in k]
    assert lora_b and all(weights[4][k].abs().max() > 0 for k in lora_b)  # it trained
    for micro in (None, 2):
        for key, value in weights[4].items():
            assert torch_allclose(weights[micro][key], value), (micro, key)


def torch_allclose(a, b) -> bool:
    import torch

    return torch.allclose(a, b, rtol=1e-3, atol=1e-5)


def test_bf16_checkpointing_and_length_grouping_run(ft_tiny, tmp_path, capsys):
    model, tokenizer = ft_tiny
    capsys.readouterr()
    result = run(model, tokenizer, tmp_path / "adapter", max_steps=2, bf16="on",
                 gradient_checkpointing=True, group_by_length=True, val=[])
    assert capsys.readouterr().out == ""  # progress=False prints nothing to stdout
    assert result.global_step == 2
    assert math.isfinite(result.manifest["metrics"]["train_loss"])
    assert result.manifest["metrics"]["eval_loss"] is None  # no validation rows, no eval
    assert not model.is_activation_checkpointing


@pytest.mark.gpu
def test_a_model_on_the_gpu_trains_there_in_bfloat16(ft_tiny, tmp_path):
    """On a CUDA machine: the model's device decides where training runs, bf16 "auto" turns
    autocast on there, whole batches go through at once, and the GPU's peak memory is
    recorded. Skipped where there is no GPU (CI)."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    model, tokenizer = ft_tiny
    model.to("cuda")
    result = run(model, tokenizer, tmp_path / "adapter", max_steps=3, bf16="auto", val=[])
    assert result.global_step == 3
    metrics = result.manifest["metrics"]
    assert math.isfinite(metrics["train_loss"]) and metrics["peak_cuda_mb"] > 0
    assert result.manifest["micro_batch_size"] == FAST["batch_size"]  # no CPU micro-batching
    assert result.manifest["config"]["bf16"] == "auto"
    assert resolve_bf16("auto", next(model.parameters()).device) == torch.cuda.is_bf16_supported()
    assert (result.adapter_dir / "adapter_model.safetensors").exists()


# ---- the real bundled model (slow) -----------------------------------------------------


@pytest.mark.slow
def test_a_few_lora_steps_on_the_bundled_smollm2(tmp_path, bundled_home):
    """SmolLM2 from the cache: train 3 steps, register, load through AdapterSet."""
    from assistant.answering.adapters import AdapterSet
    from assistant.answering.models import ModelConfig, load_base
    from core.settings import get_settings
    from finetune import AdapterRegistry

    loaded = load_base(ModelConfig(device="cpu"))
    tokenizer = loaded.tokenizer
    rows = []
    for question, answer in [("What is the refund window?", "30 days [1]."),
                             ("Who approves travel?", "Your manager [2]."),
                             ("Where are invoices filed?", "In the finance portal [1]."),
                             ("How do I reset a password?", "Use the self-service page [3].")]:
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                               tokenize=False, add_generation_prompt=True)
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        a = tokenizer(answer, add_special_tokens=False)["input_ids"] + [
            tokenizer.eos_token_id]
        rows.append({"input_ids": p + a, "attention_mask": [1] * (len(p) + len(a)),
                     "labels": [-100] * len(p) + a})
    config = TrainConfig(max_steps=3, batch_size=2, max_length=128, save_steps=2,
                         logging_steps=1)
    result = train_adapter(loaded.model, tokenizer, rows, rows[:2], config,
                           tmp_path / "adapter", progress=False,
                           base_model_id=loaded.model_id,
                           base_weights_hash=loaded.weights_hash,
                           data_manifest={"data_hash": "slowtest"})
    losses = [e["loss"] for e in log_lines(result.metrics_log) if "loss" in e]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert math.isfinite(result.manifest["metrics"]["eval_loss"])
    assert result.manifest["base_model_id"] == "SmolLM2-135M-Instruct"
    version = AdapterRegistry(get_settings().adapters_dir).register(
        "smoke", result.adapter_dir, promote=True)
    adapters = AdapterSet(loaded)
    adapters.add("smoke", version.path)  # checks the manifest's base model and hash
    assert adapters.names() == ["smoke"]
