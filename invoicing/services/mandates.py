"""Billing mandates: an actor allows Maillage to issue invoices in its name (docs/joint-consortium.md).

- Granted by the actor in its portal (its click, with who, when and IP), or recorded by the
  coordination with the signed mandate uploaded (a PDF: ``%PDF-`` magic bytes, at most
  :data:`MAX_DOCUMENT_BYTES`), stored in the database like every other document.
- A mandate has a validity period (from, until or open-ended) and may be revoked, by the actor or by
  the coordination, with a reason; it is never deleted. At most one mandate per actor is live (not
  revoked): a new one is granted once the previous one is revoked.
- Each mandate names the prefix of the actor's own invoice series; a prefix is never one of the
  coordinator's, nor another actor's live one, so series can never be mixed.
- :func:`require_mandate` is the one check before anything is issued in an actor's name.

Explicit arguments, ``flush()`` never commit, French :class:`app.errors.DomainError` messages, every
change audited.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from app.audit import N_, record
from app.db import utcnow
from app.errors import DomainError, Forbidden, InvalidValue
from app.extensions import db
from app.formatting import date_short
from app.models import CoordinatorIdentity, Organisation, User
from invoicing.models import BillingMandate, MandateSource
from invoicing.permissions import can_manage_mandates, can_manage_own_mandate

#: The signed mandate's size cap (a scanned page or two).
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
PDF_MAGIC = b"%PDF-"
PREFIX_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
MAX_REASON = 300


class MandateMissing(DomainError):
    """Nothing may be issued in the actor's name (409): no valid mandate on that date."""

    status_code = 409


def _size(count: int) -> str:
    return f"{count // 1024 // 1024} Mo" if count >= 1024 * 1024 else f"{count // 1024} Ko"


# --- checks --------------------------------------------------------------------------------------


def check_document(data: bytes | None, field: str = "document") -> bytes:
    """A signed mandate (``field`` "document") or a member's own invoice (``field`` "pdf"): a PDF
    (``%PDF-`` magic bytes) of at most :data:`MAX_DOCUMENT_BYTES`."""
    mandate = field == "document"
    if not data:
        raise InvalidValue(
            _("Joignez le mandat signé (PDF).") if mandate else _("Joignez la facture du membre (PDF)."),
            field,
        )
    if len(data) > MAX_DOCUMENT_BYTES:
        size = _size(MAX_DOCUMENT_BYTES)
        raise InvalidValue(
            _("Le mandat signé dépasse %(max)s : réduisez le fichier.", max=size)
            if mandate
            else _("La facture dépasse %(max)s : réduisez le fichier.", max=size),
            field,
        )
    if not data.startswith(PDF_MAGIC):
        raise InvalidValue(
            _("Le mandat signé doit être un fichier PDF.")
            if mandate
            else _("La facture doit être un fichier PDF."),
            field,
        )
    return data


def check_prefix(prefix: str | None, organisation: Organisation) -> str:
    """An actor's series prefix: 2 to 10 capital letters or digits, starting with a letter; never one
    of the coordinator's prefixes nor another actor's live one (series are never mixed)."""
    prefix = (prefix or "").strip().upper()
    if not PREFIX_PATTERN.match(prefix):
        raise InvalidValue(
            _(
                "Le préfixe compte 2 à 10 lettres majuscules ou chiffres et commence par une lettre (ex. MELI)."
            ),
            "prefix",
        )
    identity = db.session.get(CoordinatorIdentity, CoordinatorIdentity.ONLY_ROW)
    if identity is not None and prefix in {
        identity.invoice_prefix,
        identity.credit_note_prefix,
        identity.quote_prefix,
    }:
        raise InvalidValue(
            _(
                "Le préfixe %(prefix)s est celui d'une série de la coordination : choisissez-en un autre.",
                prefix=prefix,
            ),
            "prefix",
        )
    other = db.session.scalar(
        sa.select(Organisation.name)
        .join(BillingMandate, BillingMandate.organisation_id == Organisation.id)
        .where(
            BillingMandate.prefix == prefix,
            BillingMandate.revoked_at.is_(None),
            BillingMandate.organisation_id != organisation.id,
        )
        .limit(1)
    )
    if other is not None:
        raise InvalidValue(
            _("Le préfixe %(prefix)s est déjà celui de la série de %(name)s.", prefix=prefix, name=other),
            "prefix",
        )
    return prefix


