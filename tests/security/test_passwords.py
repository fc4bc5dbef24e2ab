"""Password management: the rule (12 characters, not a common password), changing one's own
password, the admin's reset by a one-time link, and the CLI following the same rule."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.auth.passwords import COMMON_PASSWORDS, common_passwords, password_problem, verify_password
from app.demo import DEMO_PASSWORD
from app.extensions import db
from app.models import AuditEntry, OutboxMessage, User
from tests.conftest import PASSWORD, AuthActions, csrf_token

NEW = "une phrase de passe bien longue"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# --- the rule ------------------------------------------------------------------------------------


def test_the_shipped_list_is_a_few_thousand_long_passwords():
    entries = common_passwords()
    assert 3000 <= len(entries) <= 20000
    assert all(len(entry) >= 12 and entry == entry.lower() for entry in entries)
    assert COMMON_PASSWORDS.stat().st_size < 200_000
    assert {"azertyuiop123", "password1234", "motdepasse123", "123456789012", "qwertyuiop123"} <= entries


@pytest.mark.parametrize(
    "password,message",
    [
        ("court", "Le mot de passe doit compter au moins 12 caractères."),
        ("onze-signes", "Le mot de passe doit compter au moins 12 caractères."),
        ("x" * 201, "Le mot de passe doit compter au plus 200 caractères."),
        ("Password1234", "Ce mot de passe fait partie des mots de passe les plus courants"),
        ("AZERTYUIOP123", "Ce mot de passe fait partie des mots de passe les plus courants"),
        ("motdepasse2026!", "Ce mot de passe fait partie des mots de passe les plus courants"),
        ("111111111111", "Ce mot de passe fait partie des mots de passe les plus courants"),
    ],
)
def test_short_or_common_passwords_are_refused(app, password, message):
    with app.test_request_context():
        assert password_problem(password).startswith(message)


@pytest.mark.parametrize("password", [NEW, PASSWORD, DEMO_PASSWORD, "douze-signes"])
def test_long_uncommon_passwords_are_accepted(app, password):
    with app.test_request_context():
        assert password_problem(password) is None


@pytest.mark.parametrize(
    "password,message",
    [("azertyuiop123", "mots de passe les plus courants"), ("onze-signes", "au moins 12 caractères")],
)
def test_the_cli_follows_the_same_rule(runner, password, message):
    result = runner.invoke(
        args=["users", "create", "--email", "x@example.org", "--role", "admin", "--password", password]
    )
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(sa.select(User).where(User.email == "x@example.org")) is None


# --- changing one's password ---------------------------------------------------------------------


def change(client, current: str, new: str, confirm: str | None = None):
    page = client.get("/mon-compte/mot-de-passe")
    return client.post(
        "/mon-compte/mot-de-passe",
        data={
            "current_password": current,
            "password": new,
            "confirm": new if confirm is None else confirm,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )


@pytest.mark.parametrize(
    "current,new,confirm,message",
    [
        ("pas le bon mot de passe", NEW, None, "Le mot de passe actuel est incorrect."),
        (PASSWORD, "azertyuiop123", None, "mots de passe les plus courants"),
        (PASSWORD, "court", None, "au moins 12 caractères"),
        (PASSWORD, NEW, NEW + "!", "Les deux saisies du nouveau mot de passe diffèrent."),
        (PASSWORD, PASSWORD, None, "Le nouveau mot de passe doit être différent de l'actuel."),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(
    client, auth, make_user, current, new, confirm, message
):
    user = make_user("treasurer")
    auth.login(user.email)
    response = change(client, current, new, confirm)
    assert response.status_code == 400
    assert message in text(response)
    db.session.expire_all()
    assert verify_password(user.password_hash, PASSWORD)


def test_a_user_changes_their_password_and_their_other_sessions_end(app, client, auth, make_user):
    user = make_user("coordinator")
    other_device = app.test_client()
    AuthActions(other_device).login(user.email)
    auth.login(user.email)
    response = change(client, PASSWORD, NEW)
    assert response.status_code == 302
    assert client.get("/tableau-de-bord").status_code == 200  # this session stays
    assert other_device.get("/tableau-de-bord").status_code == 302  # the other one ended
    auth.logout()
    assert auth.login(user.email, PASSWORD).status_code == 401
    assert auth.login(user.email, NEW).status_code == 302
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.password_changed"))


def test_an_account_without_password_sets_one_without_the_current_one(client, make_user):
    user = make_user("client", password_hash=None)
    db.session.commit()
    with client.session_transaction() as session:  # logged in by a login link
        session["_user_id"] = user.get_id()
    page = client.get("/mon-compte/mot-de-passe")
    assert 'name="current_password"' not in page.get_data(as_text=True)
    assert change(client, "", NEW).status_code == 302
    db.session.expire_all()
    assert verify_password(user.password_hash, NEW)


def test_the_page_needs_a_login(client):
    assert client.get("/mon-compte/mot-de-passe").headers["Location"].startswith("/connexion")


# --- the admin's reset ---------------------------------------------------------------------------


def reset(client, user):
    page = client.get("/admin/utilisateurs")
    return client.post(
        f"/admin/utilisateurs/{user.id}/reinitialiser",
        data={"csrf_token": csrf_token(page.get_data(as_text=True))},
    )


def mailed_link(user) -> str:
    message = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.recipients.contains(user.email))
    ).one()
    assert message.subject == "Choisissez un nouveau mot de passe pour Maillage"
    return re.search(r"http://localhost(/mot-de-passe/\S+)", message.body_text).group(1)


def choose(client, link: str, password: str, confirm: str | None = None):
    page = client.get(link)
    return client.post(
        link,
        data={
            "password": password,
            "confirm": password if confirm is None else confirm,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )


def test_the_admin_resets_a_password_with_a_one_time_link(app, client, auth, make_user):
    staff = make_user("coordinator")
    staff_device = app.test_client()
    AuthActions(staff_device).login(staff.email)
    admin = make_user("admin")
    auth.login(admin.email)

    response = reset(client, staff)
    assert response.status_code == 302
    client.get("/admin/utilisateurs")
    link = mailed_link(staff)
    assert staff_device.get("/tableau-de-bord").status_code == 302  # the sessions ended
    auth.logout()
    assert auth.login(staff.email, PASSWORD).status_code == 401  # the old password no longer works

    anonymous = app.test_client()
    page = anonymous.get(link)
    assert page.status_code == 200
    assert staff.email in text(page)
    assert page.headers["Cache-Control"] == "no-store"
    refused = choose(anonymous, link, "azertyuiop123")
    assert refused.status_code == 400
    assert "mots de passe les plus courants" in text(refused)
    assert choose(anonymous, link, NEW).headers["Location"] == "/connexion"
    assert auth.login(staff.email, NEW).status_code == 302

    again = choose(app.test_client(), link, "encore une autre phrase")
    assert again.status_code == 400
    assert "Ce lien a déjà servi ou a été remplacé par un plus récent." in text(again)
    actions = db.session.scalars(
        sa.select(AuditEntry.action)
        .where(AuditEntry.object_id == staff.id, AuditEntry.action.like("user.password%"))
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["user.password_reset", "user.password_changed"]


def test_a_newer_reset_voids_the_older_link(app, client, auth, make_user):
    staff = make_user("treasurer")
    auth.login(make_user("admin").email)
    reset(client, staff)
    first = mailed_link(staff)
    db.session.execute(sa.delete(OutboxMessage))
    reset(client, staff)
    assert "Ce lien a déjà servi ou a été remplacé" in text(app.test_client().get(first))
    assert app.test_client().get(mailed_link(staff)).status_code == 200


def test_an_expired_or_forged_link_is_refused(app, client, auth, make_user, monkeypatch):
    staff = make_user("treasurer")
    auth.login(make_user("admin").email)
    reset(client, staff)
    link = mailed_link(staff)
    assert "Ce lien n'est pas valide." in text(app.test_client().get(link[:-3] + "abc"))
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE", timedelta(seconds=-1))
    expired = app.test_client().get(link)
    assert expired.status_code == 400
    assert "Ce lien a expiré" in text(expired)


@pytest.mark.parametrize("role", ["coordinator", "treasurer", "actor", "client"])
def test_only_the_admin_resets(client, auth, make_user, role):
    victim = make_user("treasurer")
    auth.login(make_user(role).email)
    page = client.get("/tableau-de-bord")
    response = client.post(
        f"/admin/utilisateurs/{victim.id}/reinitialiser",
        data={"csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert verify_password(victim.password_hash, PASSWORD)
