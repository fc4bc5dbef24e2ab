"""Assignments from the coordination's side: the lot's suggestions page, putting actors on a lot,
invitations and reminders, withdrawing and removing, and the page of answers still awaited.

Also the template helpers of the assignments partial (``templates/offers/_lot_assignments.html``,
included once per lot on the event page): the top suggestions of the lots that need someone and
which organisations have an actor account, each computed once per event and request so the event
page keeps a constant number of queries.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm import defer, selectinload

from app.auth import coordination_required, permission_required, staff_required
from app.auth.services import safe_next_path
from app.db import utcnow
from app.extensions import db
from app.models import Organisation
from app.models.parties import organisation_categories
from app.parsing import id_filter
from app.settings_store import set_setting
from app.web import Outcome, service_call
from offers.forms.assignments import (
    ROLE_CHOICES,
    AssignmentActionForm,
    AssignmentAddForm,
    MatchingWeightsForm,
)
from offers.models import Assignment, AssignmentStatus, Event, Lot
from offers.permissions import can_edit_event, can_tune_matching, can_view_event
from offers.services.assignments import (
    CLOSED_EVENT_STATUSES,
    NoActorAccount,
    add_assignments,
    invitable,
    invite,
    invite_all,
    organisations_with_accounts,
    pending_answers,
    remind,
    remove,
    withdraw,
)
from offers.services.matching import (
    WEIGHTS_SETTING,
    matching_weights,
    needs_someone,
    sort_name,
    suggest,
    suggest_for_lots,
)
from offers.views import bp
from offers.views.events import render_detail
from offers.views.lots import back_to_lot, render_lot

#: Suggestions shown inline on the event page for a lot that needs someone.
INLINE_SUGGESTIONS = 3
#: Results of the search field on the suggestions page.
SEARCH_LIMIT = 20

# --- helpers for the partial ---------------------------------------------------------------------


def _cache() -> dict:
    if "_offers_assignments" not in g:
        g._offers_assignments = {"suggestions": {}, "accounts": {}, "weights": None}
    return g._offers_assignments


@bp.app_template_global("lot_suggestions")
def lot_suggestions(lot: Lot) -> list:
    """The top suggestions for ``lot`` when it needs someone (else ``[]``), in one query (two when
    the page did not read the weights with its rows: :func:`remember_weights`)."""
    if lot.event.is_frozen or not needs_someone(lot):
        return []
    cache = _cache()["suggestions"]
    if lot.id not in cache:
        weights = _cache()["weights"]
        cache[lot.id] = suggest_for_lots([lot], weights=weights, limit=INLINE_SUGGESTIONS).get(lot.id, [])
    return cache[lot.id]


@bp.app_template_global("has_actor_account")
def has_actor_account(lot: Lot, organisation_id: int) -> bool:
    """Whether the organisation has an active actor user (one query per lot and request)."""
    cache = _cache()["accounts"]
    if lot.id not in cache:
        cache[lot.id] = organisations_with_accounts({a.organisation_id for a in lot.assignments})
    return organisation_id in cache[lot.id]


def remember_weights(stored) -> None:
    """The matching's weights for this request's suggestions, from the setting as the caller read
    it with its own rows (``offers.services.matching.stored_weights_sql``)."""
    _cache()["weights"] = matching_weights(stored)


def remember_accounts(lot: Lot, organisation_ids) -> None:
    """What :func:`has_actor_account` answers for ``lot``'s actors in this request, read by the
    caller with the actors (``offers.services.assignments.has_account_sql``)."""
    _cache()["accounts"][lot.id] = set(organisation_ids)


@bp.app_template_global("lot_needs_someone")
def lot_needs_someone(lot: Lot) -> bool:
    return needs_someone(lot)


@bp.app_template_global("days_waiting")
def days_waiting(since) -> int:
    if since is None:
        return 0
    return max((utcnow() - since).days, 0)


@bp.app_template_global("is_past")
def is_past(moment) -> bool:
    return moment is not None and moment < utcnow()


@bp.app_template_global("assignment_roles")
def assignment_roles() -> list:
    return ROLE_CHOICES


# --- loading -------------------------------------------------------------------------------------


def _lot(lot_id: int, edit: bool) -> Lot:
    lot = db.get_or_404(Lot, lot_id)
    allowed = can_edit_event if edit else can_view_event
    if not allowed(current_user, lot.event):
        abort(403)
    return lot


def _assignment(assignment_id: int) -> Assignment:
    assignment = db.get_or_404(Assignment, assignment_id)
    if not can_edit_event(current_user, assignment.lot.event):
        abort(403)
    return assignment


def _back(lot: Lot):
    """Back where the button was: the pending-answers page when it says so, else the lot's page."""
    target = safe_next_path(request.form.get("next"))
    if target:
        return redirect(target)
    return back_to_lot(lot)


