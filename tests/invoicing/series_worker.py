"""One OS process of the per-actor series test (``test_actor_series_concurrency.py``).

Not a test module: each process builds its own app and engine on the test's own PostgreSQL database,
waits for the others, then numbers and inserts invoices in three series at once (the coordinator's
``FAC``, and two actors' own series ``organisation:<id>``, both with the prefix ``MELI`` on purpose:
series are kept apart by their issuer, not only by their prefix), one transaction each, committing
them or rolling back the ones planned.
"""

from __future__ import annotations

import traceback
from datetime import date

ISSUE_DATE = date(2031, 3, 1)
PRELOAD = ["app", "app.numbering", "invoicing.models"]
STEPS = 6
WORKERS = 8


def series_of(step: int, first: int, second: int) -> tuple[str, int | None, str]:
    """(issuer, organisation id, prefix) of a step: FAC, actor 1, actor 2, FAC, actor 1, actor 2."""
    return [
        ("coordinator", None, "FAC"),
        (f"organisation:{first}", first, "MELI"),
        (f"organisation:{second}", second, "MELI"),
    ][step % 3]


def rolled_back(worker: int, step: int) -> bool:
    """Workers 0 to 5 roll back their step of the same rank: 6 of 48 (two in each series)."""
    return worker < STEPS and step == worker


def app_config(url: str, instance: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": url,
        "OUTBOX_DIR": f"{instance}/outbox",
        "MAIL_SERVER": None,
        "REDIS_URL": None,
        "PUBLIC_BASE_URL": "http://localhost",
        "PDF_RENDER_DETACHED": False,  # the render watched in this process
    }


def number_in_parallel(worker: int, url: str, instance: str, ids: dict, barrier, results) -> None:
    outcome = {"worker": worker, "committed": [], "rolled_back": [], "errors": []}
    try:
        from decimal import Decimal

        from app import create_app
        from app.db import utcnow
        from app.extensions import db
        from app.numbering import next_number
        from invoicing.models import Invoice, InvoiceKind, InvoiceStatus

        app = create_app(app_config(url, instance))
        with app.app_context():
            barrier.wait(timeout=60)
            for step in range(STEPS):
                issuer, organisation_id, prefix = series_of(step, ids["first"], ids["second"])
                try:
                    number = next_number(issuer, prefix, ISSUE_DATE.year)
                    db.session.add(
                        Invoice(
                            issuer=issuer,
                            issuer_organisation_id=organisation_id,
                            kind=InvoiceKind.INVOICE,
                            status=InvoiceStatus.ISSUED,
                            number=number,
                            client_id=ids["client"],
                            issue_date=ISSUE_DATE,
                            seller={},
                            buyer={},
                            mentions=[],
                            total_net=Decimal("1.00"),
                            total_vat=Decimal("0.00"),
                            total_gross=Decimal("1.00"),
                            issued_at=utcnow(),
                        )
                    )
                    db.session.flush()
                    if rolled_back(worker, step):
                        db.session.rollback()
                        outcome["rolled_back"].append((issuer, number))
                    else:
                        db.session.commit()
                        outcome["committed"].append((issuer, number))
                except Exception:
                    db.session.rollback()
                    outcome["errors"].append(traceback.format_exc())
            db.session.remove()
            db.engine.dispose()
    except Exception:
        outcome["errors"].append(traceback.format_exc())
    results.put(outcome)
