"""Events: list with filters, the coordinator's dashboard page, create, edit, status moves, duplicate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import cache

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.auth import coordination_required, staff_required
from app.dates import LOCAL_TZ
from app.db import utcnow
from app.extensions import db
from app.formatting import datetime_short
from app.i18n import fill_markup, ngettext
from app.i18n import gettext as _
from app.labels import label, status_style
from app.locking import check_version
from app.models import Client
from app.pagination import PagedStatements, paged, statement_page
from app.parsing import bad_filter, page_number
from app.urls import url_pattern
from app.web import service_call
from offers.forms.events import DuplicateEventForm, EventFilterForm, EventForm, StatusForm, changed_fields
from offers.models import Event, EventStatus, Lot, Quote
from offers.permissions import can_edit_event, can_view_event
from offers.pricing import (
    event_breakdown,
    event_net,
    event_totals,
    lines_pricing,
    rate_issues,
)
from offers.services.assignments import invitable
from offers.services.briefing import briefed_organisations
from offers.services.events import (
    HISTORY_ON_DASHBOARD,
    WIDEN_EVENT,
    Check,
    change_status,
    create_event,
    dashboard_event,
    duplicate_event,
    event_checklist,
    event_history,
    history_query,
    list_figures,
    lots_outside_dates,
    update_event,
)
from offers.services.matching import needs_someone
from offers.views import bp, pricing_context

PER_PAGE = 20
#: History entries per page on the whole-history page.
HISTORY_PER_PAGE = 100


# --- helpers shared by the offers' form views ------------------------------------------------------


def conflict_context(form, current_form, obj) -> dict:
    """After a stale form: keep the user's input, list the stored values, take the current version."""
    rows = changed_fields(form, current_form)
    form.version_id.data = obj.version_id
    return {"conflict": rows}


def all_clients() -> list[sa.Row]:
    """Every client's id and name, for the forms' choices (the clients themselves are not needed)."""
    return list(db.session.execute(sa.select(Client.id, Client.name).order_by(Client.name, Client.id)))


def event_quotes(event: Event) -> list[Quote]:
    """The event's quote versions, newest first (for the quotes partial; one query, PDFs deferred)."""
    return list(event.quotes)


# --- list ----------------------------------------------------------------------------------------


@cache
def _event_list_statements(filters: frozenset[str]) -> PagedStatements:
    """The list's statements for the filters given (``status``, ``client_id``, ``since``: ends on or
    after, ``until``: starts before), newest event first, built once for each combination."""
    query = sa.select(Event).order_by(Event.starts_at.desc(), Event.id.desc())
    if "status" in filters:
        query = query.where(Event.status == sa.bindparam("status"))
    if "client_id" in filters:
        query = query.where(Event.client_id == sa.bindparam("client_id"))
    if "since" in filters:
        query = query.where(Event.ends_at >= sa.bindparam("since"))
    if "until" in filters:
        query = query.where(Event.starts_at < sa.bindparam("until"))
    return paged(query)


@bp.route("/evenements")
@staff_required
def event_list():
    clients = all_clients()
    filters = EventFilterForm(formdata=request.args, clients=clients)
    if not filters.validate():
        bad_filter()
    params = {}
    if (filters.status.data or "").strip():
        params["status"] = EventStatus(filters.status.data)
    if (filters.client.data or "").strip():
        params["client_id"] = int(filters.client.data)
    if filters.date_from.data and not filters.date_from.errors:
        params["since"] = datetime.combine(filters.date_from.data, time.min, LOCAL_TZ)
    if filters.date_to.data and not filters.date_to.errors:
        params["until"] = datetime.combine(filters.date_to.data + timedelta(days=1), time.min, LOCAL_TZ)
    page = statement_page(
        _event_list_statements(frozenset(params)), params, page_number(request.args), PER_PAGE
    )
    # Counted and added up in SQL: lots, assignments and lines are never loaded here.
    figures = list_figures(event.id for event in page.items)
    rows = [
        {
            "event": event,
            "net": event_net(event, figures[event.id].lots_net),
            "lots": figures[event.id].lots,
            "without_actor": figures[event.id].without_actor,
            "pending": figures[event.id].pending,
        }
        for event in page.items
    ]
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "offers/event_list.html",
        rows=rows,
        page=page,
        filters=filters,
        args=args,
        can_edit=can_edit_event(current_user),
    )


