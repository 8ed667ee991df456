"""Files -> documents -> chunks -> vectors.

Import from the submodules; names are listed here as the package's public API.
Nothing is imported eagerly, so ``import ingest`` stays cheap.
"""

__all__ = [
    # records.py
    "Section",
    "Document",
    "Chunk",
    # errors.py
    "AssistantError",
    "ConfigError",
    "InputFileError",
    "IndexNotFoundError",
    "IndexMismatchError",
    "IndexLockedError",
    # discover.py / loaders.py
    "DiscoverConfig",
    "FileEntry",
    "Skipped",
    "discover",
    "load_document",
    # chunking.py / embedding.py
    "ChunkerConfig",
    "Chunker",
    "EmbedderConfig",
    "Embedder",
    # pipeline.py
    "IngestConfig",
    "IngestReport",
    "ingest",
]

_HOMES = {
    "Section": "records", "Document": "records", "Chunk": "records",
    "AssistantError": "errors", "ConfigError": "errors", "InputFileError": "errors",
    "IndexNotFoundError": "errors", "IndexMismatchError": "errors", "IndexLockedError": "errors",
    "DiscoverConfig": "discover", "FileEntry": "discover", "Skipped": "discover",
    "discover": "discover", "load_document": "loaders",
    "ChunkerConfig": "chunking", "Chunker": "chunking",
    "EmbedderConfig": "embedding", "Embedder": "embedding",
    "IngestConfig": "pipeline", "IngestReport": "pipeline", "ingest": "pipeline",
}


def __getattr__(name: str):
    """Lazy access to the public names (``from ingest import Embedder``)."""
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"ingest.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")
