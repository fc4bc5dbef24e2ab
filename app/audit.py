"""Writing the audit log. Money values are stored as strings so they stay exact."""

from __future__ import annotations

from decimal import Decimal

from flask import g, has_request_context

from app.extensions import db
from app.models import AuditEntry


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return value.value  # enums
    return value


def record(
    action: str,
    obj,
    *,
    user=None,
    summary: str = "",
    changes: dict | None = None,
    event_id: int | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Add one audit entry for ``obj`` (any mapped object with an ``id``). Flushes, never commits."""
    if ip is None and has_request_context():
        ip = g.get("client_ip")
    entry = AuditEntry(
        action=action,
        object_type=type(obj).__tablename__ if hasattr(type(obj), "__tablename__") else type(obj).__name__,
        object_id=getattr(obj, "id", None),
        user_id=getattr(user, "id", None),
        summary=str(summary)[:500],
        changes={k: [_plain(a), _plain(b)] for k, (a, b) in (changes or {}).items()},
        event_id=event_id,
        ip=ip,
    )
    db.session.add(entry)
    db.session.flush()
    return entry
