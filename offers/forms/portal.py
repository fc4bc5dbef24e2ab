"""Actor portal forms: the one-shot answer, and the actor's own lines (the VAT rate is computed)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from wtforms import HiddenField, SelectField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.formatting import rate as format_rate
from app.forms import Form
from app.i18n import lazy_gettext as _l
from offers.forms.lines import LineValuesForm


class AnswerForm(Form):
    """Accept or decline, with an optional comment for the coordination."""

    comment = TextAreaField(
        _l("Un mot pour la coordination (facultatif)"), validators=[Optional(), Length(max=2000)]
    )
    accept = SubmitField(_l("J'accepte ce lot"))
    decline = SubmitField(_l("Je décline"))


class PortalLineForm(LineValuesForm):
    """An actor's line: description, quantity, unit, unit price, and the VAT rate when its seller is
    subject to VAT (any positive legal rate, the category's preselected); never the actor."""

    vat_rate = SelectField(_l("Taux de TVA"), default="", validate_choice=False)
    submit = SubmitField(_l("Enregistrer la ligne"))

    def __init__(self, *args, rates=(), default=None, **kwargs):
        super().__init__(*args, **kwargs)
        #: Empty when the seller charges no VAT: the rate is then 0 % and not asked.
        self.rates = list(rates)
        self.vat_rate.choices = [
            SelectChoice(
                str(rate),
                _("%(rate)s (taux de la catégorie)", rate=format_rate(rate))
                if rate == default
                else format_rate(rate),
            )
            for rate in self.rates
        ]
        if self.rates and not self.is_submitted() and not self.vat_rate.data and default is not None:
            self.vat_rate.data = str(default)

    def validate_vat_rate(self, field):
        if not self.rates or field.data in (None, ""):
            return  # no rate asked, or none posted: the service keeps or derives it
        if field.data not in {str(rate) for rate in self.rates}:
            raise ValidationError(_("Choisissez un taux de la liste."))

    def fill(self, line, rate=None):
        super().fill(line)
        if self.rates and rate is not None:
            self.vat_rate.data = str(rate)
        return self

    def to_fields(self, organisation_id=None):
        fields = super().to_fields(organisation_id)
        fields.vat_rate = Decimal(self.vat_rate.data) if self.rates and self.vat_rate.data else None
        return fields


class PortalLineDeleteForm(Form):
    version_id = HiddenField(validators=[DataRequired()])
