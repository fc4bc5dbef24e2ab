"""The revenue split: who gets what of an event's money, and what is due to each actor as the client pays.

This is the only module that says what an actor is owed; the invoice and payout services, the
statements and the treasurer's pages call it, never recompute it. VAT is :mod:`offers.pricing`'s;
the arithmetic (half-up rounding, largest remainder) is :mod:`app.money`. The policy is written
down in ``docs/pricing.md`` ("The split and payouts").

**The split** (:func:`split_for_quote` on an accepted quote's frozen lines, :func:`compute_split`
on any lines): for each actor,

- *share* = Σ nets of the lines it delivers;
- *commission* = its part of round(rate × Σ shares), the cents allocated over the actors by
  largest remainder in proportion to their shares (ties to the actor seen first), so the
  commissions add up to round(rate × Σ shares) exactly; the rate is the event's
  ``commission_rate`` (0 ≤ rate < 1), invisible to the client;
- *net owed* = share − commission;
- *VAT on the net*: only for an actor subject to VAT in single-contractor mode, who invoices the
  coordinator its net: the commission is spread over the actor's rate groups by largest remainder,
  then VAT per rate by :func:`offers.pricing.totals`. A franchise or exempt actor charges none; in
  joint-consortium mode the actor's VAT is on its own invoice to the client, not on the payout.
- *amount* = net owed + VAT on the net: what it will be paid in all.

**The identities** that always hold, to the cent (:class:`Split` refuses to exist otherwise):

- invoiced net = Σ shares + fee line;
- Σ payouts (nets owed) = Σ shares − Σ commissions;
- kept by the coordinator = fee line + Σ commissions;
- so invoiced net = Σ payouts + kept, and Σ commissions = round(rate × Σ shares).

**Payouts as the client pays** (:func:`released`, :func:`due_now`, :func:`adjustments`; pure
functions): under the setting ``payouts.release`` (:func:`release_setting`),

- ``proportional``: of what each actor is owed (its amount), the fraction the client paid of what
  it was billed is released: round(Σ amounts × collected ÷ billed), allocated over the actors by
  largest remainder in proportion to their amounts — never more than an actor is owed;
- ``on_full_payment``: nothing until the client paid everything billed, then everything.

What is due now is what is released less what was already paid out, never negative; when a credit
note changes the split, the adjusting payout is the same difference, positive or negative.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _

from app.errors import DomainError, InvalidValue
from app.extensions import db
from app.models import Organisation, VatRegime
from app.money import ZERO, Totals, allocate, round_money, to_decimal
from app.settings_store import get_setting
from offers import pricing
from offers.models import BillingMode, Quote
from offers.services.quotes import quote_billing_mode

#: The setting that chooses when payouts become due, and its default.
RELEASE_SETTING = "payouts.release"


class PayoutRelease(enum.StrEnum):
    #: In proportion to what the client paid (cents by largest remainder).
    PROPORTIONAL = "proportional"
    #: Only once the client paid everything it was billed.
    ON_FULL_PAYMENT = "on_full_payment"


DEFAULT_RELEASE = PayoutRelease.PROPORTIONAL


class SplitMismatch(ValueError):
    """A split that does not add up: a bug, never a user's mistake."""


# --- the split -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitLine:
    """One actor's line, reduced to what the split needs (a quote's or an invoice's frozen line)."""

    organisation_id: int
    net: Decimal
    vat_rate: Decimal


@dataclass(frozen=True)
class SplitActor:
    """Who an actor is, as the document froze it."""

    name: str
    regime: VatRegime


