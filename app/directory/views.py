"""Directory views for staff and actors: the list with its filters, cards, categories.

- the list and the cards: coordination, treasury and admin read them; coordination and admin edit them;
- ``/ma-fiche``: an actor edits the descriptive part of its own card;
- ``/categories``: coordination and admin manage the categories and their default VAT rates.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import defer, selectinload

from app.auth import authenticated_required, permission_required
from app.directory.forms import CardForm, CategoryForm, OrganisationForm, changed_fields
from app.directory.panels import panels_for
from app.directory.permissions import (
    can_edit_directory,
    can_edit_own_card,
    can_manage_chains,
    can_view_directory,
    can_view_logo,
)
from app.directory.search import DirectoryQuery, filter_choices, search_directory
from app.directory.services import (
    IDENTITY_FIELDS,
    LOGO_FORMATS,
    DuplicateOrganisation,
    create_category,
    create_organisation,
    find_by_siret,
    update_category,
    update_organisation,
    update_own_card,
)
from app.directory.validation import territory_warning
from app.extensions import db
from app.locking import check_version
from app.models import Category, Organisation, organisation_categories
from app.web import service_call

bp = Blueprint("directory", __name__)

# --- helpers -------------------------------------------------------------------------------------


def _all_categories() -> list[Category]:
    return list(db.session.scalars(sa.select(Category).order_by(Category.position, Category.name)))


def _load_card(organisation_id: int) -> Organisation:
    """The card with its categories; the logo bytes stay in the database (served by their own URL)."""
    return db.first_or_404(
        sa.select(Organisation)
        .where(Organisation.id == organisation_id)
        .options(selectinload(Organisation.categories), defer(Organisation.logo))
    )


def _logo_not_kept() -> bool:
    """A file was chosen but the form is shown again: browsers cannot refill a file input."""
    upload = request.files.get("logo")
    return bool(upload and upload.filename)


def _conflict(form, current_form, organisation: Organisation) -> dict:
    """After a stale form: keep the user's input, list the stored values, take the current version."""
    rows = changed_fields(form, current_form)
    form.version_id.data = organisation.version_id
    return {"conflict": rows}


def _raced_card() -> str:
    return _("Quelqu'un a enregistré cette fiche au même instant : vérifiez et recommencez.")


def _saved(organisation: Organisation, message: str) -> None:
    flash(message, "success")
    warning = territory_warning(organisation.commune, organisation.postal_code)
    if warning:
        flash(warning, "warning")


# --- list and card -------------------------------------------------------------------------------


@bp.route("/acteurs")
@permission_required(can_view_directory)
def organisation_list():
    query = DirectoryQuery.from_args(request.args)
    choices = filter_choices()
    page = search_directory(query, choices["categories"])
    return render_template(
        "app/directory/organisation_list.html",
        page=page,
        query=query,
        choices=choices,
        can_edit=can_edit_directory(current_user),
        territory_warning=territory_warning,
    )


@bp.route("/acteurs/<int:organisation_id>")
@permission_required(can_view_directory)
def organisation_detail(organisation_id: int):
    organisation = _load_card(organisation_id)
    return render_template(
        "app/directory/organisation_detail.html",
        organisation=organisation,
        warning=territory_warning(organisation.commune, organisation.postal_code),
        panels=panels_for(organisation, current_user),
        can_edit=can_edit_directory(current_user),
    )


@bp.route("/acteurs/<int:organisation_id>/logo")
@authenticated_required
def organisation_logo(organisation_id: int):
    if not can_view_logo(current_user, organisation_id):
        abort(403)
    row = db.session.execute(
        sa.select(Organisation.logo, Organisation.logo_mime).where(Organisation.id == organisation_id)
    ).first()
    if row is None or row.logo is None or row.logo_mime not in LOGO_FORMATS.values():
        abort(404)
    response = make_response(row.logo)
    response.mimetype = row.logo_mime
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.add_etag()
    return response.make_conditional(request)


# --- create and edit (coordination) --------------------------------------------------------------


