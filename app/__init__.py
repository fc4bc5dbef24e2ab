"""Maillage: one interlocutor for a network of ESS organisations.

``create_app`` is the only place where the shell knows about the ``offers`` and ``invoicing``
packages (to register their blueprints, models and commands); everything else points one way:
invoicing → offers → app.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context, request, session

from app.config import load_config
from app.extensions import babel, bootstrap, csrf, login_manager, migrate

# Note: no module-level name ``db`` here: the submodule ``app.db`` would shadow it.


def select_locale() -> str:
    from flask_login import current_user

    supported = ("fr", "en")
    if not has_request_context():
        return "fr"
    lang = session.get("lang")
    if lang in supported:
        return lang
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in supported:
        return current_user.locale
    return "fr"


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="static",
    )
    from app.extensions import db

    load_config(app, test_config)
    from app.parsing import IdConverter

    app.url_map.converters["int"] = IdConverter  # before any route: ids stop at 2³¹ − 1
    from app.logs import init_logging

    init_logging(app)  # before any other hook: the request id is set first

    db.init_app(app)
    from app.db import end_request_transaction, literal_page_bounds

    with app.app_context():
        for engine in db.engines.values():
            literal_page_bounds(engine)  # PostgreSQL: list pages' statements planned once (app.db)

    # Before Flask-SQLAlchemy's own teardown (which rolls back): a transaction that wrote nothing ends
    # with COMMIT, which keeps psycopg's prepared statements (app.db).
    app.teardown_request(end_request_transaction)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies < 0:
        raise RuntimeError("TRUSTED_PROXIES must be a count of proxies (0 or more).")
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Only X-Forwarded-For and -Proto, and only as many hops as there are proxies: a client
        # cannot forge its address by sending the header itself.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=0, x_prefix=0)
    migrate.init_app(
        app, db, directory=app.config.get("MIGRATIONS_DIR", _migrations_dir()), compare_type=True
    )
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=_translations_dir(),
    )
    bootstrap.init_app(app)

    # Models of every package must be known before the first query.
    from app import figures as _figures  # noqa: F401  (the data stamp's listeners)
    from app import models as _app_models  # noqa: F401
    from app.auth import init_login
    from invoicing import models as _invoicing_models  # noqa: F401
    from offers import models as _offers_models  # noqa: F401
    from offers.services import actor_nets as _actor_nets  # noqa: F401  (keeps actor_event_nets)
    from offers.services import event_starts as _event_starts  # noqa: F401  (keeps assignments' event start)

    init_login(app, login_manager)

    from app.templating import use_template_context

    use_template_context(app)

    from app.formatting import register_filters

    register_filters(app)

    from app.i18n import install_template_gettext

    install_template_gettext(app)

    from app.labels import register_labels

    register_labels(app)

    from app.urls import register_url_patterns

    register_url_patterns(app)

    from app.audit import register_audit_reading

    register_audit_reading(app)

    from app.errors import register_error_handlers

    register_error_handlers(app)

    from app.auth.views import bp as auth_bp
    from app.main.views import bp as main_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)

    from app.directory import chain_views as _chain_views  # noqa: F401  (routes on directory.bp)
    from app.directory import import_views as _import_views  # noqa: F401
    from app.directory.views import bp as directory_bp
    from app.public.views import bp as public_bp

    app.register_blueprint(directory_bp)
    app.register_blueprint(public_bp)

    from invoicing import exports_views as _exports_views  # noqa: F401  (routes on the invoicing blueprint)
    from invoicing.views import bp as invoicing_bp
    from offers.views import bp as offers_bp

    app.register_blueprint(offers_bp)
    app.register_blueprint(invoicing_bp)

    from reports.views import bp as reports_bp

    app.register_blueprint(reports_bp)

    # Packages add their part of the demo (one-way arrows: app only knows the registry).
    from app.cli import register_commands
    from invoicing import demo as _invoicing_demo  # noqa: F401
    from invoicing import directory_panels as _invoicing_panels  # noqa: F401
    from offers import audit_reading as _offers_audit_reading  # noqa: F401
    from offers import demo as _offers_demo  # noqa: F401
    from offers import demo_quotes as _offers_demo_quotes  # noqa: F401
    from offers import directory_panels as _offers_panels  # noqa: F401

    register_commands(app)

    from offers.cli import offers_cli, quotes_cli

    app.cli.add_command(quotes_cli)
    app.cli.add_command(offers_cli)

    from invoicing.cli import invoicing_cli

    app.cli.add_command(invoicing_cli)

    try:  # the benchmarks ship with the repository, not with the installed package
        from benchmarks.cli import bench_cli
    except ImportError:
        bench_cli = None
    if bench_cli is not None:
        app.cli.add_command(bench_cli)

    from app.schema import check_schema, should_check

    if should_check(app):
        check_schema(app)  # refuse to serve an old schema: "flask db upgrade" first

    from app.navigation import navigation_for

    @app.context_processor
    def inject_layout():
        from flask_login import current_user

        if g.get("database_failed"):  # the error page: nothing from the database (app.errors)
            return {"navigation": [], "current_locale": select_locale(), "demo_banner": False}
        return {
            "navigation": navigation_for(current_user),
            "current_locale": select_locale(),
            "demo_banner": app.config.get("DEMO_BANNER") and _demo_loaded(),
        }

    @app.before_request
    def _remember_client_ip():
        g.client_ip = request.remote_addr

    from app.parsing import refuse_nul_in_query

    app.before_request(refuse_nul_in_query)

    @app.after_request
    def _security_headers(response):
        _cache_and_transport_headers(app, response)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        )
        return response

    return app


def _cache_and_transport_headers(app: Flask, response) -> None:
    """HSTS outside debug; ``Cache-Control: no-store`` on what a shared or back-button cache must not
    keep: pages of a logged-in user, PDFs, and pages reached by a token in the URL (login links,
    the client's quote portal). A view that chose its own caching (a logo, static files) keeps it,
    except for PDFs, never stored."""
    if not app.debug and app.config.get("HSTS"):
        response.headers.setdefault("Strict-Transport-Security", app.config["HSTS"])
    user = g.get("_login_user")  # only what this request loaded: no query for the header
    private = (
        response.mimetype == "application/pdf"
        or (request.view_args or {}).get("token") is not None
        or bool(getattr(user, "is_authenticated", False))
    )
    if private and (response.mimetype == "application/pdf" or "Cache-Control" not in response.headers):
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Pragma", "no-cache")


def _demo_loaded() -> bool:
    """The banner shows while the demo's marker setting exists (one primary-key lookup, unless the
    logged-in user's statement already told: :func:`demo_loaded_column`)."""
    from app.demo import DEMO_MARKER
    from app.extensions import db
    from app.models import Setting

    cache = g.get("_demo_loaded")
    if cache is None:
        try:
            cache = db.session.get(Setting, DEMO_MARKER) is not None
        except Exception:
            db.session.rollback()
            cache = False
        g._demo_loaded = cache
    return cache


def demo_loaded_column():
    """Whether the demo is loaded, as a column for a statement the request runs anyway (the
    logged-in user's, ``app.auth``); its value goes to :func:`remember_demo_loaded`."""
    import sqlalchemy as sa

    from app.demo import DEMO_MARKER
    from app.models import Setting

    return sa.exists().where(Setting.key == DEMO_MARKER).label("demo_loaded")


def remember_demo_loaded(value) -> None:
    g._demo_loaded = bool(value)


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


def _translations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "translations")
