"""Joint-consortium invoicing: billing mandates, each event's invoicing settings, each client's
e-invoice format, and the actors' answers to self-billed invoices (docs/joint-consortium.md)."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, enum_column, utcnow
from app.extensions import db


class MandateSource(enum.StrEnum):
    #: Granted by the actor itself, in its portal (the click is the signature, recorded with its IP).
    PORTAL = "portal"
    #: Recorded by the coordination, with the mandate signed on paper uploaded as a PDF.
    UPLOAD = "upload"


class BillingMandate(db.Model):
    """An actor allows Maillage (the coordination) to issue invoices in its name and for its account
    (art. 289 I-2 CGI), between ``valid_from`` and ``valid_until`` (open-ended when NULL), until revoked.

    Never deleted: a revoked mandate stays, so every invoice issued under it can show which one it was.
    At most one mandate of an organisation is not revoked (a partial unique index).
    """

    __tablename__ = "billing_mandates"
    __table_args__ = (
        sa.CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="valid_period"),
        sa.CheckConstraint("(source = 'upload') = (document IS NOT NULL)", name="upload_has_document"),
        sa.CheckConstraint("(revoked_at IS NULL) = (revoked_by_id IS NULL)", name="revocation_complete"),
        sa.Index(
            "uq_billing_mandates_one_live",
            "organisation_id",
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    source: Mapped[MandateSource] = mapped_column(
        enum_column(MandateSource, "mandate_source"), nullable=False
    )
    #: The prefix of the actor's own invoice series (``MELI`` gives ``MELI-2026-0001``).
    prefix: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    valid_from: Mapped[date] = mapped_column(sa.Date, nullable=False)
    valid_until: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    #: The signed mandate (PDF), when recorded by the coordination; checked: %PDF, size cap.
    document: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True, deferred=True)
    document_name: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    document_sha256: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    granted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    granted_ip: Mapped[str | None] = mapped_column(sa.String(45), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    revocation_reason: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")

    organisation = relationship("Organisation")
    granted_by = relationship("User", foreign_keys=[granted_by_id])
    revoked_by = relationship("User", foreign_keys=[revoked_by_id])

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def valid_on(self, day: date) -> bool:
        """Whether invoices dated ``day`` may be issued under this mandate."""
        if self.is_revoked or day < self.valid_from:
            return False
        return self.valid_until is None or day <= self.valid_until


class ChorusCircuit(enum.StrEnum):
    """How a groupement's invoices reach a public buyer in Chorus Pro."""

    #: Each member deposits its own invoice; the mandataire acknowledges (validates) it.
    EACH_MEMBER = "each_member"
    #: The mandataire deposits one global payment request with each member's share.
    GLOBAL = "global"


class EventInvoicing(db.Model):
    """An event's invoicing choices (joint consortium), one row per event, created when first set.

    Who pays the coordination fee is the event's own setting (``Event.fee_charging``): a fee line is
    the coordinator's invoice to the client, a commission its invoices to the members."""

    __tablename__ = "event_invoicing"

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    chorus_circuit: Mapped[ChorusCircuit] = mapped_column(
        enum_column(ChorusCircuit, "chorus_circuit"), nullable=False, default=ChorusCircuit.EACH_MEMBER
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class EInvoiceFormat(enum.StrEnum):
    #: A PDF/A-3b with its EN 16931 XML embedded (the default).
    FACTURX = "facturx"
    #: A plain PDF/A-3b, for a client whose tools choke on attachments; the XML is still kept.
    PDFA = "pdfa"


class ClientInvoicing(db.Model):
    """A client's e-invoice format (one row per client, created when first set)."""

    __tablename__ = "client_invoicing"

    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True)
    einvoice_format: Mapped[EInvoiceFormat] = mapped_column(
        enum_column(EInvoiceFormat, "einvoice_format"), nullable=False, default=EInvoiceFormat.FACTURX
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class ReviewAnswer(enum.StrEnum):
    ACCEPTED = "accepted"
    CONTESTED = "contested"


class SelfBillingReview(db.Model):
    """An actor's answer to a self-billed invoice issued in its name (type 389): accepted, or
    contested with a reason (which blocks the payout). One answer per invoice, who, when, from where."""

    __tablename__ = "self_billing_reviews"
    __table_args__ = (sa.CheckConstraint("answer <> 'contested' OR reason <> ''", name="contest_has_reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invoices.id", ondelete="RESTRICT"), nullable=False, unique=True
    )
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    answer: Mapped[ReviewAnswer] = mapped_column(enum_column(ReviewAnswer, "review_answer"), nullable=False)
    reason: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    ip: Mapped[str | None] = mapped_column(sa.String(45), nullable=True)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    user = relationship("User")
