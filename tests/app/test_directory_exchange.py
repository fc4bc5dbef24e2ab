"""Import and export of the directory, tried through the app as a coordinator would.

The import shows a preview, writes nothing before the confirmation, writes all rows or none; the
export re-imports as "unchanged"; spreadsheet formulas never come alive.
"""

from __future__ import annotations

import csv
import html
import io
import os
import re
import time
import zipfile
from dataclasses import replace

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from stdnum import iban as stdnum_iban
from stdnum import luhn

from app.directory import exchange
from app.directory.validation import vat_number_for
from app.extensions import db
from app.models import AuditEntry, Category, LegalForm, Organisation, VatRegime
from tests.conftest import AuthActions, csrf_token

# --- data ----------------------------------------------------------------------------------------


def make_siret(i: int, nic: str = "0001") -> str:
    """A valid SIRET whose SIREN starts with 0 (leading zeros must survive every format)."""
    base = f"0{4_000_000 + i}"
    siren = base + luhn.calc_check_digit(base)
    body = siren + nic
    return body + luhn.calc_check_digit(body)


def make_iban(i: int) -> str:
    bank, branch, account = "30004", f"{i:05d}", f"{i:011d}"
    key = 97 - ((89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97)
    bban = f"{bank}{branch}{account}{key:02d}"
    return "FR" + stdnum_iban.calc_check_digits("FR00" + bban) + bban


FORMS = ["association", "scop", "scic", "cooperative", "sas", "sarl", "ei", "collectivite", "mutuelle"]
REGIMES = ["assujetti", "franchise", "exonere"]


def actor_row(i: int, **over) -> dict[str, str]:
    siret = make_siret(i)
    regime = REGIMES[i % 3]
    qpv = i % 5 == 0
    row = {
        "nom": f"Acteur {i:03d} — Économie solidaire",
        "forme_juridique": FORMS[i % len(FORMS)],
        "siret": siret,
        "regime_tva": regime,
        "numero_tva": vat_number_for(siret[:9]) if regime == "assujetti" else "",
        "adresse": f"{i} rue de la Paix",
        "code_postal": "44000",
        "commune": "Nantes",
        "qpv": "oui" if qpv else "non",
        "quartier_qpv": "Bellevue" if qpv else "",
        "categories": "accueil|restauration" if i % 2 else "librairie",
        "description": f"Structure n° {i}, réseau des Ecossolies.",
        "contact": f"Camille {i}",
        "email": f"acteur{i}@example.org",
        "telephone": f"02 40 00 {i // 100:02d} {i % 100:02d}",
        "site_web": f"https://acteur{i}.example.org",
        "iban": make_iban(i),
        "bic": "CMCIFR2A",
        "affichage_public": "oui" if i % 2 else "non",
        "contact_public": "oui" if i % 3 == 0 else "non",
        "actif": "oui",
    }
    row.update(over)
    return row


def to_csv(rows: list[dict], headers=None, sep=";", encoding="utf-8-sig") -> bytes:
    headers = list(headers or rows[0].keys())
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(h, "") for h in headers])
    return buffer.getvalue().encode(encoding)


def to_xlsx(rows: list[dict], headers=None) -> bytes:
    """A workbook as a person would save it (normal openpyxl mode, text cells)."""
    headers = list(headers or rows[0].keys())
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append([row.get(h, "") or None for h in headers])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


#: (line in the spreadsheet, column, message fragment) of the wrong rows of the 200-row file.
WRONG_ROWS = {
    12: ("siret", "Ce SIRET n'est pas valide (clé de contrôle erronée)."),
    40: ("numero_tva", "Le numéro de TVA ne correspond pas au SIREN"),
    77: ("iban", "Cet IBAN n'est pas valide."),
    150: ("categories", "Catégorie inconnue : traiteur"),
    201: ("siret", "Ce SIRET figure déjà à la ligne 2 du fichier."),
}


