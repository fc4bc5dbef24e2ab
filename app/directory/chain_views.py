"""Thematic chains management (coordination and admin); routes attach to the directory blueprint.

The list lives at ``directory.chain_index`` (``/chaines/``) while the placeholder ``chain_list``
(``/chaines``) still sits in ``app/directory/views.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.auth import permission_required
from app.directory import demo_chains as _demo_chains  # noqa: F401  (registers the demo step)
from app.directory.chain_forms import ChainForm, ChainLinkAddForm, ChainLinkNoteForm, ConfirmForm, MoveForm
from app.directory.chains import (
    add_link,
    addable_organisations,
    create_chain,
    delete_chain,
    link_of,
    move_chain,
    move_link,
    remove_link,
    set_link_note,
    update_chain,
)
from app.directory.permissions import can_manage_chains
from app.directory.views import bp
from app.errors import DomainError
from app.extensions import db
from app.locking import check_version
from app.models import Chain, ChainLink, Organisation
from app.web import service_call


def _raced() -> str:
    return _("Quelqu'un a modifié cette chaîne au même instant : vérifiez la page et recommencez.")


def _load_chain(chain_id: int) -> Chain:
    return db.first_or_404(
        sa.select(Chain)
        .where(Chain.id == chain_id)
        .options(selectinload(Chain.links).selectinload(ChainLink.organisation))
    )


def _load_link(chain: Chain, link_id: int) -> ChainLink:
    link = link_of(chain, link_id)
    if link is None:
        abort(404)
    return link


def _back(chain: Chain):
    return redirect(url_for("directory.chain_edit", chain_id=chain.id) + "#acteurs")


def render_edit(
    chain: Chain,
    status: int = 200,
    error: str | None = None,
    form: ChainForm | None = None,
    add_form: ChainLinkAddForm | None = None,
    kept_note: tuple[int, str | None] | None = None,
):
    """The chain's page: its form, its ordered actors and the "add an actor" form. ``kept_note`` is
    ``(link id, what the user typed)`` after a stale note form: shown in its field, beside the note
    saved meanwhile."""
    if form is None:
        form = ChainForm(formdata=None).fill(chain)
    if add_form is None:
        add_form = ChainLinkAddForm(formdata=None, organisations=addable_organisations(chain))
    return (
        render_template(
            "app/directory/chain_edit.html",
            chain=chain,
            form=form,
            add_form=add_form,
            note_form=ChainLinkNoteForm(formdata=None),
            move_form=MoveForm(formdata=None),
            confirm_form=ConfirmForm(formdata=None),
            error=error,
            kept_note=kept_note,
        ),
        status,
    )


@bp.route("/chaines/")
@permission_required(can_manage_chains)
def chain_index():
    chains = db.session.scalars(
        sa.select(Chain)
        .options(selectinload(Chain.links).selectinload(ChainLink.organisation))
        .order_by(Chain.position, Chain.id)
    ).all()
    return render_template("app/directory/chain_list.html", chains=chains, move_form=MoveForm(formdata=None))


@bp.route("/chaines/nouvelle", methods=["GET", "POST"])
@permission_required(can_manage_chains)
def chain_new():
    form = ChainForm()
    status, error = 200, None
    if request.method == "POST":
        if form.validate_on_submit():
            with service_call(form, unique=True) as outcome:
                chain = create_chain(form.to_fields(), current_user)
            if outcome.ok:
                flash(_("Chaîne « %(name)s » créée : ajoutez-lui ses acteurs.", name=chain.name), "success")
                return _back(chain)
            error, status = outcome.error, outcome.status
            if outcome.duplicate:
                # Two people chose the same address at the same instant: the unique index refused one.
                form.slug.errors = [
                    *form.slug.errors,
                    _("Cette adresse vient d'être prise par une autre chaîne."),
                ]
        else:
            status = 400
    return render_template("app/directory/chain_form.html", form=form, error=error), status


@bp.route("/chaines/<int:chain_id>/modifier", methods=["GET", "POST"])
@permission_required(can_manage_chains)
def chain_edit(chain_id: int):
    chain = _load_chain(chain_id)
    if request.method == "GET":
        return render_edit(chain)
    form = ChainForm()
    if not form.validate_on_submit():
        return render_edit(chain, 400, form=form)
    with service_call(form, stale=_raced(), unique=_raced()) as outcome:
        check_version(chain, form.version_id.data)
        changes = update_chain(chain, form.to_fields(), current_user)
    if outcome.conflict or outcome.duplicate:
        chain = _load_chain(chain_id)
        # Keep what the user typed; the next save applies it over the current version.
        form.version_id.data = chain.version_id
        return render_edit(chain, 409, outcome.error, form=form)
    if not outcome.ok:
        return render_edit(_load_chain(chain_id), outcome.status, outcome.error, form=form)
    flash(_("Chaîne enregistrée.") if changes else _("Aucune modification."), "success")
    return redirect(url_for("directory.chain_edit", chain_id=chain.id))


def _link_action(chain_id: int, action, form=None, add_form=None):
    """Run ``action()`` (one service call) for a link button; commit or re-render with the refusal."""
    with service_call(add_form, stale=_raced(), unique=_raced()) as outcome:
        result = action()
    if outcome.ok:
        return result, None
    chain = _load_chain(chain_id)
    if not isinstance(outcome.exception, DomainError):  # a database race: stale row or unique index
        return None, render_edit(chain, 409, outcome.error)
    if add_form is not None:
        add_form.organisation_id.choices = ChainLinkAddForm(
            formdata=None, organisations=addable_organisations(chain)
        ).organisation_id.choices
        return None, render_edit(chain, outcome.status, outcome.error, add_form=add_form)
    return None, render_edit(chain, outcome.status, outcome.error)


@bp.route("/chaines/<int:chain_id>/acteurs", methods=["POST"])
@permission_required(can_manage_chains)
def chain_link_add(chain_id: int):
    chain = _load_chain(chain_id)
    form = ChainLinkAddForm(organisations=addable_organisations(chain))
    if not form.validate_on_submit():
        return render_edit(chain, 400, add_form=form)
    organisation = db.get_or_404(Organisation, form.organisation_id.data)
    _link, refused = _link_action(
        chain_id, lambda: add_link(chain, organisation, form.note.data, current_user), add_form=form
    )
    if refused:
        return refused
    flash(_("« %(name)s » ajouté à la chaîne.", name=organisation.name), "success")
    return _back(chain)


@bp.route("/chaines/<int:chain_id>/acteurs/<int:link_id>/deplacer", methods=["POST"])
@permission_required(can_manage_chains)
def chain_link_move(chain_id: int, link_id: int):
    chain = _load_chain(chain_id)
    link = _load_link(chain, link_id)
    form = MoveForm()
    if not form.validate_on_submit():
        return render_edit(chain, 400, _("Sens de déplacement inconnu."))
    moved, refused = _link_action(chain_id, lambda: move_link(link, form.direction.data, current_user))
    if refused:
        return refused
    if not moved:
        flash(_("Cet acteur est déjà à cette extrémité de la chaîne."), "info")
    return _back(chain)


@bp.route("/chaines/<int:chain_id>/acteurs/<int:link_id>/note", methods=["POST"])
@permission_required(can_manage_chains)
def chain_link_note(chain_id: int, link_id: int):
    chain = _load_chain(chain_id)
    link = _load_link(chain, link_id)
    form = ChainLinkNoteForm()
    if not form.validate_on_submit():
        message = next(iter(form.note.errors), None) or _("Le formulaire n'est pas valide.")
        return render_edit(chain, 400, message)
    with service_call(stale=_raced()) as outcome:
        check_version(chain, form.version_id.data)
        changed = set_link_note(link, form.note.data, current_user)
    if outcome.conflict:
        return render_edit(_load_chain(chain_id), 409, outcome.error, kept_note=(link_id, form.note.data))
    if not outcome.ok:
        return render_edit(_load_chain(chain_id), outcome.status, outcome.error)
    flash(_("Note enregistrée.") if changed else _("Aucune modification."), "success")
    return _back(chain)


@bp.route("/chaines/<int:chain_id>/acteurs/<int:link_id>/retirer", methods=["POST"])
@permission_required(can_manage_chains)
def chain_link_remove(chain_id: int, link_id: int):
    chain = _load_chain(chain_id)
    link = _load_link(chain, link_id)
    name = link.organisation.name
    if not ConfirmForm().validate_on_submit():
        return render_edit(chain, 400, _("Le formulaire a expiré : rechargez la page."))
    _result, refused = _link_action(chain_id, lambda: remove_link(link, current_user))
    if refused:
        return refused
    flash(_("« %(name)s » retiré de la chaîne.", name=name), "success")
    return _back(chain)


@bp.route("/chaines/<int:chain_id>/deplacer", methods=["POST"])
@permission_required(can_manage_chains)
def chain_move(chain_id: int):
    chain = db.get_or_404(Chain, chain_id)
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400, _("Sens de déplacement inconnu."))
    with service_call(stale=_raced()) as outcome:
        moved = move_chain(chain, form.direction.data, current_user)
    if not outcome.ok:
        abort(outcome.status, outcome.error)
    if not moved:
        flash(_("Cette chaîne est déjà à cette extrémité de la liste."), "info")
    return redirect(url_for("directory.chain_index"))


@bp.route("/chaines/<int:chain_id>/supprimer", methods=["GET", "POST"])
@permission_required(can_manage_chains)
def chain_delete(chain_id: int):
    chain = _load_chain(chain_id)
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("app/directory/chain_delete.html", chain=chain, form=form), 400
        name = chain.name
        with service_call(stale=_raced()) as outcome:
            delete_chain(chain, current_user)
        if isinstance(outcome.exception, StaleDataError):
            return render_edit(_load_chain(chain_id), 409, _raced())
        if not outcome.ok:
            abort(outcome.status, outcome.error)
        flash(_("Chaîne « %(name)s » supprimée.", name=name), "success")
        return redirect(url_for("directory.chain_index"))
    return render_template("app/directory/chain_delete.html", chain=chain, form=form)
