"""Login by password or by e-mailed link, logout."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask import flash as _flash
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.auth.forms import ChangePasswordForm, ConfirmForm, LoginForm, MagicLinkRequestForm, ResetPasswordForm
from app.auth.roles import authenticated_required
from app.auth.services import (
    InvalidLink,
    LoginRefused,
    TooManyAttempts,
    authenticate,
    change_password,
    consume_magic_link,
    end_sessions,
    issue_magic_link,
    password_reset_user,
    peek_magic_link,
    pending_link_requests,
    request_login_link,
    reset_password,
    safe_next_path,
)
from app.errors import NotConfigured
from app.extensions import db
from app.mail import queue_message
from app.models import User
from app.web import service_call

bp = Blueprint("auth", __name__)


def _after_login(user: User, next_path: str | None = None):
    session.clear()  # no fixation: a fresh session for the logged-in user
    login_user(user)
    session.permanent = True
    return redirect(safe_next_path(next_path) or url_for("main.dashboard"))


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                user = authenticate(form.email.data, form.password.data, g.client_ip)
            except (LoginRefused, TooManyAttempts) as exc:
                db.session.commit()  # the failure counts, and nothing else changed
                form.password.errors = [exc.message]
                status = exc.status_code
            else:
                db.session.commit()
                _flash(_("Bienvenue, %(name)s.", name=user.name), "success")
                return _after_login(user, request.args.get("next"))
        else:
            status = 400
    return render_template("app/auth/login.html", form=form), status


@bp.route("/deconnexion", methods=["POST"])
def logout():
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template(
            "errors/error.html",
            code=400,
            title=_("Requête invalide"),
            message=_("Déconnexion refusée : jeton de sécurité manquant."),
        ), 400
    if current_user.is_authenticated:
        user = db.session.get(User, current_user.id)
        end_sessions(user)  # every session of this user ends, on every device
        db.session.commit()
    logout_user()
    session.clear()
    _flash(_("Vous êtes déconnecté."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/connexion/lien", methods=["GET", "POST"])
def magic_link_request():
    """Actors and clients ask for a login link; the answer never reveals whether the email exists.

    The request is only stored (:func:`request_login_link`): ``flask outbox send`` looks the account
    up and queues the e-mail (:func:`answer_login_link_requests`), outside the request, so that the
    answer takes the same time for every address and no SMTP server holds the worker.
    """
    form = MagicLinkRequestForm()
    status = 200
    if form.validate_on_submit():
        try:
            request_login_link(form.email.data, g.client_ip)
        except TooManyAttempts as exc:
            db.session.commit()  # the request counts
            form.email.errors = [exc.message]
            status = exc.status_code
        else:
            db.session.commit()
            _flash(
                _(
                    "Si un compte acteur ou client existe pour cette adresse, "
                    "un lien de connexion vient d'y être envoyé."
                ),
                "info",
            )
            return redirect(url_for("auth.login"))
    elif request.method == "POST":
        status = 400
    return render_template("app/auth/magic_request.html", form=form), status


def answer_login_link_requests() -> int:
    """Queue a login link for each stored request that reaches an account; commits. Returns how many
    requests were answered (with or without an e-mail). Run by ``flask outbox send``."""
    answered = pending_link_requests()
    for _request, user in answered:
        if user is not None:
            send_login_link(user)
    db.session.commit()
    return len(answered)


def send_login_link(user: User, next_path: str | None = None, subject: str | None = None, intro: str = ""):
    """Queue an e-mail carrying a fresh magic link for ``user``. The caller commits."""
    issued = issue_magic_link(user, next_path)
    url = absolute_url("auth.magic_link", token=issued.token)
    body = render_template(
        "email/magic_link.txt", user=user, url=url, intro=intro, expires_at=issued.link.expires_at
    )
    return queue_message(
        to=[user.email],
        subject=subject or _("Votre lien de connexion à Maillage"),
        body_text=body,
    )


def absolute_url(endpoint: str, **values) -> str:
    """An absolute URL for e-mails: on ``PUBLIC_BASE_URL`` when it is set, otherwise on the address
    of the request that triggers the mail. Without either (CLI, outbox worker), raises
    :class:`~app.errors.NotConfigured` naming the setting: a link must never point to a guessed host.
    """
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").strip().rstrip("/")
    if base:
        with current_app.test_request_context(base_url=base):
            return url_for(endpoint, _external=True, **values)
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    raise NotConfigured(
        _(
            "Aucune adresse publique pour les liens des e-mails : définissez PUBLIC_BASE_URL "
            "(par exemple PUBLIC_BASE_URL=http://127.0.0.1:5000 pour make run)."
        )
    )


@bp.route("/lien/<token>", methods=["GET", "POST"])
def magic_link(token: str):
    """GET shows a button (mail scanners prefetch GET links); POST uses the link once."""
    form = ConfirmForm()
    try:
        link = peek_magic_link(token)
    except InvalidLink as exc:
        return render_template("app/auth/magic_invalid.html", message=exc.message), exc.status_code
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template(
                "app/auth/magic_invalid.html", message=_("Jeton de sécurité manquant : rechargez la page.")
            ), 400
        try:
            link = consume_magic_link(token, g.client_ip)
        except InvalidLink as exc:
            db.session.rollback()
            return render_template("app/auth/magic_invalid.html", message=exc.message), exc.status_code
        user, next_path = link.user, link.next_path
        db.session.commit()
        _flash(_("Bienvenue, %(name)s.", name=user.name), "success")
        return _after_login(user, next_path)  # redirect to a clean URL, without the token
    return render_template("app/auth/magic_confirm.html", form=form, user=link.user)


# --- passwords -----------------------------------------------------------------------------------


@bp.route("/mon-compte/mot-de-passe", methods=["GET", "POST"])
@authenticated_required
def password_change():
    """Any logged-in user changes their password (the current one is asked when there is one)."""
    user = db.session.get(User, current_user.id)
    form = ChangePasswordForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            with service_call(form) as outcome:
                change_password(user, form.current_password.data, form.password.data)
            if outcome.ok:
                login_user(user)  # the other sessions ended with the old password; this one stays
                _flash(_("Votre mot de passe est changé. Vos autres sessions sont fermées."), "success")
                return redirect(url_for("main.dashboard"))
            status = outcome.status
            if outcome.error:
                _flash(outcome.error, "danger")
        else:
            status = 400
    return render_template(
        "app/auth/password_change.html", form=form, has_password=user.password_hash is not None
    ), status


@bp.route("/mot-de-passe/<token>", methods=["GET", "POST"])
def password_reset(token: str):
    """A reset link sent by the admin: GET shows the form (mail scanners only read it), POST sets the
    new password once; then the user logs in with it."""
    form = ResetPasswordForm()
    try:
        user = password_reset_user(token)
    except InvalidLink as exc:
        return render_template("app/auth/magic_invalid.html", message=exc.message), exc.status_code
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            with service_call(form) as outcome:
                reset_password(token, form.password.data, g.client_ip)
            if outcome.ok:
                _flash(_("Votre mot de passe est enregistré : connectez-vous avec lui."), "success")
                return redirect(url_for("auth.login"))
            if isinstance(outcome.exception, InvalidLink):
                return render_template("app/auth/magic_invalid.html", message=outcome.error), outcome.status
            status = outcome.status
        else:
            status = 400
    return render_template("app/auth/password_reset.html", form=form, user=user), status


def send_password_reset(user: User, token: str):
    """Queue the e-mail carrying a reset link. The caller commits."""
    body = render_template(
        "email/password_reset.txt",
        user=user,
        url=absolute_url("auth.password_reset", token=token),
        hours=int(current_app.config["PASSWORD_RESET_MAX_AGE"].total_seconds() // 3600),
    )
    return queue_message(
        to=[user.email], subject=_("Choisissez un nouveau mot de passe pour Maillage"), body_text=body
    )
