"""On PostgreSQL, an issued quote's PDF is rendered and stored by a detached child process holding the
render slot: the worker answers the coordinator first, and serves other requests meanwhile. On
SQLite the worker renders it itself after the commit (a forked child must not write to a SQLite file
its parent has open).

The tests run the app on a database of their own (the child cannot see a rolled-back transaction)
with ``PDF_RENDER_DETACHED`` on, as in production, and one render slot. The render is held until the
test lets it go, by a file: a worker that waited for its render would not have answered by then.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.pdf import sha256
from app.render_slots import take_slot
from offers.services.quotes import document
from tests.offers import double_issue_worker as worker
from tests.offers.test_quote_double_issue import own_database  # noqa: F401 - a fixture


def wait_for(predicate, seconds: float = 30.0):
    """``predicate()``'s first true answer, asked every 50 ms for up to ``seconds``; else the last."""
    deadline = time.monotonic() + seconds
    while True:
        answer = predicate()
        if answer or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def held_render(monkeypatch, folder: Path, *, fail: bool = False) -> Path:
    """Make the quote's render wait for ``folder/go`` (30 s at most) and note the process it runs in
    (``folder/pid``); with ``fail``, raise instead of rendering once let go. Returns the ``go`` file."""
    render, go = document.render_pdf, folder / "go"

    def held(*args, **kwargs):
        (folder / "pid").write_text(str(os.getpid()))
        deadline = time.monotonic() + 30
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        if fail:
            raise RuntimeError("render failed on purpose")
        return render(*args, **kwargs)

    monkeypatch.setattr(document, "render_pdf", held)
    return go


@pytest.fixture
def apps():
    """The apps a test made: their connections closed at its end."""
    made: list = []
    yield made
    for app in made:
        with app.app_context():
            db.engine.dispose()


def issue(url: str, instance: str, apps: list):
    """Issue the prepared event's quote through the view; the app, its client, the event's id and
    the answer."""
    from app import create_app

    event_id, user_id = worker.prepare(url, instance)
    app = create_app(
        {
            **worker.app_config(url, instance),
            "PDF_RENDER_DETACHED": True,
            "PDF_RENDER_NICENESS": 10,
            "PDF_RENDER_SLOTS": 1,
        }
    )
    apps.append(app)
    client = worker.signed_in_client(app, user_id)
    form = worker.issue_form(client, event_id)
    return app, client, event_id, client.post(f"/evenements/{event_id}/devis", data=form)


def stored(url: str, event_id: int) -> list[tuple]:
    """The event's quotes as the database has them now: (id, pdf, pdf_sha256)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT id, pdf, pdf_sha256 FROM quotes WHERE event_id = :e ORDER BY id"),
                {"e": event_id},
            ).all()
    finally:
        engine.dispose()


def slot_free(app) -> bool:
    with app.app_context():
        fd = take_slot()
    if fd is None:
        return False
    os.close(fd)
    return True


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL not set")
def test_the_coordinator_has_the_answer_before_the_render_which_a_child_stores(
    own_database,  # noqa: F811
    tmp_path,
    monkeypatch,
    apps,
):
    go = held_render(monkeypatch, tmp_path)
    app, _client, event_id, response = issue(own_database, str(tmp_path), apps)

    assert response.status_code == 302
    assert not go.exists()  # the render is still held: the answer did not wait for it
    [(_id, pdf, digest)] = stored(own_database, event_id)
    assert (pdf, digest) == (None, None)
    assert wait_for(lambda: (tmp_path / "pid").exists())
    assert int((tmp_path / "pid").read_text()) != os.getpid()  # rendered in another process
    assert not slot_free(app)  # which holds the only render slot meanwhile

    go.touch()
    [(_, pdf, digest)] = wait_for(lambda: [row for row in stored(own_database, event_id) if row[1]])
    assert bytes(pdf).startswith(b"%PDF") and digest == sha256(bytes(pdf))
    assert wait_for(lambda: slot_free(app))  # given back when the child ended


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL not set")
def test_a_render_failing_in_the_child_frees_the_slot_and_the_first_download_renders_it(
    own_database,  # noqa: F811
    tmp_path,
    monkeypatch,
    apps,
):
    go = held_render(monkeypatch, tmp_path, fail=True)
    app, client, event_id, response = issue(own_database, str(tmp_path), apps)
    assert response.status_code == 302
    go.touch()
    assert wait_for(lambda: slot_free(app))
    [(quote_id, pdf, _)] = stored(own_database, event_id)
    assert pdf is None  # the failure stored nothing and the quote stays issued

    monkeypatch.undo()
    download = client.get(f"/devis/{quote_id}/pdf")
    assert download.status_code == 200
    assert download.data.startswith(b"%PDF")
    [(_, pdf, digest)] = stored(own_database, event_id)
    assert bytes(pdf) == download.data and digest == sha256(download.data)


def test_on_sqlite_the_worker_renders_it_itself_before_answering(tmp_path, monkeypatch, apps):
    go = held_render(monkeypatch, tmp_path)
    go.touch()  # nothing to wait for: the render is this process's
    _app, _client, event_id, response = issue(f"sqlite:///{tmp_path / 'issue.db'}", str(tmp_path), apps)
    assert response.status_code == 302
    [(_id, pdf, digest)] = stored(f"sqlite:///{tmp_path / 'issue.db'}", event_id)
    assert bytes(pdf).startswith(b"%PDF") and digest == sha256(bytes(pdf))
    assert int((tmp_path / "pid").read_text()) == os.getpid()
