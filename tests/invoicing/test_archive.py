"""``flask invoicing archive`` and ``archive-check``, through the CLI runner: the demo's 2011 archive
(exact files, index rows and amounts), its manifest read by ``sha256sum -c``, a tampered PDF and a
tampered XML named by the check; and every refusal with its French message."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.pdf import sha256
from invoicing.archive import INDEX_NAME, MANIFEST_NAME
from invoicing.models import Invoice
from invoicing.services import invoices as service
from offers.services import quotes as quotes_service
from tests.offers.quote_fixtures import build_ready_event

DEMO_DOCUMENTS = ["FAC-2011-0001", "FAC-2011-0002", "AV-2011-0001", "FAC-2011-0003"]
# The demo's Assises quote (v2): 27 002,27 HT, 4 232,45 TVA, 31 234,72 TTC; a 30 % deposit.
DEMO_INDEX = [
    ["FAC-2011-0001", "Facture d'acompte", "31/03/2011", "Nantes Métropole", "8100,68", "1269,74", "9370,42"],
    ["FAC-2011-0002", "Facture", "18/04/2011", "Nantes Métropole", "27002,27", "4232,45", "31234,72"],
    ["AV-2011-0001", "Avoir", "19/04/2011", "Nantes Métropole", "27002,27", "4232,45", "31234,72"],
    ["FAC-2011-0003", "Facture", "19/04/2011", "Nantes Métropole", "27002,27", "4232,45", "31234,72"],
]
INDEX_HEADER = [
    "Numéro",
    "Type",
    "Date d'émission",
    "Client",
    "Montant HT",
    "TVA",
    "Montant TTC",
    "SHA-256 du PDF",
]


def archive(runner, *args):
    return runner.invoke(args=["invoicing", "archive", *args])


def check(runner, directory):
    return runner.invoke(args=["invoicing", "archive-check", str(directory)])


def problems(result) -> list[str]:
    """The problem lines of a failed check (stdout; the count goes to stderr)."""
    return [line for line in result.stdout.splitlines() if line]


@pytest.fixture
def demo(runner):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output


def test_the_demo_year_is_archived_and_checks(runner, demo, tmp_path):
    out = tmp_path / "archive-2011"
    result = archive(runner, "--year", "2011", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "FAC-2011-0001\tFacture d'acompte",
        "FAC-2011-0002\tFacture",
        "AV-2011-0001\tAvoir",
        "FAC-2011-0003\tFacture",
        f"4 document(s) de 2011 archivé(s) dans {out} (10 fichiers).",
        f"{out} : archive intacte, documents conformes (manifeste, XSD, EN 16931, CTC FR).",
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.{ext}" for n in DEMO_DOCUMENTS for ext in ("pdf", "xml")] + [INDEX_NAME, MANIFEST_NAME]
    )

    # The files are the stored documents, byte for byte.
    stored = {
        i.number: i
        for i in db.session.scalars(
            sa.select(Invoice).options(sa.orm.undefer(Invoice.pdf), sa.orm.undefer(Invoice.xml))
        )
    }
    for number in DEMO_DOCUMENTS:
        assert (out / f"{number}.pdf").read_bytes() == stored[number].pdf
        assert (out / f"{number}.xml").read_bytes() == stored[number].xml

    # The index: UTF-8 with BOM, ";", CR LF, French decimal comma, the PDF's SHA-256.
    raw = (out / INDEX_NAME).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = [line.split(";") for line in raw.decode("utf-8-sig").split("\r\n") if line]
    assert rows[0] == INDEX_HEADER
    assert rows[1:] == [[*row, stored[row[0]].pdf_sha256] for row in DEMO_INDEX]
    assert [stored[n].pdf_sha256 for n in DEMO_DOCUMENTS] == [
        sha256((out / f"{n}.pdf").read_bytes()) for n in DEMO_DOCUMENTS
    ]

    # The manifest: every file but itself, as sha256sum writes it, and sha256sum agrees.
    manifest = (out / MANIFEST_NAME).read_text("utf-8").splitlines()
    names = sorted(p.name for p in out.iterdir() if p.name != MANIFEST_NAME)
    assert manifest == [f"{sha256((out / name).read_bytes())}  {name}" for name in names]
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum (coreutils) is not installed")
    checked = subprocess.run(
        ["sha256sum", "-c", MANIFEST_NAME], cwd=out, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines() == [f"{name}: OK" for name in names]

    again = check(runner, out)
    assert again.exit_code == 0, again.output
    assert (
        again.stdout == f"{out} : archive intacte, documents conformes (manifeste, XSD, EN 16931, CTC FR).\n"
    )


def test_a_tampered_pdf_or_xml_is_named(runner, demo, tmp_path):
    out = tmp_path / "archive"
    assert archive(runner, "--year", "2011", "-o", str(out)).exit_code == 0
    pdf = out / "FAC-2011-0002.pdf"
    original = pdf.read_bytes()
    # One byte of the binary comment after the header: the PDF still reads, only the bytes differ.
    assert original[:9] == b"%PDF-1.7\n" and original[9] == ord("%")
    tampered = bytearray(original)
    tampered[10] ^= 0x01
    pdf.write_bytes(bytes(tampered))
    result = check(runner, out)
    assert result.exit_code == 1
    assert problems(result) == [
        "FAC-2011-0002.pdf : SHA-256 différent du manifeste (fichier modifié).",
        "index.csv : l'empreinte notée pour FAC-2011-0002 n'est pas celle de FAC-2011-0002.pdf.",
    ]
    assert result.stderr == f"{out} : 2 problème(s).\n"
    pdf.write_bytes(original)
    assert check(runner, out).exit_code == 0

    xml = out / "FAC-2011-0003.xml"
    text = xml.read_bytes()
    assert text.count(b"<ram:GrandTotalAmount>31234.72<") == 1
    xml.write_bytes(text.replace(b"<ram:GrandTotalAmount>31234.72<", b"<ram:GrandTotalAmount>31234.73<"))
    result = check(runner, out)
    assert result.exit_code == 1
    found = problems(result)
    assert found[:2] == [
        "FAC-2011-0003.xml : SHA-256 différent du manifeste (fichier modifié).",
        "FAC-2011-0003.pdf : le XML intégré au PDF diffère de FAC-2011-0003.xml.",
    ]
    # The schematron sees that the grand total is no longer net + VAT, nor prepaid + due.
    assert [line.split(":")[1].strip() for line in found[2:]] == ["BR-CO-15", "BR-CO-16"]
    assert all(line.startswith("FAC-2011-0003.xml : BR-CO-1") for line in found[2:])


def test_a_missing_or_extra_file_is_named(runner, demo, tmp_path):
    out = tmp_path / "archive"
    assert archive(runner, "--year", "2011", "-o", str(out)).exit_code == 0
    (out / "AV-2011-0001.xml").unlink()
    (out / "notes.txt").write_text("ajouté après coup")
    result = check(runner, out)
    assert result.exit_code == 1
    assert problems(result) == [
        "AV-2011-0001.xml : fichier manquant.",
        "notes.txt : fichier absent du manifeste.",
        "AV-2011-0001.pdf : AV-2011-0001.xml manquant.",
    ]


# --- refusals ------------------------------------------------------------------------------------


@pytest.fixture
def invoiced_2026(make_event, make_client, make_category, make_organisation, make_user):
    """One final invoice, FAC-2026-0001, issued on 20 April 2026."""
    event, _lots, _orgs = build_ready_event(make_event, make_client, make_category, make_organisation)
    coordinator = make_user("coordinator")
    quote = quotes_service.issue_quote(event, coordinator, today=date(2026, 3, 2))
    quotes_service.mark_sent(quote, coordinator)
    quotes_service.accept_quote(
        quote, name="Claire Morvan", agreed=True, today=date(2026, 3, 5), notify=False
    )
    invoice = service.issue_final(quote, make_user("treasurer"), today=date(2026, 4, 20))
    assert (invoice.number, invoice.total_gross) == ("FAC-2026-0001", D("8473.58"))
    return invoice


@pytest.mark.parametrize("year", ["abc", "11", "20261", "", "2026.0", "0999"])
def test_a_bad_year_is_refused(runner, tmp_path, year):
    out = tmp_path / "archive"
    result = archive(runner, "--year", year, "-o", str(out))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: Année invalide : « {year} ». Indiquez une année sur quatre chiffres, par exemple 2011.\n"
    )
    assert not out.exists()


def test_a_year_without_invoices_is_refused(runner, invoiced_2026, tmp_path):
    out = tmp_path / "archive"
    result = archive(runner, "--year", "2025", "-o", str(out))
    assert result.exit_code == 1
    assert result.stderr == "Error: Aucune facture ni aucun avoir émis en 2025 : rien à archiver.\n"
    assert not out.exists()


def test_a_non_empty_directory_needs_force(runner, invoiced_2026, tmp_path):
    out = tmp_path / "archive"
    out.mkdir()
    (out / "autre.txt").write_text("à garder")
    result = archive(runner, "--year", "2026", "-o", str(out))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: Le dossier {out} n'est pas vide : choisissez un dossier vide, ou ajoutez --force pour "
        "remplacer l'archive qui s'y trouve.\n"
    )
    assert [p.name for p in out.iterdir()] == ["autre.txt"]

    # --force writes the archive beside it; the check then names the stranger.
    result = archive(runner, "--year", "2026", "-o", str(out), "--force")
    assert result.exit_code == 1
    assert problems(result)[-1] == "autre.txt : fichier absent du manifeste."
    (out / "autre.txt").unlink()
    assert check(runner, out).exit_code == 0
    # Again with --force: the previous archive is replaced, nothing is left over.
    result = archive(runner, "--year", "2026", "-o", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "FAC-2026-0001.pdf",
        "FAC-2026-0001.xml",
        MANIFEST_NAME,
        INDEX_NAME,
    ]


def test_an_unwritable_directory_is_refused(runner, invoiced_2026, tmp_path):
    blocker = tmp_path / "fichier.txt"
    blocker.write_text("un fichier, pas un dossier")
    result = archive(runner, "--year", "2026", "-o", str(blocker))
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"Error: {blocker} existe et n'est pas un dossier : choisissez un autre emplacement.\n"
    )

    inside = blocker / "archive"
    result = archive(runner, "--year", "2026", "-o", str(inside))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: Impossible de créer le dossier {inside} : un élément du chemin n'est pas un dossier.\n"
    )
    assert blocker.read_text() == "un fichier, pas un dossier"


def test_checking_a_missing_directory_is_refused(runner, tmp_path):
    result = check(runner, tmp_path / "nulle-part")
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"Error: {tmp_path / 'nulle-part'} n'est pas un dossier d'archive : dossier introuvable.\n"
    )
