"""Translations as templates call them: Flask-Babel's, looked up once per locale and request.

Flask-Babel's template ``_()`` finds the request's context, its domain and its locale again on every
call; a page with a few hundred strings spends a good part of its rendering there. The callables
installed here keep the catalogue found for the request's current locale and ask Flask-Babel again
only when the locale changes (``force_locale`` swaps it for an e-mail in the recipient's language)
or outside a request, so the words are exactly Flask-Babel's."""

from __future__ import annotations

from decimal import Decimal

from flask.globals import _cv_app
from flask_babel import get_locale, get_translations
from flask_babel.speaklater import LazyString
from jinja2 import pass_eval_context
from markupsafe import Markup, escape

#: Where the catalogue of the request's locale is kept, on Flask-Babel's own context object.
_KEPT = "maillage_translations"


def current_translations():
    """Flask-Babel's catalogue for the current locale (``get_translations()``), kept per request.

    Called a few hundred times per page: it reads Flask-Babel's context from the app context itself
    rather than through ``flask.g``, a proxy that costs more than the rest of the lookup."""
    app_context = _cv_app.get(None)
    ctx = getattr(app_context.g, "_flask_babel", None) if app_context is not None else None
    if ctx is None:  # no app context, or Flask-Babel not asked yet
        return get_translations()
    locale = getattr(ctx, "babel_locale", None)
    domain = getattr(ctx, "babel_domain", None)
    kept = getattr(ctx, _KEPT, None)
    if kept is not None and locale is not None and kept[0] is locale and kept[1] is domain:
        return kept[2]
    translations = get_translations()
    # get_translations() has now set the locale and the domain on the context when they were missing.
    setattr(
        ctx, _KEPT, (getattr(ctx, "babel_locale", None), getattr(ctx, "babel_domain", None), translations)
    )
    return translations


def current_language() -> str:
    """The current locale as a string (``"fr"``, ``"en"``), ``"fr"`` outside a request."""
    app_context = _cv_app.get(None)
    ctx = getattr(app_context.g, "_flask_babel", None) if app_context is not None else None
    locale = getattr(ctx, "babel_locale", None)
    if locale is None:
        locale = get_locale()
    return str(locale or "fr")


def gettext(string: str, **variables) -> str:
    """Flask-Babel's ``gettext`` (the translation, ``%``-formatted with ``variables`` when there are
    any) on :func:`current_translations`: for Python code that translates many strings per page."""
    text = current_translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    """Flask-Babel's ``ngettext`` on :func:`current_translations`: the singular or the plural for
    ``num`` (given to the sentence as ``num``, as Flask-Babel and the templates' ``ngettext`` do)."""
    variables.setdefault("num", num)
    return current_translations().ungettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables) -> LazyString:
    """Flask-Babel's ``lazy_gettext`` (the same lazy string, translated when it is read), read
    through :func:`gettext`: forms' labels and choices, statuses' names and menus are lazy strings
    read on every view, and Flask-Babel's own lookup of the request's catalogue costs about ten
    times more (13 µs a string, against 1.4 µs)."""
    return LazyString(gettext, string, **variables)


#: Values written as they are into a translation: their text never holds a character to escape, and
#: ``%d`` or ``%.2f`` need the number itself.
_NUMBERS = (int, float, Decimal)


def _fill(eval_ctx, text: str, variables: dict) -> str:
    """As Jinja's newstyle gettext: the translation is always a format string (``%%`` reads ``%``
    with or without variables), and the variables are escaped into it when autoescaping.

    The catalogue's own text is trusted markup, as in Jinja. Autoescaped, the result is exactly
    ``Markup(text) % variables``, without markupsafe's two wrapper objects per value: each value is
    escaped once (numbers kept as numbers), then formatted in (measured: 3 % of the event page's
    rendering, whose lot cards each have four titled buttons)."""
    if eval_ctx.autoescape:
        return fill_markup(text, **variables)
    if not variables and "%" not in text:
        return text
    return text % variables


def fill_markup(text: str, **variables) -> Markup:
    """What a template's ``_()`` writes, autoescaped, for a translation ``text`` already looked up:
    the catalogue's text trusted as markup, each variable escaped into it (numbers as they are).
    For Python code preparing a page's rows: a sentence looked up once (``gettext(string)`` without
    variables gives it as is), filled for each row."""
    if not variables and "%" not in text:
        # What ``%`` would give, without its work: most strings have no placeholder.
        return Markup(text)  # noqa: S704
    escaped = {
        name: value if isinstance(value, _NUMBERS) else escape(value) for name, value in variables.items()
    }
    return Markup(text % escaped)  # noqa: S704


def _gettext(eval_ctx, string: str, **variables) -> str:
    return _fill(eval_ctx, current_translations().ugettext(string), variables)


def _ngettext(eval_ctx, singular: str, plural: str, num: int, **variables) -> str:
    variables.setdefault("num", num)
    return _fill(eval_ctx, current_translations().ungettext(singular, plural, num), variables)


def _pgettext(eval_ctx, context: str, string: str, **variables) -> str:
    variables.setdefault("context", context)
    return _fill(eval_ctx, current_translations().upgettext(context, string), variables)


def _npgettext(eval_ctx, context: str, singular: str, plural: str, num: int, **variables) -> str:
    variables.setdefault("context", context)
    variables.setdefault("num", num)
    return _fill(eval_ctx, current_translations().unpgettext(context, singular, plural, num), variables)


def install_template_gettext(app) -> None:
    """The templates' ``_``, ``gettext``, ``ngettext``, ``pgettext`` and ``npgettext``: Jinja's
    newstyle semantics (``%(name)s`` placeholders, autoescaped, ``num`` set for plurals) on
    :func:`current_translations`.

    They take the evaluation context (for autoescaping) rather than the whole template context:
    Jinja copies the whole context for each call of a context function inside a loop, which made
    each ``_()`` in a table row cost as much as a few hundred plain calls."""
    app.jinja_env.globals.update(
        {
            "_": pass_eval_context(_gettext),
            "gettext": pass_eval_context(_gettext),
            "ngettext": pass_eval_context(_ngettext),
            "pgettext": pass_eval_context(_pgettext),
            "npgettext": pass_eval_context(_npgettext),
        }
    )
