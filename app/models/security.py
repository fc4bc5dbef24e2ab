"""Login throttling counters and magic links, kept in the database (shared by every worker)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, utcnow
from app.extensions import db


class LoginFailure(db.Model):
    """One failed login, counted per account and per address over a sliding window."""

    __tablename__ = "login_failures"
    __table_args__ = (sa.Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``account:<email>`` or ``ip:<address>``.
    key: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class MagicLink(db.Model):
    """A single-use login link; only the SHA-256 of its secret is stored."""

    __tablename__ = "magic_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Where to go after logging in (a path inside the app, checked when used).
    next_path: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)

    user = relationship("User")
