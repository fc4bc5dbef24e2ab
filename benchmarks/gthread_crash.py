"""Try to reproduce the worker crash under threaded gunicorn workers (issue 14, item 11).

    python -m benchmarks.gthread_crash --url postgresql+psycopg://…/maillage [--seconds 300]
        [--workers 2] [--threads 4] [--clients 16] [--path /evenements/1] [--config] [--preload]

Loads the demo into the database (it must be migrated and empty, or hold the demo already), starts
gunicorn on 127.0.0.1:8799 with ``--worker-class gthread`` (or, with ``--config``, the shipped
``gunicorn.conf.py``), logs ``clients`` sessions in as the coordination and has them request
``path`` in a loop for ``seconds``, then reports the statuses, and every worker that died (gunicorn's
"was sent SIG…" / "exited with code" lines) or whose fault handler printed a traceback.

``PSYCOPG_IMPL=python`` and ``DISABLE_SQLALCHEMY_CEXT_RUNTIME=1`` in the environment bisect the C
extensions of psycopg and SQLAlchemy.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import threading
import time

import requests

PORT = 8799


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--path", default="/evenements/1")
    parser.add_argument("--config", action="store_true", help="use gunicorn.conf.py (sync workers)")
    parser.add_argument("--preload", action="store_true", help="gthread workers forked from a preloaded app")
    args = parser.parse_args()

    env = {
        **os.environ,
        "DATABASE_URL": args.url,
        "SECRET_KEY": "gthread-crash-secret-key-0123456789",
        "MAILLAGE_SESSION_COOKIE_SECURE": "false",
        "MAILLAGE_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000",
        "MAILLAGE_LOGIN_MAX_FAILURES_PER_ACCOUNT": "100000",
        "FLASK_APP": "wsgi:app",
        "PYTHONFAULTHANDLER": "1",
        "PYTHONUNBUFFERED": "1",
    }
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], env=env, check=True, capture_output=True)  # noqa: S603 (our own command)
    subprocess.run([*flask, "demo", "load", "--if-empty"], env=env, check=True, capture_output=True)  # noqa: S603
    if args.config:
        command = ["-c", "gunicorn.conf.py", "--workers", str(args.workers)]
        env["MAILLAGE_BIND"] = f"127.0.0.1:{PORT}"
    else:
        command = [
            "--worker-class",
            "gthread",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--bind",
            f"127.0.0.1:{PORT}",
            "--timeout",
            "60",
            *(["--preload"] if args.preload else []),
            "wsgi:app",
        ]
    log = open("gthread-crash.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", *command], env=env, stdout=log, stderr=log)  # noqa: S603
    base = f"http://127.0.0.1:{PORT}"
    try:
        for _ in range(120):
            try:
                requests.get(f"{base}/health", timeout=2)
                break
            except requests.RequestException:
                time.sleep(1)
        statuses = collections.Counter()
        stop = time.monotonic() + args.seconds

        def client():
            session = requests.Session()
            page = session.get(f"{base}/connexion", timeout=30).text
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
            session.post(
                f"{base}/connexion",
                data={"email": "coordination@example.org", "password": "demo-maillage", "csrf_token": token},
                timeout=30,
            )
            while time.monotonic() < stop:
                try:
                    statuses[session.get(f"{base}{args.path}", timeout=60).status_code] += 1
                except requests.RequestException as exc:
                    statuses[type(exc).__name__] += 1

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    text = open("gthread-crash.log").read()
    deaths = re.findall(r".*(?:was sent SIG\w+|exited with code \d+|Fatal Python error).*", text)
    print(f"statuses: {dict(statuses)}")
    print(f"worker deaths: {len(deaths)}")
    for line in deaths:
        print("  ", line)
    return 1 if deaths else 0


if __name__ == "__main__":
    sys.exit(main())
