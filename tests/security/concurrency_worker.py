"""One OS process of the concurrency tests through HTTP (``test_concurrency.py``).

Not a test module: each process started by the test imports it, builds its own app and engine on the
test's own PostgreSQL database, opens its pages with Flask's test client (a session of its own user,
as a browser would hold), waits at a barrier for the other processes, then posts. It reports the
statuses and pages it got; an exception in a view (a 500 in production: ``TESTING`` propagates it)
is reported as an error.
"""

from __future__ import annotations

import re
import secrets
import traceback

#: Imported once by the fork server, before it forks the workers (each then builds its own app).
PRELOAD = ["app", "app.pdf", "invoicing.facturx", "invoicing.services.invoices", "offers.services.quotes"]
WORKERS = 8
#: Per worker: a quote (series DEV), a 1 % deposit (series FAC), a quote, a deposit.
STEPS = 4


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
    }


def browser(app, email: str):
    """A test client logged in as ``email`` (its session set as the login would), with the CSRF
    token of its session: ``(client, token)``."""
    import sqlalchemy as sa
    from itsdangerous import URLSafeTimedSerializer

    from app.extensions import db
    from app.models import User

    user = db.session.scalar(sa.select(User).where(User.email == email))
    raw = secrets.token_hex(20)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session["csrf_token"] = raw
    db.session.remove()
    return client, URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def _run(index: int, url: str, instance: str, barrier, results, body) -> None:
    outcome = {"worker": index, "answers": [], "errors": []}
    try:
        from app import create_app
        from app.extensions import db
        from tests.conftest import IsolatedClient

        app = create_app(app_config(url, instance))
        app.test_client_class = IsolatedClient  # each request its own ``g`` (its own logged-in user)
        with app.app_context():
            body(app, barrier, outcome)
            db.session.remove()
            db.engine.dispose()
    except Exception:
        outcome["errors"].append(traceback.format_exc())
    results.put(outcome)


def issue_documents(index: int, url: str, instance: str, barrier, results, plan: dict) -> None:
    """Issue, through the pages, a quote for each of this worker's events and a 1 % deposit on the
    accepted quote's event, alternately; answers are ``(series, status, location)``."""

    def body(app, barrier, outcome):
        from app.pdf import render_pdf
        from invoicing.facturx import PDF_VARIANT, compile_schematrons

        coordinator, coordinator_token = browser(app, plan["coordinator"])
        treasurer, treasurer_token = browser(app, plan["treasurer"])
        compile_schematrons()  # warm up before the start line: the race is about numbers
        render_pdf("<p>Échauffement</p>", pdf_variant=PDF_VARIANT)
        events = list(plan["events"][index])
        barrier.wait(timeout=60)
        for step in range(STEPS):
            try:
                if step % 2 == 0:
                    response = coordinator.post(
                        f"/evenements/{events.pop(0)}/devis",
                        # Each submission is a form of its own: its own one-time token.
                        data={
                            "validity_days": "30",
                            "issue_token": secrets.token_urlsafe(24),
                            "csrf_token": coordinator_token,
                        },
                    )
                    series = "DEV"
                else:
                    response = treasurer.post(
                        f"/evenements/{plan['deposit_event']}/facturation/acompte",
                        data={"percent": "1", "amount": "", "csrf_token": treasurer_token},
                    )
                    series = "FAC"
                outcome["answers"].append((series, response.status_code, response.headers.get("Location")))
            except Exception:
                outcome["errors"].append(traceback.format_exc())

    _run(index, url, instance, barrier, results, body)


def post_once(index: int, url: str, instance: str, barrier, results, plan: dict) -> None:
    """GET ``plan["page"]`` as ``plan["users"][index]``, wait for the others, then POST the page's
    hidden fields with ``plan["data"][index]``; the answer is ``(status, location, page)``."""

    def body(app, barrier, outcome):
        client, token = browser(app, plan["users"][index])
        page = client.get(plan["page"]).get_data(as_text=True)
        hidden = dict(re.findall(r'<input[^>]*name="(version_id)"[^>]*value="([^"]*)"', page))
        barrier.wait(timeout=60)
        try:
            response = client.post(
                plan["action"], data={**hidden, **plan["data"][index], "csrf_token": token}
            )
            outcome["answers"].append(
                (response.status_code, response.headers.get("Location"), response.get_data(as_text=True))
            )
        except Exception:
            outcome["errors"].append(traceback.format_exc())

    _run(index, url, instance, barrier, results, body)
