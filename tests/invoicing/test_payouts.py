"""Payouts, tried as the treasurer and the actors would: due as the client pays (in proportion, or
once fully paid), marked paid once, statements that show each step, and each actor sees only its own."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.errors import Forbidden, InvalidTransition
from app.extensions import db
from app.models import User
from app.settings_store import set_setting
from invoicing.models import Payout, PayoutStatus
from invoicing.services import invoices as service
from invoicing.services import payouts
from invoicing.services.payments import record_payment
from tests.conftest import csrf_token
from tests.invoicing.test_invoices import GROSS, accepted, treasurer  # noqa: F401  (fixtures)

# The ready event's actors (single contractor, subject coordinator, no commission): Méli-Mélo
# (exempt) 6 043,75; L'Équipage (subject) 350,00 at 5,5 % → VAT 19,25; Yves Monteil (franchise) 650,00.
AMOUNTS = {"Méli-Mélo": D("6043.75"), "L'Équipage": D("369.25"), "Yves Monteil": D("650.00")}


def by_name(money) -> dict[str, tuple[D, D, D]]:
    return {a.name: (a.amount, a.released, a.paid) for a in money.actors}


def test_payouts_follow_the_client_in_proportion_then_are_paid_once(accepted, treasurer):  # noqa: F811
    deposit = service.issue_deposit(accepted, treasurer, percent=D("30"), today=date(2026, 3, 10))
    money = payouts.event_money(accepted.event)
    assert {name: amount for name, (amount, _r, _p) in by_name(money).items()} == AMOUNTS
    assert all(released == 0 for _a, released, _p in by_name(money).values())
    record_payment(deposit, treasurer, received_on=date(2026, 3, 20), amount=deposit.total_gross)
    money = payouts.event_money(accepted.event)
    total = sum(AMOUNTS.values(), D("0"))
    # Released: round(Σ amounts × collected ÷ quote gross), allocated by largest remainder.
    expected = (total * deposit.total_gross / GROSS).quantize(D("0.01"))
    assert sum((a.released for a in money.actors), D("0")) == expected
    rows = db.session.scalars(sa.select(Payout).order_by(Payout.id)).all()
    assert [(r.status, r.amount) for r in rows] == [
        (PayoutStatus.DUE, money.actor(r.organisation_id).released) for r in rows
    ]
    final = service.issue_final(accepted, treasurer, today=date(2026, 4, 20))
    record_payment(final, treasurer, received_on=date(2026, 5, 2), amount=GROSS - deposit.total_gross)
    money = payouts.event_money(accepted.event)
    assert {name: released for name, (_a, released, _p) in by_name(money).items()} == AMOUNTS
    rows = db.session.scalars(sa.select(Payout).order_by(Payout.id)).all()
    assert len(rows) == 3 and sorted(r.amount for r in rows) == sorted(AMOUNTS.values())
    payout = rows[0]
    payouts.mark_paid(payout, treasurer, paid_on=date(2026, 5, 10), reference="VIR 42")
    assert (payout.status, payout.paid_on, payout.reference) == (
        PayoutStatus.PAID,
        date(2026, 5, 10),
        "VIR 42",
    )
    with pytest.raises(InvalidTransition):
        payouts.mark_paid(payout, treasurer, paid_on=date(2026, 5, 11), reference="VIR 43")
    assert payout.reference == "VIR 42"


def test_on_full_payment_nothing_is_due_before_the_client_paid_everything(accepted, treasurer):  # noqa: F811
    set_setting("payouts.release", "on_full_payment")
    invoice = service.issue_final(accepted, treasurer)
    record_payment(invoice, treasurer, received_on=date(2026, 5, 2), amount=D("8000.00"))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payout)) == 0
    record_payment(invoice, treasurer, received_on=date(2026, 5, 3), amount=GROSS - D("8000.00"))
    assert sorted(p.amount for p in db.session.scalars(sa.select(Payout))) == sorted(AMOUNTS.values())


def test_only_the_treasury_marks_payouts_paid(accepted, treasurer, make_user):  # noqa: F811
    invoice = service.issue_final(accepted, treasurer)
    record_payment(invoice, treasurer, received_on=date(2026, 5, 2), amount=GROSS)
    payout = db.session.scalars(sa.select(Payout)).first()
    with pytest.raises(Forbidden):
        payouts.mark_paid(payout, make_user("coordinator"), paid_on=date(2026, 5, 10), reference="X")
    assert payout.status == PayoutStatus.DUE


def pdf_text(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\s+", " ", text).replace("\u202f", " ").replace("\xa0", " ")


def test_each_actor_sees_only_its_own_statement(client, auth, accepted, treasurer, make_user):  # noqa: F811
    invoice = service.issue_final(accepted, treasurer)
    record_payment(invoice, treasurer, received_on=date(2026, 5, 2), amount=GROSS)
    rows = {p.organisation.name: p for p in db.session.scalars(sa.select(Payout))}
    shop = rows["L'Équipage"].organisation
    photographer = rows["Yves Monteil"].organisation
    shop_user = make_user("actor", organisation=shop)
    db.session.commit()
    auth.login(shop_user.email)
    page = client.get("/portail/releves").get_data(as_text=True)
    assert "369,25" in page.replace("\u202f", " ").replace("\xa0", " ")
    response = client.get(f"/portail/releves/{accepted.event_id}")
    assert (response.status_code, response.mimetype) == (200, "application/pdf")
    text = pdf_text(response.data)
    for expected in (
        "Relevé de reversement",
        "L'Équipage",
        "Votre part",
        "350,00 €",
        "TVA que vous facturez",
        "19,25 €",
        "Montant dû en tout 369,25 €",
    ):
        assert expected in text, expected
    assert "Yves Monteil" not in text and "Méli-Mélo" not in text
    # Another actor's statement: not even its existence.
    assert client.get(f"/evenements/{accepted.event_id}/releves/{photographer.id}").status_code == 403
    other = make_user("actor", organisation=make_user("actor").organisation)
    db.session.commit()
    auth.logout()
    auth.login(other.email)
    assert client.get(f"/portail/releves/{accepted.event_id}").status_code == 404


def test_the_treasurer_marks_a_payout_paid_from_the_list(client, auth, accepted, treasurer):  # noqa: F811
    invoice = service.issue_final(accepted, treasurer)
    record_payment(invoice, treasurer, received_on=date(2026, 5, 2), amount=GROSS)
    payout = db.session.scalars(sa.select(Payout).order_by(Payout.id)).first()
    db.session.commit()
    auth.login(treasurer.email)
    page = client.get("/reversements")
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    url = f"/reversements/{payout.id}/payer"
    response = client.post(url, data={"paid_on": "2026-05-10", "reference": "VIR 7", "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Payout, payout.id).status == PayoutStatus.PAID
    again = client.post(url, data={"paid_on": "2026-05-11", "reference": "VIR 8", "csrf_token": token})
    assert again.status_code == 303
    db.session.expire_all()
    assert db.session.get(Payout, payout.id).reference == "VIR 7"
    assert db.session.scalar(sa.select(User).where(User.id == treasurer.id)) is not None


def test_the_list_pages_through_due_then_paid_payouts_in_order(
    client, auth, make_event, make_organisation, make_user
):
    """Due payouts first (newest first), then paid ones (latest paid first, then newest): each
    status is read from its page's offset, and the pages put end to end give that one order,
    across the page where due turns to paid (25 a page)."""
    event, actor = make_event(), make_organisation(name="Scop du Marché")
    for n in range(58):
        paid = n % 2 == 0
        db.session.add(
            Payout(
                event_id=event.id,
                organisation_id=actor.id,
                share=D("10.00"),
                commission=D("0"),
                net_amount=D("10.00"),
                amount=D("10.00"),
                status=PayoutStatus.PAID if paid else PayoutStatus.DUE,
                paid_on=date(2026, 1 + n % 5, 1 + n % 7) if paid else None,
                reference=f"R{n}" if paid else "",
            )
        )
    treasury = make_user("treasurer")
    db.session.commit()
    expected = [
        p.id
        for p in sorted(
            db.session.scalars(sa.select(Payout)),
            key=lambda p: (p.status != PayoutStatus.DUE, -(p.paid_on.toordinal() if p.paid_on else 0), -p.id),
        )
    ]
    auth.login(treasury.email)
    shown = []
    for number in (1, 2, 3, 4):
        page = client.get(f"/reversements?page={number}").get_data(as_text=True)
        shown += [int(i) for i in re.findall(r'id="reversement-(\d+)"', page)]
    assert shown == expected
