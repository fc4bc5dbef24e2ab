"""The public directory (/annuaire) and the thematic chains: what a visitor sees, and what never leaks.

Also the coordinator's management of chains (/chaines/…), and the database's own guards.
"""

from __future__ import annotations

import html
import re
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import AuditEntry, Chain, ChainLink, Organisation, VatRegime
from tests.conftest import csrf_token, post_form

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
    b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND"
    b"\xaeB`\x82"
)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def card_names(response) -> list[str]:
    """The actors' names on a directory page, in order (from the cards' title links)."""
    return re.findall(r'card-title mb-1"><a href="/annuaire/[^"]+">([^<]+)</a>', text(response))


def path_names(response) -> list[str]:
    """The step titles of every chain path on a page, in order ("Un acteur du réseau" included)."""
    body = text(response)
    names = []
    for block in re.findall(r'<ol class="chain-path.*?</ol>', body, re.S):
        for step in re.findall(r"<li .*?</li>", block, re.S):
            match = re.search(r'<h[1-6] class="h6[^"]*">\s*(?:<a [^>]*>)?([^<]+?)\s*(?:</a>)?\s*</h', step)
            names.append(match.group(1) if match else None)
    return names


@contextmanager
def count_queries():
    """Count the SQL statements sent to any engine while the block runs."""
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(Engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        sa.event.remove(Engine, "before_cursor_execute", listener)


@pytest.fixture
def make_chain(app):
    def make(organisations=(), notes=None, **kw):
        n = db.session.scalar(sa.select(sa.func.count(Chain.id))) + 1
        values = {"name": f"Chaîne {n}", "slug": f"chaine-{n}", "published": True, "position": n}
        values.update(kw)
        chain = Chain(**values)
        for position, organisation in enumerate(organisations):
            note = (notes or {}).get(organisation.name)
            chain.links.append(ChainLink(organisation=organisation, position=position, note=note))
        db.session.add(chain)
        db.session.flush()
        return chain

    return make


# --- anonymous access, who is listed -------------------------------------------------------------


def test_visitor_browses_directory_card_and_chains_without_logging_in(client, make_organisation, make_chain):
    actor = make_organisation(name="Boulangerie du Coin", slug="boulangerie-du-coin")
    make_chain([actor], name="La chaîne du pain", slug="chaine-du-pain")
    for url in (
        "/annuaire",
        "/annuaire/boulangerie-du-coin",
        "/annuaire/chaines",
        "/annuaire/chaines/chaine-du-pain",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Boulangerie du Coin" in text(response), url
    assert "Se connecter" in text(client.get("/annuaire"))


def test_only_active_actors_who_consented_are_listed(client, make_organisation):
    make_organisation(name="Listé Un")
    make_organisation(name="Listé Deux")
    make_organisation(name="Sans Consentement", public_listing=False)
    make_organisation(name="Inactif Consentant", active=False, public_listing=True)
    make_organisation(name="Inactif Discret", active=False, public_listing=False)
    response = client.get("/annuaire")
    assert card_names(response) == ["Listé Deux", "Listé Un"]
    body = text(response)
    for hidden in ("Sans Consentement", "Inactif Consentant", "Inactif Discret"):
        assert hidden not in body
    assert "2 acteurs" in body


@pytest.mark.parametrize(
    "flags", [{"public_listing": False}, {"active": False}], ids=["no-consent", "inactive"]
)
def test_unlisted_actor_has_no_public_page_nor_logo(client, make_organisation, flags):
    make_organisation(name="Discrète", slug="discrete", logo=PNG, logo_mime="image/png", **flags)
    assert client.get("/annuaire/discrete").status_code == 404
    assert client.get("/annuaire/discrete/logo").status_code == 404
    assert client.get("/annuaire/inconnue").status_code == 404


def test_logo_is_served_for_listed_actors_only_as_a_raster_image(client, make_organisation):
    make_organisation(name="Avec Logo", slug="avec-logo", logo=PNG, logo_mime="image/png")
    make_organisation(
        name="Logo SVG", slug="logo-svg", logo=b"<svg onload='x()'/>", logo_mime="image/svg+xml"
    )
    make_organisation(name="Sans Logo", slug="sans-logo")
    response = client.get("/annuaire/avec-logo/logo")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data == PNG
    assert client.get("/annuaire/logo-svg/logo").status_code == 404
    assert client.get("/annuaire/sans-logo/logo").status_code == 404
    assert 'src="/annuaire/avec-logo/logo" alt="Logo de Avec Logo"' in text(client.get("/annuaire/avec-logo"))
    assert "/annuaire/sans-logo/logo" not in text(client.get("/annuaire"))


# --- privacy ------------------------------------------------------------------------------------

SECRET_VALUES = {
    "iban": "FR7699999888887777766666555",
    "bic": "PRIVFRPPXXX",
    "vat_number": "FR42987654321",
    "address": "17 impasse Secrète",
    "postal_code": "44987",
}
CONTACT = {
    "contact_name": "Gwenola Confidentielle",
    "email": "prive-4242@example.org",
    "phone": "06 42 42 42 42",
}


@pytest.mark.parametrize("show_contact", [False, True], ids=["contact-hidden", "contact-shown"])
def test_private_data_never_appears_on_public_pages(client, make_organisation, make_chain, show_contact):
    actor = make_organisation(
        name="Fiche Sensible",
        slug="fiche-sensible",
        vat_regime=VatRegime.SUBJECT,
        show_contact_publicly=show_contact,
        website="https://sensible.example.org",
        qpv=True,
        qpv_name="Bellevue",
        **SECRET_VALUES,
        **CONTACT,
    )
    make_chain(
        [actor], name="Chaîne Sensible", slug="chaine-sensible", notes={"Fiche Sensible": "fournit tout"}
    )
    secrets = [*SECRET_VALUES.values(), actor.siret, actor.siret[:9]]
    pages = {
        url: text(client.get(url))
        for url in (
            "/annuaire",
            "/annuaire/fiche-sensible",
            "/annuaire/chaines",
            "/annuaire/chaines/chaine-sensible",
        )
    }
    for url, body in pages.items():
        assert "Fiche Sensible" in body, url
        for secret in secrets:
            assert secret not in body, (url, secret)
        # What the actor chose to show, and only that.
        for value in CONTACT.values():
            assert (value in body) == (show_contact and url == "/annuaire/fiche-sensible"), (url, value)
    card = pages["/annuaire/fiche-sensible"]
    assert "https://sensible.example.org" in card
    assert "quartier Bellevue" in card
    assert "fournit tout" in pages["/annuaire/chaines/chaine-sensible"]


def test_a_website_that_is_not_http_is_not_linked(client, make_organisation):
    make_organisation(name="Lien Douteux", slug="lien-douteux", website="javascript:alert(1)")
    assert "javascript:" not in text(client.get("/annuaire/lien-douteux"))
    assert "javascript:" not in text(client.get("/annuaire"))


# --- filters, pagination, query counts -----------------------------------------------------------


@pytest.fixture
def filter_data(make_organisation, make_category):
    food = make_category(code="restauration", name="Restauration", position=1)
    print_ = make_category(code="impression", name="Impression", position=2)
    make_category(code="vide", name="Catégorie sans acteur listé", position=3)
    make_organisation(name="Cantine Nantaise", commune="Nantes", categories=[food])
    make_organisation(name="Traiteur Rezéen", commune="Rezé", categories=[food])
    make_organisation(name="Imprimerie Nantaise", commune="Nantes", categories=[print_])
    make_organisation(name="Imprimerie Discrète", commune="Nantes", categories=[print_], public_listing=False)
    make_organisation(name="Atelier Vertavien", commune="Vertou", categories=[food, print_])


@pytest.mark.parametrize(
    "query,expected",
    [
        ("", ["Atelier Vertavien", "Cantine Nantaise", "Imprimerie Nantaise", "Traiteur Rezéen"]),
        ("?categorie=restauration", ["Atelier Vertavien", "Cantine Nantaise", "Traiteur Rezéen"]),
        ("?categorie=impression", ["Atelier Vertavien", "Imprimerie Nantaise"]),
        ("?commune=Nantes", ["Cantine Nantaise", "Imprimerie Nantaise"]),
        ("?categorie=restauration&commune=Nantes", ["Cantine Nantaise"]),
        ("?categorie=impression&commune=Rez%C3%A9", []),
        ("?categorie=inconnue", []),
        ("?commune=Paris", []),
    ],
)
def test_filters_by_category_and_commune(client, filter_data, query, expected):
    response = client.get("/annuaire" + query)
    assert response.status_code == 200
    assert card_names(response) == expected


def test_filters_offer_only_values_with_listed_actors(client, filter_data):
    body = text(client.get("/annuaire?categorie=restauration"))
    assert '<option value="restauration" selected>Restauration</option>' in body
    assert '<option value="impression">Impression</option>' in body
    assert "Catégorie sans acteur listé" not in body
    communes = re.findall(r'<option value="([^"]+)"(?: selected)?>\1</option>', body)
    assert [c for c in communes if c not in ("restauration", "impression")] == ["Nantes", "Rezé", "Vertou"]
    assert "<title>Restauration — Annuaire des acteurs" in body


def test_pagination_keeps_the_filters(client, make_organisation, make_category):
    food = make_category(code="resto", name="Resto")
    for n in range(30):
        make_organisation(name=f"Acteur {n:02d}", categories=[food])
    first, second = client.get("/annuaire?categorie=resto"), client.get("/annuaire?categorie=resto&page=2")
    assert card_names(first) == [f"Acteur {n:02d}" for n in range(24)]
    assert card_names(second) == [f"Acteur {n:02d}" for n in range(24, 30)]
    assert 'href="/annuaire?page=2&amp;categorie=resto"' in first.get_data(as_text=True)
    assert "30 acteurs" in text(first)


def test_query_counter_counts(app):
    db.session.execute(sa.text("SELECT 0"))  # the session's savepoint is opened before counting
    with count_queries() as statements:
        db.session.execute(sa.text("SELECT 1"))
        db.session.execute(sa.text("SELECT 2"))
    assert statements == ["SELECT 1", "SELECT 2"]


@pytest.mark.parametrize(
    "url", ["/annuaire", "/annuaire/acteur-01", "/annuaire/chaines", "/annuaire/chaines/chaine-longue"]
)
def test_public_pages_use_a_constant_number_of_queries(
    app, client, make_organisation, make_category, make_chain, url
):
    categories = [make_category(), make_category()]
    long_chain = make_chain([], name="Chaîne longue", slug="chaine-longue")
    actors = []

    def grow_to(n: int) -> None:
        while len(actors) < n:
            i = len(actors)
            actor = make_organisation(
                name=f"Acteur {i:02d}",
                slug=f"acteur-{i:02d}",
                categories=categories,
                logo=PNG if i % 2 else None,
                logo_mime="image/png",
            )
            actors.append(actor)
            long_chain.links.append(ChainLink(organisation=actor, position=i, note=f"passe {i}"))
            if i < 2:
                make_chain([actor], name=f"Chaîne courte {i}", slug=f"chaine-courte-{i}")
        db.session.flush()
        db.session.expire_all()  # the view shares this session: nothing may come from its identity map

    counts = []
    for n in (3, 30):
        grow_to(n)
        with count_queries() as statements:
            response = client.get(url)
        assert response.status_code == 200
        assert "Acteur 01" in text(response)
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert 3 <= counts[0] <= 12, counts


# --- chains as paths ----------------------------------------------------------------------------


def test_chains_are_shown_as_ordered_paths(client, make_organisation, make_chain):
    farm = make_organisation(name="Ferme Bio")
    bakery = make_organisation(name="Boulangerie Coop")
    hidden = make_organisation(name="Cuisine Discrète", public_listing=False)
    gone = make_organisation(name="Ancien Traiteur", active=False)
    caterer = make_organisation(name="Traiteur Solidaire")
    make_chain(
        [farm, bakery, hidden, gone, caterer],
        name="La chaîne du bien manger",
        slug="bien-manger",
        description="Du champ à l'assiette.",
        notes={
            "Ferme Bio": "livre les légumes",
            "Boulangerie Coop": "fournit le pain",
            "Cuisine Discrète": "secret",
        },
        position=2,
    )
    make_chain([caterer, farm], name="La chaîne de la récup'", slug="recup", position=1)
    make_chain([farm], name="Chaîne en préparation", slug="brouillon", published=False)

    listing = client.get("/annuaire/chaines")
    body = text(listing)
    assert body.index("La chaîne de la récup'") < body.index("La chaîne du bien manger")
    assert "Chaîne en préparation" not in body
    assert path_names(listing) == [
        "Traiteur Solidaire",
        "Ferme Bio",
        "Ferme Bio",
        "Boulangerie Coop",
        "Un acteur du réseau",
        "Traiteur Solidaire",
    ]
    page = client.get("/annuaire/chaines/bien-manger")
    body = text(page)
    assert path_names(page) == ["Ferme Bio", "Boulangerie Coop", "Un acteur du réseau", "Traiteur Solidaire"]
    assert body.index("livre les légumes") < body.index("Boulangerie Coop") < body.index("fournit le pain")
    assert "Du champ à l'assiette." in body
    for private in ("Cuisine Discrète", "secret", "Ancien Traiteur"):
        assert private not in body
    assert "<title>La chaîne du bien manger — Chaînes d'acteurs" in body
    # The actor's card lists the chains it belongs to.
    assert "La chaîne du bien manger" in text(client.get(f"/annuaire/{farm.slug}"))


@pytest.mark.parametrize("slug", ["inconnue", "brouillon"])
def test_unknown_or_unpublished_chain_is_404(client, make_organisation, make_chain, slug):
    make_chain([make_organisation()], name="Brouillon", slug="brouillon", published=False)
    assert client.get(f"/annuaire/chaines/{slug}").status_code == 404


# --- management by the coordination --------------------------------------------------------------


def chain_links(chain_id: int) -> list[tuple[str, int, str | None]]:
    db.session.expire_all()
    rows = db.session.execute(
        sa.select(Organisation.name, ChainLink.position, ChainLink.note)
        .join(ChainLink.organisation)
        .where(ChainLink.chain_id == chain_id)
        .order_by(ChainLink.position)
    )
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_coordinator_creates_orders_edits_and_deletes_a_chain(
    auth, client, make_user, make_organisation, role
):
    make_user(role, email="coord@example.org")
    auth.login("coord@example.org")
    libre = make_organisation(name="Format Libre")
    fablab = make_organisation(name="Fablab du Breil")
    papier = make_organisation(name="Imprimerie Coop", public_listing=False)
    make_organisation(name="Atelier Fermé", active=False)

    assert client.get("/chaines/").status_code == 200
    page = client.get("/chaines/nouvelle")
    assert page.status_code == 200
    response = post_form(
        client,
        "/chaines/nouvelle",
        data={"name": "La chaîne du libre", "slug": "", "description": "Logiciels libres.", "published": "y"},
    )
    assert response.status_code == 302
    chain = db.session.scalar(sa.select(Chain).where(Chain.name == "La chaîne du libre"))
    assert (chain.slug, chain.published, chain.description) == (
        "la-chaine-du-libre",
        True,
        "Logiciels libres.",
    )
    edit_url = f"/chaines/{chain.id}/modifier"
    assert response.headers["Location"].startswith(edit_url)

    # The "add" list offers active actors only; the non-listed one is flagged.
    body = text(client.get(edit_url))
    assert "Atelier Fermé" not in body
    assert "Imprimerie Coop (hors annuaire public)" in body

    for actor, note in ((libre, "filme et monte"), (fablab, ""), (papier, "imprime")):
        response = post_form(
            client, edit_url, f"/chaines/{chain.id}/acteurs", data={"organisation_id": actor.id, "note": note}
        )
        assert response.status_code == 302, text(response)
    assert chain_links(chain.id) == [
        ("Format Libre", 0, "filme et monte"),
        ("Fablab du Breil", 1, None),
        ("Imprimerie Coop", 2, "imprime"),
    ]

    # An inactive actor is not a valid choice; an actor already in the chain neither.
    inactive = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Atelier Fermé"))
    for refused in (inactive, libre):
        response = post_form(
            client, edit_url, f"/chaines/{chain.id}/acteurs", data={"organisation_id": refused.id}
        )
        assert response.status_code == 400
    assert len(chain_links(chain.id)) == 3

    link_ids = {
        name: link_id
        for link_id, name in db.session.execute(
            sa.select(ChainLink.id, Organisation.name)
            .join(ChainLink.organisation)
            .where(ChainLink.chain_id == chain.id)
        )
    }
    # Move the last one up, then the first one down: every swap keeps positions unique.
    assert (
        post_form(
            client,
            edit_url,
            f"/chaines/{chain.id}/acteurs/{link_ids['Imprimerie Coop']}/deplacer",
            data={"direction": "up"},
        ).status_code
        == 302
    )
    assert [name for name, _p, _n in chain_links(chain.id)] == [
        "Format Libre",
        "Imprimerie Coop",
        "Fablab du Breil",
    ]
    post_form(
        client,
        edit_url,
        f"/chaines/{chain.id}/acteurs/{link_ids['Format Libre']}/deplacer",
        data={"direction": "down"},
    )
    assert [name for name, _p, _n in chain_links(chain.id)] == [
        "Imprimerie Coop",
        "Format Libre",
        "Fablab du Breil",
    ]
    # Already first: nothing moves.
    response = post_form(
        client,
        edit_url,
        f"/chaines/{chain.id}/acteurs/{link_ids['Imprimerie Coop']}/deplacer",
        data={"direction": "up"},
    )
    assert response.status_code == 302
    assert [p for _name, p, _n in chain_links(chain.id)] == [0, 1, 2]
    # Bad direction.
    response = post_form(
        client,
        edit_url,
        f"/chaines/{chain.id}/acteurs/{link_ids['Imprimerie Coop']}/deplacer",
        data={"direction": "sideways"},
    )
    assert response.status_code == 400

    # The note of a link.
    post_form(
        client,
        edit_url,
        f"/chaines/{chain.id}/acteurs/{link_ids['Fablab du Breil']}/note",
        data={"note": "fabrique les décors", "version_id": db.session.get(Chain, chain.id).version_id},
    )
    assert chain_links(chain.id)[2] == ("Fablab du Breil", 2, "fabrique les décors")

    # Remove the first one: the others move up.
    response = post_form(
        client, edit_url, f"/chaines/{chain.id}/acteurs/{link_ids['Imprimerie Coop']}/retirer"
    )
    assert response.status_code == 302
    assert chain_links(chain.id) == [
        ("Format Libre", 0, "filme et monte"),
        ("Fablab du Breil", 1, "fabrique les décors"),
    ]

    # The public page follows.
    public = client.get("/annuaire/chaines/la-chaine-du-libre")
    assert path_names(public) == ["Format Libre", "Fablab du Breil"]

    # Edit: rename, unpublish; the slug stays.
    db.session.expire_all()
    chain = db.session.get(Chain, chain.id)
    response = post_form(
        client,
        edit_url,
        data={
            "name": "La chaîne du logiciel libre",
            "slug": chain.slug,
            "description": "",
            "version_id": chain.version_id,
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    chain = db.session.get(Chain, chain.id)
    assert (chain.name, chain.slug, chain.published) == (
        "La chaîne du logiciel libre",
        "la-chaine-du-libre",
        False,
    )
    assert client.get("/annuaire/chaines/la-chaine-du-libre").status_code == 404

    # Delete, after a confirmation page.
    confirm = client.get(f"/chaines/{chain.id}/supprimer")
    assert confirm.status_code == 200
    assert "Supprimer la chaîne « La chaîne du logiciel libre » ?" in text(confirm)
    response = post_form(client, f"/chaines/{chain.id}/supprimer")
    assert response.status_code == 302
    assert db.session.get(Chain, chain.id) is None
    assert (
        db.session.scalar(sa.select(sa.func.count(ChainLink.id)).where(ChainLink.chain_id == chain.id)) == 0
    )
    assert db.session.get(Organisation, libre.id) is not None

    actions = db.session.scalars(
        sa.select(AuditEntry.action)
        .where(AuditEntry.object_type == "chains", AuditEntry.object_id == chain.id)
        .order_by(AuditEntry.id)
    ).all()
    assert actions[0] == "chain.created"
    assert actions[-1] == "chain.deleted"
    assert {
        "chain.link_added",
        "chain.link_moved",
        "chain.link_note",
        "chain.link_removed",
        "chain.updated",
    } <= set(actions)


def test_stale_chain_form_is_refused_with_409(auth, client, make_user, make_chain):
    make_user("coordinator", email="coord@example.org")
    auth.login("coord@example.org")
    chain = make_chain([], name="Avant")
    stale = chain.version_id
    chain.name = "Changée ailleurs"
    db.session.commit()  # a savepoint: the view's rollback must not undo it
    response = post_form(
        client,
        f"/chaines/{chain.id}/modifier",
        data={"name": "Après", "slug": chain.slug, "version_id": stale},
    )
    assert response.status_code == 409
    assert "Quelqu'un a modifié cet élément" in text(response)
    db.session.expire_all()
    assert db.session.get(Chain, chain.id).name == "Changée ailleurs"


@pytest.mark.parametrize(
    "data,message",
    [
        ({"name": "Autre", "slug": "prise"}, "L'adresse « prise » est déjà celle d'une autre chaîne."),
        (
            {"name": "Autre", "slug": "Pas Valide!"},
            "Lettres minuscules sans accent, chiffres et tirets seulement",
        ),
        ({"name": "", "slug": ""}, "Ce champ est requis."),
    ],
)
def test_chain_form_refuses_bad_values(auth, client, make_user, make_chain, data, message):
    make_user("coordinator", email="coord@example.org")
    auth.login("coord@example.org")
    make_chain([], name="Prise", slug="prise")
    db.session.commit()  # a savepoint: the view's rollback must not undo it
    response = post_form(client, "/chaines/nouvelle", data=data)
    assert response.status_code in (400, 409)
    body = text(response)
    assert message in body


@pytest.mark.parametrize("role", ["actor", "client", "treasurer"])
def test_other_roles_cannot_manage_chains(auth, client, make_user, make_organisation, make_chain, role):
    chain = make_chain([make_organisation()])
    link = chain.links[0]
    make_user(role, email="other@example.org")
    auth.login("other@example.org")
    token = csrf_token(client.get("/annuaire").get_data(as_text=True))
    for url in (
        "/chaines/",
        "/chaines/nouvelle",
        f"/chaines/{chain.id}/modifier",
        f"/chaines/{chain.id}/supprimer",
    ):
        assert client.get(url).status_code == 403, url
    for url, data in (
        ("/chaines/nouvelle", {"name": "Pirate"}),
        (f"/chaines/{chain.id}/modifier", {"name": "Pirate", "version_id": chain.version_id}),
        (f"/chaines/{chain.id}/acteurs", {"organisation_id": make_organisation().id}),
        (f"/chaines/{chain.id}/acteurs/{link.id}/deplacer", {"direction": "down"}),
        (f"/chaines/{chain.id}/acteurs/{link.id}/note", {"note": "pirate"}),
        (f"/chaines/{chain.id}/acteurs/{link.id}/retirer", {}),
        (f"/chaines/{chain.id}/deplacer", {"direction": "up"}),
        (f"/chaines/{chain.id}/supprimer", {}),
    ):
        assert client.post(url, data={**data, "csrf_token": token}).status_code == 403, url
    db.session.expire_all()
    assert db.session.get(Chain, chain.id).name != "Pirate"
    assert len(db.session.get(Chain, chain.id).links) == 1


def test_anonymous_visitor_is_sent_to_login_for_chain_management(client):
    response = client.get("/chaines/")
    assert response.status_code == 302
    assert "/connexion" in response.headers["Location"]


def test_unknown_chain_or_link_is_404_for_the_coordinator(
    auth, client, make_user, make_organisation, make_chain
):
    make_user("coordinator", email="coord@example.org")
    auth.login("coord@example.org")
    other = make_chain([make_organisation()], slug="autre")
    chain = make_chain([make_organisation()], slug="celle-ci")
    assert client.get("/chaines/999999/modifier").status_code == 404
    # A link of another chain is not reachable through this one.
    response = post_form(
        client, f"/chaines/{chain.id}/modifier", f"/chaines/{chain.id}/acteurs/{other.links[0].id}/retirer"
    )
    assert response.status_code == 404


def test_chains_reorder_on_the_list(auth, client, make_user, make_chain):
    make_user("coordinator", email="coord@example.org")
    auth.login("coord@example.org")
    first = make_chain([], name="Première", position=0)
    second = make_chain([], name="Seconde", position=1)
    response = post_form(client, "/chaines/", f"/chaines/{second.id}/deplacer", data={"direction": "up"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Chain, second.id).position < db.session.get(Chain, first.id).position
    body = text(client.get("/chaines/"))
    assert body.index("Seconde") < body.index("Première")


# --- database guards ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["duplicate-position", "duplicate-actor", "negative-position"])
def test_database_refuses_inconsistent_links(app, make_organisation, make_chain, case):
    a, b = make_organisation(), make_organisation()
    chain = make_chain([a])
    link = {
        "duplicate-position": ChainLink(chain_id=chain.id, organisation_id=b.id, position=0),
        "duplicate-actor": ChainLink(chain_id=chain.id, organisation_id=a.id, position=1),
        "negative-position": ChainLink(chain_id=chain.id, organisation_id=b.id, position=-1),
    }[case]
    savepoint = db.session.begin_nested()
    db.session.add(link)
    with pytest.raises(IntegrityError):
        db.session.flush()
    savepoint.rollback()


def test_an_organisation_in_a_chain_cannot_be_deleted(app, make_organisation, make_chain):
    actor = make_organisation()
    make_chain([actor])
    savepoint = db.session.begin_nested()
    with pytest.raises(IntegrityError):
        db.session.execute(sa.delete(Organisation).where(Organisation.id == actor.id))
    savepoint.rollback()


def test_deleting_a_chain_deletes_its_links_in_the_database(app, make_organisation, make_chain):
    chain = make_chain([make_organisation(), make_organisation()])
    db.session.execute(sa.delete(Chain).where(Chain.id == chain.id))
    assert (
        db.session.scalar(sa.select(sa.func.count(ChainLink.id)).where(ChainLink.chain_id == chain.id)) == 0
    )


def test_duplicate_chain_slug_is_refused_by_the_database(app, make_chain):
    make_chain([], slug="meme")
    savepoint = db.session.begin_nested()
    db.session.add(Chain(name="Autre", slug="meme"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    savepoint.rollback()


# --- demo --------------------------------------------------------------------------------------


def test_demo_chains_are_created_once_and_skip_missing_actors(app, make_organisation):
    from app.demo import DEMO_STEPS
    from app.directory.demo_chains import load_chains

    assert "chains" in [name for _order, name, _fn in DEMO_STEPS]
    for name in (
        "Ferme de la Pannetière",
        "SCOP Pain Virgule",
        "Le Goût des Autres",
        "La Malle créative",
        "Ecos",
    ):
        make_organisation(name=name)
    make_organisation(name="Regart's", active=False)
    load_chains()
    load_chains()
    chains = db.session.scalars(sa.select(Chain).order_by(Chain.position)).all()
    assert [c.slug for c in chains] == ["la-chaine-du-bien-manger", "la-chaine-de-la-recup"]
    assert all(c.published for c in chains)
    assert [link.organisation.name for link in chains[0].links] == [
        "Ferme de la Pannetière",
        "SCOP Pain Virgule",
        "Le Goût des Autres",
    ]
    assert [link.position for link in chains[0].links] == [0, 1, 2]
    assert [link.organisation.name for link in chains[1].links] == ["La Malle créative", "Ecos"]
    assert chains[0].links[1].note == "fournit le pain au levain"
