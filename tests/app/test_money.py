"""Money rules (README, "Comment l'argent est calculé") and exact storage of decimals on SQLite and
PostgreSQL.

- Line net = round(quantity × unit price, 2).
- VAT per rate = round(sum of line nets at that rate × rate, 2) (EN 16931), totals are sums of those.
- Rounding is half-up (half away from zero), never banker's rounding, never a float.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db import ExactDecimal, Money, Quantity, Rate
from app.extensions import db
from app.money import Totals, VatGroup, allocate, compute_totals, line_net, round_money

D = Decimal

# --- round_money -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", "0.01"),  # banker's rounding would give 0.00
        ("0.015", "0.02"),
        ("0.025", "0.03"),  # banker's rounding would give 0.02
        ("2.675", "2.68"),  # the float 2.675 is 2.67499999… and rounds to 2.67
        ("1.005", "1.01"),  # the float 1.005 is 1.00499999… and rounds to 1.00
        ("0.0049999", "0.00"),
        ("0.004", "0.00"),
        ("0.994", "0.99"),
        ("0.995", "1.00"),
        ("99.995", "100.00"),
        ("10", "10.00"),
        (7, "7.00"),
        (D("3.1"), "3.10"),
        ("0", "0.00"),
        ("-0.005", "-0.01"),  # half away from zero: a credit note mirrors its invoice
        ("-2.675", "-2.68"),
        ("123456789012.345", "123456789012.35"),
        ("1E+3", "1000.00"),
    ],
)
def test_round_money_is_half_up_to_the_cent(value, expected):
    result = round_money(value)
    assert isinstance(result, Decimal)
    assert str(result) == expected


@pytest.mark.parametrize("value", ["-0.004", "-0.00", D("-0")])
def test_round_money_never_returns_a_negative_zero(value):
    assert str(round_money(value)) == "0.00"


# --- line_net --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "unit_price", "expected"),
    [
        ("1", "10.00", "10.00"),
        (400, "4.50", "1800.00"),
        ("150", "4.85", "727.50"),
        ("7.5", "18.30", "137.25"),
        ("7.5", "12.34", "92.55"),
        ("0.333", "10.00", "3.33"),
        ("0.333", "19.90", "6.63"),  # 6.6267
        ("0.333", "0.15", "0.05"),  # 0.04995
        ("0.333", "0.01", "0.00"),  # 0.00333
        ("1", "0.005", "0.01"),
        ("1", "2.675", "2.68"),
        ("1", "1.005", "1.01"),
        ("3", "0.335", "1.01"),  # 1.005
        ("0.5", "0.01", "0.01"),  # 0.005
        ("2.5", "0.01", "0.03"),  # 0.025
        ("1.125", "2", "2.25"),
        ("0", "99.99", "0.00"),
        ("1000", "123456789.12", "123456789120.00"),
        ("-1", "2.675", "-2.68"),  # a credit-note line
        (D("2.5"), D("3.33"), "8.33"),  # 8.325
    ],
)
def test_line_net_rounds_quantity_times_unit_price(quantity, unit_price, expected):
    result = line_net(quantity, unit_price)
    assert isinstance(result, Decimal)
    assert str(result) == expected


# --- compute_totals --------------------------------------------------------------------------------

# Each case: lines as (quantity, unit price, VAT rate); expected groups as (rate, net, vat), sorted by
# rate; expected (net, VAT, gross).
TOTALS_CASES = {
    "no lines": ([], [], ("0.00", "0.00", "0.00")),
    "one line at 20 %": (
        [("1", "100.00", "0.20")],
        [("0.2", "100.00", "20.00")],
        ("100.00", "20.00", "120.00"),
    ),
    "four rates, round amounts": (
        [("1", "100.00", "0.20"), ("1", "50.00", "0.10"), ("1", "20.00", "0.055"), ("1", "30.00", "0")],
        [
            ("0", "30.00", "0.00"),
            ("0.055", "20.00", "1.10"),
            ("0.1", "50.00", "5.00"),
            ("0.2", "100.00", "20.00"),
        ],
        ("200.00", "26.10", "226.10"),
    ),
    "an event: catering, books, stage set, rental, exempt actor": (
        [
            ("150", "4.85", "0.1000"),  # pause café: 727.50
            ("7.5", "18.30", "0.1000"),  # repas: 137.25
            ("0.333", "19.90", "0.0550"),  # librairie: 6.63
            ("1", "2450.00", "0.2000"),  # scénographie
            ("3", "45.55", "0.2000"),  # location: 136.65
            ("1", "380.00", "0.0000"),  # association exonérée
        ],
        [
            ("0", "380.00", "0.00"),
            ("0.055", "6.63", "0.36"),  # 0.36465
            ("0.1", "864.75", "86.48"),  # 86.475, half-up
            ("0.2", "2586.65", "517.33"),
        ],
        ("3838.03", "604.17", "4442.20"),
    ),
    # EN 16931: VAT is computed once per rate on the sum of nets, not line by line.
    # 10 × 1.10 at 5,5 %: per line 0.0605 → 0.06, i.e. 0.60; per rate 11.00 × 0.055 = 0.605 → 0.61.
    "ten lines at 5,5 % (per-line rounding would give 0.60)": (
        [("1", "1.10", "0.055")] * 10,
        [("0.055", "11.00", "0.61")],
        ("11.00", "0.61", "11.61"),
    ),
    # 3 × 0.33 at 20 %: per line 0.066 → 0.07, i.e. 0.21; per rate 0.99 × 0.2 = 0.198 → 0.20.
    "three lines at 20 % (per-line rounding would give 0.21)": (
        [("1", "0.33", "0.20")] * 3,
        [("0.2", "0.99", "0.20")],
        ("0.99", "0.20", "1.19"),
    ),
    # 7 × 0.07 at 10 %: per line 0.007 → 0.01, i.e. 0.07; per rate 0.49 × 0.1 = 0.049 → 0.05.
    "seven lines at 10 % (per-line rounding would give 0.07)": (
        [("1", "0.07", "0.10")] * 7,
        [("0.1", "0.49", "0.05")],
        ("0.49", "0.05", "0.54"),
    ),
    "rates written differently are one rate": (
        [("1", "10.00", "0.2"), ("1", "10.00", "0.20"), ("1", "10.00", "0.2000")],
        [("0.2", "30.00", "6.00")],
        ("30.00", "6.00", "36.00"),
    ),
    "half a cent of VAT rounds up": (
        [("1", "0.05", "0.10")],  # 0.005
        [("0.1", "0.05", "0.01")],
        ("0.05", "0.01", "0.06"),
    ),
    "a credit note: negative lines": (
        [("-1", "0.05", "0.10"), ("-2", "100.00", "0.20")],
        [("0.1", "-0.05", "-0.01"), ("0.2", "-200.00", "-40.00")],
        ("-200.05", "-40.01", "-240.06"),
    ),
}


@pytest.mark.parametrize(("lines", "groups", "totals"), TOTALS_CASES.values(), ids=TOTALS_CASES.keys())
def test_compute_totals_per_vat_rate(lines, groups, totals):
    result = compute_totals((line_net(quantity, price), rate) for quantity, price, rate in lines)
    assert [(str(g.rate), str(g.net), str(g.vat)) for g in result.groups] == groups
    assert (str(result.net), str(result.vat), str(result.gross)) == totals


def test_compute_totals_returns_totals_of_vat_groups():
    result = compute_totals([(D("10.00"), D("0.055"))])
    assert result == Totals((VatGroup(rate=D("0.055"), net=D("10.00"), vat=D("0.55")),))
    assert result.groups[0].gross == D("10.55")


# --- floats are refused --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: round_money(0.1),
        lambda: round_money(2.675),
        lambda: line_net(1.0, "2.00"),
        lambda: line_net("1", 2.5),
        lambda: compute_totals([(10.0, "0.20")]),
        lambda: compute_totals([("10.00", 0.2)]),
    ],
    ids=[
        "round_money",
        "round_money-2.675",
        "line_net-quantity",
        "line_net-price",
        "totals-net",
        "totals-rate",
    ],
)
def test_float_is_refused(call):
    with pytest.raises(TypeError, match="float refused"):
        call()


@pytest.mark.parametrize("value", ["", "12,50", "abc", None])
def test_what_is_not_a_decimal_is_refused(value):
    with pytest.raises(ValueError, match="not a decimal"):
        round_money(value)


# --- properties ------------------------------------------------------------------------------------

quantities = st.decimals(min_value=D("0.001"), max_value=D("10000"), places=3)
prices = st.decimals(min_value=D("0.00"), max_value=D("100000"), places=2)
rates = st.sampled_from([D("0.20"), D("0.10"), D("0.055"), D("0"), D("0.021"), D("0.085")])
lines_strategy = st.lists(st.tuples(quantities, prices, rates), max_size=30)


@settings(deadline=None, max_examples=200)
@given(quantity=quantities, price=prices)
def test_line_net_is_within_half_a_cent_of_the_exact_product(quantity, price):
    net = line_net(quantity, price)
    assert net.as_tuple().exponent == -2
    assert abs(net - quantity * price) <= D("0.005")
    assert round_money(net) == net


@settings(deadline=None, max_examples=150)
@given(lines=lines_strategy, data=st.data())
def test_totals_properties(lines, data):
    nets = [(line_net(quantity, price), rate) for quantity, price, rate in lines]
    totals = compute_totals(nets)

    assert totals.gross == totals.net + totals.vat
    assert totals.net == sum((net for net, _ in nets), D("0.00"))
    assert totals.net == sum((g.net for g in totals.groups), D("0.00"))
    assert totals.vat == sum((g.vat for g in totals.groups), D("0.00"))
    for value in (totals.net, totals.vat, totals.gross):
        assert value.as_tuple().exponent == -2

    group_rates = [g.rate for g in totals.groups]
    assert group_rates == sorted(set(group_rates))
    assert set(group_rates) == {rate for _, rate in nets}
    for group in totals.groups:
        at_rate = [net for net, rate in nets if rate == group.rate]
        assert group.net == sum(at_rate, D("0.00"))
        assert group.vat == round_money(group.net * group.rate)
        # Per-rate rounding differs from the sum of per-line VAT by at most half a cent per line.
        per_line = sum((round_money(net * group.rate) for net in at_rate), D("0.00"))
        assert abs(group.vat - per_line) <= D("0.005") * len(at_rate)

    shuffled = data.draw(st.permutations(nets))
    assert compute_totals(shuffled) == totals


# --- exact storage (app.db.ExactDecimal) on the real databases ------------------------------------


@pytest.fixture
def make_line(app, make_category, make_event, make_organisation):
    from offers.models import Line, Lot

    def make(**kw):
        category = make_category(default_vat_rate=D("0.2000"))
        organisation = make_organisation()
        lot = Lot(event=make_event(), category=category, title="Scénographie")
        db.session.add(lot)
        values = {
            "lot": lot,
            "organisation": organisation,
            "description": "Décor",
            "quantity": D("1.000"),
            "unit_price": D("100.00"),
            "vat_rate": D("0.2000"),
        }
        values.update(kw)
        line = Line(**values)
        db.session.add(line)
        db.session.flush()
        return line

    return make


def stored(table: str, column: str, row_id: int):
    """The raw value in the database, without the type's processing."""
    return db.session.execute(
        sa.text(f"SELECT {column} FROM {table} WHERE id = :id"),
        {"id": row_id},
    ).scalar_one()


