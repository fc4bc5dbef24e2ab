"""Import and export of the actors' directory as CSV or XLSX (pandas, openpyxl).

Columns
    One French header per field of a card, listed in :data:`COLUMNS` (``nom``, ``forme_juridique``,
    ``siret``…). Headers are matched without case, accents or spaces ("Régime TVA" is ``regime_tva``),
    in any order. ``nom``, ``siret``, ``forme_juridique`` and ``regime_tva`` must be present; another
    column may be left out, and then the field is left as it is on existing cards (and takes its
    default on new ones). An unknown, duplicated or missing required column refuses the whole file.

Rows
    Every cell is read as text (``dtype=str``): SIRETs keep their leading zeros and nothing becomes a
    float. A row matches an existing card by SIRET; a row without SIRET matches the card without
    SIRET that has the same name (case and accents ignored). Line numbers are those of the
    spreadsheet: the header is line 1, the first data row line 2. Empty rows are skipped.
    Every field is checked with :mod:`app.directory.validation` (python-stdnum); each error names
    its column. Booleans are ``oui``/``non`` (an empty cell is the default: ``non``, and ``oui``
    for ``actif``); categories are codes separated by ``|``.

Nothing is written until the coordinator confirms, and then all rows or none
    :func:`validate_rows` only reads. :func:`apply_import` refuses a preview with any error row
    (the coordinator fixes the file and imports it again), writes every row in the caller's
    transaction, flushes, writes one audit entry per card, and never commits.

Round trip
    :func:`organisation_values` is the single text form of a card: export writes it, and the
    preview compares the file's values with it, field by field. Import produces that same form
    (codes, ``oui``/``non``, normalised identifiers), so an export re-imports as "unchanged".
    Texts are compared after trimming and with line breaks normalised (Excel turns CR LF into LF).

Formula injection
    Files are written by :mod:`app.spreadsheets`, every value as text. XLSX: every cell is an
    explicit string (``data_type="s"``, number format ``@``); text starting with ``=`` is never a
    formula. CSV (UTF-8 with BOM, ``;`` separator, for French Excel): a value starting with
    ``= + - @``, tab or CR — or with an apostrophe — is written with one leading apostrophe, and the
    import removes exactly one apostrophe when it is followed by one of those characters
    (:func:`app.spreadsheets.unescape_csv_cell`). The escape is reversible, so the round trip is
    exact. It applies to CSV only: an XLSX cell is read as it is.

The preview between the upload and the confirmation
    Nothing is kept in process memory (several workers) and the client is not trusted. The uploaded
    bytes are written to ``DIRECTORY_IMPORT_DIR`` (default ``instance/imports/``) under a random
    name; the page carries a token signed with the app's ``SECRET_KEY`` (itsdangerous) holding that
    name, the user's id, the file's SHA-256 and a digest of the previewed plan. On confirmation the
    file is read again, checked against the hash, validated again against the current cards, and
    applied only if it still has no error and the plan is the one the coordinator saw; otherwise
    the new preview is shown. The file is deleted once applied; files older than 24 h are purged
    on every upload and confirmation. A database table would survive several hosts better, but
    this task may add no model or migration: with several hosts, ``DIRECTORY_IMPORT_DIR`` must be
    a shared volume (a missing file gives a clear "import again" message, never a half import).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import time
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import defer, selectinload

from app.audit import N_, record
from app.directory.permissions import can_import_directory
from app.directory.validation import (
    FieldError,
    canonical_commune,
    check_bic,
    check_email,
    check_iban,
    check_postal_code,
    check_qpv_name,
    check_siret,
    check_vat_number,
    check_website,
    territory_warning,
)
from app.errors import Conflict, DomainError, Forbidden
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import Category, LegalForm, Organisation, VatRegime
from app.spreadsheets import Column as SheetColumn
from app.spreadsheets import unescape_csv_cell, write_csv, write_xlsx

DEFAULT_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_ROWS = 5000
#: An XLSX is a zip: refuse one whose directory declares more than this once inflated (zip bomb).
#: A real 5,000-row export of the directory is about 7 MB of XML.
XLSX_MAX_UNCOMPRESSED = 24 * 1024 * 1024
#: … or a member inflating more than this many times its compressed size (real sheets: 5 to 20).
XLSX_MAX_RATIO = 100
#: Rows of the sheet read at most beyond the allowed ones, blank rows included (hard cap).
XLSX_MAX_BLANK_ROWS = 1000
#: Columns a row may use (the file has 21); a cell further right is refused, never allocated.
XLSX_MAX_COLUMNS = 64
#: How long a preview may be confirmed, and an uploaded file kept.
UPLOAD_MAX_AGE = 24 * 3600
EXTENSIONS = ("csv", "xlsx")

CREATE, UPDATE, UNCHANGED, ERROR = "create", "update", "unchanged", "error"


# --- the columns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str
    #: Attribute of :class:`Organisation` (``categories`` is the relationship).
    attr: str
    label: object
    #: The header must be present in every imported file.
    required: bool = False
    max_length: int | None = None
    help: object = ""


COLUMNS: tuple[Column, ...] = (
    Column("nom", "name", _l("Nom"), required=True, max_length=200, help=_l("Obligatoire.")),
    Column(
        "forme_juridique",
        "legal_form",
        _l("Forme juridique"),
        required=True,
        help=_l(
            "association, scop, scic, cooperative, sas, sarl, ei, collectivite, mutuelle, fondation, autre"
        ),
    ),
    Column(
        "siret",
        "siret",
        _l("SIRET"),
        required=True,
        help=_l("14 chiffres ; c'est par lui qu'une ligne retrouve la fiche existante."),
    ),
    Column(
        "regime_tva",
        "vat_regime",
        _l("Régime de TVA"),
        required=True,
        help=_l("assujetti, franchise, exonere"),
    ),
    Column(
        "numero_tva",
        "vat_number",
        _l("Numéro de TVA"),
        max_length=20,
        help=_l("Obligatoire si assujetti ; doit correspondre au SIREN."),
    ),
    Column("adresse", "address", _l("Adresse"), max_length=300),
    Column("code_postal", "postal_code", _l("Code postal"), max_length=10),
    Column("commune", "commune", _l("Commune"), max_length=120),
    Column("qpv", "qpv", _l("Quartier prioritaire (QPV)"), help=_l("oui ou non")),
    Column("quartier_qpv", "qpv_name", _l("Nom du quartier prioritaire"), max_length=120),
    Column(
        "categories",
        "categories",
        _l("Catégories"),
        help=_l("Codes des catégories séparés par « | », ex. accueil|restauration"),
    ),
    Column("description", "description", _l("Description")),
    Column("contact", "contact_name", _l("Personne à contacter"), max_length=200),
    Column("email", "email", _l("E-mail"), max_length=254),
    Column("telephone", "phone", _l("Téléphone"), max_length=40),
    Column(
        "site_web", "website", _l("Site web"), max_length=300, help=_l("Commence par http:// ou https://")
    ),
    Column("iban", "iban", _l("IBAN"), max_length=34),
    Column("bic", "bic", _l("BIC"), max_length=11),
    Column(
        "affichage_public",
        "public_listing",
        _l("Visible dans l'annuaire public"),
        help=_l("oui ou non (vide : non)"),
    ),
    Column(
        "contact_public",
        "show_contact_publicly",
        _l("Contact visible publiquement"),
        help=_l("oui ou non (vide : non)"),
    ),
    Column("actif", "active", _l("Actif"), help=_l("oui ou non (vide : oui)")),
)
HEADERS: tuple[str, ...] = tuple(c.header for c in COLUMNS)
COLUMNS_BY_HEADER = {c.header: c for c in COLUMNS}
REQUIRED_HEADERS: tuple[str, ...] = tuple(c.header for c in COLUMNS if c.required)

#: The file's words for legal forms and VAT regimes (French, no accents), by stored value.
LEGAL_FORM_CODES = {
    LegalForm.ASSOCIATION: "association",
    LegalForm.SCOP: "scop",
    LegalForm.SCIC: "scic",
    LegalForm.COOPERATIVE: "cooperative",
    LegalForm.SAS: "sas",
    LegalForm.SARL: "sarl",
    LegalForm.EI: "ei",
    LegalForm.COLLECTIVITY: "collectivite",
    LegalForm.MUTUAL: "mutuelle",
    LegalForm.FOUNDATION: "fondation",
    LegalForm.OTHER: "autre",
}
VAT_REGIME_CODES = {
    VatRegime.SUBJECT: "assujetti",
    VatRegime.FRANCHISE: "franchise",
    VatRegime.EXEMPT: "exonere",
}
#: Other spellings accepted on import (folded: lower case, no accents).
_LEGAL_FORM_ALIASES = {
    "entreprise individuelle": LegalForm.EI,
    "micro entreprise": LegalForm.EI,
    "collectivite territoriale": LegalForm.COLLECTIVITY,
    "mutual": LegalForm.MUTUAL,
}
_VAT_REGIME_ALIASES = {
    "assujettie": VatRegime.SUBJECT,
    "franchise en base": VatRegime.FRANCHISE,
    "exoneree": VatRegime.EXEMPT,
    "exoneration": VatRegime.EXEMPT,
}

_TRUE = frozenset({"oui", "o", "vrai", "true", "1", "x", "yes", "y"})
_FALSE = frozenset({"non", "n", "faux", "false", "0", "no"})
#: Booleans' value for an empty cell or an absent column.
_BOOLEAN_DEFAULTS = {"qpv": False, "public_listing": False, "show_contact_publicly": False, "active": True}
#: Values of a new card for an absent column.
_CREATE_DEFAULTS = {
    "address": "",
    "postal_code": "",
    "commune": "",
    "qpv_name": None,
    "categories": [],
    "description": "",
    "contact_name": None,
    "email": None,
    "phone": None,
    "website": None,
    "iban": None,
    "bic": None,
    "vat_number": None,
    **_BOOLEAN_DEFAULTS,
}

# --- errors ---------------------------------------------------------------------------------------


class FileRefused(DomainError):
    """The whole file is refused (format, encoding, size, columns); nothing was read into the cards."""

    status_code = 400


class ImportHasErrors(DomainError):
    """:func:`apply_import` was given a preview with error rows."""

    status_code = 409


class InvalidImportToken(DomainError):
    """The confirmation's token is forged, expired, or its file is gone or changed."""

    status_code = 400


