"""``flask demo load``: the Assises 2011 case, loaded once, idempotent, valid identifiers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from stdnum import iban as stdnum_iban
from stdnum.fr import siret as stdnum_siret
from stdnum.fr import tva as stdnum_tva

from app.demo import DEMO_MARKER, DEMO_PASSWORD
from app.directory.validation import check_qpv_name, is_in_nantes_metropole
from app.extensions import db
from app.models import (
    AuditEntry,
    Category,
    Client,
    CoordinatorIdentity,
    Organisation,
    Role,
    Setting,
    User,
    VatRegime,
    organisation_categories,
)
from app.money import line_net
from offers.models import (
    Assignment,
    AssignmentStatus,
    BillingMode,
    Event,
    EventStatus,
    FeeKind,
    Line,
    Lot,
)

DEMO_EMAILS = (
    "admin@example.org",
    "coordination@example.org",
    "tresorerie@example.org",
    "takapres@example.org",
    "nantes-metropole@example.org",
)


def load(runner, *args):
    result = runner.invoke(args=["demo", "load", *args])
    assert result.exit_code == 0, result.output
    return result


def count(model_or_table) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model_or_table))


def snapshot() -> dict:
    """Counts of every table the demo touches, and a few values that would move if rows changed."""
    lines = db.session.scalars(sa.select(Line)).all()
    organisations = db.session.scalars(sa.select(Organisation)).all()
    return {
        "counts": [
            count(model)
            for model in (
                Category,
                Organisation,
                organisation_categories,
                Client,
                CoordinatorIdentity,
                User,
                Event,
                Lot,
                Assignment,
                Line,
                AuditEntry,
                Setting,
            )
        ],
        "unit_prices": sum((line.unit_price for line in lines), Decimal("0")),
        "quantities": sum((line.quantity for line in lines), Decimal("0")),
        "line_versions": sorted((line.id, line.version_id, line.updated_at) for line in lines),
        "organisations": sorted((o.id, o.version_id, o.updated_at, o.name) for o in organisations),
        "password_hashes": sorted(db.session.scalars(sa.select(User.password_hash))),
        "marker": db.session.get(Setting, DEMO_MARKER).value,
    }


@pytest.fixture
def loaded(runner):
    return load(runner)


def test_load_creates_the_assises_case(loaded):
    assert "Démonstration des Assises 2011 chargée" in loaded.output
    assert count(Category) == 10
    assert count(Organisation) == 21
    assert count(Client) == 1
    assert count(CoordinatorIdentity) == 1
    # The Assises, and the joint-consortium forum (invoicing/demo.py): 3 lots, 3 actors, 4 lines.
    assert count(Event) == 2
    assert count(Lot) == 10 + 3
    assert count(Assignment) == 22 + 3
    assert count(Line) == 34 + 4
    assert db.session.get(Setting, DEMO_MARKER).value == {"version": 1}


def test_categories_have_their_default_vat_rates(loaded):
    rates = {c.code: c.default_vat_rate for c in db.session.scalars(sa.select(Category))}
    assert rates == {
        "accueil": Decimal("0.2000"),
        "tenues": Decimal("0.2000"),
        "scenographie": Decimal("0.2000"),
        "restauration": Decimal("0.1000"),
        "pause_cafe": Decimal("0.1000"),
        "librairie": Decimal("0.0550"),
        "impression": Decimal("0.2000"),
        "location": Decimal("0.2000"),
        "audiovisuel": Decimal("0.2000"),
        "photographie": Decimal("0.2000"),
    }


def test_one_user_per_role_bound_to_its_party(loaded):
    users = {u.email: u for u in db.session.scalars(sa.select(User))}
    assert sorted(users) == sorted(DEMO_EMAILS)
    assert sorted(u.role for u in users.values()) == sorted(Role)
    assert users["takapres@example.org"].role == Role.ACTOR
    assert users["takapres@example.org"].organisation.name == "TAK-APRES / Chez Nous"
    assert users["nantes-metropole@example.org"].role == Role.CLIENT
    assert users["nantes-metropole@example.org"].client.name == "Nantes Métropole"
    assert all(u.password_hash.startswith("$argon2id$") for u in users.values())


def test_running_twice_changes_nothing(runner, loaded):
    before = snapshot()
    second = load(runner)
    assert "rien n'a changé" in second.output
    assert snapshot() == before
    # 6 634,97 as priced by the actors, less 0,60 on the buffet revised between quote versions 1 and 2;
    # plus the joint-consortium forum's 12,80 + 2,40 + 520,00 + 45,00.
    assert before["unit_prices"] == Decimal("6634.37") + Decimal("580.20")


def test_identifiers_are_valid(loaded):
    organisations = db.session.scalars(sa.select(Organisation)).all()
    coordinator = db.session.get(CoordinatorIdentity, 1)
    for party in [*organisations, coordinator]:
        assert stdnum_siret.is_valid(party.siret), party.name
        assert stdnum_iban.is_valid(party.iban), party.name
        assert party.iban.startswith("FR76"), party.name
        assert party.bic, party.name
        if party.vat_regime == VatRegime.SUBJECT:
            assert stdnum_tva.is_valid(party.vat_number), party.name
            assert party.vat_number[-9:] == party.siren, party.name
        else:
            assert party.vat_number is None, party.name
    client = db.session.scalar(sa.select(Client))
    assert stdnum_siret.is_valid(client.siret)
    assert client.siren == client.siret[:9] == "244400404"
    assert stdnum_tva.is_valid(client.vat_number) and client.vat_number.endswith(client.siren)
    assert client.is_public_body and client.chorus_service_code
    assert client.contact_email.endswith("@example.org")


def test_coordinator_is_les_ecossolies_subject_to_vat(loaded):
    coordinator = db.session.get(CoordinatorIdentity, 1)
    assert coordinator.name == "Les Ecossolies"
    assert coordinator.vat_regime == VatRegime.SUBJECT
    assert coordinator.commune == "Nantes"
    assert "40 €" in coordinator.legal_mentions
    assert "30 jours" in coordinator.payment_terms


def test_actor_cards_are_complete_and_varied(loaded):
    organisations = db.session.scalars(sa.select(Organisation)).all()
    for o in organisations:
        assert o.description and o.contact_name and o.phone, o.name
        assert o.email.endswith("@example.org") and o.website.endswith(".example.org"), o.name
        assert o.categories, o.name
        assert is_in_nantes_metropole(o.commune), o.name
        if o.qpv:
            assert check_qpv_name(o.qpv_name) == o.qpv_name
        else:
            assert o.qpv_name is None
    assert {o.vat_regime for o in organisations} == set(VatRegime)
    assert {o.legal_form.value for o in organisations} == {"association", "scop", "scic", "sarl", "ei"}
    assert sum(o.qpv for o in organisations) == 10
    assert [o.slug for o in organisations if not o.active] == ["recup-bottiere"]
    assert sorted(o.slug for o in organisations if not o.public_listing) == ["napce", "recup-bottiere"]


def test_event_lots_and_money(loaded):
    from offers.pricing import event_totals

    event = db.session.scalar(sa.select(Event).order_by(Event.id))
    assert event.title == "Assises métropolitaines de la Politique de la Ville"
    assert event.client.name == "Nantes Métropole"
    assert event.venue == "Cité des Congrès de Nantes"
    assert event.starts_at == datetime(2011, 4, 15, 6, 0, tzinfo=UTC)
    assert event.ends_at == datetime(2011, 4, 15, 16, 0, tzinfo=UTC)
    assert event.headcount == 400
    assert event.status == EventStatus.WON  # the client accepted version 2 of the quote
    assert event.billing_mode == BillingMode.SINGLE_CONTRACTOR
    assert (event.fee_kind, event.fee_rate) == (FeeKind.PERCENT, Decimal("0.0800"))
    assert [lot.category.code for lot in event.lots] == [
        "accueil",
        "tenues",
        "scenographie",
        "restauration",
        "pause_cafe",
        "librairie",
        "impression",
        "location",
        "audiovisuel",
        "photographie",
    ]
    for lot in event.lots:
        assert event.starts_at <= lot.ends_at and lot.starts_at <= event.ends_at, lot.title
        assert lot.specification and lot.place and lot.quantities, lot.title
        for line in lot.lines:
            assert line.vat_rate == lot.category.default_vat_rate
            assert line.unit_price == line.unit_price.quantize(Decimal("0.01"))
    lines = db.session.scalars(sa.select(Line).join(Lot).where(Lot.event_id == event.id)).all()
    # 25 110,10 priced, less 180 buffets × 0,60 revised for version 2 of the quote.
    assert sum((line_net(x.quantity, x.unit_price) for x in lines), Decimal("0")) == Decimal("25002.10")
    assert {x.unit for x in lines} <= {
        "piece",
        "personne",
        "heure",
        "jour",
        "forfait",
        "m2",
        "repas",
        "lot",
        "km",
    }
    assert Decimal("7.5") in {x.quantity for x in lines}
    totals = event_totals(event)
    assert totals.lots_net == Decimal("25002.10")
    assert totals.fee_net == Decimal("2000.17")


def test_the_quote_story_v1_superseded_v2_accepted(loaded):
    from offers.models import Quote, QuoteStatus

    quotes = db.session.scalars(
        sa.select(Quote).where(Quote.number == "DEV-2011-0001").order_by(Quote.version)
    ).all()
    assert [(q.number, q.version, q.status) for q in quotes] == [
        ("DEV-2011-0001", 1, QuoteStatus.SUPERSEDED),
        ("DEV-2011-0001", 2, QuoteStatus.ACCEPTED),
    ]
    v1, v2 = quotes
    assert v1.total_net == Decimal("25110.10") + Decimal("2008.81")
    assert v2.total_net == Decimal("25002.10") + Decimal("2000.17")
    assert v2.accepted_pdf_sha256 == v2.pdf_sha256 and v2.pdf.startswith(b"%PDF")
    assert v2.client_purchase_order == "EJ-2011-0415"
    # Accepted in 2011, between issue and validity end — not at the time the demo was loaded.
    assert v2.issue_date <= v2.answered_at.date() <= v2.valid_until


def test_assignments_in_every_state_with_a_replacement(loaded):
    assises = db.session.scalar(sa.select(Event).order_by(Event.id))
    assignments = db.session.scalars(sa.select(Assignment).join(Lot).where(Lot.event_id == assises.id)).all()
    by_status = {}
    for a in assignments:
        by_status.setdefault(a.status, []).append(a)
    assert {s: len(v) for s, v in by_status.items()} == {
        AssignmentStatus.ACCEPTED: 20,
        AssignmentStatus.DECLINED: 1,
        AssignmentStatus.INVITED: 1,
    }
    (declined,) = by_status[AssignmentStatus.DECLINED]
    assert declined.comment and declined.answered_at > declined.invited_at
    assert all(x.organisation_id != declined.organisation_id for x in declined.lot.lines)
    replacement = [a for a in declined.lot.assignments if a.status == AssignmentStatus.ACCEPTED]
    assert [a.organisation.name for a in replacement] == ["Yves Monteil, photographe"]
    assert replacement[0].invited_at > declined.answered_at
    (pending,) = by_status[AssignmentStatus.INVITED]
    assert pending.answered_at is None and pending.invited_at is not None
    assert not [x for x in pending.lot.lines if x.organisation_id == pending.organisation_id]
    for a in by_status[AssignmentStatus.ACCEPTED]:
        assert a.invited_at < a.answered_at and a.comment, a.organisation.name
        assert [x for x in a.lot.lines if x.organisation_id == a.organisation_id], a.organisation.name
    moves = [
        tuple(entry.changes["status"])
        for entry in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "assignment.status_changed")
        )
    ]
    assert moves.count(("proposed", "invited")) == 22
    assert moves.count(("invited", "accepted")) == 20
    assert moves.count(("invited", "declined")) == 1


def test_demo_coordinator_can_log_in(loaded, auth):
    response = auth.login("coordination@example.org", DEMO_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/tableau-de-bord"


def test_if_empty_does_nothing_when_a_user_exists(runner, make_user):
    make_user("admin", email="someone@example.org")
    result = load(runner, "--if-empty")
    assert "la démonstration n'est pas chargée" in result.output
    assert count(Organisation) == 0
    assert count(Category) == 0
    assert db.session.get(Setting, DEMO_MARKER) is None


def test_if_empty_loads_an_empty_database(runner):
    result = load(runner, "--if-empty")
    assert "chargée" in result.output
    assert count(User) == 5


def test_logins_lists_the_five_accounts(runner, loaded):
    result = runner.invoke(args=["demo", "logins"])
    assert result.exit_code == 0
    for email in DEMO_EMAILS:
        assert email in result.output
    assert result.output.count(DEMO_PASSWORD) == 5


def test_logins_says_when_the_demo_is_not_loaded(runner):
    result = runner.invoke(args=["demo", "logins"])
    assert result.exit_code == 0
    assert "La démonstration n'est pas chargée" in result.output
    assert "admin@example.org" not in result.output


def form_values(page: str) -> dict:
    """What the browser would post from a page's form as it stands: text inputs, selected options,
    checked radios and boxes."""
    import html as html_lib
    import re

    values = {}
    for tag in re.findall(r"<input [^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="([^"]+)"', tag)
        if not name or (kind and kind.group(1) in ("radio", "checkbox") and " checked" not in tag):
            continue
        values[name.group(1)] = html_lib.unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(
            r'<option [^>]*selected[^>]*value="([^"]*)"|<option value="([^"]*)" selected', body
        )
        if chosen:
            values[name] = chosen.group(1) or chosen.group(2)
    return values


def test_the_demo_event_duplicates_as_the_form_stands(loaded, client, auth):
    """Its first lot starts at 7:30, before the event's 8:00: the copy widens the event, not refuses."""
    auth.login("coordination@example.org", DEMO_PASSWORD)
    event = db.session.scalar(sa.select(Event).order_by(Event.id))
    page = client.get(f"/evenements/{event.id}/dupliquer").get_data(as_text=True)
    assert "débordent déjà des dates" in page
    data = form_values(page)
    assert data["lots_outside"] == "widen"
    data["title"] = "Assises 2012"
    response = client.post(f"/evenements/{event.id}/dupliquer", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    copy = db.session.scalar(sa.select(Event).where(Event.title == "Assises 2012"))
    earliest = min(lot.starts_at for lot in event.lots if lot.starts_at)
    assert earliest < event.starts_at
    assert copy.starts_at == earliest  # widened to the earliest lot, every lot kept its times
    assert copy.ends_at == max([event.ends_at] + [lot.ends_at for lot in event.lots if lot.ends_at])
    kept = [(lot.title, lot.starts_at, lot.ends_at) for lot in event.lots if not lot.is_cancelled]
    assert [(lot.title, lot.starts_at, lot.ends_at) for lot in copy.lots] == kept


def test_the_demo_banner_follows_the_marker_without_a_query_of_its_own(client, auth, make_user):
    from sqlalchemy import event as sa_event
    from sqlalchemy.engine import Engine

    auth.login(make_user("coordinator").email)

    def dashboard() -> tuple[str, list[str]]:
        statements: list[str] = []

        def listener(conn, cursor, statement, parameters, context, executemany):
            statements.append(" ".join(statement.split()))

        sa_event.listen(Engine, "before_cursor_execute", listener)
        try:
            page = client.get("/tableau-de-bord").get_data(as_text=True)
        finally:
            sa_event.remove(Engine, "before_cursor_execute", listener)
        return page, statements

    page, statements = dashboard()
    assert "demo-banner" not in page
    assert not [s for s in statements if s.startswith("SELECT settings.")], statements
    db.session.add(Setting(key=DEMO_MARKER, value={"version": 1}))
    db.session.flush()
    page, statements = dashboard()
    assert "Données de démonstration" in page
    assert not [s for s in statements if s.startswith("SELECT settings.")], statements
    assert "Données de démonstration" in client.get("/annuaire").get_data(as_text=True)  # anonymous too
    auth.logout()
    assert "Données de démonstration" in client.get("/annuaire").get_data(as_text=True)
