"""Quotes: issue, view, send (coordination); answer (client portal by signed link, or client account)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import cache

import sqlalchemy as sa
from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.auth import client_required, coordination_required, staff_required
from app.db import read_only, utcnow
from app.errors import DomainError
from app.extensions import db
from app.models import Client
from app.parsing import bad_filter, page_number
from app.render_slots import RenderBusy
from app.web import after_response, service_call
from offers.forms.quotes import AcceptQuoteForm, DeclineQuoteForm, IssueQuoteForm, QuoteFilterForm
from offers.models import BillingMode, Event, Lot, Quote, QuoteStatus, quote_status_label
from offers.models.quote import list_options
from offers.permissions import can_view_quote
from offers.services import quotes as service
from offers.services.briefing import briefing_link, send_acceptance_briefings
from offers.views import bp

PER_PAGE = 25
#: Sent quotes near or past their validity, listed above the quotes (the soonest first).
EXPIRING_SHOWN = 10


def _pdf_response(quote: Quote, *, download: bool = False) -> Response:
    """The stored PDF, rendered and stored first if issuing did not (:func:`service.quote_pdf`)."""
    disposition = "attachment" if download else "inline"
    response = Response(service.quote_pdf(quote), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'{disposition}; filename="{quote.number}-v{quote.version}.pdf"'
    response.headers["X-Content-SHA256"] = quote.pdf_sha256 or ""
    return response


# --- coordination --------------------------------------------------------------------------------


@bp.route("/devis")
@staff_required
def quote_list():
    form = QuoteFilterForm(request.args)
    form.status.choices = [("", _("Tous"))] + [(s.value, quote_status_label(s)) for s in QuoteStatus]
    clients = db.session.execute(sa.select(Client.id, Client.name).order_by(Client.name)).all()
    form.client.choices = [("", _("Tous"))] + [(str(c.id), c.name) for c in clients]
    if not form.validate():
        bad_filter()
    stmt = (
        sa.select(Quote)
        .join(Quote.event)
        .options(*list_options())
        .order_by(Quote.issue_date.desc(), Quote.number.desc(), Quote.version.desc())
    )
    if (form.status.data or "").strip():
        stmt = stmt.where(Quote.status == QuoteStatus(form.status.data))
    if (form.client.data or "").strip():
        stmt = stmt.where(Event.client_id == int(form.client.data))
    if form.start.data:
        stmt = stmt.where(Quote.issue_date >= form.start.data)
    if form.end.data:
        stmt = stmt.where(Quote.issue_date <= form.end.data)
    page = db.paginate(stmt, page=page_number(request.args), per_page=PER_PAGE, error_out=False)
    today = utcnow().date()
    sent_count, outstanding, expiring = waiting_quotes(today)
    return render_template(
        "offers/quote_list.html",
        form=form,
        page=page,
        outstanding=outstanding,
        sent_count=sent_count,
        expiring=expiring,
        today=today,
        args={k: v for k, v in request.args.items() if k != "page" and v},
    )


def waiting_quotes(today) -> tuple[int, Decimal, list[Quote]]:
    """The quotes sent and waiting for an answer: how many, their total including VAT, and those
    whose validity ends within 7 days (or has ended), soonest first, at most :data:`EXPIRING_SHOWN`.

    One statement: the waiting quotes soonest first, the first :data:`EXPIRING_SHOWN` of them each
    with the count and the total of them all (window functions, summed before the limit); the ones
    ending within 7 days are among those first ones, being the soonest."""
    rows = db.session.execute(_waiting_statement()).all()
    if not rows:
        return 0, Decimal("0"), []
    soon = today + timedelta(days=7)
    expiring = [quote for quote, _count, _total in rows if quote.valid_until <= soon]
    _quote, count, total = rows[0]
    return count, total, expiring


@cache
def _waiting_statement() -> sa.Select:
    return (
        sa.select(Quote, sa.func.count().over(), sa.func.sum(Quote.total_gross).over())
        .join(Quote.event)
        .where(Quote.status == QuoteStatus.SENT)
        .options(*list_options())
        .order_by(Quote.valid_until, Quote.id)
        .limit(EXPIRING_SHOWN)
    )


@bp.route("/evenements/<int:event_id>/devis", methods=["GET", "POST"])
@coordination_required
def quote_issue(event_id: int):
    event = db.first_or_404(
        sa.select(Event)
        .where(Event.id == event_id)
        .options(
            selectinload(Event.lots).selectinload(Lot.assignments),
            selectinload(Event.lots).selectinload(Lot.lines),
        )
    )
    form = IssueQuoteForm(
        validity_days=service.default_validity_days(),
        joint=event.billing_mode == BillingMode.JOINT_CONSORTIUM,
    )
    missing = service.missing_for_quote(event)
    previous = service.current_version(event)
    if form.validate_on_submit():
        with service_call(unique=True) as outcome:
            quote = service.issue_quote(
                event,
                current_user,
                validity_days=form.validity_days.data,
                show_actor_cards=form.show_actor_cards.data,
                show_breakdown=form.show_breakdown.data,
                issue_token=form.issue_token.data,
            )
        if outcome.duplicate:  # the unique token's index refused a submission that raced past the lock
            issued = service.issued_by_token(form.issue_token.data)
            if issued is None:
                raise outcome.exception
            outcome.exception = service.AlreadyIssued(issued)
        if outcome.ok:
            # Committed: the PDF is rendered now, holding no lock (or at its first read).
            service.store_issued_pdf(quote)
        if isinstance(outcome.exception, service.AlreadyIssued):
            # A double submission: show what the first one issued, never a second version.
            flash(outcome.exception.message, "warning")
            return redirect(url_for("offers.quote_detail", quote_id=outcome.exception.quote.id))
        if isinstance(outcome.exception, service.QuoteNotReady):
            return render_template(
                "offers/quote_issue.html",
                event=event,
                form=form,
                missing=outcome.exception.missing,
                previous=previous,
            ), 400
        if not outcome.ok:
            flash(outcome.error, "danger")
            return render_template(
                "offers/quote_issue.html", event=event, form=form, missing=missing, previous=previous
            ), outcome.status
        flash(
            _(
                "Devis %(number)s version %(version)s émis. Relisez le PDF avant de l'envoyer.",
                number=quote.number,
                version=quote.version,
            ),
            "success",
        )
        return redirect(url_for("offers.quote_detail", quote_id=quote.id))
    if form.issue_token.errors:
        flash(form.issue_token.errors[0], "danger")
    status = 400 if request.method == "POST" else 200
    return render_template(
        "offers/quote_issue.html", event=event, form=form, missing=missing, previous=previous
    ), status


@bp.route("/devis/<int:quote_id>")
@staff_required
def quote_detail(quote_id: int):
    quote = db.get_or_404(Quote, quote_id)
    versions = db.session.scalars(
        sa.select(Quote).where(Quote.event_id == quote.event_id).order_by(Quote.version.desc())
    ).all()
    previous = next((v for v in versions if v.version == quote.version - 1), None)
    changes = service.diff_versions(previous, quote) if previous else None
    sections, fees = service.quote_sections(quote)
    return render_template(
        "offers/quote_detail.html",
        quote=quote,
        versions=versions,
        previous=previous,
        changes=changes,
        sections=sections,
        fees=fees,
        totals=service.quote_totals(quote),
        annex=service.quote_annex(quote),
        refusal=service.answer_refusal(quote, utcnow().date()),
    )


@bp.route("/devis/<int:quote_id>/pdf")
@staff_required
def quote_pdf(quote_id: int):
    quote = db.get_or_404(Quote, quote_id)
    return _pdf_response(quote)


@bp.route("/devis/<int:quote_id>/envoyer", methods=["POST"])
@coordination_required
def quote_send(quote_id: int):
    try:
        with read_only(db.session):
            # The PDF the e-mail attaches, rendered if need be before the write transaction begins.
            service.quote_pdf(db.get_or_404(Quote, quote_id))
    except RenderBusy as exc:
        flash(exc.message, "danger")
        return redirect(url_for("offers.quote_detail", quote_id=quote_id))
    quote = db.get_or_404(Quote, quote_id)
    # CSRF is checked for every POST by CSRFProtect (app/extensions.py).
    with service_call() as outcome:
        recipients = service.send_quote(quote, current_user)
    if not outcome.ok:
        flash(outcome.error, "danger")
        return redirect(url_for("offers.quote_detail", quote_id=quote.id))
    flash(_("Devis envoyé à %(to)s.", to=", ".join(recipients)), "success")
    return redirect(url_for("offers.quote_detail", quote_id=quote.id))


# --- the client's side ---------------------------------------------------------------------------


def _answer(quote: Quote, template: str, **context):
    """Shared by the signed-link portal and the client's account: show, accept or decline."""
    accept_form, decline_form = AcceptQuoteForm(prefix="a"), DeclineQuoteForm(prefix="d")
    if request.method == "GET":
        accept_form.purchase_order.data = service.purchase_order_on_file(quote)
    today = utcnow().date()
    status = 200
    if request.method == "POST":
        event_id, accepted = quote.event_id, False
        with service_call() as outcome:
            if "a-accept" in request.form:
                if not accept_form.validate_on_submit():
                    raise DomainError(_("Indiquez votre nom et cochez « Bon pour accord »."))
                service.accept_quote(
                    quote,
                    name=accept_form.name.data,
                    agreed=accept_form.agreed.data,
                    purchase_order=accept_form.purchase_order.data,
                    ip=g.client_ip,
                    user=current_user if current_user.is_authenticated else None,
                    today=today,
                )
                accepted = True
                message = _("Merci : le devis est accepté. La coordination est prévenue.")
            elif "d-decline" in request.form:
                if not decline_form.validate_on_submit():
                    raise DomainError(_("Indiquez la raison du refus."))
                service.decline_quote(
                    quote,
                    reason=decline_form.reason.data,
                    ip=g.client_ip,
                    user=current_user if current_user.is_authenticated else None,
                    today=today,
                )
                message = _("Votre refus est enregistré. La coordination est prévenue.")
            else:
                raise DomainError(_("Action inconnue."))
        if outcome.ok:
            flash(message, "success")
            response = redirect(request.path)
            if accepted:
                # Committed: each actor's briefing sheet is rendered and queued once the client has
                # this answer, holding no lock (missed ones: the daily `flask offers send-briefings`).
                after_response(response, send_acceptance_briefings, event_id, link=briefing_link(event_id))
            return response
        flash(outcome.error, "danger")
        status = outcome.status
    sections, fees = service.quote_sections(quote)
    return render_template(
        template,
        quote=quote,
        sections=sections,
        fees=fees,
        totals=service.quote_totals(quote),
        annex=service.quote_annex(quote),
        refusal=service.answer_refusal(quote, today),
        accept_form=accept_form,
        decline_form=decline_form,
        **context,
    ), status


