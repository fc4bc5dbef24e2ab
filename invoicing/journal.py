"""The accounting journal in the FEC column layout: sales, receipts and redistribution.

For the accountant to import into the accounting software (Maillage is not the books of record: the
file is a *journal extract* for a period, in the 18 columns of art. A47 A-1 LPF, tab-separated, dates
``AAAAMMJJ``, amounts with a decimal comma). The scheme — which entries for an invoice, a deposit, a
credit note, a payment and a payout — is written down in ``docs/treasury.md``; the accounts are the
setting ``accounting.accounts`` (:func:`accounts`, :func:`save_accounts`).

The coordinator sells everything in its own name (single contractor): the client's invoices are its
sales (706), and what it pays the actors are its purchases (604) from them (401), with the VAT they
charge on their nets as deductible VAT. Every entry balances (:class:`Entry` refuses otherwise).

The documents, payments and payouts are those of the workbook (:class:`invoicing.treasury.Treasury`):
the journal's totals are the workbook's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _

from app.audit import N_, record
from app.errors import Forbidden, InvalidValue
from app.extensions import db
from app.models import Setting
from app.money import ZERO, allocate
from app.settings_store import get_setting, set_setting
from invoicing.models import Invoice, InvoiceKind, Payout
from invoicing.permissions import can_export_accounts
from invoicing.treasury import Period, Treasury, make_period

SETTING = "accounting.accounts"

#: The accounts and journals, their default numbers and what they are for (French: the accountant's).
DEFAULT_ACCOUNTS: dict[str, tuple[str, str]] = {
    "sales": ("706", "Prestations de services"),
    "clients": ("411", "Clients"),
    "deposits": ("4191", "Clients - avances et acomptes reçus"),
    "vat_collected": ("44571", "TVA collectée"),
    "bank": ("512", "Banque"),
    "actors": ("401", "Fournisseurs - acteurs du réseau"),
    "purchases": ("604", "Achats de prestations de services"),
    "vat_deductible": ("44566", "TVA déductible sur autres biens et services"),
}
DEFAULT_JOURNALS: dict[str, tuple[str, str]] = {
    "sales_journal": ("VE", "Ventes"),
    "receipts_journal": ("BQ", "Encaissements"),
    "payouts_journal": ("RV", "Reversements"),
}
ACCOUNT_PATTERN = re.compile(r"^[0-9][0-9A-Z]{2,19}$")
JOURNAL_PATTERN = re.compile(r"^[A-Z0-9]{1,8}$")

FEC_COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)


class UnbalancedEntry(ValueError):
    """An entry whose debits and credits differ: a bug, never a user's mistake."""


# --- settings ------------------------------------------------------------------------------------


def accounts() -> dict[str, str]:
    """Account numbers and journal codes: the setting, defaults filled in."""
    stored = get_setting(SETTING, {}) or {}
    defaults = {key: number for key, (number, _label) in (DEFAULT_ACCOUNTS | DEFAULT_JOURNALS).items()}
    return {key: str(stored.get(key) or default) for key, default in defaults.items()}


def save_accounts(values: dict[str, str], user) -> dict[str, str]:
    """Store the account numbers and journal codes. Raises :class:`Forbidden` (not treasury) and
    :class:`InvalidValue` naming the field. Flushes, never commits."""
    if not can_export_accounts(user):
        raise Forbidden(_("Seule la trésorerie règle les comptes du journal."))
    cleaned = {}
    for key in DEFAULT_ACCOUNTS:
        value = (values.get(key) or "").strip().upper()
        if not ACCOUNT_PATTERN.match(value):
            raise InvalidValue(
                _("Un numéro de compte commence par un chiffre : 3 à 20 chiffres ou lettres, sans espace."),
                key,
            )
        cleaned[key] = value
    for key in DEFAULT_JOURNALS:
        value = (values.get(key) or "").strip().upper()
        if not JOURNAL_PATTERN.match(value):
            raise InvalidValue(_("Un code journal a 1 à 8 lettres ou chiffres."), key)
        cleaned[key] = value
    codes = [cleaned[key] for key in DEFAULT_JOURNALS]
    if len(set(codes)) != len(codes):
        raise InvalidValue(_("Chaque journal a son propre code."), "payouts_journal")
    before = accounts()
    set_setting(SETTING, cleaned)
    changed = {key: (before[key], value) for key, value in cleaned.items() if before[key] != value}
    if changed:
        record(
            "settings.accounts",
            db.session.get(Setting, SETTING),
            user=user,
            summary=N_("Comptes du journal comptable modifiés"),
            changes=changed,
        )
    return cleaned


# --- entries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalLine:
    account: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    aux: str = ""
    aux_label: str = ""
    label: str = ""


