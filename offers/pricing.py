"""Pricing: who sells a line, its VAT rate and legal mention, the coordination fee, and the totals.

This is the only module that decides VAT and adds up money; the dashboard, the quote, the actor
portal (and later invoices and payouts) call it. The policy is written down in ``docs/pricing.md``;
the arithmetic (line net, VAT per rate, half-up rounding) is :mod:`app.money`.

- **Who sells.** Single contractor: the coordinator sells every line and the fee. Joint consortium:
  the actor who delivers a line sells it; the coordinator sells the fee.
- **The seller's regime** (subject to VAT, franchise art. 293 B, exempt art. 261-7-1°) decides the
  rates: a seller without VAT charges 0 % with its legal mention; a subject seller charges a legal
  French rate, by default its lot's category rate (the category's rate is only a default).
- **Rates follow the seller.** A line stores whether its rate was chosen by hand
  (``Line.vat_rate_manual``). Every other line takes the default rate of its *current* seller: the
  rate used everywhere is :func:`effective_rate`, and :func:`rederive_rates` writes it back when the
  billing mode, the actor of a line, or a regime changes. A hand-chosen rate that no longer fits its
  seller is flagged (:func:`rate_issues`) and blocks issuing a quote.
- **Totals** (:func:`totals`): VAT is rounded per seller and per rate, then added up. In
  joint-consortium mode each member will invoice its own share, so its VAT is rounded on its own; in
  single-contractor mode there is one seller, so VAT is rounded once per rate on the whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from app.audit import N_, as_rate, record
from app.db import LineNet, sum_money
from app.extensions import db
from app.formatting import rate as format_rate
from app.i18n import gettext as _
from app.labels import label
from app.models import CoordinatorIdentity, Organisation, VatRegime
from app.money import ZERO, Totals, compute_totals, line_net, merge_totals, round_money
from app.settings_store import get_setting
from offers.models import BillingMode, Event, FeeKind, Line, Lot, LotStatus

RATE_QUANTUM = Decimal("0.0001")
ZERO_RATE = Decimal("0.0000")

#: The VAT rates of metropolitan France (CGI art. 278 ff.), as fractions.
LEGAL_VAT_RATES: tuple[Decimal, ...] = (
    Decimal("0.0000"),
    Decimal("0.0210"),
    Decimal("0.0550"),
    Decimal("0.1000"),
    Decimal("0.2000"),
)

#: The coordination fee is a service: the normal rate, when its seller (the coordinator) is subject.
FEE_VAT_RATE = Decimal("0.2000")

#: Used when the ``legal.vat_mentions`` setting is missing or lacks a regime.
DEFAULT_VAT_MENTIONS = {
    "franchise": "TVA non applicable, art. 293 B du CGI",
    "exempt": "Exonération de TVA, article 261-7-1° du CGI",
}

#: The longest reason a subject seller may give for a 0 % line (it is printed on the documents).
MAX_REASON = 300

#: Seller key of the coordinator (the fee, and every line in single-contractor mode).
COORDINATOR = "coordinator"

#: A sentinel: "look the coordinator's identity up" (``None`` means "not set up yet").
_LOOKUP = object()


# --- who sells -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seller:
    """Whoever sells a line: the coordinator or one actor, with its VAT regime."""

    #: ``"coordinator"`` or ``"org:<id>"``: the key totals are rounded by.
    key: str
    name: str
    regime: VatRegime
    organisation_id: int | None = None

    @property
    def subject(self) -> bool:
        return self.regime == VatRegime.SUBJECT


def coordinator_identity() -> CoordinatorIdentity | None:
    """The coordinator's own identity (settings), or ``None`` before it is set up."""
    return db.session.get(CoordinatorIdentity, CoordinatorIdentity.ONLY_ROW)


