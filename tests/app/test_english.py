"""The English interface holds: error pages read in English, with no French left."""

from __future__ import annotations

import re
from html import unescape


def text(response) -> str:
    plain = unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
    return re.sub(r"\s+", " ", plain)


def in_english(client) -> None:
    with client.session_transaction() as session:
        session["lang"] = "en"


def test_the_404_page_reads_in_english(client):
    in_english(client)
    response = client.get("/page-qui-n-existe-pas")
    assert response.status_code == 404
    page = text(response)
    assert "Page not found" in page
    assert "This page or item does not exist." in page
    assert "<title>Page not found · Maillage</title>" in response.get_data(as_text=True)
    for french in ("introuvable", "n'existe pas", "Retour"):
        assert french not in page


def test_the_403_page_reads_in_english(client, auth, person):
    actor = person("actor")
    auth.login(actor.email)
    in_english(client)
    response = client.get("/evenements")
    assert response.status_code == 403
    page = text(response)
    assert "Access denied" in page
    assert "Your role does not give access to this page." in page
    assert "Accès refusé" not in page and "Votre rôle" not in page


def test_the_error_pages_stay_french_in_french(client):
    page = text(client.get("/page-qui-n-existe-pas"))
    assert "Page introuvable" in page


def test_the_quote_fee_reads_in_the_readers_language(client, auth, runner):
    import sqlalchemy as sa

    from app.extensions import db
    from offers.models import Quote

    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    quote = db.session.scalar(sa.select(Quote).order_by(Quote.version.desc()).limit(1))
    fee = next(line for line in quote.lines if line.kind == "fee")
    # Frozen in French when the quote was issued (the PDF keeps it)…
    assert fee.description.startswith("Coordination du groupement")
    auth.login("nantes-metropole@example.org", "demo-maillage")
    page = text(client.get(f"/mes-devis/{quote.id}"))
    assert (
        "Coordination du groupement : interlocuteur unique, suivi et logistique (8% du montant des lots) :"
        in page
    )
    # …and read in English by an English reader.
    in_english(client)
    page = text(client.get(f"/mes-devis/{quote.id}"))
    assert (
        "Consortium coordination: single point of contact, follow-up and logistics (8% of the lots' total):"
        in page
    )
    assert "Coordination du groupement" not in page


def test_the_lot_cards_name_their_lot_in_whole_attributes_in_both_languages(
    client, auth, person, make_event, make_category
):
    """Each lot card's buttons and lists are named after the lot in their ``aria-label``, in the
    reader's language; a title's quotes and brackets stay inside the attribute."""
    from html.parser import HTMLParser

    from app.extensions import db
    from offers.models import Lot

    auth.login(person("coordinator").email)
    event = make_event()
    titles = ['Accueil "VIP" <& co>', "Pauses café"]
    category = make_category()
    db.session.add_all(
        Lot(event_id=event.id, category=category, title=t, position=i) for i, t in enumerate(titles)
    )
    db.session.flush()

    class Labels(HTMLParser):
        def __init__(self):
            super().__init__()
            self.labels = []

        def handle_starttag(self, tag, attrs):
            names = dict(attrs)
            if "aria-label" in names and names.get("class", "").startswith(("btn", "list-inline")):
                self.labels.append(names["aria-label"])

    expected = {
        "fr": [
            f"Descendre le lot « {titles[0]} »",
            f"Ouvrir le lot « {titles[0]} » : acteurs, suggestions et lignes",
            f"Monter le lot « {titles[1]} »",
            f"Ouvrir le lot « {titles[1]} » : acteurs, suggestions et lignes",
        ],
        "en": [
            f"Move lot “{titles[0]}” down",
            f"Open the lot “{titles[0]}”: actors, suggestions and lines",
            f"Move lot “{titles[1]}” up",
            f"Open the lot “{titles[1]}”: actors, suggestions and lines",
        ],
    }
    for language, labels in expected.items():
        with client.session_transaction() as session:
            session["lang"] = language
        parser = Labels()
        parser.feed(client.get(f"/evenements/{event.id}").get_data(as_text=True))
        assert parser.labels == labels
