"""Configuration: defaults here, secrets and deployment choices only from the environment.

Every setting may be overridden by an environment variable prefixed ``MAILLAGE_`` (Flask's
``from_prefixed_env``), and the usual deployment names are read directly: ``SECRET_KEY``,
``DATABASE_URL``, ``REDIS_URL``, ``MAIL_SERVER``…
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path


class Config:
    # Database: SQLite file under instance/ unless DATABASE_URL says otherwise.
    SQLALCHEMY_DATABASE_URI: str | None = None
    # No pool_pre_ping: a pooled connection is pinged only when it may be stale (app.db).
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLALCHEMY_RECORD_QUERIES = False

    # Logs (app/logs.py): one JSON object a line with the request id, or "text".
    LOG_FORMAT = "json"
    LOG_LEVEL = "INFO"

    # Sessions: signed cookies, nothing kept in process memory.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-maillage"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    MAX_CONTENT_LENGTH = 5 * 1024 * 1024

    WTF_CSRF_TIME_LIMIT = None  # token lives as long as the session

    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Europe/Paris"
    LANGUAGES = ("fr", "en")

    BOOTSTRAP_SERVE_LOCAL = True
    BOOTSTRAP_BOOTSWATCH_THEME = None

    # Login throttling (counted in the database, or in Redis when REDIS_URL is set).
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    LOGIN_FAILURE_WINDOW = timedelta(minutes=15)
    REDIS_URL: str | None = None
    # Login links asked for (per address typed, per client address), over the same window.
    LOGIN_LINK_MAX_PER_ACCOUNT = 3
    LOGIN_LINK_MAX_PER_ADDRESS = 10

    # Magic links (actors and clients).
    MAGIC_LINK_MAX_AGE = timedelta(hours=48)
    # Password reset links sent by the admin (every role).
    PASSWORD_RESET_MAX_AGE = timedelta(hours=48)
    #: How many days before an event ``flask offers send-briefings`` e-mails the briefing sheets.
    BRIEFING_DAYS_BEFORE = 7

    # Mail: real SMTP when MAIL_SERVER is set, else .eml files in instance/outbox/.
    MAIL_SERVER: str | None = None
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_DEFAULT_SENDER = "Maillage <no-reply@maillage.example.org>"
    MAIL_TIMEOUT = 10
    MAIL_MAX_ATTEMPTS = 8
    OUTBOX_DIR: str | None = None

    # Public base URL of the links in e-mails. Unset: the address of the request that sends the mail;
    # with no request (``flask outbox send`` answering login-link requests) the mail is refused with a
    # message naming the setting (``make run`` sets it to its own address).
    SERVER_NAME: str | None = None
    PUBLIC_BASE_URL: str | None = None

    DEMO_BANNER = True

    # Behind a reverse proxy: how many proxies in front of the app set X-Forwarded-For and
    # X-Forwarded-Proto (werkzeug's ProxyFix trusts that many hops, no more). 0: none, the
    # address seen is the client's. Env: TRUSTED_PROXIES=1 behind one HTTPS proxy.
    TRUSTED_PROXIES = 0

    # HTTP Strict Transport Security, sent on every response outside debug mode.
    HSTS = "max-age=31536000; includeSubDomains"
    # Seconds a client is asked to wait (Retry-After) when the database is locked or unreachable.
    RETRY_AFTER_SECONDS = 30

    # PDF renders running at once on this host, across the workers (app/render_slots.py). None: one
    # less than the workers (WEB_CONCURRENCY), no more than the cores, at least 1, so that a worker
    # stays free for pages.
    PDF_RENDER_SLOTS: int | None = None
    # Seconds a request that needs a PDF not stored yet waits for a render slot before answering 503.
    PDF_RENDER_WAIT = 20
    # The folder of the slots' lock files, shared by the host's workers (None: instance/pdf-render).
    PDF_RENDER_DIR: str | None = None
    # WeasyPrint runs in a forked child this much nicer than the worker (app/pdf.py), so that renders
    # take only the CPU the pages leave; 0 renders in the worker itself.
    PDF_RENDER_NICENESS = 10
    # Seconds a render child may run before it is killed (below gunicorn's 60 s worker timeout).
    PDF_RENDER_TIMEOUT = 45
    # The PDFs of a document just issued are rendered and stored by a detached child holding a
    # render slot (app/stored_pdf.py): the worker answers at once. False: the worker renders them
    # itself before answering (the tests, whose data lives in a transaction no other process sees).
    PDF_RENDER_DETACHED = True
    # The dashboards' figures kept until the data they read changes (app/figures.py).
    FIGURES_CACHE = True


def web_workers() -> int:
    """gunicorn's worker processes: ``WEB_CONCURRENCY``, else 2 × cores + 1, at most 8."""
    return int(os.environ.get("WEB_CONCURRENCY") or min(2 * (os.cpu_count() or 1) + 1, 8))


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def load_config(app, test_config: dict | None = None) -> None:
    """Fill ``app.config`` from :class:`Config`, the environment and ``test_config``."""
    app.config.from_object(Config)
    app.config.from_prefixed_env("MAILLAGE")
    for name in (
        "SECRET_KEY",
        "REDIS_URL",
        "MAIL_SERVER",
        "MAIL_USERNAME",
        "MAIL_PASSWORD",
        "MAIL_DEFAULT_SENDER",
        "PUBLIC_BASE_URL",
    ):
        if _env(name):
            app.config[name] = os.environ[name]
    if _env("MAIL_PORT"):
        app.config["MAIL_PORT"] = int(os.environ["MAIL_PORT"])
    for flag in ("MAIL_USE_TLS", "MAIL_USE_SSL"):
        if _env(flag):
            app.config[flag] = os.environ[flag].lower() in ("1", "true", "yes", "on")
    if _env("TRUSTED_HOSTS"):
        app.config["TRUSTED_HOSTS"] = [h.strip() for h in os.environ["TRUSTED_HOSTS"].split(",") if h.strip()]
    if _env("BRIEFING_DAYS_BEFORE"):
        app.config["BRIEFING_DAYS_BEFORE"] = int(os.environ["BRIEFING_DAYS_BEFORE"])
    if _env("TRUSTED_PROXIES"):
        app.config["TRUSTED_PROXIES"] = int(os.environ["TRUSTED_PROXIES"])
    if _env("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(os.environ["DATABASE_URL"])
    if test_config:
        app.config.update(test_config)

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'maillage.db'}"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # PostgreSQL's JIT compiles a query whose estimated cost passes jit_above_cost: worth it for
        # an analytical query of minutes, not for a page's. On the dashboards' queries (aggregates
        # over years, whose row estimates are far above the truth) it took 70–540 ms to compile
        # what then ran in 100–200 ms. Off for the app's connections (a setting of the session).
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("options", "-c jit=off")
        options["connect_args"] = connect_args
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if not app.config.get("OUTBOX_DIR"):
        app.config["OUTBOX_DIR"] = str(instance / "outbox")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _local_secret_key(instance)

    # Over plain http (debug, tests) a Secure / __Host- cookie would never come back.
    if app.debug or app.testing or not app.config.get("SESSION_COOKIE_SECURE", True):
        app.config["SESSION_COOKIE_SECURE"] = False
        app.config["REMEMBER_COOKIE_SECURE"] = False
        if app.config["SESSION_COOKIE_NAME"].startswith("__Host-"):
            app.config["SESSION_COOKIE_NAME"] = "maillage_session"


def normalise_database_url(url: str) -> str:
    """Accept the usual ``postgres://`` spellings and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _local_secret_key(instance: Path) -> str:
    """A random key kept in ``instance/secret_key`` for local runs; never a constant in code."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
