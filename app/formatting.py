"""Babel formatting filters: amounts (``1 234,56 €``), dates (``15 avril 2011``, ``1er janvier 2027``),
rates, quantities."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import (
    format_currency,
    format_decimal,
    format_percent,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    parse_pattern,
)
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from markupsafe import Markup, escape

from app.i18n import current_language


def _locale() -> str:
    return current_language()


#: Babel's locales and the number patterns, parsed once (Babel parses a pattern given as text on
#: every call).
_BABEL_LOCALES: dict[str, Locale] = {}
_RATE_FORMAT = parse_pattern("#,##0.##%")
_QUANTITY_FORMAT = parse_pattern("#,##0.###")


def _babel_locale(language: str | None = None) -> Locale:
    language = language or _locale()
    if language not in _BABEL_LOCALES:
        _BABEL_LOCALES[language] = Locale.parse(language)
    return _BABEL_LOCALES[language]


@dataclass(frozen=True)
class _MoneyPattern:
    """What Babel's standard currency pattern of a locale writes around the digits."""

    prefixes: tuple[str, str]  # positive, negative
    suffixes: tuple[str, str]
    group: str
    decimal: str
    grouping: tuple[int, int]
    digits: int


_MONEY_PATTERNS: dict[tuple[str, str], _MoneyPattern | None] = {}


def _money_pattern(locale: str, currency: str) -> _MoneyPattern | None:
    """The locale's currency pattern, read once from Babel; ``None`` when it is not a plain one
    (scaled, scientific, significant digits, currency code or name): Babel then formats alone."""
    key = (locale, currency)
    if key not in _MONEY_PATTERNS:
        parsed = Locale.parse(locale)
        pattern = parsed.currency_formats["standard"]
        affixes = (*pattern.prefix, *pattern.suffix)
        plain = (
            not pattern.scale
            and not pattern.exp_prec
            and "@" not in pattern.pattern
            and pattern.int_prec[0] == 1
            and pattern.grouping[0] > 0
            and pattern.grouping[1] > 0
            and not any("¤¤" in affix or "'" in affix for affix in affixes)
        )
        if not plain:
            _MONEY_PATTERNS[key] = None
        else:
            symbol = get_currency_symbol(currency, parsed)
            prefixes = tuple(affix.replace("¤", symbol) for affix in pattern.prefix)
            suffixes = tuple(affix.replace("¤", symbol) for affix in pattern.suffix)
            _MONEY_PATTERNS[key] = _MoneyPattern(
                prefixes=prefixes,
                suffixes=suffixes,
                group=get_group_symbol(parsed),
                decimal=get_decimal_symbol(parsed),
                grouping=pattern.grouping,
                digits=get_currency_precision(currency),
            )
    return _MONEY_PATTERNS[key]


def money(value, currency: str = "EUR") -> str:
    """An amount in the reader's language (``1 234,56 €``, ``€1,234.56``): Babel's
    ``format_currency`` to the character, without parsing the pattern again on every call (an
    event page prints a few hundred amounts)."""
    if value is None:
        return ""
    value = Decimal(value)
    locale = _locale()
    pattern = _money_pattern(locale, currency)
    if pattern is None or not value.is_finite() or pattern.digits < 1:
        return format_currency(value, currency, locale=locale)
    # The same steps as Babel's NumberPattern.apply: the sign first, then the rounding.
    value = value.scaleb(0)
    negative = int(value.is_signed())
    rounded = abs(value).normalize().quantize(Decimal(1).scaleb(-pattern.digits))
    whole, _dot, cents = f"{rounded:f}".partition(".")
    size, groups = pattern.grouping[0], []
    while len(whole) > size:
        groups.append(whole[-size:])
        whole = whole[:-size]
        size = pattern.grouping[1]
    groups.append(whole)
    number = pattern.group.join(reversed(groups)) + pattern.decimal + cents.ljust(pattern.digits, "0")
    return pattern.prefixes[negative] + number + pattern.suffixes[negative]


def rate(value) -> str:
    """0.055 -> ``5,5 %``."""
    if value is None:
        return ""
    return format_percent(Decimal(value), format=_RATE_FORMAT, locale=_babel_locale())


def quantity(value) -> str:
    if value is None:
        return ""
    return format_decimal(Decimal(value).normalize(), format=_QUANTITY_FORMAT, locale=_babel_locale())


# One format per kind, in each language: a date (``15 avril 2011`` / ``April 15, 2011``), a date
# with its time (``15 avr. 2011 08:00`` / ``Apr 15, 2011, 08:00``), a time (``08:00``). French writes
# the first day of a month as an ordinal: ``1er janvier 2027``, ``1er janv. 2027 08:00``.
_DATE_PATTERNS = {"fr": "d MMMM y", "en": "MMMM d, y"}
_DATETIME_PATTERNS = {"fr": "d MMM y HH:mm", "en": "MMM d, y, HH:mm"}


def _local(value):
    """A datetime in Paris wall time (aware values; naive ones are taken as they are)."""
    from app.dates import to_local

    return to_local(value) if isinstance(value, datetime) and value.tzinfo else value


