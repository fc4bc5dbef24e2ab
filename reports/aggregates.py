"""The dashboards' and the impact report's figures, each one SQL query (``GROUP BY``), never a loop
over lines. Definitions: docs/reports.md.

**Work** is what a client accepted: the lines of the accepted quote of each event that was not
cancelled, as the quote froze them (``quote_lines.net``, stored to the cent, and the category's name),
summed per actor and category when the quote was accepted (``work_totals``, ``offers.services.work``).
An actor "worked on" an event when it delivers at least one of those lines. Its legal form and
neighbourhood are read from its card as it is now.

**Receivables** follow :class:`invoicing.services.invoices.Figures`: what an issued invoice (or
deposit) still awaits is its gross, less deposits deducted, less what its credit notes take off
(never more than what it asked), less the payments received — computed here for every invoice at
once, in SQL.

Amounts are summed in SQL and read back through :func:`app.db.Money`, so they come back as ``Decimal``
euros on SQLite (stored in cents) and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cache, lru_cache

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.dates import LOCAL_TZ
from app.db import Money
from app.extensions import db
from app.models import Client, LegalForm, Organisation
from app.money import ZERO
from invoicing.models import Invoice, InvoiceKind, InvoiceStatus, Payment, Payout, PayoutStatus
from offers.models import Collaboration, Event, EventStatus, Quote, QuoteStatus, WorkTotal
from offers.services import work as work_done

# --- periods ------------------------------------------------------------------------------------

MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass(frozen=True)
class Period:
    """A calendar year, in French wall time."""

    year: int

    @property
    def start(self) -> datetime:
        return datetime(self.year, 1, 1, tzinfo=LOCAL_TZ).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """Exclusive."""
        return datetime(self.year + 1, 1, 1, tzinfo=LOCAL_TZ).astimezone(UTC)

    def month_starts(self) -> list[datetime]:
        """The 13 boundaries of the year's months (UTC instants of local midnights)."""
        bounds = [datetime(self.year, m, 1, tzinfo=LOCAL_TZ).astimezone(UTC) for m in range(1, 13)]
        return [*bounds, self.end]

    @property
    def first_day(self) -> date:
        return date(self.year, 1, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, 12, 31)


def _month_of(column, period: Period):
    """1…12: the local month of a timestamp inside ``period`` (a CASE on the boundaries, the same on
    every database and right about summer time)."""
    bounds = period.month_starts()
    return sa.case(
        *((sa.and_(column >= bounds[m], column < bounds[m + 1]), m + 1) for m in range(12)),
        else_=0,
    )


def _month_of_date(column, period: Period):
    """1…12: the month of a date column inside ``period``."""
    return sa.case(
        *(
            (
                sa.and_(
                    column >= date(period.year, m, 1),
                    column < (date(period.year, m + 1, 1) if m < 12 else date(period.year + 1, 1, 1)),
                ),
                m,
            )
            for m in range(1, 13)
        ),
        else_=0,
    )


#: Statements that depend on a period (or a day) only are built once per period and kept: building
#: their CASEs and subqueries cost more than running them on a small network.
_per_period = lru_cache(maxsize=32)


def money_sum(expression):
    """An SQL sum read back as Money (cents on SQLite, NUMERIC on PostgreSQL)."""
    return sa.type_coerce(sa.func.coalesce(expression, 0), Money())


# --- work: the accepted quotes' lines -------------------------------------------------------------


@cache  # a construct without parameters, built once (SQL constructs are immutable and shared)
def _work():
    """One row per accepted quote, actor and category, of the events not cancelled: event, its
    start, actor, category, net (``work_totals``: the lines summed when the quote was accepted)."""
    return (
        sa.select(
            WorkTotal.event_id.label("event_id"),
            Event.starts_at.label("starts_at"),
            WorkTotal.organisation_id.label("organisation_id"),
            WorkTotal.category_name.label("category"),
            WorkTotal.net.label("net"),
        )
        .join(Event, Event.id == WorkTotal.event_id)
        .where(work_done.not_cancelled())
    )


