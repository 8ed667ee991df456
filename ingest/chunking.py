"""Split documents into chunks sized in the embedder's own tokens.

Chunks never cross a section (page or heading) boundary, so every chunk has one page
and one heading path to cite. Inside a section, langchain's recursive splitter prefers
paragraph, then line, then sentence, then word boundaries, with a token overlap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from core.errors import ConfigError
from ingest.ids import chunk_id_for
from ingest.records import Chunk, Document

logger = logging.getLogger(__name__)

TokenCounter = Callable[[str], int]
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]
# Tokens kept free in the embedder window for [CLS]/[SEP] and the title/heading prefix.
SPECIAL_TOKENS = 2


@dataclass(frozen=True)
class ChunkerConfig:
    """Chunk size and overlap in embedder tokens; ``prefix_tokens`` caps the heading prefix."""

    chunk_tokens: int = 192
    overlap_tokens: int = 32
    prefix_tokens: int = 48

    def __post_init__(self) -> None:
        if not 16 <= self.chunk_tokens <= 8192:
            raise ConfigError(f"chunker.chunk_tokens must be in 16..8192, got {self.chunk_tokens}")
        if not 0 <= self.overlap_tokens <= self.chunk_tokens // 2:
            raise ConfigError(
                "chunker.overlap_tokens must be in 0..chunk_tokens/2 "
                f"(0..{self.chunk_tokens // 2}), got {self.overlap_tokens}"
            )
        if not 0 <= self.prefix_tokens <= 256:
            raise ConfigError(f"chunker.prefix_tokens must be in 0..256, got {self.prefix_tokens}")

    def check_window(self, max_tokens: int) -> None:
        """Fail when a chunk plus its prefix could not fit the embedder's window."""
        need = self.chunk_tokens + self.prefix_tokens + SPECIAL_TOKENS
        if need > max_tokens:
            raise ConfigError(
                f"chunker.chunk_tokens + prefix_tokens + {SPECIAL_TOKENS} = {need} exceeds the "
                f"embedder's {max_tokens}-token window; lower chunk_tokens to at most "
                f"{max_tokens - self.prefix_tokens - SPECIAL_TOKENS}"
            )


class Chunker:
    """Turns a ``Document`` into ``Chunk`` records; ``count_tokens`` is the embedder's."""

    def __init__(self, config: ChunkerConfig, count_tokens: TokenCounter) -> None:
        self.config = config
        self.count_tokens = count_tokens
        self._splitter = RecursiveCharacterTextSplitter(
            separators=SEPARATORS,
            keep_separator="end",
            chunk_size=config.chunk_tokens,
            chunk_overlap=config.overlap_tokens,
            length_function=count_tokens,
            strip_whitespace=True,
        )

    def chunk(self, doc: Document) -> list[Chunk]:
        """Split ``doc`` section by section; offsets point into ``doc.text``."""
        chunks: list[Chunk] = []
        for section, (sec_start, _) in zip(doc.sections, doc.section_offsets(), strict=True):
            cursor = 0
            floor = 0
            for piece in self._split(section.text):
                # Overlap is at most half a chunk, so the next chunk starts past the middle of
                # this one; searching from there keeps repeated text from matching too early.
                found = section.text.find(piece, cursor)
                if found < 0:
                    found = section.text.find(piece, floor)
                if found < 0:  # the splitter only strips and cuts, so this would be a bug
                    raise AssertionError(f"chunk text not found in section of {doc.source}")
                start = sec_start + found
                chunks.append(
                    Chunk(
                        chunk_id=chunk_id_for(doc.doc_id, start, piece),
                        doc_id=doc.doc_id,
                        source=doc.source,
                        text=piece,
                        start=start,
                        end=start + len(piece),
                        page_index=section.page_index,
                        page_label=section.page_label,
                        heading=section.heading,
                        title=doc.title,
                    )
                )
                floor = found + 1
                cursor = found + max(1, len(piece) // 2)
        return chunks

    def _split(self, text: str) -> list[str]:
        if not text.strip():
            return []
        pieces = []
        for piece in self._splitter.split_text(text):
            if self.count_tokens(piece) > self.config.chunk_tokens:
                pieces.extend(self._hard_split(piece))
            elif piece:
                pieces.append(piece)
        return pieces

    def _hard_split(self, text: str) -> list[str]:
        """Last resort for text with no separators that still overflows: halve until it fits."""
        if self.count_tokens(text) <= self.config.chunk_tokens or len(text) < 2:
            return [text]
        mid = len(text) // 2
        return self._hard_split(text[:mid]) + self._hard_split(text[mid:])


def embedding_text(chunk: Chunk, count_tokens: TokenCounter, prefix_tokens: int) -> str:
    """The text that is embedded: title and heading path (capped), then the chunk.

    Short chunks under a heading ("Refund window\\n30 days.") embed far better with their
    context; the cap keeps the whole thing inside the embedder's window.
    """
    parts = [p for p in (chunk.title, *chunk.heading) if p]
    # Drop a heading that repeats the title (Markdown H1 usually is the title).
    if len(parts) > 1 and parts[0] == parts[1]:
        parts = parts[1:]
    prefix = " > ".join(parts)
    while prefix and count_tokens(prefix) > prefix_tokens:
        prefix = prefix[: len(prefix) * 3 // 4]
    return f"{prefix}\n{chunk.text}" if prefix else chunk.text