# --- value formatting (export, comparison, display) ----------------------------------------------


def canonical_text(value) -> str:
    """A text as import stores it: trimmed, line breaks as LF, no characters XML forbids."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return ILLEGAL_CHARACTERS_RE.sub("", text).strip()


def _category_key(category: Category) -> tuple:
    return (category.position, category.code)


def format_value(column: Column, value) -> str:
    """The file's text for ``value`` of ``column``: the same for export, comparison and preview."""
    if value is None:
        return ""
    if column.attr == "legal_form":
        return LEGAL_FORM_CODES[LegalForm(value)]
    if column.attr == "vat_regime":
        return VAT_REGIME_CODES[VatRegime(value)]
    if column.attr == "categories":
        return "|".join(c.code for c in sorted(value, key=_category_key))
    if isinstance(value, bool):
        return "oui" if value else "non"
    return canonical_text(value)


def organisation_values(organisation: Organisation) -> dict[str, str]:
    """One card as the file shows it, header → text. The neighbourhood only shows when ``qpv``."""
    values = {}
    for column in COLUMNS:
        value = getattr(organisation, column.attr)
        if column.attr == "qpv_name" and not organisation.qpv:
            value = None
        values[column.header] = format_value(column, value)
    return values


# --- export ---------------------------------------------------------------------------------------


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def export_query(
    q: str | None = None,
    category: str | None = None,
    commune: str | None = None,
    qpv: str | None = None,
    legal_form: str | None = None,
    vat_regime: str | None = None,
    active: str | None = None,
) -> sa.Select:
    """Cards to export, by name: all of them, or those matching the list page's filters.

    The parameters mean what the list page's URL parameters mean (``q`` in the name or description,
    ``category`` a code, ``qpv`` ``oui``/``non``/a neighbourhood, ``active`` ``oui``/``non``/``tous``),
    except that without ``active`` the export holds every card, inactive ones included, so that
    an export is the whole directory. Unknown values are ignored, never an error.
    """
    statement = (
        sa.select(Organisation)
        .options(selectinload(Organisation.categories), defer(Organisation.logo))
        .order_by(sa.func.lower(Organisation.name), Organisation.id)
    )
    text = (q or "").strip()
    if text:
        pattern = f"%{_escape_like(text)}%"
        statement = statement.where(
            sa.or_(
                Organisation.name.ilike(pattern, escape="\\"),
                Organisation.description.ilike(pattern, escape="\\"),
            )
        )
    if category:
        statement = statement.where(Organisation.categories.any(Category.code == category))
    if commune:
        statement = statement.where(sa.func.lower(Organisation.commune) == commune.strip().lower())
    if qpv == "oui":
        statement = statement.where(Organisation.qpv.is_(True))
    elif qpv == "non":
        statement = statement.where(Organisation.qpv.is_(False))
    elif qpv:
        statement = statement.where(Organisation.qpv_name == qpv)
    if legal_form in {f.value for f in LegalForm}:
        statement = statement.where(Organisation.legal_form == LegalForm(legal_form))
    if vat_regime in {r.value for r in VatRegime}:
        statement = statement.where(Organisation.vat_regime == VatRegime(vat_regime))
    if active in ("oui", "non"):
        statement = statement.where(Organisation.active.is_(active == "oui"))
    return statement


