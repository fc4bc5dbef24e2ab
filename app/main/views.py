"""Home, dashboard, language switch, health, and the admin's pages."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import admin_required, authenticated_required
from app.auth.forms import ConfirmForm
from app.auth.services import reset_password_by_admin, safe_next_path
from app.auth.views import send_password_reset
from app.extensions import db
from app.models import CoordinatorIdentity, User
from app.web import service_call

bp = Blueprint("main", __name__)


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    return render_template("app/index.html")


@bp.route("/tableau-de-bord")
@authenticated_required
def dashboard():
    """One home per role; the role's own pages are one click away."""
    return render_template("app/dashboard.html")


@bp.route("/langue/<code>", methods=["POST"])
def set_language(code: str):
    form = ConfirmForm()
    if form.validate_on_submit() and code in ("fr", "en"):
        session["lang"] = code
    return redirect(safe_next_path(request.form.get("next")) or url_for("main.index"))


@bp.route("/health")
def health():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.route("/admin/utilisateurs")
@admin_required
def user_list():
    users = db.session.scalars(sa.select(User).order_by(User.role, User.email)).all()
    return render_template("app/user_list.html", users=users, form=ConfirmForm())


@bp.route("/admin/utilisateurs/<int:user_id>/reinitialiser", methods=["POST"])
@admin_required
def user_password_reset(user_id: int):
    """The admin resets a password: the old one stops working and a one-time link is mailed."""
    user = db.get_or_404(User, user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("Jeton de sécurité manquant : rechargez la page."), "danger")
        return redirect(url_for("main.user_list")), 303
    with service_call() as outcome:
        send_password_reset(user, reset_password_by_admin(user, current_user))
    if outcome.ok:
        flash(
            _(
                "Mot de passe de %(email)s réinitialisé : l'ancien ne fonctionne plus, et un lien pour en "
                "choisir un nouveau vient de lui être envoyé.",
                email=user.email,
            ),
            "success",
        )
    else:
        flash(outcome.message, "danger")
    return redirect(url_for("main.user_list"))


@bp.route("/admin/parametres")
@admin_required
def settings():
    identity = db.session.get(CoordinatorIdentity, CoordinatorIdentity.ONLY_ROW)
    return render_template("app/settings.html", identity=identity, title=_("Paramètres"))
