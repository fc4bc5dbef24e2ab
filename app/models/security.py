"""Login throttling counters and magic links, kept in the database (shared by every worker)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, utcnow
from app.extensions import db


class ThrottleCounter(db.Model):
    """A fixed-window counter (failed logins, login-link requests), per account or per address.

    Incremented atomically by one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (see
    :mod:`app.auth.throttle`): two workers never read the same count.
    """

    __tablename__ = "throttle_counters"

    #: ``login-account:<email>``, ``login-ip:<address>``, ``link-account:<email>``, ``link-ip:<address>``.
    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    #: The window ends here; the next hit after it starts a new window at 1.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


class LoginLinkRequest(db.Model):
    """Someone asked for a login link for ``email``; the outbox worker answers it, outside the request.

    The request itself stores this row whether or not an account exists, so that its time and its
    queries reveal nothing (``flask outbox send`` looks the account up and queues the e-mail).
    """

    __tablename__ = "login_link_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), nullable=False)
    ip: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)


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
