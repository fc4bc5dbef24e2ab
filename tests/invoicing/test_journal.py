"""The accounting journal in the FEC layout, for the demo's money story: every entry balances, the
journal's totals are the workbook's, the file has the 18 FEC columns, its accounts are the
settings', and only the treasury sets them."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date
from decimal import Decimal as D

import openpyxl
import pytest

from app.extensions import db
from invoicing.journal import FEC_COLUMNS, Journal, accounts, build_fec, save_accounts
from invoicing.treasury import make_period
from invoicing.workbook import build_workbook
from tests.conftest import post_form
from tests.invoicing.test_workbook import cents, story, table, totals, treasurer  # noqa: F401  (fixtures)

YEAR = (date(2026, 1, 1), date(2026, 12, 31))


def parse(data: bytes) -> list[dict]:
    text = data.decode("utf-8")
    lines = text.split("\r\n")
    assert lines[-1] == ""
    header = lines[0].split("\t")
    assert tuple(header) == FEC_COLUMNS
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:-1]]
    for row in rows:
        row["Debit"] = D(row["Debit"].replace(",", "."))
        row["Credit"] = D(row["Credit"].replace(",", "."))
    return rows


def balances(rows, journal: str) -> dict[str, D]:
    """Debit − credit per account, in one journal."""
    result: dict[str, D] = defaultdict(D)
    for row in rows:
        if row["JournalCode"] == journal:
            result[row["CompteNum"]] += row["Debit"] - row["Credit"]
    return dict(result)


def test_every_entry_balances_and_the_file_has_the_fec_layout(story):  # noqa: F811
    name, data = build_fec(*YEAR)
    assert name == "123456789FEC20261231.txt" or name.endswith("FEC20261231.txt")
    rows = parse(data)
    entries = defaultdict(list)
    for row in rows:
        entries[row["EcritureNum"]].append(row)
        assert len(row["EcritureDate"]) == 8 and row["EcritureDate"].isdigit()
        assert row["ValidDate"] == row["EcritureDate"]
        assert (row["Debit"] == 0) != (row["Credit"] == 0)  # one side per line, never zero
        assert row["CompteNum"][:3].isdigit()
    assert list(entries) == [str(n) for n in range(1, len(entries) + 1)]  # a continuous sequence
    for number, lines in entries.items():
        assert sum(r["Debit"] for r in lines) == sum(r["Credit"] for r in lines), number
        assert len({(r["JournalCode"], r["EcritureDate"], r["PieceRef"]) for r in lines}) == 1
    # Chronological: the dates never go back.
    assert [r["EcritureDate"] for r in rows] == sorted(r["EcritureDate"] for r in rows)
    # Three documents, two payments, one payout paid (its share, then its payment).
    assert [(r["JournalCode"], r["PieceRef"]) for r in (lines[0] for lines in entries.values())] == [
        ("VE", "FAC-2026-0001"),
        ("BQ", "FAC-2026-0001"),
        ("VE", "FAC-2026-0002"),
        ("VE", "AV-2026-0001"),
        ("BQ", "FAC-2026-0002"),
        *[("RV", piece) for piece in [rows[-1]["PieceRef"]] * 2],
    ]


def test_the_journal_totals_are_the_workbooks(story):  # noqa: F811
    rows = parse(build_fec(*YEAR)[1])
    book = openpyxl.load_workbook(io.BytesIO(build_workbook(*YEAR)))
    sales = balances(rows, "VE")
    invoices = table(book["Factures"])
    # The clients' account: what each document asked of the client (credit notes negative).
    assert sales["411"] == cents(totals(book["Factures"])["Demandé au client"]) == D("8362.19")
    # Sales and VAT: the invoices and credit notes on them; deposits wait in 4191 until the final
    # invoice deducts them.
    not_deposits = [r for r in invoices if r["Type"] != "Facture d'acompte"]
    assert -sales["706"] == sum((cents(r["Total HT"]) for r in not_deposits), D("0")) == D("7507.25")
    assert -sales["44571"] == sum((cents(r["Total TVA"]) for r in not_deposits), D("0")) == D("854.94")
    assert sales["4191"] == D("0")  # the deposit was deducted by the final invoice
    assert sum(sales.values(), D("0")) == 0
    receipts = balances(rows, "BQ")
    assert receipts["512"] == -receipts["411"] == cents(totals(book["Paiements"])["Montant"]) == D("5542.08")
    payouts = balances(rows, "RV")
    assert -payouts["512"] == cents(totals(book["Reversements"])["Reversé"]) == D("244.72")
    # L'Équipage charges 5,5 % on its net of 350,00: 244,72 paid is 231,96 net and 12,76 VAT.
    assert (payouts["604"], payouts["44566"], payouts.get("401", D("0"))) == (D("231.96"), D("12.76"), D("0"))


def test_a_credit_note_over_what_the_final_invoice_asked_frees_the_deposits(story, treasurer):  # noqa: F811
    from invoicing.models import Invoice, InvoiceKind
    from invoicing.services import invoices as service

    final = db.session.scalars(db.select(Invoice).where(Invoice.kind == InvoiceKind.INVOICE)).one()
    note = service.issue_credit_note(final, treasurer, reason="Annulation", today=date(2026, 6, 1))
    journal = Journal(make_period(date(2026, 6, 1), date(2026, 6, 1)))
    (entry,) = journal.sales()
    by_account = {
        line.account: (line.debit, line.credit) for line in entry.lines if line.account in ("411", "4191")
    }
    # All that remains is cancelled (7 507,25 HT); the client owed 5 931,50 − 111,39 of it, the rest
    # frees the deposit, which a new final invoice will deduct again.
    effect = D("5931.50") - D("111.39")
    assert by_account == {"411": (D("0"), effect), "4191": (D("0"), note.total_gross - effect)}
    assert entry.debit == entry.credit == note.total_gross


def test_the_accounts_come_from_the_settings(client, auth, story, treasurer):  # noqa: F811
    auth.login(treasurer.email)
    data = {key: value for key, value in accounts().items()}
    data.update(sales="706100", bank="5121", payouts_journal="RD")
    response = post_form(client, "/tresorerie/comptes", data=data)
    assert response.status_code == 302
    rows = parse(client.get("/tresorerie/exports?date_from=2026-01-01&date_to=2026-12-31&format=fec").data)
    assert {"706100", "5121"} <= {r["CompteNum"] for r in rows}
    assert "706" not in {r["CompteNum"] for r in rows}
    assert {r["JournalCode"] for r in rows} == {"VE", "BQ", "RD"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"sales": "70 6"}, "sales", "Un numéro de compte commence par un chiffre"),
        ({"clients": "ABC"}, "clients", "Un numéro de compte commence par un chiffre"),
        ({"receipts_journal": "VE"}, "payouts_journal", "Chaque journal a son propre code."),
        ({"bank": ""}, "bank", "Indiquez un numéro."),
    ],
)
def test_bad_accounts_are_refused_and_nothing_changes(client, auth, treasurer, change, field, message):  # noqa: F811
    db.session.commit()
    auth.login(treasurer.email)
    data = {**accounts(), **change}
    response = post_form(client, "/tresorerie/comptes", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and f'id="{field}"' in html
    db.session.expire_all()
    assert accounts()["sales"] == "706" and accounts()["bank"] == "512"


def test_only_the_treasury_sets_the_accounts(make_user):
    from app.errors import Forbidden

    with pytest.raises(Forbidden):
        save_accounts(accounts(), make_user("coordinator"))


def test_the_command_line_writes_the_journal(runner, story, tmp_path):  # noqa: F811
    result = runner.invoke(
        args=["invoicing", "export-fec", "--from", "2026-01-01", "--to", "2026-12-31", "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    (written,) = tmp_path.iterdir()
    assert written.name.endswith("FEC20261231.txt")
    rows = parse(written.read_bytes())
    assert sum(r["Debit"] for r in rows) == sum(r["Credit"] for r in rows)
    assert "7 écriture(s) équilibrée(s)" in result.output
