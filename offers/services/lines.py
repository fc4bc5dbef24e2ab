"""Lines: what is sold on a lot, delivered by one actor; who sells decides the VAT (DESIGN.md "Money").

- In single-contractor mode the coordinator sells every line: its regime applies (subject: the lot's
  category rate; franchise or exempt: 0 % with the legal mention).
- In joint-consortium mode the actor who delivers the line sells it: the actor's regime applies.
- A seller subject to VAT may charge another legal French rate (0, 2,1, 5,5, 10, 20 %); a seller in
  franchise or exempt always charges 0 %.
- Once a quote of the event is sent (or accepted) the lines are locked: a change goes through a new
  version of the quote.

Explicit arguments, ``flush()`` never commit, French :class:`app.errors.DomainError` messages; every
change of a line is audited with the before/after of its money fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _

from app.audit import record
from app.errors import DomainError, Forbidden, InvalidValue
from app.extensions import db
from app.formatting import money as format_money
from app.formatting import quantity as format_quantity
from app.formatting import rate as format_rate
from app.labels import label
from app.models import CoordinatorIdentity, Organisation, Role, User, VatRegime
from app.money import line_net
from app.settings_store import get_setting
from offers.models import (
    UNITS,
    Assignment,
    AssignmentStatus,
    BillingMode,
    Event,
    Line,
    Lot,
    LotStatus,
    Quote,
    QuoteStatus,
)
from offers.services.events import require_not_frozen

RATE_QUANTUM = Decimal("0.0001")
PRICE_QUANTUM = Decimal("0.01")
QUANTITY_QUANTUM = Decimal("0.001")
ZERO_RATE = Decimal("0.0000")

#: The VAT rates of metropolitan France (CGI art. 278 ff.), as fractions.
LEGAL_VAT_RATES: tuple[Decimal, ...] = (
    Decimal("0.0000"),
    Decimal("0.0210"),
    Decimal("0.0550"),
    Decimal("0.1000"),
    Decimal("0.2000"),
)

#: Bounds that catch typing mistakes.
MAX_QUANTITY = Decimal("1000000")
MAX_UNIT_PRICE = Decimal("10000000")
#: quantity × price of one line: beyond this it is a typing mistake (and would overflow the totals).
MAX_LINE_NET = Decimal("100000000.00")
MAX_DESCRIPTION = 500

#: Used when the ``legal.vat_mentions`` setting is missing or lacks a regime.
DEFAULT_VAT_MENTIONS = {
    "franchise": "TVA non applicable, art. 293 B du CGI",
    "exempt": "Exonération de TVA, article 261-7-1° du CGI",
}

#: A quote in one of these statuses freezes the event's lines.
LOCKING_QUOTE_STATUSES = (QuoteStatus.SENT, QuoteStatus.ACCEPTED)

#: Assignments on which the coordinator may put an actor's lines (not declined, not withdrawn).
SELLABLE_ASSIGNMENTS = (AssignmentStatus.PROPOSED, AssignmentStatus.INVITED, AssignmentStatus.ACCEPTED)

#: Fields whose before/after the audit log keeps.
AUDITED_FIELDS = ("description", "quantity", "unit", "unit_price", "vat_rate", "organisation_id")


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
    #: A fraction (0.1000 for 10 %); ``None`` means the seller's default. Actors never set it.
    vat_rate: Decimal | None = None


# --- who sells, and at what rate ----------------------------------------------------------------


def coordinator_identity() -> CoordinatorIdentity | None:
    return db.session.get(CoordinatorIdentity, 1)


def seller_regime(event: Event, organisation: Organisation, identity=False) -> VatRegime:
    """The VAT regime of whoever sells ``organisation``'s line on ``event``.

    Single contractor: the coordinator (subject when its identity is not set up yet); joint
    consortium: the delivering actor. ``identity`` may be passed to spare a lookup.
    """
    if event.billing_mode == BillingMode.JOINT_CONSORTIUM:
        return organisation.vat_regime
    if identity is False:
        identity = coordinator_identity()
    return identity.vat_regime if identity is not None else VatRegime.SUBJECT


def seller_name(event: Event, organisation: Organisation) -> str:
    if event.billing_mode == BillingMode.JOINT_CONSORTIUM:
        return organisation.name
    identity = coordinator_identity()
    return identity.name if identity is not None else _("la coordination")


def default_vat_rate(event: Event, lot: Lot, organisation: Organisation) -> Decimal:
    """The rate a new line takes: the category's rate when the seller is subject to VAT, else 0 %."""
    if seller_regime(event, organisation) == VatRegime.SUBJECT:
        return Decimal(lot.category.default_vat_rate).quantize(RATE_QUANTUM)
    return ZERO_RATE


