"""Plain-text pieces of answer records, for every surface that answers in text.

They work on the JSON records (``Answer.to_json()``, a passage's or citation's
``to_json()``), so the remote client renders exactly what the server would, and they
import nothing heavier than the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

RELATED_SHOWN = 3  # related passages an abstention shows, closest first
RELATED_CHARS = 200  # of each one's text


def where(item: Mapping[str, Any]) -> str:
    """``source p.N (label L) § heading`` for a passage or citation record."""
    text = str(item.get("source", ""))
    page, label = item.get("page_index"), item.get("page_label")
    if page is not None:
        text += f" p.{page}"
        if label and str(label) != str(page):
            text += f" (label {label})"
    if item.get("heading"):
        text += f" \u00a7 {item['heading']}"
    return text


def related_text(passages: Sequence[Mapping[str, Any]]) -> str:
    """"Related passages:" and one ``- where: text`` line for each of the first
    ``RELATED_SHOWN`` passage records (text cut to ``RELATED_CHARS`` characters); "" for
    none. An abstention shows these, the closest evidence found, instead of sources."""
    lines = [f"- {where(p)}: {' '.join(str(p.get('text', '')).split())[:RELATED_CHARS]}"
             for p in list(passages)[:RELATED_SHOWN]]
    return "Related passages:\n" + "\n".join(lines) if lines else ""
