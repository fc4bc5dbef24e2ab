"""The yearly archive of issued invoices and credit notes, and its later check.

:func:`write_archive` writes, for every invoice, deposit invoice and credit note issued in a year (by
issue date), the stored PDF (``<number>.pdf``, byte for byte as issued) and the stored Factur-X XML
(``<number>.xml``); an index (:data:`INDEX_NAME`, CSV for French Excel through
:func:`app.spreadsheets.write_csv`: number, kind, issue date, client, net, VAT, gross and the PDF's
SHA-256, amounts as printed on each document); and a manifest (:data:`MANIFEST_NAME`), one
``sha256  filename`` line per file, the format ``sha256sum -c`` reads.

:func:`check_archive` re-checks a directory later, without the database: every file against the
manifest, nothing outside it, each XML against the XSD and the EN 16931 and French CTC schematrons
(:func:`invoicing.facturx.validate`, offline), each PDF's embedded XML equal to its ``.xml`` file,
and each index row's SHA-256 equal to its PDF's. Writing an archive runs the same check on what it
wrote, plus one only the database can do: each stored PDF still has the SHA-256 recorded when it
was issued.

The messages are French, for the command line (``flask invoicing archive`` / ``archive-check``).
"""

from __future__ import annotations

import csv
import errno
import io
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import undefer

from app.errors import DomainError
from app.extensions import db
from app.pdf import sha256
from app.spreadsheets import Column, write_csv
from invoicing.documents import TITLES
from invoicing.models import Invoice, InvoiceStatus
from invoicing.services.invoices import invoice_pdf

INDEX_NAME = "index.csv"
MANIFEST_NAME = "MANIFEST.sha256"
INDEX_COLUMNS = (
    Column("Numéro", 16),
    Column("Type", 18),
    Column("Date d'émission", 14),
    Column("Client", 40),
    Column("Montant HT", 14),
    Column("TVA", 14),
    Column("Montant TTC", 14),
    Column("SHA-256 du PDF", 66),
)
#: The years an archive may be asked for (an invoice date is a four-digit year).
MIN_YEAR, MAX_YEAR = 1900, 9999

_MANIFEST_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
#: The only file names an archive holds: a document number (letters, digits, ``-_+/`` minus the
#: slash, BR-FR-01) with its extension, the index and the manifest.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+.-]*$")


#: What the system said, in French (``strerror`` is in the system's language, often English).
_OS_REASONS = {
    errno.EACCES: "permission refusée",
    errno.EPERM: "opération non permise",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.ENOSPC: "plus de place sur le disque",
    errno.EEXIST: "un fichier porte déjà ce nom",
    errno.ENOENT: "chemin introuvable",
}


def _why(exc: OSError) -> str:
    return _OS_REASONS.get(exc.errno, exc.strerror or str(exc))


class ArchiveRefused(DomainError):
    """The archive cannot be written or read there (the message says why, in French)."""


@dataclass
class ArchiveReport:
    year: int
    directory: Path
    #: The documents archived, in order: ``(number, kind as printed)``.
    documents: list[tuple[str, str]] = field(default_factory=list)
    #: Every file written, manifest included.
    files: list[str] = field(default_factory=list)
    #: What does not hold, one French sentence each, naming the file or document.
    problems: list[str] = field(default_factory=list)


def parse_year(text: str) -> int:
    """``"2011"`` → 2011; anything but a four-digit year is refused with a French message."""
    value = (text or "").strip()
    if not re.fullmatch(r"[0-9]{4}", value) or not MIN_YEAR <= int(value) <= MAX_YEAR:
        raise ArchiveRefused(
            f"Année invalide : « {text} ». Indiquez une année sur quatre chiffres, par exemple 2011."
        )
    return int(value)


