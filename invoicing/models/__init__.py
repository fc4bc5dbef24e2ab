"""The invoicing package's models."""

from invoicing.models.invoice import INVOICE_STATES, Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from invoicing.models.payment import Payment, PaymentMethod
from invoicing.models.payout import PAYOUT_STATES, Payout, PayoutStatus

__all__ = [
    "INVOICE_STATES",
    "PAYOUT_STATES",
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceStatus",
    "Payment",
    "PaymentMethod",
    "Payout",
    "PayoutStatus",
]
