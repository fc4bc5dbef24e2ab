"""Fixtures around the application factory.

- ``app`` is built once per database backend: SQLite always, PostgreSQL too when TEST_DATABASE_URL
  is set (CI sets it). Every test that uses the app therefore runs on both.
- The schema comes from the migrations (``flask db upgrade``), never from ``create_all``.
- Each test runs inside one transaction that is rolled back; views' commits become savepoints.
- Factories are fixtures returning callables with defaults; they ``flush()``, never commit.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask.globals import _cv_app
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import _app_ctx_id
from sqlalchemy.orm import scoped_session, sessionmaker

from app import create_app
from app.extensions import db

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
PASSWORD = "motdepasse-de-test"


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


class IsolatedClient(FlaskClient):
    """A test client whose every request sees a fresh ``g``.

    Tests keep an app context pushed (for the rolled-back session); Flask reuses a pushed app
    context for requests, so without this Flask-Login's cached user would leak between clients.
    """

    def open(self, *args, **kwargs):
        ctx = _cv_app.get(None)
        if ctx is None:
            return super().open(*args, **kwargs)
        saved = dict(ctx.g.__dict__)
        ctx.g.__dict__.clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            ctx.g.__dict__.clear()
            ctx.g.__dict__.update(saved)


def make_app(backend: str, tmp_path_factory, **extra):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        from app.config import normalise_database_url

        url = normalise_database_url(os.environ["TEST_DATABASE_URL"])
        _reset_postgres(url)
    instance = tmp_path_factory.mktemp("instance")
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": url,
        "OUTBOX_DIR": str(instance / "outbox"),
        "PDF_RENDER_DIR": str(instance / "pdf-render"),  # render slots of this run's own
        "MAIL_SERVER": None,
        "REDIS_URL": None,
        "PUBLIC_BASE_URL": "http://localhost",
        # Issued documents' PDFs stored before the answer: the test reads them in its own transaction.
        "PDF_RENDER_DETACHED": False,
    }
    config.update(extra)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="session", params=BACKENDS)
def app(request, tmp_path_factory):
    app = make_app(request.param, tmp_path_factory)
    app.config["TEST_BACKEND"] = request.param
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _transaction(request):
    """Wrap each test that uses the app in a transaction rolled back at the end."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        # A plain SQLAlchemy session bound to the connection (Flask-SQLAlchemy's own Session.get_bind
        # would pick the engine, i.e. a second connection), scoped like Flask-SQLAlchemy's.
        db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=True),
            scopefunc=_app_ctx_id,
        )
        try:
            yield
        finally:
            db.session.remove()
            db.session = original
            if transaction.is_active:
                transaction.rollback()
            connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token in page"
    return match.group(1)


@contextmanager
def results_read():
    """Each statement the engines run inside the block, with the names of the columns it brought
    back: ``[(statement, [column, ...]), ...]``."""
    read: list[tuple[str, list[str]]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        read.append((statement, [column[0] for column in cursor.description or ()]))

    sa.event.listen(sa.engine.Engine, "after_cursor_execute", listener)
    try:
        yield read
    finally:
        sa.event.remove(sa.engine.Engine, "after_cursor_execute", listener)


def hidden_value(html: str, name: str) -> str:
    """The value of the form field ``name`` in a page (a hidden field's, typically)."""
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html
    )
    assert match, f"no field {name} in page"
    return match.group(1)


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, email: str, password: str = PASSWORD):
        page = self.client.get("/connexion")
        token = csrf_token(page.get_data(as_text=True))
        return self.client.post(
            "/connexion", data={"email": email, "password": password, "csrf_token": token}
        )

    def logout(self):
        page = self.client.get("/tableau-de-bord")
        token = csrf_token(page.get_data(as_text=True))
        return self.client.post("/deconnexion", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)


def post_form(client, page_url: str, action_url: str | None = None, data: dict | None = None, **kw):
    """GET a page, take its CSRF token, POST ``data`` to ``action_url`` (default: same URL)."""
    page = client.get(page_url)
    token = csrf_token(page.get_data(as_text=True))
    return client.post(action_url or page_url, data={**(data or {}), "csrf_token": token}, **kw)


