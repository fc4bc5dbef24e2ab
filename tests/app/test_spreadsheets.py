"""app.spreadsheets on its own: typed cells, no formula ever alive, CSV for French Excel.

Each case is written to a real file and read back (openpyxl for XLSX, the csv module for CSV).
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import openpyxl.styles
import pytest
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from app.dates import LOCAL_TZ
from app.spreadsheets import Column, csv_cell, escape_csv_cell, unescape_csv_cell, write_csv, write_xlsx


def wall(*args) -> datetime:
    """A naive Paris wall-clock time, as openpyxl reads a date cell back."""
    return datetime(*args, tzinfo=UTC).replace(tzinfo=None)


#: value written -> (XLSX value read back, XLSX data type, XLSX number format, CSV text).
CASES = [
    ("=1+1", "=1+1", "s", "@", "'=1+1"),
    (
        '=HYPERLINK("http://evil.example/","x")',
        '=HYPERLINK("http://evil.example/","x")',
        "s",
        "@",
        '\'=HYPERLINK("http://evil.example/","x")',
    ),
    ("+33 2 40 00 00 01", "+33 2 40 00 00 01", "s", "@", "'+33 2 40 00 00 01"),
    ("-5", "-5", "s", "@", "'-5"),
    ("@SUM(A1:A2)", "@SUM(A1:A2)", "s", "@", "'@SUM(A1:A2)"),
    ("\tx", "\tx", "s", "@", "'\tx"),
    ("\rx", "\rx", "s", "@", "'\rx"),
    ("'=déjà", "'=déjà", "s", "@", "''=déjà"),
    ("plain text", "plain text", "s", "@", "plain text"),
    ("a'=b", "a'=b", "s", "@", "a'=b"),
    ("0240000000", "0240000000", "s", "@", "0240000000"),
    (Decimal("-5"), -5, "n", "#,##0.00", "-5"),
    (Decimal("1234.56"), 1234.56, "n", "#,##0.00", "1234,56"),
    (Decimal("0.00"), 0, "n", "#,##0.00", "0,00"),
    (42, 42, "n", "0", "42"),
    (-7, -7, "n", "0", "-7"),
    (date(2026, 6, 16), wall(2026, 6, 16, 0, 0), "d", "dd/mm/yyyy", "16/06/2026"),
    # Aware datetimes are shown in Paris time (UTC+2 in June): Excel has no time zones.
    (
        datetime(2026, 6, 16, 7, 5, tzinfo=UTC),
        wall(2026, 6, 16, 9, 5),
        "d",
        "dd/mm/yyyy hh:mm",
        "16/06/2026 09:05",
    ),
    (None, None, None, None, ""),
    ("", None, None, None, ""),
]


def _xlsx_row(values, columns=None):
    columns = columns or [Column(f"c{i}") for i in range(len(values))]
    data = write_xlsx("Feuille", columns, [values])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return sheet, next(sheet.iter_rows(min_row=2, max_row=2))


@pytest.mark.parametrize(("value", "read_back", "data_type", "number_format", "_csv"), CASES)
def test_xlsx_cell_is_typed_and_never_a_formula(value, read_back, data_type, number_format, _csv):
    _sheet, (cell,) = _xlsx_row([value])
    assert cell.value == read_back
    if data_type is None:  # an empty cell: nothing is written
        assert cell.value is None
    else:
        assert (cell.data_type, cell.number_format) == (data_type, number_format)


@pytest.mark.parametrize(("value", "_read_back", "_data_type", "_number_format", "csv_text"), CASES)
def test_csv_cell_escapes_formula_like_text_only(value, _read_back, _data_type, _number_format, csv_text):
    assert csv_cell(value) == csv_text
    data = write_csv(["colonne"], [[value]])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows == [["colonne"], [csv_text]]


def test_a_whole_row_of_cases_reads_back_in_one_sheet():
    values = [case[0] for case in CASES]
    _sheet, cells = _xlsx_row(values)
    assert [cell.value for cell in cells] == [case[1] for case in CASES]


def test_xlsx_has_bold_frozen_headers_widths_and_column_number_formats():
    columns = [Column("Libellé", width=40), Column("Montant", number_format='#,##0.00 "€"'), "Date"]
    data = write_xlsx("Factures", columns, [["Traiteur", Decimal("1234.50"), date(2026, 1, 2)]])
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet.title == "Factures"
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == ["Libellé", "Montant", "Date"]
    assert all(c.font.bold and c.data_type == "s" for c in sheet[1])
    assert sheet.column_dimensions["A"].width == 40
    assert sheet.column_dimensions["B"].width == 18
    amount, day = sheet["B2"], sheet["C2"]
    assert (amount.value, amount.number_format) == (1234.5, '#,##0.00 "€"')
    assert (day.value, day.number_format) == (wall(2026, 1, 2), "dd/mm/yyyy")


def test_characters_xml_forbids_are_dropped_from_xlsx_text():
    _sheet, (cell,) = _xlsx_row(["a\x00b\x1fc\nd"])
    assert cell.value == "abc\nd"


def test_csv_is_utf8_with_bom_semicolons_and_crlf():
    data = write_csv([Column("nom"), "montant"], [["L'Atelier ; « Coop »", Decimal("10.50")], ["=x", None]])
    assert data == "\ufeffnom;montant\r\n\"L'Atelier ; « Coop »\";10,50\r\n'=x;\r\n".encode()


@pytest.mark.parametrize("value", [1.5, True, False, object()])
def test_floats_booleans_and_other_objects_are_refused(value):
    with pytest.raises(TypeError):
        csv_cell(value)
    with pytest.raises(TypeError):
        write_xlsx("Feuille", ["c"], [[value]])


def test_a_row_with_the_wrong_number_of_cells_is_refused():
    with pytest.raises(ValueError):
        write_xlsx("Feuille", ["a", "b"], [["seulement une"]])


@pytest.mark.parametrize(
    "value", ["=1+1", "+33", "-x", "@a", "\tx", "\rx", "'", "''", "'=x", "'hello", "plain", "a'=b", ""]
)
def test_the_csv_escape_is_exactly_reversible(value):
    assert unescape_csv_cell(escape_csv_cell(value)) == value
    escaped = escape_csv_cell(value)
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))


#: Text whose XML needs care: markup characters, a closing tag and a formula after it, the end of a
#: CDATA section, CR (an XML parser reads a bare one as LF), spaces kept at the ends, non-ASCII.
MARKUP_TEXTS = [
    "a & b < c > d \"e\" 'f'",
    '</t></is></c><c r="Z9"><f>1+1</f></c><c><is><t>',
    "&amp; &#13; &lt;",
    "]]>",
    "a\rb",
    "a\r\nb\n",
    "  deux espaces  ",
    "\tTab",
    "fin\t",
    "\u00a0insécable\u00a0",
    "Café « Coop » — 🎉",
    "=1+1 ",
    " ",
]


def test_text_with_markup_reads_back_exactly_and_never_as_a_formula():
    _sheet, cells = _xlsx_row(MARKUP_TEXTS)
    assert [cell.value for cell in cells] == MARKUP_TEXTS
    assert {cell.data_type for cell in cells} == {"s"}


def _sheet_data(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml")
    return xml[xml.index(b"<sheetData>") : xml.index(b"</sheetData>")]


def test_rows_are_the_xml_openpyxl_writes_for_the_same_cells():
    """Rows are made as XML (not cell by cell through openpyxl): the same bytes as openpyxl's own
    write-only sheet given the same typed, styled cells."""
    columns = [
        Column("Texte"),
        Column("Montant", number_format='#,##0.00 "€"', total=True),
        Column("Nombre", total=True),
        "Jour",
        "Heure",
    ]
    rows = [
        [text, amount, number, day, moment]
        for text, amount, number, day, moment in zip(
            [*MARKUP_TEXTS, "x\x00y", "L" * 40000],
            [Decimal("1234.56"), Decimal("-0.01"), Decimal("0.00"), Decimal("12345678901234.5678"), None] * 3,
            [0, -7, 10**18, None, 42] * 3,
            [date(2026, 6, 16), date(1900, 1, 1), date(1900, 3, 1), None, date(2099, 12, 31)] * 3,
            [datetime(2026, 6, 16, 7, 5, tzinfo=UTC), wall(2026, 1, 2, 3, 4, 5), None, None, None] * 3,
            strict=True,
        )
    ]
    ours = write_xlsx("Feuille", columns, rows)

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Feuille")
    bold = openpyxl.styles.Font(bold=True)

    def cell(value, number_format, font=None):
        if value is None:
            return None
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)[:32767]
        elif isinstance(value, datetime):
            value = value.astimezone(LOCAL_TZ).replace(tzinfo=None) if value.tzinfo else value
        written = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            written.data_type = "s"
        written.number_format = number_format
        if font:
            written.font = font
        return written

    formats = ['#,##0.00 "€"', "0", "dd/mm/yyyy", "dd/mm/yyyy hh:mm"]
    sheet.append(
        [cell(column.header if isinstance(column, Column) else column, "@", bold) for column in columns]
    )
    for row in rows:
        sheet.append([cell(row[0], "@"), *(cell(v, f) for v, f in zip(row[1:], formats, strict=True))])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert _sheet_data(ours) == _sheet_data(buffer.getvalue())
