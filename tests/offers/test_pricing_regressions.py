"""The cases that showed the pricing rules written twice, now one module (``offers.pricing``).

Each is tried through the app as a coordinator, an actor and a client would: the dashboard and the
quote agree to the cent in both billing modes, rates follow the seller when the mode or the actor
changes, hand-chosen rates that no longer fit block the quote, an actor picks the rate that fits
its service, and the annex follows the mode. A hypothesis test closes: for random events, the
dashboard's total is the issued quote's total.
"""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import AuditEntry, VatRegime
from offers import pricing
from offers.models import AssignmentStatus, BillingMode, Event, EventStatus, FeeKind, Line
from offers.services import quotes as quote_service
from tests.conftest import PASSWORD
from tests.offers.test_events import add_assignment, add_lot, event_data, plain, post_form, text
from tests.offers.test_pricing import set_identity
from tests.offers.test_quotes import issue, latest, pdf_text

SINGLE, JOINT = BillingMode.SINGLE_CONTRACTOR, BillingMode.JOINT_CONSORTIUM
SUBJECT, FRANCHISE, EXEMPT = VatRegime.SUBJECT, VatRegime.FRANCHISE, VatRegime.EXEMPT
FRANCHISE_MENTION = "TVA non applicable, art. 293 B du CGI"
EXEMPT_MENTION = "Exonération de TVA, article 261-7-1° du CGI"


@pytest.fixture
def coordinator(make_user, auth):
    set_identity(SUBJECT)
    user = make_user("coordinator", email="coordination@example.org")
    auth.login(user.email)
    return user


def priced_line(lot, organisation, quantity, price, description="Prestation") -> Line:
    """A line at its seller's default rate, as the app writes it (not chosen by hand)."""
    event = lot.event
    seller = pricing.line_seller(event.billing_mode, organisation)
    line = Line(
        lot=lot,
        organisation=organisation,
        description=description,
        quantity=D(quantity),
        unit="forfait",
        unit_price=D(price),
        vat_rate=pricing.default_rate(seller, pricing.category_rate(lot)),
        position=len(lot.lines),
    )
    db.session.add(line)
    db.session.flush()
    return line


def page_amount(page: str, element_id: str) -> D:
    match = re.search(rf'id="{element_id}">\s*([\d\s\u202f\xa0]+,\d\d)\s*€', page)
    assert match, element_id
    return D(re.sub(r"[\s\u202f\xa0]", "", match.group(1)).replace(",", "."))


# --- dashboard and quote agree -------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode,vat,gross",
    [
        # Two actors each sell 0,05 € at 10 %: each member rounds its own VAT (0,005 → 0,01 each)...
        (JOINT, "0.02", "0.12"),
        # ...while the coordinator, sole seller, rounds once per rate (0,01 → 0,01).
        (SINGLE, "0.01", "0.11"),
    ],
)
def test_the_0_05_pair_gives_the_same_total_on_the_dashboard_and_the_quote(
    client, coordinator, make_event, make_category, make_organisation, mode, vat, gross
):
    event = make_event(billing_mode=mode, status=EventStatus.CONSULTING)
    lot = add_lot(event, make_category(default_vat_rate=D("0.1000")), "Pause café")
    for name in ("Le Goût des Autres", "Méli-Mélo"):
        actor = make_organisation(name=name, vat_regime=SUBJECT)
        add_assignment(lot, actor)
        priced_line(lot, actor, "1", "0.05")
    db.session.commit()
    page = text(client.get(f"/evenements/{event.id}"))
    assert (page_amount(page, "total-vat"), page_amount(page, "total-gross")) == (D(vat), D(gross))
    assert issue(client, event).status_code == 302
    quote = latest(event)
    assert (quote.total_vat, quote.total_gross) == (D(vat), D(gross))


# --- rates follow the seller ---------------------------------------------------------------------