def _render_form(form, organisation, status, error=None, existing=None, **extra):
    return (
        render_template(
            "app/directory/organisation_form.html",
            form=form,
            organisation=organisation,
            error=error,
            existing=existing,
            logo_not_kept=status != 200 and _logo_not_kept(),
            **extra,
        ),
        status,
    )


def _siret_taken(form, exclude_id: int | None = None):
    """The unique index refused a SIRET saved by someone else at the same instant."""
    existing = find_by_siret(form.siret.data, exclude_id=exclude_id)
    if existing is None:
        return None, _("L'enregistrement a été refusé : une autre fiche vient d'être enregistrée. Réessayez.")
    form.siret.errors = [*form.siret.errors, _("Ce SIRET vient d'être enregistré pour une autre fiche.")]
    return existing, None


@bp.route("/acteurs/nouveau", methods=["GET", "POST"])
@permission_required(can_edit_directory)
def organisation_new():
    form = OrganisationForm().set_categories(_all_categories())
    if request.method == "GET":
        return _render_form(form, None, 200)
    if not form.validate_on_submit():
        return _render_form(form, None, 400)
    with service_call(form, unique=True) as outcome:
        organisation = create_organisation(
            form.to_identity(), form.to_card(), current_user, logo=form.uploaded_logo
        )
    if isinstance(outcome.exception, DuplicateOrganisation):
        return _render_form(form, None, 409, existing=outcome.exception.existing)
    if outcome.duplicate:
        existing, error = _siret_taken(form)
        return _render_form(form, None, 409, error=error, existing=existing)
    if not outcome.ok:
        return _render_form(form, None, outcome.status, error=outcome.error)
    _saved(organisation, _("Fiche « %(name)s » créée.", name=organisation.name))
    return redirect(url_for("directory.organisation_detail", organisation_id=organisation.id))


@bp.route("/acteurs/<int:organisation_id>/modifier", methods=["GET", "POST"])
@permission_required(can_edit_directory)
def organisation_edit(organisation_id: int):
    organisation = _load_card(organisation_id)
    categories = _all_categories()
    form = OrganisationForm().set_categories(categories, organisation.categories)
    if request.method == "GET":
        return _render_form(form.fill(organisation), organisation, 200)
    if not form.validate_on_submit():
        return _render_form(form, organisation, 400)
    with service_call(form, stale=_raced_card(), unique=True) as outcome:
        check_version(organisation, form.version_id.data)
        changes = update_organisation(
            organisation,
            form.to_identity(),
            form.to_card(),
            current_user,
            logo=form.uploaded_logo,
            remove_logo=bool(form.remove_logo.data),
        )
    if isinstance(outcome.exception, DuplicateOrganisation):
        return _render_form(form, organisation, 409, existing=outcome.exception.existing)
    if outcome.conflict:
        current = OrganisationForm(formdata=None).set_categories(categories, organisation.categories)
        extra = _conflict(form, current.fill(organisation), organisation)
        return _render_form(form, organisation, 409, error=outcome.error, **extra)
    if outcome.duplicate:
        existing, error = _siret_taken(form, exclude_id=organisation_id)
        return _render_form(form, organisation, 409, error=error, existing=existing)
    if not outcome.ok:
        return _render_form(form, organisation, outcome.status, error=outcome.error)
    _saved(organisation, _("Fiche enregistrée.") if changes else _("Aucune modification."))
    return redirect(url_for("directory.organisation_detail", organisation_id=organisation.id))


# --- an actor's own card -------------------------------------------------------------------------


def _render_my_card(form, organisation, status, error=None, **extra):
    return (
        render_template(
            "app/directory/my_card.html",
            form=form,
            organisation=organisation,
            warning=territory_warning(organisation.commune, organisation.postal_code),
            error=error,
            logo_not_kept=status != 200 and _logo_not_kept(),
            **extra,
        ),
        status,
    )


