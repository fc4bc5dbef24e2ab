"""The report's sharing form."""

from __future__ import annotations

from wtforms import BooleanField, SubmitField

from app.forms import Form
from app.i18n import lazy_gettext as _l


class ShareForm(Form):
    show_amounts = BooleanField(_l("Publier le montant de chaque acteur (sinon, seulement les totaux)"))
    submit = SubmitField(_l("Publier le bilan par un lien"))
