"""The work done, kept beside the quotes for the dashboards (``offers.services.work`` fills both):
each accepted quote's lines summed per actor and category, and each pair of actors who ever worked
on the same event with the first such event. Both are derived: rebuilt from the quotes at will.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import ExactDecimal, Money, UTCDateTime, enum_column
from app.extensions import db
from offers.models.event import EventStatus


class WorkTotal(db.Model):
    """Σ of an accepted quote's lines of one actor in one category (as the quote froze its name):
    a few rows per event instead of every line, for sums over years."""

    __tablename__ = "work_totals"

    quote_id: Mapped[int] = mapped_column(sa.ForeignKey("quotes.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    category_name: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    #: The quote's event (kept here so that a period's work is read event by event).
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False, index=True
    )
    net: Mapped[Decimal] = mapped_column(Money(), nullable=False)


class Collaboration(db.Model):
    """Actors ``first_id < second_id`` worked together for the first time on ``event_id`` (the
    earliest by start, then by id, of the events both worked on)."""

    __tablename__ = "collaborations"
    __table_args__ = (sa.CheckConstraint("first_id < second_id", name="pair_ordered"),)

    first_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    second_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False, index=True
    )


class ActorEventNet(db.Model):
    """Σ of an actor's line nets on one event's open lots (``open_net``), and of those on the
    open lots the actor accepted (``accepted_net``), with the event's start and status: a few rows
    per event instead of every line, for what each actor received this year, read by actor and
    date (offers.services.matching). Kept by offers.services.actor_nets at every flush that writes
    lines, lots, assignments or an event's start or status."""

    __tablename__ = "actor_event_nets"
    __table_args__ = (
        sa.Index("ix_actor_event_nets_organisation_starts_at", "organisation_id", "event_starts_at"),
    )

    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    event_starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    event_status: Mapped[EventStatus] = mapped_column(
        enum_column(EventStatus, "event_status"), nullable=False
    )
    # Wider than Money(): a sum of nets of lines whose quantity and price may each fill their own
    # columns (the line service caps a net at 100 M€, but the columns hold more).
    open_net: Mapped[Decimal] = mapped_column(ExactDecimal(38, 2), nullable=False)
    accepted_net: Mapped[Decimal] = mapped_column(ExactDecimal(38, 2), nullable=False)
