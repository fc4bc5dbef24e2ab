"""Local time: dates are typed and shown in Europe/Paris wall time, and stored as aware UTC datetimes.

The one definition of the zone (:data:`LOCAL_TZ`) and the conversions every package shares. Babel's
template filters (``datetime_short``, ``date_long`` in :mod:`app.formatting`) follow the same zone
through ``BABEL_DEFAULT_TIMEZONE``; :func:`short_local` is for messages built outside templates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

#: Dates are entered and shown in this zone and stored in UTC.
LOCAL_TZ = ZoneInfo("Europe/Paris")


def to_local(value: datetime | None) -> datetime | None:
    """An aware datetime as Europe/Paris wall time (still aware)."""
    return value.astimezone(LOCAL_TZ) if value is not None else None


def local_to_utc(naive: datetime) -> datetime:
    """Europe/Paris wall time -> aware UTC; a time skipped by the spring clock change is refused.

    Raises :class:`ValueError` with a French message (a form field shows it as its error).
    """
    aware = naive.replace(tzinfo=LOCAL_TZ)
    back = aware.astimezone(UTC).astimezone(LOCAL_TZ).replace(tzinfo=None)
    if back != naive:
        raise ValueError(_("Cette heure n'existe pas en France ce jour-là (passage à l'heure d'été)."))
    return aware.astimezone(UTC)


def shift_local(value: datetime | None, offset: timedelta) -> datetime | None:
    """Move ``value`` by ``offset`` of wall-clock time in Europe/Paris (9:00 stays 9:00 across DST)."""
    if value is None:
        return None
    local = value.astimezone(LOCAL_TZ).replace(tzinfo=None) + offset
    return local.replace(tzinfo=LOCAL_TZ).astimezone(value.tzinfo)


def local_offset(old_start: datetime, new_start: datetime) -> timedelta:
    """The wall-clock distance between two starts (what duplication shifts everything by)."""
    old = old_start.astimezone(LOCAL_TZ).replace(tzinfo=None)
    new = new_start.astimezone(LOCAL_TZ).replace(tzinfo=None)
    return new - old


def short_local(value: datetime) -> str:
    """``16/06/2026 09:00`` in Paris time, for messages and stale-form listings."""
    return value.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


def local_today() -> date:
    """Today's date on the wall clock of the coordination (Europe/Paris)."""
    return datetime.now(LOCAL_TZ).date()
