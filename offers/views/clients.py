"""Clients (buyers): list with search, card, create and edit."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import permission_required
from app.extensions import db
from app.locking import check_version
from app.models import Client
from app.parsing import page_number
from app.web import service_call
from offers.forms.clients import ClientForm, ClientSearchForm, InviteContactForm
from offers.models import Event
from offers.permissions import can_manage_clients, can_view_clients
from offers.services.clients import (
    DuplicateClient,
    client_accounts,
    create_client,
    find_by_siret,
    invite_client_contact,
    search_clients,
    update_client,
)
from offers.views import bp
from offers.views.events import conflict_context

PER_PAGE = 25


@bp.route("/clients")
@permission_required(can_view_clients)
def client_list():
    search = ClientSearchForm(formdata=request.args)
    search.validate()
    query = search_clients(search.q.data if not search.q.errors else None)
    page = db.paginate(query, page=page_number(request.args), per_page=PER_PAGE, error_out=False)
    return render_template(
        "offers/client_list.html",
        page=page,
        search=search,
        q=search.q.data or "",
        can_edit=can_manage_clients(current_user),
    )


def _detail_page(client: Client, invite_form: InviteContactForm | None = None):
    events = db.session.scalars(
        sa.select(Event).where(Event.client_id == client.id).order_by(Event.starts_at.desc(), Event.id.desc())
    ).all()
    can_edit = can_manage_clients(current_user)
    if can_edit and invite_form is None:
        invite_form = InviteContactForm(
            formdata=None, data={"email": client.contact_email, "name": client.contact_name}
        )
    return render_template(
        "offers/client_detail.html",
        client=client,
        events=events,
        can_edit=can_edit,
        accounts=client_accounts(client) if can_edit else [],
        invite_form=invite_form,
    )


@bp.route("/clients/<int:client_id>")
@permission_required(can_view_clients)
def client_detail(client_id: int):
    return _detail_page(db.get_or_404(Client, client_id))


@bp.route("/clients/<int:client_id>/acces", methods=["POST"])
@permission_required(can_manage_clients)
def client_invite(client_id: int):
    """Give a contact of the client an account that sees its quotes, with a login link by e-mail."""
    client = db.get_or_404(Client, client_id)
    form = InviteContactForm()
    if form.validate_on_submit():
        with service_call(form) as outcome:
            account, created = invite_client_contact(
                client,
                email=form.email.data,
                name=form.name.data or "",
                user=current_user,
                next_path=url_for("offers.client_quotes"),
            )
        if outcome.ok:
            message = (
                _("Accès créé pour %(email)s : le lien de connexion lui est envoyé.", email=account.email)
                if created
                else _("%(email)s a déjà un accès : un nouveau lien lui est envoyé.", email=account.email)
            )
            flash(message, "success")
            return redirect(url_for("offers.client_detail", client_id=client.id, _anchor="acces"))
        status = outcome.status
    else:
        status = 400
    return _detail_page(client, form), status


def _siret_just_taken(form) -> None:
    """Two people saved the same SIRET at the same instant: the unique index refused the second."""
    form.siret.errors = [*form.siret.errors, _("Ce SIRET vient d'être enregistré pour un autre client.")]


@bp.route("/clients/nouveau", methods=["GET", "POST"])
@permission_required(can_manage_clients)
def client_new():
    form = ClientForm()
    status, error, existing = 200, None, None
    if request.method == "POST":
        if form.validate_on_submit():
            with service_call(form, unique=True) as outcome:
                client = create_client(form.to_fields(), current_user)
            if outcome.ok:
                flash(_("Client « %(name)s » créé.", name=client.name), "success")
                return redirect(url_for("offers.client_detail", client_id=client.id))
            error, status = outcome.error, outcome.status
            if isinstance(outcome.exception, DuplicateClient):
                existing = outcome.exception.existing
            elif outcome.duplicate:
                existing = find_by_siret(form.siret.data)
                _siret_just_taken(form)
        else:
            status = 400
    return (
        render_template("offers/client_form.html", form=form, client=None, error=error, existing=existing),
        status,
    )


@bp.route("/clients/<int:client_id>/modifier", methods=["GET", "POST"])
@permission_required(can_manage_clients)
def client_edit(client_id: int):
    client = db.get_or_404(Client, client_id)
    form = ClientForm()
    status, error, existing, extra = 200, None, None, {}
    if request.method == "GET":
        form.fill(client)
    elif form.validate_on_submit():
        raced = _("Quelqu'un a enregistré ce client au même instant : vérifiez et recommencez.")
        with service_call(form, stale=raced, unique=True) as outcome:
            check_version(client, form.version_id.data)
            changes = update_client(client, form.to_fields(), current_user)
        if outcome.ok:
            flash(_("Client enregistré.") if changes else _("Aucune modification."), "success")
            return redirect(url_for("offers.client_detail", client_id=client.id))
        error, status = outcome.error, outcome.status
        if isinstance(outcome.exception, DuplicateClient):
            existing = outcome.exception.existing
        elif outcome.duplicate:
            existing = find_by_siret(form.siret.data, exclude_id=client.id)
            _siret_just_taken(form)
        elif outcome.conflict:
            extra = conflict_context(form, ClientForm(formdata=None).fill(client), client)
    else:
        status = 400
    return (
        render_template(
            "offers/client_form.html", form=form, client=client, error=error, existing=existing, **extra
        ),
        status,
    )
