"""The state machines: one per aggregate, one move function, one audit action, no silent skip."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from app.errors import InvalidTransition
from app.extensions import db
from app.labels import label
from app.models import AuditEntry, OutboxMessage
from app.states import StateMachine
from invoicing.models import INVOICE_STATES, PAYOUT_STATES, InvoiceStatus, PayoutStatus
from offers.models import (
    ASSIGNMENT_STATES,
    EVENT_STATES,
    LOT_STATES,
    QUOTE_STATES,
    Assignment,
    AssignmentRole,
    AssignmentStatus,
    EventStatus,
    Lot,
    LotStatus,
    Quote,
    QuoteStatus,
)
from offers.services import quotes as quote_service
from offers.services.lots import cancel_lot, reopen_lot
from offers.services.portal import answer_assignment
from tests.conftest import csrf_token, hidden_value, post_form
from tests.offers.quote_fixtures import build_ready_event

E, L, A, Q = EventStatus, LotStatus, AssignmentStatus, QuoteStatus


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def ready(make_event, make_client, make_category, make_organisation):
    return build_ready_event(make_event, make_client, make_category, make_organisation)


@pytest.fixture
def coordinator(make_user, auth):
    user = make_user("coordinator", email="coordination@example.org")
    auth.login(user.email)
    return user


def issue(client, event):
    page = client.get(f"/evenements/{event.id}/devis")
    return client.post(
        f"/evenements/{event.id}/devis",
        data={
            "validity_days": "30",
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "issue_token": hidden_value(page.get_data(as_text=True), "issue_token"),
        },
    )


def send(client, quote):
    page = client.get(f"/devis/{quote.id}")
    return client.post(
        f"/devis/{quote.id}/envoyer", data={"csrf_token": csrf_token(page.get_data(as_text=True))}
    )


def latest(event) -> Quote:
    return db.session.scalar(
        sa.select(Quote).where(Quote.event_id == event.id).order_by(Quote.version.desc())
    )


def portal_link(quote) -> str:
    message = db.session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.subject.contains(quote.number))
        .order_by(OutboxMessage.id.desc())
    ).first()
    return re.search(r"http://localhost(/devis/acces/\S+)", message.body_text).group(1)


def accept(anon, link):
    page = anon.get(link)
    return anon.post(
        link,
        data={
            "a-name": "Camille Martin",
            "a-agreed": "y",
            "a-accept": "1",
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )


def set_status(client, event, target):
    return post_form(client, f"/evenements/{event.id}", f"/evenements/{event.id}/statut", {"target": target})


def status_moves(object_type: str, object_id: int) -> list[tuple[str, list]]:
    return [
        (entry.action, entry.changes["status"])
        for entry in db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
            .order_by(AuditEntry.id)
        )
        if "status" in entry.changes
    ]


def reload(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


# --- won: only with an accepted current quote ----------------------------------------------------


def test_won_by_hand_is_refused_without_any_quote(client, coordinator, make_event, make_category):
    event = make_event(status=E.QUOTED)
    db.session.add(Lot(event_id=event.id, category=make_category(), title="Déjeuner"))
    db.session.commit()  # the refusal rolls the request's work back, not the set-up
    assert 'data-target="won"' not in text(client.get(f"/evenements/{event.id}"))
    response = set_status(client, event, "won")
    assert response.status_code == 409
    assert (
        "L'événement ne peut pas passer à « Gagné » : aucun devis n'a été émis. "
        "Il le devient quand le client accepte la dernière version du devis."
    ) in text(response)
    assert reload(event).status == E.QUOTED
    assert status_moves("events", event.id) == []


def test_won_by_hand_is_refused_while_the_current_quote_is_not_accepted(client, coordinator, ready):
    event, *_ = ready
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    assert reload(event).status == E.QUOTED
    response = set_status(client, event, "won")
    assert response.status_code == 409
    assert (
        f"L'événement ne peut pas passer à « Gagné » : la dernière version du devis "
        f"({quote.number} v1) est « Envoyé ». Il le devient quand le client l'accepte."
    ) in text(response)
    assert reload(event).status == E.QUOTED


def test_accepting_the_quote_makes_the_event_won_through_its_machine(app, client, coordinator, ready):
    event, *_ = ready
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    response = accept(app.test_client(), portal_link(quote))
    assert response.status_code == 302
    assert reload(event).status == E.WON
    assert status_moves("events", event.id) == [
        ("event.status_changed", ["consulting", "quoted"]),
        ("event.status_changed", ["quoted", "won"]),
    ]


def test_won_by_hand_is_allowed_once_the_current_quote_is_accepted(client, coordinator, ready):
    event, *_ = ready
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    quote.status = Q.ACCEPTED  # as if accepted while the event was elsewhere (no machine here)
    db.session.flush()
    assert 'data-target="won"' in text(client.get(f"/evenements/{event.id}"))
    response = set_status(client, event, "won")
    assert response.status_code == 302
    assert reload(event).status == E.WON


@pytest.mark.parametrize("moved_to", ["consulting", "cancelled"])
def test_an_acceptance_the_event_cannot_follow_is_refused_not_skipped(
    app, client, coordinator, ready, moved_to
):
    event, *_ = ready
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    assert set_status(client, event, moved_to).status_code == 302
    response = accept(app.test_client(), portal_link(quote))
    assert response.status_code == 409
    assert (
        f"Ce devis ne peut pas être accepté pour l'instant : l'événement est « {label(moved_to)} ». "
        "Contactez la coordination."
    ) in text(response)
    assert reload(quote).status == Q.SENT
    assert reload(event).status == EventStatus(moved_to)


# --- draft -> consulting on the first invitation -------------------------------------------------


def test_the_first_invitation_opens_the_consultation(
    client, coordinator, make_event, make_category, make_organisation, make_user
):
    event = make_event()
    lot = Lot(event_id=event.id, category=make_category(), title="Déjeuner")
    db.session.add(lot)
    db.session.flush()
    cook, crew = make_organisation(name="Méli-Mélo"), make_organisation(name="L'Équipage")
    make_user("actor", organisation=cook)
    make_user("actor", organisation=crew)
    first, second = (
        Assignment(lot_id=lot.id, organisation_id=org.id, role=AssignmentRole.PARTNER) for org in (cook, crew)
    )
    db.session.add_all([first, second])
    db.session.flush()
    assert event.status == E.DRAFT

    page = f"/evenements/{event.id}"
    response = post_form(client, page, f"/affectations/{first.id}/inviter")
    assert response.status_code == 302
    assert reload(event).status == E.CONSULTING
    assert reload(first).status == A.INVITED
    response = post_form(client, page, f"/affectations/{second.id}/inviter")
    assert response.status_code == 302
    assert reload(event).status == E.CONSULTING
    assert status_moves("events", event.id) == [("event.status_changed", ["draft", "consulting"])]
    assert status_moves("assignments", first.id) == [("assignment.status_changed", ["proposed", "invited"])]


# --- one audit action per aggregate --------------------------------------------------------------


def test_every_move_of_an_aggregate_is_audited_under_one_action(
    client, coordinator, ready, make_organisation, make_user
):
    event, lots, _ = ready
    food = lots[0]
    chef = make_organisation(name="Cuisine commune")
    chef_user = make_user("actor", organisation=chef)
    helper = Assignment(lot_id=food.id, organisation_id=chef.id, role=AssignmentRole.SUPPLIER)
    db.session.add(helper)
    db.session.flush()
    assert (
        post_form(client, f"/evenements/{event.id}", f"/affectations/{helper.id}/inviter").status_code == 302
    )
    answer_assignment(reload(helper), chef_user, accept=True)
    books = db.session.get(Lot, lots[1].id)
    cancel_lot(books, coordinator)
    reopen_lot(books, coordinator)
    issue(client, event)
    first = latest(event)
    send(client, first)
    line = db.session.get(Lot, food.id).lines[0]
    line.unit_price = D("15.00")
    db.session.flush()
    issue(client, event)
    second = latest(event)
    send(client, second)
    quote_service.accept_quote(second, name="Camille Martin", agreed=True, user=None, notify=False)

    assert status_moves("events", event.id) == [
        ("event.status_changed", ["consulting", "quoted"]),
        ("event.status_changed", ["quoted", "won"]),
    ]
    assert status_moves("lots", books.id) == [
        ("lot.status_changed", ["open", "cancelled"]),
        ("lot.status_changed", ["cancelled", "open"]),
    ]
    assert status_moves("assignments", helper.id) == [
        ("assignment.status_changed", ["proposed", "invited"]),
        ("assignment.status_changed", ["invited", "accepted"]),
    ]
    assert status_moves("quotes", first.id) == [
        ("quote.status_changed", ["draft", "sent"]),
        ("quote.status_changed", ["sent", "superseded"]),
    ]
    assert status_moves("quotes", second.id) == [
        ("quote.status_changed", ["draft", "sent"]),
        ("quote.status_changed", ["sent", "accepted"]),
    ]
    every_action = set(
        db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.event_id == event.id))
    )
    assert not {"event.status", "quote.accepted", "quote.expired", "lot.cancelled", "assignment.invited"} & (
        every_action
    )


def test_expiring_a_quote_is_a_quote_move(client, coordinator, ready):
    event, *_ = ready
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    assert quote_service.expire_quotes(today=quote.valid_until + timedelta(days=1)) == 1
    assert status_moves("quotes", quote.id)[-1] == ("quote.status_changed", ["sent", "expired"])


# --- a newly issued quote is not a "draft" -------------------------------------------------------


def test_a_newly_issued_quote_reads_issued_not_draft_everywhere(client, runner, coordinator, ready):
    event, *_ = ready
    assert issue(client, event).status_code == 302
    quote = latest(event)
    assert quote.status == Q.DRAFT
    for url in (f"/devis/{quote.id}", f"/evenements/{event.id}", "/devis"):
        page = text(client.get(url))
        assert "Émis, à envoyer" in page, url
        assert "Brouillon" not in page, url
    listed = runner.invoke(args=["quotes", "list"]).output
    assert f"{quote.number}\tv1\tÉmis, à envoyer\t" in listed
    assert "Brouillon" not in listed
    with client.session_transaction() as session:
        session["lang"] = "en"
    page = text(client.get(f"/devis/{quote.id}"))
    assert "Issued, not sent yet" in page
    assert "Draft" not in page


# --- the tables, pair by pair --------------------------------------------------------------------

EXPECTED = {
    "event": {
        E.DRAFT: {E.CONSULTING, E.CANCELLED},
        E.CONSULTING: {E.QUOTED, E.CANCELLED},
        E.QUOTED: {E.WON, E.LOST, E.CONSULTING, E.CANCELLED},
        E.WON: {E.DELIVERED, E.CANCELLED},
        E.LOST: {E.CLOSED, E.CONSULTING},
        E.DELIVERED: {E.CLOSED, E.CANCELLED},
        E.CLOSED: set(),
        E.CANCELLED: set(),
    },
    "lot": {L.OPEN: {L.CANCELLED}, L.CANCELLED: {L.OPEN}},
    "assignment": {
        A.PROPOSED: {A.INVITED},
        A.INVITED: {A.ACCEPTED, A.DECLINED},
        A.ACCEPTED: {A.WITHDRAWN},
        A.DECLINED: set(),
        A.WITHDRAWN: set(),
    },
    "quote": {
        Q.DRAFT: {Q.SENT, Q.SUPERSEDED},
        Q.SENT: {Q.ACCEPTED, Q.DECLINED, Q.EXPIRED, Q.SUPERSEDED},
        Q.ACCEPTED: set(),
        Q.DECLINED: {Q.SUPERSEDED},
        Q.EXPIRED: {Q.SUPERSEDED},
        Q.SUPERSEDED: set(),
    },
    "invoice": {InvoiceStatus.DRAFT: {InvoiceStatus.ISSUED}, InvoiceStatus.ISSUED: set()},
    "payout": {PayoutStatus.DUE: {PayoutStatus.PAID}, PayoutStatus.PAID: set()},
}
MACHINES = {
    "event": EVENT_STATES,
    "lot": LOT_STATES,
    "assignment": ASSIGNMENT_STATES,
    "quote": QUOTE_STATES,
    "invoice": INVOICE_STATES,
    "payout": PAYOUT_STATES,
}


@pytest.mark.parametrize("name", list(MACHINES))
def test_each_table_says_exactly_the_expected_moves(name):
    machine: StateMachine = MACHINES[name]
    assert machine.action == f"{name}.status_changed"
    for before, after in machine.pairs():
        assert machine.allows(before, after) == (after in EXPECTED[name][before]), (before, after)


@pytest.mark.parametrize("name", list(MACHINES))
def test_the_moves_offered_are_those_without_a_refusal_guards_included(name):
    """``moves`` (what pages offer) says, for every status and every answer of the guards, exactly
    the targets ``refusal_for`` (what a move checks) has no refusal for."""
    from dataclasses import replace
    from types import SimpleNamespace

    from app.states import Guard

    machine: StateMachine = MACHINES[name]
    targets = list(machine.states)
    # Guards of the test's own (the machine's read a real object): a target in ``blocked`` is refused.
    guarded = replace(
        machine,
        guards={t: (Guard(lambda obj, t=t: "refusé" if t in obj.blocked else None),) for t in targets},
    )
    for blocked in ([], targets[::2], targets):
        for before in machine.states:
            obj = SimpleNamespace(status=before, blocked=blocked)
            expected = [t for t in targets if guarded.refusal_for(obj, t) is None]
            assert guarded.moves(obj) == expected, (before, blocked)
    assert any(guarded.moves(SimpleNamespace(status=s, blocked=[])) for s in targets)


def _quote(event, status, version=1) -> Quote:
    quote = Quote(
        event_id=event.id,
        number="DEV-2026-0001",
        version=version,
        status=status,
        issue_date=date(2026, 3, 1),
        valid_until=date(2026, 3, 31),
        total_net=D("0"),
        total_vat=D("0"),
        total_gross=D("0"),
    )
    db.session.add(quote)
    db.session.flush()
    return quote


def _subject(name, before, make_event, make_category, make_organisation):
    """An object of aggregate ``name`` in status ``before`` whose guards all hold."""
    event = make_event()
    lot = Lot(event_id=event.id, category=make_category(), title="Déjeuner")
    db.session.add(lot)
    db.session.flush()
    if name == "event":
        _quote(event, Q.ACCEPTED)  # "won" needs an accepted current quote; "consulting" an open lot
        event.status = before
        db.session.flush()
        return event, "events"
    if name == "lot":
        lot.status = before
        db.session.flush()
        return lot, "lots"
    if name == "assignment":
        assignment = Assignment(lot_id=lot.id, organisation_id=make_organisation().id, status=before)
        db.session.add(assignment)
        db.session.flush()
        return assignment, "assignments"
    return _quote(event, before), "quotes"


TABLE = [
    (name, before, after)
    for name in ("event", "lot", "assignment", "quote")
    for before, after in MACHINES[name].pairs()
]


@pytest.mark.parametrize(
    "name,before,after", TABLE, ids=[f"{name}:{before.value}->{after.value}" for name, before, after in TABLE]
)
def test_each_move_is_made_or_refused_by_its_machine(
    make_user, make_event, make_category, make_organisation, name, before, after
):
    user = make_user("coordinator")
    machine = MACHINES[name]
    obj, table = _subject(name, before, make_event, make_category, make_organisation)
    if after in EXPECTED[name][before]:
        machine.move(obj, after, user=user)
        assert reload(obj).status == after
        entry = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.object_type == table, AuditEntry.object_id == obj.id)
        ).one()
        assert (entry.action, entry.changes, entry.user_id) == (
            f"{name}.status_changed",
            {"status": [before.value, after.value]},
            user.id,
        )
    else:
        with pytest.raises(InvalidTransition) as refused:
            machine.move(obj, after, user=user)
        shown = machine.labeller
        if before == after:
            assert f"est déjà « {shown(before)} »" in refused.value.message
        else:
            assert f"de « {shown(before)} » à « {shown(after)} »" in refused.value.message
        assert reload(obj).status == before
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.object_type == table, AuditEntry.object_id == obj.id)
            )
            == 0
        )


def test_an_unknown_status_is_refused(make_user, make_event):
    event = make_event()
    with pytest.raises(InvalidTransition, match=r"Statut inconnu : bogus\."):
        EVENT_STATES.move(event, "bogus", user=make_user("coordinator"))
    assert event.status == E.DRAFT


def test_templates_ask_the_model_not_the_status():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"status(\.value)?\s*(==|!=|not in|in)\s*[('\"]|'status\.value'", line)
    ]
    assert offenders == []


def test_the_event_page_offers_the_moves_of_the_model(client, coordinator, make_event, make_category):
    event = make_event(status=E.LOST)
    db.session.add(Lot(event_id=event.id, category=make_category(), title="Déjeuner"))
    db.session.flush()
    page = text(client.get(f"/evenements/{event.id}"))
    assert set(re.findall(r'data-target="(\w+)"', page)) == {s.value for s in reload(event).allowed_moves}
    assert "Reprendre la consultation" in page
