"""Who is who: the role groups, their predicates and the view decorators built on them.

The one place where roles are listed. Everything else asks a predicate (``is_coordination(user)``)
or an object rule built on them (``offers.permissions``, ``invoicing.permissions``,
``app.directory.permissions``); templates call the same predicates (registered as Jinja globals).

Every predicate takes ``None``, an anonymous user or a user, and answers ``False`` for the first two.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from app.i18n import lazy_gettext as _l
from app.models import Role

#: Admin and coordinator: events, lots, lines, quotes, clients, the directory and its chains.
COORDINATION = frozenset({Role.ADMIN, Role.COORDINATOR})
#: Coordination and treasury: they read every event and every organisation's prices.
STAFF = frozenset({Role.ADMIN, Role.COORDINATOR, Role.TREASURER})
#: Admin and treasurer: invoices, payments, payouts, accounting exports.
TREASURY = frozenset({Role.ADMIN, Role.TREASURER})
#: People outside the coordination, who may log in by a link sent by e-mail.
EXTERNAL = frozenset({Role.ACTOR, Role.CLIENT})


def role_of(user) -> Role | None:
    """The role of a logged-in user; ``None`` for ``None`` and anonymous users."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "role", None)


def has_role(user, *roles: Role | str) -> bool:
    role = role_of(user)
    return role is not None and role in {Role(r) for r in roles}


def is_authenticated(user) -> bool:
    return role_of(user) is not None


def is_admin(user) -> bool:
    return role_of(user) == Role.ADMIN


def is_coordination(user) -> bool:
    """Admin or coordinator."""
    return role_of(user) in COORDINATION


def is_staff(user) -> bool:
    """Admin, coordinator or treasurer."""
    return role_of(user) in STAFF


def is_treasury(user) -> bool:
    """Admin or treasurer."""
    return role_of(user) in TREASURY


def is_actor(user) -> bool:
    return role_of(user) == Role.ACTOR


def is_client(user) -> bool:
    return role_of(user) == Role.CLIENT


def is_external(user) -> bool:
    """An actor or a client: may log in by e-mailed link."""
    return role_of(user) in EXTERNAL


def is_actor_of(user, organisation_id: int | None) -> bool:
    """A person of the organisation ``organisation_id`` (never true for ``None``)."""
    return is_actor(user) and organisation_id is not None and user.organisation_id == organisation_id


def is_client_of(user, client_id: int | None) -> bool:
    """A person of the client ``client_id`` (never true for ``None``)."""
    return is_client(user) and client_id is not None and user.client_id == client_id


#: The predicates templates call, e.g. ``{% if is_coordination(current_user) %}``.
TEMPLATE_PREDICATES: dict[str, Callable[[object], bool]] = {
    "is_admin": is_admin,
    "is_coordination": is_coordination,
    "is_staff": is_staff,
    "is_treasury": is_treasury,
    "is_actor": is_actor,
    "is_client": is_client,
}


# --- view decorators -----------------------------------------------------------------------------


def permission_required(allowed: Callable[[object], bool]):
    """View decorator: anonymous users go to the login page (with ``next``); a logged-in user for
    whom ``allowed(current_user)`` is false gets the 403 page."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                flash(_l("Connectez-vous pour accéder à cette page."), "info")
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not allowed(current_user):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def roles_required(*roles: Role | str):
    """View decorator for an explicit list of roles (prefer the named decorators below)."""
    allowed = {Role(r) for r in roles}
    return permission_required(lambda user: role_of(user) in allowed)


#: Any logged-in user, whatever the role.
authenticated_required = permission_required(is_authenticated)
admin_required = permission_required(is_admin)
coordination_required = permission_required(is_coordination)
staff_required = permission_required(is_staff)
treasury_required = permission_required(is_treasury)
actor_required = permission_required(is_actor)
client_required = permission_required(is_client)
