"""Frozen copies of the parties of a document, as plain JSON-able values.

An issued quote or invoice keeps who its parties were on the day it was issued (name, SIRET, VAT
number, address…), never a link to the live card: a later edit of a card or of the settings must not
change a document already sent. Quotes use these today; invoices and payout statements will too.
"""

from __future__ import annotations

import base64

from flask_babel import gettext as _

from app.errors import DomainError
from app.extensions import db
from app.labels import label
from app.models import Client, CoordinatorIdentity, Organisation

#: The fields every party has.
PARTY_FIELDS = (
    "name",
    "siret",
    "vat_number",
    "address",
    "postal_code",
    "commune",
    "email",
    "phone",
    "website",
)

#: Logos embedded in documents (anything else is left out rather than fetched).
LOGO_TYPES = ("image/png", "image/jpeg", "image/webp", "image/svg+xml")


def require_coordinator_identity() -> CoordinatorIdentity:
    """The coordinator's identity (settings), or :class:`DomainError` when it is not set up yet."""
    identity = db.session.get(CoordinatorIdentity, CoordinatorIdentity.ONLY_ROW)
    if identity is None:
        raise DomainError(_("L'identité de la coordination n'est pas renseignée (paramètres)."))
    return identity


def logo_data_uri(identity: CoordinatorIdentity) -> str | None:
    """The logo as a ``data:`` URI (the PDF renderer reads no file and no network)."""
    if not identity.logo or identity.logo_mime not in LOGO_TYPES:
        return None
    return f"data:{identity.logo_mime};base64,{base64.b64encode(identity.logo).decode()}"


def party(obj, extra: tuple[str, ...] = ()) -> dict:
    """The common fields of any party, with its legal form's label, regime code and SIREN."""
    data = {name: getattr(obj, name, None) for name in PARTY_FIELDS + extra}
    if getattr(obj, "legal_form", None) is not None:
        data["legal_form"] = label(obj.legal_form)
    if getattr(obj, "vat_regime", None) is not None:
        data["vat_regime"] = obj.vat_regime.value
    siret = getattr(obj, "siret", None)
    data["siren"] = getattr(obj, "siren", None) or (siret[:9] if siret else None)
    return data


def coordinator(identity: CoordinatorIdentity, vat_mention: str | None) -> dict:
    """The issuing coordinator; ``vat_mention`` is its regime's legal mention (``None`` if subject)."""
    return {
        **party(identity, ("share_capital", "registration")),
        "legal_mentions": identity.legal_mentions,
        "payment_terms": identity.payment_terms,
        "payment_days": identity.payment_days,
        "logo": logo_data_uri(identity),
        "vat_mention": vat_mention,
    }


def client(client: Client) -> dict:
    """The buyer, with what a public buyer's e-invoice needs (Chorus Pro routing)."""
    return {
        **party(client),
        "siren": client.siren or (client.siret[:9] if client.siret else None),
        "is_public_body": client.is_public_body,
        "chorus_service_code": client.chorus_service_code,
        "engagement_number": client.engagement_number,
        "contact_name": client.contact_name,
        "contact_email": client.contact_email,
    }


def organisation(org: Organisation, vat_mention: str | None) -> dict:
    """An actor's short card; ``vat_mention`` is its regime's legal mention (``None`` if subject)."""
    return {
        **party(org),
        "qpv_name": org.qpv_name,
        "description": (org.description or "")[:400],
        "categories": [c.name for c in org.categories],
        "vat_mention": vat_mention,
    }
