"""Card-page panels contributed by invoicing: what the actor was paid (reversements).

Shown to staff only (coordination, treasury, admin). One query, whatever the number of payouts.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from app.dates import local_today
from app.directory.panels import register_card_panel
from app.extensions import db
from app.money import ZERO
from invoicing.models import Payout, PayoutStatus
from invoicing.permissions import can_manage_mandates, can_view_mandates, can_view_payouts
from offers.models import Event


@register_card_panel(30, "invoicing.payouts")
def payouts_panel(organisation, user) -> dict | None:
    """Its payouts (event, amount, status, paid date, reference), the totals paid and still due."""
    if not can_view_payouts(user):
        return None
    rows = db.session.execute(
        sa.select(
            Payout.id,
            Payout.event_id,
            Event.title.label("event_title"),
            Payout.amount,
            Payout.status,
            Payout.paid_on,
            Payout.reference,
            Payout.adjusts_id,
        )
        .join(Event, Event.id == Payout.event_id)
        .where(Payout.organisation_id == organisation.id)
        .order_by(Event.starts_at.desc(), Payout.created_at, Payout.id)
    ).all()
    paid = sum((r.amount for r in rows if r.status == PayoutStatus.PAID), ZERO)
    due = sum((r.amount for r in rows if r.status == PayoutStatus.DUE), ZERO)
    return {
        "title": _("Reversements"),
        "template": "invoicing/_card_panel_payouts.html",
        "payouts": rows,
        "total_paid": paid,
        "total_due": due,
    }


@register_card_panel(25, "invoicing.mandate")
def mandate_panel(organisation, user) -> dict | None:
    """Its billing mandate (live or not), the history of its mandates, and for coordination the forms
    to record a signed one or revoke the live one."""
    if not can_view_mandates(user):
        return None
    from invoicing.forms import MandateRevokeForm, MandateUploadForm
    from invoicing.services.mandates import mandates_of

    mandates = mandates_of(organisation.id)
    live = next((m for m in mandates if not m.is_revoked), None)
    return {
        "title": _("Mandat de facturation"),
        "template": "invoicing/_card_panel_mandate.html",
        "organisation": organisation,
        "mandates": mandates,
        "live": live,
        "valid_today": live is not None and live.valid_on(local_today()),
        "can_manage": can_manage_mandates(user),
        "upload_form": MandateUploadForm(formdata=None, valid_from=local_today()),
        "revoke_form": MandateRevokeForm(formdata=None),
    }