def two_hundred_rows(with_errors: bool = True) -> list[dict]:
    rows = [actor_row(i) for i in range(1, 201)]
    if with_errors:
        # Line n of the spreadsheet is rows[n - 2].
        good = rows[10]["siret"]
        rows[10]["siret"] = good[:-1] + str((int(good[-1]) + 1) % 10)
        rows[38].update(regime_tva="assujetti", numero_tva=vat_number_for(make_siret(999)[:9]))
        rows[75]["iban"] = rows[75]["iban"][:-1] + str((int(rows[75]["iban"][-1]) + 1) % 10)
        rows[148]["categories"] = "accueil|traiteur"
        rows[199]["siret"] = rows[0]["siret"]
    return rows


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def import_dir(app, tmp_path, monkeypatch):
    directory = tmp_path / "imports"
    monkeypatch.setitem(app.config, "DIRECTORY_IMPORT_DIR", str(directory))
    return directory


@pytest.fixture
def categories(make_category):
    return {
        code: make_category(code=code, name=code.capitalize(), position=position)
        for position, code in enumerate(("accueil", "restauration", "librairie"), start=1)
    }


@pytest.fixture
def coordinator(make_user, auth, categories):
    user = make_user("coordinator")
    auth.login(user.email)
    return user


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def upload(client, data: bytes, filename: str = "acteurs.csv"):
    token = csrf_token(client.get("/acteurs/import").get_data(as_text=True))
    return client.post(
        "/acteurs/import",
        data={"file": (io.BytesIO(data), filename), "csrf_token": token},
        content_type="multipart/form-data",
    )


def confirm_token(response) -> str | None:
    found = re.search(r'name="token" value="([^"]+)"', response.get_data(as_text=True))
    return found.group(1) if found else None


def confirm(client, token: str):
    csrf = csrf_token(client.get("/acteurs/import").get_data(as_text=True))
    return client.post("/acteurs/import/confirmer", data={"token": token, "csrf_token": csrf})


def preview_rows(response) -> dict[int, tuple[str, list[str]]]:
    """line → (action, columns named in its errors) as the preview page shows them."""
    page = response.get_data(as_text=True)
    rows = {}
    for chunk in page.split('<tr id="ligne-')[1:]:
        body = chunk.split("</tr>", 1)[0]
        line = int(re.match(r"(\d+)", chunk).group(1))
        action = re.search(r'data-action="(\w+)"', body).group(1)
        errors = body.split('class="list-unstyled mb-0 import-errors"')
        columns = (
            re.findall(r'<li data-column="(\w+)">', errors[1].split("</ul>")[0]) if len(errors) > 1 else []
        )
        rows[line] = (action, columns)
    return rows


def count_organisations() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Organisation))


def snapshot() -> list[tuple]:
    """Every stored value of every card (version and timestamps included), and its categories."""
    db.session.expire_all()
    keys = [attr.key for attr in sa.inspect(Organisation).column_attrs]
    return [
        (tuple((key, getattr(o, key)) for key in keys), tuple(sorted(c.code for c in o.categories)))
        for o in db.session.scalars(sa.select(Organisation).order_by(Organisation.id))
    ]


def add_card(categories, i: int, **over) -> Organisation:
    values = {
        "name": f"Fiche {i}",
        "slug": f"fiche-{i}",
        "legal_form": LegalForm.ASSOCIATION,
        "siret": make_siret(i),
        "vat_regime": VatRegime.EXEMPT,
        "address": f"{i} quai de la Fosse",
        "postal_code": "44000",
        "commune": "Nantes",
    }
    cats = over.pop("cats", [])
    values.update(over)
    organisation = Organisation(**values)
    organisation.categories = [categories[c] for c in cats]
    db.session.add(organisation)
    db.session.flush()
    return organisation


# --- the 200-row file with a few wrong rows ------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_preview_of_200_rows_lists_exactly_the_wrong_rows_and_writes_nothing(client, coordinator, fmt):
    rows = two_hundred_rows()
    data = to_csv(rows) if fmt == "csv" else to_xlsx(rows)
    before, audit_before = count_organisations(), db.session.scalar(sa.select(sa.func.count(AuditEntry.id)))

    response = upload(client, data, f"acteurs.{fmt}")

    assert response.status_code == 200
    shown = preview_rows(response)
    assert sorted(shown) == list(range(2, 202))
    wrong = {line: columns for line, (action, columns) in shown.items() if action == "error"}
    assert wrong == {line: [column] for line, (column, _message) in WRONG_ROWS.items()}
    assert {action for line, (action, _c) in shown.items() if line not in WRONG_ROWS} == {"create"}
    page = text(response)
    for _column, message in WRONG_ROWS.values():
        assert message in page
    assert "5 ligne(s) en erreur : rien ne sera enregistré" in page
    assert 'href="#ligne-12"' in page
    assert confirm_token(response) is None
    assert "Confirmer l'import" not in page
    assert count_organisations() == before
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == audit_before


