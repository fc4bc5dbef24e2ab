"""Issuing a quote runs a constant number of queries, whatever its number of lines and actors."""

from __future__ import annotations

from decimal import Decimal as D

from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from app.extensions import db
from app.models import VatRegime
from offers.models import Assignment, AssignmentRole, AssignmentStatus, Line, Lot
from tests.offers.quote_fixtures import build_ready_event


def grow(event, make_category, make_organisation, lots: int, lines: int) -> None:
    for n in range(lots):
        category = make_category(default_vat_rate=D("0.2000"))
        org = make_organisation(
            vat_regime=VatRegime.EXEMPT if n % 2 else VatRegime.SUBJECT, categories=[category]
        )
        lot = Lot(event_id=event.id, category=category, title=f"Lot {n}", position=10 + n)
        db.session.add(lot)
        db.session.flush()
        db.session.add(
            Assignment(
                lot_id=lot.id, organisation=org, role=AssignmentRole.LEAD, status=AssignmentStatus.ACCEPTED
            )
        )
        for i in range(lines):
            db.session.add(
                Line(
                    lot_id=lot.id,
                    organisation=org,
                    description=f"Ligne {i}",
                    quantity=D("2"),
                    unit="heure",
                    unit_price=D("31.25"),
                    vat_rate=D("0.2000"),
                    position=i,
                )
            )
    db.session.flush()
    db.session.expire_all()


def issue_count(event, user) -> int:
    from offers.services.quotes import issue_quote

    statements: list[str] = []
    assert user.role  # loaded before counting: the view has it from the session already

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa_event.listen(Engine, "before_cursor_execute", listener)
    try:
        issue_quote(event, user)
    finally:
        sa_event.remove(Engine, "before_cursor_execute", listener)
    return len(statements)


def test_issuing_a_quote_takes_the_same_queries_for_4_or_200_lines(
    app, make_user, make_event, make_client, make_category, make_organisation
):
    user = make_user("coordinator")
    small, *_ = build_ready_event(make_event, make_client, make_category, make_organisation, title="Petit")
    big, *_ = build_ready_event(make_event, make_client, make_category, make_organisation, title="Grand")
    grow(big, make_category, make_organisation, lots=10, lines=20)
    few = issue_count(small, user)
    many = issue_count(big, user)
    assert few == many
    assert many <= 30