@dataclass(frozen=True)
class ActorSplit:
    """One actor's figures; refuses to exist if they do not add up."""

    organisation_id: int
    name: str
    regime: VatRegime
    #: Σ nets of its lines.
    share: Decimal
    #: Kept by the coordinator.
    commission: Decimal
    #: share − commission: what the coordinator owes it, excl. VAT.
    net: Decimal
    #: The VAT it invoices the coordinator on ``net``, per rate (``None`` when it charges none).
    vat: Totals | None = None

    def __post_init__(self):
        if self.share < 0 or not ZERO <= self.commission <= self.share:
            raise SplitMismatch(f"actor {self.organisation_id}: commission outside 0..share")
        if self.net != self.share - self.commission:
            raise SplitMismatch(f"actor {self.organisation_id}: net != share - commission")
        if self.vat is not None and self.vat.net != self.net:
            raise SplitMismatch(f"actor {self.organisation_id}: VAT computed on another net")

    @property
    def vat_amount(self) -> Decimal:
        return self.vat.vat if self.vat is not None else ZERO

    @property
    def amount(self) -> Decimal:
        """What the actor is paid in all: its net owed plus the VAT it invoices on it."""
        return self.net + self.vat_amount


@dataclass(frozen=True)
class Split:
    """An event's split; the constructor refuses one whose totals do not match its actors."""

    billing_mode: BillingMode
    commission_rate: Decimal
    actors: tuple[ActorSplit, ...]
    #: The client's fee line, excl. VAT (0 without one).
    fee_net: Decimal
    #: What the client is invoiced excl. VAT: Σ shares + fee line.
    invoiced_net: Decimal
    #: Σ commissions = round(rate × Σ shares).
    total_commission: Decimal
    #: Σ nets owed to the actors = Σ shares − Σ commissions.
    total_payouts: Decimal
    #: Kept by the coordinator = fee line + Σ commissions.
    kept: Decimal

    def __post_init__(self):
        shares = sum((a.share for a in self.actors), ZERO)
        commissions = sum((a.commission for a in self.actors), ZERO)
        payouts = sum((a.net for a in self.actors), ZERO)
        ids = [a.organisation_id for a in self.actors]
        if len(set(ids)) != len(ids):
            raise SplitMismatch("an actor appears twice")
        if self.fee_net < 0:
            raise SplitMismatch("negative fee line")
        if self.invoiced_net != shares + self.fee_net:
            raise SplitMismatch(f"invoiced net {self.invoiced_net} != Σ shares {shares} + fee {self.fee_net}")
        if self.total_commission != commissions or commissions != round_money(self.commission_rate * shares):
            raise SplitMismatch(f"Σ commissions {commissions} != round(rate × Σ shares)")
        if self.total_payouts != payouts or payouts != shares - commissions:
            raise SplitMismatch(f"Σ payouts {payouts} != Σ shares {shares} − Σ commissions {commissions}")
        if self.kept != self.fee_net + commissions:
            raise SplitMismatch(f"kept {self.kept} != fee {self.fee_net} + Σ commissions {commissions}")

    @property
    def total_shares(self) -> Decimal:
        return sum((a.share for a in self.actors), ZERO)

    @property
    def total_amount(self) -> Decimal:
        """Σ what the actors are paid, VAT on their nets included."""
        return sum((a.amount for a in self.actors), ZERO)

    def actor(self, organisation_id: int) -> ActorSplit | None:
        return next((a for a in self.actors if a.organisation_id == organisation_id), None)


def check_commission_rate(rate) -> Decimal:
    rate = to_decimal(rate)
    if not rate.is_finite() or not Decimal("0") <= rate < Decimal("1"):
        raise InvalidValue(_("La commission doit être comprise entre 0 et 100 % (exclu)."), "commission_rate")
    return rate


def _payout_vat(organisation_id: int, lines: list[SplitLine], commission: Decimal) -> Totals:
    """The VAT an actor invoices the coordinator on its net: its commission spread over its rate
    groups by largest remainder, then :func:`offers.pricing.totals` on the nets per rate."""
    by_rate: dict[Decimal, Decimal] = {}
    for line in lines:
        rate = to_decimal(line.vat_rate).normalize()
        by_rate[rate] = by_rate.get(rate, ZERO) + line.net
    rates = sorted(by_rate)
    parts = allocate(commission, [by_rate[r] for r in rates])
    priced = [
        pricing.Priced(by_rate[r] - part, r, organisation_id) for r, part in zip(rates, parts, strict=True)
    ]
    # One seller (the actor): its VAT is rounded once per rate, whatever the key it is grouped by.
    return pricing.totals(priced, BillingMode.SINGLE_CONTRACTOR)