def _pattern(patterns: dict[str, str], day: int, language: str | None = None) -> str:
    locale = language or _locale()
    pattern = patterns.get(locale, patterns["fr"])
    if locale == "fr" and day == 1:
        pattern = pattern.replace("d ", "d'er' ", 1)
    return pattern


def date_long(value) -> str:
    """A date, or the local date of a datetime, in the language's long form (``1er janvier 2027``)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _local(value).date()
    if isinstance(value, date):
        return _date_long(value, _locale())
    return str(value)


@lru_cache(maxsize=4096)
def _date_long(day: date, language: str) -> str:
    """A day in a language, as Flask-Babel's ``format_date`` writes it, formatted once: a list
    prints the same few dates row after row, and Babel's formatting is most of a row's time."""
    return babel_format_date(day, _pattern(_DATE_PATTERNS, day.day, language), locale=_babel_locale(language))


#: The two kinds of :func:`_moment`.
_DATETIME, _TIME = "datetime", "time"


def datetime_short(value) -> str:
    """A moment with its time, in Paris wall time (``15 avr. 2011 08:00``, ``1er janv. 2027 00:30``)."""
    if value is None:
        return ""
    if isinstance(value, datetime) and value.tzinfo:
        return _moment(value, _DATETIME, _locale())
    return format_datetime(value, _pattern(_DATETIME_PATTERNS, _local(value).day))


def time_short(value) -> str:
    """A moment's time in Paris wall time (``08:00``)."""
    if value is None:
        return ""
    if isinstance(value, datetime) and value.tzinfo:
        return _moment(value, _TIME, _locale())
    return format_datetime(value, "HH:mm")


@lru_cache(maxsize=4096)
def _moment(moment: datetime, kind: str, language: str) -> str:
    """An aware moment as Flask-Babel's ``format_datetime`` writes it in Paris wall time, formatted
    once (as :func:`_date_long`): a page prints its event's and lots' few moments on every view, and
    Babel's formatting was a few percent of an event page. Equal instants are one key (an aware
    datetime hashes as its UTC instant), and the text depends on nothing else."""
    from app.dates import LOCAL_TZ

    local = moment.astimezone(LOCAL_TZ)
    pattern = _pattern(_DATETIME_PATTERNS, local.day, language) if kind == _DATETIME else "HH:mm"
    return babel_format_datetime(local, pattern, tzinfo=LOCAL_TZ, locale=_babel_locale(language))


def date_span(starts, ends) -> str:
    """An event's dates with its hours, in the reader's language: ``1er janvier 2027, 08:00–18:00``
    on one day, ``du 1er janvier 2027, 08:00 au 2 janvier 2027, 18:00`` over several."""
    starts, ends = from_iso(starts), from_iso(ends)
    if starts is None:
        return ""
    if ends is None:
        return _("%(date)s, %(time)s", date=date_long(starts), time=time_short(starts))
    if _local(starts).date() == _local(ends).date():
        return _(
            "%(date)s, %(start)s–%(end)s",
            date=date_long(starts),
            start=time_short(starts),
            end=time_short(ends),
        )
    return _(
        "du %(start_date)s, %(start)s au %(end_date)s, %(end)s",
        start_date=date_long(starts),
        start=time_short(starts),
        end_date=date_long(ends),
        end=time_short(ends),
    )


def from_iso(value):
    """Datetimes frozen in snapshots as ISO strings back to datetime objects."""
    if not value or not isinstance(value, str):
        return value
    return datetime.fromisoformat(value)


def date_short(value) -> str:
    """``15/04/2011``: a date in a reference (an invoice's number and date)."""
    if value is None:
        return ""
    return format_date(value.date() if isinstance(value, datetime) else value, "short")


def to_decimal(value) -> Decimal:
    """Amounts frozen in snapshots as strings back to ``Decimal``."""
    return Decimal(str(value)) if value not in (None, "") else Decimal("0")


#: A French phone number inside free text: 02 61 91 00 02, 06.12.34.56.78, +33 6 12 34 56 78.
_PHONE = re.compile(r"(?<![\w+])(?:\+33[\s.]?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)")


def phone_links(text) -> Markup:
    """Free text (an on-site contact) with each phone number made a ``tel:`` link, tap to call."""
    if not text:
        return Markup("")
    parts, last = [], 0
    for match in _PHONE.finditer(str(text)):
        number = re.sub(r"[\s.-]", "", match.group(0))
        parts.append(escape(text[last : match.start()]))
        parts.append(Markup('<a href="tel:{0}">{1}</a>').format(number, match.group(0)))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def data_lang() -> Markup:
    """`` lang="fr"`` on content the users wrote (lot texts, history), when the page is not French."""
    return Markup("") if _locale() == "fr" else Markup(' lang="fr"')


def round_cents(value) -> Decimal:
    from app.money import round_money

    return round_money(value)


def register_filters(app) -> None:
    app.jinja_env.filters.update(
        round_cents=round_cents,
        from_iso=from_iso,
        money=money,
        rate=rate,
        quantity=quantity,
        date_long=date_long,
        datetime_short=datetime_short,
        time_short=time_short,
        date_short=date_short,
        decimal=to_decimal,
        phone_links=phone_links,
    )
    app.jinja_env.globals.update(data_lang=data_lang, date_span=date_span)