@bp.route("/ma-fiche", methods=["GET", "POST"])
@permission_required(can_edit_own_card)
def my_card():
    organisation = _load_card(current_user.organisation_id)
    categories = _all_categories()
    form = CardForm().set_categories(categories, organisation.categories)
    if request.method == "GET":
        return _render_my_card(form.fill(organisation), organisation, 200)
    if any(name in request.form for name in IDENTITY_FIELDS):
        # The page has no such field: a hand-made request. Refuse it whole rather than save half of it.
        form.validate_on_submit()
        error = _(
            "L'identité légale de votre organisation (nom, forme juridique, SIRET, TVA, adresse, "
            "quartier, coordonnées bancaires, statut) est tenue par la coordination : rien n'a été "
            "enregistré. Écrivez-lui pour la faire modifier."
        )
        return _render_my_card(form, organisation, 403, error=error)
    if not form.validate_on_submit():
        return _render_my_card(form, organisation, 400)
    with service_call(form, stale=_raced_card()) as outcome:
        check_version(organisation, form.version_id.data)
        changes = update_own_card(
            organisation,
            form.to_card(),
            current_user,
            logo=form.uploaded_logo,
            remove_logo=bool(form.remove_logo.data),
        )
    if outcome.conflict:
        current = CardForm(formdata=None).set_categories(categories, organisation.categories)
        extra = _conflict(form, current.fill(organisation), organisation)
        return _render_my_card(form, organisation, 409, error=outcome.error, **extra)
    if not outcome.ok:
        return _render_my_card(form, organisation, outcome.status, error=outcome.error)
    flash(_("Votre fiche est enregistrée.") if changes else _("Aucune modification."), "success")
    return redirect(url_for("directory.my_card"))


# --- categories ----------------------------------------------------------------------------------


def _render_categories(form, status):
    categories = _all_categories()
    if request.method == "GET":
        form.position.data = max((c.position for c in categories), default=0) + 1
    counts = dict(
        db.session.execute(
            sa.select(organisation_categories.c.category_id, sa.func.count()).group_by(
                organisation_categories.c.category_id
            )
        ).all()
    )
    return (
        render_template("app/directory/category_list.html", form=form, categories=categories, counts=counts),
        status,
    )


@bp.route("/categories", methods=["GET", "POST"])
@permission_required(can_edit_directory)
def category_list():
    form = CategoryForm()
    if request.method == "GET":
        return _render_categories(form, 200)
    if not form.validate_on_submit():
        return _render_categories(form, 400)
    with service_call(form) as outcome:
        category = create_category(form.to_fields(), current_user)
    if not outcome.ok:
        if outcome.error:
            flash(outcome.error, "danger")
        return _render_categories(form, outcome.status)
    flash(_("Catégorie « %(name)s » créée.", name=category.name), "success")
    return redirect(url_for("directory.category_list"))


@bp.route("/categories/<int:category_id>/modifier", methods=["GET", "POST"])
@permission_required(can_edit_directory)
def category_edit(category_id: int):
    category = db.get_or_404(Category, category_id)
    form = CategoryForm()
    status, error, extra = 200, None, {}
    if request.method == "GET":
        form.fill(category)
    elif form.validate_on_submit():
        raced = _("Quelqu'un a enregistré cette catégorie au même instant : vérifiez et recommencez.")
        with service_call(form, stale=raced) as outcome:
            check_version(category, form.version_id.data)
            changes = update_category(category, form.to_fields(), current_user)
        if not outcome.ok:
            error, status = outcome.error, outcome.status
            if outcome.conflict:
                form.code.data = category.code
                current = CategoryForm(formdata=None).fill(category)
                extra = {"conflict": changed_fields(form, current)}
                form.version_id.data = category.version_id
        else:
            flash(
                _("Catégorie « %(name)s » enregistrée.", name=category.name)
                if changes
                else _("Aucune modification."),
                "success",
            )
            return redirect(url_for("directory.category_list"))
    else:
        status = 400
    form.code.data = category.code  # the code never changes: it is how the category is looked up
    return (
        render_template(
            "app/directory/category_form.html", form=form, category=category, error=error, **extra
        ),
        status,
    )


@bp.route("/chaines")
@permission_required(can_manage_chains)
def chain_list():
    return render_template("errors/error.html", code=200, title="Chaînes", message="…")
