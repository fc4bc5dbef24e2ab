"""Card-page panels contributed by offers: events worked on, actors worked with.

Shown to staff only (coordination, treasury, admin): they carry prices. Each panel costs two queries
at most, whatever the number of events.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _

from app.auth import is_staff
from app.directory.panels import register_card_panel
from app.extensions import db
from app.money import ZERO, line_net
from offers.models import Assignment, AssignmentStatus, Event, EventStatus, Line, Lot


def _events_of(organisation_id: int) -> sa.Select:
    """Ids of the events where the organisation has an accepted assignment or a line."""
    accepted = (
        sa.select(Lot.event_id)
        .join(Assignment, Assignment.lot_id == Lot.id)
        .where(Assignment.organisation_id == organisation_id, Assignment.status == AssignmentStatus.ACCEPTED)
    )
    with_lines = (
        sa.select(Lot.event_id)
        .join(Line, Line.lot_id == Lot.id)
        .where(Line.organisation_id == organisation_id)
    )
    return sa.union(accepted, with_lines)


@dataclass
class EventRow:
    id: int
    title: str
    starts_at: datetime
    status: EventStatus
    lots: list[str] = field(default_factory=list)
    net: Decimal = ZERO


@register_card_panel(10, "offers.events")
def events_panel(organisation, user) -> dict | None:
    """The events the actor worked on: its lots there, and the net of its lines per event (two queries)."""
    if not is_staff(user):
        return None
    mine = _events_of(organisation.id).subquery()
    involved = sa.or_(
        Lot.id.in_(
            sa.select(Assignment.lot_id).where(
                Assignment.organisation_id == organisation.id,
                Assignment.status == AssignmentStatus.ACCEPTED,
            )
        ),
        Lot.id.in_(sa.select(Line.lot_id).where(Line.organisation_id == organisation.id)),
    )
    rows = db.session.execute(
        sa.select(Event.id, Event.title, Event.starts_at, Event.status, Lot.title.label("lot_title"))
        .join(Lot, Lot.event_id == Event.id)
        .where(Event.id.in_(sa.select(mine.c.event_id)), involved)
        .order_by(Event.starts_at.desc(), Event.id.desc(), Lot.position, Lot.id)
    ).all()
    events: OrderedDict[int, EventRow] = OrderedDict()
    for row in rows:
        event = events.setdefault(row.id, EventRow(row.id, row.title, row.starts_at, row.status))
        event.lots.append(row.lot_title)
    if events:
        lines = db.session.execute(
            sa.select(Lot.event_id, Line.quantity, Line.unit_price)
            .join(Lot, Lot.id == Line.lot_id)
            .where(Line.organisation_id == organisation.id, Lot.event_id.in_(list(events)))
        ).all()
        for line in lines:
            events[line.event_id].net += line_net(line.quantity, line.unit_price)
    return {
        "title": _("Événements"),
        "template": "offers/_card_panel_events.html",
        "events": list(events.values()),
        "total": sum((e.net for e in events.values()), ZERO),
    }


@register_card_panel(20, "offers.partners")
def partners_panel(organisation, user) -> dict | None:
    """The other actors with accepted assignments on the same events, by number of shared events (one query)."""
    if not is_staff(user):
        return None
    from app.models import Organisation

    mine = _events_of(organisation.id).subquery()
    shared = sa.func.count(sa.distinct(Lot.event_id)).label("shared")
    rows = db.session.execute(
        sa.select(Organisation.id, Organisation.name, Organisation.active, shared)
        .join(Assignment, Assignment.organisation_id == Organisation.id)
        .join(Lot, Lot.id == Assignment.lot_id)
        .where(
            Assignment.status == AssignmentStatus.ACCEPTED,
            Assignment.organisation_id != organisation.id,
            Lot.event_id.in_(sa.select(mine.c.event_id)),
        )
        .group_by(Organisation.id, Organisation.name, Organisation.active)
        .order_by(shared.desc(), sa.func.lower(Organisation.name), Organisation.id)
    ).all()
    return {
        "title": _("A travaillé avec"),
        "template": "offers/_card_panel_partners.html",
        "partners": rows,
    }
