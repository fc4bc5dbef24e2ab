"""The WeasyPrint fetcher reads nothing but the app's own static files: no file:, no network."""

from __future__ import annotations

import http.server
import io
import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.config import Config
from app.pdf import RenderFailed, RenderTimeout, SafeFetcher, render_pdf, sha256


@pytest.fixture
def local_server():
    """A real HTTP server on loopback that counts the requests it receives."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    server.server_close()


ATTACKS = [
    '<img src="file:///etc/passwd">',
    '<link rel="attachment" href="file:///etc/passwd">',
    '<a rel="attachment" href="file:///etc/hostname">x</a>',
    "<style>body { background: url(file:///etc/passwd) }</style>",
    '<style>@import url("SERVER/import.css");</style>',
    '<link rel="stylesheet" href="SERVER/style.css">',
    '<img src="SERVER/pixel.png">',
    '<img src="static/../../../../etc/passwd">',
    '<base href="file:///etc/"><img src="passwd">',
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_fetcher_refuses_local_files_and_network(attack, local_server):
    server, hits = local_server
    fetcher = SafeFetcher()
    pdf = render_pdf(
        f"<html><body><p>Devis</p>{attack.replace('SERVER', server)}</body></html>", fetcher=fetcher
    )
    reader = PdfReader(io.BytesIO(pdf))
    assert hits == []  # the network was never reached
    assert not reader.attachments  # no local file embedded
    assert b"root:" not in pdf
    assert fetcher.refused, "the renderer did not even try: the attack was not exercised"
    assert fetcher.served == []


def test_fetcher_serves_the_apps_own_static_files():
    fetcher = SafeFetcher()
    render_pdf(
        '<html><head><link rel="stylesheet" href="static/maillage.css"></head><body>x</body></html>',
        fetcher=fetcher,
    )
    assert fetcher.served == ["https://maillage.invalid/static/maillage.css"]
    assert fetcher.refused == []


def test_data_urls_are_allowed_for_our_own_images():
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    fetcher = SafeFetcher()
    pdf = render_pdf(f'<html><body><img src="data:image/png;base64,{png}"></body></html>', fetcher=fetcher)
    assert fetcher.refused == [] and pdf.startswith(b"%PDF")


# --- the render child --------------------------------------------------------------------------

DOCUMENT = (
    '<html><head><link rel="stylesheet" href="static/maillage.css"></head><body>'
    + "".join(f"<h1>Devis D-2026-{n:04d}</h1><p>Prestation numéro {n} : 1 234,56 €</p>" for n in range(60))
    + "</body></html>"
)


def _children() -> dict[int, str]:
    """This process's child processes and their state (``Z`` for a zombie); earlier tests may have
    left their own (servers), so a test compares what it finds with what was there before it."""
    me, found = os.getpid(), {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == me:
            found[int(stat.parent.name)] = fields[0]
    return found


def _text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def _where(document):
    document.metadata.title = f"pid={os.getpid()} nice={os.nice(0)}"


def test_the_child_renders_the_same_pdf_as_the_worker_at_a_lower_priority(monkeypatch):
    before = _children()
    niceness = Config.PDF_RENDER_NICENESS
    assert niceness > 0
    child = render_pdf(DOCUMENT, metadata_hook=_where)
    monkeypatch.setattr(Config, "PDF_RENDER_NICENESS", 0)
    here = render_pdf(DOCUMENT, metadata_hook=_where)

    pages, text = _text(child)
    assert pages > 1 and "D-2026-0059" in text and "1 234,56 €" in text
    assert (pages, text) == _text(here)
    assert PdfReader(io.BytesIO(here)).metadata.title == f"pid={os.getpid()} nice={os.nice(0)}"
    pid, nice = PdfReader(io.BytesIO(child)).metadata.title.split()
    assert pid != f"pid={os.getpid()}"
    assert nice == f"nice={min(19, os.nice(0) + niceness)}"
    assert _children() == before


def test_the_child_writes_the_same_bytes_pdf_a_included(monkeypatch):
    """The invoices' PDF/A variant (the Factur-X XML is embedded afterwards, by the caller)."""
    child = render_pdf(DOCUMENT, pdf_variant="pdf/a-3b")
    monkeypatch.setattr(Config, "PDF_RENDER_NICENESS", 0)
    assert render_pdf(DOCUMENT, pdf_variant="pdf/a-3b") == child
    assert "/OutputIntents" in PdfReader(io.BytesIO(child)).trailer["/Root"]  # a PDF/A indeed


