"""Invoice and credit-note documents: the PDF (PDF/A-3b) rendered once from the frozen values, with
its Factur-X XML where available. Never re-rendered after issue."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale

from app.pdf import render_pdf
from invoicing import mentions as legal

TITLES = {
    "invoice": "Facture",
    "deposit": "Facture d'acompte",
    "credit_note": "Avoir",
}


def render_html(invoice, lines, event) -> str:
    with force_locale("fr"):
        return render_template(
            "pdf/invoice.html",
            invoice=invoice,
            lines=lines,
            title=TITLES[invoice.kind.value],
            seller=invoice.seller,
            buyer=invoice.buyer,
            event=event,
            operation=legal.OPERATION_CATEGORIES[invoice.operation_category],
        )


def render_invoice(invoice, lines, event) -> tuple[bytes, bytes | None]:
    """The PDF (PDF/A-3b) and its embedded XML (``None`` until the Factur-X layer is present)."""
    html = render_html(invoice, lines, event)
    return render_pdf(html, pdf_variant="pdf/a-3b"), None
