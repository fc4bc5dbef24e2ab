"""Writing and reading the audit log.

An entry's sentence is stored as a message key, the French msgid marked with :func:`N_`, and its
parameters, so it reads in the reader's language (:func:`sentence`). Money values are stored as
strings so they stay exact; a parameter that must be formatted when read (a status, an amount, a
date) is wrapped in :func:`as_label`, :func:`as_money`, :func:`as_rate`, :func:`as_quantity` or
:func:`as_datetime`. The French sentence is also kept in ``summary``, for entries read outside the
application. Entries written before message keys existed have only ``summary``: they are shown as
written, marked as French, unless their package registered a reader for the action
(:func:`register_reader`).

Each package names the fields of its changes (``{"field": [before, after]}``) with
:func:`register_fields`; :func:`change_rows` gives them as label, before and after, formatted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from flask import g, has_request_context
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import AuditEntry

# --- messages --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """A history sentence: its French msgid (the key) and its parameters, translated when read."""

    key: str
    params: dict = field(default_factory=dict)


def N_(msgid: str, **params) -> Message:
    """Mark ``msgid`` for the catalogue (Babel extracts ``N_``) and keep it untranslated with ``params``."""
    return Message(msgid, params)


#: Kinds of parameters formatted when read, each stored as ``{kind: value}``.
PARAM_KINDS = ("label", "money", "rate", "quantity", "datetime")


def as_label(code) -> dict:
    """A stored code (status, role…) read through :func:`app.labels.label`."""
    return {"label": getattr(code, "value", code)}


def as_money(value) -> dict:
    return {"money": None if value is None else str(value)}


def as_rate(value) -> dict:
    return {"rate": None if value is None else str(value)}


def as_quantity(value) -> dict:
    return {"quantity": None if value is None else str(value)}


def as_datetime(value) -> dict:
    return {"datetime": None if value is None else value.isoformat()}


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return value.value  # enums
    return value


def _stored_param(value):
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in PARAM_KINDS:
        return value
    return _plain(value)


def _read_param(value) -> str:
    from app.formatting import datetime_short, from_iso, money, quantity, rate
    from app.labels import label

    if isinstance(value, dict) and len(value) == 1:
        kind, raw = next(iter(value.items()))
        if raw is None:
            return "—"
        readers = {
            "label": label,
            "money": money,
            "rate": rate,
            "quantity": quantity,
            "datetime": lambda v: datetime_short(from_iso(v)),
        }
        if kind in readers:
            return readers[kind](raw)
    return "" if value is None else str(value)


def render(key: str, params: Mapping | None) -> str:
    """The sentence ``key`` with ``params``, in the current language."""
    values = {name: _read_param(value) for name, value in (params or {}).items()}
    return _(key, **values) if values else _(key)


#: The sentence of a status move (``app.states``), which the changes column does not repeat.
STATUS_MOVED = N_("Statut : %(before)s → %(after)s")


# --- writing ---------------------------------------------------------------------------------------


def record(
    action: str,
    obj,
    *,
    user=None,
    summary: str | Message = "",
    changes: dict | None = None,
    event_id: int | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Add one audit entry for ``obj`` (any mapped object with an ``id``). Flushes, never commits.

    ``summary`` is a :class:`Message` (``N_("…", name=…)``), read in each reader's language; a plain
    string is stored as is and always reads as written.
    """
    if ip is None and has_request_context():
        ip = g.get("client_ip")
    key, params = None, None
    if isinstance(summary, Message):
        key = summary.key
        params = {name: _stored_param(value) for name, value in summary.params.items()}
        with force_locale("fr"):
            summary = render(key, params)
    entry = AuditEntry(
        action=action,
        object_type=type(obj).__tablename__ if hasattr(type(obj), "__tablename__") else type(obj).__name__,
        object_id=getattr(obj, "id", None),
        user_id=getattr(user, "id", None),
        summary=str(summary)[:500],
        message_key=key,
        message_params=params,
        changes={k: [_plain(a), _plain(b)] for k, (a, b) in (changes or {}).items()},
        event_id=event_id,
        ip=ip,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


# --- reading ---------------------------------------------------------------------------------------

#: action -> how an entry written without a message key reads (None: as written).
_READERS: dict[str, Callable[[AuditEntry], Message | None]] = {}


def register_reader(action: str, reader: Callable[[AuditEntry], Message | None]) -> None:
    """Let a package read its entries written before message keys (or by code that still writes a
    plain summary) in the reader's language."""
    _READERS[action] = reader


@dataclass(frozen=True)
class Sentence:
    text: str
    #: The language of ``text`` when it is not the page's (a French summary on an English page).
    lang: str | None = None


def sentence(entry: AuditEntry) -> Sentence:
    """What the entry says, in the reader's language when it can be."""
    if entry.message_key:
        return Sentence(render(entry.message_key, entry.message_params))
    reader = _READERS.get(entry.action)
    message = reader(entry) if reader else None
    if message is not None:
        return Sentence(render(message.key, message.params))
    text = entry.summary or entry.action
    return Sentence(text, None if str(get_locale() or "fr") == "fr" else "fr")


# --- the fields of the changes ---------------------------------------------------------------------

#: field -> its label in the history.
FIELD_LABELS: dict[str, object] = {}
#: field -> how its values read: "money", "rate", "quantity", "datetime", "label", "sha256",
#: "organisation" (an id, read as the actor's name), "organisations" (a list of ids), "text".
FIELD_KINDS: dict[str, str] = {}


def register_fields(labels: Mapping[str, object], kinds: Mapping[str, str] | None = None) -> None:
    FIELD_LABELS.update(labels)
    FIELD_KINDS.update(kinds or {})


def _organisation_name(organisation_id) -> str:
    from app.models import Organisation

    organisation = db.session.get(Organisation, organisation_id) if organisation_id else None
    return organisation.name if organisation is not None else _("acteur n° %(id)s", id=organisation_id)


def format_value(name: str, value):
    """One value of a change, as the history shows it (``—`` for none)."""
    from app.formatting import datetime_short, from_iso, money, quantity, rate
    from app.labels import label

    if value is None or value == "" or value == []:
        return "—"
    kind = FIELD_KINDS.get(name, "label")
    if value is True:
        return _("oui")
    if value is False:
        return _("non")
    if kind == "money":
        return money(value)
    if kind == "rate":
        return rate(value)
    if kind == "quantity":
        return quantity(value)
    if kind == "datetime":
        return datetime_short(from_iso(value))
    if kind == "sha256":
        return Markup('<span class="font-monospace" title="{0}">{1}…</span>').format(value, str(value)[:12])
    if kind == "organisation":
        return _organisation_name(value)
    if kind == "organisations":
        return ", ".join(_organisation_name(item) for item in value)
    if kind == "position":
        return str(int(value) + 1)
    text = str(value) if kind == "text" else label(value)
    return text if len(text) <= 80 else text[:80] + "…"


@dataclass(frozen=True)
class ChangeRow:
    label: str
    before: str
    after: str


def change_rows(entry: AuditEntry) -> list[ChangeRow]:
    """The entry's changes, each with its label and its values formatted, in the stored order."""
    rows = []
    for name, pair in (entry.changes or {}).items():
        if name == "status" and entry.message_key == STATUS_MOVED.key:
            continue  # the sentence already says both statuses
        before, after = [*pair, None, None][:2]
        rows.append(
            ChangeRow(
                str(FIELD_LABELS.get(name, name)), format_value(name, before), format_value(name, after)
            )
        )
    return rows


register_fields(
    {
        "status": _l("Statut"),
        "role": _l("Rôle"),
        "active": _l("Active"),
        "published": _l("Publiée"),
        "position": _l("Position"),
        "name": _l("Nom"),
        "slug": _l("Adresse de la page"),
        "description": _l("Description"),
        "note": _l("Note"),
        "actors": _l("Acteurs"),
        "organisation_id": _l("Acteur"),
        "organisation": _l("Acteur"),
        "default_vat_rate": _l("Taux de TVA par défaut"),
        "legal_form": _l("Forme juridique"),
        "vat_regime": _l("Régime de TVA"),
        "vat_number": _l("N° de TVA intracommunautaire"),
        "siret": _l("SIRET"),
        "address": _l("Adresse"),
        "postcode": _l("Code postal"),
        "commune": _l("Commune"),
        "qpv": _l("Quartier prioritaire (QPV)"),
        "email": _l("E-mail"),
        "phone": _l("Téléphone"),
        "website": _l("Site web"),
        "contact_name": _l("Contact"),
        "show_contact_publicly": _l("Contact visible dans l'annuaire"),
        "categories": _l("Catégories"),
        "logo": _l("Logo"),
        "iban": _l("IBAN"),
        "bic": _l("BIC"),
        "last_login_at": _l("Dernière connexion"),
        "siren": _l("SIREN"),
        "postal_code": _l("Code postal"),
        "is_public_body": _l("Acheteur public"),
        "chorus_service_code": _l("Code service Chorus Pro"),
        "engagement_number": _l("N° d'engagement"),
        "contact_email": _l("E-mail du contact"),
        "contact_phone": _l("Téléphone du contact"),
        "notes": _l("Notes"),
    },
    {
        "default_vat_rate": "rate",
        "organisation_id": "organisation",
        "actors": "organisations",
        "organisation": "text",
        "position": "position",
        "name": "text",
        "slug": "text",
        "description": "text",
        "note": "text",
        "address": "text",
        "commune": "text",
        "email": "text",
        "phone": "text",
        "website": "text",
        "contact_name": "text",
        "categories": "text",
        "logo": "text",
        "iban": "text",
        "bic": "text",
        "siret": "text",
        "vat_number": "text",
        "postcode": "text",
        "last_login_at": "datetime",
        "siren": "text",
        "postal_code": "text",
        "chorus_service_code": "text",
        "engagement_number": "text",
        "contact_email": "text",
        "contact_phone": "text",
        "notes": "text",
    },
)


def register_audit_reading(app) -> None:
    app.jinja_env.globals.update(history_sentence=sentence, history_changes=change_rows)
