"""Concurrency through the pages, on PostgreSQL: OS processes, each with its own app, engine and
logged-in test client, post at the same instant (a barrier) on one database.

- 8 workers issue quotes (series ``DEV``) and deposits (series ``FAC``) alternately: every answer is a
  redirect to the new document, and each series holds exactly 1..N;
- two coordinators save the same lot from the same version: one is saved, the other gets a 409 with
  its own input still in the form;
- two people of the same organisation answer one invitation, one accepting, one declining: exactly
  one answer wins, the other gets a 409.

Like ``tests/invoicing/test_numbering_concurrency.py``, it needs a database of its own on the
``TEST_DATABASE_URL`` server (migrated, with the demo loaded), dropped at the end; without
``TEST_DATABASE_URL`` it is skipped: SQLite serialises every writer anyway.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from tests.processes import run_together, scratch_database
from tests.security import concurrency_worker as worker

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL"),
        reason="TEST_DATABASE_URL not set: concurrency is tested on PostgreSQL only",
    ),
]

#: Seconds a run may take before the test gives up on its processes.
DEADLINE = 180
LOT_TITLES = ["Buffet revu par la coordination", "Buffet revu par l'administration"]


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """A database of this module's own on the TEST_DATABASE_URL server, prepared once, dropped at
    the end: ``(url, instance, plan)``."""
    with scratch_database("concurrency") as url:
        instance = str(tmp_path_factory.mktemp("concurrency"))
        yield url, instance, _prepare(url, instance)


def _prepare(url: str, instance: str) -> dict:
    """Migrate, load the demo, credit the demo's final invoice (so its accepted quote takes
    deposits again), and add 16 events ready to quote, a lot to edit, an invitation to answer, a
    second coordinator and a second person of the invited organisation."""
    from flask_migrate import upgrade

    from app import create_app
    from app.auth.passwords import hash_password
    from app.demo import demo_user
    from app.extensions import db
    from app.models import Category, Client, Organisation, Role, User, VatRegime
    from invoicing.models import Invoice
    from invoicing.services.invoices import issue_credit_note
    from offers.models import Assignment, AssignmentRole, AssignmentStatus, Event, EventStatus, Line, Lot
    from offers.services.quotes import missing_for_quote

    app = create_app(worker.app_config(url, instance))
    with app.app_context():
        upgrade()
        result = app.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output
        final = db.session.scalar(sa.select(Invoice).where(Invoice.number == "FAC-2011-0003"))
        issue_credit_note(
            final, demo_user("tresorerie@example.org"), reason="Remise à zéro", today=date(2011, 12, 31)
        )
        actor = demo_user("takapres@example.org")
        organisation = db.session.get(Organisation, actor.organisation_id)
        seller = db.session.scalar(
            sa.select(Organisation).where(Organisation.vat_regime == VatRegime.EXEMPT, Organisation.active)
        )
        client = db.session.scalar(sa.select(Client).order_by(Client.id))
        category = db.session.scalar(sa.select(Category).order_by(Category.id))
        hashed = hash_password("concurrence-mot-de-passe")
        db.session.add_all(
            [
                User(
                    email="coordination2@example.org",
                    name="Coordination 2",
                    role=Role.COORDINATOR,
                    password_hash=hashed,
                ),
                User(
                    email="takapres2@example.org",
                    name="Second TAK-APRES",
                    role=Role.ACTOR,
                    organisation_id=organisation.id,
                    password_hash=hashed,
                ),
            ]
        )

        def ready_event(title: str) -> Event:
            event = Event(
                title=title,
                client=client,
                venue="Salle des fêtes",
                starts_at=datetime(2031, 6, 1, 8, 0, tzinfo=UTC),
                ends_at=datetime(2031, 6, 1, 17, 0, tzinfo=UTC),
                headcount=80,
                status=EventStatus.CONSULTING,
            )
            lot = Lot(event=event, category=category, title="Buffet", position=0)
            db.session.add_all(
                [
                    event,
                    lot,
                    Assignment(
                        lot=lot,
                        organisation=seller,
                        role=AssignmentRole.LEAD,
                        status=AssignmentStatus.ACCEPTED,
                    ),
                    Line(
                        lot=lot,
                        organisation=seller,
                        description="Repas",
                        quantity=D("80"),
                        unit="repas",
                        unit_price=D("12.50"),
                        vat_rate=D("0"),
                    ),
                ]
            )
            return event

        events = [ready_event(f"Concurrence {n}") for n in range(worker.WORKERS * worker.STEPS // 2)]
        edited = ready_event("Lot disputé")
        invitation = Assignment(
            lot=Lot(event=ready_event("Invitation disputée"), category=category, title="Goûter", position=1),
            organisation=organisation,
            role=AssignmentRole.PARTNER,
            status=AssignmentStatus.INVITED,
            invited_at=datetime(2026, 1, 5, tzinfo=UTC),
        )
        db.session.add(invitation)
        db.session.flush()
        assert [missing_for_quote(event) for event in events] == [[]] * len(events)
        deposit = db.session.scalar(sa.select(Invoice).where(Invoice.number == "FAC-2011-0001"))
        plan = {
            "coordinator": "coordination@example.org",
            "treasurer": "tresorerie@example.org",
            "events": [[events[2 * i].id, events[2 * i + 1].id] for i in range(worker.WORKERS)],
            "deposit_event": deposit.event_id,
            "lot": edited.lots[0].id,
            "category": category.id,
            "invitation": invitation.id,
        }
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return plan


def _race(url: str, instance: str, target, plan: dict, workers: int) -> list[dict]:
    """Run ``target`` in ``workers`` processes started together; their outcomes, by worker."""
    outcomes = run_together(
        target,
        lambda index, barrier, results: (index, url, instance, barrier, results, plan),
        workers=workers,
        preload=worker.PRELOAD,
        deadline=DEADLINE,
    )
    return sorted(outcomes, key=lambda outcome: outcome["worker"])


def _scalars(url: str, sql: str, **params) -> list:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).scalars())
    finally:
        engine.dispose()


def test_eight_workers_issue_quotes_and_invoices_without_gap_duplicate_or_500(database):
    url, instance, plan = database
    outcomes = _race(url, instance, worker.issue_documents, plan, worker.WORKERS)
    answers = [answer for outcome in outcomes for answer in outcome["answers"]]
    assert len(answers) == worker.WORKERS * worker.STEPS
    assert [(series, status) for series, status, _location in answers if status != 302] == []
    year = datetime.now(UTC).year
    quotes = _scalars(
        url, "SELECT number FROM quotes WHERE number LIKE :p ORDER BY number", p=f"DEV-{year}-%"
    )
    invoices = _scalars(
        url, "SELECT number FROM invoices WHERE number LIKE :p ORDER BY number", p=f"FAC-{year}-%"
    )
    half = worker.WORKERS * worker.STEPS // 2
    assert quotes == [f"DEV-{year}-{n:04d}" for n in range(1, half + 1)]
    assert invoices == [f"FAC-{year}-{n:04d}" for n in range(1, half + 1)]
    # Each redirect leads to its own document: no two answers share one.
    assert len({location for _series, _status, location in answers}) == len(answers)


def test_two_coordinators_saving_one_lot_one_wins_the_other_keeps_its_input(database):
    url, instance, plan = database
    lot = plan["lot"]
    race = {
        "users": ["coordination@example.org", "coordination2@example.org"],
        "page": f"/lots/{lot}/modifier",
        "action": f"/lots/{lot}/modifier",
        "data": [
            {"title": title, "category_id": str(plan["category"]), "place": "Hall", "specification": ""}
            for title in LOT_TITLES
        ],
    }
    outcomes = _race(url, instance, worker.post_once, race, 2)
    (first,), (second,) = (outcome["answers"] for outcome in outcomes)
    statuses = sorted([first[0], second[0]])
    assert statuses == [302, 409]
    winner, loser = (0, 1) if first[0] == 302 else (1, 0)
    page = (first, second)[loser][2]
    assert f'value="{LOT_TITLES[loser]}"' in page.replace("&#39;", "'")
    assert "au même instant" in page or "entre-temps" in page
    assert _scalars(url, "SELECT title FROM lots WHERE id = :id", id=lot) == [LOT_TITLES[winner]]


def test_two_answers_to_one_invitation_exactly_one_wins(database):
    url, instance, plan = database
    assignment = plan["invitation"]
    race = {
        "users": ["takapres@example.org", "takapres2@example.org"],
        "page": f"/portail/affectations/{assignment}",
        "action": f"/portail/affectations/{assignment}/reponse",
        "data": [{"accept": "1", "comment": ""}, {"decline": "1", "comment": "Indisponibles"}],
    }
    outcomes = _race(url, instance, worker.post_once, race, 2)
    (accepted,), (declined,) = (outcome["answers"] for outcome in outcomes)
    assert sorted([accepted[0], declined[0]]) == [302, 409]
    status = _scalars(url, "SELECT status FROM assignments WHERE id = :id", id=assignment)
    assert status == (["accepted"] if accepted[0] == 302 else ["declined"])
    comment = _scalars(url, "SELECT comment FROM assignments WHERE id = :id", id=assignment)
    assert comment == ([""] if accepted[0] == 302 else ["Indisponibles"])  # the loser changed nothing
    loser = declined if accepted[0] == 302 else accepted
    assert "déjà répondu" in loser[2].replace("&#39;", "'")
