import secrets

from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from app.forms import Form, PlainIntegerField
from app.i18n import lazy_gettext as _l


class IssueQuoteForm(Form):
    validity_days = PlainIntegerField(
        _l("Durée de validité (jours)"), default=30, validators=[DataRequired(), NumberRange(min=1, max=365)]
    )
    show_actor_cards = BooleanField(_l("Présenter chaque acteur à côté de son lot"), default=True)
    show_breakdown = BooleanField(_l("Ajouter l'annexe de répartition par membre du groupement"))
    #: One-time token of this form (see ``issue_quote``): a second submission issues nothing.
    issue_token = HiddenField(
        validators=[
            DataRequired(_l("Formulaire incomplet : rechargez la page.")),
            Regexp(r"^[A-Za-z0-9_-]{16,64}$", message=_l("Formulaire incomplet : rechargez la page.")),
        ]
    )
    submit = SubmitField(_l("Émettre le devis"))

    def __init__(self, *args, joint: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_submitted():  # a fresh page, a fresh token; a post keeps the one it carries
            self.issue_token.data = secrets.token_urlsafe(24)
        if not joint:
            # Single contractor: no groupement; the actors' shares are internal unless chosen.
            self.show_breakdown.label.text = _l(
                "Joindre au devis la répartition interne entre les acteurs (montants HT, pour information)"
            )


class AcceptQuoteForm(Form):
    name = StringField(_l("Votre nom et votre qualité"), validators=[DataRequired(), Length(max=200)])
    agreed = BooleanField(_l("Bon pour accord"), validators=[DataRequired()])
    purchase_order = StringField(
        _l("N° de bon de commande (facultatif)"), validators=[Optional(), Length(max=50)]
    )
    accept = SubmitField(_l("Accepter le devis"))


class DeclineQuoteForm(Form):
    reason = TextAreaField(_l("Raison du refus"), validators=[DataRequired(), Length(max=2000)])
    decline = SubmitField(_l("Refuser le devis"))


class QuoteFilterForm(Form):
    class Meta:
        csrf = False

    status = SelectField(_l("Statut"), validators=[Optional()], choices=[])
    client = SelectField(_l("Client"), validators=[Optional()], choices=[])
    start = DateField(_l("Émis à partir du"), validators=[Optional()])
    end = DateField(_l("jusqu'au"), validators=[Optional()])
