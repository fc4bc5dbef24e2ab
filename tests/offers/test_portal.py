"""The actor portal, tried through the app as actors would: each sees only its own organisation's
invitations and lots, answers once (before the deadline, before the quote is sent), then writes its
own lines at a computed VAT rate; nobody else's assignment, line or price is reachable."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from app.db import utcnow
from app.errors import DomainError
from app.extensions import db
from app.models import AuditEntry, Organisation, User, VatRegime
from offers.models import (
    Assignment,
    AssignmentStatus,
    BillingMode,
    Event,
    EventStatus,
    Line,
    Lot,
    LotStatus,
    QuoteStatus,
)
from offers.services.portal import AlreadyAnswered, answer_assignment
from tests.conftest import csrf_token
from tests.offers.test_events import add_assignment, add_line, add_lot, event_data, plain, post_form, text
from tests.offers.test_lines import LOCKED, add_sent_quote
from tests.offers.test_pricing import set_identity

ALREADY = "Vous avez déjà répondu à cette invitation"


@dataclass
class Site:
    event: Event
    lunch: Lot
    books: Lot
    cook: Organisation  # invited on the lunch, only proposed on the books
    crew: Organisation  # accepted the lunch, priced it
    invitation: Assignment  # the cook's, on the lunch
    crew_assignment: Assignment
    proposed: Assignment  # the cook's, on the books: not an invitation yet
    crew_line: Line
    cook_user: User
    crew_user: User


@pytest.fixture
def site(make_event, make_category, make_organisation, make_user) -> Site:
    set_identity(VatRegime.SUBJECT)
    now = utcnow()
    event = make_event(
        title="Assises de la Politique de la Ville",
        billing_mode=BillingMode.JOINT_CONSORTIUM,
        status=EventStatus.CONSULTING,
        starts_at=now + timedelta(days=30),
        ends_at=now + timedelta(days=30, hours=10),
        response_deadline=now + timedelta(days=10),
        headcount=400,
        venue="Cité des Congrès",
        onsite_contact="Camille, 06 00 00 00 00",
    )
    food = make_category(name="Restauration", default_vat_rate=D("0.1000"))
    lunch = add_lot(
        event,
        food,
        "Déjeuner des participants",
        specification="Déjeuner assis, produits locaux, une option végétarienne.",
        place="Grand hall",
        quantities="400 repas",
    )
    books = add_lot(event, make_category(name="Librairie", default_vat_rate=D("0.0550")), "Librairie")
    cook = make_organisation(name="Méli-Mélo", vat_regime=VatRegime.SUBJECT)
    crew = make_organisation(name="L'Équipage", vat_regime=VatRegime.SUBJECT)
    invitation = add_assignment(lunch, cook, AssignmentStatus.INVITED, invited_at=now)
    crew_assignment = add_assignment(lunch, crew, AssignmentStatus.ACCEPTED, answered_at=now)
    proposed = add_assignment(books, cook, AssignmentStatus.PROPOSED)
    crew_line = add_line(lunch, crew, "400", "14.50", "0.1000", "Service en salle de l'Équipage")
    cook_user = make_user("actor", organisation=cook, name="Claude Méli-Mélo")
    crew_user = make_user("actor", organisation=crew, name="Dominique Équipage")
    db.session.commit()
    return Site(
        event,
        lunch,
        books,
        cook,
        crew,
        invitation,
        crew_assignment,
        proposed,
        crew_line,
        cook_user,
        crew_user,
    )


def answer(client, assignment_id: int, button: str, comment: str = ""):
    return post_form(
        client,
        f"/portail/affectations/{assignment_id}",
        f"/portail/affectations/{assignment_id}/reponse",
        data={"comment": comment, button: "1"},
    )


def line_data(**over) -> dict:
    data = {"description": "Déjeuner assis", "quantity": "400", "unit": "repas", "unit_price": "12,5"}
    data.update(over)
    return data


def reload(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def audit_changes(object_type: str, object_id: int) -> list[tuple[str, dict]]:
    return [
        (entry.action, entry.changes)
        for entry in db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
            .order_by(AuditEntry.id)
        )
    ]


def audit_actions(object_type: str, object_id: int) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry.action)
            .where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
            .order_by(AuditEntry.id)
        )
    )


# --- what an actor sees --------------------------------------------------------------------------


def test_the_list_shows_only_the_organisations_own(client, auth, site):
    auth.login(site.cook_user.email)
    page = plain(text(client.get("/portail/lots")))
    assert "Invitations à répondre 1" in page
    assert "Déjeuner des participants" in page and "Assises de la Politique de la Ville" in page
    assert "Réponse attendue avant le" in page
    assert "Librairie" not in page  # only proposed: not an invitation yet
    assert "14,50" not in page and "5 800,00" not in page  # nobody else's prices
    auth.logout()
    auth.login(site.crew_user.email)
    page = plain(text(client.get("/portail/lots")))
    assert "Lots acceptés 1" in page
    assert "1 ligne · total HT 5 800,00 €" in page


def test_the_detail_shows_the_lot_and_the_event_but_not_other_prices(client, auth, site):
    auth.login(site.cook_user.email)
    page = plain(text(client.get(f"/portail/affectations/{site.invitation.id}")))
    for expected in (
        "Déjeuner des participants",
        "Déjeuner assis, produits locaux, une option végétarienne.",
        "Grand hall",
        "400 repas",
        "Assises de la Politique de la Ville",
        "Cité des Congrès",
        "Participants 400",
        "J'accepte ce lot",
        "Je décline",
        "Avec L'Équipage (chef de file)",
    ):
        assert expected in page, expected
    assert "Service en salle de l'Équipage" not in page and "14,50" not in page
    assert "Camille, 06 00 00 00 00" not in page  # the on-site contact once accepted


# (who, method, target, expected status); targets resolved from the site below.
PERMISSIONS = [
    ("cook", "GET", "list", 200),
    ("cook", "GET", "own invitation", 200),
    ("cook", "GET", "crew assignment", 403),
    ("cook", "GET", "own proposed", 404),
    ("cook", "GET", "unknown assignment", 404),
    ("cook", "POST", "answer crew assignment", 403),
    ("cook", "GET", "new line on own invitation (not accepted)", 403),
    ("cook", "GET", "edit crew line", 403),
    ("cook", "POST", "delete crew line", 403),
    ("cook", "GET", "edit unknown line", 404),
    ("crew", "GET", "crew assignment", 200),
    ("crew", "GET", "new line on crew assignment", 200),
    ("crew", "GET", "edit crew line", 200),
    ("crew", "GET", "own invitation", 403),
    ("coordinator", "GET", "list", 403),
    ("coordinator", "GET", "crew assignment", 403),
    ("treasurer", "GET", "edit crew line", 403),
    ("client", "GET", "list", 403),
    ("anonymous", "GET", "list", 302),
    ("anonymous", "GET", "crew assignment", 302),
]


def _target(site: Site, name: str) -> str:
    return {
        "list": "/portail/lots",
        "own invitation": f"/portail/affectations/{site.invitation.id}",
        "crew assignment": f"/portail/affectations/{site.crew_assignment.id}",
        "own proposed": f"/portail/affectations/{site.proposed.id}",
        "unknown assignment": "/portail/affectations/999999",
        "answer crew assignment": f"/portail/affectations/{site.crew_assignment.id}/reponse",
        "new line on own invitation (not accepted)": f"/portail/affectations/{site.invitation.id}/lignes/nouvelle",
        "new line on crew assignment": f"/portail/affectations/{site.crew_assignment.id}/lignes/nouvelle",
        "edit crew line": f"/portail/lignes/{site.crew_line.id}/modifier",
        "delete crew line": f"/portail/lignes/{site.crew_line.id}/supprimer",
        "edit unknown line": "/portail/lignes/999999/modifier",
    }[name]


@pytest.mark.parametrize(
    "who,method,target,expected", PERMISSIONS, ids=[f"{w} {m} {t}" for w, m, t, _e in PERMISSIONS]
)
def test_who_may_see_answer_and_edit_what(client, auth, make_user, site, who, method, target, expected):
    if who == "cook":
        auth.login(site.cook_user.email)
    elif who == "crew":
        auth.login(site.crew_user.email)
    elif who != "anonymous":
        auth.login(make_user(who).email)
    url = _target(site, target)
    if method == "GET":
        response = client.get(url)
    else:
        token = csrf_token(client.get("/portail/lots").get_data(as_text=True))
        response = client.post(url, data={"csrf_token": token, "accept": "1", "version_id": "1"})
    assert response.status_code == expected
    if expected == 302:
        assert response.headers["Location"].startswith("/connexion")
    db.session.expire_all()
    # Nothing moved.
    assert db.session.get(Assignment, site.crew_assignment.id).status == AssignmentStatus.ACCEPTED
    assert db.session.get(Line, site.crew_line.id) is not None


def test_an_actor_cannot_touch_another_actors_line_on_the_same_lot(client, auth, site):
    """Even once accepted on the lot, the cook cannot edit or delete the crew's line."""
    auth.login(site.cook_user.email)
    assert answer(client, site.invitation.id, "accept").status_code == 302
    token = csrf_token(client.get(f"/portail/affectations/{site.invitation.id}").get_data(as_text=True))
    edit = client.post(
        f"/portail/lignes/{site.crew_line.id}/modifier",
        data={**line_data(unit_price="1"), "version_id": "1", "csrf_token": token},
    )
    delete = client.post(
        f"/portail/lignes/{site.crew_line.id}/supprimer", data={"version_id": "1", "csrf_token": token}
    )
    assert (edit.status_code, delete.status_code) == (403, 403)
    line = reload(site.crew_line)
    assert (line.unit_price, line.version_id) == (D("14.50"), 1)