def test_validate_rows_gives_each_error_with_its_column(app, categories):
    rows = two_hundred_rows()
    rows[98].update(forme_juridique="sa", regime_tva="assujetti", numero_tva="", qpv="peut-être")
    preview = exchange.validate_rows(exchange.read_table("acteurs.csv", to_csv(rows)))
    errors = {row.line: row.errors for row in preview.error_rows}
    assert errors[100] == [
        (
            "forme_juridique",
            "Forme juridique inconnue : « sa ». Valeurs acceptées : association, scop, scic, cooperative, "
            "sas, sarl, ei, collectivite, mutuelle, fondation, autre.",
        ),
        ("numero_tva", "Un acteur assujetti à la TVA doit avoir un numéro de TVA."),
        ("qpv", "Indiquez « oui » ou « non » (valeur lue : « peut-être »)."),
    ]
    assert errors[150] == [
        ("categories", "Catégorie inconnue : traiteur (codes existants : accueil, librairie, restauration).")
    ]
    siren = make_siret(39)[:9]
    assert errors[40] == [
        (
            "numero_tva",
            f"Le numéro de TVA ne correspond pas au SIREN {siren} (attendu : {vat_number_for(siren)}).",
        )
    ]
    assert preview.counts == {"create": 194, "update": 0, "unchanged": 0, "error": 6}
    with pytest.raises(exchange.ImportHasErrors, match="6 ligne\\(s\\) en erreur : rien n'a été enregistré"):
        exchange.apply_import(preview, _coordinator_object())
    assert count_organisations() == 0


def _coordinator_object():
    from app.models import Role

    return type("U", (), {"id": None, "role": Role.COORDINATOR, "is_authenticated": True})()


def test_a_clean_file_is_written_only_on_confirmation_then_the_file_is_deleted(
    client, coordinator, import_dir
):
    data = to_csv(two_hundred_rows(with_errors=False))
    before = count_organisations()

    response = upload(client, data)
    assert response.status_code == 200
    assert "Création : 200" in text(response)
    assert "sarl · exonere · Nantes · accueil|restauration" in text(response)  # line 6
    token = confirm_token(response)
    assert token
    assert count_organisations() == before
    assert len(list(import_dir.iterdir())) == 1

    response = confirm(client, token)
    assert response.status_code == 302
    assert response.headers["Location"] == "/acteurs"
    assert count_organisations() == before + 200
    assert list(import_dir.iterdir()) == []
    card = db.session.scalar(sa.select(Organisation).where(Organisation.siret == make_siret(5)))
    assert card.name == "Acteur 005 — Économie solidaire"
    assert card.siret.startswith("0")
    assert card.legal_form == LegalForm.SARL and card.vat_regime == VatRegime.EXEMPT
    assert (card.qpv, card.qpv_name) == (True, "Bellevue")
    assert [c.code for c in card.categories] == ["accueil", "restauration"]
    assert (card.public_listing, card.show_contact_publicly, card.active) == (True, False, True)
    assert card.iban == make_iban(5) and card.bic == "CMCIFR2A"
    assert card.slug == "acteur-005-economie-solidaire"
    entries = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.action == "organisation.created", AuditEntry.object_id == card.id
        )
    ).all()
    assert len(entries) == 1
    assert entries[0].user_id == coordinator.id
    assert "ligne 6" in entries[0].summary

    # The same confirmation again: the file is gone, nothing is imported twice.
    again = confirm(client, token)
    assert again.status_code == 400
    assert "Ce fichier n'est plus disponible" in text(again)
    assert count_organisations() == before + 200