def issued_in(year: int) -> list[Invoice]:
    """The invoices and credit notes issued in ``year`` (by issue date) by Maillage, oldest first, PDF
    and XML loaded."""
    return list(
        db.session.scalars(
            sa.select(Invoice)
            .options(undefer(Invoice.pdf), undefer(Invoice.xml))
            .where(
                Invoice.status == InvoiceStatus.ISSUED,
                # A member's own invoice, recorded in joint mode, is the member's to archive.
                Invoice.issued_here,
                Invoice.issue_date >= date(year, 1, 1),
                Invoice.issue_date <= date(year, 12, 31),
            )
            .order_by(Invoice.issue_date, Invoice.issued_at, Invoice.id)
        )
    )


def index_row(invoice: Invoice) -> list[object]:
    """One row of the index: the values printed on the document (a credit note's amounts as on it)."""
    return [
        invoice.number,
        TITLES[invoice.kind.value],
        invoice.issue_date,
        (invoice.buyer or {}).get("name") or invoice.client.name,
        invoice.total_net,
        invoice.total_vat,
        invoice.total_gross,
        sha256(invoice.pdf),
    ]


def manifest(files: dict[str, bytes]) -> bytes:
    """``sha256  name`` per file, sorted by name, LF line ends (what ``sha256sum -c`` reads)."""
    return "".join(f"{sha256(data)}  {name}\n" for name, data in sorted(files.items())).encode("utf-8")


