"""Reading and writing instance settings (the ``settings`` table): JSON values, defaults in code."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa

from app.extensions import db
from app.models import Setting


@cache
def _value_of() -> sa.Select:
    """A setting's value by key, built once. ``session.get`` built a new statement on each call
    (about 0.1 ms of a lot's page, which reads its matching weights); like it, this does not flush
    pending changes first (settings are flushed by :func:`set_setting` as they are written)."""
    return (
        sa.select(Setting.value).where(Setting.key == sa.bindparam("key")).execution_options(autoflush=False)
    )


def get_setting(key: str, default=None):
    row = db.session.execute(_value_of(), {"key": key}).first()
    return default if row is None else row[0]


def setting_sql(key: str) -> sa.ScalarSelect:
    """A setting's value as a column of another statement (``NULL`` when it is not set): a page
    that needs a setting reads it with its first row instead of in a round trip of its own."""
    return sa.select(Setting.value).where(Setting.key == key).scalar_subquery()


def set_setting(key: str, value) -> None:
    """Store ``value`` (JSON-serialisable; money and rates as strings). Flushes, never commits."""
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=value))
    else:
        row.value = value
    db.session.flush()
