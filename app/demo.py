"""Demo data: the Assises 2011 case.

Packages register their steps with :func:`register_demo_step`; ``flask demo load`` runs them in order,
in one transaction. Every step looks its objects up by a natural key (category code, SIRET, e-mail,
event title…) and creates only what is missing: loading twice changes nothing.

The organisations are those of the published account of the "Assises métropolitaines de la Politique
de la Ville" (Nantes, 15 April 2011), plus three invented ones (a declined invitation, a pending one,
an inactive card). Every identifier, contact, bank account and price is invented: SIRETs, VAT numbers
and IBANs are computed so that they pass their checks, addresses use example.org.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.fr import siren as stdnum_siren

from app.extensions import db

demo_cli = AppGroup("demo", help="Données de démonstration.")

#: (order, name, function) — app's steps first (parties, users), then offers, then invoicing.
DEMO_STEPS: list[tuple[int, str, Callable[[], None]]] = []

#: The password of every demo account (printed by ``flask demo logins``).
DEMO_PASSWORD = "demo-maillage"  # noqa: S105 - public demo password, documented in the README
#: The setting whose presence shows the "données de démonstration" banner.
DEMO_MARKER = "demo.loaded"
DEMO_VERSION = 1


def register_demo_step(order: int, name: str):
    def decorator(fn):
        if not any(step_name == name for _, step_name, _ in DEMO_STEPS):
            DEMO_STEPS.append((order, name, fn))
            DEMO_STEPS.sort(key=lambda step: step[0])
        return fn

    return decorator


# --- helpers shared with the packages' steps -------------------------------------------------------

_created = {"count": 0}


def get_or_create(model, *, defaults: dict | None = None, **lookup):
    """The row of ``model`` matching ``lookup`` (column values), created with ``defaults`` if missing.

    Returns ``(obj, created)``. An existing row is never modified. Flushes, never commits.
    """
    obj = db.session.scalar(sa.select(model).filter_by(**lookup))
    if obj is not None:
        return obj, False
    obj = model(**lookup, **(defaults or {}))
    db.session.add(obj)
    db.session.flush()
    _created["count"] += 1
    return obj, True


def mark_created(n: int = 1) -> None:
    """Count objects a step created by other means (services) in the load's summary."""
    _created["count"] += n


def make_siret(siren_base: str, nic: str = "0001") -> str:
    """A valid SIRET from 8 digits (the SIREN's key is computed) and a 4-digit establishment number."""
    siren = siren_base + luhn.calc_check_digit(siren_base)
    body = siren + nic
    return body + luhn.calc_check_digit(body)


def vat_number_for(siret: str) -> str:
    """The French intra-community VAT number derived from the SIREN."""
    return "FR" + stdnum_siren.to_tva(siret[:9])