# --- answering -----------------------------------------------------------------------------------


def test_accept_then_price_the_lot(client, auth, site):
    auth.login(site.cook_user.email)
    response = answer(client, site.invitation.id, "accept", "Nous cuisinons avec les producteurs du marché.")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/portail/affectations/{site.invitation.id}#lignes"
    assignment = reload(site.invitation)
    assert assignment.status == AssignmentStatus.ACCEPTED
    assert assignment.comment == "Nous cuisinons avec les producteurs du marché."
    assert assignment.answered_at is not None
    entry = db.session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.action == "assignment.status_changed", AuditEntry.object_id == assignment.id
        )
    )
    assert entry.changes == {"status": ["invited", "accepted"]}
    assert (entry.event_id, entry.user_id) == (site.event.id, site.cook_user.id)

    page = plain(text(client.get(f"/portail/affectations/{site.invitation.id}")))
    assert "Vos lignes chiffrées" in page and "J'accepte ce lot" not in page
    assert "Camille, 06 00 00 00 00" in page  # the on-site contact, now that it is accepted

    # Joint consortium, subject actor: it may pick any positive legal rate (the category's 10 % is only
    # the default); the actor of the line is always its own organisation.
    response = post_form(
        client,
        f"/portail/affectations/{site.invitation.id}",
        f"/portail/affectations/{site.invitation.id}/lignes/nouvelle",
        data=line_data(
            unit_price="12,5", quantity="7,5", vat_rate="0.2000", organisation_id=str(site.crew.id)
        ),
    )
    assert response.status_code == 302
    [line] = db.session.scalars(sa.select(Line).where(Line.organisation_id == site.cook.id)).all()
    assert (line.quantity, line.unit_price, line.vat_rate, line.vat_rate_manual, line.lot_id) == (
        D("7.500"),
        D("12.50"),
        D("0.2000"),
        True,
        site.lunch.id,
    )
    created = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.action == "line.created", AuditEntry.object_id == line.id)
    )
    assert created.changes["unit_price"] == [None, "12.50"] and created.user_id == site.cook_user.id
    page = plain(text(client.get(f"/portail/affectations/{site.invitation.id}")))
    assert "Total HT 93,75 €" in page
    assert "7,5 × 12,50 € HT / repas · TVA 20%" in page
    assert "14,50" not in page  # still not the crew's price
    # The form to add the next line stays open after the first one.
    assert '<details class="card card-body shadow-sm portal-add-line" open>' in text(
        client.get(f"/portail/affectations/{site.invitation.id}")
    )
    # The coordinator's event page shows the new total: 5 800,00 + 93,75.
    assert audit_actions("assignments", site.invitation.id) == ["assignment.status_changed"]


