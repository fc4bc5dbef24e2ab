"""Chorus Pro readiness for a groupement (docs/e-invoicing.md, docs/joint-consortium.md).

- **The circuit**, chosen per event: each member deposits its own invoice and the mandataire
  acknowledges it (``each_member``), or the mandataire deposits one global payment request with each
  member's share (``global``).
- **The "fiche d'identité du marché"**: who deposits what, each member's SIRET, the client's SIRET,
  service code and engagement number, the circuit; as rows (:func:`identity_sheet`) for the PDF and
  the CSV. Buyers ask a groupement for it before the first invoice.
- **The client's e-invoice format**: Factur-X (the PDF carries its XML) or a plain PDF/A-3b (the XML
  is still produced, kept and exported beside it).
- **The export** a treasurer uploads: every invoice of the event as ``<number>.pdf`` and
  ``<number>.xml``, with the fiche as CSV, in one zip.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _

from app.audit import N_, as_label, record
from app.errors import Forbidden, InvalidValue
from app.extensions import db
from app.models import Client, Organisation, User
from app.spreadsheets import Column, write_csv
from invoicing.models import ChorusCircuit, ClientInvoicing, EInvoiceFormat, EventInvoicing
from invoicing.permissions import can_set_invoicing_choices
from invoicing.services import joint
from invoicing.services.invoices import invoice_pdf
from offers.models import Event, Quote

CIRCUITS = {
    ChorusCircuit.EACH_MEMBER: "Chaque cotraitant dépose sa facture ; le mandataire la valide",
    ChorusCircuit.GLOBAL: "Le mandataire dépose une demande de paiement globale, avec la part de chaque membre",
}


# --- choices -------------------------------------------------------------------------------------


def event_choices(event_id: int) -> EventInvoicing:
    """The event's invoicing choices (the defaults, unsaved, when none were made)."""
    return db.session.get(EventInvoicing, event_id) or EventInvoicing(
        event_id=event_id, chorus_circuit=ChorusCircuit.EACH_MEMBER
    )


def _set_choice(row_model, key: int, attribute: str, enum, value: str, field: str, message: str):
    """Parse ``value`` as one of ``enum`` (else :class:`InvalidValue` on ``field`` with ``message``),
    store it on the ``row_model`` row of ``key`` (created when missing) and return the row and
    whether the value changed. Flushes."""
    try:
        value = enum(value)
    except ValueError as exc:
        raise InvalidValue(message, field) from exc
    row = db.session.get(row_model, key)
    if row is None:
        row = row_model(**{row_model.__mapper__.primary_key[0].key: key})
        db.session.add(row)
    before = getattr(row, attribute)
    setattr(row, attribute, value)
    db.session.flush()
    return row, before != value


def set_circuit(event: Event, user: User, circuit: str) -> EventInvoicing:
    if not can_set_invoicing_choices(user):
        raise Forbidden(_("Seules la coordination et la trésorerie choisissent le circuit Chorus Pro."))
    choices, changed = _set_choice(
        EventInvoicing,
        event.id,
        "chorus_circuit",
        ChorusCircuit,
        circuit,
        "chorus_circuit",
        _("Choisissez un circuit de la liste."),
    )
    if changed:
        record(
            "event.chorus_circuit",
            event,
            user=user,
            event_id=event.id,
            summary=N_("Circuit Chorus Pro : %(circuit)s", circuit=as_label(choices.chorus_circuit)),
        )
    return choices


def client_format(client_id: int) -> EInvoiceFormat:
    row = db.session.get(ClientInvoicing, client_id)
    return row.einvoice_format if row is not None else EInvoiceFormat.FACTURX


def set_client_format(client: Client, user: User, value: str) -> ClientInvoicing:
    if not can_set_invoicing_choices(user):
        raise Forbidden(_("Seules la coordination et la trésorerie choisissent le format des factures."))
    row, changed = _set_choice(
        ClientInvoicing,
        client.id,
        "einvoice_format",
        EInvoiceFormat,
        value,
        "einvoice_format",
        _("Choisissez un format de la liste."),
    )
    if changed:
        record(
            "client.einvoice_format",
            client,
            user=user,
            summary=N_("Format des factures : %(format)s", format=as_label(row.einvoice_format)),
        )
    return row


# --- the fiche d'identité du marché -----------------------------------------------------------------


