"""Money: ``Decimal`` only, one rounding rule (half-up to the cent), EN 16931 VAT totals.

- line net = round(quantity × unit price, 2)
- VAT per rate = round(sum of line nets at that rate × rate, 2)
- totals are sums of those.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_decimal(value) -> Decimal:
    """Convert str/int/Decimal to Decimal; floats are refused (they are not exact)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("float refused for money: use Decimal or str")
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"not a decimal: {value!r}") from exc


def round_money(value) -> Decimal:
    """Round half-up to the cent (never a negative zero: -0.004 gives 0.00)."""
    result = to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    return result.copy_abs() if result.is_zero() else result


def line_net(quantity, unit_price) -> Decimal:
    return round_money(to_decimal(quantity) * to_decimal(unit_price))


@dataclass(frozen=True)
class VatGroup:
    rate: Decimal
    net: Decimal
    vat: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True)
class Totals:
    """Totals of a set of lines; refuses to exist if net + VAT != gross."""

    groups: tuple[VatGroup, ...] = field(default_factory=tuple)

    @property
    def net(self) -> Decimal:
        return sum((g.net for g in self.groups), ZERO)

    @property
    def vat(self) -> Decimal:
        return sum((g.vat for g in self.groups), ZERO)

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


def compute_totals(lines: Iterable[tuple]) -> Totals:
    """Totals from ``(net, vat_rate)`` pairs (nets already rounded), grouped by rate."""
    by_rate: dict[Decimal, Decimal] = {}
    for net, rate in lines:
        rate = to_decimal(rate).normalize()
        by_rate[rate] = by_rate.get(rate, ZERO) + to_decimal(net)
    groups = tuple(
        VatGroup(rate=rate, net=round_money(net), vat=round_money(net * rate))
        for rate, net in sorted(by_rate.items())
    )
    return Totals(groups)


def merge_totals(parts: Iterable[Totals]) -> Totals:
    """Add totals computed separately (one per seller, e.g. each member of a joint consortium
    invoices its own share and rounds its own VAT): nets and VATs are summed per rate."""
    by_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
    for totals in parts:
        for group in totals.groups:
            net, vat = by_rate.get(group.rate, (ZERO, ZERO))
            by_rate[group.rate] = (net + group.net, vat + group.vat)
    return Totals(tuple(VatGroup(rate=r, net=n, vat=v) for r, (n, v) in sorted(by_rate.items())))


def allocate(total, weights: Iterable) -> list[Decimal]:
    """Split ``total`` (to the cent) in proportion to non-negative ``weights``, by largest remainder:
    the parts are whole cents and add up to ``total`` exactly. Ties go to the earlier weight.
    With all weights zero, every part is zero and ``total`` must be zero too."""
    weights = [to_decimal(w) for w in weights]
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    cents = int((round_money(total) / CENT).to_integral_value())
    sign, cents = (-1 if cents < 0 else 1), abs(cents)
    whole = sum(weights, Decimal(0))
    if whole == 0:
        if cents:
            raise ValueError("cannot allocate a non-zero total over zero weights")
        return [ZERO for _w in weights]
    exact = [Decimal(cents) * w / whole for w in weights]
    floors = [int(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[: cents - sum(floors)]:
        floors[i] += 1
    return [(Decimal(sign * f) * CENT).quantize(CENT) + ZERO for f in floors]
