"""The app refuses to start on a database whose migrations are behind; ``flask db`` still works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.schema import SchemaNotCurrent

ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path, **extra) -> dict:
    return {
        "TESTING": True,
        "SCHEMA_CHECK": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.db'}",
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "REDIS_URL": None,
        **extra,
    }


def migrated(tmp_path, revision: str = "head"):
    app = create_app(config(tmp_path, SCHEMA_CHECK=False))
    with app.app_context():
        upgrade(revision=revision)
        from app.extensions import db

        db.engine.dispose()
    return app


def test_an_empty_database_is_refused_with_the_command_to_run(tmp_path):
    with pytest.raises(SchemaNotCurrent) as refused:
        create_app(config(tmp_path))
    message = str(refused.value)
    assert "La base de données n'est pas à jour (révision aucune migration appliquée, attendue " in message
    assert "lancez « flask db upgrade » avant de démarrer l'application." in message


def test_a_database_one_migration_behind_is_refused(tmp_path):
    app = migrated(tmp_path)
    with app.app_context():
        downgrade(revision="-1")
    with pytest.raises(SchemaNotCurrent, match=r"n'est pas à jour \(révision 0008, attendue "):
        create_app(config(tmp_path))


def test_an_up_to_date_database_starts(tmp_path):
    migrated(tmp_path)
    app = create_app(config(tmp_path))
    assert app.test_client().get("/health").status_code == 200


def test_an_unreachable_database_is_not_a_start_failure(tmp_path):
    app = create_app(config(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'absent' / 'x.db'}"))
    assert app.test_client().get("/health").status_code == 503


def flask(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """The real command line, as an operator types it (FLASK_APP=wsgi:app, no TESTING)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "FLASK_APP": "wsgi:app",
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_flask_db_commands_work_on_an_old_database_and_serving_does_not(tmp_path):
    wsgi = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert wsgi.returncode != 0  # gunicorn wsgi:app would not boot
    assert "lancez « flask db upgrade »" in wsgi.stderr
    current = flask(tmp_path, "db", "current")
    assert current.returncode == 0, current.stderr
    upgraded = flask(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()
