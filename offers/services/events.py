"""Events: creation, edits, the status machine, duplication, and what the dashboard needs to show.

Every function takes explicit arguments, flushes but never commits, and raises
:class:`app.errors.DomainError` subclasses with French messages. The status machine is
:data:`offers.models.EVENT_STATES`, whose ``move`` is the only way an event changes status.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache

import sqlalchemy as sa
from sqlalchemy.orm import defaultload, joinedload, lazyload, load_only
from sqlalchemy.orm.attributes import set_committed_value

from app.audit import N_, record
from app.dates import local_offset, shift_local, short_local
from app.db import sum_money
from app.directory.validation import FieldError, check_cpv_codes
from app.errors import DomainError, Forbidden, InvalidValue
from app.extensions import db
from app.i18n import gettext as _
from app.labels import label
from app.models import AuditEntry, Client, Organisation, User
from offers.models import (
    EVENT_STATES,
    Assignment,
    AssignmentStatus,
    BillingMode,
    Event,
    EventStatus,
    FeeKind,
    Line,
    Lot,
    LotStatus,
)
from offers.models.quote import LISTED_COLUMNS
from offers.permissions import can_edit_event
from offers.pricing import keeping_identity, lot_net_sql, rederive_rates, with_coordinator_identity
from offers.services import work

#: Bounds that catch typing mistakes (an event of three years, 2 000 000 guests…).
MAX_EVENT_DURATION = timedelta(days=366)
MAX_HEADCOUNT = 1_000_000
MAX_FEE_AMOUNT = Decimal("1000000.00")

#: Fields whose before/after the audit log keeps on edits.
AUDITED_FIELDS = (
    "title",
    "client_id",
    "venue",
    "venue_address",
    "starts_at",
    "ends_at",
    "headcount",
    "description",
    "response_deadline",
    "billing_mode",
    "fee_kind",
    "fee_rate",
    "fee_amount",
    "commission_rate",
    "purchase_order_number",
    "onsite_contact",
    "contract_reference",
    "procurement_procedure",
    "cpv_codes",
    "joint_and_several",
    "member_signatures",
)


class EventFrozen(DomainError):
    """The event is closed or cancelled: it, its lots and its lines no longer change."""

    status_code = 409


@dataclass
class EventFields:
    """The values of an event form, already parsed (aware UTC datetimes, Decimals)."""

    title: str
    client_id: int
    starts_at: datetime
    ends_at: datetime
    venue: str = ""
    venue_address: str = ""
    headcount: int | None = None
    description: str = ""
    response_deadline: datetime | None = None
    billing_mode: BillingMode = BillingMode.SINGLE_CONTRACTOR
    fee_kind: FeeKind = FeeKind.NONE
    #: A fraction (0.0800 for 8 %), used when ``fee_kind`` is percent.
    fee_rate: Decimal = Decimal("0")
    #: Excl. VAT, used when ``fee_kind`` is fixed.
    fee_amount: Decimal = Decimal("0")
    #: Kept from the actors' shares, a fraction (0.0500 for 5 %); 0 for none.
    commission_rate: Decimal = Decimal("0")
    purchase_order_number: str | None = None
    onsite_contact: str = ""
    #: A public buyer's contract (printed on the quote): reference, procedure, CPV codes as typed.
    contract_reference: str = ""
    procurement_procedure: str = ""
    cpv_codes: str = ""
    #: Joint consortium: « mandataire solidaire » or not; a signature block per member on the quote.
    joint_and_several: bool = False
    member_signatures: bool = False


# --- permissions and guards -----------------------------------------------------------------------


def require_editor(user, event: Event | None = None) -> None:
    """Raise :class:`Forbidden` unless ``user`` may edit events (coordinator, admin)."""
    if user is None or not can_edit_event(user, event):
        raise Forbidden(_("Seule la coordination peut modifier un événement."))


def require_not_frozen(event: Event) -> None:
    """Raise :class:`EventFrozen` when the event is closed or cancelled."""
    if event.is_frozen:
        raise EventFrozen(
            _(
                "L'événement est « %(status)s » : il ne se modifie plus. Dupliquez-le pour repartir de lui.",
                status=label(event.status),
            )
        )


# --- checks --------------------------------------------------------------------------------------


def _check_event_fields(fields: EventFields) -> None:
    if not fields.title or not fields.title.strip():
        raise InvalidValue(_("Donnez un titre à l'événement."), "title")
    if fields.ends_at < fields.starts_at:
        raise InvalidValue(_("La fin doit être après le début de l'événement."), "ends_at")
    if fields.ends_at - fields.starts_at > MAX_EVENT_DURATION:
        raise InvalidValue(_("Un événement dure au plus un an : vérifiez les dates."), "ends_at")
    if fields.response_deadline is not None and fields.response_deadline > fields.starts_at:
        raise InvalidValue(
            _("La date limite de réponse doit précéder le début de l'événement."), "response_deadline"
        )
    if fields.headcount is not None and not 0 <= fields.headcount <= MAX_HEADCOUNT:
        raise InvalidValue(
            _("Le nombre de participants doit être compris entre 0 et 1 000 000."), "headcount"
        )
    if fields.fee_kind == FeeKind.PERCENT:
        if not Decimal("0") < fields.fee_rate <= Decimal("1"):
            raise InvalidValue(_("Le pourcentage doit être compris entre 0 et 100 %."), "fee_percent")
        if fields.fee_rate.as_tuple().exponent < -4:
            raise InvalidValue(_("Le pourcentage a au plus deux décimales."), "fee_percent")
    elif fields.fee_kind == FeeKind.FIXED:
        if not Decimal("0") < fields.fee_amount <= MAX_FEE_AMOUNT:
            raise InvalidValue(_("Le forfait doit être compris entre 0,01 € et 1 000 000 €."), "fee_amount")
        if fields.fee_amount.as_tuple().exponent < -2:
            raise InvalidValue(_("Un montant a au plus deux décimales (centimes)."), "fee_amount")
    _check_commission_rate(fields.commission_rate)
    _cpv_codes(fields)


def _cpv_codes(fields: EventFields) -> str:
    """The CPV codes checked and written one way (``79952000-2, 55520000-1``)."""
    try:
        return ", ".join(check_cpv_codes(fields.cpv_codes))
    except FieldError as exc:
        raise InvalidValue(exc.message, "cpv_codes") from exc


def _contract_values(fields: EventFields) -> dict:
    """The contract's fields as stored (the CPV codes normalised)."""
    return {
        "contract_reference": (fields.contract_reference or "").strip(),
        "procurement_procedure": (fields.procurement_procedure or "").strip(),
        "cpv_codes": _cpv_codes(fields),
        "joint_and_several": bool(fields.joint_and_several),
        "member_signatures": bool(fields.member_signatures),
    }


