"""An event's impact report: who was mobilised, where from, the euros that went to them, who worked
together for the first time, and who did each lot — the account of an event, as a document.

Built from the event's accepted quote (what the client bought), with the aggregates of
:mod:`reports.aggregates` and the commission of :mod:`invoicing.split` (the one place that says what
the coordinator keeps). ``public=True`` builds what the unguessable link shows: actors that did not
choose to appear in the public directory are not named, and each actor's amount only when the
coordinator published them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from app.extensions import db
from app.labels import label
from app.money import ZERO
from invoicing.split import split_for_quote
from offers.models import Event, Quote, QuoteLine, QuoteStatus
from reports import aggregates as ag


@dataclass
class Group:
    name: str
    actors: int = 0
    amount: Decimal = ZERO
    qpv: bool = False


@dataclass
class LotRow:
    title: str
    category: str
    amount: Decimal = ZERO
    actors: list[tuple[str, Decimal]] = field(default_factory=list)


@dataclass
class EventReport:
    event: Event
    quote: Quote | None
    public: bool = False
    show_amounts: bool = True
    actors: list[ag.ActorAmount] = field(default_factory=list)
    by_kind: list[Group] = field(default_factory=list)
    by_neighbourhood: list[Group] = field(default_factory=list)
    lots: list[LotRow] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    hidden_pairs: int = 0
    #: Per named actor, the actors it worked with for the first time (names), most first.
    new_partners: list[tuple[str, list[str]]] = field(default_factory=list)
    paid_out: dict[int, Decimal] = field(default_factory=dict)
    total: Decimal = ZERO
    qpv_amount: Decimal = ZERO
    qpv_actors: int = 0
    commission: Decimal = ZERO
    fee: Decimal = ZERO
    hidden_actors: int = 0

    @property
    def to_actors(self) -> Decimal:
        """What the actors keep: their shares less the commission."""
        return self.total - self.commission

    @property
    def first_time(self) -> int:
        return len(self.pairs) + self.hidden_pairs

    @property
    def all_pairs(self) -> int:
        """Every pair of actors the event brought together."""
        n = len(self.actors)
        return n * (n - 1) // 2

    @property
    def qpv_share(self) -> Decimal:
        return (self.qpv_amount / self.total).quantize(Decimal("0.0001")) if self.total else ZERO

    @property
    def client_paid(self) -> Decimal:
        return self.total + self.fee

    def name_of(self, actor: ag.ActorAmount) -> str | None:
        """The actor's name, or ``None`` where the public page must not name it."""
        return actor.name if actor.public or not self.public else None


def accepted_quote(event: Event) -> Quote | None:
    return db.session.scalar(
        sa.select(Quote).where(Quote.event_id == event.id, Quote.status == QuoteStatus.ACCEPTED).limit(1)
    )


def build(event: Event, *, public: bool = False, show_amounts: bool = True) -> EventReport:
    quote = accepted_quote(event)
    report = EventReport(event=event, quote=quote, public=public, show_amounts=show_amounts or not public)
    if quote is None:
        return report
    report.actors = ag.per_actor(event_id=event.id)
    names = {a.organisation_id: report.name_of(a) for a in report.actors}
    report.hidden_actors = sum(1 for name in names.values() if name is None)
    kinds: dict[str, Group] = {}
    places: dict[str, Group] = {}
    for actor in report.actors:  # one row per actor, already summed in SQL
        report.total += actor.amount
        if actor.qpv:
            report.qpv_amount += actor.amount
            report.qpv_actors += 1
        kind = kinds.setdefault(actor.legal_form.value, Group(str(label(actor.legal_form.value))))
        kind.actors += 1
        kind.amount += actor.amount
        place = places.setdefault(actor.neighbourhood, Group(actor.neighbourhood, qpv=actor.qpv))
        place.actors += 1
        place.amount += actor.amount
        place.qpv = place.qpv or actor.qpv
    order = lambda g: (-g.amount, g.name)  # noqa: E731
    report.by_kind = sorted(kinds.values(), key=order)
    report.by_neighbourhood = sorted(places.values(), key=lambda g: (not g.qpv, -g.amount, g.name))
    split = split_for_quote(quote)
    report.commission = split.total_commission
    report.fee = split.fee_net
    report.paid_out = ag.paid_out_per_actor(event.id)
    for _first_id, first, first_public, _second_id, second, second_public in ag.first_time_pairs(event.id):
        if public and not (first_public and second_public):
            report.hidden_pairs += 1
        else:
            report.pairs.append((first, second))
    partners: dict[str, list[str]] = {}
    for first, second in report.pairs:
        partners.setdefault(first, []).append(second)
        partners.setdefault(second, []).append(first)
    report.new_partners = sorted(
        ((name, sorted(others, key=str.lower)) for name, others in partners.items()),
        key=lambda item: (-len(item[1]), item[0].lower()),
    )
    report.lots = _lots(quote, names)
    return report


