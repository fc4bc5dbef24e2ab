"""What the PostgreSQL concurrency tests share: a scratch database on the ``TEST_DATABASE_URL``
server, and OS processes started together behind a barrier; and the probes that tell, from another
connection, whether a request holds a lock (SQLite's write lock, PostgreSQL rows).

The processes cannot share the rolled-back transaction of the other tests, so each such test works
on a database of its own (migrated and prepared by the test), dropped at the end. The processes come
from a fork server: a fresh interpreter (no engine, no thread inherited from pytest) that imports
``preload`` once, then forks each worker from there.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from app.config import normalise_database_url


@contextmanager
def scratch_database(purpose: str) -> Iterator[str]:
    """A database ``<test db>_<purpose>_<pid>`` on the ``TEST_DATABASE_URL`` server, empty; its URL.
    Dropped at the end, whatever happens."""
    server = sa.engine.make_url(normalise_database_url(os.environ["TEST_DATABASE_URL"]))
    name = f"{server.database}_{purpose}_{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_together(
    target: Callable,
    args: Callable[[int, object, object], tuple],
    *,
    workers: int,
    preload: list[str],
    deadline: float,
    name: str = "worker",
) -> list[dict]:
    """Start ``workers`` processes running ``target(*args(index, barrier, results))`` (each waits on
    ``barrier`` and puts one outcome dict on ``results``); their outcomes, in the order they came.

    Fails the test when a process does not answer within ``deadline`` seconds, exits non-zero, or
    reports anything in its outcome's ``errors``."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload)
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=target, args=args(index, barrier, results), name=f"{name}-{index}")
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    outcomes: list[dict] = []
    try:
        for _ in processes:
            outcomes.append(results.get(timeout=deadline))
    except queue.Empty:
        pytest.fail(f"only {len(outcomes)} of {workers} processes answered within {deadline} s")
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join()
    assert [p.exitcode for p in processes] == [0] * workers
    assert [error for outcome in outcomes for error in outcome["errors"]] == []
    return outcomes


def sqlite_write_lock_free(path) -> bool | str:
    """True if another connection can take the SQLite file's write lock at once, else the error."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        return str(exc)
    finally:
        conn.close()


def postgres_rows_free(url: str, event_id: int, tables: tuple[str, ...] = ("events",)) -> bool | str:
    """True if another connection can lock, without waiting, the event's row (``events``), its
    quotes (``quotes``) and every number series (``number_series``) among ``tables``, else
    PostgreSQL's error."""
    wheres = {"events": "id = :e", "quotes": "event_id = :e", "number_series": "id > 0 OR :e = 0"}
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in tables:
                conn.execute(
                    sa.text(f"SELECT id FROM {table} WHERE {wheres[table]} FOR UPDATE NOWAIT"),
                    {"e": event_id},
                )
        return True
    except sa.exc.OperationalError as exc:
        return str(exc.orig)
    finally:
        engine.dispose()


@contextmanager
def watching_renders(module, can_write: Callable[[int], bool | str], event_id: int) -> Iterator[list]:
    """While the block runs, every ``module.render_pdf`` call first asks ``can_write(event_id)`` from
    a thread (a connection of its own, as another worker's request would have), then renders. The
    answers are appended to the list yielded."""
    import threading

    seen: list = []
    render = module.render_pdf

    def watched(*args, **kwargs):
        result: list = []
        thread = threading.Thread(target=lambda: result.append(can_write(event_id)))
        thread.start()
        thread.join(timeout=30)
        seen.append(result[0] if result else "no answer")
        return render(*args, **kwargs)

    module.render_pdf = watched
    try:
        yield seen
    finally:
        module.render_pdf = render


def rows_then_dispose(url: str, app, statement: str, event_id: int) -> list:
    """``statement``'s rows (``:e`` bound to ``event_id``) read on a connection of its own, then that
    engine and ``app``'s closed: what a watched issue left in the database."""
    from app.extensions import db

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(statement), {"e": event_id}).all()
    finally:
        engine.dispose()
        with app.app_context():
            db.engine.dispose()
