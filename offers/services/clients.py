"""Clients (buyers): create, edit, search. Identifiers are checked with python-stdnum.

Explicit arguments, ``flush()`` never commit, French :class:`app.errors.DomainError` messages.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from app.audit import N_, record
from app.auth.roles import is_client_of
from app.directory.validation import FieldError, check_email, check_siren, check_siret, check_vat_number
from app.errors import Conflict, Forbidden, InvalidValue
from app.extensions import db
from app.models import Client, Role, User
from offers.permissions import can_manage_clients

#: Fields whose before/after the audit log keeps on edits.
AUDITED_FIELDS = (
    "name",
    "siret",
    "siren",
    "vat_number",
    "address",
    "postal_code",
    "commune",
    "is_public_body",
    "chorus_service_code",
    "engagement_number",
    "contact_name",
    "contact_email",
    "contact_phone",
    "notes",
)


class DuplicateClient(Conflict):
    """Another client already has this SIRET; ``existing`` is that client, shown beside ``siret``."""

    def __init__(self, message: str, existing: Client):
        super().__init__(message)
        self.existing = existing
        self.field = "siret"


@dataclass
class ClientFields:
    """The values of a client form, already stripped (empty optional values are ``None``)."""

    name: str
    siret: str | None = None
    siren: str | None = None
    vat_number: str | None = None
    address: str = ""
    postal_code: str = ""
    commune: str = ""
    is_public_body: bool = False
    chorus_service_code: str | None = None
    engagement_number: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    notes: str = ""


def _require_editor(user) -> None:
    if not can_manage_clients(user):
        raise Forbidden(_("Seule la coordination peut modifier les clients."))


def normalise_identifiers(fields: ClientFields) -> ClientFields:
    """Check SIRET, SIREN and VAT number together; the SIREN is derived from the SIRET when given.

    Raises :class:`InvalidValue` naming the field.
    """
    siret = siren = vat = None
    try:
        if fields.siret:
            siret = check_siret(fields.siret)
    except FieldError as exc:
        raise InvalidValue(exc.message, "siret") from exc
    try:
        if fields.siren:
            siren = check_siren(fields.siren)
    except FieldError as exc:
        raise InvalidValue(exc.message, "siren") from exc
    if siret:
        if siren and siren != siret[:9]:
            raise InvalidValue(
                _(
                    "Le SIREN %(siren)s ne correspond pas au SIRET (attendu : %(expected)s).",
                    siren=siren,
                    expected=siret[:9],
                ),
                "siren",
            )
        siren = siret[:9]
    if not siren:
        raise InvalidValue(_("Indiquez le SIRET du client, ou au moins son SIREN."), "siret")
    if fields.is_public_body and not siret:
        raise InvalidValue(_("Un acheteur public est identifié par son SIRET dans Chorus Pro."), "siret")
    try:
        if fields.vat_number:
            vat = check_vat_number(fields.vat_number, siren)
    except FieldError as exc:
        raise InvalidValue(exc.message, "vat_number") from exc
    fields.siret, fields.siren, fields.vat_number = siret, siren, vat
    return fields


def find_by_siret(siret: str | None, exclude_id: int | None = None) -> Client | None:
    if not siret:
        return None
    query = sa.select(Client).where(Client.siret == siret)
    if exclude_id is not None:
        query = query.where(Client.id != exclude_id)
    return db.session.scalar(query)


def _refuse_duplicate(siret: str | None, exclude_id: int | None = None) -> None:
    existing = find_by_siret(siret, exclude_id)
    if existing is not None:
        raise DuplicateClient(
            _("Ce SIRET est déjà celui du client « %(name)s ».", name=existing.name), existing
        )


def _values(fields: ClientFields) -> dict:
    return {name: getattr(fields, name) for name in AUDITED_FIELDS}


def create_client(fields: ClientFields, user) -> Client:
    """Create a client. Raises :class:`Forbidden`, :class:`InvalidValue` and :class:`DuplicateClient`."""
    _require_editor(user)
    fields = normalise_identifiers(fields)
    _refuse_duplicate(fields.siret)
    client = Client(**_values(fields))
    db.session.add(client)
    db.session.flush()
    record("client.created", client, user=user, summary=N_("Client « %(name)s » créé", name=client.name))
    return client


def update_client(client: Client, fields: ClientFields, user) -> dict:
    """Apply an edit form (the caller checked the version); returns what changed.

    Raises :class:`Forbidden`, :class:`InvalidValue` and :class:`DuplicateClient`.
    """
    _require_editor(user)
    fields = normalise_identifiers(fields)
    _refuse_duplicate(fields.siret, exclude_id=client.id)
    values = _values(fields)
    changes = {
        name: (getattr(client, name), values[name])
        for name in AUDITED_FIELDS
        if getattr(client, name) != values[name]
    }
    if not changes:
        return {}
    for name, (_before, after) in changes.items():
        setattr(client, name, after)
    db.session.flush()
    record(
        "client.updated",
        client,
        user=user,
        summary=N_("Client « %(name)s » modifié", name=client.name),
        changes=changes,
    )
    return changes


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_clients(query: str | None = None) -> sa.Select:
    """Clients whose name, SIRET/SIREN or commune contains ``query``, by name."""
    statement = sa.select(Client).order_by(Client.name, Client.id)
    text = (query or "").strip()
    if text:
        digits = text.replace(" ", "")
        pattern = f"%{_escape_like(text)}%"
        conditions = [
            Client.name.ilike(pattern, escape="\\"),
            Client.commune.ilike(pattern, escape="\\"),
        ]
        if digits.isdigit():
            conditions += [Client.siret.like(f"%{digits}%"), Client.siren.like(f"%{digits}%")]
        statement = statement.where(sa.or_(*conditions))
    return statement


# --- the client's accounts ------------------------------------------------------------------------


def client_accounts(client: Client) -> list[User]:
    """The accounts bound to ``client`` (its contacts who see its quotes), by e-mail."""
    return list(db.session.scalars(sa.select(User).where(User.client_id == client.id).order_by(User.email)))


def invite_client_contact(
    client: Client, *, email: str, name: str, user, next_path: str
) -> tuple[User, bool]:
    """Give a contact of ``client`` an account bound to it (no password) and e-mail it a login link
    that lands on ``next_path`` (its quotes). A contact who already has this client's account gets a
    new link. Returns the account and whether it was created.

    Raises :class:`Forbidden` (not coordination) and :class:`InvalidValue` (``email``: invalid, or
    the address of another account).
    """
    from app.auth.services import create_user
    from app.auth.views import send_login_link

    _require_editor(user)
    try:
        email = check_email(email).lower()
    except FieldError as exc:
        raise InvalidValue(exc.message, "email") from exc
    account = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email))
    created = account is None
    if account is not None and not (is_client_of(account, client.id) and account.active):
        raise InvalidValue(
            _(
                "%(email)s est déjà l'adresse d'un autre compte : choisissez celle du contact chez le client.",
                email=email,
            ),
            "email",
        )
    if account is None:
        account = create_user(
            email=email, role=Role.CLIENT, name=(name or "").strip()[:120], client=client, by=user
        )
        record(
            "client.account_created",
            client,
            user=user,
            summary=N_("Compte client créé pour %(email)s", email=email),
        )
    send_login_link(
        account,
        next_path=next_path,
        subject=_("Vos devis de %(client)s sur Maillage", client=client.name),
        intro=_(
            "Un accès vous est ouvert pour consulter et accepter en ligne les devis adressés à %(client)s.",
            client=client.name,
        ),
    )
    return account, created
