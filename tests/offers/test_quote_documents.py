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


def plain(page: str) -> str:
    """A page's text without its tags, spaces folded."""
    return flat(re.sub(r"<[^>]+>", " ", page)).replace(" ·", "·").replace("· ", "·")


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
    whole = flat("\n".join(pdf_text(service.quote_pdf(quote))))
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
    whole = flat("\n".join(pdf_text(service.quote_pdf(quote))))
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


def where(org):
    return f"{org.address} {org.postal_code} {org.commune}"


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


# --- a public buyer's contract and the groupement --------------------------------------------------


@pytest.mark.parametrize(
    "typed,stored",
    [
        ("79952000-2", ["79952000-2"]),
        ("79952000-2, 55520000-1;45000000-7", ["79952000-2", "55520000-1", "45000000-7"]),
        ("799520002  79952000-2", ["79952000-2"]),
        ("", []),
    ],
)
def test_cpv_codes_are_read_and_written_one_way(typed, stored):
    from app.directory.validation import check_cpv_codes

    assert check_cpv_codes(typed) == stored


@pytest.mark.parametrize(
    "typed,message",
    [
        ("79952000-3", "Le code CPV 79952000-3 n'est pas valide (chiffre de contrôle erroné)."),
        ("7995200-2", "« 7995200-2 » n'est pas un code CPV"),
        ("traiteur", "« traiteur » n'est pas un code CPV"),
    ],
)
def test_a_wrong_cpv_code_is_refused_with_a_french_message(app, typed, message):
    from app.directory.validation import FieldError, check_cpv_codes

    with app.test_request_context(), pytest.raises(FieldError) as caught:
        check_cpv_codes(typed)
    assert caught.value.message.startswith(message)


def event_form_data(event, **over) -> dict:
    from tests.offers.test_events import event_data

    data = event_data(
        event.client_id,
        title=event.title,
        billing_mode="joint_consortium",
        starts_at="2027-01-01T08:00",
        ends_at="2027-01-01T18:00",
        response_deadline="",
    )
    data.update(over)
    return data


def post_edit(client, event, data):
    from tests.conftest import csrf_token

    db.session.commit()
    page = client.get(f"/evenements/{event.id}/modifier").get_data(as_text=True)
    data = {
        **data,
        "csrf_token": csrf_token(page),
        "version_id": re.search(r'name="version_id" type="hidden" value="(\d+)"', page)[1],
    }
    return client.post(f"/evenements/{event.id}/modifier", data=data)


CONTRACT = {
    "contract_reference": "2027-EVT-014",
    "procurement_procedure": "Marché à procédure adaptée (MAPA)",
    "cpv_codes": "79952000-2 ; 55520000-1",
    "joint_and_several": "y",
    "member_signatures": "y",
}


def test_the_event_form_offers_the_procedures_and_stores_the_contract(client, coordinator, joint):
    event, *_ = joint
    form = text(client.get(f"/evenements/{event.id}/modifier"))
    assert '<datalist id="procedures">' in form
    assert '<option value="Marché à procédure adaptée (MAPA)">' in form
    response = post_edit(client, event, event_form_data(event, **CONTRACT))
    assert response.status_code == 302
    db.session.expire_all()
    stored = db.session.get(Event, event.id)
    assert (stored.contract_reference, stored.procurement_procedure, stored.cpv_codes) == (
        "2027-EVT-014",
        "Marché à procédure adaptée (MAPA)",
        "79952000-2, 55520000-1",
    )
    assert stored.joint_and_several is True and stored.member_signatures is True
    page = plain(text(client.get(f"/evenements/{event.id}")))
    assert "Réf. 2027-EVT-014·Marché à procédure adaptée (MAPA)·CPV 79952000-2, 55520000-1" in page
    assert "mandataire solidaire·bon pour accord de chaque membre sur le devis" in page
    assert "Codes CPV : — → 79952000-2, 55520000-1" in page  # the history reads as a sentence


def test_a_wrong_cpv_code_is_refused_beside_the_field_and_nothing_changes(client, coordinator, joint):
    event, *_ = joint
    version = db.session.get(Event, event.id).version_id
    response = post_edit(client, event, event_form_data(event, **{**CONTRACT, "cpv_codes": "79952000-3"}))
    assert response.status_code == 400
    assert "Le code CPV 79952000-3 n'est pas valide (chiffre de contrôle erroné)." in text(response)
    db.session.expire_all()
    stored = db.session.get(Event, event.id)
    assert (stored.cpv_codes, stored.contract_reference, stored.version_id) == ("", "", version)


def test_the_service_refuses_a_wrong_cpv_code_too(app, coordinator, joint):
    from app.errors import InvalidValue
    from offers.services.events import EventFields, update_event

    event, *_ = joint
    event = db.session.get(Event, event.id)
    fields = EventFields(
        title=event.title,
        client_id=event.client_id,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        billing_mode=event.billing_mode,
        fee_kind=event.fee_kind,
        fee_rate=event.fee_rate,
        cpv_codes="12345678-9",
    )
    with pytest.raises(InvalidValue) as caught:
        update_event(event, fields, coordinator)
    assert caught.value.field == "cpv_codes"


def joint_quote(client, event, **contract):
    post_edit(client, event, event_form_data(event, **contract))
    issue(client, event, show_breakdown="y")
    return latest(event)


