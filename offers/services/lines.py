"""Lines: what is sold on a lot, delivered by one actor.

Who sells a line and at what VAT rate is :mod:`offers.pricing` (policy in ``docs/pricing.md``): this
module only checks and stores what is typed. Once a quote of the event is sent (or accepted) the
lines are locked: a change goes through a new version of the quote.

Explicit arguments, ``flush()`` never commit, French :class:`app.errors.DomainError` messages; every
change of a line is audited with the before/after of its money fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

from app.audit import N_, as_money, as_quantity, record
from app.auth import is_actor, is_coordination
from app.errors import DomainError, Forbidden, InvalidValue
from app.extensions import db
from app.formatting import rate as format_rate
from app.labels import label
from app.models import Organisation, User
from app.money import line_net
from app.parsing import single_line_error
from offers import pricing
from offers.models import (
    MAX_UNIT_LENGTH,
    UNITS,
    AssignmentStatus,
    Event,
    Line,
    Lot,
    LotStatus,
    Quote,
    QuoteStatus,
)
from offers.permissions import accepted_assignment, can_edit_line
from offers.services.events import require_not_frozen

PRICE_QUANTUM = Decimal("0.01")
QUANTITY_QUANTUM = Decimal("0.001")

#: Bounds that catch typing mistakes.
MAX_QUANTITY = Decimal("1000000")
MAX_UNIT_PRICE = Decimal("10000000")
#: quantity × price of one line: beyond this it is a typing mistake (and would overflow the totals).
MAX_LINE_NET = Decimal("100000000.00")
MAX_DESCRIPTION = 500

#: A quote in one of these statuses freezes the event's lines.
LOCKING_QUOTE_STATUSES = (QuoteStatus.SENT, QuoteStatus.ACCEPTED)

#: Assignments on which the coordinator may put an actor's lines (not declined, not withdrawn).
SELLABLE_ASSIGNMENTS = (AssignmentStatus.PROPOSED, AssignmentStatus.INVITED, AssignmentStatus.ACCEPTED)

#: Fields whose before/after the audit log keeps.
AUDITED_FIELDS = (
    "description",
    "quantity",
    "unit",
    "unit_price",
    "vat_rate",
    "vat_reason",
    "organisation_id",
)


class LinesLocked(DomainError):
    """A quote of the event was sent: its lines no longer change (a new quote version is needed)."""

    status_code = 409


@dataclass
class LineFields:
    """The values of a line form, already parsed (Decimals)."""

    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    #: The delivering actor; ``None`` means the acting actor's own organisation (portal).
    organisation_id: int | None = None
    #: A fraction (0.1000 for 10 %); ``None`` means the seller's default (``offers.pricing``).
    vat_rate: Decimal | None = None
    #: Why a subject seller charges 0 % (required then, ignored otherwise).
    vat_reason: str | None = None


# --- locking -------------------------------------------------------------------------------------


def lines_locked(event: Event) -> bool:
    """True once a quote of the event was sent (or accepted): its lines no longer change."""
    return bool(db.session.scalar(_locked_statement(), {"event_id": event.id}))


def locked_sql(event_id) -> sa.Exists:
    """:func:`lines_locked` in SQL, for the event whose id is ``event_id`` (a column or a parameter):
    a page may read it with its rows."""
    return sa.exists().where(Quote.event_id == event_id, Quote.status.in_(LOCKING_QUOTE_STATUSES))


@cache
def _locked_statement() -> sa.Select:
    """:func:`lines_locked`'s statement, built once."""
    return sa.select(locked_sql(sa.bindparam("event_id")))


def locked_event_ids(event_ids) -> set[int]:
    """Of ``event_ids``, those whose lines are locked (one query, for lists)."""
    ids = set(event_ids)
    if not ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(Quote.event_id)
            .where(Quote.event_id.in_(ids), Quote.status.in_(LOCKING_QUOTE_STATUSES))
            .distinct()
        )
    )


def locked_message() -> str:
    return _("Le devis a été envoyé : toute modification passe par une nouvelle version du devis.")


def require_lines_open(event: Event) -> None:
    """Raise :class:`LinesLocked` when a quote of the event was sent or accepted."""
    if lines_locked(event):
        raise LinesLocked(locked_message())


