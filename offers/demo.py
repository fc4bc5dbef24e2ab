"""Demo data for offers: the Assises 2011 event, its lots, assignments and priced lines.

The shape follows the published account (see ``seeds/assises-2011.txt``); prices, times and comments
are invented. Single-contractor mode: the coordinator sells every line, so each line takes its
category's default VAT rate. One actor declined the photo lot and was replaced; one invitation on the
scenography is still pending.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from app.audit import N_, record
from app.dates import LOCAL_TZ
from app.demo import (
    demo_category,
    demo_client,
    demo_organisation,
    demo_user,
    get_or_create,
    register_demo_step,
)
from app.extensions import db

EVENT_TITLE = "Assises métropolitaines de la Politique de la Ville"


def paris(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A 2011 wall-clock time in Nantes, as an aware UTC datetime."""
    return datetime(2011, month, day, hour, minute, tzinfo=LOCAL_TZ).astimezone(UTC)


def _d(value: str) -> Decimal:
    return Decimal(value)


#: Each lot: category, title, specification, place, (start, end) on 15 April (Paris time),
#: quantities, and its assignments: (actor, role, status, invited (m, d, h, min), answered, comment, lines).
#: A line: (description, quantity, unit, unit price excl. VAT).
DEMO_LOTS: tuple[dict, ...] = (
    {
        "category": "accueil",
        "title": "Accueil et pochettes congressistes",
        "specification": (
            "Accueil des 400 participants dès 7 h 30 : émargement, remise des badges et des pochettes "
            "(programme, plan, bloc-notes, stylo), orientation vers la plénière et les ateliers. "
            "Confection et garnissage des pochettes la semaine précédente."
        ),
        "place": "Hall d'accueil, niveau 0 — Cité des Congrès",
        "times": ((7, 30), (18, 0)),
        "quantities": "400 pochettes, 6 personnes à l'accueil",
        "assignments": (
            (
                "tak-apres",
                "lead",
                "accepted",
                (3, 7, 9, 30),
                (3, 8, 11, 15),
                "Nous mobilisons six salariés en insertion, formés à l'accueil du public.",
                (
                    (
                        "Accueil et orientation des participants (6 personnes, 7 h 30 – 18 h)",
                        "63",
                        "heure",
                        "22.00",
                    ),
                    ("Coordination de l'équipe d'accueil", "7.5", "heure", "30.00"),
                ),
            ),
            (
                "kenja",
                "partner",
                "accepted",
                (3, 7, 9, 30),
                (3, 9, 17, 40),
                "Les pochettes seront cousues dans notre atelier et livrées la veille.",
                (
                    ("Pochettes congressistes en tissu de récupération", "400", "piece", "3.10"),
                    ("Garnissage des pochettes (programme, plan, bloc-notes, stylo)", "400", "piece", "0.85"),
                ),
            ),
        ),
    },
    {
        "category": "tenues",
        "title": "Tenues d'accueil",
        "specification": (
            "Huit tenues pour l'équipe d'accueil, créées à partir de textiles de récupération aux couleurs "
            "de la journée ; essayages la semaine précédente, retouches sur place le matin."
        ),
        "place": "Vestiaire du personnel — Cité des Congrès",
        "times": ((7, 0), (9, 0)),
        "quantities": "8 tenues",
        "assignments": (
            (
                "style-alpaga",
                "lead",
                "accepted",
                (3, 7, 9, 30),
                (3, 10, 10, 5),
                "Croquis envoyés pour validation avant le 25 mars.",
                (
                    ("Conception et patronage des tenues", "1", "forfait", "650.00"),
                    ("Confection des tenues d'accueil", "8", "piece", "95.00"),
                ),
            ),
            (
                "regarts",
                "partner",
                "accepted",
                (3, 7, 9, 30),
                (3, 11, 15, 30),
                "Deux couturières présentes le matin pour les derniers ajustements.",
                (("Essayages, retouches et ajustements sur place", "7.5", "heure", "28.00"),),
            ),
        ),
    },
    {
        "category": "scenographie",
        "title": "Scénographie",
        "specification": (
            "Aménagement du hall et des salles d'ateliers en mobilier de réemploi, signalétique, espace "
            "d'exposition des projets des quartiers, avec des acteurs culturels, du numérique et des "
            "habitants."
        ),
        "place": "Hall, grand auditorium et salles d'ateliers",
        "times": ((7, 0), (18, 0)),
        "quantities": "1 hall, 6 salles d'ateliers, 24 panneaux de signalétique",
        "assignments": (
            (
                "ecos",
                "lead",
                "accepted",
                (3, 7, 9, 30),
                (3, 9, 9, 45),
                "Montage la veille au soir, démontage après la clôture.",
                (
                    ("Conception scénographique et suivi", "1", "forfait", "2400.00"),
                    ("Montage et démontage (équipe de 4 personnes)", "2", "jour", "480.00"),
                    ("Signalétique en carton recyclé", "24", "piece", "35.00"),
                ),
            ),
            (
                "fabriqueurs-du-breil",
                "partner",
                "invited",
                (3, 21, 11, 0),
                None,
                "",
                (),
            ),
        ),
    },
    {
        "category": "restauration",
        "title": "Restauration (déjeuner)",
        "specification": (
            "Déjeuner-buffet pour 400 personnes : entrées, deux plats chauds dont un végétarien, fromages, "
            "desserts ; produits de saison et locaux, vaisselle réutilisable, tri des déchets."
        ),
        "place": "Salle Loire — Cité des Congrès",
        "times": ((12, 0), (14, 0)),
        "quantities": "400 repas",
        "assignments": (
            (
                "meli-melo",
                "lead",
                "accepted",
                (3, 7, 9, 30),
                (3, 8, 16, 20),
                "Nous coordonnons les cuisines partenaires et le service.",
                (
                    ("Déjeuner-buffet : plats chauds de saison", "180", "repas", "14.50"),
                    ("Service et mise en place (6 personnes)", "36", "heure", "24.00"),
                ),
            ),
            (
                "romsi",
                "partner",
                "accepted",
                (3, 7, 9, 30),
                (3, 10, 18, 0),
                "Cuisines du monde, préparées la veille et le matin même.",
                (("Déjeuner-buffet : cuisines du monde", "100", "repas", "14.50"),),
            ),
            (
                "tak-apres",
                "partner",
                "accepted",
                (3, 7, 9, 30),
                (3, 8, 11, 20),
                "Entrées et desserts maison.",
                (("Déjeuner-buffet : entrées et desserts maison", "70", "repas", "14.50"),),
            ),
            (
                "gout-des-autres",
                "partner",
                "accepted",
                (3, 7, 9, 30),
                (3, 11, 9, 10),
                "Buffet végétarien, vaisselle réutilisable fournie.",
                (("Déjeuner-buffet végétarien", "50", "repas", "14.50"),),
            ),
            (
                "ferme-pannetiere",
                "supplier",
                "accepted",
                (3, 8, 10, 0),
                (3, 9, 8, 30),
                "Légumes récoltés la veille, livrés aux cuisines.",
                (("Légumes de saison issus de l'agriculture biologique", "1", "lot", "620.00"),),
            ),
            (
                "pain-virgule",
                "supplier",
                "accepted",
                (3, 8, 10, 0),
                (3, 8, 19, 45),
                "Livraison à 10 h à la Cité des Congrès.",
                (("Petits pains bio au levain", "400", "piece", "0.45"),),
            ),
        ),
    },
    {
        "category": "pause_cafe",
        "title": "Pauses café",
        "specification": (
            "Trois pauses : accueil (8 h 30), matin (10 h 30), après-midi (15 h 30). Boissons biologiques "
            "et équitables, jus de fruits, viennoiseries et gâteaux maison, en lien avec la Cité des Congrès."
        ),
        "place": "Foyer haut — Cité des Congrès",
        "times": ((8, 0), (16, 0)),
        "quantities": "3 pauses de 400 personnes",
        "assignments": (
            (
                "emoqui",
                "lead",
                "accepted",
                (3, 7, 9, 30),
                (3, 9, 12, 0),
                "Nous assurons la pause d'accueil et la coordination avec la Cité des Congrès.",
                (
                    (
                        "Pause d'accueil : café, thé, jus de fruits bio et équitables",
                        "400",
                        "personne",
                        "2.20",
                    ),
                ),
            ),
            (
                "napce",
                "partner",
                "accepted",
                (3, 7, 9, 30),
                (3, 12, 10, 30),
                "Viennoiseries préparées par nos stagiaires.",
                (("Pause du matin : boissons et viennoiseries", "400", "personne", "3.10"),),
            ),
            (
                "tak-apres",
                "partner",
                "accepted",
                (3, 7, 9, 30),
                (3, 8, 11, 25),
                "Gâteaux maison pour la pause de l'après-midi.",
                (("Pause de l'après-midi : boissons et gâteaux maison", "400", "personne", "2.90"),),
            ),
        ),
    },
    {
        "category": "librairie",
        "title": "Librairie",
        "specification": (
            "Une petite librairie sur la politique de la ville, l'économie sociale et solidaire et les "
            "quartiers, tenue toute la journée ; ouvrages offerts aux intervenants."
        ),
        "place": "Hall d'accueil, près de l'entrée de l'auditorium",
        "times": ((8, 0), (18, 0)),
        "quantities": "1 stand, 20 ouvrages offerts",
        "assignments": (
            (
                "equipage",
                "lead",
                "accepted",
                (3, 7, 9, 30),
                (3, 10, 14, 50),
                "Sélection d'une soixantaine de titres, liste envoyée avant le 1er avril.",
                (
                    ("Sélection d'ouvrages et tenue du stand (journée)", "1", "forfait", "350.00"),
                    ("Ouvrages offerts aux intervenants", "20", "piece", "18.50"),
                ),
            ),
        ),
    },
    {
        "category": "impression",
        "title": "Impression",
        "specification": (
            "Programmes, badges nominatifs et affiches sur papier recyclé, encres végétales ; livraison à "
            "la Cité des Congrès la veille, réassort possible le matin."
        ),
        "place": "Quai de livraison — Cité des Congrès",
        "times": ((7, 0), (8, 0)),
        "quantities": "450 programmes, 420 badges, 30 affiches A2",
        "assignments": (
            (
                "la-contemporaine",
                "lead",
                "accepted",
                (3, 7, 9, 30),
                (3, 8, 9, 0),
                "BAT à valider au plus tard le 6 avril.",
                (
                    ("Programmes A4 pliés, deux couleurs, papier recyclé", "450", "piece", "0.62"),
                    ("Badges nominatifs", "420", "piece", "0.35"),
                    ("Affiches A2", "30", "piece", "4.80"),
                ),
            ),
        ),
    },
    {
        "category": "location",
        "title": "Location de matériel",
        "specification": (
            "Mange-debout, grilles d'exposition, tables et chaises pour les ateliers ; livraison, "
            "installation et reprise."
        ),
        "place": "Hall et salles d'ateliers",
        "times": ((7, 0), (18, 0)),
        "quantities": "20 mange-debout, 30 grilles, mobilier de 6 salles",
        "assignments": (
            (
                "la-peps",
                "lead",
                "accepted",
                (3, 7, 9, 30),
                (3, 9, 16, 0),
                "Livraison la veille à 17 h, reprise le 16 avril au matin.",
                (
                    ("Location de mange-debout", "20", "piece", "12.00"),
                    ("Location de grilles d'exposition", "30", "piece", "8.50"),
                ),
            ),
            (
                "malle-creative",
                "partner",
                "accepted",
                (3, 7, 9, 30),
                (3, 14, 11, 40),
                "Mobilier de réemploi, paperboards compris.",
                (
                    ("Location de mobilier d'atelier (tables, chaises, paperboards)", "1", "lot", "380.00"),
                    ("Livraison et reprise", "46", "km", "0.60"),
                ),
            ),
        ),
    },
    {
        "category": "audiovisuel",
        "title": "Montage film",
        "specification": (
            "Captation de la plénière et des ateliers, montage d'un film de synthèse de 10 minutes diffusé "
            "en clôture puis mis en ligne sous licence Creative Commons."
        ),
        "place": "Grand auditorium et salles d'ateliers",
        "times": ((8, 30), (17, 30)),
        "quantities": "2 cadreurs, 1 film de 10 minutes",
        "assignments": (
            (
                "format-libre",
                "lead",
                "accepted",
                (3, 7, 9, 30),
                (3, 10, 20, 15),
                "Premier montage projeté à 17 h ; version finale sous quinze jours.",
                (
                    ("Tournage de la journée (2 cadreurs)", "2", "jour", "450.00"),
                    ("Montage d'un film de synthèse de 10 minutes", "3", "jour", "420.00"),
                    ("Sous-titrage", "1", "forfait", "180.00"),
                ),
            ),
        ),
    },
    {
        "category": "photographie",
        "title": "Photographie",
        "specification": (
            "Reportage de la journée : plénière, ateliers, espaces de l'ESS, portraits d'acteurs ; 150 "
            "photographies retouchées, licence d'usage pour la communication de Nantes Métropole."
        ),
        "place": "Toute la Cité des Congrès",
        "times": ((8, 0), (18, 0)),
        "quantities": "1 photographe, 150 photographies",
        "assignments": (
            (
                "objectif-quartiers",
                "lead",
                "declined",
                (3, 7, 9, 30),
                (3, 9, 14, 10),
                "Désolés : notre équipe couvre déjà la fête de quartier de Plaisance le 15 avril. "
                "Nous restons disponibles pour un prochain événement.",
                (),
            ),
            (
                "yves-monteil",
                "lead",
                "accepted",
                (3, 10, 9, 0),
                (3, 11, 18, 20),
                "Disponible toute la journée ; photos livrées sous huit jours.",
                (
                    ("Reportage photographique de la journée", "9.5", "heure", "55.00"),
                    ("Sélection, retouche et remise de 150 photographies", "1", "forfait", "300.00"),
                ),
            ),
        ),
    },
)