def test_a_vat_rate_is_stored_and_read_back_exactly(app, make_category):
    from app.models import Category

    category = make_category(default_vat_rate=D("0.0550"))
    db.session.expire_all()

    value = db.session.execute(sa.select(Category.default_vat_rate).filter_by(id=category.id)).scalar_one()
    assert isinstance(value, Decimal)
    assert str(value) == "0.0550"
    assert str(db.session.get(Category, category.id).default_vat_rate) == "0.0550"
    if app.config["TEST_BACKEND"] == "sqlite":
        assert stored("categories", "default_vat_rate", category.id) == 550  # scaled integer
    else:
        assert stored("categories", "default_vat_rate", category.id) == D("0.0550")


def test_large_prices_and_fractional_quantities_are_stored_exactly(app, make_line):
    from offers.models import Line

    line = make_line(unit_price=D("123456789012.34"), quantity=D("0.333"), vat_rate=D("0.0550"))
    db.session.expire_all()

    row = db.session.execute(
        sa.select(Line.unit_price, Line.quantity, Line.vat_rate).filter_by(id=line.id)
    ).one()
    assert [type(value) for value in row] == [Decimal, Decimal, Decimal]
    assert [str(value) for value in row] == ["123456789012.34", "0.333", "0.0550"]
    reloaded = db.session.get(Line, line.id)
    assert str(line_net(reloaded.quantity, reloaded.unit_price)) == "41111110741.11"  # 41111110741.10922
    if app.config["TEST_BACKEND"] == "sqlite":
        assert stored("lines", "unit_price", line.id) == 12345678901234
        assert stored("lines", "quantity", line.id) == 333
    else:
        assert stored("lines", "unit_price", line.id) == D("123456789012.34")
        assert stored("lines", "quantity", line.id) == D("0.333")


