"""A tiny Llama and word-level tokenizer built offline, shared by the test folders.

A plain module (not a conftest) so any test file can import it by a unique name. Each
folder passes its own vocabulary and context size; the architecture is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

SPECIAL = ("<pad>", "<unk>", "<eos>", "<|system|>", "<|user|>", "<|assistant|>")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <eos> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tiny_model(
    directory: Path,
    words: str,
    seed: int = 0,
    max_positions: int = 256,
    special: Sequence[str] = SPECIAL,
    zero_eos: bool = True,
) -> Path:
    """Save a 2-layer, 64-wide Llama and a word-level tokenizer over ``words`` as a HF dir.

    With ``zero_eos`` the end token's output row is zeroed (logit 0, while some of the
    random logits is positive all but surely), so greedy decoding runs to
    ``max_new_tokens`` instead of ending at random after a word or two.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(list(special) + sorted(set(words.split())))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>",
        additional_special_tokens=list(special[3:]),
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=max_positions,
        bos_token_id=None, eos_token_id=vocab["<eos>"], pad_token_id=vocab["<pad>"],
        tie_word_embeddings=False, initializer_range=0.2,
    )
    model = LlamaForCausalLM(config)
    if zero_eos:
        with torch.no_grad():
            model.lm_head.weight[vocab["<eos>"]] = 0.0
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


GROUNDED_WORDS = (  # a vocabulary for the server and eval tests' support questions
    "the cat sat on a mat . who sat where ? answer with one word please . a dog ran to the "
    "park and the bird flew over it while people watched refund days brush filter wifi"
)


def build_grounded_model(directory: Path, seed: int = 0, extra_words: str = "") -> Path:
    """The tiny Llama over ``GROUNDED_WORDS`` (plus ``extra_words``) with 2048 positions:
    grounded prompts carry whole passages."""
    return build_tiny_model(directory, f"{GROUNDED_WORDS} {extra_words}", seed=seed,
                            max_positions=2048)


def build_lora_adapter(base_dir: Path, out: Path, loaded=None, seed: int = 1,
                       target_modules: tuple[str, ...] = ("q_proj", "v_proj")) -> Path:
    """An untrained LoRA adapter on ``base_dir`` (random B matrices, so outputs change).
    Given the ``loaded`` base, it also writes the manifest the registry requires."""
    import json

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8,
                                                  target_modules=list(target_modules)))
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.5)
    peft_model.save_pretrained(out)
    if loaded is not None:
        (out / "manifest.json").write_text(json.dumps(
            {"base_model_id": loaded.model_id, "base_weights_hash": loaded.weights_hash}))
    return out


def build_tiny_embedder(directory: Path, seed: int = 0) -> Path:
    """A 2-layer, 32-dim BERT with the bundled embedder's tokenizer, saved as a
    sentence-transformers directory (random weights: it ranks no better than chance, and
    scores units differently from the bundled model)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling
    from transformers import AutoTokenizer, BertConfig, BertModel

    try:  # sentence-transformers 6
        from sentence_transformers.base.modules.transformer import Transformer
    except ImportError:  # 5.x
        from sentence_transformers.models import Transformer

    from ingest.embedding import resolve_model_path

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2"))
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=256)
    BertModel(config).save_pretrained(directory / "bert")
    tokenizer.save_pretrained(directory / "bert")
    model = SentenceTransformer(modules=[Transformer(str(directory / "bert"), max_seq_length=128),
                                         Pooling(32), Normalize()], device="cpu")
    model.save(str(directory / "st"))
    return directory / "st"
