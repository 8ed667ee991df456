"""Service settings read from the environment (prefix ``ASSISTANT_``).

``get_settings()`` builds them once per process and caches the result; tests that change
the environment call ``get_settings.cache_clear()`` afterwards. Nothing is read at import.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)


class Settings(BaseSettings):
    """Where the assistant keeps its state.

    ``home`` (``ASSISTANT_HOME``, default ``~/.assistant``) holds converted base models
    under ``models/`` and installed LoRA adapters under ``adapters/``. Unknown
    ``ASSISTANT_*`` variables are ignored by pydantic-settings' env source, but unknown
    keyword arguments are an error.
    """

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="forbid")

    home: Path = Field(default_factory=lambda: Path.home() / ".assistant")

    @property
    def models_dir(self) -> Path:
        """Converted and cached base models: ``home/models``."""
        return self.home.expanduser() / "models"

    @property
    def adapters_dir(self) -> Path:
        """Installed LoRA adapters: ``home/adapters``."""
        return self.home.expanduser() / "adapters"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide ``Settings``, read from the environment on first call."""
    return Settings()