@dataclass(frozen=True)
class SheetRow:
    role: str
    name: str
    siret: str
    vat_regime: str
    deposits: str
    net: Decimal
    gross: Decimal
    invoice: str


@dataclass(frozen=True)
class IdentitySheet:
    event: Event
    quote: Quote
    circuit: ChorusCircuit
    client: dict
    engagement: str
    rows: tuple[SheetRow, ...]

    @property
    def missing(self) -> list[str]:
        from invoicing.services.invoices import missing_public_references

        return missing_public_references(self.client, self.engagement)


def identity_sheet(quote: Quote, today: date) -> IdentitySheet:
    """Who deposits what in Chorus Pro for this event, from the accepted quote (joint mode)."""
    from app import snapshots

    event = quote.event
    circuit = event_choices(event.id).chorus_circuit
    client = snapshots.client(event.client)
    engagement = (
        client.get("engagement_number") or quote.client_purchase_order or event.purchase_order_number or ""
    )
    coordinator = quote.snapshot.get("coordinator", {})
    rows = []
    for share in joint.shares(quote, today):
        if share.organisation_id is None:
            role = "Mandataire"
            siret = coordinator.get("siret") or ""
            regime = coordinator.get("vat_regime") or ""
            deposits = (
                "Dépose la demande de paiement globale du groupement"
                if circuit == ChorusCircuit.GLOBAL
                else "Dépose sa facture (frais de coordination) et valide les factures des cotraitants"
            )
        else:
            organisation = db.session.get(Organisation, share.organisation_id)
            role = "Cotraitant"
            siret = organisation.siret or ""
            regime = organisation.vat_regime.value
            if circuit == ChorusCircuit.GLOBAL:
                deposits = "Sa part figure dans la demande de paiement du mandataire"
            elif share.mandate is not None:
                deposits = f"Dépose sa facture (émise par Maillage sous mandat, série {share.mandate.prefix})"
            else:
                deposits = "Dépose sa facture (émise par lui-même)"
        rows.append(
            SheetRow(
                role=role,
                name=share.name,
                siret=siret,
                vat_regime=regime,
                deposits=deposits,
                net=share.totals.net,
                gross=share.totals.gross,
                invoice=share.invoice.number if share.invoice is not None else "",
            )
        )
    return IdentitySheet(event, quote, circuit, client, engagement, tuple(rows))


SHEET_COLUMNS = [
    Column("Rôle"),
    Column("Membre"),
    Column("SIRET"),
    Column("Régime de TVA"),
    Column("Dépôt dans Chorus Pro"),
    Column("Montant HT"),
    Column("Montant TTC"),
    Column("Facture"),
    Column("SIRET du client"),
    Column("Code service"),
    Column("Numéro d'engagement"),
    Column("Circuit"),
]


def identity_sheet_csv(sheet: IdentitySheet) -> bytes:
    client = sheet.client
    return write_csv(
        SHEET_COLUMNS,
        (
            [
                row.role,
                row.name,
                row.siret,
                row.vat_regime,
                row.deposits,
                row.net,
                row.gross,
                row.invoice,
                client.get("siret") or "",
                client.get("chorus_service_code") or "",
                sheet.engagement,
                CIRCUITS[sheet.circuit],
            ]
            for row in sheet.rows
        ),
    )


# --- the export ----------------------------------------------------------------------------------


SAFE_NAME = re.compile(r"[^A-Za-z0-9+_/-]")


def export_zip(quote: Quote, today: date) -> bytes:
    """Every invoice and credit note of the event as ``<number>.pdf`` and ``<number>.xml`` (a member's
    own recorded invoice has its PDF only), and the fiche as ``fiche-identite-marche.csv``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for invoice in joint.event_invoices(quote.event_id):
            name = SAFE_NAME.sub("_", invoice.number).replace("/", "_")
            pdf = invoice_pdf(invoice)
            if pdf is not None:
                archive.writestr(f"{name}.pdf", pdf)
            if invoice.xml is not None:
                archive.writestr(f"{name}.xml", invoice.xml)
        if joint.is_joint(quote):
            archive.writestr("fiche-identite-marche.csv", identity_sheet_csv(identity_sheet(quote, today)))
    return buffer.getvalue()


def set_choices(event: Event, user: User, *, circuit: str, einvoice_format: str) -> None:
    """The event's Chorus Pro circuit and its client's e-invoice format, in one go (one form)."""
    set_circuit(event, user, circuit)
    set_client_format(event.client, user, einvoice_format)