def _check_commission_rate(rate: Decimal) -> None:
    """The commission kept from the actors: 0 (none) up to, but not including, 100 %, to the
    hundredth of a percent (a fraction with at most four places)."""
    if not rate.is_finite() or not Decimal("0") <= rate < Decimal("1"):
        raise InvalidValue(
            _("La commission doit être comprise entre 0 et 100 % (exclu)."), "commission_percent"
        )
    if rate.as_tuple().exponent < -4:
        raise InvalidValue(_("La commission a au plus deux décimales."), "commission_percent")


def _commission(fields: EventFields) -> Decimal:
    """The checked commission rate at the stored scale (``0.0750``), as the audit keeps it."""
    return fields.commission_rate.quantize(Decimal("0.0001"))


def _client(client_id: int) -> Client:
    client = db.session.get(Client, client_id)
    if client is None:
        raise InvalidValue(_("Choisissez un client existant."), "client_id")
    return client


def _fee_values(fields: EventFields) -> tuple[Decimal, Decimal]:
    """Only the value of the chosen kind is kept; the other is reset to zero."""
    rate = fields.fee_rate if fields.fee_kind == FeeKind.PERCENT else Decimal("0")
    amount = fields.fee_amount if fields.fee_kind == FeeKind.FIXED else Decimal("0")
    # Stored scales (checked above to lose nothing), so the audit shows 2000.00, not 2000.
    return rate.quantize(Decimal("0.0001")), amount.quantize(Decimal("0.01"))


def check_lot_schedule(
    event_starts_at: datetime,
    event_ends_at: datetime,
    starts_at: datetime | None,
    ends_at: datetime | None,
    response_deadline: datetime | None,
    lot_title: str | None = None,
) -> None:
    """A lot's times lie within its event, and its answers are due before the event starts.

    Raises :class:`InvalidValue` naming the field (``starts_at``, ``ends_at``, ``response_deadline``).
    """
    prefix = _("Lot « %(title)s » : ", title=lot_title) if lot_title else ""
    window = _(
        "l'événement a lieu du %(start)s au %(end)s",
        start=short_local(event_starts_at),
        end=short_local(event_ends_at),
    )
    if starts_at is not None and not event_starts_at <= starts_at <= event_ends_at:
        raise InvalidValue(
            prefix
            + _(
                "le début (%(t)s) doit être pendant l'événement (%(w)s).", t=short_local(starts_at), w=window
            ),
            "starts_at",
        )
    if ends_at is not None and not event_starts_at <= ends_at <= event_ends_at:
        raise InvalidValue(
            prefix
            + _("la fin (%(t)s) doit être pendant l'événement (%(w)s).", t=short_local(ends_at), w=window),
            "ends_at",
        )
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        raise InvalidValue(prefix + _("la fin doit être après le début."), "ends_at")
    if response_deadline is not None and response_deadline > event_starts_at:
        raise InvalidValue(
            prefix + _("la date limite de réponse doit précéder le début de l'événement."),
            "response_deadline",
        )


# --- create, edit --------------------------------------------------------------------------------