def test_answering_twice_changes_nothing(client, auth, site):
    auth.login(site.cook_user.email)
    assert answer(client, site.invitation.id, "accept", "Avec plaisir.").status_code == 302
    response = answer(client, site.invitation.id, "decline", "Finalement non.")
    assert response.status_code == 409
    assert f"{ALREADY} (accepté) : votre réponse n'a pas été modifiée." in text(response)
    assignment = reload(site.invitation)
    assert (assignment.status, assignment.comment) == (AssignmentStatus.ACCEPTED, "Avec plaisir.")
    assert audit_actions("assignments", site.invitation.id) == ["assignment.status_changed"]


def test_the_one_shot_update_catches_a_concurrent_answer(app, site):
    """Two tabs: the object still says 'invited' but the row was answered meanwhile."""
    assignment = db.session.get(Assignment, site.invitation.id)
    assert assignment.status == AssignmentStatus.INVITED
    db.session.execute(
        sa.update(Assignment)
        .where(Assignment.id == assignment.id)
        .values(status=AssignmentStatus.DECLINED, comment="Réponse de l'autre onglet")
        .execution_options(synchronize_session=False)
    )
    assert assignment.status == AssignmentStatus.INVITED  # stale in memory
    with app.test_request_context():
        with pytest.raises(AlreadyAnswered) as caught:
            answer_assignment(assignment, site.cook_user, accept=True, comment="Oui")
    assert ALREADY in caught.value.message and caught.value.status_code == 409
    db.session.expire_all()
    stored = db.session.get(Assignment, site.invitation.id)
    assert (stored.status, stored.comment) == (AssignmentStatus.DECLINED, "Réponse de l'autre onglet")
    assert audit_actions("assignments", site.invitation.id) == []