def test_trailing_zeros_are_accepted_and_read_back_at_the_column_scale(app, make_line):
    from offers.models import Line

    line = make_line(unit_price=D("12.5000"), quantity=D("2"), vat_rate=D("0.2"))
    db.session.expire_all()
    row = db.session.execute(
        sa.select(Line.unit_price, Line.quantity, Line.vat_rate).filter_by(id=line.id)
    ).one()
    assert [str(value) for value in row] == ["12.50", "2.000", "0.2000"]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("unit_price", D("10.005")),
        ("unit_price", D("0.001")),
        ("quantity", D("0.3333")),
        ("vat_rate", D("0.05555")),
    ],
)
def test_a_value_with_too_many_decimals_is_refused_not_rounded(app, make_line, column, value):
    from offers.models import Line

    line = make_line()
    before = db.session.execute(sa.select(getattr(Line, column)).filter_by(id=line.id)).scalar_one()
    with pytest.raises(sa.exc.StatementError) as excinfo, db.session.begin_nested():
        setattr(line, column, value)
        db.session.flush()
    assert isinstance(excinfo.value.orig, ValueError)
    assert "decimals" in str(excinfo.value.orig)
    db.session.expire_all()
    assert db.session.execute(sa.select(getattr(Line, column)).filter_by(id=line.id)).scalar_one() == before