def export_rows(organisations: Iterable[Organisation] | None = None) -> Iterator[list[str]]:
    """Each card's values in :data:`HEADERS` order (all cards by name when none are given)."""
    if organisations is None:
        organisations = db.session.scalars(export_query())
    for organisation in organisations:
        values = organisation_values(organisation)
        yield [values[header] for header in HEADERS]


def export_csv(organisations: Iterable[Organisation] | None = None) -> bytes:
    """CSV for French Excel (:func:`app.spreadsheets.write_csv`): every value is text, escaped."""
    return write_csv(HEADERS, export_rows(organisations))


_XLSX_WIDTHS = {"nom": 36, "description": 60, "adresse": 36, "categories": 30, "email": 30, "site_web": 30}


def export_xlsx(organisations: Iterable[Organisation] | None = None) -> bytes:
    """A workbook where every cell is an explicit text cell, never a formula (:func:`app.spreadsheets.write_xlsx`)."""
    columns = [SheetColumn(header, width=_XLSX_WIDTHS.get(header, 18)) for header in HEADERS]
    return write_xlsx(str(_("Acteurs")), columns, export_rows(organisations))


# --- reading a file -------------------------------------------------------------------------------


def file_extension(filename: str) -> str:
    """``csv`` or ``xlsx``; raises :class:`FileRefused` for any other name."""
    name = (filename or "").strip().lower()
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    if extension not in EXTENSIONS:
        raise FileRefused(
            _(
                "Format non accepté : envoyez un fichier .csv (UTF-8) ou .xlsx (Excel), pas « %(name)s ».",
                name=filename,
            )
        )
    return extension


def format_size(size: int) -> str:
    if size >= 1024 * 1024:
        return _("%(n)s Mo", n=f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".").replace(".", ","))
    return _("%(n)s Ko", n=max(1, round(size / 1024)))