@_per_period
def _work_in(period: Period | None = None, event_id: int | None = None):
    query = _work()
    if period is not None:
        query = query.where(Event.starts_at >= period.start, Event.starts_at < period.end)
    if event_id is not None:
        query = query.where(WorkTotal.event_id == event_id)
    return query.subquery("work")


@dataclass(frozen=True)
class ActorAmount:
    organisation_id: int
    name: str
    legal_form: LegalForm
    qpv: bool
    neighbourhood: str
    public: bool
    amount: Decimal
    events: int


def _neighbourhood():
    """The QPV's name for an actor in a priority neighbourhood, else its commune."""
    return sa.case((Organisation.qpv.is_(True), Organisation.qpv_name), else_=Organisation.commune)


def _actor_amount(row, amount: Decimal, events: int) -> ActorAmount:
    """An actor's line from a row of its columns (id, name, legal form, QPV, neighbourhood, public)."""
    return ActorAmount(
        organisation_id=row.id,
        name=row.name,
        legal_form=row.legal_form,
        qpv=bool(row.qpv),
        neighbourhood=row.neighbourhood or "",
        public=bool(row.public_listing),
        amount=amount,
        events=events,
    )


def per_actor(period: Period | None = None, event_id: int | None = None) -> list[ActorAmount]:
    """Σ nets per actor, largest first (one query: summed per actor id, then the actors' columns
    joined to the sums)."""
    return [
        _actor_amount(row, row.amount, row.events)
        for row in db.session.execute(_per_actor_statement(period, event_id))
    ]


@_per_period
def _per_actor_statement(period: Period | None, event_id: int | None):
    work = _work_in(period, event_id)
    sums = (
        sa.select(
            work.c.organisation_id,
            sa.func.sum(work.c.net).label("amount"),
            sa.func.count(sa.distinct(work.c.event_id)).label("events"),
        )
        .group_by(work.c.organisation_id)
        .subquery("per_actor")
    )
    return (
        sa.select(
            Organisation.id,
            Organisation.name,
            Organisation.legal_form,
            Organisation.qpv,
            _neighbourhood().label("neighbourhood"),
            Organisation.public_listing,
            money_sum(sums.c.amount).label("amount"),
            sums.c.events,
        )
        .join(sums, sums.c.organisation_id == Organisation.id)
        .order_by(sums.c.amount.desc(), Organisation.name)
    )


def per_category(period: Period | None = None, event_id: int | None = None) -> list[tuple[str, Decimal]]:
    """Σ nets per category (as the quotes froze its name), largest first."""
    work = _work_in(period, event_id)
    amount = money_sum(sa.func.sum(work.c.net)).label("amount")
    rows = db.session.execute(
        sa.select(work.c.category, amount)
        .group_by(work.c.category)
        .order_by(sa.desc("amount"), work.c.category)
    )
    return [(row.category, row.amount) for row in rows]


@dataclass(frozen=True)
class MonthSplit:
    """Σ nets per month of the event's start, split by a key (QPV or not, legal form)."""

    months: dict[int, dict[str, Decimal]]

    def series(self, key: str) -> list[Decimal]:
        return [self.months.get(m, {}).get(key, ZERO) for m in range(1, 13)]

    def total(self, month: int) -> Decimal:
        return sum(self.months.get(month, {}).values(), ZERO)

    @property
    def keys(self) -> list[str]:
        seen: dict[str, Decimal] = {}
        for values in self.months.values():
            for key, value in values.items():
                seen[key] = seen.get(key, ZERO) + value
        return sorted(seen, key=lambda k: (-seen[k], k))


@dataclass(frozen=True)
class WorkByActor:
    """The period's work per actor, and per month split by QPV and by legal form."""

    actors: list[ActorAmount]
    qpv: MonthSplit
    legal_forms: MonthSplit


