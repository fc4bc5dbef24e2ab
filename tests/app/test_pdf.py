"""The WeasyPrint fetcher reads nothing but the app's own static files: no file:, no network."""

from __future__ import annotations

import http.server
import io
import threading

import pytest
from pypdf import PdfReader

from app.pdf import SafeFetcher, render_pdf, sha256


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


def test_sha256_is_the_hex_digest():
    assert sha256(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