@pytest.mark.parametrize("whose", ["lot", "event"])
def test_answering_after_the_deadline_is_refused(client, auth, site, whose):
    past = utcnow() - timedelta(hours=1)
    if whose == "lot":
        site.lunch.response_deadline = past  # the lot's own deadline wins over the event's
    else:
        site.event.response_deadline = past
    db.session.commit()
    auth.login(site.cook_user.email)
    listing = plain(text(client.get("/portail/lots")))
    assert "Délai de réponse dépassé" in listing
    page = plain(text(client.get(f"/portail/affectations/{site.invitation.id}")))
    assert "Le délai de réponse est dépassé" in page and "J'accepte ce lot" not in page
    for button in ("accept", "decline"):
        response = answer(client, site.invitation.id, button, "Trop tard ?")
        assert response.status_code == 409
        assert "Le délai de réponse est dépassé" in text(response)
    assignment = reload(site.invitation)
    assert (assignment.status, assignment.comment, assignment.answered_at) == (
        AssignmentStatus.INVITED,
        "",
        None,
    )


def test_answering_after_the_quote_was_sent_is_refused(client, auth, site):
    add_sent_quote(site.event, QuoteStatus.SENT)
    db.session.commit()
    auth.login(site.cook_user.email)
    response = answer(client, site.invitation.id, "accept")
    assert response.status_code == 409
    assert "Le devis a déjà été envoyé au client : il n'est plus possible de répondre." in text(response)
    assert reload(site.invitation).status == AssignmentStatus.INVITED


def test_answering_a_cancelled_lot_is_refused(client, auth, site):
    site.lunch.status = LotStatus.CANCELLED
    db.session.commit()
    auth.login(site.cook_user.email)
    response = answer(client, site.invitation.id, "accept")
    assert response.status_code == 409
    assert "Ce lot a été annulé par la coordination" in text(response)
    assert reload(site.invitation).status == AssignmentStatus.INVITED