def work_by_actor(period: Period) -> WorkByActor:
    """:func:`per_actor` of ``period``, and Σ nets per month split by QPV (``"qpv"`` / ``"other"``)
    and by legal form (two queries: the split is summed per month, QPV and legal form in SQL)."""
    qpv: dict[int, dict[str, Decimal]] = {}
    forms: dict[int, dict[str, Decimal]] = {}
    for month, in_qpv, legal_form, amount in db.session.execute(_month_split_statement(period)):
        for months, key in ((qpv, "qpv" if in_qpv else "other"), (forms, LegalForm(legal_form).value)):
            split = months.setdefault(month, {})
            split[key] = split.get(key, ZERO) + amount
    return WorkByActor(actors=per_actor(period), qpv=MonthSplit(qpv), legal_forms=MonthSplit(forms))


@_per_period
def _month_split_statement(period: Period):
    # The month of each event of the period once (not once per actor): the events are grouped so
    # that the CASE is not folded into the join.
    events = (
        sa.select(Event.id.label("event_id"), _month_of(Event.starts_at, period).label("month"))
        .where(Event.starts_at >= period.start, Event.starts_at < period.end, work_done.not_cancelled())
        .group_by(Event.id, Event.starts_at)
        .subquery("months")
    )
    return (
        sa.select(
            events.c.month,
            Organisation.qpv,
            Organisation.legal_form,
            money_sum(sa.func.sum(WorkTotal.net)),
        )
        .select_from(WorkTotal)
        .join(events, events.c.event_id == WorkTotal.event_id)
        .join(Organisation, Organisation.id == WorkTotal.organisation_id)
        .group_by(events.c.month, Organisation.qpv, Organisation.legal_form)
    )


# --- how evenly the work is spread ---------------------------------------------------------------


def _scaled(amounts) -> list[int] | None:
    """The amounts as integers over one common power of ten (their ratios unchanged), when they are
    all finite ``Decimal``s or ints (amounts always are); else ``None``. Integer sums and products
    are exact and much cheaper than fractions."""
    exponents = []
    for amount in amounts:
        if isinstance(amount, Decimal) and amount.is_finite():
            exponents.append(min(amount.as_tuple().exponent, 0))
        elif not isinstance(amount, int):
            return None
    if not exponents:
        return [int(a) for a in amounts]
    shift = -min(exponents)
    return [int(a.scaleb(shift)) if isinstance(a, Decimal) else a * 10**shift for a in amounts]


def gini(amounts) -> Fraction:
    """The Gini coefficient of non-negative amounts, exact: 0 when everyone gets the same, (n−1)/n
    when one gets everything. Σᵢ (2i − n − 1)·xᵢ / (n·Σx) over the amounts sorted ascending
    (i = 1…n); 0 for no amount or a zero total."""
    amounts = list(amounts)
    values = _scaled(amounts)
    if values is None:
        values = [Fraction(a) for a in amounts]
    values.sort()
    if values and values[0] < 0:
        raise ValueError("negative amount")
    n, total = len(values), sum(values)
    if n == 0 or total == 0:
        return Fraction(0)
    weighted = sum((2 * i - n - 1) * v for i, v in enumerate(values, start=1))
    return Fraction(weighted) / (n * total)


def top_share(amounts, k: int = 3) -> Fraction:
    """The share of the ``k`` largest amounts in the total (0 for a zero total)."""
    amounts = list(amounts)
    values = _scaled(amounts)
    if values is None:
        values = [Fraction(a) for a in amounts]
    values.sort(reverse=True)
    total = sum(values)
    if total == 0:
        return Fraction(0)
    return Fraction(sum(values[:k])) / total


