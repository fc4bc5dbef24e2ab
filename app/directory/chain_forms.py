"""Forms of the chains' management pages (every POST carries a CSRF token)."""

from __future__ import annotations

from flask_babel import gettext as _
from wtforms import BooleanField, HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional, Regexp

from app.directory.chains import SLUG_MAX, SLUG_PATTERN, ChainFields
from app.forms import Form
from app.i18n import lazy_gettext as _l


def strip(value):
    return value.strip() if isinstance(value, str) else value


def lower_or_none(value):
    value = strip(value)
    return value.lower() if value else None


class ChainForm(Form):
    name = StringField(_l("Nom de la chaîne"), validators=[DataRequired(), Length(max=200)], filters=[strip])
    slug = StringField(
        _l("Adresse publique"),
        validators=[
            Optional(),
            Length(max=SLUG_MAX),
            Regexp(
                SLUG_PATTERN,
                message=_l(
                    "Lettres minuscules sans accent, chiffres et tirets seulement (ex. chaine-du-libre)."
                ),
            ),
        ],
        filters=[lower_or_none],
    )
    description = TextAreaField(
        _l("Description"), validators=[Optional(), Length(max=5000)], filters=[strip], render_kw={"rows": 6}
    )
    published = BooleanField(_l("Publiée dans l'annuaire public"))
    version_id = HiddenField()
    submit = SubmitField(_l("Enregistrer"))

    def fill(self, chain) -> ChainForm:
        self.name.data = chain.name
        self.slug.data = chain.slug
        self.description.data = chain.description
        self.published.data = chain.published
        self.version_id.data = chain.version_id
        return self

    def to_fields(self) -> ChainFields:
        return ChainFields(
            name=self.name.data,
            slug=self.slug.data or None,
            description=self.description.data or "",
            published=bool(self.published.data),
        )


class ChainLinkAddForm(Form):
    organisation_id = SelectField(_l("Acteur à ajouter"), coerce=int, validators=[InputRequired()])
    note = StringField(
        _l("Ce qu'il transmet au suivant"), validators=[Optional(), Length(max=200)], filters=[strip]
    )
    submit = SubmitField(_l("Ajouter à la fin"))

    def __init__(self, *args, organisations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation_id.choices = [
            SelectChoice(
                o.id, o.name if o.public_listing else _("%(name)s (hors annuaire public)", name=o.name)
            )
            for o in organisations
        ]


class ChainLinkNoteForm(Form):
    note = StringField(
        _l("Ce qu'il transmet au suivant"), validators=[Optional(), Length(max=200)], filters=[strip]
    )
    #: The chain's version when the page was loaded (a note change is a change of the chain).
    version_id = HiddenField()
    submit = SubmitField(_l("Enregistrer la note"))


class MoveForm(Form):
    direction = HiddenField(validators=[AnyOf(("up", "down"))])


class ConfirmForm(Form):
    """A CSRF-protected confirmation button (remove an actor, delete a chain)."""

    submit = SubmitField(_l("Confirmer"))
