"""French labels for stored codes (roles, statuses, legal forms…), in one place, for templates."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from weakref import WeakKeyDictionary

from app.i18n import current_translations
from app.i18n import lazy_gettext as _l

LABELS: dict[str, object] = {
    # roles
    "admin": _l("Administration"),
    "coordinator": _l("Coordination"),
    "treasurer": _l("Trésorerie"),
    "actor": _l("Acteur"),
    "client": _l("Client"),
    # event statuses
    "draft": _l("Brouillon"),
    "consulting": _l("Consultation"),
    "quoted": _l("Devis envoyé"),
    "won": _l("Gagné"),
    "lost": _l("Perdu"),
    "delivered": _l("Réalisé"),
    "closed": _l("Clos"),
    "cancelled": _l("Annulé"),
    # assignment statuses and roles
    "proposed": _l("Proposé"),
    "invited": _l("Invité"),
    "accepted": _l("Accepté"),
    "declined": _l("Décliné"),
    "withdrawn": _l("Retiré"),
    "lead": _l("Chef de file"),
    "partner": _l("Partenaire"),
    "supplier": _l("Fournisseur"),
    # quotes (a quote's draft is already issued: it reads "quote_draft", see offers.models.quote)
    "quote_draft": _l("Émis, à envoyer"),
    "sent": _l("Envoyé"),
    "expired": _l("Expiré"),
    "superseded": _l("Remplacé"),
    "open": _l("Ouvert"),
    # billing modes
    "single_contractor": _l("Titulaire unique"),
    "joint_consortium": _l("Groupement conjoint"),
    # legal forms
    "association": _l("Association"),
    "scop": _l("SCOP"),
    "scic": _l("SCIC"),
    "cooperative": _l("Coopérative"),
    "sas": _l("SAS"),
    "sarl": _l("SARL"),
    "ei": _l("Entreprise individuelle"),
    "collectivity": _l("Collectivité"),
    "mutual": _l("Mutuelle"),
    "foundation": _l("Fondation"),
    "other": _l("Autre"),
    # VAT regimes
    "subject": _l("Assujetti à la TVA"),
    "franchise": _l("Franchise en base (art. 293 B)"),
    "exempt": _l("Exonéré (art. 261-7-1°)"),
    # units
    "piece": _l("pièce"),
    "personne": _l("personne"),
    "heure": _l("heure"),
    "jour": _l("jour"),
    "forfait": _l("forfait"),
    "kg": _l("kg"),
    "m2": _l("m²"),
    "repas": _l("repas"),
    "lot": _l("lot"),
    "km": _l("km"),
    # invoices, payouts
    "issued": _l("Émise"),
    "invoice": _l("Facture"),
    "deposit": _l("Facture d'acompte"),
    "credit_note": _l("Avoir"),
    "due": _l("À payer"),
    "paid": _l("Payé"),
    # joint consortium: Chorus Pro circuits, e-invoice formats, answers to self-billed invoices
    "each_member": _l("Chaque cotraitant dépose sa facture, le mandataire la valide"),
    "global": _l("Le mandataire dépose une demande de paiement globale"),
    "facturx": _l("Factur-X (PDF avec sa facture électronique XML)"),
    "pdfa": _l("PDF/A simple (XML fourni à part)"),
    "contested": _l("Contestée"),
}

STATUS_STYLES = {
    "accepted": "success",
    "won": "success",
    "paid": "success",
    "invited": "warning",
    "proposed": "secondary",
    "consulting": "info",
    "quoted": "info",
    "sent": "info",
    "quote_draft": "warning",
    "declined": "danger",
    "lost": "danger",
    "withdrawn": "secondary",
    "cancelled": "secondary",
    "superseded": "secondary",
    "expired": "secondary",
}


class Words(Mapping):
    """A mapping of lazy strings (``lazy_gettext``) read in the current catalogue's words, each
    translated once per catalogue as it is asked: a page printing a state per row goes through
    Flask-Babel's lookups once per word, not once per row. Same keys, same words as the mapping."""

    def __init__(self, lazy: Mapping) -> None:
        self._lazy = lazy
        #: Per catalogue (the current locale's), the words already asked.
        self._words: WeakKeyDictionary = WeakKeyDictionary()

    def __getitem__(self, key) -> str:
        text = self._lazy[key]
        catalogue = current_translations()
        words = self._words.get(catalogue)
        if words is None:
            words = self._words.setdefault(catalogue, {})
        try:
            return words[key]
        except KeyError:
            # The lazy string looks the same catalogue up (the current locale's): same words.
            words[key] = str(text)
            return words[key]

    def __iter__(self) -> Iterator:
        return iter(self._lazy)

    def __len__(self) -> int:
        return len(self._lazy)


_WORDS = Words(LABELS)


def label(code) -> str:
    key = getattr(code, "value", code)
    if key not in LABELS:
        return str(key)
    return _WORDS[key]


def status_style(code) -> str:
    return STATUS_STYLES.get(getattr(code, "value", code), "light")


def register_labels(app) -> None:
    app.jinja_env.globals.update(label=label, role_label=label, status_style=status_style)
