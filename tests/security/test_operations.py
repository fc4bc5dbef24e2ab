"""Operations: the request id in the logs and the response, ``flask outbox send --loop``, and the
shipped gunicorn configuration (``gunicorn.conf.py``)."""

from __future__ import annotations

import io
import json
import logging
import re
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app import mail
from app.extensions import db
from app.logs import JsonFormatter, request_id_from
from app.models import OutboxMessage
from tests.security.test_auth_hardening import ask_link

ROOT = Path(__file__).resolve().parents[2]

# --- request id ----------------------------------------------------------------------------------


def test_every_response_carries_a_new_request_id(client):
    first, second = client.get("/annuaire"), client.get("/health")
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    assert ids[0] != ids[1]


def test_a_sane_request_id_from_the_proxy_is_kept(client):
    value = "3f2b8c1e-5d4a-4b7e-9c2d-1a2b3c4d5e6f"
    assert client.get("/health", headers={"X-Request-ID": value}).headers["X-Request-ID"] == value


@pytest.mark.parametrize(
    "value", ["", " ", "a b", "x" * 65, "<script>", "id;rm -rf", "é", "-leading-dash", "a\u2028b"]
)
def test_an_insane_request_id_is_replaced(value):
    assert re.fullmatch(r"[0-9a-f]{32}", request_id_from(value))


def test_every_log_line_of_a_request_names_its_id(app, caplog):
    with caplog.at_level(logging.INFO):
        with app.test_request_context("/health", headers={"X-Request-ID": "req-42"}):
            app.preprocess_request()
            logging.getLogger("maillage.test").warning("inside")
            logging.getLogger("sqlalchemy.engine").warning("a library's line")
        logging.getLogger("maillage.test").warning("outside")
    ids = {record.getMessage(): record.request_id for record in caplog.records}
    assert ids == {"inside": "req-42", "a library's line": "req-42", "outside": "-"}


