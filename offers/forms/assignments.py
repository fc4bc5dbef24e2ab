"""Assignment forms: putting actors on a lot (from the suggestions or a search), the small POST
buttons (invite, remind, withdraw, remove) and the matching weights."""

from __future__ import annotations

from flask_babel import gettext as _
from wtforms import BooleanField, SelectField, SelectMultipleField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, ValidationError

from app.forms import Form
from app.i18n import lazy_gettext as _l
from offers.forms.events import DecimalTextField
from offers.models import AssignmentRole

WEIGHT_NAMES = ("qpv", "least_received", "clash")

ROLE_CHOICES = [
    (AssignmentRole.LEAD.value, _l("Chef de file")),
    (AssignmentRole.PARTNER.value, _l("Partenaire")),
    (AssignmentRole.SUPPLIER.value, _l("Fournisseur")),
]
DEFAULT_ROLE = AssignmentRole.PARTNER.value


class AssignmentAddForm(Form):
    """One or several organisations, each with its role.

    ``organisation_id`` may be repeated (checked suggestions, or the search field); the role of
    organisation ``n`` is read from ``role-n`` when posted, else from ``role``.
    """

    organisation_id = SelectMultipleField(
        _l("Acteurs"), coerce=int, validators=[InputRequired(message=_l("Choisissez au moins un acteur."))]
    )
    role = SelectField(
        _l("Rôle"), choices=[SelectChoice(v, text) for v, text in ROLE_CHOICES], default=DEFAULT_ROLE
    )
    submit = SubmitField(_l("Ajouter au lot"))

    def __init__(self, *args, organisations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation_id.choices = [(o.id, o.name) for o in organisations]
        self.organisation_id.pre_validate = self._known_organisations
        self._known = {o.id for o in organisations}

    def _known_organisations(self, form):
        for value in self.organisation_id.data or ():
            if value not in self._known:
                raise ValidationError(_("Choisissez un acteur actif de l'annuaire."))

    def picks(self, formdata) -> list[tuple[int, str]]:
        """``(organisation_id, role)`` pairs; raises ``ValueError`` with a French message for an
        unknown role."""
        allowed = {value for value, _label in ROLE_CHOICES}
        result = []
        for organisation_id in self.organisation_id.data or ():
            role = (formdata.get(f"role-{organisation_id}") or self.role.data or DEFAULT_ROLE).strip()
            if role not in allowed:
                raise ValueError(_("Rôle inconnu : %(role)s.", role=role))
            result.append((organisation_id, role))
        return result


class AssignmentActionForm(Form):
    """A CSRF-protected button (invite, remind, withdraw, remove)."""

    #: Invite: create an actor account for the organisation's e-mail when it has none.
    create_account = BooleanField(default=False)
    submit = SubmitField(_l("Confirmer"))


class MatchingWeightsForm(Form):
    """The weights of the ``matching.weights`` setting (admin): comma or dot, between -100 and 100."""

    qpv = DecimalTextField(
        _l("Bonus « en QPV »"), validators=[InputRequired()], places=2, minimum=-100, maximum=100
    )
    least_received = DecimalTextField(
        _l("Bonus « a le moins reçu cette année »"),
        validators=[InputRequired()],
        places=2,
        minimum=-100,
        maximum=100,
    )
    clash = DecimalTextField(
        _l("Malus « déjà mobilisé au même moment »"),
        validators=[InputRequired()],
        places=2,
        minimum=-100,
        maximum=100,
    )
    submit = SubmitField(_l("Enregistrer les pondérations"))

    def fill(self, weights: dict) -> MatchingWeightsForm:
        for name in WEIGHT_NAMES:
            getattr(self, name).data = weights[name]
        return self

    def to_setting(self) -> dict[str, str]:
        """Stored as strings: exact, like money in settings."""
        return {name: str(getattr(self, name).data) for name in WEIGHT_NAMES}
