"""``flask bench seed --scale S``: years of a network's activity, built through the app's models.

At scale 1: 300 actors, 2,000 events over five years, about 20,000 lots, 100,000 lines and 1,400
quotes, with the invoices, payments and payouts of the events that went ahead. Scale 0.1 is the
small copy the bench compares it with. Rows go in with bulk ``INSERT``s of the mapped classes
(types, defaults and constraints apply, the ORM's unit of work does not), then the planner gets
fresh statistics (``app.db.refresh_statistics``).

Deterministic for a given seed, so that two runs measure the same data. Logins for the bench (and
for a look by hand): ``bench-coordination@example.org``, ``bench-acteur-1@example.org`` (the
busiest actor), ``bench-client-1@example.org``, all with :data:`PASSWORD`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from stdnum import luhn

from app.db import refresh_statistics, utcnow
from app.extensions import db
from app.money import compute_totals, line_net, round_money

PASSWORD = "bench-maillage"  # noqa: S105 - the bench dataset's logins, documented
COORDINATOR_EMAIL = "bench-coordination@example.org"
ACTOR_EMAIL = "bench-acteur-{n}@example.org"
CLIENT_EMAIL = "bench-client-{n}@example.org"
TREASURER_EMAIL = "bench-tresorerie@example.org"
ADMIN_EMAIL = "bench-admin@example.org"

#: At scale 1.
ACTORS, EVENTS, LOTS_PER_EVENT, LINES_PER_LOT, QUOTES, CLIENTS = 300, 2000, 10, 5, 1400, 60

CATEGORIES = [
    ("bench-restauration", "Restauration", "0.1000"),
    ("bench-traiteur", "Traiteur", "0.1000"),
    ("bench-boissons", "Boissons et bar", "0.2000"),
    ("bench-librairie", "Librairie", "0.0550"),
    ("bench-photo", "Photographie", "0.2000"),
    ("bench-video", "Vidéo", "0.2000"),
    ("bench-son", "Sonorisation", "0.2000"),
    ("bench-accueil", "Accueil et billetterie", "0.2000"),
    ("bench-nettoyage", "Nettoyage et tri des déchets", "0.2000"),
    ("bench-graphisme", "Graphisme et signalétique", "0.2000"),
    ("bench-mobilier", "Mobilier de réemploi", "0.2000"),
    ("bench-fleurs", "Décoration florale", "0.2000"),
    ("bench-transport", "Transport à vélo", "0.1000"),
    ("bench-animation", "Animation et ateliers", "0.2000"),
]
KINDS = ["Association", "Atelier", "Collectif", "Coopérative", "Les Ateliers de", "La Fabrique de", "Scop"]
PLACES = [
    "la Loire", "l'Erdre", "la Sèvre", "Mauves", "Chantenay", "Bellevue", "Malakoff", "Doulon",
    "Saint-Herblain", "Rezé", "Trentemoult", "l'Île", "Zola", "Procé", "Talensac", "Madeleine",
    "Bouffay", "Graslin", "Chézine", "Beaulieu", "Pirmil", "Saint-Félix", "Toutes Aides", "Orvault",
]  # fmt: skip
TRADES = [
    "Saveurs", "Bocal", "Vélo", "Pixel", "Récup'", "Jardin", "Papier", "Tables", "Sons", "Fil",
    "Graine", "Brasse", "Pain", "Lumière", "Bois", "Image", "Mots", "Carton", "Soupe", "Bulles",
]  # fmt: skip
COMMUNES = [
    ("44000", "Nantes"), ("44100", "Nantes"), ("44200", "Nantes"), ("44300", "Nantes"),
    ("44400", "Rezé"), ("44800", "Saint-Herblain"), ("44700", "Orvault"), ("44230", "Saint-Sébastien-sur-Loire"),
    ("44120", "Vertou"), ("44340", "Bouguenais"), ("44600", "Saint-Nazaire"), ("44240", "La Chapelle-sur-Erdre"),
]  # fmt: skip
QPV = [
    "Bellevue", "Malakoff", "Les Dervallières", "Bottière - Pin Sec", "Le Breil", "Nantes Nord",
    "Clos Toreau", "Château de Rezé", "La Boissière", "Port Boyer", "Ranzay", "Les Plaisances",
]  # fmt: skip
#: Share of actors sitting in a priority neighbourhood (QPV).
QPV_SHARE = 0.28
CLIENT_NAMES = [
    "Nantes Métropole", "Ville de Rezé", "Région Pays de la Loire", "Département de Loire-Atlantique",
    "Ville de Saint-Herblain", "CHU de Nantes", "Université de Nantes", "Le Voyage à Nantes",
    "Cité des Congrès", "Ville d'Orvault", "CCI Nantes Saint-Nazaire", "Crédit Coopératif",
    "Banque Populaire Grand Ouest", "SNCF Réseau", "Harmonie Mutuelle", "La Poste",
]  # fmt: skip
EVENT_KINDS = [
    "Assises", "Forum", "Rencontres", "Journée", "Salon", "Séminaire", "Festival", "Colloque",
    "Convention", "Biennale", "Fête", "Marché",
]  # fmt: skip
EVENT_TOPICS = [
    "de l'économie sociale et solidaire", "du réemploi", "de la transition", "des mobilités douces",
    "de l'alimentation durable", "de l'emploi", "des associations", "du numérique responsable",
    "de la culture", "de la jeunesse", "des solidarités", "de l'habitat participatif",
]  # fmt: skip
VENUES = [
    "Cité des Congrès", "Parc des Expositions de la Beaujoire", "Hangar à Bananes", "Stereolux",
    "Le Lieu Unique", "Château des Ducs de Bretagne", "Salle de la Manufacture", "La Cantine",
    "Maison des Syndicats", "Les Machines de l'Île",
]  # fmt: skip
LINE_KINDS = {
    "bench-restauration": [("Déjeuner", "repas", 12, 19), ("Petit-déjeuner", "repas", 4, 8), ("Dîner", "repas", 18, 32)],
    "bench-traiteur": [("Cocktail", "personne", 9, 22), ("Buffet froid", "personne", 14, 26)],
    "bench-boissons": [("Café et thé", "personne", 2, 4), ("Jus de fruits bio", "litre", 4, 7)],
    "bench-librairie": [("Librairie éphémère", "forfait", 250, 600), ("Ouvrages", "exemplaire", 8, 25)],
    "bench-photo": [("Reportage photo", "jour", 450, 900), ("Retouches", "heure", 40, 70)],
    "bench-video": [("Captation vidéo", "jour", 700, 1400), ("Montage", "heure", 45, 80)],
    "bench-son": [("Sonorisation plénière", "jour", 500, 1200), ("Technicien son", "heure", 35, 55)],
    "bench-accueil": [("Hôtes d'accueil", "heure", 22, 35), ("Badges", "unité", 1, 3)],
    "bench-nettoyage": [("Nettoyage", "heure", 25, 38), ("Tri des déchets", "forfait", 150, 400)],
    "bench-graphisme": [("Signalétique", "panneau", 30, 90), ("Maquette", "forfait", 300, 900)],
    "bench-mobilier": [("Location de mobilier", "forfait", 200, 800), ("Livraison", "forfait", 60, 150)],
    "bench-fleurs": [("Compositions florales", "unité", 25, 80)],
    "bench-transport": [("Livraison à vélo", "course", 15, 40)],
    "bench-animation": [("Atelier participatif", "heure", 45, 90), ("Animation", "forfait", 200, 700)],
}  # fmt: skip


def _siret(n: int, base: int) -> str:
    head = f"{(base + n * 7919) % 10**13:013d}"
    return head + luhn.calc_check_digit(head)


def _money(rng: random.Random, low: float, high: float) -> Decimal:
    cents = rng.randint(int(low * 100), int(high * 100))
    return Decimal(cents).scaleb(-2)


@dataclass
class Summary:
    """What was inserted, table by table, and how long it took."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        parts = ", ".join(f"{name} {count}" for name, count in self.counts.items())
        return f"{parts} in {self.seconds:.1f} s"


