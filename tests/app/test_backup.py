"""``flask backup`` and ``flask restore``: a restored backup has the same totals, the same stored
documents and the same SHA-256s; a non-empty database is only replaced with ``--force``.

Each backend gets databases of its own (SQLite files; on the TEST_DATABASE_URL server, two
databases created and dropped here), loaded with the demo (quotes and invoices with their PDFs).
"""

from __future__ import annotations

import hashlib
import os

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.config import normalise_database_url
from app.extensions import db
from invoicing.models import Invoice, Payment
from offers.models import Quote

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL not set"),
        ],
    ),
]


class Databases:
    """Empty databases for one backend, handed out by name and dropped at the end."""

    def __init__(self, backend: str, tmp_path):
        self.backend, self.tmp_path, self.created = backend, tmp_path, []
        if backend == "postgresql":
            self.server = sa.engine.make_url(normalise_database_url(os.environ["TEST_DATABASE_URL"]))
            self.admin = sa.create_engine(self.server, isolation_level="AUTOCOMMIT")

    def url(self, name: str) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp_path / f'{name}.db'}"
        database = f"{self.server.database}_backup_{name}_{os.getpid()}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
        self.created.append(database)
        return self.server.set(database=database).render_as_string(hide_password=False)

    def drop(self) -> None:
        if self.backend == "postgresql":
            with self.admin.connect() as conn:
                for database in self.created:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            self.admin.dispose()


def make(url: str, tmp_path, name: str):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "SQLALCHEMY_DATABASE_URI": url,
            "OUTBOX_DIR": str(tmp_path / f"outbox-{name}"),
            "MAIL_SERVER": None,
            "REDIS_URL": None,
            "PUBLIC_BASE_URL": "http://localhost",
        }
    )


def fingerprint(app) -> dict:
    """Totals, row counts and every stored document with its SHA-256, read through the models."""
    with app.app_context():
        quotes = db.session.scalars(sa.select(Quote).order_by(Quote.id)).all()
        invoices = db.session.scalars(sa.select(Invoice).order_by(Invoice.id)).all()
        payments = db.session.scalars(sa.select(Payment).order_by(Payment.id)).all()
        documents = [
            (kind, doc.number, doc.pdf_sha256, hashlib.sha256(doc.pdf).hexdigest() if doc.pdf else None)
            for kind, docs in (("quote", quotes), ("invoice", invoices))
            for doc in docs
        ]
        result = {
            "quotes": [
                (q.number, q.version, q.status, q.total_net, q.total_vat, q.total_gross) for q in quotes
            ],
            "invoices": [(i.number, i.total_net, i.total_vat, i.total_gross) for i in invoices],
            "payments": sum((p.amount for p in payments), start=0),
            "documents": documents,
            "rows": {
                table: db.session.scalar(sa.select(sa.func.count()).select_from(sa.table(table)))
                for table in sorted(db.metadata.tables)
            },
        }
        db.session.remove()
        db.engine.dispose()
    return result


@pytest.fixture(scope="module", params=BACKENDS)
def source(request, tmp_path_factory):
    """A database with the demo, its fingerprint and a backup of it."""
    tmp_path = tmp_path_factory.mktemp(f"backup-{request.param}")
    databases = Databases(request.param, tmp_path)
    app = make(databases.url("source"), tmp_path, "source")
    with app.app_context():
        upgrade()
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    backup_file = tmp_path / "sauvegardes" / "maillage.backup"
    result = app.test_cli_runner().invoke(args=["backup", "-o", str(backup_file)])
    assert result.exit_code == 0, result.output
    assert f"Sauvegarde écrite : {backup_file}" in result.output
    yield databases, tmp_path, fingerprint(app), backup_file
    databases.drop()


def test_a_restored_backup_has_the_same_totals_documents_and_hashes(source):
    databases, tmp_path, original, backup_file = source
    assert len(original["documents"]) >= 3 and all(doc[3] for doc in original["documents"])
    assert all(stored == computed for _kind, _number, stored, computed in original["documents"])
    target = make(databases.url("target"), tmp_path, "target")
    result = target.test_cli_runner().invoke(args=["restore", str(backup_file)])
    assert result.exit_code == 0, result.output
    assert f"Base restaurée depuis {backup_file}." in result.output
    assert "flask db upgrade" not in result.output  # the backup is at the code's revision
    assert fingerprint(target) == original


def test_a_non_empty_database_is_replaced_only_with_force(source):
    databases, tmp_path, original, backup_file = source
    target = make(databases.url("busy"), tmp_path, "busy")
    with target.app_context():
        upgrade()
    assert (
        target.test_cli_runner()
        .invoke(
            args=[
                "users",
                "create",
                "--email",
                "a@example.org",
                "--role",
                "admin",
                "--password",
                "une phrase bien longue",
            ]
        )
        .exit_code
        == 0
    )
    refused = target.test_cli_runner().invoke(args=["restore", str(backup_file)])
    assert refused.exit_code != 0
    assert (
        "La base de données n'est pas vide : la restauration remplacerait tout son contenu." in refused.output
    )
    assert "Relancez avec --force" in refused.output
    assert fingerprint(target)["rows"]["users"] == 1  # untouched
    forced = target.test_cli_runner().invoke(args=["restore", "--force", str(backup_file)])
    assert forced.exit_code == 0, forced.output
    assert fingerprint(target) == original


def test_a_file_that_is_not_a_backup_is_refused(source, tmp_path):
    databases, _tmp, _original, _backup = source
    target = make(databases.url("wrong"), tmp_path, "wrong")
    bogus = tmp_path / "pas-une-sauvegarde.backup"
    bogus.write_bytes(b"bonjour")
    result = target.test_cli_runner().invoke(args=["restore", str(bogus)])
    assert result.exit_code != 0
    assert "n'est pas une sauvegarde" in result.output
    missing = target.test_cli_runner().invoke(args=["restore", str(tmp_path / "absent.backup")])
    assert "Fichier introuvable" in missing.output
