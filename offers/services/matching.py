"""Matching: which actors to suggest for a lot, ranked, with the reasons shown to the coordinator.

Rules (issue 4, item 5):

- only **active** organisations whose categories contain the lot's category (required, not scored);
- organisations already on the lot (whatever their answer) are not suggested: the lot shows them;
- the score adds, with the weights of the ``matching.weights`` setting (:data:`DEFAULT_WEIGHTS`):

  ``qpv``            the organisation sits in a priority neighbourhood (QPV);
  ``least_received`` spreading the work: ``weight × (most − received) / most`` where ``received`` is
                     what the organisation received this calendar year and ``most`` the largest
                     amount among the lot's candidates (all get the full weight when nobody received
                     anything), rounded to the cent;
  ``clash``          (negative) the organisation already accepted another lot whose times overlap
                     this lot's (on another event or on another lot of the same event);

- "received this year" = the nets of the lines it delivers on events starting in the current
  calendar year (Paris time) that are won, delivered or closed, plus its lines on quoted events
  for lots it accepted; cancelled lots never count. Offers do not read invoicing: payouts are not
  used. Each net is ``app.money.line_net``, summed in SQL by ``app.db.LineNet`` (exact on both
  databases) per actor and event into ``actor_event_nets``, kept at every flush by
  ``offers.services.actor_nets``: the year's sum reads a few rows per event, not its lines;
- order: score descending, then name (case and accents ignored), then id — deterministic.

One query whatever the number of lots and actors: the candidates, each with what it received this
year (a correlated subquery) and its overlapping accepted lots (outer join). Nothing here writes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import load_only

from app.dates import LOCAL_TZ
from app.db import sum_money, utcnow
from app.extensions import db
from app.formatting import money
from app.models import Organisation
from app.models.parties import organisation_categories
from app.money import ZERO
from app.settings_store import get_setting, setting_sql
from offers.models import (
    ActorEventNet,
    Assignment,
    AssignmentStatus,
    Event,
    EventStatus,
    Lot,
    LotStatus,
)
from offers.services.events import MAX_EVENT_DURATION

#: The setting holding the weights: a JSON object, e.g. ``{"qpv": 3, "least_received": 2, "clash": -4}``.
WEIGHTS_SETTING = "matching.weights"
DEFAULT_WEIGHTS: dict[str, Decimal] = {
    "qpv": Decimal("3"),
    "least_received": Decimal("2"),
    "clash": Decimal("-4"),
}
#: A weight outside these bounds is refused (typing mistake): the default is used instead.
MAX_WEIGHT = Decimal("100")

#: Events whose lines count as received (with their actor's lines, accepted or not).
RECEIVED_STATUSES = (EventStatus.WON, EventStatus.DELIVERED, EventStatus.CLOSED)
#: Events whose lines count only on lots the actor accepted.
QUOTED_STATUSES = (EventStatus.QUOTED,)
#: Events on which an accepted lot no longer mobilises anybody.
NOT_MOBILISING = (EventStatus.CANCELLED, EventStatus.LOST)

#: Assignments that mean "someone is on it or has been asked": the lot does not need suggestions.
COVERING = (AssignmentStatus.ACCEPTED, AssignmentStatus.INVITED)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Reason:
    """One reason shown beside a suggestion. ``kind``: ``match``, ``plus``, ``info`` or ``warning``."""

    kind: str
    text: str


@dataclass(frozen=True)
class Clash:
    """Another accepted lot of the organisation whose times overlap the lot's."""

    event_id: int
    event_title: str
    lot_id: int
    lot_title: str
    starts_at: datetime
    ends_at: datetime
    same_event: bool


@dataclass
class Suggestion:
    organisation: Organisation
    score: Decimal
    received: Decimal
    clashes: list[Clash] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)

    @property
    def qpv(self) -> bool:
        return bool(self.organisation.qpv)


# --- settings ------------------------------------------------------------------------------------


def _weight(value, default: Decimal) -> Decimal:
    if isinstance(value, bool) or value is None:
        return default
    try:
        weight = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return default
    if not weight.is_finite() or abs(weight) > MAX_WEIGHT:
        return default
    return weight


def stored_weights_sql() -> sa.ScalarSelect:
    """The ``matching.weights`` setting as a column of another statement, for a page that reads it
    with its own rows: :func:`matching_weights` then reads what it holds."""
    return setting_sql(WEIGHTS_SETTING)


