"""PDF rendering with WeasyPrint, behind a URL fetcher that reads nothing but our own static files.

WeasyPrint's default fetcher follows ``file:`` URLs (an ``<a rel="attachment" href="file:///…">``
embeds a local file in the PDF) and reaches the network (``<img src="http://127.0.0.1/…">``, CSS
``url()`` and ``@import``). Documents are rendered with ``base_url`` set to a host that cannot exist
(``.invalid``) and :class:`SafeFetcher` serves only:

- ``data:`` URLs (images we embed ourselves, e.g. the coordinator's logo);
- ``https://maillage.invalid/static/<path>``, mapped to a file under ``app/static/`` (``..`` and
  symlinks out of that folder refused).

Everything else is refused and recorded in ``refused`` (tests read it); redirects are never followed.
User text reaches templates autoescaped, so it cannot add tags; the fetcher is the second wall.

WeasyPrint runs in a forked child at a lower CPU priority (``PDF_RENDER_NICENESS``, 0: in this
process), so that a render takes the CPU only when page requests leave it idle. The caller builds
the HTML (with the database, the session, the request); the child only turns that string into PDF
bytes with the same fetcher and the font configuration built here, sends the bytes back through a
pipe and ends with ``os._exit`` (no ``atexit``, no finalizer, no garbage collection of what it
inherited: it never touches the database connections or the log handlers it inherited). What it
fetched or refused and what it logged come back with the bytes: ``fetcher.refused`` and the warnings
look the same as with an in-process render. An error in the child is raised again here; a child
still running after ``PDF_RENDER_TIMEOUT`` seconds is killed (:class:`RenderTimeout`), a child that
dies without answering raises :class:`RenderFailed`; the child is always reaped.

:func:`run_detached` is the other kind of child: one nobody waits for, which renders and stores an
issued document's PDF on connections of its own while the worker answers (PostgreSQL only: see
:func:`app.stored_pdf.store_after_commit`).
"""

from __future__ import annotations

import gc
import hashlib
import logging
import math
import mimetypes
import os
import pickle
import select
import signal
import threading
import time
import traceback
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app, has_app_context
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

log = logging.getLogger(__name__)

STATIC_DIR = (Path(__file__).resolve().parent / "static").resolve()
BASE_URL = "https://maillage.invalid/"
STATIC_PREFIX = BASE_URL + "static/"


class FetchRefused(ValueError):
    """A resource the renderer may not read."""


class RenderFailed(RuntimeError):
    """The render child died without sending a PDF (killed, or its error could not be sent back)."""


class RenderTimeout(RenderFailed):
    """The render child was still running after ``PDF_RENDER_TIMEOUT`` seconds (it was killed)."""


class SafeFetcher(URLFetcher):
    def __init__(self, static_dir: Path = STATIC_DIR):
        super().__init__(timeout=2, allowed_protocols={"data", "https"}, allow_redirects=False)
        self.static_dir = static_dir.resolve()
        self.refused: list[str] = []
        self.served: list[str] = []

    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if url.startswith(STATIC_PREFIX):
            parts = urlsplit(url)
            relative = unquote(parts.path)[len("/static/") :]
            path = (self.static_dir / relative).resolve()
            if path.is_file() and path.is_relative_to(self.static_dir):
                self.served.append(url)
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})
        self.refused.append(url)
        log.warning("PDF renderer refused to fetch %r", url[:200])
        raise FetchRefused(f"resource refused: {url[:200]}")


_fonts_lock = threading.Lock()
_font_config: FontConfiguration | None = None


def _fonts() -> FontConfiguration:
    """One font configuration per process (building one is costly)."""
    global _font_config
    with _fonts_lock:
        if _font_config is None:
            _font_config = FontConfiguration()
        return _font_config


