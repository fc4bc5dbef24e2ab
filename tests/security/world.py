"""Two tenants, built with the factories of ``tests/conftest.py``, for the role × route matrix and the
fuzzer: organisation A and client X own everything the URLs point at; organisation B and client Y own
a mirror event of their own. Every text the other tenant must never see carries a marker.

- ``event``: client X's event, won: a quote accepted by the client, a final invoice, a payment and the
  actors' payouts (organisation A is the lead of its first lot).
- ``open_event``: client X's event under consultation: lots, organisation A's accepted assignment
  and its line, its pending invitation, a proposed assignment of a third organisation.
- ``event_b``: client Y's event with organisation B's accepted assignment and line.

:func:`build_joint_world` adds what the joint-invoicing routes need to succeed (a separate world: it
changes what some routes of the first one answer, e.g. the won event's payout waits for the actor's
answer to its self-billed invoice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal as D

from app.auth.services import issue_magic_link, reset_password_by_admin
from app.extensions import db
from app.models import Chain, ChainLink, Organisation
from invoicing.models import Payout
from invoicing.services import invoices as invoice_service
from invoicing.services import joint, mandates, self_billing
from invoicing.services.mandates import record_signed
from invoicing.services.payments import record_payment
from offers.models import (
    Assignment,
    AssignmentRole,
    AssignmentStatus,
    BillingMode,
    EventStatus,
    Line,
    Lot,
    Quote,
)
from offers.services import quotes as quote_service
from reports import services as report_service
from tests.invoicing.test_joint import DAY, accept, build_joint
from tests.offers.quote_fixtures import build_ready_event

# One pixel, PNG: a logo for the logo routes.
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
    b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)

#: Texts of tenant A (organisation A, client X) that tenant B's people must never read, and back.
MARKERS_A = ("Zircon-A", "Client Xénon", "ligne-zircon")
MARKERS_B = ("Basalte-B", "Client Yttrium", "ligne-basalte")


@dataclass
class World:
    #: role → the session id of its user (``User.get_id()``, read once: objects expire on commit).
    users: dict[str, str] = field(default_factory=dict)
    ids: dict[str, object] = field(default_factory=dict)


def build_world(make_event, make_client, make_category, make_organisation, make_user) -> World:
    world = World()
    event, lots, (org_a, _shop, _photographer) = build_ready_event(
        make_event, make_client, make_category, make_organisation, title="Congrès Zircon-A"
    )
    client_x = event.client
    client_x.name = "Client Xénon"
    org_a.logo, org_a.logo_mime = PNG, "image/png"
    lots[0].lines[0].description = "Déjeuner ligne-zircon"
    db.session.flush()

    admin = make_user("admin")
    coordinator = make_user("coordinator")
    treasurer = make_user("treasurer")
    quote = quote_service.issue_quote(event, coordinator, today=date(2026, 3, 2))
    quote_service.mark_sent(quote, coordinator)
    quote_service.accept_quote(quote, name="Claire Morvan", agreed=True, today=date(2026, 3, 5), notify=False)
    invoice = invoice_service.issue_final(quote, treasurer, today=date(2026, 3, 10))
    record_payment(invoice, treasurer, received_on=date(2026, 3, 20), amount=D("1000.00"))
    payout = db.session.query(Payout).filter_by(event_id=event.id, organisation_id=org_a.id).one()

    # Client X's event under consultation, where organisation A works.
    open_event = make_event(client=client_x, title="Forum Zircon-A", status=EventStatus.CONSULTING)
    category = lots[0].category
    lot = Lot(event_id=open_event.id, category=category, title="Buffet Zircon-A", position=0)
    other_lot = Lot(event_id=open_event.id, category=category, title="Goûter Zircon-A", position=1)
    db.session.add_all([lot, other_lot])
    db.session.flush()
    third = make_organisation(name="Tierce")
    accepted = Assignment(
        lot_id=lot.id, organisation=org_a, role=AssignmentRole.LEAD, status=AssignmentStatus.ACCEPTED
    )
    invited = Assignment(
        lot_id=other_lot.id,
        organisation=org_a,
        role=AssignmentRole.LEAD,
        status=AssignmentStatus.INVITED,
        invited_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    proposed = Assignment(lot_id=lot.id, organisation=third, status=AssignmentStatus.PROPOSED)
    line = Line(
        lot_id=lot.id,
        organisation=org_a,
        description="Café ligne-zircon",
        quantity=D("40"),
        unit="tasse",
        unit_price=D("1.50"),
        vat_rate=D("0.1000"),
    )
    db.session.add_all([accepted, invited, proposed, line])

    # Tenant B: organisation B and client Y, on an event of their own.
    org_b = make_organisation(name="Organisation B")
    client_y = make_client(name="Client Yttrium")
    event_b = make_event(client=client_y, title="Salon Basalte-B", status=EventStatus.CONSULTING)
    lot_b = Lot(event_id=event_b.id, category=category, title="Lot Basalte-B", position=0)
    db.session.add(lot_b)
    db.session.flush()
    db.session.add_all(
        [
            Assignment(
                lot_id=lot_b.id,
                organisation=org_b,
                role=AssignmentRole.LEAD,
                status=AssignmentStatus.ACCEPTED,
            ),
            Line(
                lot_id=lot_b.id,
                organisation=org_b,
                description="Repas ligne-basalte",
                quantity=D("10"),
                unit="repas",
                unit_price=D("12.00"),
                vat_rate=D("0.1000"),
            ),
        ]
    )

    chain = Chain(name="Chaîne du pain", slug="chaine-du-pain", published=True, position=0)
    db.session.add(chain)
    db.session.flush()
    chain_link = ChainLink(chain_id=chain.id, organisation_id=org_a.id, position=0, note="fournit le pain")
    db.session.add(chain_link)
    db.session.flush()

    actor = make_user("actor", organisation=org_a)
    # Organisation A's signed billing mandate, the won event's report shared by a link, and a password
    # reset link the admin made for a coordinator of its own (the world's people keep their passwords).
    mandate = record_signed(
        org_a, coordinator, prefix="ZA", valid_from=date(2026, 1, 1), document=b"%PDF-1.4 mandat Zircon-A"
    )
    report_token = report_service.share(event, coordinator, show_amounts=False).token
    forgetful = make_user("coordinator")
    reset_token = reset_password_by_admin(forgetful, admin)
    world.users = {
        "admin": admin,
        "coordinator": coordinator,
        "treasurer": treasurer,
        "actor": actor,
        "other_actor": make_user("actor", organisation=org_b),
        "client": make_user("client", client=client_x),
        "other_client": make_user("client", client=client_y),
    }
    world.ids = {
        "event": event.id,
        "open_event": open_event.id,
        "lot": lot.id,
        "category": category.id,
        "assignment": accepted.id,
        "invited": invited.id,
        "proposed": proposed.id,
        "line": line.id,
        "quote": quote.id,
        "quote_token": quote_service.portal_token(quote),
        "invoice": invoice.id,
        "payout": payout.id,
        "organisation": org_a.id,
        "other_organisation": org_b.id,
        "organisation_slug": org_a.slug,
        "client": client_x.id,
        "chain": chain.id,
        "chain_slug": chain.slug,
        "chain_link": chain_link.id,
        "magic_token": issue_magic_link(actor).token,
        "mandate": mandate.id,
        "report_token": report_token,
        "reset_token": reset_token,
        "user": forgetful.id,
    }
    world.users = {role: user.get_id() for role, user in world.users.items()}
    return world


def build_joint_world(make_event, make_client, make_category, make_organisation, make_user) -> World:
    """The world, plus, for client X (a public buyer: SIRET, Chorus Pro service code, engagement from
    the event's order number):

    - ``joint_event``: a joint-consortium event (``build_joint`` of the invoicing tests) whose quote is
      accepted and whose groupement's invoices are issued: organisation A's (under its mandate, in its
      series), L'Équipage's (mandate granted in its portal), the coordinator's fee and its commission
      invoices to the members (``joint_commission`` to organisation A, ``joint_shop_commission``);
      Yves Monteil, without a mandate, has still to send its own invoice (``joint_awaiting``).
    - ``joint_pending``: another joint-consortium event of client X, its quote accepted, nothing issued
      yet: organisation A (its mandate) and two members without one.
    - ``self_billed``: organisation A's self-billed invoice on the won event (single mode, under its
      mandate), awaiting the actor's answer.
    """
    world = build_world(make_event, make_client, make_category, make_organisation, make_user)
    org_a = db.session.get(Organisation, world.ids["organisation"])
    built = build_joint(
        make_event,
        make_client,
        make_category,
        make_organisation,
        make_user,
        cook=org_a,
        title="Assises Zircon-A",
    )
    treasurer = built["treasurer"]
    pending, _lots, _members = build_ready_event(
        make_event,
        make_client,
        make_category,
        make_organisation,
        mode=BillingMode.JOINT_CONSORTIUM,
        cook=org_a,
        title="Rencontres Zircon-A",
    )
    accept(pending, built["coordinator"])
    issued = joint.issue_joint(built["quote"], treasurer, today=DAY).issued
    won_quote = db.session.get(Quote, world.ids["quote"])
    self_billed = self_billing.issue_self_billed(won_quote, org_a, treasurer, today=DAY)
    db.session.flush()

    def issued_by(organisation_id):
        return next(i.id for i in issued if i.issuer_organisation_id == organisation_id)

    fee = next(i.id for i in issued if i.issuer_organisation_id is None and i.buyer["name"] == "Client Xénon")

    def commission_to(organisation_id):
        return next(
            i.id
            for i in issued
            if i.issuer_organisation_id is None
            and i.references["joint"]["organisation_id"] == organisation_id
        )

    world.ids |= {
        "joint_event": built["event"].id,
        "joint_pending": pending.id,
        "joint_invoice": issued_by(org_a.id),
        "joint_shop_invoice": issued_by(built["shop"].id),
        "joint_fee_invoice": fee,
        "joint_commission": commission_to(org_a.id),
        "joint_shop_commission": commission_to(built["shop"].id),
        "joint_awaiting": built["photographer"].id,
        "shop_mandate": mandates.live_mandate(built["shop"].id).id,
        "self_billed": self_billed.id,
    }
    return world
