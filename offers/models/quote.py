"""Quotes (devis): numbered, versioned, frozen snapshots of an event's offer."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Money, Quantity, Rate, UTCDateTime, enum_column, utcnow
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.labels import label
from app.states import StateMachine


class QuoteStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


#: How a quote's status reads where it differs from the shared label: a draft is already issued
#: (numbered, its PDF frozen), only not sent yet.
QUOTE_STATUS_CODES = {QuoteStatus.DRAFT: "quote_draft"}


def quote_status_code(status) -> str:
    """The :mod:`app.labels` code of a quote status (``quote_draft`` for a draft)."""
    status = QuoteStatus(getattr(status, "value", status))
    return QUOTE_STATUS_CODES.get(status, status.value)


def quote_status_label(status) -> str:
    return label(quote_status_code(status))


def _after_quote_move(quote, target) -> None:
    if target == QuoteStatus.ACCEPTED:
        # Work done: its sums for the dashboards, and its actors' first-time collaborations.
        from offers.services import work

        work.record_accepted(quote)


#: The only place quote moves are defined; :meth:`StateMachine.move` is the only way to make them.
QUOTE_STATES = StateMachine(
    name="quote",
    states=QuoteStatus,
    transitions={
        QuoteStatus.DRAFT: {QuoteStatus.SENT, QuoteStatus.SUPERSEDED},
        QuoteStatus.SENT: {
            QuoteStatus.ACCEPTED,
            QuoteStatus.DECLINED,
            QuoteStatus.EXPIRED,
            QuoteStatus.SUPERSEDED,
        },
        QuoteStatus.ACCEPTED: set(),
        QuoteStatus.DECLINED: {QuoteStatus.SUPERSEDED},
        QuoteStatus.EXPIRED: {QuoteStatus.SUPERSEDED},
        QuoteStatus.SUPERSEDED: set(),
    },
    refusal=_l("Le devis ne peut pas passer de « %(before)s » à « %(after)s »."),
    already=_l("Le devis est déjà « %(status)s »."),
    event_id=lambda quote: quote.event_id,
    labeller=quote_status_label,
    label_code=quote_status_code,
    after_move=_after_quote_move,
)


class Quote(db.Model):
    __tablename__ = "quotes"
    __table_args__ = (
        sa.UniqueConstraint("number", "version", name="uq_quotes_number_version"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        sa.CheckConstraint(
            "total_net >= 0 AND total_vat >= 0 AND total_gross >= 0", name="totals_non_negative"
        ),
        sa.CheckConstraint("valid_until >= issue_date", name="valid_after_issue"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("events.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: ``DEV-2026-0001``: allocated once per event's first issue; versions share it.
    number: Mapped[str] = mapped_column(sa.String(35), nullable=False)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    status: Mapped[QuoteStatus] = mapped_column(
        enum_column(QuoteStatus, "quote_status"), nullable=False, default=QuoteStatus.DRAFT, index=True
    )
    issue_date: Mapped[date] = mapped_column(sa.Date, nullable=False, index=True)
    valid_until: Mapped[date] = mapped_column(sa.Date, nullable=False, index=True)
    total_net: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    total_vat: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    total_gross: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    #: Frozen parties (coordinator, client, event, actors' short cards) as plain values.
    snapshot: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    show_actor_cards: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    show_breakdown: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True, deferred=True)
    pdf_sha256: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    accepted_by_name: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    accepted_ip: Mapped[str | None] = mapped_column(sa.String(45), nullable=True)
    #: SHA-256 of the PDF the client accepted (equals pdf_sha256: the stored PDF never changes).
    accepted_pdf_sha256: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    client_purchase_order: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    declined_reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    #: The issue form's one-time token: a second submission of the same form finds this version
    #: instead of issuing another one (double click, two tabs, a retried request).
    issue_token: Mapped[str | None] = mapped_column(sa.String(64), nullable=True, unique=True)

    #: The client's name as frozen in the snapshot, written with it at issue in a column of its own:
    #: lists read it without the snapshot (whose JSON they parsed for it, 1.4 ms a page of 25).
    frozen_client_name: Mapped[str | None] = mapped_column("client_name", sa.String(200), nullable=True)

    event = relationship("Event")
    lines = relationship("QuoteLine", back_populates="quote", order_by="QuoteLine.position", cascade="all")

    # --- what the status allows (templates and views ask these, never the status itself) -------

    @property
    def status_code(self) -> str:
        """The label code of the status, for ``label()`` and ``status_style()`` in templates."""
        return quote_status_code(self.status)

    @property
    def status_label(self) -> str:
        """How the status reads: a draft reads "issued, not sent yet", never "draft"."""
        return quote_status_label(self.status)

    @property
    def is_unsent(self) -> bool:
        """Issued but not sent yet: sending it is its first dispatch."""
        return self.status == QuoteStatus.DRAFT

    @property
    def is_sent(self) -> bool:
        return self.status == QuoteStatus.SENT

    @property
    def was_sent(self) -> bool:
        """Sent to the client at some point, whatever came after (a version issued and replaced
        before it went out never was: the client never sees it)."""
        return self.sent_at is not None

    @property
    def is_accepted(self) -> bool:
        return self.status == QuoteStatus.ACCEPTED

    @property
    def is_declined(self) -> bool:
        return self.status == QuoteStatus.DECLINED

    @property
    def is_past_validity(self) -> bool:
        return self.valid_until < utcnow().date()

    @property
    def can_send(self) -> bool:
        """It may be e-mailed to the client: issued (first sending) or sent (again), and still valid."""
        sendable = self.is_sent or QUOTE_STATES.allows(self.status, QuoteStatus.SENT)
        return sendable and not self.is_past_validity

    @property
    def can_be_superseded(self) -> bool:
        """A new version may replace this one (every status but accepted)."""
        return QUOTE_STATES.allows(self.status, QuoteStatus.SUPERSEDED)

    @property
    def can_be_replaced(self) -> bool:
        """A new version of this one may be issued now: it is the latest, and the event allows it."""
        return self.event.can_issue_quote and self.event.current_quote is self


class QuoteLine(db.Model):
    """A frozen copy of a line (or the coordination fee) as it stood when the quote was issued."""

    __tablename__ = "quote_lines"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("unit_price >= 0 AND net >= 0", name="amounts_non_negative"),
        sa.CheckConstraint("vat_rate >= 0", name="vat_rate_non_negative"),
        sa.CheckConstraint("kind IN ('line', 'fee')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(
        sa.ForeignKey("quotes.id", ondelete="CASCADE"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(10), nullable=False, default="line")
    #: The source line, for version diffs (NULL for the fee, or once the line was deleted).
    source_line_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    lot_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    lot_title: Mapped[str] = mapped_column(sa.String(250), nullable=False, default="")
    lot_position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    category_name: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True, index=True
    )
    organisation_name: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    description: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Quantity(), nullable=False)
    unit: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    vat_rate: Mapped[Decimal] = mapped_column(Rate(), nullable=False)
    net: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    #: The legal mention for a 0 % line (franchise or exemption), frozen with it.
    vat_mention: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)

    quote = relationship("Quote", back_populates="lines")


#: What a list or the event page prints of a quote version (never the snapshot JSON nor the PDF).
LISTED_COLUMNS = (
    Quote.id,
    Quote.event_id,
    Quote.number,
    Quote.version,
    Quote.status,
    Quote.issue_date,
    Quote.valid_until,
    Quote.total_gross,
)


def list_options():
    """Loader options for lists of quotes, whose statement joins ``Quote.event``: only the columns
    a list prints are loaded (never the snapshot JSON nor the PDF), the frozen client name among
    them, and each quote's event comes from the join with its title alone (its client is not
    joined)."""
    from sqlalchemy.orm import contains_eager, lazyload, load_only

    from offers.models.event import Event

    return (
        load_only(*LISTED_COLUMNS, Quote.frozen_client_name),
        contains_eager(Quote.event).load_only(Event.title).options(lazyload(Event.client)),
    )
