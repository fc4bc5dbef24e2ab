"""Lots: the lot's page (its actors, their suggestions and its lines), create and edit from a
category, reorder (on the event page), cancel and reopen."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import coordination_required, staff_required
from app.auth.services import safe_next_path
from app.extensions import db
from app.formatting import datetime_short, time_short
from app.locking import check_version
from app.models import Category
from app.web import service_call
from offers.forms.lots import LotActionForm, LotForm, LotMoveForm
from offers.models import Event, Lot
from offers.permissions import can_edit_event, can_view_event
from offers.pricing import lines_pricing, lot_net
from offers.services.events import read_lot_page
from offers.services.lots import cancel_lot, create_lot, move_lot, reopen_lot, update_lot
from offers.views import bp, pricing_context
from offers.views.events import conflict_context, render_detail


def _categories(current_id: int | None = None) -> list[Category]:
    condition = Category.active.is_(True)
    if current_id is not None:
        condition = sa.or_(condition, Category.id == current_id)
    return list(
        db.session.scalars(sa.select(Category).where(condition).order_by(Category.position, Category.name))
    )


def _editable_lot(lot_id: int) -> Lot:
    lot = db.get_or_404(Lot, lot_id)
    if not can_edit_event(current_user, lot.event):
        abort(403)
    return lot


def back_to_lot(lot: Lot):
    """After an action on a lot: its page."""
    return redirect(url_for("offers.lot_detail", lot_id=lot.id))


def _back_to_event(lot: Lot):
    return redirect(url_for("offers.event_detail", event_id=lot.event_id, _anchor=f"lot-{lot.id}"))


# --- the lot's page ------------------------------------------------------------------------------


@bp.app_template_global("lot_details")
def lot_details(lot: Lot) -> list[str]:
    """Where, when, how much and the answer's deadline of a lot, as the pages print them."""
    details = []
    if lot.place:
        details.append(lot.place)
    if lot.starts_at and lot.ends_at:
        details.append(f"{datetime_short(lot.starts_at)} – {time_short(lot.ends_at)}")
    elif lot.starts_at:
        details.append(_("à partir du %(d)s", d=datetime_short(lot.starts_at)))
    elif lot.ends_at:
        details.append(_("jusqu'au %(d)s", d=datetime_short(lot.ends_at)))
    if lot.quantities:
        details.append(lot.quantities)
    if lot.response_deadline:
        details.append(_("réponse avant le %(d)s", d=datetime_short(lot.response_deadline)))
    return details


def render_lot(lot_id: int, status: int = 200, error: str | None = None):
    """The lot's page; also re-rendered with ``error`` when a button's action was refused."""
    read = read_lot_page(lot_id)
    if read is None:
        abort(404)
    lot, event = read.lot, read.lot.event
    if not can_view_event(current_user, event):
        abort(403)
    from offers.views.assignments import remember_accounts, remember_weights  # both import this module
    from offers.views.lines import remember_lines_locked

    # What the lot's statements read besides the lot: the partials ask them, and need no query.
    remember_lines_locked(event, read.lines_locked)
    remember_accounts(lot, read.with_accounts)
    remember_weights(read.stored_weights)
    return (
        render_template(
            "offers/lot_detail.html",
            lot=lot,
            event=event,
            priced=lines_pricing(event, pricing_context(), lots=[lot]),
            net=lot_net(lot),
            place=read.place,
            can_edit=can_edit_event(current_user, event),
            frozen=event.is_frozen,
            action_form=LotActionForm(),
            error=error,
        ),
        status,
    )


@bp.route("/lots/<int:lot_id>")
@staff_required
def lot_detail(lot_id: int):
    return render_lot(lot_id)


@bp.route("/evenements/<int:event_id>/lots/nouveau", methods=["GET", "POST"])
@coordination_required
def lot_new(event_id: int):
    event = db.get_or_404(Event, event_id)
    if not can_edit_event(current_user, event):
        abort(403)
    form = LotForm(categories=_categories())
    status, error = 200, None
    if request.method == "GET":
        form.response_deadline.data = event.response_deadline
    elif form.validate_on_submit():
        with service_call(form) as outcome:
            lot = create_lot(event, form.to_fields(), current_user)
        if outcome.ok:
            flash(_("Lot « %(title)s » ajouté : proposez-lui des acteurs.", title=lot.title), "success")
            return back_to_lot(lot)
        error, status = outcome.error, outcome.status
    else:
        status = 400
    return render_template("offers/lot_form.html", form=form, event=event, lot=None, error=error), status


@bp.route("/lots/<int:lot_id>/modifier", methods=["GET", "POST"])
@coordination_required
def lot_edit(lot_id: int):
    lot = _editable_lot(lot_id)
    event = lot.event
    categories = _categories(lot.category_id)
    form = LotForm(categories=categories)
    status, error, extra = 200, None, {}
    if request.method == "GET":
        form.fill(lot)
    elif form.validate_on_submit():
        raced = _("Quelqu'un a enregistré ce lot au même instant : vérifiez et recommencez.")
        with service_call(form, stale=raced) as outcome:
            check_version(lot, form.version_id.data)
            changes = update_lot(lot, form.to_fields(), current_user)
        if outcome.ok:
            flash(_("Lot enregistré.") if changes else _("Aucune modification."), "success")
            return back_to_lot(lot)
        error, status = outcome.error, outcome.status
        if outcome.conflict:
            extra = conflict_context(form, LotForm(formdata=None, categories=categories).fill(lot), lot)
    else:
        status = 400
    return render_template(
        "offers/lot_form.html", form=form, event=event, lot=lot, error=error, **extra
    ), status


@bp.route("/lots/<int:lot_id>/deplacer", methods=["POST"])
@coordination_required
def lot_move(lot_id: int):
    lot = _editable_lot(lot_id)
    form = LotMoveForm()
    if not form.validate_on_submit():
        return render_detail(lot.event_id, 400, _("Sens de déplacement inconnu."))
    with service_call() as outcome:
        moved = move_lot(lot, form.direction.data, current_user)
    if not outcome.ok:
        return render_detail(lot.event_id, outcome.status, outcome.error)
    if not moved:
        flash(_("Le lot est déjà à cette extrémité de la liste."), "info")
    return _back_to_event(lot)


@bp.route("/lots/<int:lot_id>/annuler", methods=["POST"])
@coordination_required
def lot_cancel(lot_id: int):
    return _set_status(lot_id, cancel_lot, _("Lot « %(title)s » annulé : il ne compte plus dans les totaux."))


@bp.route("/lots/<int:lot_id>/rouvrir", methods=["POST"])
@coordination_required
def lot_reopen(lot_id: int):
    return _set_status(lot_id, reopen_lot, _("Lot « %(title)s » rouvert."))


def _set_status(lot_id: int, service, message: str):
    lot = _editable_lot(lot_id)
    form = LotActionForm()
    if not form.validate_on_submit():
        abort(400)
    # From the lot's page, back to it; from the event page, back there.
    from_lot = safe_next_path(request.form.get("next")) == url_for("offers.lot_detail", lot_id=lot.id)
    with service_call() as outcome:
        service(lot, current_user)
    if not outcome.ok:
        if from_lot:
            return render_lot(lot.id, outcome.status, outcome.error)
        return render_detail(lot.event_id, outcome.status, outcome.error)
    flash(message % {"title": lot.title}, "success")
    return back_to_lot(lot) if from_lot else _back_to_event(lot)
