"""``flask backup -o FILE`` and ``flask restore FILE``: the whole database, online, in one file.

- SQLite: the online backup API of :mod:`sqlite3` (a consistent copy while the app keeps serving);
  the file is itself a SQLite database. Restoring copies it back the same way, page by page.
- PostgreSQL: ``pg_dump --format=custom`` through ``DATABASE_URL`` (a consistent snapshot), restored
  by ``pg_restore`` in one transaction into an emptied ``public`` schema. The password goes to the
  tools through ``PGPASSWORD``, never on their command line.

Restore refuses a database that holds any row unless ``--force`` is given (then everything in it is
replaced). Stored documents (the PDFs of quotes and invoices, with their SHA-256) live in the
database, so a backup carries them. After a restore, the schema is the backup's: ``flask db
upgrade`` brings an older backup up to the code.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from app.extensions import db

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(click.ClickException):
    """A refusal with a French message; nothing was written."""


def _url() -> sa.engine.URL:
    return db.engine.url


def _sqlite_path() -> Path:
    database = _url().database
    if not database or database == ":memory:":
        raise BackupError("La base SQLite est en mémoire : il n'y a rien à sauvegarder ni à restaurer.")
    return Path(database)


def _pg_env() -> dict[str, str]:
    """libpq's environment for the tools: host, port, user, password, database."""
    url = _url()
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[name] = str(value)
    return env


def _run(command: list[str]) -> None:
    try:
        # A fixed tool with our own arguments; the connection settings go through the environment.
        result = subprocess.run(command, env=_pg_env(), capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError as exc:
        raise BackupError(
            f"« {command[0]} » est introuvable : installez les outils clients PostgreSQL "
            "(paquet postgresql-client, de la même version majeure que le serveur)."
        ) from exc
    if result.returncode != 0:
        raise BackupError(f"{command[0]} a échoué : {result.stderr.strip()[-2000:]}")


def database_is_empty() -> bool:
    """True when no table of the database holds a row (a new database, or one only migrated)."""
    inspector = sa.inspect(db.engine)
    with db.engine.connect() as connection:
        for table in inspector.get_table_names():
            if table == "alembic_version":
                continue
            if connection.execute(sa.select(sa.literal(1)).select_from(sa.table(table)).limit(1)).first():
                return False
    return True


def backup(target: Path) -> None:
    """Write the whole database to ``target`` (see the module docstring)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partiel")
    partial.unlink(missing_ok=True)
    if _url().get_backend_name() == "sqlite":
        source = sqlite3.connect(f"file:{_sqlite_path()}?mode=ro", uri=True)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
    elif _url().get_backend_name() == "postgresql":
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"])
    else:
        raise BackupError(f"Base non prise en charge : {_url().get_backend_name()}.")
    partial.replace(target)  # never a half-written file under the final name


def _check_sqlite_file(source: Path) -> None:
    connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        if connection.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"La sauvegarde {source} est endommagée (contrôle d'intégrité SQLite).")
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        connection.close()
    if "alembic_version" not in tables:
        raise BackupError(f"{source} n'est pas une sauvegarde de Maillage (aucune table alembic_version).")


def restore(source: Path, *, force: bool = False) -> None:
    """Replace the database with the backup ``source``; refuses a non-empty database unless ``force``."""
    if not source.is_file():
        raise BackupError(f"Fichier introuvable : {source}")
    with source.open("rb") as handle:
        magic = handle.read(16)
    backend = _url().get_backend_name()
    if backend == "sqlite" and not magic.startswith(SQLITE_MAGIC):
        raise BackupError(
            f"{source} n'est pas une sauvegarde SQLite (faite par « flask backup » sur SQLite)."
        )
    if backend == "postgresql" and not magic.startswith(PGDUMP_MAGIC):
        raise BackupError(
            f"{source} n'est pas une sauvegarde PostgreSQL (faite par « flask backup » sur PostgreSQL)."
        )
    if not force and not database_is_empty():
        raise BackupError(
            "La base de données n'est pas vide : la restauration remplacerait tout son contenu. "
            "Relancez avec --force si c'est bien ce que vous voulez."
        )
    db.session.remove()
    db.engine.dispose()
    if backend == "sqlite":
        _check_sqlite_file(source)
        backup_file = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        live = sqlite3.connect(_sqlite_path())
        try:
            backup_file.backup(live)
        finally:
            live.close()
            backup_file.close()
    else:
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        db.engine.dispose()
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={_url().database}",
                str(source),
            ]
        )
    db.engine.dispose()


@click.command("backup")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Fichier de sauvegarde à écrire.",
)
@with_appcontext
def backup_command(output: Path) -> None:
    """Sauvegarder toute la base (documents compris) dans un fichier."""
    backup(output)
    size = output.stat().st_size
    click.echo(f"Sauvegarde écrite : {output} ({size} octets).")


@click.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Remplacer une base qui contient déjà des données.")
@with_appcontext
def restore_command(source: Path, force: bool) -> None:
    """Restaurer une sauvegarde faite par « flask backup »."""
    restore(source, force=force)
    from app.schema import revisions

    current, heads = revisions(current_app._get_current_object())
    click.echo(f"Base restaurée depuis {source}.")
    if current != heads:
        click.echo("La sauvegarde précède la version du code : lancez « flask db upgrade ».")