def create_event(fields: EventFields, user) -> Event:
    """Create a draft event for a client.

    Raises :class:`Forbidden` (not coordination) and :class:`InvalidValue` (dates, fee, client).
    """
    require_editor(user)
    _check_event_fields(fields)
    client = _client(fields.client_id)
    rate, amount = _fee_values(fields)
    event = Event(
        title=fields.title.strip(),
        client=client,
        venue=fields.venue,
        venue_address=fields.venue_address,
        starts_at=fields.starts_at,
        ends_at=fields.ends_at,
        headcount=fields.headcount,
        description=fields.description,
        response_deadline=fields.response_deadline,
        status=EventStatus.DRAFT,
        billing_mode=fields.billing_mode,
        fee_kind=fields.fee_kind,
        fee_rate=rate,
        fee_amount=amount,
        commission_rate=_commission(fields),
        purchase_order_number=fields.purchase_order_number or None,
        onsite_contact=fields.onsite_contact,
        **_contract_values(fields),
        created_by_id=getattr(user, "id", None),
    )
    db.session.add(event)
    db.session.flush()
    record(
        "event.created",
        event,
        user=user,
        summary=N_("Événement créé pour %(client)s", client=client.name),
        changes={
            "fee_kind": (None, event.fee_kind),
            "fee_rate": (None, rate),
            "fee_amount": (None, amount),
            "commission_rate": (None, event.commission_rate),
        },
        event_id=event.id,
    )
    return event


def update_event(event: Event, fields: EventFields, user) -> dict:
    """Apply an edit form; returns the ``{field: (before, after)}`` that changed.

    The caller checked the form's version (``app.locking.check_version``). Raises :class:`Forbidden`,
    :class:`EventFrozen`, and :class:`InvalidValue` (dates, fee, a lot that would fall outside the
    new dates).
    """
    require_editor(user, event)
    require_not_frozen(event)
    _check_event_fields(fields)
    client = _client(fields.client_id)
    for lot in event.lots:
        if lot.status == LotStatus.CANCELLED:
            continue
        try:
            check_lot_schedule(
                fields.starts_at, fields.ends_at, lot.starts_at, lot.ends_at, lot.response_deadline, lot.title
            )
        except InvalidValue as exc:
            raise InvalidValue(
                exc.message + " " + _("Modifiez d'abord les horaires du lot."), "starts_at"
            ) from exc
    rate, amount = _fee_values(fields)
    new_values = {
        "title": fields.title.strip(),
        "client_id": client.id,
        "venue": fields.venue,
        "venue_address": fields.venue_address,
        "starts_at": fields.starts_at,
        "ends_at": fields.ends_at,
        "headcount": fields.headcount,
        "description": fields.description,
        "response_deadline": fields.response_deadline,
        "billing_mode": fields.billing_mode,
        "fee_kind": fields.fee_kind,
        "fee_rate": rate,
        "fee_amount": amount,
        "commission_rate": _commission(fields),
        "purchase_order_number": fields.purchase_order_number or None,
        "onsite_contact": fields.onsite_contact,
        **_contract_values(fields),
    }
    changes = {}
    for name in AUDITED_FIELDS:
        before, after = getattr(event, name), new_values[name]
        if before != after:
            changes[name] = (before, after)
    if not changes:
        return {}
    audited = dict(changes)
    if "client_id" in changes:
        audited.pop("client_id")
        audited["client"] = (event.client.name, client.name)
    for name, (_before, after) in changes.items():
        setattr(event, name, after)
    if "client_id" in changes:
        event.client = client
    db.session.flush()
    if "starts_at" in changes:
        # Which of two events came first may change: so may the first-time collaborations.
        work.refresh_pairs(event.id)
    record(
        "event.updated",
        event,
        user=user,
        summary=N_("Événement modifié"),
        changes=audited,
        event_id=event.id,
    )
    if "billing_mode" in changes:
        # Who sells changed: rates not chosen by hand follow their new seller (audited per line);
        # hand-chosen ones that no longer fit are flagged on the dashboard and block the quote.
        rederive_rates(event, user)
    return changes


# --- the status machine --------------------------------------------------------------------------


def change_status(event: Event, target: EventStatus | str, user) -> Event:
    """The coordination moves the event by hand to ``target`` through :data:`EVENT_STATES`.

    Raises :class:`Forbidden` (not coordination), :class:`InvalidTransition` (a move the machine does
    not allow, an unknown status, "won" without an accepted current quote) and :class:`DomainError`
    (consultation without any open lot).
    """
    require_editor(user, event)
    return EVENT_STATES.move(event, target, user=user)


# --- duplication ---------------------------------------------------------------------------------

#: What :func:`duplicate_event` does with a copied lot outside the new event's dates.
WIDEN_EVENT = "widen"
SHIFT_LOTS = "shift"


def _window(starts_at: datetime | None, ends_at: datetime | None) -> str:
    if starts_at is None and ends_at is None:
        return _("sans horaire")
    return _(
        "du %(start)s au %(end)s",
        start=short_local(starts_at) if starts_at else "…",
        end=short_local(ends_at) if ends_at else "…",
    )


def _open_lots_shifted(source: Event, offset: timedelta):
    for lot in source.lots:
        if lot.status != LotStatus.CANCELLED:
            yield lot, shift_local(lot.starts_at, offset), shift_local(lot.ends_at, offset)