def vat_mentions() -> dict[str, str]:
    """The legal mentions of 0 % lines, per regime, from the settings (defaults filled in)."""
    stored = get_setting("legal.vat_mentions", DEFAULT_VAT_MENTIONS) or {}
    return {**DEFAULT_VAT_MENTIONS, **stored}


def mention_for_regime(regime: VatRegime, mentions: dict[str, str] | None = None) -> str | None:
    if regime not in (VatRegime.FRANCHISE, VatRegime.EXEMPT):
        return None
    return (mentions if mentions is not None else vat_mentions()).get(regime.value)


def vat_mention(event: Event, organisation: Organisation) -> str | None:
    """The legal mention printed beside a 0 % line sold on ``event`` for ``organisation``'s work
    (``None`` when its seller is subject to VAT)."""
    return mention_for_regime(seller_regime(event, organisation))


def allowed_vat_rates(event: Event, lot: Lot, organisation: Organisation) -> list[Decimal]:
    """Rates a line may carry: only 0 % for a seller without VAT; the legal rates (and the category's
    own rate) for a seller subject to it."""
    if seller_regime(event, organisation) != VatRegime.SUBJECT:
        return [ZERO_RATE]
    category_rate = Decimal(lot.category.default_vat_rate).quantize(RATE_QUANTUM)
    return sorted({*LEGAL_VAT_RATES, category_rate})


def check_vat_rate(event: Event, lot: Lot, organisation: Organisation, rate: Decimal) -> Decimal:
    """Return ``rate`` at the stored scale, or raise :class:`InvalidValue` (field ``vat_rate``)."""
    if not rate.is_finite() or rate.as_tuple().exponent < -4:
        raise InvalidValue(_("Taux de TVA inconnu."), "vat_rate")
    rate = rate.quantize(RATE_QUANTUM)
    allowed = allowed_vat_rates(event, lot, organisation)
    if rate in allowed:
        return rate
    regime = seller_regime(event, organisation)
    if regime != VatRegime.SUBJECT:
        raise InvalidValue(
            _(
                "%(seller)s n'est pas assujetti à la TVA (%(regime)s) : ses lignes sont à 0 %%.",
                seller=seller_name(event, organisation),
                regime=label(regime),
            ),
            "vat_rate",
        )
    raise InvalidValue(
        _(
            "Taux de TVA non prévu par la loi : choisissez parmi %(rates)s.",
            rates=", ".join(format_rate(r) for r in allowed),
        ),
        "vat_rate",
    )


# --- locking -------------------------------------------------------------------------------------


def lines_locked(event: Event) -> bool:
    """True once a quote of the event was sent (or accepted): its lines no longer change."""
    return bool(
        db.session.scalar(
            sa.select(sa.exists().where(Quote.event_id == event.id, Quote.status.in_(LOCKING_QUOTE_STATUSES)))
        )
    )


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


# --- permissions ---------------------------------------------------------------------------------


def is_coordination(user: User | None) -> bool:
    return user is not None and user.is_authenticated and user.role in (Role.ADMIN, Role.COORDINATOR)


def accepted_assignment(lot: Lot, organisation_id: int | None) -> Assignment | None:
    """The organisation's accepted assignment on ``lot``, if any (from the loaded lot)."""
    if organisation_id is None:
        return None
    return next(
        (
            a
            for a in lot.assignments
            if a.organisation_id == organisation_id and a.status == AssignmentStatus.ACCEPTED
        ),
        None,
    )


