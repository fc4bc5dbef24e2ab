"""The treasurer's workbook: six sheets for a period, each also a CSV for French Excel.

- **Synthèse**: per event, quoted, invoiced, credited, collected and still to collect; owed to the
  actors, released, paid out, still to pay out; kept by the coordination (fee and commissions).
- **Acteurs**: per actor over those events, share, commission, net, VAT, owed, released, paid, still
  to pay; with a bar chart of what each actor is owed and was paid.
- **Factures**: every invoice, deposit and credit note issued in the period, net, VAT and gross per
  rate, deposits deducted, what it asks of the client, paid, still to pay, state, due and paid dates.
  Credit notes are negative, so that the totals are the period's net sales.
- **Paiements**, **Reversements**: received, paid (and still to pay) in the period.
- **Lignes**: every line of the events' accepted quotes (the fee line included), with its event,
  lot, actor, category, VAT rate and amounts.

What is selected, and where each figure comes from, is :mod:`invoicing.treasury`'s. Cells are
written by :mod:`app.spreadsheets` (typed numbers and dates with euro and date formats, text never a
formula, frozen bold headers, filters, a totals row); sheets stream in openpyxl's write-only mode,
the lines straight from the database, so a year of a large network is never held in memory.

The workbook is a French accounting document: it is written in French whatever the language of the
person downloading it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import force_locale
from openpyxl.chart import BarChart, Reference

from app.dates import LOCAL_TZ
from app.db import stream, uncached_statements
from app.extensions import db
from app.formatting import rate as format_rate
from app.labels import label
from app.money import ZERO
from app.spreadsheets import (
    DATE_FORMAT,
    EURO_FORMAT,
    RATE_FORMAT,
    Column,
    XlsxSheet,
    new_workbook,
    workbook_bytes,
    write_csv,
)
from invoicing.forms import PAYMENT_METHODS, STATES
from invoicing.models import InvoiceKind, PayoutStatus
from invoicing.services.invoices import state as invoice_state
from invoicing.treasury import CHUNK, EventRow, Period, Treasury, make_period
from offers.models import Event, Quote, QuoteLine, QuoteStatus

TOTAL = "Total"
#: The coordination's own line (the fee) in the lines sheet.
COORDINATION = "Coordination"


def _euro(header: str, width: int = 14, total: bool = True) -> Column:
    return Column(header, width, EURO_FORMAT, total=total)


def _date(header: str) -> Column:
    return Column(header, 12, DATE_FORMAT)


@dataclass(frozen=True)
class Table:
    """One sheet: its name (also the CSV's file name), columns, and its rows read when asked."""

    title: str
    slug: str
    columns: list[Column]
    rows: Callable[[], Iterable[tuple]]


@dataclass(frozen=True)
class ActorTotal:
    """One actor's money summed over the events of the export."""

    name: str
    events: int
    share: Decimal
    commission: Decimal
    net: Decimal
    vat: Decimal
    amount: Decimal
    released: Decimal
    paid: Decimal
    due: Decimal


_ACTOR_FIELDS = ("share", "commission", "net", "vat", "amount", "released", "paid", "due")


class ActorTotals:
    """Per actor, its figures summed over the events added (:meth:`add`), without keeping them."""

    def __init__(self):
        self._sums: dict[int, list] = {}

    def add(self, row: EventRow) -> None:
        for actor in row.actors:
            sums = self._sums.get(actor.organisation_id)
            if sums is None:
                sums = self._sums[actor.organisation_id] = [actor.name, 0, *(ZERO for _f in _ACTOR_FIELDS)]
            sums[0] = actor.name  # the name on its latest event
            sums[1] += 1
            for index, field in enumerate(_ACTOR_FIELDS, start=2):
                sums[index] += getattr(actor, field)

    def totals(self) -> list[ActorTotal]:
        """Most owed first."""
        totals = [ActorTotal(*sums) for sums in self._sums.values()]
        totals.sort(key=lambda a: (-a.amount, a.name.lower()))
        return totals


def actor_totals(event_rows: Iterable[EventRow]) -> list[ActorTotal]:
    """Per actor, its figures over the events of the export; most owed first."""
    totals = ActorTotals()
    for row in event_rows:
        totals.add(row)
    return totals.totals()


def _summary_row(row: EventRow) -> tuple:
    return (
        row.title,
        row.starts_at.astimezone(LOCAL_TZ).date(),
        row.client_name,
        row.quote_number,
        row.quote_net,
        row.quote_gross,
        row.invoiced,
        row.credited,
        row.collected,
        row.outstanding,
        row.owed,
        row.released,
        row.paid_out,
        row.to_pay_out,
        row.kept,
    )


#: What the lines sheet shows of a quote line besides what the split reads.
LINE_COLUMNS = (
    QuoteLine.lot_title,
    QuoteLine.category_name,
    QuoteLine.description,
    QuoteLine.quantity,
    QuoteLine.unit,
    QuoteLine.unit_price,
)


def _line_row(title: str, quote: str, line) -> tuple:
    """One row of the lines sheet: ``line`` is a :class:`QuoteLine` or a row with its columns."""
    fee = line.kind == "fee"
    return (
        title,
        quote,
        line.lot_title,
        line.category_name if not fee else "Frais de coordination",
        line.organisation_name if not fee else COORDINATION,
        line.description,
        line.quantity,
        line.unit,
        line.unit_price,
        line.vat_rate,
        line.net,
    )


class TreasurerWorkbook:
    """The tables of one period; :meth:`xlsx` writes them all, :meth:`csv` one of them."""

    def __init__(self, period: Period):
        self.period = period
        self.treasury = Treasury(period)

    # --- the tables ------------------------------------------------------------------------------

    def _sheets(self) -> dict[str, tuple]:
        """By slug, in the workbook's order: the sheet's title, its columns and its rows."""
        return {
            "synthese": ("Synthèse", self._summary_columns, self._summary_rows),
            "acteurs": ("Acteurs", self._actor_columns, self._actor_rows),
            "factures": ("Factures", self._invoice_columns, self._invoice_rows),
            "paiements": ("Paiements", self._payment_columns, self._payment_rows),
            "reversements": ("Reversements", self._payout_columns, self._payout_rows),
            "lignes": ("Lignes", self._line_columns, self._line_rows),
        }

    def tables(self) -> list[Table]:
        return [self.table(slug) for slug in self._sheets()]

    def table(self, slug: str) -> Table:
        """One table; its columns are read when it is made (the invoices' depend on their VAT rates)."""
        title, columns, rows = self._sheets()[slug]
        return Table(title, slug, columns(), rows)

    # Synthèse

    def _summary_columns(self) -> list[Column]:
        return [
            Column("Événement", 40),
            _date("Date"),
            Column("Client", 30),
            Column("Devis accepté", 18),
            _euro("Devis HT"),
            _euro("Devis TTC"),
            _euro("Facturé TTC"),
            _euro("Avoirs TTC"),
            _euro("Encaissé"),
            _euro("Reste à encaisser"),
            _euro("Dû aux acteurs"),
            _euro("Libéré"),
            _euro("Reversé"),
            _euro("Reste à reverser"),
            _euro("Gardé par la coordination HT", 18),
        ]

    def _summary_rows(self) -> Iterator[tuple]:
        for row, _lines in self.treasury.iter_event_rows():
            yield _summary_row(row)

    # Acteurs

    def _actor_columns(self) -> list[Column]:
        return [
            Column("Acteur", 36),
            Column("Événements", 11, "0", total=True),
            _euro("Part HT"),
            _euro("Commission"),
            _euro("Net HT"),
            _euro("TVA de l'acteur"),
            _euro("Dû en tout"),
            _euro("Libéré"),
            _euro("Payé"),
            _euro("Reste à payer"),
        ]

    def _actor_rows(self, totals: list[ActorTotal] | None = None) -> Iterator[tuple]:
        if totals is None:
            totals = actor_totals(row for row, _lines in self.treasury.iter_event_rows())
        for a in totals:
            yield (a.name, a.events, a.share, a.commission, a.net, a.vat, a.amount, a.released, a.paid, a.due)

    # Factures

    @property
    def rates(self) -> list[Decimal]:
        """The VAT rates of the documents of the period, in increasing order."""
        rates = set()
        for document in self.treasury.document_rows:
            for group in document.vat_groups:
                rates.add(Decimal(group["rate"]).normalize())
        return sorted(rates)

    def _invoice_columns(self) -> list[Column]:
        with force_locale("fr"):
            per_rate = [
                column
                for rate in self.rates
                for column in (
                    _euro(f"HT {format_rate(rate)}"),
                    _euro(f"TVA {format_rate(rate)}"),
                    _euro(f"TTC {format_rate(rate)}"),
                )
            ]
        return [
            Column("Numéro", 16),
            Column("Type", 18),
            Column("Facture créditée", 16),
            Column("Événement", 36),
            Column("Client", 30),
            _date("Émise le"),
            _date("Échéance"),
            Column("État", 20),
            _date("Soldée le"),
            *per_rate,
            _euro("Total HT"),
            _euro("Total TVA"),
            _euro("Total TTC"),
            _euro("Acomptes déduits"),
            _euro("Demandé au client", 16),
            _euro("Payé"),
            _euro("Reste à payer"),
        ]

    def _invoice_rows(self) -> Iterator[tuple]:
        treasury = self.treasury
        rates = self.rates
        today = datetime.now(LOCAL_TZ).date()
        with force_locale("fr"):
            kinds = {kind: label(kind) for kind in InvoiceKind}
            states = {key: str(text) for key, text in STATES.items()}
        for document in treasury.document_rows:
            numbers = treasury.figures[document.id]
            note = document.kind == InvoiceKind.CREDIT_NOTE
            sign = -1 if note else 1
            groups = {Decimal(g["rate"]).normalize(): g for g in document.vat_groups}
            per_rate = []
            for rate in rates:
                group = groups.get(rate)
                if group is None:
                    per_rate.extend((None, None, None))
                    continue
                net, vat = Decimal(group["net"]), Decimal(group["vat"])
                per_rate.extend((sign * net, sign * vat, sign * (net + vat)))
            state = invoice_state(document, today, numbers)
            if note:
                asked, paid, balance = -treasury.note_effects[document.id][0], None, None
            else:
                asked, paid, balance = document.total_gross - document.prepaid, numbers.paid, numbers.balance
            yield (
                document.number,
                kinds[document.kind],
                (document.credited_number or "") if note else "",
                document.event_title or "",
                document.buyer_name or "",
                document.issue_date,
                document.due_date,
                states.get(state, state),
                document.last_paid_on if state == "paid" else None,
                *per_rate,
                sign * document.total_net,
                sign * document.total_vat,
                sign * document.total_gross,
                document.prepaid if not note else None,
                asked,
                paid,
                balance,
            )

    # Paiements

    def _payment_columns(self) -> list[Column]:
        return [
            _date("Reçu le"),
            Column("Facture", 16),
            Column("Type", 18),
            Column("Événement", 36),
            Column("Client", 30),
            Column("Moyen", 12),
            Column("Référence", 24),
            _euro("Montant"),
        ]

    def _payment_rows(self) -> Iterator[tuple]:
        with force_locale("fr"):
            kinds = {kind: label(kind) for kind in InvoiceKind}
            methods = {method: str(text) for method, text in PAYMENT_METHODS.items()}
        for payment in self.treasury.payment_rows():
            yield (
                payment.received_on,
                payment.number,
                kinds[payment.kind],
                payment.event_title or "",
                payment.buyer_name or "",
                methods.get(payment.method, str(payment.method)),
                payment.reference,
                payment.amount,
            )

    # Reversements

    def _payout_columns(self) -> list[Column]:
        return [
            Column("Acteur", 32),
            Column("Événement", 36),
            Column("État", 10),
            _date("Payé le"),
            Column("Référence", 20),
            _euro("Part HT", total=False),
            _euro("Commission", total=False),
            _euro("Net HT", total=False),
            _euro("TVA de l'acteur", total=False),
            _euro("Montant"),
            _euro("Reversé"),
            _euro("À reverser"),
        ]

    def _payout_rows(self) -> Iterator[tuple]:
        with force_locale("fr"):
            statuses = {"paid": label("paid"), "due": label("due")}
        for payout in self.treasury.payout_rows():
            paid = payout.status == PayoutStatus.PAID
            yield (
                payout.organisation_name,
                payout.event_title,
                statuses[payout.status.value],
                payout.paid_on,
                payout.reference,
                payout.share,
                payout.commission,
                payout.net_amount,
                payout.vat_amount,
                payout.amount,
                payout.amount if paid else None,
                None if paid else payout.amount,
            )

    # Lignes

    def _line_columns(self) -> list[Column]:
        return [
            Column("Événement", 36),
            Column("Devis", 16),
            Column("Lot", 30),
            Column("Catégorie", 20),
            Column("Acteur", 30),
            Column("Description", 50),
            Column("Quantité", 10, "General"),
            Column("Unité", 10),
            _euro("Prix unitaire HT", total=False),
            Column("Taux de TVA", 10, RATE_FORMAT),
            _euro("Montant HT"),
        ]

    def _line_rows(self) -> Iterator[tuple]:
        """The accepted quotes' lines, streamed from the database a few hundred at a time."""
        ids = self.treasury.event_ids
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            query = (
                sa.select(
                    Event.title,
                    Quote.number,
                    Quote.version,
                    QuoteLine.kind,
                    QuoteLine.lot_title,
                    QuoteLine.category_name,
                    QuoteLine.organisation_name,
                    QuoteLine.description,
                    QuoteLine.quantity,
                    QuoteLine.unit,
                    QuoteLine.unit_price,
                    QuoteLine.vat_rate,
                    QuoteLine.net,
                )
                .join(Quote, QuoteLine.quote_id == Quote.id)
                .join(Event, Quote.event_id == Event.id)
                .where(Quote.status == QuoteStatus.ACCEPTED, Quote.event_id.in_(chunk))
                .order_by(Event.starts_at, Event.id, QuoteLine.position, QuoteLine.id)
            )
            for row in stream(db.session, query):
                yield _line_row(row.title, f"{row.number} v{row.version}", row)

    # --- files -----------------------------------------------------------------------------------

    def xlsx(self) -> bytes:
        """The workbook. The sheets are open side by side (write-only sheets stream to their own
        files): one pass over the events writes their summary rows, adds up the actors' figures and,
        as each accepted quote's lines come for its split, writes them to the lines sheet — the
        lines are read once, and no event's figures are kept once written. What was read is let go
        before the file is zipped."""
        workbook = new_workbook()
        workbook.properties.title = f"Trésorerie {self.period.label()}"
        workbook.properties.creator = "Maillage"
        try:
            with uncached_statements(db.session):
                self._write(workbook)
        finally:
            self.treasury = Treasury(self.period)
        return workbook_bytes(workbook)

    def _write(self, workbook) -> None:
        """The summary and the lines first, in one pass over the events; then each other sheet, in
        its place, from what is read for it."""
        first, last = self.table("synthese"), self.table("lignes")
        summary = XlsxSheet(workbook, first.title, first.columns)
        lines = XlsxSheet(workbook, last.title, last.columns)
        actors = ActorTotals()
        for row, quote_lines in self.treasury.iter_event_rows(LINE_COLUMNS):
            summary.append(_summary_row(row))
            actors.add(row)
            for line in quote_lines:
                lines.append(_line_row(row.title, row.quote_number, line))
        summary.append_totals(TOTAL)
        lines.append_totals(TOTAL)
        for index, slug in enumerate(list(self._sheets())[1:-1], start=1):
            table = self.table(slug)
            sheet = XlsxSheet(workbook, table.title, table.columns, index=index)
            if slug == "acteurs":
                sheet.extend(self._actor_rows(actors.totals()))
                sheet.append_totals(TOTAL)
                _actor_chart(sheet)
            else:
                sheet.extend(table.rows())
                sheet.append_totals(TOTAL)

    def csv(self, slug: str) -> bytes:
        """One table as CSV (UTF-8 with BOM, ``;``, decimal comma): its rows, without the totals row."""
        table = self.table(slug)
        return write_csv(table.columns, table.rows())

    def csv_zip(self) -> bytes:
        """Every table as CSV, in one ZIP."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for table in self.tables():
                archive.writestr(f"{table.slug}.csv", write_csv(table.columns, table.rows()))
        return buffer.getvalue()


def _actor_chart(sheet: XlsxSheet) -> None:
    """A bar chart of what each actor is owed in all and was paid (the rows written, totals excluded)."""
    if sheet.rows == 0:
        return
    headers = [column.header for column in sheet.columns]
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Montants par acteur"
    chart.y_axis.numFmt = EURO_FORMAT
    # Shown axes (openpyxl leaves them out unless told), the actors' names beside their bars.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.x_axis.scaling.orientation = "maxMin"  # the most owed first, at the top
    last = sheet.rows + 1
    for header in ("Dû en tout", "Payé"):
        column = headers.index(header) + 1
        chart.add_data(Reference(sheet.sheet, min_col=column, min_row=1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(sheet.sheet, min_col=1, min_row=2, max_row=last))
    chart.height = max(7.5, 0.6 * sheet.rows + 3)
    chart.width = 22
    sheet.sheet.add_chart(chart, "L2")


def build_workbook(date_from: date, date_to: date, event=None, client=None) -> bytes:
    """The treasurer's workbook (.xlsx) for ``date_from``–``date_to`` inclusive, optionally one event
    or one client (models or ids). Raises :class:`~app.errors.InvalidValue` on a bad period."""
    return TreasurerWorkbook(make_period(date_from, date_to, event, client)).xlsx()


def build_csv(slug: str, date_from: date, date_to: date, event=None, client=None) -> bytes:
    """One table of the workbook as CSV (``slug``: synthese, acteurs, factures, paiements,
    reversements, lignes)."""
    return TreasurerWorkbook(make_period(date_from, date_to, event, client)).csv(slug)


SLUGS = ("synthese", "acteurs", "factures", "paiements", "reversements", "lignes")
