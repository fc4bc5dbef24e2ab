"""The treasurer's downloads: the workbook, its tables as CSV and the accounting journal for a period
(``/tresorerie/exports``), and the journal's accounts (``/tresorerie/comptes``). Registered on the
invoicing blueprint; the files are built by :mod:`invoicing.workbook` and :mod:`invoicing.journal`."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import permission_required
from app.dates import LOCAL_TZ
from app.extensions import db
from app.models import Client
from app.web import service_call
from invoicing import journal as journal_service
from invoicing.exports_forms import ACCOUNT_LABELS, AccountsForm, ExportForm
from invoicing.permissions import can_export_accounts
from invoicing.treasury import make_period
from invoicing.views import bp
from invoicing.workbook import TreasurerWorkbook
from offers.models import Event, Quote, QuoteStatus

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _choices():
    events = db.session.scalars(
        sa.select(Event)
        .where(sa.exists().where(Quote.event_id == Event.id, Quote.status == QuoteStatus.ACCEPTED))
        .order_by(Event.starts_at.desc(), Event.id.desc())
    ).all()
    clients = db.session.scalars(sa.select(Client).order_by(Client.name)).all()
    return events, clients


def _page(form, status=200, error=None):
    return (
        render_template(
            "invoicing/exports.html",
            form=form,
            error=error,
            accounts=journal_service.accounts(),
            account_labels=ACCOUNT_LABELS,
        ),
        status,
    )


def _download(data: bytes, filename: str, mimetype: str):
    return (
        data,
        200,
        {
            "Content-Type": mimetype,
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/tresorerie/exports")
@permission_required(can_export_accounts)
def treasury_exports():
    events, clients = _choices()
    if "date_from" not in request.args and "date_to" not in request.args:
        today = datetime.now(LOCAL_TZ).date()
        form = ExportForm(
            formdata=None, events=events, clients=clients, date_from=date(today.year, 1, 1), date_to=today
        )
        return _page(form)
    form = ExportForm(formdata=request.args, events=events, clients=clients)
    if not form.validate():
        return _page(form, 400)
    result = None
    with service_call(form) as outcome:
        period = make_period(
            form.date_from.data, form.date_to.data, form.event.data or None, form.client.data or None
        )
        result = _build(period, form.format.data)
    if not outcome.ok:
        return _page(form, outcome.status, outcome.error)
    return _download(*result)


def _build(period, chosen: str) -> tuple[bytes, str, str]:
    stem = f"tresorerie-{period.date_from:%Y%m%d}-{period.date_to:%Y%m%d}"
    if chosen == "fec":
        journal = journal_service.Journal(period)
        return journal.fec(), journal.filename(), "text/plain; charset=utf-8"
    workbook = TreasurerWorkbook(period)
    if chosen == "xlsx":
        return workbook.xlsx(), f"{stem}.xlsx", XLSX
    if chosen == "zip":
        return workbook.csv_zip(), f"{stem}-csv.zip", "application/zip"
    slug = chosen.removeprefix("csv-")
    return workbook.csv(slug), f"{stem}-{slug}.csv", "text/csv; charset=utf-8"


@bp.route("/tresorerie/comptes", methods=["GET", "POST"])
@permission_required(can_export_accounts)
def accounting_accounts():
    if request.method == "GET":
        form = AccountsForm(formdata=None, data=journal_service.accounts())
        return render_template("invoicing/accounts.html", form=form, error=None)
    form = AccountsForm()
    if not form.validate_on_submit():
        return render_template("invoicing/accounts.html", form=form, error=None), 400
    with service_call(form) as outcome:
        journal_service.save_accounts(form.values(), current_user)
    if outcome.ok:
        flash(_("Comptes du journal enregistrés."), "success")
        return redirect(url_for("invoicing.treasury_exports"))
    return render_template("invoicing/accounts.html", form=form, error=outcome.error), outcome.status