def actor_may_edit_lines(user: User | None, lot: Lot) -> bool:
    """An actor writes lines only on a lot its organisation accepted."""
    return (
        user is not None
        and user.is_authenticated
        and user.role == Role.ACTOR
        and accepted_assignment(lot, user.organisation_id) is not None
    )


def can_edit_line(user: User | None, line: Line) -> bool:
    """Coordination edits any line; an actor only its own organisation's, on a lot it accepted."""
    if is_coordination(user):
        return True
    return (
        user is not None
        and user.is_authenticated
        and user.role == Role.ACTOR
        and user.organisation_id == line.organisation_id
        and actor_may_edit_lines(user, line.lot)
    )


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
    if fields.unit not in UNITS:
        raise InvalidValue(_("Choisissez une unité de la liste."), "unit")
    return LineFields(
        description=description,
        quantity=_no_negative_zero(quantity.quantize(QUANTITY_QUANTUM)),
        unit=fields.unit,
        unit_price=_no_negative_zero(price.quantize(PRICE_QUANTUM)),
        organisation_id=fields.organisation_id,
        vat_rate=fields.vat_rate,
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
    if user is None or not user.is_authenticated or user.role != Role.ACTOR:
        raise Forbidden(_("Seuls la coordination et les acteurs du lot modifient ses lignes."))
    if fields.organisation_id not in (None, user.organisation_id):
        raise Forbidden(_("Vous ne pouvez écrire que les lignes de votre organisation."))
    if current is not None and current.organisation_id != user.organisation_id:
        raise Forbidden(_("Cette ligne est celle d'un autre acteur."))
    assignment = accepted_assignment(lot, user.organisation_id)
    if assignment is None:
        raise Forbidden(_("Vous n'avez pas accepté ce lot : vous ne pouvez pas y écrire de lignes."))
    if fields.vat_rate is not None:
        raise Forbidden(_("Le taux de TVA est calculé par Maillage : il ne se saisit pas."))
    return assignment.organisation


def _rate(
    lot: Lot, organisation: Organisation, fields: LineFields, user: User, current: Line | None
) -> Decimal:
    event = lot.event
    if fields.vat_rate is not None:
        return check_vat_rate(event, lot, organisation, fields.vat_rate)
    if (
        current is not None
        and not is_coordination(user)
        and current.organisation_id == organisation.id
        and current.vat_rate in allowed_vat_rates(event, lot, organisation)
    ):
        # An actor's edit keeps the rate the coordination may have chosen for its line.
        return current.vat_rate
    return default_vat_rate(event, lot, organisation)


def _audit_values(line: Line) -> dict:
    return {
        "description": line.description,
        "quantity": line.quantity,
        "unit": line.unit,
        "unit_price": line.unit_price,
        "vat_rate": line.vat_rate,
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
    rate = _rate(lot, organisation, fields, user, None)
    line = Line(
        lot=lot,
        organisation=organisation,
        description=fields.description,
        quantity=fields.quantity,
        unit=fields.unit,
        unit_price=fields.unit_price,
        vat_rate=rate,
        position=max((other.position for other in lot.lines), default=-1) + 1,
    )
    db.session.add(line)
    db.session.flush()
    changes = {name: (None, value) for name, value in _audit_values(line).items()}
    record(
        "line.created",
        line,
        user=user,
        summary=_(
            "Ligne « %(line)s » ajoutée au lot « %(lot)s » (%(actor)s) : %(q)s × %(p)s HT",
            line=line.description,
            lot=lot.title,
            actor=organisation.name,
            q=format_quantity(line.quantity),
            p=format_money(line.unit_price),
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
    rate = _rate(lot, organisation, fields, user, line)
    before_org = line.organisation
    new_values = {
        "description": fields.description,
        "quantity": fields.quantity,
        "unit": fields.unit,
        "unit_price": fields.unit_price,
        "vat_rate": rate,
        "organisation_id": organisation.id,
    }
    changes = {
        name: (getattr(line, name), new_values[name])
        for name in AUDITED_FIELDS
        if getattr(line, name) != new_values[name]
    }
    if not changes:
        return {}
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
        summary=_("Ligne « %(line)s » du lot « %(lot)s » modifiée", line=line.description, lot=lot.title),
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
        summary=_(
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
