"""Each actor's own series stays gapless, unique and chronological under concurrent issuing, and apart
from the coordinator's and every other actor's, on PostgreSQL (``app/numbering.py``).

Eight OS processes number and insert invoices at the same time in three series: the coordinator's
``FAC`` and two actors' own series, both using the prefix ``MELI`` (kept apart by their issuer,
``organisation:<id>``); 6 of the 48 transactions are rolled back on purpose after their number was
taken. Each series must then hold exactly 1..N in the order of issue. Same pattern as
``test_numbering_concurrency.py``; skipped without ``TEST_DATABASE_URL`` (SQLite serialises writers).
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from tests.invoicing import series_worker as worker
from tests.processes import run_together, scratch_database

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL"),
        reason="TEST_DATABASE_URL not set: concurrent numbering is tested on PostgreSQL only",
    ),
]

DEADLINE = 120


@pytest.fixture
def own_database():
    """A database of this test's own on the TEST_DATABASE_URL server, dropped at the end."""
    with scratch_database("series") as url:
        yield url


def _prepare(url: str, instance: str) -> dict:
    """Migrate; one client and two actors."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models import Client, Organisation, VatRegime

    app = create_app(worker.app_config(url, instance))
    with app.app_context():
        upgrade()
        client = Client(name="Nantes Métropole", siret="21440109300015")
        first = Organisation(name="Méli-Mélo", slug="meli-melo", vat_regime=VatRegime.EXEMPT)
        second = Organisation(name="Mélimélo bis", slug="melimelo-bis", vat_regime=VatRegime.FRANCHISE)
        db.session.add_all([client, first, second])
        db.session.commit()
        ids = {"client": client.id, "first": first.id, "second": second.id}
        db.session.remove()
        db.engine.dispose()
    return ids


def _stored(url: str, issuer: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text("SELECT number FROM invoices WHERE issuer = :issuer ORDER BY issued_at, id"),
                    {"issuer": issuer},
                ).scalars()
            )
    finally:
        engine.dispose()


def test_actor_series_are_separate_gapless_and_chronological(own_database, tmp_path):
    ids = _prepare(own_database, str(tmp_path))
    outcomes = run_together(
        worker.number_in_parallel,
        lambda index, barrier, results: (index, own_database, str(tmp_path), ids, barrier, results),
        workers=worker.WORKERS,
        preload=worker.PRELOAD,
        deadline=DEADLINE,
        name="series",
    )
    committed = [tuple(n) for outcome in outcomes for n in outcome["committed"]]
    discarded = [tuple(n) for outcome in outcomes for n in outcome["rolled_back"]]
    assert (len(committed), len(discarded)) == (42, 6)
    first, second = f"organisation:{ids['first']}", f"organisation:{ids['second']}"
    for issuer, prefix in (("coordinator", "FAC"), (first, "MELI"), (second, "MELI")):
        mine = sorted(number for who, number in committed if who == issuer)
        assert len(mine) == len(set(mine)) == 14
        stored = _stored(own_database, issuer)
        # Exactly 1..14 in the order of issue: no gap (the rolled-back numbers were given back), no
        # duplicate, and the other series never took one of its numbers.
        assert stored == [f"{prefix}-2031-{value:04d}" for value in range(1, 15)]
        assert sorted(stored) == mine
