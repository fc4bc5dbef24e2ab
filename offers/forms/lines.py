"""Line forms: the values every line has (shared with the actor portal), and the coordinator's form
that also chooses the delivering actor and may choose the VAT rate."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from wtforms import HiddenField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from app.formatting import rate as format_rate
from app.forms import Form
from app.i18n import lazy_gettext as _l
from app.parsing import parse_plain_decimal
from offers.forms.events import DecimalTextField, strip
from offers.models import MAX_UNIT_LENGTH, UNITS, unit_label
from offers.services.lines import LineFields, price_error, quantity_error

#: Parse generously, then say precisely what is wrong (``quantity_error``, ``price_error``).
_PARSE_PLACES = 12


class PriceField(DecimalTextField):
    """A price shown back with its cents (``14,50``, not ``14,5``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Shown like any decimal in the conflict summary (offers.forms.events.changed_fields).
        self.type = "DecimalTextField"

    def _value(self):
        if self.raw_data or self.data is None:
            return super()._value()
        return format(Decimal(self.data).quantize(Decimal("0.01")), "f").replace(".", ",")


class SuggestedTextField(StringField):
    """Free text with suggestions (an HTML ``<datalist>``, drawn by the ``field`` macro)."""

    suggestions: list[str] = []

    def _value(self):
        # A common unit shows as its label, so the box reads like the list it came from.
        return unit_label(self.data) if not self.raw_data and self.data else super()._value()


def unit_suggestions() -> list[str]:
    return [unit_label(code) for code in UNITS]


class LineValuesForm(Form):
    """Description, quantity, unit, unit price: what both the coordination and the actor type."""

    description = StringField(
        _l("Description de la prestation"),
        validators=[DataRequired(_l("Décrivez la prestation.")), Length(max=500)],
        filters=[strip],
    )
    quantity = DecimalTextField(
        _l("Quantité"),
        places=_PARSE_PLACES,
        validators=[InputRequired(_l("Indiquez une quantité (ex. 7,5)."))],
    )
    unit = SuggestedTextField(
        _l("Unité"),
        default="forfait",
        validators=[Length(max=MAX_UNIT_LENGTH)],
        description=_l("Choisissez dans la liste ou écrivez votre unité."),
    )
    unit_price = PriceField(
        _l("Prix unitaire HT (€)"),
        places=_PARSE_PLACES,
        validators=[InputRequired(_l("Indiquez un prix unitaire HT (ex. 12,50)."))],
    )
    version_id = HiddenField()
    submit = SubmitField(_l("Enregistrer"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit.suggestions = unit_suggestions()

    def validate_quantity(self, field):
        error = quantity_error(field.data)
        if error:
            raise ValidationError(error)

    def validate_unit_price(self, field):
        error = price_error(field.data)
        if error:
            raise ValidationError(error)

    def fill(self, line):
        self.description.data = line.description
        self.quantity.data = line.quantity
        self.unit.data = line.unit
        self.unit_price.data = line.unit_price
        self.version_id.data = line.version_id
        return self

    def to_fields(self, organisation_id: int | None = None) -> LineFields:
        return LineFields(
            description=self.description.data or "",
            quantity=self.quantity.data,
            unit=self.unit.data,
            unit_price=self.unit_price.data,
            organisation_id=organisation_id,
        )


def rate_choices(rates, default_hint: str | None = None) -> list[SelectChoice]:
    """The rate select: « default » first, then the legal rates as ``"0.1000"`` → ``10 %``."""
    first = _("Taux par défaut du vendeur")
    if default_hint:
        first = f"{first} ({default_hint})"
    return [SelectChoice("", first)] + [SelectChoice(str(rate), format_rate(rate)) for rate in rates]


class LineForm(LineValuesForm):
    """The coordinator's line: also the delivering actor and, optionally, the VAT rate."""

    organisation_id = SelectField(
        _l("Acteur qui réalise la prestation"),
        coerce=int,
        validators=[InputRequired(_l("Choisissez l'acteur qui réalise la prestation."))],
    )
    #: Empty: the seller's default, which follows the seller (``offers.pricing``); the service checks
    #: the rest.
    vat_rate = SelectField(_l("Taux de TVA"), validate_choice=False, default="")
    vat_reason = StringField(
        _l("Motif d'exonération (pour un taux zéro chez un vendeur assujetti)"),
        validators=[Optional(), Length(max=300)],
    )

    def __init__(self, *args, organisations=(), rates=(), default_hint=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation_id.choices = [SelectChoice(o.id, o.name) for o in organisations]
        self.vat_rate.choices = rate_choices(rates, default_hint)

    def validate_vat_rate(self, field):
        if field.data in (None, ""):
            return
        try:
            value = parse_plain_decimal(str(field.data))
        except ValueError as exc:
            raise ValidationError(_("Taux de TVA inconnu.")) from exc
        if "," in str(field.data) or not 0 <= value <= 1 or value.as_tuple().exponent < -4:
            raise ValidationError(_("Taux de TVA inconnu."))

    def fill(self, line):
        super().fill(line)
        self.organisation_id.data = line.organisation_id
        self.vat_reason.data = line.vat_reason or ""
        if not line.vat_rate_manual:
            # The rate follows the seller: keep it so, unless the user picks one.
            self.vat_rate.data = ""
            return self
        self.vat_rate.data = str(line.vat_rate)
        if not any(choice.value == self.vat_rate.data for choice in self.vat_rate.choices):
            self.vat_rate.choices.append(SelectChoice(self.vat_rate.data, format_rate(line.vat_rate)))
        return self

    def to_fields(self, organisation_id: int | None = None) -> LineFields:
        fields = super().to_fields(self.organisation_id.data)
        fields.vat_rate = Decimal(str(self.vat_rate.data)) if self.vat_rate.data not in (None, "") else None
        fields.vat_reason = (self.vat_reason.data or "").strip() or None
        return fields


class LineDeleteForm(Form):
    """The delete button: CSRF and the version the user saw."""

    version_id = HiddenField(validators=[DataRequired()])
