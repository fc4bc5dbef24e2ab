"""A list's page read with statements built once, their filters and bounds as parameters.

``db.paginate(statement)`` builds two statements at every view: the page's (``LIMIT``/``OFFSET``
added) and the count's (the statement as a subquery). SQLAlchemy then walks each of them to compute
its cache key before it finds the compiled SQL in its cache: for the events list, about 4 % of the
page. Built once (:func:`paged`, kept by the caller for each combination of its filters), the two
statements keep their cache keys (SQLAlchemy memoizes them on the statement), and a view only hands
the filters' values and the page's bounds as parameters (:func:`statement_page`).

The page is Flask-SQLAlchemy's :class:`~flask_sqlalchemy.pagination.Pagination`, as
``db.paginate`` returns it (``items``, ``total``, ``pages``, ``iter_pages``…), with the same
statements: the items are the statement's rows from the page's offset (joined eager loads made
unique), the total counts the statement's rows without its order. On PostgreSQL the bounds are still
written in the statement's text (``app.db.literal_page_bounds``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from app.extensions import db


@dataclass(frozen=True)
class PagedStatements:
    """A list statement's page (its ``LIMIT``/``OFFSET`` as the parameters ``page_limit`` and
    ``page_offset``) and its count."""

    items: sa.Select
    count: sa.Select


def paged(statement: sa.Select) -> PagedStatements:
    """The page's and the count's statements of ``statement``, whose filters are bound parameters."""
    return PagedStatements(
        items=statement.limit(sa.bindparam("page_limit", type_=sa.Integer)).offset(
            sa.bindparam("page_offset", type_=sa.Integer)
        ),
        count=sa.select(sa.func.count()).select_from(statement.order_by(None).subquery()),
    )


class StatementPage(Pagination):
    """A page of :class:`PagedStatements` with the filters' values ``params``."""

    def _query_items(self) -> list:
        statements, params = self._query_args["statements"], self._query_args["params"]
        bounds = {"page_limit": self.per_page, "page_offset": self._query_offset}
        return list(db.session.execute(statements.items, {**params, **bounds}).unique().scalars())

    def _query_count(self) -> int:
        return db.session.scalar(self._query_args["statements"].count, self._query_args["params"])


def statement_page(statements: PagedStatements, params: dict, page: int, per_page: int) -> StatementPage:
    """Page ``page`` (from 1) of ``per_page`` rows, and their total (``error_out=False`` as the lists
    ask ``db.paginate``: a page past the end is empty, not a 404)."""
    return StatementPage(
        page=page, per_page=per_page, error_out=False, count=True, statements=statements, params=params
    )
