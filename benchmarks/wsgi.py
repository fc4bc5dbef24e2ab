"""The app as gunicorn serves it for the bench, plus ``/bench/nu``: a route that touches no database
(the floor each page's time is divided by). Every answer says which worker made it
(``X-Bench-Worker``, its process id): the bench warms each worker up before it times anything."""

import os

from app import create_app

app = create_app()


@app.route("/bench/nu")
def bench_bare():
    return "ok"


@app.after_request
def _worker(response):
    response.headers["X-Bench-Worker"] = str(os.getpid())
    return response
