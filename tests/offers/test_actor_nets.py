"""Each actor's nets per event (``actor_event_nets``) kept up to date: through the app's forms (a
line added, changed, moved to another actor and deleted; a lot cancelled and reopened), after any
sequence of changes to lines, lots and assignments, by the command that rebuilds it, and on
PostgreSQL as on SQLite (the exact sums)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.extensions import db
from offers.models import ActorEventNet, AssignmentStatus, Event, EventStatus, Line, Lot, LotStatus
from offers.services import actor_nets
from tests.conftest import csrf_token
from tests.offers.test_events import add_assignment, add_line, add_lot


def stored() -> dict[tuple[int, int], tuple[D, D]]:
    """The nets kept, by actor and event."""
    rows = db.session.execute(
        sa.select(
            ActorEventNet.organisation_id,
            ActorEventNet.event_id,
            ActorEventNet.open_net,
            ActorEventNet.accepted_net,
        )
    )
    return {(org, event): (open_net, accepted) for org, event, open_net, accepted in rows}


def kept_rows() -> set[tuple]:
    columns = [getattr(ActorEventNet, name) for name in actor_nets._COLUMNS]
    return {tuple(row) for row in db.session.execute(sa.select(*columns))}


def computed_rows() -> set[tuple]:
    return {tuple(row) for row in db.session.execute(actor_nets.sums())}


# --- through the app ------------------------------------------------------------------------------


@pytest.fixture
def quoted(make_event, make_category, make_organisation):
    """A quoted event's lot that Napce accepted and Romsi was only invited to, no line yet."""
    food = make_category(name="Restauration", default_vat_rate=D("0.1000"))
    event = make_event(
        title="Assises",
        status=EventStatus.CONSULTING,
        starts_at=datetime(2030, 5, 20, 7, 0, tzinfo=UTC),
        ends_at=datetime(2030, 5, 20, 17, 0, tzinfo=UTC),
    )
    lunch = add_lot(event, food, "Déjeuner")
    napce = make_organisation(name="Napce", categories=[food])
    romsi = make_organisation(name="Romsi", categories=[food])
    add_assignment(lunch, napce, AssignmentStatus.ACCEPTED)
    add_assignment(lunch, romsi, AssignmentStatus.INVITED)
    db.session.commit()
    return event, lunch, napce, romsi


def line_form(client, url: str, organisation, quantity: str, price: str, **extra):
    page = client.get(url)
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "organisation_id": str(organisation.id),
        "description": "Repas",
        "quantity": quantity,
        "unit": "forfait",
        "unit_price": price,
        "vat_rate": "",
        **extra,
    }
    version = page.get_data(as_text=True).split('name="version_id"', 1)
    if len(version) == 2:
        data["version_id"] = version[1].split('value="', 1)[1].split('"', 1)[0]
    return client.post(url, data=data)


def lot_button(client, lot, action: str):
    """The lot page's « Annuler le lot » or « Rouvrir » button (``annuler``, ``rouvrir``)."""
    page = client.get(f"/lots/{lot.id}")
    return client.post(
        f"/lots/{lot.id}/{action}",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "next": f"/lots/{lot.id}"},
    )


def test_the_forms_keep_the_nets(client, coordinator, quoted):
    event, lunch, napce, romsi = quoted
    response = line_form(client, f"/lots/{lunch.id}/lignes/nouvelle", napce, "3", "33.335")
    assert response.status_code == 400  # three decimals in a price: refused, nothing written
    assert stored() == {}

    response = line_form(client, f"/lots/{lunch.id}/lignes/nouvelle", napce, "3", "33.34")
    assert response.status_code == 302
    db.session.expire_all()
    assert stored() == {(napce.id, event.id): (D("100.02"), D("100.02"))}

    line = db.session.scalar(sa.select(Line).where(Line.lot_id == lunch.id))
    response = line_form(client, f"/lignes/{line.id}/modifier", napce, "2.5", "399.99")
    assert response.status_code == 302
    db.session.expire_all()
    assert stored() == {(napce.id, event.id): (D("999.98"), D("999.98"))}  # 999,975 rounded half up

    # The line given to Romsi, who was only invited: it counts on the lot, not as accepted.
    response = line_form(client, f"/lignes/{line.id}/modifier", romsi, "2.5", "399.99")
    assert response.status_code == 302
    db.session.expire_all()
    assert stored() == {(romsi.id, event.id): (D("999.98"), D("0.00"))}

    assert lot_button(client, lunch, "annuler").status_code == 302
    db.session.expire_all()
    assert db.session.get(Lot, lunch.id).status == LotStatus.CANCELLED
    assert stored() == {}  # a cancelled lot's lines count nowhere

    assert lot_button(client, lunch, "rouvrir").status_code == 302
    db.session.expire_all()
    assert stored() == {(romsi.id, event.id): (D("999.98"), D("0.00"))}

    page = client.get(f"/lots/{lunch.id}")
    version = db.session.get(Line, line.id).version_id
    response = client.post(
        f"/lignes/{line.id}/supprimer",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "version_id": str(version)},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert stored() == {}
    assert kept_rows() == computed_rows() == set()


