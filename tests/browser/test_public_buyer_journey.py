"""A public buyer's event from end to end, in a real browser, as the people involved would do it:

1. the coordinator creates a public client (Chorus Pro service code, engagement number), an event in
   joint-consortium mode with its contract fields, five lots, proposes one actor on each and invites
   them all at once (their accounts are created);
2. five actors of different VAT regimes (subject at 10 %, 5,5 % and 20 %, franchise, exempt), each in
   its own browser context, open the link of their invitation, accept and price several lines;
3. the coordinator checks the totals on the event page, issues a first version without sending it,
   then a second one that it sends;
4. the client's contact, given an account from the client's page, never sees the unsent version in
   its list; the client accepts from the e-mail's link.

The expected figures are computed here with plain ``Decimal`` arithmetic (never with the app's
pricing module) and checked on the event page, the quote page and the PDF's text. The coordinator's
clicks and typed fields are counted and printed; screenshots of every open page are kept on failure
(``test-artifacts/public-*.png``).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.demo import make_siret

from .test_foundation_journey import ARTIFACTS, login
from .test_offer_journey import link_in, newest_mail_to, text

pytestmark = pytest.mark.browser

D = Decimal
CENT = D("0.01")

CLIENT_NAME = "Ville de Saint-Herblain"
CLIENT_SIRET = make_siret("21440162", "0001")  # a SIREN and a SIRET with valid keys
CLIENT_CONTACT = "commande-publique@saint-herblain.example.org"
EVENT_TITLE = "Rencontres de l'économie sociale et solidaire 2027"
FEE_PERCENT = D("6.5")


@dataclass(frozen=True)
class Lot:
    title: str
    category: str
    actor: str
    #: subject: the category's rate; franchise and exempt: 0 % in a joint consortium.
    subject: bool
    rate: Decimal
    #: (description, quantity as typed, unit code, unit price as typed)
    lines: tuple[tuple[str, str, str, str], ...]


LOTS = (
    Lot(
        "Accueil et vestiaire",
        "Accueil",
        "Kenja",
        False,  # franchise (art. 293 B)
        D("0.20"),
        (("Accueil des participants", "14", "heure", "28,75"), ("Vestiaire", "1", "forfait", "180")),
    ),
    Lot(
        "Déjeuner",
        "Restauration",
        "TAK-APRES / Chez Nous",
        True,
        D("0.10"),
        (
            ("Déjeuner assis, menu de saison", "183", "repas", "14,35"),
            ("Service en salle", "7,5", "heure", "32,33"),
        ),
    ),
    Lot(
        "Pauses café",
        "Pauses café",
        "Napce",
        False,  # exempt (art. 261-7-1°)
        D("0.10"),
        (
            ("Pause café du matin", "180", "personne", "3,15"),
            ("Pause de l'après-midi", "165", "personne", "2,85"),
        ),
    ),
    Lot(
        "Librairie",
        "Librairie",
        "Café librairie L'Équipage",
        True,
        D("0.055"),
        (
            ("Librairie éphémère", "1", "forfait", "350"),
            ("Sélection d'ouvrages en dépôt", "1", "lot", "119,90"),
        ),
    ),
    Lot(
        "Scénographie",
        "Location de matériel",
        "Ecos",
        True,
        D("0.20"),
        (
            ("Location de mobilier", "2", "jour", "412,37"),
            ("Montage et démontage", "6", "heure", "41,5"),
            ("Transport", "1", "forfait", "95"),
        ),
    ),
)


# --- the expected figures, by hand ------------------------------------------------------------------


def typed(value: str) -> Decimal:
    return D(value.replace(",", "."))


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def euros(value: Decimal) -> str:
    """``7151.26`` -> ``7 151,26 €`` (spaces plain, as :func:`text` gives them)."""
    whole, frac = f"{value:.2f}".split(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return " ".join(groups) + "," + frac + " €"


@dataclass(frozen=True)
class Expected:
    lot_nets: dict[str, Decimal]
    member_vat: dict[str, Decimal]
    fee: Decimal
    fee_vat: Decimal
    net: Decimal
    vat: Decimal
    gross: Decimal


def expected() -> Expected:
    """Joint consortium: each member sells its share under its own regime and rounds its own VAT
    (half up, on the sum of its nets); the coordinator sells the fee at 20 %."""
    lot_nets = {
        lot.title: sum((cents(typed(q) * typed(p)) for _d, q, _u, p in lot.lines), D(0)) for lot in LOTS
    }
    member_vat = {
        lot.actor: cents(lot_nets[lot.title] * lot.rate) if lot.subject else D("0.00") for lot in LOTS
    }
    lots_net = sum(lot_nets.values(), D(0))
    fee = cents(lots_net * FEE_PERCENT / 100)
    fee_vat = cents(fee * D("0.20"))
    net = lots_net + fee
    vat = sum(member_vat.values(), D(0)) + fee_vat
    return Expected(lot_nets, member_vat, fee, fee_vat, net, vat, net + vat)


def test_the_expected_figures_are_the_ones_worked_out_by_hand():
    figures = expected()
    assert figures.lot_nets["Déjeuner"] == D("2868.53")  # 2 626,05 + 7,5 × 32,33 = 242,475 -> 242,48
    assert figures.member_vat["Café librairie L'Équipage"] == D("25.84")  # 469,90 × 5,5 % = 25,8445
    assert figures.fee == D("398.25")  # 6 126,92 × 6,5 % = 398,2498
    assert (figures.net, figures.vat, figures.gross) == (D("6525.17"), D("626.09"), D("7151.26"))


# --- the coordinator, counted -----------------------------------------------------------------------


class Counted:
    """The coordinator's page, through which every click and typed field is counted."""

    def __init__(self, page):
        self.page = page
        self.clicks = 0
        self.fields = 0
        self.visits = 0

    def click(self, locator):
        self.clicks += 1
        locator.click()

    def fill(self, locator, value: str):
        self.fields += 1
        locator.fill(value)

    def select(self, locator, **option):
        self.clicks += 1
        locator.select_option(**option)

    def check(self, locator):
        self.clicks += 1
        locator.check()

    def goto(self, url: str):
        """A page the coordinator opens from the menu or a bookmark: counted as one click."""
        self.visits += 1
        self.page.goto(url)


