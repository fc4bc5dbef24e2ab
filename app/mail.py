"""The mail outbox: every message is stored first, then sent (or written to a file), and retried.

Life of a message
-----------------
1. :func:`queue_message` validates the recipients, fixes the Message-ID, adds the message and its
   attachments to the session and flushes. It never commits: the message belongs to the caller's
   transaction, so an action that rolls back sends nothing and leaves nothing behind.
2. When that transaction commits, a hook on the session tries to deliver the message at once, in a
   separate session on the same database. A failure there never reaches the request: it is recorded
   on the message (``attempts``, ``last_error``, ``next_attempt_at`` with exponential backoff).
3. ``flask outbox send`` (run it from cron every minute, or keep ``flask outbox send --loop`` running
   as a worker process) delivers whatever is due; ``--all`` also retries the messages given up after
   ``MAIL_MAX_ATTEMPTS``. Nothing is ever deleted.

Delivery means SMTP when ``MAIL_SERVER`` is set; otherwise the message is written to
``OUTBOX_DIR/<id>-<slug>.eml`` and logged, which is what development and the demo use.

Guarantees and their limits:

- At least once, not exactly once: a crash between the SMTP server's "250 OK" and the commit that
  records it sends the message again on the next run, with the same Message-ID (receivers can
  deduplicate). Each message's result is committed as soon as it is known to keep that window short.
- Concurrent senders (several workers, a cron) take each due row with ``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, so a message is not sent twice by two of them; on SQLite every transaction already
  holds the write lock (``BEGIN IMMEDIATE``, see :mod:`app.db`), which also means that a write waits
  while one message is being handed to the SMTP server (bounded by ``MAIL_TIMEOUT``).
- The immediate attempt runs inside the committing request, so a slow SMTP server slows that
  response down (at most ``MAIL_TIMEOUT`` per message); a refused connection costs nothing.
- A recipient refused with a permanent (5xx) SMTP reply is not retried automatically: the message
  becomes ``failed`` at once and ``flask outbox send --all`` retries it once the address is fixed.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import smtplib
import ssl
import threading
import unicodedata
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

import click
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask.cli import AppGroup
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, object_session

from app.db import utcnow
from app.errors import DomainError
from app.extensions import db
from app.models import OutboxAttachment, OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

#: Delay before the first retry; each further failure doubles it, up to RETRY_CAP.
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=6)

_SUBJECT_MAX = 300  # OutboxMessage.subject
_ERROR_MAX = 2000
# Keys in Session.info: the ids to deliver once the session's transaction commits, the app they
# were queued in, and whether the session's hooks are installed.
_PENDING_KEY = "maillage.outbox.pending"
_APP_KEY = "maillage.outbox.app"
_HOOKED_KEY = "maillage.outbox.hooked"


# --- queueing -------------------------------------------------------------------------------------


def queue_message(
    *,
    to: Iterable[str] | str,
    subject: str,
    body_text: str,
    body_html: str | None = None,
    attachments: Iterable[tuple[str, str, bytes]] = (),
) -> OutboxMessage:
    """Store a message in the current transaction; it is delivered once that transaction commits.

    ``attachments`` are ``(filename, mimetype, data)`` tuples. Only flushes: the caller commits.

    Raises :class:`~app.errors.DomainError` (French message) when there is no recipient or an
    address is invalid; nothing is stored then.
    """
    recipients = _valid_recipients(to)
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    message = OutboxMessage(
        created_at=utcnow(),
        sender=sender,
        recipients=", ".join(recipients),
        subject=_one_line(subject)[:_SUBJECT_MAX],
        body_text=body_text,
        body_html=body_html,
        message_id=make_msgid(domain=_domain_of(sender)),
        status=OutboxStatus.PENDING,
        attempts=0,
    )
    for filename, mimetype, data in attachments:
        message.attachments.append(
            OutboxAttachment(filename=Path(filename).name, mimetype=mimetype, data=bytes(data))
        )
    session = db.session()
    session.add(message)
    session.flush()
    _deliver_after_commit(session, message.id)
    return message


def _valid_recipients(to: Iterable[str] | str) -> list[str]:
    if isinstance(to, str):
        to = [to]
    recipients: list[str] = []
    for raw in to:
        address = (raw or "").strip()
        try:
            normalized = validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise DomainError(_("Adresse e-mail invalide : « %(address)s ».", address=address)) from exc
        if normalized.lower() not in (r.lower() for r in recipients):
            recipients.append(normalized)
    if not recipients:
        raise DomainError(_("Ce message n'a aucun destinataire."))
    return recipients


def _one_line(text: str) -> str:
    """Headers are one line: collapse every run of whitespace (no header injection)."""
    return " ".join(str(text).split())


def _domain_of(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "maillage.invalid"


# --- after-commit delivery ------------------------------------------------------------------------


def _deliver_after_commit(session: Session, message_id: int) -> None:
    """Remember ``message_id`` on the session; deliver it when the session's transaction commits."""
    session.info.setdefault(_PENDING_KEY, []).append(message_id)
    session.info[_APP_KEY] = current_app._get_current_object()
    if not session.info.get(_HOOKED_KEY):
        event.listen(session, "after_commit", _on_commit)
        event.listen(session, "after_transaction_end", _on_transaction_end)
        session.info[_HOOKED_KEY] = True