def joint_event_with_0_percent_actors(make_event, make_category, make_organisation):
    """A joint-consortium event whose franchise and exempt actors sell at 0 % (as the app wrote them)."""
    event = make_event(billing_mode=JOINT, status=EventStatus.CONSULTING, title="Forum ESS")
    food = add_lot(event, make_category(name="Restauration", default_vat_rate=D("0.1000")), "Déjeuner")
    photo = add_lot(event, make_category(name="Photographie", default_vat_rate=D("0.2000")), "Photos")
    cook = make_organisation(name="Méli-Mélo", vat_regime=EXEMPT)
    crew = make_organisation(name="L'Équipage", vat_regime=SUBJECT)
    photographer = make_organisation(name="Yves Monteil", vat_regime=FRANCHISE)
    for lot, actor in ((food, cook), (food, crew), (photo, photographer)):
        add_assignment(lot, actor)
    priced_line(food, cook, "400", "14.50", "Déjeuner")
    priced_line(food, crew, "7.5", "32.50", "Service en salle")
    priced_line(photo, photographer, "1", "650.00", "Reportage")
    db.session.commit()
    return event


def rates_by_description(event) -> dict[str, D]:
    db.session.expire_all()
    return {
        line.description: line.vat_rate
        for line in db.session.scalars(sa.select(Line).join(Line.lot).where(Line.lot.has(event_id=event.id)))
    }


def test_switching_a_duplicated_event_to_single_contractor_rederives_every_rate(
    client, coordinator, make_event, make_category, make_organisation
):
    source = joint_event_with_0_percent_actors(make_event, make_category, make_organisation)
    assert rates_by_description(source) == {
        "Déjeuner": D("0.0000"),
        "Service en salle": D("0.1000"),
        "Reportage": D("0.0000"),
    }
    response = post_form(
        client,
        f"/evenements/{source.id}/dupliquer",
        data={
            "title": "Forum ESS 2027",
            "client_id": str(source.client_id),
            "starts_at": "2027-04-15T08:00",
            "ends_at": "2027-04-15T18:00",
        },
    )
    assert response.status_code == 302
    copy = db.session.scalar(sa.select(Event).where(Event.title == "Forum ESS 2027"))
    response = post_form(
        client,
        f"/evenements/{copy.id}/modifier",
        data=event_data(
            copy.client_id,
            title="Forum ESS 2027",
            starts_at="2027-04-15T08:00",
            ends_at="2027-04-15T18:00",
            response_deadline="",
            billing_mode="single_contractor",
            fee_kind="none",
            fee_percent="",
            version_id=str(copy.version_id),
        ),
    )
    assert response.status_code == 302
    # The coordinator (subject to VAT) now sells everything: the categories' rates, no 0 % left.
    assert rates_by_description(copy) == {
        "Déjeuner": D("0.1000"),
        "Service en salle": D("0.1000"),
        "Reportage": D("0.2000"),
    }
    entries = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.event_id == copy.id, AuditEntry.action == "line.rate_rederived"
        )
    ).all()
    assert sorted(tuple(e.changes["vat_rate"]) for e in entries) == [
        ("0.0000", "0.1000"),
        ("0.0000", "0.2000"),
    ]
    # The original keeps its own rates.
    assert rates_by_description(source)["Déjeuner"] == D("0.0000")
    # Issued as is: no 0 % line and no exemption mention on the single contractor's quote.
    copy.status = EventStatus.CONSULTING
    for lot in copy.lots:
        for line in lot.lines:
            add_assignment(lot, line.organisation)
    db.session.commit()
    assert issue(client, copy, show_breakdown="y").status_code == 302
    quote = latest(copy)
    assert {ql.vat_rate for ql in quote.lines} == {D("0.1000"), D("0.2000")}
    flat = re.sub(r"\s+", " ", "\n".join(pdf_text(quote.pdf)))
    assert FRANCHISE_MENTION not in flat and EXEMPT_MENTION not in flat
    assert " 0% " not in flat
    assert quote.total_vat == D("604.38") + D("130.00")  # 6 043,75 at 10 %, 650,00 at 20 %


