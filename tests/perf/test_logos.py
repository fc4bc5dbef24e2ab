"""Logos (up to 1 MiB each) are read where they are shown or printed, never with their row: an actor's
every page joins its organisation to the login, and the event and lot pages join one to every actor
and line, and look up the coordinator's identity for the prices."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import CoordinatorIdentity, Organisation
from app.snapshots import logo_data_uri
from benchmarks.dataset import PASSWORD, seed
from benchmarks.pages import logins, main_pages
from tests.conftest import AuthActions, results_read

LOGO = b"\x89PNG\r\n\x1a\n" + bytes(300_000)


def logos_read(client, url: str) -> list[str]:
    """The statements of a GET of ``url`` that brought back a column named ``logo``."""
    db.session.expunge_all()
    with results_read() as read:
        response = client.get(url)
    assert response.status_code == 200, url
    return [statement for statement, columns in read if "logo" in columns]


def test_no_main_page_reads_a_logo(app):
    seed(0.01, seed_value=1)
    db.session.execute(sa.update(Organisation).values(logo=LOGO, logo_mime="image/png"))
    identity = db.session.get(CoordinatorIdentity, 1)
    identity.logo, identity.logo_mime = LOGO, "image/png"
    db.session.commit()
    emails = logins()
    read = {}
    for page in main_pages():
        client = app.test_client()
        AuthActions(client).login(emails[page.who], PASSWORD)
        client.get(page.url)
        read[page.name] = logos_read(client, page.url)
    assert read == {page.name: [] for page in main_pages()}


def test_the_quote_still_prints_the_coordinators_logo(app):
    seed(0.01, seed_value=1)  # the dataset's coordinator identity
    identity = db.session.get(CoordinatorIdentity, 1)
    identity.logo, identity.logo_mime = LOGO, "image/png"
    db.session.commit()
    db.session.expunge_all()
    loaded = db.session.get(CoordinatorIdentity, 1)
    assert "logo" not in loaded.__dict__  # not read with the row…
    assert logo_data_uri(loaded).startswith("data:image/png;base64,iVBORw0KGgo")  # …but when printed
