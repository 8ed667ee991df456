"""Fixtures for the ingest tests: PDFs built in the test, the shared real PDFs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from shared_data import SHARED_DATA

SHARED_PDFS = SHARED_DATA / "pdfs"

MakePdf = Callable[..., Path]


@pytest.fixture
def make_pdf(tmp_path: Path) -> MakePdf:
    """Build a PDF with one text block per page; returns its path.

    ``labels`` maps a 0-based page number to an fpdf2 label style ("r", "D", ...) that
    starts there at 1. ``user_password`` encrypts with a password needed to open it;
    ``owner_password`` alone encrypts with an empty user password.
    """
    from fpdf import FPDF

    def build(
        pages: Sequence[str],
        name: str = "doc.pdf",
        *,
        labels: dict[int, str] | None = None,
        title: str | None = None,
        owner_password: str | None = None,
        user_password: str | None = None,
    ) -> Path:
        pdf = FPDF()
        pdf.set_font("helvetica", size=12)
        if title is not None:
            pdf.set_title(title)
        for i, text in enumerate(pages):
            pdf.add_page()
            if labels and i in labels:
                pdf.set_page_label(labels[i], label_start=1)
            if text:
                pdf.multi_cell(0, 8, text)
        if owner_password is not None:
            pdf.set_encryption(owner_password=owner_password, user_password=user_password)
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pdf.output(str(path))
        return path

    return build


@pytest.fixture
def shared_pdf() -> Callable[[str], Path]:
    """Path of a read-only real PDF from /work/shared/data/pdfs; skips when absent."""

    def get(name: str) -> Path:
        path = SHARED_PDFS / name
        if not path.is_file():
            pytest.skip(f"shared test data not available: {path}")
        return path

    return get