def with_coordinator_identity(statement: sa.Select) -> sa.Select:
    """``statement`` with the coordinator's identity as one more entity of each row (outer-joined:
    ``None`` before it is set up). A page whose prices need the identity reads it with its own
    first row instead of in a query of its own: :func:`coordinator_identity` then finds it in the
    session (on PostgreSQL a query is a round trip, about 0.3 ms of a page)."""
    return statement.add_columns(CoordinatorIdentity).outerjoin(
        CoordinatorIdentity, CoordinatorIdentity.id == CoordinatorIdentity.ONLY_ROW
    )


def keeping_identity(row):
    """The first entity of a row read with :func:`with_coordinator_identity`. The identity, its last
    one, is kept for the session's life: a session holds its objects by weak reference only, and
    one nobody refers to would be dropped at once and read again."""
    db.session.info["maillage_coordinator_identity"] = row[-1]
    return row[0]


def _identity(identity):
    return coordinator_identity() if identity is _LOOKUP else identity


def coordinator_seller(identity=_LOOKUP) -> Seller:
    """The coordinator as a seller: subject to VAT until its identity says otherwise."""
    identity = _identity(identity)
    if identity is None:
        return Seller(COORDINATOR, _("la coordination"), VatRegime.SUBJECT)
    return Seller(COORDINATOR, identity.name, identity.vat_regime)


def seller_key(billing_mode: BillingMode, organisation_id: int | None) -> str:
    """The key a line's VAT is rounded under: its actor in joint-consortium mode, else the
    coordinator. ``organisation_id`` ``None`` is the coordinator's own line (the fee)."""
    if billing_mode == BillingMode.JOINT_CONSORTIUM and organisation_id is not None:
        return f"org:{organisation_id}"
    return COORDINATOR


def line_seller(billing_mode: BillingMode, organisation: Organisation, identity=_LOOKUP) -> Seller:
    """Who sells ``organisation``'s line in ``billing_mode`` (``identity`` spares a lookup)."""
    if billing_mode == BillingMode.JOINT_CONSORTIUM:
        return Seller(
            seller_key(billing_mode, organisation.id),
            organisation.name,
            organisation.vat_regime,
            organisation.id,
        )
    return coordinator_seller(identity)


# --- rates ---------------------------------------------------------------------------------------


def category_rate(lot: Lot) -> Decimal:
    """The lot's category rate at the stored scale: the default for a subject seller."""
    return Decimal(lot.category.default_vat_rate).quantize(RATE_QUANTUM)


def default_rate(seller: Seller, category_default: Decimal) -> Decimal:
    """The rate a line takes unless chosen by hand: the category's for a subject seller, else 0 %."""
    return category_default.quantize(RATE_QUANTUM) if seller.subject else ZERO_RATE


def allowed_rates(seller: Seller, category_default: Decimal, *, zero: bool = True) -> list[Decimal]:
    """Rates a line may carry: only 0 % for a seller without VAT; the legal rates and the category's
    own for a subject seller (``zero=False`` leaves out 0 %, which needs a reason)."""
    if not seller.subject:
        return [ZERO_RATE]
    rates = {*LEGAL_VAT_RATES, category_default.quantize(RATE_QUANTUM)}
    if not zero:
        rates.discard(ZERO_RATE)
    return sorted(rates)


def vat_mentions() -> dict[str, str]:
    """The legal mentions of 0 % lines, per regime, from the settings (defaults filled in)."""
    stored = get_setting("legal.vat_mentions", DEFAULT_VAT_MENTIONS) or {}
    return {**DEFAULT_VAT_MENTIONS, **stored}


def regime_mention(regime: VatRegime | None, mentions: dict[str, str] | None = None) -> str | None:
    """The legal mention of a seller's regime (``None`` for a subject seller)."""
    if regime not in (VatRegime.FRANCHISE, VatRegime.EXEMPT):
        return None
    return (mentions if mentions is not None else vat_mentions()).get(regime.value)