def _refused(lot: Lot, outcome: Outcome):
    """A refused button: nothing changed; the page it came from, with the French message."""
    target = safe_next_path(request.form.get("next"))
    if target and target.startswith(url_for("offers.pending_answers")):
        return _pending_page(outcome.status, outcome.error)
    return render_lot(lot.id, outcome.status, outcome.error)


def _active_organisations() -> list[Organisation]:
    return list(
        db.session.scalars(
            sa.select(Organisation)
            .where(Organisation.active.is_(True))
            .options(defer(Organisation.logo))
            .order_by(Organisation.name, Organisation.id)
        )
    )


# --- the suggestions page ------------------------------------------------------------------------


def _search(lot: Lot, query: str) -> list[tuple[Organisation, bool]]:
    """Active organisations whose name contains ``query`` (case-insensitive), not on the lot, each
    with whether it serves the lot's category (two queries)."""
    query = (query or "").strip()
    if not query:
        return []
    on_lot = {a.organisation_id for a in lot.assignments}
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found = db.session.scalars(
        sa.select(Organisation)
        .where(Organisation.active.is_(True), Organisation.name.ilike(pattern, escape="\\"))
        .options(defer(Organisation.logo))
        .order_by(Organisation.name, Organisation.id)
        .limit(SEARCH_LIMIT + len(on_lot))
    )
    results = sorted((o for o in found if o.id not in on_lot), key=lambda o: (sort_name(o.name), o.id))
    results = results[:SEARCH_LIMIT]
    if not results:
        return []
    serving = set(
        db.session.scalars(
            sa.select(organisation_categories.c.organisation_id).where(
                organisation_categories.c.category_id == lot.category_id,
                organisation_categories.c.organisation_id.in_([o.id for o in results]),
            )
        )
    )
    return [(o, o.id in serving) for o in results]


def _matching_page(lot: Lot, status: int = 200, error: str | None = None, weights_form=None):
    event = lot.event
    can_edit = can_edit_event(current_user, event)
    weights = matching_weights()
    query = request.args.get("q", "").strip()[:100]
    if weights_form is None and can_tune_matching(current_user):
        weights_form = MatchingWeightsForm(formdata=None).fill(weights)
    return (
        render_template(
            "offers/lot_matching.html",
            lot=lot,
            event=event,
            suggestions=suggest(lot, weights=weights),
            on_lot=list(lot.assignments),
            query=query,
            results=_search(lot, query),
            weights=weights,
            weights_form=weights_form,
            weights_key=WEIGHTS_SETTING,
            can_edit=can_edit and not event.is_frozen and lot.is_open,
            roles=ROLE_CHOICES,
            error=error,
        ),
        status,
    )


@bp.route("/lots/<int:lot_id>/suggestions")
@staff_required
def lot_matching(lot_id: int):
    return _matching_page(_lot(lot_id, edit=False))


