"""A document's PDF stored beside its frozen row, rendered outside the transaction that wrote the row.

Issuing a quote or an invoice commits the frozen row without its PDF: rendering takes a second of
CPU or more, and holding the database's write lock (SQLite) or the number series' row lock
(PostgreSQL) that long made every other writer wait behind it. Then:

- :func:`store_after_commit`, called by the view right after that commit, renders the PDF in a
  read-only transaction (a plain ``BEGIN`` on SQLite: no writer waits) and stores it with its
  SHA-256 in a short transaction of its own; it never waits for a render slot
  (:mod:`app.render_slots`), and a failure is logged, not raised: the document is issued either way;
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
import time
from collections.abc import Callable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value

from app.db import may_write, read_only, write_lock
from app.extensions import db
from app.pdf import RenderTimeout, sha256
from app.render_slots import RenderBusy, render_slot

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
#: stays busy (and under gunicorn's 60 s timeout) while it renders, even after the response.
AFTER_COMMIT_BUDGET = 20.0


def store_after_commit(model, row_ids: list[int], render: Callable[[object], bytes]) -> int:
    """Right after the issuing commit (the session outside a transaction): render and store the
    PDFs of ``model``'s rows ``row_ids`` that have none, each in a read-only transaction, stored in
    a short one. Stops at the first that finds no render slot free at once, or once
    ``AFTER_COMMIT_BUDGET`` seconds are spent; a failed render is logged and the next one tried.
    Returns how many PDFs were stored."""
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
