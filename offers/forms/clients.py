"""Client forms: identifiers checked with python-stdnum, contacts, Chorus Pro routing."""

from __future__ import annotations

from flask_babel import gettext as _
from wtforms import BooleanField, EmailField, HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.directory.validation import (
    FieldError,
    check_email,
    check_postal_code,
    check_siren,
    check_siret,
    check_vat_number,
)
from app.forms import Form
from app.i18n import lazy_gettext as _l
from offers.forms.events import none_if_empty, strip
from offers.services.clients import ClientFields


def _digits(value):
    value = none_if_empty(value)
    return value.replace(" ", "").replace("\u00a0", "") if value else value


def _checked(check):
    """A WTForms validator from one of the directory's ``check_*`` functions."""

    def validator(form, field):
        if field.data:
            try:
                field.data = check(field.data)
            except FieldError as exc:
                raise ValidationError(exc.message) from exc

    return validator


class ClientForm(Form):
    name = StringField(_l("Nom"), validators=[DataRequired(), Length(max=200)], filters=[strip])
    siret = StringField(_l("SIRET"), validators=[Optional(), _checked(check_siret)], filters=[_digits])
    siren = StringField(
        _l("SIREN (si le SIRET n'est pas connu)"),
        validators=[Optional(), _checked(check_siren)],
        filters=[_digits],
    )
    vat_number = StringField(
        _l("N° de TVA intracommunautaire"), validators=[Optional(), Length(max=20)], filters=[_digits]
    )
    address = StringField(_l("Adresse"), validators=[Optional(), Length(max=300)], filters=[strip])
    postal_code = StringField(
        _l("Code postal"), validators=[Optional(), _checked(check_postal_code)], filters=[strip]
    )
    commune = StringField(_l("Commune"), validators=[Optional(), Length(max=120)], filters=[strip])
    is_public_body = BooleanField(_l("Acheteur public (factures via Chorus Pro)"))
    chorus_service_code = StringField(
        _l("Code service Chorus Pro"), validators=[Optional(), Length(max=100)], filters=[none_if_empty]
    )
    engagement_number = StringField(
        _l("N° d'engagement / bon de commande"),
        validators=[Optional(), Length(max=50)],
        filters=[none_if_empty],
    )
    contact_name = StringField(
        _l("Nom du contact"), validators=[Optional(), Length(max=200)], filters=[none_if_empty]
    )
    contact_email = EmailField(
        _l("E-mail du contact"),
        validators=[Optional(), Length(max=254), _checked(check_email)],
        filters=[none_if_empty],
    )
    contact_phone = StringField(
        _l("Téléphone du contact"), validators=[Optional(), Length(max=40)], filters=[none_if_empty]
    )
    notes = TextAreaField(_l("Notes internes"), validators=[Optional(), Length(max=5000)])
    version_id = HiddenField()
    submit = SubmitField(_l("Enregistrer"))

    def validate_vat_number(self, field):
        if not field.data:
            return
        siret = self.siret.data if not self.siret.errors else None
        siren = siret[:9] if siret else (self.siren.data if not self.siren.errors else None)
        try:
            field.data = check_vat_number(field.data, siren)
        except FieldError as exc:
            raise ValidationError(exc.message) from exc

    def validate_siren(self, field):
        if field.data and self.siret.data and not self.siret.errors and self.siret.data[:9] != field.data:
            raise ValidationError(
                _(
                    "Le SIREN ne correspond pas au SIRET (attendu : %(expected)s).",
                    expected=self.siret.data[:9],
                )
            )

    def fill(self, client) -> ClientForm:
        for name in (
            "name",
            "siret",
            "siren",
            "vat_number",
            "address",
            "postal_code",
            "commune",
            "is_public_body",
            "chorus_service_code",
            "engagement_number",
            "contact_name",
            "contact_email",
            "contact_phone",
            "notes",
        ):
            self[name].data = getattr(client, name)
        self.version_id.data = client.version_id
        return self

    def to_fields(self) -> ClientFields:
        return ClientFields(
            name=self.name.data,
            siret=self.siret.data or None,
            siren=self.siren.data or None,
            vat_number=self.vat_number.data or None,
            address=self.address.data or "",
            postal_code=self.postal_code.data or "",
            commune=self.commune.data or "",
            is_public_body=bool(self.is_public_body.data),
            chorus_service_code=self.chorus_service_code.data,
            engagement_number=self.engagement_number.data,
            contact_name=self.contact_name.data,
            contact_email=self.contact_email.data,
            contact_phone=self.contact_phone.data,
            notes=(self.notes.data or "").strip(),
        )


class ClientSearchForm(Form):
    class Meta:
        csrf = False

    q = StringField(_l("Rechercher (nom, SIRET, commune)"), validators=[Optional(), Length(max=200)])


class InviteContactForm(Form):
    """A contact of the client, to give an account that sees the client's quotes."""

    email = EmailField(
        _l("E-mail du contact"),
        validators=[
            DataRequired(_l("Indiquez l'adresse e-mail du contact.")),
            Length(max=254),
            _checked(check_email),
        ],
        filters=[strip],
    )
    name = StringField(_l("Nom du contact"), validators=[Optional(), Length(max=120)], filters=[strip])
    submit = SubmitField(_l("Créer l'accès et envoyer le lien"))
