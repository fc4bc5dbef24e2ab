"""Running totals of an event, per DESIGN.md's money rules (``app.money``), coordination fee included.

- each line's net is round(quantity × unit price, 2);
- a lot's net is the sum of its lines' nets; cancelled lots count for nothing;
- the fee is a percentage of the open lots' net (rounded half-up to the cent) or a fixed amount;
- VAT is computed per rate on the sum of the nets at that rate (EN 16931), the fee at its own rate.

So ``totals.net == lots_net + fee_net`` and ``totals.gross == totals.net + totals.vat`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.models import CoordinatorIdentity, VatRegime
from app.money import ZERO, Totals, compute_totals, line_net, round_money
from offers.models import Event, FeeKind, LotStatus

#: The fee's VAT rate when the coordinator charges VAT (a service: the normal rate).
STANDARD_FEE_VAT_RATE = Decimal("0.2000")


@dataclass(frozen=True)
class EventTotals:
    #: Sum of the open lots' nets (fee excluded).
    lots_net: Decimal
    #: The coordination fee excl. VAT.
    fee_net: Decimal
    #: Per-rate groups and the grand totals, fee included.
    totals: Totals
    #: Net of each open lot, by lot id (cancelled lots are absent).
    lot_nets: dict[int, Decimal]
    #: The fee's VAT rate used.
    fee_vat_rate: Decimal = STANDARD_FEE_VAT_RATE

    @property
    def fee_vat(self) -> Decimal:
        return round_money(self.fee_net * self.fee_vat_rate)


def coordination_fee(event: Event, lots_net: Decimal) -> Decimal:
    """The coordination fee excl. VAT: a percentage of the lots' net, or a fixed amount."""
    if event.fee_kind == FeeKind.PERCENT:
        return round_money(lots_net * event.fee_rate)
    if event.fee_kind == FeeKind.FIXED:
        return event.fee_amount
    return ZERO


def fee_vat_rate(identity: CoordinatorIdentity | None) -> Decimal:
    """Who sells the fee is the coordinator: its regime decides (0 % in franchise or exempt)."""
    if identity is not None and identity.vat_regime in (VatRegime.FRANCHISE, VatRegime.EXEMPT):
        return Decimal("0")
    return STANDARD_FEE_VAT_RATE


def event_totals(event: Event, fee_vat_rate: Decimal = STANDARD_FEE_VAT_RATE) -> EventTotals:
    """Running totals of an event's open lots, per DESIGN.md's money rules, fee included."""
    pairs: list[tuple[Decimal, Decimal]] = []
    lot_nets: dict[int, Decimal] = {}
    for lot in event.lots:
        if lot.status == LotStatus.CANCELLED:
            continue
        subtotal = ZERO
        for line in lot.lines:
            net = line_net(line.quantity, line.unit_price)
            pairs.append((net, line.vat_rate))
            subtotal += net
        lot_nets[lot.id] = subtotal
    lots_net = sum(lot_nets.values(), ZERO)
    fee = coordination_fee(event, lots_net)
    if fee:
        pairs.append((fee, fee_vat_rate))
    return EventTotals(
        lots_net=lots_net,
        fee_net=fee,
        totals=compute_totals(pairs),
        lot_nets=lot_nets,
        fee_vat_rate=fee_vat_rate,
    )