# --- the dashboard -------------------------------------------------------------------------------


def _dashboard_event_or_404(event_id: int) -> Event:
    event = dashboard_event(event_id)
    if event is None:
        abort(404)
    return event


@dataclass(frozen=True, slots=True)
class ActorBadge:
    """An actor on a lot's card: its name (a link to its card) and its answer."""

    status: str
    url: str
    name: str
    style: str
    label: str


@dataclass(frozen=True, slots=True)
class LotCard:
    """What the event page prints of a lot beyond its own columns, prepared for all the lots at once
    (:func:`lot_cards`): the template then writes each card from plain values instead of calling,
    for each lot, a dozen helpers through Jinja (the cards were a tenth of the page's time)."""

    lot: Lot
    #: Its rank among the lots not cancelled, from 1 (``None``: cancelled).
    number: int | None
    #: The lot's net excluding VAT (0 for a lot without lines).
    net: Decimal | int
    url: str
    move_url: str
    edit_url: str
    #: Cancel the lot, or reopen it when cancelled.
    cancel_url: str
    details: list[str]
    #: Open, on an event not frozen, and nobody accepted or invited.
    waits: bool
    actors: list[ActorBadge]
    #: How many lines are priced ("3 lignes chiffrées"), ``None`` when none is.
    lines: str | None
    #: The buttons' and lists' accessible names, which name the lot.
    up_label: str
    down_label: str
    actors_label: str
    open_label: str


def lot_cards(event: Event, lot_nets: dict) -> list[LotCard]:
    """The event's lots' cards, in the event's order (see :class:`LotCard`)."""
    from offers.views.lots import lot_details

    lot_url, move_url, edit_url = (
        url_pattern(endpoint, "lot_id")
        for endpoint in ("offers.lot_detail", "offers.lot_move", "offers.lot_edit")
    )
    cancel_url, reopen_url = (
        url_pattern("offers.lot_cancel", "lot_id"),
        url_pattern("offers.lot_reopen", "lot_id"),
    )
    organisation_url = url_pattern("directory.organisation_detail", "organisation_id")
    # Each sentence looked up once, filled for each lot as the template's _() would.
    up, down = _("Monter le lot « %(t)s »"), _("Descendre le lot « %(t)s »")
    actors, opening = (
        _("Acteurs du lot « %(lot)s »"),
        _("Ouvrir le lot « %(lot)s » : acteurs, suggestions et lignes"),
    )
    frozen = event.is_frozen
    cards, number = [], 0
    for lot in event.lots:
        cancelled = lot.is_cancelled
        if not cancelled:
            number += 1
        title = lot.title
        cards.append(
            LotCard(
                lot=lot,
                number=None if cancelled else number,
                net=lot_nets.get(lot.id, 0),
                url=lot_url(lot.id),
                move_url=move_url(lot.id),
                edit_url=edit_url(lot.id),
                cancel_url=(reopen_url if cancelled else cancel_url)(lot.id),
                details=lot_details(lot),
                waits=not cancelled and not frozen and needs_someone(lot),
                actors=[
                    ActorBadge(
                        a.status.value,
                        organisation_url(a.organisation_id),
                        a.organisation.name,
                        status_style(a.status),
                        label(a.status),
                    )
                    for a in lot.assignments
                ],
                lines=ngettext("%(num)d ligne chiffrée", "%(num)d lignes chiffrées", len(lot.lines))
                if lot.lines
                else None,
                up_label=fill_markup(up, t=title),
                down_label=fill_markup(down, t=title),
                actors_label=fill_markup(actors, lot=title),
                open_label=fill_markup(opening, lot=title),
            )
        )
    return cards