def make_iban(bank: str, branch: str, account: str) -> str:
    """A French IBAN (FR76…) whose RIB key and IBAN check digits are computed properly."""
    rib_key = 97 - ((89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97)
    bban = f"{bank}{branch}{account}{rib_key:02d}"
    return "FR" + stdnum_iban.calc_check_digits("FR00" + bban) + bban


# --- categories -------------------------------------------------------------------------------------

#: code, name, default VAT rate (10 % food served, 5,5 % books, 20 % services and rental).
DEMO_CATEGORIES: tuple[tuple[str, str, Decimal], ...] = (
    ("accueil", "Accueil", Decimal("0.2000")),
    ("tenues", "Tenues d'accueil", Decimal("0.2000")),
    ("scenographie", "Scénographie", Decimal("0.2000")),
    ("restauration", "Restauration", Decimal("0.1000")),
    ("pause_cafe", "Pauses café", Decimal("0.1000")),
    ("librairie", "Librairie", Decimal("0.0550")),
    ("impression", "Impression", Decimal("0.2000")),
    ("location", "Location de matériel", Decimal("0.2000")),
    ("audiovisuel", "Audiovisuel", Decimal("0.2000")),
    ("photographie", "Photographie", Decimal("0.2000")),
)


def demo_category(code: str):
    from app.models import Category

    category = db.session.scalar(sa.select(Category).where(Category.code == code))
    if category is None:
        raise click.ClickException(f"Catégorie de démonstration introuvable : {code}")
    return category


@register_demo_step(10, "categories")
def load_categories() -> None:
    from app.models import Category

    for position, (code, name, rate) in enumerate(DEMO_CATEGORIES, start=1):
        get_or_create(
            Category, code=code, defaults={"name": name, "default_vat_rate": rate, "position": position}
        )


# --- the coordinator and the client -----------------------------------------------------------------

COORDINATOR_SIRET = make_siret("89900000", "0015")
CLIENT_SIRET = make_siret("24440040", "0001")  # Nantes Métropole's SIREN, invented establishment number

LEGAL_MENTIONS = (
    "Les Ecossolies — association loi 1901, non soumise à l'immatriculation au RCS. "
    "En cas de retard de paiement, des pénalités sont exigibles au taux d'intérêt appliqué par la Banque "
    "centrale européenne à son opération de refinancement la plus récente majoré de 10 points, ainsi "
    "qu'une indemnité forfaitaire pour frais de recouvrement de 40 € (articles L441-10 et D441-5 du code "
    "de commerce). Pas d'escompte pour paiement anticipé. Acheteurs publics : intérêts moratoires et "
    "indemnité forfaitaire selon les articles R2192-31 à R2192-36 du code de la commande publique."
)
PAYMENT_TERMS = (
    "Paiement à 30 jours à compter de la réception de la facture, par virement bancaire sur le compte "
    "indiqué. Pour les acheteurs publics, factures déposées sur Chorus Pro ; délai global de paiement de "
    "30 jours (article R2192-10 du code de la commande publique)."
)


@register_demo_step(15, "coordinator")
def load_coordinator() -> None:
    from app.models import CoordinatorIdentity, LegalForm, VatRegime

    get_or_create(
        CoordinatorIdentity,
        id=1,
        defaults={
            "name": "Les Ecossolies",
            "legal_form": LegalForm.ASSOCIATION,
            "siret": COORDINATOR_SIRET,
            "vat_regime": VatRegime.SUBJECT,
            "vat_number": vat_number_for(COORDINATOR_SIRET),
            "address": "8 rue Saint-Domingue",
            "postal_code": "44200",
            "commune": "Nantes",
            "email": "contact-ecossolies@example.org",
            "phone": "02 61 91 00 00",
            "website": "https://ecossolies.example.org",
            "iban": make_iban("42559", "10000", "08001234500"),
            "bic": "CCOPFRPPXXX",
            "legal_mentions": LEGAL_MENTIONS,
            "payment_terms": PAYMENT_TERMS,
            "payment_days": 30,
        },
    )


def demo_client():
    from app.models import Client

    client = db.session.scalar(sa.select(Client).where(Client.siret == CLIENT_SIRET))
    if client is None:
        raise click.ClickException("Client de démonstration introuvable : Nantes Métropole")
    return client


@register_demo_step(20, "client")
def load_client() -> None:
    from app.models import Client

    get_or_create(
        Client,
        siret=CLIENT_SIRET,
        defaults={
            "name": "Nantes Métropole",
            "siren": CLIENT_SIRET[:9],
            "vat_number": vat_number_for(CLIENT_SIRET),
            "address": "2 cours du Champ de Mars",
            "postal_code": "44923",
            "commune": "Nantes Cedex 9",
            "is_public_body": True,
            "chorus_service_code": "DGCT-POLITIQUE-VILLE",
            "contact_name": "Claire Morvan — Mission Politique de la Ville",
            "contact_email": "politique-ville@example.org",
            "contact_phone": "02 61 91 00 01",
            "notes": "Factures à déposer sur Chorus Pro avec le numéro d'engagement de l'événement.",
        },
    )


# --- the actors -----------------------------------------------------------------------------------

#: Banks used for the invented accounts: (bank code, BIC).
_COOP = ("42559", "CCOPFRPPXXX")  # Crédit Coopératif
_CMUT = ("15519", "CMCIFR2A")  # Crédit Mutuel
_POST = ("20041", "PSSTFRPPNTE")  # La Banque Postale
_CAAV = ("14706", "AGRIFRPP847")  # Crédit Agricole Atlantique Vendée

#: One card per actor. ``key`` is the slug; ``siren`` the 8 digits the SIREN's key is computed from.
DEMO_ACTORS: tuple[dict, ...] = (
    {
        "key": "tak-apres",
        "name": "TAK-APRES / Chez Nous",
        "form": "association",
        "siren": "89900101",
        "vat": "subject",
        "address": "12 rue Jules Piedeleu",
        "postal_code": "44100",
        "commune": "Nantes",
        "qpv": "Bellevue",
        "categories": ("accueil", "restauration", "pause_cafe"),
        "contact": "Samia Benali",
        "bank": _COOP,
        "description": (
            "Restaurant associatif et traiteur d'insertion du quartier Bellevue : cuisine maison, "
            "accueil d'événements, buffets et pauses. Chantier d'insertion qui accompagne une douzaine "
            "de salariés vers l'emploi."
        ),
    },
    {
        "key": "style-alpaga",
        "name": "Style Alpaga",
        "form": "sarl",
        "siren": "89900102",
        "vat": "subject",
        "address": "5 rue de la Verrerie",
        "postal_code": "44000",
        "commune": "Nantes",
        "categories": ("tenues",),
        "contact": "Julien Le Goff",
        "bank": _CMUT,
        "description": (
            "Atelier de création textile : vêtements et accessoires éco-conçus à partir de matières "
            "recyclées, tenues sur mesure pour l'événementiel."
        ),
    },
    {
        "key": "kenja",
        "name": "Kenja",
        "form": "association",
        "siren": "89900103",
        "vat": "franchise",
        "address": "3 boulevard Le Lasseur",
        "postal_code": "44300",
        "commune": "Nantes",
        "qpv": "Nantes Nord",
        "categories": ("accueil", "tenues"),
        "contact": "Aïssata Diallo",
        "bank": _POST,
        "description": (
            "Association de couture et de médiation du quartier Nantes Nord : ateliers collectifs, "
            "petites séries de sacs et de pochettes, accueil de publics."
        ),
    },
    {
        "key": "regarts",
        "name": "Regart's",
        "form": "association",
        "siren": "89900104",
        "vat": "exempt",
        "address": "2 place de la Bégraisière",
        "postal_code": "44800",
        "commune": "Saint-Herblain",
        "qpv": "Sillon de Bretagne",
        "categories": ("tenues",),
        "contact": "Nadia Cherif",
        "bank": _COOP,
        "description": (
            "Atelier solidaire de couture et de retouches : formation des habitantes, retouches et "
            "ajustements sur place lors des manifestations."
        ),
    },
    {
        "key": "ecos",
        "name": "Ecos",
        "form": "association",
        "siren": "89900105",
        "vat": "subject",
        "address": "26 rue de la Ville-en-Bois",
        "postal_code": "44100",
        "commune": "Nantes",
        "categories": ("scenographie", "location"),
        "contact": "Thomas Guérin",
        "bank": _COOP,
        "description": (
            "Scénographie et aménagement d'espaces à partir de matériaux de réemploi ; ateliers "
            "participatifs avec des acteurs culturels, du numérique et les habitants des quartiers."
        ),
    },
    {
        "key": "meli-melo",
        "name": "Méli-Mélo (Oser Forêt Vivante)",
        "form": "association",
        "siren": "89900106",
        "vat": "subject",
        "address": "7 rue Louis Lumière",
        "postal_code": "44200",
        "commune": "Nantes",
        "qpv": "Clos Toreau",
        "categories": ("restauration",),
        "contact": "Hélène Bouvier",
        "bank": _CMUT,
        "description": (
            "Restaurant et traiteur d'insertion porté par l'association Oser Forêt Vivante : cuisine de "
            "saison, produits locaux, service en salle pour les grands événements."
        ),
    },
    {
        "key": "romsi",
        "name": "Romsi",
        "form": "association",
        "siren": "89900107",
        "vat": "franchise",
        "address": "14 avenue de Bretagne",
        "postal_code": "44400",
        "commune": "Rezé",
        "qpv": "Château",
        "categories": ("restauration",),
        "contact": "Fatou Ndiaye",
        "bank": _POST,
        "description": (
            "Cuisines du monde préparées par des habitantes du quartier Château : buffets, cocktails "
            "et repas partagés."
        ),
    },
    {
        "key": "gout-des-autres",
        "name": "Le Goût des Autres",
        "form": "scic",
        "siren": "89900108",
        "vat": "subject",
        "address": "41 rue du Général de Gaulle",
        "postal_code": "44230",
        "commune": "Saint-Sébastien-sur-Loire",
        "categories": ("restauration", "pause_cafe"),
        "contact": "Marc Lebreton",
        "bank": _COOP,
        "description": (
            "Traiteur coopératif : buffets végétariens, produits biologiques et équitables, vaisselle "
            "réutilisable et tri des déchets."
        ),
    },
    {
        "key": "ferme-pannetiere",
        "name": "Ferme de la Pannetière",
        "form": "ei",
        "siren": "89900109",
        "vat": "subject",
        "address": "La Pannetière, route des Couëts",
        "postal_code": "44340",
        "commune": "Bouguenais",
        "categories": ("restauration",),
        "contact": "Paul Rialland",
        "bank": _CAAV,
        "description": (
            "Maraîchage biologique aux portes de Nantes : légumes de saison en circuit court pour les "
            "restaurants et traiteurs du réseau."
        ),
    },
    {
        "key": "pain-virgule",
        "name": "SCOP Pain Virgule",
        "form": "scop",
        "siren": "89900110",
        "vat": "subject",
        "address": "9 rue de la Garenne",
        "postal_code": "44120",
        "commune": "Vertou",
        "categories": ("restauration", "pause_cafe"),
        "contact": "Lucie Moreau",
        "bank": _COOP,
        "description": (
            "Boulangerie coopérative : pains au levain naturel, farines biologiques de meuniers locaux, "
            "viennoiseries pour les pauses."
        ),
    },
    {
        "key": "emoqui",
        "name": "Emoqui",
        "form": "association",
        "siren": "89900111",
        "vat": "franchise",
        "address": "1 place des Dervallières",
        "postal_code": "44100",
        "commune": "Nantes",
        "qpv": "Dervallières",
        "categories": ("pause_cafe",),
        "contact": "Karim Haddad",
        "bank": _CMUT,
        "description": (
            "Café associatif des Dervallières : boissons biologiques et équitables, pâtisseries maison, "
            "pauses pour réunions et séminaires."
        ),
    },
    {
        "key": "napce",
        "name": "Napce",
        "form": "association",
        "siren": "89900112",
        "vat": "exempt",
        "address": "18 rue d'Angleterre",
        "postal_code": "44000",
        "commune": "Nantes",
        "qpv": "Malakoff",
        "categories": ("pause_cafe", "restauration"),
        "contact": "Sophie Tran",
        "bank": _POST,
        "public_listing": False,
        "description": (
            "Association d'insertion par la cuisine à Malakoff : pauses gourmandes, petits-déjeuners "
            "et collations préparés par des personnes en parcours d'insertion."
        ),
    },
    {
        "key": "equipage",
        "name": "Café librairie L'Équipage",
        "form": "scic",
        "siren": "89900113",
        "vat": "subject",
        "address": "6 rue Kervégan",
        "postal_code": "44000",
        "commune": "Nantes",
        "categories": ("librairie", "pause_cafe"),
        "contact": "Anne Le Bihan",
        "bank": _COOP,
        "description": (
            "Café-librairie coopératif : sciences humaines, économie sociale et solidaire, jeunesse ; "
            "librairies éphémères lors de colloques et de rencontres."
        ),
    },
    {
        "key": "la-contemporaine",
        "name": "La Contemporaine",
        "form": "scop",
        "siren": "89900114",
        "vat": "subject",
        "address": "22 rue de la Garde",
        "postal_code": "44700",
        "commune": "Orvault",
        "categories": ("impression",),
        "contact": "Didier Perrin",
        "bank": _CAAV,
        "description": (
            "Imprimerie coopérative : impression offset et numérique sur papier recyclé, encres "
            "végétales, façonnage et livraison."
        ),
    },
    {
        "key": "la-peps",
        "name": "La Pep's",
        "form": "association",
        "siren": "89900115",
        "vat": "franchise",
        "address": "10 rue de la Loire",
        "postal_code": "44220",
        "commune": "Couëron",
        "categories": ("location",),
        "contact": "Éric Jouan",
        "bank": _CMUT,
        "description": (
            "Parc de matériel événementiel mutualisé entre associations : tables, mange-debout, grilles "
            "d'exposition, sonorisation, livraison comprise."
        ),
    },
    {
        "key": "malle-creative",
        "name": "La Malle créative",
        "form": "association",
        "siren": "89900116",
        "vat": "franchise",
        "address": "4 chemin de la Gandonnière",
        "postal_code": "44240",
        "commune": "La Chapelle-sur-Erdre",
        "categories": ("location", "scenographie"),
        "contact": "Claire Dupas",
        "bank": _COOP,
        "description": (
            "Ressourcerie créative : location de mobilier, de décors et de matériel d'animation issus "
            "du réemploi."
        ),
    },
    {
        "key": "format-libre",
        "name": "Format Libre",
        "form": "association",
        "siren": "89900117",
        "vat": "franchise",
        "address": "15 quai de Versailles",
        "postal_code": "44000",
        "commune": "Nantes",
        "categories": ("audiovisuel",),
        "contact": "Benoît Carré",
        "bank": _POST,
        "description": (
            "Collectif de vidéastes : captation, montage et sous-titrage de films, avec des logiciels "
            "libres et sous licences Creative Commons."
        ),
    },
    {
        "key": "yves-monteil",
        "name": "Yves Monteil, photographe",
        "form": "ei",
        "siren": "89900118",
        "vat": "franchise",
        "address": "8 rue Alsace-Lorraine",
        "postal_code": "44400",
        "commune": "Rezé",
        "categories": ("photographie",),
        "contact": "Yves Monteil",
        "bank": _CMUT,
        "description": (
            "Photographe indépendant : reportages d'événements, portraits, photographie sociale dans "
            "les quartiers de l'agglomération."
        ),
    },
    # Invented: invited on the photo lot, declined; Yves Monteil replaced it.
    {
        "key": "objectif-quartiers",
        "name": "Collectif Objectif Quartiers",
        "form": "association",
        "siren": "89900119",
        "vat": "exempt",
        "address": "3 place de la Plaisance",
        "postal_code": "44700",
        "commune": "Orvault",
        "qpv": "Plaisance",
        "categories": ("photographie", "audiovisuel"),
        "contact": "Inès Bouchard",
        "bank": _POST,
        "description": (
            "Atelier de photographie participative : les habitants de Plaisance racontent leur quartier "
            "en images ; reportages pour les associations."
        ),
    },
    # Invented: invited as a partner on the scenography, has not answered yet.
    {
        "key": "fabriqueurs-du-breil",
        "name": "Les Fabriqueurs du Breil",
        "form": "association",
        "siren": "89900120",
        "vat": "franchise",
        "address": "20 rue du Breil",
        "postal_code": "44100",
        "commune": "Nantes",
        "qpv": "Breil",
        "categories": ("scenographie", "audiovisuel"),
        "contact": "Romain Guillou",
        "bank": _COOP,
        "description": (
            "Fablab de quartier : découpe laser, électronique, projections vidéo ; ateliers de "
            "fabrication avec les habitants du Breil."
        ),
    },
    # Invented: a card kept for the record, activity suspended.
    {
        "key": "recup-bottiere",
        "name": "Atelier Récup' de la Bottière",
        "form": "association",
        "siren": "89900121",
        "vat": "exempt",
        "address": "30 rue de la Bottière",
        "postal_code": "44300",
        "commune": "Nantes",
        "qpv": "Bottière – Pin Sec",
        "categories": ("location", "scenographie"),
        "contact": "Gilles Hamon",
        "bank": _CMUT,
        "public_listing": False,
        "active": False,
        "description": (
            "Atelier de récupération et de réparation de mobilier. Activité suspendue : fiche conservée "
            "pour mémoire."
        ),
    },
)

_ACTORS_BY_KEY = {spec["key"]: spec for spec in DEMO_ACTORS}


def actor_siret(key: str) -> str:
    return make_siret(_ACTORS_BY_KEY[key]["siren"], "0001")


def demo_organisation(key: str):
    """A demo actor's card, found by its SIRET (its natural key)."""
    from app.models import Organisation

    organisation = db.session.scalar(sa.select(Organisation).where(Organisation.siret == actor_siret(key)))
    if organisation is None:
        raise click.ClickException(f"Acteur de démonstration introuvable : {key}")
    return organisation


def _actor_values(index: int, spec: dict) -> dict:
    from app.models import LegalForm, VatRegime

    siret = actor_siret(spec["key"])
    regime = VatRegime(spec["vat"])
    bank, bic = spec["bank"]
    return {
        "name": spec["name"],
        "slug": spec["key"],
        "legal_form": LegalForm(spec["form"]),
        "vat_regime": regime,
        "vat_number": vat_number_for(siret) if regime == VatRegime.SUBJECT else None,
        "address": spec["address"],
        "postal_code": spec["postal_code"],
        "commune": spec["commune"],
        "qpv": "qpv" in spec,
        "qpv_name": spec.get("qpv"),
        "description": spec["description"],
        "contact_name": spec["contact"],
        "email": f"contact-{spec['key']}@example.org",
        "phone": f"02 61 91 01 {index:02d}",
        "website": f"https://{spec['key']}.example.org",
        "iban": make_iban(bank, f"{index:05d}", f"{int(spec['siren']):011d}"),
        "bic": bic,
        "show_contact_publicly": index % 3 != 0,
        "public_listing": spec.get("public_listing", True),
        "active": spec.get("active", True),
        "categories": [demo_category(code) for code in spec["categories"]],
    }


@register_demo_step(25, "actors")
def load_actors() -> None:
    from app.models import Organisation

    for index, spec in enumerate(DEMO_ACTORS, start=1):
        siret = actor_siret(spec["key"])
        if db.session.scalar(sa.select(Organisation.id).where(Organisation.siret == siret)) is None:
            get_or_create(Organisation, siret=siret, defaults=_actor_values(index, spec))


# --- users ----------------------------------------------------------------------------------------

#: email, role, display name, role label (French), organisation key or "client".
DEMO_LOGINS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("admin@example.org", "admin", "Administration Maillage", "administration", None),
    ("coordination@example.org", "coordinator", "Coordination — Les Ecossolies", "coordination", None),
    ("tresorerie@example.org", "treasurer", "Trésorerie — Les Ecossolies", "trésorerie", None),
    ("takapres@example.org", "actor", "Samia Benali (TAK-APRES)", "acteur (TAK-APRES)", "tak-apres"),
    (
        "nantes-metropole@example.org",
        "client",
        "Claire Morvan (Nantes Métropole)",
        "client (Nantes Métropole)",
        "client",
    ),
)