def test_a_failure_in_the_middle_of_the_import_writes_nothing(client, coordinator, monkeypatch):
    token = confirm_token(upload(client, to_csv(two_hundred_rows(with_errors=False))))
    before = snapshot()
    calls = {"n": 0}
    real_record = exchange.record

    def failing_record(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 150:
            raise IntegrityError("INSERT …", {}, Exception("unique violation"))
        return real_record(*args, **kwargs)

    monkeypatch.setattr(exchange, "record", failing_record)
    response = confirm(client, token)
    assert response.status_code == 302
    assert response.headers["Location"] == "/acteurs/import"
    assert calls["n"] == 150
    assert snapshot() == before
    page = text(client.get("/acteurs/import"))
    assert "rien n'a été enregistré" in page


def test_cards_changed_since_the_preview_are_shown_again_before_anything_is_written(
    client, coordinator, categories
):
    rows = [actor_row(i) for i in range(1, 4)]
    response = upload(client, to_csv(rows))
    token = confirm_token(response)
    # Meanwhile someone creates the card of the second row.
    add_card(categories, 2, name="Créée entre-temps")
    before = count_organisations()

    response = confirm(client, token)
    assert response.status_code == 409
    page = text(response)
    assert "Les fiches ont changé depuis l'aperçu : rien n'a été enregistré." in page
    assert preview_rows(response)[3] == ("update", [])
    assert count_organisations() == before

    response = confirm(client, confirm_token(response))
    assert response.status_code == 302
    assert count_organisations() == before + 2
    assert (
        db.session.scalar(sa.select(Organisation.name).where(Organisation.siret == make_siret(2)))
        == rows[1]["nom"]
    )


def test_a_file_that_became_wrong_since_the_preview_is_refused_at_confirmation(
    client, coordinator, categories, import_dir
):
    token = confirm_token(upload(client, to_csv([actor_row(1), actor_row(2)])))
    db.session.delete(categories["librairie"])
    db.session.flush()
    before = count_organisations()

    response = confirm(client, token)
    assert response.status_code == 409
    assert "le fichier contient maintenant des erreurs : rien n'a été enregistré" in text(response)
    assert preview_rows(response)[3] == ("error", ["categories"])
    assert confirm_token(response) is None
    assert count_organisations() == before
    assert list(import_dir.iterdir()) == []


# --- updates by SIRET ----------------------------------------------------------------------------


def test_an_update_by_siret_changes_only_the_changed_fields(client, coordinator, categories):
    card = add_card(
        categories,
        7,
        email="ancien@example.org",
        phone="02 40 00 00 07",
        description="Inchangée",
        cats=["accueil"],
    )
    other = add_card(categories, 8)
    keys = [a.key for a in sa.inspect(Organisation).column_attrs]
    before = {k: getattr(card, k) for k in keys}
    other_before = snapshot()[1]
    row = {
        "nom": "Fiche 7",
        "forme_juridique": "association",
        "siret": " ".join([card.siret[:3], card.siret[3:6], card.siret[6:9], card.siret[9:]]),
        "regime_tva": "exonere",
        "email": "nouveau@example.org",
        "commune": "rezé",
        "categories": "accueil | librairie",
    }
    response = upload(client, to_csv([row]))
    page = text(response)
    assert preview_rows(response) == {2: ("update", [])}
    assert "<del>ancien@example.org</del> → <ins>nouveau@example.org</ins>" in page
    preview = exchange.validate_rows(exchange.read_table("a.csv", to_csv([row])))
    assert [(c.header, c.old, c.new) for c in preview.rows[0].changes] == [
        ("commune", "Nantes", "Rezé"),
        ("categories", "accueil", "accueil|librairie"),
        ("email", "ancien@example.org", "nouveau@example.org"),
    ]

    assert confirm(client, confirm_token(response)).status_code == 302
    db.session.expire_all()
    after = {k: getattr(card, k) for k in keys}
    changed = {k for k in keys if before[k] != after[k]}
    assert changed == {"commune", "email", "version_id", "updated_at"}
    assert (after["commune"], after["email"]) == ("Rezé", "nouveau@example.org")
    assert after["phone"] == "02 40 00 00 07" and after["description"] == "Inchangée"
    assert [c.code for c in card.categories] == ["accueil", "librairie"]
    assert snapshot()[1] == other_before and other.email is None
    entry = db.session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.action == "organisation.updated", AuditEntry.object_id == card.id
        )
    )
    assert entry.changes == {
        "commune": ["Nantes", "Rezé"],
        "categories": ["accueil", "accueil|librairie"],
        "email": ["ancien@example.org", "nouveau@example.org"],
    }


