"""The briefing sheet (feuille de route): the actor's page and PDF in its portal, and the PDF of any
actor's sheet for staff from the event's page.

An actor reaches only its own organisation's sheet (the URL names no organisation); an event where
it accepted no lot answers 404, like an unknown one (as its statements do).
"""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user

from app.auth import actor_required, staff_required
from app.extensions import db
from app.models import Organisation
from offers.models import Event
from offers.permissions import can_view_briefing
from offers.services.briefing import Briefing, briefing, briefing_filename, render_briefing_pdf
from offers.views import bp


def _sheet(event_id: int, organisation_id: int) -> Briefing:
    event = db.get_or_404(Event, event_id)
    if not can_view_briefing(current_user, organisation_id):
        abort(403)
    sheet = briefing(event, db.get_or_404(Organisation, organisation_id))
    if sheet is None:
        abort(404)
    return sheet


def _pdf(sheet: Briefing):
    return (
        render_briefing_pdf(sheet),
        200,
        {
            "Content-Type": "application/pdf",
            "Content-Disposition": f'inline; filename="{briefing_filename(sheet)}"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/portail/evenements/<int:event_id>/feuille-de-route")
@actor_required
def portal_briefing(event_id: int):
    sheet = _sheet(event_id, current_user.organisation_id)
    return render_template("offers/portal_briefing.html", sheet=sheet)


@bp.route("/portail/evenements/<int:event_id>/feuille-de-route.pdf")
@actor_required
def portal_briefing_pdf(event_id: int):
    return _pdf(_sheet(event_id, current_user.organisation_id))


@bp.route("/evenements/<int:event_id>/feuilles-de-route/<int:organisation_id>")
@staff_required
def event_briefing_pdf(event_id: int, organisation_id: int):
    return _pdf(_sheet(event_id, organisation_id))
