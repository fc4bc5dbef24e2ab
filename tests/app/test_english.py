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
