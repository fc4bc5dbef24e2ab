"""Who may see what in offers. Views call these; services call them again before moving money."""

from __future__ import annotations

from app.models import Role, User
from offers.models import Assignment, Event


def can_view_event(user: User, event: Event) -> bool:
    return user.is_authenticated and user.is_staff


def can_edit_event(user: User, event: Event) -> bool:
    return user.is_authenticated and user.role in (Role.ADMIN, Role.COORDINATOR)


def can_answer_assignment(user: User, assignment: Assignment) -> bool:
    """Only a person of the invited organisation answers its invitation."""
    return (
        user.is_authenticated
        and user.role == Role.ACTOR
        and user.organisation_id is not None
        and user.organisation_id == assignment.organisation_id
    )
