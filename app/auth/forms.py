from flask_babel import lazy_gettext as _l
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Email, Length

from app.forms import Form


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class LoginForm(Form):
    email = EmailField(
        _l("Adresse e-mail"),
        validators=[DataRequired(), Email(), Length(max=254)],
        filters=[_strip],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        _l("Mot de passe"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField(_l("Se connecter"))


class MagicLinkRequestForm(Form):
    email = EmailField(
        _l("Adresse e-mail"),
        validators=[DataRequired(), Email(), Length(max=254)],
        filters=[_strip],
        render_kw={"autocomplete": "email"},
    )
    submit = SubmitField(_l("Recevoir un lien de connexion"))


class ConfirmForm(Form):
    """An empty form: a CSRF-protected POST button."""

    submit = SubmitField(_l("Continuer"))
