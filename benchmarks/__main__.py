"""``make bench``: figures for the pages and documents users wait for.

Runs on a scratch SQLite database with the demo loaded, and prints one line per measure. The
machines are noisy: compare ratios between runs on the same machine rather than absolute seconds.
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path


def measure(label: str, fn, repeat: int) -> None:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"{label:<48} median {median * 1000:8.1f} ms   ({1 / median:7.1f}/s, n={repeat})")


def main() -> int:
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from tests.conftest import AuthActions, IsolatedClient

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'bench.db'}",
                "OUTBOX_DIR": str(Path(tmp) / "outbox"),
                "SESSION_COOKIE_SECURE": False,
                "LOGIN_MAX_FAILURES_PER_ADDRESS": 10**6,
                "SCHEMA_CHECK": False,  # migrated just below
            }
        )
        app.test_client_class = IsolatedClient
        with app.app_context():
            upgrade()
        result = app.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output

        client = app.test_client()
        AuthActions(client).login("coordination@example.org", "demo-maillage")
        with app.app_context():
            from offers.models import Event, Quote

            event_id = db.session.scalar(db.select(Event.id))
            quote = db.session.scalar(db.select(Quote).order_by(Quote.version.desc()))
            quote_id = quote.id

        measure("GET /evenements (list)", lambda: client.get("/evenements"), 50)
        measure(
            f"GET /evenements/{event_id} (10 lots, 34 lines)",
            lambda: client.get(f"/evenements/{event_id}"),
            50,
        )
        measure("GET /acteurs (directory list)", lambda: client.get("/acteurs"), 50)
        measure("GET /annuaire (public directory)", lambda: client.get("/annuaire"), 50)
        measure("GET /devis/<id>/pdf (stored PDF)", lambda: client.get(f"/devis/{quote_id}/pdf"), 50)

        with app.app_context():
            from offers.services.quotes import render_quote_pdf

            quote = db.session.get(Quote, quote_id)
            measure("render the Assises quote PDF (WeasyPrint)", lambda: render_quote_pdf(quote), 5)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{'peak resident memory of this process':<48} {peak:8.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
