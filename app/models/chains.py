"""Thematic chains: named, ordered paths from actor to actor ("la chaîne du bien manger").

The coordinator draws them; the public directory shows each published chain as a path. A chain only
points at organisations: what the public sees of each actor is decided by the actor's own consent
(``Organisation.public_listing``, ``active``), never by the chain.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, utcnow
from app.extensions import db


class Chain(db.Model):
    """A thematic chain of actors, with its description."""

    __tablename__ = "chains"
    __table_args__ = (sa.CheckConstraint("position >= 0", name="position_non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    #: URL-safe identifier for the public page (/annuaire/chaines/<slug>); kept when the name changes.
    slug: Mapped[str] = mapped_column(sa.String(120), nullable=False, unique=True)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: Display order of the chains on the public page (smallest first).
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    #: Shown on the public directory; an unpublished chain is a draft only staff see.
    published: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    #: Optimistic lock: stale forms are detected against it; link changes touch the chain too.
    version_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    links: Mapped[list[ChainLink]] = relationship(
        back_populates="chain",
        order_by="ChainLink.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    __mapper_args__ = {"version_id_col": version_id}

    def __repr__(self) -> str:
        return f"<Chain {self.slug}>"


class ChainLink(db.Model):
    """One step of a chain: an actor, its place in the path, and what it passes on to the next."""

    __tablename__ = "chain_links"
    __table_args__ = (
        sa.UniqueConstraint("chain_id", "position", name="uq_chain_links_chain_position"),
        sa.UniqueConstraint("chain_id", "organisation_id", name="uq_chain_links_chain_organisation"),
        sa.CheckConstraint("position >= 0", name="position_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_id: Mapped[int] = mapped_column(sa.ForeignKey("chains.id", ondelete="CASCADE"), nullable=False)
    #: An organisation in a chain cannot be deleted: deactivate it (it then leaves the public path).
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: 0 for the first actor of the path; positions are kept contiguous (0..n-1) by the services.
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    #: What passes from this actor to the next one ("fournit le pain"); shown on the public path.
    note: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)

    chain: Mapped[Chain] = relationship(back_populates="links")
    organisation = relationship("Organisation")

    def __repr__(self) -> str:
        return f"<ChainLink chain={self.chain_id} #{self.position} organisation={self.organisation_id}>"