@dataclass(frozen=True, slots=True)
class MissingRow:
    """An item of the event page's "what is missing", as the page prints it."""

    message: str
    #: The lot's page, when the item is about a lot.
    url: str | None
    #: "invited on …", for an actor invited.
    invited: str | None
    #: "answer expected before …", and whether that moment is past.
    deadline: str | None
    late: bool


def missing_rows(checklist: list[Check], now: datetime) -> list[tuple[Check, list[MissingRow]]]:
    """Each check of ``checklist`` (:func:`offers.services.events.event_checklist`) with its items'
    rows, prepared for all of them at once as the lot cards are (:func:`lot_cards`)."""
    lot_url = url_pattern("offers.lot_detail", "lot_id")
    invited, expected = _("invité le %(d)s"), _("réponse attendue avant le %(d)s")
    rows = []
    for check in checklist:
        items = []
        for item in check.items:
            assignment, deadline = item.assignment, item.deadline
            items.append(
                MissingRow(
                    item.message,
                    lot_url(item.lot.id) if item.lot is not None else None,
                    fill_markup(invited, d=datetime_short(assignment.invited_at))
                    if assignment is not None and assignment.invited_at
                    else None,
                    fill_markup(expected, d=datetime_short(deadline)) if deadline else None,
                    deadline is not None and deadline < now,
                )
            )
        rows.append((check, items))
    return rows


def render_detail(event_id: int, status: int = 200, error: str | None = None):
    """The event page; also re-rendered with ``error`` when a button's action was refused."""
    event = _dashboard_event_or_404(event_id)
    if not can_view_event(current_user, event):
        abort(403)
    now = utcnow()
    can_edit = can_edit_event(current_user, event)
    context = pricing_context()
    # Each line's seller, rate and mention, computed once for the totals and for the lines' rows.
    priced = lines_pricing(event, context)
    totals = event_totals(event, context, priced)
    return (
        render_template(
            "offers/event_detail.html",
            event=event,
            priced=priced,
            totals=totals,
            lot_cards=lot_cards(event, totals.lot_nets),
            rate_issues=rate_issues(event, context, priced),
            breakdown=event_breakdown(event, context, priced),
            checklist=missing_rows(event_checklist(event, now), now),
            history=event_history(event),
            history_limit=HISTORY_ON_DASHBOARD,
            quotes=event_quotes(event),
            moves=event.allowed_moves if can_edit else [],
            to_invite=invitable(event.lots) if can_edit and not event.is_frozen else [],
            briefed=briefed_organisations(event),
            can_edit=can_edit,
            frozen=event.is_frozen,
            error=error,
            now=now,
        ),
        status,
    )


@bp.route("/evenements/<int:event_id>")
@staff_required
def event_detail(event_id: int):
    return render_detail(event_id)


@bp.route("/evenements/<int:event_id>/historique")
@staff_required
def event_history_page(event_id: int):
    """The event's whole history, newest first, a page at a time (the event page shows the latest)."""
    event = db.get_or_404(Event, event_id)
    if not can_view_event(current_user, event):
        abort(403)
    page = db.paginate(
        history_query(event), page=page_number(request.args), per_page=HISTORY_PER_PAGE, error_out=False
    )
    return render_template("offers/event_history.html", event=event, page=page)


# --- create, edit --------------------------------------------------------------------------------


@bp.route("/evenements/nouveau", methods=["GET", "POST"])
@coordination_required
def event_new():
    clients = all_clients()
    if not clients:
        flash(_("Créez d'abord le client pour qui l'événement est organisé."), "info")
        return redirect(url_for("offers.client_new"))
    form = EventForm(clients=clients)
    status, error = 200, None
    if request.method == "GET":
        preselected = request.args.get("client_id", type=int)
        if preselected:
            form.client_id.data = preselected
    elif form.validate_on_submit():
        with service_call(form) as outcome:
            event = create_event(form.to_fields(), current_user)
        if outcome.ok:
            flash(
                _("Événement « %(title)s » créé. Ajoutez maintenant ses lots.", title=event.title), "success"
            )
            return redirect(url_for("offers.event_detail", event_id=event.id))
        error, status = outcome.error, outcome.status
    else:
        status = 400
    return render_template("offers/event_form.html", form=form, event=None, error=error), status


