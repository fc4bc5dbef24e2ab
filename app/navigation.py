"""The navigation differs by role: one list of (endpoint, label) per role, in one place."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from markupsafe import Markup

from app.i18n import current_translations
from app.i18n import lazy_gettext as _l
from app.models import Role

NAVIGATION: dict[Role, list[tuple[str, object]]] = {
    Role.ADMIN: [
        ("main.dashboard", _l("Tableau de bord")),
        ("offers.event_list", _l("Événements")),
        ("directory.organisation_list", _l("Acteurs")),
        ("invoicing.invoice_list", _l("Factures")),
        ("main.user_list", _l("Utilisateurs")),
        ("reports.admin", _l("Indicateurs")),
        ("main.settings", _l("Paramètres")),
    ],
    Role.COORDINATOR: [
        ("main.dashboard", _l("Tableau de bord")),
        ("offers.event_list", _l("Événements")),
        ("offers.quote_list", _l("Devis")),
        ("directory.organisation_list", _l("Acteurs")),
        ("directory.chain_list", _l("Chaînes")),
        ("offers.client_list", _l("Clients")),
        ("reports.coordination", _l("Indicateurs")),
    ],
    Role.TREASURER: [
        ("main.dashboard", _l("Tableau de bord")),
        ("offers.event_list", _l("Événements")),
        ("offers.quote_list", _l("Devis")),
        ("directory.organisation_list", _l("Acteurs")),
        ("invoicing.invoice_list", _l("Factures")),
        ("invoicing.payment_list", _l("Paiements")),
        ("invoicing.payout_list", _l("Reversements")),
        ("reports.treasury", _l("Indicateurs")),
    ],
    Role.ACTOR: [
        ("main.dashboard", _l("Accueil")),
        ("offers.portal_lots", _l("Mes lots")),
        ("invoicing.portal_statements", _l("Mes relevés")),
        ("invoicing.portal_invoicing", _l("Ma facturation")),
        ("directory.my_card", _l("Ma fiche")),
    ],
    Role.CLIENT: [
        ("main.dashboard", _l("Accueil")),
        ("offers.client_quotes", _l("Mes devis")),
    ],
}


#: What a visitor without an account sees.
PUBLIC_NAVIGATION: list[tuple[str, object]] = [
    ("public.directory", _l("Annuaire des acteurs")),
    ("public.chain_list", _l("Chaînes d'acteurs")),
]


#: The entries in each catalogue's words, by role (``None``: the public's): every page prints the
#: navigation, and Flask-Babel's lookup of a lazy label costs more than the rest of the entry.
_WORDS: WeakKeyDictionary = WeakKeyDictionary()


def navigation_for(user) -> list[tuple[str, object]]:
    """The user's entries as ``(endpoint, label)``, the labels translated (as markup, as the lazy
    labels print)."""
    role = None if user is None or not getattr(user, "is_authenticated", False) else user.role
    catalogue = current_translations()
    words = _WORDS.get(catalogue)
    if words is None:
        words = _WORDS.setdefault(catalogue, {})
    entries = words.get(role)
    if entries is None:
        source = PUBLIC_NAVIGATION if role is None else NAVIGATION.get(role, [])
        entries = words[role] = [(endpoint, Markup(str(text))) for endpoint, text in source]  # noqa: S704
    return entries
