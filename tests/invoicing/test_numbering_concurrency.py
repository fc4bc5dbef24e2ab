"""No gap and no duplicate under concurrent issuing, on PostgreSQL (``app/numbering.py``).

Eight OS processes, each with its own app and engine, issue real documents at the same time on one
database: 1 % deposits (series ``FAC``) and 1,00 € credit notes (series ``AV``), through the invoice
services, one transaction each; 10 % of the transactions are rolled back on purpose after their
document was numbered, rendered and flushed. Each series must then hold exactly 1..N, in the order the
documents were issued, and nothing may fail but the planned rollbacks.

The processes cannot share the rolled-back transaction of the other tests: this test creates a
database of its own on the ``TEST_DATABASE_URL`` server (migrated, with the demo loaded) and drops it
at the end. Without ``TEST_DATABASE_URL`` it is skipped: SQLite serialises every writer anyway.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from tests.invoicing import numbering_worker as worker
from tests.processes import run_together, scratch_database

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL"),
        reason="TEST_DATABASE_URL not set: concurrent numbering is tested on PostgreSQL only",
    ),
]

#: Seconds the whole run may take before the test gives up on its processes.
DEADLINE = 120


@pytest.fixture
def own_database():
    """A database of this test's own on the TEST_DATABASE_URL server, dropped at the end."""
    with scratch_database("numbering") as url:
        yield url


def _prepare(url: str, instance: str) -> None:
    """Migrate, load the demo, and credit the demo's final invoice in full, so that the accepted
    quote takes deposits again (the demo's 30 % deposit FAC-2011-0001 stays)."""
    from datetime import date

    from flask_migrate import upgrade

    from app import create_app
    from app.demo import demo_user
    from app.extensions import db
    from invoicing.models import Invoice
    from invoicing.services.invoices import issue_credit_note

    app = create_app(worker.app_config(url, instance))
    with app.app_context():
        upgrade()
        result = app.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output
        final = db.session.scalar(sa.select(Invoice).where(Invoice.number == "FAC-2011-0003"))
        note = issue_credit_note(
            final, demo_user("tresorerie@example.org"), reason="Remise à zéro", today=date(2011, 12, 31)
        )
        assert note.number == "AV-2011-0002"
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def _numbers(url: str, prefix: str) -> list[tuple[int, str]]:
    """``(value, number)`` of the series ``prefix`` in 2031, in the order the documents were issued."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT number FROM invoices WHERE number LIKE :pattern ORDER BY issued_at, id"),
                {"pattern": f"{prefix}-2031-%"},
            ).scalars()
            return [(int(number.rsplit("-", 1)[1]), number) for number in rows]
    finally:
        engine.dispose()


def _last_value(url: str, prefix: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT last_value FROM number_series WHERE prefix = :prefix AND year = 2031"),
                {"prefix": prefix},
            ).scalar_one()
    finally:
        engine.dispose()


def test_eight_processes_leave_no_gap_and_no_duplicate(own_database, tmp_path):
    _prepare(own_database, str(tmp_path))
    outcomes = run_together(
        worker.issue_in_parallel,
        lambda index, barrier, results: (index, own_database, str(tmp_path), barrier, results),
        workers=worker.WORKERS,
        preload=worker.PRELOAD,
        deadline=DEADLINE,
        name="numbering",
    )
    committed = [number for outcome in outcomes for number in outcome["committed"]]
    discarded = [number for outcome in outcomes for number in outcome["rolled_back"]]
    # 40 transactions, 4 rolled back on purpose (2 in each series).
    assert (len(committed), len(discarded)) == (36, 4)
    assert sorted(n.split("-")[0] for n in discarded) == ["AV", "AV", "FAC", "FAC"]

    for prefix, expected in (("FAC", 24 - 2), ("AV", 16 - 2)):
        mine = sorted(n for n in committed if n.startswith(f"{prefix}-"))
        assert len(mine) == len(set(mine)) == expected  # no duplicate among the commits
        stored = _numbers(own_database, prefix)
        # Exactly 1..N, no gap, no duplicate, and in the order of issue (chronological).
        assert [value for value, _number in stored] == list(range(1, expected + 1))
        assert sorted(number for _value, number in stored) == mine
        assert _last_value(own_database, prefix) == expected
