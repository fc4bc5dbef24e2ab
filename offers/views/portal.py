"""The actor portal: an actor's invitations and lots (its own organisation's only), its one-shot
answer, and its own lines once it accepted, until the quote is sent.

403 for another organisation's assignment or line, or a line of a lot the actor did not accept;
404 for an unknown id (and for an assignment not yet turned into an invitation).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import actor_required, is_actor_of
from app.db import utcnow
from app.extensions import db
from app.locking import check_version
from app.parsing import page_number
from app.web import service_call
from offers import pricing
from offers.forms.portal import AnswerForm, PortalLineDeleteForm, PortalLineForm
from offers.models import Assignment, AssignmentStatus, Line
from offers.permissions import accepted_assignment, can_edit_line, can_see_assignment
from offers.services.events import answer_deadline
from offers.services.lines import (
    create_line,
    delete_line,
    lines_locked,
    locked_message,
    update_line,
)
from offers.services.portal import (
    answer_assignment,
    answer_refusal,
    own_lines,
    own_net,
    portal_list,
)
from offers.views import bp, pricing_context
from offers.views.events import conflict_context

# --- loading with the portal's permissions -------------------------------------------------------


def _own_assignment(assignment_id: int) -> Assignment:
    assignment = db.get_or_404(Assignment, assignment_id)
    if not can_see_assignment(current_user, assignment):
        # Another organisation's: 403; its own, only proposed (the coordination's draft): 404.
        abort(404 if is_actor_of(current_user, assignment.organisation_id) else 403)
    return assignment


def _own_line(line_id: int) -> tuple[Line, Assignment]:
    """A line of the actor's organisation on a lot it accepted (else 403)."""
    line = db.get_or_404(Line, line_id)
    if not can_edit_line(current_user, line):
        abort(403)
    return line, accepted_assignment(line.lot, current_user.organisation_id)


def _back(assignment: Assignment):
    return redirect(url_for("offers.portal_assignment", assignment_id=assignment.id, _anchor="lignes"))


def _detail(
    assignment: Assignment, status: int = 200, error: str | None = None, answer_form=None, line_form=None
):
    """The assignment's page; re-rendered with ``error`` when an action was refused."""
    lot = assignment.lot
    event = lot.event
    now = utcnow()
    locked = lines_locked(event)
    accepted = assignment.status == AssignmentStatus.ACCEPTED
    lines = own_lines(assignment)
    partners = [
        a
        for a in lot.assignments
        if a.status == AssignmentStatus.ACCEPTED and a.organisation_id != assignment.organisation_id
    ]
    return (
        render_template(
            "offers/portal_assignment.html",
            assignment=assignment,
            lot=lot,
            event=event,
            deadline=answer_deadline(lot, event),
            refusal=answer_refusal(assignment, now)
            if assignment.status == AssignmentStatus.INVITED
            else None,
            answer_form=answer_form or AnswerForm(),
            line_form=line_form or _line_form(assignment, formdata=None),
            lines=lines,
            net=own_net(assignment),
            mention=next(
                (
                    p.mention
                    for p in (pricing_context().line(event, line, lot) for line in lines)
                    if p.mention
                ),
                None,
            ),
            partners=partners,
            locked=locked_message() if locked else None,
            can_edit_lines=accepted and not locked and lot.status.value == "open",
            error=error,
        ),
        status,
    )


# --- pages ---------------------------------------------------------------------------------------


@bp.route("/portail/lots")
@actor_required
def portal_lots():
    entries = portal_list(current_user.organisation_id, page=page_number(request.args))
    return render_template("offers/portal_lots.html", entries=entries, now=utcnow())


@bp.route("/portail/affectations/<int:assignment_id>")
@actor_required
def portal_assignment(assignment_id: int):
    return _detail(_own_assignment(assignment_id))


