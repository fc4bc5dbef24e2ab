"""The mail outbox: every message is stored before any attempt to send it."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, enum_column, utcnow
from app.extensions import db


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    #: Gave up after MAIL_MAX_ATTEMPTS; kept, and can be retried by hand.
    FAILED = "failed"


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (sa.CheckConstraint("attempts >= 0", name="attempts_non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    sender: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    #: Comma-separated addresses.
    recipients: Mapped[str] = mapped_column(sa.Text, nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    body_text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    body_html: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    #: RFC 5322 Message-ID, fixed at creation so a retry is the same message.
    message_id: Mapped[str] = mapped_column(sa.String(200), nullable=False, unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus, "outbox_status"), nullable=False, default=OutboxStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Where the .eml was written when no SMTP server is configured.
    file_path: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)

    attachments = relationship(
        "OutboxAttachment",
        back_populates="message",
        cascade="all, delete-orphan",
        order_by="OutboxAttachment.id",
    )


class OutboxAttachment(db.Model):
    __tablename__ = "outbox_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        sa.ForeignKey("outbox_messages.id", ondelete="CASCADE"), nullable=False, index=True
    )
    filename: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    mimetype: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary, nullable=False)

    message = relationship("OutboxMessage", back_populates="attachments")