@bp.route("/lots/<int:lot_id>/affectations", methods=["POST"])
@coordination_required
def assignment_add(lot_id: int):
    lot = _lot(lot_id, edit=True)
    form = AssignmentAddForm(organisations=_active_organisations())
    if not form.validate_on_submit():
        errors = [e for field in (form.organisation_id, form.role) for e in field.errors]
        if form.csrf_token.errors:
            errors.append(_("Le formulaire a expiré : rechargez la page et réessayez."))
        return _matching_page(
            lot, 400, " ".join(str(e) for e in errors) or _("Choisissez au moins un acteur.")
        )
    try:
        picks = form.picks(request.form)
    except ValueError as exc:
        return _matching_page(lot, 400, str(exc))
    with service_call() as outcome:
        created = add_assignments(lot, picks, current_user)
    if not outcome.ok:
        return _matching_page(lot, outcome.status, outcome.error)
    names = ", ".join(a.organisation.name for a in created)
    flash(
        ngettext(
            "%(names)s ajouté au lot « %(lot)s » : envoyez-lui l'invitation quand vous êtes prêt.",
            "%(names)s ajoutés au lot « %(lot)s » : envoyez-leur l'invitation quand vous êtes prêt.",
            len(created),
            names=names,
            lot=lot.title,
        ),
        "success",
    )
    return _back(lot)


@bp.route("/lots/<int:lot_id>/ponderations", methods=["POST"], endpoint="matching_weights")
@permission_required(can_tune_matching)
def matching_weights_edit(lot_id: int):
    """The admin adjusts the weights from a lot's suggestions page and sees the new order at once."""
    lot = _lot(lot_id, edit=False)
    form = MatchingWeightsForm()
    if not form.validate_on_submit():
        return _matching_page(lot, 400, _("Pondérations non enregistrées : corrigez les valeurs."), form)
    set_setting(WEIGHTS_SETTING, form.to_setting())
    db.session.commit()
    flash(_("Pondérations des suggestions enregistrées."), "success")
    return redirect(url_for("offers.lot_matching", lot_id=lot.id))


# --- invitations, reminders ----------------------------------------------------------------------


def _action_form() -> AssignmentActionForm:
    form = AssignmentActionForm()
    if not form.validate_on_submit():
        abort(400, _("Le formulaire a expiré : rechargez la page et réessayez."))
    return form


def _no_account_flash(exc: NoActorAccount) -> None:
    flash(exc.message, "warning")


@bp.route("/affectations/<int:assignment_id>/inviter", methods=["POST"])
@coordination_required
def assignment_invite(assignment_id: int):
    assignment = _assignment(assignment_id)
    lot = assignment.lot
    form = _action_form()
    with service_call() as outcome:
        result = invite(assignment, current_user, create_account=bool(form.create_account.data))
    if isinstance(outcome.exception, NoActorAccount):
        _no_account_flash(outcome.exception)
        return _back(lot)
    if not outcome.ok:
        return _refused(lot, outcome)
    if result.created_user is not None:
        flash(
            _(
                "Compte acteur créé pour %(email)s ; invitation envoyée à « %(actor)s ».",
                email=result.created_user.email,
                actor=assignment.organisation.name,
            ),
            "success",
        )
    else:
        flash(
            _(
                "Invitation envoyée à « %(actor)s » (%(emails)s).",
                actor=assignment.organisation.name,
                emails=", ".join(result.recipients),
            ),
            "success",
        )
    return _back(lot)


def _flash_invite_all(result) -> None:
    if result.created_users:
        flash(
            ngettext(
                "%(num)d compte acteur créé : %(emails)s.",
                "%(num)d comptes acteurs créés : %(emails)s.",
                len(result.created_users),
                emails=", ".join(u.email for u in result.created_users),
            ),
            "success",
        )
    if result.invited:
        flash(
            ngettext(
                "%(num)d invitation envoyée : %(names)s.",
                "%(num)d invitations envoyées : %(names)s.",
                len(result.invited),
                names=", ".join(i.assignment.organisation.name for i in result.invited),
            ),
            "success",
        )
    if result.without_account:
        flash(
            _(
                "Pas d'invitation pour %(names)s : aucun compte acteur, et pas d'adresse e-mail sur la "
                "fiche pour en créer un. Ajoutez-la sur la fiche, puis invitez à nouveau.",
                names=", ".join(a.organisation.name for a in result.without_account),
            ),
            "warning",
        )


