"""Authentication and role checks (the predicates and decorators live in :mod:`app.auth.roles`)."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from app.auth.roles import (
    COORDINATION,
    EXTERNAL,
    STAFF,
    TEMPLATE_PREDICATES,
    TREASURY,
    actor_required,
    admin_required,
    authenticated_required,
    client_required,
    coordination_required,
    has_role,
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
    permission_required,
    role_of,
    roles_required,
    staff_required,
    treasury_required,
)
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import User

__all__ = [
    "COORDINATION",
    "EXTERNAL",
    "STAFF",
    "TREASURY",
    "actor_required",
    "admin_required",
    "authenticated_required",
    "client_required",
    "coordination_required",
    "has_role",
    "init_login",
    "is_actor",
    "is_actor_of",
    "is_admin",
    "is_authenticated",
    "is_client",
    "is_client_of",
    "is_coordination",
    "is_external",
    "is_staff",
    "is_treasury",
    "permission_required",
    "role_of",
    "roles_required",
    "staff_required",
    "treasury_required",
]


def init_login(app, login_manager) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Connectez-vous pour accéder à cette page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    # Templates ask the same predicates as views: {% if is_coordination(current_user) %}.
    app.jinja_env.globals.update(TEMPLATE_PREDICATES)

    @login_manager.user_loader
    def load_user(session_id: str):
        """The session holds ``id:epoch``; an old epoch (logout, deactivation) is refused."""
        try:
            user_id, epoch = (int(part) for part in session_id.split(":"))
        except (ValueError, AttributeError):
            return None
        user = _load_user(user_id)
        if user is None or not user.active or user.session_epoch != epoch:
            return None
        return user


@cache
def _user_options() -> tuple:
    """The user's organisation and client come with the user (joined), their id and name only: no
    page reads more of them through the logged-in user, and the layout's query of every request
    then brings 4 of their 44 columns. Any other column is read when first asked (one query). Built once, as the statement."""
    from app.models import Client, Organisation

    return (
        joinedload(User.organisation).load_only(Organisation.id, Organisation.name),
        joinedload(User.client).load_only(Client.id, Client.name),
    )


@cache
def _user_with_demo_flag() -> sa.Select:
    """The statement of :func:`_load_user`, built once: SQLAlchemy then reuses its cache key instead
    of walking a new statement on every request (about 0.2 ms of each page)."""
    from app import demo_loaded_column

    return (
        sa.select(User, demo_loaded_column())
        .where(User.id == sa.bindparam("user_id"))
        .options(*_user_options())
    )


def _load_user(user_id: int) -> User | None:
    """The user by id; when the layout shows the demo banner, the statement also says whether the
    demo is loaded (every page asks: one query fewer)."""
    if not current_app.config.get("DEMO_BANNER"):
        return db.session.get(User, user_id, options=_user_options())
    from app import remember_demo_loaded

    row = db.session.execute(_user_with_demo_flag(), {"user_id": user_id}).first()
    if row is None:
        return None
    remember_demo_loaded(row[1])
    return row[0]
