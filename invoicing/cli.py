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
