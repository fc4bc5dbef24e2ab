"""Payouts (reversements): what the coordinator owes one actor for one event."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Money, Rate, UTCDateTime, enum_column, utcnow
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.states import StateMachine


class PayoutStatus(enum.StrEnum):
    DUE = "due"
    PAID = "paid"


#: The only place payout moves are defined.
PAYOUT_STATES = StateMachine(
    name="payout",
    states=PayoutStatus,
    transitions={
        PayoutStatus.DUE: {PayoutStatus.PAID},
        PayoutStatus.PAID: set(),
    },
    refusal=_l("Le reversement ne peut pas passer de « %(before)s » à « %(after)s »."),
    already=_l("Le reversement est déjà « %(status)s »."),
    event_id=lambda payout: payout.event_id,
)


class Payout(db.Model):
    __tablename__ = "payouts"
    __table_args__ = (
        sa.CheckConstraint("share >= 0 AND commission >= 0", name="share_and_commission_non_negative"),
        sa.CheckConstraint("commission_rate >= 0", name="commission_rate_non_negative"),
        sa.CheckConstraint("(status = 'paid') = (paid_on IS NOT NULL)", name="paid_has_date"),
        # The payouts list reads each status latest first, a page at a time (walked backwards).
        sa.Index("ix_payouts_list", "status", "paid_on", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("events.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: Sum of the nets of the lines the actor delivered.
    share: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    commission_rate: Mapped[Decimal] = mapped_column(Rate(), nullable=False, default=Decimal("0"))
    #: Kept by the coordinator, cents allocated by largest remainder.
    commission: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    #: share - commission; negative only on an adjusting payout.
    net_amount: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    vat_amount: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=Decimal("0"))
    amount: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    status: Mapped[PayoutStatus] = mapped_column(
        enum_column(PayoutStatus, "payout_status"), nullable=False, default=PayoutStatus.DUE
    )
    paid_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    reference: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    #: A correction of a paid payout points at it.
    adjusts_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("payouts.id", ondelete="RESTRICT"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    organisation = relationship("Organisation")

    @property
    def is_paid(self) -> bool:
        return self.status == PayoutStatus.PAID

    adjusts = relationship("Payout", remote_side=[id])
