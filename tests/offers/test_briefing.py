"""The briefing sheet (feuille de route): an actor's own accepted lots, never another actor's prices,
lines or lots; its page, its PDF, who may read them, and its two e-mails (acceptance, reminder)."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.extensions import db
from app.models import OutboxMessage
from offers.models import (
    Assignment,
    AssignmentRole,
    AssignmentStatus,
    BriefingSend,
    EventStatus,
    Line,
    Quote,
)
from offers.services import briefing as briefing_service
from offers.services import quotes as quote_service
from tests.conftest import csrf_token, hidden_value
from tests.offers.quote_fixtures import build_ready_event

#: Words of the other actors (their prices, lines, lots) that no sheet of the cook may contain.
FOREIGN = (
    "14,50",
    "32,50",
    "13,37",
    "350",
    "650",
    "€",
    "Dessert maison",
    "Librairie",
    "Reportage",
    "Traiteur en attente",
    "L'Équipage",
    "Yves Monteil",
)


@pytest.fixture
def world(make_event, make_client, make_category, make_organisation, make_user):
    event, lots, (cook, shop, photographer) = build_ready_event(
        make_event,
        make_client,
        make_category,
        make_organisation,
        onsite_contact="Mathilde Renaud — 06 12 34 56 78",
    )
    food = lots[0]
    food.specification = "Déjeuner assis pour 400 personnes, options végétariennes."
    food.quantities = "400 couverts"
    food.starts_at = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)
    food.ends_at = datetime(2026, 4, 15, 13, 0, tzinfo=UTC)
    partner = make_organisation(name="Cuisine commune", email="cuisine@example.org")
    waiting = make_organisation(name="Traiteur en attente")
    db.session.add_all(
        [
            Assignment(
                lot_id=food.id,
                organisation=partner,
                role=AssignmentRole.PARTNER,
                status=AssignmentStatus.ACCEPTED,
            ),
            Assignment(
                lot_id=food.id,
                organisation=waiting,
                role=AssignmentRole.SUPPLIER,
                status=AssignmentStatus.INVITED,
            ),
            Line(
                lot_id=food.id,
                organisation=partner,
                description="Dessert maison",
                quantity=D("400"),
                unit="repas",
                unit_price=D("13.37"),
                vat_rate=D("0.1000"),
                position=5,
            ),
        ]
    )
    db.session.flush()
    people = {
        "cook": make_user("actor", organisation=cook, email="chef@example.org"),
        "shop": make_user("actor", organisation=shop, email="libraire@example.org"),
        "photographer": make_user("actor", organisation=photographer, email="photo@example.org"),
        "waiting": make_user("actor", organisation=waiting),
        "coordinator": make_user("coordinator", email="coordination@example.org"),
        "client": make_user("client", client=event.client),
    }
    return event, lots, {"cook": cook, "partner": partner, "waiting": waiting}, people


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_page_shows_only_the_actors_own_lots_lines_and_partners_names(client, auth, world):
    event, _, _, people = world
    auth.login(people["cook"].email)
    page = client.get(f"/portail/evenements/{event.id}/feuille-de-route")
    assert page.status_code == 200
    body = text(page)
    for expected in (
        "Feuille de route",
        "Restauration",
        "Déjeuner assis pour 400 personnes, options végétariennes.",
        "400 couverts",
        "Grand auditorium",
        "Mathilde Renaud — 06 12 34 56 78",
        "Cuisine commune",
        "Déjeuner",
        "Service en salle",
        "7,5",
        "repas",
        "heure",
    ):
        assert expected in body, expected
    for foreign in FOREIGN:
        assert foreign not in body, foreign
    # Reached from the actor's lot page.
    assignment = db.session.scalar(
        sa.select(Assignment).where(
            Assignment.lot_id == world[1][0].id, Assignment.organisation_id == world[2]["cook"].id
        )
    )
    lot_page = text(client.get(f"/portail/affectations/{assignment.id}"))
    assert f'href="/portail/evenements/{event.id}/feuille-de-route"' in lot_page


def test_the_pdf_has_the_same_content_and_no_other_actors_price(client, auth, world):
    event, _, _, people = world
    auth.login(people["cook"].email)
    response = client.get(f"/portail/evenements/{event.id}/feuille-de-route.pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    content = pdf_text(response.data)
    for expected in (
        "Feuille de route",
        "Restauration",
        "400 couverts",
        "Mathilde Renaud",
        "Cuisine commune",
    ):
        assert expected in content, expected
    assert "Déjeuner" in content and "Service en salle" in content
    for foreign in FOREIGN:
        assert foreign not in content, foreign


def test_each_actor_sees_its_own_sheet_and_nobody_elses(client, auth, world, make_user):
    event, _, orgs, people = world
    auth.login(people["shop"].email)
    body = text(client.get(f"/portail/evenements/{event.id}/feuille-de-route"))
    assert "Librairie éphémère" in body
    assert "Déjeuner" not in body and "Mathilde" in body
    auth.logout()
    # Invited but not accepted: no sheet, like an unknown event.
    auth.login(people["waiting"].email)
    assert client.get(f"/portail/evenements/{event.id}/feuille-de-route").status_code == 404
    assert client.get(f"/portail/evenements/{event.id}/feuille-de-route.pdf").status_code == 404
    # An actor cannot reach another's sheet through the staff route.
    response = client.get(f"/evenements/{event.id}/feuilles-de-route/{orgs['cook'].id}")
    assert response.status_code == 403
    auth.logout()
    auth.login(make_user("actor").email)
    assert client.get(f"/portail/evenements/{event.id}/feuille-de-route").status_code == 404
    assert client.get(f"/portail/evenements/{event.id + 1000}/feuille-de-route").status_code == 404
    auth.logout()
    auth.login(people["client"].email)
    assert client.get(f"/portail/evenements/{event.id}/feuille-de-route").status_code == 403
    assert client.get(f"/evenements/{event.id}/feuilles-de-route/{orgs['cook'].id}").status_code == 403


def test_coordination_downloads_any_actors_sheet_from_the_event_page(client, auth, world):
    event, _, orgs, people = world
    auth.login(people["coordinator"].email)
    page = text(client.get(f"/evenements/{event.id}"))
    url = f"/evenements/{event.id}/feuilles-de-route/{orgs['partner'].id}"
    assert f'href="{url}"' in page
    # Not for an actor that did not accept.
    assert f"/feuilles-de-route/{orgs['waiting'].id}" not in page
    response = client.get(url)
    assert response.status_code == 200
    content = pdf_text(response.data)
    assert "Dessert maison" in content and "Cuisine commune" in content
    assert "Déjeuner" not in content.replace("Déjeuner assis", "")
    assert "13,37" not in content
    assert client.get(f"/evenements/{event.id}/feuilles-de-route/{orgs['waiting'].id}").status_code == 404


def _briefing_mails() -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.subject.startswith("Feuille de route"))
            .order_by(OutboxMessage.id)
        )
    )


def test_accepting_the_quote_sends_each_actor_its_sheet(client, auth, world):
    event, _, orgs, people = world
    auth.login(people["coordinator"].email)
    page = client.get(f"/evenements/{event.id}/devis")
    client.post(
        f"/evenements/{event.id}/devis",
        data={
            "validity_days": "30",
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "issue_token": hidden_value(page.get_data(as_text=True), "issue_token"),
        },
    )
    quote = db.session.scalar(sa.select(Quote).where(Quote.event_id == event.id))
    page = client.get(f"/devis/{quote.id}")
    client.post(f"/devis/{quote.id}/envoyer", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert _briefing_mails() == []
    quote_service.accept_quote(quote, name="Camille Martin", agreed=True, user=None)
    assert _briefing_mails() == []  # rendered once the acceptance is committed, never inside it
    db.session.commit()
    assert briefing_service.send_acceptance_briefings(event.id) == 4
    mails = _briefing_mails()
    assert sorted(m.recipients for m in mails) == [
        "chef@example.org",
        "cuisine@example.org",
        "libraire@example.org",
        "photo@example.org",
    ]
    chef = next(m for m in mails if m.recipients == "chef@example.org")
    assert f"/portail/evenements/{event.id}/feuille-de-route" in chef.body_text
    assert "accepté" in chef.body_text
    [attachment] = chef.attachments
    assert attachment.filename.endswith(".pdf")
    content = pdf_text(attachment.data)
    assert "Service en salle" in content
    for foreign in FOREIGN:
        assert foreign not in content, foreign
    reasons = db.session.scalars(sa.select(BriefingSend.reason).where(BriefingSend.event_id == event.id))
    assert sorted(reasons) == ["accepted"] * 4
    assert orgs["waiting"].id not in db.session.scalars(sa.select(BriefingSend.organisation_id)).all()


def test_the_daily_task_sends_each_sheet_once_in_the_window(runner, world, make_event, app):
    event, _, _, _ = world
    start = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=5)
    event.starts_at, event.ends_at = start, start + timedelta(hours=8)
    event.status = EventStatus.WON
    later = make_event(
        status=EventStatus.WON,
        starts_at=start + timedelta(days=10),
        ends_at=start + timedelta(days=10, hours=2),
    )
    db.session.flush()
    result = runner.invoke(args=["offers", "send-briefings"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "4 feuille(s) de route envoyée(s)."
    assert len(_briefing_mails()) == 4
    assert "approche" in _briefing_mails()[0].body_text
    again = runner.invoke(args=["offers", "send-briefings"])
    assert again.output.strip() == "0 feuille(s) de route envoyée(s)."
    assert len(_briefing_mails()) == 4
    rows = db.session.scalars(sa.select(BriefingSend).where(BriefingSend.event_id == later.id)).all()
    assert rows == []


def test_the_window_is_a_setting(runner, world, app):
    event, _, _, _ = world
    start = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=9)
    event.starts_at, event.ends_at = start, start + timedelta(hours=8)
    event.status = EventStatus.WON
    db.session.flush()
    assert (
        runner.invoke(args=["offers", "send-briefings"]).output.strip() == "0 feuille(s) de route envoyée(s)."
    )
    app.config["BRIEFING_DAYS_BEFORE"] = 10
    try:
        result = runner.invoke(args=["offers", "send-briefings"])
    finally:
        app.config["BRIEFING_DAYS_BEFORE"] = 7
    assert result.output.strip() == "4 feuille(s) de route envoyée(s)."


def test_the_event_page_links_each_accepted_actors_sheet_once_by_name(
    client, auth, make_event, make_category, make_organisation, make_user
):
    """One link per organisation that accepted a lot not cancelled, however many lots it accepted,
    in the order of their names ignoring case; none for an actor only invited, nor for one that
    accepted a cancelled lot only."""
    from offers.models import Lot, LotStatus

    event = make_event()
    lots = [
        Lot(event_id=event.id, category=make_category(), title=t, position=i) for i, t in enumerate("ABC")
    ]
    lots[2].status = LotStatus.CANCELLED
    db.session.add_all(lots)
    db.session.flush()
    names = ("zèbre", "Bazar", "atelier", "Invité", "Annulé")
    orgs = {name: make_organisation(name=name) for name in names}
    picks = [
        (lots[0], "zèbre", AssignmentStatus.ACCEPTED),
        (lots[1], "zèbre", AssignmentStatus.ACCEPTED),
        (lots[1], "Bazar", AssignmentStatus.ACCEPTED),
        (lots[0], "atelier", AssignmentStatus.ACCEPTED),
        (lots[0], "Invité", AssignmentStatus.INVITED),
        (lots[2], "Annulé", AssignmentStatus.ACCEPTED),
    ]
    db.session.add_all(
        Assignment(lot_id=lot.id, organisation_id=orgs[name].id, role=AssignmentRole.PARTNER, status=status)
        for lot, name, status in picks
    )
    db.session.flush()
    auth.login(make_user("coordinator").email)
    page = client.get(f"/evenements/{event.id}").get_data(as_text=True)
    linked = re.findall(rf'href="/evenements/{event.id}/feuilles-de-route/(\d+)"', page)
    assert linked == [str(orgs[name].id) for name in ("atelier", "Bazar", "zèbre")]
