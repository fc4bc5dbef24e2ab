"""The base of every form: text fields refuse control characters, integers are plain.

Every form of every package derives from :class:`Form` (a :class:`flask_wtf.FlaskForm`). Its
``Meta.bind_field`` adds :func:`single_line` to each text field that is not multi-line (a
``StringField`` that is neither a ``TextAreaField`` nor a ``PasswordField``), so a title, a name or a
hidden version number cannot carry CR, LF or another control character into a header, a PDF, a CSV
or an e-mail subject. A ``TextAreaField`` keeps its line breaks and tabs but refuses the other
control characters (:func:`multi_line`): a NUL would break the Factur-X XML of an invoice.
``tests/security/test_input.py`` and the fuzz test walk every form.
"""

from __future__ import annotations

from flask import current_app, has_request_context
from flask_babel import get_locale
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import IntegerField, PasswordField, StringField, TextAreaField, widgets
from wtforms.validators import ValidationError

from app.i18n import lazy_gettext as _l
from app.parsing import parse_plain_int, single_line_error, text_error

#: Text fields that may hold several lines.
MULTI_LINE = (TextAreaField, PasswordField)


def single_line(form, field) -> None:
    """WTForms validator: no line break, no control character (see :mod:`app.parsing`)."""
    error = single_line_error(field.data if isinstance(field.data, str) else None)
    if error:
        raise ValidationError(error)


def multi_line(form, field) -> None:
    """WTForms validator: line breaks and tabs, but no other control character."""
    error = text_error(field.data if isinstance(field.data, str) else None)
    if error:
        raise ValidationError(error)


class Select(widgets.Select):
    """WTForms' ``<select>``, each plain option (no attributes of its own) written in one step: the
    same HTML as WTForms' (``<option selected value="…">label</option>``, attributes in its sorted
    order), without its generic attribute writer, which cost a filter form with a long list of
    clients more than the rest of the form."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw:
            return super().render_option(choice, **kwargs)
        value = choice.value
        if isinstance(value, bool):
            value = str(value)
        value = escape(value).replace(Markup('"'), Markup("&quot;"))
        label = choice.label
        if hasattr(label, "__html__"):  # a lazy label: translated once, not for the test and again
            label = Markup(label.__html__())  # noqa: S704 - what escape() makes of it
        label = escape(label or choice.value)
        selected = "selected " if choice.selected else ""
        return Markup(f'<option {selected}value="{value}">{label}</option>')  # noqa: S704 - escaped above

    @classmethod
    def _dispatch_render_option(cls):
        return cls.render_option  # the current signature: no need to inspect it on every render


_SELECTS = {False: Select(), True: Select(multiple=True)}


class _WTFormsTranslations:
    """WTForms' own messages in the request's language, as Flask-WTF gives them, each catalogue read
    once per process: Flask-WTF reads WTForms' catalogue file again on every request that asks for a
    message (a filter form's validation does)."""

    def __init__(self):
        self._catalogues: dict[str, object] = {}

    def _catalogue(self):
        if not has_request_context():
            return None  # as Flask-WTF: the messages untranslated
        from babel import support
        from wtforms.i18n import messages_path

        locale = get_locale()
        key = str(locale)
        catalogue = self._catalogues.get(key)
        if catalogue is None:
            catalogue = support.Translations.load(messages_path(), [locale], domain="wtforms")
            self._catalogues[key] = catalogue
        return catalogue

    def gettext(self, string):
        catalogue = self._catalogue()
        return string if catalogue is None else catalogue.ugettext(string)

    def ngettext(self, singular, plural, n):
        catalogue = self._catalogue()
        if catalogue is None:
            return singular if n == 1 else plural
        return catalogue.ungettext(singular, plural, n)


_WTFORMS_TRANSLATIONS = _WTFormsTranslations()


class Form(FlaskForm):
    class Meta(FlaskForm.Meta):
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, TextAreaField):
                field.validators = [*field.validators, multi_line]
            elif isinstance(field, StringField) and not isinstance(field, MULTI_LINE):
                field.validators = [*field.validators, single_line]
            if type(field.widget) is widgets.Select:
                field.widget = _SELECTS[field.widget.multiple]
            return field

        def get_translations(self, form):
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return _WTFORMS_TRANSLATIONS


class PlainIntegerField(IntegerField):
    """An integer written with ASCII digits only (no ``1_000``, ``1e3``, ``١٢``), at most 10¹²."""

    def process_formdata(self, valuelist):
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        self.data = None
        try:
            self.data = parse_plain_int(str(valuelist[0]), str(_l("Nombre entier attendu (ex. 12).")))
        except ValueError as exc:
            raise ValueError(str(exc)) from exc
