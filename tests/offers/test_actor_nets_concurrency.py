"""Two transactions rewriting the same event's nets on PostgreSQL (``offers.services.actor_nets``):
a coordinator's line changes and a quote being issued (which locks the event's row first). The
second waits for the first instead of either failing, neither deadlocks, and the nets kept equal a
recomputation once both have committed.

Real commits on a database of the test's own (migrated, demo loaded), two sessions in two threads.
Skipped without ``TEST_DATABASE_URL``: SQLite serialises every writer anyway.
"""

from __future__ import annotations

import os
import threading
import time
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from offers.models import ActorEventNet, Event, EventStatus, Line, Lot, LotStatus
from offers.services import actor_nets
from tests.invoicing.numbering_worker import app_config
from tests.processes import scratch_database

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL"),
        reason="TEST_DATABASE_URL not set: concurrent refreshes are tested on PostgreSQL only",
    ),
]


@pytest.fixture
def demo_app(tmp_path):
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    with scratch_database("actor_nets") as url:
        app = create_app(app_config(url, str(tmp_path)))
        with app.app_context():
            upgrade()
            result = app.test_cli_runner().invoke(args=["demo", "load"])
            assert result.exit_code == 0, result.output
            db.session.remove()
            yield app
            db.session.remove()
            db.engine.dispose()


def _add_line(session: Session, lot: Lot, price: str) -> None:
    template = session.scalars(sa.select(Line).where(Line.lot_id == lot.id).order_by(Line.id)).first()
    session.add(
        Line(
            lot_id=lot.id,
            organisation_id=template.organisation_id,
            description="Supplément",
            quantity=D("1"),
            unit="forfait",
            unit_price=D(price),
            vat_rate=template.vat_rate,
            position=99,
        )
    )
    session.flush()


@pytest.mark.parametrize("other", ["issuer", "editor"])
def test_a_second_writer_of_the_event_waits_and_the_nets_stay_exact(demo_app, other):
    """``issuer``: a quote issued (the event's row locked first, then its status changed) while a
    coordinator changes lines; ``editor``: a second coordinator adding a line to the same event
    (without a lock, its rewrite would insert the keys the first one's commit just wrote)."""
    from app.extensions import db

    engine = db.engine
    with Session(engine) as setup:
        lot = setup.scalars(
            sa.select(Lot).where(Lot.status == LotStatus.OPEN, Lot.lines.any()).order_by(Lot.id)
        ).first()
        event_id, lot_id = lot.event_id, lot.id

    coordinator = Session(engine)
    _add_line(
        coordinator, coordinator.get(Lot, lot_id), "100.00"
    )  # the event's nets rewritten, not committed

    outcome: dict = {}

    def issue() -> None:
        try:
            with Session(engine) as writer:
                if other == "issuer":
                    # What quote issuing does: the event's row first, then its status.
                    writer.execute(sa.select(Event.id).where(Event.id == event_id).with_for_update())
                    writer.get(Event, event_id).status = EventStatus.QUOTED
                else:
                    _add_line(writer, writer.get(Lot, lot_id), "3.00")
                writer.commit()
            outcome["done"] = time.monotonic()
        except Exception as exc:  # reported to the test below
            outcome["error"] = exc

    thread = threading.Thread(target=issue)
    thread.start()
    time.sleep(1.0)
    assert thread.is_alive(), outcome  # waits for the coordinator's transaction
    # The coordinator goes on: another line (another rewrite, rows pointing at the event), then commits.
    _add_line(coordinator, coordinator.get(Lot, lot_id), "20.00")
    committed = time.monotonic()
    coordinator.commit()
    coordinator.close()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert "error" not in outcome, outcome
    assert outcome["done"] >= committed

    with Session(engine) as check:
        kept = {
            tuple(row)
            for row in check.execute(
                sa.select(*(getattr(ActorEventNet, name) for name in actor_nets._COLUMNS)).where(
                    ActorEventNet.event_id == event_id
                )
            )
        }
        fresh = {tuple(row) for row in check.execute(actor_nets.sums([event_id]))}
        assert kept == fresh
        lines = check.scalars(sa.select(Line).where(Line.lot_id == lot_id, Line.description == "Supplément"))
        if other == "issuer":
            assert {row[3] for row in kept} == {EventStatus.QUOTED}
            assert sorted(line.unit_price for line in lines) == [D("20.00"), D("100.00")]
        else:
            assert sorted(line.unit_price for line in lines) == [D("3.00"), D("20.00"), D("100.00")]
