"""Duplicating an event keeps each lot's actors as "proposed" (on by default), and its contract's
procedure, CPV codes and groupement terms, but not its consultation reference."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry
from offers.models import AssignmentRole, AssignmentStatus, BillingMode, Event
from tests.offers.test_events import add_assignment, add_lot, post_form


@pytest.fixture
def source(make_event, make_category, make_organisation):
    event = make_event(
        title="Forum 2026",
        billing_mode=BillingMode.JOINT_CONSORTIUM,
        contract_reference="2026-FORUM-01",
        procurement_procedure="Marché à procédure adaptée (MAPA)",
        cpv_codes="79952000-2",
        joint_and_several=True,
    )
    food, photo = make_category(name="Restauration"), make_category(name="Photographie")
    cook, crew = make_organisation(name="Méli-Mélo"), make_organisation(name="Romsi")
    photographer, gone = (
        make_organisation(name="Yves Monteil"),
        make_organisation(name="Ancien", active=False),
    )
    refused = make_organisation(name="Napce")
    lunch = add_lot(event, food, "Déjeuner")
    add_assignment(lunch, cook, AssignmentStatus.ACCEPTED)
    add_assignment(lunch, crew, AssignmentStatus.WITHDRAWN)
    pictures = add_lot(event, photo, "Reportage")
    add_assignment(pictures, photographer, AssignmentStatus.PROPOSED)
    add_assignment(pictures, refused, AssignmentStatus.DECLINED)
    add_assignment(pictures, gone, AssignmentStatus.ACCEPTED)
    db.session.commit()
    return event, {"cook": cook, "photographer": photographer}


ROLE = AssignmentRole.LEAD  # what add_assignment gives every actor of the source


def duplicate(client, event, **over):
    data = {
        "title": "Forum 2027",
        "client_id": str(event.client_id),
        "starts_at": "2027-04-15T09:00",
        "ends_at": "2027-04-15T19:00",
        **over,
    }
    return post_form(client, f"/evenements/{event.id}/dupliquer", data=data)


def test_the_form_offers_to_keep_the_actors_checked_by_default(client, coordinator, source):
    event, _ = source
    page = html.unescape(client.get(f"/evenements/{event.id}/dupliquer").get_data(as_text=True))
    box = re.search(r'<input[^>]*name="keep_actors"[^>]*>', page)[0]
    assert "checked" in box
    assert "Garder les acteurs de chaque lot, comme « proposés » (à inviter de nouveau)" in page


def test_the_copy_keeps_the_actors_as_proposed_but_not_those_who_declined_or_are_inactive(
    client, coordinator, source
):
    event, orgs = source
    response = duplicate(client, event, keep_actors="y")
    assert response.status_code == 302
    copy = db.session.scalar(sa.select(Event).where(Event.title == "Forum 2027"))
    kept = [
        [(a.organisation_id, a.role, a.status, a.invited_at) for a in lot.assignments] for lot in copy.lots
    ]
    assert kept == [
        [(orgs["cook"].id, ROLE, AssignmentStatus.PROPOSED, None)],
        [(orgs["photographer"].id, ROLE, AssignmentStatus.PROPOSED, None)],
    ]
    # Proposed through the same service as by hand: each one is in the new event's history.
    proposed = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.event_id == copy.id, AuditEntry.action == "assignment.proposed"
        )
    ).all()
    assert len(proposed) == 2
    # The contract's terms come along, not its reference: a new consultation has its own.
    assert (copy.contract_reference, copy.procurement_procedure, copy.cpv_codes, copy.joint_and_several) == (
        "",
        "Marché à procédure adaptée (MAPA)",
        "79952000-2",
        True,
    )


def test_unchecked_the_copy_has_no_actors(client, coordinator, source):
    event, _ = source
    assert duplicate(client, event).status_code == 302
    copy = db.session.scalar(sa.select(Event).where(Event.title == "Forum 2027"))
    assert all(lot.assignments == [] for lot in copy.lots)