def shoot_all(pages: dict, prefix: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for name, page in pages.items():
        if not page.is_closed():
            page.screenshot(path=str(ARTIFACTS / f"{prefix}-{name}.png"), full_page=True)


def pdf_text(data: bytes) -> str:
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
    return re.sub(r"\s+", " ", " ".join(pages).replace("\u202f", " ").replace("\xa0", " "))


def flat(value: str) -> str:
    return re.sub(r"\s+", " ", value)


def test_a_public_buyers_event_from_the_first_click_to_the_accepted_quote(browser, base_url, live_app):
    outbox = Path(live_app.config["OUTBOX_DIR"])
    figures = expected()
    pages: dict = {}
    try:
        _journey(browser, base_url, live_app, outbox, figures, pages)
    except BaseException:
        shoot_all(pages, "public-failure")
        raise
    finally:
        for page in pages.values():
            page.context.close()


def _journey(browser, base_url, live_app, outbox, figures, pages):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    pages["coordinator"] = page
    login(page, base_url, "coordination@example.org")
    me = Counted(page)

    # 1. A public client with its Chorus Pro fields.
    me.goto(f"{base_url}/clients/nouveau")
    me.fill(page.get_by_label("Nom", exact=True), CLIENT_NAME)
    me.fill(page.get_by_label("SIRET", exact=True), CLIENT_SIRET)
    me.fill(page.get_by_label("Adresse", exact=True), "2 rue de l'Hôtel de Ville")
    me.fill(page.get_by_label("Code postal"), "44800")
    me.fill(page.get_by_label("Commune"), "Saint-Herblain")
    me.check(page.get_by_label("Acheteur public (factures via Chorus Pro)"))
    me.fill(page.get_by_label("Code service Chorus Pro"), "COMMANDE-PUBLIQUE")
    me.fill(page.get_by_label("N° d'engagement / bon de commande"), "EJ-2027-0412")
    me.fill(page.get_by_label("Nom du contact"), "Service de la commande publique")
    me.fill(page.get_by_label("E-mail du contact"), CLIENT_CONTACT)
    me.click(page.get_by_role("button", name="Enregistrer"))
    page.wait_for_selector("h1")
    assert CLIENT_NAME in page.locator("h1").inner_text()
    # The contact on file gets an account of this client (the form is filled from the card).
    me.click(page.get_by_role("button", name="Créer l'accès et envoyer le lien"))
    page.wait_for_selector(".alert")
    assert f"Accès créé pour {CLIENT_CONTACT}" in text(page)

    # 2. The event, joint consortium, with its contract fields and a 6,5 % coordination fee.
    me.goto(f"{base_url}/evenements/nouveau")
    me.fill(page.get_by_label("Titre", exact=True), EVENT_TITLE)
    me.select(page.get_by_label("Client"), label=CLIENT_NAME)
    me.fill(page.get_by_label("Lieu", exact=True), "Carré des Services")
    me.fill(page.get_by_label("Début (heure de Paris)"), "2027-06-01T08:30")
    me.fill(page.get_by_label("Fin (heure de Paris)"), "2027-06-01T18:00")
    me.fill(page.get_by_label("Nombre de participants"), "180")
    me.select(page.get_by_label("Mode de facturation"), value="joint_consortium")
    me.select(page.get_by_label("Type de frais"), value="percent")
    me.fill(page.get_by_label("Pourcentage (%)"), "6,5")
    me.fill(page.get_by_label("Référence de la consultation ou du marché"), "2027-RESS-07")
    me.fill(page.get_by_label("Procédure", exact=True), "Marché à procédure adaptée (MAPA)")
    me.fill(page.get_by_label("Codes CPV"), "79952000-2, 55520000-1")
    me.check(page.get_by_label(re.compile("^Mandataire solidaire")))
    me.click(page.get_by_role("button", name="Enregistrer"))
    page.wait_for_selector("h1")
    assert EVENT_TITLE in page.locator("h1").inner_text()
    event_url = page.url.split("#")[0]
    event_id = int(re.search(r"/evenements/(\d+)", event_url).group(1))

    # 3. Five lots, one actor proposed on each (from the lot's suggestions).
    for lot in LOTS:
        me.click(page.get_by_role("link", name="Ajouter un lot").first)
        me.select(page.get_by_label("Catégorie"), label=lot.category)
        me.fill(page.get_by_label("Titre du lot"), lot.title)
        me.click(page.get_by_role("button", name="Enregistrer"))
        page.wait_for_selector("h1")
        assert lot.title in page.locator("h1").inner_text()  # the new lot's page
        lot_url = page.url
        inline = page.get_by_role("button", name=f"Proposer « {lot.actor} » sur ce lot")
        if inline.count():
            me.click(inline)
        else:
            me.click(page.get_by_role("link", name="Suggestions d'acteurs"))
            choose = page.get_by_label(f"Choisir « {lot.actor} »")
            if not choose.count():
                me.fill(page.get_by_label("Nom de l'acteur (actifs seulement)"), lot.actor.split()[0])
                me.click(page.get_by_role("button", name="Chercher"))
                me.click(page.get_by_role("button", name=re.compile(f"Proposer « {re.escape(lot.actor)} »")))
            else:
                me.check(choose)
                me.click(page.get_by_role("button", name="Ajouter les acteurs cochés au lot"))
        page.wait_for_selector("h1")
        assert page.url == lot_url
    me.click(page.get_by_role("navigation", name="Fil d’Ariane").get_by_role("link", name=EVENT_TITLE))
    page.wait_for_selector("h1")
    assert page.url == event_url
    me.click(page.get_by_role("button", name=f"Inviter les {len(LOTS)} acteurs proposés"))
    page.wait_for_selector(".alert")
    page.screenshot(path=str(_artifact("public-1-invited")), full_page=True)

    # 4. Each actor, in its own browser context, opens its invitation, accepts and prices its lines.
    for index, lot in enumerate(LOTS, start=1):
        invitation = newest_mail_to(outbox, "@example.org", f"lot « {lot.title} » — {EVENT_TITLE}")
        actor_context = browser.new_context()
        actor = actor_context.new_page()
        actor.set_default_timeout(15_000)
        pages[f"actor-{lot.title}"] = actor
        actor.goto(link_in(invitation, base_url, "/lien/"))
        actor.get_by_role("button", name="Me connecter").click()
        actor.wait_for_selector("h1")
        actor.get_by_role("button", name="J'accepte ce lot").click()
        actor.wait_for_selector(".alert")
        for description, quantity, unit, price in lot.lines:
            form = actor.locator("form.portal-line-form")
            form.get_by_label("Description de la prestation").fill(description)
            form.get_by_label("Quantité").fill(quantity)
            form.get_by_label("Unité").fill(unit)
            form.get_by_label(re.compile("Prix unitaire")).fill(price)
            form.get_by_role("button", name="Enregistrer la ligne").click()
            actor.wait_for_selector(".alert")
            assert f"Ligne « {description} » ajoutée." in text(actor)
        assert euros(figures.lot_nets[lot.title]) in text(actor)
        actor.screenshot(path=str(_artifact(f"public-2-actor-{index}")), full_page=True)
        actor_context.close()
        del pages[f"actor-{lot.title}"]

    # 5. The event page (the coordinator's dashboard of the event) adds up to the expected figures.
    me.goto(event_url)
    body = flat(text(page))
    for lot in LOTS:
        assert euros(figures.lot_nets[lot.title]) in body, lot.title
    totals = flat(
        page.locator("section[aria-labelledby=totaux]")
        .inner_text()
        .replace("\u202f", " ")
        .replace("\xa0", " ")
    )
    assert f"Frais de coordination HT {euros(figures.fee)}" in totals
    assert f"Total HT {euros(figures.net)}" in totals
    assert f"TVA {euros(figures.vat)}" in totals
    assert f"Total TTC {euros(figures.gross)}" in totals
    for lot in LOTS:
        vat = figures.member_vat[lot.actor]
        net = figures.lot_nets[lot.title]
        assert f"{lot.actor} {euros(net)} {euros(vat)} {euros(net + vat)}" in totals, lot.actor

    # 6. A first version, issued and not sent: the client never sees it.
    me.click(page.get_by_role("link", name="Émettre le devis"))
    me.check(page.get_by_label(re.compile("Ajouter l'annexe de répartition")))
    me.click(page.get_by_role("button", name="Émettre le devis"))
    page.wait_for_selector("h1")
    number = re.search(r"DEV-\d{4}-\d{4}", page.locator("h1").inner_text()).group(0)
    first_url = page.url
    client_context = browser.new_context()
    client = client_context.new_page()
    client.set_default_timeout(15_000)
    pages["client"] = client
    access = newest_mail_to(outbox, CLIENT_CONTACT, f"Vos devis de {CLIENT_NAME}")
    client.goto(link_in(access, base_url, "/lien/"))
    client.get_by_role("button", name="Me connecter").click()
    client.wait_for_url(f"{base_url}/mes-devis")
    assert number not in text(client)
    first_id = int(first_url.rstrip("/").rsplit("/", 1)[1])
    assert client.goto(f"{base_url}/mes-devis/{first_id}").status in (403, 404)

    # 7. A second version, issued and sent.
    me.click(page.get_by_role("link", name="Nouvelle version"))
    me.check(page.get_by_label(re.compile("Ajouter l'annexe de répartition")))
    me.click(page.get_by_role("button", name="Émettre le devis"))
    page.wait_for_selector("h1")
    assert f"{number} — version 2" in page.locator("h1").inner_text()
    me.click(page.get_by_role("button", name="Envoyer au client"))
    page.wait_for_selector(".alert")
    quote_page = flat(text(page))
    for expected_text in (
        f"Total HT {euros(figures.net)}",
        f"Total TVA {euros(figures.vat)}",
        f"Total TTC {euros(figures.gross)}",
        "1er juin 2027, 08:30–18:00",
        "Consultation / marché : 2027-RESS-07",
        "mandataire solidaire",
    ):
        assert expected_text in quote_page, expected_text
    page.screenshot(path=str(_artifact("public-3-quote-sent")), full_page=True)
    pdf_url = page.get_by_role("link", name="Voir le PDF").get_attribute("href")
    document = pdf_text(page.request.get(base_url + pdf_url).body())
    for expected_text in (
        f"Total HT {euros(figures.net)}",
        f"Total TVA {euros(figures.vat)}",
        f"Total TTC {euros(figures.gross)}",
        "Code service Chorus Pro : COMMANDE-PUBLIQUE",
        "Engagement : EJ-2027-0412",
        "Consultation / marché : 2027-RESS-07",
        "Procédure : Marché à procédure adaptée (MAPA)",
        "Codes CPV : 79952000-2, 55520000-1",
        "Membres du groupement conjoint",
        "agit en qualité de mandataire solidaire du groupement conjoint",
    ):
        assert expected_text in document, expected_text
    for lot in LOTS:
        net, vat = figures.lot_nets[lot.title], figures.member_vat[lot.actor]
        assert f"{euros(net)} {euros(vat)} {euros(net + vat)}" in document, lot.actor

    # 8. The client's list shows the sent version only; the client accepts from the e-mail's link.
    client.goto(f"{base_url}/mes-devis")
    rows = client.locator("main table tbody tr")
    assert rows.count() == 1
    cells = [cell.strip() for cell in rows.first.locator("td").all_inner_texts()]
    assert cells[:3] == [number, "2", EVENT_TITLE], cells
    assert client.goto(f"{base_url}/mes-devis/{first_id}").status in (403, 404)
    mail = newest_mail_to(outbox, CLIENT_CONTACT, number)
    assert any(part.get_filename() == f"{number}-v2.pdf" for part in mail.iter_attachments())
    link = link_in(mail, base_url, "/devis/acces/")
    buyer_context = browser.new_context()
    buyer = buyer_context.new_page()
    buyer.set_default_timeout(15_000)
    pages["buyer"] = buyer
    buyer.goto(link)
    buyer.wait_for_selector("h1")
    assert f"Total TTC {euros(figures.gross)}" in flat(text(buyer))
    assert "Annexe — répartition par membre du groupement" in text(buyer)
    purchase_order = buyer.get_by_label("N° de bon de commande (facultatif)")
    buyer.get_by_label("Votre nom et votre qualité").fill("Anne Le Goff, directrice de la commande publique")
    if not purchase_order.input_value():
        purchase_order.fill("EJ-2027-0412")
    buyer.get_by_label("Bon pour accord").check()
    buyer.get_by_role("button", name="Accepter le devis").click()
    buyer.wait_for_selector(".alert")
    assert "Accepté" in text(buyer)
    buyer.screenshot(path=str(_artifact("public-4-client-accepted")), full_page=True)

    me.goto(event_url)
    assert "Gagné" in text(page)
    print(
        f"\nCoordinator effort for the public buyer's event ({len(LOTS)} lots, {len(LOTS)} actors): "
        f"{me.clicks} clicks, {me.fields} typed fields, {me.visits} pages opened from the menu "
        f"({me.clicks + me.visits} clicks counting those)"
    )
    assert event_id > 0


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"