def demo_event():
    from offers.models import Event

    return db.session.scalar(
        sa.select(Event).where(Event.title == EVENT_TITLE, Event.client_id == demo_client().id)
    )


@register_demo_step(50, "event")
def load_event() -> None:
    from offers.models import BillingMode, Event, EventStatus, FeeKind

    client = demo_client()
    coordinator = demo_user("coordination@example.org")
    event, created = get_or_create(
        Event,
        title=EVENT_TITLE,
        client_id=client.id,
        defaults={
            "venue": "Cité des Congrès de Nantes",
            "venue_address": "5 rue de Valmy, 44000 Nantes",
            "starts_at": paris(4, 15, 8),
            "ends_at": paris(4, 15, 18),
            "headcount": 400,
            "description": (
                "Journée de mobilisation et d'échanges avec les acteurs de la politique de la ville des "
                "24 communes de l'agglomération : plénière, ateliers, déjeuner. Nantes Métropole souhaite "
                "un interlocuteur unique et faire appel à une diversité d'acteurs de l'économie sociale "
                "et solidaire, notamment implantés dans les quartiers prioritaires."
            ),
            "status": EventStatus.CONSULTING,
            "billing_mode": BillingMode.SINGLE_CONTRACTOR,
            "fee_kind": FeeKind.PERCENT,
            "fee_rate": Decimal("0.0800"),
            "purchase_order_number": "EJ-2011-004871",
            "response_deadline": paris(3, 25, 18),
            "onsite_contact": "Mathilde Renaud (Les Ecossolies) — 02 61 91 00 02",
            "created_by_id": coordinator.id if coordinator else None,
            "created_at": paris(2, 21, 10),
        },
    )
    if created:
        entry = record(
            "event.created",
            event,
            user=coordinator,
            summary=N_("Événement créé pour %(client)s", client=event.client.name),
            event_id=event.id,
        )
        entry.at = event.created_at


