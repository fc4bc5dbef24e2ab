"""The audit log: who did what, when, to which object, with money fields before and after."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, utcnow
from app.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"
    __table_args__ = (
        sa.Index("ix_audit_entries_object", "object_type", "object_id"),
        # An event's history, newest first.
        sa.Index("ix_audit_entries_event_at", "event_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)
    #: NULL for actions taken by the system (CLI, demo loader, magic-link holder without account).
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    #: Dotted verb, e.g. ``user.login``, ``assignment.accepted``, ``line.updated``.
    action: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    object_type: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    object_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    #: The event the change belongs to, so an event page can show its history in one query.
    event_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True, index=True)
    #: The sentence as written, in French (read as is for entries without ``message_key``).
    summary: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    #: The sentence's French msgid and its parameters, translated when read (``app.audit.sentence``).
    message_key: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    message_params: Mapped[dict | None] = mapped_column(sa.JSON, nullable=True)
    #: {"field": [before, after]} with money as strings, exactly as stored.
    changes: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    ip: Mapped[str | None] = mapped_column(sa.String(45), nullable=True)

    user = relationship("User", lazy="joined")
