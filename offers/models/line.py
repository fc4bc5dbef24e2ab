"""Lines: what is sold, delivered by one actor, on one lot."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Money, Quantity, Rate, UTCDateTime, utcnow
from app.extensions import db

#: Common units, offered in forms and stored as their code; any other unit is stored as typed.
UNITS = ("personne", "repas", "heure", "jour", "forfait", "kg", "m2", "piece", "lot", "km")
#: The longest unit typed by hand (the column's width).
MAX_UNIT_LENGTH = 20


def unit_label(unit: str) -> str:
    """How a unit prints: a common unit's label in the current language, any other as typed."""
    if unit in UNITS:
        from app.labels import label

        return label(unit)
    return unit


class Line(db.Model):
    __tablename__ = "lines"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
        sa.CheckConstraint("vat_rate >= 0", name="vat_rate_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(
        sa.ForeignKey("lots.id", ondelete="CASCADE"), nullable=False, index=True
    )
    #: The actor who delivers this line (and, in joint-consortium mode, sells it).
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    description: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Quantity(), nullable=False)
    unit: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="forfait")
    #: Excluding VAT, to the cent.
    unit_price: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    vat_rate: Mapped[Decimal] = mapped_column(Rate(), nullable=False)
    #: True when the rate was chosen by hand (it differs from its seller's default); every other
    #: line follows its seller (``offers.pricing``: mode switch, new actor, regime change).
    vat_rate_manual: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )
    #: Why a subject seller charges 0 % on this line (printed as the line's legal mention).
    vat_reason: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    lot = relationship("Lot", back_populates="lines")
    organisation = relationship("Organisation", lazy="joined")

    __mapper_args__ = {"version_id_col": version_id}
