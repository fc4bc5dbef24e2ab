"""Matching: the ranked suggestions for a lot, their reasons, the weights from the settings, the
received-this-year rule and the date clashes; and the pages that show them, at a constant number
of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from app.db import utcnow
from app.extensions import db
from app.models import Category, Organisation
from app.settings_store import set_setting
from offers.models import Assignment, AssignmentStatus, Event, EventStatus, Lot, LotStatus
from offers.services.matching import (
    DEFAULT_WEIGHTS,
    lot_window,
    matching_weights,
    overlaps,
    received_this_year,
    sort_name,
    suggest,
)
from tests.offers.test_events import (
    add_assignment,
    add_line,
    add_lot,
    count_statements,
    measure,
    plain,
    post_form,
    section,
    text,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def at(day: int, hour: int, month: int = 6, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=UTC)


def names(suggestions) -> list[str]:
    return [s.organisation.name for s in suggestions]


def reasons(suggestion) -> list[str]:
    return [plain(r.text).strip() for r in suggestion.reasons]


@dataclass
class Table:
    food: Category
    event: Event
    lunch: Lot
    orgs: dict[str, Organisation]


@pytest.fixture
def table(make_event, make_category, make_organisation) -> Table:
    """Restauration actors, each standing for one case of the ranking (see ``EXPECTED``)."""
    food = make_category(name="Restauration", default_vat_rate=D("0.1000"))
    other = make_category(name="Librairie")
    event = make_event(title="Forum", status=EventStatus.CONSULTING, starts_at=at(20, 8), ends_at=at(20, 18))
    lunch = add_lot(event, food, "Déjeuner", starts_at=at(20, 12), ends_at=at(20, 14))

    def org(name, qpv=None, categories=(food,), **kw):
        return make_organisation(
            name=name, qpv=qpv is not None, qpv_name=qpv, categories=list(categories), **kw
        )

    orgs = {
        "alpha": org("Alpha", qpv="Malakoff"),
        "bravo": org("Bravo"),
        "charlie": org("Charlie", qpv="Bellevue"),
        "delta": org("Delta"),
        "echo": org("Écho"),
        "foxtrot": org("Foxtrot", qpv="Breil"),
        "kilo": org("Kilo"),
        "inactive": org("Inactif", qpv="Dervallières", active=False),
        "bookseller": org("Libraire", qpv="Bottière", categories=(other,)),
        "already": org("Déjà là", qpv="Château"),
    }
    add_assignment(lunch, orgs["already"], AssignmentStatus.PROPOSED)

    # Charlie received 1 000,00 € this year on a won event (two lines, each net rounded).
    won = make_event(title="Gala", status=EventStatus.WON, starts_at=at(10, 8, 3), ends_at=at(10, 20, 3))
    gala = add_lot(won, food, "Buffet du gala")
    add_line(gala, orgs["charlie"], "2.5", "399.99")  # 999.975 -> 999.98
    add_line(gala, orgs["charlie"], "1", "0.02")
    # ... a cancelled lot of a won event does not count.
    dropped = add_lot(won, food, "Cocktail annulé", status=LotStatus.CANCELLED)
    add_line(dropped, orgs["alpha"], "1", "5000.00")

    # Delta: 250,00 € accepted on a quoted event; its line on a lot it was only invited to does not count.
    quoted = make_event(
        title="Colloque", status=EventStatus.QUOTED, starts_at=at(5, 8, 9), ends_at=at(5, 18, 9)
    )
    accepted_lot = add_lot(quoted, food, "Pause")
    add_assignment(accepted_lot, orgs["delta"], AssignmentStatus.ACCEPTED)
    add_line(accepted_lot, orgs["delta"], "10", "25.00")
    invited_lot = add_lot(quoted, food, "Dîner")
    add_assignment(invited_lot, orgs["delta"], AssignmentStatus.INVITED)
    add_line(invited_lot, orgs["delta"], "1", "900.00")

    # Kilo: 500,00 € on a delivered event this year.
    delivered = make_event(
        title="Rencontres", status=EventStatus.DELIVERED, starts_at=at(2, 8, 2), ends_at=at(2, 18, 2)
    )
    add_line(add_lot(delivered, food, "Repas"), orgs["kilo"], "20", "25.00")

    # Écho: 2 000,00 € last year (does not count), and lines on a consulting event (not yet).
    last_year = make_event(
        title="Forum 2025",
        status=EventStatus.CLOSED,
        starts_at=at(20, 8, 6, 2025),
        ends_at=at(20, 18, 6, 2025),
    )
    add_line(add_lot(last_year, food, "Déjeuner 2025"), orgs["echo"], "1", "2000.00")
    draft = make_event(
        title="Projet", status=EventStatus.CONSULTING, starts_at=at(1, 8, 10), ends_at=at(1, 18, 10)
    )
    add_line(add_lot(draft, food, "Goûter"), orgs["echo"], "1", "800.00")

    # Foxtrot accepted a lot of another event overlapping the lunch: a clash.
    salon = make_event(title="Salon", status=EventStatus.WON, starts_at=at(20, 8), ends_at=at(20, 14))
    buffet = add_lot(salon, other, "Buffet", starts_at=at(20, 11), ends_at=at(20, 13))
    add_assignment(buffet, orgs["foxtrot"], AssignmentStatus.ACCEPTED)
    # Bravo's accepted lot starts when the lunch ends: back to back, no clash.
    workshop = make_event(
        title="Atelier", status=EventStatus.CONSULTING, starts_at=at(20, 14), ends_at=at(20, 18)
    )
    add_assignment(add_lot(workshop, other, "Goûter"), orgs["bravo"], AssignmentStatus.ACCEPTED)
    # Écho accepted a lot at the same time, but on a cancelled event: no clash.
    cancelled = make_event(
        title="Annulé", status=EventStatus.CANCELLED, starts_at=at(20, 8), ends_at=at(20, 18)
    )
    add_assignment(add_lot(cancelled, other, "Stand"), orgs["echo"], AssignmentStatus.ACCEPTED)
    # Kilo only invited (not accepted) at the same time: no clash.
    add_assignment(add_lot(salon, other, "Vestiaire"), orgs["kilo"], AssignmentStatus.INVITED)
    db.session.flush()
    return Table(food, event, lunch, orgs)


#: (name, score, received) with the default weights {"qpv": 3, "least_received": 2, "clash": -4};
#: least_received = 2 × (1000 − received) / 1000, the most received being Charlie's 1 000 €.
EXPECTED = [
    ("Alpha", D("5.00"), D("0.00")),  # QPV 3 + received nothing 2
    ("Charlie", D("3.00"), D("1000.00")),  # QPV 3 + received the most 0
    ("Bravo", D("2.00"), D("0.00")),  # received nothing; back-to-back lot is no clash
    ("Écho", D("2.00"), D("0.00")),  # last year's and draft events' lines do not count; same score: by name
    ("Delta", D("1.50"), D("250.00")),  # 2 × 750 / 1000
    ("Foxtrot", D("1.00"), D("0.00")),  # QPV 3 + 2 − clash 4
    ("Kilo", D("1.00"), D("500.00")),  # 2 × 500 / 1000; tie with Foxtrot: by name
]


def test_the_ranking_on_a_table_of_cases(table):
    ranked = suggest(table.lunch, now=NOW)
    assert [(s.organisation.name, s.score, s.received) for s in ranked] == EXPECTED


def test_inactive_other_category_and_already_on_the_lot_are_not_suggested(table):
    shown = names(suggest(table.lunch, now=NOW))
    assert "Inactif" not in shown
    assert "Libraire" not in shown
    assert "Déjà là" not in shown


def test_the_reasons_shown(table):
    by_name = {s.organisation.name: s for s in suggest(table.lunch, now=NOW)}
    assert reasons(by_name["Alpha"]) == [
        "propose la catégorie « Restauration »",
        "en QPV (Malakoff)",
        "n'a encore rien reçu cette année",
    ]
    assert reasons(by_name["Charlie"]) == [
        "propose la catégorie « Restauration »",
        "en QPV (Bellevue)",
        "a reçu 1 000,00 € cette année",
    ]
    assert reasons(by_name["Foxtrot"]) == [
        "propose la catégorie « Restauration »",
        "en QPV (Breil)",
        "n'a encore rien reçu cette année",
        "déjà mobilisé le même jour sur un autre événement (« Salon », lot « Buffet »)",
    ]
    assert [r.kind for r in by_name["Foxtrot"].reasons] == ["match", "plus", "plus", "warning"]
    assert by_name["Bravo"].clashes == [] and by_name["Écho"].clashes == [] and by_name["Kilo"].clashes == []


def test_received_this_year_counts_won_delivered_closed_and_accepted_quoted_lines(table):
    orgs = table.orgs
    received = received_this_year([o.id for o in orgs.values()], NOW)
    assert received[orgs["charlie"].id] == D("1000.00")
    assert received[orgs["delta"].id] == D("250.00")
    assert received[orgs["kilo"].id] == D("500.00")
    assert received[orgs["echo"].id] == D("0.00")  # last year, and a consulting event
    assert received[orgs["alpha"].id] == D("0.00")  # a cancelled lot
    # Next year, nobody has received anything yet.
    assert set(received_this_year([orgs["charlie"].id], NOW + timedelta(days=365)).values()) == {D("0.00")}


def test_a_clash_on_another_lot_of_the_same_event(table, make_category):
    welcome = add_lot(
        table.event, make_category(name="Accueil"), "Accueil", starts_at=at(20, 8), ends_at=at(20, 18)
    )
    add_assignment(welcome, table.orgs["bravo"], AssignmentStatus.ACCEPTED)
    bravo = next(s for s in suggest(table.lunch, now=NOW) if s.organisation.name == "Bravo")
    assert bravo.score == D("-2.00")
    assert (
        reasons(bravo)[-1] == "déjà mobilisé au même moment sur un autre lot de cet événement (« Accueil »)"
    )


def test_clashes_with_events_of_the_longest_allowed_duration(table, make_event):
    """The clash query walks only the events around the lot (an event lasts at most
    MAX_EVENT_DURATION): an accepted lot on an event of that length, started just under that long
    before the lunch and still running, clashes; one on an event that ended just before does not."""
    from offers.services.events import MAX_EVENT_DURATION

    lunch_start, lunch_end = lot_window(table.lunch)
    residency = make_event(
        title="Résidence",
        status=EventStatus.WON,
        starts_at=lunch_end - MAX_EVENT_DURATION,
        ends_at=lunch_end,
    )
    add_assignment(add_lot(residency, table.food, "Cantine"), table.orgs["delta"], AssignmentStatus.ACCEPTED)
    earlier = make_event(
        title="Saison",
        status=EventStatus.WON,
        starts_at=lunch_start - MAX_EVENT_DURATION,
        ends_at=lunch_start,
    )
    add_assignment(add_lot(earlier, table.food, "Bar"), table.orgs["kilo"], AssignmentStatus.ACCEPTED)
    db.session.flush()
    by_name = {s.organisation.name: s for s in suggest(table.lunch, now=NOW)}
    assert [c.event_title for c in by_name["Delta"].clashes] == ["Résidence"]
    assert by_name["Kilo"].clashes == []  # ended when the lunch starts: back to back


def test_a_lot_without_times_takes_the_event_s(table):
    whole_day = add_lot(table.event, table.food, "Buffet permanent")
    assert lot_window(whole_day) == (at(20, 8), at(20, 18))
    foxtrot = next(s for s in suggest(whole_day, now=NOW) if s.organisation.name == "Foxtrot")
    assert [c.lot_title for c in foxtrot.clashes] == ["Buffet"]


@pytest.mark.parametrize(
    ("a", "b", "clash"),
    [
        ((at(1, 10), at(1, 12)), (at(1, 11), at(1, 13)), True),
        ((at(1, 10), at(1, 12)), (at(1, 12), at(1, 14)), False),  # back to back
        ((at(1, 10), at(1, 18)), (at(1, 12), at(1, 13)), True),  # inside
        ((at(1, 10), at(1, 12)), (at(2, 10), at(2, 12)), False),  # another day
        ((at(1, 10), at(1, 10)), (at(1, 10), at(1, 10)), True),  # the same instant
    ],
)
def test_overlaps(a, b, clash):
    assert overlaps(a, b) is clash
    assert overlaps(b, a) is clash


def test_the_weights_come_from_the_settings(table):
    set_setting("matching.weights", {"qpv": 0, "least_received": "5", "clash": -4})
    ranked = suggest(table.lunch, now=NOW)
    assert [(s.organisation.name, s.score) for s in ranked] == [
        ("Alpha", D("5.00")),
        ("Bravo", D("5.00")),
        ("Écho", D("5.00")),
        ("Delta", D("3.75")),  # 5 × 750 / 1000
        ("Kilo", D("2.50")),
        ("Foxtrot", D("1.00")),
        ("Charlie", D("0.00")),
    ]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (None, DEFAULT_WEIGHTS),
        ({"qpv": 1}, {"qpv": D("1"), "least_received": D("2"), "clash": D("-4")}),
        (
            {"qpv": "1.5", "least_received": "x", "clash": True},
            {"qpv": D("1.5"), "least_received": D("2"), "clash": D("-4")},
        ),
        ({"qpv": 1000, "clash": "NaN"}, DEFAULT_WEIGHTS),
        ("not a dict", DEFAULT_WEIGHTS),
    ],
)
def test_unreadable_weights_fall_back_to_the_defaults(app, stored, expected):
    if stored is not None:
        set_setting("matching.weights", stored)
    assert matching_weights() == expected


def test_names_sort_without_case_or_accents():
    assert sorted(["écho", "Delta", "Éa", "alpha"], key=sort_name) == ["alpha", "Delta", "Éa", "écho"]


def test_one_query_whatever_the_number_of_candidates(table, make_organisation):
    weights = matching_weights()
    db.session.expire_all()
    lunch = db.session.get(Lot, table.lunch.id)
    _ = lunch.assignments, lunch.event, lunch.category
    with count_statements() as few:
        suggest(lunch, now=NOW, weights=weights)
    for n in range(15):
        make_organisation(
            name=f"Traiteur {n}",
            qpv=n % 2 == 0,
            qpv_name="Malakoff" if n % 2 == 0 else None,
            categories=[table.food],
        )
    db.session.expire_all()
    lunch = db.session.get(Lot, table.lunch.id)
    _ = lunch.assignments, lunch.event, lunch.category
    with count_statements() as many:
        ranked = suggest(lunch, now=NOW, weights=weights)
    assert len(ranked) == 22
    assert len(few) == len(many) == 1


# --- the pages -----------------------------------------------------------------------------------


@pytest.fixture
def live(make_event, make_category, make_organisation) -> tuple[Lot, dict]:
    """A lot in the future (pages use the clock), three caterers and an already invited one."""
    now = utcnow()
    food = make_category(name="Restauration", default_vat_rate=D("0.1000"))
    event = make_event(
        title="Assises",
        status=EventStatus.CONSULTING,
        starts_at=now + timedelta(days=40),
        ends_at=now + timedelta(days=40, hours=9),
    )
    lunch = add_lot(event, food, "Déjeuner")
    orgs = {
        "napce": make_organisation(name="Napce", qpv=True, qpv_name="Malakoff", categories=[food]),
        "romsi": make_organisation(name="Romsi", qpv=True, qpv_name="Château", categories=[food]),
        "virgule": make_organisation(name="Pain Virgule", categories=[food]),
        "goût": make_organisation(name="Le Goût des Autres", categories=[food]),
        "on_lot": make_organisation(name="Méli-Mélo", qpv=True, qpv_name="Clos Toreau", categories=[food]),
    }
    db.session.commit()
    return lunch, orgs


def test_the_suggestions_page_for_the_coordination(client, auth, make_user, live):
    lunch, orgs = live
    add_assignment(lunch, orgs["on_lot"], AssignmentStatus.PROPOSED)
    db.session.commit()
    auth.login(make_user("coordinator").email)
    response = client.get(f"/lots/{lunch.id}/suggestions")
    assert response.status_code == 200
    page = text(response)
    table = plain(section(page, 'class="table table-sm align-middle suggestions"', "</table>"))
    assert (
        table.index("Napce")
        < table.index("Romsi")
        < table.index("Le Goût des Autres")
        < table.index("Pain Virgule")
    )
    assert "en QPV (Malakoff)" in table and "n'a encore rien reçu cette année" in table
    assert "Méli-Mélo" not in table
    assert "Méli-Mélo" in plain(section(page, "Déjà sur le lot", "Suggestions"))
    assert f'name="organisation_id" value="{orgs["napce"].id}"' in page
    assert "matching.weights" in page


def test_the_search_field_finds_active_organisations_only(client, auth, make_user, make_organisation, live):
    lunch, _orgs = live
    make_organisation(name="Atelier fermé", active=False)
    make_organisation(name="Atelier ouvert")
    db.session.commit()
    auth.login(make_user("coordinator").email)
    page = plain(text(client.get(f"/lots/{lunch.id}/suggestions?q=atelier")))
    assert "Atelier ouvert" in page and "ne propose pas la catégorie « Restauration »" in page
    assert "Atelier fermé" not in page


@pytest.mark.parametrize(
    ("role", "status", "forms"),
    [("treasurer", 200, False), ("admin", 200, True), ("actor", 403, None), ("client", 403, None)],
)
def test_who_sees_the_suggestions_page(client, auth, make_user, live, role, status, forms):
    lunch, _orgs = live
    auth.login(make_user(role).email)
    response = client.get(f"/lots/{lunch.id}/suggestions")
    assert response.status_code == status
    if forms is not None:
        assert ("Ajouter les acteurs cochés" in text(response)) is forms


def test_an_admin_changes_the_weights_from_the_page(client, auth, make_user, live):
    lunch, _orgs = live
    auth.login(make_user("admin").email)
    url = f"/lots/{lunch.id}/suggestions"
    from tests.offers.test_events import post_form

    bad = post_form(
        client,
        url,
        f"/lots/{lunch.id}/ponderations",
        data={"qpv": "abc", "least_received": "2", "clash": "-4"},
    )
    assert bad.status_code == 400 and "Nombre attendu" in text(bad)
    response = post_form(
        client,
        url,
        f"/lots/{lunch.id}/ponderations",
        data={"qpv": "0", "least_received": "1,5", "clash": "-10"},
    )
    assert response.status_code == 302
    assert matching_weights() == {"qpv": D("0"), "least_received": D("1.5"), "clash": D("-10")}


def test_a_coordinator_may_not_change_the_weights(client, auth, make_user, live):
    lunch, _orgs = live
    auth.login(make_user("coordinator").email)
    from tests.offers.test_events import post_form

    response = post_form(
        client,
        f"/lots/{lunch.id}/suggestions",
        f"/lots/{lunch.id}/ponderations",
        data={"qpv": "0", "least_received": "1", "clash": "-1"},
    )
    assert response.status_code == 403


def test_the_lot_page_shows_the_top_three_for_a_lot_that_needs_someone(
    client, auth, make_user, make_organisation, live
):
    lunch, orgs = live
    auth.login(make_user("coordinator").email)
    page = text(client.get(f"/lots/{lunch.id}"))
    block = plain(section(page, f'id="lot-{lunch.id}-acteurs"', "Lignes chiffrées"))
    assert "Ce lot attend un acteur." in block
    shown = [n for n in ("Méli-Mélo", "Napce", "Romsi", "Le Goût des Autres", "Pain Virgule") if n in block]
    assert shown == ["Méli-Mélo", "Napce", "Romsi"]  # the three QPV, by name
    # Once someone is invited, the lot no longer asks for suggestions.
    add_assignment(lunch, orgs["napce"], AssignmentStatus.INVITED, invited_at=utcnow())
    db.session.commit()
    page = text(client.get(f"/lots/{lunch.id}"))
    assert "Ce lot attend un acteur." not in page
    # The event page says which lot waits for someone, without computing suggestions.
    assert "Ce lot attend un acteur." not in text(client.get(f"/evenements/{lunch.event_id}"))


def test_the_lot_page_ranks_with_the_weights_set_by_the_admin(client, auth, make_user, live):
    """The lot's page reads the weights with the lot (one statement): a QPV penalty puts the
    caterers outside priority neighbourhoods first, by name."""
    lunch, _orgs = live
    set_setting("matching.weights", {"qpv": "-5"})
    db.session.commit()
    auth.login(make_user("coordinator").email)
    page = text(client.get(f"/lots/{lunch.id}"))
    block = plain(section(page, f'id="lot-{lunch.id}-acteurs"', "Lignes chiffrées"))
    names = ("Méli-Mélo", "Napce", "Romsi", "Le Goût des Autres", "Pain Virgule")
    shown = [name for _at, name in sorted((block.index(n), n) for n in names if n in block)]
    assert shown == ["Le Goût des Autres", "Pain Virgule", "Méli-Mélo"]


def test_the_event_page_keeps_a_constant_query_count_with_lots_needing_someone(
    client, auth, make_user, make_event, make_category, make_organisation
):
    auth.login(make_user("coordinator").email)
    now = utcnow()

    def event_with(lots: int) -> int:
        event = make_event(
            status=EventStatus.CONSULTING,
            starts_at=now + timedelta(days=30),
            ends_at=now + timedelta(days=30, hours=8),
        )
        for n in range(lots):
            category = make_category()
            for k in range(3):
                make_organisation(qpv=k == 0, qpv_name="Malakoff" if k == 0 else None, categories=[category])
            lot = add_lot(event, category, f"Lot {n}")
            add_assignment(lot, make_organisation(categories=[category]), AssignmentStatus.PROPOSED)
        return event.id

    small, big = event_with(2), event_with(7)
    db.session.commit()
    small_count, big_count = measure(client, f"/evenements/{small}"), measure(client, f"/evenements/{big}")
    assert small_count == big_count
    assert big_count <= 10  # no suggestions computed there: each lot's page shows them
    # Each lot's page: the same count whatever the number of candidates and lots of the event.
    lots_small = db.session.scalars(sa.select(Lot.id).where(Lot.event_id == small)).all()
    lots_big = db.session.scalars(sa.select(Lot.id).where(Lot.event_id == big)).all()
    counts = {measure(client, f"/lots/{lot_id}") for lot_id in (lots_small[0], lots_big[-1])}
    assert len(counts) == 1
    assert counts.pop() <= 12  # the page's, plus: actor accounts, weights, candidates, received amounts


def test_a_cancelled_lot_or_a_closed_event_shows_no_suggestions(client, auth, make_user, live):
    lunch, _orgs = live
    lunch.status = LotStatus.CANCELLED
    db.session.commit()
    auth.login(make_user("coordinator").email)
    for url in (f"/lots/{lunch.id}", f"/evenements/{lunch.event_id}"):
        page = text(client.get(url))
        assert "Lot annulé" in page and "Ce lot attend un acteur." not in page
        assert 'class="suggestion ' not in page
    lunch.status = LotStatus.OPEN
    lunch.event.status = EventStatus.CANCELLED
    db.session.commit()
    for url in (f"/lots/{lunch.id}", f"/evenements/{lunch.event_id}"):
        page = text(client.get(url))
        assert "il ne se modifie plus" in page and "Ce lot attend un acteur." not in page
        assert 'class="suggestion ' not in page


# --- putting actors on a lot, through the app ----------------------------------------------------


@pytest.fixture
def coordination(make_user, auth):
    user = make_user("coordinator")
    auth.login(user.email)
    return user


def lot_actors(lot) -> dict[str, tuple[str, str]]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Assignment).where(Assignment.lot_id == lot.id))
    return {a.organisation.name: (str(a.role), str(a.status)) for a in rows}


def test_coordinator_adds_checked_suggestions_with_their_roles(client, coordination, table):
    lunch, orgs = table.lunch, table.orgs
    add_assignment(lunch, orgs["bravo"], status=AssignmentStatus.PROPOSED)
    before = lot_actors(lunch)
    assert len(lunch.assignments) == len(before)  # the collection is loaded, as the pages load it
    response = post_form(
        client,
        f"/lots/{lunch.id}/suggestions",
        f"/lots/{lunch.id}/affectations",
        data={"organisation_id": [orgs["alpha"].id, orgs["charlie"].id], f"role-{orgs['alpha'].id}": "lead"},
    )
    assert response.status_code == 302
    assert lot_actors(lunch) == {
        **before,
        "Alpha": ("lead", "proposed"),
        "Charlie": ("partner", "proposed"),
    }


def test_adding_an_actor_twice_is_refused_and_adds_nothing(client, coordination, table):
    lunch, orgs = table.lunch, table.orgs
    add_assignment(lunch, orgs["bravo"], status=AssignmentStatus.DECLINED)
    before = lot_actors(lunch)
    response = post_form(
        client,
        f"/lots/{lunch.id}/suggestions",
        f"/lots/{lunch.id}/affectations",
        data={"organisation_id": [orgs["alpha"].id, orgs["bravo"].id]},
    )
    assert response.status_code == 409
    assert "« Bravo » est déjà sur le lot « Déjeuner » (décliné)" in plain(text(response))
    assert lot_actors(lunch) == before  # all or nothing: no Alpha either


def test_an_unknown_role_or_actor_is_refused(client, coordination, table):
    lunch, orgs = table.lunch, table.orgs
    before = lot_actors(lunch)
    wrong_role = post_form(
        client,
        f"/lots/{lunch.id}/suggestions",
        f"/lots/{lunch.id}/affectations",
        data={"organisation_id": [orgs["alpha"].id], f"role-{orgs['alpha'].id}": "patron"},
    )
    assert wrong_role.status_code == 400
    assert "Rôle inconnu : patron." in plain(text(wrong_role))
    unknown = post_form(
        client,
        f"/lots/{lunch.id}/suggestions",
        f"/lots/{lunch.id}/affectations",
        data={"organisation_id": [999999]},
    )
    assert unknown.status_code == 400
    assert lot_actors(lunch) == before


@pytest.mark.parametrize("role", ["treasurer", "actor", "client"])
def test_only_coordination_puts_actors_on_a_lot(client, auth, make_user, table, role):
    user = make_user(role)
    auth.login(user.email)
    before = lot_actors(table.lunch)
    db.session.commit()
    response = client.post(
        f"/lots/{table.lunch.id}/affectations", data={"organisation_id": [table.orgs["alpha"].id]}
    )
    assert response.status_code in (400, 403)  # CSRF is checked after the role: never 302
    assert lot_actors(table.lunch) == before


@pytest.mark.parametrize("path", ["/lots/{id}/suggestions", "/lots/{id}"])
def test_suggested_organisations_are_read_from_their_own_columns(client, auth, make_user, live, path):
    """The suggestions load a few columns of each organisation (``SUGGESTED_COLUMNS``); reading
    another one raises. Rendered with nothing already in the session, as in a real request, both
    pages that show suggestions read only those."""
    lunch, orgs = live
    email = make_user("coordinator").email
    db.session.commit()
    lot_id, napce_id = lunch.id, orgs["napce"].id
    auth.login(email)
    db.session.expunge_all()
    response = client.get(path.format(id=lot_id))
    assert response.status_code == 200
    page = text(response)
    assert "Napce" in page
    assert f'name="organisation_id" value="{napce_id}"' in page