def _on_commit(session: Session) -> None:
    # after_commit also fires when a SAVEPOINT (begin_nested) is released: wait for the real commit.
    if session.get_nested_transaction() is not None:
        return
    ids = session.info.pop(_PENDING_KEY, None)
    app = session.info.get(_APP_KEY)
    if not ids or app is None:
        return
    try:
        # A session joined to an outer connection (tests, or a caller's own transaction) must keep
        # using that connection: a second one would not see the rows, or would wait for its lock.
        bind = session.bind if isinstance(session.bind, Connection) else session.get_bind()
        _deliver_ids(app.config, bind, ids)
    except Exception:
        logger.exception("Outbox: immediate delivery of %s failed; `flask outbox send` will retry.", ids)


def _on_transaction_end(session: Session, transaction) -> None:
    # Rolled back (or committed and already handled): whatever was queued is forgotten.
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


def _deliver_ids(config, bind, ids: list[int]) -> None:
    options = {"join_transaction_mode": "create_savepoint"} if isinstance(bind, Connection) else {}
    with Session(bind=bind, **options) as worker:
        for message_id in ids:
            now = utcnow()
            message = _claim(worker, message_id, now, include_failed=False)
            if message is not None:
                _deliver(message, config, now)
            worker.commit()


# --- delivery -------------------------------------------------------------------------------------


def _due(now: datetime, include_failed: bool):
    due = sa.and_(
        OutboxMessage.status == OutboxStatus.PENDING,
        sa.or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
    )
    if include_failed:
        due = sa.or_(due, OutboxMessage.status == OutboxStatus.FAILED)
    return due


def _claim(session: Session, message_id: int, now: datetime, include_failed: bool) -> OutboxMessage | None:
    """The message if it is (still) due and no other sender holds it, locked until the next commit."""
    return session.scalar(
        sa.select(OutboxMessage)
        .where(OutboxMessage.id == message_id, _due(now, include_failed))
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )


