"""Users and their roles."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, enum_column, utcnow
from app.extensions import db


class Role(enum.StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    TREASURER = "treasurer"
    ACTOR = "actor"
    CLIENT = "client"


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("(role = 'actor') = (organisation_id IS NOT NULL)", name="actor_has_organisation"),
        sa.CheckConstraint("(role = 'client') = (client_id IS NOT NULL)", name="client_has_client"),
        sa.CheckConstraint("session_epoch >= 0", name="session_epoch_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Always stored lower-case; the login identifier.
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    #: Argon2id hash; NULL for users who only log in by magic link.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"), nullable=False)
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    client_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("clients.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    #: Bumped on logout-everywhere and deactivation: every cookie carrying an older epoch is refused.
    session_epoch: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    locale: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    organisation = relationship("Organisation", lazy="joined")
    client = relationship("Client", lazy="joined")

    # Flask-Login: the session stores "id:epoch", so bumping the epoch ends every session.
    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.active)

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"
