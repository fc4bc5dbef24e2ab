"""Instance settings editable by the admin (legal mentions, matching weights, fees…)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, utcnow
from app.extensions import db


class Setting(db.Model):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    #: JSON value; money and rates as strings so they stay exact.
    value: Mapped[object] = mapped_column(sa.JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