def matching_weights(stored: dict | None = None) -> dict[str, Decimal]:
    """The weights from the ``matching.weights`` setting (read here unless ``stored`` holds it, as
    :func:`stored_weights_sql` read it), each key falling back to its default when missing or
    unreadable (numbers or numeric strings, ``|w| ≤ 100``)."""
    if stored is None:
        stored = get_setting(WEIGHTS_SETTING, {})
    if not isinstance(stored, dict):
        stored = {}
    return {key: _weight(stored.get(key), default) for key, default in DEFAULT_WEIGHTS.items()}


# --- small pure helpers --------------------------------------------------------------------------


def lot_window(lot: Lot, event: Event | None = None) -> tuple[datetime, datetime]:
    """The lot's times, the event's where the lot has none."""
    event = event or lot.event
    return (lot.starts_at or event.starts_at, lot.ends_at or event.ends_at)


def overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    """Two time windows share some time (back-to-back windows do not clash)."""
    return (a[0] < b[1] and b[0] < a[1]) or a == b


def needs_someone(lot: Lot) -> bool:
    """An open lot with nobody accepted and nobody invited (from the loaded assignments)."""
    return lot.status == LotStatus.OPEN and not any(a.status in COVERING for a in lot.assignments)


def sort_name(name: str) -> str:
    """Names compared without case or accents (« Équipage » sorts with E)."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def year_bounds(now: datetime) -> tuple[datetime, datetime]:
    """1 January of ``now``'s year and of the next, in Paris time."""
    year = now.astimezone(LOCAL_TZ).year
    return datetime(year, 1, 1, tzinfo=LOCAL_TZ), datetime(year + 1, 1, 1, tzinfo=LOCAL_TZ)


# --- queries -------------------------------------------------------------------------------------


#: The organisation's columns the suggestions read (the ranking: name and QPV; the lot's page and
#: the matching page: name, QPV, commune, legal form). Any other column read from a suggested
#: organisation raises instead of loading it row by row: add it here.
SUGGESTED_COLUMNS = (
    Organisation.id,
    Organisation.name,
    Organisation.active,
    Organisation.qpv,
    Organisation.qpv_name,
    Organisation.commune,
    Organisation.legal_form,
)


@cache
def _candidates_statement() -> sa.Select:
    """:func:`_candidate_rows`'s statement, built once with its bounds as bound parameters (its
    cache key is then kept on it instead of being walked again on every lot page)."""
    # One nested join, outer-joined to each organisation: its accepted assignments whose open lot,
    # in a mobilising event, overlaps the span (no IN list over every open lot of the database).
    # A lot's times lie within its event's, and an event lasts at most MAX_EVENT_DURATION (both
    # checked by the event and lot services): so a clashing lot's event ends after the span starts
    # and starts at most that long before it. Those bounds add nothing to the condition but let the
    # database walk the events around the span (index on their start) instead of every lot of every
    # year.
    # The tables appear nowhere else in the statement: no aliases (each alias copies every column
    # of its table).
    accepted, clash_lot, clash_event = Assignment, Lot, Event
    clash = sa.join(accepted, clash_lot, clash_lot.id == accepted.lot_id).join(
        clash_event, clash_event.id == clash_lot.event_id
    )
    span_start, span_end = sa.bindparam("span_start"), sa.bindparam("span_end")
    return (
        sa.select(
            Organisation,
            # What it received this year (each row of the organisation repeats it).
            _received_sql(Organisation.id),
            organisation_categories.c.category_id,
            clash_lot.id,
            clash_lot.title,
            clash_lot.starts_at,
            clash_lot.ends_at,
            clash_event.id,
            clash_event.title,
            clash_event.starts_at,
            clash_event.ends_at,
        )
        .join(organisation_categories, organisation_categories.c.organisation_id == Organisation.id)
        .outerjoin(
            clash,
            sa.and_(
                accepted.organisation_id == Organisation.id,
                accepted.status == AssignmentStatus.ACCEPTED,
                clash_lot.status == LotStatus.OPEN,
                clash_event.status.not_in(NOT_MOBILISING),
                sa.func.coalesce(clash_lot.starts_at, clash_event.starts_at) <= span_end,
                sa.func.coalesce(clash_lot.ends_at, clash_event.ends_at) >= span_start,
                clash_event.starts_at <= span_end,
                clash_event.starts_at >= sa.bindparam("earliest_event_start"),
                clash_event.ends_at >= span_start,
            ),
        )
        .where(
            Organisation.active.is_(True),
            organisation_categories.c.category_id.in_(sa.bindparam("category_ids", expanding=True)),
        )
        .options(load_only(*SUGGESTED_COLUMNS, raiseload=True))
        .order_by(Organisation.id, clash_lot.id)
    )


