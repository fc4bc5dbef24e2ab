"""One OS process of the concurrent-numbering test (``test_numbering_concurrency.py``).

Not a test module: each process started by the test imports it, builds its own app and engine on the
test's own PostgreSQL database, waits for the others, then issues real documents with the invoice
services (a 1 % deposit in the ``FAC`` series, a 1,00 € credit note in the ``AV`` series), one
transaction each, committing them or rolling back the ones planned.
"""

from __future__ import annotations

import traceback
from datetime import date
from decimal import Decimal

#: The issue date of every document the workers issue: a year of its own, so each series starts at 1.
ISSUE_DATE = date(2031, 1, 15)
#: Imported once by the fork server, before it forks the workers (each then builds its own app).
PRELOAD = ["app", "app.pdf", "invoicing.facturx", "invoicing.services.invoices", "invoicing.documents"]
#: Transactions per worker: FAC, AV, FAC, AV, FAC.
STEPS = 5
WORKERS = 8


def series_of(step: int) -> str:
    return "FAC" if step % 2 == 0 else "AV"


def rolled_back(worker: int, step: int) -> bool:
    """Workers 0 to 3 roll back their step of the same rank (2 FAC and 2 AV): 4 of 40, 10 %."""
    return worker < 4 and step == worker


def app_config(url: str, instance: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": url,
        "OUTBOX_DIR": f"{instance}/outbox",
        "MAIL_SERVER": None,
        "REDIS_URL": None,
        "PUBLIC_BASE_URL": "http://localhost",
    }


def issue_in_parallel(worker: int, url: str, instance: str, barrier, results) -> None:
    """Issue :data:`STEPS` documents; put ``{"worker", "committed", "rolled_back", "errors"}`` on
    ``results`` (numbers by series, and any exception's traceback)."""
    outcome = {"worker": worker, "committed": [], "rolled_back": [], "errors": []}
    try:
        import sqlalchemy as sa

        from app import create_app
        from app.demo import demo_user
        from app.extensions import db
        from app.pdf import render_pdf
        from invoicing.facturx import PDF_VARIANT, compile_schematrons
        from invoicing.models import Invoice
        from invoicing.services.invoices import issue_credit_note, issue_deposit
        from offers.models import Quote

        app = create_app(app_config(url, instance))
        with app.app_context():
            treasurer = demo_user("tresorerie@example.org")
            deposit = db.session.scalar(sa.select(Invoice).where(Invoice.number == "FAC-2011-0001"))
            quote = db.session.get(Quote, deposit.quote_id)
            db.session.commit()
            # Warm up before the start line (schematrons compiled, WeasyPrint's fonts loaded), so
            # the race is about numbers, not about who compiles first while holding a series' lock.
            compile_schematrons()
            render_pdf("<p>Échauffement</p>", pdf_variant=PDF_VARIANT)
            barrier.wait(timeout=60)
            for step in range(STEPS):
                try:
                    if series_of(step) == "FAC":
                        document = issue_deposit(quote, treasurer, percent=Decimal("1"), today=ISSUE_DATE)
                    else:
                        document = issue_credit_note(
                            deposit,
                            treasurer,
                            reason=f"Essai de concurrence {worker}-{step}",
                            amount=Decimal("1.00"),
                            today=ISSUE_DATE,
                        )
                    number = document.number
                    if rolled_back(worker, step):
                        db.session.rollback()
                        outcome["rolled_back"].append(number)
                    else:
                        db.session.commit()
                        outcome["committed"].append(number)
                except Exception:
                    db.session.rollback()
                    outcome["errors"].append(traceback.format_exc())
            db.session.remove()
            db.engine.dispose()
    except Exception:
        outcome["errors"].append(traceback.format_exc())
    results.put(outcome)