@bp.route("/devis/acces/<token>", methods=["GET", "POST"])
def quote_portal(token: str):
    """The client's page behind the signed link of the e-mail: no account needed."""
    try:
        quote = service.quote_from_token(token)
    except service.InvalidQuoteLink as exc:
        abort(400, exc.message)
    return _answer(quote, "offers/quote_portal.html", pdf_url=url_for("offers.quote_portal_pdf", token=token))


@bp.route("/devis/acces/<token>/pdf")
def quote_portal_pdf(token: str):
    try:
        quote = service.quote_from_token(token)
    except service.InvalidQuoteLink as exc:
        abort(400, exc.message)
    return _pdf_response(quote)


@bp.route("/mes-devis")
@client_required
def client_quotes():
    """A client sees only its own quotes, and only the versions that were sent to it."""
    page = db.paginate(
        sa.select(Quote)
        .join(Quote.event)
        .where(Event.client_id == current_user.client_id, Quote.sent_at.is_not(None))
        .options(*list_options())
        .order_by(Quote.issue_date.desc(), Quote.version.desc(), Quote.id.desc()),
        page=page_number(request.args),
        per_page=PER_PAGE,
        error_out=False,
    )
    return render_template("offers/client_quotes.html", quotes=page.items, page=page)


def _client_quote(quote_id: int) -> Quote:
    quote = db.get_or_404(Quote, quote_id)
    if not can_view_quote(current_user, quote):
        abort(403)
    return quote


@bp.route("/mes-devis/<int:quote_id>", methods=["GET", "POST"])
@client_required
def client_quote(quote_id: int):
    quote = _client_quote(quote_id)
    return _answer(
        quote, "offers/quote_portal.html", pdf_url=url_for("offers.client_quote_pdf", quote_id=quote.id)
    )


@bp.route("/mes-devis/<int:quote_id>/pdf")
@client_required
def client_quote_pdf(quote_id: int):
    return _pdf_response(_client_quote(quote_id))
