"""Demo: the Assises quote, issued and sent, revised once (version 2 supersedes version 1) and
accepted by the client — so a newcomer sees the whole story. No e-mail is sent by the demo."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa

from app.demo import demo_user, register_demo_step
from app.extensions import db

#: The revision between the two versions: the caterers' buffet price after a menu change.
REVISED_DESCRIPTION = "Déjeuner-buffet : plats chauds de saison"
REVISED_PRICE = Decimal("13.90")


@register_demo_step(70, "quote")
def load_quote() -> None:
    from offers.demo import demo_event
    from offers.models import Line, Lot, Quote
    from offers.services.quotes import accept_quote, issue_quote, mark_sent

    event = demo_event()
    if event is None or db.session.scalar(sa.select(Quote.id).where(Quote.event_id == event.id).limit(1)):
        return
    coordinator = demo_user("coordination@example.org")
    first = issue_quote(event, coordinator, today=date(2011, 3, 21), validity_days=30, show_actor_cards=True)
    mark_sent(first, coordinator)

    line = db.session.scalar(
        sa.select(Line).join(Lot).where(Lot.event_id == event.id, Line.description == REVISED_DESCRIPTION)
    )
    if line is not None:
        line.unit_price = REVISED_PRICE
        db.session.flush()
    second = issue_quote(
        event,
        coordinator,
        today=date(2011, 3, 28),
        validity_days=30,
        show_actor_cards=True,
        show_breakdown=True,
    )
    mark_sent(second, coordinator)
    accept_quote(
        second,
        name="Claire Durand, direction de la Politique de la Ville",
        agreed=True,
        purchase_order="EJ-2011-0415",
        ip="192.0.2.44",
        today=date(2011, 3, 30),
        now=datetime(2011, 3, 30, 9, 42, tzinfo=UTC),
        notify=False,
    )
