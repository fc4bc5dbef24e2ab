"""'Invite all proposed actors', on the event page and on each lot: one click invites every proposed
actor and creates the missing actor accounts from the card's e-mail."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import OutboxMessage, Role, User
from offers.models import Assignment, AssignmentRole, AssignmentStatus, Lot, LotStatus
from tests.conftest import csrf_token


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def proposed(make_event, make_category, make_organisation, make_user):
    """Two lots; four proposed actors: one with an account, two with only a card's e-mail (one of
    them on both lots), one with neither."""
    event = make_event()
    lots = []
    for position, title in enumerate(("Déjeuner", "Accueil")):
        lot = Lot(event_id=event.id, category=make_category(), title=title, position=position)
        db.session.add(lot)
        lots.append(lot)
    db.session.flush()
    known = make_organisation(name="Méli-Mélo", email="contact@meli-melo.example.org")
    make_user("actor", organisation=known, email="chef@meli-melo.example.org")
    card_only = make_organisation(name="L'Équipage", email="bonjour@equipage.example.org")
    other = make_organisation(name="Yves Monteil", email="yves@monteil.example.org")
    silent = make_organisation(name="Sans Adresse", email=None)
    picks = [
        (lots[0], known),
        (lots[0], card_only),
        (lots[0], silent),
        (lots[1], card_only),
        (lots[1], other),
    ]
    assignments = [
        Assignment(lot_id=lot.id, organisation_id=org.id, role=AssignmentRole.PARTNER) for lot, org in picks
    ]
    db.session.add_all(assignments)
    db.session.flush()
    return event, lots, assignments


def status_of(assignment) -> AssignmentStatus:
    return db.session.scalar(sa.select(Assignment.status).where(Assignment.id == assignment.id))


def test_the_event_page_invites_every_proposed_actor_and_creates_their_accounts(
    client, coordinator, proposed
):
    event, _lots, assignments = proposed
    page = text(client.get(f"/evenements/{event.id}"))
    form = re.search(
        rf'<form method="post" action="/evenements/{event.id}/inviter-tous"[^>]*>(.*?)</form>', page, re.S
    )
    assert form, "no 'invite all' button on the event page"
    assert "Inviter les 5 acteurs proposés" in form.group(1)
    assert 'name="create_account" value="y"' in form.group(1)
    response = client.post(
        f"/evenements/{event.id}/inviter-tous",
        data={"csrf_token": csrf_token(page), "create_account": "y"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    body = text(response)
    assert "2 comptes acteurs créés : bonjour@equipage.example.org, yves@monteil.example.org." in body
    assert "4 invitations envoyées" in body
    assert "Pas d'invitation pour Sans Adresse" in body
    assert [status_of(a) for a in assignments] == [
        AssignmentStatus.INVITED,
        AssignmentStatus.INVITED,
        AssignmentStatus.PROPOSED,
        AssignmentStatus.INVITED,
        AssignmentStatus.INVITED,
    ]
    created = db.session.scalar(sa.select(User).where(User.email == "bonjour@equipage.example.org"))
    assert (created.role, created.organisation_id) == (Role.ACTOR, assignments[1].organisation_id)
    recipients = sorted(db.session.scalars(sa.select(OutboxMessage.recipients)))
    assert recipients == [
        "bonjour@equipage.example.org",
        "bonjour@equipage.example.org",
        "chef@meli-melo.example.org",
        "yves@monteil.example.org",
    ]


def test_each_lot_invites_its_proposed_actors_and_creates_their_accounts(client, coordinator, proposed):
    _event, lots, assignments = proposed
    page = text(client.get(f"/lots/{lots[1].id}"))
    form = re.search(
        rf'<form method="post" action="/lots/{lots[1].id}/inviter-tous"[^>]*>(.*?)</form>', page, re.S
    )
    assert form, "no 'invite all' button on the lot"
    assert 'name="create_account" value="y"' in form.group(1)
    response = client.post(
        f"/lots/{lots[1].id}/inviter-tous", data={"csrf_token": csrf_token(page), "create_account": "y"}
    )
    assert response.status_code == 302
    assert [status_of(a) for a in assignments] == [AssignmentStatus.PROPOSED] * 3 + [
        AssignmentStatus.INVITED
    ] * 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.role == Role.ACTOR)) == 3


def test_the_event_page_counts_only_the_open_lots_proposed_actors(client, coordinator, proposed):
    """A cancelled lot's proposed actor and an actor already invited are not among those the button
    invites, nor in its count."""
    event, lots, assignments = proposed
    cancelled = Lot(event_id=event.id, category=lots[0].category, title="Navette", position=2)
    cancelled.status = LotStatus.CANCELLED
    db.session.add(cancelled)
    db.session.flush()
    db.session.add(
        Assignment(
            lot_id=cancelled.id, organisation_id=assignments[4].organisation_id, role=AssignmentRole.PARTNER
        )
    )
    assignments[0].status = AssignmentStatus.INVITED
    db.session.flush()
    page = text(client.get(f"/evenements/{event.id}"))
    assert "Inviter les 4 acteurs proposés" in page
    client.post(f"/evenements/{event.id}/inviter-tous", data={"csrf_token": csrf_token(page)})
    navette = db.session.scalars(sa.select(Assignment.status).where(Assignment.lot_id == cancelled.id)).all()
    assert navette == [AssignmentStatus.PROPOSED]