def demo_user(email: str):
    from app.models import User

    return db.session.scalar(sa.select(User).where(User.email == email))


@register_demo_step(30, "users")
def load_users() -> None:
    from app.auth.services import create_user

    for email, role, name, _label, party in DEMO_LOGINS:
        if demo_user(email) is not None:
            continue
        create_user(
            email=email,
            role=role,
            name=name,
            password=DEMO_PASSWORD,
            organisation=demo_organisation(party) if role == "actor" else None,
            client=demo_client() if party == "client" else None,
        )
        mark_created()


# --- commands -----------------------------------------------------------------------------------


def load_demo() -> int:
    """Run every registered step, then store the marker. Flushes; returns the number of rows created."""
    from app.models import Setting

    _created["count"] = 0
    for _order, _name, step in DEMO_STEPS:
        step()
    get_or_create(Setting, key=DEMO_MARKER, defaults={"value": {"version": DEMO_VERSION}})
    return _created["count"]


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Ne charger que si la base ne contient aucun compte.")
def load_command(if_empty: bool) -> None:
    """Charger la démonstration des Assises 2011 (la relancer ne change rien)."""
    from app.errors import DomainError
    from app.models import User

    if if_empty and db.session.scalar(sa.select(User.id).limit(1)) is not None:
        click.echo("La base contient déjà des comptes : la démonstration n'est pas chargée.")
        return
    try:
        created = load_demo()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(f"Démonstration non chargée : {exc.message}") from exc
    except Exception:
        db.session.rollback()
        raise
    if created:
        click.echo(f"Démonstration des Assises 2011 chargée ({created} éléments créés).")
    else:
        click.echo("Démonstration des Assises 2011 déjà chargée : rien n'a changé.")


@demo_cli.command("logins")
def logins_command() -> None:
    """Afficher les identifiants de démonstration."""
    from app.models import Setting

    if db.session.get(Setting, DEMO_MARKER) is None:
        click.echo("La démonstration n'est pas chargée (lancez « flask demo load »).")
        return
    rows = [(email, label) for email, _role, _name, label, _party in DEMO_LOGINS if demo_user(email)]
    width = max(len(email) for email, _label in rows) if rows else 10
    label_width = max(len(label) for _email, label in rows) if rows else 10
    click.echo("Identifiants de démonstration :")
    click.echo(f"  {'e-mail':<{width}}  {'rôle':<{label_width}}  mot de passe")
    for email, label in rows:
        click.echo(f"  {email:<{width}}  {label:<{label_width}}  {DEMO_PASSWORD}")