def test_a_new_actor_on_a_line_brings_its_own_rate(
    client, coordinator, make_event, make_category, make_organisation
):
    event = joint_event_with_0_percent_actors(make_event, make_category, make_organisation)
    line = db.session.scalar(sa.select(Line).where(Line.description == "Service en salle"))
    cook = db.session.scalar(sa.select(Line).where(Line.description == "Déjeuner")).organisation
    response = post_form(
        client,
        f"/lignes/{line.id}/modifier",
        data={
            "description": "Service en salle",
            "quantity": "7,5",
            "unit": "forfait",
            "unit_price": "32,50",
            "organisation_id": str(cook.id),
            "vat_rate": "",
            "version_id": str(line.version_id),
        },
    )
    assert response.status_code == 302
    assert rates_by_description(event)["Service en salle"] == D("0.0000")  # Méli-Mélo is exempt


def test_a_hand_chosen_rate_that_no_longer_fits_blocks_the_quote(
    client, coordinator, make_event, make_category, make_organisation
):
    event = joint_event_with_0_percent_actors(make_event, make_category, make_organisation)
    line = db.session.scalar(sa.select(Line).where(Line.description == "Service en salle"))
    response = post_form(
        client,
        f"/lignes/{line.id}/modifier",
        data={
            "description": "Service en salle",
            "quantity": "7,5",
            "unit": "forfait",
            "unit_price": "32,50",
            "organisation_id": str(line.organisation_id),
            "vat_rate": "0.2000",  # by hand: 20 % instead of the category's 10 %
            "version_id": str(line.version_id),
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    line = db.session.get(Line, line.id)
    assert (line.vat_rate, line.vat_rate_manual) == (D("0.2000"), True)
    page = plain(text(client.get(f"/lots/{line.lot_id}")))
    assert "≠ catégorie (10%)" in page  # the coordinator sees the line that differs from its category
    assert "Taux de TVA à revoir" not in plain(text(client.get(f"/evenements/{event.id}")))
    # The crew leaves VAT (franchise): its hand-chosen 20 % no longer fits.
    line.organisation.vat_regime = FRANCHISE
    line.organisation.vat_number = None
    db.session.commit()
    page = plain(text(client.get(f"/evenements/{event.id}")))
    assert "Taux de TVA à revoir avant d'émettre le devis" in page
    assert "taux à revoir" in plain(text(client.get(f"/lots/{line.lot_id}")))
    response = issue(client, event)
    assert response.status_code == 400
    body = plain(text(response))
    assert (
        "lot « Déjeuner » : la ligne « Service en salle » est à 20% — L'Équipage n'est pas assujetti à la TVA"
        in body
    )
    assert latest(event) is None


def test_a_subject_coordinators_0_percent_line_needs_its_reason(
    client, coordinator, make_event, make_category, make_organisation
):
    event = make_event(billing_mode=SINGLE, status=EventStatus.CONSULTING)
    lot = add_lot(event, make_category(default_vat_rate=D("0.2000")), "Formation")
    actor = make_organisation(name="Écopôle")
    add_assignment(lot, actor)
    db.session.commit()
    data = {
        "description": "Formation professionnelle",
        "quantity": "1",
        "unit": "forfait",
        "unit_price": "900,00",
        "organisation_id": str(actor.id),
        "vat_rate": "0.0000",
    }
    response = post_form(client, f"/lots/{lot.id}/lignes/nouvelle", data=data)
    assert response.status_code == 400
    assert "une ligne à 0 % doit indiquer son motif d'exonération" in plain(text(response))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Line)) == 0
    reason = "Exonération de TVA, article 261-4-4° du CGI"
    response = post_form(client, f"/lots/{lot.id}/lignes/nouvelle", data={**data, "vat_reason": reason})
    assert response.status_code == 302
    assert issue(client, event).status_code == 302
    quote = latest(event)
    assert [(ql.vat_rate, ql.vat_mention) for ql in quote.lines] == [(D("0.0000"), reason)]
    assert reason in re.sub(r"\s+", " ", "\n".join(pdf_text(quote.pdf)))


