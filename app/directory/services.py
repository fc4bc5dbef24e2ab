"""The actors' directory: create and edit cards (fiches), an actor's own card, categories.

Explicit arguments, ``flush()`` never commit, French :class:`app.errors.DomainError` messages, one
audit entry per change. Identifiers are checked with the ``check_*`` functions of
:mod:`app.directory.validation` (python-stdnum), here as well as in the forms: a service never trusts
its caller to have validated.

Who may change what:

- the coordination (coordinator, admin) creates cards and edits every field;
- an actor edits the descriptive part of its own card only (:data:`CARD_FIELDS`: description,
  contacts, website, logo, categories, public-listing consent); its legal identity
  (:data:`IDENTITY_FIELDS`: name, legal form, SIRET, VAT, address, QPV, bank details, active) stays
  with the coordination — an IBAN changed by whoever holds an actor's login would divert its payouts.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _

from app.audit import N_, record
from app.db import utcnow
from app.directory.permissions import can_edit_directory, is_own_card
from app.directory.validation import (
    FieldError,
    canonical_commune,
    check_bic,
    check_email,
    check_iban,
    check_postal_code,
    check_qpv_name,
    check_siret,
    check_vat_number,
    check_website,
    qpv_names,
    vat_number_for,
)
from app.errors import Conflict, Forbidden, InvalidValue
from app.extensions import db
from app.models import Category, LegalForm, Organisation, VatRegime

#: The legal identity of a card: only the coordination changes it.
IDENTITY_FIELDS = (
    "name",
    "legal_form",
    "siret",
    "vat_regime",
    "vat_number",
    "address",
    "postal_code",
    "commune",
    "qpv",
    "qpv_name",
    "iban",
    "bic",
    "active",
)

#: The descriptive part of a card: the actor edits it on its own card.
CARD_FIELDS = (
    "description",
    "contact_name",
    "email",
    "phone",
    "website",
    "public_listing",
    "show_contact_publicly",
)

SLUG_MAX = 120

#: Logos: raster formats only (an SVG can carry scripts), verified by Pillow, at most this many bytes.
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
LOGO_MAX_BYTES = 1024 * 1024
LOGO_MAX_SIDE = 4000


class InvalidOrganisationValue(InvalidValue):
    """A value a card cannot take; ``field`` names the form field the message belongs beside."""


class DuplicateOrganisation(Conflict):
    """Another card already has this SIRET; ``existing`` is that card."""

    def __init__(self, message: str, existing: Organisation):
        super().__init__(message)
        self.existing = existing
        self.field = "siret"


class InvalidCategoryValue(InvalidValue):
    """A value a business rule refuses; ``field`` names the form field it belongs beside."""


@dataclass
class IdentityFields:
    """The legal identity typed by the coordination (strings stripped, empty optional values ``None``)."""

    name: str
    legal_form: LegalForm
    siret: str
    vat_regime: VatRegime
    vat_number: str | None = None
    address: str = ""
    postal_code: str = ""
    commune: str = ""
    #: One of the priority neighbourhoods of the data file, or ``None`` (not in a QPV).
    qpv_name: str | None = None
    iban: str | None = None
    bic: str | None = None
    active: bool = True


@dataclass
class CardFields:
    """The descriptive part of a card."""

    description: str = ""
    contact_name: str | None = None
    email: str | None = None
    phone: str | None = None
    website: str | None = None
    category_ids: list[int] = field(default_factory=list)
    public_listing: bool = False
    show_contact_publicly: bool = False


@dataclass(frozen=True)
class Logo:
    """An uploaded logo, already verified by :func:`check_logo`."""

    data: bytes
    mime: str


@dataclass
class CategoryFields:
    name: str
    #: A fraction: Decimal("0.0550") for 5,5 %.
    default_vat_rate: Decimal
    position: int = 0
    active: bool = True
    #: Only on creation; derived from the name when empty. Never changed afterwards (code looks it up).
    code: str | None = None


# --- permissions ---------------------------------------------------------------------------------


def _require_editor(user) -> None:
    if not can_edit_directory(user):
        raise Forbidden(_("Seule la coordination peut créer ou modifier les fiches des acteurs."))


# --- checks --------------------------------------------------------------------------------------


def _checked(check, value, name: str, *args):
    try:
        return check(value, *args)
    except FieldError as exc:
        raise InvalidOrganisationValue(exc.message, name) from exc


def normalise_identity(fields: IdentityFields) -> IdentityFields:
    """Check and normalise the legal identity; raises :class:`InvalidOrganisationValue` naming the field."""
    if not (fields.name or "").strip():
        raise InvalidOrganisationValue(_("Indiquez le nom de l'organisation."), "name")
    fields.name = fields.name.strip()
    if not fields.siret:
        raise InvalidOrganisationValue(_("Indiquez le SIRET de l'organisation (14 chiffres)."), "siret")
    fields.siret = _checked(check_siret, fields.siret, "siret")
    siren = fields.siret[:9]
    if fields.vat_number:
        fields.vat_number = _checked(check_vat_number, fields.vat_number, "vat_number", siren)
    elif fields.vat_regime == VatRegime.SUBJECT:
        raise InvalidOrganisationValue(
            _(
                "Un acteur assujetti à la TVA a un numéro de TVA intracommunautaire "
                "(pour ce SIREN : %(expected)s).",
                expected=vat_number_for(siren),
            ),
            "vat_number",
        )
    if not (fields.address or "").strip():
        raise InvalidOrganisationValue(_("Indiquez l'adresse de l'organisation."), "address")
    fields.address = fields.address.strip()
    fields.postal_code = _checked(check_postal_code, fields.postal_code, "postal_code")
    if not (fields.commune or "").strip():
        raise InvalidOrganisationValue(_("Indiquez la commune."), "commune")
    fields.commune = canonical_commune(fields.commune)
    if fields.qpv_name:
        fields.qpv_name = _checked(check_qpv_name, fields.qpv_name, "qpv_name")
        communes = dict(qpv_names())[fields.qpv_name]
        if canonical_commune(fields.commune) not in communes:
            raise InvalidOrganisationValue(
                _(
                    "Le quartier « %(qpv)s » est à %(communes)s, pas à %(commune)s.",
                    qpv=fields.qpv_name,
                    communes=", ".join(communes),
                    commune=fields.commune,
                ),
                "qpv_name",
            )
    else:
        fields.qpv_name = None
    fields.iban = _checked(check_iban, fields.iban, "iban") if fields.iban else None
    fields.bic = _checked(check_bic, fields.bic, "bic") if fields.bic else None
    return fields


def normalise_card(fields: CardFields) -> CardFields:
    """Check the descriptive part; raises :class:`InvalidOrganisationValue` naming the field."""
    fields.description = (fields.description or "").strip()
    fields.contact_name = (fields.contact_name or "").strip() or None
    fields.phone = (fields.phone or "").strip() or None
    fields.email = _checked(check_email, fields.email.strip(), "email") if fields.email else None
    fields.website = _checked(check_website, fields.website, "website") if fields.website else None
    if fields.show_contact_publicly and not (fields.email or fields.phone):
        fields.show_contact_publicly = False
    return fields


def check_logo(data: bytes) -> Logo:
    """A PNG, JPEG or WebP image of reasonable size, verified by Pillow (the type comes from the bytes,
    never from the browser). Raises :class:`InvalidOrganisationValue` on the ``logo`` field."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InvalidOrganisationValue(_("Le fichier du logo est vide."), "logo")
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidOrganisationValue(
            _("Le logo ne doit pas dépasser %(size)s Ko.", size=LOGO_MAX_BYTES // 1024), "logo"
        )
    refused = InvalidOrganisationValue(_("Le logo doit être une image PNG, JPEG ou WebP."), "logo")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format, size = image.format, image.size
                image.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise refused from exc
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt file
        raise refused from exc
    if image_format not in LOGO_FORMATS:
        raise refused
    if max(size) > LOGO_MAX_SIDE:
        raise InvalidOrganisationValue(
            _("Le logo ne doit pas dépasser %(side)s pixels de côté.", side=LOGO_MAX_SIDE), "logo"
        )
    return Logo(data=data, mime=LOGO_FORMATS[image_format])


def _categories(ids, current: list[Category]) -> list[Category]:
    """The categories chosen, by id, in their order; an inactive one only if the card already had it."""
    wanted = set(ids or ())
    if not wanted:
        return []
    found = list(
        db.session.scalars(
            sa.select(Category).where(Category.id.in_(wanted)).order_by(Category.position, Category.name)
        )
    )
    current_ids = {c.id for c in current}
    if len(found) != len(wanted) or any(not c.active and c.id not in current_ids for c in found):
        raise InvalidOrganisationValue(_("Choisissez des catégories dans la liste."), "category_ids")
    return found


# --- duplicates and slugs ------------------------------------------------------------------------


def find_by_siret(siret: str | None, exclude_id: int | None = None) -> Organisation | None:
    if not siret:
        return None
    query = sa.select(Organisation).where(Organisation.siret == siret)
    if exclude_id is not None:
        query = query.where(Organisation.id != exclude_id)
    return db.session.scalar(query)


def _refuse_duplicate(siret: str, exclude_id: int | None = None) -> None:
    existing = find_by_siret(siret, exclude_id)
    if existing is not None:
        raise DuplicateOrganisation(
            _("Ce SIRET est déjà celui de la fiche « %(name)s ».", name=existing.name), existing
        )


def slugify(text: str) -> str:
    """``"Le Café de l'Écluse"`` → ``"le-cafe-de-l-ecluse"`` (ASCII, hyphens, at most 120 characters)."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:SLUG_MAX].rstrip("-") or "acteur"


def unique_slug(name: str) -> str:
    """A slug from the name, with ``-2``, ``-3``… when taken (one query)."""
    base = slugify(name)[: SLUG_MAX - 4].rstrip("-")
    taken = set(
        db.session.scalars(
            sa.select(Organisation.slug).where(
                sa.or_(Organisation.slug == base, Organisation.slug.like(f"{base}-%"))
            )
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


# --- create and edit -----------------------------------------------------------------------------


def _identity_values(fields: IdentityFields) -> dict:
    return {
        "name": fields.name,
        "legal_form": fields.legal_form,
        "siret": fields.siret,
        "vat_regime": fields.vat_regime,
        "vat_number": fields.vat_number,
        "address": fields.address,
        "postal_code": fields.postal_code,
        "commune": fields.commune,
        "qpv": fields.qpv_name is not None,
        "qpv_name": fields.qpv_name,
        "iban": fields.iban,
        "bic": fields.bic,
        "active": fields.active,
    }


def _card_values(fields: CardFields) -> dict:
    return {name: getattr(fields, name) for name in CARD_FIELDS}


def _apply(
    organisation: Organisation,
    values: dict,
    categories: list[Category] | None,
    logo: Logo | None,
    remove_logo: bool,
) -> dict:
    """Set what differs; returns the changes as ``{field: (before, after)}`` (logo by type only)."""
    changes = {
        name: (getattr(organisation, name), value)
        for name, value in values.items()
        if getattr(organisation, name) != value
    }
    for name, (_before, after) in changes.items():
        setattr(organisation, name, after)
    if categories is not None:
        before = [c.code for c in organisation.categories]
        after = [c.code for c in categories]
        if sorted(before) != sorted(after):
            changes["categories"] = (", ".join(before), ", ".join(after))
            organisation.categories = categories
    if logo is not None:
        if organisation.logo != logo.data:
            changes["logo"] = (organisation.logo_mime, logo.mime)
            organisation.logo, organisation.logo_mime = logo.data, logo.mime
    elif remove_logo and organisation.logo is not None:
        changes["logo"] = (organisation.logo_mime, None)
        organisation.logo, organisation.logo_mime = None, None
    if changes:
        # A change of categories alone issues no UPDATE of the row: touch it so that the version moves
        # (stale forms are detected against it) and updated_at tells when the card last changed.
        organisation.updated_at = utcnow()
    return changes


def create_organisation(
    identity: IdentityFields, card: CardFields, user, logo: Logo | None = None
) -> Organisation:
    """Create a card. Raises :class:`Forbidden`, :class:`InvalidOrganisationValue`,
    :class:`DuplicateOrganisation`."""
    _require_editor(user)
    identity = normalise_identity(identity)
    card = normalise_card(card)
    _refuse_duplicate(identity.siret)
    categories = _categories(card.category_ids, [])
    organisation = Organisation(
        slug=unique_slug(identity.name),
        **_identity_values(identity),
        **_card_values(card),
        categories=categories,
    )
    if logo is not None:
        organisation.logo, organisation.logo_mime = logo.data, logo.mime
    db.session.add(organisation)
    db.session.flush()
    record(
        "organisation.created",
        organisation,
        user=user,
        summary=N_("Fiche « %(name)s » créée", name=organisation.name),
    )
    return organisation


def update_organisation(
    organisation: Organisation,
    identity: IdentityFields,
    card: CardFields,
    user,
    logo: Logo | None = None,
    remove_logo: bool = False,
) -> dict:
    """Apply the coordination's edit form (the caller checked the version); returns what changed.

    The slug stays as created, so that public links keep working after a rename.
    Raises :class:`Forbidden`, :class:`InvalidOrganisationValue`, :class:`DuplicateOrganisation`.
    """
    _require_editor(user)
    identity = normalise_identity(identity)
    card = normalise_card(card)
    _refuse_duplicate(identity.siret, exclude_id=organisation.id)
    categories = _categories(card.category_ids, list(organisation.categories))
    values = {**_identity_values(identity), **_card_values(card)}
    changes = _apply(organisation, values, categories, logo, remove_logo)
    if changes:
        db.session.flush()
        record(
            "organisation.updated",
            organisation,
            user=user,
            summary=N_("Fiche « %(name)s » modifiée", name=organisation.name),
            changes=changes,
        )
    return changes


def update_own_card(
    organisation: Organisation,
    card: CardFields,
    user,
    logo: Logo | None = None,
    remove_logo: bool = False,
) -> dict:
    """An actor edits the descriptive part of its own card; its legal identity is not an argument.

    Raises :class:`Forbidden` (not its card) and :class:`InvalidOrganisationValue`.
    """
    if not is_own_card(user, organisation):
        raise Forbidden(_("Vous ne pouvez modifier que la fiche de votre organisation."))
    card = normalise_card(card)
    categories = _categories(card.category_ids, list(organisation.categories))
    changes = _apply(organisation, _card_values(card), categories, logo, remove_logo)
    if changes:
        db.session.flush()
        record(
            "organisation.card_updated",
            organisation,
            user=user,
            summary=N_("Fiche « %(name)s » modifiée par l'acteur", name=organisation.name),
            changes=changes,
        )
    return changes


# --- categories ----------------------------------------------------------------------------------

CATEGORY_CODE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")


def _category_code(name: str) -> str:
    return slugify(name).replace("-", "_")[:40].rstrip("_")


def _check_category(fields: CategoryFields, category: Category | None) -> None:
    fields.name = (fields.name or "").strip()
    if not fields.name:
        raise InvalidCategoryValue(_("Indiquez le nom de la catégorie."), "name")
    rate = fields.default_vat_rate
    if rate is None or rate < 0 or rate > 1:
        raise InvalidCategoryValue(
            _("Le taux de TVA doit être compris entre 0 et 100 %."), "default_vat_rate"
        )
    if rate != rate.quantize(Decimal("0.0001")):
        raise InvalidCategoryValue(
            _("Le taux de TVA s'écrit avec au plus deux décimales (ex. 5,5)."), "default_vat_rate"
        )
    fields.default_vat_rate = rate.quantize(Decimal("0.0001"))
    same_name = sa.select(Category.id).where(sa.func.lower(Category.name) == fields.name.lower())
    if category is not None:
        same_name = same_name.where(Category.id != category.id)
    if db.session.scalar(same_name) is not None:
        raise InvalidCategoryValue(_("Une catégorie porte déjà ce nom."), "name")


def create_category(fields: CategoryFields, user) -> Category:
    """Create a category. Raises :class:`Forbidden`, :class:`InvalidCategoryValue`."""
    _require_editor(user)
    _check_category(fields, None)
    code = (fields.code or "").strip().lower() or _category_code(fields.name)
    if not CATEGORY_CODE.match(code) or len(code) > 40:
        raise InvalidCategoryValue(
            _("Le code ne contient que des lettres minuscules sans accent, des chiffres et des « _ »."),
            "code",
        )
    if db.session.scalar(sa.select(Category.id).where(Category.code == code)) is not None:
        raise InvalidCategoryValue(_("Le code « %(code)s » est déjà pris.", code=code), "code")
    category = Category(
        code=code,
        name=fields.name,
        default_vat_rate=fields.default_vat_rate,
        position=fields.position,
        active=fields.active,
    )
    db.session.add(category)
    db.session.flush()
    record(
        "category.created",
        category,
        user=user,
        summary=N_("Catégorie « %(name)s » créée", name=category.name),
        changes={"default_vat_rate": (None, category.default_vat_rate)},
    )
    return category


def update_category(category: Category, fields: CategoryFields, user) -> dict:
    """Change name, default VAT rate (used for new lines only), position, active.

    Raises :class:`Forbidden`, :class:`InvalidCategoryValue`.
    """
    _require_editor(user)
    _check_category(fields, category)
    values = {
        "name": fields.name,
        "default_vat_rate": fields.default_vat_rate,
        "position": fields.position,
        "active": fields.active,
    }
    changes = {k: (getattr(category, k), v) for k, v in values.items() if getattr(category, k) != v}
    if not changes:
        return {}
    for name, (_before, after) in changes.items():
        setattr(category, name, after)
    db.session.flush()
    record(
        "category.updated",
        category,
        user=user,
        summary=N_("Catégorie « %(name)s » modifiée", name=category.name),
        changes=changes,
    )
    return changes