@bp.route("/evenements/<int:event_id>/modifier", methods=["GET", "POST"])
@coordination_required
def event_edit(event_id: int):
    event = db.get_or_404(Event, event_id)
    if not can_edit_event(current_user, event):
        abort(403)
    clients = all_clients()
    form = EventForm(clients=clients)
    status, error, extra = 200, None, {}
    if request.method == "GET":
        form.fill(event)
    elif form.validate_on_submit():
        raced = _("Quelqu'un a enregistré cet événement au même instant : vérifiez et recommencez.")
        with service_call(form, stale=raced) as outcome:
            check_version(event, form.version_id.data)
            changes = update_event(event, form.to_fields(), current_user)
        if outcome.ok:
            flash(_("Événement enregistré.") if changes else _("Aucune modification."), "success")
            return redirect(url_for("offers.event_detail", event_id=event.id))
        error, status = outcome.error, outcome.status
        if outcome.conflict:
            extra = conflict_context(form, EventForm(formdata=None, clients=clients).fill(event), event)
    else:
        status = 400
    return render_template("offers/event_form.html", form=form, event=event, error=error, **extra), status


# --- status and duplication ----------------------------------------------------------------------


@bp.route("/evenements/<int:event_id>/statut", methods=["POST"])
@coordination_required
def event_status(event_id: int):
    event = db.get_or_404(Event, event_id)
    if not can_edit_event(current_user, event):
        abort(403)
    form = StatusForm()
    if not form.validate_on_submit():
        return render_detail(event_id, 400, _("Choisissez un statut."))
    with service_call() as outcome:
        change_status(event, form.target.data, current_user)
    if not outcome.ok:
        return render_detail(event_id, outcome.status, outcome.error)
    flash(_("Statut de l'événement : %(status)s.", status=label(event.status)), "success")
    return redirect(url_for("offers.event_detail", event_id=event.id))


@bp.route("/evenements/<int:event_id>/dupliquer", methods=["GET", "POST"])
@coordination_required
def event_duplicate(event_id: int):
    source = _dashboard_event_or_404(event_id)
    if not can_edit_event(current_user, source):
        abort(403)
    clients = all_clients()
    form = DuplicateEventForm(clients=clients)
    outside = lots_outside_dates(source, source.starts_at, source.ends_at)
    status, error = 200, None
    if request.method == "GET":
        form.title.data = _("Copie de %(title)s", title=source.title)[:250]
        form.client_id.data = source.client_id
        form.starts_at.data = source.starts_at
        form.ends_at.data = source.ends_at
        if outside:  # the copy must never be refused for what the original already had
            form.lots_outside.data = WIDEN_EVENT
    elif form.validate_on_submit():
        with service_call(form) as outcome:
            event = duplicate_event(
                source,
                title=form.title.data,
                starts_at=form.starts_at.data,
                ends_at=form.ends_at.data,
                client_id=form.client_id.data,
                user=current_user,
                lots_outside=form.lots_outside.data or None,
                keep_actors=form.keep_actors.data,
            )
        if outcome.ok:
            flash(
                _(
                    "Événement dupliqué : vérifiez les lots, puis invitez les acteurs (aucune invitation n'a été copiée)."
                ),
                "success",
            )
            return redirect(url_for("offers.event_detail", event_id=event.id))
        error, status = outcome.error, outcome.status
        source = _dashboard_event_or_404(event_id)
    else:
        status = 400
    return render_template(
        "offers/event_duplicate.html", form=form, source=source, error=error, outside=outside
    ), status
