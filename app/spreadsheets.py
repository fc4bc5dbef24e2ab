"""Spreadsheet files people open in Excel or LibreOffice: XLSX and CSV for French Excel.

Every export of the application (the actors' directory, the treasurer's exports) writes through
:func:`write_xlsx` and :func:`write_csv`, so that no cell of ours is ever run as a formula.

Typed cells
    ``str`` is text; ``int`` and :class:`~decimal.Decimal` are numbers; :class:`~datetime.date` and
    :class:`~datetime.datetime` are dates (an aware datetime is shown in Paris time, see
    :mod:`app.dates`); ``None`` and ``""`` are empty cells. ``float`` and ``bool`` are refused
    (``TypeError``): amounts are Decimals, and the words for yes/no are the caller's to choose.

Formula injection
    XLSX: text is written as an explicit inline string cell (``t="inlineStr"``, number format ``@``,
    ``& < >`` escaped), never a formula, so ``=1+1`` stays the four characters ``=1+1``; numbers and dates are real cells with a number
    format. CSV (UTF-8 with BOM, ``;`` separator, CR LF, what French Excel opens by double click):
    text starting with ``= + - @``, tab or CR — or with an apostrophe — gets one leading apostrophe
    (:func:`escape_csv_cell`); :func:`unescape_csv_cell` removes exactly that apostrophe, so an
    import of our own export gets back the exact text. Numbers and dates are not text and are never
    escaped: ``Decimal("-5")`` is written ``-5``, and ``1234,56`` with a decimal comma.

Characters XML forbids (control characters other than tab, LF and CR) cannot be stored in an XLSX:
they are dropped from text cells rather than failing the whole export.

Large workbooks
    :class:`XlsxSheet` streams one sheet of a write-only workbook (:func:`new_workbook`,
    :func:`workbook_bytes`): rows are written as they come, never held. Each row is made directly as
    the XML openpyxl would write for its typed, styled cells (each column's style looked up once per
    kind of value), and written whole: a styled sheet costs less than openpyxl writing bare values
    cell by cell. It adds what the treasurer's exports need: an autofilter on the header, and a bold
    totals row summing the columns marked ``total`` (values, never formulas).
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from math import isfinite

from lxml import etree
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

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
#: Amounts in euros, as French Excel shows them (``-1 234,56 €``).
EURO_FORMAT = '#,##0.00 "€"'
#: VAT rates stored as fractions (``0.055`` shows ``5,5 %``).
RATE_FORMAT = "0.0%"
#: The longest text a cell holds (Excel's limit).
MAX_TEXT = 32767

DEFAULT_WIDTH = 18


@dataclass(frozen=True)
class Column:
    """A column of a sheet: its header, its width in XLSX, and optionally its number format."""

    header: str
    width: int = DEFAULT_WIDTH
    #: For numbers and dates (e.g. ``'#,##0.00 "€"'``); text is always ``@``.
    number_format: str | None = None
    #: Summed on the totals row of an :class:`XlsxSheet`.
    total: bool = False


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


def write_xlsx(title: str, columns: Sequence[Column | str], rows: Iterable[Sequence[object]]) -> bytes:
    """A one-sheet workbook: bold headers, frozen first row, typed cells; text never a formula.

    ``title`` is the sheet's name (at most 31 characters, without ``[]:*?/\\``).
    """
    workbook = new_workbook()
    sheet = XlsxSheet(workbook, title, columns, autofilter=False)
    sheet.extend(rows)
    return workbook_bytes(workbook)


# --- streamed sheets -----------------------------------------------------------------------------


class _StreamedSheet(WriteOnlyWorksheet):
    """A write-only sheet whose rows come already as the XML of a ``<row>`` (:class:`XlsxSheet`
    makes it): openpyxl writes the sheet around them, its columns, panes, filter and charts."""

    def append_xml(self, xml: str) -> None:
        self._get_writer()
        if self._rows is None:
            self._rows = self._write_rows()
            next(self._rows)
        self._rows.send(xml)

    def _write_rows(self):
        """openpyxl's own loop (:meth:`WriteOnlyWorksheet._write_rows`), each row parsed from its XML
        and written whole instead of cell by cell."""
        try:
            xf = self._writer.xf.send(True)
        except StopIteration:
            self._already_saved()
        with xf.element("sheetData"):
            try:
                while True:
                    xf.write(etree.fromstring((yield)))
            except GeneratorExit:
                pass
        self._writer.xf.send(None)


def new_workbook() -> Workbook:
    """An empty write-only workbook for :class:`XlsxSheet` (save it with :func:`workbook_bytes`)."""
    return Workbook(write_only=True)


def workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


_TEXT, _NUMBER, _INTEGER, _DATE, _DATETIME = range(5)
_DEFAULT_FORMATS = {
    _TEXT: TEXT_FORMAT,
    _NUMBER: DECIMAL_FORMAT,
    _INTEGER: INTEGER_FORMAT,
    _DATE: DATE_FORMAT,
    _DATETIME: DATETIME_FORMAT,
}


def _xml_text(text: str) -> str:
    """``text`` as XML element content: markup characters escaped, and CR as a character reference
    (an XML parser reads a bare CR as a line feed). Text without them is returned as is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _number_text(value: float) -> str:
    """A number as openpyxl writes it (``safe_string``): 16 significant digits, empty if not finite."""
    return f"{value:.16g}" if isfinite(value) else ""


