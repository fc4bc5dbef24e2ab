"""Assignments: an actor on a lot, with a role and an answer."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, enum_column, utcnow
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.states import StateMachine


class AssignmentRole(enum.StrEnum):
    LEAD = "lead"
    PARTNER = "partner"
    SUPPLIER = "supplier"


class AssignmentStatus(enum.StrEnum):
    PROPOSED = "proposed"
    INVITED = "invited"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


#: The only place assignment moves are defined; :meth:`StateMachine.move` is the only way to make them.
ASSIGNMENT_STATES = StateMachine(
    name="assignment",
    states=AssignmentStatus,
    transitions={
        AssignmentStatus.PROPOSED: {AssignmentStatus.INVITED},
        AssignmentStatus.INVITED: {AssignmentStatus.ACCEPTED, AssignmentStatus.DECLINED},
        AssignmentStatus.ACCEPTED: {AssignmentStatus.WITHDRAWN},
        AssignmentStatus.DECLINED: set(),
        AssignmentStatus.WITHDRAWN: set(),
    },
    refusal=_l("L'affectation ne peut pas passer de « %(before)s » à « %(after)s »."),
    already=_l("L'affectation est déjà « %(status)s »."),
    event_id=lambda assignment: assignment.lot.event_id,
)


class Assignment(db.Model):
    __tablename__ = "assignments"
    __table_args__ = (
        sa.UniqueConstraint("lot_id", "organisation_id", name="uq_assignments_lot_organisation"),
        # An organisation's assignments in a status (matching, the portal): the single-column index on
        # a status of a few values misleads the planner. With the lot, it covers the portal's sort
        # of the organisation's history by event date (``offers.services.portal``).
        sa.Index("ix_assignments_organisation_status_lot", "organisation_id", "status", "lot_id"),
        # A lot's assignments, and those in a status (the events list counts each open lot's
        # accepted and invited ones from the index alone).
        sa.Index("ix_assignments_lot_status", "lot_id", "status"),
        # An organisation's assignments by the start of their event, latest first (the portal's
        # accepted lots and past answers, a page at a time, read straight from the index).
        sa.Index("ix_assignments_organisation_event_start", "organisation_id", "event_starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lots.id", ondelete="CASCADE"), nullable=False)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    role: Mapped[AssignmentRole] = mapped_column(
        enum_column(AssignmentRole, "assignment_role"), nullable=False, default=AssignmentRole.PARTNER
    )
    status: Mapped[AssignmentStatus] = mapped_column(
        enum_column(AssignmentStatus, "assignment_status"),
        nullable=False,
        default=AssignmentStatus.PROPOSED,
        index=True,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The actor's comment when answering.
    comment: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: The start of the lot's event, copied here so that an organisation's history is sorted by it
    #: from an index of this table alone. Written in SQL at every flush that adds an assignment,
    #: moves one to another lot, a lot to another event or an event in time
    #: (``offers.services.event_starts``); read in SQL only (deferred: never loaded with the row).
    event_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, deferred=True)

    lot = relationship("Lot", back_populates="assignments")
    organisation = relationship("Organisation", lazy="joined")

    # --- what the status allows (templates and views ask these, never the status itself) -------

    @property
    def can_be_invited(self) -> bool:
        """Proposed: the coordination may invite it (or remove it, if never invited)."""
        return ASSIGNMENT_STATES.allows(self.status, AssignmentStatus.INVITED)

    @property
    def can_be_removed(self) -> bool:
        """Proposed and never invited: the coordination changed its mind, nothing to keep."""
        return self.can_be_invited and self.invited_at is None

    @property
    def awaiting_answer(self) -> bool:
        """Invited and not answered yet: the coordination may remind it, the actor may answer."""
        return ASSIGNMENT_STATES.allows(self.status, AssignmentStatus.ACCEPTED)

    @property
    def can_answer(self) -> bool:
        """The actor may answer (the deadline, the lot and the quote are checked by the portal)."""
        return self.awaiting_answer

    @property
    def is_accepted(self) -> bool:
        return self.status == AssignmentStatus.ACCEPTED

    @property
    def is_declined(self) -> bool:
        return self.status == AssignmentStatus.DECLINED

    @property
    def is_withdrawn(self) -> bool:
        return self.status == AssignmentStatus.WITHDRAWN

    @property
    def can_be_withdrawn(self) -> bool:
        return ASSIGNMENT_STATES.allows(self.status, AssignmentStatus.WITHDRAWN)
