"""A newcomer's first minutes, in a real browser: each demo role logs in and sees its own pages."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def login(page, base_url, email, password="demo-maillage"):
    page.goto(f"{base_url}/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{base_url}/tableau-de-bord")


def test_coordinator_sees_the_assises_event_with_its_lots_and_actors(browser, base_url):
    context = browser.new_context()
    page = context.new_page()
    login(page, base_url, "coordination@example.org")
    assert page.get_by_text("Données de démonstration").is_visible()
    page.get_by_role("link", name="Événements").first.click()
    page.get_by_role("link", name="Assises métropolitaines de la Politique de la Ville").click()
    page.wait_for_selector("h1")
    assert "Assises métropolitaines" in page.locator("h1").inner_text()
    body = page.locator("main").inner_text()
    for lot in ("Restauration", "Librairie", "Photographie"):
        assert lot.lower() in body.lower()
    for actor in ("TAK-APRES", "Yves Monteil"):
        assert actor in body
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "event-detail.png"), full_page=True)
    context.close()


@pytest.mark.parametrize(
    "email,allowed,forbidden",
    [
        ("takapres@example.org", "/portail/lots", "/evenements"),
        ("nantes-metropole@example.org", "/mes-devis", "/acteurs"),
        ("tresorerie@example.org", "/factures", "/admin/utilisateurs"),
        ("admin@example.org", "/admin/utilisateurs", "/portail/lots"),
    ],
)
def test_each_demo_role_sees_its_pages_and_is_refused_others(browser, base_url, email, allowed, forbidden):
    context = browser.new_context()
    page = context.new_page()
    login(page, base_url, email)
    assert page.goto(f"{base_url}{allowed}").status == 200
    response = page.goto(f"{base_url}{forbidden}")
    assert response.status == 403
    assert page.get_by_text("Accès refusé").is_visible()
    context.close()