@register_demo_step(55, "lots")
def load_lots() -> None:
    from offers.models import Lot

    event = demo_event()
    for position, spec in enumerate(DEMO_LOTS, start=1):
        (start_h, start_m), (end_h, end_m) = spec["times"]
        get_or_create(
            Lot,
            event_id=event.id,
            title=spec["title"],
            defaults={
                "category_id": demo_category(spec["category"]).id,
                "specification": spec["specification"],
                "place": spec["place"],
                "starts_at": paris(4, 15, start_h, start_m),
                "ends_at": paris(4, 15, end_h, end_m),
                "quantities": spec["quantities"],
                "response_deadline": event.response_deadline,
                "position": position,
                "created_at": event.created_at,
            },
        )


def _audit_assignment(assignment, lot, organisation, event, coordinator) -> None:
    """The invitation and the answer, dated as they happened (as the machine would record them)."""
    from app.models import User
    from offers.models import ASSIGNMENT_STATES, AssignmentStatus

    invited = record(
        ASSIGNMENT_STATES.action,
        assignment,
        user=coordinator,
        summary=N_("%(actor)s invité sur le lot « %(lot)s »", actor=organisation.name, lot=lot.title),
        changes={"status": (AssignmentStatus.PROPOSED, AssignmentStatus.INVITED)},
        event_id=event.id,
    )
    invited.at = assignment.invited_at
    if assignment.status in (AssignmentStatus.ACCEPTED, AssignmentStatus.DECLINED):
        accepted = assignment.status == AssignmentStatus.ACCEPTED
        actor_user = db.session.scalar(
            sa.select(User).where(User.organisation_id == organisation.id).order_by(User.id).limit(1)
        )
        answered = record(
            ASSIGNMENT_STATES.action,
            assignment,
            user=actor_user,
            summary=(
                N_("%(actor)s accepte le lot « %(lot)s »", actor=organisation.name, lot=lot.title)
                if accepted
                else N_("%(actor)s décline le lot « %(lot)s »", actor=organisation.name, lot=lot.title)
            ),
            changes={"status": (AssignmentStatus.INVITED, assignment.status)},
            event_id=event.id,
        )
        answered.at = assignment.answered_at


