"""The base form's select widget writes what WTForms' own writes, and WTForms' messages follow the
request's language."""

from __future__ import annotations

from markupsafe import Markup
from wtforms import SelectField, SelectMultipleField, widgets
from wtforms.fields.choices import SelectChoice

from app.forms import Form
from app.i18n import lazy_gettext as _l


class Choices(Form):
    class Meta:
        csrf = False

    plain = SelectField(
        choices=[
            SelectChoice("", "Tous"),
            SelectChoice("1", 'Ville de "Rezé" & <Co>'),
            SelectChoice("2", Markup("<b>Déjà</b> échappé")),
            SelectChoice("3"),
            SelectChoice('4"', "Guillemet", render_kw={"data_x": "y", "disabled": True}),
            SelectChoice("5", _l("Brouillon")),
        ]
    )
    several = SelectMultipleField(choices=[SelectChoice(v, v.upper()) for v in "abc"])


def test_the_select_widget_writes_the_same_html_as_wtforms(app):
    with app.test_request_context("/?plain=1&several=a&several=c"):
        from flask import request

        form = Choices(request.args)
        for field, attrs in (
            (form.plain, {}),
            (form.plain, {"class_": "form-select", "aria_invalid": "false"}),
            (form.several, {"size": 3}),
        ):
            assert type(field.widget) is not widgets.Select
            ours = field(**attrs)
            theirs = widgets.Select(multiple=field.widget.multiple)(field, **attrs)
            assert ours == theirs
            assert isinstance(ours, Markup)
        assert '<option selected value="1">Ville de &#34;Rezé&#34; &amp; &lt;Co&gt;</option>' in form.plain()
        assert '<option value="5">Brouillon</option>' in form.plain()


def test_wtforms_messages_follow_the_language(app):
    with app.test_request_context("/?plain=9"):
        from flask import request

        form = Choices(request.args)
        assert not form.validate()
        assert form.plain.errors == ["N'est pas un choix valide."]
    with app.test_request_context("/?plain=9"):
        from flask import request
        from flask_babel import force_locale

        with force_locale("en"):
            form = Choices(request.args)
            assert not form.validate()
            assert form.plain.errors == ["Not a valid choice."]