def compute_split(
    lines: Iterable[SplitLine],
    *,
    actors: Mapping[int, SplitActor],
    fee_net: Decimal,
    commission_rate: Decimal,
    billing_mode: BillingMode,
) -> Split:
    """The split of ``lines`` (actors in first-seen order) and the client's fee line."""
    rate = check_commission_rate(commission_rate)
    fee_net = round_money(fee_net)
    by_actor: dict[int, list[SplitLine]] = {}
    for line in lines:
        if line.net != round_money(line.net) or line.net < 0:
            raise SplitMismatch(f"line net {line.net} is not a non-negative amount to the cent")
        by_actor.setdefault(line.organisation_id, []).append(line)
    shares = [sum((line.net for line in group), ZERO) for group in by_actor.values()]
    commissions = allocate(round_money(rate * sum(shares, ZERO)), shares)
    result = []
    for (org_id, group), share, commission in zip(by_actor.items(), shares, commissions, strict=True):
        who = actors[org_id]
        vat = None
        if billing_mode == BillingMode.SINGLE_CONTRACTOR and who.regime == VatRegime.SUBJECT:
            vat = _payout_vat(org_id, group, commission)
        result.append(ActorSplit(org_id, who.name, who.regime, share, commission, share - commission, vat))
    total_commission = sum(commissions, ZERO)
    return Split(
        billing_mode=billing_mode,
        commission_rate=rate,
        actors=tuple(result),
        fee_net=fee_net,
        invoiced_net=sum(shares, ZERO) + fee_net,
        total_commission=total_commission,
        total_payouts=sum(shares, ZERO) - total_commission,
        kept=fee_net + total_commission,
    )


def split_for_quote(quote: Quote, commission_rate: Decimal | None = None) -> Split:
    """The split of an accepted quote, from its frozen lines (what the client accepted, not the
    live lines), the actors as the quote froze them, and the event's commission rate (unless
    ``commission_rate`` is given).

    Raises :class:`DomainError` when the quote is not accepted.
    """
    if not quote.is_accepted:
        raise DomainError(
            _(
                "Le devis %(number)s v%(version)s n'est pas accepté : la répartition suit le devis "
                "accepté par le client.",
                number=quote.number,
                version=quote.version,
            )
        )
    return split_of_frozen_lines(
        quote.lines,
        frozen_actors=quote.snapshot.get("actors", {}),
        commission_rate=quote.event.commission_rate if commission_rate is None else commission_rate,
        billing_mode=quote_billing_mode(quote),
        total_net=quote.total_net,
        current_regime=lambda line: db.session.get(Organisation, line.organisation_id).vat_regime,
    )


