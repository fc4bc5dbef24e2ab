"""Invoicing services: invoices and credit notes, payments, payouts."""
