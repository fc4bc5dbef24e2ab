"""Events: a client's request, and its state machine :data:`EVENT_STATES`."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Mapped, defer, mapped_column, relationship

from app.db import Money, Rate, UTCDateTime, enum_column, utcnow
from app.errors import DomainError
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.labels import label
from app.states import Guard, StateMachine


class EventStatus(enum.StrEnum):
    DRAFT = "draft"
    CONSULTING = "consulting"
    QUOTED = "quoted"
    WON = "won"
    LOST = "lost"
    DELIVERED = "delivered"
    CLOSED = "closed"
    CANCELLED = "cancelled"


def _has_open_lot(event: Event) -> str | None:
    from offers.models.lot import LotStatus

    if not any(lot.status == LotStatus.OPEN for lot in event.lots):
        return _("Ajoutez au moins un lot avant de lancer la consultation.")
    return None


def _current_quote_accepted(event: Event) -> str | None:
    """An event is won only when the client accepted the latest version of its quote."""
    from offers.models.quote import QuoteStatus

    quote = event.current_quote
    if quote is None:
        return _(
            "L'événement ne peut pas passer à « %(won)s » : aucun devis n'a été émis. "
            "Il le devient quand le client accepte la dernière version du devis.",
            won=label(EventStatus.WON),
        )
    if quote.status != QuoteStatus.ACCEPTED:
        return _(
            "L'événement ne peut pas passer à « %(won)s » : la dernière version du devis "
            "(%(number)s v%(version)s) est « %(status)s ». Il le devient quand le client l'accepte.",
            won=label(EventStatus.WON),
            number=quote.number,
            version=quote.version,
            status=quote.status_label,
        )
    return None


def _after_event_move(event, target) -> None:
    if target == EventStatus.CANCELLED:
        # Its actors no longer worked on it: their first-time collaborations move on.
        from offers.services import work

        work.refresh_pairs(event.id)


#: The only place event moves are defined (docs/architecture.md, "State machines");
#: :meth:`StateMachine.move` is the only way to make them.
EVENT_STATES = StateMachine(
    name="event",
    states=EventStatus,
    transitions={
        EventStatus.DRAFT: {EventStatus.CONSULTING, EventStatus.CANCELLED},
        EventStatus.CONSULTING: {EventStatus.QUOTED, EventStatus.CANCELLED},
        EventStatus.QUOTED: {
            EventStatus.WON,
            EventStatus.LOST,
            EventStatus.CONSULTING,
            EventStatus.CANCELLED,
        },
        EventStatus.WON: {EventStatus.DELIVERED, EventStatus.CANCELLED},
        EventStatus.LOST: {EventStatus.CLOSED, EventStatus.CONSULTING},
        EventStatus.DELIVERED: {EventStatus.CLOSED, EventStatus.CANCELLED},
        EventStatus.CLOSED: set(),
        EventStatus.CANCELLED: set(),
    },
    refusal=_l("L'événement ne peut pas passer de « %(before)s » à « %(after)s »."),
    already=_l("L'événement est déjà « %(status)s »."),
    guards={
        EventStatus.CONSULTING: (Guard(_has_open_lot, error=DomainError),),
        EventStatus.WON: (Guard(_current_quote_accepted),),
    },
    event_id=lambda event: event.id,
    after_move=_after_event_move,
)

#: Statuses in which an event and its lots no longer change.
FROZEN_EVENT_STATUSES = frozenset({EventStatus.CLOSED, EventStatus.CANCELLED})
#: Statuses in which a quote may be issued for the event (a new one, or a new version).
QUOTABLE_EVENT_STATUSES = frozenset(
    {EventStatus.DRAFT, EventStatus.CONSULTING, EventStatus.QUOTED, EventStatus.LOST}
)


class BillingMode(enum.StrEnum):
    #: The coordinator invoices in its own name; actors are its suppliers.
    SINGLE_CONTRACTOR = "single_contractor"
    #: Groupement conjoint: one invoice per actor in the actor's own series, issued by the mandataire.
    JOINT_CONSORTIUM = "joint_consortium"


#: Common public procurement procedures, offered on the event form (free text is allowed too) and
#: printed as typed on the quote.
PROCUREMENT_PROCEDURES = (
    "Marché à procédure adaptée (MAPA)",
    "Marché sans publicité ni mise en concurrence préalables",
    "Appel d'offres ouvert",
    "Appel d'offres restreint",
    "Procédure avec négociation",
    "Marché négocié sans publicité ni mise en concurrence préalables",
    "Dialogue compétitif",
    "Marché subséquent d'un accord-cadre",
    "Bon de commande d'un accord-cadre",
)


class FeeKind(enum.StrEnum):
    NONE = "none"
    PERCENT = "percent"
    FIXED = "fixed"


class FeeCharging(enum.StrEnum):
    """How the coordination fee is charged: derived from the fee line and the commission rate
    (:attr:`Event.fee_charging`), never stored, so the two can never disagree."""

    #: No fee at all.
    NONE = "none"
    #: A fee line added to the client's quote and invoices (``fee_kind`` percent or fixed).
    CLIENT = "client"
    #: A commission kept from the actors' shares (``commission_rate`` > 0), invisible to the client.
    ACTORS = "actors"
    #: Both a fee line and a commission.
    BOTH = "both"


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (
        sa.CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
        sa.CheckConstraint("headcount IS NULL OR headcount >= 0", name="headcount_non_negative"),
        sa.CheckConstraint("fee_rate >= 0", name="fee_rate_non_negative"),
        sa.CheckConstraint("fee_amount >= 0", name="fee_amount_non_negative"),
        # The upper bound (< 100 %) is the service's: on SQLite a rate is stored scaled (x 10 000).
        sa.CheckConstraint("commission_rate >= 0", name="commission_rate_non_negative"),
        # An event's date by its id from a small index, not the event's wide row (SQLite): the actor
        # portal's sort of an organisation's history by event date (``offers.services.portal``).
        sa.Index("ix_events_id_starts_at", "id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(250), nullable=False)
    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("clients.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    venue: Mapped[str] = mapped_column(sa.String(250), nullable=False, default="")
    venue_address: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    headcount: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    status: Mapped[EventStatus] = mapped_column(
        enum_column(EventStatus, "event_status"), nullable=False, default=EventStatus.DRAFT, index=True
    )
    billing_mode: Mapped[BillingMode] = mapped_column(
        enum_column(BillingMode, "billing_mode"), nullable=False, default=BillingMode.SINGLE_CONTRACTOR
    )
    fee_kind: Mapped[FeeKind] = mapped_column(
        enum_column(FeeKind, "fee_kind"), nullable=False, default=FeeKind.NONE
    )
    #: Used when fee_kind is percent: a fraction of the lots' net (0.0800 for 8 %).
    fee_rate: Mapped[Decimal] = mapped_column(Rate(), nullable=False, default=Decimal("0"))
    #: Used when fee_kind is fixed: an amount excl. VAT, to the cent.
    fee_amount: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=Decimal("0"))
    #: Kept from the actors: a fraction of each actor's share (0.0500 for 5 %), invisible to the
    #: client; 0 when the fee is only added to the client. See :attr:`fee_charging`.
    commission_rate: Mapped[Decimal] = mapped_column(Rate(), nullable=False, default=Decimal("0"))
    purchase_order_number: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    response_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: A public buyer's contract: its consultation or contract reference, its procedure (one of
    #: :data:`PROCUREMENT_PROCEDURES` or free text) and CPV codes (``79952000-2, 55520000-1``),
    #: all printed on the quote.
    contract_reference: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")
    procurement_procedure: Mapped[str] = mapped_column(sa.String(150), nullable=False, default="")
    cpv_codes: Mapped[str] = mapped_column(sa.String(250), nullable=False, default="")
    #: Joint consortium: the coordinator, as mandataire, is jointly liable for each member's
    #: obligations (« mandataire solidaire ») or not.
    joint_and_several: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    #: Joint consortium: the quote ends with a « bon pour accord » block for each member.
    member_signatures: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    #: Contact on site, printed on the actors' briefing sheets.
    onsite_contact: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    #: Set when the event was created by duplicating another.
    duplicated_from_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("events.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    client = relationship("Client", lazy="joined")
    lots = relationship("Lot", back_populates="event", order_by="Lot.position", cascade="all, delete-orphan")
    #: The quote versions, newest first, as loaded (for pages; services ask :attr:`current_quote`).
    quotes = relationship("Quote", viewonly=True, order_by="[Quote.version.desc(), Quote.id.desc()]")

    __mapper_args__ = {"version_id_col": version_id}

    def __repr__(self) -> str:
        return f"<Event {self.id} {self.title!r}>"

    @property
    def fee_charging(self) -> FeeCharging:
        """Who pays the coordination fee: the client (a fee line), the actors (a commission), both."""
        client = self.fee_kind != FeeKind.NONE
        actors = bool(self.commission_rate) and self.commission_rate > 0
        if client and actors:
            return FeeCharging.BOTH
        if client:
            return FeeCharging.CLIENT
        return FeeCharging.ACTORS if actors else FeeCharging.NONE

    # --- what the status allows (templates and views ask these, never the status itself) -------

    @property
    def allowed_moves(self) -> list[EventStatus]:
        """The statuses the event may move to now (table and guards), in the enum's order."""
        return EVENT_STATES.moves(self)

    @property
    def is_frozen(self) -> bool:
        """Closed or cancelled: the event, its lots and lines no longer change."""
        return self.status in FROZEN_EVENT_STATUSES

    @property
    def consultation_started(self) -> bool:
        """Past the draft: moving back to consultation resumes it rather than starting it."""
        return self.status != EventStatus.DRAFT

    @property
    def current_quote(self):
        """The latest version of the event's quote, or ``None`` (one query; its snapshot, a whole
        offer's JSON, is read only if asked for: the event page asks this of a quoted event for its
        status alone)."""
        from offers.models.quote import Quote

        return db.session.scalar(
            sa.select(Quote)
            .where(Quote.event_id == self.id)
            .order_by(Quote.version.desc())
            .limit(1)
            .options(defer(Quote.snapshot))
        )

    @property
    def accepts_quotes(self) -> bool:
        """The event's status allows issuing a quote (whatever its current version)."""
        return self.status in QUOTABLE_EVENT_STATUSES

    @property
    def can_issue_quote(self) -> bool:
        """A quote, or a new version, may be issued: the status allows it and the latest version
        (of :attr:`quotes`, as loaded for the page) was not accepted."""
        if not self.accepts_quotes:
            return False
        return not self.quotes or self.quotes[0].can_be_superseded
