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


@pytest.mark.parametrize("value", ["9223372036854775808", "99999999999999999999", "-1e3", "\u0661", "abc"])
def test_an_absurd_event_filter_on_pending_answers_is_a_400(client, auth, make_user, value):
    """``event_id=9223372036854775808`` overflowed SQLite's integer: a 500."""
    auth.login(make_user("coordinator").email)
    response = client.get("/reponses-attendues", query_string={"event_id": value})
    assert response.status_code == 400
    assert "Filtre invalide" in response.get_data(as_text=True)


def test_a_plain_event_filter_on_pending_answers_still_works(client, auth, make_user, make_event):
    auth.login(make_user("coordinator").email)
    event = make_event()
    assert client.get("/reponses-attendues", query_string={"event_id": str(event.id)}).status_code == 200
    assert client.get("/reponses-attendues", query_string={"event_id": ""}).status_code == 200


@pytest.mark.parametrize(
    "path,name",
    [
        ("/acteurs", "category"),
        ("/acteurs", "q"),
        ("/clients", "q"),
        ("/devis", "status"),
        ("/annuaire", "commune"),
    ],
)
def test_a_nul_character_in_a_query_string_is_a_400(client, auth, make_user, path, name):
    """``/acteurs?category=%00`` was a 500 on PostgreSQL (text cannot hold NUL); no filter can match
    it, so every GET with one answers 400, on both databases."""
    auth.login(make_user("coordinator").email)
    response = client.get(path, query_string={name: "a\x00b"})
    assert response.status_code == 400
    assert "caractère nul" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", [2**31, 2**63])
def test_an_identifier_beyond_the_database_integers_is_a_404_on_every_route(
    app, client, auth, make_user, value
):
    """``/evenements/2147483648`` was a 500 on PostgreSQL (its ids are 32-bit integers), and
    ``/evenements/9223372036854775808`` on SQLite: every ``<int:…>`` of every route stops at 2³¹ − 1."""
    from werkzeug.routing import IntegerConverter

    auth.login(make_user("admin").email)
    answers = {}
    for rule in app.url_map.iter_rules():
        ints = [
            name for name, converter in rule._converters.items() if isinstance(converter, IntegerConverter)
        ]
        if not ints:
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<int:{name}>", str(value)).replace(f"<{name}>", "x")
        method = "GET" if "GET" in rule.methods else "POST"
        answers[f"{method} {path}"] = client.open(path, method=method).status_code
    assert answers and {key: status for key, status in answers.items() if status != 404} == {}


def test_the_pending_answers_filter_stops_at_the_largest_identifier(client, auth, make_user):
    auth.login(make_user("coordinator").email)
    assert client.get("/reponses-attendues", query_string={"event_id": str(2**31)}).status_code == 400
    assert client.get("/reponses-attendues", query_string={"event_id": str(2**31 - 1)}).status_code == 200
