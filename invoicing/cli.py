"""``flask invoicing …``: invoices from the command line."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

invoicing_cli = AppGroup("invoicing", help="Factures et avoirs.")


@invoicing_cli.command("validate")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate_command(path: Path):
    """Vérifier une facture Factur-X (PDF ou XML) : XSD, schématrons EN 16931 et CTC française.

    Affiche une erreur par ligne et sort avec le code 1 s'il y en a ; tout est vérifié hors ligne.
    """
    from invoicing.facturx import extract_xml, validate

    data = path.read_bytes()
    if data.startswith(b"%PDF"):
        try:
            data = extract_xml(data)
        except Exception as exc:
            raise click.ClickException(f"Aucun XML Factur-X lisible dans ce PDF : {exc}") from exc
    errors = validate(data)
    for error in errors:
        click.echo(error)
    if errors:
        click.echo(f"{path.name} : {len(errors)} erreur(s).", err=True)
        raise SystemExit(1)
    click.echo(f"{path.name} : conforme (XSD, EN 16931, CTC FR).")


@invoicing_cli.command("archive")
@click.option("--year", "year", required=True, metavar="AAAA", help="Année d'émission (par exemple 2011).")
@click.option(
    "-o",
    "--output",
    "directory",
    required=True,
    type=click.Path(path_type=Path),
    help="Dossier de l'archive (vide, ou créé).",
)
@click.option("--force", is_flag=True, help="Remplacer l'archive d'un dossier qui n'est pas vide.")
def archive_command(year: str, directory: Path, force: bool):
    """Archiver les factures et avoirs émis dans l'année : PDF, XML, index CSV et manifeste SHA-256.

    Vérifie ensuite ce qui a été écrit (manifeste, XSD, schématrons EN 16931 et CTC française, XML
    intégré à chaque PDF) ; sort avec le code 1 et la liste des problèmes s'il y en a.
    """
    from app.extensions import db
    from invoicing.archive import ArchiveRefused, parse_year, write_archive

    try:
        report = write_archive(parse_year(year), directory, force=force)
    except ArchiveRefused as exc:
        raise click.ClickException(exc.message) from exc
    db.session.commit()  # a PDF rendered now (not stored after its issue) is stored as archived
    for number, kind in report.documents:
        click.echo(f"{number}\t{kind}")
    click.echo(
        f"{len(report.documents)} document(s) de {report.year} archivé(s) dans {directory} "
        f"({len(report.files)} fichiers)."
    )
    _report_problems(report.problems, directory)


@invoicing_cli.command("archive-check")
@click.argument("directory", type=click.Path(path_type=Path))
def archive_check_command(directory: Path):
    """Revérifier une archive : manifeste SHA-256, chaque XML (XSD, EN 16931, CTC française) et le XML
    intégré à chaque PDF. Sort avec le code 1 et la liste des problèmes s'il y en a."""
    from invoicing.archive import ArchiveRefused, check_archive

    try:
        problems = check_archive(directory)
    except ArchiveRefused as exc:
        raise click.ClickException(exc.message) from exc
    _report_problems(problems, directory)


def _report_problems(problems: list[str], directory: Path) -> None:
    if problems:
        for problem in problems:
            click.echo(problem)
        click.echo(f"{directory} : {len(problems)} problème(s).", err=True)
        raise SystemExit(1)
    click.echo(f"{directory} : archive intacte, documents conformes (manifeste, XSD, EN 16931, CTC FR).")


# --- the treasurer's exports ---------------------------------------------------------------------


def _period_options(command):
    """``--from``, ``--to`` (AAAA-MM-JJ), optional ``--event`` and ``--client`` (ids)."""
    for option in reversed(
        [
            click.option(
                "--from", "date_from", required=True, metavar="AAAA-MM-JJ", help="Début de la période."
            ),
            click.option(
                "--to", "date_to", required=True, metavar="AAAA-MM-JJ", help="Fin de la période (incluse)."
            ),
            click.option("--event", "event", type=int, default=None, help="Un seul événement (son numéro)."),
            click.option("--client", "client", type=int, default=None, help="Un seul client (son numéro)."),
        ]
    ):
        command = option(command)
    return command


def _parse_day(value: str, option: str):
    from datetime import date

    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise click.BadParameter(
            f"date attendue au format AAAA-MM-JJ, pas « {value} ».", param_hint=option
        ) from exc


def _period(date_from: str, date_to: str, event, client):
    from app.errors import InvalidValue
    from invoicing.treasury import make_period

    try:
        return make_period(_parse_day(date_from, "--from"), _parse_day(date_to, "--to"), event, client)
    except InvalidValue as exc:
        raise click.ClickException(exc.message) from exc


@invoicing_cli.command("export-xlsx")
@_period_options
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_xlsx_command(date_from: str, date_to: str, event, client, output: Path):
    """Écrire le classeur du trésorier (.xlsx) d'une période : synthèse, acteurs, factures, paiements,
    reversements, lignes."""
    from flask_babel import force_locale

    from invoicing.workbook import TreasurerWorkbook

    period = _period(date_from, date_to, event, client)
    with force_locale("fr"):
        data = TreasurerWorkbook(period).xlsx()
    output.write_bytes(data)
    click.echo(f"{output} : classeur du {period.label()} ({len(data)} octets).")


@invoicing_cli.command("export-fec")
@_period_options
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(path_type=Path),
    default=None,
    help="Fichier (ou dossier) ; par défaut <SIREN>FEC<AAAAMMJJ>.txt dans le dossier courant.",
)
def export_fec_command(date_from: str, date_to: str, event, client, output: Path | None):
    """Écrire le journal comptable d'une période au format FEC : ventes, encaissements, reversements."""
    from invoicing.journal import Journal

    journal = Journal(_period(date_from, date_to, event, client))
    entries = journal.entries()
    data = journal.fec()
    if output is None:
        output = Path(journal.filename())
    elif output.is_dir():
        output = output / journal.filename()
    output.write_bytes(data)
    debit = sum((e.debit for e in entries), start=0)
    click.echo(f"{output} : {len(entries)} écriture(s) équilibrée(s), {debit} € au débit et au crédit.")
