"""One OS process of the parallel quote-issue test (``test_quote_double_issue.py``).

Not a test module: each process builds its own app on the test's own PostgreSQL database, logs the
coordinator in, loads the issue page, waits for the others, then posts the issue form with the token
all processes share, and reports the answer.
"""

from __future__ import annotations

import traceback

#: Imported once by the fork server, before it forks the workers (each then builds its own app).
PRELOAD = ["app", "app.pdf", "offers.services.quotes"]
WORKERS = 8


def app_config(url: str, instance: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": url,
        "OUTBOX_DIR": f"{instance}/outbox",
        "PDF_RENDER_DIR": f"{instance}/pdf-render",
        "MAIL_SERVER": None,
        "REDIS_URL": None,
        "PUBLIC_BASE_URL": "http://localhost",
        "PDF_RENDER_DETACHED": False,  # the render watched in this process
    }


def prepare(url: str, instance: str) -> tuple[int, int]:
    """Migrate, build a ready-to-quote event and a coordinator; returns their ids."""
    from itertools import count

    from flask_migrate import upgrade

    from app import create_app
    from app.directory.validation import vat_number_for
    from app.extensions import db
    from app.models import Category, Client, Organisation, Role, User, VatRegime
    from offers.models import Event
    from tests.conftest import _siret
    from tests.offers.quote_fixtures import build_ready_event

    numbers = count(1)

    def factory(model, **defaults):
        def make(**kw):
            n = next(numbers)
            values = {key: (value(n) if callable(value) else value) for key, value in defaults.items()}
            values.update(kw)
            obj = model(**values)
            db.session.add(obj)
            db.session.flush()
            return obj

        return make

    app = create_app(app_config(url, instance))
    with app.app_context():
        upgrade()
        organisation = factory(
            Organisation,
            slug=lambda n: f"organisation-{n}",
            siret=lambda n: _siret(n),
            address="1 rue",
            postal_code="44000",
            commune="Nantes",
        )

        def make_organisation(**kw):
            if kw.get("vat_regime") == VatRegime.SUBJECT:
                kw["vat_number"] = vat_number_for(_siret(next(numbers))[:9])
                kw["siret"] = None
            return organisation(**kw)

        make_client = factory(
            Client, name=lambda n: f"Client {n}", address="2 cours", postal_code="44000", commune="Nantes"
        )
        event, _lots, _actors = build_ready_event(
            factory(
                Event,
                title="Assises",
                venue="Cité des Congrès",
                headcount=400,
                client=lambda n: make_client(),
            ),
            make_client,
            factory(Category, code=lambda n: f"cat{n}", position=lambda n: n),
            make_organisation,
        )
        user = User(email="coordination@example.org", name="Coordination", role=Role.COORDINATOR)
        user.active, user.session_epoch = True, 0
        db.session.add(user)
        db.session.commit()
        ids = event.id, user.id
        db.session.remove()
        db.engine.dispose()
    return ids


def signed_in_client(app, user_id: int):
    """A test client of ``app`` signed in as the user ``user_id`` (its session, as after a login)."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"{user_id}:0"
        session["_fresh"] = True
    return client


def issue_form(client, event_id: int) -> dict:
    """The event's issue form as its page gives it (validity 30 days, CSRF and issue tokens)."""
    from tests.conftest import csrf_token, hidden_value

    page = client.get(f"/evenements/{event_id}/devis").get_data(as_text=True)
    return {
        "validity_days": "30",
        "csrf_token": csrf_token(page),
        "issue_token": hidden_value(page, "issue_token"),
    }


def post_issue(
    index: int, url: str, instance: str, user_id: int, event_id: int, token: str, barrier, results
):
    """Post the issue form once; put ``{"status", "location", "flashes", "errors"}`` on ``results``."""
    outcome = {"worker": index, "status": None, "location": None, "flashes": [], "errors": []}
    try:
        import re

        from app import create_app

        app = create_app(app_config(url, instance))
        client = signed_in_client(app, user_id)
        page = client.get(f"/evenements/{event_id}/devis")
        assert page.status_code == 200, page.status_code
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
        barrier.wait(timeout=60)
        response = client.post(
            f"/evenements/{event_id}/devis",
            data={"validity_days": "30", "csrf_token": csrf, "issue_token": token},
        )
        outcome["status"] = response.status_code
        outcome["location"] = response.headers.get("Location")
        with client.session_transaction() as session:
            outcome["flashes"] = [message for _category, message in session.get("_flashes", [])]
        if response.status_code >= 500:
            outcome["errors"].append(response.get_data(as_text=True)[:2000])
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
    except Exception:
        outcome["errors"].append(traceback.format_exc())
    results.put(outcome)


def stored_quotes(url: str, event_id: int) -> list[tuple[int, int, str]]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                tuple(row)
                for row in conn.execute(
                    sa.text("SELECT id, version, status FROM quotes WHERE event_id = :e ORDER BY version"),
                    {"e": event_id},
                )
            ]
    finally:
        engine.dispose()
