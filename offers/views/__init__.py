"""The offers blueprint. Each module of this package attaches its routes to ``bp``."""

from flask import Blueprint

bp = Blueprint("offers", __name__)

# Route modules register on import (kept at the bottom: they import ``bp`` from here).
from offers.views import (  # noqa: E402,F401
    assignments,
    clients,
    events,
    lines,
    lots,
    portal,
    quotes,
)