def _lots(quote: Quote, names: dict[int, str | None]) -> list[LotRow]:
    """Each lot of the accepted quote, its amount and who did it (one grouped query)."""
    amount = ag.money_sum(sa.func.sum(QuoteLine.net)).label("amount")
    rows = db.session.execute(
        sa.select(
            QuoteLine.lot_position,
            QuoteLine.lot_title,
            QuoteLine.category_name,
            QuoteLine.organisation_id,
            amount,
        )
        .where(QuoteLine.quote_id == quote.id, QuoteLine.kind == "line")
        .group_by(
            QuoteLine.lot_position, QuoteLine.lot_title, QuoteLine.category_name, QuoteLine.organisation_id
        )
        .order_by(QuoteLine.lot_position, QuoteLine.lot_title, sa.desc("amount"))
    )
    lots: dict[tuple[int, str], LotRow] = {}
    for row in rows:
        lot = lots.setdefault((row.lot_position, row.lot_title), LotRow(row.lot_title, row.category_name))
        lot.amount += row.amount
        lot.actors.append((names.get(row.organisation_id), row.amount))
    return list(lots.values())


def charts_for(built: EventReport) -> dict:
    """The report's charts: actors per neighbourhood and per legal form (counts, safe to publish),
    and each actor's amount when it may be shown."""
    from flask_babel import gettext as _

    from app.formatting import money
    from reports import charts

    def count(value) -> str:
        return str(int(value))

    result = {
        "neighbourhoods": charts.horizontal_bars(
            "chart-places",
            _("Acteurs mobilisés par quartier ou commune"),
            _(
                "%(count)s acteurs, dont %(qpv)s implantés en quartier prioritaire.",
                count=len(built.actors),
                qpv=built.qpv_actors,
            ),
            [(g.name + (" (QPV)" if g.qpv else ""), Decimal(g.actors)) for g in built.by_neighbourhood],
            count,
            label_head=_("Quartier ou commune"),
            value_head=_("Acteurs"),
        ),
        "kinds": charts.horizontal_bars(
            "chart-kinds",
            _("Acteurs mobilisés par forme juridique"),
            _("%(count)s formes juridiques représentées.", count=len(built.by_kind)),
            [(g.name, Decimal(g.actors)) for g in built.by_kind],
            count,
            label_head=_("Forme juridique"),
            value_head=_("Acteurs"),
        ),
    }
    if built.show_amounts:
        named = [(built.name_of(a) or _("Acteur non listé dans l'annuaire"), a.amount) for a in built.actors]
        result["actors"] = charts.horizontal_bars(
            "chart-report-actors",
            _("Montants HT par acteur"),
            _("%(count)s acteurs, %(total)s HT au total.", count=len(built.actors), total=money(built.total)),
            named,
            money,
            label_head=_("Acteur"),
            value_head=_("Montant HT"),
        )
    return result
