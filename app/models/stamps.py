"""Stamps of the committed data: a fresh token written by each transaction that changes what a
kind of figures reads (``app.figures``), so that figures computed once can be kept until then."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class DataStamp(db.Model):
    __tablename__ = "data_stamps"

    #: What the stamp covers (``figures``: the dashboards' data).
    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    #: Random, 32 hexadecimal digits: a new one for each committed change, never a counter (a
    #: rolled-back change would let a counter come back to a value already seen).
    token: Mapped[str] = mapped_column(sa.String(32), nullable=False)
