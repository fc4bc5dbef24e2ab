"""The treasurer's export form (a period, optionally an event or a client, a format) and the
accounting journal's accounts."""

from __future__ import annotations

from wtforms import DateField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.forms import Form
from app.i18n import lazy_gettext as _l

#: What the export form offers to download.
FORMATS = {
    "xlsx": _l("Classeur Excel (.xlsx), toutes les feuilles"),
    "zip": _l("Toutes les feuilles en CSV (archive .zip)"),
    "csv-synthese": _l("CSV : Synthèse"),
    "csv-acteurs": _l("CSV : Acteurs"),
    "csv-factures": _l("CSV : Factures"),
    "csv-paiements": _l("CSV : Paiements"),
    "csv-reversements": _l("CSV : Reversements"),
    "csv-lignes": _l("CSV : Lignes"),
    "fec": _l("Journal comptable au format FEC (.txt)"),
}


class ExportForm(Form):
    """Read by GET: a download changes nothing (no CSRF token in a link)."""

    class Meta:
        csrf = False

    date_from = DateField(_l("Du"), validators=[DataRequired(_l("Indiquez la date de début."))])
    date_to = DateField(_l("Au"), validators=[DataRequired(_l("Indiquez la date de fin."))])
    event = SelectField(_l("Événement (facultatif)"), validators=[Optional()], validate_choice=True)
    client = SelectField(_l("Client (facultatif)"), validators=[Optional()], validate_choice=True)
    format = SelectField(
        _l("Fichier"),
        choices=[SelectChoice(key, text) for key, text in FORMATS.items()],
        default="xlsx",
        validate_choice=True,
    )
    submit = SubmitField(_l("Télécharger"))

    def __init__(self, *args, events=(), clients=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.event.choices = [
            SelectChoice("", _l("Tous")),
            *(SelectChoice(str(e.id), e.title) for e in events),
        ]
        self.client.choices = [
            SelectChoice("", _l("Tous")),
            *(SelectChoice(str(c.id), c.name) for c in clients),
        ]


ACCOUNT_LABELS = {
    "sales": _l("Ventes (prestations de services)"),
    "clients": _l("Clients"),
    "deposits": _l("Acomptes reçus des clients"),
    "vat_collected": _l("TVA collectée"),
    "bank": _l("Banque"),
    "actors": _l("Acteurs (fournisseurs)"),
    "purchases": _l("Achats de prestations aux acteurs"),
    "vat_deductible": _l("TVA déductible"),
    "sales_journal": _l("Code du journal des ventes"),
    "receipts_journal": _l("Code du journal des encaissements"),
    "payouts_journal": _l("Code du journal des reversements"),
}


def _text(key: str, length: int):
    return StringField(
        ACCOUNT_LABELS[key], validators=[DataRequired(_l("Indiquez un numéro.")), Length(max=length)]
    )


class AccountsForm(Form):
    sales = _text("sales", 20)
    clients = _text("clients", 20)
    deposits = _text("deposits", 20)
    vat_collected = _text("vat_collected", 20)
    bank = _text("bank", 20)
    actors = _text("actors", 20)
    purchases = _text("purchases", 20)
    vat_deductible = _text("vat_deductible", 20)
    sales_journal = _text("sales_journal", 8)
    receipts_journal = _text("receipts_journal", 8)
    payouts_journal = _text("payouts_journal", 8)
    submit = SubmitField(_l("Enregistrer les comptes"))

    def values(self) -> dict[str, str]:
        return {key: self[key].data or "" for key in ACCOUNT_LABELS}
