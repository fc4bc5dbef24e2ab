"""Formatting helpers for pages: phone numbers become tel: links; one date format per kind and language."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

import pytest
from babel.numbers import format_currency
from flask_babel import force_locale
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from app.formatting import date_long, datetime_short, money, phone_links


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


# --- amounts: app.formatting.money writes what Babel's format_currency writes ---------------------

MONEY_CASES = [
    "0",
    "-0",
    "0.004",
    "0.005",
    "0.015",
    "0.025",
    "-0.004",
    "-0.005",
    "1",
    "12.5",
    "999.99",
    "999.995",
    "1000",
    "1234.565",
    "1234.575",
    "-1234.56",
    "100000",
    "1000000",
    "-1234567.891",
    "1E+3",
    "5E-7",
    "12345678901234567890.12",
]


@pytest.mark.parametrize("value", MONEY_CASES)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_amounts_read_as_babel_writes_them(app, language, value):
    with app.test_request_context(), force_locale(language):
        assert money(Decimal(value)) == format_currency(Decimal(value), "EUR", locale=language)


def test_amounts_are_grouped_with_the_languages_signs(app):
    with app.test_request_context():
        with force_locale("fr"):
            assert money(Decimal("-1234567.8")) == "-1\u202f234\u202f567,80\xa0€"
            assert money("12") == "12,00\xa0€"
            assert money(None) == ""
        with force_locale("en"):
            assert money(Decimal("-1234567.8")) == "-€1,234,567.80"


@given(
    digits=st.integers(min_value=-(10**15), max_value=10**15),
    exponent=st.integers(min_value=-8, max_value=3),
    language=st.sampled_from(["fr", "en"]),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_amount_reads_as_babel_writes_it(app, digits, exponent, language):
    value = Decimal(digits).scaleb(exponent)
    with app.test_request_context(), force_locale(language):
        assert money(value) == format_currency(value, "EUR", locale=language)


def test_an_amount_too_long_for_the_decimal_context_is_refused_like_babel_refuses_it(app):
    value = Decimal("123456789012345678901234567.5")
    with app.test_request_context(), force_locale("fr"):
        with pytest.raises(InvalidOperation):
            format_currency(value, "EUR", locale="fr")
        with pytest.raises(InvalidOperation):
            money(value)


# --- templates' _(): Flask-Babel's catalogue, kept per locale and request ---------------------------


def test_template_strings_follow_the_locale_even_when_it_is_forced_within_a_request(app):
    from flask import render_template_string

    template = "{{ _('Lots') }} · {{ _('Total HT') }} · {{ ngettext('%(num)d jour', '%(num)d jours', 2) }}"
    with app.test_request_context():
        with force_locale("fr"):
            french = render_template_string(template)
            with force_locale("en"):
                english = render_template_string(template)
            assert render_template_string(template) == french
    assert french == "Lots · Total HT · 2 jours"
    assert english == "Lots · Total excl. VAT · 2 days"


def test_labels_follow_the_locale_even_when_it_is_forced_within_a_request(app):
    from app.labels import label
    from offers.models import AssignmentStatus

    with app.test_request_context():
        with force_locale("fr"):
            french = [label(AssignmentStatus.ACCEPTED), label("partner"), label("heure")]
            with force_locale("en"):
                english = [label(AssignmentStatus.ACCEPTED), label("partner"), label("heure")]
            assert [label(AssignmentStatus.ACCEPTED), label("partner"), label("heure")] == french
        assert label("not-a-code") == "not-a-code"
    assert french == ["Accepté", "Partenaire", "heure"]
    assert english == ["Accepted", "Partner", "hour"]


def test_invoice_states_and_payment_methods_follow_the_locale_in_templates(app):
    from flask import render_template_string

    from invoicing.forms import STATES
    from invoicing.models import PaymentMethod

    template = "{{ invoice_states['overdue'] }} · {{ payment_methods[method] }} · {{ invoice_states|length }}"
    with app.test_request_context():
        with force_locale("fr"):
            french = render_template_string(template, method=PaymentMethod.TRANSFER)
            with force_locale("en"):
                english = render_template_string(template, method=PaymentMethod.TRANSFER)
            assert render_template_string(template, method=PaymentMethod.TRANSFER) == french
            # Every state the list filters by, with the words of the lazy strings themselves.
            words = render_template_string(
                "{% for key, text in invoice_states.items() %}{{ key }}={{ text }};{% endfor %}"
            )
            assert words == "".join(f"{key}={text};" for key, text in STATES.items())
    assert french == f"En retard · Virement · {len(STATES)}"
    assert english == f"Overdue · Bank transfer · {len(STATES)}"


def test_template_strings_escape_their_variables_in_loops_as_outside(app):
    from flask import render_template_string

    template = (
        "{{ _('Acteurs du lot « %(lot)s »', lot=name) }}"
        "{% for n in [name] %}|{{ _('Acteurs du lot « %(lot)s »', lot=n) }}"
        "|{{ ngettext('%(num)d jour', '%(num)d jours', loop.index) }}{% endfor %}"
    )
    with app.test_request_context(), force_locale("fr"):
        html = render_template_string(template, name="<b>Traiteur</b>")
    escaped = "Acteurs du lot « &lt;b&gt;Traiteur&lt;/b&gt; »"
    assert html == f"{escaped}|{escaped}|1 jour"


_VALUES = st.one_of(
    st.text(alphabet=st.sampled_from("ab <>&\"'%«»é")),
    st.integers(-(10**9), 10**9),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.text(alphabet=st.sampled_from("ab<i>&")).map(Markup),
    st.booleans(),
)


@given(
    variables=st.dictionaries(st.sampled_from(["t", "lot", "num"]), _VALUES, max_size=3),
    before=st.sampled_from(["", "Monter le lot « ", "100 %% ", "<b>"]),
    autoescape=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_template_strings_fill_their_variables_as_markupsafe_does(variables, before, autoescape):
    """The templates' ``_()`` escapes each value once itself: the text is exactly markupsafe's
    ``Markup(text) % variables`` (or plain ``%`` without autoescaping), for text, numbers (``%d``
    too) and markup."""
    from types import SimpleNamespace

    from app.i18n import _fill

    eval_ctx = SimpleNamespace(autoescape=autoescape)
    text = before + "".join(
        f"%({name})d" if isinstance(value, int) and not isinstance(value, bool) else f"%({name})s"
        for name, value in variables.items()
    )
    expected = (Markup(text) if autoescape else text) % variables if variables or "%" in text else text  # noqa: S704
    filled = _fill(eval_ctx, text, variables)
    assert filled == expected
    assert isinstance(filled, Markup) is autoescape


@pytest.mark.parametrize("value", ["0", "0.055", "0.2", "0.1", "1", "0.08505", "-0.021"])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_rates_and_quantities_read_as_babel_writes_them(app, language, value):
    from babel.numbers import format_decimal, format_percent

    from app.formatting import quantity, rate

    number = Decimal(value)
    with app.test_request_context(), force_locale(language):
        assert rate(number) == format_percent(number, format="#,##0.##%", locale=language)
        assert quantity(number * 1000) == format_decimal(
            (number * 1000).normalize(), format="#,##0.###", locale=language
        )
    with app.test_request_context(), force_locale("fr"):
        assert rate(Decimal("0.055")) == "5,5%"
        assert quantity(Decimal("1234.500")) == "1\u202f234,5"


@given(day=st.dates(), language=st.sampled_from(["fr", "en"]))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_day_reads_as_flask_babel_writes_it_in_each_language(app, day, language):
    """date_long formats each day once per language (a list prints the same dates row after row):
    what it keeps is Flask-Babel's text for that language, never the other language's."""
    from flask_babel import format_date

    pattern = {"fr": "d MMMM y", "en": "MMMM d, y"}[language]
    if language == "fr" and day.day == 1:
        pattern = "d'er' MMMM y"
    with app.test_request_context():
        for kept in ("fr", "en"):
            with force_locale(kept):
                date_long(day)  # both languages' texts are kept
        with force_locale(language):
            assert date_long(day) == format_date(day, pattern)


@pytest.mark.parametrize(
    ("string", "variables"),
    [
        ("Total HT", {}),
        ("Aucune ligne chiffrée.", {}),
        ("%(n)s participants", {"n": 12}),
        ("Ce texte n'est dans aucun catalogue", {}),
        ("Ce texte non plus : %(x)s", {"x": "<b>"}),
    ],
)
def test_python_gettext_says_what_flask_babel_says(app, string, variables):
    """``app.i18n.gettext`` (for Python code translating many strings per page) and its lazy string
    (``app.i18n.lazy_gettext``, made once as a form's label is, read at each use) give Flask-Babel's
    words in each language, switched inside one request as for an e-mail in another language, and
    outside any request."""
    import flask_babel

    from app.i18n import current_language, gettext, lazy_gettext

    lazy, theirs = lazy_gettext(string, **variables), flask_babel.lazy_gettext(string, **variables)
    with app.test_request_context():
        for language in ("fr", "en", "fr"):
            with force_locale(language):
                assert gettext(string, **variables) == flask_babel.gettext(string, **variables)
                assert str(lazy) == str(theirs) and lazy.__html__() == theirs.__html__()
                assert current_language() == language
    with app.app_context():  # outside a request
        assert gettext(string, **variables) == flask_babel.gettext(string, **variables)
        assert str(lazy) == str(theirs)
    assert str(lazy) == str(theirs)  # outside any application


@pytest.mark.parametrize("num", [0, 1, 2, 1234])
def test_python_ngettext_says_what_flask_babel_says(app, num):
    """``app.i18n.ngettext`` (the event page's lines count, prepared in Python) gives Flask-Babel's
    singular or plural, with ``num`` in it, in each language."""
    import flask_babel

    from app.i18n import ngettext

    words = ("%(num)d ligne chiffrée", "%(num)d lignes chiffrées")
    with app.test_request_context():
        for language in ("fr", "en"):
            with force_locale(language):
                assert ngettext(*words, num) == flask_babel.ngettext(*words, num)
                assert str(num) in ngettext(*words, num)


@given(
    moment=st.datetimes(
        # Flask-Babel's zone (pytz) knows no summer time past 2037: it would be the one wrong.
        min_value=datetime(1990, 1, 1),  # noqa: DTZ001 - Hypothesis bounds are naive; zones drawn apart
        max_value=datetime(2037, 10, 1),  # noqa: DTZ001
        timezones=st.timezones(),
    ),
    language=st.sampled_from(["fr", "en"]),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_moment_reads_as_flask_babel_writes_it_in_paris_time_in_each_language(app, moment, language):
    """datetime_short and time_short format each moment once per language: what they keep is
    Flask-Babel's text (Paris wall time, the first of a month an ordinal in French) for that
    language, whatever zone the moment was given in, never the other language's."""
    from flask_babel import format_datetime

    from app.dates import LOCAL_TZ
    from app.formatting import time_short

    day = moment.astimezone(LOCAL_TZ).day
    pattern = {"fr": "d MMM y HH:mm", "en": "MMM d, y, HH:mm"}[language]
    if language == "fr" and day == 1:
        pattern = "d'er' MMM y HH:mm"
    with app.test_request_context():
        for kept in ("fr", "en"):
            with force_locale(kept):
                datetime_short(moment)  # both languages' texts are kept
                time_short(moment)
        with force_locale(language):
            assert datetime_short(moment) == format_datetime(moment, pattern)
            assert datetime_short(moment.astimezone(UTC)) == format_datetime(moment, pattern)
            assert time_short(moment) == format_datetime(moment, "HH:mm")