def _is_outside(start: datetime | None, end: datetime | None, ev_start: datetime, ev_end: datetime) -> bool:
    return any(t is not None and not ev_start <= t <= ev_end for t in (start, end))


def lots_outside_dates(source: Event, starts_at: datetime, ends_at: datetime) -> list[str]:
    """The open lots of ``source`` that, shifted to an event from ``starts_at`` to ``ends_at``, fall
    outside it: one line each, « title » (its shifted times)."""
    offset = local_offset(source.starts_at, starts_at)
    return [
        _("« %(title)s » (%(window)s)", title=lot.title, window=_window(start, end))
        for lot, start, end in _open_lots_shifted(source, offset)
        if _is_outside(start, end, starts_at, ends_at)
    ]


def _widened(source: Event, offset: timedelta, starts_at: datetime, ends_at: datetime):
    for _lot, start, end in _open_lots_shifted(source, offset):
        for t in (start, end):
            if t is not None:
                starts_at, ends_at = min(starts_at, t), max(ends_at, t)
    return starts_at, ends_at


def _fitted(start: datetime | None, end: datetime | None, ev_start: datetime, ev_end: datetime):
    """A lot's times moved (whole, keeping their length) into the event's, then cut to them."""
    if start is not None and start < ev_start:
        delta = ev_start - start
        start, end = start + delta, (end + delta if end is not None else None)
    if end is not None and end > ev_end:
        delta = end - ev_end
        start, end = (start - delta if start is not None else None), end - delta

    def clamp(t: datetime | None) -> datetime | None:
        return None if t is None else min(max(t, ev_start), ev_end)

    return clamp(start), clamp(end)


def duplicate_event(
    source: Event,
    *,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    user,
    client_id: int | None = None,
    lots_outside: str | None = None,
    keep_actors: bool = False,
) -> Event:
    """A new draft event copied from ``source``: its fields, open lots and their lines.

    ``keep_actors``: each open lot's actors come along as "proposed" (nobody is invited, no answer
    is copied), except those who declined or withdrew and inactive cards: the same event re-run a
    year later mostly has the same actors.

    Lots (times and answer deadlines) and the event's own deadline move by the wall-clock distance
    between the two starts. Assignments are not copied (no answers, nobody invited); lines keep their
    delivering actor. Cancelled lots and the purchase-order number are left behind.

    A shifted lot outside the new dates (the original may already have had one) is dealt with as
    ``lots_outside`` says: :data:`WIDEN_EVENT` widens the new event to cover it, :data:`SHIFT_LOTS`
    moves the lot into the event's dates (shortened if it is longer than the event). Without a
    choice, the copy is refused with the list of those lots (:func:`lots_outside_dates`).

    Raises :class:`Forbidden`, and :class:`InvalidValue` when the dates are wrong or a shifted lot
    falls outside the new dates and no choice was made.
    """
    require_editor(user, source)
    if lots_outside not in (None, "", WIDEN_EVENT, SHIFT_LOTS):
        raise InvalidValue(_("Choix inconnu pour les lots hors des dates."), "lots_outside")
    offset = local_offset(source.starts_at, starts_at)
    outside = lots_outside_dates(source, starts_at, ends_at)
    if outside and not lots_outside:
        raise InvalidValue(
            _(
                "Ces lots débordent des dates de l'événement (%(window)s) : %(lots)s. Élargissez "
                "l'événement ou déplacez ces lots (choix ci-dessous), ou choisissez d'autres dates.",
                window=_window(starts_at, ends_at),
                lots=" ; ".join(outside),
            ),
            "lots_outside",
        )
    if outside and lots_outside == WIDEN_EVENT:
        starts_at, ends_at = _widened(source, offset, starts_at, ends_at)
    deadline = shift_local(source.response_deadline, offset)
    if deadline is not None and deadline > starts_at:
        deadline = None  # a shorter lead time than the original: the coordinator sets it again
    fields = EventFields(
        title=title,
        client_id=client_id or source.client_id,
        starts_at=starts_at,
        ends_at=ends_at,
        venue=source.venue,
        venue_address=source.venue_address,
        headcount=source.headcount,
        description=source.description,
        response_deadline=deadline,
        billing_mode=source.billing_mode,
        fee_kind=source.fee_kind,
        fee_rate=source.fee_rate,
        fee_amount=source.fee_amount,
        commission_rate=source.commission_rate,
        purchase_order_number=None,
        onsite_contact=source.onsite_contact,
        # A new consultation has its own reference; its procedure, codes and groupement terms carry over.
        contract_reference="",
        procurement_procedure=source.procurement_procedure,
        cpv_codes=source.cpv_codes,
        joint_and_several=source.joint_and_several,
        member_signatures=source.member_signatures,
    )
    _check_event_fields(fields)
    client = _client(fields.client_id)
    copies: list[tuple[Lot, Lot]] = []
    for lot in source.lots:
        if lot.status == LotStatus.CANCELLED:
            continue
        new_lot = Lot(
            category_id=lot.category_id,
            title=lot.title,
            specification=lot.specification,
            place=lot.place,
            starts_at=shift_local(lot.starts_at, offset),
            ends_at=shift_local(lot.ends_at, offset),
            quantities=lot.quantities,
            response_deadline=shift_local(lot.response_deadline, offset),
            position=len(copies),
            status=LotStatus.OPEN,
        )
        if lots_outside == SHIFT_LOTS:
            new_lot.starts_at, new_lot.ends_at = _fitted(
                new_lot.starts_at, new_lot.ends_at, starts_at, ends_at
            )
        if new_lot.response_deadline is not None and new_lot.response_deadline > starts_at:
            new_lot.response_deadline = None
        try:
            check_lot_schedule(
                starts_at, ends_at, new_lot.starts_at, new_lot.ends_at, new_lot.response_deadline, lot.title
            )
        except InvalidValue as exc:
            raise InvalidValue(
                exc.message + " " + _("Choisissez des dates qui couvrent tous les lots décalés."), "ends_at"
            ) from exc
        new_lot.lines = [
            Line(
                organisation_id=line.organisation_id,
                description=line.description,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=line.unit_price,
                vat_rate=line.vat_rate,
                vat_rate_manual=line.vat_rate_manual,
                vat_reason=line.vat_reason,
                position=line.position,
            )
            for line in lot.lines
        ]
        copies.append((lot, new_lot))
    event = Event(
        title=fields.title.strip(),
        client=client,
        venue=fields.venue,
        venue_address=fields.venue_address,
        starts_at=starts_at,
        ends_at=ends_at,
        headcount=fields.headcount,
        description=fields.description,
        response_deadline=fields.response_deadline,
        status=EventStatus.DRAFT,
        billing_mode=fields.billing_mode,
        fee_kind=fields.fee_kind,
        fee_rate=fields.fee_rate,
        fee_amount=fields.fee_amount,
        commission_rate=fields.commission_rate,
        purchase_order_number=None,
        onsite_contact=fields.onsite_contact,
        **_contract_values(fields),
        duplicated_from_id=source.id,
        created_by_id=getattr(user, "id", None),
    )
    event.lots = [new_lot for _old, new_lot in copies]
    db.session.add(event)
    db.session.flush()
    if keep_actors:
        _keep_actors(copies, user)
    record(
        "event.duplicated",
        event,
        user=user,
        summary=N_(
            "Créé par duplication de « %(title)s » (%(lots)s lots, %(lines)s lignes, sans les réponses des acteurs)",
            title=source.title,
            lots=len(copies),
            lines=sum(len(new.lines) for _old, new in copies),
        ),
        changes={
            "fee_kind": (None, event.fee_kind),
            "fee_rate": (None, event.fee_rate),
            "fee_amount": (None, event.fee_amount),
            "commission_rate": (None, event.commission_rate),
        },
        event_id=event.id,
    )
    return event


