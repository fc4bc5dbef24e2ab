"""The invoicing package's models."""

from invoicing.models.invoice import INVOICE_TRANSITIONS, Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from invoicing.models.payment import Payment, PaymentMethod
from invoicing.models.payout import PAYOUT_TRANSITIONS, Payout, PayoutStatus

__all__ = [
    "INVOICE_TRANSITIONS",
    "PAYOUT_TRANSITIONS",
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceStatus",
    "Payment",
    "PaymentMethod",
    "Payout",
    "PayoutStatus",
]
