"""Offer forms (Flask-WTF)."""