def mention(
    seller: Seller, rate: Decimal, reason: str | None = None, mentions: dict[str, str] | None = None
) -> str | None:
    """The legal mention printed beside a 0 % line: its seller's regime, or the reason a subject
    seller gave. ``None`` for a line that charges VAT."""
    if rate != 0:
        return None
    if not seller.subject:
        return regime_mention(seller.regime, mentions)
    return (reason or "").strip() or None


def rate_problem(seller: Seller, rate: Decimal, reason: str | None = None) -> str | None:
    """Why ``rate`` does not fit ``seller`` (French), or ``None`` when it does."""
    if not seller.subject and rate != 0:
        return _(
            "%(seller)s n'est pas assujetti à la TVA (%(regime)s) : ses lignes sont à 0 %%.",
            seller=seller.name,
            regime=label(seller.regime),
        )
    if seller.subject and rate == 0 and not (reason or "").strip():
        return _(
            "%(seller)s est assujetti à la TVA : une ligne à 0 %% doit indiquer son motif d'exonération.",
            seller=seller.name,
        )
    return None


class RateRefused(ValueError):
    """A rate (or its reason) refused; ``field`` is the form field (``vat_rate`` or ``vat_reason``)."""

    def __init__(self, message: str, field: str = "vat_rate"):
        super().__init__(message)
        self.message = message
        self.field = field


def check_rate(
    seller: Seller, category_default: Decimal, rate: Decimal, reason: str | None = None
) -> tuple[Decimal, str | None]:
    """A typed rate at the stored scale and its cleaned reason, or :class:`RateRefused`."""
    if not rate.is_finite() or rate.as_tuple().exponent < -4:
        raise RateRefused(_("Taux de TVA inconnu."))
    rate = rate.quantize(RATE_QUANTUM)
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        raise RateRefused(_("Le motif d'exonération a au plus 300 caractères."), "vat_reason")
    allowed = allowed_rates(seller, category_default)
    if rate not in allowed:
        if not seller.subject:
            raise RateRefused(rate_problem(seller, rate) or "")
        raise RateRefused(
            _(
                "Taux de TVA non prévu par la loi : choisissez parmi %(rates)s.",
                rates=", ".join(format_rate(r) for r in allowed),
            )
        )
    problem = rate_problem(seller, rate, reason)
    if problem:
        raise RateRefused(problem, "vat_reason")
    # A reason only means something on a subject seller's 0 % line.
    return rate, (reason if seller.subject and rate == 0 else None)


def effective_rate(line: Line, seller: Seller, category_default: Decimal) -> Decimal:
    """The rate a line is sold at now: its own when chosen by hand, else its seller's default."""
    if line.vat_rate_manual:
        return Decimal(line.vat_rate).quantize(RATE_QUANTUM)
    return default_rate(seller, category_default)


@dataclass(frozen=True)
class LinePricing:
    """Everything the pages show about one line's VAT."""

    seller: Seller
    rate: Decimal
    manual: bool
    category_rate: Decimal
    mention: str | None
    problem: str | None

    @property
    def differs_from_category(self) -> bool:
        """A subject seller's rate that is not its category's (the dashboard points it out)."""
        return self.seller.subject and self.rate != self.category_rate


class PricingContext:
    """The coordinator's identity and the mentions, looked up once for many lines."""

    def __init__(self, identity=_LOOKUP, mentions: dict[str, str] | None = None):
        self.identity = _identity(identity)
        self._mentions = mentions

    @property
    def mentions(self) -> dict[str, str]:
        """The settings' mentions, read the first time a 0 % line needs one."""
        if self._mentions is None:
            self._mentions = vat_mentions()
        return self._mentions

    def seller(self, event: Event, organisation: Organisation) -> Seller:
        return line_seller(event.billing_mode, organisation, self.identity)

    def line(self, event: Event, line: Line, lot: Lot | None = None) -> LinePricing:
        lot = lot or line.lot
        seller = self.seller(event, line.organisation)
        category_default = category_rate(lot)
        rate = effective_rate(line, seller, category_default)
        return LinePricing(
            seller=seller,
            rate=rate,
            manual=bool(line.vat_rate_manual),
            category_rate=category_default,
            mention=mention(seller, rate, line.vat_reason, self.mentions) if rate == 0 else None,
            problem=rate_problem(seller, rate, line.vat_reason) if line.vat_rate_manual else None,
        )

    def fee_seller(self) -> Seller:
        return coordinator_seller(self.identity)


