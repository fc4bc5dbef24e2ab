"""Database helpers shared by every package: exact decimals, enums as checked strings, SQLite setup."""

from __future__ import annotations

import enum
import re
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.base import PGCompiler
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import scoped_session
from sqlalchemy.pool import Pool
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Timezone-aware now, in UTC (stored as such on both databases)."""
    return datetime.now(UTC)


@contextmanager
def uncached_statements(session) -> Iterator[None]:
    """Statements run by ``session`` inside are compiled each time instead of being kept in the
    engine's statement cache: for a rare, large job (the treasurer's workbook), whose dozen statements
    would otherwise hold about a megabyte of compiled SQL in every worker until evicted. Compiling
    them costs about a millisecond each."""
    connection = session.connection()
    # The engine's own cache, unless the connection was given another one.
    cache = connection.get_execution_options().get("compiled_cache", connection.engine._compiled_cache)
    connection.execution_options(compiled_cache=None)
    try:
        yield
    finally:
        connection.execution_options(compiled_cache=cache)


#: Rows streamed by :func:`stream` are fetched this many at a time.
STREAM_ROWS = 100


def stream(session, query, rows: int = STREAM_ROWS):
    """The plain rows of a Core ``query``, fetched ``rows`` at a time on ``session``'s connection (a
    server-side cursor on PostgreSQL), without the ORM's result layer: for large reads written out as
    they come. Pending changes are not flushed: read after a query that does."""
    return session.connection().execute(query.execution_options(yield_per=rows))


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
            # The stored integer's digits with the scale's exponent: 12345 -> 123.45 (exact).
            return Decimal(int(value)).scaleb(-self.scale)
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


#: A pooled connection idle for longer than this (seconds) is pinged before it is handed out.
PING_AFTER_IDLE = 10.0


def _socket_readable(dbapi_connection) -> bool:
    """Whether the server sent something on an idle connection (PostgreSQL): nothing is expected
    between two transactions, so it said goodbye (a restart, ``pg_terminate_backend``, an idle
    timeout) or has a notice to give. Connections without a socket (SQLite) never are."""
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:
        return False
    try:
        poller = select.poll()  # not select.select(): it refuses descriptors past 1024
        poller.register(fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except Exception:  # closed or broken: certainly stale
        return True


@event.listens_for(Pool, "checkin")
def _note_checkin(dbapi_connection, connection_record):
    connection_record.info["checked_in_at"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_stale(dbapi_connection, connection_record, connection_proxy):
    """Ping a pooled connection before use when it may be dead: it waited in the pool for a while
    (a silent network drop), or its server spoke while it was idle (the socket is readable: a
    restart or a terminated backend). A connection back from the previous request is used as is,
    which spares each request a round trip (``pool_pre_ping`` pinged every checkout).

    A failed ping raises :class:`sqlalchemy.exc.DisconnectionError`: the pool then discards the
    connection and hands out a fresh one."""
    checked_in_at = connection_record.info.get("checked_in_at")
    if checked_in_at is None:  # a new connection
        return
    if time.monotonic() - checked_in_at <= PING_AFTER_IDLE and not _socket_readable(dbapi_connection):
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
            cursor.fetchall()
        finally:
            cursor.close()
    except Exception as exc:
        raise sa.exc.DisconnectionError("stale pooled connection") from exc


# --- what a transaction wrote ---------------------------------------------------------------------

#: First words of statements that change nothing.
_READS = frozenset(
    {
        "SELECT",
        "PRAGMA",
        "BEGIN",
        "SAVEPOINT",
        "RELEASE",
        "ROLLBACK",
        "COMMIT",
        "SHOW",
        "SET",
        "EXPLAIN",
        "VALUES",
    }
)
_TARGET = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)"
    r"\s+(?:ONLY\s+)?\"?([A-Za-z_]\w*)\"?",
    re.IGNORECASE,
)
#: In :func:`written_tables`: a statement that may write, to tables it does not name plainly.
ANY_TABLE = "*"


def written_tables(statement: str) -> tuple[str, ...]:
    """The tables ``statement`` may write, lower-cased, read from its first word and its target:
    none for a plain read (``SELECT``, ``PRAGMA``, ``SAVEPOINT``…, or a ``WITH`` holding no
    write), :data:`ANY_TABLE` for what cannot be read so (DDL, anything unknown)."""
    text = statement.lstrip(" \t\r\n(")
    words = text[:16].split(None, 1)
    word = words[0].upper() if words else ""
    if word in _READS:
        return ()
    if word == "WITH":  # a read, unless the CTE ends in (or holds) a write
        return tuple(target.lower() for target in _TARGET.findall(text))
    if word in ("INSERT", "UPDATE", "DELETE", "REPLACE", "TRUNCATE"):
        match = _TARGET.match(text)
        return (match.group(1).lower(),) if match else (ANY_TABLE,)
    return (ANY_TABLE,)


#: Key, in a connection's ``info``, of the tables its transaction may have written so far.
_WRITTEN = "transaction_written_tables"


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(conn, cursor, statement, parameters, context, executemany):
    tables = written_tables(statement)
    if tables:
        conn.info.setdefault(_WRITTEN, set()).update(tables)


def transaction_written_tables(connection) -> set[str]:
    """The tables the connection's current transaction may have written (:func:`written_tables` of
    every statement it sent; :data:`ANY_TABLE` among them for one that could not be read so)."""
    return connection.info.get(_WRITTEN) or set()


class _PostgresCompiler(PGCompiler):
    """PostgreSQL's statement compiler, with a statement's ``LIMIT`` and ``OFFSET`` written in its
    text (``LIMIT 20 OFFSET 40``) instead of sent as parameters: see :func:`literal_page_bounds`."""

    def limit_clause(self, select, **kw):
        return super().limit_clause(select, **{**kw, "literal_execute": True})


def literal_page_bounds(engine: Engine) -> None:
    """On PostgreSQL, write every statement's ``LIMIT`` and ``OFFSET`` as numbers in its text.

    psycopg prepares a statement run five times on a connection; PostgreSQL then keeps one generic
    plan for it instead of planning it again at each run, unless its parameters could change the
    plan. ``LIMIT`` and ``OFFSET`` always could: as parameters, every list page's statements were
    planned again at every view (up to 0.6 ms for a statement joining its figures). Written in the
    text they are planned once per connection for each page number, the first one above all. The
    values are integers that SQLAlchemy renders itself (nothing a visitor types reaches the text),
    and the compiled statement stays in SQLAlchemy's cache: only the numbers are written at each run.
    SQLite plans a statement anew at each run whatever its parameters: unchanged."""
    if engine.dialect.name == "postgresql":
        engine.dialect.statement_compiler = _PostgresCompiler


def end_request_transaction(exc: BaseException | None = None) -> None:
    """End the request's transaction with ``COMMIT`` when it wrote nothing (``teardown_request``,
    just before Flask-SQLAlchemy closes the session, which would roll it back).

    For the database the two are the same when nothing was written. For psycopg they are not: it
    forgets its prepared statements at every ``ROLLBACK``, so with read-only requests ending that
    way PostgreSQL planned every statement of every page again (a third of the event page's
    database time). Committing keeps them: a statement run five times on a connection is prepared
    and its plan reused.

    Anything else is left to the rollback: an exception, pending or flushed ORM changes, a statement
    that may write (:func:`written_tables`), a savepoint still open."""
    if exc is not None:
        return
    from app.extensions import db

    if not db.session.registry.has():
        return
    session = db.session()
    if not session.in_transaction() or session.in_nested_transaction():
        return
    if session.new or session.dirty or session.deleted:
        return
    if transaction_written_tables(session.connection()):
        return
    # The session is closed right after: expiring every object it loaded would be work for nothing.
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


#: HTTP methods whose requests may write: on SQLite their transactions take the write lock up front.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


#: Set by :func:`write_lock`: whether transactions begun now may write, whatever the request.
_write_lock: ContextVar[bool | None] = ContextVar("maillage_write_lock", default=None)


def wants_write_lock() -> bool:
    """Whether a transaction starting now may write (on SQLite: takes the write lock up front).

    Inside a :func:`write_lock` block, what it says. Else, outside a request (CLI, tests, scripts)
    always; inside one, only for a method that writes (:data:`WRITE_METHODS`) or when the request
    asked for it with :func:`request_writes`. A GET then reads from a WAL snapshot without blocking
    writers, and is never blocked by them.
    """
    from flask import g, has_request_context, request

    forced = _write_lock.get()
    if forced is not None:
        return forced
    if not has_request_context():
        return True
    return request.method in WRITE_METHODS or bool(g.get("sqlite_write_lock"))


def request_writes() -> None:
    """Declare that the current request writes although its method is a GET (call it before the
    request's first query): on SQLite its transaction then takes the write lock up front."""
    from flask import g, has_request_context

    if has_request_context():
        g.sqlite_write_lock = True


@contextmanager
def write_lock(wanted: bool) -> Iterator[None]:
    """Within the block, transactions that begin may write (``True``: on SQLite ``BEGIN
    IMMEDIATE``) or only read (``False``: a plain ``BEGIN``, a WAL snapshot that makes no writer
    wait), whatever the request's method. A transaction already begun is not changed."""
    token = _write_lock.set(wanted)
    try:
        yield
    finally:
        _write_lock.reset(token)


@contextmanager
def read_only(session) -> Iterator[None]:
    """Run the block in a read-only transaction of its own, ended with the block:
    for a slow read in a request that writes, e.g. rendering a document from frozen values, which
    must not hold SQLite's write lock meanwhile.

    The session's current transaction, if any, is committed first: it must hold no unflushed
    change (say, the login's reading of the user). Objects loaded in the block are expired at its
    end, and read again when used."""
    if isinstance(session, scoped_session):
        session = session()
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("read_only() needs a session without pending changes")
    if session.in_transaction():
        session.commit()
    with write_lock(False):
        try:
            yield
        except BaseException:
            session.rollback()
            raise
        session.commit()  # ends the snapshot; the block wrote nothing through it


@event.listens_for(Engine, "begin")
def _on_begin(conn):
    """Record whether the transaction may write (:func:`may_write`). SQLite: such a transaction
    takes the write lock up front (``BEGIN IMMEDIATE``: no lost updates, no gap races in number
    series); a read-only request's is a plain ``BEGIN``."""
    writes = wants_write_lock()
    conn.info["may_write"] = writes
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")
        conn.info["sqlite_write_lock"] = writes
    conn.info[_WRITTEN] = set()  # after the BEGIN: what the transaction itself sends


def may_write(connection) -> bool:
    """Whether the connection's transaction began as one that may write (:func:`wants_write_lock`):
    what it changes is committed by its owner; a read-only one is rolled back at the request's end."""
    return bool(connection.info.get("may_write"))


def holds_write_lock(connection) -> bool:
    """On SQLite, whether the connection's transaction began with ``BEGIN IMMEDIATE`` (always
    true on other databases, which lock rows instead)."""
    if connection.dialect.name != "sqlite":
        return True
    return bool(connection.info.get("sqlite_write_lock"))


def refresh_statistics(connection) -> None:
    """Give the query planner fresh statistics (``ANALYZE``): after migrations and bulk loads.

    SQLite never gathers statistics by itself; without them it may pick a low-cardinality index
    for a join. PostgreSQL's autovacuum gets there eventually, not right after a bulk load.
    """
    connection.exec_driver_sql("ANALYZE")
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA optimize")


def settle_after_bulk_load(engine, tables) -> None:
    """After a bulk load into ``tables`` has been committed, on PostgreSQL: ``VACUUM (ANALYZE)`` of
    those tables, what autovacuum would do by itself within minutes of so many inserts (the
    visibility map set, which lets counts and lists read an index alone; hint bits written;
    statistics). Done at once, the data is in the state a database that has lived with it is in,
    and autovacuum has nothing left to do in the minutes after. Nothing on SQLite (its statistics
    come with the load: :func:`refresh_statistics`).

    ``VACUUM`` refuses a transaction: it runs on a connection of its own, in autocommit, and skips
    a table another transaction holds a conflicting lock on (``SKIP_LOCKED``) rather than wait for
    it: the tests load inside a transaction that may have changed a table's definition, and would
    wait for themselves."""
    if engine.dialect.name != "postgresql":
        return
    preparer = engine.dialect.identifier_preparer
    names = ", ".join(preparer.quote(table) for table in sorted(tables))
    if not names:
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM (ANALYZE, SKIP_LOCKED) {names}")


class LineNet(sa.sql.functions.FunctionElement):
    """SQL for ``app.money.line_net(quantity, unit_price)``: round(quantity × unit price, 2),
    half away from zero, exact on both databases (typed as money, so it reads back as a Decimal).

    On SQLite both columns are scaled integers (quantity ×1000, price ×100): their product is the
    net ×100 000, rounded to cents with integer arithmetic. On PostgreSQL, ``round(numeric, 2)``
    rounds half away from zero as :func:`app.money.round_money` does.
    """

    inherit_cache = True
    name = "line_net"

    def __init__(self, quantity, unit_price):
        for column, scale in ((quantity, 3), (unit_price, 2)):
            if getattr(column.type, "scale", scale) != scale:
                raise TypeError(f"LineNet needs a quantity with 3 decimals and a price with 2: {column}")
        super().__init__(quantity, unit_price)
        self.type = ExactDecimal(14, 2)


@compiles(LineNet)
def _line_net_default(element, compiler, **kw):
    quantity, unit_price = list(element.clauses)
    return f"round(({compiler.process(quantity, **kw)}) * ({compiler.process(unit_price, **kw)}), 2)"


@compiles(LineNet, "sqlite")
def _line_net_sqlite(element, compiler, **kw):
    quantity, unit_price = list(element.clauses)
    product = f"(({compiler.process(quantity, **kw)}) * ({compiler.process(unit_price, **kw)}))"
    return f"(CASE WHEN {product} >= 0 THEN ({product} + 500) / 1000 ELSE -((500 - {product}) / 1000) END)"


def sum_money(expression):
    """``SUM`` of a money expression, 0 when there are no rows, read back as a Decimal."""
    return sa.type_coerce(sa.func.coalesce(sa.func.sum(expression), 0), ExactDecimal(14, 2))


# Note on SQL over ExactDecimal columns: on SQLite the stored value is scaled, so in SQL only
# comparisons with 0 (CHECK sign constraints, WHERE amount > 0), comparisons between columns of the
# same scale, SUM, MIN and MAX are exact. Arithmetic (quantity * unit_price), multiplying by a literal
# and AVG are not: compute those in Python with app.money, or use LineNet (a line's net, exact on
# both) and sum_money. Upper bounds are enforced by services.
