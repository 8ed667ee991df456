"""Service settings read from the environment (prefix ``ASSISTANT_``).

``get_settings()`` builds them once per process and caches the result; tests that change
the environment call ``get_settings.cache_clear()`` afterwards. Nothing is read at import.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from core.errors import ConfigError

logger = logging.getLogger(__name__)


class Settings(BaseSettings):
    """Where the assistant keeps its state.

    ``home`` (``ASSISTANT_HOME``, default ``~/.assistant``) holds converted base models
    under ``models/`` and installed LoRA adapters under ``adapters/``. Unknown
    ``ASSISTANT_*`` variables are ignored by pydantic-settings' env source, but unknown
    keyword arguments are an error.

    ``server_*`` fields configure ``assistant serve`` (``ASSISTANT_SERVER_PORT`` etc.;
    ``assistant.server`` documents each one).
    """

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="forbid")

    home: Path = Field(default_factory=lambda: Path.home() / ".assistant")

    # -- assistant serve (see assistant.server) --------------------------------------
    server_index: Path | None = None
    server_host: str = "127.0.0.1"
    server_port: int = Field(default=8000, ge=0, le=65535)
    server_api_keys: list[str] = Field(default_factory=list)  # full-access keys (JSON list)
    server_api_keys_file: Path | None = None  # full-access keys, one a line (a mounted secret)
    server_keys_db: Path | None = None  # the key store; None: home/keys.sqlite
    server_model: str = "SmolLM2-135M-Instruct"
    server_device: str = "auto"
    server_adapters: dict[str, Path] = Field(default_factory=dict)
    server_registry: Path | None = None
    server_feedback_db: Path | None = None
    server_verifier_embedder: str | None = None  # None: the index's embedder
    server_search_mode: Literal["bm25", "dense", "hybrid"] = "hybrid"  # when a request names none
    # How hybrid search fuses BM25 and dense results (index/hybrid.py): a weighted sum of
    # scores scaled to 0..1 (convex), or reciprocal-rank fusion (rrf, the default before);
    # the dense weight in 0..1, BM25's being 1 minus it (None: equal weights).
    search_fusion: Literal["convex", "rrf"] = "convex"
    search_dense_weight: float | None = Field(default=None, ge=0.0, le=1.0)
    server_max_request_bytes: int = Field(default=1 << 20, ge=1024)
    server_max_question_chars: int = Field(default=4000, ge=1)
    server_max_new_tokens: int = Field(default=256, ge=1, le=8192)
    server_max_concurrent: int = Field(default=8, ge=1)
    server_timeout_s: float = Field(default=120.0, gt=0)
    server_batch_window_ms: float = Field(default=15.0, ge=0, le=1000)
    server_max_batch: int | None = Field(default=None, ge=1, le=256)  # None: 8 on a GPU, 1 on CPU
    server_refresh_s: float = Field(default=5.0, gt=0)
    # How answers are made everywhere (ask, serve, integrations): from evidence units, each
    # answer checked and cited (true), or the model over whole passages (false).
    answer_evidence_first: bool = True
    # Whether the model may write an answer when no evidence unit answers by extraction.
    # None (the default): not with evidence-first answering, which then extracts or
    # declines, every answer a cited quote (on both dev splits, the untuned model's answers
    # after extraction were wrong 11 times for 4 right ones; eval/reports/README.md); over
    # whole passages the model is the only one that can answer. true: the model answers
    # what extraction cannot (a stronger or tuned reader).
    answer_generate: bool | None = None
    # What scores evidence units: None, the verifier's embedder (the index's, or
    # server_verifier_embedder); or a unit selector tuned by `assistant finetune --mode
    # selector`, as NAME@vN, NAME (its newest version) or its directory.
    answer_unit_selector: str | None = None
    # A reader that judges evidence units where extraction declines (assistant/answering/
    # judge.py): a model directory, .gguf file or hub id; None (the default) for none.
    # The answer is still a cited quote of the unit it picks, when P(yes) >= min_p.
    answer_unit_judge: str | None = None
    answer_unit_judge_min_p: float = Field(default=0.5, ge=0.0, le=1.0)
    # The names the whole corpus is about, comma-separated ("PostgreSQL, Postgres" for its
    # manual, "Acme, Acme Robotics" for a company's own documents): a question naming one
    # needs no evidence unit to repeat it. None (the default): every name a question gives
    # must be in the unit that answers, or in its passage.
    answer_corpus_names: str | None = None

    @property
    def corpus_names(self) -> tuple[str, ...]:
        """``answer_corpus_names`` as a tuple of names (empty entries dropped)."""
        raw = self.answer_corpus_names or ""
        return tuple(n.strip() for n in raw.split(",") if n.strip())

    @property
    def models_dir(self) -> Path:
        """Converted and cached base models: ``home/models``."""
        return self.home.expanduser() / "models"

    @property
    def adapters_dir(self) -> Path:
        """Installed LoRA adapters: ``home/adapters``."""
        return self.home.expanduser() / "adapters"

    @property
    def embedders_dir(self) -> Path:
        """Embedders tuned by ``assistant finetune --mode retriever`` and unit selectors
        tuned by ``--mode selector``: ``home/embedders``."""
        return self.home.expanduser() / "embedders"

    @property
    def keys_db(self) -> Path:
        """The API key store (``assistant keys``): ``server_keys_db`` or
        ``home/keys.sqlite``."""
        return (self.server_keys_db or self.home / "keys.sqlite").expanduser()

    @property
    def feedback_db(self) -> Path:
        """The server's answers + feedback SQLite file: ``server_feedback_db`` or
        ``home/feedback.sqlite3``."""
        return (self.server_feedback_db or self.home / "feedback.sqlite3").expanduser()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide ``Settings``, read from the environment on first call.

    Raises ``ConfigError`` naming each ``ASSISTANT_*`` variable whose value is unusable.
    """
    try:
        return Settings()
    except ValidationError as exc:
        problems = [_problem(e) for e in exc.errors()]
        raise ConfigError(f"bad setting: {'; '.join(problems)}") from None
    except SettingsError as exc:  # a list or table setting that is not JSON
        found = re.search(r'field "(\w+)"', str(exc))
        name = _env_name((found.group(1),)) if found else "an ASSISTANT_* variable"
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        raise ConfigError(f"bad setting: {name} is not valid JSON{cause}; lists and tables "
                          "are given as JSON, e.g. '[\"a\", \"b\"]' or '{\"name\": "
                          "\"/path\"}'") from None


def _env_name(loc: tuple) -> str:
    name = f"{Settings.model_config['env_prefix']}{str(loc[0]).upper()}"
    return name + "".join(f"[{part!r}]" for part in loc[1:])


def _problem(error: dict) -> str:
    loc = tuple(error.get("loc") or ("?",))
    shown = "" if "key" in str(loc[0]) else f" (got {error.get('input')!r})"  # no secrets
    return f"{_env_name(loc)}: {error['msg']}{shown}"
