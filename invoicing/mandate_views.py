"""Billing mandates: recorded by the coordination on the actor's card (signed PDF uploaded), granted
by the actor in its portal, revoked by either, the signed PDF downloaded by staff and the actor.
Views load, check the rule, validate, call one service, commit (routes on the invoicing blueprint)."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import actor_required, permission_required
from app.dates import local_today
from app.extensions import db
from app.models import Organisation
from app.web import service_call
from invoicing.forms import MandatePortalForm, MandateRevokeForm, MandateUploadForm, SelfBillingAnswerForm
from invoicing.models import BillingMandate, Invoice
from invoicing.permissions import (
    can_manage_mandates,
    can_manage_own_mandate,
    can_read_in_portal,
    can_view_mandates,
    may_read_mandates,
    may_revoke_mandates,
)
from invoicing.services import mandates as service
from invoicing.services.invoices import invoice_pdf
from invoicing.views import bp


def _card(organisation_id: int):
    return redirect(url_for("directory.organisation_detail", organisation_id=organisation_id) + "#mandat")


def _back(mandate: BillingMandate):
    if can_manage_own_mandate(current_user, mandate.organisation_id):
        return redirect(url_for("invoicing.portal_invoicing"))
    return _card(mandate.organisation_id)


@bp.route("/acteurs/<int:organisation_id>/mandat", methods=["POST"])
@permission_required(can_manage_mandates)
def mandate_upload(organisation_id: int):
    organisation = db.get_or_404(Organisation, organisation_id)
    form = MandateUploadForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "danger")
        return _card(organisation.id), 303
    upload = form.document.data
    data = None
    if upload and getattr(upload, "filename", None):
        try:
            data = upload.read(service.MAX_DOCUMENT_BYTES + 1)
        finally:
            upload.close()
    with service_call(form) as outcome:
        service.record_signed(
            organisation,
            current_user,
            prefix=form.prefix.data,
            valid_from=form.valid_from.data,
            valid_until=form.valid_until.data,
            document=data,
            document_name=getattr(upload, "filename", "") or "",
        )
    if outcome.ok:
        flash(_("Mandat de facturation enregistré."), "success")
        return _card(organisation.id)
    flash(outcome.message, "danger")
    return _card(organisation.id), 303


@bp.route("/mandats/<int:mandate_id>/revoquer", methods=["POST"])
@permission_required(may_revoke_mandates)
def mandate_revoke(mandate_id: int):
    mandate = db.get_or_404(BillingMandate, mandate_id)
    if not (
        can_manage_mandates(current_user) or can_manage_own_mandate(current_user, mandate.organisation_id)
    ):
        abort(404)
    form = MandateRevokeForm()
    if not form.validate_on_submit():
        flash(_("Indiquez le motif de la révocation."), "danger")
        return _back(mandate), 303
    with service_call(form) as outcome:
        service.revoke(mandate, current_user, reason=form.reason.data, ip=g.get("client_ip"))
    if outcome.ok:
        flash(_("Mandat révoqué : plus rien ne sera émis au nom de la structure."), "success")
        return _back(mandate)
    flash(outcome.message, "danger")
    return _back(mandate), 303


@bp.route("/mandats/<int:mandate_id>/pdf")
@permission_required(may_read_mandates)
def mandate_pdf(mandate_id: int):
    mandate = db.get_or_404(BillingMandate, mandate_id)
    if not (can_view_mandates(current_user) or can_manage_own_mandate(current_user, mandate.organisation_id)):
        abort(404)
    if mandate.document is None:
        abort(404)
    return (
        mandate.document,
        200,
        {
            "Content-Type": "application/pdf",
            "Content-Disposition": f'attachment; filename="mandat-{mandate.organisation_id}-{mandate.id}.pdf"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- the actor's portal --------------------------------------------------------------------------


def _reviews(organisation_id: int) -> dict:
    """The actor's answers to its self-billed invoices, by invoice id."""
    import sqlalchemy as sa

    from invoicing.models import SelfBillingReview

    rows = db.session.scalars(
        sa.select(SelfBillingReview).where(SelfBillingReview.organisation_id == organisation_id)
    )
    return {r.invoice_id: r for r in rows}