def _has_notify_decline() -> bool:
    try:
        module = importlib.import_module("offers.services.assignments")
    except ImportError:
        return False
    return hasattr(module, "notify_decline")


@pytest.mark.skipif(
    not _has_notify_decline(),
    reason="offers.services.assignments.notify_decline (the assignments engineer's) does not exist yet",
)
def test_declining_tells_the_coordination(client, auth, site):
    auth.login(site.cook_user.email)
    response = answer(client, site.invitation.id, "decline", "Pas disponibles ce jour-là.")
    assert response.status_code == 302
    assert response.headers["Location"] == "/portail/lots"
    assignment = reload(site.invitation)
    assert (assignment.status, assignment.comment) == (
        AssignmentStatus.DECLINED,
        "Pas disponibles ce jour-là.",
    )
    assert audit_changes("assignments", site.invitation.id)[0] == (
        "assignment.status_changed",
        {"status": ["invited", "declined"]},
    )
    page = plain(text(client.get("/portail/lots")))
    assert "Réponses passées" in page and "Décliné" in page
    assert client.get(f"/portail/affectations/{site.invitation.id}/lignes/nouvelle").status_code == 403


def test_a_choice_is_required(client, auth, site):
    auth.login(site.cook_user.email)
    response = post_form(
        client,
        f"/portail/affectations/{site.invitation.id}",
        f"/portail/affectations/{site.invitation.id}/reponse",
        data={"comment": "?"},
    )
    assert response.status_code == 400
    assert reload(site.invitation).status == AssignmentStatus.INVITED


# --- the actor's lines ---------------------------------------------------------------------------


def test_edit_own_line_is_audited_and_keeps_the_coordinators_rate(client, auth, site):
    site.crew_line.vat_rate = D("0.0550")  # the coordination chose 5,5 % for this line
    site.crew_line.vat_rate_manual = True
    db.session.commit()
    auth.login(site.crew_user.email)
    url = f"/portail/lignes/{site.crew_line.id}/modifier"
    page = text(client.get(url))
    assert 'value="14,50"' in page
    response = post_form(
        client,
        url,
        data={
            **line_data(description="Service en salle", quantity="400", unit_price="15,20"),
            "version_id": "2",
        },
    )
    assert response.status_code == 302
    line = reload(site.crew_line)
    assert (line.unit_price, line.vat_rate, line.unit, line.description) == (
        D("15.20"),
        D("0.0550"),
        "repas",
        "Service en salle",
    )
    entry = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.action == "line.updated", AuditEntry.object_id == line.id)
    )
    assert entry.changes["unit_price"] == ["14.50", "15.20"]
    assert entry.changes["description"] == ["Service en salle de l'Équipage", "Service en salle"]
    assert "vat_rate" not in entry.changes
    assert entry.user_id == site.crew_user.id and entry.event_id == site.event.id


def test_a_stale_portal_line_form_is_refused_and_nothing_is_overwritten(client, auth, site):
    auth.login(site.crew_user.email)
    url = f"/portail/lignes/{site.crew_line.id}/modifier"
    token = csrf_token(client.get(url).get_data(as_text=True))
    site.crew_line.unit_price = D("16.00")  # the coordination changed it meanwhile
    db.session.commit()
    response = client.post(
        url, data={**line_data(unit_price="15,20"), "version_id": "1", "csrf_token": token}
    )
    assert response.status_code == 409
    page = text(response)
    assert "Quelqu'un a modifié cet élément pendant que vous le modifiiez." in page
    assert 'value="15,20"' in page
    assert re.search(r"Prix unitaire HT \(€\)</dt><dd[^>]*>16</dd>", page)
    assert reload(site.crew_line).unit_price == D("16.00")