@bp.route("/portail/affectations/<int:assignment_id>/reponse", methods=["POST"])
@actor_required
def portal_answer(assignment_id: int):
    assignment = _own_assignment(assignment_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        return _detail(
            assignment, 400, _("Votre réponse n'a pas pu être lue : vérifiez le commentaire."), form
        )
    if form.accept.data == form.decline.data:
        return _detail(assignment, 400, _("Choisissez « J'accepte » ou « Je décline »."), form)
    accept = bool(form.accept.data)
    with service_call() as outcome:
        answer_assignment(assignment, current_user, accept=accept, comment=form.comment.data or "")
    if not outcome.ok:
        return _detail(assignment, outcome.status, outcome.error, form)
    if accept:
        flash(_("Merci : vous avez accepté ce lot. Indiquez maintenant vos lignes chiffrées."), "success")
        return _back(assignment)
    flash(_("Votre refus est enregistré ; la coordination est prévenue. Merci d'avoir répondu."), "success")
    return redirect(url_for("offers.portal_lots"))


# --- the actor's own lines -----------------------------------------------------------------------


def _line_form(assignment: Assignment, **kwargs) -> PortalLineForm:
    """The actor's line form: a rate to pick when its line's seller is subject to VAT."""
    lot = assignment.lot
    seller = pricing_context().seller(lot.event, assignment.organisation)
    category_default = pricing.category_rate(lot)
    rates = pricing.allowed_rates(seller, category_default, zero=False) if seller.subject else []
    return PortalLineForm(rates=rates, default=pricing.default_rate(seller, category_default), **kwargs)


def _line_page(assignment, form, line, status, error=None, **extra):
    event = assignment.lot.event
    return (
        render_template(
            "offers/portal_line_form.html",
            assignment=assignment,
            lot=assignment.lot,
            event=event,
            form=form,
            line=line,
            locked=locked_message() if lines_locked(event) else None,
            error=error,
            **extra,
        ),
        status,
    )


@bp.route("/portail/affectations/<int:assignment_id>/lignes/nouvelle", methods=["GET", "POST"])
@actor_required
def portal_line_new(assignment_id: int):
    assignment = _own_assignment(assignment_id)
    if assignment.status != AssignmentStatus.ACCEPTED:
        abort(403)
    form = _line_form(assignment)
    status, error = 200, None
    if request.method == "POST":
        if form.validate_on_submit():
            with service_call(form) as outcome:
                line = create_line(assignment.lot, form.to_fields(), current_user)
            if outcome.ok:
                flash(_("Ligne « %(line)s » ajoutée.", line=line.description), "success")
                return _back(assignment)
            error, status = outcome.error, outcome.status
        else:
            status = 400
    elif lines_locked(assignment.lot.event):
        status = 409
    return _line_page(assignment, form, None, status, error)


@bp.route("/portail/lignes/<int:line_id>/modifier", methods=["GET", "POST"])
@actor_required
def portal_line_edit(line_id: int):
    line, assignment = _own_line(line_id)
    form = _line_form(assignment)
    status, error, extra = 200, None, {}
    if request.method == "GET":
        form.fill(line, pricing_context().line(assignment.lot.event, line).rate)
        if lines_locked(assignment.lot.event):
            status = 409
    elif form.validate_on_submit():
        raced = _("Quelqu'un a enregistré cette ligne au même instant : vérifiez et recommencez.")
        with service_call(form, stale=raced) as outcome:
            check_version(line, form.version_id.data)
            changes = update_line(line, form.to_fields(), current_user)
        if outcome.ok:
            flash(_("Ligne enregistrée.") if changes else _("Aucune modification."), "success")
            return _back(assignment)
        error, status = outcome.error, outcome.status
        if outcome.conflict:
            current = _line_form(assignment, formdata=None)
            extra = conflict_context(
                form, current.fill(line, pricing_context().line(assignment.lot.event, line).rate), line
            )
    else:
        status = 400
    return _line_page(assignment, form, line, status, error, **extra)


@bp.route("/portail/lignes/<int:line_id>/supprimer", methods=["POST"])
@actor_required
def portal_line_delete(line_id: int):
    line, assignment = _own_line(line_id)
    form = PortalLineDeleteForm()
    if not form.validate_on_submit():
        return _detail(assignment, 400, _("Formulaire incomplet : rechargez la page."))
    description = line.description
    changed = _(
        "Cette ligne a été modifiée entre-temps : vérifiez ses nouvelles valeurs avant de la supprimer."
    )
    with service_call(stale=changed) as outcome:
        check_version(line, form.version_id.data)
        delete_line(line, current_user)
    if outcome.conflict:
        return _detail(assignment, 409, changed)
    if not outcome.ok:
        return _detail(assignment, outcome.status, outcome.error)
    flash(_("Ligne « %(line)s » supprimée.", line=description), "success")
    return _back(assignment)
