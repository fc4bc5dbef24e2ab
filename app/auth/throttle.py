"""Failed-login throttling, counted in shared storage (the database, or Redis when REDIS_URL is set).

Never in process memory: the limit must hold across several gunicorn workers and hosts.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from app.db import utcnow
from app.extensions import db
from app.models import LoginFailure


def _keys(email: str, ip: str | None) -> list[tuple[str, int]]:
    cfg = current_app.config
    keys = [(f"account:{email.strip().lower()}", cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"])]
    if ip:
        keys.append((f"ip:{ip}", cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]))
    return keys


def _redis():
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("maillage_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(url)
        current_app.extensions["maillage_redis"] = client
    return client


def is_blocked(email: str, ip: str | None) -> bool:
    """True when the account or the address has too many recent failures."""
    window = current_app.config["LOGIN_FAILURE_WINDOW"]
    r = _redis()
    for key, limit in _keys(email, ip):
        if r is not None:
            count = int(r.get(f"maillage:login:{key}") or 0)
        else:
            since = utcnow() - window
            count = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(LoginFailure)
                .where(LoginFailure.key == key, LoginFailure.at >= since)
            )
        if count >= limit:
            return True
    return False


def record_failure(email: str, ip: str | None) -> None:
    """Count one failure for the account and the address. The caller commits (database backend)."""
    window = current_app.config["LOGIN_FAILURE_WINDOW"]
    r = _redis()
    for key, _limit in _keys(email, ip):
        if r is not None:
            name = f"maillage:login:{key}"
            pipe = r.pipeline()
            pipe.incr(name)
            pipe.expire(name, int(window.total_seconds()), nx=True)
            pipe.execute()
        else:
            db.session.add(LoginFailure(key=key, at=utcnow()))
    if r is None:
        # Keep the table small: forget failures older than the window.
        db.session.execute(sa.delete(LoginFailure).where(LoginFailure.at < utcnow() - window))


def clear_account(email: str) -> None:
    """A successful login resets the account's counter (not the address's)."""
    key = f"account:{email.strip().lower()}"
    r = _redis()
    if r is not None:
        r.delete(f"maillage:login:{key}")
    else:
        db.session.execute(sa.delete(LoginFailure).where(LoginFailure.key == key))