def sellable_organisations(lot: Lot, current: Organisation | None = None) -> list[Organisation]:
    """Actors the coordinator may put a line on: those on the lot and not declined or withdrawn
    (accepted first), plus the line's current actor."""
    ranked = sorted(
        (a for a in lot.assignments if a.status in SELLABLE_ASSIGNMENTS),
        key=lambda a: (a.status != AssignmentStatus.ACCEPTED, a.id),
    )
    organisations = [a.organisation for a in ranked]
    if current is not None and current not in organisations:
        organisations.append(current)
    return organisations


# --- checks --------------------------------------------------------------------------------------


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f").replace(".", ",")


def _no_negative_zero(value: Decimal) -> Decimal:
    return value.copy_abs() if value.is_zero() else value


def quantity_error(quantity) -> str | None:
    """Why a typed quantity is refused (``None`` when it is fine); shared with the forms."""
    if quantity is None or not isinstance(quantity, Decimal) or not quantity.is_finite():
        return _("Indiquez une quantité (ex. 7,5).")
    if quantity <= 0:
        return _("La quantité doit être supérieure à 0.")
    if quantity > MAX_QUANTITY:
        return _("La quantité doit être au plus 1 000 000 : vérifiez la saisie.")
    if quantity.as_tuple().exponent < -3:
        return _("Une quantité a au plus trois décimales.")
    return None


def price_error(price) -> str | None:
    """Why a typed unit price excl. VAT is refused (``None`` when it is fine); shared with the forms."""
    if price is None or not isinstance(price, Decimal) or not price.is_finite():
        return _("Indiquez un prix unitaire HT (ex. 12,50).")
    if price < 0:
        return _("Le prix unitaire ne peut pas être négatif.")
    if price > MAX_UNIT_PRICE:
        return _("Le prix unitaire doit être au plus 10 000 000 € : vérifiez la saisie.")
    if price.as_tuple().exponent < -2:
        return _("Un prix a au plus deux décimales (centimes).")
    return None


def normalise_unit(typed: str | None) -> str:
    """The unit to store: a common unit's code when ``typed`` is its code or its label (in either
    language, any case), else the text as typed, on one line and at most 20 characters."""
    unit = " ".join((typed or "").split())
    if not unit:
        raise InvalidValue(_("Indiquez une unité (ex. repas, heure, forfait)."), "unit")
    folded = unit.casefold()
    with force_locale("fr"):
        french = {code: str(label(code)).casefold() for code in UNITS}
    for code in UNITS:
        if folded in {code, str(label(code)).casefold(), french[code]}:
            return code
    if single_line_error(typed) or len(unit) > MAX_UNIT_LENGTH:
        raise InvalidValue(
            _("Une unité tient sur une ligne, en %(n)d caractères au plus.", n=MAX_UNIT_LENGTH), "unit"
        )
    return unit


def _clean(fields: LineFields) -> LineFields:
    """Check and normalise the typed values; raise :class:`InvalidValue` naming the field."""
    description = (fields.description or "").strip()
    if not description:
        raise InvalidValue(_("Décrivez la prestation."), "description")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidValue(_("La description a au plus 500 caractères."), "description")
    quantity, price = fields.quantity, fields.unit_price
    error = quantity_error(quantity)
    if error:
        raise InvalidValue(error, "quantity")
    error = price_error(price)
    if error:
        raise InvalidValue(error, "unit_price")
    if line_net(quantity, price) > MAX_LINE_NET:
        raise InvalidValue(
            _(
                "Le montant de la ligne (%(q)s × %(p)s €) dépasse 100 000 000 € : vérifiez la saisie.",
                q=_plain(quantity),
                p=_plain(price),
            ),
            "quantity",
        )
    unit = normalise_unit(fields.unit)
    return LineFields(
        description=description,
        quantity=_no_negative_zero(quantity.quantize(QUANTITY_QUANTUM)),
        unit=unit,
        unit_price=_no_negative_zero(price.quantize(PRICE_QUANTUM)),
        organisation_id=fields.organisation_id,
        vat_rate=fields.vat_rate,
        vat_reason=fields.vat_reason,
    )


