"""Tables in a PDF's text layer, written as pipe rows.

pypdf extracts a table row as its cells joined by single spaces ("Cloud storage 500 MB
20 GB 100 GB"), so nothing tells which value is under "Plus"; the positions of the runs
of text do. A table here is a header line and at least ``MIN_TABLE_ROWS`` lines right
under it on the same page, each cut into the same number (two or more) of cells at
column gaps (``pdf_lines.cells``), every cell starting within ``ALIGN_PT`` points of
its header cell, and the header's cells labels (``text.is_label``: "Feature", "Plus",
"Price (US)"; not figures or sentences, so a list of values with no header stays as
written). Its lines become a pipe table with its separator, "| Feature | Free | Plus |
Premium |", "| --- | --- | --- | --- |", "| Cloud storage | 500 MB | 20 GB | 100 GB |",
a long one in blocks under its header as HTML tables are (``text.table_row_blocks``), and
the evidence splitter reads each row under its header ("Feature: Cloud storage; Free:
500 MB; Plus: 20 GB; Premium: 100 GB"), as it reads Markdown and HTML tables. The table's
text stands on its header's line; its rows' lines keep their runs (for the heading
finder) with no text. Bulleted lists (a dash, then its text a few points on) and
prose have no column gap, and are untouched.
"""

from __future__ import annotations

from dataclasses import replace

from ingest.pdf_lines import Line, PageText, cells
from ingest.text import is_label, table_row_blocks

MIN_TABLE_ROWS = 2  # body rows under the header
ALIGN_PT = 3.0  # how far a row's cell may start from its header cell's start


def _cell_texts(line: Line) -> list[tuple[float, str]]:
    """(x, text) of each cell of ``line``."""
    return [(group[0].x, " ".join("".join(s.text for s in group).split()))
            for group in cells(line.ink())]


def _fits(header: list[tuple[float, str]], row: list[tuple[float, str]]) -> bool:
    return len(row) == len(header) and all(
        abs(x - hx) <= ALIGN_PT and text for (x, text), (hx, _) in zip(row, header, strict=True))


def tabulate(page: PageText) -> PageText:
    """``page`` with every table's lines written as pipe rows (module docstring); the
    other lines, and pages whose layout could not be read, unchanged."""
    lines = list(page.lines)
    if not lines:
        return page
    found = [_cell_texts(line) for line in lines]
    rewritten: dict[int, str] = {}
    i = 0
    while i < len(lines):
        header = found[i]
        end = i + 1
        if len(header) >= 2 and all(is_label(text) for _, text in header):
            while end < len(lines) and _fits(header, found[end]):
                end += 1
        if end - i - 1 >= MIN_TABLE_ROWS:
            rows = ["| " + " | ".join(text.replace("|", "/") for _, text in row) + " |"
                    for row in found[i:end]]
            top = [rows[0], "|" + " --- |" * len(header)]
            table = "\n\n".join(table_row_blocks(top, [(r, False) for r in rows[1:]]))
            last = lines[end - 1].text
            # the whole table on its header's line; the rows' lines keep their runs, no text
            rewritten[i] = table + last[len(last.rstrip("\r\n")):]
            rewritten.update((j, "") for j in range(i + 1, end))
            i = end
        else:
            i += 1
    if not rewritten:
        return page
    out: list[Line] = []
    pos = 0
    for j, line in enumerate(lines):
        text = rewritten.get(j, line.text)
        out.append(replace(line, start=pos, end=pos + len(text), text=text))
        pos += len(text)
    return PageText("".join(line.text for line in out), tuple(out))