# --- the dashboard -------------------------------------------------------------------------------


# The event page and the lot page load their rows with plain statements, built once with the id as
# a bound parameter (SQLAlchemy keeps each one's cache key instead of walking a new statement on
# every view), and hand each lot its actors and lines themselves (set_committed_value). Through
# nested selectinload() options the same four queries took about 12 % more of the event page's time.


#: What the event and lot pages read of an actor's organisation: its name and link, whether it
#: can be invited (active, email), its QPV mention, and the VAT regime its lines are priced under.
#: Its 20 other columns (address, bank details, description…) stay in the database; one read later
#: in the request is loaded then (one query).
ACTOR_COLUMNS = (
    Organisation.id,
    Organisation.name,
    Organisation.vat_regime,
    Organisation.active,
    Organisation.email,
    Organisation.qpv,
    Organisation.qpv_name,
)


#: What the event page reads of a line: what prices it (and names it in a rate to review). Its
#: unit, position and dates (4 of its 14 columns, two of them dates converted on every row) would be
#: read when asked; nothing on the page asks (its query count is pinned by tests/perf).
PRICED_LINE_COLUMNS = (
    Line.lot_id,
    Line.organisation_id,
    Line.description,
    Line.quantity,
    Line.unit_price,
    Line.vat_rate,
    Line.vat_rate_manual,
    Line.vat_reason,
    Line.version_id,
)


#: What the event page reads of a lot and of an actor's assignment: not a lot's dates of record
#: (created, updated), nor an answer's comment and its dates other than the invitation's (the lot's
#: own page shows them). Anything else is read when asked (one query; the page's query count is
#: pinned by tests/perf).
DASHBOARD_LOT_COLUMNS = (
    Lot.id,
    Lot.event_id,
    Lot.category_id,
    Lot.title,
    Lot.specification,
    Lot.place,
    Lot.quantities,
    Lot.starts_at,
    Lot.ends_at,
    Lot.response_deadline,
    Lot.position,
    Lot.status,
    Lot.version_id,
)
DASHBOARD_ACTOR_COLUMNS = (
    Assignment.id,
    Assignment.lot_id,
    Assignment.organisation_id,
    Assignment.role,
    Assignment.status,
    Assignment.invited_at,
)


