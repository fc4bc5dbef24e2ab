"""The treasurer's workbook, tried as the treasurer would: downloaded from its page for a year of the
demo's money story (deposit, final invoice, credit note, payments, a payout paid), read back with
openpyxl: typed cells and formats, frozen headers, filters, totals, the chart, neutralised text; every
sheet total agrees with the app's pages; CSV for French Excel; refusals; the command line.

The fixture ``app`` runs every test on SQLite and on PostgreSQL (TEST_DATABASE_URL): the exact values
below are the same on both, so the two databases give the same workbook."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import zipfile
from datetime import date, datetime
from decimal import Decimal as D

import openpyxl
import pytest
import sqlalchemy as sa

from app.dates import LOCAL_TZ
from app.extensions import db
from app.models import Organisation
from app.spreadsheets import DATE_FORMAT, EURO_FORMAT, RATE_FORMAT
from invoicing.models import Payout
from invoicing.services import invoices as service
from invoicing.services import payouts
from invoicing.services.payments import record_payment
from invoicing.workbook import build_workbook
from offers.services import quotes as quotes_service
from tests.app.test_spreadsheets import wall
from tests.offers.quote_fixtures import build_ready_event

TITLE = "=2+3 Assises"
SHEETS = ["Synthèse", "Acteurs", "Factures", "Paiements", "Reversements", "Lignes"]
YEAR = "date_from=2026-01-01&date_to=2026-12-31"


@pytest.fixture
def treasurer(make_user):
    return make_user("treasurer")


@pytest.fixture
def story(make_event, make_client, make_category, make_organisation, make_user, treasurer):
    """The ready event (an event title and an actor's name that look like formulas), invoiced: a 30 %
    deposit paid, the final invoice, a credit note of 100,00 HT, 3 000,00 received, one payout paid."""
    event, _lots, _orgs = build_ready_event(
        make_event, make_client, make_category, make_organisation, title=TITLE
    )
    cook = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Méli-Mélo"))
    cook.name = "@Méli-Mélo"
    coordinator = make_user("coordinator")
    quote = quotes_service.issue_quote(event, coordinator, today=date(2026, 3, 2))
    quotes_service.mark_sent(quote, coordinator)
    quotes_service.accept_quote(
        quote, name="Claire Morvan", agreed=True, today=date(2026, 3, 5), notify=False
    )
    deposit = service.issue_deposit(quote, treasurer, percent=D("30"), today=date(2026, 3, 10))
    record_payment(
        deposit, treasurer, received_on=date(2026, 3, 20), amount=deposit.total_gross, reference="VIR 1"
    )
    final = service.issue_final(quote, treasurer, today=date(2026, 4, 20))
    service.issue_credit_note(
        final, treasurer, reason="Erreur de quantité", amount=D("100.00"), today=date(2026, 4, 25)
    )
    record_payment(final, treasurer, received_on=date(2026, 5, 2), amount=D("3000.00"), reference="=1+1\x07")
    shop = db.session.scalars(
        sa.select(Payout).join(Organisation).where(Organisation.name == "L'Équipage")
    ).one()
    payouts.mark_paid(shop, treasurer, paid_on=date(2026, 5, 10), reference="-VIR\x0b 42")
    db.session.commit()
    return event


def download(client, auth, user, query: str):
    auth.login(user.email)
    return client.get(f"/tresorerie/exports?{query}")


def workbook_of(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return openpyxl.load_workbook(io.BytesIO(response.data))


def table(sheet) -> list[dict]:
    """The data rows of a sheet as dicts by header (totals row excluded)."""
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:-1]]


def totals(sheet) -> dict:
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[-1][0] == "Total"
    return dict(zip(rows[0], rows[-1], strict=True))


def cents(value) -> D:
    return D(str(value)).quantize(D("0.01"))


# --- the file, read back ---------------------------------------------------------------------------


def test_the_workbook_reads_back_typed_filtered_with_totals(client, auth, story, treasurer):
    book = workbook_of(download(client, auth, treasurer, YEAR + "&format=xlsx"))
    assert book.sheetnames == SHEETS
    for sheet in book:
        assert sheet.freeze_panes == "A2", sheet.title
        assert all(cell.font.bold for cell in sheet[1] if cell.value is not None), sheet.title
        last = sheet.max_row
        assert sheet.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(sheet.max_column)}{last - 1}"
        assert sheet.cell(last, 1).value == "Total" and sheet.cell(last, 1).font.bold
        assert sheet.column_dimensions["A"].width >= 12
    summary = book["Synthèse"]
    assert [c.value for c in summary[2][:4]] == [
        TITLE,
        wall(2026, 4, 15),
        "Nantes Métropole",
        "DEV-2026-0001 v1",
    ]
    title, day = summary["A2"], summary["B2"]
    assert (title.data_type, title.number_format) == ("s", "@")  # a formula-like title stays text
    assert (day.data_type, day.number_format) == ("d", DATE_FORMAT)
    figures = table(summary)[0]
    assert {k: cents(v) for k, v in figures.items() if isinstance(v, int | float)} == {
        "Devis HT": D("7607.25"),
        "Devis TTC": D("8473.58"),
        "Facturé TTC": D("8473.58"),
        "Avoirs TTC": D("111.39"),
        "Encaissé": D("5542.08"),
        "Reste à encaisser": D("2820.11"),
        "Dû aux acteurs": D("7063.00"),
        "Libéré": D("4681.04"),
        "Reversé": D("244.72"),
        "Reste à reverser": D("4436.32"),
        "Gardé par la coordination HT": D("563.50"),
    }
    assert all(cell.number_format == EURO_FORMAT and cell.data_type == "n" for cell in summary[2][4:])
    invoices = table(book["Factures"])
    assert [(r["Numéro"], r["Type"], r["État"]) for r in invoices] == [
        ("FAC-2026-0001", "Facture d'acompte", "Payée"),
        ("FAC-2026-0002", "Facture", "Partiellement payée"),
        ("AV-2026-0001", "Avoir", "Avoir"),
    ]
    assert invoices[0]["Soldée le"] == wall(2026, 3, 20)
    assert invoices[2]["Facture créditée"] == "FAC-2026-0002"
    # Credit notes are negative: the totals are the period's net sales.
    assert [cents(r["Total TTC"]) for r in invoices] == [D("2542.08"), D("8473.58"), D("-111.39")]
    assert [cents(r["Demandé au client"]) for r in invoices] == [D("2542.08"), D("5931.50"), D("-111.39")]
    sums = totals(book["Factures"])
    assert (cents(sums["Total HT"]), cents(sums["Total TVA"]), cents(sums["Total TTC"])) == (
        D("9789.43"),
        D("1114.84"),
        D("10904.27"),
    )
    ten = next(key for key in sums if key.startswith("HT 10"))
    assert cents(sums[ten]) == D("7777.43")
    assert cents(sums["Reste à payer"]) == D("2820.11")
    lines = book["Lignes"]
    assert cents(totals(lines)["Montant HT"]) == D("7607.25")
    rate = lines["J2"]
    assert (rate.value, rate.number_format) == (0.1, RATE_FORMAT)
    assert {r["Acteur"] for r in table(lines)} == {"@Méli-Mélo", "L'Équipage", "Yves Monteil", "Coordination"}
    payments = book["Paiements"]
    assert [r["Référence"] for r in table(payments)] == ["VIR 1", "=1+1"]  # the control character dropped
    assert payments["G3"].data_type == "s"
    assert cents(totals(payments)["Montant"]) == D("5542.08")
    paid = [r for r in table(book["Reversements"]) if r["État"] == "Payé"]
    assert [(r["Acteur"], r["Référence"], cents(r["Reversé"])) for r in paid] == [
        ("L'Équipage", "-VIR 42", D("244.72"))
    ]


def test_the_actors_sheet_has_a_bar_chart_of_owed_and_paid(client, auth, story, treasurer):
    book = workbook_of(download(client, auth, treasurer, YEAR))
    sheet = book["Acteurs"]
    actors = table(sheet)
    assert [(r["Acteur"], cents(r["Dû en tout"]), cents(r["Payé"])) for r in actors] == [
        ("@Méli-Mélo", D("6043.75"), D("0")),
        ("Yves Monteil", D("650.00"), D("0")),
        ("L'Équipage", D("369.25"), D("244.72")),
    ]
    assert sheet["A2"].data_type == "s"
    (chart,) = sheet._charts
    assert (chart.tagname, chart.type) == ("barChart", "bar")
    assert chart.x_axis.delete is False and chart.y_axis.delete is False  # the names and the amounts show
    refs = [
        (s.tx.strRef.f, s.val.numRef.f, s.cat.strRef.f if s.cat.strRef else s.cat.numRef.f)
        for s in chart.series
    ]
    assert refs == [
        ("'Acteurs'!G1", "'Acteurs'!$G$2:$G$4", "'Acteurs'!$A$2:$A$4"),
        ("'Acteurs'!I1", "'Acteurs'!$I$2:$I$4", "'Acteurs'!$A$2:$A$4"),
    ]


# --- the totals agree with the app's pages -----------------------------------------------------------


def amounts(html: str, pattern: str) -> list[D]:
    found = re.findall(pattern, html, re.S)
    return [D(re.sub(r"[^\d,\-]", "", text).replace(",", ".")) for text in found]


def test_every_sheet_total_agrees_with_the_pages(client, auth, story, treasurer):
    book = workbook_of(download(client, auth, treasurer, YEAR))
    # /factures: the gross of each document (credit notes counted negative) and what remains to pay.
    page = client.get("/factures").get_data(as_text=True)
    rows = re.findall(r'<tr id="facture-\d+">(.*?)</tr>', page, re.S)
    assert len(rows) == 3
    gross = D("0")
    balance = D("0")
    for row in rows:
        cells = re.findall(r'<td class="num">(.*?)</td>', row, re.S)
        sign = -1 if ">Avoir<" in row else 1
        gross += sign * amounts(cells[0], r"(.+)")[0]
        if cells[1] != "—":
            balance += amounts(cells[1], r"(.+)")[0]
    sums = totals(book["Factures"])
    assert (cents(sums["Total TTC"]), cents(sums["Reste à payer"])) == (gross, balance)
    # /paiements
    page = client.get("/paiements").get_data(as_text=True)
    received = sum(amounts(page, r'<td class="num">([^<]*)</td></tr>'), D("0"))
    assert received == cents(totals(book["Paiements"])["Montant"]) == D("5542.08")
    # /reversements: the amount of each payout.
    page = client.get("/reversements").get_data(as_text=True)
    amount = sum(amounts(page, r'<td class="num fw-semibold">([^<]*)</td>'), D("0"))
    assert amount == cents(totals(book["Reversements"])["Montant"])
    # The event's money page.
    page = client.get(f"/evenements/{story.id}/facturation").get_data(as_text=True)
    kpi = {
        name: amounts(page, rf'id="{name}">([^<]*)<')[0]
        for name in ("quoted", "invoiced", "credited", "collected", "outstanding")
    }
    summary = totals(book["Synthèse"])
    assert kpi == {
        "quoted": cents(summary["Devis TTC"]),
        "invoiced": cents(summary["Facturé TTC"]),
        "credited": cents(summary["Avoirs TTC"]),
        "collected": cents(summary["Encaissé"]),
        "outstanding": cents(summary["Reste à encaisser"]),
    }
    actors = re.findall(
        r'<table class="table table-sm table-money align-middle actors-money">.*?</table>', page, re.S
    )[0]
    column = {
        name: i for i, name in enumerate(("share", "commission", "vat", "amount", "released", "paid", "due"))
    }
    per_actor = [
        amounts(row, r'<td class="num">([^<]*)</td>') for row in re.findall(r"<tr><td>.*?</tr>", actors, re.S)
    ]
    sheet = totals(book["Acteurs"])
    for header, name in (
        ("Part HT", "share"),
        ("Dû en tout", "amount"),
        ("Libéré", "released"),
        ("Payé", "paid"),
        ("Reste à payer", "due"),
    ):
        assert sum((row[column[name]] for row in per_actor), D("0")) == cents(sheet[header]), header


# --- CSV -------------------------------------------------------------------------------------------------


def test_each_table_as_csv_for_french_excel(client, auth, story, treasurer):
    response = download(client, auth, treasurer, YEAR + "&format=csv-synthese")
    assert response.status_code == 200
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="tresorerie-20260101-20261231-synthese.csv"'
    )
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Événement", "Date", "Client"]
    assert rows[1][:6] == [
        "'=2+3 Assises",
        "15/04/2026",
        "Nantes Métropole",
        "DEV-2026-0001 v1",
        "7607.25".replace(".", ","),
        "8473,58",
    ]
    assert len(rows) == 2  # no totals row: the CSV is data
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/tresorerie/exports?{YEAR}&format=zip").data))
    assert sorted(archive.namelist()) == sorted(
        f"{name}.csv" for name in ("synthese", "acteurs", "factures", "paiements", "reversements", "lignes")
    )
    payments = archive.read("paiements.csv").decode("utf-8-sig").splitlines()
    # Escaped, and kept as typed: the CSV escape is exactly reversible (app.spreadsheets).
    assert payments[2].split(";")[-2:] == ["'=1+1\x07", "3000,00"]


# --- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "date_from=2026-12-31&date_to=2026-01-01",
            "La fin de la période (01/01/2026) précède son début (31/12/2026).",
        ),
        ("date_from=2026-01-01", "Indiquez la date de fin."),
        ("date_from=2026-13-01&date_to=2026-12-31", "Indiquez la date de début."),
        (YEAR + "&format=pdf", "N'est pas un choix valide."),
        (YEAR + "&event=999999", "N'est pas un choix valide."),
    ],
)
def test_bad_requests_get_a_clear_answer_and_no_file(client, auth, treasurer, query, message):
    db.session.commit()
    response = download(client, auth, treasurer, query)
    assert (response.status_code, response.mimetype) == (400, "text/html")
    assert message in response.get_data(as_text=True).replace("&#39;", "'")


def test_an_event_of_another_client_is_refused(client, auth, story, treasurer, make_client):
    other = make_client(name="Autre client")
    db.session.commit()
    response = download(client, auth, treasurer, f"{YEAR}&event={story.id}&client={other.id}")
    assert response.status_code == 400
    assert "Cet événement n&#39;est pas celui de ce client." in response.get_data(as_text=True)


def test_a_period_without_data_gives_an_empty_valid_workbook(client, auth, story, treasurer):
    book = workbook_of(download(client, auth, treasurer, "date_from=2011-01-01&date_to=2011-12-31"))
    assert book.sheetnames == SHEETS
    for sheet in book:
        assert sheet.max_row == 2 and sheet.cell(2, 1).value == "Total", sheet.title
    assert book["Acteurs"]._charts == []


@pytest.mark.parametrize("role", ["coordinator", "actor", "client"])
def test_only_the_treasury_downloads(client, auth, story, make_user, role):
    user = make_user(role)
    db.session.commit()
    assert download(client, auth, user, YEAR).status_code == 403
    assert client.get("/tresorerie/comptes").status_code == 403


def test_the_form_page_and_the_link_from_the_invoices(client, auth, treasurer):
    db.session.commit()
    auth.login(treasurer.email)
    page = client.get("/tresorerie/exports")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(rf'id="date_from"[^>]*value="{datetime.now(LOCAL_TZ).year}-01-01"', html), html
    assert 'href="/tresorerie/exports"' in client.get("/factures").get_data(as_text=True)


def test_one_event_only(client, auth, story, treasurer, make_event):
    other = make_event(title="Autre événement")
    db.session.commit()
    book = workbook_of(download(client, auth, treasurer, f"{YEAR}&event={story.id}"))
    assert [r["Événement"] for r in table(book["Synthèse"])] == [TITLE]
    assert other.title not in {r["Événement"] for r in table(book["Lignes"])}


# --- the command line and the function ------------------------------------------------------------------


def test_the_command_line_writes_the_same_workbook(runner, story, tmp_path):
    target = tmp_path / "tresorerie.xlsx"
    result = runner.invoke(
        args=["invoicing", "export-xlsx", "--from", "2026-01-01", "--to", "2026-12-31", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(target)
    assert cents(totals(book["Factures"])["Total TTC"]) == D("10904.27")
    result = runner.invoke(
        args=["invoicing", "export-xlsx", "--from", "2026-12-31", "--to", "2026-01-01", "-o", str(target)]
    )
    assert result.exit_code == 1
    assert "La fin de la période (01/01/2026) précède son début (31/12/2026)." in result.output
    result = runner.invoke(
        args=["invoicing", "export-xlsx", "--from", "2026-02-30", "--to", "2026-12-31", "-o", str(target)]
    )
    assert result.exit_code == 2 and "AAAA-MM-JJ" in result.output


def test_build_workbook_by_function(story):
    book = openpyxl.load_workbook(io.BytesIO(build_workbook(date(2026, 1, 1), date(2026, 12, 31))))
    assert cents(totals(book["Lignes"])["Montant HT"]) == D("7607.25")


# --- the demo: the 2011 account ------------------------------------------------------------------------


def all_pages(client, url: str) -> str:
    html, page = "", 1
    while True:
        text = client.get(f"{url}?page={page}").get_data(as_text=True)
        html += text
        if f"?page={page + 1}" not in text:
            return html
        page += 1


def test_the_treasurer_downloads_the_2011_workbook_of_the_demo(runner, client, auth):
    from offers.models import Event

    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    auth.login("tresorerie@example.org", "demo-maillage")
    book = workbook_of(client.get("/tresorerie/exports?date_from=2011-01-01&date_to=2011-12-31&format=xlsx"))
    event = db.session.scalars(sa.select(Event).order_by(Event.id)).first()
    page = client.get(f"/evenements/{event.id}/facturation").get_data(as_text=True)
    kpi = {name: amounts(page, rf'id="{name}">([^<]*)<')[0] for name in ("invoiced", "credited", "collected")}
    (row,) = [r for r in table(book["Synthèse"]) if r["Événement"] == event.title]
    assert kpi == {
        "invoiced": cents(row["Facturé TTC"]),
        "credited": cents(row["Avoirs TTC"]),
        "collected": cents(row["Encaissé"]),
    }
    actors = re.findall(
        r'<table class="table table-sm table-money align-middle actors-money">.*?</table>', page, re.S
    )
    assert len(table(book["Acteurs"])) == len(re.findall(r"<tr><td>", actors[0])) == 18
    payments = all_pages(client, "/paiements")
    # The page lists every payment; the workbook those received in 2011 (the demo also has a 2012 event).
    paid_2011 = r'<tr><td>[^<]* 2011</td>(?:(?!</tr>).)*<td class="num">([^<]*)</td></tr>'
    assert sum(amounts(payments, paid_2011), D("0")) == cents(totals(book["Paiements"])["Montant"])
    payout_pages = all_pages(client, "/reversements")
    assert sum(amounts(payout_pages, r'<td class="num fw-semibold">([^<]*)</td>'), D("0")) == cents(
        totals(book["Reversements"])["Montant"]
    )
    assert cents(totals(book["Lignes"])["Montant HT"]) == cents(row["Devis HT"])


SOFFICE = shutil.which("soffice")


@pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice absent: installé par .ci/run (libreoffice-calc-nogui)"
)
def test_libreoffice_converts_every_sheet_and_keeps_formula_like_text(story, tmp_path):
    source = tmp_path / "tresorerie.xlsx"
    source.write_bytes(build_workbook(date(2026, 1, 1), date(2026, 12, 31)))
    # Every sheet to CSV: `;`, UTF-8 (76), the cells as stored, not as shown.
    result = subprocess.run(
        [
            SOFFICE,
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):59,34,76,1,,0,false,true,false,false,false,-1",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        timeout=180,
        env={**os.environ, "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    converted = {path.stem.removeprefix("tresorerie-"): path for path in tmp_path.glob("tresorerie-*.csv")}
    assert sorted(converted) == sorted(SHEETS)
    rows = list(csv.reader(converted["Factures"].read_text(encoding="utf-8").splitlines(), delimiter=";"))
    assert rows[1][3] == TITLE  # still the text, never computed
    assert rows[-1][0] == "Total" and rows[-1][rows[0].index("Total TTC")] == "10904.27"