def test_a_public_buyers_joint_quote_prints_the_contract_the_members_and_the_mandate(
    client, coordinator, joint
):
    event, _lots, (cook, shop, photo) = joint
    quote = joint_quote(client, event, **CONTRACT)
    pages = [flat(page) for page in pdf_text(quote.pdf)]
    whole = " ".join(pages)
    for expected in [
        "Consultation / marché : 2027-EVT-014",
        "Procédure : Marché à procédure adaptée (MAPA)",
        "Codes CPV : 79952000-2, 55520000-1",
        "Mandataire du groupement conjoint (mandataire solidaire)",
        "Membres du groupement conjoint",
        f"L'Équipage · SCOP {where(shop)} {shop.siret} N° TVA {shop.vat_number} Librairie",
        f"Méli-Mélo · Association {where(cook)} {cook.siret} Exonération de TVA, article 261-7-1° du CGI"
        " Restauration",
        f"Yves Monteil · Entreprise individuelle {where(photo)} {photo.siret} TVA non applicable, art. 293 B"
        " du CGI Photographie",
        "mandataire solidaire, il répond de l'exécution des obligations de chacun des membres",
        "Bon pour accord des membres du groupement",
    ]:
        assert expected in whole, expected
    # The coordinator is the mandataire, not the seller: its VAT number is never in the header or the
    # footer, only beside the fee it invoices (the conditions and the annex's fee row).
    assert "FR83404833048" not in pages[0]
    for page in pages:
        assert "agit en qualité de mandataire solidaire du groupement conjoint" in page
    assert "facture les frais de coordination (N° TVA FR83404833048)" in whole
    # One signature box per member, and the mandataire's.
    signatures = whole[whole.index("Bon pour accord des membres du groupement") :]
    assert signatures.count("Signature et cachet, précédés de « Bon pour accord »") == 4
    # The pages say it too.
    page = plain(text(client.get(f"/devis/{quote.id}")))
    assert (
        "Consultation / marché : 2027-EVT-014 Procédure : Marché à procédure adaptée (MAPA)"
        " Codes CPV : 79952000-2, 55520000-1" in page
    )
    assert "Groupement conjoint : Les Ecossolies est mandataire solidaire" in page


def test_without_the_options_the_mandataire_is_not_jointly_liable_and_no_member_signs(
    client, coordinator, joint
):
    event, *_ = joint
    quote = joint_quote(client, event)
    whole = flat(" ".join(pdf_text(quote.pdf)))
    assert "Mandataire du groupement conjoint (mandataire non solidaire)" in whole
    assert "mandataire non solidaire, il ne répond pas des obligations des autres membres" in whole
    assert "Bon pour accord des membres du groupement" not in whole
    assert "Consultation / marché" not in whole and "Codes CPV" not in whole


def test_a_single_contractor_quote_keeps_the_coordinators_vat_number_and_lists_no_members(
    client, coordinator, ready_single
):
    event, *_ = ready_single
    post_edit(client, event, event_form_data(event, billing_mode="single_contractor", **CONTRACT))
    issue(client, event)
    pages = [flat(page) for page in pdf_text(latest(event).pdf)]
    assert "N° TVA FR83404833048" in pages[0]
    assert "Membres du groupement" not in " ".join(pages)
    assert "Bon pour accord des membres" not in " ".join(pages)
    assert "Codes CPV : 79952000-2, 55520000-1" in pages[0]


def test_the_contract_is_frozen_in_the_quote(client, coordinator, joint):
    event, *_ = joint
    quote = joint_quote(client, event, **CONTRACT)
    pdf = quote.pdf
    post_edit(client, event, event_form_data(event, **{**CONTRACT, "contract_reference": "2027-EVT-099"}))
    db.session.expire_all()
    first = db.session.get(type(quote), quote.id)
    assert first.snapshot["event"]["contract_reference"] == "2027-EVT-014"
    assert first.snapshot["event"]["cpv_codes"] == ["79952000-2", "55520000-1"]
    assert first.pdf == pdf
    assert "2027-EVT-014" in flat(text(client.get(f"/devis/{quote.id}")))
    issue(client, event)
    assert latest(event).snapshot["event"]["contract_reference"] == "2027-EVT-099"


@pytest.fixture
def ready_single(make_event, make_client, make_category, make_organisation):
    return build_ready_event(make_event, make_client, make_category, make_organisation)


# --- the acceptance form knows the buyer's reference -----------------------------------------------


def purchase_order_value(page: str) -> str:
    return re.search(r'<input[^>]*name="a-purchase_order"[^>]*>', page)[0]


def test_the_purchase_order_field_offers_the_reference_on_file(app, client, coordinator, joint):
    event, *_ = joint  # the event's purchase-order number is BC-42
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    page = text(app.test_client().get(portal_link(quote)))
    assert 'value="BC-42"' in purchase_order_value(page)


def test_without_a_purchase_order_the_clients_engagement_number_is_offered(
    app, client, coordinator, make_event, make_client, make_category, make_organisation
):
    buyer = make_client(
        name="Ville de Rezé",
        siret="21440143200015",
        contact_email="marches@example.org",
        is_public_body=True,
        chorus_service_code="MARCHES",
        engagement_number="EJ-2027-0099",
    )
    event, *_ = build_ready_event(
        make_event, make_client, make_category, make_organisation, client=buyer, purchase_order_number=None
    )
    issue(client, event)
    quote = latest(event)
    send(client, quote)
    anon = app.test_client()
    assert 'value="EJ-2027-0099"' in purchase_order_value(text(anon.get(portal_link(quote))))
