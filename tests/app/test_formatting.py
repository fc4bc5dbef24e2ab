"""Formatting helpers for pages: phone numbers become tel: links; one date format per kind and language."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask_babel import force_locale

from app.formatting import date_long, datetime_short, phone_links


def test_phone_numbers_in_free_text_become_tel_links_and_the_rest_is_escaped(app):
    html = str(phone_links("Mathilde <Renaud> — 02 61 91 00 02 ou +33 6.12.34.56.78"))
    assert html == (
        'Mathilde &lt;Renaud&gt; — <a href="tel:0261910002">02 61 91 00 02</a>'
        ' ou <a href="tel:+33612345678">+33 6.12.34.56.78</a>'
    )
    assert str(phone_links("Salle 12, 400 places")) == "Salle 12, 400 places"


def test_one_date_format_per_kind_in_each_language(app):
    moment = datetime(2011, 3, 28, 9, 42, tzinfo=UTC)
    with app.test_request_context():
        with force_locale("fr"):
            assert date_long(date(2011, 4, 15)) == "15 avril 2011"
            assert date_long(moment) == "28 mars 2011"
            assert datetime_short(moment) == "28 mars 2011 11:42"
        with force_locale("en"):
            assert date_long(date(2011, 4, 15)) == "April 15, 2011"
            assert date_long(moment) == "March 28, 2011"
            assert datetime_short(moment) == "Mar 28, 2011, 11:42"


def test_the_first_day_of_a_month_is_an_ordinal_in_french(app):
    with app.test_request_context():
        with force_locale("fr"):
            assert date_long(date(2027, 1, 1)) == "1er janvier 2027"
            assert date_long(date(2027, 1, 11)) == "11 janvier 2027"
            assert date_long(date(2027, 1, 21)) == "21 janvier 2027"
            # Midnight in Paris on 1 January is still 31 December in UTC: the local day counts.
            assert date_long(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == "1er janvier 2027"
            assert datetime_short(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == "1er janv. 2027 00:30"
        with force_locale("en"):
            assert date_long(date(2027, 1, 1)) == "January 1, 2027"


def test_an_event_span_shows_its_hours_on_one_day_or_both_ends(app):
    from app.formatting import date_span

    start = datetime(2027, 6, 1, 6, 0, tzinfo=UTC)
    with app.test_request_context():
        with force_locale("fr"):
            assert date_span(start, datetime(2027, 6, 1, 16, 0, tzinfo=UTC)) == "1er juin 2027, 08:00–18:00"
            assert (
                date_span(start.isoformat(), datetime(2027, 6, 2, 15, 0, tzinfo=UTC).isoformat())
                == "du 1er juin 2027, 08:00 au 2 juin 2027, 17:00"
            )
        with force_locale("en"):
            assert date_span(start, datetime(2027, 6, 1, 16, 0, tzinfo=UTC)) == "June 1, 2027, 08:00–18:00"
