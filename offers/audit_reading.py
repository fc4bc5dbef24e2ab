"""How the history reads the offers' fields and the entries of quotes written as plain sentences.

The fields' labels and formats are registered with :func:`app.audit.register_fields`. Quote entries
whose sentence was stored as plain French text (before message keys, or by code that still passes a
string) are read from the quote they name, in the reader's language (:func:`app.audit.register_reader`).
"""

from __future__ import annotations

from app.audit import N_, Message, register_fields, register_reader
from app.extensions import db
from app.i18n import lazy_gettext as _l

register_fields(
    {
        "title": _l("Titre"),
        "client_id": _l("Client"),
        "client": _l("Client"),
        "venue": _l("Lieu"),
        "venue_address": _l("Adresse du lieu"),
        "starts_at": _l("Début"),
        "ends_at": _l("Fin"),
        "headcount": _l("Participants"),
        "response_deadline": _l("Date limite de réponse"),
        "billing_mode": _l("Mode de facturation"),
        "fee_kind": _l("Type de frais de coordination"),
        "fee_rate": _l("Taux des frais de coordination"),
        "fee_amount": _l("Forfait de coordination HT"),
        "commission_rate": _l("Commission sur les parts des acteurs"),
        "purchase_order_number": _l("N° de bon de commande"),
        "onsite_contact": _l("Contact sur place"),
        "contract_reference": _l("Référence du marché"),
        "procurement_procedure": _l("Procédure"),
        "cpv_codes": _l("Codes CPV"),
        "joint_and_several": _l("Mandataire solidaire"),
        "member_signatures": _l("Signature de chaque membre sur le devis"),
        "category": _l("Catégorie"),
        "category_id": _l("Catégorie"),
        "specification": _l("Cahier des charges"),
        "place": _l("Lieu précis"),
        "quantities": _l("Quantités attendues"),
        "unit_price": _l("Prix unitaire HT"),
        "quantity": _l("Quantité"),
        "vat_rate": _l("Taux de TVA"),
        "vat_reason": _l("Motif d'exonération"),
        "unit": _l("Unité"),
        "net": _l("Total HT"),
        "comment": _l("Commentaire"),
        "invited_at": _l("Invité le"),
        "answered_at": _l("Réponse le"),
        "withdrawn_at": _l("Retiré le"),
        "last_reminded_at": _l("Dernière relance"),
        "total_net": _l("Total HT"),
        "total_vat": _l("TVA"),
        "total_gross": _l("Total TTC"),
        "pdf_sha256": _l("Empreinte du PDF"),
        "sent_at": _l("Envoyé le"),
        "client_purchase_order": _l("N° de bon de commande du client"),
    },
    {
        "fee_amount": "money",
        "unit_price": "money",
        "net": "money",
        "total_net": "money",
        "total_vat": "money",
        "total_gross": "money",
        "fee_rate": "rate",
        "commission_rate": "rate",
        "vat_rate": "rate",
        "quantity": "quantity",
        "starts_at": "datetime",
        "ends_at": "datetime",
        "response_deadline": "datetime",
        "invited_at": "datetime",
        "answered_at": "datetime",
        "withdrawn_at": "datetime",
        "last_reminded_at": "datetime",
        "sent_at": "datetime",
        "pdf_sha256": "sha256",
        "title": "text",
        "client": "text",
        "venue": "text",
        "venue_address": "text",
        "headcount": "text",
        "purchase_order_number": "text",
        "onsite_contact": "text",
        "contract_reference": "text",
        "procurement_procedure": "text",
        "cpv_codes": "text",
        "category": "text",
        "specification": "text",
        "place": "text",
        "quantities": "text",
        "vat_reason": "text",
        "comment": "text",
        "client_purchase_order": "text",
    },
)


def _quote(entry):
    from offers.models import Quote

    return db.session.get(Quote, entry.object_id) if entry.object_id else None


def _quote_issued(entry) -> Message | None:
    quote = _quote(entry)
    if quote is None:
        return None
    return N_("Devis %(number)s v%(version)s émis", number=quote.number, version=quote.version)


def _quote_sent_again(entry) -> Message | None:
    quote = _quote(entry)
    if quote is None:
        return None
    return N_(
        "Devis %(number)s v%(version)s envoyé de nouveau au client",
        number=quote.number,
        version=quote.version,
    )


#: The quote's status after the move -> the sentence.
_MOVES = {
    "superseded": N_("Devis %(number)s v%(version)s remplacé par une nouvelle version"),
    "sent": N_("Devis %(number)s v%(version)s envoyé au client"),
    "accepted": N_("Devis %(number)s v%(version)s accepté"),
    "declined": N_("Devis %(number)s v%(version)s refusé"),
    "expired": N_("Devis %(number)s v%(version)s expiré"),
}


def _quote_moved(entry) -> Message | None:
    quote = _quote(entry)
    after = ((entry.changes or {}).get("status") or [None, None])[1]
    if quote is None or after not in _MOVES:
        return None
    return Message(_MOVES[after].key, {"number": quote.number, "version": quote.version})


register_reader("quote.issued", _quote_issued)
register_reader("quote.sent", _quote_sent_again)
register_reader("quote.status_changed", _quote_moved)
