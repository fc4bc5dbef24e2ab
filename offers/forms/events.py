"""Event forms, and the fields the offer forms share: local date-times and decimals typed the French way."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from app.dates import LOCAL_TZ, local_to_utc, short_local
from app.directory.validation import FieldError, check_cpv_codes
from app.forms import Form, PlainIntegerField
from app.i18n import lazy_gettext as _l
from app.parsing import parse_plain_decimal
from offers.models import PROCUREMENT_PROCEDURES, BillingMode, EventStatus, FeeKind
from offers.services.events import SHIFT_LOTS, WIDEN_EVENT, EventFields

#: Years outside this range are typing mistakes.
MIN_YEAR, MAX_YEAR = 2000, 2100


def strip(value):
    return value.strip() if isinstance(value, str) else value


def none_if_empty(value):
    value = strip(value)
    return value or None


# --- shared fields -------------------------------------------------------------------------------


class LocalDateTimeField(DateTimeLocalField):
    """A date and time typed and shown in Europe/Paris wall time; ``data`` is an aware UTC datetime."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
        kwargs.setdefault("invalid_value_message", _l("Date et heure attendues (jj/mm/aaaa hh:mm)."))
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not " ".join(valuelist).strip():
            self.data = None
            self.raw_data = []  # blank is absent: InputRequired says so, instead of a None going on
            return
        super().process_formdata(valuelist)
        naive, self.data = self.data, None  # never left naive: other fields compare with it
        if not MIN_YEAR <= naive.year <= MAX_YEAR:
            raise ValueError(_("L'année doit être comprise entre %(a)s et %(b)s.", a=MIN_YEAR, b=MAX_YEAR))
        self.data = local_to_utc(naive)

    def _value(self):
        if self.raw_data:
            return " ".join(self.raw_data)
        if self.data:
            return self.data.astimezone(LOCAL_TZ).strftime(self.format[0])
        return ""


#: Digits before the decimal point of the largest amount stored (``app.db.Money``, ``(14, 2)``): a
#: typed value needing more is refused as too large before anything computes with it (an amount of
#: 10²⁶ € went past Python's decimal precision when a message wrote it). Fields bound lower say so
#: with their own limits.
WHOLE_DIGITS = 12


