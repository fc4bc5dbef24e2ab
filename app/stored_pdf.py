"""A document's PDF stored beside its frozen row, rendered outside the transaction that wrote the row.

Issuing a quote or an invoice commits the frozen row without its PDF: rendering takes a second of
CPU or more, and holding the database's write lock (SQLite) or the number series' row lock
(PostgreSQL) that long made every other writer wait behind it. Then:

- :func:`store_after_commit`, called by the view right after that commit, renders the PDF in a
  read-only transaction (a plain ``BEGIN`` on SQLite: no writer waits) and stores it with its
  SHA-256 in a short transaction of its own; it never waits for a render slot
  (:mod:`app.render_slots`), and a failure is logged, not raised: the document is issued either way.
  On PostgreSQL a detached child process does it, holding the slot (``PDF_RENDER_DETACHED``): the
  worker answers at once instead of waiting a second or more for the render;
- :func:`stored_pdf` is how every reader gets the bytes: the stored ones, or, when none are stored
  yet, rendered now from the same frozen values and stored, waiting up to ``PDF_RENDER_WAIT``
  seconds for a slot, else :class:`~app.render_slots.RenderBusy` (503, a French message). A quote's
  render gives the same bytes every time (WeasyPrint's output is deterministic for a given HTML); an
  invoice's differs only in the metadata dates the ``factur-x`` library stamps at embedding.

A row's PDF is written once: the UPDATE only applies ``WHERE pdf IS NULL``, so two requests
rendering the same missing PDF store the first bytes and return them both.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value

from app.db import may_write, read_only, write_lock
from app.extensions import db
from app.pdf import RenderTimeout, render_settings, run_detached, sha256
from app.render_slots import RenderBusy, render_slot, take_slot

log = logging.getLogger(__name__)


def stored_pdf(row, render: Callable[[object], bytes], busy_message: str) -> bytes:
    """``row``'s stored PDF; when there is none yet, ``render(row)`` now, stored and returned.

    In a transaction that may write (a POST, the CLI) the bytes are stored with it (its owner
    commits); in a read-only one (a GET, :func:`~app.db.read_only`) at once in a short transaction
    of their own. Raises :class:`RenderBusy` with ``busy_message`` when no render slot freed within
    ``PDF_RENDER_WAIT`` seconds or the render was killed after ``PDF_RENDER_TIMEOUT`` seconds."""
    if row.pdf is not None:
        return row.pdf
    try:
        pdf = render_and_store(row, render, wait=current_app.config["PDF_RENDER_WAIT"])
    except RenderTimeout:
        log.warning("%s %s: PDF render timed out", type(row).__name__, row.id, exc_info=True)
        pdf = None
    if pdf is None:
        raise RenderBusy(busy_message)
    return pdf


#: Seconds of rendering after a commit before the rest is left to the first reads: a sync worker
#: rendering them stays busy (and under gunicorn's 60 s timeout), even after the response; a
#: detached child holds the render slot as long.
AFTER_COMMIT_BUDGET = 20.0


def store_after_commit(model, row_ids: list[int], render: Callable[[object], bytes]) -> int:
    """Right after the issuing commit (the session outside a transaction): render and store the
    PDFs of ``model``'s rows ``row_ids`` that have none, each in a read-only transaction, stored in
    a short one, within ``AFTER_COMMIT_BUDGET`` seconds; what is left (every render slot busy, the
    budget spent, a failed render: logged) is rendered at its first read.

    With ``PDF_RENDER_DETACHED`` (the default, where renders run in a nicer child), a detached
    child does it (:func:`app.pdf.run_detached`) holding the render slot taken here: the worker
    answers at once instead of waiting for the renders, and serves pages meanwhile. Without a free
    slot nothing is started. Returns how many PDFs were stored by this process (0 when detached)."""
    if _detachable():
        fd = take_slot()
        if fd is None:
            return 0
        try:
            seconds = AFTER_COMMIT_BUDGET + current_app.config["PDF_RENDER_TIMEOUT"] + 5
            if run_detached(_store_each, model, list(row_ids), render, True, seconds=seconds):
                return 0
        finally:
            os.close(fd)  # the child holds the slot now (or nobody: the render happens here)
    return _store_each(model, row_ids, render, False)


def _detachable() -> bool:
    """Whether renders after a commit go to a detached child: ``PDF_RENDER_DETACHED``, renders in a
    child already (``PDF_RENDER_NICENESS`` above 0), ``fork``, and PostgreSQL.

    Never on SQLite: the library keeps, per process, which locks it holds on each file, and a
    forked child inherits that record without the locks themselves (POSIX locks are not inherited).
    If another thread of the worker (the threaded development server) is inside a transaction at the
    fork, the child's own connection to the file believes it holds a lock it does not, and may read
    or write unprotected (SQLite's documentation warns against carrying an open connection across
    ``fork``; this would carry its lock records). There the worker renders after the commit as
    before."""
    config = current_app.config
    if not config.get("PDF_RENDER_DETACHED") or not hasattr(os, "fork") or render_settings()[0] <= 0:
        return False
    return db.engine.url.get_backend_name() == "postgresql"


def _store_each(model, row_ids: list[int], render: Callable[[object], bytes], slot_held: bool) -> int:
    """:func:`store_after_commit`'s loop: each row's PDF rendered in a read-only transaction and
    stored, until the budget is spent; with ``slot_held`` (a detached child) in the slot this
    process holds, else each in a slot of its own, stopping at the first not free at once."""
    stored = 0
    deadline = time.monotonic() + AFTER_COMMIT_BUDGET
    for row_id in row_ids:
        if time.monotonic() > deadline:
            log.info("%s PDFs left to their first read after %s s", model.__name__, AFTER_COMMIT_BUDGET)
            break
        try:
            with read_only(db.session):
                row = db.session.get(model, row_id)
                if row is None or row.pdf is not None:
                    continue
                if slot_held:
                    pdf = _store(row, render(row))
                else:
                    pdf = render_and_store(row, render, wait=0)
        except Exception:
            log.exception(
                "PDF of %s %s not rendered after issuing: it will be at its first read",
                model.__name__,
                row_id,
            )
            continue
        if pdf is None:  # every slot busy: the others wait for their first read too
            break
        stored += 1
    return stored


def render_and_store(row, render: Callable[[object], bytes], *, wait: float) -> bytes | None:
    """Render ``row``'s PDF in a render slot (None when none freed within ``wait`` seconds) and
    store it unless another request stored it meanwhile (then those bytes are returned)."""
    with render_slot(wait) as free:
        if not free:
            return None
        pdf = render(row)
    return _store(row, pdf)


def _store(row, pdf: bytes) -> bytes:
    """Store ``pdf`` as ``row``'s unless another request stored one meanwhile (then those bytes are
    returned): with the session's transaction when it may write, else in a short one of its own."""
    digest = sha256(pdf)
    if may_write(db.session.connection()):
        row.pdf, row.pdf_sha256 = pdf, digest
        db.session.flush()
        return pdf
    table = type(row).__table__
    with write_lock(True), db.engine.begin() as connection:
        stored = connection.execute(
            sa.update(table)
            .where(table.c.id == row.id, table.c.pdf.is_(None))
            .values(pdf=pdf, pdf_sha256=digest)
        ).rowcount
        if not stored:
            pdf, digest = connection.execute(
                sa.select(table.c.pdf, table.c.pdf_sha256).where(table.c.id == row.id)
            ).one()
    set_committed_value(row, "pdf", pdf)
    set_committed_value(row, "pdf_sha256", digest)
    return pdf
