"""Demo: the Assises invoiced, so a newcomer sees the money flow end to end.

A 30 % deposit once the quote is accepted, paid by transfer; after the event, a final invoice that
deducts it. That invoice went out with the wrong purchase-order reference: a credit note cancels it
and a new final invoice is issued, which the client pays. The actors' payouts follow the payments;
the treasurer has paid eight of them. No e-mail is sent by the demo.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from app.demo import demo_user, register_demo_step
from app.extensions import db


@register_demo_step(80, "invoices")
def load_invoices() -> None:
    from invoicing.models import Invoice
    from invoicing.services.invoices import issue_credit_note, issue_deposit, issue_final
    from invoicing.services.payments import record_payment
    from offers.demo import demo_event
    from offers.models import Quote, QuoteStatus

    event = demo_event()
    if event is None or db.session.scalar(sa.select(Invoice.id).where(Invoice.event_id == event.id).limit(1)):
        return
    quote = db.session.scalar(
        sa.select(Quote).where(Quote.event_id == event.id, Quote.status == QuoteStatus.ACCEPTED)
    )
    if quote is None:
        return
    treasurer = demo_user("tresorerie@example.org")
    deposit = issue_deposit(quote, treasurer, percent=Decimal("30"), today=date(2011, 3, 31))
    record_payment(
        deposit,
        treasurer,
        received_on=date(2011, 4, 8),
        amount=deposit.total_gross,
        reference="VIR NANTES METROPOLE 2011-0331",
    )
    first = issue_final(quote, treasurer, today=date(2011, 4, 18))
    issue_credit_note(
        first,
        treasurer,
        reason="Référence d'engagement erronée : annule et remplace",
        today=date(2011, 4, 19),
    )
    final = issue_final(quote, treasurer, today=date(2011, 4, 19))
    record_payment(
        final,
        treasurer,
        received_on=date(2011, 5, 27),
        amount=final.total_gross - final.prepaid,
        reference="VIR NANTES METROPOLE 2011-0419",
    )
    # The treasurer paid the first eight actors (alphabetical) by transfer; the others are still due.
    from invoicing.models import Payout, PayoutStatus
    from invoicing.services.payouts import mark_paid

    due = db.session.scalars(
        sa.select(Payout).where(Payout.event_id == event.id, Payout.status == PayoutStatus.DUE)
    ).all()
    for payout in sorted(due, key=lambda p: p.organisation.name.lower())[:8]:
        mark_paid(payout, treasurer, paid_on=date(2011, 6, 10), reference=f"VIR REVERS 2011-{payout.id:03d}")
    db.session.flush()


#: The joint-consortium demo: a second event of the same client, invoiced by each member.
JOINT_TITLE = "Forum de l'ESS dans les quartiers"


def joint_demo_event():
    from offers.models import Event

    return db.session.scalar(sa.select(Event).where(Event.title == JOINT_TITLE))


@register_demo_step(85, "joint")
def load_joint() -> None:
    """A second event in joint-consortium mode, invoiced: TAK-APRES (subject to VAT, mandate given in
    its portal), Yves Monteil (franchise, signed mandate recorded) and La PEPS (franchise, mandate
    revoked: it invoiced by itself, its invoice recorded); the fee is the coordinator's own invoice; the
    client paid TAK-APRES. On the Assises (single contractor), once TAK-APRES gave its mandate (January
    2012), its payout statement became a self-billed invoice, which it accepted. Everything is dated
    2012, so the 2011 archive holds the Assises' documents only."""
    from datetime import UTC, datetime

    from app.demo import demo_category, demo_client, demo_organisation
    from app.pdf import render_pdf
    from invoicing.services import joint, mandates, self_billing
    from invoicing.services.payments import record_payment
    from offers.demo import demo_event
    from offers.models import (
        Assignment,
        AssignmentRole,
        AssignmentStatus,
        BillingMode,
        Event,
        EventStatus,
        FeeKind,
        Line,
        Lot,
        Quote,
        QuoteStatus,
    )
    from offers.services.quotes import accept_quote, issue_quote, mark_sent

    if joint_demo_event() is not None:
        return
    coordinator = demo_user("coordination@example.org")
    treasurer = demo_user("tresorerie@example.org")
    tak_person = demo_user("takapres@example.org")
    tak, photographer, peps = (demo_organisation(k) for k in ("tak-apres", "yves-monteil", "la-peps"))
    # The mandates: given in the portal, recorded signed, recorded then revoked.
    mandates.grant_in_portal(
        tak, tak_person, prefix="TAK", valid_from=date(2012, 1, 1), agreed=True, ip="192.0.2.10"
    )
    signed = render_pdf("<h1>Mandat de facturation</h1><p>Yves Monteil donne mandat aux Ecossolies.</p>")
    mandates.record_signed(
        photographer,
        coordinator,
        prefix="YM",
        valid_from=date(2012, 1, 1),
        document=signed,
        document_name="mandat-ym.pdf",
    )
    revoked = mandates.record_signed(
        peps,
        coordinator,
        prefix="PEPS",
        valid_from=date(2012, 1, 1),
        document=signed,
        document_name="mandat-peps.pdf",
    )
    mandates.revoke(revoked, coordinator, reason="La PEPS a adopté son propre logiciel de facturation")

    # On the Assises (single contractor): TAK-APRES's statement as a self-billed invoice, accepted.
    assises = demo_event()
    accepted = (
        db.session.scalar(
            sa.select(Quote).where(Quote.event_id == assises.id, Quote.status == QuoteStatus.ACCEPTED)
        )
        if assises is not None
        else None
    )
    if accepted is not None and any(ql.organisation_id == tak.id for ql in accepted.lines):
        statement = self_billing.issue_self_billed(accepted, tak, treasurer, today=date(2012, 1, 10))
        review = self_billing.answer(statement, tak_person, accept=True, ip="192.0.2.10")
        review.answered_at = datetime(2012, 1, 12, 9, 5, tzinfo=UTC)

    def at(day: int, hour: int) -> datetime:
        return datetime(2012, 6, day, hour - 2, 0, tzinfo=UTC)  # Paris wall time in June (UTC+2)

    event = Event(
        title=JOINT_TITLE,
        client_id=demo_client().id,
        venue="Salle de la Bottière",
        venue_address="147 route de Sainte-Luce, 44300 Nantes",
        starts_at=at(9, 9),
        ends_at=at(9, 17),
        headcount=150,
        description="Forum des structures de l'ESS implantées dans les quartiers prioritaires : stands, tables rondes.",
        status=EventStatus.CONSULTING,
        billing_mode=BillingMode.JOINT_CONSORTIUM,
        fee_kind=FeeKind.PERCENT,
        fee_rate=Decimal("0.0600"),
        purchase_order_number="EJ-2012-000530",
        onsite_contact="Mathilde Renaud (Les Ecossolies) — 02 61 91 00 02",
        created_by_id=coordinator.id,
    )
    db.session.add(event)
    db.session.flush()
    spec = [
        (
            "Pause café et déjeuner",
            "restauration",
            tak,
            [("Déjeuner", "150", "repas", "12.80"), ("Pause café", "150", "personne", "2.40")],
        ),
        (
            "Reportage photo",
            "photographie",
            photographer,
            [("Reportage photo (journée)", "1", "jour", "520.00")],
        ),
        ("Mobilier et stands", "location", peps, [("Location de stands équipés", "12", "piece", "45.00")]),
    ]
    for position, (title, category, organisation, lines) in enumerate(spec, start=1):
        lot = Lot(
            event_id=event.id,
            category_id=demo_category(category).id,
            title=title,
            place="Salle de la Bottière",
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            position=position,
        )
        db.session.add(lot)
        db.session.flush()
        db.session.add(
            Assignment(
                lot_id=lot.id,
                organisation_id=organisation.id,
                role=AssignmentRole.LEAD,
                status=AssignmentStatus.ACCEPTED,
            )
        )
        for index, (description, quantity, unit, price) in enumerate(lines):
            db.session.add(
                Line(
                    lot_id=lot.id,
                    organisation_id=organisation.id,
                    description=description,
                    quantity=Decimal(quantity),
                    unit=unit,
                    unit_price=Decimal(price),
                    vat_rate=demo_category(category).default_vat_rate,
                    position=index,
                )
            )
    db.session.flush()
    db.session.expire_all()
    event = joint_demo_event()
    quote = issue_quote(event, coordinator, today=date(2012, 5, 10), validity_days=30)
    mark_sent(quote, coordinator)
    accept_quote(
        quote,
        name="Claire Durand, direction de la Politique de la Ville",
        agreed=True,
        ip="192.0.2.44",
        today=date(2012, 5, 12),
        now=datetime(2012, 5, 12, 8, 15, tzinfo=UTC),
        notify=False,
    )
    outcome = joint.issue_joint(quote, treasurer, today=date(2012, 6, 14))
    # La PEPS has no valid mandate: it invoiced by itself; the treasurer records its invoice.
    share = next(s for s in joint.shares(quote, date(2012, 6, 14)) if s.organisation_id == peps.id)
    own = render_pdf(
        f"<h1>La PEPS — Facture 2012-118</h1><p>{JOINT_TITLE} : location de stands, "
        f"{share.totals.gross} € TTC. TVA non applicable, art. 293 B du CGI.</p>"
    )
    joint.record_actor_invoice(
        quote,
        peps,
        treasurer,
        number="PEPS-2012-118",
        issue_date=date(2012, 6, 13),
        total_net=share.totals.net,
        total_vat=share.totals.vat,
        total_gross=share.totals.gross,
        pdf=own,
    )
    tak_invoice = next(i for i in outcome.issued if i.issuer_organisation_id == tak.id)
    record_payment(
        tak_invoice,
        treasurer,
        received_on=date(2012, 7, 8),
        amount=tak_invoice.total_gross,
        reference="VIR NANTES METROPOLE 2012-0614-TAK",
    )
    db.session.flush()


@register_demo_step(95, "invoice PDFs")
def render_invoice_pdfs() -> None:
    """Every document the demo issued gets its PDF now (issuing leaves it to after the commit), so
    that the first download is as quick as the next."""
    from invoicing.models import Invoice
    from invoicing.services.invoices import invoice_pdf

    missing = db.session.scalars(
        sa.select(Invoice).where(Invoice.pdf.is_(None), Invoice.issued_here).order_by(Invoice.id)
    ).all()
    for invoice in missing:
        invoice_pdf(invoice)
    db.session.flush()
