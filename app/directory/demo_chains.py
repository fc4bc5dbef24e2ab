"""Demo data: two thematic chains drawn from the demo actors.

"La chaîne du bien manger" and "la chaîne de la récup'" are two of the chains the network's 2007
workshops wanted to draw on the territory (see ``seeds/README.md``). Each chain is looked up by its
slug and created only when missing (an existing chain, maybe edited by the coordinator, is left as
it is); actors are matched by name, and a missing one is skipped rather than failing the load.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.demo import mark_created, register_demo_step
from app.directory.chains import slugify
from app.extensions import db

#: slug, name, description, ((actor name, what it passes on to the next), …)
DEMO_CHAINS: tuple[tuple[str, str, str, tuple[tuple[str, str | None], ...]], ...] = (
    (
        "la-chaine-du-bien-manger",
        "La chaîne du bien manger",
        "Du champ à l'assiette, à quelques kilomètres de Nantes : des légumes biologiques de saison, "
        "un pain au levain de farines locales, une cuisine d'insertion et un traiteur coopératif qui "
        "sert dans de la vaisselle réutilisable et trie ses déchets.",
        (
            ("Ferme de la Pannetière", "livre ses légumes biologiques de saison"),
            ("SCOP Pain Virgule", "fournit le pain au levain"),
            ("Méli-Mélo (Oser Forêt Vivante)", "cuisine les produits locaux pour les buffets"),
            ("Le Goût des Autres", "sert les convives en vaisselle réutilisable et trie les déchets"),
        ),
    ),
    (
        "la-chaine-de-la-recup",
        "La chaîne de la récup'",
        "Ce qui ne servait plus retrouve une vie : du mobilier et des décors de réemploi, une "
        "scénographie faite de matériaux récupérés, des textiles retouchés par un atelier solidaire "
        "puis transformés en tenues par un atelier de création.",
        (
            ("La Malle créative", "prête mobilier et décors issus du réemploi"),
            ("Ecos", "transmet les tissus et matériaux récupérés après les montages"),
            ("Regart's", "trie, répare et ajuste les textiles"),
            ("Style Alpaga", "crée des tenues à partir des matières recyclées"),
        ),
    ),
)


def _organisations_by_name() -> dict[str, object]:
    from app.models import Organisation

    return {slugify(o.name): o for o in db.session.scalars(sa.select(Organisation))}


@register_demo_step(40, "chains")
def load_chains() -> None:
    from app.models import Chain, ChainLink

    by_name = None
    last = db.session.scalar(sa.select(sa.func.max(Chain.position)))
    position = -1 if last is None else last
    for slug, name, description, steps in DEMO_CHAINS:
        if db.session.scalar(sa.select(Chain.id).where(Chain.slug == slug)) is not None:
            continue
        if by_name is None:
            by_name = _organisations_by_name()
        position += 1
        chain = Chain(slug=slug, name=name, description=description, published=True, position=position)
        db.session.add(chain)
        mark_created()
        for actor_name, note in steps:
            organisation = by_name.get(slugify(actor_name))
            if organisation is None or not organisation.active:
                continue
            chain.links.append(ChainLink(organisation=organisation, position=len(chain.links), note=note))
            mark_created()
        db.session.flush()
