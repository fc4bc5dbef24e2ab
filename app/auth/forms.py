from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from app.forms import Form
from app.i18n import lazy_gettext as _l


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


def _new_password_fields():
    password = PasswordField(
        _l("Nouveau mot de passe"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Nouveau mot de passe, à nouveau"),
        validators=[
            DataRequired(),
            EqualTo("password", message=_l("Les deux saisies du nouveau mot de passe diffèrent.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


class ChangePasswordForm(Form):
    current_password = PasswordField(
        _l("Mot de passe actuel"),
        validators=[Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    password, confirm = _new_password_fields()
    submit = SubmitField(_l("Changer le mot de passe"))


class ResetPasswordForm(Form):
    password, confirm = _new_password_fields()
    submit = SubmitField(_l("Enregistrer le mot de passe"))
