"""Throttling logins and login-link requests, counted in shared storage: Redis when ``REDIS_URL`` is
set, else the database. Never in process memory: the limit must hold across workers and hosts.

Every attempt is counted *before* the password is checked, by one atomic increment that returns the
new count — Redis ``INCR`` (with ``EXPIRE … NX`` for the window), or in the database one
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` on :class:`~app.models.ThrottleCounter`. Checking
and counting are therefore one step: eight workers racing on one account let exactly the limit
through, never more. A successful login clears the account's counter and gives the address its
attempt back (an office behind one address is not blocked by its own successful logins).

When Redis is configured but does not answer, the database counts instead, and a warning is
logged: a login never fails because Redis is down.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import current_app

from app.db import UTCDateTime, utcnow
from app.extensions import db
from app.models import ThrottleCounter

logger = logging.getLogger(__name__)

_PREFIX = "maillage:throttle:"


def _redis():
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("maillage_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        current_app.extensions["maillage_redis"] = client
    return client


def _redis_failed(exc: Exception) -> None:
    logger.warning("Redis unavailable (%s): throttle counted in the database instead.", exc)


def _insert():
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def hit(key: str) -> int:
    """Count one hit on ``key`` in its current window and return the new count (atomic)."""
    window = current_app.config["LOGIN_FAILURE_WINDOW"]
    r = _redis()
    if r is not None:
        import redis

        try:
            pipe = r.pipeline()
            pipe.incr(_PREFIX + key)
            pipe.expire(_PREFIX + key, int(window.total_seconds()), nx=True)
            count, _ = pipe.execute()
            return int(count)
        except redis.RedisError as exc:
            _redis_failed(exc)
    now = utcnow()
    table = ThrottleCounter.__table__
    expired = table.c.expires_at <= sa.literal(now, UTCDateTime())
    stmt = _insert()(table).values(key=key, count=1, expires_at=now + window)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "count": sa.case((expired, 1), else_=table.c.count + 1),
            "expires_at": sa.case(
                (expired, sa.literal(now + window, UTCDateTime())), else_=table.c.expires_at
            ),
        },
    ).returning(table.c.count)
    return int(db.session.execute(stmt).scalar_one())


def give_back(key: str) -> None:
    """Undo one hit (a successful login gives its address the attempt back)."""
    r = _redis()
    if r is not None:
        import redis

        try:
            r.decr(_PREFIX + key)
            return
        except redis.RedisError as exc:
            _redis_failed(exc)
    db.session.execute(
        sa.update(ThrottleCounter)
        .where(ThrottleCounter.key == key, ThrottleCounter.count > 0)
        .values(count=ThrottleCounter.count - 1)
        .execution_options(synchronize_session=False)
    )


def clear(key: str) -> None:
    r = _redis()
    if r is not None:
        import redis

        try:
            r.delete(_PREFIX + key)
            return
        except redis.RedisError as exc:
            _redis_failed(exc)
    db.session.execute(
        sa.delete(ThrottleCounter)
        .where(ThrottleCounter.key == key)
        .execution_options(synchronize_session=False)
    )


def _forget_expired() -> None:
    """Keep the table small: windows that ended are deleted (cheap, indexed)."""
    db.session.execute(
        sa.delete(ThrottleCounter)
        .where(ThrottleCounter.expires_at <= utcnow())
        .execution_options(synchronize_session=False)
    )


# --- logins ------------------------------------------------------------------------------------


def _login_keys(email: str, ip: str | None) -> list[tuple[str, int]]:
    cfg = current_app.config
    keys = [(f"login-account:{email.strip().lower()}", cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"])]
    if ip:
        keys.append((f"login-ip:{ip}", cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]))
    return keys


def login_attempt(email: str, ip: str | None) -> bool:
    """Count this attempt for the account and the address; True when either is over its limit.

    The caller commits whatever the outcome (database backend), so that the attempt counts.
    """
    blocked = False
    for key, limit in _login_keys(email, ip):
        if hit(key) > limit:
            blocked = True
    return blocked


def login_succeeded(email: str, ip: str | None) -> None:
    """A successful login resets the account's counter and gives the address its attempt back."""
    keys = _login_keys(email, ip)
    clear(keys[0][0])
    for key, _limit in keys[1:]:
        give_back(key)
    if _redis() is None:
        _forget_expired()


# --- login-link requests -----------------------------------------------------------------------


def link_request(email: str, ip: str | None) -> bool:
    """Count a login-link request for the address typed and the client's address; True when over."""
    cfg = current_app.config
    keys = [(f"link-account:{email.strip().lower()}", cfg["LOGIN_LINK_MAX_PER_ACCOUNT"])]
    if ip:
        keys.append((f"link-ip:{ip}", cfg["LOGIN_LINK_MAX_PER_ADDRESS"]))
    blocked = False
    for key, limit in keys:
        if hit(key) > limit:
            blocked = True
    return blocked
