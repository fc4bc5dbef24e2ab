"""Login links, the login throttle, proxies, headers and error pages (issue 14, items 5, 6, 7, 9, 12)."""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import abort

from app.auth import throttle
from app.extensions import db
from app.models import AuditEntry, LoginLinkRequest, OutboxMessage, ThrottleCounter, User
from tests.conftest import PASSWORD, AuthActions, IsolatedClient, csrf_token, make_app

# --- 5. login-link requests ----------------------------------------------------------------------


def ask_link(client, email: str):
    page = client.get("/connexion/lien")
    return client.post(
        "/connexion/lien", data={"email": email, "csrf_token": csrf_token(page.get_data(as_text=True))}
    )


@contextmanager
def statements():
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if not statement.upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)


def test_a_link_request_does_the_same_work_for_an_account_and_a_stranger(app, client, make_user):
    make_user("client", email="acheteur@example.org")
    db.session.commit()
    ask_link(client, "warmup@example.org")  # first request of the session compiles statements
    with statements() as for_account:
        assert ask_link(client, "acheteur@example.org").status_code == 302
    with statements() as for_stranger:
        assert ask_link(client, "inconnu@example.org").status_code == 302
    assert for_account == for_stranger
    # Nothing is sent inside the request: the message is written by the outbox worker.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginLinkRequest)) == 3


def test_the_outbox_worker_answers_link_requests(app, client, runner, make_user):
    make_user("client", email="acheteur@example.org")
    make_user("coordinator", email="coord@example.org")  # staff log in with a password only
    db.session.commit()
    for email in ("acheteur@example.org", "inconnu@example.org", "coord@example.org"):
        assert ask_link(client, email).status_code == 302
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    messages = db.session.scalars(sa.select(OutboxMessage)).all()
    assert [m.recipients for m in messages] == ["acheteur@example.org"]
    assert "/lien/" in messages[0].body_text
    pending = (
        sa.select(sa.func.count())
        .select_from(LoginLinkRequest)
        .where(LoginLinkRequest.processed_at.is_(None))
    )
    assert db.session.scalar(pending) == 0
    runner.invoke(args=["outbox", "send"])  # answered once only
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1


def test_link_requests_are_throttled_per_address_typed(app, client, make_user):
    make_user("client", email="acheteur@example.org")
    limit = app.config["LOGIN_LINK_MAX_PER_ACCOUNT"]
    answers = [ask_link(client, "acheteur@example.org").status_code for _ in range(limit + 2)]
    assert answers == [302] * limit + [429, 429]
    assert "Trop de demandes de lien de connexion" in ask_link(client, "acheteur@example.org").get_data(
        as_text=True
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginLinkRequest)) == limit
    assert ask_link(client, "autre@example.org").status_code == 302  # another address is not blocked


def test_link_requests_are_throttled_per_client_address(app, client):
    limit = app.config["LOGIN_LINK_MAX_PER_ADDRESS"]
    answers = [ask_link(client, f"personne{i}@example.org").status_code for i in range(limit + 1)]
    assert answers == [302] * limit + [429]


# --- 6. the login throttle -----------------------------------------------------------------------


def test_every_attempt_is_counted_before_the_password_is_checked(app, auth, make_user):
    make_user("coordinator", email="coord@example.org")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for _ in range(limit):
        auth.login("coord@example.org", "mauvais")
    counter = db.session.get(ThrottleCounter, "login-account:coord@example.org")
    assert counter.count == limit
    assert auth.login("coord@example.org").status_code == 429


def test_a_successful_login_gives_the_address_its_attempt_back(app, make_user):
    """Twenty-one colleagues behind one office address all log in."""
    limit = app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    users = [make_user("coordinator") for _ in range(limit + 1)]
    for user in users:
        assert AuthActions(app.test_client()).login(user.email).status_code == 302
    assert db.session.get(ThrottleCounter, "login-ip:127.0.0.1").count == 0


def test_the_database_counter_is_one_atomic_statement(app):
    """The count comes back from the increment itself (no read, then write)."""
    with statements() as seen:
        assert throttle.hit("test:atomic") == 1
    assert len(seen) == 1 and "RETURNING" in seen[0].upper() and "ON CONFLICT" in seen[0].upper()
    assert throttle.hit("test:atomic") == 2


def test_a_new_window_starts_at_one(app):
    from datetime import timedelta

    from app.db import utcnow

    assert throttle.hit("test:window") == 1
    db.session.get(ThrottleCounter, "test:window").expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    assert throttle.hit("test:window") == 1


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL not set (no Redis server)")
def test_redis_counts_parallel_attempts_exactly(app, monkeypatch):
    import redis

    url = os.environ["TEST_REDIS_URL"]
    redis.Redis.from_url(url).delete("maillage:throttle:test:parallel")
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    app.extensions.pop("maillage_redis", None)
    counts: list[int] = []
    barrier = threading.Barrier(8)

    def attempt():
        with app.app_context():
            barrier.wait()
            counts.append(throttle.hit("test:parallel"))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(counts) == [1, 2, 3, 4, 5, 6, 7, 8]  # no two workers read the same count
        assert sum(c <= 5 for c in counts) == 5  # exactly the limit gets through
    finally:
        redis.Redis.from_url(url).delete("maillage:throttle:test:parallel")
        app.extensions.pop("maillage_redis", None)


