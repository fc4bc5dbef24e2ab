"""The main pages measured by the bench and by the query-count test, with who looks at them."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.extensions import db


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    #: The login: "coordinator", "treasurer", "admin", "actor" or "client" (the dataset's first of each).
    who: str


def main_pages() -> list[Page]:
    """The pages of the dataset in the database: event list, the dashboard of an event with a lot
    to staff and that lot's page (its actors, suggestions and lines), the directory with filters,
    the actor portal, the client's quotes, the quotes list; the treasurer's invoices (all, and
    filtered on a state computed from payments and credit notes) and payouts; the coordination,
    treasury and administration dashboards."""
    from offers.models import Assignment, AssignmentStatus, Event, EventStatus, Lot, LotStatus

    covered = (
        sa.select(Assignment.id)
        .where(
            Assignment.lot_id == Lot.id,
            Assignment.status.in_((AssignmentStatus.ACCEPTED, AssignmentStatus.INVITED)),
        )
        .exists()
    )
    # Of the events being prepared with a lot nobody covers, the one with the most open lots: the
    # same shape at every scale, so that the two datasets' dashboards compare.
    counted = aliased(Lot)
    open_lots = (
        sa.select(sa.func.count())
        .select_from(counted)
        .where(counted.event_id == Event.id, counted.status == LotStatus.OPEN)
        .correlate(Event)
        .scalar_subquery()
    )
    to_staff = db.session.scalar(
        sa.select(Event.id)
        .join(Lot, Lot.event_id == Event.id)
        .where(
            Event.status.in_((EventStatus.DRAFT, EventStatus.CONSULTING)),
            Lot.status == LotStatus.OPEN,
            ~covered,
        )
        .order_by(open_lots.desc(), Event.id)
        .limit(1)
    )
    # Its first lot nobody covers: the lot's page, with its suggestions.
    lot_to_staff = db.session.scalar(
        sa.select(Lot.id)
        .where(Lot.event_id == to_staff, Lot.status == LotStatus.OPEN, ~covered)
        .order_by(Lot.position, Lot.id)
        .limit(1)
    )
    return [
        Page("events", "/evenements", "coordinator"),
        Page("event_dashboard", f"/evenements/{to_staff}", "coordinator"),
        Page("lot_to_staff", f"/lots/{lot_to_staff}", "coordinator"),
        Page("directory", "/acteurs?category=bench-restauration&sort=name", "coordinator"),
        Page("quotes", "/devis", "coordinator"),
        Page("portal", "/portail/lots", "actor"),
        Page("client_quotes", "/mes-devis", "client"),
        Page("invoices", "/factures", "treasurer"),
        Page("overdue_invoices", "/factures?state=overdue", "treasurer"),
        Page("payouts", "/reversements", "treasurer"),
        Page("coordination_dashboard", "/indicateurs/coordination", "coordinator"),
        Page("treasury_dashboard", "/indicateurs/tresorerie", "treasurer"),
        Page("admin_dashboard", "/indicateurs/administration", "admin"),
    ]


def logins() -> dict[str, str]:
    from benchmarks.dataset import ACTOR_EMAIL, ADMIN_EMAIL, CLIENT_EMAIL, COORDINATOR_EMAIL, TREASURER_EMAIL

    return {
        "coordinator": COORDINATOR_EMAIL,
        "treasurer": TREASURER_EMAIL,
        "admin": ADMIN_EMAIL,
        "actor": ACTOR_EMAIL.format(n=1),
        "client": CLIENT_EMAIL.format(n=1),
    }
