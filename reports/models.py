"""A shared impact report: the unguessable link a coordinator chose to publish, until revoked."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, utcnow
from app.extensions import db


class ReportShare(db.Model):
    """One row per event whose report is public; deleting it revokes the link."""

    __tablename__ = "report_shares"

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    #: ``secrets.token_urlsafe(32)``: 43 characters, 256 bits.
    token: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    #: The coordinator chose to publish each actor's amount (otherwise only totals are shown).
    show_amounts: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
