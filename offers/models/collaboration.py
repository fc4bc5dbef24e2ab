"""Each pair of actors who ever worked on the same event, with the first such event.

Derived from the accepted quotes' lines (``offers.services.collaborations`` keeps it up to date):
the dashboards count a pair as a first-time collaboration on its first event without reading
every year's work again.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


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