class XlsxSheet:
    """One sheet of a write-only workbook, written row by row (see the module docstring).

    The header is bold and frozen, widths come from the columns, an autofilter covers the header and
    the data rows (not the totals row, so that sorting leaves it last). Call :meth:`close` (or
    :meth:`append_totals`, which closes) before saving the workbook.

    Each row is made as the XML openpyxl writes for such cells — ``<c r="B7" s="3" t="n"><v>12.5</v></c>``,
    text an inline string ``<c … t="inlineStr"><is><t>…</t></is></c>`` (escaped, never a formula) —
    from the markup of its column and kind of value, made once with the cell's style id; the sheet
    parses and writes the row whole.
    """

    def __init__(
        self,
        workbook: Workbook,
        title: str,
        columns: Sequence[Column | str],
        *,
        autofilter: bool = True,
        index: int | None = None,
    ):
        """``index``: the sheet's place among those already made (last by default)."""
        self.columns = [_column(c) for c in columns]
        self.sheet = _StreamedSheet(parent=workbook, title=title)
        workbook._add_sheet(self.sheet, index)
        self.sheet.freeze_panes = "A2"
        for index, column in enumerate(self.columns, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = column.width
        self.autofilter = autofilter
        #: Data rows written so far (header and totals excluded).
        self.rows = 0
        self.totals: list[Decimal | None] = [Decimal("0") if c.total else None for c in self.columns]
        #: Per column, per (kind, bold): the cell's markup before and after its row number.
        self._markup: list[dict[tuple[int, bool], tuple[str, str]]] = [{} for _c in self.columns]
        self._epoch = workbook.epoch
        self._closed = False
        self._write(self._xml(1, [column.header for column in self.columns], bold=True))

    def _write(self, xml: str) -> None:
        try:
            self.sheet.append_xml(xml)
        except BaseException:
            # Close the half-written sheet's stream before the error goes up.
            with contextlib.suppress(Exception):
                self.sheet.close()
            raise

    def _cell_markup(self, index: int, kind: int, bold: bool) -> tuple[str, str]:
        """The markup of a cell of column ``index`` holding a value of ``kind``, before and after its
        row number; its style (number format, and bold font) is looked up in the workbook here, once."""
        cell = WriteOnlyCell(self.sheet)
        column_format = self.columns[index].number_format
        cell.number_format = (
            _DEFAULT_FORMATS[kind] if kind == _TEXT else column_format or _DEFAULT_FORMATS[kind]
        )
        if bold:
            cell.font = Font(bold=True)
        content = 't="inlineStr"><is>' if kind == _TEXT else 't="n"><v>'
        markup = (f'<c r="{get_column_letter(index + 1)}', f'" s="{cell.style_id}" {content}')
        self._markup[index][kind, bold] = markup
        return markup

    def append(self, row: Sequence[object]) -> None:
        """Write one row of typed values (``str``, ``int``, ``Decimal``, ``date``, ``datetime``, ``None``)."""
        try:
            xml = self._xml(self.rows + 2, row)
        except BaseException:
            with contextlib.suppress(Exception):
                self.sheet.close()
            raise
        self._write(xml)
        self.rows += 1

    def _xml(self, number: int, row: Sequence[object], bold: bool = False) -> str:
        """The XML of row ``number``; adds its numbers to the totals unless ``bold`` (header, totals)."""
        if len(row) != len(self.columns):
            raise ValueError(f"a row of {len(row)} cells in a sheet of {len(self.columns)} columns")
        at = str(number)
        xml = [f'<row r="{at}">']
        totals = self.totals
        markups = self._markup
        for index, value in enumerate(row):
            kind = _PLAIN_KINDS.get(type(value))
            if kind is None:
                kind = _kind(value)  # empty, a subclass (an enum), or refused
                if kind is None:
                    continue
            elif kind == _TEXT and not value:
                continue
            before, after = markups[index].get((kind, bold)) or self._cell_markup(index, kind, bold)
            if kind == _TEXT:
                text = ILLEGAL_CHARACTERS_RE.sub("", value)[:MAX_TEXT]
                tag = "<t>" if text == text.strip() else '<t xml:space="preserve">'
                xml.append(f"{before}{at}{after}{tag}{_xml_text(text)}</t></is></c>")
                continue
            if kind == _NUMBER:
                number_text = _number_text(float(value))
            elif kind == _INTEGER:
                number_text = _number_text(value)
            elif kind == _DATE:
                number_text = _number_text(to_excel(value, self._epoch))
            else:
                number_text = _number_text(to_excel(_naive_local(value), self._epoch))
            if not bold and kind != _DATE and kind != _DATETIME and totals[index] is not None:
                totals[index] += value
            xml.append(f"{before}{at}{after}{number_text}</v></c>")
        xml.append("</row>")
        return "".join(xml)

    def extend(self, rows: Iterable[Sequence[object]]) -> None:
        for row in rows:
            self.append(row)

    def append_totals(self, label: str) -> None:
        """A bold last row: ``label`` in the first column, the sums of the ``total`` columns."""
        self.close()
        values: list[object] = [None] * len(self.columns)
        values[0] = label
        for index, total in enumerate(self.totals):
            if total is not None:
                values[index] = total
        self._write(self._xml(self.rows + 2, values, bold=True))

    def close(self) -> None:
        """Set the autofilter over the header and the data rows (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self.autofilter:
            last = get_column_letter(len(self.columns))
            self.sheet.auto_filter.ref = f"A1:{last}{self.rows + 1}"


#: The kind of a value of exactly these types (the common case, one look-up).
_PLAIN_KINDS = {str: _TEXT, Decimal: _NUMBER, int: _INTEGER, date: _DATE, datetime: _DATETIME}


def _kind(value) -> int | None:
    """The kind of a typed value (``None`` for an empty cell); ``TypeError`` for floats, booleans…"""
    kind = type(value)
    if kind is str:
        return _TEXT if value else None
    if value is None:
        return None
    if kind is Decimal:
        return _NUMBER
    if kind is date:
        return _DATE
    if kind is int:
        return _INTEGER
    if kind is datetime:
        return _DATETIME
    _check_type(value)  # floats, booleans and unknown objects are refused here
    if isinstance(value, str):  # a str subclass (an enum): text
        return _TEXT if value else None
    if isinstance(value, datetime):
        return _DATETIME
    if isinstance(value, date):
        return _DATE
    return _NUMBER if isinstance(value, Decimal) else _INTEGER
