"""Structured logs with a request id.

Every request gets an id: the ``X-Request-ID`` header of the proxy when it is sane (1 to 64 letters,
digits, ``-``, ``_``, ``.``, ``:``, which a UUID or a proxy's id is), else a new one (32 hex digits).
The id is in ``g.request_id``, in the ``X-Request-ID`` response header (gunicorn's access log prints it
from there, see ``gunicorn.conf.py``) and in every log record emitted while the request is handled
(``record.request_id``, ``-`` outside a request): a log record factory adds it, so the records of
every logger have it (SQLAlchemy's, WeasyPrint's, the app's).

``LOG_FORMAT`` chooses the lines: ``json`` (one JSON object a line: time, level, logger, request id,
message, exception) or ``text`` (``time level [request id] logger: message``).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", re.ASCII)
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def request_id_from(header: str | None) -> str:
    """The proxy's id when sane, else a new one."""
    if header and _SANE.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str:
    if has_request_context():
        return g.get("request_id") or "-"
    return "-"


def _install_record_factory() -> None:
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_request_id", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.request_id = current_request_id()
        return record

    factory.adds_request_id = True
    logging.setLogRecordFactory(factory)


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def formatter_for(kind: str) -> logging.Formatter:
    if kind == "json":
        return JsonFormatter()
    if kind == "text":
        return logging.Formatter(TEXT_FORMAT)
    raise RuntimeError("LOG_FORMAT must be json or text.")


def init_logging(app: Flask) -> None:
    """The record factory, one handler on the root logger (unless a host such as pytest already put
    its own), and the request id hooks."""
    _install_record_factory()
    formatter = formatter_for(app.config.get("LOG_FORMAT", "json"))
    root = logging.getLogger()
    if not root.handlers:
        root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
        handler = logging.StreamHandler()
        handler.setFormatter(formatter)
        root.addHandler(handler)
    for noisy in ("weasyprint", "weasyprint.progress", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    @app.before_request
    def _request_id():
        g.request_id = request_id_from(request.headers.get(HEADER))

    @app.after_request
    def _request_id_header(response):
        response.headers[HEADER] = g.get("request_id") or request_id_from(None)
        return response