def test_a_float_is_refused_by_the_column(app, make_line):
    line = make_line()
    with pytest.raises(sa.exc.StatementError) as excinfo, db.session.begin_nested():
        line.unit_price = 0.1
        db.session.flush()
    assert isinstance(excinfo.value.orig, TypeError)


@pytest.mark.parametrize(
    ("column_type", "value", "message"),
    [
        (Money(), D("1.005"), "more than 2 decimals"),
        (Quantity(), D("0.0005"), "more than 3 decimals"),
        (Rate(), D("0.00001"), "more than 4 decimals"),
        (ExactDecimal(14, 2), "abc", "not a decimal"),
    ],
)
def test_the_type_refuses_inexact_values_before_any_database(column_type, value, message):
    from sqlalchemy.dialects import postgresql, sqlite

    for dialect in (sqlite.dialect(), postgresql.dialect()):
        with pytest.raises(ValueError, match=message):
            column_type.process_bind_param(value, dialect)


def test_sql_sum_over_exact_columns_is_an_exact_decimal(app, make_line):
    from offers.models import Line

    # 0.10 + 0.20 + 0.70 is not 1.0 in binary floating point.
    prices = ["0.10", "0.20", "0.70", "99999999999.99"]
    first = make_line(unit_price=D(prices[0]), quantity=D("0.333"))
    for price in prices[1:]:
        db.session.add(
            Line(
                lot=first.lot,
                organisation=first.organisation,
                description="Ligne",
                quantity=D("0.333"),
                unit_price=D(price),
                vat_rate=D("0.2000"),
            )
        )
    db.session.flush()

    total_price, total_quantity = db.session.execute(
        sa.select(sa.func.sum(Line.unit_price), sa.func.sum(Line.quantity)).filter_by(lot_id=first.lot_id)
    ).one()
    assert isinstance(total_price, Decimal)
    assert str(total_price) == "100000000000.99"
    assert isinstance(total_quantity, Decimal)
    assert str(total_quantity) == "1.332"

    empty = db.session.execute(sa.select(sa.func.sum(Line.unit_price)).filter_by(lot_id=-1)).scalar_one()
    assert empty is None


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("unit_price", D("-0.01"), "unit_price_non_negative"),
        ("quantity", D("0.000"), "quantity_positive"),
        ("quantity", D("-1.000"), "quantity_positive"),
        ("vat_rate", D("-0.0001"), "vat_rate_non_negative"),
    ],
)
def test_check_constraints_on_exact_columns_hold_on_both_databases(app, make_line, column, value, constraint):
    line = make_line()
    with pytest.raises(sa.exc.IntegrityError, match=constraint), db.session.begin_nested():
        setattr(line, column, value)
        db.session.flush()


