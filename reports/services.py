"""Sharing an event's impact report at an unguessable link, and revoking it (coordination only)."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask_babel import gettext as _

from app.audit import N_, record
from app.errors import Forbidden
from app.extensions import db
from offers.models import Event
from offers.permissions import can_edit_event
from reports.models import ReportShare

#: What a token looks like (``secrets.token_urlsafe(32)``); anything else is not looked up.
TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
TOKEN_LENGTH = 43


def _require_coordination(user, event: Event) -> None:
    if not can_edit_event(user, event):
        raise Forbidden(_("Seule la coordination publie ou retire le bilan d'un événement."))


def share_of(event: Event) -> ReportShare | None:
    return db.session.get(ReportShare, event.id)


def share(event: Event, user, *, show_amounts: bool) -> ReportShare:
    """Publish the report at a new unguessable link (a previous link stops working)."""
    _require_coordination(user, event)
    existing = share_of(event)
    if existing is not None:
        db.session.delete(existing)
        db.session.flush()
    shared = ReportShare(
        event_id=event.id,
        token=secrets.token_urlsafe(32),
        show_amounts=show_amounts,
        created_by_id=user.id,
    )
    db.session.add(shared)
    db.session.flush()
    record(
        "report.shared",
        event,
        user=user,
        event_id=event.id,
        summary=(
            N_("Bilan publié par un lien, avec les montants par acteur")
            if show_amounts
            else N_("Bilan publié par un lien, sans les montants par acteur")
        ),
    )
    return shared


def revoke(event: Event, user) -> None:
    """The link stops working at once."""
    _require_coordination(user, event)
    existing = share_of(event)
    if existing is None:
        return
    db.session.delete(existing)
    db.session.flush()
    record("report.revoked", event, user=user, event_id=event.id, summary=N_("Lien du bilan retiré"))


def shared_event(token: str) -> tuple[Event, ReportShare] | None:
    """The event shared under ``token``, or ``None`` (malformed tokens are not looked up)."""
    if len(token) != TOKEN_LENGTH or not set(token) <= TOKEN_ALPHABET:
        return None
    found = db.session.execute(
        sa.select(Event, ReportShare)
        .join(ReportShare, ReportShare.event_id == Event.id)
        .where(ReportShare.token == token)
    ).first()
    return (found[0], found[1]) if found else None
