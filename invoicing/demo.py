"""Demo data for invoicing (nothing yet)."""