def line_pricing(event: Event, line: Line) -> LinePricing:
    """One line's pricing (one identity and settings lookup: use :class:`PricingContext` for many)."""
    return PricingContext().line(event, line)


# --- rates that follow the seller ----------------------------------------------------------------


@dataclass(frozen=True)
class RateIssue:
    """A line whose hand-chosen rate no longer fits its seller."""

    line: Line
    lot: Lot
    message: str

    def __str__(self) -> str:
        return _(
            "lot « %(lot)s » : la ligne « %(line)s » est à %(rate)s — %(problem)s",
            lot=self.lot.title,
            line=self.line.description,
            rate=format_rate(self.line.vat_rate),
            problem=self.message,
        )


def open_lots(event: Event) -> list[Lot]:
    return [lot for lot in event.lots if lot.status == LotStatus.OPEN]


def lines_pricing(
    event: Event, context: PricingContext | None = None, lots: Iterable[Lot] | None = None
) -> dict[int, LinePricing]:
    """Each line's pricing by line id, for every lot of the event (cancelled ones too), or of
    ``lots`` only: a page computes it once and hands it to the totals and to its rows (``priced=``)."""
    context = context or PricingContext()
    lots = event.lots if lots is None else lots
    return {line.id: context.line(event, line, lot) for lot in lots for line in lot.lines}


def _pricing(event: Event, line: Line, lot: Lot, context: PricingContext, priced) -> LinePricing:
    return priced[line.id] if priced is not None else context.line(event, line, lot)


def rate_issues(
    event: Event, context: PricingContext | None = None, priced: Mapping[int, LinePricing] | None = None
) -> list[RateIssue]:
    """Lines of the open lots whose hand-chosen rate does not fit their seller now (``priced``:
    :func:`lines_pricing`'s, when already computed)."""
    context = context or PricingContext()
    issues = []
    for lot in open_lots(event):
        for line in lot.lines:
            problem = _pricing(event, line, lot, context, priced).problem
            if problem:
                issues.append(RateIssue(line, lot, problem))
    return issues


def rederive_rates(
    event: Event, user=None, context: PricingContext | None = None
) -> list[tuple[Line, Decimal, Decimal]]:
    """Write back the seller's default rate of every line not chosen by hand (open lots), with an
    audit entry per line that changed; returns ``(line, before, after)`` for those. Flushes."""
    context = context or PricingContext()
    changed = []
    for lot in open_lots(event):
        for line in lot.lines:
            if line.vat_rate_manual:
                continue
            seller = context.seller(event, line.organisation)
            rate = default_rate(seller, category_rate(lot))
            if Decimal(line.vat_rate) != rate:
                changed.append((line, line.vat_rate, rate))
                line.vat_rate = rate
                line.vat_reason = None
    if changed:
        db.session.flush()
    for line, before, after in changed:
        record(
            "line.rate_rederived",
            line,
            user=user,
            summary=N_(
                "TVA de la ligne « %(line)s » recalculée pour son vendeur (%(seller)s) : %(before)s → %(after)s",
                line=line.description,
                seller=context.seller(event, line.organisation).name,
                before=as_rate(before),
                after=as_rate(after),
            ),
            changes={"vat_rate": (before, after)},
            event_id=event.id,
        )
    return changed


# --- the coordination fee ------------------------------------------------------------------------


