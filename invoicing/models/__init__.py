"""The invoicing package's models."""

from invoicing.models.invoice import (
    INVOICE_STATES,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceOrigin,
    InvoiceStatus,
)
from invoicing.models.mandate import (
    BillingMandate,
    ChorusCircuit,
    ClientInvoicing,
    EInvoiceFormat,
    EventInvoicing,
    MandateSource,
    ReviewAnswer,
    SelfBillingReview,
)
from invoicing.models.payment import Payment, PaymentMethod
from invoicing.models.payout import PAYOUT_STATES, Payout, PayoutStatus

__all__ = [
    "INVOICE_STATES",
    "PAYOUT_STATES",
    "BillingMandate",
    "ChorusCircuit",
    "ClientInvoicing",
    "EInvoiceFormat",
    "EventInvoicing",
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceOrigin",
    "InvoiceStatus",
    "MandateSource",
    "Payment",
    "PaymentMethod",
    "Payout",
    "PayoutStatus",
    "ReviewAnswer",
    "SelfBillingReview",
]