def max_bytes() -> int:
    return int(current_app.config.get("DIRECTORY_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_rows() -> int:
    return int(current_app.config.get("DIRECTORY_IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS))


def check_size(size: int) -> None:
    limit = max_bytes()
    if size > limit:
        raise FileRefused(
            _(
                "Le fichier est trop volumineux (%(size)s) : la limite est de %(limit)s. "
                "Découpez-le en plusieurs fichiers.",
                size=format_size(size),
                limit=format_size(limit),
            )
        )


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text or ""))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[\s\-–—'’_]+", " ", text).strip()


def header_key(text: str) -> str:
    """Headers match without case, accents or spaces: « Régime TVA » is ``regime_tva``."""
    return _fold(canonical_text(text).lstrip("\ufeff")).replace(" ", "_")


def _decode_csv(data: bytes) -> str:
    if data.startswith(b"PK\x03\x04"):
        raise FileRefused(
            _(
                "Ce fichier est un classeur Excel nommé en .csv : renommez-le en .xlsx, "
                "ou enregistrez-le au format « CSV UTF-8 »."
            )
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRefused(
            _(
                "Le fichier est encodé en UTF-16 : enregistrez-le au format « CSV UTF-8 (délimité par des "
                "virgules) »."
            )
        )
    if b"\x00" in data:
        raise FileRefused(_("Ce fichier n'est pas un fichier texte CSV."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRefused(
            _(
                "Le fichier n'est pas encodé en UTF-8 (premier caractère illisible à la ligne %(line)s). "
                "Dans Excel, choisissez « Enregistrer sous » puis « CSV UTF-8 (délimité par des virgules) » ; "
                "dans LibreOffice, le jeu de caractères « Unicode (UTF-8) ».",
                line=line,
            )
        ) from exc
    return text


def _read_csv(data: bytes, limit: int) -> pd.DataFrame:
    text = _decode_csv(data)
    if not text.strip():
        raise FileRefused(_("Le fichier est vide."))
    first_line = text.split("\n", 1)[0]
    separator = ";" if first_line.count(";") >= first_line.count(",") else ","
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=separator,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            nrows=limit,
            engine="c",
        )
    except pd.errors.EmptyDataError as exc:
        raise FileRefused(_("Le fichier est vide.")) from exc
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            expected, line, count = found.groups()
            raise FileRefused(
                _(
                    "La ligne %(line)s compte %(count)s colonnes alors que l'en-tête en compte %(expected)s "
                    "(un « %(sep)s » en trop, ou des guillemets mal fermés ?).",
                    line=line,
                    count=count,
                    expected=expected,
                    sep=separator,
                )
            ) from exc
        raise FileRefused(_("Le fichier CSV est mal formé (guillemets mal fermés ?).")) from exc
    return frame.map(unescape_csv_cell)


def _check_xlsx_container(data: bytes) -> None:
    """Refuse what is not an XLSX, and a zip bomb, from the zip directory alone (nothing inflated).

    The sizes the directory declares bound what :mod:`zipfile` will inflate (it stops at the
    declared size and checks the CRC), so checking them is enough.
    """
    refused = FileRefused(
        _(
            "Ce fichier n'est pas un classeur Excel .xlsx valide (un ancien .xls, un classeur protégé "
            "par mot de passe ou un autre fichier renommé ?). Enregistrez-le au format « Classeur Excel (.xlsx) »."
        )
    )
    if not data.startswith(b"PK\x03\x04"):
        raise refused
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise refused from exc
    names = {entry.filename for entry in entries}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise refused
    inflated = sum(entry.file_size for entry in entries)
    bomb = any(
        entry.file_size > 1024 * 1024 and entry.file_size > XLSX_MAX_RATIO * max(entry.compress_size, 1)
        for entry in entries
    )
    if inflated > XLSX_MAX_UNCOMPRESSED or bomb:
        raise FileRefused(
            _(
                "Ce classeur est trop volumineux une fois décompressé (%(size)s ; au plus %(limit)s, "
                "et %(ratio)s fois sa taille compressée) : découpez-le ou enregistrez-le à nouveau.",
                size=format_size(inflated),
                limit=format_size(XLSX_MAX_UNCOMPRESSED),
                ratio=XLSX_MAX_RATIO,
            )
        )


def _cell_text(value, data_type: str) -> str:
    """A cell as text, as pandas read it before (numbers without a useless ``.0``, errors empty)."""
    if value is None or data_type == "e":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _first_sheet_cells(data: bytes) -> Iterator[tuple[int, list[dict]]]:
    """``(row number, cells)`` of the first worksheet, parsed as a stream.

    openpyxl's ``load_workbook(read_only=True)`` first looks for each sheet's dimensions, and when a
    sheet does not declare them it parses the whole sheet to find out (seconds for a million rows);
    so the workbook parts are read here one by one, and only the first sheet's rows, lazily.
    """
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet
    from openpyxl.worksheet._reader import WorkSheetParser

    reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    try:
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        path = next(
            rel.target
            for _sheet, rel in reader.parser.find_sheets()
            if "worksheet" in rel.Type and rel.target in reader.valid_files
        )
        with reader.archive.open(path) as source:
            parser = WorkSheetParser(
                source,
                reader.shared_strings,
                data_only=True,
                epoch=reader.wb.epoch,
                date_formats=reader.wb._date_formats,
                timedelta_formats=reader.wb._timedelta_formats,
            )
            yield from parser.parse()
    finally:
        reader.archive.close()


def _xlsx_rows(data: bytes, limit: int) -> list[list[str]]:
    """The first sheet's rows as text, streamed and capped.

    Reading stops once ``limit`` non-blank rows are read (enough to tell "over the limit"); a row
    numbered past ``limit + XLSX_MAX_BLANK_ROWS`` (blank rows count), or a cell right of
    ``XLSX_MAX_COLUMNS``, is refused at once, before anything is allocated for it.
    """
    rows: list[list[str]] = []
    filled, cap = 0, limit + XLSX_MAX_BLANK_ROWS
    for number, cells in _first_sheet_cells(data):
        if number > cap:
            raise FileRefused(
                _(
                    "La feuille compte plus de %(cap)s lignes (lignes vides comprises) : supprimez les "
                    "lignes inutiles ou découpez-la en plusieurs imports.",
                    cap=cap,
                )
            )
        values: dict[int, str] = {}
        for cell in cells:
            text = _cell_text(cell["value"], cell["data_type"])
            if not text.strip():
                continue
            if cell["column"] > XLSX_MAX_COLUMNS:
                raise FileRefused(
                    _(
                        "La ligne %(line)s contient des données au-delà de la colonne %(letter)s : "
                        "seules les colonnes de l'annuaire sont attendues.",
                        line=number,
                        letter=get_column_letter(XLSX_MAX_COLUMNS),
                    )
                )
            values[cell["column"]] = text
        while len(rows) < number - 1:  # rows the sheet skips are blank
            rows.append([])
        rows.append([values.get(column, "") for column in range(1, max(values, default=0) + 1)])
        if values:
            filled += 1
            if filled >= limit:
                break
    return rows


def _read_xlsx(data: bytes, limit: int) -> pd.DataFrame:
    _check_xlsx_container(data)
    try:
        rows = _xlsx_rows(data, limit)
    except FileRefused:
        raise
    except Exception as exc:  # openpyxl raises many kinds of errors on a damaged workbook
        current_app.logger.info("unreadable xlsx import: %r", exc)
        raise FileRefused(
            _(
                "Le classeur Excel n'a pas pu être lu (fichier endommagé ?). Enregistrez-le à nouveau en .xlsx."
            )
        ) from exc
    width = max((len(row) for row in rows), default=0)
    return pd.DataFrame([row + [""] * (width - len(row)) for row in rows], dtype=object)


def check_columns(headers: Iterable[str]) -> None:
    """Refuse unknown, duplicated or missing required columns (one French message for all)."""
    headers = list(headers)
    problems = []
    unknown = [h for h in headers if h not in COLUMNS_BY_HEADER]
    duplicated = sorted({h for h in headers if headers.count(h) > 1 and h in COLUMNS_BY_HEADER})
    missing = [h for h in REQUIRED_HEADERS if h not in headers]
    if unknown:
        problems.append(_("Colonnes inconnues : %(names)s.", names=", ".join(unknown)))
    if duplicated:
        problems.append(_("Colonnes en double : %(names)s.", names=", ".join(duplicated)))
    if missing:
        problems.append(_("Colonnes obligatoires absentes : %(names)s.", names=", ".join(missing)))
    if problems:
        problems.append(_("Colonnes attendues (ligne 1) : %(names)s.", names=", ".join(HEADERS)))
        raise FileRefused(" ".join(problems))


def read_table(filename: str, data: bytes) -> pd.DataFrame:
    """Read an uploaded CSV or XLSX into a frame of strings.

    Columns are the canonical headers; the index is each row's line number in the spreadsheet
    (header = 1). Raises :class:`FileRefused` (format, content, encoding, size, rows, columns).
    """
    extension = file_extension(filename)
    if not data:
        raise FileRefused(_("Le fichier est vide."))
    check_size(len(data))
    limit = max_rows()
    # One more row than allowed (plus the header) to tell "at the limit" from "over it".
    frame = _read_csv(data, limit + 2) if extension == "csv" else _read_xlsx(data, limit + 2)
    if frame.empty or not any(str(v).strip() for v in frame.iloc[0]):
        raise FileRefused(_("La première ligne du fichier doit contenir les noms des colonnes."))
    frame.index = range(1, len(frame) + 1)
    header_row = [header_key(v) for v in frame.iloc[0]]
    body = frame.iloc[1:]
    keep = []
    for position, header in enumerate(header_row):
        if header:
            keep.append(position)
        elif any(str(v).strip() for v in body.iloc[:, position]):
            raise FileRefused(
                _(
                    "La colonne %(letter)s n'a pas de nom en ligne 1 mais contient des données.",
                    letter=get_column_letter(position + 1),
                )
            )
    headers = [header_row[p] for p in keep]
    check_columns(headers)
    body = body.iloc[:, keep].copy()
    body.columns = headers
    body = body.loc[[any(str(v).strip() for v in row) for row in body.itertuples(index=False)]]
    if len(body) > limit:
        raise FileRefused(
            _(
                "Le fichier compte plus de %(limit)s lignes : découpez-le en plusieurs imports.",
                limit=limit,
            )
        )
    return body.astype(object)


# --- validation -----------------------------------------------------------------------------------


@dataclass
class Change:
    header: str
    label: str
    old: str
    new: str


@dataclass
class RowPreview:
    """What one row of the file will do."""

    line: int
    action: str
    name: str = ""
    siret: str = ""
    organisation_id: int | None = None
    organisation_version: int | None = None
    #: Attribute → new value: every field for a creation, the changed ones for an update.
    values: dict = field(default_factory=dict)
    #: For a creation: legal form, VAT regime, commune and categories, as the file writes them.
    summary: str = ""
    changes: list[Change] = field(default_factory=list)
    #: (column, French message)
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ImportPreview:
    filename: str
    columns: list[str]
    rows: list[RowPreview]

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def counts(self) -> dict[str, int]:
        return {action: self.count(action) for action in (CREATE, UPDATE, UNCHANGED, ERROR)}

    @property
    def has_errors(self) -> bool:
        return any(row.action == ERROR for row in self.rows)

    @property
    def error_rows(self) -> list[RowPreview]:
        return [row for row in self.rows if row.action == ERROR]

    @property
    def to_write(self) -> list[RowPreview]:
        return [row for row in self.rows if row.action in (CREATE, UPDATE)]

    def digest(self) -> str:
        """A fingerprint of the plan (actions, matched cards, changes) shown to the coordinator."""
        plan = [
            [
                row.line,
                row.action,
                row.organisation_id,
                row.name,
                [[c.header, c.old, c.new] for c in row.changes],
            ]
            for row in self.rows
        ]
        return hashlib.sha256(json.dumps(plan, ensure_ascii=False).encode()).hexdigest()


class _Context:
    """What the rows are checked against, loaded in a few queries."""

    def __init__(self, frame: pd.DataFrame):
        self.categories = {c.code.lower(): c for c in db.session.scalars(sa.select(Category))}
        sirets = set()
        if "siret" in frame.columns:
            for raw in frame["siret"]:
                compact = re.sub(r"[\s.]", "", str(raw))
                if compact:
                    sirets.add(compact)
        self.by_siret: dict[str, Organisation] = {}
        ordered = sorted(sirets)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            for organisation in db.session.scalars(
                sa.select(Organisation)
                .options(selectinload(Organisation.categories))
                .where(Organisation.siret.in_(chunk))
            ):
                self.by_siret[organisation.siret] = organisation
        self.without_siret: dict[str, list[Organisation]] = {}
        self.names: dict[str, list[tuple[int, str]]] = {}
        if len(frame):
            for organisation in db.session.scalars(
                sa.select(Organisation)
                .options(selectinload(Organisation.categories))
                .where(Organisation.siret.is_(None))
            ):
                self.without_siret.setdefault(_fold(organisation.name), []).append(organisation)
            for org_id, name in db.session.execute(sa.select(Organisation.id, Organisation.name)):
                self.names.setdefault(_fold(name), []).append((org_id, name))
        self.seen_sirets: dict[str, int] = {}
        self.seen_names: dict[str, int] = {}


def _text(value: str, column: Column, nullable: bool):
    text = canonical_text(value)
    if column.max_length and len(text) > column.max_length:
        raise FieldError(
            _(
                "Texte trop long : %(length)s caractères (%(max)s au plus).",
                length=len(text),
                max=column.max_length,
            )
        )
    if not text:
        return None if nullable else ""
    return text


def _choice(value: str, codes: dict, aliases: dict):
    """The enum member for a file's word (its code, its stored value or an alias), or None."""
    folded = _fold(value)
    for member, code in codes.items():
        if folded in (code, member.value):
            return member
    return aliases.get(folded)


def _legal_form(value: str) -> LegalForm:
    allowed = ", ".join(LEGAL_FORM_CODES.values())
    if not _fold(value):
        raise FieldError(_("La forme juridique est obligatoire (%(allowed)s).", allowed=allowed))
    member = _choice(value, LEGAL_FORM_CODES, _LEGAL_FORM_ALIASES)
    if member is None:
        raise FieldError(
            _(
                "Forme juridique inconnue : « %(value)s ». Valeurs acceptées : %(allowed)s.",
                value=value,
                allowed=allowed,
            )
        )
    return member


def _vat_regime(value: str) -> VatRegime:
    allowed = ", ".join(VAT_REGIME_CODES.values())
    if not _fold(value):
        raise FieldError(_("Le régime de TVA est obligatoire (%(allowed)s).", allowed=allowed))
    member = _choice(value, VAT_REGIME_CODES, _VAT_REGIME_ALIASES)
    if member is None:
        raise FieldError(
            _(
                "Régime de TVA inconnu : « %(value)s ». Valeurs acceptées : %(allowed)s.",
                value=value,
                allowed=allowed,
            )
        )
    return member


def _boolean(value: str, attr: str) -> bool:
    folded = _fold(value)
    if not folded:
        return _BOOLEAN_DEFAULTS[attr]
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise FieldError(_("Indiquez « oui » ou « non » (valeur lue : « %(value)s »).", value=value))


def _categories(value: str, context: _Context) -> list[Category]:
    codes = [code.strip().lower() for code in canonical_text(value).split("|") if code.strip()]
    unknown = [code for code in codes if code not in context.categories]
    if unknown:
        raise FieldError(
            _(
                "Catégorie inconnue : %(codes)s (codes existants : %(known)s).",
                codes=", ".join(unknown),
                known=", ".join(sorted(context.categories)) or "—",
            )
        )
    unique = {code: context.categories[code] for code in codes}
    return sorted(unique.values(), key=_category_key)


def _parse_cell(column: Column, raw: str, context: _Context, siren: str | None):
    """The stored value for one cell, or :class:`FieldError`."""
    attr = column.attr
    if attr == "name":
        name = _text(raw, column, nullable=False)
        if not name:
            raise FieldError(_("Le nom est obligatoire."))
        return name
    if attr == "legal_form":
        return _legal_form(raw)
    if attr == "vat_regime":
        return _vat_regime(raw)
    if attr in _BOOLEAN_DEFAULTS:
        return _boolean(raw, attr)
    if attr == "categories":
        return _categories(raw, context)
    nullable = attr not in ("address", "postal_code", "commune", "description")
    text = _text(raw, column, nullable)
    if not text:
        return text
    if attr == "siret":
        return check_siret(text)
    if attr == "vat_number":
        return check_vat_number(text, siren)
    if attr == "postal_code":
        return check_postal_code(text)
    if attr == "commune":
        return canonical_commune(text)
    if attr == "qpv_name":
        return check_qpv_name(text)
    if attr == "email":
        return check_email(text)
    if attr == "website":
        return check_website(text)
    if attr == "iban":
        return check_iban(text)
    if attr == "bic":
        return check_bic(text)
    return text


def _existing_values(organisation: Organisation | None) -> dict:
    if organisation is None:
        return {**_CREATE_DEFAULTS, "categories": []}
    return {column.attr: getattr(organisation, column.attr) for column in COLUMNS}


def _validate_row(line: int, cells: dict[str, str], headers: list[str], context: _Context) -> RowPreview:
    row = RowPreview(line=line, action=ERROR, name=canonical_text(cells.get("nom", "")))
    parsed: dict = {}
    siren = None
    # SIRET first: the VAT number is checked against its SIREN.
    ordered = sorted(headers, key=lambda h: h != "siret")
    for header in ordered:
        column = COLUMNS_BY_HEADER[header]
        try:
            parsed[column.attr] = _parse_cell(column, cells[header], context, siren)
        except FieldError as exc:
            row.errors.append((header, exc.message))
            continue
        if column.attr == "siret" and parsed["siret"]:
            siren = parsed["siret"][:9]
    row.siret = parsed.get("siret") or canonical_text(cells.get("siret", ""))

    # Which card the row is about.
    organisation = None
    siret = parsed.get("siret")
    if siret:
        organisation = context.by_siret.get(siret)
        if siret in context.seen_sirets:
            row.errors.append(
                (
                    "siret",
                    _(
                        "Ce SIRET figure déjà à la ligne %(line)s du fichier.",
                        line=context.seen_sirets[siret],
                    ),
                )
            )
        else:
            context.seen_sirets[siret] = line
    elif "siret" in parsed and parsed.get("name"):
        folded = _fold(parsed["name"])
        matches = context.without_siret.get(folded, [])
        if len(matches) > 1:
            row.errors.append(
                (
                    "siret",
                    _(
                        "Plusieurs fiches sans SIRET s'appellent « %(name)s » : indiquez le SIRET de cette ligne.",
                        name=parsed["name"],
                    ),
                )
            )
        elif matches:
            organisation = matches[0]
        if folded in context.seen_names:
            row.errors.append(
                (
                    "nom",
                    _(
                        "Une ligne sans SIRET porte déjà ce nom (ligne %(line)s du fichier).",
                        line=context.seen_names[folded],
                    ),
                )
            )
        else:
            context.seen_names[folded] = line

    # Checks across fields, on the card as it would be after the import.
    effective = {**_existing_values(organisation), **parsed}
    failed = {header for header, _message in row.errors}
    vat_failed = bool(failed & {"numero_tva", "regime_tva"})
    if (
        effective.get("vat_regime") == VatRegime.SUBJECT
        and not effective.get("vat_number")
        and not vat_failed
    ):
        row.errors.append(("numero_tva", _("Un acteur assujetti à la TVA doit avoir un numéro de TVA.")))
    if "qpv_name" not in failed and "qpv" not in failed:
        if effective.get("qpv") and not effective.get("qpv_name"):
            row.errors.append(
                ("quartier_qpv", _("Indiquez le quartier prioritaire (la colonne qpv vaut « oui »)."))
            )
        if "qpv_name" in parsed and parsed["qpv_name"] and not effective.get("qpv"):
            row.errors.append(
                (
                    "quartier_qpv",
                    _("Un quartier prioritaire est indiqué alors que la colonne qpv vaut « non »."),
                ),
            )

    if organisation is not None:
        row.organisation_id = organisation.id
        row.organisation_version = organisation.version_id
    if row.errors:
        row.errors.sort(key=lambda item: HEADERS.index(item[0]) if item[0] in HEADERS else len(HEADERS))
        return row

    if organisation is None:
        row.action = CREATE
        row.values = effective
        row.summary = " · ".join(
            text
            for header in ("forme_juridique", "regime_tva", "commune", "categories")
            if (
                text := format_value(COLUMNS_BY_HEADER[header], effective.get(COLUMNS_BY_HEADER[header].attr))
            )
        )
        if effective.get("qpv") is False:
            row.values["qpv_name"] = None
        others = context.names.get(_fold(parsed["name"]), [])
        if others:
            row.warnings.append(
                ("nom", _("Une autre fiche porte déjà ce nom (« %(name)s »).", name=others[0][1]))
            )
    else:
        current = organisation_values(organisation)
        for column in (c for c in COLUMNS if c.header in headers):
            header = column.header
            new = format_value(column, parsed[column.attr])
            if column.attr == "qpv_name" and not effective.get("qpv"):
                new = ""
            if new != current[header]:
                row.changes.append(Change(header, str(column.label), current[header], new))
                row.values[column.attr] = parsed[column.attr]
        row.action = UPDATE if row.changes else UNCHANGED
    if row.action == CREATE or {"commune", "code_postal"} & {c.header for c in row.changes}:
        warning = territory_warning(effective.get("commune") or "", effective.get("postal_code") or "")
        if warning and effective.get("commune"):
            row.warnings.append(("commune", warning))
    return row


def validate_rows(frame: pd.DataFrame, filename: str = "") -> ImportPreview:
    """Check every row against the fields' rules and the existing cards; writes nothing.

    ``frame`` comes from :func:`read_table` (canonical headers, index = line numbers).
    Raises :class:`FileRefused` when its columns are wrong.
    """
    headers = [str(h) for h in frame.columns]
    check_columns(headers)
    context = _Context(frame)
    rows = []
    for line, record_values in zip(frame.index, frame.to_dict("records"), strict=True):
        cells = {h: "" if v is None else str(v) for h, v in record_values.items()}
        rows.append(_validate_row(int(line), cells, headers, context))
    return ImportPreview(filename=filename, columns=headers, rows=rows)


# --- applying -------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: list[Organisation]
    updated: list[Organisation]


def _slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:100].rstrip("-")
    return slug or "acteur"


def _unique_slug(name: str, taken: set[str]) -> str:
    base = _slugify(name)
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def _audit_value(attr: str, value):
    if attr == "categories":
        return "|".join(c.code for c in sorted(value, key=_category_key))
    return value


def apply_import(preview: ImportPreview, user) -> ImportResult:
    """Create and update the previewed cards, all or none; flushes, never commits.

    Raises :class:`Forbidden` (not coordination), :class:`ImportHasErrors` (any error row: nothing is
    written) and :class:`Conflict` (a card changed since the preview was computed).
    """
    if not can_import_directory(user):
        raise Forbidden(_("Seule la coordination peut importer des fiches."))
    if preview.has_errors:
        raise ImportHasErrors(
            _(
                "Le fichier contient %(n)s ligne(s) en erreur : rien n'a été enregistré. "
                "Corrigez-les dans le fichier, puis importez-le à nouveau.",
                n=preview.count(ERROR),
            )
        )
    rows = preview.to_write
    if not rows:
        return ImportResult(created=[], updated=[])
    taken = set(db.session.scalars(sa.select(Organisation.slug)))
    created: list[tuple[RowPreview, Organisation]] = []
    updated: list[tuple[RowPreview, Organisation, dict]] = []
    for row in rows:
        if row.action == CREATE:
            values = dict(row.values)
            categories = values.pop("categories", [])
            organisation = Organisation(slug=_unique_slug(values["name"], taken), **values)
            organisation.categories = list(categories)
            db.session.add(organisation)
            created.append((row, organisation))
        else:
            organisation = db.session.get(Organisation, row.organisation_id)
            if organisation is None or organisation.version_id != row.organisation_version:
                raise Conflict(
                    _(
                        "La fiche de la ligne %(line)s a été modifiée ou supprimée entre-temps : "
                        "importez le fichier à nouveau.",
                        line=row.line,
                    )
                )
            changes = {}
            for attr, value in row.values.items():
                before = getattr(organisation, attr)
                changes[attr] = (_audit_value(attr, before), _audit_value(attr, value))
                setattr(organisation, attr, list(value) if attr == "categories" else value)
            updated.append((row, organisation, changes))
    db.session.flush()
    source = preview.filename or _("fichier")
    for row, organisation in created:
        record(
            "organisation.created",
            organisation,
            user=user,
            summary=N_(
                "Fiche « %(name)s » créée par import (%(file)s, ligne %(line)s)",
                name=organisation.name,
                file=source,
                line=row.line,
            ),
        )
    for row, organisation, changes in updated:
        record(
            "organisation.updated",
            organisation,
            user=user,
            summary=N_(
                "Fiche « %(name)s » modifiée par import (%(file)s, ligne %(line)s)",
                name=organisation.name,
                file=source,
                line=row.line,
            ),
            changes=changes,
        )
    return ImportResult(created=[o for _row, o in created], updated=[o for _row, o, _c in updated])


# --- the uploaded file between preview and confirmation -------------------------------------------

_KEY = re.compile(r"^[A-Za-z0-9_-]{32}$")
_SIGNATURE_NAMESPACE = "maillage.directory-import"


@dataclass(frozen=True)
class StoredUpload:
    key: str
    extension: str
    user_id: int
    sha256: str
    #: :meth:`ImportPreview.digest` of the preview the coordinator saw.
    plan: str
    filename: str

    @property
    def path(self) -> Path:
        return import_dir() / f"{self.key}.{self.extension}"


def import_dir() -> Path:
    configured = current_app.config.get("DIRECTORY_IMPORT_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "imports"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SIGNATURE_NAMESPACE)


def sign_upload(upload: StoredUpload) -> str:
    return _serializer().dumps(
        {
            "k": upload.key,
            "x": upload.extension,
            "u": upload.user_id,
            "h": upload.sha256,
            "p": upload.plan,
            "n": upload.filename,
        }
    )


def purge_old_uploads(max_age: int = UPLOAD_MAX_AGE) -> int:
    """Delete stored uploads older than ``max_age`` seconds; returns how many."""
    directory = import_dir()
    if not directory.is_dir():
        return 0
    limit = time.time() - max_age
    removed = 0
    for path in directory.iterdir():
        if path.suffix.lstrip(".") in EXTENSIONS and _KEY.match(path.stem):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
    return removed


def store_upload(filename: str, data: bytes, user, preview: ImportPreview) -> str:
    """Keep the file server-side for the confirmation; returns the signed token for the page."""
    purge_old_uploads()
    directory = import_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_urlsafe(24)
    upload = StoredUpload(
        key=key,
        extension=file_extension(filename),
        user_id=user.id,
        sha256=hashlib.sha256(data).hexdigest(),
        plan=preview.digest(),
        filename=Path(filename).name[:200],
    )
    with open(upload.path, "xb") as handle:
        handle.write(data)
    upload.path.chmod(0o600)
    return sign_upload(upload)


def load_upload(token: str, user) -> tuple[StoredUpload, bytes]:
    """The stored file of a preview, for its author only.

    Raises :class:`InvalidImportToken` (forged, expired, file gone or changed) and :class:`Forbidden`
    (another user's preview).
    """
    purge_old_uploads()
    try:
        payload = _serializer().loads(token or "", max_age=UPLOAD_MAX_AGE)
    except SignatureExpired as exc:
        raise InvalidImportToken(_("Cet aperçu a expiré (24 h) : importez le fichier à nouveau.")) from exc
    except BadSignature as exc:
        raise InvalidImportToken(_("Le jeton de confirmation de l'import n'est pas valide.")) from exc
    try:
        upload = StoredUpload(
            key=str(payload["k"]),
            extension=str(payload["x"]),
            user_id=int(payload["u"]),
            sha256=str(payload["h"]),
            plan=str(payload["p"]),
            filename=str(payload["n"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidImportToken(_("Le jeton de confirmation de l'import n'est pas valide.")) from exc
    if not _KEY.match(upload.key) or upload.extension not in EXTENSIONS:
        raise InvalidImportToken(_("Le jeton de confirmation de l'import n'est pas valide."))
    if upload.user_id != getattr(user, "id", None):
        raise Forbidden(_("Cet aperçu a été préparé par une autre personne : importez le fichier vous-même."))
    try:
        data = upload.path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidImportToken(
            _(
                "Ce fichier n'est plus disponible : il a déjà été importé, ou l'aperçu a expiré. "
                "Importez-le à nouveau."
            )
        ) from exc
    if hashlib.sha256(data).hexdigest() != upload.sha256:
        raise InvalidImportToken(
            _("Le fichier conservé ne correspond plus à l'aperçu : importez-le à nouveau.")
        )
    return upload, data


def restamp_upload(upload: StoredUpload, preview: ImportPreview) -> str:
    """A new token for the same file, after the plan changed and the new preview is shown."""
    upload.path.touch()
    return sign_upload(replace(upload, plan=preview.digest()))


def discard_upload(upload: StoredUpload) -> None:
    upload.path.unlink(missing_ok=True)
