"""Hostile input, tried through the app: each value a fuzzer found answers 400 or a form error,
never a 500, and changes nothing (issue 14, items 1, 2 and 10)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Category
from app.parsing import parse_plain_decimal, parse_plain_int, single_line_error
from offers.models import Event
from tests.conftest import PASSWORD, csrf_token
from tests.offers.test_events import event_data, post_form
from tests.offers.test_lines import line_data, lines_of, lunch  # noqa: F401  (fixture)

# --- 1. open redirect after login ----------------------------------------------------------------


@pytest.mark.parametrize(
    "next_value",
    [
        "%2F%09%2Fevil.example",  # "/\t/evil.example": browsers drop the tab and go to //evil.example
        "%2F%0A%2Fevil.example",
        "%2F%0D%2Fevil.example",
        "%2F%5C%2Fevil.example",  # "/\/evil.example"
        "%5C%5Cevil.example",
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example",
        "%2F%00%2Fevil.example",
        "%20%2F%2Fevil.example",
    ],
)
def test_next_never_leaves_the_site(client, make_user, next_value):
    make_user("coordinator", email="coord@example.org")
    token = csrf_token(client.get("/connexion").get_data(as_text=True))
    response = client.post(
        f"/connexion?next={next_value}",
        data={"email": "coord@example.org", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/tableau-de-bord"


def test_a_same_site_next_is_followed(client, make_user):
    make_user("coordinator", email="coord@example.org")
    token = csrf_token(client.get("/connexion").get_data(as_text=True))
    response = client.post(
        "/connexion?next=%2Fevenements%3Fstatus%3Ddraft",
        data={"email": "coord@example.org", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/evenements?status=draft"


# --- 2. 500s from input --------------------------------------------------------------------------


@pytest.fixture
def staff(make_user, auth):
    user = make_user("coordinator")
    auth.login(user.email)
    return user


@pytest.mark.parametrize("path", ["/annuaire", "/evenements", "/devis", "/acteurs", "/clients"])
@pytest.mark.parametrize("page", ["99999999999999999999", "-5", "0", "1e3", "1_0", "\u0661", "abc"])
def test_an_absurd_page_number_is_a_400(client, staff, path, page):
    response = client.get(path, query_string={"page": page})
    assert response.status_code == 400
    assert "Numéro de page invalide" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/annuaire", "/evenements", "/devis", "/acteurs", "/clients"])
def test_a_plain_page_number_still_works(client, staff, path):
    assert client.get(path, query_string={"page": "2"}).status_code == 200


@pytest.mark.parametrize(
    "query",
    ["/devis?status=x", "/devis?client=abc", "/devis?start=x"],
)
def test_bad_quote_filters_are_a_400_beside_the_filter(client, staff, query):
    response = client.get(query)
    assert response.status_code == 400
    assert "Filtre invalide" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    [
        "/evenements?status=x",
        "/evenements?client=abc",
        "/evenements?date_from=x",
    ],
)
def test_bad_event_filters_are_a_400(client, staff, query):
    response = client.get(query)
    assert response.status_code == 400
    assert "Filtre invalide" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query", ["/devis?status=%20", "/devis?client=%20", "/evenements?status=%20", "/evenements?client=%20"]
)
def test_a_blank_filter_is_no_filter(client, staff, make_event, query):
    event = make_event(title="Forum visible")
    db.session.commit()
    response = client.get(query)
    assert response.status_code == 200
    if query.startswith("/evenements"):
        assert f'href="/evenements/{event.id}"' in response.get_data(as_text=True)


@pytest.mark.parametrize("rate", ["1e400", "1E2", "0.1e1", "NaN", "Infinity", "0,1", "0.1000x"])
def test_an_unknown_vat_rate_on_a_line_is_a_form_error(client, staff, lunch, rate):  # noqa: F811
    _event, lot, cook = lunch
    response = post_form(client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(cook.id, vat_rate=rate))
    assert response.status_code == 400
    assert "Taux de TVA inconnu." in response.get_data(as_text=True)
    assert lines_of(lot) == []


@pytest.mark.parametrize(
    "quantity",
    ["1E2", "1e2", "1_000", "\u0661\u0662", "\uff11\uff12", "١٢,٥", "0x10", "--1", "1,2,3"],
)
def test_only_plain_decimals_are_accepted(client, staff, lunch, quantity):  # noqa: F811
    _event, lot, cook = lunch
    response = post_form(
        client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(cook.id, quantity=quantity)
    )
    assert response.status_code == 400
    assert lines_of(lot) == []


@pytest.mark.parametrize(
    "headcount", ["1_000", "\u0661\u0662", "\uff11\uff12", "1e3", "99999999999999999999999"]
)
def test_only_plain_integers_are_accepted(client, staff, make_client, headcount):
    buyer = make_client()
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Event))
    response = post_form(client, "/evenements/nouveau", data=event_data(buyer.id, headcount=headcount))
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == before


@pytest.mark.parametrize("action", ["modifier", "dupliquer"])
def test_a_blank_start_is_a_form_error(client, staff, make_event, action):
    event = make_event(title="Forum")
    response = post_form(
        client,
        f"/evenements/{event.id}/{action}",
        data=event_data(event.client_id, starts_at=" ", version_id=str(event.version_id)),
    )
    assert response.status_code == 400
    assert 'id="starts_at-erreur">Ce champ est requis.<' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Event, event.id).title == "Forum"


def test_plain_decimals_parse_exactly():
    assert parse_plain_decimal("1 234,56") == D("1234.56")
    assert parse_plain_decimal("-7.5") == D("-7.5")
    assert parse_plain_decimal(",5") == D("0.5")
    for bad in ("1E2", "1_000", "\u0661", "\uff11", "NaN", "inf", "", " ", "1.2.3", "+-1"):
        with pytest.raises(ValueError):
            parse_plain_decimal(bad)
    assert parse_plain_int("42") == 42
    for bad in ("1_000", "\u0661", "4.0", "1e3", ""):
        with pytest.raises(ValueError):
            parse_plain_int(bad)


# --- 10. control characters in single-line fields ------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["Forum\r\nBcc: x", "Forum\ninjecté", "For\x00um", "For\x1bum", "Forum\u2028x", "a\tb"]
)
def test_a_title_with_a_control_character_is_refused(client, staff, make_event, bad):
    event = make_event(title="Forum")
    response = post_form(
        client,
        f"/evenements/{event.id}/modifier",
        data=event_data(event.client_id, title=bad, version_id=str(event.version_id)),
    )
    assert response.status_code == 400
    assert "sur une seule ligne" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Event, event.id).title == "Forum"


def test_a_category_name_with_a_newline_is_refused(client, make_user, auth):
    admin = make_user("admin")
    auth.login(admin.email)
    response = post_form(
        client, "/categories", data={"name": "Restau\nration", "default_vat_rate": "10", "position": "1"}
    )
    assert response.status_code == 400
    assert "sur une seule ligne" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(Category).where(Category.name.like("Restau%"))) is None


def test_a_multi_line_description_keeps_its_newlines(client, staff, make_event):
    event = make_event(title="Forum")
    response = post_form(
        client,
        f"/evenements/{event.id}/modifier",
        data=event_data(event.client_id, description="Ligne 1\r\nLigne 2", version_id=str(event.version_id)),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Event, event.id).description == "Ligne 1\r\nLigne 2"


def test_single_line_error_names_the_rule():
    assert single_line_error("Forum") is None
    assert single_line_error("Fo\u0085rum") is not None
    assert single_line_error("Forum 2026 – été") is None
