"""Login, logout, magic links, user creation. Services flush; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.audit import N_, as_label, record
from app.auth import throttle
from app.auth.passwords import hash_password, password_problem, verify_password
from app.auth.roles import EXTERNAL, is_external
from app.db import utcnow
from app.errors import Conflict, DomainError, InvalidValue
from app.extensions import db
from app.models import Client, LoginLinkRequest, MagicLink, Organisation, Role, User


class LoginRefused(DomainError):
    status_code = 401


class TooManyAttempts(DomainError):
    status_code = 429


class InvalidLink(DomainError):
    status_code = 400


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def authenticate(email: str, password: str, ip: str | None) -> User:
    """Return the user for these credentials.

    Raises :class:`TooManyAttempts` when the account or address is throttled, and
    :class:`LoginRefused` (one message, whether the email exists or not) otherwise.
    The caller commits in both cases, so that failures are counted.
    """
    email = normalise_email(email)
    if throttle.login_attempt(email, ip):  # counted before the check, atomically
        raise TooManyAttempts(_("Trop de tentatives de connexion échouées. Réessayez dans quelques minutes."))
    user = db.session.scalar(sa.select(User).where(User.email == email))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        raise LoginRefused(_("Adresse e-mail ou mot de passe incorrect."))
    throttle.login_succeeded(email, ip)
    user.last_login_at = utcnow()
    record("user.login", user, user=user, summary=N_("Connexion par mot de passe"), ip=ip)
    return user


def end_sessions(user: User) -> None:
    """Invalidate every session of ``user`` (logout everywhere, deactivation)."""
    user.session_epoch = (user.session_epoch or 0) + 1
    db.session.flush()


def deactivate(user: User, by: User | None = None) -> None:
    user.active = False
    end_sessions(user)
    record("user.deactivated", user, user=by, summary=N_("Compte %(email)s désactivé", email=user.email))


# --- magic links -------------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="maillage.magic-link")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class IssuedLink:
    link: MagicLink
    token: str


def issue_magic_link(user: User, next_path: str | None = None) -> IssuedLink:
    """Create a single-use link for an actor or client user. Raises :class:`DomainError` for other roles."""
    if not is_external(user):
        raise DomainError(_("Les liens de connexion par e-mail sont réservés aux acteurs et aux clients."))
    if not user.active:
        raise DomainError(_("Ce compte est désactivé."))
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    link = MagicLink(
        user=user,
        token_hash=_hash(secret),
        created_at=now,
        expires_at=now + current_app.config["MAGIC_LINK_MAX_AGE"],
        next_path=_safe_path(next_path),
    )
    db.session.add(link)
    db.session.flush()
    token = _serializer().dumps({"l": link.id, "s": secret})
    return IssuedLink(link=link, token=token)


def peek_magic_link(token: str) -> MagicLink:
    """Check a token without using it (for the confirmation page). Raises :class:`InvalidLink`."""
    max_age = int(current_app.config["MAGIC_LINK_MAX_AGE"].total_seconds())
    try:
        data = _serializer().loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise InvalidLink(_("Ce lien de connexion a expiré. Demandez-en un nouveau.")) from exc
    except BadSignature as exc:
        raise InvalidLink(_("Ce lien de connexion n'est pas valide.")) from exc
    if not isinstance(data, dict) or not isinstance(data.get("l"), int) or not isinstance(data.get("s"), str):
        raise InvalidLink(_("Ce lien de connexion n'est pas valide."))
    link = db.session.get(MagicLink, data["l"])
    if link is None or not secrets.compare_digest(link.token_hash, _hash(data["s"])):
        raise InvalidLink(_("Ce lien de connexion n'est pas valide."))
    if link.used_at is not None:
        raise InvalidLink(_("Ce lien de connexion a déjà été utilisé. Demandez-en un nouveau."))
    if link.expires_at <= utcnow():
        raise InvalidLink(_("Ce lien de connexion a expiré. Demandez-en un nouveau."))
    if not link.user.active:
        raise InvalidLink(_("Ce compte est désactivé."))
    return link


def consume_magic_link(token: str, ip: str | None) -> MagicLink:
    """Use a link once: a conditional update guarantees that two clicks cannot both log in."""
    link = peek_magic_link(token)
    now = utcnow()
    result = db.session.execute(
        sa.update(MagicLink)
        .where(MagicLink.id == link.id, MagicLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvalidLink(_("Ce lien de connexion a déjà été utilisé. Demandez-en un nouveau."))
    db.session.refresh(link)
    link.user.last_login_at = now
    record("user.login", link.user, user=link.user, summary=N_("Connexion par lien e-mail"), ip=ip)
    return link


def request_login_link(email: str, ip: str | None) -> None:
    """Store a request for a login link; the outbox worker answers it (:func:`pending_link_requests`).

    The same work whether or not an account exists for ``email`` (one counter per key, one row), so
    that neither the answer nor its time tells which addresses are accounts. Raises
    :class:`TooManyAttempts` past ``LOGIN_LINK_MAX_PER_ACCOUNT`` / ``LOGIN_LINK_MAX_PER_ADDRESS``.
    """
    email = normalise_email(email)[:320]
    if throttle.link_request(email, ip):
        raise TooManyAttempts(_("Trop de demandes de lien de connexion. Réessayez dans quelques minutes."))
    db.session.add(LoginLinkRequest(email=email, ip=ip, requested_at=utcnow()))
    db.session.flush()


def pending_link_requests(limit: int = 200) -> list[tuple[LoginLinkRequest, User | None]]:
    """Take the requests not answered yet (marked answered now), each with the account it may reach:
    an active actor or client, else None. Rows locked by another worker are skipped."""
    requests = db.session.scalars(
        sa.select(LoginLinkRequest)
        .where(LoginLinkRequest.processed_at.is_(None))
        .order_by(LoginLinkRequest.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    now, answered = utcnow(), []
    for link_request in requests:
        link_request.processed_at = now
        user = db.session.scalar(sa.select(User).where(User.email == link_request.email))
        answered.append(
            (link_request, user if user is not None and user.active and is_external(user) else None)
        )
    db.session.flush()
    return answered


def safe_path(path: str | None) -> str | None:
    """A return path given by a page (``next``), kept only when it stays on this site."""
    return _safe_path(path)


def _safe_path(path: str | None) -> str | None:
    """Only paths inside this site: no scheme, no host, no protocol-relative ``//``.

    Browsers drop tabs and line breaks from a URL and read ``\\`` as ``/`` (``/\t/evil.example`` goes
    to ``//evil.example``), and a CR or LF in a ``Location`` header is a 500: the value is normalised
    first (control characters removed, backslashes made slashes), then only a path that stays on this
    site is kept; anything else gives None (the caller's default page).
    """
    if not path:
        return None
    normalised = "".join(c for c in path if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    normalised = normalised.replace("\\", "/").strip()
    if normalised != path or not normalised.startswith("/") or normalised.startswith("//"):
        return None
    parts = urlsplit(normalised)
    if parts.scheme or parts.netloc or len(normalised) > 300:
        return None
    return normalised


safe_next_path = _safe_path


# --- users ---------------------------------------------------------------------------------------


def create_user(
    *,
    email: str,
    role: Role | str,
    name: str = "",
    password: str | None = None,
    organisation: Organisation | None = None,
    client: Client | None = None,
    by: User | None = None,
) -> User:
    """Create a user. Raises :class:`DomainError` with a French message on any invalid input."""
    from email_validator import EmailNotValidError, validate_email

    try:
        role = Role(role)
    except ValueError as exc:
        raise DomainError(_("Rôle inconnu : %(role)s.", role=role)) from exc
    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise DomainError(_("Adresse e-mail invalide : %(email)s.", email=email)) from exc
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise DomainError(_("Un compte existe déjà pour %(email)s.", email=email))
    if role == Role.ACTOR and organisation is None:
        raise DomainError(_("Un compte acteur doit être rattaché à une organisation."))
    if role == Role.CLIENT and client is None:
        raise DomainError(_("Un compte client doit être rattaché à un client."))
    if role != Role.ACTOR and organisation is not None:
        raise DomainError(_("Seul un compte acteur se rattache à une organisation."))
    if role != Role.CLIENT and client is not None:
        raise DomainError(_("Seul un compte client se rattache à un client."))
    if password is not None and password_problem(password):
        raise InvalidValue(password_problem(password), field="password")
    if password is None and role not in EXTERNAL:
        raise DomainError(_("Un mot de passe est requis pour ce rôle."))
    user = User(
        email=email,
        name=name or email.split("@")[0],
        role=role,
        organisation=organisation,
        client=client,
        password_hash=hash_password(password) if password else None,
        active=True,
        session_epoch=0,
    )
    db.session.add(user)
    db.session.flush()
    record(
        "user.created",
        user,
        user=by,
        summary=N_("Compte %(email)s créé (%(role)s)", email=email, role=as_label(role)),
    )
    return user


# --- passwords -----------------------------------------------------------------------------------


def set_password(user: User, password: str) -> bool:
    """Set ``user``'s password after :func:`~app.auth.passwords.password_problem` (raises
    :class:`InvalidValue` beside ``password``), and end every session of the account: a new password
    closes the old doors. The caller logs the current session in again if it should stay.

    One conditional update on the session epoch the caller read: returns False, changing nothing,
    when the account changed meanwhile (the same reset link used twice at once, another change).
    """
    problem = password_problem(password)
    if problem:
        raise InvalidValue(problem, field="password")
    result = db.session.execute(
        sa.update(User)
        .where(User.id == user.id, User.session_epoch == user.session_epoch)
        .values(password_hash=hash_password(password), session_epoch=User.session_epoch + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(user)
    return result.rowcount == 1


def change_password(user: User, current: str, new: str) -> None:
    """A user changes their own password; the current one is required when the account has one.

    Raises :class:`InvalidValue` beside ``current_password`` or ``password``.
    """
    if user.password_hash is not None and not verify_password(user.password_hash, current or ""):
        raise InvalidValue(_("Le mot de passe actuel est incorrect."), field="current_password")
    if user.password_hash is not None and verify_password(user.password_hash, new or ""):
        raise InvalidValue(_("Le nouveau mot de passe doit être différent de l'actuel."), field="password")
    if not set_password(user, new):
        raise Conflict(_("Le compte a été modifié entre-temps : rechargez la page et recommencez."))
    record("user.password_changed", user, user=user, summary=N_("Mot de passe modifié"))


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="maillage.password-reset")


def _reset_fingerprint(user: User) -> str:
    """Changes when the password or the session epoch changes: a link works once, and a newer reset
    (which ends the sessions) voids the older links."""
    return _hash(f"{user.id}:{user.password_hash or ''}:{user.session_epoch}")[:24]


def reset_password_by_admin(user: User, by: User) -> str:
    """The admin resets ``user``'s password: the current one stops working at once, every session
    ends, and the returned token (for a link mailed to the user) lets them choose a new one, once,
    within ``PASSWORD_RESET_MAX_AGE``. Raises :class:`Forbidden` for anyone but an admin."""
    from app.auth.roles import is_admin
    from app.errors import Forbidden

    if not is_admin(by):
        raise Forbidden(_("Seul un administrateur réinitialise les mots de passe."))
    if not user.active:
        raise DomainError(_("Ce compte est désactivé."))
    user.password_hash = None
    end_sessions(user)
    record(
        "user.password_reset",
        user,
        user=by,
        summary=N_("Mot de passe de %(email)s réinitialisé, lien envoyé", email=user.email),
    )
    return _reset_serializer().dumps({"u": user.id, "f": _reset_fingerprint(user)})


def password_reset_user(token: str) -> User:
    """The user a reset link is for, without using it. Raises :class:`InvalidLink`."""
    max_age = int(current_app.config["PASSWORD_RESET_MAX_AGE"].total_seconds())
    try:
        data = _reset_serializer().loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise InvalidLink(
            _("Ce lien a expiré : demandez à l'administrateur d'en envoyer un nouveau.")
        ) from exc
    except BadSignature as exc:
        raise InvalidLink(_("Ce lien n'est pas valide.")) from exc
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("f"), str):
        raise InvalidLink(_("Ce lien n'est pas valide."))
    user = db.session.get(User, data["u"])
    if user is None or not user.active:
        raise InvalidLink(_("Ce lien n'est pas valide."))
    if not secrets.compare_digest(_reset_fingerprint(user), data["f"]):
        raise InvalidLink(_("Ce lien a déjà servi ou a été remplacé par un plus récent."))
    return user


def reset_password(token: str, password: str, ip: str | None) -> User:
    """Choose a new password from a reset link; the link then stops working (its fingerprint
    changes with the password). Raises :class:`InvalidLink` or :class:`InvalidValue`."""
    user = password_reset_user(token)
    if not set_password(user, password):
        raise InvalidLink(_("Ce lien a déjà servi ou a été remplacé par un plus récent."))
    record("user.password_changed", user, user=user, summary=N_("Mot de passe choisi par lien"), ip=ip)
    return user