def _portal_page(status: int = 200, grant_form=None, error=None):
    from invoicing.services import joint

    organisation = db.get_or_404(Organisation, current_user.organisation_id)
    mandates = service.mandates_of(organisation.id)
    live = next((m for m in mandates if not m.is_revoked), None)
    return (
        render_template(
            "invoicing/portal_invoicing.html",
            organisation=organisation,
            live=live,
            valid_today=live is not None and live.valid_on(local_today()),
            revoked=[m for m in mandates if m.is_revoked],
            grant_form=grant_form or MandatePortalForm(formdata=None, valid_from=local_today()),
            revoke_form=MandateRevokeForm(formdata=None),
            invoices=joint.actor_invoices(current_user, local_today()),
            reviews=_reviews(organisation.id),
            answer_form=SelfBillingAnswerForm(formdata=None),
            error=error,
        ),
        status,
    )


@bp.route("/portail/facturation")
@actor_required
def portal_invoicing():
    return _portal_page()


@bp.route("/portail/facturation/mandat", methods=["POST"])
@actor_required
def portal_mandate_grant():
    organisation = db.get_or_404(Organisation, current_user.organisation_id)
    form = MandatePortalForm()
    if not form.validate_on_submit():
        return _portal_page(400, grant_form=form)
    with service_call(form) as outcome:
        service.grant_in_portal(
            organisation,
            current_user,
            prefix=form.prefix.data,
            valid_from=form.valid_from.data,
            valid_until=form.valid_until.data,
            agreed=form.agreed.data,
            ip=g.get("client_ip"),
        )
    if outcome.ok:
        flash(
            _("Mandat de facturation donné : la coordination peut émettre vos factures dans votre série."),
            "success",
        )
        return redirect(url_for("invoicing.portal_invoicing"))
    return _portal_page(outcome.status, grant_form=form, error=outcome.error)


@bp.route("/portail/factures/<int:invoice_id>/pdf")
@actor_required
def portal_invoice_pdf(invoice_id: int):
    """A document the actor's portal reads (in its name, or addressed to it by the coordination): any
    other answers 404, like an unknown one."""
    invoice = db.get_or_404(Invoice, invoice_id)
    if not can_read_in_portal(current_user, invoice):
        abort(404)
    pdf = invoice_pdf(invoice)
    if pdf is None:  # an actor's own invoice recorded without its PDF
        abort(404)
    return (
        pdf,
        200,
        {
            "Content-Type": "application/pdf",
            "Content-Disposition": f'inline; filename="{invoice.number}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/portail/autofactures/<int:invoice_id>/reponse", methods=["POST"])
@actor_required
def portal_self_billing_answer(invoice_id: int):
    """Another actor's self-billed invoice is refused by the service (403, with its message)."""
    from invoicing.services import self_billing

    invoice = db.get_or_404(Invoice, invoice_id)
    form = SelfBillingAnswerForm()
    if not form.validate_on_submit():
        return _portal_page(400, error=_("Le motif a au plus 500 caractères."))
    with service_call(form) as outcome:
        self_billing.answer(
            invoice,
            current_user,
            accept=bool(form.accept.data),
            reason=form.reason.data or "",
            ip=g.get("client_ip"),
        )
    if outcome.ok:
        flash(
            _("Autofacture acceptée : son reversement devient payable.")
            if form.accept.data
            else _("Contestation enregistrée : la coordination en est informée, le reversement est bloqué."),
            "success",
        )
        return redirect(url_for("invoicing.portal_invoicing"))
    return _portal_page(outcome.status, error=outcome.error or outcome.message)
