"""``flask bench seed --scale S``: load the bench dataset (benchmarks/dataset.py) into the database."""

from __future__ import annotations

import click
from flask.cli import AppGroup

bench_cli = AppGroup("bench", help="Jeu de données et mesures de performance.")


@bench_cli.command("seed")
@click.option(
    "--scale",
    type=click.FloatRange(0.001, 5.0),
    default=1.0,
    show_default=True,
    help="1 = 300 acteurs, 2 000 événements, ~100 000 lignes.",
)
@click.option("--seed", "seed_value", type=int, default=13, show_default=True, help="Graine du générateur.")
def seed_command(scale: float, seed_value: int) -> None:
    """Ajoute le jeu de données de mesure (en masse, puis ANALYZE ; VACUUM ANALYZE sur PostgreSQL)."""
    from app.db import settle_after_bulk_load
    from app.extensions import db
    from benchmarks.dataset import seed

    summary = seed(scale, seed_value=seed_value)
    db.session.commit()
    settle_after_bulk_load(db.engine, summary.counts)
    click.echo(f"Jeu de données (échelle {scale}) : {summary.line()}")
