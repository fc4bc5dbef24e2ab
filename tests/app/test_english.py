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