# --- factories -----------------------------------------------------------------------------------

_counter = iter(range(1, 10**9))


def _n() -> int:
    return next(_counter)


def _siret(n: int) -> str:
    """A valid SIRET (Luhn) derived from n."""
    from stdnum import luhn

    base = f"{(n * 7919) % 10**12:012d}"[:13].rjust(13, "1")
    return base + luhn.calc_check_digit(base)


@pytest.fixture
def make_category(app):
    from app.models import Category

    # Positions count from 1 in each test: made in that order, sorted in that order, and always
    # within the form's 0…10 000 (the suite-wide counter passes 10 000 in a full run).
    positions = iter(range(1, 10_001))

    def make(**kw):
        n = _n()
        values = {
            "code": f"cat{n}",
            "name": f"Catégorie {n}",
            "default_vat_rate": Decimal("0.2000"),
            "position": next(positions),
        }
        values.update(kw)
        obj = Category(**values)
        db.session.add(obj)
        db.session.flush()
        return obj

    return make


@pytest.fixture
def make_organisation(app):
    from app.models import LegalForm, Organisation, VatRegime

    def make(**kw):
        n = _n()
        siret = _siret(n)
        values = {
            "name": f"Organisation {n}",
            "slug": f"organisation-{n}",
            "legal_form": LegalForm.ASSOCIATION,
            "siret": siret,
            "vat_regime": VatRegime.EXEMPT,
            "address": f"{n} rue de la Paix",
            "postal_code": "44000",
            "commune": "Nantes",
            "active": True,
            "public_listing": True,
        }
        values.update(kw)
        if values["vat_regime"] == VatRegime.SUBJECT and not values.get("vat_number") and values.get("siret"):
            from app.directory.validation import vat_number_for

            values["vat_number"] = vat_number_for(values["siret"][:9])
        obj = Organisation(**values)
        db.session.add(obj)
        db.session.flush()
        return obj

    return make


@pytest.fixture
def make_client(app):
    from app.models import Client

    def make(**kw):
        n = _n()
        values = {
            "name": f"Client {n}",
            "address": "2 cours du Champ de Mars",
            "postal_code": "44000",
            "commune": "Nantes",
            "is_public_body": True,
            "contact_email": f"client{n}@example.org",
        }
        values.update(kw)
        obj = Client(**values)
        db.session.add(obj)
        db.session.flush()
        return obj

    return make


@pytest.fixture
def make_user(app, make_organisation, make_client):
    from app.auth.passwords import hash_password
    from app.models import Role, User

    hashed = hash_password(PASSWORD)

    def make(role="coordinator", **kw):
        n = _n()
        role = Role(role)
        values = {
            "email": f"user{n}@example.org",
            "name": f"Utilisateur {n}",
            "role": role,
            "password_hash": hashed,
            "active": True,
            "session_epoch": 0,
        }
        if role == Role.ACTOR and "organisation" not in kw:
            values["organisation"] = make_organisation()
        if role == Role.CLIENT and "client" not in kw:
            values["client"] = make_client()
        values.update(kw)
        obj = User(**values)
        db.session.add(obj)
        db.session.flush()
        return obj

    return make


@pytest.fixture
def person(make_user):
    """``person(role)``: a user of the role, or for ``"anonymous"`` what Flask-Login gives when nobody
    is logged in."""
    from flask_login import AnonymousUserMixin

    def make(role: str):
        return AnonymousUserMixin() if role == "anonymous" else make_user(role)

    return make


@pytest.fixture
def make_event(app, make_client):
    from offers.models import Event

    def make(**kw):
        n = _n()
        values = {
            "title": f"Événement {n}",
            "venue": "Cité des Congrès",
            "starts_at": datetime(2026, 4, 15, 7, 0, tzinfo=UTC),
            "ends_at": datetime(2026, 4, 15, 17, 0, tzinfo=UTC),
            "headcount": 400,
        }
        if "client" not in kw:
            values["client"] = make_client()
        values.update(kw)
        obj = Event(**values)
        db.session.add(obj)
        db.session.flush()
        return obj

    return make