# --- the actor portal ----------------------------------------------------------------------------


def test_an_actor_prices_a_stand_service_at_20_percent_in_a_bookshop_lot(
    client, auth, coordinator, make_event, make_category, make_organisation, make_user
):
    event = make_event(billing_mode=SINGLE, status=EventStatus.CONSULTING)
    lot = add_lot(event, make_category(name="Librairie", default_vat_rate=D("0.0550")), "Librairie éphémère")
    shop = make_organisation(name="L'Atelier du livre", vat_regime=SUBJECT)
    assignment = add_assignment(lot, shop)
    bookseller = make_user("actor", organisation=shop)
    db.session.commit()
    auth.logout()
    auth.login(bookseller.email, PASSWORD)
    form_page = text(client.get(f"/portail/affectations/{assignment.id}/lignes/nouvelle"))
    assert '<option selected value="0.0550">' in form_page  # the category's rate is preselected
    assert "5,5% (taux de la catégorie)" in form_page
    base = {"description": "Livres", "quantity": "1", "unit": "forfait", "unit_price": "350,00"}
    url = f"/portail/affectations/{assignment.id}/lignes/nouvelle"
    assert post_form(client, url, data={**base, "vat_rate": "0.0550"}).status_code == 302
    stand = {**base, "description": "Tenue de stand (forfait)", "unit_price": "120,00"}
    assert post_form(client, url, data={**stand, "vat_rate": "0.2000"}).status_code == 302
    # 0 % and made-up rates are not the actor's to choose.
    response = post_form(client, url, data={**stand, "description": "Autre", "vat_rate": "0.0000"})
    assert response.status_code == 400
    assert [(x.description, x.vat_rate, x.vat_rate_manual) for x in lot.lines] == [
        ("Livres", D("0.0550"), False),
        ("Tenue de stand (forfait)", D("0.2000"), True),
    ]
    auth.logout()
    auth.login(coordinator.email, PASSWORD)
    page = plain(text(client.get(f"/lots/{lot.id}")))
    assert page.count("≠ catégorie (5,5%)") == 1


def test_an_actor_without_vat_is_not_asked_for_a_rate(
    client, auth, make_event, make_category, make_organisation, make_user
):
    set_identity(SUBJECT)
    event = make_event(billing_mode=JOINT, status=EventStatus.CONSULTING)
    lot = add_lot(event, make_category(default_vat_rate=D("0.1000")), "Déjeuner")
    cook = make_organisation(name="Méli-Mélo", vat_regime=EXEMPT)
    assignment = add_assignment(lot, cook)
    user = make_user("actor", organisation=cook)
    db.session.commit()
    auth.login(user.email, PASSWORD)
    url = f"/portail/affectations/{assignment.id}/lignes/nouvelle"
    page = text(client.get(url))
    assert 'name="vat_rate"' not in page
    data = {"description": "Déjeuner", "quantity": "10", "unit": "forfait", "unit_price": "14,50"}
    assert post_form(client, url, data={**data, "vat_rate": "0.2000"}).status_code == 302
    [line] = lot.lines
    assert (line.vat_rate, line.vat_rate_manual) == (D("0.0000"), False)


# --- a franchise coordinator, and each regime in each mode ---------------------------------------


