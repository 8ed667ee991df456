"""The project's exception hierarchy.

It lives in the lowest package (``core``) so that every other package can raise and
catch it without import cycles. The CLI turns these into one-line messages and exit
codes; the HTTP API into 4xx/5xx JSON bodies.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class for every error this project raises on purpose."""


class ConfigError(AssistantError, ValueError):
    """A configuration value is out of range or unknown; the message names the field."""


class InputFileError(AssistantError):
    """One input file cannot be ingested. Ingestion reports it and goes on with the rest."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IndexNotFoundError(AssistantError):
    """The index directory does not exist or holds no published version."""


class IndexMismatchError(AssistantError):
    """The index was built with another embedder (or format) than the one asked for."""


class IndexLockedError(AssistantError):
    """Another ingest is writing this index right now."""
