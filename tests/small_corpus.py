"""The small support corpus the server and agent-integration tests index: two Markdown
pages and a two-page PDF, written fresh into a test's folder.

A plain module (not a conftest) so any test folder can import it by a unique name. The
eval tests keep a corpus of their own (``tests/eval/eval_doubles.py``): their questions
need section headings and a third page this one does not have.
"""

from __future__ import annotations

from pathlib import Path

CORPUS = {
    "policies/refunds.md": (
        "# Refunds\n\nYou can return a product within 30 days of delivery for a full refund. "
        "Refunds are paid to the original payment method within 5 business days.\n\n"
        "## Damaged items\n\nA damaged item is replaced free of charge; send a photo to "
        "support first.\n"
    ),
    "support/wifi.md": (
        "# Wi-Fi setup\n\nHold the pairing button for five seconds until the light blinks "
        "blue, then open the Acme Home app and choose Add device.\n"
    ),
}
PDF_PAGES = [
    "SweepBot X9 manual. This manual covers setup and care of the robot vacuum.",
    "Rinse the dust filter every two weeks. To clean the brush, remove the brush cover.",
]
PDF_NAME = "manuals/sweepbot-x9.pdf"


def write_corpus(root: Path) -> Path:
    """Write ``CORPUS`` and the PDF of ``PDF_PAGES`` under ``root``; return ``root``."""
    from fpdf import FPDF

    for name, text in CORPUS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in PDF_PAGES:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    (root / PDF_NAME).parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(root / PDF_NAME))
    return root
