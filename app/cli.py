"""Command-line interface: ``flask users …``, ``flask outbox …``, ``flask demo …``, ``flask backup``,
``flask restore``."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app.errors import DomainError
from app.extensions import db

users_cli = AppGroup("users", help="Gérer les comptes utilisateurs.")


def _find_organisation(ref: str):
    from app.models import Organisation

    stmt = sa.select(Organisation).where(
        sa.or_(Organisation.siret == ref, Organisation.name == ref, Organisation.slug == ref)
    )
    if ref.isdigit() and len(ref) < 14:
        stmt = sa.select(Organisation).where(Organisation.id == int(ref))
    return db.session.scalar(stmt)


def _find_client(ref: str):
    from app.models import Client

    if ref.isdigit() and len(ref) < 9:
        return db.session.get(Client, int(ref))
    return db.session.scalar(
        sa.select(Client).where(sa.or_(Client.siret == ref, Client.siren == ref, Client.name == ref))
    )


@users_cli.command("create")
@click.option("--email", required=True, help="Adresse e-mail (identifiant de connexion).")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "coordinator", "treasurer", "actor", "client"]),
    help="Rôle du compte.",
)
@click.option("--name", default="", help="Nom affiché.")
@click.option("--organisation", "organisation_ref", help="Organisation (id, SIRET, nom) pour un acteur.")
@click.option("--client", "client_ref", help="Client (id, SIRET/SIREN, nom) pour un compte client.")
@click.option("--password", help="Mot de passe (demandé s'il est omis ; facultatif pour acteurs et clients).")
def create_user_command(email, role, name, organisation_ref, client_ref, password):
    """Créer un compte utilisateur."""
    from app.auth.services import create_user

    organisation = client = None
    if organisation_ref:
        organisation = _find_organisation(organisation_ref)
        if organisation is None:
            raise click.ClickException(f"Organisation introuvable : {organisation_ref}")
    if client_ref:
        client = _find_client(client_ref)
        if client is None:
            raise click.ClickException(f"Client introuvable : {client_ref}")
    if password is None and role in ("admin", "coordinator", "treasurer"):
        password = click.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    elif password is None:
        password = (
            click.prompt(
                "Mot de passe (laisser vide pour une connexion par lien e-mail seulement)",
                hide_input=True,
                default="",
                show_default=False,
                confirmation_prompt=True,
            )
            or None
        )
    try:
        user = create_user(
            email=email, role=role, name=name, password=password, organisation=organisation, client=client
        )
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(f"Compte créé : {user.email} ({user.role.value})")


@users_cli.command("list")
def list_users_command():
    """Lister les comptes."""
    from app.models import User

    for user in db.session.scalars(sa.select(User).order_by(User.role, User.email)):
        state = "actif" if user.active else "désactivé"
        click.echo(f"{user.email}\t{user.role.value}\t{state}")


@users_cli.command("deactivate")
@click.argument("email")
def deactivate_user_command(email):
    """Désactiver un compte (ses sessions prennent fin)."""
    from app.auth.services import deactivate, normalise_email
    from app.models import User

    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise click.ClickException(f"Compte introuvable : {email}")
    deactivate(user)
    db.session.commit()
    click.echo(f"Compte désactivé : {user.email}")


def register_commands(app) -> None:
    app.cli.add_command(users_cli)
    from app.mail import outbox_cli

    app.cli.add_command(outbox_cli)
    from app.demo import demo_cli

    app.cli.add_command(demo_cli)
    from app.backup import backup_command, restore_command

    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