def test_json_lines(app):
    with app.test_request_context("/health", headers={"X-Request-ID": "req-7"}):
        app.preprocess_request()
        record = logging.getLogger("maillage.test").makeRecord(
            "maillage.test", logging.ERROR, __file__, 1, "Échec « %s »", ("x",), None
        )
    line = json.loads(JsonFormatter().format(record))
    assert {k: line[k] for k in ("level", "logger", "request_id", "message")} == {
        "level": "ERROR",
        "logger": "maillage.test",
        "request_id": "req-7",
        "message": "Échec « x »",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


# --- flask outbox send --loop ---------------------------------------------------------------------


def _link_request(client, make_user):
    make_user("client", email="acheteur@example.org")
    db.session.commit()
    assert ask_link(client, "acheteur@example.org").status_code == 302


def test_the_loop_sends_then_stops_on_its_signal(app, client, runner, make_user, monkeypatch):
    _link_request(client, make_user)
    passes = []

    def pause(stop, seconds):
        passes.append(seconds)
        stop.set()  # what SIGTERM does

    monkeypatch.setattr(mail, "_pause", pause)
    result = runner.invoke(args=["outbox", "send", "--loop", "--interval", "5"])
    assert result.exit_code == 0, result.output
    assert passes == [5]
    assert result.output.count("envoyé(s)") == 1  # one pass
    sent = db.session.execute(sa.select(OutboxMessage.recipients, OutboxMessage.status)).all()
    assert [(to, status.value) for to, status in sent] == [("acheteur@example.org", "sent")]


def test_a_failed_pass_does_not_stop_the_loop(app, client, runner, make_user, monkeypatch, caplog):
    _link_request(client, make_user)
    real = mail.deliver_pending
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise sa.exc.OperationalError("SELECT", {}, Exception("server closed the connection"))
        return real(*args, **kwargs)

    def pause(stop, seconds):
        if len(calls) == 2:
            stop.set()

    monkeypatch.setattr(mail, "deliver_pending", flaky)
    monkeypatch.setattr(mail, "_pause", pause)
    result = runner.invoke(args=["outbox", "send", "--loop"])
    assert result.exit_code == 0, result.output
    assert len(calls) == 2
    assert "Outbox: the pass failed; next one in 20 s." in caplog.text
    assert db.session.scalars(sa.select(OutboxMessage.recipients)).all() == ["acheteur@example.org"]


# --- gunicorn.conf.py ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gunicorn_conf():
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_the_shipped_gunicorn_configuration(gunicorn_conf):
    conf = gunicorn_conf
    assert (conf["worker_class"], conf["threads"], conf["preload_app"]) == ("sync", 1, True)
    assert conf["wsgi_app"] == "wsgi:app"
    # Longer than the longest PDF render (an invoice with its Factur-X checks: a few seconds).
    assert conf["graceful_timeout"] >= conf["timeout"] >= 60
    assert "%({x-request-id}o)s" in conf["access_log_format"]


def test_links_are_kept_out_of_the_access_log(gunicorn_conf):
    redact = gunicorn_conf["redact"]
    assert redact("GET /lien/eyJsIjo.x-Y_z HTTP/1.1") == "GET /lien/… HTTP/1.1"
    assert redact("/devis/acces/abc.DEF/pdf") == "/devis/acces/…/pdf"
    assert redact("/evenements/7") == "/evenements/7"
    assert gunicorn_conf["logger_class"].__name__ == "RedactingLogger"


def test_the_preloaded_app_is_frozen_out_of_the_collector_before_each_fork(gunicorn_conf):
    import gc

    gc.unfreeze()
    try:
        gunicorn_conf["pre_fork"](_server(), None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_workers_collect_garbage_between_requests_not_during_them(gunicorn_conf):
    """A worker's young-generation threshold is raised above what a page allocates; after each
    response the worker collects the young generations, and every generation every
    ``GC_FULL_EVERY`` requests."""
    import gc
    import weakref

    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return a

    saved = gc.get_threshold()
    was_enabled = gc.isenabled()
    gc.disable()  # only the hooks collect here
    try:
        gunicorn_conf["post_worker_init"](SimpleNamespace())
        assert gc.get_threshold()[0] == gunicorn_conf["GC_YOUNG_THRESHOLD"] >= 10 * 700
        assert gc.get_threshold()[1:] == saved[1:]

        young = weakref.ref(cycle())  # garbage made by a request
        assert young() is not None
        gunicorn_conf["post_request"](SimpleNamespace(nr=1), None, {}, None)
        assert young() is None

        kept = cycle()
        old = weakref.ref(kept)
        gc.collect()  # it survived a full collection: it is in the oldest generation now
        del kept
        gunicorn_conf["post_request"](SimpleNamespace(nr=2), None, {}, None)
        assert old() is not None  # the young generations only
        gunicorn_conf["post_request"](SimpleNamespace(nr=gunicorn_conf["GC_FULL_EVERY"]), None, {}, None)
        assert old() is None
    finally:
        gc.set_threshold(*saved)
        if was_enabled:
            gc.enable()


def _server(**settings):
    values = {"threads": 1, "worker_class_str": "sync", **settings}
    return SimpleNamespace(cfg=SimpleNamespace(**values), log=SimpleNamespace(info=lambda *a: None))


@pytest.mark.parametrize(
    "settings",
    [{"threads": 4}, {"worker_class_str": "gthread"}, {"worker_class_str": "gevent"}],
)
def test_threaded_workers_are_refused(gunicorn_conf, settings):
    with pytest.raises(SystemExit) as refused:
        gunicorn_conf["on_starting"](_server(**settings))
    assert "docs/scaling.md" in str(refused.value)


def test_sync_workers_start(gunicorn_conf):
    assert gunicorn_conf["on_starting"](_server()) is None


def test_pdfs_are_set_in_dejavu_sans():
    """The PDFs name DejaVu Sans first (templates/pdf/quote.css); it comes from the Debian package
    ``fonts-dejavu-core``, installed the same way everywhere, so a document renders byte for byte
    the same on every host. Without it, another font would be picked silently."""
    from pypdf import PdfReader

    from app.pdf import render_pdf

    pdf = render_pdf("<p style=\"font-family: 'DejaVu Sans', sans-serif\">Facture n° 1 – 12,50 €</p>")
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    fonts = {str(font["/BaseFont"]).split("+")[-1] for font in page["/Resources"]["/Font"].values()}
    assert fonts == {"DejaVu-Sans"}


def test_each_worker_drops_the_connections_of_the_app_gunicorn_preloaded(gunicorn_conf, tmp_path):
    """Whatever app the command line serves (the bench serves its own): its pool, filled in the
    master while preloading, is not shared with the forked workers."""
    from app import create_app

    served = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'served.db'}",
            "OUTBOX_DIR": str(tmp_path / "outbox"),
            "SCHEMA_CHECK": False,
        }
    )
    with served.app_context():
        db.session.execute(sa.text("SELECT 1"))
        db.session.remove()
        assert db.engine.pool.checkedin() == 1
    server = SimpleNamespace(app=SimpleNamespace(wsgi=lambda: served), cfg=SimpleNamespace(preload_app=True))
    gunicorn_conf["post_fork"](server, SimpleNamespace())
    with served.app_context():
        assert db.engine.pool.checkedin() == 0
