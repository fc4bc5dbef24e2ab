"""Invoicing forms: a deposit, the final invoice, a credit note, a payment, the invoice list's filters."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.forms import Form
from app.i18n import lazy_gettext as _l
from invoicing.models import PaymentMethod
from offers.forms.events import DecimalTextField

PAYMENT_METHODS = {
    PaymentMethod.TRANSFER: _l("Virement"),
    PaymentMethod.CHEQUE: _l("Chèque"),
    PaymentMethod.CARD: _l("Carte"),
    PaymentMethod.CASH: _l("Espèces"),
    PaymentMethod.OTHER: _l("Autre"),
}

#: Derived states an invoice can be filtered by.
STATES = {
    "open": _l("À payer"),
    "overdue": _l("En retard"),
    "partly_paid": _l("Partiellement payée"),
    "paid": _l("Payée"),
    "cancelled": _l("Annulée par avoir"),
    "credit_note": _l("Avoir"),
}


#: The operation categories' labels in the interface (the invoice prints the legal wording of
#: :data:`invoicing.mentions.OPERATION_CATEGORIES`, keyed alike).
OPERATION_CATEGORY_LABELS = {
    "services": _l("Prestations de services"),
    "goods": _l("Livraisons de biens"),
    "mixed": _l("Livraisons de biens et prestations de services"),
}


def operation_category_field() -> SelectField:
    """The « catégorie de l'opération » select of the forms that issue invoices."""
    return SelectField(
        _l("Catégorie de l'opération"),
        choices=[SelectChoice(key, label) for key, label in OPERATION_CATEGORY_LABELS.items()],
        default="services",
    )


class DepositForm(Form):
    percent = DecimalTextField(_l("Pourcentage du devis (%)"), places=2)
    amount = DecimalTextField(_l("ou montant HT (€)"), places=2)
    submit = SubmitField(_l("Émettre la facture d'acompte"))


class FinalInvoiceForm(Form):
    operation_category = operation_category_field()
    submit = SubmitField(_l("Émettre la facture"))


class CreditNoteForm(Form):
    amount = DecimalTextField(_l("Montant HT à annuler (€) — vide : tout ce qui reste"), places=2)
    reason = TextAreaField(
        _l("Motif (imprimé sur l'avoir)"),
        validators=[DataRequired(_l("Indiquez le motif.")), Length(max=500)],
    )
    submit = SubmitField(_l("Émettre l'avoir"))


class PaymentForm(Form):
    received_on = DateField(_l("Reçu le"), validators=[DataRequired(_l("Indiquez la date de réception."))])
    amount = DecimalTextField(
        _l("Montant TTC reçu (€)"), places=2, validators=[DataRequired(_l("Indiquez le montant."))]
    )
    method = SelectField(
        _l("Moyen de paiement"),
        choices=[SelectChoice(m.value, text) for m, text in PAYMENT_METHODS.items()],
        default="transfer",
    )
    reference = StringField(_l("Référence (facultatif)"), validators=[Optional(), Length(max=120)])
    submit = SubmitField(_l("Enregistrer le paiement"))


