"""Logins and roles, tried through the app as a user would."""

from __future__ import annotations

import html
import os
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.auth.services import issue_magic_link
from app.db import utcnow
from app.extensions import db
from app.models import AuditEntry, MagicLink, Role, ThrottleCounter, User
from tests.conftest import PASSWORD, csrf_token


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def is_logged_in(client) -> bool:
    return client.get("/tableau-de-bord").status_code == 200


# --- password login ------------------------------------------------------------------------------


def test_login_with_password_opens_the_dashboard(auth, client, make_user):
    user = make_user("coordinator", email="coord@example.org", name="Camille")
    response = auth.login("Coord@Example.org ", PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/tableau-de-bord"
    page = client.get("/tableau-de-bord")
    assert page.status_code == 200
    assert "Bonjour Camille" in page.get_data(as_text=True)
    assert db.session.get(User, user.id).last_login_at is not None


@pytest.mark.parametrize(
    "email,password", [("coord@example.org", "mauvais-mot-de-passe"), ("inconnu@example.org", PASSWORD)]
)
def test_wrong_password_or_unknown_email_is_refused_with_401(auth, client, make_user, email, password):
    make_user("coordinator", email="coord@example.org")
    response = auth.login(email, password)
    assert response.status_code == 401
    assert "Adresse e-mail ou mot de passe incorrect." in response.get_data(as_text=True)
    assert not is_logged_in(client)


def test_login_without_csrf_token_is_refused(client, make_user):
    make_user("coordinator", email="coord@example.org")
    response = client.post("/connexion", data={"email": "coord@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert "jeton CSRF" in response.get_data(as_text=True)
    assert not is_logged_in(client)


def test_inactive_user_cannot_log_in(auth, client, make_user):
    make_user("coordinator", email="coord@example.org", active=False)
    assert auth.login("coord@example.org").status_code == 401
    assert not is_logged_in(client)


def test_open_redirect_after_login_is_ignored(client, make_user):
    make_user("coordinator", email="coord@example.org")
    token = csrf_token(client.get("/connexion").get_data(as_text=True))
    response = client.post(
        "/connexion?next=//evil.example.com/x",
        data={"email": "coord@example.org", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/tableau-de-bord"


# --- throttling ----------------------------------------------------------------------------------


def test_repeated_failures_lock_the_account_even_with_the_right_password(app, auth, client, make_user):
    make_user("coordinator", email="coord@example.org")
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        assert auth.login("coord@example.org", "mauvais-mot-de-passe").status_code == 401
    response = auth.login("coord@example.org", PASSWORD)
    assert response.status_code == 429
    assert "Trop de tentatives" in response.get_data(as_text=True)
    assert not is_logged_in(client)


def test_failures_from_one_address_are_limited_across_accounts(app, auth, client, make_user):
    make_user("coordinator", email="coord@example.org")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    for i in range(limit):
        auth.login(f"inconnu{i}@example.org", "x")
    assert auth.login("coord@example.org", PASSWORD).status_code == 429


def test_throttle_is_shared_between_workers(app, make_user):
    """Two app instances (two gunicorn workers) share the count: it lives in the database."""
    from app import create_app
    from tests.conftest import AuthActions

    make_user("coordinator", email="coord@example.org")
    from tests.conftest import IsolatedClient

    other_worker = create_app({**app.config})
    other_worker.test_client_class = IsolatedClient
    first, second = AuthActions(app.test_client()), AuthActions(other_worker.test_client())
    for i in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        (first if i % 2 else second).login("coord@example.org", "mauvais")
    assert db.session.get(ThrottleCounter, "login-account:coord@example.org").count == 5
    assert first.login("coord@example.org").status_code == 429
    assert second.login("coord@example.org").status_code == 429


def test_a_success_resets_the_account_counter(app, auth, make_user):
    make_user("coordinator", email="coord@example.org")
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] - 1):
        auth.login("coord@example.org", "mauvais")
    assert auth.login("coord@example.org").status_code == 302
    auth.logout()
    assert auth.login("coord@example.org", "mauvais").status_code == 401  # not 429


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL not set (no Redis server)")
def test_throttle_uses_redis_when_configured(app, auth, make_user, monkeypatch):
    import redis

    url = os.environ["TEST_REDIS_URL"]
    redis.Redis.from_url(url).flushdb()
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    app.extensions.pop("maillage_redis", None)
    make_user("coordinator", email="coord@example.org")
    try:
        for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
            auth.login("coord@example.org", "mauvais")
        assert redis.Redis.from_url(url).get("maillage:throttle:login-account:coord@example.org") == b"5"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ThrottleCounter)) == 0
        assert auth.login("coord@example.org").status_code == 429
    finally:
        redis.Redis.from_url(url).flushdb()
        app.extensions.pop("maillage_redis", None)


# --- sessions ------------------------------------------------------------------------------------


def test_logout_ends_every_session_of_the_user(app, make_user):
    from tests.conftest import AuthActions

    make_user("coordinator", email="coord@example.org")
    laptop, phone = app.test_client(), app.test_client()
    AuthActions(laptop).login("coord@example.org")
    AuthActions(phone).login("coord@example.org")
    assert is_logged_in(laptop) and is_logged_in(phone)
    response = AuthActions(laptop).logout()
    assert response.status_code == 302
    assert not is_logged_in(laptop)
    assert not is_logged_in(phone)


def test_logout_requires_post_with_csrf(auth, client, make_user):
    make_user("coordinator", email="coord@example.org")
    auth.login("coord@example.org")
    assert client.get("/deconnexion").status_code == 405
    assert client.post("/deconnexion").status_code == 400
    assert is_logged_in(client)


def test_deactivating_a_user_ends_its_sessions(auth, client, runner, make_user):
    make_user("coordinator", email="coord@example.org")
    auth.login("coord@example.org")
    assert is_logged_in(client)
    result = runner.invoke(args=["users", "deactivate", "coord@example.org"])
    assert result.exit_code == 0, result.output
    assert not is_logged_in(client)


def test_session_cookie_flags(auth, client, make_user):
    make_user("coordinator", email="coord@example.org")
    response = auth.login("coord@example.org")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_production_config_uses_secure_host_cookie(tmp_path):
    from app import create_app

    prod = create_app(
        {
            "SECRET_KEY": "x" * 32,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.db",
            "SCHEMA_CHECK": False,
        }
    )
    assert prod.config["SESSION_COOKIE_SECURE"] is True
    assert prod.config["SESSION_COOKIE_NAME"] == "__Host-maillage"
    assert prod.config["SESSION_COOKIE_HTTPONLY"] is True
    assert prod.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_local_secret_key_is_generated_not_constant(tmp_path):
    from app import create_app

    config = {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SCHEMA_CHECK": False}
    a = create_app(config)
    assert a.config["SECRET_KEY"] and len(a.config["SECRET_KEY"]) >= 40
    # Same instance folder: the same key is reused across restarts.
    assert create_app(config).config["SECRET_KEY"] == a.config["SECRET_KEY"]


# --- magic links ---------------------------------------------------------------------------------


def test_magic_link_get_does_not_log_in_post_does_once(client, make_user):
    actor = make_user("actor", email="acteur@example.org")
    issued = issue_magic_link(actor, "/portail/lots")
    url = f"/lien/{issued.token}"
    page = client.get(url)
    assert page.status_code == 200
    assert "acteur@example.org" in page.get_data(as_text=True)
    assert not is_logged_in(client)  # a mail scanner's GET changes nothing

    response = client.post(url, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 302
    assert response.headers["Location"] == "/portail/lots"  # a clean URL, no token
    assert is_logged_in(client)
    assert db.session.get(MagicLink, issued.link.id).used_at is not None


def test_magic_link_cannot_be_reused(app, client, make_user):
    actor = make_user("actor", email="acteur@example.org")
    issued = issue_magic_link(actor)
    url = f"/lien/{issued.token}"
    client.post(url, data={"csrf_token": csrf_token(client.get(url).get_data(as_text=True))})
    other = app.test_client()
    again = other.get(url)
    assert again.status_code == 400
    assert "déjà été utilisé" in text(again)
    assert not is_logged_in(other)


def test_tampered_magic_link_is_refused(client, make_user):
    actor = make_user("actor", email="acteur@example.org")
    issued = issue_magic_link(actor)
    forged = issued.token[:-3] + ("AAA" if not issued.token.endswith("AAA") else "BBB")
    response = client.get(f"/lien/{forged}")
    assert response.status_code == 400
    assert "n'est pas valide" in text(response)


def test_expired_magic_link_is_refused(client, make_user):
    actor = make_user("actor", email="acteur@example.org")
    issued = issue_magic_link(actor)
    issued.link.expires_at = utcnow() - timedelta(minutes=1)
    db.session.flush()
    url = f"/lien/{issued.token}"
    response = client.get(url)
    assert response.status_code == 400
    assert "a expiré" in response.get_data(as_text=True)
    assert not is_logged_in(client)


def test_magic_link_post_without_csrf_does_not_log_in(client, make_user):
    actor = make_user("actor", email="acteur@example.org")
    issued = issue_magic_link(actor)
    response = client.post(f"/lien/{issued.token}")
    assert response.status_code == 400
    assert not is_logged_in(client)
    assert db.session.get(MagicLink, issued.link.id).used_at is None


def test_magic_links_are_only_for_actors_and_clients(make_user):
    from app.errors import DomainError

    with pytest.raises(DomainError, match="réservés aux acteurs et aux clients"):
        issue_magic_link(make_user("coordinator"))


def test_magic_link_request_sends_mail_and_does_not_reveal_accounts(client, runner, make_user):
    from app.models import OutboxMessage

    make_user("client", email="acheteur@example.org")
    for email in ("acheteur@example.org", "personne@example.org"):
        page = client.get("/connexion/lien")
        response = client.post(
            "/connexion/lien", data={"email": email, "csrf_token": csrf_token(page.get_data(as_text=True))}
        )
        assert response.status_code == 302
    assert runner.invoke(args=["outbox", "send"]).exit_code == 0  # the worker answers, not the request
    messages = db.session.scalars(sa.select(OutboxMessage)).all()
    assert [m.recipients for m in messages] == ["acheteur@example.org"]
    assert "/lien/" in messages[0].body_text


# --- roles ---------------------------------------------------------------------------------------

PAGES = {
    "/admin/utilisateurs": {Role.ADMIN},
    "/admin/parametres": {Role.ADMIN},
    "/evenements": {Role.ADMIN, Role.COORDINATOR, Role.TREASURER},
    "/acteurs": {Role.ADMIN, Role.COORDINATOR, Role.TREASURER},
    "/clients": {Role.ADMIN, Role.COORDINATOR, Role.TREASURER},
    # Coordination reads the invoices of its events; only the treasury issues and records payments.
    "/factures": {Role.ADMIN, Role.COORDINATOR, Role.TREASURER},
    "/paiements": {Role.ADMIN, Role.COORDINATOR, Role.TREASURER},
    "/portail/lots": {Role.ACTOR},
    "/mes-devis": {Role.CLIENT},
    "/tableau-de-bord": set(Role),
}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_only_its_own_pages(auth, client, make_user, role):
    user = make_user(role)
    auth.login(user.email)
    for url, allowed in PAGES.items():
        response = client.get(url)
        expected = 200 if role in allowed else 403
        assert response.status_code == expected, (role, url, response.status_code)
        if expected == 403:
            assert "Accès refusé" in response.get_data(as_text=True)


def test_navigation_differs_by_role(auth, client, make_user):
    auth.login(make_user("treasurer").email)
    html = client.get("/tableau-de-bord").get_data(as_text=True)
    assert 'href="/factures"' in html
    assert 'href="/admin/utilisateurs"' not in html
    assert 'href="/portail/lots"' not in html


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get("/evenements")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion")


def test_unknown_pages_answer_a_french_404(auth, client, make_user):
    auth.login(make_user("coordinator").email)
    response = client.get("/evenements/999999")
    assert response.status_code == 404
    assert "Page introuvable" in response.get_data(as_text=True)


def test_actor_sees_only_its_own_organisation_lots(
    auth, client, make_user, make_event, make_category, make_organisation
):
    from offers.models import Assignment, AssignmentStatus, Lot

    mine, theirs = make_organisation(name="Mon asso"), make_organisation(name="Autre asso")
    event = make_event(title="Forum")
    lot_a = Lot(event_id=event.id, category=make_category(), title="Lot de mon asso", position=0)
    lot_b = Lot(event_id=event.id, category=make_category(), title="Lot de l'autre", position=1)
    db.session.add_all([lot_a, lot_b])
    db.session.add_all(
        [
            Assignment(lot=lot_a, organisation=mine, status=AssignmentStatus.INVITED),
            Assignment(lot=lot_b, organisation=theirs, status=AssignmentStatus.ACCEPTED),
        ]
    )
    db.session.flush()
    auth.login(make_user("actor", organisation=mine).email)
    html = text(client.get("/portail/lots"))
    assert "Lot de mon asso" in html
    assert "Lot de l'autre" not in html


# --- users CLI -----------------------------------------------------------------------------------


def test_cli_creates_users_with_argon2id(runner, make_organisation):
    org = make_organisation(name="Kenja")
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Kenja@Example.org",
            "--role",
            "actor",
            "--organisation",
            org.siret,
            "--password",
            "un-long-mot-de-passe",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "kenja@example.org"))
    assert user.organisation_id == org.id
    assert user.password_hash.startswith("$argon2id$")
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.created")) is not None


def test_cli_prompts_for_the_password_when_omitted(runner):
    result = runner.invoke(
        args=["users", "create", "--email", "tresor@example.org", "--role", "treasurer"],
        input="un-long-mot-de-passe\nun-long-mot-de-passe\n",
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(User).where(User.email == "tresor@example.org")).password_hash


@pytest.mark.parametrize(
    "args,message",
    [
        (["--role", "actor", "--password", "un-long-mot-de-passe"], "doit être rattaché à une organisation"),
        (["--role", "client", "--password", "un-long-mot-de-passe"], "doit être rattaché à un client"),
        (["--role", "admin", "--password", "court"], "au moins 12 caractères"),
        (
            ["--role", "actor", "--organisation", "inexistante", "--password", "un-long-mot-de-passe"],
            "Organisation introuvable",
        ),
    ],
)
def test_cli_refuses_bad_input_and_creates_nothing(runner, args, message):
    result = runner.invoke(args=["users", "create", "--email", "x@example.org", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(sa.select(User).where(User.email == "x@example.org")) is None


def test_cli_refuses_duplicate_email(runner, make_user):
    make_user("admin", email="dup@example.org")
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "DUP@example.org",
            "--role",
            "admin",
            "--password",
            "un-long-mot-de-passe",
        ]
    )
    assert result.exit_code != 0
    assert "existe déjà" in result.output


def test_database_rejects_an_actor_without_organisation(make_user):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(User(email="bad@example.org", name="x", role=Role.ACTOR, active=True, session_epoch=0))
        db.session.flush()


# --- language ------------------------------------------------------------------------------------


def test_french_by_default_and_english_on_request(client):
    assert "Connexion" in client.get("/connexion").get_data(as_text=True)
    page = client.get("/connexion")
    client.post(
        "/langue/en", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "next": "/connexion"}
    )
    html = client.get("/connexion").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Log in" in html


@pytest.mark.parametrize(
    ("role", "page", "kind", "table"),
    [
        ("actor", "/portail/lots", "organisation", "organisations"),
        ("client", "/mes-devis", "client", "clients"),
    ],
)
def test_the_logged_in_users_organisation_or_client_comes_with_its_name_alone(
    auth, client, make_user, role, page, kind, table
):
    """Every request reads the logged-in user with its organisation or client joined: their id and
    name only (what pages show of them), not their 44 columns; the page still shows the name."""
    from tests.conftest import results_read

    user = make_user(role)
    name = getattr(user, kind).name
    assert auth.login(user.email).status_code == 302
    db.session.expunge_all()  # the request reads the user from the database, as a new one does
    with results_read() as read:
        response = client.get(page)
    assert response.status_code == 200
    assert name in text(response)
    user_reads = [statement for statement, _columns in read if "users.password_hash" in statement]
    assert len(user_reads) == 1
    columns = user_reads[0].rsplit("FROM users", 1)[0]
    joined = set(re.findall(rf"\b{table}_1\.(\w+)", columns))
    assert joined == {"id", "name"}
    assert not [statement for statement, _columns in read if f"FROM {table} " in statement], (
        "the name is read with the user, not afterwards"
    )
