"""The object rules of ``offers.permissions``: each role with the exact answer, then the rules that
look at the object (whose event, whose lot, whose quote), and the buttons templates show by them."""

from __future__ import annotations

import html

import pytest
from flask_login import AnonymousUserMixin

from app.extensions import db
from offers import permissions as rules
from offers.models import AssignmentStatus, QuoteStatus
from offers.services.quotes import issue_quote
from tests.app.test_roles import table
from tests.offers.quote_fixtures import build_ready_event
from tests.offers.test_events import add_assignment, add_line, add_lot
from tests.offers.test_lines import add_sent_quote


@pytest.fixture
def event(make_event):
    return make_event()


ROLE_RULES = {
    rules.can_view_event: "admin coordinator treasurer",
    rules.can_edit_event: "admin coordinator",
    rules.can_issue_quote: "admin coordinator",
    rules.can_send_quote: "admin coordinator",
    rules.can_tune_matching: "admin",
    rules.can_view_clients: "admin coordinator treasurer",
    rules.can_manage_clients: "admin coordinator",
}
WITH_OBJECT = {rules.can_view_event, rules.can_edit_event, rules.can_issue_quote, rules.can_send_quote}


@pytest.mark.parametrize("rule,role,expected", table(ROLE_RULES))
def test_rules_by_role(person, event, rule, role, expected):
    if rule is rules.can_send_quote:
        subject = (add_sent_quote(event),)
    elif rule in WITH_OBJECT:
        subject = (event,)
    else:
        subject = ()
    assert rule(person(role), *subject) is expected


@pytest.mark.parametrize("rule", list(ROLE_RULES))
def test_nobody_is_allowed_nothing(event, rule):
    subject = (
        (add_sent_quote(event),) if rule is rules.can_send_quote else (event,) if rule in WITH_OBJECT else ()
    )
    assert rule(None, *subject) is False


# --- rules that look at the object ---------------------------------------------------------------


@pytest.fixture
def lot_site(make_event, make_category, make_organisation, make_user):
    """One lot: ``crew`` accepted it and priced a line, ``cook`` is only invited, ``stranger`` works
    on another event."""
    event = make_event()
    lot = add_lot(event, make_category())
    crew, cook = make_organisation(), make_organisation()
    crew_assignment = add_assignment(lot, crew, AssignmentStatus.ACCEPTED)
    cook_assignment = add_assignment(lot, cook, AssignmentStatus.INVITED)
    crew_line = add_line(lot, crew)
    cook_line = add_line(lot, cook)
    other_lot = add_lot(make_event(), make_category())
    stranger = make_organisation()
    add_assignment(other_lot, stranger, AssignmentStatus.ACCEPTED)
    return {
        "event": event,
        "lot": lot,
        "crew_assignment": crew_assignment,
        "cook_assignment": cook_assignment,
        "crew_line": crew_line,
        "cook_line": cook_line,
        "crew": make_user("actor", organisation=crew),
        "cook": make_user("actor", organisation=cook),
        "stranger": make_user("actor", organisation=stranger),
    }


def test_no_actor_sees_the_dashboard_not_even_one_of_the_event(lot_site, make_user):
    """The dashboard shows every actor's prices: staff only; actors see their lots in the portal."""
    event = lot_site["event"]
    assert rules.can_view_event(lot_site["crew"], event) is False  # accepted a lot of this event
    assert rules.can_view_event(lot_site["stranger"], event) is False  # works on another event
    assert rules.can_view_event(make_user("client", client=event.client), event) is False  # its client
    assert rules.can_view_event(make_user("treasurer"), event) is True


def test_dashboard_access_through_the_app(auth, client, lot_site):
    auth.login(lot_site["crew"].email)
    assert client.get(f"/evenements/{lot_site['event'].id}").status_code == 403


def test_an_actor_edits_only_its_own_lines_on_a_lot_it_accepted(lot_site, make_user):
    crew, cook, stranger = lot_site["crew"], lot_site["cook"], lot_site["stranger"]
    lot, crew_line, cook_line = lot_site["lot"], lot_site["crew_line"], lot_site["cook_line"]
    assert rules.actor_may_edit_lines(crew, lot) is True
    assert rules.actor_may_edit_lines(cook, lot) is False  # only invited
    assert rules.actor_may_edit_lines(stranger, lot) is False
    assert rules.actor_may_edit_lines(make_user("coordinator"), lot) is False  # actors' rule
    assert rules.can_edit_line(crew, crew_line) is True
    assert rules.can_edit_line(crew, cook_line) is False  # another actor's
    assert rules.can_edit_line(cook, cook_line) is False  # its own, but not accepted
    assert rules.can_edit_line(stranger, crew_line) is False
    assert rules.can_edit_line(make_user("coordinator"), cook_line) is True
    assert rules.can_edit_line(make_user("admin"), cook_line) is True
    assert rules.can_edit_line(make_user("treasurer"), crew_line) is False
    assert rules.can_edit_line(make_user("client"), crew_line) is False
    assert rules.can_edit_line(None, crew_line) is False
    assert rules.can_edit_line(AnonymousUserMixin(), crew_line) is False


