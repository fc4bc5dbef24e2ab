"""What the fuzzer (``test_fuzz.py``) found, each pinned by a test that failed before its fix."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.parsing import text_error
from invoicing.models import Invoice
from invoicing.services import invoices as invoice_service
from tests.conftest import csrf_token
from tests.invoicing.test_invoices import accepted, treasurer  # noqa: F401  (fixtures)


@pytest.mark.parametrize("bad", ["\x00", "Erreur\x0b de quantité", "\x1b[31m", "\ufffe"])
def test_a_credit_note_reason_with_a_control_character_is_a_form_error(
    client,
    auth,
    accepted,  # noqa: F811
    treasurer,  # noqa: F811
    bad,
):
    """A NUL in the reason ended in a 500: the Factur-X XML refuses it (lxml's ValueError)."""
    invoice = invoice_service.issue_final(accepted, treasurer, today=date(2026, 3, 10))
    auth.login(treasurer.email)
    page = client.get(f"/factures/{invoice.id}")
    response = client.post(
        f"/factures/{invoice.id}/avoir",
        data={"reason": bad, "amount": "", "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert response.status_code == 400
    assert "caractère de contrôle" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 1


def test_text_error_keeps_lines_and_tabs():
    assert text_error("Première ligne\r\n\tseconde ligne – été") is None
    assert text_error("nul\x00") is not None
    assert text_error("\x85") is not None
    assert text_error(None) is None