def coordination_fee(event: Event, lots_net: Decimal) -> Decimal:
    """The coordination fee excl. VAT: a percentage of the lots' net (half-up), or a fixed amount."""
    if event.fee_kind == FeeKind.PERCENT:
        return round_money(lots_net * event.fee_rate)
    if event.fee_kind == FeeKind.FIXED:
        return event.fee_amount
    return ZERO


def fee_vat_rate(seller: Seller) -> Decimal:
    """The fee's seller is the coordinator: the normal rate when subject, else 0 %."""
    return FEE_VAT_RATE if seller.subject else ZERO_RATE


@dataclass(frozen=True)
class FeeLine:
    net: Decimal
    vat_rate: Decimal
    mention: str | None
    description: str


def fee_net(event: Event, lots_net: Decimal) -> Decimal:
    """The net of the offer's fee line (:func:`fee_line`): the coordination fee, or zero when there is
    no fee line."""
    net = coordination_fee(event, lots_net)
    return net if net > 0 else ZERO


def fee_line(event: Event, lots_net: Decimal, context: PricingContext | None = None) -> FeeLine | None:
    """The coordination fee as a line of the offer, or ``None`` when there is none."""
    context = context or PricingContext()
    net = fee_net(event, lots_net)
    if not net:
        return None
    seller = context.fee_seller()
    rate = fee_vat_rate(seller)
    description = _("Coordination du groupement : interlocuteur unique, suivi et logistique")
    if event.fee_kind == FeeKind.PERCENT:
        description += " (" + _("%(rate)s du montant des lots", rate=format_rate(event.fee_rate)) + ")"
    return FeeLine(
        net, rate, mention(seller, rate, None, context.mentions) if rate == 0 else None, description
    )


# --- totals --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Priced:
    """A line reduced to what totals need. ``organisation_id`` ``None``: the coordinator's own
    line (the fee)."""

    net: Decimal
    vat_rate: Decimal
    organisation_id: int | None


def totals_by_seller(lines: Iterable[Priced], billing_mode: BillingMode) -> dict[str, Totals]:
    """Per seller (see :func:`seller_key`), the EN 16931 totals of its lines, in first-seen order."""
    groups: dict[str, list[Priced]] = {}
    for line in lines:
        groups.setdefault(seller_key(billing_mode, line.organisation_id), []).append(line)
    return {key: compute_totals((p.net, p.vat_rate) for p in group) for key, group in groups.items()}


def totals(lines: Iterable[Priced], billing_mode: BillingMode) -> Totals:
    """The totals of an offer: VAT rounded per seller and per rate, then added up.

    Joint consortium: per member (each invoices its own share) and the coordinator for the fee.
    Single contractor: the coordinator sells everything, so VAT is rounded once per rate on the whole.
    """
    return merge_totals(totals_by_seller(lines, billing_mode).values())


@dataclass(frozen=True)
class EventTotals:
    #: Sum of the open lots' nets (fee excluded).
    lots_net: Decimal
    #: The fee line (``None`` without a fee).
    fee: FeeLine | None
    #: Per-rate groups and the grand totals, fee included.
    totals: Totals
    #: Net of each open lot, by lot id (cancelled lots are absent).
    lot_nets: dict[int, Decimal] = field(default_factory=dict)

    @property
    def fee_net(self) -> Decimal:
        return self.fee.net if self.fee else ZERO


def _event_lines(event: Event, context: PricingContext, priced: Mapping[int, LinePricing] | None = None):
    """Each line of the event's open lots with its net and the rate it is sold at now."""
    for lot in open_lots(event):
        for line in lot.lines:
            yield (
                lot,
                line,
                line_net(line.quantity, line.unit_price),
                _pricing(event, line, lot, context, priced).rate,
            )


