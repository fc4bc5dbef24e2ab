"""GET /health: what a load balancer or an orchestrator polls."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db


def test_health_answers_ok_when_the_database_answers(app, client):
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get("/health")
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok", "database": "ok"}
    assert "SELECT 1" in statements  # it asked the database, not only the web process


@pytest.mark.parametrize(
    "url,engine_options",
    [
        pytest.param(
            "postgresql+psycopg://postgres@127.0.0.1:1/none",
            {"connect_args": {"connect_timeout": 2}},
            id="postgresql-closed-port",
        ),
        pytest.param("sqlite:////nonexistent-maillage-dir/no/such/maillage.db", {}, id="sqlite-missing-dir"),
    ],
)
def test_health_answers_503_when_the_database_is_unreachable(tmp_path, url, engine_options):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
            "OUTBOX_DIR": str(tmp_path / "outbox"),
            "MAIL_SERVER": None,
        }
    )
    try:
        response = app.test_client().get("/health")
    finally:
        with app.app_context():
            db.engine.dispose()

    assert response.status_code == 503
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "error", "database": "unreachable"}
