from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.forms import Form, PlainIntegerField


class IssueQuoteForm(Form):
    validity_days = PlainIntegerField(
        _l("Durée de validité (jours)"), default=30, validators=[DataRequired(), NumberRange(min=1, max=365)]
    )
    show_actor_cards = BooleanField(_l("Présenter chaque acteur à côté de son lot"), default=True)
    show_breakdown = BooleanField(_l("Ajouter l'annexe de répartition par membre du groupement"))
    submit = SubmitField(_l("Émettre le devis"))

    def __init__(self, *args, joint: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
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
