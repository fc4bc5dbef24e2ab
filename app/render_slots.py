"""A cap on the PDF renders running at once on this host, shared by gunicorn's worker processes.

A sync worker serves one request at a time: while it renders a PDF (WeasyPrint: about a second of
CPU) it serves no page. ``PDF_RENDER_SLOTS`` lock files in ``PDF_RENDER_DIR`` (by default
``instance/pdf-render/slot-<n>.lock``) are the slots; a render holds one with an exclusive
``flock``, which the kernel drops when the process ends (a killed worker leaves no slot taken).
The default is one less than the workers (``WEB_CONCURRENCY``, :func:`app.config.web_workers`), at
least one, so that a worker is left for pages whatever the number of documents asked for at once,
and no more than the cores: a render runs at a lower priority (``PDF_RENDER_NICENESS``, see
:mod:`app.pdf`), so renders beyond the cores would only wait for the CPU while each holds a worker.

Whoever can do without the PDF right now does not wait for a slot (issuing a quote leaves it to the
first read when none is free); whoever needs the bytes waits up to ``PDF_RENDER_WAIT`` seconds,
then gets :class:`RenderBusy` (503, a French message), never a render above the cap.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app

from app.config import web_workers
from app.errors import DomainError

#: Seconds between two looks at the slots while waiting for one.
POLL_SECONDS = 0.05


class RenderBusy(DomainError):
    """Every render slot stayed taken for ``PDF_RENDER_WAIT`` seconds (the message says which
    document to ask for again)."""

    status_code = 503


def slot_count() -> int:
    """``PDF_RENDER_SLOTS``, else one less than the workers and no more than the cores; at least 1."""
    configured = current_app.config.get("PDF_RENDER_SLOTS")
    if configured:
        return max(1, int(configured))
    return max(1, min(web_workers() - 1, os.cpu_count() or 1))


def _folder() -> Path:
    folder = Path(current_app.config.get("PDF_RENDER_DIR") or Path(current_app.instance_path) / "pdf-render")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _take(folder: Path, count: int) -> int | None:
    """A file descriptor holding one free slot's lock, or None when all are taken."""
    for number in range(count):
        fd = os.open(folder / f"slot-{number}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return fd
    return None


def take_slot() -> int | None:
    """A free slot's lock, held on a file descriptor of its own, without waiting (None when every slot
    is taken): for a render handed to a child process (:func:`app.pdf.run_detached`). The lock lasts
    as long as any process keeps a descriptor of it open: the caller closes its own once the child
    has it (``os.close``, never ``flock(LOCK_UN)``, which would free it for the child too)."""
    return _take(_folder(), slot_count())


@contextmanager
def render_slot(wait: float = 0) -> Iterator[bool]:
    """Hold a render slot for the block: yields ``True``, or ``False`` when none became free
    within ``wait`` seconds (0: do not wait). The slot is given back when the block ends."""
    folder, count = _folder(), slot_count()
    deadline = time.monotonic() + wait
    fd = _take(folder, count)
    while fd is None and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        fd = _take(folder, count)
    if fd is None:
        yield False
        return
    try:
        yield True
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
