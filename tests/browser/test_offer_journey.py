"""The whole journey so far, in a real browser, three people in three separate browser contexts:

1. the coordinator creates an event for Nantes Métropole and a catering lot, adds TAK-APRES from the
   suggestions and invites it;
2. the actor opens the magic link from the outbox (.eml), accepts the lot and prices it;
3. the coordinator sees the priced lot, issues the quote and sends it;
4. the client opens the link from the outbox and accepts ("bon pour accord").

Each step reads what the previous one left (the e-mails on disk, the pages), as the users would.
"""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path

import pytest

from .test_foundation_journey import ARTIFACTS, login

pytestmark = pytest.mark.browser

EVENT_TITLE = "Forum des initiatives solidaires (parcours navigateur)"


def newest_mail_to(outbox: Path, recipient: str, subject_part: str):
    """The last .eml written to the outbox for this recipient whose subject contains ``subject_part``."""
    found = []
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime):
        with open(path, "rb") as handle:
            message = email.message_from_binary_file(handle, policy=policy.default)
        if recipient in str(message["To"]) and subject_part in str(message["Subject"]):
            found.append(message)
    assert found, f"aucun e-mail « {subject_part} » pour {recipient} dans {sorted(outbox.iterdir())}"
    return found[-1]


def link_in(message, base_url: str, path: str) -> str:
    """The first link of the message's text whose path starts with ``path``."""
    body = message.get_body(preferencelist=("plain",)).get_content()
    links = re.findall(re.escape(base_url + path) + r"\S+", body)
    assert links, body
    return links[0]


def text(page) -> str:
    """What the page's main part says, with Babel's (narrow) no-break spaces as plain spaces."""
    return page.locator("main").inner_text().replace("\u202f", " ").replace("\xa0", " ")


def new_person(browser):
    """A browser context of its own (its own cookies: another person) and its page."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"journey-{name}.png"), full_page=True)


def test_event_to_accepted_quote_across_three_browsers(browser, base_url, live_app):
    outbox = Path(live_app.config["OUTBOX_DIR"])

    # 1. The coordinator creates the event and a lot, then invites an actor from the suggestions.
    coordinator, page = new_person(browser)
    login(page, base_url, "coordination@example.org")
    page.goto(f"{base_url}/evenements/nouveau")
    page.get_by_label("Titre", exact=True).fill(EVENT_TITLE)
    page.get_by_label("Client").select_option(label="Nantes Métropole")
    page.get_by_label("Lieu", exact=True).fill("Manufacture des tabacs")
    page.get_by_label("Début (heure de Paris)").fill("2027-03-18T09:00")
    page.get_by_label("Fin (heure de Paris)").fill("2027-03-18T18:00")
    page.get_by_label("Nombre de participants").fill("120")
    page.get_by_label("Type de frais").select_option(value="none")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_selector("h1")
    assert EVENT_TITLE in page.locator("h1").inner_text()
    event_url = page.url

    page.get_by_role("link", name="Ajouter un lot").first.click()
    page.get_by_label("Catégorie").select_option(label="Restauration")
    page.get_by_label("Titre du lot").fill("Déjeuner des participants")
    page.get_by_label("Cahier des charges").fill("Buffet de saison pour 120 personnes, dont 20 végétariens.")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_selector("h1")
    assert "Déjeuner des participants" in page.locator("h1").inner_text()  # the new lot's page

    page.get_by_role("link", name=re.compile("Suggestions|Trouver des acteurs")).first.click()
    page.wait_for_selector("h1")
    page.get_by_label("Choisir « TAK-APRES / Chez Nous »").check()
    page.get_by_role("button", name="Ajouter les acteurs cochés au lot").click()
    page.wait_for_selector("h1")
    assert "Déjeuner des participants" in page.locator("h1").inner_text()  # back on the lot's page
    page.get_by_role("button", name="Inviter « TAK-APRES / Chez Nous »").click()
    page.wait_for_selector(".alert")
    assert "TAK-APRES" in text(page)
    shot(page, "1-coordinator-invited")

    # 2. The actor opens the magic link of its invitation, in its own browser, accepts and prices.
    invitation = newest_mail_to(outbox, "takapres@example.org", "Déjeuner des participants")
    actor, actor_page = new_person(browser)
    actor_page.goto(link_in(invitation, base_url, "/lien/"))
    actor_page.get_by_role("button", name="Me connecter").click()
    actor_page.wait_for_selector("h1")
    assert "Déjeuner des participants" in text(actor_page)
    actor_page.get_by_role("button", name="J'accepte ce lot").click()
    actor_page.wait_for_selector(".alert")
    assert "Accepté" in text(actor_page)
    actor_page.get_by_label("Description de la prestation").fill("Buffet de saison, boissons comprises")
    actor_page.get_by_label("Quantité").fill("120")
    actor_page.get_by_label("Unité").fill("personne")
    actor_page.get_by_label(re.compile("Prix unitaire")).fill("14,50")
    actor_page.get_by_role("button", name="Enregistrer").click()
    actor_page.wait_for_selector(".alert")
    assert "1 740,00" in text(actor_page)
    shot(actor_page, "2-actor-priced")
    actor.close()

    # 3. The coordinator sees the priced lot, issues the quote and sends it to the client.
    page.goto(event_url)
    body = text(page)
    assert "1 740,00" in body  # net of the lot
    assert "1 914,00" in body  # gross: 10 % VAT on food served
    page.get_by_role("link", name="Émettre le devis").click()
    page.get_by_role("button", name="Émettre le devis").click()
    page.wait_for_selector("h1")
    number = re.search(r"DEV-\d{4}-\d{4}", page.locator("h1").inner_text()).group(0)
    page.get_by_role("button", name="Envoyer au client").click()
    page.wait_for_selector(".alert")
    shot(page, "3-coordinator-quote-sent")

    # 4. The client opens the link of the e-mail, in its own browser, and accepts.
    quote_mail = newest_mail_to(outbox, "nantes-metropole", number)
    assert any(part.get_filename() == f"{number}-v1.pdf" for part in quote_mail.iter_attachments())
    client, client_page = new_person(browser)
    client_page.goto(link_in(quote_mail, base_url, "/devis/acces/"))
    client_page.wait_for_selector("h1")
    assert "1 914,00" in text(client_page)
    client_page.get_by_label("Votre nom et votre qualité").fill(
        "Claire Morvan, Mission Politique de la Ville"
    )
    client_page.get_by_label("N° de bon de commande").fill("EJ-2027-0318")
    client_page.get_by_label("Bon pour accord").check()
    client_page.get_by_role("button", name="Accepter le devis").click()
    client_page.wait_for_selector(".alert")
    assert "Accepté" in text(client_page)
    shot(client_page, "4-client-accepted")
    client.close()

    # The coordinator's event is won.
    page.goto(event_url)
    assert "Gagné" in text(page)
    coordinator.close()
