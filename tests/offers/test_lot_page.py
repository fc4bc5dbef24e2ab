"""The event page sums each lot up and links to the lot's page, where its actors, their
suggestions and its lines are worked on; every action on a lot comes back to that page."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from app.db import utcnow
from app.extensions import db
from app.models import OutboxMessage
from offers.models import AssignmentStatus, LotStatus
from tests.offers.test_events import add_assignment, add_line, add_lot, plain, post_form, section, text


@pytest.fixture
def staffed(make_event, make_category, make_organisation):
    """Two lots: « Déjeuner » with Méli-Mélo accepted, L'Équipage proposed and one line; « Accueil »
    with nobody, which two other actors of its category could take."""
    event = make_event()
    catering, welcome = make_category(name="Restauration"), make_category(name="Accueil")
    lunch = add_lot(event, catering, "Déjeuner")
    desk = add_lot(event, welcome, "Accueil des participants")
    cook = make_organisation(name="Méli-Mélo", categories=[catering])
    crew = make_organisation(name="L'Équipage", categories=[catering], email="bonjour@equipage.example.org")
    for name in ("Napce", "Romsi"):
        make_organisation(name=name, categories=[welcome])
    add_assignment(lunch, cook, AssignmentStatus.ACCEPTED)
    proposed = add_assignment(lunch, crew, AssignmentStatus.PROPOSED)
    add_line(lunch, cook, "40", "12.50", "0.1000", "Déjeuner assis")
    db.session.commit()
    return event, lunch, desk, proposed


def test_the_event_page_sums_each_lot_up_and_links_to_its_page(client, coordinator, staffed):
    event, lunch, desk, _proposed = staffed
    page = text(client.get(f"/evenements/{event.id}"))
    first = plain(section(page, f'id="lot-{lunch.id}"', f'id="lot-{desk.id}"'))
    assert "Méli-Mélo Accepté" in first and "L'Équipage Proposé" in first
    assert "1 ligne chiffrée" in first and "500,00 € HT" in first
    assert "Ce lot attend un acteur." not in first
    second = plain(section(page, f'id="lot-{desk.id}"', 'id="totaux"'))
    assert "Aucun acteur sur ce lot pour l'instant." in second and "Ce lot attend un acteur." in second
    assert "Aucune ligne chiffrée pour l'instant." in second
    for lot in (lunch, desk):
        assert f'href="/lots/{lot.id}"' in page
    # The actors' and lines' buttons, and the suggestions, are on each lot's page only.
    assert "/affectations/" not in page and "/lignes/" not in page and 'class="suggestion ' not in page
    assert "Napce" not in page


def test_the_lot_page_has_its_actors_their_suggestions_and_its_lines(client, coordinator, staffed):
    event, lunch, desk, proposed = staffed
    response = client.get(f"/lots/{lunch.id}")
    assert response.status_code == 200
    page = text(response)
    assert f'<a href="/evenements/{event.id}">{event.title}</a>' in page
    assert f'action="/affectations/{proposed.id}/inviter"' in page
    assert re.search(r'<tr id="ligne-\d+">', page) and "/lignes/" in page
    assert "500,00 € HT" in plain(page)
    # Nothing of the other lot but the link to it: neither its buttons nor its suggestions.
    assert f"/lots/{desk.id}/" not in page and "Napce" not in page
    page = text(client.get(f"/lots/{desk.id}"))
    suggested = plain(section(page, 'class="suggestions', "</ol>"))
    assert "Napce" in suggested and "Romsi" in suggested
    assert f'action="/lots/{desk.id}/affectations"' in page


def test_actions_on_a_lot_come_back_to_its_page(client, coordinator, staffed):
    event, lunch, desk, proposed = staffed
    lot_page = f"/lots/{lunch.id}"
    response = post_form(client, lot_page, f"/affectations/{proposed.id}/inviter", {"create_account": "y"})
    assert (response.status_code, response.headers["Location"]) == (302, lot_page)
    assert proposed.status == AssignmentStatus.INVITED
    response = post_form(client, lot_page, f"/affectations/{proposed.id}/relancer")
    assert (response.status_code, response.headers["Location"]) == (302, lot_page)
    # Cancelled from its page, back to it; from the event page, back there.
    response = post_form(client, lot_page, f"/lots/{lunch.id}/annuler", {"next": lot_page})
    assert (response.status_code, response.headers["Location"]) == (302, lot_page)
    assert lunch.status == LotStatus.CANCELLED
    assert "Lot annulé" in text(client.get(lot_page))
    response = post_form(client, lot_page, f"/lots/{lunch.id}/rouvrir", {"next": lot_page})
    assert (response.status_code, response.headers["Location"]) == (302, lot_page)
    response = post_form(client, f"/evenements/{event.id}", f"/lots/{desk.id}/annuler")
    assert response.headers["Location"] == f"/evenements/{event.id}#lot-{desk.id}"
    # A next path elsewhere is no way out of the site.
    response = post_form(client, lot_page, f"/lots/{desk.id}/rouvrir", {"next": "https://example.com/"})
    assert response.headers["Location"] == f"/evenements/{event.id}#lot-{desk.id}"


def test_a_refused_action_shows_the_lot_page_with_its_message(client, coordinator, staffed):
    _event, lunch, _desk, proposed = staffed
    lot_page = f"/lots/{lunch.id}"
    # Reminding an actor who was never invited is refused: nothing sent, the lot's page says why.
    response = post_form(client, lot_page, f"/affectations/{proposed.id}/relancer")
    assert response.status_code == 409
    page = text(response)
    assert '<li class="breadcrumb-item active" aria-current="page">Déjeuner</li>' in page
    assert 'class="alert alert-danger"' in page
    assert proposed.status == AssignmentStatus.PROPOSED and proposed.last_reminded_at is None


@pytest.mark.parametrize("role", ["actor", "client"])
def test_only_staff_open_a_lot_page(client, auth, make_user, staffed, role):
    auth.login(make_user(role).email)
    assert client.get(f"/lots/{staffed[1].id}").status_code == 403


def test_an_unknown_lot_is_a_404(client, coordinator):
    assert client.get("/lots/987654").status_code == 404


def test_a_decline_notice_links_to_the_lot_page(client, auth, make_user, staffed):
    _event, lunch, _desk, proposed = staffed
    coordination = make_user("coordinator", email="coordination@example.org")
    actor = make_user("actor", organisation=proposed.organisation)
    proposed.status, proposed.invited_at = AssignmentStatus.INVITED, utcnow()
    db.session.commit()
    auth.login(actor.email)
    response = post_form(
        client,
        f"/portail/affectations/{proposed.id}",
        f"/portail/affectations/{proposed.id}/reponse",
        data={"comment": "Pas disponibles.", "decline": "1"},
    )
    assert response.status_code == 302
    notice = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.recipients == coordination.email))
    assert f"http://localhost/lots/{lunch.id}\n" in notice.body_text
    assert f"http://localhost/lots/{lunch.id}/suggestions" in notice.body_text
    assert "/evenements/" not in notice.body_text


def test_the_lot_page_leads_to_the_lots_before_and_after_it(client, coordinator, staffed):
    _event, lunch, desk, _proposed = staffed
    page = text(client.get(f"/lots/{lunch.id}"))
    assert "Lot 1 sur 2 · Restauration" in plain(page)
    assert f'<a href="/lots/{desk.id}" rel="next">Lot suivant : Accueil des participants →</a>' in page
    assert 'rel="prev"' not in page
    page = text(client.get(f"/lots/{desk.id}"))
    assert "Lot 2 sur 2 · Accueil" in plain(page)
    assert f'<a href="/lots/{lunch.id}" rel="prev">← Lot précédent : Déjeuner</a>' in page
    assert 'rel="next"' not in page


def test_the_invite_button_says_whether_the_actor_has_an_account(client, coordinator, staffed, make_user):
    """The lot's page reads with its actors whether each one's organisation has an active actor
    account (no query of its own): with one, « Inviter »; without (none, or only an inactive or a
    coordinator's), the account is created with the invitation."""
    from app.models import User

    _event, lunch, _desk, proposed = staffed
    crew = proposed.organisation
    invite = f"Inviter « {crew.name} »"
    create = f"Créer son compte ({crew.email}) et inviter « {crew.name} »"

    def buttons() -> tuple[bool, bool]:
        db.session.expire_all()  # a fresh request reads everything again
        page = html.unescape(text(client.get(f"/lots/{lunch.id}")))  # the buttons' names
        return f'aria-label="{invite}"' in page, f'aria-label="{create}"' in page

    assert buttons() == (False, True)
    retired = make_user("actor", organisation=crew, active=False)
    db.session.commit()
    assert buttons() == (False, True)
    db.session.get(User, retired.id).active = True
    db.session.commit()
    assert buttons() == (True, False)
