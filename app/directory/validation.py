"""Checks of identifiers and addresses, with python-stdnum; every message in French.

Each ``check_*`` function returns the normalised value or raises :class:`FieldError`.
Forms (WTForms validators) and the spreadsheet import share these functions.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import cache, lru_cache
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret
from stdnum.fr import tva as stdnum_tva

DATA = Path(__file__).resolve().parent.parent / "data"

#: The 24 communes of Nantes Métropole.
NANTES_METROPOLE_COMMUNES = (
    "Basse-Goulaine",
    "Bouaye",
    "Bouguenais",
    "Brains",
    "Carquefou",
    "Couëron",
    "Indre",
    "La Chapelle-sur-Erdre",
    "La Montagne",
    "Le Pellerin",
    "Les Sorinières",
    "Mauves-sur-Loire",
    "Nantes",
    "Orvault",
    "Rezé",
    "Saint-Aignan-Grandlieu",
    "Saint-Herblain",
    "Saint-Jean-de-Boiseau",
    "Saint-Léger-les-Vignes",
    "Saint-Sébastien-sur-Loire",
    "Sainte-Luce-sur-Loire",
    "Sautron",
    "Thouaré-sur-Loire",
    "Vertou",
)


class FieldError(ValueError):
    """An invalid value; ``message`` is French and meant for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


_SEPARATORS = re.compile(r"[\s\-–—'’]+")


