"""Files -> documents -> chunks -> vectors.

Writing them into an index is ``index.build.ingest``; the errors are in ``core.errors``.

Import from the submodules; names are listed here as the package's public API.
Nothing is imported eagerly, so ``import ingest`` stays cheap.
"""

__all__ = [
    # records.py
    "Section",
    "Document",
    "Chunk",
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
    # versions.py / families.py / metadata_file.py
    "VersionInfo",
    "read_version_info",
    "DocFacts",
    "resolve_families",
    "MetadataRules",
    # pipeline.py
    "Parsed",
    "parse_and_chunk",
    "parse_all",
    "embed_chunks",
]

_HOMES = {
    "Section": "records", "Document": "records", "Chunk": "records",
    "DiscoverConfig": "discover", "FileEntry": "discover", "Skipped": "discover",
    "discover": "discover", "load_document": "loaders",
    "ChunkerConfig": "chunking", "Chunker": "chunking",
    "EmbedderConfig": "embedding", "Embedder": "embedding",
    "Parsed": "pipeline", "parse_and_chunk": "pipeline", "parse_all": "pipeline",
    "embed_chunks": "pipeline",
    "VersionInfo": "versions", "read_version_info": "versions",
    "DocFacts": "families", "resolve_families": "families",
    "MetadataRules": "metadata_file",
}


def __getattr__(name: str):
    """Lazy access to the public names (``from ingest import Embedder``)."""
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"ingest.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")
