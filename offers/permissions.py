"""Who may see and do what in offers: the object rules, built on the role predicates of ``app.auth``.

Views call these before anything else (403 when they say no); services that change money or
documents call them again (issue and send a quote, create / update / delete a line, answer an
invitation, edit a client).

A permission is about *who*; *when* is not a permission. An event that is closed or cancelled, a lot
that is cancelled, lines locked by a sent quote, a passed deadline: the services refuse those with
their own messages (``require_not_frozen``, ``require_lines_open``, ``answer_refusal``…), whoever asks.

Every rule takes ``None`` or an anonymous user and then answers ``False``.
"""

from __future__ import annotations

from app.auth import is_actor, is_actor_of, is_admin, is_client_of, is_coordination, is_staff
from offers.models import Assignment, AssignmentStatus, Event, Line, Lot, Quote

#: What an actor sees of its organisation's assignments (``proposed`` is the coordination's draft,
#: not an invitation yet).
VISIBLE_STATUSES = (
    AssignmentStatus.INVITED,
    AssignmentStatus.ACCEPTED,
    AssignmentStatus.DECLINED,
    AssignmentStatus.WITHDRAWN,
)


# --- events, lots and their assignments ----------------------------------------------------------


def can_view_event(user, event: Event) -> bool:
    """The event's dashboard (all its lots, every actor's prices and answers, its history).

    Staff (coordination, treasury, admin) see every event. Nobody else sees a dashboard, not even an
    actor working on the event: it shows the other actors' prices. An actor sees its own lots in the
    portal (:func:`can_see_assignment`), a client its quotes (:func:`can_view_quote`).
    """
    return is_staff(user)


def can_edit_event(user, event: Event | None = None) -> bool:
    """Change the event, its lots and their assignments: coordination (any event; ``event`` is
    ``None`` when creating one).

    Whether the event still accepts changes (closed, cancelled) is not a permission: the services'
    state checks refuse it for everyone.
    """
    return is_coordination(user)


def can_tune_matching(user) -> bool:
    """Change the weights of the actors' suggestions: admin only."""
    return is_admin(user)


# --- the actor's side ----------------------------------------------------------------------------


def can_answer_assignment(user, assignment: Assignment) -> bool:
    """Only a person of the invited organisation answers its invitation."""
    return is_actor_of(user, assignment.organisation_id)


def can_see_assignment(user, assignment: Assignment) -> bool:
    """A person of the assignment's organisation, once it was invited."""
    return is_actor_of(user, assignment.organisation_id) and assignment.status in VISIBLE_STATUSES


def accepted_assignment(lot: Lot, organisation_id: int | None) -> Assignment | None:
    """The organisation's accepted assignment on ``lot``, if any (from the loaded lot)."""
    if organisation_id is None:
        return None
    return next(
        (
            a
            for a in lot.assignments
            if a.organisation_id == organisation_id and a.status == AssignmentStatus.ACCEPTED
        ),
        None,
    )


def actor_may_edit_lines(user, lot: Lot) -> bool:
    """An actor writes lines only on a lot its organisation accepted."""
    return is_actor(user) and accepted_assignment(lot, user.organisation_id) is not None


def can_edit_line(user, line: Line) -> bool:
    """Coordination edits any line; an actor only its own organisation's, on a lot it accepted."""
    if is_coordination(user):
        return True
    return is_actor_of(user, line.organisation_id) and actor_may_edit_lines(user, line.lot)


def can_view_briefing(user, organisation_id: int | None) -> bool:
    """An actor's briefing sheet (feuille de route): the people of that organisation, and staff
    (from the event's page). Whether the organisation has lots on the event is the view's 404."""
    return is_staff(user) or is_actor_of(user, organisation_id)


# --- quotes --------------------------------------------------------------------------------------


def can_issue_quote(user, event: Event) -> bool:
    """Issue a quote (or a new version) for the event: coordination."""
    return is_coordination(user)


def can_send_quote(user, quote: Quote) -> bool:
    """Send (or re-send) a quote to the client: coordination."""
    return is_coordination(user)


def can_view_quote(user, quote: Quote) -> bool:
    """Staff see every quote; a client user only its own client's versions that were sent to it (a
    draft, or a version replaced before it went out, is not shown)."""
    if is_staff(user):
        return True
    return is_client_of(user, quote.event.client_id) and quote.was_sent


# --- clients -------------------------------------------------------------------------------------


def can_view_clients(user) -> bool:
    """The list and the cards of the clients: staff."""
    return is_staff(user)


def can_manage_clients(user) -> bool:
    """Create and edit clients: coordination."""
    return is_coordination(user)


#: The rules templates call, e.g. ``{% if can_issue_quote(current_user, event) %}``.
TEMPLATE_RULES = {
    "can_edit_event": can_edit_event,
    "can_issue_quote": can_issue_quote,
    "can_send_quote": can_send_quote,
}
