"""The legal mentions of an invoice: texts from the settings (the articles they cite change), with
defaults; each carries the EN 16931 subject code the e-invoice notes use (``docs/e-invoicing.md``).

- PMD: late-payment penalties (art. L441-10 Code de commerce; public buyers: art. L2192-13 and
  R2192-31 ff. Code de la commande publique);
- PMT: the €40 fixed recovery indemnity (art. D441-5 Code de commerce);
- AAB: early-payment discount (or "none");
- TXD: the seller's VAT regime mention (franchise, exemption), and "TVA sur les débits" where chosen.
"""

from __future__ import annotations

from app.settings_store import get_setting

DEFAULTS = {
    "legal.late_payment": (
        "En cas de retard de paiement, pénalités exigibles sans rappel au taux d'intérêt appliqué par la "
        "Banque centrale européenne à son opération de refinancement la plus récente, majoré de 10 points "
        "(art. L441-10 du Code de commerce)."
    ),
    "legal.late_payment_public": (
        "En cas de retard de paiement, intérêts moratoires au taux d'intérêt de la Banque centrale "
        "européenne majoré de 8 points (art. L2192-13 et R2192-31 du Code de la commande publique)."
    ),
    "legal.recovery_indemnity": (
        "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 € "
        "(art. L441-10 et D441-5 du Code de commerce)."
    ),
    "legal.recovery_indemnity_public": (
        "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 € "
        "(art. L2192-13 et D2192-35 du Code de la commande publique)."
    ),
    "legal.early_payment_discount": "Pas d'escompte pour paiement anticipé.",
    "legal.vat_on_debits": "Option pour le paiement de la taxe d'après les débits.",
}

#: The "catégorie de l'opération" (art. 242 nonies A ann. II CGI, from the e-invoicing reform).
OPERATION_CATEGORIES = {
    "services": "Prestations de services",
    "goods": "Livraisons de biens",
    "mixed": "Livraisons de biens et prestations de services",
}


def text(key: str) -> str:
    return str(get_setting(key, DEFAULTS[key]) or DEFAULTS[key])


def vat_on_debits() -> bool:
    """Whether the coordinator opted for VAT on debits (setting ``invoicing.vat_on_debits``)."""
    return bool(get_setting("invoicing.vat_on_debits", False))


def invoice_mentions(*, public_buyer: bool, regime_mention: str | None) -> list[dict]:
    """The mentions printed at the foot of an invoice, each ``{"code", "text"}``, in print order."""
    suffix = "_public" if public_buyer else ""
    mentions = [
        {"code": "PMD", "text": text("legal.late_payment" + suffix)},
        {"code": "PMT", "text": text("legal.recovery_indemnity" + suffix)},
        {"code": "AAB", "text": text("legal.early_payment_discount")},
    ]
    if regime_mention:
        mentions.append({"code": "TXD", "text": regime_mention})
    if vat_on_debits():
        mentions.append({"code": "TXD", "text": text("legal.vat_on_debits")})
    return mentions