@register_demo_step(60, "assignments")
def load_assignments() -> None:
    from offers.models import Assignment, AssignmentRole, AssignmentStatus, Line, Lot

    event = demo_event()
    coordinator = demo_user("coordination@example.org")
    for spec in DEMO_LOTS:
        lot = db.session.scalar(sa.select(Lot).where(Lot.event_id == event.id, Lot.title == spec["title"]))
        rate = lot.category.default_vat_rate
        position = 0
        for key, role, status, invited, answered, comment, lines in spec["assignments"]:
            organisation = demo_organisation(key)
            status = AssignmentStatus(status)
            assignment, created = get_or_create(
                Assignment,
                lot_id=lot.id,
                organisation_id=organisation.id,
                defaults={
                    "role": AssignmentRole(role),
                    "status": status,
                    "created_at": paris(*invited),
                    "invited_at": paris(*invited),
                    "answered_at": paris(*answered) if answered else None,
                    "comment": comment,
                },
            )
            if created:
                _audit_assignment(assignment, lot, organisation, event, coordinator)
            for description, quantity, unit, unit_price in lines:
                position += 1
                get_or_create(
                    Line,
                    lot_id=lot.id,
                    organisation_id=organisation.id,
                    description=description,
                    defaults={
                        "quantity": _d(quantity),
                        "unit": unit,
                        "unit_price": _d(unit_price),
                        "vat_rate": rate,
                        "position": position,
                        "created_at": paris(*answered),
                        "updated_at": paris(*answered),
                    },
                )
