"""The mail outbox, against a real SMTP server on loopback (aiosmtpd) and real .eml files."""

from __future__ import annotations

import email
import logging
import socket
import sqlite3
from contextlib import closing
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from app.db import utcnow
from app.errors import DomainError
from app.extensions import db
from app.mail import deliver, deliver_pending, queue_message, retry_delay
from app.models import OutboxAttachment, OutboxMessage, OutboxStatus
from tests.conftest import make_app

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SUBJECT = "Devis DEV-2026-0007 — Assises de la Politique de la Ville"


# --- a real SMTP server on 127.0.0.1 ----------------------------------------------------------------


class Collector:
    """aiosmtpd handler keeping every envelope it accepts."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class RefusesRecipients(Collector):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 Mailbox unavailable"


class RefusesOneRecipient(Collector):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == "inconnu@example.org":
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """A loopback SMTP server whose port is known before it starts (so it can be "down" first)."""

    def __init__(self, handler=None):
        self.handler = handler or Collector()
        self.port = free_port()
        self.controller = None

    @property
    def envelopes(self):
        return self.handler.envelopes

    def start(self):
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_down(app, monkeypatch):
    """MAIL_SERVER points at a free port where nothing listens yet; ``.start()`` brings it up."""
    server = SmtpServer()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", server.port)
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 5)
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_down):
    smtp_down.start()
    return smtp_down


@pytest.fixture
def outbox_dir(app, monkeypatch, tmp_path):
    directory = tmp_path / "outbox"
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    monkeypatch.setitem(app.config, "OUTBOX_DIR", str(directory))
    return directory


def outbox_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))


def queue(**kw) -> OutboxMessage:
    values = {"to": ["camille@example.org"], "subject": SUBJECT, "body_text": "Bonjour,\nvoici le devis."}
    values.update(kw)
    return queue_message(**values)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


# --- queueing ---------------------------------------------------------------------------------------


def test_message_is_stored_before_anything_is_sent(app, smtp):
    message = queue(
        to=["Camille@Example.org", "treso@example.org"], attachments=[("devis.pdf", "application/pdf", PDF)]
    )

    stored = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.id == message.id))
    assert stored.status == OutboxStatus.PENDING
    assert stored.attempts == 0
    assert stored.recipients == "Camille@example.org, treso@example.org"
    assert stored.sender == "Maillage <no-reply@maillage.example.org>"
    assert stored.message_id.startswith("<") and stored.message_id.endswith("@maillage.example.org>")
    assert [(a.filename, a.mimetype, a.data) for a in stored.attachments] == [
        ("devis.pdf", "application/pdf", PDF)
    ]
    assert smtp.envelopes == []  # not before the transaction commits

    db.session.commit()  # the request's commit: the message goes out right after it

    assert len(smtp.envelopes) == 1
    assert db.session.get(OutboxMessage, message.id).status == OutboxStatus.SENT


def test_smtp_delivery_sends_the_exact_message(app, smtp):
    message = queue(
        to=["camille@example.org", "treso@example.org"],
        body_text="Bonjour Camille,\nle devis est joint : 1 234,56 €.",
        body_html="<p>Bonjour Camille,</p><p>le devis est joint : 1 234,56 €.</p>",
        attachments=[
            ("DEV-2026-0007.pdf", "application/pdf", PDF),
            ("lignes.csv", "text/csv", b"a;b\r\n1;2\r\n"),
        ],
    )

    assert deliver_pending() == (1, 0)

    [envelope] = smtp.envelopes
    assert envelope.mail_from == "no-reply@maillage.example.org"
    assert envelope.rcpt_tos == ["camille@example.org", "treso@example.org"]
    received = parse(envelope.content)
    assert received["Subject"] == SUBJECT
    assert received["To"] == "camille@example.org, treso@example.org"
    assert received["Message-ID"] == message.message_id
    text = received.get_body(("plain",)).get_content().replace("\r\n", "\n")  # SMTP speaks CRLF
    assert text == "Bonjour Camille,\nle devis est joint : 1 234,56 €.\n"
    assert "1 234,56 €" in received.get_body(("html",)).get_content()
    attachments = [
        (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        for part in received.iter_attachments()
    ]
    assert attachments == [
        ("DEV-2026-0007.pdf", "application/pdf", PDF),
        ("lignes.csv", "text/csv", b"a;b\r\n1;2\r\n"),
    ]
    assert (message.status, message.attempts, message.last_error) == (OutboxStatus.SENT, 1, None)
    assert message.sent_at is not None
    assert deliver_pending() == (0, 0)  # never twice
    assert len(smtp.envelopes) == 1


def test_without_mail_server_an_eml_file_is_written_and_logged(app, outbox_dir, caplog):
    message = queue(to="client@example.org", attachments=[("facture.pdf", "application/pdf", PDF)])
    assert not outbox_dir.exists()

    with caplog.at_level(logging.INFO, logger="app.mail"):
        assert deliver(message) is True

    path = outbox_dir / f"{message.id}-devis-dev-2026-0007-assises-de-la-politique-de-la-ville.eml"
    assert message.file_path == str(path)
    assert sorted(outbox_dir.iterdir()) == [path]
    written = parse(path.read_bytes())
    assert written["Subject"] == SUBJECT
    assert written["To"] == "client@example.org"
    assert written["Message-ID"] == message.message_id
    assert written.get_body(("plain",)).get_content() == "Bonjour,\nvoici le devis.\n"
    [attachment] = written.iter_attachments()
    assert (attachment.get_filename(), attachment.get_payload(decode=True)) == ("facture.pdf", PDF)
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 1)
    assert "client@example.org" in caplog.text and SUBJECT in caplog.text


def test_eml_files_never_overwrite_each_other(app, outbox_dir):
    message = queue(subject="Été !")
    outbox_dir.mkdir()
    taken = outbox_dir / f"{message.id}-ete.eml"
    taken.write_bytes(b"another message")

    deliver(message)

    assert message.file_path == str(outbox_dir / f"{message.id}-ete-2.eml")
    assert taken.read_bytes() == b"another message"


# --- failures and retries -----------------------------------------------------------------------------


def test_failure_is_kept_and_flask_outbox_send_delivers_it_later(app, smtp_down, runner):
    message = queue()
    now = utcnow()

    assert deliver_pending(now=now) == (0, 1)

    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1
    assert "ConnectionRefusedError" in message.last_error
    assert message.next_attempt_at == now + timedelta(minutes=1)

    smtp_down.start()
    result = runner.invoke(args=["outbox", "send"])  # not due yet: backoff
    assert result.exit_code == 0, result.output
    assert result.output == "0 message(s) envoyé(s), 0 en échec.\n"
    assert smtp_down.envelopes == []

    message.next_attempt_at = utcnow() - timedelta(seconds=1)  # a minute later
    db.session.flush()
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    assert result.output == "1 message(s) envoyé(s), 0 en échec.\n"

    [envelope] = smtp_down.envelopes
    assert parse(envelope.content)["Message-ID"] == message.message_id  # the same message, retried
    message = db.session.get(OutboxMessage, message.id)
    assert (message.status, message.attempts, message.last_error) == (OutboxStatus.SENT, 2, None)


def test_after_max_attempts_the_message_fails_and_send_all_retries_it(app, smtp_down, runner, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 2)
    message = queue()
    t0 = utcnow()

    assert deliver_pending(now=t0) == (0, 1)
    assert deliver_pending(now=t0 + timedelta(seconds=59)) == (0, 0)  # backing off
    assert deliver_pending(now=t0 + timedelta(minutes=1)) == (0, 1)
    assert (message.status, message.attempts, message.next_attempt_at) == (OutboxStatus.FAILED, 2, None)
    assert deliver_pending(now=t0 + timedelta(days=30)) == (0, 0)  # given up: only by hand

    smtp_down.start()
    assert runner.invoke(args=["outbox", "send"]).output == "0 message(s) envoyé(s), 0 en échec.\n"
    result = runner.invoke(args=["outbox", "send", "--all"])
    assert result.exit_code == 0, result.output
    assert result.output == "1 message(s) envoyé(s), 0 en échec.\n"
    assert len(smtp_down.envelopes) == 1
    message = db.session.get(OutboxMessage, message.id)
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 3)


def test_send_all_counts_messages_still_failing(app, smtp_down, runner, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 1)
    message = queue()
    assert deliver_pending() == (0, 1)
    assert message.status == OutboxStatus.FAILED

    result = runner.invoke(args=["outbox", "send", "--all"])

    assert result.output == "0 message(s) envoyé(s), 1 en échec.\n"
    message = db.session.get(OutboxMessage, message.id)
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 2)


@pytest.mark.parametrize(
    "attempts,delay",
    [
        (1, timedelta(minutes=1)),
        (2, timedelta(minutes=2)),
        (3, timedelta(minutes=4)),
        (7, timedelta(minutes=64)),
        (9, timedelta(minutes=256)),
        (10, timedelta(hours=6)),
        (40, timedelta(hours=6)),
    ],
)
def test_retry_delay_doubles_up_to_six_hours(attempts, delay):
    assert retry_delay(attempts) == delay


def test_recipient_refused_for_good_fails_at_once(app, smtp_down):
    smtp_down.handler = RefusesRecipients()
    smtp_down.start()
    message = queue()

    assert deliver_pending() == (0, 1)

    assert (message.status, message.attempts, message.next_attempt_at) == (OutboxStatus.FAILED, 1, None)
    assert "550" in message.last_error
    assert smtp_down.envelopes == []


def test_a_partly_refused_message_is_sent_to_the_others_and_says_so(app, smtp_down):
    smtp_down.handler = RefusesOneRecipient()
    smtp_down.start()
    message = queue(to=["camille@example.org", "inconnu@example.org"])

    assert deliver_pending() == (1, 0)

    [envelope] = smtp_down.envelopes
    assert envelope.rcpt_tos == ["camille@example.org"]
    assert message.status == OutboxStatus.SENT
    assert message.last_error == "Refusé par le serveur : inconnu@example.org: 550 5.1.1 Mailbox unavailable"


def test_a_failing_delivery_after_commit_does_not_break_the_commit(app, smtp_down):
    message = queue()

    db.session.commit()  # must not raise although nothing listens

    message = db.session.get(OutboxMessage, message.id)
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert "ConnectionRefusedError" in message.last_error


# --- transactions ---------------------------------------------------------------------------------------


def test_a_rolled_back_transaction_sends_and_keeps_nothing(app, smtp):
    queue(attachments=[("devis.pdf", "application/pdf", PDF)])

    db.session.rollback()
    db.session.commit()  # a later, unrelated commit does not resurrect it

    assert outbox_count() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxAttachment)) == 0
    assert smtp.envelopes == []


def test_a_savepoint_is_not_the_commit(app, smtp):
    with db.session.begin_nested():
        message = queue()
    assert smtp.envelopes == []  # released savepoint: the outer transaction may still roll back

    db.session.commit()

    assert len(smtp.envelopes) == 1
    assert db.session.get(OutboxMessage, message.id).status == OutboxStatus.SENT


# --- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["pas-une-adresse", "jean@", "jean@@example.org", "jean dupont@example.org"]
)
def test_an_invalid_address_is_refused_and_nothing_is_stored(app, smtp, address):
    with pytest.raises(DomainError) as raised:
        queue(to=["camille@example.org", address])

    assert raised.value.message == f"Adresse e-mail invalide : « {address} »."
    assert outbox_count() == 0
    db.session.commit()
    assert smtp.envelopes == []


def test_a_message_without_recipient_is_refused(app):
    with pytest.raises(DomainError) as raised:
        queue(to=[])
    assert raised.value.message == "Ce message n'a aucun destinataire."
    assert outbox_count() == 0


def test_a_subject_cannot_inject_headers(app, outbox_dir):
    message = queue(subject="Devis\r\nBcc: pirate@example.org")
    deliver(message)
    written = parse(Path(message.file_path).read_bytes())
    assert written["Subject"] == "Devis Bcc: pirate@example.org"
    assert written["Bcc"] is None


# --- flask outbox list ----------------------------------------------------------------------------------


def test_outbox_list_shows_one_line_per_message(app, outbox_dir, runner):
    first = queue(subject="Premier")
    second = queue(to=["a@example.org", "b@example.org"], subject="Second")
    deliver(first)

    result = runner.invoke(args=["outbox", "list"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{first.id}\tsent\t1\tcamille@example.org\tPremier",
        f"{second.id}\tpending\t0\ta@example.org, b@example.org\tSecond",
    ]
    result = runner.invoke(args=["outbox", "list", "--status", "pending"])
    assert result.output.splitlines() == [f"{second.id}\tpending\t0\ta@example.org, b@example.org\tSecond"]


# --- the after-commit path in an app whose commits are real -------------------------------------------


@pytest.fixture(scope="module")
def real_app(tmp_path_factory):
    """SQLite app outside the rolled-back test transaction: commits really commit."""
    app = make_app("sqlite", tmp_path_factory)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def real_ctx(real_app, monkeypatch, tmp_path):
    monkeypatch.setitem(real_app.config, "OUTBOX_DIR", str(tmp_path / "outbox"))
    with real_app.app_context():
        yield real_app
        db.session.rollback()
        db.session.execute(sa.delete(OutboxMessage))
        db.session.commit()


@pytest.fixture
def real_smtp(real_app, monkeypatch):
    server = SmtpServer()
    monkeypatch.setitem(real_app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(real_app.config, "MAIL_PORT", server.port)
    yield server
    server.stop()


def committed_rows(app) -> list[tuple]:
    """What another connection sees: only committed data.

    A plain sqlite3 reader: SQLAlchemy's connections here start with BEGIN IMMEDIATE (see app.db) and
    would wait for the writer; a WAL reader does not.
    """
    with app.app_context():
        path = db.engine.url.database
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(
            "SELECT id, status, attempts, last_error FROM outbox_messages ORDER BY id"
        ).fetchall()


def test_real_commit_sends_by_smtp_right_after_it(real_ctx, real_smtp):
    real_smtp.start()
    message = queue()
    message_id = message.id
    assert committed_rows(real_ctx) == []
    assert real_smtp.envelopes == []

    db.session.commit()

    assert len(real_smtp.envelopes) == 1
    assert parse(real_smtp.envelopes[0].content)["Subject"] == SUBJECT
    assert committed_rows(real_ctx) == [(message_id, "sent", 1, None)]


def test_real_commit_writes_the_eml_file_without_mail_server(real_ctx):
    message = queue(subject="Relevé")
    db.session.commit()

    [path] = Path(real_ctx.config["OUTBOX_DIR"]).iterdir()
    assert path.name == f"{message.id}-releve.eml"
    assert parse(path.read_bytes())["Subject"] == "Relevé"
    assert db.session.get(OutboxMessage, message.id).file_path == str(path)


def test_real_rollback_sends_and_stores_nothing(real_ctx, real_smtp):
    real_smtp.start()
    queue()
    db.session.rollback()
    db.session.commit()

    assert committed_rows(real_ctx) == []
    assert real_smtp.envelopes == []


def test_real_commit_survives_a_dead_smtp_server_and_the_cli_sends_later(real_ctx, real_smtp):
    message = queue()
    message_id = message.id
    db.session.commit()  # nothing listens: recorded, not raised

    [(row_id, status, attempts, last_error)] = committed_rows(real_ctx)
    assert (row_id, status, attempts) == (message_id, "pending", 1)
    assert "ConnectionRefusedError" in last_error

    real_smtp.start()
    db.session.get(OutboxMessage, message_id).next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    result = real_ctx.test_cli_runner().invoke(args=["outbox", "send"])

    assert result.output == "1 message(s) envoyé(s), 0 en échec.\n"
    assert len(real_smtp.envelopes) == 1
    assert committed_rows(real_ctx) == [(message_id, "sent", 2, None)]
