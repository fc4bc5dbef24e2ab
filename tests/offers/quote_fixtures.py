"""A ready-to-quote event, built with the factories: three lots, mixed VAT rates, a 8 % fee."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from app.extensions import db
from app.models import CoordinatorIdentity, LegalForm, VatRegime
from offers.models import Assignment, AssignmentRole, AssignmentStatus, EventStatus, FeeKind, Line, Lot

IDENTITY = dict(
    id=1,
    name="Les Ecossolies",
    legal_form=LegalForm.ASSOCIATION,
    siret="40483304800022",
    vat_regime=VatRegime.SUBJECT,
    vat_number="FR83404833048",
    address="8 rue Saint-Domingue",
    postal_code="44200",
    commune="Nantes",
    email="contact@example.org",
    payment_terms="Paiement à 30 jours par virement.",
    legal_mentions="Pénalités de retard : trois fois le taux d'intérêt légal ; indemnité forfaitaire de 40 € pour frais de recouvrement.",
)


def build_ready_event(
    make_event, make_client, make_category, make_organisation, *, mode=None, cook=None, shop=None, **event_kw
):
    """The event, its lots and its three organisations; a ``cook`` given (an existing organisation, exempt
    from VAT like Méli-Mélo) takes Méli-Mélo's place, and a ``shop`` (subject to VAT) L'Équipage's, so
    that organisations can work on several events."""
    identity = db.session.get(CoordinatorIdentity, 1)
    if identity is None:
        db.session.add(CoordinatorIdentity(**IDENTITY))
    import sqlalchemy as sa

    from app.models import Client

    client = db.session.scalar(sa.select(Client).where(Client.siret == "21440109300015")) or make_client(
        name="Nantes Métropole",
        siret="21440109300015",
        contact_email="achats@example.org",
        chorus_service_code="EVT-44",
    )
    values = dict(
        title="Assises de test",
        client=client,
        status=EventStatus.CONSULTING,
        fee_kind=FeeKind.PERCENT,
        fee_rate=D("0.0800"),
        purchase_order_number="BC-42",
        starts_at=datetime(2026, 4, 15, 6, 0, tzinfo=UTC),
        ends_at=datetime(2026, 4, 15, 16, 0, tzinfo=UTC),
    )
    if mode is not None:
        values["billing_mode"] = mode
    values.update(event_kw)
    event = make_event(**values)
    food = make_category(name="Restauration", default_vat_rate=D("0.1000"))
    books = make_category(name="Librairie", default_vat_rate=D("0.0550"))
    photo = make_category(name="Photographie", default_vat_rate=D("0.2000"))
    cook = cook or make_organisation(name="Méli-Mélo", vat_regime=VatRegime.EXEMPT)
    shop = shop or make_organisation(
        name="L'Équipage", legal_form=LegalForm.SCOP, vat_regime=VatRegime.SUBJECT
    )
    photographer = make_organisation(
        name="Yves Monteil", legal_form=LegalForm.EI, vat_regime=VatRegime.FRANCHISE
    )
    spec = [
        (
            "Restauration",
            food,
            cook,
            [
                ("Déjeuner", D("400"), "repas", D("14.50"), D("0.1000")),
                ("Service en salle", D("7.5"), "heure", D("32.50"), D("0.1000")),
            ],
        ),
        ("Librairie", books, shop, [("Librairie éphémère", D("1"), "forfait", D("350.00"), D("0.0550"))]),
        (
            "Photographie",
            photo,
            photographer,
            [("Reportage photo", D("1"), "jour", D("650.00"), D("0.2000"))],
        ),
    ]
    lots = []
    for position, (title, category, org, lines) in enumerate(spec):
        lot = Lot(
            event_id=event.id, category=category, title=title, position=position, place="Grand auditorium"
        )
        db.session.add(lot)
        db.session.flush()
        db.session.add(
            Assignment(
                lot_id=lot.id, organisation=org, role=AssignmentRole.LEAD, status=AssignmentStatus.ACCEPTED
            )
        )
        for i, (description, quantity, unit, price, rate) in enumerate(lines):
            db.session.add(
                Line(
                    lot_id=lot.id,
                    organisation=org,
                    description=description,
                    quantity=quantity,
                    unit=unit,
                    unit_price=price,
                    vat_rate=rate,
                    position=i,
                )
            )
        lots.append(lot)
    db.session.flush()
    db.session.expire_all()
    return event, lots, (cook, shop, photographer)
