"""The dashboards and the impact report through the app: who sees what, bad input, a constant
number of queries, the public link (shared, revoked, without personal data), the PDF."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from pypdf import PdfReader

from app.extensions import db
from app.models import LegalForm
from invoicing.models import InvoiceKind
from tests.conftest import csrf_token
from tests.offers.test_events import count_statements
from tests.reports.helpers import accepted_work, issued, paid

DASHBOARDS = {
    "/indicateurs/coordination": {"admin", "coordinator"},
    "/indicateurs/tresorerie": {"admin", "treasurer"},
    "/indicateurs/administration": {"admin"},
}


def text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", body.replace("\u202f", " ").replace("\xa0", " "))


@pytest.fixture
def assises(make_event, make_organisation, make_client):
    """An accepted 2011 event: two listed actors (one in a QPV), one not in the public directory."""
    ecos = make_organisation(name="Ecos", contact_name="Jeanne Martin", email="jeanne@example.org")
    tak = make_organisation(name="TAK-APRES", qpv=True, qpv_name="Bellevue", contact_name="Ali Ben")
    hidden = make_organisation(
        name="Atelier discret", legal_form=LegalForm.SCOP, public_listing=False, commune="Rezé"
    )
    city = make_client(name="Nantes Métropole")
    event = accepted_work(
        make_event,
        [
            (ecos, "Scénographie", "4200.00"),
            (tak, "Restauration", "1500.10"),
            (hidden, "Restauration", "300.00"),
        ],
        title="Assises de la politique de la ville",
        client=city,
        fee="480.01",
    )
    return event, (ecos, tak, hidden)


def login(client, auth, make_user, role):
    if role != "anonymous":
        user = make_user(role)
        auth.login(user.email)


@pytest.mark.parametrize("role", ["admin", "coordinator", "treasurer", "actor", "client", "anonymous"])
def test_each_dashboard_is_for_its_roles(client, auth, make_user, role):
    login(client, auth, make_user, role)
    for url, allowed in DASHBOARDS.items():
        response = client.get(url + "?annee=2011")
        if role == "anonymous":
            assert response.status_code == 302 and "/connexion" in response.headers["Location"]
        else:
            assert response.status_code == (200 if role in allowed else 403), (url, role)


@pytest.mark.parametrize("year", ["abc", "1999", "2101", "２０１１", "201", "20111", "-2011"])
def test_a_bad_year_is_refused(client, auth, make_user, year):
    login(client, auth, make_user, "admin")
    response = client.get(f"/indicateurs/administration?annee={year}")
    assert response.status_code == 400
    assert "Filtre invalide" in text(response)


def test_the_coordination_dashboard_shows_the_distribution(client, auth, make_user, assises):
    login(client, auth, make_user, "coordinator")
    page = text(client.get("/indicateurs/coordination"))  # opens on the latest year with work: 2011
    assert "Indicateurs de la coordination · 2011" in page
    assert "6 000,10 €" in page  # to the actors
    assert "Ecos 4 200,00 €" in page and "Restauration 1 800,10 €" in page
    assert "25%" in page  # 1 500,10 of 6 000,10 in a QPV: 25,00 %
    assert "3 paires d'acteurs ont travaillé ensemble pour la première fois, sur 3 paires" in page
    # Gini of 300,00 / 1 500,10 / 4 200,00: (−2 × 300 + 2 × 4 200) / (3 × 6 000,10) = 0,4333…
    assert "Coefficient de Gini 0,433 " in page
    html = client.get("/indicateurs/coordination?annee=2011").get_data(as_text=True)
    assert html.count('role="img"') == 5 and html.count("<desc") == 5 and "Voir les données" in html


def test_the_treasury_dashboard_shows_receivables_by_client_and_age(client, auth, make_user, make_client):
    city = make_client(name="Nantes Métropole")
    late = issued(city, "900.00", issue_date=date(2011, 4, 17), due_date=date(2011, 5, 17), prepaid="300.00")
    paid(late, "100.00", date(2011, 6, 1))
    credited = issued(city, "50.00", issue_date=date(2011, 4, 20), due_date=date(2011, 5, 20))
    issued(city, "50.00", issue_date=date(2011, 4, 21), kind=InvoiceKind.CREDIT_NOTE, credit_of=credited)
    login(client, auth, make_user, "treasurer")
    page = text(client.get("/indicateurs/tresorerie?annee=2011"))
    assert "Facturé TTC 600,00 €" in page  # 900 - 300 deducted; the credited one asks nothing
    assert "Encaissé 100,00 €" in page
    assert "Créances à ce jour 500,00 €" in page
    assert "Plus de 90 jours 500,00 €" in page  # today is years after May 2011


def test_the_dashboards_read_the_data_anew_each_time(
    client, auth, make_user, make_client, make_event, assises
):
    """Their statements are built once per year and kept (reports.aggregates): never their figures."""
    _event, (ecos, _tak, _hidden) = assises
    login(client, auth, make_user, "admin")
    before = text(client.get("/indicateurs/administration?annee=2011"))
    assert "Encaissé 0,00 €" in before and "Ecos 4 200,00 €" in before
    city = make_client(name="Ville de Rezé")
    paid(
        issued(city, "70.00", issue_date=date(2011, 5, 2), due_date=date(2011, 6, 1)),
        "70.00",
        date(2011, 5, 3),
    )
    accepted_work(make_event, [(ecos, "Scénographie", "0.50")], when=datetime(2011, 6, 1, 8, tzinfo=UTC))
    after = text(client.get("/indicateurs/administration?annee=2011"))
    assert "Encaissé 70,00 €" in after and "Ecos 4 200,50 €" in after


def _grow(make_event, make_organisation, make_client, events: int, actors: int):
    for n in range(events):
        orgs = [
            make_organisation(qpv=bool(i % 2), qpv_name="Malakoff" if i % 2 else None) for i in range(actors)
        ]
        accepted_work(
            make_event,
            [(org, f"Catégorie {i % 3}", "10.00") for i, org in enumerate(orgs)] * 2,
            when=datetime(2011, 1 + n % 12, 3, 8, tzinfo=UTC),
        )
        buyer = make_client()
        invoice = issued(buyer, "120.00", issue_date=date(2011, 1 + n % 12, 5), due_date=date(2011, 2, 1))
        paid(invoice, "20.00", date(2011, 3, 1))


def measure(client, url: str) -> int:
    client.get(url)
    db.session.expunge_all()
    with count_statements() as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements)


def test_dashboards_and_report_keep_a_constant_number_of_queries(
    client, auth, make_user, make_event, make_organisation, make_client, assises
):
    event, _actors = assises
    login(client, auth, make_user, "admin")
    urls = [*(url + "?annee=2011" for url in DASHBOARDS), f"/evenements/{event.id}/bilan"]
    before = [measure(client, url) for url in urls]
    _grow(make_event, make_organisation, make_client, events=6, actors=7)
    accepted_work(make_event, [(make_organisation(), "X", "1.00") for _ in range(9)], when=event.starts_at)
    after = [measure(client, url) for url in urls]
    assert before == after
    assert max(after) <= 20


def test_long_lists_show_their_first_rows_and_the_whole_list_is_a_csv(
    client, auth, make_user, make_event, make_organisation, make_client
):
    _grow(make_event, make_organisation, make_client, events=22, actors=2)  # 44 actors, 22 clients
    login(client, auth, make_user, "admin")
    page = text(client.get("/indicateurs/administration?annee=2011"))
    assert "Les 24 autres acteurs 480,00 €" in page  # 20,00 € each
    assert "Les 2 autres clients 0,00 € 0,00 € 0,00 € 0,00 € 200,00 € 200,00 €" in page
    assert "Les 2 autres événements 2 2" in page
    html = client.get("/indicateurs/administration?annee=2011").get_data(as_text=True)
    assert 'href="/indicateurs/coordination/acteurs.csv?annee=2011"' in html
    assert 'href="/indicateurs/coordination/collaborations.csv?annee=2011"' in html
    assert 'href="/indicateurs/tresorerie/creances.csv"' in html

    actors = client.get("/indicateurs/coordination/acteurs.csv?annee=2011")
    assert actors.status_code == 200 and actors.mimetype == "text/csv"
    assert 'filename="acteurs-2011.csv"' in actors.headers["Content-Disposition"]
    lines = actors.get_data().decode("utf-8-sig").splitlines()
    assert lines[0] == "Acteur;Forme juridique;Quartier ou commune;En QPV;Événements;Montant HT"
    assert len(lines) == 45 and all(line.endswith(";1;20,00") for line in lines[1:])
    events = (
        client.get("/indicateurs/coordination/collaborations.csv?annee=2011").get_data().decode("utf-8-sig")
    )
    assert len(events.splitlines()) == 23 and events.splitlines()[1].endswith(";03/01/2011;1;1")
    owed = client.get("/indicateurs/tresorerie/creances.csv").get_data().decode("utf-8-sig").splitlines()
    assert len(owed) == 23 and all(line.endswith(";0,00;0,00;0,00;0,00;100,00;100,00") for line in owed[1:])
    assert client.get("/indicateurs/tresorerie/reversements.csv?annee=2011").status_code == 200
    assert client.get("/indicateurs/coordination/acteurs.csv?annee=20x1").status_code == 400
    assert client.get("/indicateurs/coordination/autre.csv").status_code == 404


@pytest.mark.parametrize(
    ("role", "coordination", "treasury"),
    [("coordinator", 200, 403), ("treasurer", 403, 200), ("actor", 403, 403), ("client", 403, 403)],
)
def test_the_csv_lists_are_for_the_dashboards_roles(client, auth, make_user, role, coordination, treasury):
    login(client, auth, make_user, role)
    for table in ("acteurs", "collaborations"):
        assert client.get(f"/indicateurs/coordination/{table}.csv").status_code == coordination
    for table in ("reversements", "creances"):
        assert client.get(f"/indicateurs/tresorerie/{table}.csv").status_code == treasury


def share(client, event, **data):
    page = client.get(f"/evenements/{event.id}/bilan")
    return client.post(
        f"/evenements/{event.id}/bilan/partager",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), **data},
    )


def public_url(client, event) -> str:
    html = client.get(f"/evenements/{event.id}/bilan").get_data(as_text=True)
    match = re.search(r'href="http://localhost(/bilan/[A-Za-z0-9_-]{43})"', html)
    assert match, "no public link on the page"
    return match.group(1)


def test_the_report_reads_like_an_account(client, auth, make_user, assises):
    event, _actors = assises
    login(client, auth, make_user, "coordinator")
    page = text(client.get(f"/evenements/{event.id}/bilan"))
    assert (
        "a mobilisé 3 acteurs de l'économie sociale et solidaire, dont 1 implantés dans un quartier prioritaire"
        in page
    )
    assert "6 000,10 € HT leur sont revenus, dont 25% à des acteurs des quartiers prioritaires" in page
    assert "Aucun de ces 3 acteurs n'avait encore partagé un événement du réseau" in page
    assert "Frais de coordination facturés au client (HT) 480,01 €" in page
    assert "Restauration TAK-APRES (1 500,10 €), Atelier discret (300,00 €) 1 800,10 €" in page
    assert "Atelier discret" in page  # staff see every actor


def test_the_event_page_links_to_its_report(client, auth, make_user, assises):
    event, _actors = assises
    login(client, auth, make_user, "treasurer")
    assert f'href="/evenements/{event.id}/bilan"' in client.get(f"/evenements/{event.id}").get_data(
        as_text=True
    )
    assert client.get(f"/evenements/{event.id}/bilan").status_code == 200
    assert share(client, event).status_code == 403  # the treasurer reads, never publishes


def test_an_event_without_accepted_quote_says_so(client, auth, make_user, make_event):
    event = make_event()
    login(client, auth, make_user, "coordinator")
    assert "cet événement n'en a pas encore" in text(client.get(f"/evenements/{event.id}/bilan"))


def test_actors_and_clients_never_see_a_report(client, auth, make_user, assises):
    event, _actors = assises
    login(client, auth, make_user, "actor")
    assert client.get(f"/evenements/{event.id}/bilan").status_code == 403
    assert client.get(f"/evenements/{event.id}/bilan.pdf").status_code == 403
    assert client.get("/evenements/999999/bilan").status_code == 403


def test_the_public_link_shows_no_personal_data_and_can_be_revoked(client, auth, make_user, assises):
    event, _actors = assises
    login(client, auth, make_user, "coordinator")
    assert share(client, event).status_code == 302
    url = public_url(client, event)
    auth.logout()

    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert '<meta name="robots" content="noindex, nofollow">' in html
    page = text(response)
    assert "6 000,10 € HT leur sont revenus" in page
    for secret in (
        "Atelier discret",
        "Jeanne Martin",
        "jeanne@example.org",
        "Ali Ben",
        "4 200,00 €",
        "Nantes Métropole",
    ):
        assert secret not in page, secret
    assert "Acteur non listé dans l'annuaire" in page and "TAK-APRES" in page
    assert client.get(url + "/pdf").headers["Content-Type"] == "application/pdf"

    auth.login(make_user("coordinator").email)
    page = client.get(f"/evenements/{event.id}/bilan")
    revoked = client.post(
        f"/evenements/{event.id}/bilan/retirer", data={"csrf_token": csrf_token(page.get_data(as_text=True))}
    )
    assert revoked.status_code == 302
    assert client.get(url).status_code == 404
    history = text(client.get(f"/evenements/{event.id}"))
    assert "Bilan publié par un lien, sans les montants par acteur" in history
    assert "Lien du bilan retiré" in history


def test_publishing_amounts_is_the_coordinators_choice_and_a_new_link_replaces_the_old(
    client, auth, make_user, assises
):
    event, _actors = assises
    login(client, auth, make_user, "coordinator")
    share(client, event)
    first = public_url(client, event)
    share(client, event, show_amounts="y")
    second = public_url(client, event)
    assert first != second
    assert client.get(first).status_code == 404
    page = text(client.get(second))
    assert "Ecos Association Nantes 4 200,00 €" in page
    assert "Atelier discret" not in page and "Déjà reversé" not in page


@pytest.mark.parametrize("token", ["x", "a" * 43, "a" * 44, "../" + "a" * 40, "é" * 43])
def test_an_unknown_or_malformed_link_is_not_found(client, token):
    assert client.get(f"/bilan/{token}").status_code == 404


def test_sharing_needs_the_csrf_token(client, auth, make_user, assises):
    event, _actors = assises
    login(client, auth, make_user, "coordinator")
    assert client.post(f"/evenements/{event.id}/bilan/partager", data={}).status_code == 400


def test_the_pdf_is_the_account(client, auth, make_user, assises):
    event, _actors = assises
    login(client, auth, make_user, "coordinator")
    response = client.get(f"/evenements/{event.id}/bilan.pdf")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    content = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in reader.pages)).replace("\u202f", " ")
    content = content.replace("\xa0", " ")
    assert "Bilan de l'événement" in content
    assert "6 000,10 €" in content and "Atelier discret" in content
    assert D("6000.10") + D("480.01") == D("6480.11")  # what the client paid excl. VAT, for the record