@bp.route("/lots/<int:lot_id>/inviter-tous", methods=["POST"])
@coordination_required
def lot_invite_all(lot_id: int):
    lot = _lot(lot_id, edit=True)
    form = _action_form()
    with service_call() as outcome:
        result = invite_all(
            list(lot.assignments), current_user, create_accounts=bool(form.create_account.data)
        )
    if not outcome.ok:
        return _refused(lot, outcome)
    _flash_invite_all(result)
    return _back(lot)


@bp.route("/evenements/<int:event_id>/inviter-tous", methods=["POST"])
@coordination_required
def event_invite_all(event_id: int):
    event = db.first_or_404(
        sa.select(Event)
        .where(Event.id == event_id)
        .options(selectinload(Event.lots).selectinload(Lot.assignments))
    )
    if not can_edit_event(current_user, event):
        abort(403)
    form = _action_form()
    with service_call() as outcome:
        result = invite_all(
            invitable(event.lots), current_user, create_accounts=bool(form.create_account.data)
        )
    if not outcome.ok:
        return render_detail(event.id, outcome.status, outcome.error)
    _flash_invite_all(result)
    return redirect(url_for("offers.event_detail", event_id=event.id))


@bp.route("/affectations/<int:assignment_id>/relancer", methods=["POST"])
@coordination_required
def assignment_remind(assignment_id: int):
    assignment = _assignment(assignment_id)
    lot = assignment.lot
    _action_form()
    with service_call() as outcome:
        recipients = remind(assignment, current_user)
    if not outcome.ok:
        return _refused(lot, outcome)
    flash(
        _(
            "Relance envoyée à « %(actor)s » (%(emails)s).",
            actor=assignment.organisation.name,
            emails=", ".join(recipients),
        ),
        "success",
    )
    return _back(lot)


# --- withdrawing, removing -----------------------------------------------------------------------


@bp.route("/affectations/<int:assignment_id>/retirer", methods=["POST"])
@coordination_required
def assignment_withdraw(assignment_id: int):
    assignment = _assignment(assignment_id)
    lot = assignment.lot
    _action_form()
    with service_call() as outcome:
        withdraw(assignment, current_user)
    if not outcome.ok:
        return _refused(lot, outcome)
    has_lines = any(line.organisation_id == assignment.organisation_id for line in lot.lines)
    message = _(
        "« %(actor)s » est retiré du lot « %(lot)s » : le lot attend un autre acteur.",
        actor=assignment.organisation.name,
        lot=lot.title,
    )
    if has_lines:
        message += " " + _("Ses lignes restent sur le lot : supprimez-les ou confiez-les à un autre acteur.")
    flash(message, "success")
    return _back(lot)


@bp.route("/affectations/<int:assignment_id>/supprimer", methods=["POST"])
@coordination_required
def assignment_remove(assignment_id: int):
    assignment = _assignment(assignment_id)
    lot = assignment.lot
    name = assignment.organisation.name
    _action_form()
    with service_call() as outcome:
        remove(assignment, current_user)
    if not outcome.ok:
        return _refused(lot, outcome)
    flash(_("« %(actor)s » n'est plus proposé sur le lot « %(lot)s ».", actor=name, lot=lot.title), "success")
    return _back(lot)


# --- answers awaited -----------------------------------------------------------------------------


def _pending_page(status: int = 200, error: str | None = None):
    events = list(
        db.session.scalars(
            sa.select(Event)
            .where(
                Event.status.not_in(CLOSED_EVENT_STATUSES),
                sa.exists().where(
                    Lot.event_id == Event.id,
                    Assignment.lot_id == Lot.id,
                    Assignment.status == AssignmentStatus.INVITED,
                ),
            )
            .order_by(Event.starts_at, Event.id)
        )
    )
    event_id = id_filter(request.args, "event_id")
    return (
        render_template(
            "offers/pending_answers.html",
            rows=pending_answers(event_id),
            event_id=event_id,
            events=events,
            can_edit=can_edit_event(current_user),
            error=error,
            here=request.full_path.rstrip("?")
            if request.method == "GET"
            else url_for("offers.pending_answers"),
        ),
        status,
    )


@bp.route("/reponses-attendues", endpoint="pending_answers")
@staff_required
def pending_answers_page():
    return _pending_page()
