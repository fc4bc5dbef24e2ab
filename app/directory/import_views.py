"""Import (upload → preview → confirm) and export (CSV, XLSX) of the directory.

Routes attach to the directory blueprint. Nothing is written before the confirmation; the preview
survives between the two requests as a stored file and a signed token (see
:mod:`app.directory.exchange`), and the confirmation validates the file again before applying it.
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_number
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import permission_required
from app.auth.services import safe_path
from app.dates import LOCAL_TZ
from app.directory import exchange
from app.directory.permissions import can_export_directory, can_import_directory
from app.directory.views import bp
from app.errors import DomainError
from app.extensions import db
from app.web import service_call

MIMETYPES = {
    "csv": "text/csv",  # Flask adds "; charset=utf-8" to text types
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _back() -> str | None:
    """Where the import was opened from (an event, a lot's suggestions), to go back to after it:
    ``next`` in the query string or the form, a path on this site only."""
    return safe_path((request.values.get("next") or "")[:300] or None)


def _upload_page(error: str | None = None, status: int = 200):
    return (
        render_template(
            "app/directory/import_upload.html",
            back=_back(),
            error=error,
            columns=exchange.COLUMNS,
            max_size=exchange.format_size(exchange.max_bytes()),
            max_rows=format_number(exchange.max_rows()),
        ),
        status,
    )


def _preview_page(preview: exchange.ImportPreview, token: str | None, notice: str | None = None, status=200):
    return (
        render_template(
            "app/directory/import_preview.html",
            back=_back(),
            preview=preview,
            counts=preview.counts,
            token=token,
            notice=notice,
        ),
        status,
    )


@bp.route("/acteurs/import", methods=["GET", "POST"])
@permission_required(can_import_directory)
def import_upload():
    if request.method == "GET":
        return _upload_page()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _upload_page(_("Choisissez un fichier .csv ou .xlsx à importer."), 400)
    # Werkzeug already refused bodies over MAX_CONTENT_LENGTH (413); our own, lower limit is checked here.
    data = upload.read()
    try:
        frame = exchange.read_table(upload.filename, data)
        preview = exchange.validate_rows(frame, upload.filename)
    except exchange.FileRefused as exc:
        return _upload_page(exc.message, 400)
    token = None
    if not preview.has_errors and preview.to_write:
        token = exchange.store_upload(upload.filename, data, current_user, preview)
    return _preview_page(preview, token)


@bp.route("/acteurs/import/confirmer", methods=["POST"])
@permission_required(can_import_directory)
def import_confirm():
    # A forged or expired token is a 400, another user's a 403 (DomainError pages).
    stored, data = exchange.load_upload(request.form.get("token", ""), current_user)
    try:
        frame = exchange.read_table(f"import.{stored.extension}", data)
        preview = exchange.validate_rows(frame, stored.filename)
    except exchange.FileRefused as exc:
        exchange.discard_upload(stored)
        return _upload_page(exc.message, 400)
    if preview.has_errors:
        exchange.discard_upload(stored)
        notice = _(
            "Depuis l'aperçu, les fiches ont changé et le fichier contient maintenant des erreurs : "
            "rien n'a été enregistré."
        )
        return _preview_page(preview, None, notice, 409)
    if preview.digest() != stored.plan:
        token = exchange.restamp_upload(stored, preview) if preview.to_write else None
        if token is None:
            exchange.discard_upload(stored)
        notice = _(
            "Les fiches ont changé depuis l'aperçu : rien n'a été enregistré. "
            "Voici l'aperçu à jour ; vérifiez-le avant de confirmer."
        )
        return _preview_page(preview, token, notice, 409)
    raced = _(
        "Quelqu'un a modifié l'annuaire au même moment : rien n'a été enregistré. "
        "Importez le fichier à nouveau."
    )
    with service_call(stale=raced, unique=raced) as outcome:
        result = exchange.apply_import(preview, current_user)
    if isinstance(outcome.exception, DomainError):
        abort(outcome.status, outcome.error)  # the error page, as for any refusal (403, 409)
    if not outcome.ok:
        flash(outcome.error, "danger")
        return redirect(url_for("directory.import_upload", next=_back()))
    exchange.discard_upload(stored)
    flash(
        _(
            "Import terminé : %(created)s fiche(s) créée(s), %(updated)s fiche(s) mise(s) à jour.",
            created=len(result.created),
            updated=len(result.updated),
        ),
        "success",
    )
    return redirect(_back() or url_for("directory.organisation_list"))


@bp.route("/acteurs/import/modele.<fmt>")
@permission_required(can_import_directory)
def import_template(fmt: str):
    """An empty table with the import's columns, to type new actors into."""
    if fmt not in exchange.EXTENSIONS:
        abort(404)
    body = exchange.export_csv([]) if fmt == "csv" else exchange.export_xlsx([])
    response = Response(body, mimetype=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="acteurs-modele.{fmt}"'
    return response


@bp.route("/acteurs/export.<fmt>")
@permission_required(can_export_directory)
def export(fmt: str):
    """Every card, or those matching the list page's filters (same URL parameters, see ``export_query``)."""
    if fmt not in exchange.EXTENSIONS:
        abort(404)
    filters = ("q", "category", "commune", "qpv", "legal_form", "vat_regime", "active")
    query = exchange.export_query(**{name: (request.args.get(name) or "")[:200] or None for name in filters})
    organisations = db.session.scalars(query)
    body = exchange.export_csv(organisations) if fmt == "csv" else exchange.export_xlsx(organisations)
    filename = f"acteurs-{datetime.now(LOCAL_TZ):%Y-%m-%d}.{fmt}"
    response = Response(body, mimetype=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Bank details and contacts: never kept by a shared cache.
    response.headers["Cache-Control"] = "no-store"
    return response
