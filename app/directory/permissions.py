"""Who may see and change what in the directory, built on the role predicates of ``app.auth``.

Views call these (403 when they say no); the services that write call them again.
Every rule takes ``None`` or an anonymous user and then answers ``False``.
"""

from __future__ import annotations

from app.auth import is_actor, is_actor_of, is_coordination, is_staff
from app.models import Organisation


def can_view_directory(user) -> bool:
    """The list of cards and each card (with its staff-only panels): staff."""
    return is_staff(user)


def can_edit_directory(user) -> bool:
    """Create and edit cards and categories: coordination."""
    return is_coordination(user)


def can_edit_own_card(user) -> bool:
    """``/ma-fiche``: an actor edits the descriptive part of its own organisation's card."""
    return is_actor(user)


def is_own_card(user, organisation: Organisation) -> bool:
    return is_actor_of(user, organisation.id)


def can_view_logo(user, organisation_id: int) -> bool:
    """A card's logo: staff, and the people of its organisation."""
    return is_staff(user) or is_actor_of(user, organisation_id)


def can_manage_chains(user) -> bool:
    """Create, edit and delete the thematic chains: coordination."""
    return is_coordination(user)


def can_import_directory(user) -> bool:
    """Import cards from a CSV or XLSX file: coordination."""
    return is_coordination(user)


def can_export_directory(user) -> bool:
    """Export the cards (CSV, XLSX): staff."""
    return is_staff(user)