def render_pdf(
    html: str,
    *,
    fetcher: SafeFetcher | None = None,
    pdf_variant: str | None = None,
    attachments=None,
    metadata_hook=None,
) -> bytes:
    """Render an HTML string (a rendered template) to PDF bytes.

    ``attachments`` are ``weasyprint.Attachment`` objects we build ourselves (e.g. Factur-X XML);
    ``metadata_hook(document)`` may adjust document metadata before writing (in the render child:
    what it changes outside the document is not seen here).
    """
    fetcher = fetcher or SafeFetcher()
    niceness, timeout = render_settings()
    if niceness <= 0 or not hasattr(os, "fork"):
        return _render(html, fetcher, pdf_variant, attachments, metadata_hook)
    return _render_in_child(html, fetcher, pdf_variant, attachments, metadata_hook, niceness, timeout)


def render_settings() -> tuple[int, float]:
    """``(PDF_RENDER_NICENESS, PDF_RENDER_TIMEOUT)`` of the current app, else the defaults."""
    from app.config import Config

    config = current_app.config if has_app_context() else {}
    niceness = config.get("PDF_RENDER_NICENESS", Config.PDF_RENDER_NICENESS)
    timeout = config.get("PDF_RENDER_TIMEOUT", Config.PDF_RENDER_TIMEOUT)
    return int(niceness or 0), float(timeout)


def _render(html, fetcher, pdf_variant, attachments, metadata_hook) -> bytes:
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).render(
        font_config=_fonts(), stylesheets=[CSS(string="@page { size: A4; }", url_fetcher=fetcher)]
    )
    if metadata_hook is not None:
        metadata_hook(document)
    return document.write_pdf(pdf_variant=pdf_variant, attachments=attachments or None)


class _Collect(logging.Handler):
    """The render child's log records, kept to be logged by the parent."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record):
        try:
            self.records.append((record.name, record.levelno, record.getMessage()))
        except Exception:
            self.handleError(record)


#: Signals whose inherited handlers (gunicorn's, pytest's) must not run in the render child.
_RESET_SIGNALS = tuple(
    getattr(signal, name)
    for name in (
        "SIGTERM",
        "SIGINT",
        "SIGQUIT",
        "SIGHUP",
        "SIGUSR1",
        "SIGUSR2",
        "SIGWINCH",
        "SIGABRT",
        "SIGCHLD",
    )
    if hasattr(signal, name)
)


def _quiet_child(niceness: int, seconds: float) -> None:
    """What a forked child does first: what the parent allocated is never collected here (no
    finalizer of an inherited connection or file runs in the child), the parent's signal handlers
    (gunicorn's, pytest's) are dropped, ``SIGALRM`` ends the child after ``seconds`` whatever it is
    doing, and it runs ``niceness`` nicer than the parent."""
    gc.freeze()
    if hasattr(signal, "set_wakeup_fd"):
        signal.set_wakeup_fd(-1)
    for number in _RESET_SIGNALS:
        signal.signal(number, signal.SIG_DFL)
    signal.alarm(math.ceil(seconds))
    os.nice(niceness)


def _child(write_fd, html, fetcher, pdf_variant, attachments, metadata_hook, niceness, timeout):
    """The render child's whole life; never returns (``os._exit``)."""
    status = 1
    try:
        # Ends the child on its own if the parent is gone (a killed worker) and never reads it.
        _quiet_child(niceness, timeout + 5)
        collect = _Collect()
        for logger in logging.root.manager.loggerDict.values():
            if isinstance(logger, logging.Logger):
                logger.handlers = []
        logging.root.handlers = [collect]
        try:
            message = {"pdf": _render(html, fetcher, pdf_variant, attachments, metadata_hook)}
        except BaseException as error:  # every error is sent back to the parent
            message = {"error": _portable(error), "traceback": traceback.format_exc()}
        message.update(refused=fetcher.refused, served=fetcher.served, logs=collect.records)
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(payload)
        while view:
            view = view[os.write(write_fd, view) :]
        status = 0
    finally:
        os._exit(status)


def _portable(error: BaseException) -> BaseException:
    """The error itself when it survives pickling, else a :class:`RenderFailed` naming it."""
    try:
        pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
        return error
    except Exception:
        return RenderFailed(f"{type(error).__name__}: {error}")


