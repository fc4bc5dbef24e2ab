"""State machines: the allowed moves of an aggregate's ``status``, its guards, and the one way to move it.

Each aggregate (event, lot, assignment, quote, invoice, payout) defines one :class:`StateMachine`
beside its model. :meth:`StateMachine.move` is the only code that changes a stored status: it checks
the move against the table and the guards, sets the status (and any other values given), flushes,
and writes one audit entry ``<name>.status_changed`` with the status before and after. An illegal
move raises :class:`app.errors.InvalidTransition` with a French message naming both statuses; nothing
is ever skipped silently. Callers that move only in some cases say so at the call site.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.errors import Conflict, DomainError, InvalidTransition
from app.extensions import db
from app.labels import label


@dataclass(frozen=True)
class Guard:
    """A condition on a move: ``check(obj)`` returns ``None`` when the move may happen, or the
    French reason it may not; the reason is raised as ``error``."""

    check: Callable[[Any], str | None]
    error: type[DomainError] = InvalidTransition


@dataclass
class StateMachine:
    """The moves of one aggregate.

    ``transitions`` maps each status to the statuses it may move to; ``guards`` maps a target
    status to the conditions of any move into it. ``refusal`` is the French message of an illegal
    move (with ``%(before)s`` and ``%(after)s``), ``already`` the one of a move to the current status
    (with ``%(status)s``). ``event_id`` tells the audit log which event the object belongs to.
    """

    name: str
    states: type[enum.Enum]
    transitions: Mapping[Any, frozenset]
    refusal: Any
    already: Any = None
    guards: Mapping[Any, tuple[Guard, ...]] = field(default_factory=dict)
    event_id: Callable[[Any], int | None] = lambda obj: None
    #: How a status reads (``label`` of ``app.labels`` by default; quotes read a draft otherwise).
    labeller: Callable[[Any], str] = label
    #: The code of ``app.labels`` a status reads as (the history stores it and reads it later).
    label_code: Callable[[Any], str] = lambda status: getattr(status, "value", status)
    #: Called with the object and its new status once a move is stored, in the same transaction:
    #: what follows from a move (derived tables) written once, whoever moves.
    after_move: Callable[[Any, Any], None] | None = None

    def __post_init__(self) -> None:
        missing = set(self.states) - set(self.transitions)
        if missing:
            raise ValueError(f"{self.name}: no transitions for {sorted(s.value for s in missing)}")
        self.transitions = {state: frozenset(targets) for state, targets in self.transitions.items()}

    # --- questions ----------------------------------------------------------------------------

    @property
    def action(self) -> str:
        """The audit action of every move of this aggregate."""
        return f"{self.name}.status_changed"

    def allows(self, before, after) -> bool:
        """The table alone: is ``before -> after`` a move of this machine?"""
        return after in self.transitions.get(before, frozenset())

    def refusal_for(self, obj, target) -> DomainError | None:
        """Why ``obj`` may not move to ``target`` now (the table, then the guards); ``None`` if it may."""
        before = obj.status
        if not self.allows(before, target):
            if before == target and self.already is not None:
                return InvalidTransition(str(self.already) % {"status": self.labeller(before)})
            return InvalidTransition(
                str(self.refusal) % {"before": self.labeller(before), "after": self.labeller(target)}
            )
        for guard in self.guards.get(target, ()):
            reason = guard.check(obj)
            if reason:
                return guard.error(reason)
        return None

    def can(self, obj, target) -> bool:
        return self.refusal_for(obj, self.coerce(target)) is None

    def moves(self, obj) -> list:
        """The statuses ``obj`` may move to now, guards included, in the enum's order: those
        :meth:`refusal_for` has no refusal for, asked without writing the refusals it would give
        (each a translated sentence; an event page asks this of every status)."""
        before = obj.status
        return [
            state
            for state in self.states
            if self.allows(before, state)
            and not any(guard.check(obj) for guard in self.guards.get(state, ()))
        ]

    def coerce(self, target):
        try:
            return self.states(getattr(target, "value", target))
        except ValueError as exc:
            raise InvalidTransition(_("Statut inconnu : %(status)s.", status=target)) from exc

    # --- the move -----------------------------------------------------------------------------

    def move(
        self,
        obj,
        target,
        *,
        user,
        summary=None,
        values: Mapping[str, Any] | None = None,
        changes: Mapping[str, tuple] | None = None,
        one_shot: bool = False,
        stale: Callable[[Any], DomainError] | None = None,
        ip: str | None = None,
    ):
        """Move ``obj`` to ``target``: check, set (with ``values``), flush, audit. Returns ``obj``.

        With ``one_shot``, the row is updated only if its status is still the one read
        (``UPDATE … WHERE status = before``): of two concurrent moves, the second raises
        ``stale(obj)`` (the object refreshed), or a :class:`Conflict`.

        Raises :class:`InvalidTransition` (a move the table does not allow, an unknown status) and
        whatever a guard raises.
        """
        from app.audit import STATUS_MOVED, Message, as_label, record

        target = self.coerce(target)
        before = obj.status
        refusal = self.refusal_for(obj, target)
        if refusal is not None:
            raise refusal
        values = dict(values or {})
        if one_shot:
            model = type(obj)
            result = db.session.execute(
                sa.update(model)
                .where(model.id == obj.id, model.status == before)
                .values(status=target, **values)
                .execution_options(synchronize_session=False)
            )
            db.session.refresh(obj)
            if result.rowcount != 1:
                raise (
                    stale(obj) if stale else Conflict(_("L'objet a changé entre-temps ; rechargez la page."))
                )
        else:
            obj.status = target
            for name, value in values.items():
                setattr(obj, name, value)
            db.session.flush()
        if self.after_move is not None:
            self.after_move(obj, target)
        record(
            self.action,
            obj,
            user=user,
            summary=summary
            or Message(
                STATUS_MOVED.key,
                {"before": as_label(self.label_code(before)), "after": as_label(self.label_code(target))},
            ),
            changes={"status": (before, target), **(changes or {})},
            event_id=self.event_id(obj),
            ip=ip,
        )
        return obj

    # --- for tests and documentation ----------------------------------------------------------

    def pairs(self) -> Iterable[tuple]:
        """Every ``(before, after)`` of the enum, allowed or not."""
        return [(a, b) for a in self.states for b in self.states]
