"""Forms of the directory: a card (coordination), one's own card (actor), categories.

Identifiers are checked with the ``check_*`` functions of :mod:`app.directory.validation`; the
services check them again (they never trust their caller).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.directory import services
from app.directory.services import (
    CardFields,
    CategoryFields,
    IdentityFields,
    Logo,
    check_logo,
)
from app.directory.validation import (
    FieldError,
    check_bic,
    check_email,
    check_iban,
    check_postal_code,
    check_qpv_name,
    check_siret,
    check_vat_number,
    check_website,
    qpv_names,
)
from app.errors import DomainError
from app.forms import Form, PlainIntegerField
from app.i18n import lazy_gettext as _l
from app.labels import LABELS
from app.models import LegalForm, VatRegime


def strip(value):
    return value.strip() if isinstance(value, str) else value


def none_if_empty(value):
    value = strip(value)
    return value or None


def compact(value):
    """Identifiers are often typed with spaces (``123 456 789 00012``, ``FR76 3000 …``)."""
    value = none_if_empty(value)
    return re.sub(r"[\s\u00a0\u202f]+", "", value) if value else value


def _checked(check):
    """A WTForms validator from one of the directory's ``check_*`` functions (normalises the value)."""

    def validator(form, field):
        if field.data:
            try:
                field.data = check(field.data)
            except FieldError as exc:
                raise ValidationError(exc.message) from exc

    return validator


