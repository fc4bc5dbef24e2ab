"""Lot forms: create/edit from a category, and the small POST buttons (move, cancel, reopen)."""

from __future__ import annotations

from flask_babel import gettext as _
from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional, ValidationError

from app.forms import Form
from app.i18n import lazy_gettext as _l
from offers.forms.events import LocalDateTimeField, strip
from offers.services.lots import LotFields


class LotForm(Form):
    category_id = SelectField(_l("Catégorie"), coerce=int, validators=[InputRequired()])
    title = StringField(_l("Titre du lot"), validators=[DataRequired(), Length(max=250)], filters=[strip])
    specification = TextAreaField(_l("Cahier des charges"), validators=[Optional(), Length(max=20000)])
    place = StringField(_l("Lieu précis"), validators=[Optional(), Length(max=250)], filters=[strip])
    starts_at = LocalDateTimeField(_l("Début (heure de Paris)"), validators=[Optional()])
    ends_at = LocalDateTimeField(_l("Fin (heure de Paris)"), validators=[Optional()])
    quantities = StringField(
        _l("Quantités attendues"), validators=[Optional(), Length(max=500)], filters=[strip]
    )
    response_deadline = LocalDateTimeField(_l("Date limite de réponse"), validators=[Optional()])
    version_id = HiddenField()
    submit = SubmitField(_l("Enregistrer"))

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.category_id.choices = [SelectChoice(c.id, c.name) for c in categories]

    def validate_ends_at(self, field):
        if field.data and self.starts_at.data and field.data < self.starts_at.data:
            raise ValidationError(_("La fin doit être après le début."))

    def fill(self, lot) -> LotForm:
        self.category_id.data = lot.category_id
        self.title.data = lot.title
        self.specification.data = lot.specification
        self.place.data = lot.place
        self.starts_at.data = lot.starts_at
        self.ends_at.data = lot.ends_at
        self.quantities.data = lot.quantities
        self.response_deadline.data = lot.response_deadline
        self.version_id.data = lot.version_id
        return self

    def to_fields(self) -> LotFields:
        return LotFields(
            title=self.title.data,
            category_id=self.category_id.data,
            specification=(self.specification.data or "").strip(),
            place=self.place.data or "",
            starts_at=self.starts_at.data,
            ends_at=self.ends_at.data,
            quantities=self.quantities.data or "",
            response_deadline=self.response_deadline.data,
        )


class LotMoveForm(Form):
    direction = HiddenField(validators=[AnyOf(("up", "down"))])


class LotActionForm(Form):
    """A CSRF-protected button (cancel, reopen)."""

    submit = SubmitField(_l("Confirmer"))