def _require_lot_open(lot: Lot) -> None:
    event = lot.event
    require_not_frozen(event)
    if lot.status == LotStatus.CANCELLED:
        raise DomainError(
            _("Le lot « %(lot)s » est annulé : rouvrez-le pour modifier ses lignes.", lot=lot.title)
        )
    require_lines_open(event)


def _seller(lot: Lot, fields: LineFields, user: User, current: Line | None) -> Organisation:
    """The delivering actor, checked against who is acting. Raises :class:`Forbidden` and
    :class:`InvalidValue` (field ``organisation_id``)."""
    if is_coordination(user):
        if fields.organisation_id is None:
            raise InvalidValue(_("Choisissez l'acteur qui réalise la prestation."), "organisation_id")
        current_org = current.organisation if current is not None else None
        for organisation in sellable_organisations(lot, current_org):
            if organisation.id == fields.organisation_id:
                return organisation
        raise InvalidValue(
            _("Cet acteur n'est pas positionné sur ce lot (ou l'a décliné) : ajoutez-le d'abord au lot."),
            "organisation_id",
        )
    if not is_actor(user):
        raise Forbidden(_("Seuls la coordination et les acteurs du lot modifient ses lignes."))
    if fields.organisation_id not in (None, user.organisation_id):
        raise Forbidden(_("Vous ne pouvez écrire que les lignes de votre organisation."))
    if current is not None and current.organisation_id != user.organisation_id:
        raise Forbidden(_("Cette ligne est celle d'un autre acteur."))
    assignment = accepted_assignment(lot, user.organisation_id)
    if assignment is None:
        raise Forbidden(_("Vous n'avez pas accepté ce lot : vous ne pouvez pas y écrire de lignes."))
    return assignment.organisation


def _rate(
    lot: Lot, organisation: Organisation, fields: LineFields, user: User, current: Line | None
) -> tuple[Decimal, bool, str | None]:
    """The line's rate, whether it was chosen by hand, and its 0 % reason (``offers.pricing``).

    No rate typed: the seller's default, and the line follows its seller from then on. A typed rate
    must fit the seller; an actor picks among the positive legal rates (a 0 % line of a subject
    seller needs a reason, which the coordination gives). Raises :class:`InvalidValue`.
    """
    seller = pricing.line_seller(lot.event.billing_mode, organisation)
    category_default = pricing.category_rate(lot)
    default = pricing.default_rate(seller, category_default)
    if (
        fields.vat_rate is None
        and current is not None
        and current.vat_rate_manual
        and not is_coordination(user)
        and current.organisation_id == organisation.id
        and not pricing.rate_problem(seller, current.vat_rate, current.vat_reason)
    ):
        # An actor's edit that names no rate keeps the rate the coordination chose for its line.
        return current.vat_rate, True, current.vat_reason
    if fields.vat_rate is None or (fields.vat_rate == default and not (fields.vat_reason or "").strip()):
        return default, False, None
    if not is_coordination(user) and fields.vat_rate not in pricing.allowed_rates(
        seller, category_default, zero=False
    ):
        raise InvalidValue(
            _(
                "Choisissez un taux parmi %(rates)s.",
                rates=", ".join(
                    format_rate(r) for r in pricing.allowed_rates(seller, category_default, zero=False)
                ),
            ),
            "vat_rate",
        )
    try:
        rate, reason = pricing.check_rate(seller, category_default, fields.vat_rate, fields.vat_reason)
    except pricing.RateRefused as exc:
        raise InvalidValue(exc.message, exc.field) from exc
    return rate, rate != default or reason is not None, reason


def _audit_values(line: Line) -> dict:
    return {
        "description": line.description,
        "quantity": line.quantity,
        "unit": line.unit,
        "unit_price": line.unit_price,
        "vat_rate": line.vat_rate,
        "vat_reason": line.vat_reason,
        "organisation_id": line.organisation_id,
    }


def _audited(changes: dict, names: dict[int, str]) -> dict:
    """``organisation_id`` is shown by name in the history."""
    audited = dict(changes)
    if "organisation_id" in audited:
        before, after = audited.pop("organisation_id")
        audited["organisation"] = (names.get(before), names.get(after))
    return audited


# --- create, edit, delete ------------------------------------------------------------------------


