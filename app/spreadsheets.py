"""Spreadsheet files people open in Excel or LibreOffice: XLSX and CSV for French Excel.

Every export of the application (the actors' directory, the treasurer's exports) writes through
:func:`write_xlsx` and :func:`write_csv`, so that no cell of ours is ever run as a formula.

Typed cells
    ``str`` is text; ``int`` and :class:`~decimal.Decimal` are numbers; :class:`~datetime.date` and
    :class:`~datetime.datetime` are dates (an aware datetime is shown in Paris time, see
    :mod:`app.dates`); ``None`` and ``""`` are empty cells. ``float`` and ``bool`` are refused
    (``TypeError``): amounts are Decimals, and the words for yes/no are the caller's to choose.

Formula injection
    XLSX: text is written as an explicit string cell (``data_type="s"``, number format ``@``), so
    ``=1+1`` stays the four characters ``=1+1``; numbers and dates are real cells with a number
    format. CSV (UTF-8 with BOM, ``;`` separator, CR LF, what French Excel opens by double click):
    text starting with ``= + - @``, tab or CR — or with an apostrophe — gets one leading apostrophe
    (:func:`escape_csv_cell`); :func:`unescape_csv_cell` removes exactly that apostrophe, so an
    import of our own export gets back the exact text. Numbers and dates are not text and are never
    escaped: ``Decimal("-5")`` is written ``-5``, and ``1234,56`` with a decimal comma.

Characters XML forbids (control characters other than tab, LF and CR) cannot be stored in an XLSX:
they are dropped from text cells rather than failing the whole export.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from app.dates import LOCAL_TZ

#: Text starting with one of these could be read by a spreadsheet as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_CSV_ESCAPED = (*FORMULA_TRIGGERS, "'")

#: Number formats of typed XLSX cells when the column gives none.
DECIMAL_FORMAT = "#,##0.00"
INTEGER_FORMAT = "0"
DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
TEXT_FORMAT = "@"

DEFAULT_WIDTH = 18


@dataclass(frozen=True)
class Column:
    """A column of a sheet: its header, its width in XLSX, and optionally its number format."""

    header: str
    width: int = DEFAULT_WIDTH
    #: For numbers and dates (e.g. ``'#,##0.00 "€"'``); text is always ``@``.
    number_format: str | None = None


def escape_csv_cell(text: str) -> str:
    """Prefix one apostrophe when a spreadsheet could read the cell as a formula (or it starts with one)."""
    return "'" + text if text.startswith(_CSV_ESCAPED) else text


def unescape_csv_cell(text: str) -> str:
    """Undo :func:`escape_csv_cell`: drop one apostrophe followed by a formula trigger or an apostrophe."""
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(_CSV_ESCAPED):
        return text[1:]
    return text


def _check_type(value) -> None:
    if isinstance(value, bool | float):
        raise TypeError(
            f"{type(value).__name__} is not written to a spreadsheet: pass a Decimal, or the words to show"
        )
    if not isinstance(value, str | int | Decimal | date | None):
        raise TypeError(f"cannot write {type(value).__name__} to a spreadsheet cell")


def _naive_local(value: datetime) -> datetime:
    """Excel has no time zones: an aware datetime becomes Paris wall time."""
    if value.tzinfo is None:
        return value
    return value.astimezone(LOCAL_TZ).replace(tzinfo=None)


# --- CSV -----------------------------------------------------------------------------------------


def csv_cell(value) -> str:
    """The CSV text of one typed value (see the module docstring)."""
    _check_type(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return escape_csv_cell(value)
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return _naive_local(value).strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def write_csv(columns: Sequence[Column | str], rows: Iterable[Sequence[object]]) -> bytes:
    """CSV for French Excel: UTF-8 with BOM, ``;``, CR LF, formula-like text prefixed with ``'``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([csv_cell(_column(c).header) for c in columns])
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


# --- XLSX ----------------------------------------------------------------------------------------


def _column(column: Column | str) -> Column:
    return column if isinstance(column, Column) else Column(column)


def xlsx_cell(sheet, value, number_format: str | None = None, font: Font | None = None):
    """One typed write-only cell of ``sheet``, or ``None`` for an empty one (see the module docstring)."""
    _check_type(value)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        # Assigning a value starting with "=" made it a formula; text it is, displayed as text.
        cell.data_type = "s"
        cell.number_format = TEXT_FORMAT
    elif isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=_naive_local(value))
        cell.number_format = number_format or DATETIME_FORMAT
    elif isinstance(value, date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = number_format or DATE_FORMAT
    else:
        cell = WriteOnlyCell(sheet, value=value)
        default = DECIMAL_FORMAT if isinstance(value, Decimal) else INTEGER_FORMAT
        cell.number_format = number_format or default
    if font is not None:
        cell.font = font
    return cell


def write_xlsx(title: str, columns: Sequence[Column | str], rows: Iterable[Sequence[object]]) -> bytes:
    """A one-sheet workbook: bold headers, frozen first row, typed cells; text never a formula.

    ``title`` is the sheet's name (at most 31 characters, without ``[]:*?/\\``).
    """
    columns = [_column(c) for c in columns]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    bold = Font(bold=True)
    try:
        sheet.append([xlsx_cell(sheet, column.header, font=bold) for column in columns])
        for row in rows:
            sheet.append(
                [
                    xlsx_cell(sheet, value, column.number_format)
                    for column, value in zip(columns, row, strict=True)
                ]
            )
    except BaseException:
        # A refused value: close the half-written sheet's stream before the error goes up.
        with contextlib.suppress(Exception):
            sheet.close()
        raise
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