def test_check_constraint_on_a_category_rate(app, make_category):
    with pytest.raises(sa.exc.IntegrityError, match="vat_rate_non_negative"), db.session.begin_nested():
        make_category(default_vat_rate=D("-0.0550"))


@settings(
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    price=st.decimals(min_value=D("0.00"), max_value=D("999999999999.99"), places=2),
    quantity=st.decimals(min_value=D("0.001"), max_value=D("99999999999.999"), places=3),
)
def test_any_price_and_quantity_round_trip_exactly(app, make_line, price, quantity):
    from offers.models import Line

    line = make_line(unit_price=price, quantity=quantity)
    row = db.session.execute(sa.select(Line.unit_price, Line.quantity).filter_by(id=line.id)).one()
    assert row == (price, quantity)
    assert [value.as_tuple().exponent for value in row] == [-2, -3]


# --- allocation by largest remainder (the per-actor annex, later the revenue split) ---------------


@pytest.mark.parametrize(
    "total,weights,parts",
    [
        ("0.01", ["0.05", "0.05"], ["0.01", "0.00"]),  # a tie goes to the first
        ("10.00", ["1", "1", "1"], ["3.34", "3.33", "3.33"]),
        ("100.00", ["1", "3"], ["25.00", "75.00"]),
        ("39.61", ["720.00", "0.10"], ["39.60", "0.01"]),  # 3960.45 and 0.55 cents: .55 wins
        ("1063.60", ["3366.00", "1450.00", "5820.00"], ["336.60", "145.00", "582.00"]),
        ("0.03", ["1", "2", "2"], ["0.01", "0.01", "0.01"]),  # 0.6, 1.2, 1.2 cents
        ("-0.05", ["1", "1"], ["-0.03", "-0.02"]),
        ("0.00", ["0", "0"], ["0.00", "0.00"]),
    ],
)
def test_allocate_by_largest_remainder(total, weights, parts):
    assert allocate(Decimal(total), [Decimal(w) for w in weights]) == [Decimal(p) for p in parts]


@pytest.mark.parametrize("weights", [["-1", "2"], ["0", "0"]])
def test_allocate_refuses_negative_or_empty_weights(weights):
    with pytest.raises(ValueError):
        allocate(Decimal("1.00"), [Decimal(w) for w in weights])


@given(
    total=st.decimals(min_value=-(10**7), max_value=10**7, places=2, allow_nan=False, allow_infinity=False),
    weights=st.lists(
        st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=12,
    ).filter(lambda ws: sum(ws) > 0),
)
def test_allocated_parts_add_up_and_stay_within_a_cent_of_the_exact_share(total, weights):
    parts = allocate(total, weights)
    assert sum(parts, Decimal(0)) == total
    whole = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert part == part.quantize(Decimal("0.01"))
        assert abs(part - total * weight / whole) < Decimal("0.01")