def _check_period(valid_from: date | None, valid_until: date | None) -> None:
    if valid_from is None:
        raise InvalidValue(_("Indiquez la date de début du mandat."), "valid_from")
    if valid_until is not None and valid_until < valid_from:
        raise InvalidValue(_("La fin du mandat précède son début."), "valid_until")


def _refuse_second(organisation: Organisation) -> None:
    current = live_mandate(organisation.id)
    if current is not None:
        raise DomainError(
            _(
                "%(name)s a déjà un mandat de facturation en cours (depuis le %(date)s) : "
                "révoquez-le avant d'en enregistrer un autre.",
                name=organisation.name,
                date=date_short(current.valid_from),
            )
        )


# --- reading -------------------------------------------------------------------------------------


def live_mandate(organisation_id: int) -> BillingMandate | None:
    """The actor's mandate that is not revoked (whatever its dates), or None."""
    return db.session.scalar(
        sa.select(BillingMandate).where(
            BillingMandate.organisation_id == organisation_id, BillingMandate.revoked_at.is_(None)
        )
    )


def mandates_of(organisation_id: int) -> list[BillingMandate]:
    """Every mandate of the actor, newest first (revoked ones included)."""
    return list(
        db.session.scalars(
            sa.select(BillingMandate)
            .where(BillingMandate.organisation_id == organisation_id)
            .order_by(BillingMandate.granted_at.desc(), BillingMandate.id.desc())
        )
    )


def valid_mandates(organisation_ids, day: date) -> dict[int, BillingMandate]:
    """The mandates valid on ``day``, by organisation id (one query)."""
    ids = list(organisation_ids)
    if not ids:
        return {}
    rows = db.session.scalars(
        sa.select(BillingMandate).where(
            BillingMandate.organisation_id.in_(ids), BillingMandate.revoked_at.is_(None)
        )
    )
    return {m.organisation_id: m for m in rows if m.valid_on(day)}


def require_mandate(organisation: Organisation, day: date) -> BillingMandate:
    """The mandate under which an invoice dated ``day`` may be issued in ``organisation``'s name, or
    :class:`MandateMissing` saying why not (none, revoked, not started, expired)."""
    mandate = live_mandate(organisation.id)
    if mandate is not None and mandate.valid_on(day):
        return mandate
    if mandate is None:
        revoked = db.session.scalar(
            sa.select(BillingMandate)
            .where(BillingMandate.organisation_id == organisation.id, BillingMandate.revoked_at.is_not(None))
            .order_by(BillingMandate.revoked_at.desc())
            .limit(1)
        )
        if revoked is not None:
            why = _(
                "son mandat de facturation a été révoqué le %(date)s",
                date=date_short(revoked.revoked_at.date()),
            )
        else:
            why = _("il n'a pas donné de mandat de facturation")
    elif day < mandate.valid_from:
        why = _("son mandat ne court qu'à partir du %(date)s", date=date_short(mandate.valid_from))
    else:
        why = _("son mandat a pris fin le %(date)s", date=date_short(mandate.valid_until))
    raise MandateMissing(
        _(
            "Rien ne peut être émis au nom de %(name)s : %(why)s. Demandez-lui de facturer lui-même "
            "sa part, puis enregistrez sa facture.",
            name=organisation.name,
            why=why,
        )
    )


# --- changes -------------------------------------------------------------------------------------


def _summary(mandate: BillingMandate):
    until = date_short(mandate.valid_until) if mandate.valid_until else "—"
    return {"prefix": mandate.prefix, "from": date_short(mandate.valid_from), "until": until}