@pytest.mark.parametrize(
    "mode,coordinator_regime,actor_regime,line_rate,line_mention,fee_rate,fee_mention",
    [
        (SINGLE, SUBJECT, SUBJECT, "0.1000", None, "0.2000", None),
        (SINGLE, SUBJECT, FRANCHISE, "0.1000", None, "0.2000", None),
        (SINGLE, SUBJECT, EXEMPT, "0.1000", None, "0.2000", None),
        (SINGLE, FRANCHISE, SUBJECT, "0.0000", FRANCHISE_MENTION, "0.0000", FRANCHISE_MENTION),
        (SINGLE, EXEMPT, FRANCHISE, "0.0000", EXEMPT_MENTION, "0.0000", EXEMPT_MENTION),
        (JOINT, SUBJECT, SUBJECT, "0.1000", None, "0.2000", None),
        (JOINT, SUBJECT, FRANCHISE, "0.0000", FRANCHISE_MENTION, "0.2000", None),
        (JOINT, SUBJECT, EXEMPT, "0.0000", EXEMPT_MENTION, "0.2000", None),
        (JOINT, FRANCHISE, SUBJECT, "0.1000", None, "0.0000", FRANCHISE_MENTION),
        (JOINT, EXEMPT, EXEMPT, "0.0000", EXEMPT_MENTION, "0.0000", EXEMPT_MENTION),
    ],
)
def test_each_regime_in_each_mode_on_the_issued_quote(
    make_event,
    make_category,
    make_organisation,
    make_user,
    mode,
    coordinator_regime,
    actor_regime,
    line_rate,
    line_mention,
    fee_rate,
    fee_mention,
):
    set_identity(coordinator_regime)
    event = make_event(
        billing_mode=mode, status=EventStatus.CONSULTING, fee_kind=FeeKind.FIXED, fee_amount=D("100.00")
    )
    lot = add_lot(event, make_category(default_vat_rate=D("0.1000")), "Déjeuner")
    actor = make_organisation(vat_regime=actor_regime)
    add_assignment(lot, actor)
    # Stored at the category's rate whatever the regime, as an old line might be: the seller decides.
    db.session.add(
        Line(
            lot=lot,
            organisation=actor,
            description="Repas",
            quantity=D("10"),
            unit="repas",
            unit_price=D("15.00"),
            vat_rate=D("0.1000"),
            position=0,
        )
    )
    db.session.flush()
    dashboard = pricing.event_totals(event)
    quote = quote_service.issue_quote(event, make_user("coordinator"))
    [line, fee] = sorted(quote.lines, key=lambda ql: ql.position)
    assert (line.vat_rate, line.vat_mention) == (D(line_rate), line_mention)
    assert (fee.kind, fee.vat_rate, fee.vat_mention) == ("fee", D(fee_rate), fee_mention)
    assert quote.total_gross == dashboard.totals.gross
    assert quote.total_vat == (D("150.00") * D(line_rate) + D("100.00") * D(fee_rate)).quantize(D("0.01"))


# --- the annex follows the mode ------------------------------------------------------------------


def test_the_joint_annex_lists_each_member_with_its_identity_and_vat(
    client, coordinator, make_event, make_category, make_organisation
):
    event = joint_event_with_0_percent_actors(make_event, make_category, make_organisation)
    assert issue(client, event, show_breakdown="y").status_code == 302
    flat = re.sub(r"\s+", " ", "\n".join(pdf_text(latest(event).pdf))).replace("\u202f", " ")
    annex = flat[flat.index("Annexe — répartition par membre du groupement") :]
    cook = db.session.scalar(sa.select(Line).where(Line.description == "Déjeuner")).organisation
    assert f"SIRET {cook.siret}" in annex
    assert EXEMPT_MENTION in annex and FRANCHISE_MENTION in annex
    assert "Méli-Mélo" in annex and "5 800,00 € 0,00 € 5 800,00 €" in annex
    assert "L'Équipage" in annex and "243,75 € 24,38 € 268,13 €" in annex


def test_the_issue_form_names_the_annex_after_the_mode(client, coordinator, make_event):
    single = make_event(billing_mode=SINGLE)
    joint = make_event(billing_mode=JOINT)
    db.session.commit()
    assert "répartition interne entre les acteurs" in text(client.get(f"/evenements/{single.id}/devis"))
    assert "répartition par membre du groupement" in text(client.get(f"/evenements/{joint.id}/devis"))


# --- property: the dashboard's total is the issued quote's total ---------------------------------

