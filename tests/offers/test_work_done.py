"""The work done kept up to date as a user changes it: a quote accepted from the client's link (its
sums per actor and category), an event moved by the edit form, an event cancelled by its status
button (the first-time collaborations). After each step the tables say which event each pair of
actors first worked on and what each actor's lines add up to, and equal a rebuild."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from offers.models import EVENT_STATES, Collaboration, Event, EventStatus, Quote, QuoteLine, WorkTotal
from offers.services import work
from tests.conftest import csrf_token
from tests.offers.quote_fixtures import build_ready_event
from tests.offers.test_events import event_data
from tests.offers.test_quotes import accept, issue, latest, portal_link, send


@pytest.fixture
def coordinator(make_user, auth):
    user = make_user("coordinator", email="coordination@example.org")
    auth.login(user.email)
    return user


def pairs() -> dict[tuple[int, int], int]:
    rows = db.session.execute(
        sa.select(Collaboration.first_id, Collaboration.second_id, Collaboration.event_id)
    )
    return {(first, second): event for first, second, event in rows}


def rebuilt() -> dict[tuple[int, int], int]:
    """What a rebuild from the quotes would hold (computed, not written)."""
    rows = db.session.execute(work._first_events())
    return {(first, second): event for first, second, event in rows}


def totals() -> dict[tuple[int, int, str], object]:
    rows = db.session.execute(
        sa.select(WorkTotal.quote_id, WorkTotal.organisation_id, WorkTotal.category_name, WorkTotal.net)
    )
    return {(quote, actor, category): net for quote, actor, category, net in rows}


def line_sums(event) -> dict[tuple[int, int, str], object]:
    """The accepted quote's lines of each actor and category, added up here."""
    quote = db.session.scalar(sa.select(Quote).where(Quote.event_id == event.id, Quote.status == "accepted"))
    sums = {}
    for line in db.session.scalars(sa.select(QuoteLine).where(QuoteLine.quote_id == quote.id)):
        if line.kind == "line":
            key = (quote.id, line.organisation_id, line.category_name)
            sums[key] = sums.get(key, 0) + line.net
    return sums


def pair(a, b) -> tuple[int, int]:
    return (min(a.id, b.id), max(a.id, b.id))


def accepted(app, client, event) -> None:
    """Issue, send and accept the event's quote, as the coordinator and the client do."""
    assert issue(client, event).status_code == 302
    quote = latest(event)
    assert send(client, quote).status_code == 302
    db.session.commit()
    assert accept(app.test_client(), portal_link(quote)).status_code == 302
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "accepted"


