"""The public directory (/annuaire) and the thematic chains, for visitors without an account.

Privacy by construction:

- only organisations that are ``active`` AND gave their ``public_listing`` consent appear, on every
  page (list, card, logo, chain paths) — :func:`listed` is the one filter;
- organisations are loaded with ``load_only(PUBLIC_COLUMNS, raiseload=True)``: SIRET, VAT number,
  IBAN, BIC, address… are never read from the database here, and touching them would raise;
- templates never receive an ORM object, only :class:`PublicActor` values, whose contacts are
  ``None`` unless the actor chose ``show_contact_publicly``.

In a chain, an actor that is active but did not consent is shown as "un acteur du réseau" (no name,
no link, no note: the path stays continuous without saying who); an inactive actor is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint, abort, make_response, render_template, request
from sqlalchemy.orm import load_only, selectinload

from app.extensions import db
from app.models import Category, Chain, ChainLink, Organisation, organisation_categories
from app.parsing import page_number

bp = Blueprint("public", __name__)

PER_PAGE = 24

#: The only columns of an organisation the public pages read (contacts are dropped without consent).
PUBLIC_COLUMNS = (
    Organisation.id,
    Organisation.slug,
    Organisation.name,
    Organisation.description,
    Organisation.commune,
    Organisation.qpv_name,
    Organisation.website,
    Organisation.active,
    Organisation.public_listing,
    Organisation.show_contact_publicly,
    Organisation.contact_name,
    Organisation.email,
    Organisation.phone,
)

#: Logos served to the public: raster images only (an SVG can carry scripts).
LOGO_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


@dataclass(frozen=True)
class PublicActor:
    """What the public may see of one organisation."""

    slug: str
    name: str
    description: str
    #: (code, name) of its categories, in the categories' order.
    categories: tuple[tuple[str, str], ...]
    commune: str
    #: The priority neighbourhood (QPV) it sits in, if any.
    neighbourhood: str | None
    website: str | None
    has_logo: bool = False
    contact_name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class PathStep:
    """One step of a public chain; ``actor`` is None for an actor that chose not to be listed."""

    actor: PublicActor | None
    note: str | None


@dataclass(frozen=True)
class PublicChain:
    slug: str
    name: str
    description: str
    steps: tuple[PathStep, ...]


def listed():
    """The public-listing condition, for every query of this module."""
    return sa.and_(Organisation.active.is_(True), Organisation.public_listing.is_(True))


def _is_listed(organisation: Organisation) -> bool:
    return bool(organisation.active and organisation.public_listing)


def _public_options():
    return (
        load_only(*PUBLIC_COLUMNS, raiseload=True),
        selectinload(Organisation.categories).load_only(Category.code, Category.name, Category.position),
    )


def _safe_website(url: str | None) -> str | None:
    """Only http(s) links are clickable (a ``javascript:`` URL would run in the visitor's browser)."""
    url = (url or "").strip()
    return url if url.lower().startswith(("http://", "https://")) else None


def public_actor(organisation: Organisation, has_logo: bool = False) -> PublicActor:
    show_contact = bool(organisation.show_contact_publicly)
    return PublicActor(
        slug=organisation.slug,
        name=organisation.name,
        description=organisation.description or "",
        categories=tuple((c.code, c.name) for c in organisation.categories),
        commune=organisation.commune or "",
        neighbourhood=organisation.qpv_name or None,
        website=_safe_website(organisation.website),
        has_logo=has_logo,
        contact_name=organisation.contact_name if show_contact else None,
        email=organisation.email if show_contact else None,
        phone=organisation.phone if show_contact else None,
    )


def _with_logo(ids: list[int]) -> set[int]:
    """Which of ``ids`` have a logo (one query, without loading the images)."""
    if not ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(Organisation.id).where(Organisation.id.in_(ids), Organisation.logo.is_not(None))
        )
    )