def _render_in_child(html, fetcher, pdf_variant, attachments, metadata_hook, niceness, timeout) -> bytes:
    _fonts()  # built once here, inherited by every child
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which ends with os._exit
        os.close(read_fd)
        _child(write_fd, html, fetcher, pdf_variant, attachments, metadata_hook, niceness, timeout)
    os.close(write_fd)
    chunks: list[bytes] = []
    reaped = False
    try:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RenderTimeout(f"PDF render still running after {timeout:g} s: child killed")
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
        reaped = True
    finally:
        os.close(read_fd)
        if not reaped:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        raise RenderFailed(f"PDF render child killed by signal {os.WTERMSIG(status)}")
    try:
        message = pickle.loads(b"".join(chunks))  # noqa: S301 - from our child, on a pipe only it writes
    except Exception as error:
        raise RenderFailed(
            f"PDF render child sent no result (exit status {os.waitstatus_to_exitcode(status)})"
        ) from error
    fetcher.refused.extend(message["refused"])
    fetcher.served.extend(message["served"])
    for name, level, text in message["logs"]:
        logging.getLogger(name).log(level, "%s", text)
    if "error" in message:
        error = message["error"]
        error.add_note("In the PDF render child:\n" + message["traceback"])
        raise error
    return message["pdf"]


#: What a detached child inherited and must keep referenced until it ends (connection pools): never
#: finalized there, so no inherited connection is closed or used by it.
_INHERITED: list = []


def run_detached(func, *args, seconds: float) -> bool:
    """Run ``func(*args)`` in a detached grandchild of this process, ``PDF_RENDER_NICENESS`` nicer,
    in an application context of its own with database connections of its own; return at once.

    For work nobody waits for (rendering and storing an issued document's PDF): the worker answers
    its request instead of waiting for a render. The child is forked twice (the middle one ends at
    once, reaped here: the grandchild, adopted by init, leaves no zombie behind); it leaves the
    worker's session and process group, drops the inherited signal handlers, closes its copies of
    the sockets it inherited (the server's port, the client's connection, the database's: see
    :func:`_close_inherited_sockets`), sets the inherited connection pools aside without using or
    finalizing them, renders in itself (it is already nicer), is killed by ``SIGALRM`` after
    ``seconds``, logs what fails and ends with ``os._exit``. What ``func`` does must be safe to lose
    (the machine may stop first) and be recovered elsewhere. Other file descriptors open here stay
    open in the child (a render slot's lock: see :func:`app.render_slots.take_slot`).
    Returns False, having run nothing, when the child could not be started."""
    app = current_app._get_current_object()
    niceness = render_settings()[0]
    try:
        pid = os.fork()
    except OSError:
        log.exception("could not fork a detached child")
        return False
    if pid == 0:  # pragma: no cover - the middle child, which ends with os._exit
        try:
            if os.fork() == 0:
                _detached(app, func, args, niceness, seconds)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _detached(app, func, args, niceness, seconds) -> None:  # pragma: no cover - in the grandchild
    """The detached grandchild's whole life; never returns (``os._exit``)."""
    from app.extensions import db

    status = 1
    try:
        os.setsid()
        _quiet_child(niceness, seconds)
        _close_inherited_sockets()
        for engine in db.engines.values():
            _INHERITED.append(engine.pool)
            engine.dispose(close=False)
        app.config["PDF_RENDER_NICENESS"] = 0  # this process is the nicer one: render here
        with app.app_context():
            func(*args)
        status = 0
    except BaseException:
        log.exception("detached work failed: %s", getattr(func, "__qualname__", func))
    finally:
        os._exit(status)


def _close_inherited_sockets() -> None:  # pragma: no cover - in the detached grandchild
    """Close this process's copies of the sockets it inherited, standard streams aside: the server's
    listening socket (a stopped server's port is not held by it), the connection of the request
    being answered (the client sees it closed when the worker closes it, not when this child ends),
    the worker's database connections (never used here: this process opens its own). Closing a copy
    sends nothing: the worker's own stay open."""
    import stat

    folder = Path("/proc/self/fd")
    if not folder.is_dir():
        return
    for name in os.listdir(folder):
        fd = int(name)
        if fd <= 2:
            continue
        try:
            is_socket = stat.S_ISSOCK(os.fstat(fd).st_mode)
        except OSError:
            continue  # gone (the listing's own descriptor)
        if is_socket:
            os.close(fd)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