regimes = st.sampled_from([SUBJECT, FRANCHISE, EXEMPT])
category_rates = st.sampled_from([D("0.0550"), D("0.1000"), D("0.2000")])
lines_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3),  # which actor
        st.decimals(min_value=D("0.001"), max_value=D("500"), places=3),
        st.decimals(min_value=D("0.01"), max_value=D("2000"), places=2),
        st.sampled_from([None, D("0.0210"), D("0.0550"), D("0.1000"), D("0.2000")]),  # by hand or not
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mode=st.sampled_from([SINGLE, JOINT]),
    coordinator_regime=regimes,
    actor_regimes=st.lists(regimes, min_size=4, max_size=4),
    rate=category_rates,
    lines=lines_strategy,
    fee=st.sampled_from([("none", "0"), ("percent", "0.0800"), ("percent", "0.0333"), ("fixed", "123.45")]),
)
def test_the_dashboard_total_is_the_issued_quote_total(
    make_event,
    make_category,
    make_organisation,
    make_user,
    mode,
    coordinator_regime,
    actor_regimes,
    rate,
    lines,
    fee,
):
    set_identity(coordinator_regime)
    kind, value = fee
    event = make_event(
        billing_mode=mode,
        status=EventStatus.CONSULTING,
        fee_kind=FeeKind(kind),
        fee_rate=D(value) if kind == "percent" else D("0"),
        fee_amount=D(value) if kind == "fixed" else D("0"),
    )
    lot = add_lot(event, make_category(default_vat_rate=rate), "Lot")
    actors = [make_organisation(vat_regime=regime) for regime in actor_regimes]
    for actor in actors:
        add_assignment(lot, actor, AssignmentStatus.ACCEPTED)
    context = pricing.PricingContext()
    for position, (index, quantity, price, chosen) in enumerate(lines):
        seller = context.seller(event, actors[index])
        default = pricing.default_rate(seller, rate)
        manual = chosen is not None and seller.subject and chosen != default
        db.session.add(
            Line(
                lot=lot,
                organisation=actors[index],
                description=f"L{position}",
                quantity=quantity,
                unit="forfait",
                unit_price=price,
                vat_rate=chosen if manual else default,
                vat_rate_manual=manual,
                position=position,
            )
        )
    db.session.flush()
    dashboard = pricing.event_totals(event)
    quote = quote_service.issue_quote(event, make_user("coordinator"))
    assert (quote.total_net, quote.total_vat, quote.total_gross) == (
        dashboard.totals.net,
        dashboard.totals.vat,
        dashboard.totals.gross,
    )
    assert quote_service.quote_totals(quote) == dashboard.totals


# --- the per-actor breakdown on the dashboard ----------------------------------------------------


@pytest.mark.parametrize("mode", [JOINT, SINGLE])
def test_the_dashboard_breaks_the_event_down_per_actor(
    client, coordinator, make_event, make_category, make_organisation, mode
):
    event = joint_event_with_0_percent_actors(make_event, make_category, make_organisation)
    event.billing_mode = mode
    event.fee_kind, event.fee_amount = FeeKind.FIXED, D("100.00")
    db.session.commit()
    rows = pricing.event_breakdown(event)
    assert [(r.name, r.net) for r in rows] == [
        ("L'Équipage", D("243.75")),
        ("Méli-Mélo", D("5800.00")),
        ("Yves Monteil", D("650.00")),
        ("Les Ecossolies", D("100.00")),
    ]
    totals = pricing.event_totals(event).totals
    if mode == JOINT:
        # Each member's own VAT (exempt and franchise at 0 %), adding up to the dashboard exactly.
        assert [r.totals.vat for r in rows] == [D("24.38"), D("0.00"), D("0.00"), D("20.00")]
        assert sum((r.totals.gross for r in rows), D("0")) == totals.gross
    else:
        assert all(r.totals is None for r in rows)
    assert sum((r.net for r in rows), D("0")) == totals.net
    page = plain(text(client.get(f"/evenements/{event.id}")))
    heading = "Par membre du groupement" if mode == JOINT else "Par acteur (répartition interne, hors taxes)"
    assert heading in page
    assert "Frais de coordination (Les Ecossolies) 100,00 €" in page