def _candidate_rows(lots: list[Lot], now: datetime | None = None):
    """Active organisations serving the lots' categories, each with what it received in ``now``'s
    year (:func:`received_this_year`'s figure, ``None`` for nothing) and its accepted lots
    overlapping the lots' overall time span (outer join: ``None`` columns when it has none). One
    query."""
    windows = [lot_window(lot) for lot in lots]
    span_start, span_end = min(w[0] for w in windows), max(w[1] for w in windows)
    start, end = year_bounds(now or utcnow())
    return db.session.execute(
        _candidates_statement(),
        {
            "category_ids": sorted({lot.category_id for lot in lots}),
            "span_start": span_start,
            "span_end": span_end,
            "earliest_event_start": span_start - MAX_EVENT_DURATION,
            "start": start,
            "end": end,
        },
    ).all()


def _received_sql(organisation_id) -> sa.ScalarSelect:
    """What the organisation ``organisation_id`` (a column) received between the bound parameters
    ``start`` and ``end``, as a column (``NULL`` for nothing): a correlated subquery on the sums kept
    per actor and event (``offers.services.actor_nets``), through their index
    ``(organisation_id, event_starts_at)``."""
    # Won, delivered and closed events count every line of the actor on their open lots; quoted
    # events only those on the open lots it accepted.
    net = sa.case(
        (ActorEventNet.event_status.in_(RECEIVED_STATUSES), ActorEventNet.open_net),
        else_=ActorEventNet.accepted_net,
    )
    return (
        sa.select(sum_money(net))
        .where(
            ActorEventNet.organisation_id == organisation_id,
            ActorEventNet.event_starts_at >= sa.bindparam("start"),
            ActorEventNet.event_starts_at < sa.bindparam("end"),
            ActorEventNet.event_status.in_(RECEIVED_STATUSES + QUOTED_STATUSES),
        )
        .scalar_subquery()
    )


@cache
def _received_statement() -> sa.Select:
    """:func:`received_this_year`'s statement, built once (see :func:`_candidates_statement`)."""
    return sa.select(Organisation.id, _received_sql(Organisation.id)).where(
        Organisation.id.in_(sa.bindparam("organisation_ids", expanding=True))
    )


def received_this_year(organisation_ids: Iterable[int], now: datetime | None = None) -> dict[int, Decimal]:
    """What each organisation received this calendar year (see the module's rules). One query, on
    the sums kept per actor and event (``offers.services.actor_nets``), not on the lines. The
    suggestions read the same figure with their candidates (:func:`_candidate_rows`)."""
    ids = sorted(set(organisation_ids))
    if not ids:
        return {}
    start, end = year_bounds(now or utcnow())
    rows = db.session.execute(
        _received_statement(), {"organisation_ids": ids, "start": start, "end": end}
    ).all()
    totals = dict.fromkeys(ids, ZERO)
    for organisation_id, amount in rows:
        totals[organisation_id] = amount if amount is not None else ZERO
    return totals


# --- ranking -------------------------------------------------------------------------------------


def _clash_reason(clash: Clash) -> Reason:
    if clash.same_event:
        text = _(
            "déjà mobilisé au même moment sur un autre lot de cet événement (« %(lot)s »)",
            lot=clash.lot_title,
        )
    else:
        text = _(
            "déjà mobilisé le même jour sur un autre événement (« %(event)s », lot « %(lot)s »)",
            event=clash.event_title,
            lot=clash.lot_title,
        )
    return Reason("warning", text)


def _reasons(category: str, organisation: Organisation, amount: Decimal, own: list[Clash]) -> list[Reason]:
    reasons = [Reason("match", _("propose la catégorie « %(category)s »", category=category))]
    if organisation.qpv:
        reasons.append(
            Reason("plus", _("en QPV (%(name)s)", name=organisation.qpv_name))
            if organisation.qpv_name
            else Reason("plus", _("en QPV"))
        )
    if amount == 0:
        reasons.append(Reason("plus", _("n'a encore rien reçu cette année")))
    else:
        reasons.append(Reason("info", _("a reçu %(amount)s cette année", amount=money(amount))))
    reasons.extend(_clash_reason(clash) for clash in own)
    return reasons


