"""The gunicorn configuration Maillage ships, and the one it is load-tested with:

    gunicorn -c gunicorn.conf.py

- **sync workers, one thread each**; threaded workers (``--threads`` > 1, gthread, gevent, eventlet)
  are refused at start: see docs/scaling.md ("Workers: processes, not threads");
- ``preload_app``: the app is imported once in the master, then forked (each worker costs about
  190 MiB at boot without it); each worker drops the database connections it inherited;
- what the preloaded app allocated is frozen out of the garbage collector's reach before each fork
  (``gc.freeze``): a worker's full collections then walk only what its requests made, instead of
  pausing a request for the whole app's objects (a few hundred milliseconds), and they no longer
  write to the pages shared with the master;
- the collector runs between requests, not during them: a worker's young-generation threshold is
  raised far above what a page allocates (:data:`GC_YOUNG_THRESHOLD`), and after each response
  has been sent the worker collects the young generations (about 0.1 ms), and everything every
  :data:`GC_FULL_EVERY` requests. A page no longer pauses for collections mid-way (an event page
  went through about 2.5 of them, 3–5 % of its time); a large export still triggers them itself;
- ``graceful_timeout`` longer than the longest request (an invoice's PDF with its Factur-X checks
  takes a few seconds): on ``kill -HUP`` (reload) or SIGTERM a worker finishes what it is doing;
- access log with the request id (``X-Request-ID``, see app/logs.py), without the secret part of
  login and quote links; the app's own logs in JSON.

Environment: ``MAILLAGE_BIND`` (default ``127.0.0.1:8000``, behind the HTTPS proxy),
``WEB_CONCURRENCY`` (workers, default 2 × cores + 1, at most 8).
"""

from __future__ import annotations

import gc
import os
import re

from gunicorn.glogging import Logger

from app.config import web_workers

wsgi_app = "wsgi:app"
bind = os.environ.get("MAILLAGE_BIND", "127.0.0.1:8000")
workers = web_workers()
worker_class = "sync"
threads = 1
preload_app = True

#: A request still running after this many seconds is killed (a PDF render takes a few seconds).
timeout = 60
#: On reload (HUP) or stop (TERM), the seconds a worker has to finish its request.
graceful_timeout = 90
keepalive = 5
#: Workers are replaced after this many requests (with jitter so they do not all restart at once).
max_requests = 2000
max_requests_jitter = 200

accesslog = "-"
errorlog = "-"
access_log_format = (
    'request_id=%({x-request-id}o)s remote=%(h)s method=%(m)s path="%(U)s" query="%(q)s" '
    'status=%(s)s bytes=%(B)s ms=%(M)s agent="%(a)s"'
)

#: Paths whose last part is a secret (a login link, a client's quote link): kept out of the logs.
_SECRET_PATHS = re.compile(r"(/lien/|/devis/acces/)[^/?\s]+")


def redact(text: str) -> str:
    """``/lien/<token>`` → ``/lien/…``: whoever reads the access log does not get the link."""
    return _SECRET_PATHS.sub(r"\1…", text)


class RedactingLogger(Logger):
    """gunicorn's logger, with the secret part of link paths replaced in the access log."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U"):
            atoms[key] = redact(atoms[key])
        return atoms


logger_class = RedactingLogger

REFUSED = (
    "Maillage runs on sync workers with one thread each (worker_class=sync, threads=1): threaded "
    "workers crashed under load with PostgreSQL (see docs/scaling.md, 'Workers: processes, not "
    "threads'). Add workers (WEB_CONCURRENCY) instead of threads."
)


def on_starting(server):
    """Refuse threaded workers, whatever the command line said (it overrides this file)."""
    threaded = server.cfg.threads > 1 or server.cfg.worker_class_str not in ("sync",)
    if threaded:
        raise SystemExit(REFUSED)


def pre_fork(server, worker):
    """In the master, just before a worker is forked: the preloaded app's objects go to the
    collector's permanent generation (see the module's docstring)."""
    gc.collect()
    gc.freeze()


#: Young-generation threshold in the workers (Python's default is 700): no page allocates that
#: many objects still alive at once, so collections wait for :func:`post_request`.
GC_YOUNG_THRESHOLD = 50_000
#: A full collection (every generation but the frozen app) after this many requests.
GC_FULL_EVERY = 500


def post_worker_init(worker):
    """In each worker, once it is ready: collections wait for the end of requests (see the module's
    docstring)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def post_request(worker, req, environ, resp):
    """After the response has been sent (before the next request is accepted): the collection that
    would otherwise have paused a request."""
    gc.collect(2 if worker.nr % GC_FULL_EVERY == 0 else 1)


def post_fork(server, worker):
    """Drop the pooled connections the master may have opened while preloading the app: a socket
    shared by two processes mixes their conversations with the database. The app is the one gunicorn
    serves (``wsgi:app``, or the one the command line names, e.g. the bench's), as preloaded."""
    from app.extensions import db

    app = server.app.wsgi() if server.cfg.preload_app else None
    if not hasattr(app, "app_context"):
        return  # not preloaded: the worker loads the app itself, after the fork
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