class DecimalTextField(StringField):
    """A decimal typed with a comma or a dot (``7,5``, ``1 234,56``), at most ``places`` decimals.

    ``data`` is a :class:`Decimal` (or ``None`` when empty); no float on the way.
    """

    def __init__(self, label=None, validators=None, places=2, minimum=None, maximum=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.places = places
        self.minimum = minimum
        self.maximum = maximum

    def process_formdata(self, valuelist):
        self.data = None
        if not valuelist:
            return
        text = str(valuelist[0]).strip()
        for char in (" ", "\u00a0", "\u202f", "€", "%"):
            text = text.replace(char, "")
        if not text:
            return
        if text.count(",") + text.count(".") > 1:
            raise ValueError(_("Un seul séparateur décimal, virgule ou point (ex. 1234,56)."))
        value = parse_plain_decimal(text)  # ASCII digits only: no 1E2, 1_000, ١٢ nor Infinity
        if value.as_tuple().exponent < -self.places:
            raise ValueError(_("Au plus %(n)s décimales.", n=self.places))
        if value.adjusted() >= WHOLE_DIGITS:
            raise ValueError(
                _("Nombre trop grand : au plus %(n)s chiffres avant la virgule.", n=WHOLE_DIGITS)
            )
        if self.minimum is not None and value < self.minimum:
            raise ValueError(_("La valeur doit être au moins %(min)s.", min=_plain(self.minimum)))
        if self.maximum is not None and value > self.maximum:
            raise ValueError(_("La valeur doit être au plus %(max)s.", max=_plain(self.maximum)))
        self.data = value

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return _plain(self.data)


def _plain(value: Decimal) -> str:
    """``1234.50`` -> ``1234,5``: how a French user types it back."""
    text = format(Decimal(value).normalize(), "f")
    return text.replace(".", ",")


def changed_fields(form: Form, current: Form) -> list[tuple[str, str]]:
    """(label, current value) of every field where the posted form differs from the stored values.

    Shown beside a form re-rendered after a conflict (optimistic locking): the user's input stays in
    the fields, the values someone else saved are listed.
    """
    skip = {"csrf_token", "version_id", "submit"}
    rows = []
    for name, posted in form._fields.items():
        if name in skip:
            continue
        stored = current[name]
        if _display(posted) != _display(stored):
            rows.append((str(posted.label.text), _display(stored) or "—"))
    return rows


def _display(field) -> str:
    if field.type == "BooleanField":
        return _("oui") if field.data else _("non")
    if field.type in ("SelectField", "RadioField"):
        for option in field.choices or []:
            if str(option.value) == str(field.data):
                return str(option.label)
        return ""
    if field.type == "LocalDateTimeField":
        return short_local(field.data) if field.data else ""
    if field.type == "DecimalTextField":
        return _plain(field.data) if field.data is not None else ""
    value = field.data
    return "" if value is None else str(value).strip()


# --- event forms ---------------------------------------------------------------------------------


def billing_mode_choices():
    return [
        SelectChoice(BillingMode.SINGLE_CONTRACTOR.value, _l("Titulaire unique (la coordination facture)")),
        SelectChoice(BillingMode.JOINT_CONSORTIUM.value, _l("Groupement conjoint (une facture par acteur)")),
    ]


def fee_kind_choices():
    return [
        SelectChoice(FeeKind.NONE.value, _l("Pas de frais de coordination")),
        SelectChoice(FeeKind.PERCENT.value, _l("Pourcentage du montant des lots")),
        SelectChoice(FeeKind.FIXED.value, _l("Forfait")),
    ]


class EventForm(Form):
    title = StringField(_l("Titre"), validators=[DataRequired(), Length(max=250)], filters=[strip])
    client_id = SelectField(_l("Client"), coerce=int, validators=[InputRequired()])
    venue = StringField(_l("Lieu"), validators=[Optional(), Length(max=250)], filters=[strip])
    venue_address = StringField(
        _l("Adresse du lieu"), validators=[Optional(), Length(max=300)], filters=[strip]
    )
    starts_at = LocalDateTimeField(_l("Début (heure de Paris)"), validators=[InputRequired()])
    ends_at = LocalDateTimeField(_l("Fin (heure de Paris)"), validators=[InputRequired()])
    headcount = PlainIntegerField(
        _l("Nombre de participants"),
        validators=[Optional(), NumberRange(min=0, max=1_000_000)],
    )
    description = TextAreaField(_l("Description du besoin"), validators=[Optional(), Length(max=20000)])
    response_deadline = LocalDateTimeField(_l("Date limite de réponse des acteurs"), validators=[Optional()])
    billing_mode = SelectField(_l("Mode de facturation"), choices=billing_mode_choices())
    fee_kind = SelectField(_l("Type de frais"), choices=fee_kind_choices())
    fee_percent = DecimalTextField(
        _l("Pourcentage (%)"), places=2, minimum=Decimal("0"), maximum=Decimal("100"), validators=[Optional()]
    )
    fee_amount = DecimalTextField(
        _l("Forfait HT (€)"),
        places=2,
        minimum=Decimal("0"),
        maximum=Decimal("1000000"),
        validators=[Optional()],
    )
    #: Kept from the actors' shares, invisible to the client; empty or 0 for none.
    commission_percent = DecimalTextField(
        _l("Commission retenue sur les parts des acteurs (%)"),
        places=2,
        minimum=Decimal("0"),
        validators=[Optional()],
    )
    purchase_order_number = StringField(
        _l("N° de bon de commande"), validators=[Optional(), Length(max=50)], filters=[strip]
    )
    onsite_contact = StringField(
        _l("Contact sur place"), validators=[Optional(), Length(max=200)], filters=[strip]
    )
    contract_reference = StringField(
        _l("Référence de la consultation ou du marché"),
        validators=[Optional(), Length(max=100)],
        filters=[strip],
    )
    procurement_procedure = StringField(
        _l("Procédure"),
        validators=[Optional(), Length(max=150)],
        filters=[strip],
        render_kw={"list": "procedures", "autocomplete": "off"},
    )
    cpv_codes = StringField(_l("Codes CPV"), validators=[Optional(), Length(max=250)], filters=[strip])
    joint_and_several = BooleanField(
        _l("Mandataire solidaire : la coordination répond des obligations de chaque membre")
    )
    member_signatures = BooleanField(
        _l("Ajouter au devis un bloc « bon pour accord » à signer par chaque membre")
    )
    version_id = HiddenField()
    submit = SubmitField(_l("Enregistrer"))

    #: Offered beside the procedure field (a datalist: free text is allowed too).
    procedures = PROCUREMENT_PROCEDURES

    def __init__(self, *args, clients=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.client_id.choices = [SelectChoice(c.id, c.name) for c in clients]

    def validate_ends_at(self, field):
        if field.data and self.starts_at.data and field.data < self.starts_at.data:
            raise ValidationError(_("La fin doit être après le début de l'événement."))

    def validate_response_deadline(self, field):
        if field.data and self.starts_at.data and field.data > self.starts_at.data:
            raise ValidationError(_("La date limite de réponse doit précéder le début de l'événement."))

    def validate_cpv_codes(self, field):
        try:
            check_cpv_codes(field.data or "")
        except FieldError as exc:
            raise ValidationError(exc.message) from exc

    def validate(self, extra_validators=None):
        """The fee's value is required for its kind (``Optional`` would otherwise skip the check)."""
        valid = super().validate(extra_validators)
        kind = self.fee_kind.data
        if (
            kind == FeeKind.PERCENT.value
            and not self.fee_percent.errors
            and not (self.fee_percent.data or 0) > 0
        ):
            self.fee_percent.errors = [*self.fee_percent.errors, _("Indiquez un pourcentage supérieur à 0.")]
            valid = False
        if kind == FeeKind.FIXED.value and not self.fee_amount.errors and not (self.fee_amount.data or 0) > 0:
            self.fee_amount.errors = [
                *self.fee_amount.errors,
                _("Indiquez le montant du forfait (supérieur à 0)."),
            ]
            valid = False
        return valid

    def fill(self, event) -> EventForm:
        """Show a stored event (fee rate as a percentage)."""
        self.title.data = event.title
        self.client_id.data = event.client_id
        self.venue.data = event.venue
        self.venue_address.data = event.venue_address
        self.starts_at.data = event.starts_at
        self.ends_at.data = event.ends_at
        self.headcount.data = event.headcount
        self.description.data = event.description
        self.response_deadline.data = event.response_deadline
        self.billing_mode.data = event.billing_mode.value
        self.fee_kind.data = event.fee_kind.value
        self.fee_percent.data = (
            (event.fee_rate * 100).normalize() if event.fee_kind == FeeKind.PERCENT else None
        )
        self.fee_amount.data = event.fee_amount if event.fee_kind == FeeKind.FIXED else None
        self.commission_percent.data = (
            (event.commission_rate * 100).normalize() if event.commission_rate else None
        )
        self.purchase_order_number.data = event.purchase_order_number
        self.onsite_contact.data = event.onsite_contact
        self.contract_reference.data = event.contract_reference
        self.procurement_procedure.data = event.procurement_procedure
        self.cpv_codes.data = event.cpv_codes
        self.joint_and_several.data = event.joint_and_several
        self.member_signatures.data = event.member_signatures
        self.version_id.data = event.version_id
        return self

    def to_fields(self) -> EventFields:
        kind = FeeKind(self.fee_kind.data)
        return EventFields(
            title=self.title.data,
            client_id=self.client_id.data,
            starts_at=self.starts_at.data,
            ends_at=self.ends_at.data,
            venue=self.venue.data or "",
            venue_address=self.venue_address.data or "",
            headcount=self.headcount.data,
            description=(self.description.data or "").strip(),
            response_deadline=self.response_deadline.data,
            billing_mode=BillingMode(self.billing_mode.data),
            fee_kind=kind,
            fee_rate=(self.fee_percent.data / 100) if kind == FeeKind.PERCENT else Decimal("0"),
            fee_amount=self.fee_amount.data if kind == FeeKind.FIXED else Decimal("0"),
            commission_rate=(self.commission_percent.data or Decimal("0")) / 100,
            purchase_order_number=self.purchase_order_number.data or None,
            onsite_contact=self.onsite_contact.data or "",
            contract_reference=self.contract_reference.data or "",
            procurement_procedure=self.procurement_procedure.data or "",
            cpv_codes=self.cpv_codes.data or "",
            joint_and_several=bool(self.joint_and_several.data),
            member_signatures=bool(self.member_signatures.data),
        )


class DuplicateEventForm(Form):
    title = StringField(
        _l("Titre du nouvel événement"), validators=[DataRequired(), Length(max=250)], filters=[strip]
    )
    client_id = SelectField(_l("Client"), coerce=int, validators=[InputRequired()])
    starts_at = LocalDateTimeField(_l("Début (heure de Paris)"), validators=[InputRequired()])
    ends_at = LocalDateTimeField(_l("Fin (heure de Paris)"), validators=[InputRequired()])
    lots_outside = RadioField(
        _l("Si un lot déborde des dates"),
        choices=[
            SelectChoice(WIDEN_EVENT, _l("élargir l'événement pour couvrir ses lots")),
            SelectChoice(SHIFT_LOTS, _l("déplacer le lot dans les dates de l'événement")),
        ],
        validate_choice=False,
    )
    keep_actors = BooleanField(
        _l("Garder les acteurs de chaque lot, comme « proposés » (à inviter de nouveau)"), default=True
    )
    submit = SubmitField(_l("Dupliquer"))

    def __init__(self, *args, clients=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.client_id.choices = [SelectChoice(c.id, c.name) for c in clients]

    def validate_ends_at(self, field):
        if field.data and self.starts_at.data and field.data < self.starts_at.data:
            raise ValidationError(_("La fin doit être après le début de l'événement."))


class StatusForm(Form):
    """One button per allowed move; ``target`` is the status to move to."""

    target = HiddenField(validators=[DataRequired()])


def status_choices():
    return [SelectChoice("", _l("Tous les statuts"))] + [
        SelectChoice(s.value, _l_status(s)) for s in EventStatus
    ]


def _l_status(status: EventStatus):
    from app.labels import LABELS

    return LABELS.get(status.value, status.value)


class EventFilterForm(Form):
    """The list's filters, read from the query string (GET: no CSRF token)."""

    class Meta:
        csrf = False

    status = SelectField(_l("Statut"), choices=status_choices(), validators=[Optional()])
    client = SelectField(_l("Client"), validators=[Optional()])
    date_from = DateField(_l("Du"), validators=[Optional()])
    date_to = DateField(_l("Au"), validators=[Optional()])

    def __init__(self, *args, clients=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.client.choices = [SelectChoice("", _l("Tous les clients"))] + [
            SelectChoice(str(c.id), c.name) for c in clients
        ]
