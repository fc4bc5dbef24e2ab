"""Gapless number series (quotes, invoices, credit notes), one counter row per issuer, series and year."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class NumberSeries(db.Model):
    __tablename__ = "number_series"
    __table_args__ = (
        sa.UniqueConstraint("issuer", "prefix", "year", name="uq_number_series_issuer_prefix_year"),
        sa.CheckConstraint("last_value >= 0", name="last_value_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``coordinator`` or ``organisation:<id>`` (billing mandate: the actor's own series).
    issuer: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    prefix: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    year: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    last_value: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
