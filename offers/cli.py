"""``flask quotes …``: the quotes archive from the command line."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app.extensions import db
from app.formatting import money
from offers.models import Quote

quotes_cli = AppGroup("quotes", help="Archive des devis.")


@quotes_cli.command("list")
def list_quotes():
    """Une ligne par version : numéro, version, statut, client, total TTC."""
    from flask_babel import force_locale

    quotes = db.session.scalars(sa.select(Quote).order_by(Quote.number, Quote.version)).all()
    if not quotes:
        click.echo("Aucun devis.")
        return
    with force_locale("fr"):
        for q in quotes:
            click.echo(
                f"{q.number}\tv{q.version}\t{q.status_label}\t{q.snapshot['client']['name']}\t{money(q.total_gross)}"
            )


@quotes_cli.command("export-pdf")
@click.argument("number")
@click.option("--version", "version", type=int, help="Version (la dernière par défaut).")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True), help="Fichier PDF."
)
def export_pdf(number, version, output):
    """Écrire le PDF enregistré d'un devis, octet pour octet."""
    stmt = sa.select(Quote).where(Quote.number == number)
    stmt = stmt.where(Quote.version == version) if version else stmt.order_by(Quote.version.desc()).limit(1)
    quote = db.session.scalar(stmt)
    if quote is None:
        raise click.ClickException(
            f"Devis introuvable : {number}" + (f" version {version}" if version else "")
        )
    from offers.services.quotes import quote_pdf

    pdf = quote_pdf(quote)
    db.session.commit()  # stored if it was rendered now
    Path(output).write_bytes(pdf)
    click.echo(f"{quote.number} v{quote.version} → {output} ({len(pdf)} octets, SHA-256 {quote.pdf_sha256})")


@quotes_cli.command("expire")
def expire():
    """Passer en « expiré » les devis envoyés dont la validité est dépassée."""
    from offers.services.quotes import expire_quotes

    count = expire_quotes()
    db.session.commit()
    click.echo(f"{count} devis expiré(s).")


offers_cli = AppGroup("offers", help="Événements et acteurs.")


@offers_cli.command("send-briefings")
@click.option(
    "--days",
    type=click.IntRange(0, 60),
    default=None,
    help="Jours avant l'événement (BRIEFING_DAYS_BEFORE, 7 par défaut).",
)
def send_briefings(days):
    """Tâche quotidienne : envoyer à chaque acteur sa feuille de route avant l'événement (une fois).

    Envoie aussi les feuilles de route de l'acceptation du devis qui ne sont pas encore parties
    (rendu du PDF en échec, processus arrêté) pour les événements gagnés qui n'ont pas commencé.
    """
    from offers.services.briefing import send_due_briefings

    count = send_due_briefings(days=days)
    db.session.commit()
    click.echo(f"{count} feuille(s) de route envoyée(s).")


@offers_cli.command("rebuild-work")
def rebuild_work():
    """Recalculer le travail réalisé que lisent les indicateurs (sommes des devis acceptés par acteur
    et catégorie, premières collaborations) à partir des devis, et les montants par acteur et
    événement que lisent les suggestions à partir des lignes, et la date d'événement que chaque
    affectation recopie pour le portail, après une reprise de données écrite directement dans la
    base."""
    from offers.services import actor_nets, event_starts, work

    totals, pairs = work.rebuild()
    nets = actor_nets.rebuild()
    starts = event_starts.refresh(db.session.connection(), everything=True)
    db.session.commit()
    click.echo(
        f"{totals} somme(s) par devis, acteur et catégorie ; {pairs} paire(s) d'acteurs ayant déjà travaillé ensemble ; "
        f"{nets} montant(s) par acteur et événement ; {starts} date(s) d'événement recopiée(s) sur les affectations."
    )
