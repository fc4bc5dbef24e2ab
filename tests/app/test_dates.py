"""Local time (app.dates): Europe/Paris wall time in, aware UTC stored, across clock changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.dates import LOCAL_TZ, local_offset, local_to_utc, shift_local, short_local, to_local


def wall(*args) -> datetime:
    """A naive wall-clock time, as a form field parses it."""
    return datetime(*args, tzinfo=UTC).replace(tzinfo=None)


def test_the_zone_is_paris():
    assert str(LOCAL_TZ) == "Europe/Paris"


def test_to_local_keeps_the_instant_and_shows_paris_wall_time():
    value = datetime(2026, 6, 16, 7, 0, tzinfo=UTC)
    local = to_local(value)
    assert (local.hour, local.utcoffset()) == (9, timedelta(hours=2))
    assert local == value
    assert to_local(None) is None


def test_local_to_utc_converts_summer_and_winter_times():
    assert local_to_utc(wall(2026, 6, 16, 9, 0)) == datetime(2026, 6, 16, 7, 0, tzinfo=UTC)
    assert local_to_utc(wall(2026, 1, 16, 9, 0)) == datetime(2026, 1, 16, 8, 0, tzinfo=UTC)


def test_local_to_utc_refuses_the_hour_skipped_in_spring(app):
    with app.test_request_context(), pytest.raises(ValueError) as refused:
        local_to_utc(wall(2026, 3, 29, 2, 30))
    assert str(refused.value) == "Cette heure n'existe pas en France ce jour-là (passage à l'heure d'été)."


def test_shift_local_keeps_the_wall_clock_across_the_clock_change():
    winter_nine = datetime(2026, 3, 27, 8, 0, tzinfo=UTC)  # Friday 9:00 in Paris (UTC+1)
    shifted = shift_local(winter_nine, timedelta(days=7))
    assert shifted == datetime(2026, 4, 3, 7, 0, tzinfo=UTC)  # Friday 9:00 in Paris (UTC+2)
    assert shifted.tzinfo == UTC
    assert shift_local(None, timedelta(days=1)) is None


def test_local_offset_is_the_wall_clock_distance():
    old = datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    new = datetime(2026, 4, 3, 7, 0, tzinfo=UTC)
    assert local_offset(old, new) == timedelta(days=7)


def test_short_local_is_french_day_month_year_in_paris_time():
    assert short_local(datetime(2026, 6, 16, 7, 5, tzinfo=UTC)) == "16/06/2026 09:05"
