"""The role predicates of ``app.auth`` and the directory's rules: each against each role, with the
exact answer; the decorators through the app."""

from __future__ import annotations

import pytest
from flask_login import AnonymousUserMixin

from app.auth import (
    is_actor,
    is_actor_of,
    is_admin,
    is_authenticated,
    is_client,
    is_client_of,
    is_coordination,
    is_external,
    is_staff,
    is_treasury,
)
from app.directory import permissions as directory

ROLES = ["admin", "coordinator", "treasurer", "actor", "client", "anonymous"]


def table(rows: dict) -> list:
    """``{predicate: "admin coordinator"}`` -> one case per (predicate, role) with its expected answer."""
    return [
        pytest.param(predicate, role, role in allowed.split(), id=f"{predicate.__name__}-{role}")
        for predicate, allowed in rows.items()
        for role in ROLES
    ]


PREDICATES = {
    is_authenticated: "admin coordinator treasurer actor client",
    is_admin: "admin",
    is_coordination: "admin coordinator",
    is_staff: "admin coordinator treasurer",
    is_treasury: "admin treasurer",
    is_actor: "actor",
    is_client: "client",
    is_external: "actor client",
}

DIRECTORY_RULES = {
    directory.can_view_directory: "admin coordinator treasurer",
    directory.can_edit_directory: "admin coordinator",
    directory.can_edit_own_card: "actor",
    directory.can_manage_chains: "admin coordinator",
    directory.can_import_directory: "admin coordinator",
    directory.can_export_directory: "admin coordinator treasurer",
}


@pytest.mark.parametrize("predicate,role,expected", table(PREDICATES))
def test_role_predicates(person, predicate, role, expected):
    assert predicate(person(role)) is expected


@pytest.mark.parametrize("predicate,role,expected", table(DIRECTORY_RULES))
def test_directory_rules(person, predicate, role, expected):
    assert predicate(person(role)) is expected


@pytest.mark.parametrize("predicate", [*PREDICATES, *DIRECTORY_RULES])
def test_nobody_is_no_one(app, predicate):
    assert predicate(None) is False


def test_belonging_to_an_organisation_or_a_client(make_user):
    actor, client, coordinator = make_user("actor"), make_user("client"), make_user("coordinator")
    assert is_actor_of(actor, actor.organisation_id) is True
    assert is_actor_of(actor, actor.organisation_id + 1) is False
    assert is_actor_of(actor, None) is False
    assert is_actor_of(coordinator, actor.organisation_id) is False
    assert is_actor_of(None, actor.organisation_id) is False
    assert is_actor_of(AnonymousUserMixin(), actor.organisation_id) is False
    assert is_client_of(client, client.client_id) is True
    assert is_client_of(client, client.client_id + 1) is False
    assert is_client_of(client, None) is False
    assert is_client_of(actor, client.client_id) is False
    assert is_client_of(None, client.client_id) is False


def test_own_card_and_logo(make_user, make_organisation):
    actor, other = make_user("actor"), make_organisation()
    assert directory.is_own_card(actor, actor.organisation) is True
    assert directory.is_own_card(actor, other) is False
    assert directory.is_own_card(make_user("coordinator"), other) is False
    assert directory.can_view_logo(actor, actor.organisation_id) is True
    assert directory.can_view_logo(actor, other.id) is False
    assert directory.can_view_logo(make_user("treasurer"), other.id) is True
    assert directory.can_view_logo(make_user("client"), other.id) is False
    assert directory.can_view_logo(None, other.id) is False


def test_a_deactivated_session_is_no_role(app, make_user):
    """A user object whose session is not authenticated answers like an anonymous visitor."""

    class LoggedOut:
        is_authenticated = False
        role = "admin"

    assert is_admin(LoggedOut()) is False
    assert is_staff(LoggedOut()) is False


# --- the decorators, through the app -------------------------------------------------------------


def test_anonymous_visitors_go_to_the_login_page_with_next(client):
    response = client.get("/acteurs/nouveau?q=x")
    assert response.status_code == 302
    assert response.headers["Location"] == "/connexion?next=/acteurs/nouveau?q%3Dx"


@pytest.mark.parametrize(
    "role,url,expected",
    [
        ("coordinator", "/acteurs/nouveau", 200),
        ("treasurer", "/acteurs/nouveau", 403),
        ("actor", "/acteurs/nouveau", 403),
        ("treasurer", "/acteurs/export.csv", 200),
        ("client", "/acteurs/export.csv", 403),
        ("actor", "/ma-fiche", 200),
        ("coordinator", "/ma-fiche", 403),
        ("coordinator", "/chaines/", 200),
        ("treasurer", "/chaines/", 403),
    ],
)
def test_the_decorators_let_in_only_their_roles(auth, client, make_user, role, url, expected):
    auth.login(make_user(role).email)
    response = client.get(url)
    assert response.status_code == expected
    if expected == 403:
        assert "Accès refusé" in response.get_data(as_text=True)


def test_a_logo_is_for_staff_and_its_own_actors(auth, client, make_user, make_organisation):
    other = make_organisation()
    auth.login(make_user("actor").email)
    assert client.get(f"/acteurs/{other.id}/logo").status_code == 403
    auth.logout()
    auth.login(make_user("client").email)
    assert client.get(f"/acteurs/{other.id}/logo").status_code == 403
    auth.logout()
    auth.login(make_user("treasurer").email)
    assert client.get(f"/acteurs/{other.id}/logo").status_code == 404  # allowed; this card has no logo