def create_line(lot: Lot, fields: LineFields, user: User) -> Line:
    """Add a line at the end of the lot's lines.

    The coordination chooses the actor and may choose the rate; an actor writes its own line on a lot
    it accepted, at the computed rate. Raises :class:`Forbidden`, :class:`EventFrozen`,
    :class:`LinesLocked` (a quote was sent), :class:`DomainError` (cancelled lot) and
    :class:`InvalidValue` (quantity, price, unit, rate, actor).
    """
    event = lot.event
    organisation = _seller(lot, fields, user, None)
    _require_lot_open(lot)
    fields = _clean(fields)
    rate, manual, reason = _rate(lot, organisation, fields, user, None)
    line = Line(
        lot=lot,
        organisation=organisation,
        description=fields.description,
        quantity=fields.quantity,
        unit=fields.unit,
        unit_price=fields.unit_price,
        vat_rate=rate,
        vat_rate_manual=manual,
        vat_reason=reason,
        position=max((other.position for other in lot.lines), default=-1) + 1,
    )
    db.session.add(line)
    db.session.flush()
    changes = {name: (None, value) for name, value in _audit_values(line).items()}
    record(
        "line.created",
        line,
        user=user,
        summary=N_(
            "Ligne « %(line)s » ajoutée au lot « %(lot)s » (%(actor)s) : %(q)s × %(p)s HT",
            line=line.description,
            lot=lot.title,
            actor=organisation.name,
            q=as_quantity(line.quantity),
            p=as_money(line.unit_price),
        ),
        changes=_audited(changes, {organisation.id: organisation.name}),
        event_id=event.id,
    )
    return line


def update_line(line: Line, fields: LineFields, user: User) -> dict:
    """Apply an edit; returns the ``{field: (before, after)}`` that changed.

    The caller checked the form's version (``app.locking.check_version``). Raises the same errors as
    :func:`create_line`.
    """
    lot = line.lot
    event = lot.event
    organisation = _seller(lot, fields, user, line)
    _require_lot_open(lot)
    fields = _clean(fields)
    rate, manual, reason = _rate(lot, organisation, fields, user, line)
    before_org = line.organisation
    new_values = {
        "description": fields.description,
        "quantity": fields.quantity,
        "unit": fields.unit,
        "unit_price": fields.unit_price,
        "vat_rate": rate,
        "vat_reason": reason,
        "organisation_id": organisation.id,
    }
    changes = {
        name: (getattr(line, name), new_values[name])
        for name in AUDITED_FIELDS
        if getattr(line, name) != new_values[name]
    }
    if not changes and line.vat_rate_manual == manual:
        return {}
    line.vat_rate_manual = manual
    for name, (_before, after) in changes.items():
        if name != "organisation_id":
            setattr(line, name, after)
    if "organisation_id" in changes:
        line.organisation = organisation
    db.session.flush()
    record(
        "line.updated",
        line,
        user=user,
        summary=N_("Ligne « %(line)s » du lot « %(lot)s » modifiée", line=line.description, lot=lot.title),
        changes=_audited(changes, {before_org.id: before_org.name, organisation.id: organisation.name}),
        event_id=event.id,
    )
    return changes


def delete_line(line: Line, user: User) -> None:
    """Remove a line; the history keeps its values.

    The caller checked the form's version. Raises :class:`Forbidden`, :class:`EventFrozen`,
    :class:`LinesLocked` and :class:`DomainError` (cancelled lot).
    """
    lot = line.lot
    event = lot.event
    if not can_edit_line(user, line):
        raise Forbidden(_("Cette ligne est celle d'un autre acteur."))
    _require_lot_open(lot)
    organisation = line.organisation
    changes = {name: (value, None) for name, value in _audit_values(line).items()}
    record(
        "line.deleted",
        line,
        user=user,
        summary=N_(
            "Ligne « %(line)s » supprimée du lot « %(lot)s » (%(actor)s)",
            line=line.description,
            lot=lot.title,
            actor=organisation.name,
        ),
        changes=_audited(changes, {organisation.id: organisation.name}),
        event_id=event.id,
    )
    lot.lines.remove(line)
    db.session.delete(line)
    db.session.flush()
