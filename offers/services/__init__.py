"""Offer services: explicit arguments, no request, raise domain errors, flush but never commit."""
