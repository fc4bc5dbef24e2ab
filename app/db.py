"""Database helpers shared by every package: exact decimals, enums as checked strings, SQLite setup."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Timezone-aware now, in UTC (stored as such on both databases)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp always returned timezone-aware in UTC (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def __repr__(self) -> str:
        return "UTCDateTime()"

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use app.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ExactDecimal(TypeDecorator):
    """A ``Decimal`` stored exactly on every database.

    PostgreSQL gets ``NUMERIC(precision, scale)``. SQLite has no decimal type (SQLAlchemy would store
    a binary float), so there the value is stored as an INTEGER scaled by ``10**scale``: exact, and
    still comparable and summable in SQL. A value with more decimals than ``scale`` is refused, never
    silently rounded.
    """

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, precision: int = 14, scale: int = 2):
        super().__init__()
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)
        self._factor = Decimal(10) ** scale

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(self.precision, self.scale, asdecimal=True))

    def _exact(self, value) -> Decimal:
        if isinstance(value, float):
            raise TypeError("float refused for money: use Decimal")
        try:
            value = Decimal(value)
        except (InvalidOperation, TypeError) as exc:
            raise ValueError(f"not a decimal: {value!r}") from exc
        quantized = value.quantize(self._quantum, rounding=ROUND_HALF_UP)
        if quantized != value:
            raise ValueError(f"{value} has more than {self.scale} decimals")
        return quantized

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = self._exact(value)
        if dialect.name == "sqlite":
            return int(value * self._factor)
        return value

    def process_literal_param(self, value, dialect):
        bound = self.process_bind_param(value, dialect)
        return "NULL" if bound is None else str(bound)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / self._factor).quantize(self._quantum)
        return Decimal(value).quantize(self._quantum)

    def copy(self, **kw):
        return ExactDecimal(self.precision, self.scale)

    def __repr__(self) -> str:
        return f"ExactDecimal({self.precision}, {self.scale})"


def Money():
    """Amounts in euros, to the cent."""
    return ExactDecimal(14, 2)


def Quantity():
    """Quantities: decimals allowed (2.5 heures), three places."""
    return ExactDecimal(14, 3)


def Rate():
    """Rates as fractions (0.055 for 5,5 %), four places."""
    return ExactDecimal(7, 4)


def enum_column(enum_cls: type[enum.Enum], name: str, **kw):
    """A string column holding an enum's values, with a named CHECK constraint in the database."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda cls: [m.value for m in cls],
        validate_strings=True,
        **kw,
    )


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    """SQLite: foreign keys on, WAL, a busy timeout, and let SQLAlchemy drive transactions."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    # pysqlite's own transaction handling would defer BEGIN; we emit BEGIN IMMEDIATE ourselves.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 10000")
    try:
        cursor.execute("PRAGMA journal_mode = WAL")
    except Exception:  # noqa: S110 - in-memory databases have no WAL; harmless
        pass
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    """SQLite: every transaction takes the write lock up front (no lost updates, no gap races)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# Note on SQL over ExactDecimal columns: on SQLite the stored value is scaled, so in SQL only
# comparisons with 0 (CHECK sign constraints, WHERE amount > 0), comparisons between columns of the
# same scale, SUM, MIN and MAX are exact. Arithmetic (quantity * unit_price), multiplying by a literal
# and AVG are not: compute those in Python with app.money. Upper bounds are enforced by services.