def test_lines_are_locked_for_the_actor_once_the_quote_is_sent(client, auth, site):
    auth.login(site.crew_user.email)
    page = text(client.get(f"/portail/affectations/{site.crew_assignment.id}"))
    token = csrf_token(page)
    add_sent_quote(site.event, QuoteStatus.SENT)
    db.session.commit()
    page = plain(text(client.get(f"/portail/affectations/{site.crew_assignment.id}")))
    assert LOCKED in page and "Ajouter une ligne" not in page
    attempts = [
        (f"/portail/affectations/{site.crew_assignment.id}/lignes/nouvelle", line_data()),
        (f"/portail/lignes/{site.crew_line.id}/modifier", {**line_data(unit_price="1"), "version_id": "1"}),
        (f"/portail/lignes/{site.crew_line.id}/supprimer", {"version_id": "1"}),
    ]
    for url, data in attempts:
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 409, url
        assert LOCKED in text(response), url
    db.session.expire_all()
    lines = db.session.scalars(sa.select(Line).where(Line.lot_id == site.lunch.id)).all()
    assert [(line.unit_price, line.version_id) for line in lines] == [(D("14.50"), 1)]


def test_bad_values_are_refused_beside_their_field(client, auth, site):
    auth.login(site.crew_user.email)
    url = f"/portail/affectations/{site.crew_assignment.id}/lignes/nouvelle"
    for field, value, message in [
        ("unit_price", "12.345", "Un prix a au plus deux décimales (centimes)."),
        ("unit_price", "-1", "Le prix unitaire ne peut pas être négatif."),
        ("quantity", "0", "La quantité doit être supérieure à 0."),
        ("quantity", "2000000", "La quantité doit être au plus 1 000 000"),
    ]:
        response = post_form(client, url, data=line_data(**{field: value}))
        assert response.status_code == 400
        assert message in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Line)) == 1


def test_a_franchise_actor_in_a_joint_consortium_prices_at_zero_with_its_mention(
    client, auth, site, make_organisation, make_user
):
    photographer = make_organisation(name="Yves Monteil", vat_regime=VatRegime.FRANCHISE)
    assignment = add_assignment(site.lunch, photographer, AssignmentStatus.ACCEPTED)
    user = make_user("actor", organisation=photographer)
    db.session.commit()
    auth.login(user.email)
    response = post_form(
        client, f"/portail/affectations/{assignment.id}/lignes/nouvelle", data=line_data(unit_price="650")
    )
    assert response.status_code == 302
    line = db.session.scalar(sa.select(Line).where(Line.organisation_id == photographer.id))
    assert line.vat_rate == D("0")
    page = plain(text(client.get(f"/portail/affectations/{assignment.id}")))
    assert "TVA 0% (TVA non applicable, art. 293 B du CGI)" in page


def test_a_withdrawn_actor_reads_but_no_longer_writes(client, auth, site):
    site.crew_assignment.status = AssignmentStatus.WITHDRAWN
    db.session.commit()
    auth.login(site.crew_user.email)
    page = plain(text(client.get(f"/portail/affectations/{site.crew_assignment.id}")))
    assert "La coordination vous a retiré de ce lot." in page
    assert client.get(f"/portail/affectations/{site.crew_assignment.id}/lignes/nouvelle").status_code == 403
    assert client.get(f"/portail/lignes/{site.crew_line.id}/modifier").status_code == 403