def test_a_row_without_siret_matches_the_card_without_siret_of_the_same_name(client, coordinator, categories):
    add_card(categories, 1, siret=None, name="Les Jardins de Loire")
    row = {
        "nom": "les jardins de loire",
        "forme_juridique": "association",
        "siret": "",
        "regime_tva": "exonere",
    }
    preview = exchange.validate_rows(exchange.read_table("a.csv", to_csv([row, dict(row)])))
    assert preview.rows[0].action == "update"
    assert [(c.header, c.new) for c in preview.rows[0].changes] == [("nom", "les jardins de loire")]
    assert preview.rows[1].errors == [("nom", "Une ligne sans SIRET porte déjà ce nom (ligne 2 du fichier).")]


# --- files refused as a whole --------------------------------------------------------------------


LATIN1 = "nom;forme_juridique;siret;regime_tva\r\nCafé de l'Égalité;association;;exonere\r\n".encode(
    "latin-1"
)


@pytest.mark.parametrize(
    "filename,data,message",
    [
        (
            "acteurs.csv",
            to_csv([actor_row(1, couleur="bleu")]),
            "Colonnes inconnues : couleur.",
        ),
        (
            "acteurs.xlsx",
            to_xlsx([{k: v for k, v in actor_row(1).items() if k != "siret"}]),
            "Colonnes obligatoires absentes : siret.",
        ),
        (
            "acteurs.csv",
            to_csv([actor_row(1)], headers=["nom", "nom", "siret", "forme_juridique", "regime_tva"]),
            "Colonnes en double : nom.",
        ),
        (
            "acteurs.csv",
            LATIN1,
            "Le fichier n'est pas encodé en UTF-8 (premier caractère illisible à la ligne 2)",
        ),
        (
            "acteurs.txt",
            to_csv([actor_row(1)]),
            "Format non accepté : envoyez un fichier .csv (UTF-8) ou .xlsx",
        ),
        (
            "acteurs.csv",
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff",
            "n'est pas un fichier texte CSV",
        ),
        ("acteurs.xlsx", to_csv([actor_row(1)]), "Ce fichier n'est pas un classeur Excel .xlsx valide"),
        ("acteurs.csv", to_xlsx([actor_row(1)]), "Ce fichier est un classeur Excel nommé en .csv"),
        ("acteurs.csv", b"", "Le fichier est vide."),
        (
            "acteurs.csv",
            b"nom;siret\r\na;b;c\r\n",
            "La ligne 2 compte 3 colonnes alors que l'en-tête en compte 2",
        ),
    ],
    ids=[
        "unknown-column",
        "missing-column",
        "duplicate-column",
        "latin-1",
        "txt",
        "exe",
        "text-as-xlsx",
        "xlsx-as-csv",
        "empty",
        "ragged",
    ],
)
def test_wrong_files_are_refused_whole_with_a_french_message(client, coordinator, filename, data, message):
    before = count_organisations()
    response = upload(client, data, filename)
    assert response.status_code == 400
    page = text(response)
    assert "Le fichier est refusé ; rien n'a été enregistré." in page
    assert message in page
    assert confirm_token(response) is None
    assert count_organisations() == before


def test_a_file_over_the_import_limit_is_refused(app, client, coordinator, monkeypatch):
    monkeypatch.setitem(app.config, "DIRECTORY_IMPORT_MAX_BYTES", 4096)
    data = to_csv([actor_row(i) for i in range(1, 30)])
    assert len(data) > 4096
    response = upload(client, data)
    assert response.status_code == 400
    assert "Le fichier est trop volumineux (" in text(response)
    assert "la limite est de 4 Ko" in text(response)
    assert count_organisations() == 0


