"""The actors' directory ("classeur"): one card per organisation."""
