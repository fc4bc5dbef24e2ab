"""The navigation: by role, in the reader's language, translated once per language (every page
prints it)."""

from __future__ import annotations

from flask_babel import force_locale
from markupsafe import Markup

from app.models import Role
from app.navigation import navigation_for


class Someone:
    is_authenticated = True

    def __init__(self, role):
        self.role = role


def test_the_navigation_speaks_the_language_and_is_translated_once(app):
    with app.test_request_context("/"):
        public = navigation_for(None)
        assert public == [
            ("public.directory", "Annuaire des acteurs"),
            ("public.chain_list", "Chaînes d'acteurs"),
        ]
        assert all(isinstance(text, Markup) for _, text in public)  # printed as the lazy labels were
        assert navigation_for(None) is public
        coordination = navigation_for(Someone(Role.COORDINATOR))
        assert coordination[0] == ("main.dashboard", "Tableau de bord")
        assert ("offers.quote_list", "Devis") in coordination
        with force_locale("en"):
            assert navigation_for(None)[1] == ("public.chain_list", "Actor chains")
            assert navigation_for(Someone(Role.COORDINATOR))[0] == ("main.dashboard", "Dashboard")
        assert navigation_for(None) is public