def test_a_request_over_max_content_length_gets_the_french_413_page(app, client, coordinator, monkeypatch):
    token = csrf_token(client.get("/acteurs/import").get_data(as_text=True))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    response = client.post(
        "/acteurs/import",
        data={"file": (io.BytesIO(b"x" * 5000), "acteurs.csv"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "Fichier trop volumineux" in text(response)


def test_too_many_rows_are_refused(app, categories, monkeypatch):
    monkeypatch.setitem(app.config, "DIRECTORY_IMPORT_MAX_ROWS", 10)
    assert len(exchange.read_table("a.csv", to_csv([actor_row(i) for i in range(1, 11)]))) == 10
    with pytest.raises(exchange.FileRefused, match="plus de 10 lignes"):
        exchange.read_table("a.csv", to_csv([actor_row(i) for i in range(1, 12)]))


def test_a_zip_bomb_posing_as_xlsx_is_refused(app, monkeypatch):
    monkeypatch.setattr(exchange, "XLSX_MAX_UNCOMPRESSED", 10_000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * 10_001)
    with pytest.raises(exchange.FileRefused, match="trop volumineux une fois décompressé"):
        exchange.read_table("acteurs.xlsx", buffer.getvalue())


# --- reading details -----------------------------------------------------------------------------


def test_lines_are_the_spreadsheets_and_headers_are_matched_loosely(app):
    data = (
        "\ufeffNom,Forme juridique,SIRET,Régime TVA,Description\r\n"
        'A,association,,exonere,"deux\r\nlignes"\r\n'
        ",,,,\r\n"
        "B,association,,exonere,\r\n"
    ).encode()
    frame = exchange.read_table("a.csv", data)
    assert list(frame.columns) == ["nom", "forme_juridique", "siret", "regime_tva", "description"]
    assert list(frame.index) == [2, 4]
    assert frame.loc[2, "description"] == "deux\r\nlignes"


def test_siret_and_postal_codes_stay_text_in_xlsx_even_when_typed_as_numbers(app, categories):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["nom", "forme_juridique", "siret", "regime_tva", "code_postal", "telephone"])
    sheet.append(["Acteur", "scop", make_siret(3), "exonere", 44000, "0240000000"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    frame = exchange.read_table("a.xlsx", buffer.getvalue())
    assert frame.loc[2].to_dict() == {
        "nom": "Acteur",
        "forme_juridique": "scop",
        "siret": make_siret(3),
        "regime_tva": "exonere",
        "code_postal": "44000",
        "telephone": "0240000000",
    }
    assert exchange.validate_rows(frame).rows[0].action == "create"


# --- export and round trip -----------------------------------------------------------------------


HYPERLINK = '=HYPERLINK("http://evil.example/","cliquez")'


@pytest.fixture
def varied_cards(categories):
    """Cards that exercise every formatting rule of the file."""
    cards = [
        add_card(categories, 1, name=HYPERLINK, phone="+33 2 40 00 00 01", cats=["librairie", "accueil"]),
        add_card(
            categories,
            2,
            name="L'Atelier « Coopératif »",
            legal_form=LegalForm.SCIC,
            vat_regime=VatRegime.SUBJECT,
            vat_number=vat_number_for(make_siret(2)[:9]),
            description='-Première ligne\r\nseconde ligne ; avec « guillemets » et "doubles"',
            contact_name="@camille",
            email="contact@atelier.example.org",
            website="https://atelier.example.org",
            iban=make_iban(2),
            bic="CMCIFR2A",
            qpv=True,
            qpv_name="Malakoff",
            public_listing=True,
            show_contact_publicly=True,
        ),
        add_card(
            categories, 3, siret=None, name="Sans SIRET", legal_form=LegalForm.COLLECTIVITY, active=False
        ),
        add_card(
            categories,
            4,
            name="'Apostrophe",
            legal_form=LegalForm.FOUNDATION,
            vat_regime=VatRegime.FRANCHISE,
            description="'=déjà échappé",
            commune="Saint-Herblain",
            postal_code="44800",
            cats=["restauration"],
        ),
        add_card(categories, 5, name="+ Plus", legal_form=LegalForm.OTHER, description="", address=""),
    ]
    return cards


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(auth, client, make_user, varied_cards, fmt):
    treasurer = make_user("treasurer")
    auth.login(treasurer.email)
    response = client.get(f"/acteurs/export.{fmt}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert re.fullmatch(
        rf'attachment; filename="acteurs-\d{{4}}-\d{{2}}-\d{{2}}\.{fmt}"',
        response.headers["Content-Disposition"],
    )
    exported = response.data

    auth.logout()
    auth.login(make_user("coordinator").email)
    before = snapshot()
    preview = upload(client, exported, f"acteurs.{fmt}")
    assert preview.status_code == 200
    assert {action for action, _columns in preview_rows(preview).values()} == {"unchanged"}
    assert len(preview_rows(preview)) == len(varied_cards)
    assert "Rien à importer : chaque ligne correspond déjà à sa fiche." in text(preview)
    assert confirm_token(preview) is None
    assert snapshot() == before


def test_csv_export_is_utf8_with_bom_semicolons_and_escaped_formulas(app, varied_cards):
    data = exchange.export_csv()
    assert data.startswith(b"\xef\xbb\xbfnom;forme_juridique;siret;regime_tva;numero_tva;")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == list(exchange.HEADERS)
    by_name = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert "'" + HYPERLINK in by_name
    assert by_name["'" + HYPERLINK]["telephone"] == "'+33 2 40 00 00 01"
    assert by_name["'" + HYPERLINK]["categories"] == "accueil|librairie"
    assert by_name["''Apostrophe"]["description"] == "''=déjà échappé"
    assert by_name["'+ Plus"]["forme_juridique"] == "autre"
    atelier = by_name["L'Atelier « Coopératif »"]
    assert atelier["description"] == '\'-Première ligne\nseconde ligne ; avec « guillemets » et "doubles"'
    assert atelier["contact"] == "'@camille"
    assert (atelier["regime_tva"], atelier["qpv"], atelier["quartier_qpv"]) == (
        "assujetti",
        "oui",
        "Malakoff",
    )
    assert by_name["Sans SIRET"]["siret"] == "" and by_name["Sans SIRET"]["actif"] == "non"
    assert by_name["Sans SIRET"]["forme_juridique"] == "collectivite"
    assert by_name["'" + HYPERLINK]["siret"] == make_siret(1) and make_siret(1).startswith("0")


def test_xlsx_export_writes_every_value_as_text_never_as_a_formula(app, varied_cards):
    data = exchange.export_xlsx()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook.active
    assert sheet.title == "Acteurs"
    header = [c.value for c in sheet[1]]
    assert header == list(exchange.HEADERS)
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row if cell.value is not None]
    assert {cell.data_type for cell in cells} == {"s"}
    names = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert HYPERLINK in names
    link_row = names[HYPERLINK]
    assert link_row[0].data_type == "s"
    assert link_row[header.index("telephone")].value == "+33 2 40 00 00 01"
    assert link_row[header.index("siret")].value == make_siret(1)
    assert link_row[header.index("siret")].number_format == "@"


def test_export_follows_the_list_filters(auth, client, make_user, categories):
    add_card(categories, 1, name="Traiteur du Breil", legal_form=LegalForm.SCOP, cats=["restauration"])
    add_card(categories, 2, name="Librairie Vent d'Ouest", cats=["librairie"], active=False)
    auth.login(make_user("coordinator").email)

    def names(query: str) -> list[str]:
        data = client.get(f"/acteurs/export.csv{query}").data.decode("utf-8-sig")
        return [row[0] for row in csv.reader(io.StringIO(data), delimiter=";")][1:]

    assert names("") == ["Librairie Vent d'Ouest", "Traiteur du Breil"]  # inactive cards too
    assert names("?active=tous") == ["Librairie Vent d'Ouest", "Traiteur du Breil"]
    assert names("?q=breil") == ["Traiteur du Breil"]
    assert names("?category=librairie") == ["Librairie Vent d'Ouest"]
    assert names("?active=oui") == ["Traiteur du Breil"]
    assert names("?active=non&commune=nantes") == ["Librairie Vent d'Ouest"]
    assert names("?legal_form=scop") == ["Traiteur du Breil"]
    assert names("?legal_form=inconnue&vat_regime=exempt") == ["Librairie Vent d'Ouest", "Traiteur du Breil"]
    assert names("?qpv=oui") == []
    assert client.get("/acteurs/export.pdf").status_code == 404


# --- who may do what; the signed token -----------------------------------------------------------


@pytest.mark.parametrize("role", ["treasurer", "actor", "client"])
def test_only_coordination_imports(auth, client, make_user, role):
    auth.login(make_user(role).email)
    assert client.get("/acteurs/import").status_code == 403
    assert client.post("/acteurs/import/confirmer", data={}).status_code in (400, 403)


@pytest.mark.parametrize("role,status", [("admin", 200), ("treasurer", 200), ("actor", 403), ("client", 403)])
def test_who_may_export(auth, client, make_user, role, status):
    auth.login(make_user(role).email)
    assert client.get("/acteurs/export.xlsx").status_code == status


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    assert client.get("/acteurs/import").headers["Location"].startswith("/connexion")
    assert client.get("/acteurs/export.csv").headers["Location"].startswith("/connexion")


def test_a_forged_token_is_refused_with_400(app, client, coordinator):
    token = confirm_token(upload(client, to_csv([actor_row(1)])))
    forged_payload = exchange.URLSafeTimedSerializer("une-autre-cle", salt="maillage.directory-import").dumps(
        {"k": "A" * 32, "x": "csv", "u": coordinator.id, "h": "0" * 64, "p": "", "n": "a.csv"}
    )
    for forged in (
        token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),
        forged_payload,
        "",
        "../../etc",
    ):
        response = confirm(client, forged)
        assert response.status_code == 400, forged
        assert "Le jeton de confirmation de l'import n'est pas valide." in text(response)
    assert count_organisations() == 0


def test_another_users_token_is_refused_with_403(app, client, coordinator, make_user):
    token = confirm_token(upload(client, to_csv([actor_row(1)])))
    other_client = app.test_client()
    other = make_user("coordinator")
    AuthActions(other_client).login(other.email)
    response = confirm(other_client, token)
    assert response.status_code == 403
    assert "Cet aperçu a été préparé par une autre personne" in text(response)
    assert count_organisations() == 0
    # Its author still can.
    assert confirm(client, token).status_code == 302
    assert count_organisations() == 1


def test_a_stored_file_changed_on_disk_is_refused(client, coordinator, import_dir):
    token = confirm_token(upload(client, to_csv([actor_row(1)])))
    (stored,) = import_dir.iterdir()
    stored.write_bytes(to_csv([actor_row(1, nom="Remplacé sur le disque")]))
    response = confirm(client, token)
    assert response.status_code == 400
    assert "Le fichier conservé ne correspond plus à l'aperçu" in text(response)
    assert count_organisations() == 0


def test_expired_tokens_and_old_files(app, client, coordinator, import_dir, monkeypatch):
    token = confirm_token(upload(client, to_csv([actor_row(1)])))
    (stored,) = import_dir.iterdir()
    stale = time.time() - exchange.UPLOAD_MAX_AGE - 60
    os.utime(stored, (stale, stale))
    assert exchange.purge_old_uploads() == 1
    assert list(import_dir.iterdir()) == []

    monkeypatch.setattr(exchange, "UPLOAD_MAX_AGE", -1)  # every signature is now too old
    response = confirm(client, token)
    assert response.status_code == 400
    assert "Cet aperçu a expiré (24 h)" in text(response)


def test_the_token_is_bound_to_its_file_and_user(app, coordinator):
    upload_ = exchange.StoredUpload("B" * 32, "csv", coordinator.id, "0" * 64, "", "a.csv")
    token = exchange.sign_upload(upload_)
    with pytest.raises(exchange.InvalidImportToken, match="n'est plus disponible"):
        exchange.load_upload(token, coordinator)
    with pytest.raises(exchange.InvalidImportToken, match="n'est pas valide"):
        exchange.load_upload(
            exchange.sign_upload(replace(upload_, key="../secret_key_xxxxxxxxxxxxxxxxxx")), coordinator
        )


def test_an_empty_category_table_is_named_in_the_message(app):
    rows = [
        {
            "nom": "A",
            "forme_juridique": "association",
            "siret": "",
            "regime_tva": "exonere",
            "categories": "x",
        }
    ]
    preview = exchange.validate_rows(exchange.read_table("a.csv", to_csv(rows)))
    assert preview.rows[0].errors == [("categories", "Catégorie inconnue : x (codes existants : —).")]
    assert db.session.scalar(sa.select(sa.func.count(Category.id))) == 0
