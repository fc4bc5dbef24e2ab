"""Lines, from the coordination's side: add, edit (optimistic locking) and delete on the event page.

Also the template helpers of the lines partial (``templates/offers/_lot_lines.html``): each line's
net and whether the event's lines are locked, computed once per request so the event page keeps its
constant number of queries (a line's VAT is ``line_pricing``, in ``offers/views/__init__.py``).
"""

from __future__ import annotations

from flask import abort, flash, g, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import coordination_required
from app.extensions import db
from app.formatting import rate as format_rate
from app.locking import check_version
from app.models import VatRegime
from app.money import line_net
from app.web import service_call
from offers import pricing
from offers.forms.lines import LineDeleteForm, LineForm
from offers.models import AssignmentStatus, BillingMode, Line, Lot
from offers.permissions import can_edit_event
from offers.services.lines import (
    create_line,
    delete_line,
    lines_locked,
    locked_message,
    sellable_organisations,
    update_line,
)
from offers.views import bp, pricing_context
from offers.views.events import conflict_context
from offers.views.lots import back_to_lot, render_lot

# --- helpers for the lines partial ---------------------------------------------------------------


def _request_cache() -> dict:
    if "_offers_lines" not in g:
        g._offers_lines = {"locked": {}}
    return g._offers_lines


@bp.app_template_global("line_net")
def _line_net(line: Line):
    """round(quantity × unit price, 2) (``app.money.line_net``)."""
    return line_net(line.quantity, line.unit_price)


@bp.app_template_global("lines_locked_for")
def lines_locked_for(event) -> bool:
    """``lines_locked(event)``, asked once per event and request (the partial is included per lot)."""
    cache = _request_cache()["locked"]
    if event.id not in cache:
        cache[event.id] = lines_locked(event)
    return cache[event.id]


def remember_lines_locked(event, locked: bool) -> None:
    """What :func:`lines_locked_for` answers for ``event`` in this request, read by the caller with
    its own rows (``offers.services.lines.locked_sql``)."""
    _request_cache()["locked"][event.id] = locked


# --- loading and form building -------------------------------------------------------------------


def _editable_lot(lot_id: int) -> Lot:
    lot = db.get_or_404(Lot, lot_id)
    if not can_edit_event(current_user, lot.event):
        abort(403)
    return lot


def _editable_line(line_id: int) -> Line:
    line = db.get_or_404(Line, line_id)
    if not can_edit_event(current_user, line.lot.event):
        abort(403)
    return line


def _defaults(lot: Lot, organisations) -> list[dict]:
    """Per actor: who sells its lines, the rate they take by default, the 0 % mention (beside the form)."""
    context = pricing_context()
    category_default = pricing.category_rate(lot)
    rows = []
    for organisation in organisations:
        seller = context.seller(lot.event, organisation)
        rows.append(
            {
                "organisation": organisation,
                "seller": seller,
                "rate": pricing.default_rate(seller, category_default),
                "mention": pricing.regime_mention(seller.regime, context.mentions),
            }
        )
    return rows


def _form(lot: Lot, line: Line | None = None, formdata=None, use_request=True) -> tuple[LineForm, list]:
    organisations = sellable_organisations(lot, line.organisation if line is not None else None)
    defaults = _defaults(lot, organisations)
    category_default = pricing.category_rate(lot)
    rates = pricing.allowed_rates(pricing.Seller("", "", VatRegime.SUBJECT), category_default)
    hint = None
    if lot.event.billing_mode == BillingMode.SINGLE_CONTRACTOR and defaults:
        hint = format_rate(defaults[0]["rate"])
    kwargs = {"organisations": organisations, "rates": rates, "default_hint": hint}
    if not use_request:
        kwargs["formdata"] = formdata
    return LineForm(**kwargs), defaults


def _render(lot: Lot, form: LineForm, defaults, line: Line | None, status: int, error=None, **extra):
    event = lot.event
    locked = lines_locked(event)
    coordinator = pricing_context().fee_seller()
    single = event.billing_mode == BillingMode.SINGLE_CONTRACTOR
    return (
        render_template(
            "offers/line_form.html",
            form=form,
            lot=lot,
            event=event,
            line=line,
            defaults=defaults,
            single_contractor=single,
            coordinator_without_vat=single and not coordinator.subject,
            locked=locked_message() if locked else None,
            error=error,
            **extra,
        ),
        409 if locked and status == 200 else status,
    )


# --- routes --------------------------------------------------------------------------------------


@bp.route("/lots/<int:lot_id>/lignes/nouvelle", methods=["GET", "POST"])
@coordination_required
def line_new(lot_id: int):
    lot = _editable_lot(lot_id)
    form, defaults = _form(lot)
    status, error = 200, None
    if request.method == "GET":
        accepted = [row for row in defaults if row["organisation"] in _accepted(lot)]
        if len(accepted) == 1:
            form.organisation_id.data = accepted[0]["organisation"].id
    elif form.validate_on_submit():
        with service_call(form) as outcome:
            line = create_line(lot, form.to_fields(), current_user)
        if outcome.ok:
            flash(_("Ligne « %(line)s » ajoutée.", line=line.description), "success")
            return back_to_lot(lot)
        error, status = outcome.error, outcome.status
    else:
        status = 400
    return _render(lot, form, defaults, None, status, error)


def _accepted(lot: Lot) -> list:
    return [a.organisation for a in lot.assignments if a.status == AssignmentStatus.ACCEPTED]


@bp.route("/lignes/<int:line_id>/modifier", methods=["GET", "POST"])
@coordination_required
def line_edit(line_id: int):
    line = _editable_line(line_id)
    lot = line.lot
    form, defaults = _form(lot, line)
    status, error, extra = 200, None, {}
    if request.method == "GET":
        form.fill(line)
    elif form.validate_on_submit():
        raced = _("Quelqu'un a enregistré cette ligne au même instant : vérifiez et recommencez.")
        with service_call(form, stale=raced) as outcome:
            check_version(line, form.version_id.data)
            changes = update_line(line, form.to_fields(), current_user)
        if outcome.ok:
            flash(_("Ligne enregistrée.") if changes else _("Aucune modification."), "success")
            return back_to_lot(lot)
        error, status = outcome.error, outcome.status
        if outcome.conflict:
            current, _rows = _form(lot, line, formdata=None, use_request=False)
            extra = conflict_context(form, current.fill(line), line)
    else:
        status = 400
    return _render(lot, form, defaults, line, status, error, **extra)


@bp.route("/lignes/<int:line_id>/supprimer", methods=["POST"])
@coordination_required
def line_delete(line_id: int):
    line = _editable_line(line_id)
    lot = line.lot
    form = LineDeleteForm()
    if not form.validate_on_submit():
        return render_lot(lot.id, 400, _("Formulaire incomplet : rechargez la page."))
    description = line.description
    changed = _(
        "Cette ligne a été modifiée entre-temps : vérifiez ses nouvelles valeurs avant de la supprimer."
    )
    with service_call(stale=changed) as outcome:
        check_version(line, form.version_id.data)
        delete_line(line, current_user)
    if outcome.conflict:
        return render_lot(lot.id, 409, changed)
    if not outcome.ok:
        return render_lot(lot.id, outcome.status, outcome.error)
    flash(_("Ligne « %(line)s » supprimée.", line=description), "success")
    return back_to_lot(lot)