def test_the_command_rebuilds_the_nets(runner, quoted):
    event, lunch, napce, _romsi = quoted
    add_line(lunch, napce, "4", "12.50")
    db.session.commit()
    kept = stored()
    assert kept == {(napce.id, event.id): (D("50.00"), D("50.00"))}
    db.session.execute(sa.delete(ActorEventNet))
    db.session.commit()
    result = runner.invoke(args=["offers", "rebuild-work"])
    assert result.exit_code == 0, result.output
    assert "1 montant(s) par acteur et événement" in result.output
    db.session.expire_all()
    assert stored() == kept


def test_a_line_filling_its_columns_is_kept_exactly_on_postgresql(app, quoted):
    """The columns hold more than the line service accepts (a net of 100 M€ at most): a line written
    past it with the largest quantity and price still saves, and PostgreSQL keeps its net exactly.
    (SQLite's scaled integers stop at about 9 × 10¹³ €, as for every amount stored there.)"""
    from app.money import line_net

    event, lunch, napce, _romsi = quoted
    quantity, price = D("99999999999.999"), D("999999999999.99")
    line = add_line(lunch, napce, str(quantity), str(price))
    assert line.id is not None
    assert kept_rows() == computed_rows()
    if db.session.get_bind().dialect.name == "postgresql":
        assert stored() == {(napce.id, event.id): (line_net(quantity, price),) * 2}


# --- any sequence of changes ------------------------------------------------------------------------

STEP = st.tuples(
    st.sampled_from(
        [
            "add",
            "price",
            "actor",
            "move_line",
            "delete",
            "cancel",
            "reopen",
            "accept",
            "withdraw",
            "drop_lot",
            "event_status",
            "event_move",
        ]
    ),
    st.integers(0, 3),  # which lot (or line)
    st.integers(0, 2),  # which actor
    st.decimals(min_value=D("0"), max_value=D("500"), places=2, allow_nan=False, allow_infinity=False),
)


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=16))
# Each kind of change at least once, whatever the draw: a price, an actor, a line moved to another
# event's lot, an answer, a lot cancelled and reopened, a lot deleted with its lines.
@example(steps=[("add", 0, 0, D("10.00")), ("price", 0, 0, D("20.00"))])
@example(steps=[("add", 0, 0, D("10.00")), ("actor", 0, 1, D("0"))])
@example(steps=[("add", 0, 0, D("10.00")), ("move_line", 1, 0, D("0"))])
@example(steps=[("add", 2, 1, D("10.00")), ("accept", 0, 0, D("0")), ("withdraw", 0, 0, D("0"))])
@example(steps=[("add", 1, 2, D("10.00")), ("cancel", 1, 0, D("0")), ("reopen", 1, 0, D("0"))])
@example(steps=[("add", 3, 0, D("10.00")), ("drop_lot", 3, 0, D("0"))])
@example(steps=[("add", 0, 0, D("10.00")), ("event_status", 2, 1, D("0")), ("event_move", 0, 0, D("40"))])
def test_the_nets_equal_a_recomputation_after_any_sequence_of_changes(
    app, make_event, make_category, make_organisation, steps
):
    with db.session.begin_nested() as example:
        food = make_category(name="Restauration")
        actors = [make_organisation(name=f"Acteur {n}", categories=[food]) for n in range(3)]
        events: list[Event] = [make_event(title=f"Événement {n}") for n in range(2)]
        lots = [add_lot(events[n % 2], food, f"Lot {n}") for n in range(4)]
        for lot in lots:  # every actor asked on every lot: an answer changes an assignment
            for actor in actors:
                add_assignment(lot, actor, AssignmentStatus.INVITED)
        for step in steps:
            action, which, who, amount = step
            lines = db.session.scalars(sa.select(Line).order_by(Line.id)).all()
            lot, actor = lots[which], actors[who]
            if action == "add" and lot in db.session:
                add_line(lot, actor, "1.5", str(amount))
            elif action in ("price", "actor", "move_line", "delete") and lines:
                line = lines[which % len(lines)]
                if action == "price":
                    line.unit_price = amount
                elif action == "actor":
                    line.organisation_id = actor.id
                elif action == "move_line":
                    live = [other for other in lots if other in db.session]
                    line.lot = live[which % len(live)]
                else:
                    db.session.delete(line)
            elif action in ("cancel", "reopen") and lot in db.session:
                lot.status = LotStatus.CANCELLED if action == "cancel" else LotStatus.OPEN
            elif action in ("accept", "withdraw") and lines:
                # The answer of a line's actor on its lot: it moves the line between the two sums.
                line = lines[which % len(lines)]
                assignment = next(
                    (a for a in line.lot.assignments if a.organisation_id == line.organisation_id), None
                )
                status = AssignmentStatus.ACCEPTED if action == "accept" else AssignmentStatus.WITHDRAWN
                if assignment is None:
                    add_assignment(line.lot, line.organisation, status)
                else:
                    assignment.status = status
            elif action in ("event_status", "event_move"):
                event = events[which % 2]
                if action == "event_status":
                    event.status = list(EventStatus)[(which + who) % len(EventStatus)]
                else:
                    event.starts_at += timedelta(days=int(amount))
                    event.ends_at += timedelta(days=int(amount))
            elif (
                action == "drop_lot" and lot in db.session and sum(other in db.session for other in lots) > 1
            ):
                db.session.delete(lot)
            db.session.flush()
            db.session.expire_all()  # collections read again: no deleted line left in a lot's
            assert kept_rows() == computed_rows(), step
        example.rollback()
    # Objects deleted in the example come back to the identity map with the rollback: forget them,
    # or the next example's rows (SQLite reuses their ids) would meet them there.
    db.session.expunge_all()