def test_the_accepted_assignment_of_an_organisation(lot_site):
    lot = lot_site["lot"]
    assert rules.accepted_assignment(lot, lot_site["crew"].organisation_id) == lot_site["crew_assignment"]
    assert rules.accepted_assignment(lot, lot_site["cook"].organisation_id) is None
    assert rules.accepted_assignment(lot, None) is None


def test_only_the_invited_organisation_sees_and_answers_its_assignment(lot_site, make_user):
    crew, cook, stranger = lot_site["crew"], lot_site["cook"], lot_site["stranger"]
    invitation = lot_site["cook_assignment"]
    assert rules.can_see_assignment(cook, invitation) is True
    assert rules.can_answer_assignment(cook, invitation) is True
    assert rules.can_see_assignment(crew, invitation) is False  # same lot, another organisation
    assert rules.can_answer_assignment(crew, invitation) is False
    assert rules.can_see_assignment(stranger, invitation) is False
    assert rules.can_see_assignment(make_user("coordinator"), invitation) is False  # portal rule
    assert rules.can_answer_assignment(make_user("coordinator"), invitation) is False
    assert rules.can_see_assignment(None, invitation) is False
    invitation.status = AssignmentStatus.PROPOSED  # the coordination's draft: not shown yet
    assert rules.can_see_assignment(cook, invitation) is False
    assert rules.can_answer_assignment(cook, invitation) is True  # the service refuses by its state


@pytest.mark.parametrize(
    "who,status,expected",
    [
        ("own client", QuoteStatus.SENT, True),
        ("own client", QuoteStatus.ACCEPTED, True),
        ("own client", QuoteStatus.DRAFT, False),
        ("own client", QuoteStatus.SUPERSEDED, True),
        ("other client", QuoteStatus.SENT, False),
        ("actor", QuoteStatus.SENT, False),
        ("anonymous", QuoteStatus.SENT, False),
        ("coordinator", QuoteStatus.DRAFT, True),
        ("treasurer", QuoteStatus.DRAFT, True),
        ("admin", QuoteStatus.SENT, True),
    ],
)
def test_a_client_sees_only_its_own_clients_quotes_once_sent(event, make_user, who, status, expected):
    quote = add_sent_quote(event, status=status)
    user = {
        "own client": lambda: make_user("client", client=event.client),
        "other client": lambda: make_user("client"),
        "anonymous": AnonymousUserMixin,
    }.get(who, lambda: make_user(who))()
    assert rules.can_view_quote(user, quote) is expected


def test_a_client_never_sees_a_version_replaced_before_it_was_sent(event, make_user):
    quote = add_sent_quote(event, status=QuoteStatus.SUPERSEDED, sent=False)
    assert rules.can_view_quote(make_user("client", client=event.client), quote) is False
    assert rules.can_view_quote(make_user("coordinator"), quote) is True


# --- what templates show by these rules ----------------------------------------------------------


def test_only_coordination_gets_the_quote_buttons(
    auth, client, make_user, make_event, make_client, make_category, make_organisation
):
    event, _lots, _orgs = build_ready_event(make_event, make_client, make_category, make_organisation)
    quote = issue_quote(event, make_user("coordinator"))
    db.session.commit()
    seen = {}
    for role in ("coordinator", "admin", "treasurer"):
        auth.login(make_user(role).email)
        detail = html.unescape(client.get(f"/devis/{quote.id}").get_data(as_text=True))
        dashboard = html.unescape(client.get(f"/evenements/{event.id}").get_data(as_text=True))
        seen[role] = (
            "Envoyer au client" in detail,
            "Nouvelle version" in detail,
            "Émettre une nouvelle version" in dashboard,
        )
        auth.logout()
    assert seen == {
        "coordinator": (True, True, True),
        "admin": (True, True, True),
        "treasurer": (False, False, False),
    }
