"""Parsing what users type: plain decimals and integers, page numbers, single-line text.

One rule for every form and every query string: a number is written with the ASCII digits ``0-9``,
an optional sign and at most one decimal separator (comma or dot), with spaces as thousands
separators. Python's ``Decimal`` and ``int`` accept much more — ``1E2``, ``1_000``, ``Infinity``,
Arabic-Indic or full-width digits — and an exponent such as ``1e400`` later breaks a ``quantize``.
Every function here raises :class:`ValueError` with a French message, or (for query strings)
answers 400 with one.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from flask import abort, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

#: Spaces people type inside numbers (thousands separators), removed before parsing.
_NUMBER_SPACES = (" ", "\u00a0", "\u202f")
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)", re.ASCII)
_PLAIN_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)

#: Integers beyond this are typing mistakes (and overflow a 64-bit column or OFFSET).
MAX_INT = 10**12
#: The largest identifier: ids are 32-bit integers on PostgreSQL (``SERIAL``); a larger one in a URL
#: or a filter would make the database fail (a 500) instead of finding nothing.
MAX_ID = 2**31 - 1
#: The last page any list can show (25 rows a page: far beyond any real list).
MAX_PAGE = 100_000


def _compact(text: str) -> str:
    text = (text or "").strip()
    for char in _NUMBER_SPACES:
        text = text.replace(char, "")
    return text


def parse_plain_decimal(text: str, message: str | None = None) -> Decimal:
    """``"1 234,56"`` → ``Decimal("1234.56")``; anything but a plain decimal raises :class:`ValueError`."""
    compact = _compact(text)
    if not _PLAIN_DECIMAL.fullmatch(compact):
        raise ValueError(message or _("Nombre attendu (ex. 12,50)."))
    try:
        return Decimal(compact.replace(",", "."))
    except InvalidOperation as exc:  # pragma: no cover - the pattern already refused it
        raise ValueError(message or _("Nombre attendu (ex. 12,50).")) from exc


def parse_plain_int(text: str, message: str | None = None) -> int:
    """``"1 000"`` → ``1000``; no ``_``, exponent, decimal point or non-ASCII digit; at most 10¹²."""
    compact = _compact(text)
    if not _PLAIN_INT.fullmatch(compact):
        raise ValueError(message or _("Nombre entier attendu (ex. 12)."))
    value = int(compact)
    if abs(value) > MAX_INT:
        raise ValueError(message or _("Nombre entier attendu (ex. 12)."))
    return value


def page_number(args, name: str = "page") -> int:
    """The page asked for in a query string: 1 when absent, else 1 … MAX_PAGE, else 400."""
    raw = args.get(name)
    if raw is None or raw == "":
        return 1
    try:
        page = parse_plain_int(raw)
    except ValueError:
        page = 0
    if not 1 <= page <= MAX_PAGE or not raw.isascii():
        abort(400, _("Numéro de page invalide."))
    return page


def id_filter(args, name: str) -> int | None:
    """An identifier asked for in a query string (``?event_id=12``): None when absent or empty,
    else a plain integer from 1 to :data:`MAX_ID`, else 400 (:func:`bad_filter`)."""
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = parse_plain_int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_ID:
        bad_filter()
    return value


class IdConverter(IntegerConverter):
    """The ``<int:…>`` of every route: at most :data:`MAX_ID`, so a larger number is a 404 (no such
    object) rather than a database error."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def refuse_nul_in_query() -> None:
    """Before every GET: a query string holding a NUL character answers 400. No list filter can
    match it, and PostgreSQL cannot even compare text with it (a 500 otherwise)."""
    if request.method == "GET" and any("\x00" in value for _name, value in request.args.items(multi=True)):
        abort(400, _("Requête refusée : un paramètre de l'adresse contient un caractère nul."))


def bad_filter() -> None:
    """Answer a list's query string that names an unknown status, client or date: 400."""
    abort(400, _("Filtre invalide : vérifiez le statut, le client ou les dates demandés."))


# --- single-line text ----------------------------------------------------------------------------

#: Line and paragraph separators, besides the control characters (category Cc, which includes
#: tab, CR, LF, NEL U+0085).
_LINE_BREAKS = {"\u2028", "\u2029"}


def single_line_error(text: str | None) -> str | None:
    """A French message when ``text`` holds a line break or a control character, else None."""
    if not text:
        return None
    for char in text:
        if char in _LINE_BREAKS or unicodedata.category(char) == "Cc":
            return _("Ce champ s'écrit sur une seule ligne, sans retour à la ligne ni caractère de contrôle.")
    return None


#: What a multi-line text keeps of the control characters: tab and the line breaks.
_TEXT_CONTROLS = {"\t", "\n", "\r"}
#: Non-characters that XML (the Factur-X invoice) refuses, like the control characters.
_NON_CHARACTERS = {"\ufffe", "\uffff"}


def text_error(text: str | None) -> str | None:
    """A French message when a multi-line ``text`` holds a control character other than tab and
    the line breaks (a NUL breaks the Factur-X XML, an escape sequence a terminal), else None."""
    if not text:
        return None
    for char in text:
        if char in _NON_CHARACTERS or (unicodedata.category(char) == "Cc" and char not in _TEXT_CONTROLS):
            return _("Ce texte contient un caractère de contrôle : retirez-le.")
    return None


def check_single_line(text: str | None) -> str | None:
    """Return ``text`` or raise :class:`ValueError` (for imports and services)."""
    error = single_line_error(text)
    if error:
        raise ValueError(error)
    return text