def _fold(text: str) -> str:
    """Compare names without case, accents, hyphens or apostrophes."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return _SEPARATORS.sub(" ", text).strip()


def check_siret(value: str) -> str:
    try:
        return stdnum_siret.validate(value)
    except stdnum_siret.InvalidLength as exc:
        raise FieldError(_("Le SIRET doit compter 14 chiffres.")) from exc
    except stdnum_siret.InvalidFormat as exc:
        raise FieldError(_("Le SIRET ne doit contenir que des chiffres.")) from exc
    except ValidationError as exc:
        raise FieldError(_("Ce SIRET n'est pas valide (clé de contrôle erronée).")) from exc


def check_siren(value: str) -> str:
    try:
        return stdnum_siren.validate(value)
    except ValidationError as exc:
        raise FieldError(_("Ce SIREN n'est pas valide (9 chiffres, clé de contrôle).")) from exc


def check_vat_number(value: str, siren: str | None = None) -> str:
    """A French VAT number; when ``siren`` is given it must be the one the number embeds."""
    try:
        number = stdnum_tva.validate(value)
    except ValidationError as exc:
        raise FieldError(_("Ce numéro de TVA intracommunautaire n'est pas valide.")) from exc
    number = number if number.startswith("FR") else "FR" + number
    if siren and number[-9:] != siren:
        raise FieldError(
            _(
                "Le numéro de TVA ne correspond pas au SIREN %(siren)s (attendu : %(expected)s).",
                siren=siren,
                expected=vat_number_for(siren),
            )
        )
    return number


def vat_number_for(siren: str) -> str:
    """The French VAT number derived from a SIREN."""
    return "FR" + stdnum_siren.to_tva(siren)


#: A CPV code (common procurement vocabulary): 8 digits, a hyphen, a check digit (``79952000-2``).
_CPV = re.compile(r"^(\d{8})-?(\d)$")
#: The weights of the CPV check digit, digit by digit; the check digit completes the weighted sum to a
#: multiple of 10 (``79952000-2``, ``55520000-1``, ``45000000-7``).
_CPV_WEIGHTS = (7, 3, 9, 7, 3, 9, 7, 3)
#: At most this many codes on one event.
MAX_CPV_CODES = 10


def cpv_check_digit(code: str) -> str:
    """The check digit of the 8 digits of a CPV code."""
    total = sum(int(digit) * weight for digit, weight in zip(code, _CPV_WEIGHTS, strict=True))
    return str(-total % 10)


def check_cpv_codes(value: str) -> list[str]:
    """CPV codes separated by commas, semicolons or spaces -> ``["79952000-2", ...]`` (no repeats).

    python-stdnum has no CPV module: the format is a pattern, the ninth digit a weighted check digit.
    """
    codes: list[str] = []
    for raw in re.split(r"[,;\s]+", value or ""):
        if not raw:
            continue
        match = _CPV.match(raw)
        if match is None:
            raise FieldError(
                _(
                    "« %(code)s » n'est pas un code CPV : 8 chiffres, un tiret et un chiffre de contrôle (ex. 79952000-2).",
                    code=raw[:20],
                )
            )
        digits, check = match.groups()
        if cpv_check_digit(digits) != check:
            raise FieldError(
                _(
                    "Le code CPV %(code)s n'est pas valide (chiffre de contrôle erroné).",
                    code=f"{digits}-{check}",
                )
            )
        code = f"{digits}-{check}"
        if code not in codes:
            codes.append(code)
    if len(codes) > MAX_CPV_CODES:
        raise FieldError(_("Au plus %(n)s codes CPV.", n=MAX_CPV_CODES))
    return codes


def check_iban(value: str) -> str:
    try:
        return stdnum_iban.validate(value)
    except ValidationError as exc:
        raise FieldError(_("Cet IBAN n'est pas valide.")) from exc


def check_bic(value: str) -> str:
    try:
        return stdnum_bic.validate(value)
    except ValidationError as exc:
        raise FieldError(_("Ce BIC n'est pas valide (8 ou 11 caractères).")) from exc


def check_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise FieldError(_("Adresse e-mail invalide : %(email)s.", email=value)) from exc


_POSTAL_CODE = re.compile(r"^(?:0[1-9]|[1-8]\d|9[0-8]|2[AB])\d{3}$")


def check_postal_code(value: str) -> str:
    value = (value or "").strip().replace(" ", "")
    if not re.fullmatch(r"\d{5}", value) or not _POSTAL_CODE.match(value):
        raise FieldError(_("Le code postal doit compter 5 chiffres (ex. 44000)."))
    return value


def check_website(value: str) -> str:
    value = (value or "").strip()
    if not re.match(r"^https?://[^\s/$.?#].[^\s]*$", value, re.IGNORECASE):
        raise FieldError(_("L'adresse du site doit commencer par http:// ou https://."))
    return value


@cache
def _metropole_by_fold() -> dict[str, str]:
    """Nantes Métropole's communes by their folded name (:func:`_fold`), folded once: the directory
    list asks for each card shown."""
    names: dict[str, str] = {}
    for name in NANTES_METROPOLE_COMMUNES:
        names.setdefault(_fold(name), name)
    return names


@lru_cache(maxsize=1024)
def is_in_nantes_metropole(commune: str) -> bool:
    """Kept per commune as written: a list of cards asks for each card, for a few communes."""
    return _fold(commune) in _metropole_by_fold()


def canonical_commune(commune: str) -> str:
    """The official spelling when the commune is one of Nantes Métropole's, else the input trimmed."""
    return _metropole_by_fold().get(_fold(commune)) or (commune or "").strip()


def territory_warning(commune: str, postal_code: str) -> str | None:
    """A flag (not an error) for an address outside the network's territory."""
    if is_in_nantes_metropole(commune):
        return None
    if (postal_code or "").startswith("44"):
        return _("Commune hors de Nantes Métropole (Loire-Atlantique).")
    return _("Commune hors de Loire-Atlantique.")


@cache
def qpv_names() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The priority neighbourhoods of Nantes Métropole, from the data file shipped in the package."""
    rows = []
    with open(DATA / "qpv_nantes_metropole.csv", encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    for row in csv.DictReader(lines, delimiter=";"):
        rows.append((row["nom"].strip(), tuple(c.strip() for c in row["communes"].split("|"))))
    return tuple(rows)


def check_qpv_name(value: str) -> str:
    folded = _fold(value)
    for name, _communes in qpv_names():
        if _fold(name) == folded:
            return name
    raise FieldError(_("Quartier prioritaire inconnu : %(name)s.", name=value))
