"""What briefing sheets were e-mailed: one row per event, actor and reason, so a daily task never
sends the same sheet twice."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, utcnow
from app.extensions import db


class BriefingReason(enum.StrEnum):
    #: With the confirmation that the client accepted the quote.
    ACCEPTED = "accepted"
    #: The reminder a set number of days before the event (``flask offers send-briefings``).
    REMINDER = "reminder"


class BriefingSend(db.Model):
    __tablename__ = "briefing_sends"
    __table_args__ = (
        sa.UniqueConstraint(
            "event_id", "organisation_id", "reason", name="uq_briefing_sends_event_organisation_reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    reason: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    recipients: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
