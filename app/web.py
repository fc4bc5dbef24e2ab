"""What every view does around its one service call: commit, or roll back and say why.

A view loads, checks the permission, validates the form, then::

    with service_call(form, stale=_("Quelqu'un a enregistré ce lot au même instant…")) as outcome:
        check_version(lot, form.version_id.data)
        changes = update_lot(lot, form.to_fields(), current_user)
    if outcome.ok:
        flash(…)
        return redirect(…)
    error, status = outcome.error, outcome.status      # re-render the form with them

:func:`service_call` commits when the block ends normally. When the block (or the commit) raises a
:class:`~app.errors.DomainError`, it rolls back, and the outcome carries the exception's status code
and its French message — put beside its form field when the exception names one
(:class:`~app.errors.InvalidValue`'s ``field``) and the form has it, else in ``outcome.error`` for the
top of the page. Database races are caught only when the view says what to tell the user: ``stale``
for SQLAlchemy's :class:`~sqlalchemy.orm.exc.StaleDataError` (the row's version changed between the
check and the flush), ``unique`` for an :class:`~sqlalchemy.exc.IntegrityError` (a unique index
refused a value someone saved at the same instant); both answer 409. Anything else goes up untouched
(a 500 is a bug to see, not a message to show).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.errors import Conflict, DomainError
from app.extensions import db

log = logging.getLogger(__name__)


def attach_error(form, exc: DomainError) -> str | None:
    """Put a service's message beside its field; returns it when it belongs to no field of ``form``."""
    name = getattr(exc, "field", None)
    if form is not None and name and name in form:
        form[name].errors = [*form[name].errors, exc.message]
        return None
    return exc.message


@dataclass
class Outcome:
    """What came of a :func:`service_call`; ``ok`` until the block or the commit raised."""

    #: The exception that was caught (a DomainError, StaleDataError or IntegrityError), or None.
    exception: Exception | None = None
    #: The HTTP status to answer with: 200 when ok.
    status: int = 200
    #: The French message for the top of the page; None when ok or when it went beside its field.
    error: str | None = None
    #: Someone changed the object meanwhile: a :class:`~app.errors.Conflict` or a stale row.
    conflict: bool = False
    #: A unique index refused the commit (someone saved the same value at the same instant).
    duplicate: bool = False

    @property
    def ok(self) -> bool:
        return self.exception is None

    @property
    def message(self) -> str | None:
        """The refusal's message, wherever it was shown (for a flash)."""
        if isinstance(self.exception, DomainError):
            return self.exception.message
        return self.error


@contextmanager
def service_call(form=None, *, stale: str | None = None, unique: str | bool = False) -> Iterator[Outcome]:
    """Commit the block's work, or roll it back and describe the refusal (see the module docstring).

    ``form``: where an :class:`~app.errors.InvalidValue`'s message goes beside its field.
    ``stale``: the message for a :class:`StaleDataError`; without it, that error goes up.
    ``unique``: the message for an :class:`IntegrityError`, or ``True`` when the view explains it
    itself (beside a field, with the existing object); without it, that error goes up.
    """
    outcome = Outcome()
    try:
        yield outcome
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        outcome.exception, outcome.status = exc, exc.status_code
        outcome.conflict = isinstance(exc, Conflict)
        outcome.error = attach_error(form, exc)
    except StaleDataError as exc:
        db.session.rollback()
        if stale is None:
            raise
        outcome.exception, outcome.status, outcome.error, outcome.conflict = exc, 409, stale, True
    except IntegrityError as exc:
        db.session.rollback()
        if unique is False:
            raise
        outcome.exception, outcome.status, outcome.duplicate = exc, 409, True
        outcome.error = unique if isinstance(unique, str) else None


def after_response(response, func, *args, **kwargs):
    """Run ``func(*args, **kwargs)`` once ``response`` has been sent: when the server closes it
    (WSGI ``close()``, after the last byte), in an application context of its own (a session of
    its own; the request's context is gone: whatever needs the request is computed before). Where
    one is still pushed then (a test that keeps its own around its requests), in that one.

    For slow work that the answer need not wait for (rendering documents to e-mail): the user has
    the page while the worker finishes. What it does must be safe to lose (the process may die
    first) and recovered elsewhere; an exception is logged, never raised. Returns ``response``."""
    app = current_app._get_current_object()

    def run() -> None:
        try:
            with nullcontext() if has_app_context() else app.app_context():
                func(*args, **kwargs)
        except Exception:
            log.exception("work after the response failed: %s", func.__qualname__)

    response.call_on_close(run)
    return response
