"""Lots: the parts of an event, made from categories; create, edit, reorder, cancel and reopen.

Explicit arguments, ``flush()`` never commit, French :class:`app.errors.DomainError` messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _

from app.audit import N_, Message, record
from app.errors import InvalidValue
from app.extensions import db
from app.models import Category
from offers.models import LOT_STATES, Event, Lot, LotStatus
from offers.services.events import (
    check_lot_schedule,
    require_editor,
    require_not_frozen,
)

#: Fields whose before/after the audit log keeps on edits.
AUDITED_FIELDS = (
    "title",
    "category_id",
    "specification",
    "place",
    "starts_at",
    "ends_at",
    "quantities",
    "response_deadline",
)


@dataclass
class LotFields:
    """The values of a lot form, already parsed (aware UTC datetimes)."""

    title: str
    category_id: int
    specification: str = ""
    place: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    quantities: str = ""
    response_deadline: datetime | None = None


def _category(category_id: int, current: int | None = None) -> Category:
    category = db.session.get(Category, category_id)
    if category is None or (not category.active and category.id != current):
        raise InvalidValue(_("Choisissez une catégorie active."), "category_id")
    return category


def _check(event: Event, fields: LotFields) -> None:
    if not fields.title or not fields.title.strip():
        raise InvalidValue(_("Donnez un titre au lot."), "title")
    check_lot_schedule(
        event.starts_at, event.ends_at, fields.starts_at, fields.ends_at, fields.response_deadline
    )


def create_lot(event: Event, fields: LotFields, user) -> Lot:
    """Add a lot at the end of the event's list.

    Raises :class:`Forbidden`, :class:`EventFrozen` (closed or cancelled event) and
    :class:`InvalidValue` (category, times outside the event, deadline after its start).
    """
    require_editor(user, event)
    require_not_frozen(event)
    _check(event, fields)
    category = _category(fields.category_id)
    position = max((lot.position for lot in event.lots), default=-1) + 1
    lot = Lot(
        event=event,
        category=category,
        title=fields.title.strip(),
        specification=fields.specification,
        place=fields.place,
        starts_at=fields.starts_at,
        ends_at=fields.ends_at,
        quantities=fields.quantities,
        response_deadline=fields.response_deadline,
        position=position,
        status=LotStatus.OPEN,
    )
    db.session.add(lot)
    db.session.flush()
    record(
        "lot.created",
        lot,
        user=user,
        summary=N_("Lot « %(title)s » ajouté (%(category)s)", title=lot.title, category=category.name),
        event_id=event.id,
    )
    return lot


def update_lot(lot: Lot, fields: LotFields, user) -> dict:
    """Apply an edit form; returns the ``{field: (before, after)}`` that changed.

    The caller checked the form's version. Raises :class:`Forbidden`, :class:`EventFrozen` and
    :class:`InvalidValue`.
    """
    event = lot.event
    require_editor(user, event)
    require_not_frozen(event)
    _check(event, fields)
    category = _category(fields.category_id, current=lot.category_id)
    new_values = {
        "title": fields.title.strip(),
        "category_id": category.id,
        "specification": fields.specification,
        "place": fields.place,
        "starts_at": fields.starts_at,
        "ends_at": fields.ends_at,
        "quantities": fields.quantities,
        "response_deadline": fields.response_deadline,
    }
    changes = {
        name: (getattr(lot, name), new_values[name])
        for name in AUDITED_FIELDS
        if getattr(lot, name) != new_values[name]
    }
    if not changes:
        return {}
    audited = dict(changes)
    if "category_id" in changes:
        audited.pop("category_id")
        audited["category"] = (lot.category.name, category.name)
    for name, (_before, after) in changes.items():
        setattr(lot, name, after)
    if "category_id" in changes:
        lot.category = category
    db.session.flush()
    record(
        "lot.updated",
        lot,
        user=user,
        summary=N_("Lot « %(title)s » modifié", title=lot.title),
        changes=audited,
        event_id=event.id,
    )
    return changes


def move_lot(lot: Lot, direction: str, user) -> bool:
    """Swap the lot with its neighbour above (``up``) or below (``down``); positions become 0..n-1.

    Returns False when the lot is already first (or last). Raises :class:`Forbidden`,
    :class:`EventFrozen` and :class:`InvalidValue` (unknown direction).
    """
    event = lot.event
    require_editor(user, event)
    require_not_frozen(event)
    if direction not in ("up", "down"):
        raise InvalidValue(_("Sens de déplacement inconnu."))
    ordered = sorted(event.lots, key=lambda item: (item.position, item.id))
    index = ordered.index(lot)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ordered):
        return False
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, item in enumerate(ordered):
        if item.position != position:
            item.position = position
    db.session.flush()
    # The relationship is ordered by position when loaded; keep the loaded list in step.
    event.lots.sort(key=lambda item: item.position)
    return True


def _set_status(lot: Lot, target: LotStatus, user, summary: Message) -> Lot:
    event = lot.event
    require_editor(user, event)
    require_not_frozen(event)
    return LOT_STATES.move(lot, target, user=user, summary=summary)


def cancel_lot(lot: Lot, user) -> Lot:
    """Cancel a lot: it stays on the page, struck out, and leaves the totals.

    Raises :class:`Forbidden`, :class:`EventFrozen` and :class:`InvalidTransition` (already cancelled).
    """
    return _set_status(lot, LotStatus.CANCELLED, user, N_("Lot « %(title)s » annulé", title=lot.title))


def reopen_lot(lot: Lot, user) -> Lot:
    """Reopen a cancelled lot; its times must still lie within the event.

    Raises :class:`Forbidden`, :class:`EventFrozen`, :class:`InvalidTransition` (not cancelled) and
    :class:`InvalidValue` (the event's dates moved meanwhile).
    """
    event = lot.event
    require_editor(user, event)
    require_not_frozen(event)
    check_lot_schedule(
        event.starts_at, event.ends_at, lot.starts_at, lot.ends_at, lot.response_deadline, lot.title
    )
    return _set_status(lot, LotStatus.OPEN, user, N_("Lot « %(title)s » rouvert", title=lot.title))
