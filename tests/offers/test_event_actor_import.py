"""Actors missing from the directory are imported from the event: the import is one click away on
the event page and on a lot's suggestions, and brings the coordinator back where it started."""

from __future__ import annotations

import html
import io
import re

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.extensions import db
from app.models import Organisation
from tests.app.test_directory_exchange import actor_row, confirm_token, to_csv
from tests.conftest import csrf_token


@pytest.fixture(autouse=True)
def import_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "DIRECTORY_IMPORT_DIR", str(tmp_path / "imports"))


@pytest.fixture
def coordinator(make_user, auth, make_category):
    for position, code in enumerate(("accueil", "restauration", "librairie"), start=1):
        make_category(code=code, name=code.capitalize(), position=position)
    user = make_user("coordinator")
    auth.login(user.email)
    return user


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_event_page_and_the_suggestions_lead_to_the_import_and_back(
    client, coordinator, make_event, make_category
):
    from offers.models import Lot

    event = make_event()
    lot = Lot(event_id=event.id, category=make_category(name="Traiteur"), title="Buffet", position=0)
    db.session.add(lot)
    db.session.commit()
    page = text(client.get(f"/evenements/{event.id}"))
    link = re.search(r'class="btn btn-sm btn-outline-primary event-import-actors" href="([^"]+)"', page)
    assert link is not None and "Ajouter des acteurs absents de l&#39;annuaire" not in page
    assert ">Ajouter des acteurs absents de l'annuaire<" in page
    assert link[1] == f"/acteurs/import?next=/evenements/{event.id}"
    matching = text(client.get(f"/lots/{lot.id}/suggestions"))
    assert f'href="/acteurs/import?next=/lots/{lot.id}/suggestions"' in matching

    upload_page = text(client.get(link[1]))
    assert "Ajoutez ici les acteurs absents de l'annuaire" in upload_page
    assert f'<input type="hidden" name="next" value="/evenements/{event.id}">' in upload_page

    before = db.session.scalar(sa.select(sa.func.count()).select_from(Organisation))
    rows = [actor_row(i) for i in (1, 2)]
    preview = client.post(
        "/acteurs/import",
        data={
            "file": (io.BytesIO(to_csv(rows)), "nouveaux.csv"),
            "csrf_token": csrf_token(upload_page),
            "next": f"/evenements/{event.id}",
        },
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200 and "Création : 2" in text(preview)
    assert f'<input type="hidden" name="next" value="/evenements/{event.id}">' in text(preview)
    done = client.post(
        "/acteurs/import/confirmer",
        data={
            "token": confirm_token(preview),
            "csrf_token": csrf_token(text(preview)),
            "next": f"/evenements/{event.id}",
        },
    )
    assert done.status_code == 302
    assert done.headers["Location"] == f"/evenements/{event.id}"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == before + 2


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\t/evil.example"])
def test_the_way_back_stays_on_this_site(client, coordinator, target):
    page = text(client.get("/acteurs/import", query_string={"next": target}))
    form = re.search(r'<form[^>]*import-form">.*?</form>', page, flags=re.S)[0]
    assert 'name="next"' not in form and "Revenir sans importer" not in page


def test_an_empty_template_has_the_import_columns_and_no_row(client, coordinator):
    from app.directory.exchange import HEADERS

    response = client.get("/acteurs/import/modele.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert [cell.value for cell in sheet[1]] == list(HEADERS)
    assert sheet.max_row == 1
    csv = client.get("/acteurs/import/modele.csv")
    assert csv.data.decode("utf-8-sig").strip().split(";") == list(HEADERS)
    assert client.get("/acteurs/import/modele.pdf").status_code == 404


def test_only_the_coordination_gets_the_template(client, auth, make_user):
    auth.login(make_user("treasurer").email)
    assert client.get("/acteurs/import/modele.csv").status_code == 403
