"""Each assignment's copy of its event's start (``assignments.event_starts_at``, the portal's sort):
equal to the event's start after any sequence of flushed changes (assignments added and moved, lots
moved to another event, events moved in time), and written again by the rebuild command."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.extensions import db
from offers.models import Assignment, AssignmentStatus, Event, Lot
from tests.offers.test_events import add_assignment, add_lot


def mismatches() -> list[tuple]:
    """Assignments whose copy differs from their event's start (in SQL, as the portal reads it)."""
    return db.session.execute(
        sa.select(Assignment.id, Assignment.event_starts_at, Event.starts_at)
        .join(Lot, Lot.id == Assignment.lot_id)
        .join(Event, Event.id == Lot.event_id)
        .where(sa.or_(Assignment.event_starts_at.is_(None), Assignment.event_starts_at != Event.starts_at))
    ).all()


STEP = st.tuples(
    st.sampled_from(["assign", "move_assignment", "move_lot", "move_event", "new_lot"]),
    st.integers(0, 5),
    st.integers(-400, 400),
)


@settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=12))
@example(steps=[("move_event", 0, 30)])
@example(steps=[("move_lot", 0, 0), ("move_event", 1, -20)])
@example(steps=[("move_assignment", 1, 0), ("move_event", 0, 5)])
@example(steps=[("new_lot", 2, 0), ("assign", 4, 0)])
def test_the_copy_equals_the_events_start_after_any_sequence_of_changes(
    app, make_event, make_category, make_organisation, steps
):
    with db.session.begin_nested() as example:
        category = make_category()
        actors = [make_organisation(name=f"Acteur {n}") for n in range(3)]
        events = [make_event(title=f"Événement {n}") for n in range(2)]
        lots = [add_lot(events[n % 2], category, f"Lot {n}") for n in range(3)]
        assignments = [add_assignment(lots[n], actors[n], AssignmentStatus.ACCEPTED) for n in range(3)]
        db.session.flush()
        assert mismatches() == []
        for action, which, days in steps:
            event = events[which % 2]
            if action == "assign":
                lot, actor = lots[which % len(lots)], actors[(which + len(assignments)) % 3]
                if not any(a.lot is lot and a.organisation is actor for a in assignments):
                    assignments.append(add_assignment(lot, actor, AssignmentStatus.INVITED))
            elif action == "move_assignment":
                assignment = assignments[which % len(assignments)]
                target = lots[(which + 1) % len(lots)]
                if not any(
                    a.lot is target and a.organisation is assignment.organisation for a in assignments
                ):
                    assignment.lot = target
            elif action == "move_lot":
                lot = lots[which % len(lots)]
                lot.event = events[1] if lot.event is events[0] else events[0]
            elif action == "move_event":
                event.starts_at += timedelta(days=days)
                event.ends_at += timedelta(days=days)
            else:
                lots.append(add_lot(event, category, f"Lot {len(lots)}"))
            db.session.flush()
            assert mismatches() == [], (action, which, days)
        example.rollback()


def test_the_command_writes_the_copies_again(runner, make_event, make_category, make_organisation):
    """After SQL written by hand (a data migration, a bulk load), ``flask offers rebuild-work``
    writes every assignment's copy again."""
    lot = add_lot(make_event(), make_category(), "Buvette")
    add_assignment(lot, make_organisation(), AssignmentStatus.ACCEPTED)
    add_assignment(lot, make_organisation(), AssignmentStatus.INVITED)
    db.session.commit()
    db.session.execute(sa.update(Assignment).values(event_starts_at=None))
    db.session.commit()
    assert len(mismatches()) == 2
    result = runner.invoke(args=["offers", "rebuild-work"])
    assert result.exit_code == 0, result.output
    assert "2 date(s) d'événement recopiée(s) sur les affectations" in result.output
    assert mismatches() == []
