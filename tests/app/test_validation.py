"""The directory's checks (app/directory/validation.py), table by table: valid values come back
normalised, invalid ones raise a FieldError with its French message."""

from __future__ import annotations

import pytest

from app.directory.validation import (
    NANTES_METROPOLE_COMMUNES,
    FieldError,
    canonical_commune,
    check_bic,
    check_email,
    check_iban,
    check_postal_code,
    check_qpv_name,
    check_siren,
    check_siret,
    check_vat_number,
    check_website,
    is_in_nantes_metropole,
    qpv_names,
    territory_warning,
    vat_number_for,
)

SIREN = "732829320"
SIRET = "73282932000074"
VAT = "FR44732829320"
OTHER_SIREN = "552100554"


def refused(check, value, *args) -> str:
    with pytest.raises(FieldError) as info:
        check(value, *args)
    return info.value.message


# --- SIRET and SIREN -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,expected",
    [
        (SIRET, SIRET),
        ("732 829 320 00074", SIRET),
        ("732.829.320.00074", SIRET),
        ("55210055400013", "55210055400013"),
    ],
)
def test_valid_siret_is_returned_compact(value, expected):
    assert check_siret(value) == expected


@pytest.mark.parametrize(
    "value,message",
    [
        ("73282932000075", "Ce SIRET n'est pas valide (clé de contrôle erronée)."),
        ("73282932000047", "Ce SIRET n'est pas valide (clé de contrôle erronée)."),
        ("7328293200007", "Le SIRET doit compter 14 chiffres."),
        ("732829320000740", "Le SIRET doit compter 14 chiffres."),
        ("7328293200007A", "Le SIRET ne doit contenir que des chiffres."),
    ],
)
def test_invalid_siret_is_refused_with_a_french_message(value, message):
    assert refused(check_siret, value) == message


@pytest.mark.parametrize(
    "value,ok", [(SIREN, True), ("732 829 320", True), ("732829321", False), ("7328", False)]
)
def test_siren(value, ok):
    if ok:
        assert check_siren(value) == SIREN
    else:
        assert refused(check_siren, value) == "Ce SIREN n'est pas valide (9 chiffres, clé de contrôle)."


# --- VAT number ----------------------------------------------------------------------------------


def test_vat_number_is_derived_from_the_siren():
    assert vat_number_for(SIREN) == VAT
    assert vat_number_for(OTHER_SIREN) == "FR96552100554"


@pytest.mark.parametrize(
    "value,siren,expected",
    [
        (VAT, SIREN, VAT),
        ("fr 44 732 829 320", SIREN, VAT),
        ("44732829320", None, VAT),  # the country prefix is added
        (VAT, None, VAT),
    ],
)
def test_valid_vat_number(value, siren, expected):
    assert check_vat_number(value, siren) == expected


@pytest.mark.parametrize(
    "value,siren,message",
    [
        ("FR00732829320", None, "Ce numéro de TVA intracommunautaire n'est pas valide."),
        ("FR4473282932", None, "Ce numéro de TVA intracommunautaire n'est pas valide."),
        ("DE123456789", None, "Ce numéro de TVA intracommunautaire n'est pas valide."),
        (
            VAT,
            OTHER_SIREN,
            "Le numéro de TVA ne correspond pas au SIREN 552100554 (attendu : FR96552100554).",
        ),
    ],
)
def test_invalid_vat_number_or_not_matching_the_siren(value, siren, message):
    assert refused(check_vat_number, value, siren) == message


# --- bank details --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,expected",
    [
        ("FR7630006000011234567890189", "FR7630006000011234567890189"),
        ("FR76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189"),
        ("fr7630006000011234567890189", "FR7630006000011234567890189"),
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
    ],
)
def test_valid_iban(value, expected):
    assert check_iban(value) == expected


@pytest.mark.parametrize(
    "value",
    ["FR7630006000011234567890188", "FR763000600001123456789018", "XX7630006000011234567890189", "IBAN"],
)
def test_invalid_iban(value):
    assert refused(check_iban, value) == "Cet IBAN n'est pas valide."


@pytest.mark.parametrize(
    "value,expected",
    [("CCOPFRPPXXX", "CCOPFRPPXXX"), ("cmcifr2a", "CMCIFR2A"), ("AGRI FR PP 847", "AGRIFRPP847")],
)
def test_valid_bic(value, expected):
    assert check_bic(value) == expected


