"""The offers package's models."""

from offers.models.assignment import ASSIGNMENT_TRANSITIONS, Assignment, AssignmentRole, AssignmentStatus
from offers.models.event import EVENT_TRANSITIONS, BillingMode, Event, EventStatus, FeeKind
from offers.models.line import UNITS, Line
from offers.models.lot import Lot, LotStatus
from offers.models.quote import QUOTE_TRANSITIONS, Quote, QuoteLine, QuoteStatus

__all__ = [
    "ASSIGNMENT_TRANSITIONS",
    "EVENT_TRANSITIONS",
    "QUOTE_TRANSITIONS",
    "UNITS",
    "Assignment",
    "AssignmentRole",
    "AssignmentStatus",
    "BillingMode",
    "Event",
    "EventStatus",
    "FeeKind",
    "Line",
    "Lot",
    "LotStatus",
    "Quote",
    "QuoteLine",
    "QuoteStatus",
]
