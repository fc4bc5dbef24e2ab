"""Joint-consortium pages on an event's money page: issue the groupement's invoices, record a member's
own invoice, the cover summary for the client (PDF). Views load, check the rule, validate, call one
service, commit (routes on the invoicing blueprint)."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import permission_required
from app.dates import local_today
from app.extensions import db
from app.models import Organisation
from app.money import ZERO
from app.web import after_response, service_call
from invoicing.forms import ChorusChoicesForm, JointInvoicesForm, RecordActorInvoiceForm
from invoicing.permissions import (
    can_export_accounts,
    can_issue_invoice,
    can_set_invoicing_choices,
    can_view_invoices,
)
from invoicing.services import chorus, mandates
from invoicing.services import joint as service
from invoicing.services.invoices import store_issued_pdfs
from invoicing.views import _accepted_quote, _money_page, bp
from offers.models import Event


def _joint_quote(event: Event):
    quote = _accepted_quote(event)
    if quote is None or not service.is_joint(quote):
        abort(404)
    return quote


@bp.route("/evenements/<int:event_id>/facturation/groupement", methods=["POST"])
@permission_required(can_issue_invoice)
def event_joint_issue(event_id: int):
    event = db.get_or_404(Event, event_id)
    quote = _joint_quote(event)
    form = JointInvoicesForm()
    if not form.validate_on_submit():
        return _money_page(event, 400, joint_form=form)
    with service_call(form) as outcome:
        result = service.issue_joint(quote, current_user, operation_category=form.operation_category.data)
    if not outcome.ok:
        return _money_page(event, outcome.status, joint_form=form, error=outcome.error)
    if result.issued:
        flash(
            _("Factures émises : %(numbers)s.", numbers=", ".join(i.number for i in result.issued)),
            "success",
        )
    if result.awaiting:
        flash(
            _(
                "Sans mandat valable, rien n'est émis au nom de : %(names)s. Demandez-leur leur facture, "
                "puis enregistrez-la ci-dessous.",
                names=", ".join(result.awaiting),
            ),
            "warning",
        )
    # Committed: the PDFs (one per member, fee and commission: many) are rendered once the page is
    # sent (on PostgreSQL by a detached child), holding no lock; a download before then renders its own.
    response = redirect(url_for("invoicing.event_money", event_id=event.id))
    return after_response(response, store_issued_pdfs, result.issued)


@bp.route("/evenements/<int:event_id>/facturation/groupement/facture-membre", methods=["POST"])
@permission_required(can_issue_invoice)
def event_joint_record(event_id: int):
    event = db.get_or_404(Event, event_id)
    quote = _joint_quote(event)
    form = RecordActorInvoiceForm()
    if not form.validate_on_submit():
        return _money_page(event, 400, record_form=form)
    try:
        organisation_id = int(form.organisation_id.data or "")
    except ValueError:
        organisation_id = None
    organisation = db.session.get(Organisation, organisation_id) if organisation_id else None
    if organisation is None:
        form.organisation_id.errors = [_("Choisissez le membre.")]
        return _money_page(event, 400, record_form=form)
    upload = form.pdf.data
    data = None
    if upload and getattr(upload, "filename", None):
        try:
            data = upload.read(mandates.MAX_DOCUMENT_BYTES + 1)
        finally:
            upload.close()
    with service_call(form) as outcome:
        invoice = service.record_actor_invoice(
            quote,
            organisation,
            current_user,
            number=form.number.data,
            issue_date=form.issue_date.data,
            total_net=form.total_net.data,
            total_vat=form.total_vat.data if form.total_vat.data is not None else ZERO,
            total_gross=form.total_gross.data,
            pdf=data,
        )
    if outcome.ok:
        flash(
            _("Facture %(number)s de %(name)s enregistrée.", number=invoice.number, name=organisation.name),
            "success",
        )
        return redirect(url_for("invoicing.event_money", event_id=event.id))
    return _money_page(event, outcome.status, record_form=form, error=outcome.error)


@bp.route("/evenements/<int:event_id>/facturation/recapitulatif.pdf")
@permission_required(can_view_invoices)
def event_joint_cover(event_id: int):
    from invoicing.documents import render_cover

    event = db.get_or_404(Event, event_id)
    quote = _joint_quote(event)
    summary = service.cover_summary(quote, local_today())
    return (
        render_cover(event, summary),
        200,
        {
            "Content-Type": "application/pdf",
            "Content-Disposition": f'inline; filename="recapitulatif-{quote.number}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/evenements/<int:event_id>/facturation/chorus", methods=["POST"])
@permission_required(can_set_invoicing_choices)
def event_chorus_choices(event_id: int):
    event = db.get_or_404(Event, event_id)
    form = ChorusChoicesForm()
    if not form.validate_on_submit():
        return _money_page(event, 400, chorus_form=form)
    with service_call(form) as outcome:
        chorus.set_choices(
            event, current_user, circuit=form.chorus_circuit.data, einvoice_format=form.einvoice_format.data
        )
    if outcome.ok:
        flash(_("Choix Chorus Pro enregistrés."), "success")
        return redirect(url_for("invoicing.event_money", event_id=event.id))
    return _money_page(event, outcome.status, chorus_form=form, error=outcome.error)


@bp.route("/evenements/<int:event_id>/facturation/fiche-marche.<any(pdf, csv):kind>")
@permission_required(can_view_invoices)
def event_identity_sheet(event_id: int, kind: str):
    from invoicing.documents import render_identity_sheet

    event = db.get_or_404(Event, event_id)
    quote = _joint_quote(event)
    sheet = chorus.identity_sheet(quote, local_today())
    name = f"fiche-identite-marche-{quote.number}"
    if kind == "csv":
        return (
            chorus.identity_sheet_csv(sheet),
            200,
            {
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{name}.csv"',
                "Cache-Control": "no-store",
            },
        )
    return (
        render_identity_sheet(sheet),
        200,
        {
            "Content-Type": "application/pdf",
            "Content-Disposition": f'inline; filename="{name}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/evenements/<int:event_id>/facturation/export.zip")
@permission_required(can_export_accounts)
def event_invoices_zip(event_id: int):
    event = db.get_or_404(Event, event_id)
    quote = _accepted_quote(event)
    if quote is None:
        abort(404)
    return (
        chorus.export_zip(quote, local_today()),
        200,
        {
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="factures-{quote.number}.zip"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/evenements/<int:event_id>/autofactures/<int:organisation_id>", methods=["POST"])
@permission_required(can_issue_invoice)
def event_self_billing(event_id: int, organisation_id: int):
    from invoicing.services import self_billing

    event = db.get_or_404(Event, event_id)
    organisation = db.get_or_404(Organisation, organisation_id)
    quote = _accepted_quote(event)
    form = JointInvoicesForm()
    if quote is None or not form.validate_on_submit():
        return _money_page(event, 400, error=_("Aucun devis accepté : rien à autofacturer."))
    with service_call(form) as outcome:
        invoice = self_billing.issue_self_billed(quote, organisation, current_user)
    if outcome.ok:
        store_issued_pdfs([invoice])  # committed: rendered now (or by a detached child), no lock held
        flash(
            _(
                "Autofacture %(number)s émise au nom de %(name)s.",
                number=invoice.number,
                name=organisation.name,
            ),
            "success",
        )
        return redirect(url_for("invoicing.event_money", event_id=event.id))
    return _money_page(event, outcome.status, error=outcome.message)
