"""The app as gunicorn serves it for the bench, plus ``/bench/nu``: a route that touches no database
(the floor each page's time is divided by)."""

from app import create_app

app = create_app()


@app.route("/bench/nu")
def bench_bare():
    return "ok"
