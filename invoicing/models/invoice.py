"""Invoices and credit notes: frozen, numbered snapshots; never changed or deleted once issued."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Money, Quantity, Rate, UTCDateTime, enum_column, utcnow
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.states import StateMachine


class InvoiceKind(enum.StrEnum):
    INVOICE = "invoice"
    DEPOSIT = "deposit"
    CREDIT_NOTE = "credit_note"


class InvoiceOrigin(enum.StrEnum):
    """Who wrote the document. Stored as a plain string (no CHECK: adding one would rebuild the
    frozen table on SQLite); the services only write these values."""

    #: Issued by Maillage: in the coordinator's name, or in an actor's name under its billing mandate.
    MAILLAGE = "maillage"
    #: Issued by Maillage for an actor under mandate to the coordinator (self-billing, type 389).
    SELF_BILLED = "self_billed"
    #: The actor's own invoice, issued outside Maillage and recorded by the coordination.
    RECORDED = "recorded"


class InvoiceStatus(enum.StrEnum):
    """Stored states only. Paid, partly paid, overdue and cancelled are derived from payments,
    the due date and credit notes, never stored."""

    DRAFT = "draft"
    ISSUED = "issued"


#: The only place invoice moves are defined (a draft is issued once; an issued invoice never moves).
INVOICE_STATES = StateMachine(
    name="invoice",
    states=InvoiceStatus,
    transitions={
        InvoiceStatus.DRAFT: {InvoiceStatus.ISSUED},
        InvoiceStatus.ISSUED: set(),
    },
    refusal=_l("La facture ne peut pas passer de « %(before)s » à « %(after)s »."),
    already=_l("La facture est déjà « %(status)s »."),
    event_id=lambda invoice: invoice.event_id,
)


class Invoice(db.Model):
    __tablename__ = "invoices"
    __table_args__ = (
        sa.UniqueConstraint("issuer", "number", name="uq_invoices_issuer_number"),
        sa.CheckConstraint(
            "(kind = 'credit_note') = (credit_of_id IS NOT NULL)", name="credit_note_references_invoice"
        ),
        sa.CheckConstraint("(status = 'issued') = (number IS NOT NULL)", name="issued_has_number"),
        sa.CheckConstraint(
            "total_net >= 0 AND total_vat >= 0 AND total_gross >= 0", name="totals_non_negative"
        ),
        sa.CheckConstraint(
            "(issuer = 'coordinator') = (issuer_organisation_id IS NULL)", name="issuer_matches_organisation"
        ),
        sa.CheckConstraint("prepaid >= 0 AND prepaid <= total_gross", name="prepaid_within_gross"),
        sa.CheckConstraint(
            "operation_category IN ('services', 'goods', 'mixed')", name="operation_category_known"
        ),
        # The treasurer's list: issued invoices, latest first, a page at a time (migration 0021).
        sa.Index("ix_invoices_list", "status", "issue_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``coordinator`` or ``organisation:<id>`` (an actor's own series, issued under mandate).
    issuer: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    issuer_organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    kind: Mapped[InvoiceKind] = mapped_column(
        enum_column(InvoiceKind, "invoice_kind"), nullable=False, default=InvoiceKind.INVOICE
    )
    status: Mapped[InvoiceStatus] = mapped_column(
        enum_column(InvoiceStatus, "invoice_status"), nullable=False, default=InvoiceStatus.DRAFT
    )
    origin: Mapped[str] = mapped_column(
        sa.String(12), nullable=False, default=InvoiceOrigin.MAILLAGE.value, server_default="maillage"
    )
    #: Allocated when issued, in the same transaction; NULL while draft.
    number: Mapped[str | None] = mapped_column(sa.String(35), nullable=True)
    credit_of_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("invoices.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    event_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("events.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    quote_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("quotes.id", ondelete="RESTRICT"), nullable=True
    )
    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("clients.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    issue_date: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    due_date: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    #: Date (or last date) of the service, when it differs from the issue date.
    service_date: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    purchase_order_number: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    #: Frozen seller and buyer identities, legal mentions, as plain values.
    seller: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    buyer: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    mentions: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    total_net: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=Decimal("0"))
    total_vat: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=Decimal("0"))
    total_gross: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=Decimal("0"))
    #: Deposits already invoiced and deducted on a final invoice (their gross); 0 otherwise.
    prepaid: Mapped[Decimal] = mapped_column(
        Money(), nullable=False, default=Decimal("0"), server_default="0"
    )
    #: Frozen totals per VAT rate: ``[{"rate", "net", "vat", "mention"}]`` (``offers.pricing.totals``).
    vat_groups: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list, server_default="[]")
    #: Frozen references printed on the document: the deposits deducted (number, date, gross), the
    #: credited invoice (number, date), the quote (number, version), the reason of a credit note.
    references: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict, server_default="{}")
    #: ``services``, ``goods`` or ``mixed`` (the "catégorie de l'opération").
    operation_category: Mapped[str] = mapped_column(
        sa.String(10), nullable=False, default="services", server_default="services"
    )
    #: The embedded Factur-X (CII) XML, kept beside the PDF for the archive.
    xml: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True, deferred=True)
    pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True, deferred=True)
    pdf_sha256: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    lines = relationship(
        "InvoiceLine", back_populates="invoice", order_by="InvoiceLine.position", cascade="all"
    )
    payments = relationship("Payment", back_populates="invoice", order_by="Payment.received_on")
    credit_of = relationship("Invoice", remote_side=[id])
    client = relationship("Client")

    @hybrid_property
    def issued_here(self) -> bool:
        """Maillage wrote the document (in the coordinator's name, or an actor's under mandate, or
        self-billed): its PDF is rendered from the frozen row, stored after the issue or at its
        first read, and it is Maillage's to archive. Not an actor's own invoice recorded here."""
        return self.origin != InvoiceOrigin.RECORDED.value

    @hybrid_property
    def has_pdf(self) -> bool:
        """There is a PDF to download: every document Maillage wrote (:attr:`issued_here`), and an
        actor's own invoice when it was recorded with its PDF. In SQL too (without reading the PDF)."""
        return self.issued_here or self.pdf is not None

    @has_pdf.inplace.expression
    @classmethod
    def _has_pdf_expression(cls):
        return sa.or_(cls.issued_here, cls.pdf.is_not(None))


class InvoiceLine(db.Model):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("unit_price >= 0 AND net >= 0", name="amounts_non_negative"),
        sa.CheckConstraint("vat_rate >= 0", name="vat_rate_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    lot_title: Mapped[str] = mapped_column(sa.String(250), nullable=False, default="")
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True
    )
    description: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Quantity(), nullable=False)
    unit: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    vat_rate: Mapped[Decimal] = mapped_column(Rate(), nullable=False)
    net: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    #: The legal mention of a 0 % line (the seller's regime, or the reason given).
    vat_mention: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)

    invoice = relationship("Invoice", back_populates="lines")
