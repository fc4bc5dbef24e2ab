"""Chorus Pro readiness: the circuit per event, the "fiche d'identité du marché" (PDF and CSV), the
client's Factur-X or plain PDF/A switch, and the export named after the invoice numbers."""

from __future__ import annotations

import io
import zipfile

import pytest

from app.errors import Forbidden, InvalidValue
from invoicing import facturx as fx
from invoicing.models import ChorusCircuit, EInvoiceFormat
from invoicing.services import chorus, joint
from invoicing.services.invoices import invoice_pdf
from tests.invoicing.test_joint import DAY, login, pdf_text, setup  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("app")


def test_circuit_and_identity_sheet(setup, make_user):  # noqa: F811
    quote, event = setup["quote"], setup["event"]
    assert chorus.event_choices(event.id).chorus_circuit == ChorusCircuit.EACH_MEMBER
    with pytest.raises(Forbidden):
        chorus.set_circuit(event, make_user("actor"), "global")
    with pytest.raises(InvalidValue) as bad:
        chorus.set_circuit(event, setup["coordinator"], "fax")
    assert bad.value.message == "Choisissez un circuit de la liste."
    sheet = chorus.identity_sheet(quote, DAY)
    assert [(r.role, r.name, r.deposits) for r in sheet.rows] == [
        ("Cotraitant", "Méli-Mélo", "Dépose sa facture (émise par Maillage sous mandat, série MELI)"),
        ("Cotraitant", "L'Équipage", "Dépose sa facture (émise par Maillage sous mandat, série EQUI)"),
        ("Cotraitant", "Yves Monteil", "Dépose sa facture (émise par lui-même)"),
        (
            "Mandataire",
            "Les Ecossolies",
            "Dépose sa facture (frais de coordination) et valide les factures des cotraitants",
        ),
    ]
    assert [r.siret for r in sheet.rows] == [
        setup["cook"].siret,
        setup["shop"].siret,
        setup["photographer"].siret,
        "40483304800022",
    ]
    assert (sheet.client["siret"], sheet.client["chorus_service_code"], sheet.engagement) == (
        "21440109300015",
        "EVT-44",
        "BC-42",
    )
    chorus.set_circuit(event, setup["coordinator"], "global")
    sheet = chorus.identity_sheet(quote, DAY)
    assert sheet.rows[0].deposits == "Sa part figure dans la demande de paiement du mandataire"
    assert sheet.rows[-1].deposits == "Dépose la demande de paiement globale du groupement"
    csv = chorus.identity_sheet_csv(sheet).decode("utf-8-sig").splitlines()
    assert csv[0] == (
        "Rôle;Membre;SIRET;Régime de TVA;Dépôt dans Chorus Pro;Montant HT;Montant TTC;Facture;"
        "SIRET du client;Code service;Numéro d'engagement;Circuit"
    )
    assert csv[1].startswith(f"Cotraitant;Méli-Mélo;{setup['cook'].siret};exempt;")
    assert csv[1].endswith(
        ";21440109300015;EVT-44;BC-42;Le mandataire dépose une demande de paiement globale, avec la part de "
        "chaque membre"
    )


def test_plain_pdfa_client_and_the_export_zip(setup):  # noqa: F811
    quote, event, treasurer = setup["quote"], setup["event"], setup["treasurer"]
    chorus.set_client_format(event.client, setup["coordinator"], "pdfa")
    assert chorus.client_format(event.client_id) == EInvoiceFormat.PDFA
    issued = joint.issue_joint(quote, treasurer, today=DAY).issued
    client_invoices = [i for i in issued if i.buyer.get("einvoice_format") == "pdfa"]
    assert [i.number for i in client_invoices] == ["MELI-2026-0001", "EQUI-2026-0001", "FAC-2026-0001"]
    for invoice in client_invoices:
        assert fx.validate(invoice.xml) == []  # still produced and valid
        with pytest.raises(Exception):  # noqa: B017  (no XML inside the plain PDF/A)
            fx.extract_xml(invoice_pdf(invoice))
    # The commission invoices go to the members, in Factur-X.
    assert fx.extract_xml(invoice_pdf(issued[3])) == issued[3].xml
    archive = zipfile.ZipFile(io.BytesIO(chorus.export_zip(quote, DAY)))
    names = sorted(archive.namelist())
    assert names == sorted(
        [f"{i.number}.{ext}" for i in issued for ext in ("pdf", "xml")] + ["fiche-identite-marche.csv"]
    )
    assert archive.read("MELI-2026-0001.xml") == issued[0].xml


def test_pages(client, setup):  # noqa: F811
    event = setup["event"]
    login(client, setup["treasurer"])
    page = client.get(f"/evenements/{event.id}/facturation").get_data(as_text=True)
    assert "Chorus Pro et format des factures" in page
    sheet = client.get(f"/evenements/{event.id}/facturation/fiche-marche.pdf")
    assert sheet.status_code == 200
    text = pdf_text(sheet.data)
    assert "Fiche d'identité du marché" in text and "EVT-44" in text and "BC-42" in text
    csv = client.get(f"/evenements/{event.id}/facturation/fiche-marche.csv")
    assert (csv.status_code, csv.headers["Content-Type"]) == (200, "text/csv; charset=utf-8")
    assert client.get(f"/evenements/{event.id}/facturation/fiche-marche.xls").status_code == 404
    zipped = client.get(f"/evenements/{event.id}/facturation/export.zip")
    assert (zipped.status_code, zipped.headers["Content-Type"]) == (200, "application/zip")


def _entries(action: str) -> int:
    import sqlalchemy as sa

    from app.extensions import db
    from app.models.audit import AuditEntry

    return db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    )


def test_a_choice_is_stored_and_audited_only_when_it_changes(setup):  # noqa: F811
    event, coordinator = setup["event"], setup["coordinator"]
    client = event.client
    before_circuit, before_format = _entries("event.chorus_circuit"), _entries("client.einvoice_format")
    chorus.set_circuit(event, coordinator, "global")
    chorus.set_circuit(event, coordinator, "global")
    chorus.set_client_format(client, coordinator, "pdfa")
    chorus.set_client_format(client, coordinator, "pdfa")
    assert chorus.event_choices(event.id).chorus_circuit == ChorusCircuit.GLOBAL
    assert chorus.client_format(client.id) == EInvoiceFormat.PDFA
    assert _entries("event.chorus_circuit") == before_circuit + 1
    assert _entries("client.einvoice_format") == before_format + 1
    with pytest.raises(InvalidValue) as bad:
        chorus.set_client_format(client, coordinator, "fax")
    assert (bad.value.message, bad.value.field) == ("Choisissez un format de la liste.", "einvoice_format")
    assert chorus.client_format(client.id) == EInvoiceFormat.PDFA


def test_the_invoice_forms_offer_the_legal_operation_categories(app):
    from invoicing import forms
    from invoicing.mentions import OPERATION_CATEGORIES

    with app.test_request_context():
        for form in (
            forms.FinalInvoiceForm(meta={"csrf": False}),
            forms.JointInvoicesForm(meta={"csrf": False}),
        ):
            assert [value for value, *_rest in form.operation_category.iter_choices()] == list(
                OPERATION_CATEGORIES
            )
            assert form.operation_category.data == "services"
