"""Invoicing pages: the treasurer's invoices, an invoice with its payments and credit notes, an event's
money page (quoted, invoiced, credited, collected) where deposits and the final invoice are issued,
and the payments list. Views load, check the rule, validate, call one service, commit."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import defer, joinedload

from app import snapshots
from app.audit import register_fields
from app.auth import actor_required, permission_required
from app.dates import LOCAL_TZ
from app.extensions import db
from app.figures import cached
from app.i18n import lazy_gettext as _l
from app.labels import Words
from app.models import Client, Organisation
from app.parsing import bad_filter, page_number
from app.web import service_call
from invoicing import treasury
from invoicing.forms import (
    PAYMENT_METHODS,
    STATES,
    ChorusChoicesForm,
    CreditNoteForm,
    DepositForm,
    FinalInvoiceForm,
    InvoiceFilterForm,
    JointInvoicesForm,
    PaymentForm,
    PayoutPaidForm,
    RecordActorInvoiceForm,
)
from invoicing.models import Invoice, InvoiceKind, InvoiceOrigin, InvoiceStatus, Payment, Payout, PayoutStatus
from invoicing.permissions import (
    can_export_accounts,
    can_issue_invoice,
    can_pay_out,
    can_record_payment,
    can_set_invoicing_choices,
    can_view_invoices,
    can_view_payouts,
)
from invoicing.services import invoices as service
from invoicing.services import joint as joint_service
from invoicing.services import payouts as payout_service
from invoicing.services.payments import record_payment
from offers.models import Event, Quote, QuoteStatus

bp = Blueprint("invoicing", __name__)

# The history names the money fields invoicing records (``app.audit``).
register_fields(
    {
        "credited_gross": _l("Avoirs TTC"),
        "paid": _l("Payé"),
        "amount": _l("Montant"),
    },
    {"credited_gross": "money", "paid": "money", "amount": "money"},
)

PER_PAGE = 25

#: The states' and payment methods' labels as templates read them (translated once per language).
STATES_WORDS = Words(STATES)
PAYMENT_METHODS_WORDS = Words(PAYMENT_METHODS)


@bp.app_context_processor
def _labels():
    return {
        "payment_methods": PAYMENT_METHODS_WORDS,
        "invoice_states": STATES_WORDS,
        "event_money_link": _event_money_link,
    }


def _event_money_link(event) -> str | None:
    """The event page links to its money page for those who may read invoices (offers does not know
    invoicing: the page asks this hook, present only when invoicing is installed)."""
    if not can_view_invoices(current_user):
        return None
    return url_for("invoicing.event_money", event_id=event.id)


def _page() -> int:
    return page_number(request.args)


# --- the list ------------------------------------------------------------------------------------


@bp.route("/factures")
@permission_required(can_view_invoices)
def invoice_list():
    # The filter's choices: the clients' ids and names only, not 60 whole rows.
    clients = db.session.execute(sa.select(Client.id, Client.name).order_by(Client.name, Client.id)).all()
    filters = InvoiceFilterForm(formdata=request.args, clients=clients)
    if not filters.validate():
        bad_filter()
    query = (
        sa.select(Invoice)
        .where(Invoice.status == InvoiceStatus.ISSUED)
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
    )
    # The list shows the buyer's name and the totals: the frozen seller, mentions, VAT groups and
    # references (read and parsed for every row otherwise) stay in the database.
    shown = (
        defer(Invoice.seller),
        defer(Invoice.mentions),
        defer(Invoice.vat_groups),
        defer(Invoice.references),
    )
    # What the list is filtered on, and nothing else, names the query (``keep_as`` below). A choice
    # made of blanks passes the form (WTForms' Optional reads it as empty): it is "all".
    client = (filters.client.data or "").strip() if not filters.client.errors else ""
    named = (
        filters.date_from.data if not filters.date_from.errors else None,
        filters.date_to.data if not filters.date_to.errors else None,
        int(client) if client else None,
    )
    date_from, date_to, client_id = named
    if date_from:
        query = query.where(Invoice.issue_date >= date_from)
    if date_to:
        query = query.where(Invoice.issue_date <= date_to)
    if client_id:
        query = query.where(Invoice.client_id == client_id)
    wanted = (filters.state.data or "").strip() if not filters.state.errors else ""
    today = datetime.now(LOCAL_TZ).date()
    if wanted:
        # States are derived (payments, credit notes, due date): computed on the documents that
        # may be in the state, then filtered.
        page_number = _page()
        total, rows = service.state_page(query, wanted, today, page_number, PER_PAGE, shown, keep_as=named)
        pages = max(1, -(-total // PER_PAGE))
    else:
        page = db.paginate(query.options(*shown), page=_page(), per_page=PER_PAGE, error_out=False)
        numbers = service.settled_figures(page.items)
        rows = [(i, numbers[i.id]) for i in page.items]
        total, page_number, pages = page.total, page.page, max(page.pages, 1)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "invoicing/invoice_list.html",
        rows=[(i, f, service.state(i, today, f)) for i, f in rows],
        filters=filters,
        total=total,
        page=page_number,
        pages=pages,
        args=args,
    )


# --- one invoice ---------------------------------------------------------------------------------


def _invoice(invoice_id: int) -> Invoice:
    invoice = db.get_or_404(Invoice, invoice_id)
    if invoice.status != InvoiceStatus.ISSUED:
        abort(404)
    return invoice


def _detail(invoice: Invoice, status: int = 200, payment_form=None, credit_form=None, error=None):
    today = datetime.now(LOCAL_TZ).date()
    numbers = service.settled_figures([invoice])[invoice.id]
    return (
        render_template(
            "invoicing/invoice_detail.html",
            invoice=invoice,
            figures=numbers,
            state=service.state(invoice, today, numbers),
            payments=list(db.session.scalars(sa.select(Payment).where(Payment.invoice_id == invoice.id))),
            credit_notes=service.credit_notes_of(invoice),
            credited=db.session.get(Invoice, invoice.credit_of_id) if invoice.credit_of_id else None,
            payment_form=payment_form or PaymentForm(formdata=None, received_on=today),
            credit_form=credit_form or CreditNoteForm(formdata=None),
            can_issue=can_issue_invoice(current_user),
            can_pay=can_record_payment(current_user) and invoice.origin != InvoiceOrigin.SELF_BILLED.value,
            error=error,
        ),
        status,
    )


@bp.route("/factures/<int:invoice_id>")
@permission_required(can_view_invoices)
def invoice_detail(invoice_id: int):
    return _detail(_invoice(invoice_id))


@bp.route("/factures/<int:invoice_id>/pdf")
@permission_required(can_view_invoices)
def invoice_pdf(invoice_id: int):
    invoice = _invoice(invoice_id)
    pdf = service.invoice_pdf(invoice)
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


@bp.route("/factures/<int:invoice_id>/paiements", methods=["POST"])
@permission_required(can_record_payment)
def invoice_payment(invoice_id: int):
    invoice = _invoice(invoice_id)
    form = PaymentForm()
    if not form.validate_on_submit():
        return _detail(invoice, 400, payment_form=form)
    with service_call(form) as outcome:
        record_payment(
            invoice,
            current_user,
            received_on=form.received_on.data,
            amount=form.amount.data,
            method=form.method.data,
            reference=form.reference.data or "",
        )
    if outcome.ok:
        flash(_("Paiement enregistré."), "success")
        return redirect(url_for("invoicing.invoice_detail", invoice_id=invoice.id))
    return _detail(invoice, outcome.status, payment_form=form, error=outcome.error)


@bp.route("/factures/<int:invoice_id>/avoir", methods=["POST"])
@permission_required(can_issue_invoice)
def invoice_credit(invoice_id: int):
    invoice = _invoice(invoice_id)
    form = CreditNoteForm()
    if not form.validate_on_submit():
        return _detail(invoice, 400, credit_form=form)
    with service_call(form) as outcome:
        note = service.issue_credit_note(
            invoice, current_user, reason=form.reason.data, amount=form.amount.data
        )
    if outcome.ok:
        service.store_issued_pdfs([note])  # committed: rendered now (or by a detached child), no lock held
        flash(_("Avoir %(number)s émis.", number=note.number), "success")
        return redirect(url_for("invoicing.invoice_detail", invoice_id=note.id))
    return _detail(invoice, outcome.status, credit_form=form, error=outcome.error)


# --- an event's money ----------------------------------------------------------------------------


def _accepted_quote(event: Event) -> Quote | None:
    return db.session.scalar(
        sa.select(Quote).where(Quote.event_id == event.id, Quote.status == QuoteStatus.ACCEPTED).limit(1)
    )


def _money_page(
    event: Event,
    status=200,
    deposit_form=None,
    final_form=None,
    error=None,
    joint_form=None,
    record_form=None,
    chorus_form=None,
):
    quote = _accepted_quote(event)
    invoices = list(
        db.session.scalars(
            sa.select(Invoice)
            .where(Invoice.event_id == event.id, Invoice.status == InvoiceStatus.ISSUED)
            .order_by(Invoice.issue_date, Invoice.id)
        )
    )
    today = datetime.now(LOCAL_TZ).date()
    numbers = service.settled_figures(invoices)
    rows = [(i, numbers[i.id]) for i in invoices]
    rows = [(i, f, service.state(i, today, f)) for i, f in rows]
    joint_summary = None
    if quote is not None and joint_service.is_joint(quote):
        joint_summary = joint_service.cover_summary(quote, today)
    missing = []
    if joint_summary is not None:
        from invoicing.services.invoices import missing_public_references

        missing = missing_public_references(
            snapshots.client(event.client), quote.client_purchase_order or event.purchase_order_number
        )
    record_form = record_form or RecordActorInvoiceForm(formdata=None)
    if joint_summary is not None:
        record_form.organisation_id.choices = [
            (str(s.organisation_id), s.name) for s in joint_summary.shares if s.awaiting_own_invoice
        ]
    invoiced, credited, collected = treasury.money_summary(invoices, numbers)
    summary = {
        "quoted": quote.total_gross if quote else None,
        "invoiced": invoiced,
        "credited": credited,
        "collected": collected,
    }
    summary["outstanding"] = summary["invoiced"] - summary["credited"] - summary["collected"]
    money = payout_service.event_money(event) if quote is not None else None
    self_billed, mandated = {}, {}
    if money is not None and money.split is not None and joint_summary is None:
        from invoicing.services import mandates as mandate_service
        from invoicing.services import self_billing

        self_billed = {
            i.issuer_organisation_id: (i, self_billing.review_of(i))
            for i in self_billing.self_billed_of(event.id)
        }
        mandated = mandate_service.valid_mandates([a.organisation_id for a in money.actors], today)
    return (
        render_template(
            "invoicing/event_money.html",
            event=event,
            quote=quote,
            rows=rows,
            summary=summary,
            money=money,
            final_issued=any(
                i.kind == InvoiceKind.INVOICE and f.credited_net < i.total_net for i, f, _s in rows
            ),
            joint=joint_summary,
            self_billing=self_billed,
            mandated=mandated,
            self_billing_form=JointInvoicesForm(formdata=None),
            chorus_form=chorus_form or _chorus_form(event),
            sheet_missing=missing,
            can_export=can_export_accounts(current_user),
            can_choose=can_set_invoicing_choices(current_user),
            joint_form=joint_form or JointInvoicesForm(formdata=None),
            record_form=record_form,
            deposit_form=deposit_form or DepositForm(formdata=None),
            final_form=final_form or FinalInvoiceForm(formdata=None),
            can_issue=can_issue_invoice(current_user),
            error=error,
        ),
        status,
    )


def _chorus_form(event: Event) -> ChorusChoicesForm:
    from invoicing.services import chorus

    return ChorusChoicesForm(
        formdata=None,
        chorus_circuit=chorus.event_choices(event.id).chorus_circuit.value,
        einvoice_format=chorus.client_format(event.client_id).value,
    )


@bp.route("/evenements/<int:event_id>/facturation")
@permission_required(can_view_invoices)
def event_money(event_id: int):
    return _money_page(db.get_or_404(Event, event_id))


@bp.route("/evenements/<int:event_id>/facturation/acompte", methods=["POST"])
@permission_required(can_issue_invoice)
def event_deposit(event_id: int):
    event = db.get_or_404(Event, event_id)
    form = DepositForm()
    quote = _accepted_quote(event)
    if not form.validate_on_submit():
        return _money_page(event, 400, deposit_form=form)
    if quote is None:
        return _money_page(event, 409, deposit_form=form, error=_("Aucun devis accepté : rien à facturer."))
    with service_call(form) as outcome:
        invoice = service.issue_deposit(
            quote, current_user, percent=form.percent.data, amount=form.amount.data
        )
    if outcome.ok:
        service.store_issued_pdfs([invoice])  # committed: rendered now (or by a detached child), no lock held
        flash(_("Facture d'acompte %(number)s émise.", number=invoice.number), "success")
        return redirect(url_for("invoicing.invoice_detail", invoice_id=invoice.id))
    return _money_page(event, outcome.status, deposit_form=form, error=outcome.error)


@bp.route("/evenements/<int:event_id>/facturation/finale", methods=["POST"])
@permission_required(can_issue_invoice)
def event_final(event_id: int):
    event = db.get_or_404(Event, event_id)
    form = FinalInvoiceForm()
    quote = _accepted_quote(event)
    if not form.validate_on_submit():
        return _money_page(event, 400, final_form=form)
    if quote is None:
        return _money_page(event, 409, final_form=form, error=_("Aucun devis accepté : rien à facturer."))
    with service_call(form) as outcome:
        invoice = service.issue_final(quote, current_user, operation_category=form.operation_category.data)
    if outcome.ok:
        service.store_issued_pdfs([invoice])  # committed: rendered now (or by a detached child), no lock held
        flash(_("Facture %(number)s émise.", number=invoice.number), "success")
        return redirect(url_for("invoicing.invoice_detail", invoice_id=invoice.id))
    return _money_page(event, outcome.status, final_form=form, error=outcome.error)


# --- payments ------------------------------------------------------------------------------------


@bp.route("/paiements")
@permission_required(can_view_invoices)
def payment_list():
    query = (
        sa.select(Payment)
        .options(joinedload(Payment.invoice))
        .order_by(Payment.received_on.desc(), Payment.id.desc())
    )
    page = db.paginate(query, page=_page(), per_page=PER_PAGE, error_out=False)
    return render_template("invoicing/payment_list.html", page=page, rows=page.items)


# --- payouts -------------------------------------------------------------------------------------


def _payout_counts() -> dict:
    """How many payouts each status has (every payout ever made)."""
    return dict(db.session.execute(sa.select(Payout.status, sa.func.count()).group_by(Payout.status)).all())


class _PayoutPages(Pagination):
    """The payouts list a page at a time: due payouts first (newest first), then the paid ones,
    latest paid first. Each status is read in the order of the index ix_payouts_list, from its
    page's offset (one statement for the page, one counting per status) — a single ORDER BY over
    both would sort every payout ever made for each page.

    The counts per status are kept until the data changes (``app.figures``), as the dashboards'
    figures: they cover every payout ever made (11,000 at the bench's scale 1, 1.9 ms to count on
    PostgreSQL on each view), and change only when a payout does, which renews the data stamp."""

    def _counts(self) -> dict:
        if "counts" not in self._query_args:
            self._query_args["counts"] = cached("payout_counts", _payout_counts)
        return self._query_args["counts"]

    def _query_items(self) -> list:
        due = self._counts().get(PayoutStatus.DUE, 0)
        start, end = self._query_offset, self._query_offset + self.per_page
        taken = [
            (PayoutStatus.DUE, min(start, due), max(0, min(end, due) - start)),
            (PayoutStatus.PAID, max(0, start - due), self.per_page - max(0, min(end, due) - start)),
        ]
        ids = sa.union_all(
            *(
                sa.select(
                    sa.select(Payout.id)
                    .where(Payout.status == status)
                    .order_by(Payout.paid_on.desc(), Payout.id.desc())
                    .offset(skip)
                    .limit(take)
                    .subquery()
                )
                for status, skip, take in taken
            )
        ).subquery()
        return list(
            db.session.scalars(
                sa.select(Payout)
                .where(Payout.id.in_(sa.select(ids.c.id)))
                .options(joinedload(Payout.organisation).defer(Organisation.logo))
                .order_by(Payout.status, Payout.paid_on.desc(), Payout.id.desc())
            )
        )

    def _query_count(self) -> int:
        return sum(self._counts().values())


@bp.route("/reversements")
@permission_required(can_view_payouts)
def payout_list():
    page = _PayoutPages(page=_page(), per_page=PER_PAGE, error_out=False)
    events = {
        e.id: e
        for e in db.session.scalars(sa.select(Event).where(Event.id.in_({p.event_id for p in page.items})))
    }
    return render_template(
        "invoicing/payout_list.html",
        page=page,
        events=events,
        form=PayoutPaidForm(formdata=None, paid_on=datetime.now(LOCAL_TZ).date()),
        can_pay=can_pay_out(current_user),
    )


@bp.route("/reversements/<int:payout_id>/payer", methods=["POST"])
@permission_required(can_pay_out)
def payout_paid(payout_id: int):
    payout = db.get_or_404(Payout, payout_id)
    form = PayoutPaidForm()
    if not form.validate_on_submit():
        flash(_("Indiquez la date et la référence du reversement."), "danger")
        return redirect(url_for("invoicing.payout_list")), 303
    with service_call(form) as outcome:
        payout_service.mark_paid(
            payout, current_user, paid_on=form.paid_on.data, reference=form.reference.data or ""
        )
    if outcome.ok:
        flash(_("Reversement marqué payé."), "success")
    else:
        flash(outcome.message, "danger")
        return redirect(url_for("invoicing.payout_list")), 303
    return redirect(url_for("invoicing.payout_list"))


def _statement_pdf(event: Event, organisation_id: int):
    from invoicing.documents import render_statement

    money = payout_service.event_money(event)
    actor = money.actor(organisation_id) if money.split else None
    if actor is None:
        abort(404)
    quote = db.session.get(Quote, money.quote.id)
    lines = [ql for ql in quote.lines if ql.kind == "line" and ql.organisation_id == organisation_id]
    payouts = list(
        db.session.scalars(
            sa.select(Payout)
            .where(Payout.event_id == event.id, Payout.organisation_id == organisation_id)
            .order_by(Payout.id)
        )
    )
    pdf = render_statement(event, quote, money, actor, lines, payouts)
    return (
        pdf,
        200,
        {
            "Content-Type": "application/pdf",
            "Content-Disposition": f'inline; filename="releve-{event.id}-{organisation_id}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/evenements/<int:event_id>/releves/<int:organisation_id>")
@permission_required(can_view_payouts)
def statement_pdf(event_id: int, organisation_id: int):
    return _statement_pdf(db.get_or_404(Event, event_id), organisation_id)


@bp.route("/portail/releves")
@actor_required
def portal_statements():
    organisation_id = current_user.organisation_id
    event_ids = db.session.scalars(
        sa.select(Payout.event_id).where(Payout.organisation_id == organisation_id).distinct()
    ).all()
    rows = []
    for event in db.session.scalars(
        sa.select(Event).where(Event.id.in_(event_ids)).order_by(Event.starts_at.desc())
    ):
        money = payout_service.event_money(event)
        actor = money.actor(organisation_id)
        if actor is not None:
            rows.append((event, actor))
    return render_template("invoicing/portal_statements.html", rows=rows)


@bp.route("/portail/releves/<int:event_id>")
@actor_required
def portal_statement_pdf(event_id: int):
    """An actor's own statement only: another actor's event answers 404, like an unknown one."""
    event = db.get_or_404(Event, event_id)
    has_payout = db.session.scalar(
        sa.select(Payout.id)
        .where(Payout.event_id == event.id, Payout.organisation_id == current_user.organisation_id)
        .limit(1)
    )
    if has_payout is None:
        abort(404)
    return _statement_pdf(event, current_user.organisation_id)


from invoicing import joint_views as _joint_views  # noqa: E402,F401  (routes on this blueprint)
from invoicing import mandate_views as _mandate_views  # noqa: E402,F401  (routes on this blueprint)