def _listed_or_404(slug: str) -> Organisation:
    return db.first_or_404(
        sa.select(Organisation).where(Organisation.slug == slug, listed()).options(*_public_options())
    )


def _steps(chain: Chain) -> tuple[PathStep, ...]:
    steps = []
    for link in chain.links:
        organisation = link.organisation
        if not organisation.active:
            continue
        if _is_listed(organisation):
            steps.append(PathStep(public_actor(organisation), link.note))
        else:
            steps.append(PathStep(None, None))
    return tuple(steps)


def _published_chains(*conditions) -> list[PublicChain]:
    chains = db.session.scalars(
        sa.select(Chain)
        .where(Chain.published.is_(True), *conditions)
        .order_by(Chain.position, Chain.id)
        .options(selectinload(Chain.links).selectinload(ChainLink.organisation).options(*_public_options()))
    ).all()
    return [PublicChain(c.slug, c.name, c.description, _steps(c)) for c in chains]


# --- the directory -------------------------------------------------------------------------------


@bp.route("/annuaire")
def directory():
    category_code = (request.args.get("categorie") or "").strip()[:40] or None
    commune = (request.args.get("commune") or "").strip()[:120] or None

    query = sa.select(Organisation).where(listed()).options(*_public_options())
    if category_code:
        query = query.where(
            sa.exists()
            .where(organisation_categories.c.organisation_id == Organisation.id)
            .where(organisation_categories.c.category_id == Category.id)
            .where(Category.code == category_code)
        )
    if commune:
        query = query.where(Organisation.commune == commune)
    query = query.order_by(Organisation.name, Organisation.id)
    page = db.paginate(query, page=page_number(request.args), per_page=PER_PAGE, error_out=False)
    logos = _with_logo([o.id for o in page.items])
    actors = [public_actor(o, o.id in logos) for o in page.items]

    # The filters only offer values that lead somewhere.
    categories = db.session.execute(
        sa.select(Category.code, Category.name)
        .where(
            sa.exists()
            .where(organisation_categories.c.category_id == Category.id)
            .where(organisation_categories.c.organisation_id == Organisation.id)
            .where(listed())
        )
        .order_by(Category.position, Category.name)
    ).all()
    communes = db.session.scalars(
        sa.select(Organisation.commune)
        .where(listed(), Organisation.commune != "")
        .distinct()
        .order_by(Organisation.commune)
    ).all()
    category_name = next((name for code, name in categories if code == category_code), None)
    return render_template(
        "public/directory.html",
        actors=actors,
        page=page,
        categories=categories,
        communes=communes,
        category_code=category_code,
        category_name=category_name,
        commune=commune,
    )


@bp.route("/annuaire/<slug>")
def organisation(slug: str):
    organisation = _listed_or_404(slug)
    actor = public_actor(organisation, bool(_with_logo([organisation.id])))
    chains = _published_chains(
        sa.exists().where(ChainLink.chain_id == Chain.id).where(ChainLink.organisation_id == organisation.id)
    )
    return render_template("public/organisation.html", actor=actor, chains=chains)


@bp.route("/annuaire/<slug>/logo")
def organisation_logo(slug: str):
    row = db.session.execute(
        sa.select(Organisation.logo, Organisation.logo_mime).where(Organisation.slug == slug, listed())
    ).first()
    if row is None or not row.logo or row.logo_mime not in LOGO_TYPES:
        abort(404)
    response = make_response(row.logo)
    response.mimetype = row.logo_mime
    response.headers["Content-Disposition"] = "inline"
    # Short: a withdrawn consent must take effect quickly.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# --- the chains ----------------------------------------------------------------------------------


@bp.route("/annuaire/chaines")
def chain_list():
    return render_template("public/chain_list.html", chains=_published_chains())


@bp.route("/annuaire/chaines/<slug>")
def chain(slug: str):
    chains = _published_chains(Chain.slug == slug)
    if not chains:
        abort(404)
    return render_template("public/chain.html", chain=chains[0])
