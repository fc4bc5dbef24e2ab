"""Migrations: an empty database goes to head and back on SQLite and PostgreSQL, without drift.

These tests build their own app on their own database (a fresh SQLite file; on PostgreSQL a
dedicated database, ``maillage_migrations``, on the TEST_DATABASE_URL server), so they never touch
the ``public`` schema that the session-scoped ``app`` fixture of the main suite lives in.
"""

from __future__ import annotations

import logging
import os
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from app.config import normalise_database_url
from app.extensions import db
from app.extensions import migrate as migrate_extension

MIGRATIONS_DATABASE = "maillage_migrations"

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


def _postgres_url() -> str:
    """The dedicated database on the TEST_DATABASE_URL server, created if missing, emptied."""
    server_url = sa.engine.make_url(normalise_database_url(os.environ["TEST_DATABASE_URL"]))
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": MIGRATIONS_DATABASE}
            ).scalar()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{MIGRATIONS_DATABASE}"'))
    finally:
        admin.dispose()
    url = server_url.set(database=MIGRATIONS_DATABASE)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
def empty_app(request, tmp_path):
    """An app on an empty database of its own (not the suite's session app)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrations.db'}"
    else:
        url = _postgres_url()
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "SQLALCHEMY_DATABASE_URI": url,
            "OUTBOX_DIR": str(tmp_path / "outbox"),
            "MAIL_SERVER": None,
            "REDIS_URL": None,
        }
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _keep_logging():
    """env.py runs ``fileConfig`` on every command; put the root handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def cli(empty_app, monkeypatch):
    """``flask …`` through the app's CLI runner, with Alembic's messages in the captured output.

    Alembic's ``Config.stdout`` defaults to the ``sys.stdout`` of import time, which the runner
    does not capture: point it at the runner's stream when the command builds its config.
    """

    def to_current_stdout(config):
        config.stdout = sys.stdout
        return config

    monkeypatch.setattr(
        migrate_extension, "configure_callbacks", [*migrate_extension.configure_callbacks, to_current_stdout]
    )
    runner = empty_app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(args=list(args))

    return invoke


def table_names() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def model_tables() -> set[str]:
    return set(db.metadata.tables)


def test_upgrade_to_head_check_downgrade_to_base_and_upgrade_again(empty_app, cli):
    # The metadata holds the models of every package (create_app imports them).
    assert {"users", "categories", "organisations", "events", "lots", "lines", "quotes", "invoices"} <= (
        model_tables()
    )
    assert table_names() == set()

    upgrade()
    assert table_names() == model_tables() | {"alembic_version"}

    result = cli("db", "check")
    assert result.exit_code == 0, result.output
    assert "No new upgrade operations detected." in result.output

    downgrade(revision="base")
    assert table_names() == {"alembic_version"}
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar_one() == 0
    if db.engine.dialect.name == "postgresql":
        inspector = sa.inspect(db.engine)
        assert inspector.get_enums() == []
        assert inspector.get_sequence_names() == []

    upgrade()
    assert table_names() == model_tables() | {"alembic_version"}
    result = cli("db", "check")
    assert result.exit_code == 0, result.output
    assert "No new upgrade operations detected." in result.output


def test_models_and_migrations_do_not_drift(empty_app):
    upgrade()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": False,
                "render_as_batch": conn.dialect.name == "sqlite",
            },
        )
        assert compare_metadata(context, db.metadata) == []


def test_check_fails_when_the_database_and_the_models_differ(empty_app, cli):
    upgrade()
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE stray_table (id INTEGER PRIMARY KEY)"))

    result = cli("db", "check")
    assert result.exit_code == 1
    assert "New upgrade operations detected" in result.output
    assert "stray_table" in result.output

    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert [(diff[0], diff[1].name) for diff in diffs] == [("remove_table", "stray_table")]