def test_a_refused_fetch_in_the_child_is_seen_and_logged_by_the_caller(caplog):
    fetcher = SafeFetcher()
    with caplog.at_level(logging.WARNING, logger="app.pdf"):
        pdf = render_pdf('<html><body><img src="file:///etc/passwd">x</body></html>', fetcher=fetcher)
    assert pdf.startswith(b"%PDF")
    assert fetcher.refused == ["file:///etc/passwd"]
    assert "PDF renderer refused to fetch 'file:///etc/passwd'" in caplog.text


def _fail(document):
    raise ValueError("métadonnées illisibles")


def test_an_error_in_the_child_is_raised_in_the_caller():
    before = _children()
    with pytest.raises(ValueError, match="métadonnées illisibles") as raised:
        render_pdf(DOCUMENT, metadata_hook=_fail)
    assert any("In the PDF render child" in note for note in raised.value.__notes__)
    assert _children() == before


class Unpicklable(Exception):
    def __init__(self, required, also):
        super().__init__(f"{required} {also}")


def _fail_oddly(document):
    raise Unpicklable("a", "b")


def test_an_error_that_cannot_be_sent_back_is_named():
    before = _children()
    with pytest.raises(RenderFailed, match="Unpicklable: a b"):
        render_pdf(DOCUMENT, metadata_hook=_fail_oddly)
    assert _children() == before


def _die(document):
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_child_raises_and_is_reaped():
    before = _children()
    with pytest.raises(RenderFailed, match="killed by signal 9"):
        render_pdf(DOCUMENT, metadata_hook=_die)
    assert _children() == before


def _hang(document):
    time.sleep(60)


def test_a_child_past_the_timeout_is_killed_and_reaped(monkeypatch):
    before = _children()
    monkeypatch.setattr(Config, "PDF_RENDER_TIMEOUT", 1)
    start = time.monotonic()
    with pytest.raises(RenderTimeout, match="still running after 1 s"):
        render_pdf(DOCUMENT, metadata_hook=_hang)
    assert time.monotonic() - start < 10
    assert _children() == before


def test_the_apps_setting_turns_the_child_off(app, monkeypatch):
    monkeypatch.setitem(app.config, "PDF_RENDER_NICENESS", 0)
    with app.app_context():
        pdf = render_pdf(DOCUMENT, metadata_hook=_where)
    assert PdfReader(io.BytesIO(pdf)).metadata.title == f"pid={os.getpid()} nice={os.nice(0)}"


def test_sha256_is_the_hex_digest():
    assert sha256(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _describe_child(path: str, *fds: int) -> None:
    """Run in a detached child: what it is, and which of ``fds`` it still has, written to ``path``."""
    held = []
    for fd in fds:
        try:
            os.fstat(fd)
            held.append("open")
        except OSError:
            held.append("closed")
    time.sleep(2)  # still running while the test looks at the client's connection
    Path(path).write_text(
        f"{os.getpid()} {os.getppid()} {os.getsid(0)} {os.getpriority(os.PRIO_PROCESS, 0)} {' '.join(held)}"
    )


def test_a_detached_child_runs_apart_nicer_and_without_the_sockets_it_inherited(app, tmp_path):
    """As a worker answering a request: its listening socket and the client's connection stay the
    worker's; the client sees the end of its answer when the worker closes the connection, while the
    child still runs."""
    import socket

    from app.pdf import run_detached

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    client = socket.create_connection(server.getsockname(), timeout=5)
    connection, _ = server.accept()
    kept = os.open(tmp_path / "kept.lock", os.O_RDWR | os.O_CREAT)
    out = tmp_path / "child.txt"
    try:
        with app.app_context():
            assert run_detached(
                _describe_child, str(out), server.fileno(), connection.fileno(), kept, seconds=10
            )
        connection.sendall(b"answer")
        connection.close()
        assert client.recv(100) == b"answer"
        assert client.recv(100) == b""  # closed now, not when the child ends
        assert not out.exists()  # the child is still running
        deadline = time.monotonic() + 20
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        for thing in (client, server):
            thing.close()
        os.close(kept)
    pid, parent, session, priority, *held = out.read_text().split()
    assert int(pid) != os.getpid() and int(parent) != os.getpid()  # a grandchild, not a child
    assert int(session) == int(pid)  # in a session of its own
    assert held == ["closed", "closed", "open"]  # the sockets closed, the slot's lock kept
    assert int(priority) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + app.config["PDF_RENDER_NICENESS"])
