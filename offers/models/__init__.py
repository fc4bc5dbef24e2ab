"""The offers package's models, and the state machine of each aggregate (``*_STATES``)."""

from offers.models.assignment import ASSIGNMENT_STATES, Assignment, AssignmentRole, AssignmentStatus
from offers.models.briefing import BriefingReason, BriefingSend
from offers.models.event import (
    EVENT_STATES,
    FROZEN_EVENT_STATUSES,
    PROCUREMENT_PROCEDURES,
    QUOTABLE_EVENT_STATUSES,
    BillingMode,
    Event,
    EventStatus,
    FeeKind,
)
from offers.models.line import MAX_UNIT_LENGTH, UNITS, Line, unit_label
from offers.models.lot import LOT_STATES, Lot, LotStatus
from offers.models.quote import (
    QUOTE_STATES,
    Quote,
    QuoteLine,
    QuoteStatus,
    quote_status_code,
    quote_status_label,
)
from offers.models.work import ActorEventNet, Collaboration, WorkTotal

__all__ = [
    "ASSIGNMENT_STATES",
    "EVENT_STATES",
    "FROZEN_EVENT_STATUSES",
    "LOT_STATES",
    "MAX_UNIT_LENGTH",
    "PROCUREMENT_PROCEDURES",
    "QUOTABLE_EVENT_STATUSES",
    "QUOTE_STATES",
    "UNITS",
    "ActorEventNet",
    "Assignment",
    "AssignmentRole",
    "AssignmentStatus",
    "BillingMode",
    "BriefingReason",
    "BriefingSend",
    "Collaboration",
    "Event",
    "EventStatus",
    "FeeKind",
    "Line",
    "Lot",
    "LotStatus",
    "Quote",
    "QuoteLine",
    "QuoteStatus",
    "WorkTotal",
    "quote_status_code",
    "quote_status_label",
    "unit_label",
]
