"""What a quote shows besides its prices: its dates written the French way, the event's hours, the
annex on the client's page, a public buyer's contract fields and the groupement's members."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from app.extensions import db
from offers.models import Event
from offers.services import quotes as service
from tests.offers.quote_fixtures import build_ready_event
from tests.offers.test_quotes import issue, latest, pdf_text, portal_link, send, text


def flat(value: str) -> str:
    return re.sub(r"\s+", " ", value.replace("\u202f", " ").replace("\xa0", " "))


@pytest.fixture
def coordinator(make_user, auth):
    user = make_user("coordinator", email="coordination@example.org")
    auth.login(user.email)
    return user


@pytest.fixture
def new_year(make_event, make_client, make_category, make_organisation):
    """An event on 1 January 2027, 08:00–18:00 in Paris (UTC+1 in winter)."""
    return build_ready_event(
        make_event,
        make_client,
        make_category,
        make_organisation,
        starts_at=datetime(2027, 1, 1, 7, 0, tzinfo=UTC),
        ends_at=datetime(2027, 1, 1, 17, 0, tzinfo=UTC),
    )


# --- dates ---------------------------------------------------------------------------------------


def test_the_pdf_writes_the_first_of_the_month_as_an_ordinal_with_the_event_hours(app, coordinator, new_year):
    event, *_ = new_year
    quote = service.issue_quote(event, coordinator, today=date(2026, 12, 1), validity_days=31)
    db.session.commit()
    whole = flat("\n".join(pdf_text(quote.pdf)))
    assert "Date : 1er décembre 2026" in whole
    assert "Valable jusqu'au : 1er janvier 2027" in whole
    assert "1er janvier 2027, 08:00–18:00" in whole
    assert " 1 janvier" not in whole and " 1 décembre" not in whole


def test_an_event_over_several_days_shows_both_ends_on_the_pdf(app, coordinator, new_year):
    event, *_ = new_year
    event = db.session.get(Event, event.id)
    event.ends_at = datetime(2027, 1, 2, 16, 30, tzinfo=UTC)
    db.session.commit()
    quote = service.issue_quote(event, coordinator, today=date(2026, 12, 2))
    db.session.commit()
    whole = flat("\n".join(pdf_text(quote.pdf)))
    assert "du 1er janvier 2027, 08:00 au 2 janvier 2027, 17:30" in whole


def test_the_quote_pages_show_the_event_date_and_hours(app, client, coordinator, new_year):
    event, *_ = new_year
    issue(client, event)
    quote = latest(event)
    assert "1er janvier 2027, 08:00–18:00" in flat(text(client.get(f"/devis/{quote.id}")))
    send(client, quote)
    anon = app.test_client()
    page = flat(text(anon.get(portal_link(quote))))
    assert "1er janvier 2027, 08:00–18:00" in page
    with anon.session_transaction() as session:
        session["lang"] = "en"
    english = flat(text(anon.get(portal_link(quote))))
    assert "January 1, 2027, 08:00–18:00" in english


# --- the annex on the pages ----------------------------------------------------------------------


@pytest.fixture
def joint(make_event, make_client, make_category, make_organisation):
    from offers.models import BillingMode

    return build_ready_event(
        make_event, make_client, make_category, make_organisation, mode=BillingMode.JOINT_CONSORTIUM
    )


def annex_rows(page: str) -> list[str]:
    rows = re.findall(r'<tr class="annex-row">(.*?)</tr>', page, flags=re.S)
    return [flat(re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]


def test_the_client_portal_shows_the_annex_the_pdf_carries(app, client, coordinator, joint):
    event, _lots, (cook, shop, photo) = joint
    issue(client, event, show_breakdown="y")
    quote = latest(event)
    send(client, quote)
    page = text(app.test_client().get(portal_link(quote)))
    assert "Annexe — répartition par membre du groupement" in page

    def where(org):
        return f"{org.address} {org.postal_code} {org.commune}"

    assert annex_rows(page) == [
        f"L'Équipage {where(shop)} SIRET {shop.siret} TVA {shop.vat_number} 350,00 € 19,25 € 369,25 €",
        f"Méli-Mélo {where(cook)} SIRET {cook.siret} Exonération de TVA, article 261-7-1° du CGI"
        " 6 043,75 € 0,00 € 6 043,75 €",
        f"Yves Monteil {where(photo)} SIRET {photo.siret} TVA non applicable, art. 293 B du CGI"
        " 650,00 € 0,00 € 650,00 €",
        "Coordination (Les Ecossolies) 8 rue Saint-Domingue 44200 Nantes SIRET 40483304800022"
        " TVA FR83404833048 563,50 € 112,70 € 676,20 €",
    ]
    assert "Total 7 607,25 € 131,95 € 7 739,20 €" in flat(re.sub(r"<[^>]+>", " ", page))
    # The very same figures as the PDF's annex.
    whole = flat("\n".join(pdf_text(quote.pdf)))
    assert "Annexe — répartition par membre du groupement" in whole
    for figures in ("350,00 € 19,25 € 369,25 €", "563,50 € 112,70 € 676,20 €"):
        assert figures in whole
    # The coordination's page shows it too.
    assert annex_rows(text(client.get(f"/devis/{quote.id}"))) == annex_rows(page)


def test_no_annex_on_the_page_when_the_pdf_has_none(app, client, coordinator, joint):
    event, *_ = joint
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    page = text(app.test_client().get(portal_link(quote)))
    assert "Annexe" not in page and annex_rows(page) == []
    assert "Annexe" not in flat("\n".join(pdf_text(quote.pdf)))
