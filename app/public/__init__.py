"""The public directory (/annuaire): no login, only what actors consented to show."""