def _insert(model, rows: list[dict], summary: Summary, chunk: int = 5000) -> list[int]:
    """Bulk-insert ``rows`` (ORM bulk INSERT of the mapped class), returning their ids in order."""
    ids: list[int] = []
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        ids.extend(
            db.session.scalars(sa.insert(model).returning(model.id, sort_by_parameter_order=True), part).all()
        )
    summary.counts[model.__tablename__] = summary.counts.get(model.__tablename__, 0) + len(rows)
    return ids


def seed(
    scale: float = 1.0,
    *,
    seed_value: int = 13,
    now: datetime | None = None,
    analyze: bool = True,
    accounts: bool = True,
) -> Summary:
    """Insert the dataset at ``scale`` (1 = the full size) and flush; the caller commits.

    ``accounts=False`` adds data without the bench's logins (a second load on top of a first one,
    with another ``seed_value``): the logins then stay those of the first load."""
    from app.auth.passwords import hash_password
    from app.models import (
        Category,
        Client,
        CoordinatorIdentity,
        LegalForm,
        NumberSeries,
        Organisation,
        Role,
        User,
        VatRegime,
        organisation_categories,
    )
    from invoicing.models import Invoice, InvoiceLine, Payment, Payout
    from offers.models import Assignment, Event, Line, Lot, Quote, QuoteLine

    started = time.perf_counter()
    rng = random.Random(seed_value)  # noqa: S311 - reproducible data, not secrets
    summary = Summary()
    now = now or utcnow()
    n_actors = max(6, round(ACTORS * scale))
    n_events = max(8, round(EVENTS * scale))
    n_quotes = max(4, round(QUOTES * scale))
    n_clients = max(3, round(CLIENTS * scale))
    base = rng.randint(10**11, 9 * 10**11)
    password_hash = hash_password(PASSWORD)

    # --- the coordination, categories ----------------------------------------------------------
    identity = db.session.get(CoordinatorIdentity, 1)
    if identity is None:
        identity = CoordinatorIdentity(
            id=1,
            name="Les Ecossolies",
            legal_form=LegalForm.ASSOCIATION,
            siret="40483304800022",
            vat_regime=VatRegime.SUBJECT,
            vat_number="FR83404833048",
            address="8 rue Saint-Domingue",
            postal_code="44200",
            commune="Nantes",
            email="contact@example.org",
            payment_terms="Paiement à 30 jours par virement.",
        )
        db.session.add(identity)
        db.session.flush()
    existing = dict(db.session.execute(sa.select(Category.code, Category.id)).all())
    missing = [
        {"code": code, "name": name, "default_vat_rate": Decimal(rate), "position": 100 + i}
        for i, (code, name, rate) in enumerate(CATEGORIES)
        if code not in existing
    ]
    for (code, *_rest), new_id in zip(
        [c for c in CATEGORIES if c[0] not in existing], _insert(Category, missing, summary), strict=True
    ):
        existing[code] = new_id
    categories = [(code, existing[code], Decimal(rate), name) for code, name, rate in CATEGORIES]

    # --- actors --------------------------------------------------------------------------------
    regimes = [VatRegime.EXEMPT] * 5 + [VatRegime.FRANCHISE] * 2 + [VatRegime.SUBJECT] * 3
    forms = [LegalForm.ASSOCIATION] * 5 + [LegalForm.SCOP, LegalForm.SCIC, LegalForm.SARL, LegalForm.EI]
    actor_rows, actor_regimes = [], []
    from app.directory.validation import vat_number_for

    for n in range(n_actors):
        siret = _siret(n, base)
        regime = rng.choice(regimes)
        postal_code, commune = rng.choice(COMMUNES)
        in_qpv = rng.random() < QPV_SHARE
        name = f"{rng.choice(KINDS)} {rng.choice(TRADES)} {rng.choice(PLACES)} {n + 1}"
        actor_rows.append(
            {
                "name": name,
                "slug": f"bench-{n + 1}-{siret[-6:]}",
                "legal_form": rng.choice(forms),
                "siret": siret,
                "vat_regime": regime,
                "vat_number": vat_number_for(siret[:9]) if regime == VatRegime.SUBJECT else None,
                "address": f"{rng.randint(1, 120)} rue {rng.choice(PLACES)}",
                "postal_code": postal_code,
                "commune": commune,
                "email": f"contact{n + 1}@bench.example.org",
                "qpv": in_qpv,
                "qpv_name": rng.choice(QPV) if in_qpv else None,
                "description": "Structure de l'économie sociale et solidaire de la métropole nantaise.",
                "public_listing": rng.random() < 0.8,
                "active": rng.random() < 0.95,
            }
        )
        actor_regimes.append(regime)
    actor_ids = _insert(Organisation, actor_rows, summary)
    # Each actor serves one to three categories; each category has actors.
    by_category: dict[int, list[int]] = {cat_id: [] for _c, cat_id, _r, _n in categories}
    links = []
    for i, org_id in enumerate(actor_ids):
        # Round robin first, so that every category has actors even at a small scale.
        chosen = {
            categories[j][1] for j in range(len(categories)) if j % len(actor_ids) == i % len(categories)
        }
        chosen.add(categories[i % len(categories)][1])
        chosen.update(rng.choice(categories)[1] for _ in range(rng.randint(0, 2)))
        for cat_id in chosen:
            links.append({"organisation_id": org_id, "category_id": cat_id})
            by_category[cat_id].append(org_id)
    db.session.execute(sa.insert(organisation_categories), links)
    summary.counts["organisation_categories"] = len(links)

    # --- clients, users ------------------------------------------------------------------------
    client_rows = []
    for n in range(n_clients):
        postal_code, commune = rng.choice(COMMUNES)
        label = CLIENT_NAMES[n % len(CLIENT_NAMES)]
        client_rows.append(
            {
                "name": label if n < len(CLIENT_NAMES) else f"{label} ({n // len(CLIENT_NAMES) + 1})",
                "siret": _siret(n, base + 17),
                "address": f"{rng.randint(1, 60)} boulevard {rng.choice(PLACES)}",
                "postal_code": postal_code,
                "commune": commune,
                "is_public_body": n % 3 != 2,
                "contact_email": f"achats{n + 1}@bench.example.org",
            }
        )
    client_ids = _insert(Client, client_rows, summary)
    users = [
        {
            "email": COORDINATOR_EMAIL,
            "name": "Coordination (bench)",
            "role": Role.COORDINATOR,
            "password_hash": password_hash,
        },
        {
            "email": TREASURER_EMAIL,
            "name": "Trésorerie (bench)",
            "role": Role.TREASURER,
            "password_hash": password_hash,
        },
        {
            "email": ADMIN_EMAIL,
            "name": "Administration (bench)",
            "role": Role.ADMIN,
            "password_hash": password_hash,
        },
    ]
    # The first actor is the busiest one (the portal's worst case); the first client the biggest.
    users += [
        {
            "email": ACTOR_EMAIL.format(n=i + 1),
            "name": f"Acteur {i + 1}",
            "role": Role.ACTOR,
            "organisation_id": org_id,
            "password_hash": password_hash,
        }
        for i, org_id in enumerate(actor_ids[: max(3, len(actor_ids) // 10)])
    ]
    users += [
        {
            "email": CLIENT_EMAIL.format(n=i + 1),
            "name": f"Client {i + 1}",
            "role": Role.CLIENT,
            "client_id": client_id,
            "password_hash": password_hash,
        }
        for i, client_id in enumerate(client_ids)
    ]
    if accounts:
        coordinator_id = _insert(User, users, summary)[0]
    else:
        coordinator_id = db.session.scalar(sa.select(User.id).where(User.email == COORDINATOR_EMAIL))

    # --- events --------------------------------------------------------------------------------
    # Five years: four past, one ahead. Past events went ahead (delivered, closed) or not (lost,
    # cancelled); those ahead are being prepared (draft, consulting, quoted) or won.
    first_day = (now - timedelta(days=4 * 365)).date()
    span = 5 * 365
    event_rows, event_meta = [], []
    busiest, biggest = actor_ids[0], client_ids[0]
    for n in range(n_events):
        day = first_day + timedelta(days=int(span * n / n_events) + rng.randint(0, 2))
        starts = datetime(day.year, day.month, day.day, 7 + rng.randint(0, 3), 0, tzinfo=UTC)
        ends = starts + timedelta(hours=rng.choice([4, 8, 10, 34]))
        past = ends < now
        if past:
            status = rng.choices(["closed", "delivered", "lost", "cancelled"], [60, 15, 15, 10])[0]
            if n % 20 == 7:
                # Delivered, invoiced, not paid: late invoices for the treasurer at every size.
                status = "delivered"
        else:
            status = rng.choices(["draft", "consulting", "quoted", "won"], [25, 35, 25, 15])[0]
        client_id = biggest if rng.random() < 0.15 else rng.choice(client_ids)
        event_rows.append(
            {
                "title": f"{rng.choice(EVENT_KINDS)} {rng.choice(EVENT_TOPICS)} {day.year} #{n + 1}",
                "client_id": client_id,
                "venue": rng.choice(VENUES),
                "starts_at": starts,
                "ends_at": ends,
                "headcount": rng.choice([80, 150, 300, 500, 1200]),
                "status": status,
                "fee_kind": "percent",
                "fee_rate": Decimal("0.0800"),
                "created_by_id": coordinator_id,
            }
        )
        event_meta.append((status, starts, client_id))
    event_ids = _insert(Event, event_rows, summary)

    # --- lots, assignments, lines --------------------------------------------------------------
    lot_rows, lot_meta = [], []
    for event_id, (status, _starts, _client) in zip(event_ids, event_meta, strict=True):
        for position in range(rng.randint(LOTS_PER_EVENT - 4, LOTS_PER_EVENT + 4)):
            code, cat_id, rate, cat_name = rng.choice(categories)
            cancelled = rng.random() < 0.04
            lot_rows.append(
                {
                    "event_id": event_id,
                    "category_id": cat_id,
                    "title": f"{cat_name} {position + 1}",
                    "position": position,
                    "status": "cancelled" if cancelled else "open",
                }
            )
            lot_meta.append((event_id, status, code, cat_id, rate))
    lot_ids = _insert(Lot, lot_rows, summary)

    assignment_rows, line_rows = [], []
    lot_lines: dict[int, list[dict]] = {}
    for lot_id, (_event_id, status, code, cat_id, rate) in zip(lot_ids, lot_meta, strict=True):
        pool = by_category[cat_id]
        preparing = status in ("draft", "consulting")
        # Lots being prepared: some still to staff (the dashboard's suggestions), some invitations out.
        staffed = not preparing or rng.random() < 0.6
        chosen = rng.sample(pool, k=min(len(pool), rng.randint(1, 3)))
        if busiest in pool and rng.random() < 0.5 and busiest not in chosen:
            chosen[0] = busiest
        for i, org_id in enumerate(chosen):
            if i == 0 and staffed:
                a_status = "accepted"
            elif preparing:
                a_status = rng.choice(["invited", "proposed", "declined"])
            else:
                a_status = "declined"
            assignment_rows.append(
                {
                    "lot_id": lot_id,
                    "organisation_id": org_id,
                    "role": "lead",
                    "status": a_status,
                    "invited_at": now if a_status != "proposed" else None,
                }
            )
        if not staffed or not chosen:
            continue
        seller = chosen[0]
        kinds = LINE_KINDS[code]
        for position in range(rng.randint(LINES_PER_LOT - 3, LINES_PER_LOT + 3)):
            description, unit, low, high = kinds[position % len(kinds)]
            quantity = Decimal(rng.choice([1, 1, 2, 4, 8, 25, 80, 150, 300]))
            price = _money(rng, low, high)
            row = {
                "lot_id": lot_id,
                "organisation_id": seller,
                "description": f"{description} ({position + 1})",
                "quantity": quantity,
                "unit": unit,
                "unit_price": price,
                "vat_rate": rate,
                "position": position,
            }
            line_rows.append(row)
            lot_lines.setdefault(lot_id, []).append(row)
    _insert(Assignment, assignment_rows, summary)
    _insert(Line, line_rows, summary)

    # --- quotes, invoices, payments, payouts ---------------------------------------------------
    lots_of_event: dict[int, list[tuple[int, dict]]] = {}
    for lot_id, lot_row, (event_id, *_m) in zip(lot_ids, lot_rows, lot_meta, strict=True):
        if lot_row["status"] == "open":
            lots_of_event.setdefault(event_id, []).append((lot_id, lot_row))
    quoted = [
        (event_id, meta)
        for event_id, meta in zip(event_ids, event_meta, strict=True)
        if meta[0] in ("quoted", "won", "delivered", "closed", "lost")
    ][:n_quotes]
    clients_by_id = dict(zip(client_ids, client_rows, strict=True))
    quote_rows, quote_plans = [], []
    serial: dict[int, int] = dict(
        db.session.execute(
            sa.select(NumberSeries.year, NumberSeries.last_value).where(
                NumberSeries.issuer == "bench", NumberSeries.prefix == "DEV"
            )
        ).all()
    )
    known_years = set(serial)
    for event_id, (status, starts, client_id) in quoted:
        year = starts.year
        serial[year] = serial.get(year, 0) + 1
        priced = []
        for lot_id, lot_row in lots_of_event.get(event_id, []):
            for row in lot_lines.get(lot_id, []):
                priced.append((lot_row, row, line_net(row["quantity"], row["unit_price"])))
        lots_net = sum((p[2] for p in priced), Decimal("0.00"))
        fee = round_money(lots_net * Decimal("0.08"))
        totals = compute_totals([(p[2], p[1]["vat_rate"]) for p in priced] + [(fee, Decimal("0.2000"))])
        issue = (starts - timedelta(days=rng.randint(20, 60))).date()
        quote_status = {"quoted": "sent", "lost": "declined"}.get(status, "accepted")
        client = clients_by_id[client_id]
        quote_rows.append(
            {
                "event_id": event_id,
                "number": f"DEV-{year}-{serial[year]:04d}",
                "version": 1,
                "status": quote_status,
                "issue_date": issue,
                "valid_until": issue + timedelta(days=30),
                "total_net": totals.net,
                "total_vat": totals.vat,
                "total_gross": totals.gross,
                "frozen_client_name": client["name"],
                "snapshot": {
                    "client": {k: client[k] for k in ("name", "siret", "address", "postal_code", "commune")},
                    "event": {"id": event_id, "title": f"#{event_id}"},
                    "lots": [],
                    "actors": {},
                },
                "sent_at": datetime(issue.year, issue.month, issue.day, 9, tzinfo=UTC),
                "created_by_id": coordinator_id,
            }
        )
        quote_plans.append((event_id, status, client_id, issue, priced, fee, totals))
    quote_ids = _insert(Quote, quote_rows, summary)
    for year, value in serial.items():
        if year in known_years:
            db.session.execute(
                sa.update(NumberSeries)
                .where(
                    NumberSeries.issuer == "bench", NumberSeries.prefix == "DEV", NumberSeries.year == year
                )
                .values(last_value=value)
            )
        else:
            db.session.add(NumberSeries(issuer="bench", prefix="DEV", year=year, last_value=value))
    quote_line_rows, invoice_rows, invoice_plans = [], [], []
    invoice_serial = db.session.scalar(
        sa.select(sa.func.count()).select_from(Invoice).where(Invoice.number.like("BENCH-%"))
    )
    category_names = {cat_id: cat_name for _code, cat_id, _rate, cat_name in categories}
    for quote_id, (event_id, status, client_id, issue, priced, fee, totals) in zip(
        quote_ids, quote_plans, strict=True
    ):
        for position, (lot_row, row, net) in enumerate(priced):
            quote_line_rows.append(
                {
                    "quote_id": quote_id,
                    "position": position,
                    "kind": "line",
                    "lot_title": lot_row["title"],
                    # Frozen with the quote, as the app does: the dashboards sum work per category.
                    "category_name": category_names[lot_row["category_id"]],
                    "organisation_id": row["organisation_id"],
                    "description": row["description"],
                    "quantity": row["quantity"],
                    "unit": row["unit"],
                    "unit_price": row["unit_price"],
                    "vat_rate": row["vat_rate"],
                    "net": net,
                }
            )
        if fee > 0:
            quote_line_rows.append(
                {
                    "quote_id": quote_id,
                    "position": len(priced),
                    "kind": "fee",
                    "lot_title": "Coordination",
                    "organisation_name": "Les Ecossolies",
                    "description": "Coordination du groupement (8 % du montant des lots)",
                    "quantity": Decimal("1"),
                    "unit": "forfait",
                    "unit_price": fee,
                    "vat_rate": Decimal("0.2000"),
                    "net": fee,
                }
            )
        if status in ("delivered", "closed") and priced:
            invoice_serial += 1
            invoice_rows.append(
                {
                    "issuer": "coordinator",
                    "kind": "invoice",
                    "status": "issued",
                    "number": f"BENCH-{issue.year}-{invoice_serial:05d}",
                    "event_id": event_id,
                    "quote_id": quote_id,
                    "client_id": client_id,
                    "issue_date": issue + timedelta(days=45),
                    "due_date": issue + timedelta(days=75),
                    "seller": {"name": "Les Ecossolies"},
                    "buyer": {"name": clients_by_id[client_id]["name"]},
                    "total_net": totals.net,
                    "total_vat": totals.vat,
                    "total_gross": totals.gross,
                    "operation_category": "services",
                    "created_by_id": coordinator_id,
                    "issued_at": datetime(issue.year, issue.month, issue.day, 10, tzinfo=UTC)
                    + timedelta(days=45),
                }
            )
            invoice_plans.append((event_id, status, issue, priced, totals))
    _insert(QuoteLine, quote_line_rows, summary)
    invoice_ids = _insert(Invoice, invoice_rows, summary)
    invoice_line_rows, payment_rows, payout_rows = [], [], []
    for invoice_id, (event_id, status, issue, priced, totals) in zip(invoice_ids, invoice_plans, strict=True):
        shares: dict[int, Decimal] = {}
        for position, (lot_row, row, net) in enumerate(priced):
            invoice_line_rows.append(
                {
                    "invoice_id": invoice_id,
                    "position": position,
                    "lot_title": lot_row["title"],
                    "organisation_id": row["organisation_id"],
                    "description": row["description"],
                    "quantity": row["quantity"],
                    "unit": row["unit"],
                    "unit_price": row["unit_price"],
                    "vat_rate": row["vat_rate"],
                    "net": net,
                }
            )
            shares[row["organisation_id"]] = shares.get(row["organisation_id"], Decimal("0.00")) + net
        if status == "closed":
            payment_rows.append(
                {
                    "invoice_id": invoice_id,
                    "received_on": issue + timedelta(days=70),
                    "amount": totals.gross,
                    "method": "transfer",
                    "reference": f"VIR-{invoice_id}",
                    "created_by_id": coordinator_id,
                }
            )
        for org_id, share in shares.items():
            paid = status == "closed"
            payout_rows.append(
                {
                    "event_id": event_id,
                    "organisation_id": org_id,
                    "share": share,
                    "commission": Decimal("0.00"),
                    "net_amount": share,
                    "amount": share,
                    "status": "paid" if paid else "due",
                    "paid_on": issue + timedelta(days=80) if paid else None,
                }
            )
    _insert(InvoiceLine, invoice_line_rows, summary)
    _insert(Payment, payment_rows, summary)
    _insert(Payout, payout_rows, summary)
    db.session.flush()
    # Written past the app's services: the work done that the dashboards read, the actors' nets
    # per event that the matching reads, and the assignments' copy of their event's start that the
    # portal sorts by, are filled here.
    from offers.services import actor_nets, event_starts, work

    summary.counts["work_totals"], summary.counts["collaborations"] = work.rebuild()
    summary.counts["actor_event_nets"] = actor_nets.rebuild()
    event_starts.refresh(db.session.connection(), everything=True)
    if analyze:
        refresh_statistics(db.session.connection())
    summary.seconds = time.perf_counter() - started
    return summary