def test_actor_deletes_its_own_line(client, auth, site):
    auth.login(site.crew_user.email)
    line_id = site.crew_line.id
    response = post_form(
        client,
        f"/portail/affectations/{site.crew_assignment.id}",
        f"/portail/lignes/{line_id}/supprimer",
        data={"version_id": "1"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Line, line_id) is None
    assert audit_actions("lines", line_id) == ["line.deleted"]


def test_domain_errors_are_french(app, site):
    """The service refuses a stranger even when a view forgot to."""
    with app.test_request_context():
        with pytest.raises(DomainError) as caught:
            answer_assignment(site.invitation, site.crew_user, accept=True)
    assert caught.value.message == "Seule l'organisation invitée répond à cette invitation."
    assert caught.value.status_code == 403


def test_the_list_keeps_a_constant_query_count(client, auth, site, make_category):
    from tests.offers.test_events import measure

    auth.login(site.crew_user.email)
    event_id, crew_id = site.event.id, site.crew.id
    few = measure(client, "/portail/lots")
    event, crew = db.session.get(Event, event_id), db.session.get(Organisation, crew_id)
    for n in range(6):
        lot = add_lot(event, make_category(), f"Lot {n}")
        add_assignment(lot, crew, AssignmentStatus.ACCEPTED if n % 2 else AssignmentStatus.INVITED)
        add_line(lot, crew, "2", "10.00")
    db.session.commit()
    many = measure(client, "/portail/lots")
    assert few == many
    # The user, the status counts (which give the page's total too), the invitations, the page,
    # the lines' counts and nets, the sent quotes, the demo flag: no count query of its own.
    assert many <= 7


def test_the_invitations_and_the_pages_statements_carry_no_parameter(app, client, auth, site):
    """PostgreSQL planned them again at every view while the organisation and the statuses were
    parameters: written in their text, each is planned once per connection and organisation. The
    organisation is the logged-in actor's, whatever the query string says."""
    from tests.perf.test_database import _sent

    auth.login(site.crew_user.email)
    responses = []
    sent = _sent(app, lambda: responses.append(client.get("/portail/lots?organisation_id=1")))
    assert [response.status_code for response in responses] == [200]
    written = [
        (statement, parameters)
        for statement, parameters in sent
        if f"assignments.organisation_id = {site.crew.id} " in statement
    ]
    assert len(written) == 2
    # On SQLite the page's bounds stay parameters (PostgreSQL writes them in the text: app.db).
    expected = [{}, {}] if app.config["TEST_BACKEND"] == "postgresql" else [(50, 0), (20, 0)]
    assert [parameters for _statement, parameters in written] == expected
    assert "assignments.status = 'invited'" in written[0][0]
    assert "assignments.status IN ('accepted', 'declined', 'withdrawn')" in written[1][0]


def test_the_list_counts_and_sums_only_the_organisations_own_lines(client, auth, site):
    # Two more lines of the crew (each net rounded first: 92.625 -> 92.63, 13.34333 -> 13.34),
    # and one of the cook's on the same lot, which the crew's total never includes.
    add_line(site.lunch, site.crew, "7.5", "12.35")
    add_line(site.lunch, site.crew, "1.333", "10.01")
    add_line(site.lunch, site.cook, "3", "99.99")
    db.session.commit()
    auth.login(site.crew_user.email)
    page = plain(text(client.get("/portail/lots")))
    assert "3 lignes · total HT 5 905,97 €" in page  # 5 800,00 + 92,63 + 13,34


def test_the_answered_lots_are_paginated_newest_event_first(client, auth, site, make_event, make_category):
    """21 answered lots over three events: 20 on the first page (newest event first, then each
    event's lots in order), the 21st on the second; the badge counts the accepted ones of all pages."""
    now = utcnow()
    category = make_category()
    crew = site.crew
    for days, titles in ((60, ["Soir A", "Soir B"]), (90, [f"Dernier {n:02}" for n in range(10)]), (45, [])):
        event = make_event(
            title=f"Rencontre J+{days}",
            starts_at=now + timedelta(days=days),
            ends_at=now + timedelta(days=days, hours=5),
        )
        for title in titles or [f"Milieu {n}" for n in range(8)]:
            status = AssignmentStatus.DECLINED if title.endswith("B") else AssignmentStatus.ACCEPTED
            add_assignment(add_lot(event, category, title), crew, status, answered_at=now)
    db.session.commit()
    auth.login(site.crew_user.email)
    first = plain(text(client.get("/portail/lots")))
    order = re.findall(r"(Dernier \d\d|Soir [AB]|Milieu \d|Déjeuner des participants)", first)
    # The page's accepted lots, then its past answers (the declined "Soir B" of the second event).
    assert order == [f"Dernier {n:02}" for n in range(10)] + ["Soir A"] + [
        f"Milieu {n}" for n in range(8)
    ] + ["Soir B"]
    assert "Lots acceptés 20" in first  # 19 of the new lots and the lunch; "Soir B" was declined
    second = plain(text(client.get("/portail/lots?page=2")))
    assert re.findall(r"(Dernier \d\d|Soir [AB]|Milieu \d|Déjeuner des participants)", second) == [
        "Déjeuner des participants"
    ]
    assert "Lots acceptés 20" in second
    links = re.findall(r'href="/portail/lots\?page=(\d+)"', text(client.get("/portail/lots?page=2")))
    assert links == ["1", "2"]
    beyond = plain(text(client.get("/portail/lots?page=3")))
    assert "Déjeuner des participants" not in beyond and "Lots acceptés 20" in beyond


def test_the_list_says_which_events_quote_was_sent_for_invitations_and_accepted_lots(
    client, auth, site, make_event, make_category
):
    """The portal's rows say, event by event, whether the quote was sent (read with the rows): an
    invitation can no longer be answered, an accepted lot's lines are frozen; another event's rows
    are not."""
    other = make_event(title="Forum des associations", status=EventStatus.CONSULTING)
    add_assignment(add_lot(other, make_category(), "Buvette"), site.cook, AssignmentStatus.ACCEPTED)
    db.session.commit()
    auth.login(site.cook_user.email)
    too_late = "Le devis a déjà été envoyé : il n'est plus possible de répondre."
    frozen = "Devis envoyé au client : vos lignes sont figées."

    def seen() -> tuple[bool, bool]:
        db.session.expire_all()
        page = text(client.get("/portail/lots"))
        return too_late in page, frozen in page

    assert seen() == (False, False)
    add_sent_quote(site.event, QuoteStatus.SENT).number = "DEV-2026-0002"  # the invitation's event
    db.session.commit()
    assert seen() == (True, False)
    add_sent_quote(other, QuoteStatus.ACCEPTED)  # the accepted lot's event
    db.session.commit()
    assert seen() == (True, True)


def test_an_event_moved_in_time_moves_its_lots_in_the_portal(
    client, auth, site, make_event, make_category, make_user
):
    """The list's order reads each assignment's copy of its event's start (kept at every flush):
    the coordination moving an event with its edit form moves its lots in the actor's list at once,
    and a lot added afterwards takes its place among them."""
    now = utcnow()
    other = make_event(
        title="Rencontre", starts_at=now + timedelta(days=90), ends_at=now + timedelta(days=90, hours=5)
    )
    add_assignment(add_lot(other, make_category(), "Buvette du soir"), site.crew, AssignmentStatus.ACCEPTED)
    db.session.commit()
    shown = re.compile(r"(Buvette du soir|Déjeuner des participants|Goûter)")
    auth.login(site.crew_user.email)
    assert shown.findall(plain(text(client.get("/portail/lots")))) == [
        "Buvette du soir",
        "Déjeuner des participants",
    ]

    auth.logout()
    auth.login(make_user("coordinator").email)
    moved = (now + timedelta(days=400)).date().isoformat()
    url = f"/evenements/{site.event.id}/modifier"
    page = client.get(url).get_data(as_text=True)
    data = event_data(
        site.event.client_id,
        billing_mode="joint_consortium",
        starts_at=f"{moved}T09:00",
        ends_at=f"{moved}T19:00",
        response_deadline=(now + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"),
        version_id=re.search(r'name="version_id" type="hidden" value="(\d+)"', page)[1],
        csrf_token=csrf_token(page),
    )
    db.session.commit()
    assert client.post(url, data=data).status_code == 302
    add_assignment(add_lot(other, make_category(), "Goûter"), site.crew, AssignmentStatus.ACCEPTED)
    db.session.commit()

    auth.logout()
    auth.login(site.crew_user.email)
    assert shown.findall(plain(text(client.get("/portail/lots")))) == [
        "Déjeuner des participants",
        "Buvette du soir",
        "Goûter",
    ]