def deliver_pending(
    now: datetime | None = None,
    include_failed: bool = False,
    *,
    after_each: Callable[[], None] | None = None,
) -> tuple[int, int]:
    """Deliver every pending message that is due at ``now`` (and failed ones with ``include_failed``).

    Returns ``(sent, failed)``, counting this run's attempts. Only flushes; ``after_each`` is called
    after each message (the CLI passes ``db.session.commit`` to record each result at once).
    Raises nothing for a delivery failure: it is recorded on the message.
    """
    session = db.session
    config = current_app.config
    selection_time = now or utcnow()
    ids = session.scalars(
        sa.select(OutboxMessage.id).where(_due(selection_time, include_failed)).order_by(OutboxMessage.id)
    ).all()
    sent = failed = 0
    for message_id in ids:
        message = _claim(session, message_id, selection_time, include_failed)
        if message is None:  # another sender took it, or it changed meanwhile
            continue
        if _deliver(message, config, now or utcnow()):
            sent += 1
        else:
            failed += 1
        session.flush()
        if after_each is not None:
            after_each()
    return sent, failed


def deliver(message: OutboxMessage, *, now: datetime | None = None) -> bool:
    """Try to deliver ``message`` now, whatever its due time; True if it was sent (or already was).

    Only flushes. A failure is recorded on the message, never raised.
    """
    if message.status == OutboxStatus.SENT:
        return True
    ok = _deliver(message, current_app.config, now or utcnow())
    session = object_session(message)
    if session is not None:
        session.flush()
    return ok


def _deliver(message: OutboxMessage, config, now: datetime) -> bool:
    try:
        if config.get("MAIL_SERVER"):
            refused = _send_smtp(message, config)
        else:
            message.file_path = str(_write_eml(message, config))
            refused = {}
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("Outbox: message %s to %s not sent: %s", message.id, message.recipients, exc)
        _record_failure(message, exc, config, now)
        return False
    except Exception as exc:  # a bug must not lose the message either: record it and go on
        logger.exception("Outbox: message %s to %s not sent", message.id, message.recipients)
        _record_failure(message, exc, config, now)
        return False
    message.attempts += 1
    message.status = OutboxStatus.SENT
    message.sent_at = now
    message.next_attempt_at = None
    message.last_error = _describe_refused(refused) if refused else None
    if config.get("MAIL_SERVER"):
        logger.info("Outbox: message %s sent to %s: %s", message.id, message.recipients, message.subject)
    return True


def _record_failure(message: OutboxMessage, exc: Exception, config, now: datetime) -> None:
    message.attempts += 1
    message.last_error = f"{type(exc).__name__}: {exc}"[:_ERROR_MAX]
    if message.attempts >= int(config.get("MAIL_MAX_ATTEMPTS") or 1) or _is_permanent(exc):
        message.status = OutboxStatus.FAILED
        message.next_attempt_at = None
    else:
        message.status = OutboxStatus.PENDING
        message.next_attempt_at = now + retry_delay(message.attempts)


def retry_delay(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: 1 min, 2, 4, 8… capped at RETRY_CAP."""
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)


def _is_permanent(exc: Exception) -> bool:
    """Every recipient refused with a 5xx reply: retrying the same address will not help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    return False


def _describe_refused(refused: dict) -> str:
    parts = [f"{address}: {code} {_decode(reply)}" for address, (code, reply) in refused.items()]
    return ("Refusé par le serveur : " + "; ".join(parts))[:_ERROR_MAX]


def _decode(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def as_email(message: OutboxMessage) -> EmailMessage:
    """The RFC 5322 message: text body, optional HTML alternative, attachments."""
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = message.sender
    email["To"] = message.recipients
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message.message_id
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    for attachment in message.attachments:
        maintype, _slash, subtype = attachment.mimetype.partition("/")
        if not (maintype and subtype):
            maintype, subtype = "application", "octet-stream"
        email.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return email


def _recipients_of(message: OutboxMessage) -> list[str]:
    return [address.strip() for address in message.recipients.split(",") if address.strip()]


def _send_smtp(message: OutboxMessage, config) -> dict:
    """Hand the message to the SMTP server; returns the recipients it refused (others were accepted)."""
    email = as_email(message)
    use_ssl = bool(config.get("MAIL_USE_SSL"))
    host = config["MAIL_SERVER"]
    port = int(config.get("MAIL_PORT") or (465 if use_ssl else 25))
    timeout = config.get("MAIL_TIMEOUT") or 10
    if use_ssl:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if config.get("MAIL_USE_TLS") and not use_ssl:
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        return smtp.send_message(
            email, from_addr=parseaddr(message.sender)[1], to_addrs=_recipients_of(message)
        )


def _write_eml(message: OutboxMessage, config) -> Path:
    """No SMTP server configured: write ``<OUTBOX_DIR>/<id>-<slug>.eml`` (never over another file)."""
    outbox_dir = config.get("OUTBOX_DIR")
    if not outbox_dir:
        raise RuntimeError("OUTBOX_DIR is not configured")
    directory = Path(outbox_dir)
    directory.mkdir(parents=True, exist_ok=True)
    data = as_email(message).as_bytes()
    stem = f"{message.id}-{_slug(message.subject)}"
    path = directory / f"{stem}.eml"
    counter = 2
    while path.exists():
        path = directory / f"{stem}-{counter}.eml"
        counter += 1
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)
    logger.info(
        "Outbox: message %s to %s (%s) written to %s", message.id, message.recipients, message.subject, path
    )
    return path


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].rstrip("-")
    return slug or "message"