def as_rate(value: Fraction) -> Decimal:
    """A fraction as a rate to the hundredth of a percent (for the ``rate`` filter)."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.0001"))


# --- first-time collaborations -------------------------------------------------------------------


@dataclass(frozen=True)
class EventPairs:
    event_id: int
    title: str
    starts_at: datetime
    pairs: int
    first_time: int


def pairs_per_event(period: Period) -> list[EventPairs]:
    """Per event of the period with at least two actors: how many pairs of actors worked on it
    (n actors make n(n-1)/2 pairs), how many for the first time (``collaborations``, ``offers.services.work``)."""
    rows = db.session.execute(_pairs_statement(period))
    return [
        EventPairs(r.id, r.title, r.starts_at, r.actors * (r.actors - 1) // 2, r.first_time) for r in rows
    ]


@_per_period
def _pairs_statement(period: Period):
    worked = (
        work_done.worked_on()
        .where(Event.starts_at >= period.start, Event.starts_at < period.end)
        .subquery("worked_on")
    )
    actors = (
        sa.select(worked.c.event_id, sa.func.count().label("actors"))
        .group_by(worked.c.event_id)
        .having(sa.func.count() >= 2)
        .subquery("actors")
    )
    first_time = (
        sa.select(sa.func.count())
        .select_from(Collaboration)
        .where(Collaboration.event_id == Event.id)
        .correlate(Event)
        .scalar_subquery()
    )
    return (
        sa.select(Event.id, Event.title, Event.starts_at, actors.c.actors, first_time.label("first_time"))
        .join(actors, actors.c.event_id == Event.id)
        .order_by(Event.starts_at, Event.id)
    )


def first_time_pairs(event_id: int) -> list[tuple[int, str, bool, int, str, bool]]:
    """The pairs of an event who worked together for the first time: (id, name, public) twice,
    ordered by names."""
    first, second = aliased(Organisation), aliased(Organisation)
    rows = db.session.execute(
        sa.select(first.id, first.name, first.public_listing, second.id, second.name, second.public_listing)
        .select_from(Collaboration)
        .join(first, first.id == Collaboration.first_id)
        .join(second, second.id == Collaboration.second_id)
        .where(Collaboration.event_id == event_id)
        .order_by(first.name, second.name)
    )
    return [tuple(row) for row in rows]


# --- receivables -----------------------------------------------------------------------------------


@cache  # a construct without parameters, built once (SQL constructs are immutable and shared)
def _invoice_balances():
    """Every issued invoice and deposit with what it asks (``due``), what was paid and its balance —
    :class:`invoicing.services.invoices.Figures` in SQL.

    Credit notes and payments are summed once per invoice (two grouped subqueries, outer-joined),
    not by a subquery per invoice: a correlated one is run again at each reference, and SQLite,
    seeing ``credit_of_id`` mostly NULL, scans every invoice for each. Sums and differences of
    money columns of the same scale are exact on both databases (app.db)."""
    credit = aliased(Invoice)
    credits = (
        sa.select(credit.credit_of_id.label("invoice_id"), sa.func.sum(credit.total_gross).label("amount"))
        .where(credit.credit_of_id.is_not(None), credit.status == InvoiceStatus.ISSUED)
        .group_by(credit.credit_of_id)
        .subquery("credits")
    )
    payments = (
        sa.select(Payment.invoice_id.label("invoice_id"), sa.func.sum(Payment.amount).label("amount"))
        .group_by(Payment.invoice_id)
        .subquery("payments_in")
    )
    credited = sa.func.coalesce(credits.c.amount, 0)
    paid = sa.func.coalesce(payments.c.amount, 0)
    asked = Invoice.total_gross - Invoice.prepaid
    due = asked - sa.case((credited < asked, credited), else_=asked)
    return (
        sa.select(
            Invoice.id.label("invoice_id"),
            Invoice.client_id.label("client_id"),
            Invoice.issue_date.label("issue_date"),
            Invoice.due_date.label("due_date"),
            due.label("due"),
            paid.label("paid"),
            (due - paid).label("balance"),
        )
        .outerjoin(credits, credits.c.invoice_id == Invoice.id)
        .outerjoin(payments, payments.c.invoice_id == Invoice.id)
        .where(Invoice.status == InvoiceStatus.ISSUED, Invoice.kind != InvoiceKind.CREDIT_NOTE)
        .subquery("balances")
    )


#: Age buckets of an unpaid balance, by days past its due date.
AGE_BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")


def _age(due_date, today: date):
    return sa.case(
        (sa.or_(due_date.is_(None), due_date >= today), "not_due"),
        (due_date >= today - timedelta(days=30), "1_30"),
        (due_date >= today - timedelta(days=60), "31_60"),
        (due_date >= today - timedelta(days=90), "61_90"),
        else_="over_90",
    )


@dataclass(frozen=True)
class ClientReceivable:
    client_id: int
    name: str
    buckets: dict[str, Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)


def receivables(today: date) -> list[ClientReceivable]:
    """What each client still owes, by age of the debt (days past the due date on ``today``),
    largest debtor first (one query)."""
    clients: dict[int, ClientReceivable] = {}
    for row in db.session.execute(_receivables_statement(today)):
        entry = clients.setdefault(row.id, ClientReceivable(row.id, row.name, {}))
        entry.buckets[row.age] = row.amount
    return sorted(clients.values(), key=lambda c: (-c.total, c.name))


@_per_period
def _receivables_statement(today: date):
    balances = _invoice_balances()
    age = _age(balances.c.due_date, today).label("age")
    return (
        sa.select(Client.id, Client.name, age, money_sum(sa.func.sum(balances.c.balance)).label("amount"))
        .join(balances, balances.c.client_id == Client.id)
        .where(balances.c.balance > 0)
        .group_by(Client.id, Client.name, age)
    )


@dataclass(frozen=True)
class Treasury:
    billed: Decimal
    collected: Decimal
    billed_by_month: list[Decimal]
    collected_by_month: list[Decimal]
    payouts_paid: Decimal
    payouts_due: Decimal


def treasury(period: Period) -> Treasury:
    """Billed (what the period's invoices ask, credit notes deducted), collected (payments received in
    the period), per month; payouts paid in the period and due now (three queries)."""
    billed_query, collected_query, payouts_query = _treasury_statements(period)
    billed = {row.month: row.amount for row in db.session.execute(billed_query)}
    collected = {row.month: row.amount for row in db.session.execute(collected_query)}
    payouts = db.session.execute(payouts_query).one()
    billed_months = [billed.get(m, ZERO) for m in range(1, 13)]
    collected_months = [collected.get(m, ZERO) for m in range(1, 13)]
    return Treasury(
        billed=sum(billed_months, ZERO),
        collected=sum(collected_months, ZERO),
        billed_by_month=billed_months,
        collected_by_month=collected_months,
        payouts_paid=payouts.paid,
        payouts_due=payouts.due,
    )


@_per_period
def _treasury_statements(period: Period):
    balances = _invoice_balances()
    month = _month_of_date(balances.c.issue_date, period).label("month")
    billed = (
        sa.select(month, money_sum(sa.func.sum(balances.c.due)).label("amount"))
        .where(balances.c.issue_date >= period.first_day, balances.c.issue_date <= period.last_day)
        .group_by(month)
    )
    paid_month = _month_of_date(Payment.received_on, period).label("month")
    collected = (
        sa.select(paid_month, money_sum(sa.func.sum(Payment.amount)).label("amount"))
        .where(Payment.received_on >= period.first_day, Payment.received_on <= period.last_day)
        .group_by(paid_month)
    )
    paid_in_period = sa.and_(
        Payout.status == PayoutStatus.PAID,
        Payout.paid_on >= period.first_day,
        Payout.paid_on <= period.last_day,
    )
    due = Payout.status == PayoutStatus.DUE
    # Only the rows either sum reads (through ``payouts (status, paid_on, id)``), not every payout.
    payouts = sa.select(
        money_sum(sa.func.sum(sa.case((paid_in_period, Payout.amount), else_=0))).label("paid"),
        money_sum(sa.func.sum(sa.case((due, Payout.amount), else_=0))).label("due"),
    ).where(sa.or_(paid_in_period, due))
    return billed, collected, payouts


@dataclass(frozen=True)
class ActorPayouts:
    organisation_id: int
    name: str
    paid: Decimal
    due: Decimal


def payouts_per_actor(period: Period) -> list[ActorPayouts]:
    """Per actor, for the events of the period: paid out and still due (one query)."""
    result = [
        ActorPayouts(r.id, r.name, r.paid, r.due) for r in db.session.execute(_payouts_statement(period))
    ]
    return sorted(result, key=lambda a: (-(a.paid + a.due), a.name))


@_per_period
def _payouts_statement(period: Period):
    paid = money_sum(sa.func.sum(sa.case((Payout.status == PayoutStatus.PAID, Payout.amount), else_=0)))
    due = money_sum(sa.func.sum(sa.case((Payout.status == PayoutStatus.DUE, Payout.amount), else_=0)))
    return (
        sa.select(Organisation.id, Organisation.name, paid.label("paid"), due.label("due"))
        .join(Payout, Payout.organisation_id == Organisation.id)
        .join(Event, Event.id == Payout.event_id)
        .where(Event.starts_at >= period.start, Event.starts_at < period.end)
        .group_by(Organisation.id, Organisation.name)
    )


def paid_out_per_actor(event_id: int) -> dict[int, Decimal]:
    """What each actor was paid out for an event so far, excl. VAT (its nets: share less commission;
    one query)."""
    rows = db.session.execute(
        sa.select(Payout.organisation_id, money_sum(sa.func.sum(Payout.net_amount)).label("paid"))
        .where(Payout.event_id == event_id, Payout.status == PayoutStatus.PAID)
        .group_by(Payout.organisation_id)
    )
    return {row.organisation_id: row.paid for row in rows}


# --- the network, for the admin ---------------------------------------------------------------------


@dataclass(frozen=True)
class Network:
    active_actors: int
    qpv_actors: int
    events: int
    worked_events: int


def network(period: Period) -> Network:
    """Active actors (in a QPV), the period's events, and those with accepted work (one query)."""
    in_period = sa.and_(Event.starts_at >= period.start, Event.starts_at < period.end)
    worked = (
        sa.select(sa.func.count(sa.distinct(Quote.event_id)))
        .join(Event, Event.id == Quote.event_id)
        .where(Quote.status == QuoteStatus.ACCEPTED, Event.status != EventStatus.CANCELLED, in_period)
        .scalar_subquery()
    )
    events = sa.select(sa.func.count(Event.id)).where(in_period).scalar_subquery()
    row = db.session.execute(
        sa.select(
            sa.func.count(Organisation.id).label("active"),
            sa.func.coalesce(sa.func.sum(sa.case((Organisation.qpv.is_(True), 1), else_=0)), 0).label("qpv"),
            events.label("events"),
            worked.label("worked"),
        ).where(Organisation.active.is_(True))
    ).one()
    return Network(row.active, int(row.qpv), row.events, row.worked)


def latest_year(default: int) -> int:
    """The year of the latest event with accepted work (the dashboards open on it), else ``default``."""
    latest = db.session.scalar(
        sa.select(sa.func.max(Event.starts_at))
        .join(Quote, Quote.event_id == Event.id)
        .where(Quote.status == QuoteStatus.ACCEPTED, Event.status != EventStatus.CANCELLED)
    )
    if latest is None:
        return default
    if isinstance(latest, str):  # SQLite's max() loses the column type
        latest = datetime.fromisoformat(latest)
    if latest.tzinfo is None:
        latest = latest.replace(tzinfo=UTC)
    return latest.astimezone(LOCAL_TZ).year