class InvoiceFilterForm(Form):
    class Meta:
        csrf = False

    date_from = DateField(_l("Du"), validators=[Optional()])
    date_to = DateField(_l("Au"), validators=[Optional()])
    client = SelectField(_l("Client"), validators=[Optional()], validate_choice=True)
    state = SelectField(
        _l("État"),
        choices=[SelectChoice("", _l("Tous")), *(SelectChoice(k, v) for k, v in STATES.items())],
        validators=[Optional()],
        default="",
    )

    def __init__(self, *args, clients=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.client.choices = [
            SelectChoice("", _l("Tous")),
            *(SelectChoice(str(c.id), c.name) for c in clients),
        ]


class PayoutPaidForm(Form):
    paid_on = DateField(_l("Payé le"), validators=[DataRequired(_l("Indiquez la date du reversement."))])
    reference = StringField(
        _l("Référence du virement"), validators=[DataRequired(_l("Indiquez la référence.")), Length(max=120)]
    )
    submit = SubmitField(_l("Marquer payé"))


class MandatePortalForm(Form):
    """The actor grants Maillage its billing mandate (portal)."""

    prefix = StringField(
        _l("Préfixe de votre série de factures (ex. MELI)"),
        validators=[DataRequired(_l("Indiquez le préfixe.")), Length(max=10)],
    )
    valid_from = DateField(
        _l("Valable à partir du"), validators=[DataRequired(_l("Indiquez la date de début."))]
    )
    valid_until = DateField(_l("Jusqu'au (facultatif)"), validators=[Optional()])
    agreed = BooleanField(
        _l(
            "Je donne mandat à la coordination d'émettre en notre nom et pour notre compte les factures "
            "de nos prestations vendues par Maillage, dans notre propre série de numéros."
        )
    )
    submit = SubmitField(_l("Donner le mandat"))


class MandateUploadForm(Form):
    """The coordination records a mandate signed on paper, with its PDF."""

    prefix = StringField(
        _l("Préfixe de la série de l'acteur (ex. MELI)"),
        validators=[DataRequired(_l("Indiquez le préfixe.")), Length(max=10)],
    )
    valid_from = DateField(
        _l("Valable à partir du"), validators=[DataRequired(_l("Indiquez la date de début."))]
    )
    valid_until = DateField(_l("Jusqu'au (facultatif)"), validators=[Optional()])
    document = FileField(_l("Mandat signé (PDF, 2 Mo au plus)"))
    submit = SubmitField(_l("Enregistrer le mandat signé"))


class MandateRevokeForm(Form):
    reason = StringField(
        _l("Motif de la révocation"), validators=[DataRequired(_l("Indiquez le motif.")), Length(max=300)]
    )
    submit = SubmitField(_l("Révoquer le mandat"))


class JointInvoicesForm(Form):
    """Issue the groupement's invoices (joint consortium)."""

    operation_category = operation_category_field()
    submit = SubmitField(_l("Émettre les factures du groupement"))


class RecordActorInvoiceForm(Form):
    """Record the invoice a member without a mandate issued by itself."""

    organisation_id = SelectField(_l("Membre"), validate_choice=False)
    number = StringField(
        _l("Numéro de sa facture"), validators=[DataRequired(_l("Indiquez le numéro.")), Length(max=35)]
    )
    issue_date = DateField(_l("Date de sa facture"), validators=[DataRequired(_l("Indiquez la date."))])
    total_net = DecimalTextField(
        _l("Total HT (€)"), places=2, validators=[DataRequired(_l("Indiquez le total HT."))]
    )
    total_vat = DecimalTextField(_l("TVA (€)"), places=2, validators=[Optional()])
    total_gross = DecimalTextField(
        _l("Total TTC (€)"), places=2, validators=[DataRequired(_l("Indiquez le total TTC."))]
    )
    pdf = FileField(_l("Sa facture (PDF, 2 Mo au plus)"))
    submit = SubmitField(_l("Enregistrer sa facture"))


class ChorusChoicesForm(Form):
    """An event's Chorus Pro circuit and its client's e-invoice format."""

    chorus_circuit = SelectField(
        _l("Circuit Chorus Pro du groupement"),
        choices=[
            SelectChoice("each_member", _l("Chaque cotraitant dépose sa facture, le mandataire la valide")),
            SelectChoice("global", _l("Le mandataire dépose une demande de paiement globale")),
        ],
        default="each_member",
    )
    einvoice_format = SelectField(
        _l("Format des factures de ce client"),
        choices=[
            SelectChoice("facturx", _l("Factur-X (PDF avec sa facture électronique XML)")),
            SelectChoice("pdfa", _l("PDF/A simple (XML fourni à part)")),
        ],
        default="facturx",
    )
    submit = SubmitField(_l("Enregistrer"))


class SelfBillingAnswerForm(Form):
    """The actor accepts its self-billed invoice, or contests it with a reason."""

    reason = TextAreaField(_l("Motif de la contestation"), validators=[Optional(), Length(max=500)])
    accept = SubmitField(_l("J'accepte cette autofacture"))
    contest = SubmitField(_l("Je la conteste"))