class CheckboxListField(SelectMultipleField):
    """Several choices as a list of checkboxes (categories)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        known = {value for value, *_rest in self.iter_choices()}
        if any(str(v) not in {str(k) for k in known} for v in self.data or ()):
            raise ValidationError(_("Choisissez des catégories dans la liste."))


def _legal_form_choices():
    return [(f.value, LABELS[f.value]) for f in LegalForm]


def _vat_regime_choices():
    return [(r.value, LABELS[r.value]) for r in VatRegime]


def _qpv_choices():
    return [("", _l("— Hors quartier prioritaire —"))] + [(name, name) for name, _c in qpv_names()]


class CardForm(Form):
    """The descriptive part of a card: what an actor edits on its own card."""

    description = TextAreaField(
        _l("Présentation de l'activité"), validators=[Optional(), Length(max=5000)], filters=[strip]
    )
    category_ids = CheckboxListField(_l("Catégories proposées"), coerce=int, validate_choice=False)
    contact_name = StringField(
        _l("Personne à contacter"), validators=[Optional(), Length(max=200)], filters=[none_if_empty]
    )
    email = EmailField(
        _l("E-mail"), validators=[Optional(), Length(max=254), _checked(check_email)], filters=[none_if_empty]
    )
    phone = StringField(_l("Téléphone"), validators=[Optional(), Length(max=40)], filters=[none_if_empty])
    website = StringField(
        _l("Site web"),
        validators=[Optional(), Length(max=300), _checked(check_website)],
        filters=[none_if_empty],
    )
    logo = FileField(_l("Logo ou photo (PNG, JPEG ou WebP, 1 Mo au plus)"))
    remove_logo = BooleanField(_l("Retirer le logo actuel"))
    public_listing = BooleanField(_l("Apparaître dans l'annuaire public (consentement de l'acteur)"))
    show_contact_publicly = BooleanField(_l("Montrer l'e-mail et le téléphone dans l'annuaire public"))
    version_id = HiddenField()
    submit = SubmitField(_l("Enregistrer"))

    #: Set by :meth:`validate_logo` when a file was sent and passed the checks.
    uploaded_logo: Logo | None = None

    def set_categories(self, categories, current=()) -> CardForm:
        """Offer the active categories, and the inactive ones the card already has."""
        current_ids = {c.id for c in current}
        self.category_ids.choices = [(c.id, c.name) for c in categories if c.active or c.id in current_ids]
        return self

    def validate_logo(self, field):
        upload = field.data
        if not upload or not getattr(upload, "filename", None):
            return
        data = upload.read(services.LOGO_MAX_BYTES + 1)
        try:
            self.uploaded_logo = check_logo(data)
        except DomainError as exc:
            raise ValidationError(exc.message) from exc

    def fill_card(self, organisation) -> None:
        for name in (
            "description",
            "contact_name",
            "email",
            "phone",
            "website",
            "public_listing",
            "show_contact_publicly",
        ):
            self[name].data = getattr(organisation, name)
        self.category_ids.data = [c.id for c in organisation.categories]
        self.version_id.data = organisation.version_id

    def fill(self, organisation) -> CardForm:
        self.fill_card(organisation)
        return self

    def to_card(self) -> CardFields:
        return CardFields(
            description=self.description.data or "",
            contact_name=self.contact_name.data,
            email=self.email.data,
            phone=self.phone.data,
            website=self.website.data,
            category_ids=[int(v) for v in self.category_ids.data or ()],
            public_listing=bool(self.public_listing.data),
            show_contact_publicly=bool(self.show_contact_publicly.data),
        )


class OrganisationForm(CardForm):
    """The whole card, for the coordination: legal identity, bank details, then the descriptive part."""

    name = StringField(
        _l("Nom de l'organisation"), validators=[DataRequired(), Length(max=200)], filters=[strip]
    )
    legal_form = SelectField(_l("Forme juridique"), choices=_legal_form_choices, default="association")
    siret = StringField(_l("SIRET"), validators=[DataRequired(), _checked(check_siret)], filters=[compact])
    vat_regime = SelectField(_l("Régime de TVA"), choices=_vat_regime_choices, default="subject")
    vat_number = StringField(
        _l("N° de TVA intracommunautaire"), validators=[Optional(), Length(max=20)], filters=[compact]
    )
    address = StringField(_l("Adresse"), validators=[DataRequired(), Length(max=300)], filters=[strip])
    postal_code = StringField(
        _l("Code postal"), validators=[DataRequired(), _checked(check_postal_code)], filters=[strip]
    )
    commune = StringField(_l("Commune"), validators=[DataRequired(), Length(max=120)], filters=[strip])
    qpv_name = SelectField(
        _l("Quartier prioritaire (QPV)"),
        choices=_qpv_choices,
        validators=[Optional(), _checked(check_qpv_name)],
        default="",
    )
    iban = StringField(_l("IBAN"), validators=[Optional(), _checked(check_iban)], filters=[compact])
    bic = StringField(_l("BIC"), validators=[Optional(), _checked(check_bic)], filters=[compact])
    active = BooleanField(_l("Fiche active (l'acteur peut être choisi pour des lots)"), default=True)

    def validate_vat_number(self, field):
        # An empty number for a subject actor is refused by the service, with the expected number.
        if not field.data:
            return
        siret = self.siret.data if self.siret.data and not self.siret.errors else None
        try:
            field.data = check_vat_number(field.data, siret[:9] if siret else None)
        except FieldError as exc:
            raise ValidationError(exc.message) from exc

    def fill(self, organisation) -> OrganisationForm:
        for name in ("name", "siret", "vat_number", "address", "postal_code", "commune", "iban", "bic"):
            self[name].data = getattr(organisation, name)
        self.legal_form.data = organisation.legal_form.value
        self.vat_regime.data = organisation.vat_regime.value
        self.qpv_name.data = organisation.qpv_name or ""
        self.active.data = organisation.active
        self.fill_card(organisation)
        return self

    def to_identity(self) -> IdentityFields:
        return IdentityFields(
            name=self.name.data,
            legal_form=LegalForm(self.legal_form.data),
            siret=self.siret.data,
            vat_regime=VatRegime(self.vat_regime.data),
            vat_number=self.vat_number.data,
            address=self.address.data or "",
            postal_code=self.postal_code.data or "",
            commune=self.commune.data or "",
            qpv_name=self.qpv_name.data or None,
            iban=self.iban.data,
            bic=self.bic.data,
            active=bool(self.active.data),
        )


# --- categories ----------------------------------------------------------------------------------


def parse_percent(text: str) -> Decimal:
    """``"5,5"`` or ``"5.5 %"`` → ``Decimal("0.0550")``; at most two decimals in the percentage.

    Raises :class:`ValueError` with a French message.
    """
    cleaned = (text or "").strip().replace("\u00a0", "").replace(" ", "").rstrip("%").replace(",", ".")
    if not re.fullmatch(r"[0-9]{1,3}(?:\.[0-9]+)?", cleaned):
        raise ValueError(_("Indiquez un taux en pourcentage, par exemple 20, 10 ou 5,5."))
    if "." in cleaned and len(cleaned.split(".")[1]) > 2:
        raise ValueError(_("Le taux s'écrit avec au plus deux décimales (ex. 5,5)."))
    try:
        percent = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already refused it
        raise ValueError(_("Indiquez un taux en pourcentage, par exemple 20, 10 ou 5,5.")) from exc
    if percent > 100:
        raise ValueError(_("Le taux de TVA doit être compris entre 0 et 100 %."))
    return (percent / 100).quantize(Decimal("0.0001"))


def format_percent_input(rate: Decimal | None) -> str:
    """``Decimal("0.0550")`` → ``"5,5"`` (what the field shows back)."""
    if rate is None:
        return ""
    return format((rate * 100).normalize(), "f").replace(".", ",")


class PercentField(StringField):
    """A VAT rate typed as a percentage; ``data`` is the fraction (Decimal) or None."""

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        self.data = None
        if not (self.raw or "").strip():
            return
        try:
            self.data = parse_percent(self.raw)
        except ValueError as exc:
            self.data = None
            raise ValueError(str(exc)) from exc

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return format_percent_input(self.data)


class CategoryForm(Form):
    name = StringField(_l("Nom"), validators=[DataRequired(), Length(max=120)], filters=[strip])
    code = StringField(
        _l("Code (laissé vide : tiré du nom)"),
        validators=[Optional(), Length(max=40)],
        filters=[none_if_empty],
    )
    default_vat_rate = PercentField(_l("Taux de TVA par défaut (%)"), validators=[InputRequired()])
    position = PlainIntegerField(
        _l("Ordre d'affichage"), validators=[Optional(), NumberRange(min=0, max=10000)], default=0
    )
    active = BooleanField(_l("Active (proposée pour les lots et les fiches)"), default=True)
    #: The edit form's version check (unused when creating).
    version_id = HiddenField()
    submit = SubmitField(_l("Enregistrer"))

    def fill(self, category) -> CategoryForm:
        self.version_id.data = category.version_id
        self.name.data = category.name
        self.code.data = category.code
        self.default_vat_rate.data = category.default_vat_rate
        self.position.data = category.position
        self.active.data = category.active
        return self

    def to_fields(self) -> CategoryFields:
        return CategoryFields(
            name=self.name.data,
            default_vat_rate=self.default_vat_rate.data,
            position=self.position.data or 0,
            active=bool(self.active.data),
            code=self.code.data,
        )


# --- stale forms ---------------------------------------------------------------------------------


def changed_fields(form: Form, current: Form) -> list[tuple[str, str]]:
    """(label, stored value) of every field where the posted form differs from what is stored now.

    Shown beside a form re-rendered after a conflict: the user's input stays in the fields, the values
    someone else saved meanwhile are listed.
    """
    skip = {"csrf_token", "version_id", "submit", "logo", "remove_logo"}
    rows = []
    for name, posted in form._fields.items():
        if name in skip or name not in current:
            continue
        stored = current[name]
        if _display(posted) != _display(stored):
            rows.append((str(posted.label.text), _display(stored) or "—"))
    return rows


def _display(field) -> str:
    if field.type == "BooleanField":
        return _("oui") if field.data else _("non")
    if field.type in ("SelectField", "CheckboxListField"):
        return ", ".join(str(label) for _value, label, selected, *_rest in field.iter_choices() if selected)
    value = field.data
    return "" if value is None else str(value).strip()
