"""Events: a client's request, and its state machine."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Money, Rate, UTCDateTime, enum_column, utcnow
from app.extensions import db


class EventStatus(enum.StrEnum):
    DRAFT = "draft"
    CONSULTING = "consulting"
    QUOTED = "quoted"
    WON = "won"
    LOST = "lost"
    DELIVERED = "delivered"
    CLOSED = "closed"
    CANCELLED = "cancelled"


#: The only place event moves are defined (docs/architecture.md, "State machines").
EVENT_TRANSITIONS: dict[EventStatus, set[EventStatus]] = {
    EventStatus.DRAFT: {EventStatus.CONSULTING, EventStatus.CANCELLED},
    EventStatus.CONSULTING: {EventStatus.QUOTED, EventStatus.CANCELLED},
    EventStatus.QUOTED: {EventStatus.WON, EventStatus.LOST, EventStatus.CONSULTING, EventStatus.CANCELLED},
    EventStatus.WON: {EventStatus.DELIVERED, EventStatus.CANCELLED},
    EventStatus.LOST: {EventStatus.CLOSED, EventStatus.CONSULTING},
    EventStatus.DELIVERED: {EventStatus.CLOSED, EventStatus.CANCELLED},
    EventStatus.CLOSED: set(),
    EventStatus.CANCELLED: set(),
}


class BillingMode(enum.StrEnum):
    #: The coordinator invoices in its own name; actors are its suppliers.
    SINGLE_CONTRACTOR = "single_contractor"
    #: Groupement conjoint: one invoice per actor in the actor's own series, issued by the mandataire.
    JOINT_CONSORTIUM = "joint_consortium"


class FeeKind(enum.StrEnum):
    NONE = "none"
    PERCENT = "percent"
    FIXED = "fixed"


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (
        sa.CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
        sa.CheckConstraint("headcount IS NULL OR headcount >= 0", name="headcount_non_negative"),
        sa.CheckConstraint("fee_rate >= 0", name="fee_rate_non_negative"),
        sa.CheckConstraint("fee_amount >= 0", name="fee_amount_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(250), nullable=False)
    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("clients.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    venue: Mapped[str] = mapped_column(sa.String(250), nullable=False, default="")
    venue_address: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
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
    purchase_order_number: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    response_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Contact on site, printed on the actors' briefing sheets.
    onsite_contact: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    #: Set when the event was created by duplicating another.
    duplicated_from_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("events.id", ondelete="SET NULL"), nullable=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    client = relationship("Client", lazy="joined")
    lots = relationship("Lot", back_populates="event", order_by="Lot.position", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version_id}

    def __repr__(self) -> str:
        return f"<Event {self.id} {self.title!r}>"
