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

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import ValidationError

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


class Form(FlaskForm):
    class Meta(FlaskForm.Meta):
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, TextAreaField):
                field.validators = [*field.validators, multi_line]
            elif isinstance(field, StringField) and not isinstance(field, MULTI_LINE):
                field.validators = [*field.validators, single_line]
            return field


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
