"""Lots: the parts of an event, each of one category."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, enum_column, utcnow
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.states import StateMachine


class LotStatus(enum.StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"


#: The only place lot moves are defined: a lot is open or cancelled; a cancelled lot can be reopened.
LOT_STATES = StateMachine(
    name="lot",
    states=LotStatus,
    transitions={
        LotStatus.OPEN: {LotStatus.CANCELLED},
        LotStatus.CANCELLED: {LotStatus.OPEN},
    },
    refusal=_l("Le lot ne peut pas passer de « %(before)s » à « %(after)s »."),
    already=_l("Le lot est déjà « %(status)s »."),
    event_id=lambda lot: lot.event_id,
)


class Lot(db.Model):
    __tablename__ = "lots"
    __table_args__ = (
        sa.CheckConstraint(
            "ends_at IS NULL OR starts_at IS NULL OR ends_at >= starts_at", name="ends_after_start"
        ),
        sa.CheckConstraint("position >= 0", name="position_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False, index=True
    )
    category_id: Mapped[int] = mapped_column(
        sa.ForeignKey("categories.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(sa.String(250), nullable=False)
    specification: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    place: Mapped[str] = mapped_column(sa.String(250), nullable=False, default="")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Free text for the expected quantities ("400 pochettes", "3 pauses de 150 personnes").
    quantities: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    response_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    status: Mapped[LotStatus] = mapped_column(
        enum_column(LotStatus, "lot_status"), nullable=False, default=LotStatus.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    event = relationship("Event", back_populates="lots")
    category = relationship("Category", lazy="joined")
    assignments = relationship(
        "Assignment", back_populates="lot", order_by="Assignment.id", cascade="all, delete-orphan"
    )
    lines = relationship("Line", back_populates="lot", order_by="Line.position", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version_id}

    def __repr__(self) -> str:
        return f"<Lot {self.id} {self.title!r}>"

    @property
    def is_open(self) -> bool:
        return self.status == LotStatus.OPEN

    @property
    def is_cancelled(self) -> bool:
        return self.status == LotStatus.CANCELLED

    @property
    def can_cancel(self) -> bool:
        return LOT_STATES.allows(self.status, LotStatus.CANCELLED)

    @property
    def can_reopen(self) -> bool:
        return LOT_STATES.allows(self.status, LotStatus.OPEN)
