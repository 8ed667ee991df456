"""A reader that judges evidence units instead of writing answers (opt-in).

Extraction (``extract``) answers only when a unit shares enough of the question's words;
a paraphrased question ("I typed my password wrong too many times ...") shares too few
with the unit that answers it, and is declined. A ``UnitJudge`` puts each of the best
units to a causal LM as "Question: ... Sentence: ... Does the sentence answer the
question?" and reads P(yes) from its first reply token (the logits of "Yes" against
"No"). Where extraction declines, ``extract.judged`` answers from the unit the judge rates
highest, among those that name the question's required terms and hold a span of the
kind asked for, when P(yes) is at least ``min_p``: still a quote of the documents, cited,
never text the model wrote.

Which model: the bundled SmolLM2-135M and the experimental 0.5B judge units worse than
the embedder ranks them (acme dev unit hit@1 0.30 and 0.34 against 0.59); a 1.5B
instruct model is the smallest measured that ranks them better (0.62), and on acme dev
it lets extraction answer 39 questions right and 5 wrong where the rules alone answer 30
and 4, declining as many unanswerable ones; on the PostgreSQL manual's dev split it adds
3 right answers for 5 wrong ones (17 / 10 against 14 / 5), and at ``min_p`` 0.7 about one
of each on both (``benchmarks/unit_judge.py``, benchmarks/README.md). As a veto on
extraction's answers it removes right answers before wrong ones, so it is not used so.
None that size ships in a package this project may depend on, so the judge is off unless
``answer_unit_judge`` names a model (a local directory, a ``.gguf`` file, or a hub id
where a hub is reachable). The weights load on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.errors import ConfigError

if TYPE_CHECKING:
    from assistant.answering.evidence import EvidenceUnit
    from assistant.answering.models import LoadedModel

DEFAULT_MIN_P = 0.5  # P(yes) > P(no); acme dev, see the module docstring
SYSTEM = ("You check whether a sentence from a company's documents answers a customer's "
          "question. Reply with Yes or No only.")


class UnitJudge:
    """P(yes) that each unit answers a question, from ``model``'s first reply token.

    ``model``: anything ``models.ModelConfig`` takes (bundled name, directory, ``.gguf``,
    hub id). Loaded once, on the first call, under a lock (``ModelLoadError`` then when it
    cannot be). ``min_p`` is the P(yes) a unit needs to answer (``ConfigError`` outside
    [0, 1]).
    """

    def __init__(self, model: str, min_p: float = DEFAULT_MIN_P, device: str = "auto",
                 loaded: LoadedModel | None = None) -> None:
        if not 0.0 <= min_p <= 1.0:
            raise ConfigError(f"the unit judge's min_p must be in [0, 1], got {min_p}")
        if not model or not model.strip():
            raise ConfigError("the unit judge needs a model: a directory, .gguf or hub id")
        self.model_name, self.min_p, self.device = model, min_p, device
        self._loaded = loaded
        self._lock = threading.Lock()
        self._yes: list[int] = []
        self._no: list[int] = []

    def _model(self) -> LoadedModel:
        with self._lock:
            if self._loaded is None:
                from assistant.answering.models import ModelConfig, load_base

                self._loaded = load_base(ModelConfig(base=self.model_name,
                                                     device=self.device))
            if not self._yes:
                tok = self._loaded.tokenizer
                self._yes = sorted({_first(tok, w) for w in ("Yes", " Yes", "yes")})
                self._no = sorted({_first(tok, w) for w in ("No", " No", "no")})
            return self._loaded

    def __call__(self, question: str, units: Sequence[EvidenceUnit]) -> list[float]:
        """P(yes) for each of ``units`` (one batched forward pass)."""
        if not units:
            return []
        import torch

        loaded = self._model()
        tok = loaded.tokenizer
        prompts = [tok.apply_chat_template(
            [{"role": "system", "content": SYSTEM},
             {"role": "user", "content": f"Question: {question}\nSentence: {u.display}\n"
                                         "Does the sentence answer the question?"}],
            tokenize=False, add_generation_prompt=True) for u in units]
        side, tok.padding_side = tok.padding_side, "left"  # the last position is the reply's
        try:
            batch = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        finally:
            tok.padding_side = side
        batch = {k: v.to(loaded.device) for k, v in batch.items()}
        with torch.no_grad():
            logits = loaded.model(**batch).logits[:, -1].float()
        logp = torch.log_softmax(logits, -1)
        yes = torch.logsumexp(logp[:, self._yes], -1)
        no = torch.logsumexp(logp[:, self._no], -1)
        return torch.sigmoid(yes - no).tolist()


def _first(tokenizer, word: str) -> int:
    return tokenizer(word, add_special_tokens=False)["input_ids"][0]
