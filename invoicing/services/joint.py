"""Joint-consortium invoicing (groupement conjoint): one invoice per member to the client, in the
member's name and series under its billing mandate; the coordinator's own fee invoice; the actors'
own invoices recorded when they have no mandate; the cover summary (docs/joint-consortium.md)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.extensions import db
from invoicing.models import Invoice, InvoiceStatus
from invoicing.services.invoices import figures_of, state


def actor_invoices(organisation_id: int, today: date) -> list[tuple[Invoice, object, str]]:
    """The invoices issued or recorded in ``organisation_id``'s name, newest first, each with its
    figures and derived state (what its portal shows)."""
    invoices = list(
        db.session.scalars(
            sa.select(Invoice)
            .where(Invoice.issuer_organisation_id == organisation_id, Invoice.status == InvoiceStatus.ISSUED)
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
        )
    )
    numbers = figures_of(invoices)
    return [(i, numbers[i.id], state(i, today, numbers[i.id])) for i in invoices]
