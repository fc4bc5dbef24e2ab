"""Reading and writing instance settings (the ``settings`` table): JSON values, defaults in code."""

from __future__ import annotations

from app.extensions import db
from app.models import Setting


def get_setting(key: str, default=None):
    row = db.session.get(Setting, key)
    return default if row is None else row.value


def set_setting(key: str, value) -> None:
    """Store ``value`` (JSON-serialisable; money and rates as strings). Flushes, never commits."""
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=value))
    else:
        row.value = value
    db.session.flush()
