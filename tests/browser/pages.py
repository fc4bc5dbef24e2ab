"""The main pages of each role, on the demo data, for the accessibility, phone and language tests."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

PASSWORD = "demo-maillage"

#: role -> the demo account that plays it (None: a visitor without an account).
ACCOUNTS = {
    "visitor": None,
    "coordinator": "coordination@example.org",
    "treasurer": "tresorerie@example.org",
    "admin": "admin@example.org",
    "actor": "takapres@example.org",
    "client": "nantes-metropole@example.org",
}


@dataclass(frozen=True)
class DemoIds:
    event: int
    lot: int
    line: int
    quote: int
    client: int
    organisation: int
    organisation_slug: str
    chain_slug: str
    chain: int
    assignment: int
    client_quote: int
    category: int


def demo_ids(app) -> DemoIds:
    """The ids of the demo objects the pages show (the accepted quote, TAK-APRES's assignment…)."""
    from app.extensions import db
    from app.models import Category, Chain, Organisation, User
    from offers.demo import demo_event
    from offers.models import Assignment, Line, Lot, Quote

    with app.app_context():
        event = demo_event()
        actor = db.session.scalar(sa.select(User).where(User.email == ACCOUNTS["actor"]))
        assignment = db.session.scalar(
            sa.select(Assignment)
            .join(Lot)
            .where(Lot.event_id == event.id, Assignment.organisation_id == actor.organisation_id)
            .order_by(Assignment.id)
            .limit(1)
        )
        lot = assignment.lot
        line = db.session.scalar(sa.select(Line).where(Line.lot_id == lot.id).order_by(Line.id).limit(1))
        quote = db.session.scalar(
            sa.select(Quote).where(Quote.event_id == event.id).order_by(Quote.version.desc()).limit(1)
        )
        organisation = db.session.get(Organisation, actor.organisation_id)
        chain = db.session.scalar(sa.select(Chain).order_by(Chain.position, Chain.id).limit(1))
        category = db.session.scalar(sa.select(Category).order_by(Category.id).limit(1))
        return DemoIds(
            event=event.id,
            lot=lot.id,
            line=line.id,
            quote=quote.id,
            client=event.client_id,
            organisation=organisation.id,
            organisation_slug=organisation.slug,
            chain_slug=chain.slug,
            chain=chain.id,
            assignment=assignment.id,
            client_quote=quote.id,
            category=category.id,
        )


def main_pages(ids: DemoIds) -> dict[str, list[str]]:
    """role -> the paths of its main pages (lists, details and forms)."""
    return {
        "visitor": [
            "/connexion",
            "/connexion/lien",
            "/annuaire",
            f"/annuaire/{ids.organisation_slug}",
            "/annuaire/chaines",
            f"/annuaire/chaines/{ids.chain_slug}",
            "/page-qui-n-existe-pas",
        ],
        "coordinator": [
            "/tableau-de-bord",
            "/evenements",
            f"/evenements/{ids.event}",
            f"/evenements/{ids.event}/modifier",
            f"/evenements/{ids.event}/dupliquer",
            "/evenements/nouveau",
            f"/evenements/{ids.event}/lots/nouveau",
            f"/lots/{ids.lot}",
            f"/lots/{ids.lot}/modifier",
            f"/lots/{ids.lot}/suggestions",
            f"/lots/{ids.lot}/lignes/nouvelle",
            f"/lignes/{ids.line}/modifier",
            "/reponses-attendues",
            "/devis",
            f"/devis/{ids.quote}",
            "/acteurs",
            f"/acteurs/{ids.organisation}",
            f"/acteurs/{ids.organisation}/modifier",
            "/acteurs/nouveau",
            "/acteurs/import",
            "/categories",
            "/chaines",
            f"/chaines/{ids.chain}/modifier",
            "/clients",
            f"/clients/{ids.client}",
            "/clients/nouveau",
            "/indicateurs/coordination",
            f"/evenements/{ids.event}/bilan",
        ],
        "treasurer": [
            "/tableau-de-bord",
            "/factures",
            f"/evenements/{ids.event}",
            "/admin/utilisateurs",
            "/indicateurs/tresorerie",
        ],
        "admin": [
            "/tableau-de-bord",
            "/admin/utilisateurs",
            "/admin/parametres",
            "/indicateurs/administration",
        ],
        "actor": [
            "/tableau-de-bord",
            "/portail/lots",
            f"/portail/affectations/{ids.assignment}",
            "/portail/facturation",
            "/ma-fiche",
        ],
        "client": ["/tableau-de-bord", "/mes-devis", f"/mes-devis/{ids.client_quote}"],
    }


def new_page(browser, base_url: str, role: str, lang: str = "fr", width: int = 1280, height: int = 900):
    """A browser context of its own, logged in as ``role`` (unless a visitor), in ``lang``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    email = ACCOUNTS[role]
    if email is not None:
        page.goto(f"{base_url}/connexion")
        page.locator("#email").fill(email)
        page.locator("#password").fill(PASSWORD)
        page.locator("form.login button[type=submit], form.login input[type=submit]").click()
        page.wait_for_url(f"{base_url}/tableau-de-bord")
    if lang != "fr":
        page.goto(f"{base_url}/connexion" if email is None else f"{base_url}/tableau-de-bord")
        page.locator(f"form.language-switch button[lang={lang}]").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == lang
    # Signed in and language chosen on a wide screen (on a phone both sit in the collapsed menu).
    page.set_viewport_size({"width": width, "height": height})
    return context, page
