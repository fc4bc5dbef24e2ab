"""Actor portal forms: the one-shot answer, and the actor's own lines (the VAT rate is computed)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from offers.forms.lines import LineValuesForm


class AnswerForm(FlaskForm):
    """Accept or decline, with an optional comment for the coordination."""

    comment = TextAreaField(
        _l("Un mot pour la coordination (facultatif)"), validators=[Optional(), Length(max=2000)]
    )
    accept = SubmitField(_l("J'accepte ce lot"))
    decline = SubmitField(_l("Je décline"))


class PortalLineForm(LineValuesForm):
    """An actor's line: description, quantity, unit, unit price; never the rate nor the actor."""

    submit = SubmitField(_l("Enregistrer la ligne"))


class PortalLineDeleteForm(FlaskForm):
    version_id = HiddenField(validators=[DataRequired()])