# --- command line ---------------------------------------------------------------------------------

outbox_cli = AppGroup("outbox", help="File d'envoi des e-mails.")


@outbox_cli.command("send")
@click.option(
    "--all", "include_failed", is_flag=True, help="Réessayer aussi les messages abandonnés (en échec)."
)
@click.option(
    "--loop",
    is_flag=True,
    help="Tourner sans fin (processus worker) : un passage toutes les --interval secondes, "
    "arrêt propre sur SIGTERM ou SIGINT.",
)
@click.option(
    "--interval",
    type=click.IntRange(1, 3600),
    default=20,
    show_default=True,
    help="Secondes entre deux passages (avec --loop).",
)
def send_command(include_failed: bool, loop: bool, interval: int) -> None:
    """Envoyer les messages en attente dont l'heure est venue."""
    if not loop:
        refused = _send_once(include_failed)
        if refused:
            raise click.ClickException(refused)
        return
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.is_set():
            try:
                refused = _send_once(include_failed)
            except Exception:
                # One bad pass (database restarting, SMTP down) never stops the worker.
                db.session.rollback()
                logger.exception("Outbox: the pass failed; next one in %s s.", interval)
            else:
                if refused:
                    logger.error("Outbox: login links not answered: %s", refused)
            db.session.remove()
            _pause(stop, interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _pause(stop: threading.Event, seconds: int) -> None:
    """Wait for the next pass, or for the stop signal (a signal ends the wait at once)."""
    stop.wait(seconds)


def _send_once(include_failed: bool) -> str | None:
    """One pass: answer the login-link requests, deliver what is due. The refusal to answer the
    requests (no ``PUBLIC_BASE_URL``), if any."""
    from app.auth.views import answer_login_link_requests
    from app.errors import NotConfigured

    try:
        answer_login_link_requests()
    except NotConfigured as exc:
        # No address for the links: the requests stay pending, what is already queued still goes.
        db.session.rollback()
        refused = exc.message
    else:
        refused = None
    sent, failed = deliver_pending(include_failed=include_failed, after_each=db.session.commit)
    db.session.commit()
    click.echo(_("%(sent)d message(s) envoyé(s), %(failed)d en échec.", sent=sent, failed=failed))
    return refused


@outbox_cli.command("list")
@click.option("--status", type=click.Choice([s.value for s in OutboxStatus]), help="Filtrer par état.")
def list_command(status: str | None) -> None:
    """Lister les messages : numéro, état, tentatives, destinataires, objet."""
    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    if status:
        stmt = stmt.where(OutboxMessage.status == OutboxStatus(status))
    for message in db.session.scalars(stmt):
        click.echo(
            f"{message.id}\t{message.status.value}\t{message.attempts}\t{message.recipients}\t{message.subject}"
        )