def _actor_options():
    """An actor's organisation joined with :data:`ACTOR_COLUMNS` only."""
    return defaultload(Assignment.organisation).load_only(*ACTOR_COLUMNS)


def _lines_of(of_lots) -> sa.Select:
    """The statement of the lines whose lot id ``of_lots(column)`` keeps, in their relationship's
    order (ties broken by id), without their organisation: :func:`_attach` hands each line its
    seller."""
    return (
        sa.select(Line)
        .where(of_lots(Line.lot_id))
        .options(lazyload(Line.organisation))
        .order_by(Line.position, Line.id)
    )


def _attach(lots: list[Lot], assignments: Iterable[Assignment], lines: sa.Select, params: dict) -> None:
    """Read the lots' lines (one query) and set the lots' actors (``assignments``, read by the
    caller in their order) and lines as the lots' collections, as loaded from the database.

    A line's seller is nearly always one of the event's actors, read with them: the lines' statement
    does not join the organisations again (the same rows a second time: measured, 4 % of the event
    page on both databases). A seller no actor row brought (its assignment removed since) is read with
    any others in one more query."""
    found = {lot.id: ([], []) for lot in lots}
    organisations = {}
    for assignment in assignments:
        found[assignment.lot_id][0].append(assignment)
        organisations[assignment.organisation_id] = assignment.organisation
    read_lines = list(db.session.execute(lines, params).scalars())
    missing = {line.organisation_id for line in read_lines} - organisations.keys()
    if missing:
        organisations.update(
            (organisation.id, organisation)
            for organisation in db.session.scalars(
                sa.select(Organisation).where(Organisation.id.in_(missing))
            )
        )
    for line in read_lines:
        set_committed_value(line, "organisation", organisations[line.organisation_id])
        found[line.lot_id][1].append(line)
    for lot in lots:
        set_committed_value(lot, "assignments", found[lot.id][0])
        set_committed_value(lot, "lines", found[lot.id][1])


@cache
def _dashboard_statements() -> tuple[sa.Select, sa.Select, sa.Select]:
    event_id = sa.bindparam("event_id")
    return (
        # The quote versions come with the event (a handful of rows), without their snapshots, and
        # the coordinator's identity that the prices need.
        with_coordinator_identity(sa.select(Event))
        .where(Event.id == event_id)
        .options(joinedload(Event.quotes).load_only(*LISTED_COLUMNS)),
        # The lots with their actors (a row per actor, one for a lot without any): one statement
        # fewer than lots and actors apart, a round trip each on PostgreSQL.
        sa.select(Lot, Assignment)
        .outerjoin(Assignment, Assignment.lot_id == Lot.id)
        .where(Lot.event_id == event_id)
        .options(load_only(*DASHBOARD_LOT_COLUMNS), load_only(*DASHBOARD_ACTOR_COLUMNS), _actor_options())
        .order_by(Lot.position, Lot.id, Assignment.id),
        _lines_of(lambda lot_id: lot_id.in_(sa.select(Lot.id).where(Lot.event_id == event_id))).options(
            load_only(*PRICED_LINE_COLUMNS)
        ),
    )


def dashboard_event(event_id: int) -> Event | None:
    """The event with its client and quote versions (and the coordinator's identity), its lots,
    their actors and lines, in three queries (``None`` when there is no such event)."""
    events, lots_and_actors, lines = _dashboard_statements()
    params = {"event_id": event_id}
    row = db.session.execute(events, params).unique().one_or_none()
    if row is None:
        return None
    event = keeping_identity(row)
    loaded: dict[int, Lot] = {}
    actors = []
    for lot, assignment in db.session.execute(lots_and_actors, params):
        loaded.setdefault(lot.id, lot)
        if assignment is not None:
            actors.append(assignment)
    lots = list(loaded.values())
    set_committed_value(event, "lots", lots)
    _attach(lots, actors, lines, params)
    return event


@dataclass(frozen=True)
class LotPlace:
    """Where a lot stands among its event's lots (cancelled ones included, in the event page's
    order): its rank from 1, their number, and the lots before and after it as ``(id, title)``."""

    rank: int
    count: int
    previous: tuple[int, str] | None
    next: tuple[int, str] | None


def _places(lot_id) -> sa.Subquery:
    """Each lot of the event of the lot ``lot_id`` with its :class:`LotPlace`'s columns, in the
    event page's order (window functions: the event's lots are read once, their ids and titles)."""
    order = (Lot.position, Lot.id)
    event_id = sa.select(Lot.event_id).where(Lot.id == lot_id).correlate(None).scalar_subquery()
    return (
        sa.select(
            Lot.id,
            sa.func.row_number().over(order_by=order).label("rank"),
            sa.func.count().over().label("count"),
            sa.func.lag(Lot.id).over(order_by=order).label("previous_id"),
            sa.func.lag(Lot.title).over(order_by=order).label("previous_title"),
            sa.func.lead(Lot.id).over(order_by=order).label("next_id"),
            sa.func.lead(Lot.title).over(order_by=order).label("next_title"),
        )
        .where(Lot.event_id == event_id)
        .subquery("places")
    )


