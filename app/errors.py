"""Domain errors raised by services, and the HTML/JSON error pages."""

from __future__ import annotations

import logging

from flask import jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.i18n import lazy_gettext as _l

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule refused the action; ``message`` is shown to the user as is (already translated)."""

    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidValue(DomainError):
    """A value a business rule refuses; ``field`` names the form field the message belongs beside."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class InvalidTransition(DomainError):
    """A state machine (:mod:`app.states`) refused a move (e.g. accepting a declined assignment)."""

    status_code = 409


class Forbidden(DomainError):
    """The user may not do this; services raise it so money never moves on a view's word alone."""

    status_code = 403


class NotConfigured(DomainError):
    """A setting the action needs is missing (e.g. ``PUBLIC_BASE_URL`` for a link mailed from the CLI);
    the message names the setting."""

    status_code = 500


class Conflict(DomainError):
    """Someone else changed the object meanwhile (stale form, already answered)."""

    status_code = 409


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


_TITLES = {
    400: (_l("Requête invalide"), _l("La demande n'a pas pu être traitée.")),
    401: (_l("Connexion requise"), _l("Identifiez-vous pour accéder à cette page.")),
    403: (_l("Accès refusé"), _l("Votre rôle ne permet pas d'accéder à cette page.")),
    404: (_l("Page introuvable"), _l("Cette page ou cet objet n'existe pas.")),
    405: (_l("Méthode non autorisée"), _l("Cette action n'est pas possible ici.")),
    409: (_l("Conflit"), _l("L'objet a changé entre-temps ; rechargez la page.")),
    413: (_l("Fichier trop volumineux"), _l("Le fichier envoyé dépasse la taille autorisée.")),
    429: (_l("Trop de tentatives"), _l("Trop de tentatives : réessayez dans quelques minutes.")),
    503: (_l("Service indisponible"), _l("Le service est momentanément indisponible.")),
    500: (_l("Erreur interne"), _l("Une erreur inattendue s'est produite ; elle a été consignée.")),
}


def render_error(code: int, message: str | None = None):
    title, default = _TITLES.get(code, _TITLES[500])
    title, text = str(title), message or str(default)
    if _wants_json():
        return jsonify(error=title, message=text), code
    return render_template("errors/error.html", code=code, title=title, message=text), code


def register_error_handlers(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_error(
            400, _("Le formulaire a expiré ou n'est pas valide (jeton CSRF). Rechargez la page et réessayez.")
        )

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        return render_error(exc.status_code, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code in _TITLES:
            # Our own abort(…, description) messages are French already; Werkzeug's defaults are not.
            custom = exc.description if exc.description != type(exc).description else None
            return render_error(exc.code, custom)
        return exc

    @app.errorhandler(OperationalError)
    @app.errorhandler(SQLAlchemyTimeoutError)
    def database_unavailable(exc):
        """A locked or unreachable database (or an exhausted pool): 503, try again shortly."""
        logger.warning("Database unavailable: %s", exc)
        forget_database()
        response, code = render_error(
            503, _("Le service est momentanément indisponible. Réessayez dans quelques instants.")
        )
        response = make_response(response, code)
        response.headers["Retry-After"] = str(app.config.get("RETRY_AFTER_SECONDS", 30))
        return response

    @app.errorhandler(500)
    def internal_error(exc):
        forget_database()
        return render_error(500)


def forget_database() -> None:
    """Before an error page: roll back, and let the layout touch nothing in the database.

    The failed transaction is rolled back (a second error there is ignored: the connection may be
    gone), the user this request loaded is replaced by an anonymous one (its attributes expired with
    the rollback, and reading them would query again), and ``g.database_failed`` tells the layout
    to skip the navigation and the demo banner.
    """
    from flask import current_app, g

    try:
        db.session.rollback()
    except Exception:
        logger.warning("Rollback failed before the error page.", exc_info=True)
    g._login_user = current_app.login_manager.anonymous_user()
    g.database_failed = True