def split_of_frozen_lines(
    lines: Iterable,
    *,
    frozen_actors: Mapping[str, Mapping],
    commission_rate: Decimal,
    billing_mode: BillingMode,
    total_net: Decimal,
    current_regime: Callable[[object], VatRegime | str],
) -> Split:
    """:func:`split_for_quote` on an accepted quote's frozen lines given apart from the quote, so
    that many quotes are split from lines read in one query (:func:`invoicing.services.payouts.events_money`).

    ``lines`` are :class:`~offers.models.QuoteLine` or rows with their ``id``, ``kind``,
    ``organisation_id``, ``organisation_name``, ``net`` and ``vat_rate``; ``frozen_actors`` the
    snapshot's ``actors`` (cards by organisation id as text); ``current_regime(line)`` the VAT regime
    of a line's actor today, read only for a quote frozen before the regime was; ``total_net`` the
    quote's, which the split must add up to.
    """
    split_lines, actors, fee_net = [], {}, ZERO
    for ql in lines:
        if ql.kind == "fee":
            fee_net += ql.net
            continue
        if ql.organisation_id is None:
            raise SplitMismatch(f"quote line {ql.id} has no actor")
        split_lines.append(SplitLine(ql.organisation_id, ql.net, ql.vat_rate))
        if ql.organisation_id not in actors:
            card = frozen_actors.get(str(ql.organisation_id), {})
            regime = card.get("vat_regime")
            if regime is None:  # a quote frozen before the regime was: the actor's card today
                regime = current_regime(ql)
            actors[ql.organisation_id] = SplitActor(
                card.get("name") or ql.organisation_name, VatRegime(regime)
            )
    split = compute_split(
        split_lines,
        actors=actors,
        fee_net=fee_net,
        commission_rate=commission_rate,
        billing_mode=billing_mode,
    )
    if split.invoiced_net != total_net:
        raise SplitMismatch(f"split {split.invoiced_net} != quote net {total_net}")
    return split


# --- payouts as the client pays ------------------------------------------------------------------


def release_setting() -> PayoutRelease:
    """The ``payouts.release`` setting (``proportional`` by default)."""
    value = get_setting(RELEASE_SETTING, DEFAULT_RELEASE.value)
    try:
        return PayoutRelease(value)
    except ValueError as exc:
        raise DomainError(
            _(
                "Réglage « %(key)s » inconnu : %(value)s (attendu : proportional ou on_full_payment).",
                key=RELEASE_SETTING,
                value=value,
            )
        ) from exc


def _amount(value, name: str) -> Decimal:
    value = to_decimal(value)
    if not value.is_finite() or value != round_money(value) or value < 0:
        raise InvalidValue(_("Un montant positif ou nul, au centime, est attendu."), name)
    return value


def released(split: Split, *, collected, billed, release: PayoutRelease | str) -> dict[int, Decimal]:
    """What is released to each actor so far (cumulative), given what the client paid
    (``collected``) of what it was billed (``billed``, incl. VAT, credit notes deducted)."""
    release = PayoutRelease(release)
    collected, billed = _amount(collected, "collected"), _amount(billed, "billed")
    owed = [a.amount for a in split.actors]
    ids = [a.organisation_id for a in split.actors]
    if billed == 0:
        return dict.fromkeys(ids, ZERO)
    if release == PayoutRelease.ON_FULL_PAYMENT:
        parts = owed if collected >= billed else [ZERO for _a in owed]
    else:
        total = round_money(sum(owed, ZERO) * min(collected, billed) / billed)
        parts = allocate(total, owed)
    if any(part > limit for part, limit in zip(parts, owed, strict=True)):
        raise SplitMismatch("released more than owed")
    return dict(zip(ids, parts, strict=True))


def adjustments(
    split: Split, paid: Mapping[int, Decimal], *, collected, billed, release: PayoutRelease | str
) -> dict[int, Decimal]:
    """Per actor, released − already paid: positive, a payout to make; negative, what the actor
    received in excess (after a credit note changed the split). An actor paid before but absent
    from ``split`` gets back its whole payment, negated."""
    now = released(split, collected=collected, billed=billed, release=release)
    result = {org: amount - to_decimal(paid.get(org, ZERO)) for org, amount in now.items()}
    for org, amount in paid.items():
        if org not in result:
            result[org] = -to_decimal(amount)
    return result


def due_now(
    split: Split, paid: Mapping[int, Decimal], *, collected, billed, release: PayoutRelease | str
) -> dict[int, Decimal]:
    """What to pay each actor of ``split`` now: released less already paid, never negative."""
    result = adjustments(split, paid, collected=collected, billed=billed, release=release)
    return {a.organisation_id: max(result[a.organisation_id], ZERO) for a in split.actors}