def lot_net(lot: Lot) -> Decimal:
    """A lot's net (fee excluded): its lines' nets, each rounded first, added up (the figure of
    :attr:`EventTotals.lot_nets` for an open lot, of :func:`lot_net_sql` in SQL)."""
    return sum((line_net(line.quantity, line.unit_price) for line in lot.lines), ZERO)


def lot_net_sql(lot_id) -> sa.ScalarSelect:
    """A lot's net in SQL (fee excluded), for a statement over lots: its lines' nets, each rounded
    first, added up (the figure of :attr:`EventTotals.lot_nets`); 0 for a lot without lines."""
    return (
        sa.select(sum_money(LineNet(Line.quantity, Line.unit_price)))
        .where(Line.lot_id == lot_id)
        .correlate_except(Line)
        .scalar_subquery()
    )


def event_net(event: Event, lots_net: Decimal) -> Decimal:
    """The offer's total excluding VAT from its lots' net: the lots, plus the fee (its net only: no
    need of the seller, its rate or its wording)."""
    return lots_net + fee_net(event, lots_net)


def event_totals(
    event: Event, context: PricingContext | None = None, priced: Mapping[int, LinePricing] | None = None
) -> EventTotals:
    """Running totals of an event's open lots, fee included, at each line's :func:`effective_rate`:
    exactly what issuing a quote now would compute (``priced``: :func:`lines_pricing`'s, when
    already computed)."""
    context = context or PricingContext()
    nets = [
        Priced(net, rate, line.organisation_id)
        for _lot, line, net, rate in _event_lines(event, context, priced)
    ]
    lot_nets = {lot.id: lot_net(lot) for lot in open_lots(event)}
    lots_net = sum(lot_nets.values(), ZERO)
    fee = fee_line(event, lots_net, context)
    if fee is not None:
        nets.append(Priced(fee.net, fee.vat_rate, None))
    return EventTotals(lots_net=lots_net, fee=fee, totals=totals(nets, event.billing_mode), lot_nets=lot_nets)


@dataclass(frozen=True)
class ActorTotal:
    """One row of an event's per-actor breakdown; ``organisation_id`` ``None`` is the fee."""

    organisation_id: int | None
    name: str
    net: Decimal
    #: Joint consortium: the actor's own VAT and gross (it invoices its share); ``None`` in
    #: single-contractor mode, where only the coordinator charges VAT.
    totals: Totals | None


def event_breakdown(
    event: Event, context: PricingContext | None = None, priced: Mapping[int, LinePricing] | None = None
) -> list[ActorTotal]:
    """Per actor, what it sells on the event's open lots (then the fee): the annex's figures, live.

    In joint-consortium mode each row carries that member's VAT, rounded as it will invoice it, so the
    rows add up to :func:`event_totals` exactly; in single-contractor mode the rows are nets only.
    ``priced``: :func:`lines_pricing`'s, when already computed."""
    context = context or PricingContext()
    joint = event.billing_mode == BillingMode.JOINT_CONSORTIUM
    names: dict[int | None, str] = {}
    by_actor: dict[int | None, list[Priced]] = {}
    lots_net = ZERO
    for _lot, line, net, rate in _event_lines(event, context, priced):
        lots_net += net
        names.setdefault(line.organisation_id, line.organisation.name)
        by_actor.setdefault(line.organisation_id, []).append(Priced(net, rate, line.organisation_id))
    fee = fee_line(event, lots_net, context)
    rows = [
        ActorTotal(
            organisation_id,
            names[organisation_id],
            sum((p.net for p in lines), ZERO),
            totals(lines, event.billing_mode) if joint else None,
        )
        for organisation_id, lines in by_actor.items()
    ]
    rows.sort(key=lambda row: row.name.lower())
    if fee is not None:
        fee_priced = [Priced(fee.net, fee.vat_rate, None)]
        rows.append(
            ActorTotal(
                None,
                context.fee_seller().name,
                fee.net,
                totals(fee_priced, event.billing_mode) if joint else None,
            )
        )
    return rows
