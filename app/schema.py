"""The application refuses to start on a database whose migrations are behind (or ahead of) the code.

Serving a request against an old schema fails later and worse (a 500 on the first page that reads a
new column, or a half-written form). So :func:`create_app` compares the database's Alembic revision
with the heads of ``migrations/versions`` and raises :class:`SchemaNotCurrent`, whose message says to
run ``flask db upgrade``, when they differ.

The check runs when the app is built to serve: under gunicorn (``wsgi:app``), ``flask run``, or any
import outside the ``flask`` command line. Other ``flask`` commands (``flask db upgrade`` first of
all, ``flask backup``, ``flask users …``) are left to work. Tests build their app before migrating
it: the check is off when ``TESTING`` is set, unless ``SCHEMA_CHECK`` says otherwise. A database that
cannot be reached at start is only logged: requests then answer 503 (``app.errors``).
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask


class SchemaNotCurrent(RuntimeError):
    """The database's migrations differ from the code's; the message says what to run."""


def should_check(app: Flask) -> bool:
    """Whether :func:`create_app` checks the schema: when serving, not for other ``flask`` commands."""
    enabled = app.config.get("SCHEMA_CHECK")
    if enabled is None:
        enabled = not app.testing
    if not enabled:
        return False
    ctx = click.get_current_context(silent=True)
    return ctx is None or ctx.command.name == "run"


def revisions(app: Flask) -> tuple[set[str], set[str]]:
    """``(the database's revisions, the code's heads)``."""
    from app.extensions import db

    heads = set(ScriptDirectory(app.extensions["migrate"].directory).get_heads())
    with app.app_context(), db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current, heads


def check_schema(app: Flask) -> None:
    """Raise :class:`SchemaNotCurrent` when the database is not at the code's migration heads."""
    try:
        current, heads = revisions(app)
    except sa.exc.OperationalError as exc:
        app.logger.warning("database unreachable at start, schema not checked: %s", exc.orig)
        return
    if current == heads:
        return
    found = ", ".join(sorted(current)) or "aucune migration appliquée"
    raise SchemaNotCurrent(
        f"La base de données n'est pas à jour (révision {found}, attendue {', '.join(sorted(heads))}) : "
        "lancez « flask db upgrade » avant de démarrer l'application."
    )
