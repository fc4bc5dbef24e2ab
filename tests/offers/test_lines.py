"""Lines, tried through the app as the coordinator: add, edit (optimistic locking), delete on the
event page; typed the French way; absurd values refused beside their field; VAT per who sells;
locked once a quote is sent; every price change in the history with its before and after."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, VatRegime
from offers.models import AssignmentStatus, BillingMode, EventStatus, Line, LotStatus, Quote, QuoteStatus
from tests.conftest import csrf_token
from tests.offers.test_events import add_assignment, add_line, add_lot, plain, post_form, text
from tests.offers.test_pricing import EXEMPT_MENTION, set_identity


@pytest.fixture
def coordinator(make_user, auth):
    user = make_user("coordinator", name="Camille Coordination")
    auth.login(user.email)
    return user


@pytest.fixture
def lunch(make_event, make_category, make_organisation):
    """A single-contractor event (subject coordinator) with a 10 % lot and an accepted exempt cook."""
    set_identity(VatRegime.SUBJECT)
    event = make_event(billing_mode=BillingMode.SINGLE_CONTRACTOR, status=EventStatus.CONSULTING)
    lot = add_lot(event, make_category(name="Restauration", default_vat_rate=D("0.1000")), "Déjeuner")
    cook = make_organisation(name="Méli-Mélo", vat_regime=VatRegime.EXEMPT)
    add_assignment(lot, cook, AssignmentStatus.ACCEPTED)
    return event, lot, cook


def line_data(organisation_id: int, **over) -> dict:
    data = {
        "organisation_id": str(organisation_id),
        "description": "Déjeuner assis, menu de saison",
        "quantity": "7,5",
        "unit": "repas",
        "unit_price": "12,5",
        "vat_rate": "",
    }
    data.update(over)
    return data


def lines_of(lot) -> list[Line]:
    return list(db.session.scalars(sa.select(Line).where(Line.lot_id == lot.id).order_by(Line.position)))


def audit(action: str, line_id: int) -> AuditEntry | None:
    return db.session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.object_type == "lines", AuditEntry.object_id == line_id
        )
    )


def add_sent_quote(event, status=QuoteStatus.SENT, sent: bool | None = None) -> Quote:
    """A quote row in ``status``; sent to the client unless it is a draft (or ``sent`` says)."""
    if sent is None:
        sent = status != QuoteStatus.DRAFT
    quote = Quote(
        event_id=event.id,
        number="DEV-2026-0001",
        version=1,
        status=status,
        issue_date=date(2026, 3, 1),
        valid_until=date(2026, 3, 31),
        total_net=D("0"),
        total_vat=D("0"),
        total_gross=D("0"),
        sent_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC) if sent else None,
    )
    db.session.add(quote)
    db.session.flush()
    return quote


def field_error(page: str, field: str) -> str:
    match = re.search(rf'id="{field}-erreur">([^<]*)<', page)
    assert match, f"no error beside {field}"
    return match.group(1)


# --- create --------------------------------------------------------------------------------------


def test_add_a_line_typed_the_french_way(client, coordinator, lunch):
    event, lot, cook = lunch
    response = post_form(client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(cook.id))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/lots/{lot.id}"
    [line] = lines_of(lot)
    assert (line.quantity, line.unit_price, line.vat_rate) == (D("7.500"), D("12.50"), D("0.1000"))
    assert str(line.quantity) == "7.500" and str(line.unit_price) == "12.50"
    assert (line.description, line.unit, line.organisation_id) == (
        "Déjeuner assis, menu de saison",
        "repas",
        cook.id,
    )
    entry = audit("line.created", line.id)
    assert (entry.event_id, entry.user_id) == (event.id, coordinator.id)
    assert entry.changes["unit_price"] == [None, "12.50"]
    assert entry.changes["quantity"] == [None, "7.500"]
    assert entry.changes["vat_rate"] == [None, "0.1000"]
    assert entry.changes["organisation"] == [None, "Méli-Mélo"]
    # The lot's page shows it: net = round(7.5 × 12.50, 2) = 93.75, in the lines table and the lot's
    # net; the event page in the lot's net and the totals.
    page = plain(text(client.get(f"/lots/{lot.id}")))
    assert "Déjeuner assis, menu de saison Méli-Mélo 7,5 repas 12,50 € 10% 93,75 €" in page
    assert "93,75 € HT" in page
    page = plain(text(client.get(f"/evenements/{event.id}")))
    assert "1 ligne chiffrée" in page and "93,75 € HT" in page
    assert "Total HT 93,75 €" in page


def test_the_coordinator_may_choose_another_legal_rate(client, coordinator, lunch):
    _event, lot, cook = lunch
    response = post_form(
        client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(cook.id, vat_rate="0.0550")
    )
    assert response.status_code == 302
    assert lines_of(lot)[0].vat_rate == D("0.0550")


INVALID = [
    ("quantity", "-1", "La quantité doit être supérieure à 0."),
    ("quantity", "0", "La quantité doit être supérieure à 0."),
    ("quantity", "0,000", "La quantité doit être supérieure à 0."),
    ("quantity", "1000001", "La quantité doit être au plus 1 000 000 : vérifiez la saisie."),
    ("quantity", "1,2345", "Une quantité a au plus trois décimales."),
    ("quantity", "", "Indiquez une quantité (ex. 7,5)."),
    ("quantity", "beaucoup", "Nombre attendu (ex. 12,50)."),
    ("unit_price", "-5", "Le prix unitaire ne peut pas être négatif."),
    ("unit_price", "12.345", "Un prix a au plus deux décimales (centimes)."),
    ("unit_price", "12,345", "Un prix a au plus deux décimales (centimes)."),
    ("unit_price", "10000000,01", "Le prix unitaire doit être au plus 10 000 000 € : vérifiez la saisie."),
    ("unit_price", "1,2,3", "Un seul séparateur décimal, virgule ou point (ex. 1234,56)."),
    ("unit_price", "", "Indiquez un prix unitaire HT (ex. 12,50)."),
    ("description", "", "Décrivez la prestation."),
    ("vat_rate", "0.0850", "Taux de TVA non prévu par la loi"),
    ("vat_rate", "vingt", "Taux de TVA inconnu."),
]


@pytest.mark.parametrize("field,value,message", INVALID, ids=[f"{f}={v!r}" for f, v, _m in INVALID])
def test_bad_values_are_refused_beside_their_field(client, coordinator, lunch, field, value, message):
    _event, lot, cook = lunch
    response = post_form(client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(cook.id, **{field: value}))
    assert response.status_code == 400
    page = text(response)
    assert message in field_error(page, field)
    assert f'value="{value}"' in page or field in ("vat_rate", "description")  # the input is kept
    assert lines_of(lot) == []


def test_an_absurd_line_total_is_refused(client, coordinator, lunch):
    _event, lot, cook = lunch
    response = post_form(
        client,
        f"/lots/{lot.id}/lignes/nouvelle",
        data=line_data(cook.id, quantity="1000000", unit_price="1000,01"),
    )
    assert response.status_code == 400
    assert "dépasse 100 000 000 €" in field_error(text(response), "quantity")
    assert lines_of(lot) == []


@pytest.mark.parametrize(
    ("typed", "stored", "printed"),
    [
        ("repas", "repas", "repas"),
        ("Repas", "repas", "repas"),
        ("m²", "m2", "m²"),
        ("PIÈCE", "piece", "pièce"),
        ("kg", "kg", "kg"),
        ("  litre  ", "litre", "litre"),
        ("nuitée", "nuitée", "nuitée"),
        ("sent", "sent", "sent"),  # a free unit never prints as some other label
    ],
)
def test_a_unit_from_the_list_or_typed_by_hand(client, coordinator, lunch, typed, stored, printed):
    _event, lot, cook = lunch
    response = post_form(client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(cook.id, unit=typed))
    assert response.status_code == 302
    (line,) = lines_of(lot)
    assert line.unit == stored
    page = text(client.get(f"/evenements/{lot.event_id}"))
    assert f"{printed}" in page


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Indiquez une unité (ex. repas, heure, forfait)."),
        ("   ", "Indiquez une unité (ex. repas, heure, forfait)."),
        ("x" * 21, "20"),
        ("li\ntre", "seule ligne"),
    ],
)
def test_a_bad_unit_is_refused(client, coordinator, lunch, typed, message):
    _event, lot, cook = lunch
    response = post_form(client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(cook.id, unit=typed))
    assert response.status_code == 400
    assert message in field_error(text(response), "unit")
    assert lines_of(lot) == []


def test_the_unit_box_suggests_the_common_units(client, coordinator, lunch):
    _event, lot, _cook = lunch
    page = client.get(f"/lots/{lot.id}/lignes/nouvelle").get_data(as_text=True)
    assert 'list="unit-suggestions"' in page
    for unit in ("personne", "repas", "heure", "jour", "forfait", "kg", "m²", "pièce", "lot"):
        assert f'<option value="{unit}">' in page


def test_the_actor_must_be_on_the_lot(client, coordinator, lunch, make_organisation):
    _event, lot, _cook = lunch
    stranger = make_organisation(name="Hors du lot")
    declined = make_organisation(name="A décliné")
    add_assignment(lot, declined, AssignmentStatus.DECLINED)
    page = text(client.get(f"/lots/{lot.id}/lignes/nouvelle"))
    assert "Méli-Mélo" in page and "Hors du lot" not in page and "A décliné" not in page
    for organisation in (stranger, declined):
        response = post_form(client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(organisation.id))
        assert response.status_code == 400
    assert lines_of(lot) == []


def test_a_franchise_actor_in_a_joint_consortium_sells_at_zero(
    client, coordinator, make_event, make_category, make_organisation
):
    set_identity(VatRegime.SUBJECT)
    event = make_event(billing_mode=BillingMode.JOINT_CONSORTIUM)
    lot = add_lot(event, make_category(default_vat_rate=D("0.2000")), "Photographie")
    photographer = make_organisation(name="Yves Monteil", vat_regime=VatRegime.FRANCHISE)
    add_assignment(lot, photographer)
    response = post_form(
        client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(photographer.id, vat_rate="0.2000")
    )
    assert response.status_code == 400
    assert field_error(text(response), "vat_rate") == (
        "Yves Monteil n'est pas assujetti à la TVA (Franchise en base (art. 293 B)) : ses lignes sont à 0 %."
    )
    assert lines_of(lot) == []
    response = post_form(client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(photographer.id))
    assert response.status_code == 302
    assert lines_of(lot)[0].vat_rate == D("0")
    page = plain(text(client.get(f"/lots/{lot.id}")))
    assert "TVA non applicable, art. 293 B du CGI" in page


def test_an_exempt_coordinator_sells_every_line_at_zero_with_its_mention(client, coordinator, lunch):
    _event, lot, cook = lunch
    set_identity(VatRegime.EXEMPT)
    response = post_form(
        client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(cook.id, vat_rate="0.1000")
    )
    assert response.status_code == 400
    assert "ses lignes sont à 0 %" in field_error(text(response), "vat_rate")
    response = post_form(client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(cook.id))
    assert response.status_code == 302
    assert lines_of(lot)[0].vat_rate == D("0")
    page = plain(text(client.get(f"/lots/{lot.id}")))
    assert EXEMPT_MENTION in page


def test_no_line_on_a_cancelled_lot(client, coordinator, lunch):
    _event, lot, cook = lunch
    lot.status = LotStatus.CANCELLED
    response = post_form(client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(cook.id))
    assert response.status_code == 400
    assert "est annulé : rouvrez-le pour modifier ses lignes" in text(response)
    assert lines_of(lot) == []


# --- edit, delete --------------------------------------------------------------------------------


def test_edit_a_price_is_audited_with_before_and_after(client, coordinator, lunch):
    event, lot, cook = lunch
    line = add_line(lot, cook, "400", "14.50", "0.1000", "Déjeuner")
    page = text(client.get(f"/lignes/{line.id}/modifier"))
    assert 'value="14,50"' in page and 'value="400"' in page
    response = post_form(
        client,
        f"/lignes/{line.id}/modifier",
        data={
            **line_data(cook.id, description="Déjeuner", quantity="400", unit_price="15", vat_rate="0.1000"),
            "version_id": "1",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    line = db.session.get(Line, line.id)
    assert (line.unit_price, line.unit, line.version_id) == (D("15.00"), "repas", 2)
    entry = audit("line.updated", line.id)
    assert entry.changes == {"unit_price": ["14.50", "15.00"], "unit": ["forfait", "repas"]}
    assert entry.event_id == event.id
    history = plain(text(client.get(f"/evenements/{event.id}")))
    assert "Ligne « Déjeuner » du lot « Déjeuner » modifiée" in history


def test_a_stale_line_form_is_refused_and_nothing_is_overwritten(client, coordinator, lunch):
    _event, lot, cook = lunch
    line = add_line(lot, cook, "400", "14.50", "0.1000", "Déjeuner")
    db.session.commit()
    page = text(client.get(f"/lignes/{line.id}/modifier"))
    token = csrf_token(page)
    seen = re.search(r'name="version_id"[^>]*value="(\d+)"', page) or re.search(
        r'value="(\d+)"[^>]*name="version_id"', page
    )
    # Someone else changes the price meanwhile.
    line.unit_price = D("16.00")
    db.session.commit()
    response = client.post(
        f"/lignes/{line.id}/modifier",
        data={
            **line_data(
                cook.id, description="Déjeuner", quantity="400", unit_price="15,20", vat_rate="0.1000"
            ),
            "version_id": seen.group(1),
            "csrf_token": token,
        },
    )
    assert response.status_code == 409
    answer = text(response)
    assert "Quelqu'un a modifié cet élément pendant que vous le modifiiez." in answer
    assert 'value="15,20"' in answer  # the user's input is kept
    assert "Valeurs enregistrées entre-temps" in answer and "16" in plain(answer)
    db.session.expire_all()
    stored = db.session.get(Line, line.id)
    assert stored.unit_price == D("16.00")
    assert audit("line.updated", line.id) is None


def test_delete_a_line_keeps_it_in_the_history(client, coordinator, lunch):
    event, lot, cook = lunch
    line = add_line(lot, cook, "400", "14.50", "0.1000", "Déjeuner")
    line_id = line.id
    page = text(client.get(f"/lots/{lot.id}"))
    assert f'action="/lignes/{line_id}/supprimer"' in page
    response = post_form(client, f"/lots/{lot.id}", f"/lignes/{line_id}/supprimer", data={"version_id": "1"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/lots/{lot.id}"
    db.session.expire_all()
    assert db.session.get(Line, line_id) is None
    entry = audit("line.deleted", line_id)
    assert entry.changes["unit_price"] == ["14.50", None]
    assert entry.changes["quantity"] == ["400.000", None]
    assert entry.event_id == event.id


def test_deleting_a_line_changed_meanwhile_is_refused(client, coordinator, lunch):
    event, lot, cook = lunch
    line = add_line(lot, cook, "400", "14.50", "0.1000", "Déjeuner")
    line.unit_price = D("15.00")  # version 2
    response = post_form(
        client, f"/evenements/{event.id}", f"/lignes/{line.id}/supprimer", data={"version_id": "1"}
    )
    assert response.status_code == 409
    assert "Cette ligne a été modifiée entre-temps" in text(response)
    db.session.expire_all()
    assert db.session.get(Line, line.id) is not None


# --- locked once a quote is sent -----------------------------------------------------------------

LOCKED = "Le devis a été envoyé : toute modification passe par une nouvelle version du devis."


@pytest.mark.parametrize("status", [QuoteStatus.SENT, QuoteStatus.ACCEPTED])
def test_lines_are_locked_once_a_quote_is_sent(client, coordinator, lunch, status):
    event, lot, cook = lunch
    line = add_line(lot, cook, "400", "14.50", "0.1000", "Déjeuner")
    page = text(client.get(f"/lots/{lot.id}"))
    add_sent_quote(event, status)
    db.session.commit()

    page = text(client.get(f"/lots/{lot.id}"))
    assert LOCKED in page
    assert f"/lignes/{line.id}/modifier" not in page and f"/lots/{lot.id}/lignes/nouvelle" not in page
    token = csrf_token(page)
    attempts = [
        (f"/lots/{lot.id}/lignes/nouvelle", line_data(cook.id)),
        (f"/lignes/{line.id}/modifier", {**line_data(cook.id, unit_price="1"), "version_id": "1"}),
        (f"/lignes/{line.id}/supprimer", {"version_id": "1"}),
    ]
    for url, data in attempts:
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 409, url
        assert LOCKED in text(response), url
    assert client.get(f"/lots/{lot.id}/lignes/nouvelle").status_code == 409
    db.session.expire_all()
    [stored] = lines_of(lot)
    assert (stored.unit_price, stored.version_id) == (D("14.50"), 1)
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.object_type == "lines")
        )
        == 0
    )


def test_a_draft_or_superseded_quote_does_not_lock(client, coordinator, lunch):
    _event, lot, cook = lunch
    quote = add_sent_quote(lunch[0], QuoteStatus.SUPERSEDED)
    assert quote.status == QuoteStatus.SUPERSEDED
    response = post_form(client, f"/lots/{lot.id}/lignes/nouvelle", data=line_data(cook.id))
    assert response.status_code == 302


# --- who may ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["treasurer", "actor", "client"])
def test_only_coordination_writes_lines_here(client, auth, make_user, lunch, role):
    event, lot, cook = lunch
    line = add_line(lot, cook, "1", "100.00", "0.1000")
    user = make_user(role, organisation=cook) if role == "actor" else make_user(role)
    auth.login(user.email)
    assert client.get(f"/lots/{lot.id}/lignes/nouvelle").status_code == 403
    assert client.get(f"/lignes/{line.id}/modifier").status_code == 403
    if role == "treasurer":
        page = text(client.get(f"/evenements/{event.id}"))
        assert "100,00 €" in plain(page)  # reads the lines
        assert f"/lignes/{line.id}/modifier" not in page and "Ajouter une ligne" not in page


def test_unknown_ids_are_404(client, coordinator):
    assert client.get("/lots/999999/lignes/nouvelle").status_code == 404
    assert client.get("/lignes/999999/modifier").status_code == 404