def _place(row) -> LotPlace:
    """A :class:`LotPlace` from a row holding :func:`_places`' columns."""
    return LotPlace(
        row.rank,
        row.count,
        None if row.previous_id is None else (row.previous_id, row.previous_title),
        None if row.next_id is None else (row.next_id, row.next_title),
    )


@cache
def _lot_page_statements() -> tuple[sa.Select, sa.Select, sa.Select]:
    from offers.services.assignments import has_account_sql
    from offers.services.lines import locked_sql
    from offers.services.matching import stored_weights_sql

    lot_id = sa.bindparam("lot_id")
    places = _places(lot_id)
    return (
        # With the lot: whether its event's lines are locked (a quote was sent), its place among
        # its event's lots, and the matching's weights (its suggestions need them).
        with_coordinator_identity(
            sa.select(
                Lot,
                locked_sql(Lot.event_id).label("locked"),
                *(column for column in places.c if column.key != "id"),
                stored_weights_sql().label("weights"),
            ).join(places, places.c.id == Lot.id)
        )
        .where(Lot.id == lot_id)
        .options(joinedload(Lot.event).joinedload(Event.client)),
        # With each actor: whether its organisation has an actor account (to be invited by link).
        sa.select(Assignment, has_account_sql(Assignment.organisation_id))
        .where(Assignment.lot_id == lot_id)
        .options(_actor_options())
        .order_by(Assignment.id),
        _lines_of(lambda column: column == lot_id),
    )


@dataclass(frozen=True)
class LotPage:
    """What the lot's page reads in its three queries: the lot (with its event, client, category,
    actors and lines), whether the event's lines are locked, which of its actors' organisations
    have an actor account, its place among its event's lots, and the matching's stored weights
    (``{}`` when not set: :func:`offers.services.matching.matching_weights` reads them)."""

    lot: Lot
    lines_locked: bool
    with_accounts: frozenset[int]
    place: LotPlace
    stored_weights: object


def read_lot_page(lot_id: int) -> LotPage | None:
    """The lot's page (:class:`LotPage`): one lot with its event and client, its category (and the
    coordinator's identity), its place, its actors and its lines, in three queries (``None`` when
    there is no such lot): the lot's page loads nothing of the event's other lots but their ids
    and titles, for its links to the lots before and after it."""
    lots, assignments, lines = _lot_page_statements()
    params = {"lot_id": lot_id}
    row = db.session.execute(lots, params).first()
    if row is None:
        return None
    lot = keeping_identity(row)
    actors = db.session.execute(assignments, params).all()
    _attach([lot], (assignment for assignment, _has in actors), lines, params)
    with_accounts = frozenset(assignment.organisation_id for assignment, has in actors if has)
    stored = row.weights if row.weights is not None else {}
    return LotPage(lot, bool(row.locked), with_accounts, _place(row), stored)


@dataclass
class MissingItem:
    """One thing the coordinator still has to do, tied to a lot where there is one."""

    message: str
    lot: Lot | None = None
    assignment: object | None = None
    deadline: datetime | None = None


@dataclass
class Check:
    """One line of the checklist: ``ok`` when ``items`` is empty."""

    key: str
    #: Shown when nothing is missing.
    title: str
    #: Shown above the list of what is missing.
    todo: str
    items: list[MissingItem] = field(default_factory=list)
    #: Informational checks (pending answers) are shown in amber rather than red.
    warning: bool = False

    @property
    def ok(self) -> bool:
        return not self.items


def answer_deadline(lot: Lot, event: Event) -> datetime | None:
    """The lot's own response deadline, else the event's."""
    return lot.response_deadline or event.response_deadline


def _keep_actors(copies: list[tuple[Lot, Lot]], user) -> None:
    """Each copied lot gets its original's actors as "proposed", through
    :func:`offers.services.assignments.add_assignments` (checked and audited as by hand); those who
    declined or withdrew and inactive cards stay behind."""
    from offers.services.assignments import add_assignments

    for old, new in copies:
        picks = [
            (assignment.organisation_id, assignment.role)
            for assignment in old.assignments
            if assignment.status not in (AssignmentStatus.DECLINED, AssignmentStatus.WITHDRAWN)
            and assignment.organisation.active
        ]
        if picks:
            add_assignments(new, picks, user)