def test_redis_down_falls_back_to_the_database_with_a_warning(app, auth, make_user, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    app.extensions.pop("maillage_redis", None)
    make_user("coordinator", email="coord@example.org")
    try:
        with caplog.at_level(logging.WARNING, logger="app.auth.throttle"):
            assert auth.login("coord@example.org", "mauvais").status_code == 401
            assert auth.login("coord@example.org").status_code == 302
        assert "Redis unavailable" in caplog.text
        assert (
            db.session.get(ThrottleCounter, "login-ip:127.0.0.1").count == 1
        )  # the failure, in the database
    finally:
        app.extensions.pop("maillage_redis", None)


# --- 7. behind a proxy ---------------------------------------------------------------------------


def login_ip(app, email: str, headers: dict) -> str | None:
    client = app.test_client()
    token = csrf_token(client.get("/connexion", headers=headers).get_data(as_text=True))
    response = client.post(
        "/connexion", data={"email": email, "password": PASSWORD, "csrf_token": token}, headers=headers
    )
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == email))
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "user.login", AuditEntry.object_id == user.id)
    ).all()[-1]
    return entry.ip


def test_without_trusted_proxies_a_forwarded_header_is_ignored(app, make_user):
    make_user("coordinator", email="coord@example.org")
    assert login_ip(app, "coord@example.org", {"X-Forwarded-For": "203.0.113.9"}) == "127.0.0.1"


def test_trusted_proxies_gives_the_client_address(tmp_path_factory):
    from app.auth.passwords import hash_password

    proxied = make_app("sqlite", tmp_path_factory, TRUSTED_PROXIES=1)
    with proxied.app_context():
        db.session.add(
            User(
                email="coord@example.org",
                name="C",
                role="coordinator",
                password_hash=hash_password(PASSWORD),
                active=True,
                session_epoch=0,
            )
        )
        db.session.commit()
        # The proxy appends the real client; a client's own forged entry comes before it and is ignored.
        headers = {
            "X-Forwarded-For": "198.51.100.1, 203.0.113.9",
            "X-Forwarded-Proto": "https",
            "Referer": "https://localhost/connexion",  # Flask-WTF checks it on HTTPS
        }
        assert login_ip(proxied, "coord@example.org", headers) == "203.0.113.9"
        # Each client has its own address: one client's failures do not block another's.
        limit = proxied.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
        for i in range(limit):
            AuthActions_with(proxied, {"X-Forwarded-For": "203.0.113.66"}).login(
                f"x{i}@example.org", "mauvais"
            )
        assert (
            AuthActions_with(proxied, {"X-Forwarded-For": "203.0.113.66"})
            .login("coord@example.org")
            .status_code
            == 429
        )
        assert (
            AuthActions_with(proxied, {"X-Forwarded-For": "203.0.113.67"})
            .login("coord@example.org")
            .status_code
            == 302
        )
        db.engine.dispose()


class _HeaderClient(IsolatedClient):
    headers: dict = {}

    def open(self, *args, **kwargs):
        kwargs.setdefault("headers", {}).update(self.headers)
        return super().open(*args, **kwargs)


def AuthActions_with(app, headers: dict) -> AuthActions:
    client = _HeaderClient(app, app.response_class, use_cookies=True)
    client.headers = headers
    return AuthActions(client)


# --- 9. headers ----------------------------------------------------------------------------------


def test_hsts_outside_debug(client):
    assert (
        client.get("/connexion").headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    )


def test_authenticated_pages_are_not_stored(client, auth, make_user):
    assert "no-store" not in client.get("/connexion").headers.get("Cache-Control", "")
    user = make_user("coordinator")
    auth.login(user.email)
    assert client.get("/evenements").headers["Cache-Control"] == "no-store"


def test_token_pages_are_not_stored(client):
    response = client.get("/lien/not-a-valid-token")
    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/devis/acces/not-a-valid-token").headers["Cache-Control"] == "no-store"


def test_the_csv_export_names_its_charset_once(client, auth, make_user):
    user = make_user("coordinator")
    auth.login(user.email)
    response = client.get("/acteurs/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


# --- 12. error pages without the database --------------------------------------------------------


def test_an_unreachable_database_is_a_503_with_retry_after(tmp_path_factory, tmp_path):
    from app import create_app

    broken = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}",
            "OUTBOX_DIR": str(tmp_path / "outbox"),
        }
    )
    response = broken.test_client().get("/annuaire")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "momentanément indisponible" in response.get_data(as_text=True)


def test_the_500_page_renders_when_the_transaction_failed(tmp_path_factory):
    failing = make_app("sqlite", tmp_path_factory, PROPAGATE_EXCEPTIONS=False)

    @failing.route("/_boom")
    def boom():
        db.session.add(User(email=None, name="x", role="coordinator", active=True, session_epoch=0))
        db.session.flush()  # IntegrityError, the session now needs a rollback
        abort(500)

    from app.auth.passwords import hash_password

    with failing.app_context():
        db.session.add(
            User(
                email="coord@example.org",
                name="C",
                role="coordinator",
                password_hash=hash_password(PASSWORD),
                active=True,
                session_epoch=0,
            )
        )
        db.session.commit()
    client = failing.test_client()
    assert AuthActions(client).login("coord@example.org").status_code == 302
    assert client.get("/tableau-de-bord").status_code == 200
    response = client.get("/_boom")
    assert response.status_code == 500
    assert "Erreur interne" in response.get_data(as_text=True)
    with failing.app_context():
        db.engine.dispose()