def _prepare_directory(directory: Path, *, force: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise ArchiveRefused(f"{directory} existe et n'est pas un dossier : choisissez un autre emplacement.")
    if directory.is_dir() and any(directory.iterdir()):
        if not force:
            raise ArchiveRefused(
                f"Le dossier {directory} n'est pas vide : choisissez un dossier vide, ou ajoutez --force "
                "pour remplacer l'archive qui s'y trouve."
            )
        _remove_previous_archive(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveRefused(f"Impossible de créer le dossier {directory} : {_why(exc)}.") from exc


def _remove_previous_archive(directory: Path) -> None:
    """With ``--force``: remove the files a previous archive listed in its manifest (nothing else)."""
    old = directory / MANIFEST_NAME
    if not old.is_file():
        return
    try:
        lines = old.read_text("utf-8", errors="replace").splitlines()
        for line in lines:
            match = _MANIFEST_LINE.match(line)
            if match and _SAFE_NAME.match(match.group(2)) and (directory / match.group(2)).is_file():
                (directory / match.group(2)).unlink()
        old.unlink()
    except OSError as exc:
        raise ArchiveRefused(
            f"Impossible de remplacer l'archive du dossier {directory} : {_why(exc)}."
        ) from exc


def write_archive(year: int, directory: Path, *, force: bool = False) -> ArchiveReport:
    """Write the archive of ``year`` into ``directory``, then check what was written.

    Raises :class:`ArchiveRefused` when there is nothing to archive, the directory is not empty
    (without ``force``) or cannot be written. Problems found in the documents do not stop the
    archive (issued documents are what they are): they are listed in the report.
    """
    invoices = issued_in(year)
    if not invoices:
        raise ArchiveRefused(f"Aucune facture ni aucun avoir émis en {year} : rien à archiver.")
    report = ArchiveReport(year=year, directory=directory)
    files: dict[str, bytes] = {}
    rows = []
    for invoice in invoices:
        report.documents.append((invoice.number, TITLES[invoice.kind.value]))
        if invoice.xml is None or invoice_pdf(invoice) is None:
            report.problems.append(f"{invoice.number} : PDF ou XML absent de la base.")
            continue
        if sha256(invoice.pdf) != invoice.pdf_sha256:
            report.problems.append(
                f"{invoice.number} : le PDF enregistré n'a plus l'empreinte SHA-256 notée à l'émission "
                f"({invoice.pdf_sha256})."
            )
        files[f"{invoice.number}.pdf"] = invoice.pdf
        files[f"{invoice.number}.xml"] = invoice.xml
        rows.append(index_row(invoice))
    files[INDEX_NAME] = write_csv(INDEX_COLUMNS, rows)
    _prepare_directory(directory, force=force)
    try:
        for name, data in files.items():
            (directory / name).write_bytes(data)
        (directory / MANIFEST_NAME).write_bytes(manifest(files))
    except OSError as exc:
        raise ArchiveRefused(f"Impossible d'écrire dans le dossier {directory} : {_why(exc)}.") from exc
    report.files = sorted([*files, MANIFEST_NAME])
    report.problems.extend(check_archive(directory))
    return report


# --- check ---------------------------------------------------------------------------------------


def _read_manifest(directory: Path, problems: list[str]) -> dict[str, str]:
    path = directory / MANIFEST_NAME
    if not path.is_file():
        problems.append(f"{MANIFEST_NAME} : manifeste absent.")
        return {}
    listed: dict[str, str] = {}
    for number, line in enumerate(path.read_bytes().decode("utf-8", errors="replace").splitlines(), start=1):
        match = _MANIFEST_LINE.match(line)
        if not match or not _SAFE_NAME.match(match.group(2)):
            problems.append(f"{MANIFEST_NAME} : ligne {number} illisible.")
            continue
        listed[match.group(2)] = match.group(1)
    return listed


def _check_index(directory: Path, problems: list[str]) -> None:
    """Each index row's SHA-256 is its PDF's (the PDFs themselves are checked against the manifest)."""
    path = directory / INDEX_NAME
    if not path.is_file():
        problems.append(f"{INDEX_NAME} : index absent.")
        return
    try:
        reader = csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig")), delimiter=";")
        _header, *rows = list(reader)
    except (UnicodeDecodeError, ValueError, csv.Error):
        problems.append(f"{INDEX_NAME} : index illisible.")
        return
    for row in rows:
        if len(row) != len(INDEX_COLUMNS) or not _SAFE_NAME.match(row[0]):
            problems.append(f"{INDEX_NAME} : ligne illisible ({';'.join(row)[:80]}).")
            continue
        pdf = directory / f"{row[0]}.pdf"
        if not pdf.is_file():
            problems.append(f"{INDEX_NAME} : {row[0]}.pdf manquant.")
        elif sha256(pdf.read_bytes()) != row[-1]:
            problems.append(
                f"{INDEX_NAME} : l'empreinte notée pour {row[0]} n'est pas celle de {row[0]}.pdf."
            )


def check_archive(directory: Path) -> list[str]:
    """What does not hold in the archive ``directory`` (see the module docstring); empty when all is well.

    Raises :class:`ArchiveRefused` when ``directory`` is not a readable directory.
    """
    from invoicing.facturx import extract_xml, validate

    if not directory.is_dir():
        raise ArchiveRefused(f"{directory} n'est pas un dossier d'archive : dossier introuvable.")
    problems: list[str] = []
    listed = _read_manifest(directory, problems)
    try:
        present = sorted(p.name for p in directory.iterdir() if p.name != MANIFEST_NAME)
    except OSError as exc:
        raise ArchiveRefused(f"Impossible de lire le dossier {directory} : {_why(exc)}.") from exc
    for name in sorted(listed):
        path = directory / name
        if not path.is_file():
            problems.append(f"{name} : fichier manquant.")
        elif sha256(path.read_bytes()) != listed[name]:
            problems.append(f"{name} : SHA-256 différent du manifeste (fichier modifié).")
    problems.extend(f"{name} : fichier absent du manifeste." for name in present if name not in listed)
    if listed or present:
        _check_index(directory, problems)

    names = sorted({n for n in [*listed, *present] if n.endswith((".pdf", ".xml"))})
    for name in names:
        path = directory / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if name.endswith(".xml"):
            problems.extend(f"{name} : {error}" for error in validate(data))
            continue
        xml_path = path.with_suffix(".xml")
        try:
            embedded = extract_xml(data)
        except Exception:  # pypdf and the factur-x library raise many kinds on a damaged PDF
            problems.append(f"{name} : aucun XML Factur-X lisible dans ce PDF.")
            continue
        if not xml_path.is_file():
            problems.append(f"{name} : {xml_path.name} manquant.")
        elif embedded != xml_path.read_bytes():
            problems.append(f"{name} : le XML intégré au PDF diffère de {xml_path.name}.")
    return problems
