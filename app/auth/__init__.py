"""Authentication and role checks."""

from __future__ import annotations

from functools import wraps

from flask import abort, flash, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.extensions import db
from app.models import Role, User


def init_login(app, login_manager) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Connectez-vous pour accéder à cette page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_id: str):
        """The session holds ``id:epoch``; an old epoch (logout, deactivation) is refused."""
        try:
            user_id, epoch = (int(part) for part in session_id.split(":"))
        except (ValueError, AttributeError):
            return None
        user = db.session.get(User, user_id)
        if user is None or not user.active or user.session_epoch != epoch:
            return None
        return user


def roles_required(*roles: Role | str):
    """View decorator: anonymous users go to the login page, other roles get a 403 page."""
    allowed = {Role(r) for r in roles}

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                flash(_l("Connectez-vous pour accéder à cette page."), "info")
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


STAFF = (Role.ADMIN, Role.COORDINATOR, Role.TREASURER)