@dataclass
class Entry:
    """One balanced entry (écriture): a journal, a date, a document, its lines."""

    journal: str
    day: date
    piece: str
    piece_date: date
    label: str
    lines: list[JournalLine] = field(default_factory=list)

    def add(
        self, account: str, amount: Decimal, *, debit: bool, aux: str = "", aux_label: str = "", label=""
    ):
        """A line of ``amount`` on the debit (or credit) side; a negative amount goes to the other
        side, a zero amount is left out."""
        if amount == 0:
            return
        if amount < 0:
            amount, debit = -amount, not debit
        self.lines.append(
            JournalLine(
                account,
                amount if debit else ZERO,
                ZERO if debit else amount,
                aux,
                aux_label,
                label or self.label,
            )
        )

    @property
    def debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)

    @property
    def credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)

    def check(self) -> Entry:
        if self.debit != self.credit:
            raise UnbalancedEntry(f"{self.journal} {self.piece}: debit {self.debit} != credit {self.credit}")
        return self


def _groups(document: Invoice) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(rate, net, VAT) of each rate of a document, as frozen on it."""
    return [(Decimal(g["rate"]), Decimal(g["net"]), Decimal(g["vat"])) for g in document.vat_groups]


def _fr_rate(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}".replace(".", ",") + " %"


class Journal:
    """The entries of a period (see ``docs/treasury.md`` for the scheme)."""

    def __init__(self, period: Period, treasury: Treasury | None = None):
        self.period = period
        self.treasury = treasury or Treasury(period)
        self.accounts = accounts()

    def _client(self, document: Invoice) -> tuple[str, str]:
        return f"CLI{document.client_id:05d}", document.buyer.get("name", "")

    def sales(self) -> list[Entry]:
        a = self.accounts
        entries = []
        credited = {}
        notes = [d for d in self.treasury.documents if d.kind == InvoiceKind.CREDIT_NOTE]
        if notes:
            credited = {
                i.id: i
                for i in db.session.scalars(
                    db.select(Invoice).where(Invoice.id.in_({n.credit_of_id for n in notes}))
                )
            }
        for document in self.treasury.documents:
            aux, aux_label = self._client(document)
            entry = Entry(
                a["sales_journal"],
                document.issue_date,
                document.number,
                document.issue_date,
                f"{_kind_label(document.kind)} {document.number} {aux_label}".strip()[:200],
            )
            if document.kind == InvoiceKind.DEPOSIT:
                entry.add(a["clients"], document.total_gross, debit=True, aux=aux, aux_label=aux_label)
                entry.add(a["deposits"], document.total_gross, debit=False, aux=aux, aux_label=aux_label)
            elif document.kind == InvoiceKind.INVOICE:
                entry.add(
                    a["clients"],
                    document.total_gross - document.prepaid,
                    debit=True,
                    aux=aux,
                    aux_label=aux_label,
                )
                entry.add(a["deposits"], document.prepaid, debit=True, aux=aux, aux_label=aux_label)
                self._sales_and_vat(entry, document, debit=False)
            else:
                effect, freed = self.treasury.note_effects[document.id]
                origin = credited[document.credit_of_id]
                if origin.kind == InvoiceKind.DEPOSIT:
                    entry.add(a["deposits"], document.total_gross, debit=True, aux=aux, aux_label=aux_label)
                else:
                    self._sales_and_vat(entry, document, debit=True)
                entry.add(a["clients"], effect, debit=False, aux=aux, aux_label=aux_label)
                entry.add(a["deposits"], freed, debit=False, aux=aux, aux_label=aux_label)
            entries.append(entry.check())
        return entries

    def _sales_and_vat(self, entry: Entry, document: Invoice, *, debit: bool) -> None:
        for rate, net, vat in _groups(document):
            suffix = f" — {_fr_rate(rate)}"
            entry.add(self.accounts["sales"], net, debit=debit, label=(entry.label + suffix)[:200])
            entry.add(self.accounts["vat_collected"], vat, debit=debit, label=(entry.label + suffix)[:200])

    def receipts(self) -> list[Entry]:
        a = self.accounts
        entries = []
        for payment, invoice in self.treasury.payments:
            aux, aux_label = self._client(invoice)
            label = f"Règlement {invoice.number} {aux_label}"
            if payment.reference:
                label += f" ({payment.reference})"
            entry = Entry(
                a["receipts_journal"], payment.received_on, invoice.number, payment.received_on, label[:200]
            )
            entry.add(a["bank"], payment.amount, debit=True)
            entry.add(a["clients"], payment.amount, debit=False, aux=aux, aux_label=aux_label)
            entries.append(entry.check())
        return entries

    def payouts(self) -> list[Entry]:
        """Per payout paid: the actor's share as a purchase (net, and the VAT it charges, in the
        proportion of its net and VAT), then its payment."""
        a = self.accounts
        entries = []
        titles = _event_titles({p.event_id for p in self.treasury.paid_payouts})
        for payout in self.treasury.paid_payouts:
            aux = f"ACT{payout.organisation_id:05d}"
            name = payout.organisation.name
            piece = f"REV-{payout.id}"
            net_part, vat_part = _net_and_vat(payout)
            title = titles.get(payout.event_id, "")
            share = Entry(
                a["payouts_journal"], payout.paid_on, piece, payout.paid_on, f"Part de {name} — {title}"[:200]
            )
            share.add(a["purchases"], net_part, debit=True)
            share.add(a["vat_deductible"], vat_part, debit=True)
            share.add(a["actors"], payout.amount, debit=False, aux=aux, aux_label=name)
            paid = Entry(
                a["payouts_journal"],
                payout.paid_on,
                piece,
                payout.paid_on,
                f"Reversement à {name} ({payout.reference})"[:200],
            )
            paid.add(a["actors"], payout.amount, debit=True, aux=aux, aux_label=name)
            paid.add(a["bank"], payout.amount, debit=False)
            entries.extend((share.check(), paid.check()))
        return entries

    def entries(self) -> list[Entry]:
        """Every entry of the period, by date, then sales, receipts, redistribution."""
        order = {self.accounts[k]: i for i, k in enumerate(DEFAULT_JOURNALS)}
        every = [*self.sales(), *self.receipts(), *self.payouts()]
        # A stable sort: within a day and a journal, documents keep their number order.
        every.sort(key=lambda e: (e.day, order.get(e.journal, 9)))
        return every

    def fec(self) -> bytes:
        """The FEC text: a header line and one line per entry line, tab-separated, UTF-8."""
        labels = {key: label for key, (_n, label) in DEFAULT_ACCOUNTS.items()}
        account_labels = {self.accounts[key]: label for key, label in labels.items()}
        journal_labels = {self.accounts[key]: label for key, (_c, label) in DEFAULT_JOURNALS.items()}
        out = ["\t".join(FEC_COLUMNS)]
        for number, entry in enumerate(self.entries(), start=1):
            for line in entry.lines:
                out.append(
                    "\t".join(
                        _clean(value)
                        for value in (
                            entry.journal,
                            journal_labels.get(entry.journal, ""),
                            str(number),
                            f"{entry.day:%Y%m%d}",
                            line.account,
                            account_labels.get(line.account, ""),
                            line.aux,
                            line.aux_label,
                            entry.piece,
                            f"{entry.piece_date:%Y%m%d}",
                            line.label,
                            _amount(line.debit),
                            _amount(line.credit),
                            "",
                            "",
                            f"{entry.day:%Y%m%d}",
                            "",
                            "",
                        )
                    )
                )
        return ("\r\n".join(out) + "\r\n").encode("utf-8")

    def filename(self) -> str:
        """``<SIREN>FEC<AAAAMMJJ>.txt``, the date being the end of the period."""
        from offers.pricing import coordinator_identity

        identity = coordinator_identity()
        siren = (identity.siret or "")[:9] if identity is not None else ""
        return f"{siren or 'MAILLAGE'}FEC{self.period.date_to:%Y%m%d}.txt"


def _kind_label(kind: InvoiceKind) -> str:
    return {"invoice": "Facture", "deposit": "Acompte", "credit_note": "Avoir"}[kind.value]


def _net_and_vat(payout: Payout) -> tuple[Decimal, Decimal]:
    """A payout's amount split between the actor's net and its VAT, in their proportion
    (:func:`app.money.allocate`: whole cents that add up to the amount)."""
    if payout.vat_amount == 0 or payout.net_amount <= 0:
        return payout.amount, ZERO
    net, vat = allocate(abs(payout.amount), [payout.net_amount, payout.vat_amount])
    return (net, vat) if payout.amount >= 0 else (-net, -vat)


def _event_titles(ids) -> dict[int, str]:
    from offers.models import Event

    if not ids:
        return {}
    return dict(db.session.execute(db.select(Event.id, Event.title).where(Event.id.in_(ids))).all())


def _amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


def _clean(value: str) -> str:
    """No tab nor line break inside a field (they separate fields and lines)."""
    return re.sub(r"[\t\r\n]+", " ", value or "")


def build_fec(date_from: date, date_to: date, event=None, client=None) -> tuple[str, bytes]:
    """The journal of the period in the FEC layout: ``(file name, bytes)``."""
    journal = Journal(make_period(date_from, date_to, event, client))
    return journal.filename(), journal.fec()