def grant_in_portal(
    organisation: Organisation,
    user: User,
    *,
    prefix: str,
    valid_from: date | None,
    valid_until: date | None = None,
    agreed: bool,
    ip: str | None = None,
) -> BillingMandate:
    """The actor grants the mandate itself. Raises :class:`Forbidden` (not one of its people),
    :class:`InvalidValue` (prefix, dates, not agreed) and :class:`DomainError` (a live mandate)."""
    if not can_manage_own_mandate(user, organisation.id):
        raise Forbidden(_("Seules les personnes de la structure lui donnent un mandat de facturation."))
    if not agreed:
        raise InvalidValue(_("Cochez la case pour donner le mandat."), "agreed")
    prefix = check_prefix(prefix, organisation)
    _check_period(valid_from, valid_until)
    _refuse_second(organisation)
    mandate = BillingMandate(
        organisation_id=organisation.id,
        source=MandateSource.PORTAL,
        prefix=prefix,
        valid_from=valid_from,
        valid_until=valid_until,
        granted_by_id=user.id,
        granted_at=utcnow(),
        granted_ip=ip,
    )
    db.session.add(mandate)
    db.session.flush()
    record(
        "mandate.granted",
        organisation,
        user=user,
        ip=ip,
        summary=N_(
            "Mandat de facturation donné dans le portail : série %(prefix)s, du %(from)s au %(until)s",
            **_summary(mandate),
        ),
    )
    return mandate


def record_signed(
    organisation: Organisation,
    user: User,
    *,
    prefix: str,
    valid_from: date | None,
    valid_until: date | None = None,
    document: bytes | None,
    document_name: str = "",
) -> BillingMandate:
    """The coordination records a mandate signed on paper, with its PDF. Raises :class:`Forbidden`,
    :class:`InvalidValue` (prefix, dates, document) and :class:`DomainError` (a live mandate)."""
    if not can_manage_mandates(user):
        raise Forbidden(_("Seule la coordination enregistre un mandat signé."))
    document = check_document(document)
    prefix = check_prefix(prefix, organisation)
    _check_period(valid_from, valid_until)
    _refuse_second(organisation)
    name = (document_name or "mandat.pdf").strip()[-200:]
    mandate = BillingMandate(
        organisation_id=organisation.id,
        source=MandateSource.UPLOAD,
        prefix=prefix,
        valid_from=valid_from,
        valid_until=valid_until,
        document=document,
        document_name=name,
        document_sha256=hashlib.sha256(document).hexdigest(),
        granted_by_id=user.id,
        granted_at=utcnow(),
    )
    db.session.add(mandate)
    db.session.flush()
    record(
        "mandate.granted",
        organisation,
        user=user,
        summary=N_(
            "Mandat de facturation signé enregistré : série %(prefix)s, du %(from)s au %(until)s",
            **_summary(mandate),
        ),
    )
    return mandate


def revoke(mandate: BillingMandate, user: User, *, reason: str, ip: str | None = None) -> BillingMandate:
    """Revoke a live mandate (the actor or the coordination). Invoices issued under it stay; nothing
    more is issued in the actor's name. Raises :class:`Forbidden`, :class:`InvalidValue` (reason) and
    :class:`DomainError` (already revoked)."""
    if not (can_manage_mandates(user) or can_manage_own_mandate(user, mandate.organisation_id)):
        raise Forbidden(_("Seules la structure et la coordination révoquent ce mandat."))
    if mandate.is_revoked:
        raise DomainError(_("Ce mandat est déjà révoqué."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidValue(_("Indiquez le motif de la révocation."), "reason")
    if len(reason) > MAX_REASON:
        raise InvalidValue(_("Le motif a au plus 300 caractères."), "reason")
    mandate.revoked_at = utcnow()
    mandate.revoked_by_id = user.id
    mandate.revocation_reason = reason
    db.session.flush()
    record(
        "mandate.revoked",
        mandate.organisation,
        user=user,
        ip=ip,
        summary=N_(
            "Mandat de facturation (série %(prefix)s) révoqué : %(reason)s",
            prefix=mandate.prefix,
            reason=reason,
        ),
    )
    return mandate
