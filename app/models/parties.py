"""Parties: member organisations (actors), clients, and the coordinator's own identity."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from app.db import Rate, UTCDateTime, enum_column, utcnow
from app.extensions import db


class LegalForm(enum.StrEnum):
    ASSOCIATION = "association"
    SCOP = "scop"
    SCIC = "scic"
    COOPERATIVE = "cooperative"
    SAS = "sas"
    SARL = "sarl"
    EI = "ei"
    COLLECTIVITY = "collectivity"
    MUTUAL = "mutual"
    FOUNDATION = "foundation"
    OTHER = "other"


class VatRegime(enum.StrEnum):
    #: Charges VAT; has a VAT number.
    SUBJECT = "subject"
    #: Franchise en base (art. 293 B): invoices without VAT.
    FRANCHISE = "franchise"
    #: Exempt operations (art. 261-7-1°): invoices without VAT.
    EXEMPT = "exempt"


organisation_categories = sa.Table(
    "organisation_categories",
    db.metadata,
    sa.Column("organisation_id", sa.ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("category_id", sa.ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True),
    # The primary key serves "an organisation's categories"; this serves "a category's organisations".
    sa.Index("ix_organisation_categories_category", "category_id", "organisation_id"),
)


class PartyFields:
    """Identity fields shared by organisations and the coordinator's identity."""

    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    legal_form: Mapped[LegalForm] = mapped_column(
        enum_column(LegalForm, "legal_form"), nullable=False, default=LegalForm.ASSOCIATION
    )
    #: 14 digits, Luhn-checked (python-stdnum); the SIREN is its first 9 digits.
    siret: Mapped[str | None] = mapped_column(sa.String(14), nullable=True, unique=True)
    vat_regime: Mapped[VatRegime] = mapped_column(
        enum_column(VatRegime, "vat_regime"), nullable=False, default=VatRegime.SUBJECT
    )
    #: Intra-community VAT number (FR + key + SIREN), required when subject to VAT.
    vat_number: Mapped[str | None] = mapped_column(sa.String(20), nullable=True)
    address: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")
    postal_code: Mapped[str] = mapped_column(sa.String(10), nullable=False, default="")
    commune: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    email: Mapped[str | None] = mapped_column(sa.String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    website: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    iban: Mapped[str | None] = mapped_column(sa.String(34), nullable=True)
    bic: Mapped[str | None] = mapped_column(sa.String(11), nullable=True)

    @property
    def siren(self) -> str | None:
        return self.siret[:9] if self.siret else None


class Organisation(PartyFields, db.Model):
    """A member organisation's card (fiche): an actor that delivers lots."""

    __tablename__ = "organisations"
    __table_args__ = (
        sa.CheckConstraint("NOT qpv OR qpv_name IS NOT NULL", name="qpv_named"),
        sa.CheckConstraint(
            "vat_regime <> 'subject' OR vat_number IS NOT NULL", name="subject_has_vat_number"
        ),
        # Lists sort by name without case (directory, actor picker).
        sa.Index("ix_organisations_name_lower", sa.func.lower(sa.column("name"))),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: URL-safe identifier for the public directory.
    slug: Mapped[str] = mapped_column(sa.String(120), nullable=False, unique=True)
    #: Whether the organisation sits in a priority neighbourhood of the city policy (QPV).
    qpv: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    qpv_name: Mapped[str | None] = mapped_column(sa.String(120), nullable=True)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    contact_name: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    #: The actor chose to show its e-mail and phone on the public directory.
    show_contact_publicly: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    #: The actor consented to appear on the public directory (/annuaire).
    public_listing: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    #: Up to 1 MiB: read only where it is shown or printed (deferred), never with the row.
    logo: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True, deferred=True)
    logo_mime: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    #: Optimistic lock: stale forms are detected against it.
    version_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    categories = relationship("Category", secondary=organisation_categories, order_by="Category.position")
    #: Its categories' ids as text (``"3,7"``), when a list's query asked for them with its rows
    #: (``with_expression``, see app.directory.search): ``None`` otherwise.
    category_ids: Mapped[str | None] = query_expression()

    __mapper_args__ = {"version_id_col": version_id}

    def __repr__(self) -> str:
        return f"<Organisation {self.name}>"


class Client(db.Model):
    """The buyer of an event."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    #: SIRET (14 digits) when known; else at least the SIREN (9 digits).
    siret: Mapped[str | None] = mapped_column(sa.String(14), nullable=True, unique=True)
    siren: Mapped[str | None] = mapped_column(sa.String(9), nullable=True)
    vat_number: Mapped[str | None] = mapped_column(sa.String(20), nullable=True)
    address: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")
    postal_code: Mapped[str] = mapped_column(sa.String(10), nullable=False, default="")
    commune: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    #: Public buyer: invoices go through Chorus Pro and carry public-procurement terms.
    is_public_body: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    chorus_service_code: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    #: Engagement juridique / purchase-order number the buyer requires on invoices.
    engagement_number: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    contact_name: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    contact_email: Mapped[str | None] = mapped_column(sa.String(254), nullable=True)
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    notes: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    version_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version_id}

    def __repr__(self) -> str:
        return f"<Client {self.name}>"


class CoordinatorIdentity(PartyFields, db.Model):
    """The issuing organisation of quotes and invoices (one row)."""

    __tablename__ = "coordinator_identity"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)
    #: The id of the table's one row.
    ONLY_ROW: ClassVar[int] = 1

    id: Mapped[int] = mapped_column(primary_key=True, default=ONLY_ROW)
    #: Share capital, for companies (a mandatory mention on their invoices).
    share_capital: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    #: RCS / RM registration, where applicable.
    registration: Mapped[str | None] = mapped_column(sa.String(120), nullable=True)
    #: Up to 1 MiB: read only where it is shown or printed (deferred), never with the row.
    logo: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True, deferred=True)
    logo_mime: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    #: Free text printed at the foot of quotes and invoices.
    legal_mentions: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    payment_terms: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    payment_days: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=30)
    quote_prefix: Mapped[str] = mapped_column(sa.String(10), nullable=False, default="DEV")
    invoice_prefix: Mapped[str] = mapped_column(sa.String(10), nullable=False, default="FAC")
    credit_note_prefix: Mapped[str] = mapped_column(sa.String(10), nullable=False, default="AV")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class Category(db.Model):
    """A kind of lot (accueil, restauration…), with its default VAT rate."""

    __tablename__ = "categories"
    __table_args__ = (sa.CheckConstraint("default_vat_rate >= 0", name="vat_rate_non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    #: Fraction: 0.1000 for 10 %, 0.0550 for 5,5 %.
    default_vat_rate: Mapped[Decimal] = mapped_column(Rate(), nullable=False)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    #: Optimistic locking (edit form, see docs/architecture.md "Concurrent edits").
    version_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version_id}

    def __repr__(self) -> str:
        return f"<Category {self.code}>"
