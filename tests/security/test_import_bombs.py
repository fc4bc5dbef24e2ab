"""Hostile spreadsheets on the directory import: refused in well under a second, with a French message.

An XLSX is a zip of XML. A small upload may inflate to tens of megabytes (a zip bomb) or hold a
million rows; the import checks the sizes the zip directory declares before inflating anything,
then streams the first sheet's rows with a hard cap (see ``app/directory/exchange.py``).
"""

from __future__ import annotations

import html
import io
import zipfile

import pytest

from app.directory import exchange
from tests.conftest import csrf_token

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Acteurs" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    '<row r="1"><c r="A1" t="inlineStr"><is><t>nom</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>forme_juridique</t></is></c>'
    '<c r="C1" t="inlineStr"><is><t>regime_tva</t></is></c>'
    '<c r="D1" t="inlineStr"><is><t>siret</t></is></c></row>'
)
SHEET_TAIL = "</sheetData></worksheet>"


def workbook(sheet_chunks) -> bytes:
    """A minimal valid XLSX whose first sheet's XML is written directly, chunk by chunk."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(SHEET_HEAD.encode())
            for chunk in sheet_chunks:
                sheet.write(chunk)
            sheet.write(SHEET_TAIL.encode())
    return buffer.getvalue()


def bomb() -> bytes:
    """About 200 KB that inflate to 60 MB: one cell of a valid row padded with spaces."""
    padding = b" " * (1024 * 1024)
    return workbook(
        [b'<row r="2"><c r="A2" t="inlineStr"><is><t>Acteur</t></is></c></row>', *([padding] * 60)]
    )


def million_rows() -> bytes:
    """A million short rows, written as XML straight into the zip (a few tens of KB: rows and cells
    without a reference are numbered in order, so every row is the same bytes)."""
    return workbook([b"<row><c><v>1</v></c></row>" * 1_000_000])


@pytest.fixture(scope="module")
def bomb_file() -> bytes:
    return bomb()


@pytest.fixture(scope="module")
def million_file() -> bytes:
    return million_rows()


@pytest.fixture
def coordinator(make_user, auth):
    user = make_user("coordinator")
    auth.login(user.email)
    return user


def post(client, data: bytes):
    token = csrf_token(client.get("/acteurs/import").get_data(as_text=True))
    return client.post(
        "/acteurs/import",
        data={"file": (io.BytesIO(data), "acteurs.xlsx"), "csrf_token": token},
        content_type="multipart/form-data",
    )


@pytest.fixture
def parsed_rows(monkeypatch) -> list[int]:
    """The numbers of the sheet rows the import parsed: how far the reading went, whatever the
    machine's speed (these tests once compared durations, which a loaded machine made fail)."""
    seen: list[int] = []
    original = exchange._first_sheet_cells

    def counted(data):
        for number, cells in original(data):
            seen.append(number)
            yield number, cells

    monkeypatch.setattr(exchange, "_first_sheet_cells", counted)
    return seen


def test_the_files_are_what_they_claim(bomb_file, million_file):
    assert len(bomb_file) < 300_000
    with zipfile.ZipFile(io.BytesIO(bomb_file)) as archive:
        assert sum(e.file_size for e in archive.infolist()) > 60 * 1024 * 1024
    assert len(million_file) < 200_000
    with zipfile.ZipFile(io.BytesIO(million_file)) as archive:
        assert archive.read("xl/worksheets/sheet1.xml").count(b"<row") == 1_000_001


def test_a_zip_bomb_is_refused_from_the_zip_directory(client, coordinator, bomb_file, parsed_rows):
    response = post(client, bomb_file)
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert "Ce classeur est trop volumineux une fois décompressé" in page
    assert parsed_rows == []  # refused from the sizes the zip declares, nothing decompressed


def test_a_million_row_sheet_is_refused_before_its_rows_are_read(
    client, coordinator, million_file, parsed_rows
):
    response = post(client, million_file)
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert "Le fichier est refusé ; rien n'a été enregistré." in page
    assert "Ce classeur est trop volumineux une fois décompressé" in page  # 500 times its zipped size
    assert parsed_rows == []


def test_past_the_size_checks_the_rows_are_streamed_and_capped(
    app, client, coordinator, million_file, monkeypatch, parsed_rows
):
    """With the zip checks lifted, the row cap alone refuses the million rows: the reading stops
    after the cap (the header and 5,000 rows), it does not go through the sheet."""
    monkeypatch.setattr(exchange, "XLSX_MAX_UNCOMPRESSED", 10**9)
    monkeypatch.setattr(exchange, "XLSX_MAX_RATIO", 10**6)
    response = post(client, million_file)
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert "Le fichier compte plus de 5000 lignes : découpez-le en plusieurs imports." in page
    assert 5000 <= len(parsed_rows) <= 5002, len(parsed_rows)


def test_blank_rows_do_not_get_past_the_cap(app, monkeypatch, parsed_rows):
    """A sheet of empty rows (a row far down the sheet) stops at the cap instead of walking them all."""
    monkeypatch.setitem(app.config, "DIRECTORY_IMPORT_MAX_ROWS", 10)
    data = workbook([b'<row r="1000000"><c r="A1000000" t="inlineStr"><is><t>x</t></is></c></row>'])
    with pytest.raises(exchange.FileRefused, match="La feuille compte plus de 1012 lignes"):
        exchange.read_table("a.xlsx", data)
    assert parsed_rows == [1, 1000000]  # the header, then refused at its number: no blank row walked


def test_a_cell_far_to_the_right_is_refused(app):
    data = workbook([b'<row r="2"><c r="XFD2" t="inlineStr"><is><t>x</t></is></c></row>'])
    with pytest.raises(exchange.FileRefused, match="au-delà de la colonne"):
        exchange.read_table("a.xlsx", data)


def test_a_normal_workbook_still_reads(app):
    data = workbook(
        [
            b'<row r="2"><c r="A2" t="inlineStr"><is><t>Acteur</t></is></c>'
            b'<c r="B2" t="inlineStr"><is><t>scop</t></is></c><c r="C2" t="inlineStr"><is><t>exonere</t></is></c>'
            b"</row>"
        ]
    )
    frame = exchange.read_table("a.xlsx", data)
    assert frame.loc[2].to_dict() == {
        "nom": "Acteur",
        "forme_juridique": "scop",
        "regime_tva": "exonere",
        "siret": "",
    }