@pytest.mark.parametrize("value", ["CCOPFRPPX", "CCOP", "1234FRPP", "CCOPZZPP"])
def test_invalid_bic(value):
    assert refused(check_bic, value) == "Ce BIC n'est pas valide (8 ou 11 caractères)."


# --- e-mail, postal code, website ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value,expected",
    [
        ("Claire.Durand@Example.org", "Claire.Durand@example.org"),
        ("contact@ecossolies.fr", "contact@ecossolies.fr"),
    ],
)
def test_valid_email_has_its_domain_lowercased(value, expected):
    assert check_email(value) == expected


@pytest.mark.parametrize("value", ["claire@", "pas-une-adresse", "a@b", "claire durand@example.org"])
def test_invalid_email(value):
    assert refused(check_email, value) == f"Adresse e-mail invalide : {value}."


@pytest.mark.parametrize(
    "value,expected", [("44000", "44000"), ("44 150", "44150"), (" 75001 ", "75001"), ("97400", "97400")]
)
def test_valid_postal_code(value, expected):
    assert check_postal_code(value) == expected


@pytest.mark.parametrize("value", ["4400", "440000", "00100", "99000", "ABCDE", "2A004", ""])
def test_invalid_postal_code(value):
    assert refused(check_postal_code, value) == "Le code postal doit compter 5 chiffres (ex. 44000)."


@pytest.mark.parametrize(
    "value,ok",
    [
        ("https://ecossolies.fr", True),
        ("http://a.example.org/x", True),
        ("ecossolies.fr", False),
        ("javascript:alert(1)", False),
    ],
)
def test_website(value, ok):
    if ok:
        assert check_website(value) == value
    else:
        assert refused(check_website, value) == "L'adresse du site doit commencer par http:// ou https://."


# --- territory -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "commune,postal_code,warning",
    [
        ("Nantes", "44000", None),
        ("nantes", "44300", None),
        ("SAINT HERBLAIN", "44800", None),
        ("Reze", "44400", None),
        ("Ancenis-Saint-Géréon", "44150", "Commune hors de Nantes Métropole (Loire-Atlantique)."),
        ("Saint-Nazaire", "44600", "Commune hors de Nantes Métropole (Loire-Atlantique)."),
        ("Paris", "75001", "Commune hors de Loire-Atlantique."),
        ("Angers", "49000", "Commune hors de Loire-Atlantique."),
    ],
)
def test_territory_warning_flags_but_never_refuses(commune, postal_code, warning):
    assert territory_warning(commune, postal_code) == warning


def test_nantes_metropole_has_24_communes_and_official_spellings():
    assert len(NANTES_METROPOLE_COMMUNES) == 24
    assert all(is_in_nantes_metropole(c) for c in NANTES_METROPOLE_COMMUNES)
    assert canonical_commune("saint sebastien sur loire") == "Saint-Sébastien-sur-Loire"
    assert canonical_commune(" Couëron ") == "Couëron"
    assert canonical_commune("  Ancenis ") == "Ancenis"
    assert not is_in_nantes_metropole("Ancenis")


# --- priority neighbourhoods ---------------------------------------------------------------------


def test_qpv_names_come_from_the_shipped_data_file():
    names = dict(qpv_names())
    assert len(names) == 13
    assert names["Bellevue"] == ("Nantes", "Saint-Herblain")
    assert names["Château"] == ("Rezé",)
    assert names["Plaisance"] == ("Orvault",)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("Bellevue", "Bellevue"),
        ("bellevue", "Bellevue"),
        ("Bottiere - Pin Sec", "Bottière – Pin Sec"),
        ("NANTES NORD", "Nantes Nord"),
        ("dervallieres", "Dervallières"),
    ],
)
def test_known_qpv_names_come_back_in_their_official_spelling(value, expected):
    assert check_qpv_name(value) == expected


@pytest.mark.parametrize("value", ["Île de Nantes", "Bellevue-sur-Mer", ""])
def test_unknown_qpv_name_is_refused(value):
    assert refused(check_qpv_name, value) == f"Quartier prioritaire inconnu : {value}."
