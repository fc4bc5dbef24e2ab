"""The dashboards (coordination, treasury, admin) and the event impact report: page, PDF, and the
public page behind the link the coordinator chose to share."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import admin_required, coordination_required, staff_required, treasury_required
from app.auth.forms import ConfirmForm
from app.dates import LOCAL_TZ
from app.db import utcnow
from app.extensions import db
from app.figures import cached
from app.parsing import bad_filter
from app.pdf import render_pdf
from app.spreadsheets import write_csv
from app.web import service_call
from offers.models import Event
from offers.permissions import can_edit_event, can_view_event
from reports import aggregates as ag
from reports import dashboards, report, services
from reports import models as _models  # noqa: F401  (the table is known before the first query)
from reports.forms import ShareForm

bp = Blueprint("reports", __name__)


@bp.app_context_processor
def _links():
    return {"event_report_link": _event_report_link}


def _event_report_link(event) -> str | None:
    """The event page links to its report (offers does not know reports: it asks this hook)."""
    if not can_view_event(current_user, event):
        return None
    return url_for("reports.event_report", event_id=event.id)


def _today() -> date:
    return utcnow().astimezone(LOCAL_TZ).date()


def _period() -> ag.Period:
    """``?annee=2011``: a year between 2000 and 2100; by default the latest year with accepted work."""
    raw = request.args.get("annee")
    if raw is None or raw == "":
        return ag.Period(cached("latest_year", ag.latest_year, _today().year))
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4) or not ag.MIN_YEAR <= int(raw) <= ag.MAX_YEAR:
        bad_filter()
    return ag.Period(int(raw))


def _work(period: ag.Period) -> dict:
    """The coordination's figures for the year, computed once per change of the data (app.figures)."""
    return cached("work", dashboards.work, period)


def _treasury(period: ag.Period) -> dict:
    """The treasury's figures for the year and today's receivables, once per change of the data."""
    return cached("treasury", dashboards.treasury, period, _today())


@bp.route("/indicateurs/coordination")
@coordination_required
def coordination():
    period = _period()
    return render_template("reports/coordination.html", period=period, work=_work(period))


@bp.route("/indicateurs/tresorerie")
@treasury_required
def treasury():
    period = _period()
    return render_template("reports/treasury.html", period=period, treasury=_treasury(period))


@bp.route("/indicateurs/administration")
@admin_required
def admin():
    period = _period()
    return render_template(
        "reports/admin.html",
        period=period,
        network=cached("network", ag.network, period),
        work=_work(period),
        treasury=_treasury(period),
    )


@bp.route("/indicateurs/coordination/<any(acteurs, collaborations):table>.csv")
@coordination_required
def coordination_table(table: str):
    """The whole list behind a table of the coordination dashboard (amounts per actor, first-time
    collaborations per event), for the year of ``?annee=``."""
    return _csv(*dashboards.table(table, _period(), _today()))


@bp.route("/indicateurs/tresorerie/<any(reversements, creances):table>.csv")
@treasury_required
def treasury_table(table: str):
    """The whole list behind a table of the treasury dashboard (payouts per actor for the year,
    receivables per client today)."""
    return _csv(*dashboards.table(table, _period(), _today()))


def _csv(name: str, head: list[str], rows: list[list]) -> Response:
    response = Response(write_csv(head, rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the event impact report ------------------------------------------------------------------------


def _event(event_id: int) -> Event:
    event = db.get_or_404(Event, event_id)
    if not can_view_event(current_user, event):
        abort(403)
    return event


def _pdf(event: Event, built: report.EventReport, filename: str) -> Response:
    with force_locale("fr"):
        html = render_template(
            "reports/report_pdf.html", report=built, event=event, charts=report.charts_for(built)
        )
    response = Response(render_pdf(html), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@bp.route("/evenements/<int:event_id>/bilan")
@staff_required
def event_report(event_id: int):
    event = _event(event_id)
    shared = services.share_of(event)
    built = report.build(event)
    return render_template(
        "reports/report.html",
        event=event,
        report=built,
        charts=report.charts_for(built),
        shared=shared,
        share_form=ShareForm(),
        revoke_form=ConfirmForm(),
        can_share=can_edit_event(current_user, event),
    )


@bp.route("/evenements/<int:event_id>/bilan.pdf")
@staff_required
def event_report_pdf(event_id: int):
    event = _event(event_id)
    return _pdf(event, report.build(event), f"bilan-evenement-{event.id}.pdf")


@bp.route("/evenements/<int:event_id>/bilan/partager", methods=["POST"])
@coordination_required
def share(event_id: int):
    event = _event(event_id)
    form = ShareForm()
    if not form.validate_on_submit():
        abort(400, _("Le formulaire a expiré : rechargez la page et recommencez."))
    with service_call() as outcome:
        services.share(event, current_user, show_amounts=bool(form.show_amounts.data))
    if outcome.ok:
        flash(_("Le bilan est publié : toute personne qui a le lien peut le lire."), "success")
    else:
        flash(outcome.message, "danger")
    return redirect(url_for("reports.event_report", event_id=event.id))


@bp.route("/evenements/<int:event_id>/bilan/retirer", methods=["POST"])
@coordination_required
def revoke(event_id: int):
    event = _event(event_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400, _("Le formulaire a expiré : rechargez la page et recommencez."))
    with service_call() as outcome:
        services.revoke(event, current_user)
    if outcome.ok:
        flash(_("Le lien du bilan est retiré : il ne mène plus nulle part."), "success")
    else:
        flash(outcome.message, "danger")
    return redirect(url_for("reports.event_report", event_id=event.id))


def _shared(token: str) -> tuple[Event, object]:
    found = services.shared_event(token)
    if found is None:
        abort(404)
    return found


def _noindex(response: Response) -> Response:
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.route("/bilan/<token>")
def public_report(token: str):
    event, shared = _shared(token)
    built = report.build(event, public=True, show_amounts=shared.show_amounts)
    page = render_template(
        "reports/public_report.html", event=event, report=built, charts=report.charts_for(built), token=token
    )
    return _noindex(Response(page))


@bp.route("/bilan/<token>/pdf")
def public_report_pdf(token: str):
    event, shared = _shared(token)
    built = report.build(event, public=True, show_amounts=shared.show_amounts)
    return _noindex(_pdf(event, built, f"bilan-evenement-{event.id}.pdf"))