def event_checklist(event: Event, now: datetime) -> list[Check]:
    """What is missing before the offer is complete (no query: works on the loaded event).

    Only open lots count. An invitation still unanswered after its deadline is "late" rather than
    "pending"; an actor put on a lot but not yet invited is listed too.
    """
    open_lots = [lot for lot in event.lots if lot.status == LotStatus.OPEN]
    no_actor = Check(
        "no_actor", _("Chaque lot a un acteur qui a accepté"), _("Lots sans acteur ayant accepté")
    )
    no_lines = Check("no_lines", _("Chaque lot a des lignes chiffrées"), _("Lots sans prix"))
    not_invited = Check(
        "not_invited",
        _("Tous les acteurs proposés ont été invités"),
        _("Acteurs proposés pas encore invités"),
        warning=True,
    )
    pending = Check(
        "pending",
        _("Aucune invitation en attente de réponse"),
        _("Invitations en attente de réponse"),
        warning=True,
    )
    late = Check("late", _("Aucune réponse en retard"), _("Réponses en retard (délai dépassé)"))
    for lot in open_lots:
        if not any(a.status == AssignmentStatus.ACCEPTED for a in lot.assignments):
            no_actor.items.append(MissingItem(_("%(lot)s : aucun acteur n'a accepté", lot=lot.title), lot))
        if not lot.lines:
            no_lines.items.append(MissingItem(_("%(lot)s : pas encore de prix", lot=lot.title), lot))
        deadline = answer_deadline(lot, event)
        for assignment in lot.assignments:
            name = assignment.organisation.name
            if assignment.status == AssignmentStatus.PROPOSED:
                not_invited.items.append(
                    MissingItem(_("%(org)s sur « %(lot)s »", org=name, lot=lot.title), lot, assignment)
                )
            elif assignment.status == AssignmentStatus.INVITED:
                item = MissingItem(
                    _("%(org)s sur « %(lot)s »", org=name, lot=lot.title), lot, assignment, deadline
                )
                (late if deadline is not None and deadline < now else pending).items.append(item)
    checks = [no_actor, no_lines, not_invited, pending, late]
    if not open_lots:
        checks.insert(
            0,
            Check(
                "no_lots",
                _("L'événement a au moins un lot"),
                _("Aucun lot"),
                [MissingItem(_("Ajoutez les lots de l'événement."))],
            ),
        )
    return checks


#: How many of the latest history entries the event page shows; the rest are on the history page.
HISTORY_ON_DASHBOARD = 20


def _history_select(event_id) -> sa.Select:
    """The event's audit entries, newest first, each with its author's name (the history shows
    nothing else of the author: not the organisation or client that a user's row brings)."""
    return (
        sa.select(AuditEntry)
        .where(AuditEntry.event_id == event_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .options(
            joinedload(AuditEntry.user)
            .load_only(User.id, User.name)
            .options(lazyload(User.organisation), lazyload(User.client))
        )
    )


def history_query(event: Event):
    """The event's audit entries, newest first."""
    return _history_select(event.id)


@cache
def _latest_history_statement(limit: int) -> sa.Select:
    """The dashboard's history statement, built once per limit (see :func:`_dashboard_statement`)."""
    return _history_select(sa.bindparam("event_id")).limit(limit + 1)


def event_history(event: Event, limit: int = HISTORY_ON_DASHBOARD) -> list[AuditEntry]:
    """The event's latest audit entries, newest first (one query; the author is joined).

    One more than ``limit`` is read, so the page knows whether to link to the whole history:
    ``len(result) > limit`` means there is more."""
    return list(db.session.scalars(_latest_history_statement(limit), {"event_id": event.id}).unique())


# --- the list's figures --------------------------------------------------------------------------


@dataclass(frozen=True)
class ListFigures:
    """What the events list shows of an event's open lots."""

    lots: int = 0
    without_actor: int = 0
    pending: int = 0
    #: The open lots' net (fee excluded), :attr:`offers.pricing.EventTotals.lots_net`'s figure.
    lots_net: Decimal = Decimal("0.00")


@cache
def _list_figures_statement() -> sa.Select:
    """:func:`list_figures`' statement, built once with the events' ids as a parameter: SQLAlchemy
    then finds it in its cache without walking a new statement and mapping its parameters."""

    def assignments(status: AssignmentStatus):
        return (
            sa.select(sa.func.count())
            .where(Assignment.lot_id == Lot.id, Assignment.status == status)
            .correlate(Lot)
            .scalar_subquery()
        )

    return (
        sa.select(
            Lot.event_id,
            sa.func.count(),
            sa.func.sum(sa.case((assignments(AssignmentStatus.ACCEPTED) == 0, 1), else_=0)),
            sa.func.sum(assignments(AssignmentStatus.INVITED)),
            sum_money(lot_net_sql(Lot.id)),
        )
        .where(Lot.event_id.in_(sa.bindparam("event_ids", expanding=True)), Lot.status == LotStatus.OPEN)
        .group_by(Lot.event_id)
    )


def list_figures(event_ids) -> dict[int, ListFigures]:
    """For each event: its open lots, those without an accepted actor, the invitations waiting for
    an answer, and the open lots' net. Counted and added up in SQL, one query for a whole page,
    whatever the number of lots and lines.

    Each open lot's accepted and invited assignments are counted, and its lines added up, by
    subqueries of their own, lot by lot through the indexes on ``lot_id``: as an ``EXISTS`` or a
    join, PostgreSQL's planner preferred to read every accepted (or invited) assignment of the
    database into a hash, work that grows with the years of data while the page shows 20 events."""
    ids = set(event_ids)
    if not ids:
        return {}
    rows = db.session.execute(_list_figures_statement(), {"event_ids": sorted(ids)})
    figures = {
        event_id: ListFigures(int(count), int(without or 0), int(pending or 0), net)
        for event_id, count, without, pending, net in rows
    }
    return {event_id: figures.get(event_id, ListFigures()) for event_id in ids}
