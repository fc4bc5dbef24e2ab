"""Running totals of an event (``offers.pricing.event_totals``) against a table of exact cases.

The events are built in memory (no database): the totals only read the loaded lots and lines. The
lines' rates are chosen by hand, so each is used as typed; the coordinator sells them all.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import app.models  # noqa: F401  (every mapper known before building objects)
import invoicing.models  # noqa: F401
from app.models import Category, CoordinatorIdentity, VatRegime
from app.money import line_net, round_money
from offers.models import BillingMode, Event, FeeKind, Line, Lot, LotStatus
from offers.pricing import PricingContext, coordination_fee, coordinator_seller, event_totals, fee_vat_rate

R20, R10, R55, R0 = D("0.2000"), D("0.1000"), D("0.0550"), D("0")


def build(lots, fee_kind="none", fee_rate="0", fee_amount="0") -> Event:
    """``lots``: a list of (status, [(quantity, unit_price, vat_rate), …])."""
    event = Event(
        billing_mode=BillingMode.SINGLE_CONTRACTOR,
        fee_kind=FeeKind(fee_kind),
        fee_rate=D(fee_rate),
        fee_amount=D(fee_amount),
    )
    category = Category(default_vat_rate=R20)
    for index, (status, lines) in enumerate(lots, start=1):
        lot = Lot(id=index, status=LotStatus(status), position=index, category=category)
        lot.lines = [
            Line(quantity=D(quantity), unit_price=D(price), vat_rate=D(rate), vat_rate_manual=True)
            for quantity, price, rate in lines
        ]
        event.lots.append(lot)
    return event


OPEN, CANCELLED = "open", "cancelled"


def context(fee_rate=R20) -> PricingContext:
    """The coordinator sells the fee: subject to VAT (fee at 20 %) or in franchise (fee at 0 %)."""
    regime = VatRegime.SUBJECT if fee_rate == R20 else VatRegime.FRANCHISE
    return PricingContext(CoordinatorIdentity(name="Coordination", vat_regime=regime), mentions={})


MIXED = [
    (OPEN, [("150", "14.20", R10)]),  # restauration: 2 130,00 at 10 %
    (OPEN, [("12", "18.90", R55)]),  # librairie: 226,80 at 5,5 %
    (OPEN, [("1", "4200.00", R20)]),  # scénographie: 4 200,00 at 20 %
]

# (id, lots, fee (kind, rate, amount), fee VAT rate, lots_net, fee_net, [(rate, net, vat)…], net, vat, gross)
CASES = [
    ("empty", [], ("none", "0", "0"), R20, "0.00", "0.00", [], "0.00", "0.00", "0.00"),
    (
        "one line at 20 %",
        [(OPEN, [("10", "12.50", R20)])],
        ("none", "0", "0"),
        R20,
        "125.00",
        "0.00",
        [(R20, "125.00", "25.00")],
        "125.00",
        "25.00",
        "150.00",
    ),
    (
        "mixed rates 20 %, 10 %, 5,5 %",
        MIXED,
        ("none", "0", "0"),
        R20,
        "6556.80",
        "0.00",
        [(R55, "226.80", "12.47"), (R10, "2130.00", "213.00"), (R20, "4200.00", "840.00")],
        "6556.80",
        "1065.47",
        "7622.27",
    ),
    (
        "franchise actor at 0 % beside a line at 20 %",
        [(OPEN, [("3", "250.00", R0)]), (OPEN, [("2", "99.99", R20)])],
        ("none", "0", "0"),
        R20,
        "949.98",
        "0.00",
        [(R0, "750.00", "0.00"), (R20, "199.98", "40.00")],
        "949.98",
        "40.00",
        "989.98",
    ),
    (
        "fractional quantities: 7.5 h × 32,50 € and 2.333 × 10,01 €",
        [(OPEN, [("7.5", "32.50", R20), ("2.333", "10.01", R20)])],
        ("none", "0", "0"),
        R20,
        "267.10",
        "0.00",
        [(R20, "267.10", "53.42")],
        "267.10",
        "53.42",
        "320.52",
    ),
    (
        "VAT rounded once per rate, not per line",
        [(OPEN, [("1", "0.05", R10), ("1", "0.05", R10), ("1", "0.05", R10)])],
        ("none", "0", "0"),
        R20,
        "0.15",
        "0.00",
        [(R10, "0.15", "0.02")],
        "0.15",
        "0.02",
        "0.17",
    ),
    (
        "percent fee 8 % on mixed rates, fee in the 20 % group",
        MIXED,
        ("percent", "0.0800", "0"),
        R20,
        "6556.80",
        "524.54",
        [(R55, "226.80", "12.47"), (R10, "2130.00", "213.00"), (R20, "4724.54", "944.91")],
        "7081.34",
        "1170.38",
        "8251.72",
    ),
    (
        "fixed fee 1 500 €",
        [(OPEN, [("10", "12.50", R20)])],
        ("fixed", "0", "1500.00"),
        R20,
        "125.00",
        "1500.00",
        [(R20, "1625.00", "325.00")],
        "1625.00",
        "325.00",
        "1950.00",
    ),
    (
        "fixed fee of a coordinator in franchise: 0 %",
        [(OPEN, [("10", "12.50", R20)])],
        ("fixed", "0", "1500.00"),
        R0,
        "125.00",
        "1500.00",
        [(R0, "1500.00", "0.00"), (R20, "125.00", "25.00")],
        "1625.00",
        "25.00",
        "1650.00",
    ),
    (
        "percent fee rounded half-up: 1 % of 0,50 €",
        [(OPEN, [("1", "0.50", R0)])],
        ("percent", "0.0100", "0"),
        R20,
        "0.50",
        "0.01",
        [(R0, "0.50", "0.00"), (R20, "0.01", "0.00")],
        "0.51",
        "0.00",
        "0.51",
    ),
    (
        "a cancelled lot counts for nothing, fee included",
        [(OPEN, [("10", "12.50", R20)]), (CANCELLED, [("1", "1000.00", R20), ("4", "10.00", R55)])],
        ("percent", "0.1000", "0"),
        R20,
        "125.00",
        "12.50",
        [(R20, "137.50", "27.50")],
        "137.50",
        "27.50",
        "165.00",
    ),
]


@pytest.mark.parametrize(
    "lots,fee,fee_rate,lots_net,fee_net,groups,net,vat,gross",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_event_totals_table(lots, fee, fee_rate, lots_net, fee_net, groups, net, vat, gross):
    event = build(lots, *fee)
    result = event_totals(event, context(fee_rate))
    assert result.lots_net == D(lots_net)
    assert result.fee_net == D(fee_net)
    assert [(g.rate, g.net, g.vat) for g in result.totals.groups] == [
        (rate.normalize(), D(n), D(v)) for rate, n, v in groups
    ]
    assert (result.totals.net, result.totals.vat, result.totals.gross) == (D(net), D(vat), D(gross))
    # Exact to the cent, never a float in sight.
    for value in (result.totals.net, result.totals.vat, result.totals.gross, result.fee_net):
        assert isinstance(value, D)
        assert value.as_tuple().exponent == -2


def test_lot_nets_leave_cancelled_lots_out():
    event = build([(OPEN, [("7.5", "32.50", R20)]), (CANCELLED, [("1", "99.00", R20)]), (OPEN, [])])
    assert event_totals(event, context()).lot_nets == {1: D("243.75"), 3: D("0.00")}


def test_fee_vat_rate_follows_the_coordinator_regime():
    def rate(identity):
        return fee_vat_rate(coordinator_seller(identity))

    assert rate(CoordinatorIdentity(name="C", vat_regime=VatRegime.SUBJECT)) == D("0.2000")
    assert rate(CoordinatorIdentity(name="C", vat_regime=VatRegime.FRANCHISE)) == D("0")
    assert rate(CoordinatorIdentity(name="C", vat_regime=VatRegime.EXEMPT)) == D("0")


@pytest.mark.parametrize(
    "kind,rate,amount,lots_net,expected",
    [
        ("none", "0.0800", "100.00", "1000.00", "0.00"),
        ("percent", "0.0800", "100.00", "1000.00", "80.00"),
        ("percent", "0.0750", "0", "333.33", "25.00"),  # 24.99975 -> 25.00
        ("percent", "0.0500", "0", "0.10", "0.01"),  # 0.005 -> 0.01 (half-up)
        ("fixed", "0.0800", "1500.00", "1000.00", "1500.00"),
    ],
)
def test_coordination_fee(kind, rate, amount, lots_net, expected):
    event = Event(fee_kind=FeeKind(kind), fee_rate=D(rate), fee_amount=D(amount))
    assert coordination_fee(event, D(lots_net)) == D(expected)


# --- property: the totals add up, whatever the event -------------------------------------------------

quantities = st.decimals(min_value=D("0.001"), max_value=D("10000"), places=3)
prices = st.decimals(min_value=D("0"), max_value=D("100000"), places=2)
rates = st.sampled_from([R0, R55, R10, R20])
lines = st.lists(st.tuples(quantities, prices, rates), max_size=6)
lots = st.lists(st.tuples(st.sampled_from([OPEN, OPEN, CANCELLED]), lines), max_size=8)
fees = st.one_of(
    st.just(("none", "0", "0")),
    st.tuples(
        st.just("percent"),
        st.decimals(min_value=D("0.0001"), max_value=D("1"), places=4).map(str),
        st.just("0"),
    ),
    st.tuples(
        st.just("fixed"),
        st.just("0"),
        st.decimals(min_value=D("0.01"), max_value=D("1000000"), places=2).map(str),
    ),
)


@settings(max_examples=300, deadline=None)
@given(lots=lots, fee=fees, fee_rate=st.sampled_from([R0, R20]))
def test_totals_add_up(lots, fee, fee_rate):
    event = build([(s, [(str(q), str(p), r) for q, p, r in ls]) for s, ls in lots], *fee)
    result = event_totals(event, context(fee_rate))
    totals = result.totals
    assert totals.gross == totals.net + totals.vat
    assert totals.net == sum(result.lot_nets.values(), D("0")) + result.fee_net
    assert result.lots_net == sum(result.lot_nets.values(), D("0"))
    # Each lot's net is the sum of its lines' rounded nets; cancelled lots are absent.
    for lot in event.lots:
        if lot.status == LotStatus.CANCELLED:
            assert lot.id not in result.lot_nets
        else:
            assert result.lot_nets[lot.id] == sum(
                (line_net(x.quantity, x.unit_price) for x in lot.lines), D("0")
            )
    # VAT is rounded once per rate on the group's net.
    for group in totals.groups:
        assert group.vat == round_money(group.net * group.rate)