def move(client, event, starts_at: str, ends_at: str) -> None:
    page = client.get(f"/evenements/{event.id}/modifier").get_data(as_text=True)
    data = event_data(
        event.client_id,
        title=event.title,
        starts_at=starts_at,
        ends_at=ends_at,
        response_deadline="",
        fee_percent="8",
        purchase_order_number=event.purchase_order_number or "",
    )
    data["version_id"] = re.search(r'name="version_id" type="hidden" value="(\d+)"', page)[1]
    data["csrf_token"] = csrf_token(page)
    db.session.commit()
    response = client.post(f"/evenements/{event.id}/modifier", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.session.expire_all()


def test_each_pair_keeps_its_first_event_as_quotes_are_accepted_events_moved_and_cancelled(
    app, client, coordinator, make_event, make_client, make_category, make_organisation
):
    kit = (make_event, make_client, make_category, make_organisation)
    june, _lots, (cook, shop, june_photo) = build_ready_event(
        *kit,
        title="Forum de juin",
        starts_at=datetime(2026, 6, 15, 6, 0, tzinfo=UTC),
        ends_at=datetime(2026, 6, 15, 16, 0, tzinfo=UTC),
    )
    april, _lots, (_cook, _shop, april_photo) = build_ready_event(
        *kit, cook=cook, shop=shop, title="Assises d'avril"
    )
    db.session.commit()

    # June accepted first: its three pairs meet there; its lines are summed per actor and category.
    accepted(app, client, june)
    assert totals() == line_sums(june)
    assert len(totals()) == 3
    assert pairs() == {
        pair(cook, shop): june.id,
        pair(cook, june_photo): june.id,
        pair(shop, june_photo): june.id,
    }
    # April accepted later, but April comes first: the cook and the shop first met in April.
    accepted(app, client, april)
    assert totals() == line_sums(june) | line_sums(april)
    assert pairs()[pair(cook, shop)] == april.id
    assert pairs()[pair(cook, april_photo)] == april.id
    assert pairs()[pair(cook, june_photo)] == june.id
    assert pairs() == rebuilt()

    # April moved to July: June is their first event again.
    move(client, db.session.get(Event, april.id), "2026-07-20T09:00", "2026-07-20T19:00")
    assert pairs()[pair(cook, shop)] == june.id
    assert pairs()[pair(cook, april_photo)] == april.id
    assert pairs() == rebuilt()

    # June cancelled: the cook and the shop met in (July's) April event; June's photographer met no one.
    page = client.get(f"/evenements/{june.id}").get_data(as_text=True)
    db.session.commit()
    response = client.post(
        f"/evenements/{june.id}/statut", data={"target": "cancelled", "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Event, june.id).status == "cancelled"
    assert pairs() == {
        pair(cook, shop): april.id,
        pair(cook, april_photo): april.id,
        pair(shop, april_photo): april.id,
    }
    assert pairs() == rebuilt()


def test_the_command_rebuilds_both_tables_from_the_quotes(
    app, client, coordinator, runner, make_event, make_client, make_category, make_organisation
):
    event, _lots, (cook, shop, photo) = build_ready_event(
        make_event, make_client, make_category, make_organisation
    )
    db.session.commit()
    accepted(app, client, event)
    kept = totals()
    db.session.execute(sa.delete(Collaboration))
    db.session.execute(sa.delete(WorkTotal))
    db.session.commit()
    result = runner.invoke(args=["offers", "rebuild-work"])
    assert result.exit_code == 0, result.output
    assert "3 somme(s) par devis, acteur et catégorie ; 3 paire(s)" in result.output
    db.session.expire_all()
    assert totals() == kept == line_sums(event)
    assert pairs() == {pair(cook, shop): event.id, pair(cook, photo): event.id, pair(shop, photo): event.id}


# --- any order of acceptances, cancellations and moves ----------------------------------------------

STEP = st.tuples(
    st.sampled_from(["accept", "cancel", "move"]),
    st.integers(0, 4),  # which of five events
    st.frozensets(st.integers(0, 4), max_size=5),  # the actors on it, when accepted
    st.integers(0, 6),  # its day (ties happen: then the smaller id comes first)
)


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=14))
def test_the_pairs_equal_a_rebuild_after_any_sequence_of_changes(app, make_event, make_organisation, steps):
    from tests.reports.helpers import accepted_work

    with db.session.begin_nested() as example:
        actors = [make_organisation(name=f"Acteur {n}") for n in range(5)]
        events: dict[int, Event] = {}
        day = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
        for action, slot, chosen, days in steps:
            event = events.get(slot)
            when = day + timedelta(days=days)
            if action == "accept" and event is None:
                lines = [(actors[n], "Restauration", "100.00") for n in sorted(chosen)]
                events[slot] = accepted_work(make_event, lines, when=when)
            elif action == "cancel" and event is not None and event.status != EventStatus.CANCELLED:
                EVENT_STATES.move(event, EventStatus.CANCELLED, user=None)
            elif action == "move" and event is not None and event.status != EventStatus.CANCELLED:
                # What ``update_event`` does once the new dates are stored.
                event.starts_at, event.ends_at = when, when + timedelta(hours=8)
                db.session.flush()
                work.refresh_pairs(event.id)
            assert pairs() == rebuilt(), (action, slot, sorted(chosen), days)
        example.rollback()
