"""``make bench``: ratios measured side by side in one run, printed and written to instance/bench.json.

- ``pdf_ratio``: the quote PDF end to end (load the quote, build its HTML, render) ÷ WeasyPrint
  rendering the same final HTML, interleaved;
- ``xlsx_ratio`` / ``xlsx_mem_ratio``: the treasurer workbook (``invoicing.workbook.build_workbook``)
  ÷ openpyxl write-only writing the same cells, time and peak memory; skipped with the reason when
  the workbook does not exist;
- ``page_p95_ratio``: the worst main page's p95 ÷ the p95 of a route that touches no database, all
  served by gunicorn with interleaved requests, once every worker has served every page
  ``WARM_VIEWS`` times (PostgreSQL's planning of a connection's first runs of a statement is
  over: the warm-up's own figure is printed apart), on SQLite (and PostgreSQL when ``DATABASE_URL``
  points there: the bench then uses two databases of its own beside it, ``<name>_bench_1`` and
  ``<name>_bench_01``, which it empties);
- ``growth_ratio``: the worst page's median at scale 1 ÷ at scale 0.1 (both datasets served at once,
  requests interleaved);
- ``queries_per_page``: each main page's SQL statements at both scales;
- ``issue_concurrency``: 5 coordinators issuing quotes at the same instant on 5 events of the
  dataset (4 rounds, one every 2 s, each coordinator loading the issue form then submitting it),
  under gunicorn, while an anonymous visitor loads the public directory (``/annuaire``) in a loop
  for those 8 s (or until the last issue is answered): errors (any answer to an issue but a 302),
  the issue's p95, and the directory's p95 during that window (the issues and the PDFs rendered
  after them) ÷ its p95 alone just before (``public_p95_ratio``);
  ``BENCH_ISSUE_WORKERS`` sets gunicorn's workers for it (default 2, as the page measures).

``BENCH_SCALE`` (default 1) shrinks everything for a quick run; ``BENCH_ROUNDS`` sets the timed
requests per page and dataset (default 200: the p95 of 40 requests is their third slowest, which
one pause of a shared machine moved by a fifth from run to run; of 100, the sixth, and the same code
still gave the worst page 4.8 to 5.5 times the bare route from one run to the next; of 200, the
eleventh). The bare route is requested :data:`BARE_PER_ROUND` times in each round: the floor
every page is divided by is read from more requests than any page's. The machines are noisy:
ratios measured in the same run compare, absolute times do not.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "pdf_ratio": 1.2,
    "xlsx_ratio": 1.5,
    "xlsx_mem_ratio": 2.0,
    "page_p95_ratio": 5.0,
    "growth_ratio": 1.3,
    "issue_errors": 0,
    "public_p95_ratio": 2.0,
}
#: Coordinators issuing at once, and how many times each, in ``issue_concurrency``; a round starts
#: every ``ISSUE_ROUND_SECONDS`` (or when the last one is over, if later).
ISSUERS, ISSUE_ROUNDS, ISSUE_ROUND_SECONDS = 5, 4, 2.0


def say(text: str) -> None:
    print(text, flush=True)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# --- databases -----------------------------------------------------------------------------------


def make_app(url: str, **extra):
    from app import create_app

    return create_app(
        {
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "SESSION_COOKIE_SECURE": False,
            "REDIS_URL": None,
            "MAIL_SERVER": None,
            "SCHEMA_CHECK": False,  # the bench migrates its databases itself
            **extra,
        }
    )


def postgres_urls(base_url: str) -> dict[str, str]:
    """Two databases of the bench's own beside ``base_url``'s, created if missing, emptied."""
    import sqlalchemy as sa

    from app.config import normalise_database_url

    base = sa.engine.make_url(normalise_database_url(base_url))
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    urls = {}
    try:
        with admin.connect() as conn:
            for label, suffix in (("1", "_bench_1"), ("0.1", "_bench_01")):
                name = f"{base.database}{suffix}"
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).scalar()
                if not exists:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
                urls[label] = base.set(database=name).render_as_string(hide_password=False)
    finally:
        admin.dispose()
    for url in urls.values():
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    return urls


def prepare(url: str, scale: float) -> str:
    """Migrate ``url`` and load the dataset at ``scale``; returns the summary line."""
    from flask_migrate import upgrade

    from app.db import settle_after_bulk_load
    from app.extensions import db
    from benchmarks.dataset import seed

    app = make_app(url)
    with app.app_context():
        upgrade()
        summary = seed(scale)
        db.session.commit()
        settle_after_bulk_load(db.engine, summary.counts)
        db.engine.dispose()
    return summary.line()


# --- query counts (in process) -------------------------------------------------------------------


def login(client, email: str) -> None:
    from benchmarks.dataset import PASSWORD

    page = client.get("/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/connexion", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, f"login {email}: {response.status_code}"


def statements_of(client, url: str) -> int:
    """The SQL statements of one GET of ``url`` (after one to warm up), which must answer 200."""
    from sqlalchemy import event as sa_event
    from sqlalchemy.engine import Engine

    client.get(url)
    statements = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa_event.listen(Engine, "before_cursor_execute", listener)
    try:
        response = client.get(url)
    finally:
        sa_event.remove(Engine, "before_cursor_execute", listener)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return len(statements)


def query_counts(url: str) -> dict[str, int]:
    from app.extensions import db
    from benchmarks.pages import logins, main_pages

    app = make_app(url)
    counts = {}
    with app.app_context():
        pages = main_pages()
        db.session.remove()
    emails = logins()
    for page in pages:
        client = app.test_client()
        login(client, emails[page.who])
        counts[page.name] = statements_of(client, page.url)
    with app.app_context():
        db.engine.dispose()
    return counts


#: The pages whose figures are kept until the data changes (app.figures): served from what the
#: first view computed, as long as nothing is written (the dashboards; the payouts list's counts
#: per status; which invoices are in a state, per filter and page). ``figures_cold`` times them
#: computed anew.
CACHED_PAGES = (
    "coordination_dashboard",
    "treasury_dashboard",
    "admin_dashboard",
    "payouts",
    "overdue_invoices",
)


def figures_cold(urls: dict[str, str], rounds: int) -> dict:
    """The :data:`CACHED_PAGES` with their figures computed on each view (the first view after a
    change of the data), in process, at both scales: median time and statements."""
    from app.extensions import db
    from benchmarks.pages import logins, main_pages

    emails = logins()
    found: dict[str, dict] = {}
    for label, url in urls.items():
        app = make_app(url, FIGURES_CACHE=False)
        with app.app_context():
            pages = [page for page in main_pages() if page.name in CACHED_PAGES]
            db.session.remove()
        for page in pages:
            client = app.test_client()
            login(client, emails[page.who])
            queries = statements_of(client, page.url)
            times = []
            for _ in range(max(rounds // 2, 5)):
                start = time.perf_counter()
                client.get(page.url)
                times.append(time.perf_counter() - start)
            entry = found.setdefault(page.name, {})
            entry["median_ms" if label == "1" else "median_ms_scale_0_1"] = round(
                statistics.median(times) * 1000, 2
            )
            entry["queries" if label == "1" else "queries_scale_0_1"] = queries
        with app.app_context():
            db.engine.dispose()
    for entry in found.values():
        entry["growth"] = round(entry["median_ms"] / entry["median_ms_scale_0_1"], 2)
    return found


# --- gunicorn ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving benchmarks.wsgi:app on a database (2 sync workers; ``WEB_CONCURRENCY`` says
    so to the app too, which sizes its PDF render slots from it)."""

    def __init__(self, url: str, workers: int = 2):
        self.workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "MAILLAGE_SESSION_COOKIE_SECURE": "false",
            "PYTHONPATH": str(ROOT),
            "WEB_CONCURRENCY": str(workers),
        }
        env.pop("REDIS_URL", None)
        self.process = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "300",
                "--log-level",
                "warning",
                # No worker replaced mid-run (gunicorn.conf.py replaces one every ~2,000 requests):
                # a page run counts from every worker's warm-up; a new worker's first views are
                # the warm-up's figure, printed apart.
                "--max-requests",
                "0",
                "benchmarks.wsgi:app",
            ],
            cwd=ROOT,
            env=env,
        )

    def wait(self) -> None:
        import requests

        for _ in range(240):
            try:
                if requests.get(self.base + "/bench/nu", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def session_for(base: str, email: str):
    import requests

    from benchmarks.dataset import PASSWORD

    session = requests.Session()
    page = session.get(base + "/connexion").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = session.post(
        base + "/connexion",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status_code == 302, f"login {email}: {response.status_code}"
    return session


#: A worker serves a page this many times before the page is timed on it. On PostgreSQL a statement
#: reaches its steady cost on a connection at its 12th run: psycopg prepares it at the 6th, then the
#: server plans it for each of the next 5 runs before it settles on a generic plan (measured: the
#: event page is ~15 % slower over a fresh worker's first 11 views, then steady). In production a
#: worker lives ``max_requests`` (2,000) requests; the bench's workers are not replaced (see
#: :class:`Server`): it times their steady state, and prints the warm-up apart.
WARM_VIEWS = 12
#: The bare route's requests in each round (a page has one per dataset): its p95, which every
#: page's is divided by, is then read from 4 times more requests than a page's instead of as few.
BARE_PER_ROUND = 4
#: Warm-up rounds at most (the two workers share requests as the kernel hands them out).
WARM_ROUNDS_MAX = 150


def serve_and_time(urls: dict[str, str], pages_by_scale: dict, rounds: int) -> dict:
    """Both datasets served at once; each round requests, in turn, the bare route
    (:data:`BARE_PER_ROUND` times) and every page on both datasets, in a shuffled order. Warm-up
    rounds come first, until every worker that answered has served every page (and the bare route)
    :data:`WARM_VIEWS` times, or :data:`WARM_ROUNDS_MAX` rounds; then ``rounds`` timed rounds.
    Returns per page and scale the timings, the bare route's, and the warm-up's (its rounds and,
    per page, its views' timings)."""
    import random

    from benchmarks.pages import logins

    servers = {label: Server(url) for label, url in urls.items()}
    try:
        for server in servers.values():
            server.wait()
        emails = logins()
        sessions = {
            (label, who): session_for(server.base, email)
            for label, server in servers.items()
            for who, email in emails.items()
        }
        timings: dict[tuple[str, str], list[float]] = {}
        warming: dict[tuple[str, str], list[float]] = {}
        bare: list[float] = []
        errors: list[str] = []
        names = [page.name for page in pages_by_scale["1"]]
        jobs = [("bare", "1")] * BARE_PER_ROUND + [(name, label) for name in names for label in servers]
        served: dict[tuple[str, str, str], int] = {}  # (worker, page, scale) -> views
        rng = random.Random(7)  # noqa: S311 - the order of requests, not a secret

        def warm() -> bool:
            workers = {(worker, label) for worker, _name, label in served}
            return all(
                served.get((worker, name, label), 0) >= WARM_VIEWS
                for worker, label in workers
                for name, job_label in jobs
                if job_label == label
            )

        warm_rounds = 0
        while warm_rounds < WARM_ROUNDS_MAX and not (warm_rounds and warm()):
            warm_rounds += 1
            rng.shuffle(jobs)
            for name, label in jobs:
                elapsed, response = _get(servers, sessions, pages_by_scale, name, label, errors)
                if response is not None:
                    worker = f"{label}:{response.headers.get('X-Bench-Worker', '?')}"
                    served[(worker, name, label)] = served.get((worker, name, label), 0) + 1
                    warming.setdefault((name, label), []).append(elapsed)
        for _ in range(rounds):
            rng.shuffle(jobs)
            for name, label in jobs:
                elapsed, response = _get(servers, sessions, pages_by_scale, name, label, errors)
                if response is None:
                    continue
                if name == "bare":
                    bare.append(elapsed)
                else:
                    timings.setdefault((name, label), []).append(elapsed)
        return {
            "pages": timings,
            "bare": bare,
            "errors": errors,
            "warm_rounds": warm_rounds,
            "warming": warming,
        }
    finally:
        for server in servers.values():
            server.stop()


def _get(servers, sessions, pages_by_scale, name, label, errors):
    """One timed GET of a page (or of the bare route) on the dataset ``label``: ``(seconds,
    response)``, or ``(None, None)`` for an error (recorded in ``errors``, not timed)."""
    import requests

    server = servers[label]
    if name == "bare":
        session, path = sessions[(label, "coordinator")], "/bench/nu"
    else:
        page = next(p for p in pages_by_scale[label] if p.name == name)
        session, path = sessions[(label, page.who)], page.url
    start = time.perf_counter()
    try:
        response = session.get(server.base + path)
    except requests.ConnectionError as exc:
        # A worker that died (gunicorn restarts it): counted, reported, not timed.
        errors.append(f"{label} {path}: {exc}")
        return None, None
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        errors.append(f"{label} {path}: HTTP {response.status_code}")
        return None, None
    return elapsed, response


def measure_backend(backend: str, urls: dict[str, str], rounds: int) -> dict:
    from app.extensions import db
    from benchmarks.pages import main_pages

    pages_by_scale = {}
    for label, url in urls.items():
        app = make_app(url)
        with app.app_context():
            pages_by_scale[label] = main_pages()
            db.session.remove()
            db.engine.dispose()
    counts = {label: query_counts(url) for label, url in urls.items()}
    served = serve_and_time(urls, pages_by_scale, rounds)
    bare_p95 = p95(served["bare"])
    pages = {}
    for name in counts["1"]:
        large, small = served["pages"][(name, "1")], served["pages"][(name, "0.1")]
        pages[name] = {
            "p95_ms": round(p95(large) * 1000, 2),
            "median_ms": round(statistics.median(large) * 1000, 2),
            "p95_ms_scale_0_1": round(p95(small) * 1000, 2),
            "median_ms_scale_0_1": round(statistics.median(small) * 1000, 2),
            "p95_ratio": round(p95(large) / bare_p95, 2),
            "growth": round(statistics.median(large) / statistics.median(small), 2),
            "queries": counts["1"][name],
            "queries_scale_0_1": counts["0.1"][name],
        }
    cold = figures_cold(urls, rounds)
    worst_p95 = max(pages, key=lambda n: pages[n]["p95_ratio"])
    worst_growth = max(pages, key=lambda n: pages[n]["growth"])
    return {
        "bare_p95_ms": round(bare_p95 * 1000, 2),
        "pages": pages,
        "page_p95_ratio": pages[worst_p95]["p95_ratio"],
        "page_p95_worst": worst_p95,
        "growth_ratio": pages[worst_growth]["growth"],
        "growth_worst": worst_growth,
        "queries_constant": all(p["queries"] == p["queries_scale_0_1"] for p in pages.values()),
        "figures_cold": cold,
        "errors": served["errors"],
        "warm_rounds": served["warm_rounds"],
        "warming_p95_ratio": {
            name: round(p95(served["warming"][(name, "1")]) / bare_p95, 2)
            for name in counts["1"]
            if served["warming"].get((name, "1"))
        },
    }


# --- issuing under load ---------------------------------------------------------------------------


def quotable_events(url: str, count: int) -> list[int]:
    """The first ``count`` events of the dataset a quote can be issued for right now (the app's
    own rules: open to quotes, nothing missing, no accepted version)."""
    import sqlalchemy as sa

    from app.extensions import db
    from offers.models import Event
    from offers.services import quotes as service

    app = make_app(url)
    found: list[int] = []
    with app.app_context():
        for event in db.session.scalars(sa.select(Event).order_by(Event.id)):
            previous = service.current_version(event) if event.accepts_quotes else None
            if not event.accepts_quotes or (previous is not None and not previous.can_be_superseded):
                continue
            if not service.missing_for_quote(event):
                found.append(event.id)
                if len(found) == count:
                    break
        db.session.remove()
        db.engine.dispose()
    return found


def issued_since(url: str, last_id: int | None):
    """With ``last_id`` None, the last quote's id; else the quotes issued after it and how many of
    them have their PDF stored."""
    import sqlalchemy as sa

    quotes = sa.table("quotes", sa.column("id"), sa.column("pdf"))
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if last_id is None:
                return conn.execute(sa.select(sa.func.coalesce(sa.func.max(quotes.c.id), 0))).scalar()
            return tuple(
                conn.execute(
                    sa.select(sa.func.count(), sa.func.count(quotes.c.pdf)).where(quotes.c.id > last_id)
                ).one()
            )
    finally:
        engine.dispose()


def issue_concurrency(url: str, rounds: int) -> dict:
    """5 coordinators issue quotes at once (each on its own event, ``ISSUE_ROUNDS`` times, a round
    every ``ISSUE_ROUND_SECONDS``, all starting each round together) while a visitor loads
    ``/annuaire`` in a loop over those rounds; the same visitor alone just before gives the
    reference p95."""
    import threading

    import requests

    from benchmarks.dataset import COORDINATOR_EMAIL

    events = quotable_events(url, ISSUERS)
    if len(events) < ISSUERS:
        return {
            "skipped": f"{len(events)} événement(s) prêt(s) à chiffrer dans le jeu de données, il en faut {ISSUERS}"
        }
    last_quote = issued_since(url, None)
    server = Server(url, workers=int(os.environ.get("BENCH_ISSUE_WORKERS", "2")))
    try:
        server.wait()
        public = requests.Session()
        for _ in range(3):  # warm-up
            public.get(server.base + "/annuaire")
        alone: list[float] = []
        public_errors: list[str] = []

        def load_directory(bucket: list[float]) -> None:
            start = time.perf_counter()
            response = public.get(server.base + "/annuaire")
            if response.status_code == 200:
                bucket.append(time.perf_counter() - start)
            else:
                public_errors.append(f"/annuaire: HTTP {response.status_code}")

        for _ in range(rounds):
            load_directory(alone)
        sessions = [session_for(server.base, COORDINATOR_EMAIL) for _ in events]
        barrier = threading.Barrier(len(events))
        issue_times: list[float] = []
        statuses: list[int] = []
        errors: list[str] = []
        lock = threading.Lock()

        def issuer(session, event_id: int) -> None:
            path = f"{server.base}/evenements/{event_id}/devis"
            for round_number in range(ISSUE_ROUNDS):
                time.sleep(max(0.0, started + round_number * ISSUE_ROUND_SECONDS - time.perf_counter()))
                form = session.get(path)
                tokens = [
                    re.search(rf'name="{name}"[^>]*value="([^"]+)"', form.text)
                    for name in ("csrf_token", "issue_token")
                ]
                barrier.wait(timeout=300)  # every round starts together, whatever happened before
                if form.status_code != 200 or not all(tokens):
                    with lock:
                        errors.append(f"{event_id}: issue page HTTP {form.status_code}")
                    continue
                token, issue_token = (match.group(1) for match in tokens)
                start = time.perf_counter()
                try:
                    response = session.post(
                        path,
                        data={"validity_days": "30", "csrf_token": token, "issue_token": issue_token},
                        allow_redirects=False,
                        timeout=120,
                    )
                except requests.RequestException as exc:
                    with lock:
                        errors.append(f"{event_id}: {exc}")
                    continue
                with lock:
                    issue_times.append(time.perf_counter() - start)
                    statuses.append(response.status_code)
                    if response.status_code != 302:
                        errors.append(f"{event_id}: HTTP {response.status_code}")

        threads = [threading.Thread(target=issuer, args=pair) for pair in zip(sessions, events, strict=True)]
        during: list[float] = []
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        window_ends = started + ISSUE_ROUNDS * ISSUE_ROUND_SECONDS
        while any(thread.is_alive() for thread in threads) or time.perf_counter() < window_ends:
            load_directory(during)
        issuing_seconds = time.perf_counter() - started
        for thread in threads:
            thread.join()
    finally:
        server.stop()
    versions, stored = issued_since(url, last_quote)
    return {
        "workers": server.workers,
        "issuers": len(events),
        "issues": len(statuses),
        "issue_errors": len(errors),
        "errors": errors[:5] + public_errors[:5],
        "issue_p95_ms": round(p95(issue_times) * 1000, 1) if issue_times else None,
        "issue_median_ms": round(statistics.median(issue_times) * 1000, 1) if issue_times else None,
        "issuing_seconds": round(issuing_seconds, 1),
        "public_p95_ms_alone": round(p95(alone) * 1000, 1),
        "public_p95_ms_during": round(p95(during) * 1000, 1) if during else None,
        "public_requests_during": len(during),
        "public_p95_ratio": round(p95(during) / p95(alone), 2) if during else None,
        "public_errors": len(public_errors),
        "pdfs_stored_at_issue": f"{stored} / {versions}",
    }


# --- documents -----------------------------------------------------------------------------------


def pdf_ratio(tmp: Path, repeat: int) -> dict:
    """The demo's quote: loading it and rendering its PDF (``render_quote_pdf``) ÷ WeasyPrint alone
    on the final HTML (same fetcher and fonts), interleaved."""
    import weasyprint
    from flask import render_template as flask_render_template

    from app import pdf as pdf_module
    from app.extensions import db
    from offers.models import Quote
    from offers.services.quotes import document

    url = f"sqlite:///{tmp / 'demo.db'}"
    app = make_app(url)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    captured: list[str] = []

    def capture(*args, **kwargs):
        html = flask_render_template(*args, **kwargs)
        captured.append(html)
        return html

    with app.app_context():
        quote_id = db.session.scalar(db.select(Quote.id).order_by(Quote.version.desc()))
        document.render_template = capture
        try:
            document.render_quote_pdf(db.session.get(Quote, quote_id))
        finally:
            document.render_template = flask_render_template
        html = captured[-1]

        def end_to_end():
            db.session.expunge_all()
            document.render_quote_pdf(db.session.get(Quote, quote_id))

        def weasyprint_only():
            fetcher = pdf_module.SafeFetcher()
            weasyprint.HTML(string=html, base_url=pdf_module.BASE_URL, url_fetcher=fetcher).render(
                font_config=pdf_module._fonts(),
                stylesheets=[weasyprint.CSS(string="@page { size: A4; }", url_fetcher=fetcher)],
            ).write_pdf()

        end_to_end(), weasyprint_only()  # warm-up
        app_times, floor_times = [], []
        for _ in range(repeat):
            for fn, bucket in ((end_to_end, app_times), (weasyprint_only, floor_times)):
                start = time.perf_counter()
                fn()
                bucket.append(time.perf_counter() - start)
        db.engine.dispose()
    return {
        "pdf_ratio": round(statistics.median(app_times) / statistics.median(floor_times), 3),
        "pdf_ms": round(statistics.median(app_times) * 1000, 1),
        "weasyprint_ms": round(statistics.median(floor_times) * 1000, 1),
    }


def xlsx_ratio(url: str) -> dict:
    """The treasurer workbook of a year ÷ openpyxl write-only writing the same cells (time, and peak
    memory traced by ``tracemalloc`` for both)."""
    if importlib.util.find_spec("invoicing.workbook") is None:
        return {
            "skipped": "invoicing.workbook n'existe pas encore (le classeur du trésorier n'est pas livré)"
        }
    import io

    import openpyxl

    from app.db import utcnow
    from app.extensions import db

    try:
        from invoicing import workbook
    except ImportError as exc:
        return {"skipped": f"invoicing.workbook ne s'importe pas ({exc})"}
    if not hasattr(workbook, "build_workbook"):
        return {"skipped": "invoicing.workbook n'a pas de build_workbook(date_from, date_to)"}

    app = make_app(url)
    with app.app_context():
        # A treasurer's year: the last full calendar year of the dataset.
        year = utcnow().year - 1
        date_from, date_to = date(year, 1, 1), date(year, 12, 31)
        tracemalloc.start()
        start = time.perf_counter()
        data = workbook.build_workbook(date_from, date_to)
        app_seconds = time.perf_counter() - start
        app_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        db.session.remove()
        db.engine.dispose()
    sheets = {
        ws.title: [list(row) for row in ws.iter_rows(values_only=True)]
        for ws in openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets
    }
    tracemalloc.start()
    start = time.perf_counter()
    out = openpyxl.Workbook(write_only=True)
    for title, rows in sheets.items():
        sheet = out.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    out.save(buffer)
    floor_seconds = time.perf_counter() - start
    floor_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    cells = sum(len(row) for rows in sheets.values() for row in rows)
    return {
        "xlsx_ratio": round(app_seconds / floor_seconds, 3),
        "xlsx_mem_ratio": round(app_peak / floor_peak, 3),
        "xlsx_cells": cells,
    }


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    started = time.perf_counter()
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "200"))
    results: dict = {"scale": scale, "rounds": rounds, "targets": TARGETS}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        backends = {
            "sqlite": {"1": f"sqlite:///{tmp / 'bench_1.db'}", "0.1": f"sqlite:///{tmp / 'bench_01.db'}"}
        }
        database_url = os.environ.get("DATABASE_URL", "")
        if database_url.startswith(("postgres://", "postgresql")):
            backends["postgresql"] = postgres_urls(database_url)
        say(f"make bench — échelle {scale} (BENCH_SCALE), {rounds} requêtes par page et jeu de données")
        for backend, urls in backends.items():
            for label, url in urls.items():
                say(f"  {backend}, échelle {label} : {prepare(url, scale * float(label))}")

        pdf = pdf_ratio(tmp, repeat=5)
        results.update(pdf)
        say(
            f"pdf_ratio       {pdf['pdf_ratio']:6.3f}  (devis de la démo : {pdf['pdf_ms']} ms de bout en bout, "
            f"{pdf['weasyprint_ms']} ms pour WeasyPrint seul ; cible ≤ {TARGETS['pdf_ratio']})"
        )
        xlsx = xlsx_ratio(backends["sqlite"]["1"])
        results.update(xlsx)
        if "skipped" in xlsx:
            say(f"xlsx_ratio      ignoré : {xlsx['skipped']}")
        else:
            say(
                f"xlsx_ratio      {xlsx['xlsx_ratio']:6.3f}  xlsx_mem_ratio {xlsx['xlsx_mem_ratio']:6.3f}  "
                f"({xlsx['xlsx_cells']} cellules ; cibles ≤ 1.5 et ≤ 2)"
            )
        results["backends"] = {}
        for backend, urls in backends.items():
            figures = measure_backend(backend, urls, rounds)
            results["backends"][backend] = figures
            say(
                f"page_p95_ratio  {figures['page_p95_ratio']:6.2f}  ({backend}, pire page : {figures['page_p95_worst']}, "
                f"route nue p95 {figures['bare_p95_ms']} ms ; cible ≤ {TARGETS['page_p95_ratio']})"
            )
            say(
                f"growth_ratio    {figures['growth_ratio']:6.2f}  ({backend}, pire page : {figures['growth_worst']}, "
                f"médiane échelle 1 ÷ échelle 0.1 ; cible ≤ {TARGETS['growth_ratio']})"
            )
            for name, page in figures["pages"].items():
                say(
                    f"  {backend:<10} {name:<16} p95 {page['p95_ms']:8.1f} ms (÷ nue {page['p95_ratio']:6.2f})  "
                    f"médiane {page['median_ms']:7.1f} / {page['median_ms_scale_0_1']:7.1f} ms "
                    f"(×{page['growth']:.2f})  requêtes SQL {page['queries']} / {page['queries_scale_0_1']}"
                )
            say(f"queries_per_page constant ({backend}) : {'oui' if figures['queries_constant'] else 'NON'}")
            warming = figures["warming_p95_ratio"]
            if warming:
                slowest = max(warming, key=warming.get)
                say(
                    f"  {backend:<10} préchauffage : {figures['warm_rounds']} tours non chronométrés (chaque worker sert "
                    f"chaque page {WARM_VIEWS} fois) ; pendant ce temps, pire p95 ÷ nue {warming[slowest]:.2f} ({slowest})"
                )
            for name, page in figures["figures_cold"].items():
                say(
                    f"  {backend:<10} {name:<16} chiffres recalculés (première vue après une écriture, en processus) : "
                    f"médiane {page['median_ms']:7.1f} / {page['median_ms_scale_0_1']:7.1f} ms (×{page['growth']:.2f})  "
                    f"requêtes SQL {page['queries']} / {page['queries_scale_0_1']}"
                )
            if figures["errors"]:
                say(f"  {len(figures['errors'])} requête(s) en erreur ({backend}) : {figures['errors'][:3]}")
        results["issue_concurrency"] = {}
        for backend, urls in backends.items():
            issuing = issue_concurrency(urls["1"], rounds)
            results["issue_concurrency"][backend] = issuing
            if "skipped" in issuing:
                say(f"issue_concurrency ignoré ({backend}) : {issuing['skipped']}")
                continue
            say(
                f"issue_concurrency ({backend}) : {issuing['issue_errors']} erreur(s) sur {issuing['issues']} émissions "
                f"({issuing['issuers']} coordinateurs à la fois, {issuing['workers']} workers), émission p95 {issuing['issue_p95_ms']} ms "
                f"(médiane {issuing['issue_median_ms']}) ; /annuaire p95 {issuing['public_p95_ms_during']} ms pendant "
                f"÷ {issuing['public_p95_ms_alone']} ms seul = {issuing['public_p95_ratio']} "
                f"({issuing['public_requests_during']} requêtes) ; PDF enregistrés à l'émission {issuing['pdfs_stored_at_issue']} "
                f"; cibles 0 erreur, ratio ≤ {TARGETS['public_p95_ratio']}"
            )
            if issuing["errors"]:
                say(f"  erreurs : {issuing['errors']}")
    results["page_p95_ratio"] = max(b["page_p95_ratio"] for b in results["backends"].values())
    results["growth_ratio"] = max(b["growth_ratio"] for b in results["backends"].values())
    results["queries_per_page"] = {
        backend: {name: [p["queries_scale_0_1"], p["queries"]] for name, p in figures["pages"].items()}
        for backend, figures in results["backends"].items()
    }
    results["seconds"] = round(time.perf_counter() - started, 1)
    output = ROOT / "instance" / "bench.json"
    output.parent.mkdir(exist_ok=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    say(f"écrit {output.relative_to(ROOT)} en {results['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
