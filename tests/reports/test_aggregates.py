"""The aggregates, on hand-built data with exact expected values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.extensions import db
from app.models import LegalForm
from invoicing.models import InvoiceKind, Payout, PayoutStatus
from invoicing.services.invoices import figures_of
from offers.models import EventStatus, QuoteStatus
from reports import aggregates as ag
from tests.reports.helpers import accepted_work, issued, paid

P2011 = ag.Period(2011)


@pytest.fixture
def actors(make_organisation):
    return {
        "ecos": make_organisation(name="Ecos"),
        "tak": make_organisation(name="TAK", qpv=True, qpv_name="Bellevue"),
        "scop": make_organisation(name="Pain Virgule", legal_form=LegalForm.SCOP, commune="Vertou"),
    }


def test_money_per_actor_counts_only_accepted_work_of_the_period(make_event, actors):
    ecos, tak, scop = actors["ecos"], actors["tak"], actors["scop"]
    accepted_work(make_event, [(ecos, "Scénographie", "4200.00"), (tak, "Restauration", "1000.10")])
    accepted_work(
        make_event,
        [(tak, "Restauration", "500.00"), (scop, "Restauration", "180.00")],
        when=datetime(2011, 9, 1, 8, tzinfo=UTC),
        fee="99.00",
    )
    accepted_work(make_event, [(ecos, "Scénographie", "1.00")], when=datetime(2012, 1, 5, 8, tzinfo=UTC))
    accepted_work(make_event, [(scop, "Restauration", "777.00")], status=EventStatus.CANCELLED)
    accepted_work(make_event, [(scop, "Restauration", "555.00")], quote_status=QuoteStatus.SENT)

    rows = ag.per_actor(P2011)
    assert [(r.name, r.amount, r.events, r.neighbourhood, r.qpv) for r in rows] == [
        ("Ecos", D("4200.00"), 1, "Nantes", False),
        ("TAK", D("1500.10"), 2, "Bellevue", True),
        ("Pain Virgule", D("180.00"), 1, "Vertou", False),
    ]
    assert ag.per_category(P2011) == [("Scénographie", D("4200.00")), ("Restauration", D("1680.10"))]
    assert [r.amount for r in ag.per_actor(ag.Period(2012))] == [D("1.00")]
    # The dashboards' one query per actor and month gives the same actors, in the same order.
    assert ag.work_by_actor(P2011).actors == rows
    assert ag.work_by_actor(ag.Period(2012)).actors == ag.per_actor(ag.Period(2012))


def test_months_are_local_months(make_event, actors):
    # 23:30 UTC on 31 March is 01:30 on 1 April in Nantes (summer time).
    accepted_work(
        make_event, [(actors["tak"], "Accueil", "10.00")], when=datetime(2011, 3, 31, 23, 30, tzinfo=UTC)
    )
    accepted_work(
        make_event, [(actors["ecos"], "Accueil", "30.00")], when=datetime(2011, 3, 31, 21, 0, tzinfo=UTC)
    )
    accepted_work(
        make_event, [(actors["scop"], "Accueil", "5.00")], when=datetime(2011, 4, 2, 8, 0, tzinfo=UTC)
    )
    # Ecos works twice in April: its two amounts add up in the month.
    accepted_work(
        make_event, [(actors["ecos"], "Accueil", "2.50")], when=datetime(2011, 4, 20, 8, 0, tzinfo=UTC)
    )
    split = ag.work_by_actor(P2011)
    qpv = split.qpv
    assert qpv.series("qpv")[2:4] == [D("0"), D("10.00")]
    assert qpv.series("other")[2:4] == [D("30.00"), D("7.50")]
    assert qpv.total(4) == D("17.50")
    forms = split.legal_forms
    assert forms.keys == ["association", "scop"]
    assert forms.series("scop")[3] == D("5.00")
    assert forms.series("association")[2:4] == [D("30.00"), D("12.50")]
    assert [(a.name, a.amount, a.events) for a in split.actors] == [
        ("Ecos", D("32.50"), 2),
        ("TAK", D("10.00"), 1),
        ("Pain Virgule", D("5.00"), 1),
    ]


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        ([], Fraction(0)),
        ([D("0"), D("0")], Fraction(0)),
        ([D("5")], Fraction(0)),
        ([D("1"), D("1"), D("1"), D("1")], Fraction(0)),
        ([D("0"), D("0"), D("0"), D("1")], Fraction(3, 4)),
        ([D("1"), D("2"), D("3"), D("4")], Fraction(1, 4)),
        ([D("0.01"), D("0.03")], Fraction(1, 4)),
        ([D("4200.00"), D("1050.00")], Fraction(3, 10)),
    ],
)
def test_gini_exact_cases(amounts, expected):
    assert ag.gini(amounts) == expected


def _pairwise_gini(values):
    n, total = len(values), sum(values, Fraction(0))
    if n == 0 or total == 0:
        return Fraction(0)
    return sum((abs(a - b) for a in values for b in values), Fraction(0)) / (2 * n * total)


amounts = st.lists(st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False), max_size=25)


@given(amounts)
def test_gini_is_the_mean_absolute_difference_and_stays_in_bounds(values):
    g = ag.gini(values)
    assert g == _pairwise_gini([Fraction(v) for v in values])
    assert 0 <= g <= (Fraction(len(values) - 1, len(values)) if values else 0)
    assert ag.gini(list(reversed(values))) == g
    assert ag.gini([v * 3 for v in values]) == g


@given(amounts)
def test_top_three_share_is_between_three_over_n_and_one(values):
    share = ag.top_share(values)
    if sum(values) == 0:
        assert share == 0
    else:
        assert min(Fraction(3, len(values)), Fraction(1)) <= share <= 1
        assert share == Fraction(sum(sorted(values, reverse=True)[:3])) / Fraction(sum(values))


def test_top_share_and_rate():
    assert ag.top_share([D("1"), D("1"), D("1"), D("1")]) == Fraction(3, 4)
    assert ag.as_rate(Fraction(2, 3)) == D("0.6667")


def test_first_time_collaborations(make_event, make_organisation):
    a, b, c = (make_organisation(name=n) for n in ("Alpha", "Bravo", "Charlie"))
    first = accepted_work(
        make_event, [(a, "X", "1"), (b, "X", "1")], when=datetime(2011, 2, 1, 8, tzinfo=UTC)
    )
    second = accepted_work(
        make_event,
        [(a, "X", "1"), (b, "Y", "1"), (c, "Y", "1"), (c, "X", "2")],
        when=datetime(2011, 5, 1, 8, tzinfo=UTC),
    )
    # The same start as ``second``, created after it: Bravo and Charlie already met on ``second``.
    third = accepted_work(
        make_event, [(b, "X", "1"), (c, "X", "1")], when=datetime(2011, 5, 1, 8, tzinfo=UTC)
    )
    # Cancelled: never counts as having worked together.
    accepted_work(
        make_event,
        [(a, "X", "1"), (c, "X", "1")],
        when=datetime(2011, 1, 1, 8, tzinfo=UTC),
        status=EventStatus.CANCELLED,
    )

    assert [(p.event_id, p.pairs, p.first_time) for p in ag.pairs_per_event(P2011)] == [
        (first.id, 1, 1),
        (second.id, 3, 2),
        (third.id, 1, 0),
    ]
    names = [(row[1], row[4]) for row in ag.first_time_pairs(second.id)]
    assert names == [("Alpha", "Charlie"), ("Bravo", "Charlie")]
    assert ag.first_time_pairs(third.id) == []


def test_first_time_collaborations_across_years(make_event, make_organisation):
    a, b, c, d, e = (make_organisation(name=n) for n in ("Alpha", "Bravo", "Charlie", "Delta", "Echo"))
    # 23:30 on 31 December 2010 in Nantes: the year before.
    accepted_work(make_event, [(a, "X", "1"), (b, "X", "1")], when=datetime(2010, 12, 31, 22, 30, tzinfo=UTC))
    # 00:30 on 1 January 2011 in Nantes: the year.
    new_year = accepted_work(
        make_event, [(d, "X", "1"), (e, "X", "1")], when=datetime(2010, 12, 31, 23, 30, tzinfo=UTC)
    )
    february = accepted_work(
        make_event, [(a, "X", "1"), (b, "X", "1"), (c, "X", "1")], when=datetime(2011, 2, 1, 8, tzinfo=UTC)
    )
    march = accepted_work(
        make_event,
        [(a, "X", "1"), (c, "X", "1"), (d, "X", "1"), (e, "Y", "1")],
        when=datetime(2011, 3, 1, 8, tzinfo=UTC),
    )
    later = accepted_work(
        make_event, [(b, "X", "1"), (c, "X", "1"), (e, "X", "1")], when=datetime(2012, 3, 1, 8, tzinfo=UTC)
    )

    assert [(p.event_id, p.pairs, p.first_time) for p in ag.pairs_per_event(P2011)] == [
        (new_year.id, 1, 1),
        (february.id, 3, 2),  # Alpha and Bravo met in 2010
        (march.id, 6, 4),  # Alpha–Charlie met in February, Delta–Echo on New Year's night
    ]
    assert [(p.event_id, p.pairs, p.first_time) for p in ag.pairs_per_event(ag.Period(2012))] == [
        (later.id, 3, 1),  # only Bravo–Echo is new
    ]
    assert [(row[1], row[4]) for row in ag.first_time_pairs(february.id)] == [
        ("Alpha", "Charlie"),
        ("Bravo", "Charlie"),
    ]
    assert [(row[1], row[4]) for row in ag.first_time_pairs(later.id)] == [("Bravo", "Echo")]


def test_receivables_match_the_invoice_figures_and_age(make_client):
    city, school = make_client(name="Nantes Métropole"), make_client(name="Lycée")
    today = date(2011, 7, 1)
    # Not due yet, half paid.
    fresh = issued(city, "1000.00", issue_date=date(2011, 6, 20), due_date=date(2011, 7, 20))
    paid(fresh, "400.00", date(2011, 6, 25))
    # 45 days late, with a deposit deducted.
    late = issued(city, "900.00", issue_date=date(2011, 4, 17), due_date=date(2011, 5, 17), prepaid="300.00")
    # Cancelled by a credit note: owes nothing.
    cancelled = issued(school, "500.00", issue_date=date(2011, 3, 1), due_date=date(2011, 3, 31))
    issued(school, "500.00", issue_date=date(2011, 3, 2), kind=InvoiceKind.CREDIT_NOTE, credit_of=cancelled)
    # Partly credited, 91 days late.
    old = issued(school, "200.00", issue_date=date(2011, 3, 1), due_date=date(2011, 4, 1))
    issued(school, "50.00", issue_date=date(2011, 3, 5), kind=InvoiceKind.CREDIT_NOTE, credit_of=old)
    # Paid in full.
    done = issued(school, "80.00", issue_date=date(2011, 6, 1), due_date=date(2011, 6, 2))
    paid(done, "80.00", date(2011, 6, 2))

    rows = ag.receivables(today)
    assert [(r.name, r.buckets, r.total) for r in rows] == [
        ("Nantes Métropole", {"not_due": D("600.00"), "31_60": D("600.00")}, D("1200.00")),
        ("Lycée", {"over_90": D("150.00")}, D("150.00")),
    ]
    figures = figures_of([fresh, late, cancelled, old, done])
    assert sum(r.total for r in rows) == sum(max(f.balance, D(0)) for f in figures.values())

    money = ag.treasury(P2011)
    assert money.billed == D("1000.00") + D("600.00") + D("0.00") + D("150.00") + D("80.00")
    assert money.collected == D("480.00")
    assert money.billed_by_month[5] == D("1080.00")
    assert money.collected_by_month[5] == D("480.00")


def test_payouts_per_actor(make_event, actors):
    event = accepted_work(make_event, [(actors["ecos"], "X", "100.00")])
    for status, amount in ((PayoutStatus.PAID, "60.00"), (PayoutStatus.DUE, "40.00")):
        db.session.add(
            Payout(
                event_id=event.id,
                organisation_id=actors["ecos"].id,
                share=D(amount),
                commission=D("0"),
                net_amount=D(amount),
                amount=D(amount),
                status=status,
                paid_on=date(2011, 6, 1) if status == PayoutStatus.PAID else None,
            )
        )
    db.session.flush()
    assert [(p.name, p.paid, p.due) for p in ag.payouts_per_actor(P2011)] == [
        ("Ecos", D("60.00"), D("40.00"))
    ]
    assert ag.paid_out_per_actor(event.id) == {actors["ecos"].id: D("60.00")}
    money = ag.treasury(P2011)
    assert (money.payouts_paid, money.payouts_due) == (D("60.00"), D("40.00"))
    assert ag.latest_year(2030) == 2011