def _rank(
    lot: Lot,
    candidates: dict[int, Organisation],
    clashes: dict[int, list[Clash]],
    received: dict[int, Decimal],
    weights: dict[str, Decimal],
    limit: int | None = None,
) -> list[Suggestion]:
    """The candidates ranked by score, the ``limit`` first; the reasons (translated sentences) are
    written for those kept only."""
    most = max((received.get(org_id, ZERO) for org_id in candidates), default=ZERO)
    category = lot.category.name if lot.category is not None else ""
    suggestions = []
    for org_id, organisation in candidates.items():
        amount = received.get(org_id, ZERO)
        score = Decimal("0")
        if organisation.qpv:
            score += weights["qpv"]
        if most > 0:
            share = weights["least_received"] * (most - amount) / most
            score += share.quantize(CENT, rounding=ROUND_HALF_UP)
        else:
            score += weights["least_received"]
        own = clashes.get(org_id, [])
        if own:
            score += weights["clash"]
        suggestions.append(Suggestion(organisation, score.quantize(CENT), amount, own))
    suggestions.sort(key=lambda s: (-s.score, sort_name(s.organisation.name), s.organisation.id))
    if limit is not None:
        suggestions = suggestions[:limit]
    for suggestion in suggestions:
        suggestion.reasons = _reasons(
            category, suggestion.organisation, suggestion.received, suggestion.clashes
        )
    return suggestions


def suggest_for_lots(
    lots: Iterable[Lot],
    *,
    now: datetime | None = None,
    weights: dict[str, Decimal] | None = None,
    limit: int | None = None,
) -> dict[int, list[Suggestion]]:
    """Ranked suggestions for each lot (by lot id), ``limit`` per lot. One query for all lots
    (plus the setting's, when ``weights`` is not given). Lots' ``assignments``, ``event`` and
    ``category`` are read as loaded."""
    lots = [lot for lot in lots if lot is not None]
    if not lots:
        return {}
    weights = weights if weights is not None else matching_weights()
    rows = _candidate_rows(lots, now)
    organisations: dict[int, Organisation] = {}
    received: dict[int, Decimal] = {}
    categories: dict[int, set[int]] = {}
    accepted_lots: dict[int, dict[int, tuple]] = {}
    for (
        org,
        amount,
        category_id,
        lot_id,
        lot_title,
        lot_start,
        lot_end,
        ev_id,
        ev_title,
        ev_start,
        ev_end,
    ) in rows:
        organisations[org.id] = org
        received[org.id] = amount if amount is not None else ZERO
        categories.setdefault(org.id, set()).add(category_id)
        if lot_id is not None:
            window = (lot_start or ev_start, lot_end or ev_end)
            accepted_lots.setdefault(org.id, {})[lot_id] = (lot_title, ev_id, ev_title, window)
    result: dict[int, list[Suggestion]] = {}
    for lot in lots:
        window = lot_window(lot)
        on_lot = {a.organisation_id for a in lot.assignments}
        candidates = {
            org_id: org
            for org_id, org in organisations.items()
            if lot.category_id in categories[org_id] and org_id not in on_lot
        }
        clashes: dict[int, list[Clash]] = {}
        for org_id in candidates:
            for other_id, (lot_title, ev_id, ev_title, other) in sorted(
                accepted_lots.get(org_id, {}).items()
            ):
                if other_id != lot.id and overlaps(window, other):
                    clashes.setdefault(org_id, []).append(
                        Clash(ev_id, ev_title, other_id, lot_title, other[0], other[1], ev_id == lot.event_id)
                    )
        result[lot.id] = _rank(lot, candidates, clashes, received, weights, limit)
    return result


def suggest(
    lot: Lot,
    *,
    now: datetime | None = None,
    weights: dict[str, Decimal] | None = None,
    limit: int | None = None,
) -> list[Suggestion]:
    """Ranked suggestions for one lot (see the module's rules)."""
    return suggest_for_lots([lot], now=now, weights=weights, limit=limit).get(lot.id, [])
