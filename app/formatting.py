"""Babel formatting filters: amounts (``1 234,56 €``), dates (``15 avril 2011``), rates, quantities."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel.numbers import format_currency, format_decimal, format_percent
from flask_babel import format_date, format_datetime, get_locale


def _locale() -> str:
    return str(get_locale() or "fr")


def money(value, currency: str = "EUR") -> str:
    if value is None:
        return ""
    return format_currency(Decimal(value), currency, locale=_locale())


def rate(value) -> str:
    """0.055 -> ``5,5 %``."""
    if value is None:
        return ""
    return format_percent(Decimal(value), format="#,##0.##%", locale=_locale())


def quantity(value) -> str:
    if value is None:
        return ""
    return format_decimal(Decimal(value).normalize(), format="#,##0.###", locale=_locale())


def date_long(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value, "d MMMM y")
    if isinstance(value, date):
        return format_date(value, "long")
    return str(value)


def datetime_short(value) -> str:
    if value is None:
        return ""
    return format_datetime(value, "d MMM y HH:mm")


def time_short(value) -> str:
    if value is None:
        return ""
    return format_datetime(value, "HH:mm")


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
    )
