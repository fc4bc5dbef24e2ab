"""Translations as templates call them: Flask-Babel's, looked up once per locale and request.

Flask-Babel's template ``_()`` finds the request's context, its domain and its locale again on every
call; a page with a few hundred strings spends a good part of its rendering there. The callables
installed here keep the catalogue found for the request's current locale and ask Flask-Babel again
only when the locale changes (``force_locale`` swaps it for an e-mail in the recipient's language)
or outside a request, so the words are exactly Flask-Babel's."""

from __future__ import annotations

from flask import g
from flask_babel import get_locale, get_translations

#: Where the catalogue of the request's locale is kept, on Flask-Babel's own context object.
_KEPT = "maillage_translations"


def current_translations():
    """Flask-Babel's catalogue for the current locale (``get_translations()``), kept per request."""
    try:
        ctx = g._flask_babel
    except (AttributeError, RuntimeError):  # no app context, or Flask-Babel not asked yet
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
    try:
        locale = g._flask_babel.babel_locale
    except (AttributeError, RuntimeError):
        locale = None
    if locale is None:
        locale = get_locale()
    return str(locale or "fr")


def install_template_gettext(app) -> None:
    """Replace the template callables Flask-Babel installed by ones using :func:`current_translations`
    (same newstyle semantics: ``%(name)s`` placeholders, autoescaped)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: current_translations().ugettext(s),
        ngettext=lambda s, p, n: current_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: current_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: current_translations().unpgettext(c, s, p, n),
    )
