"""The offers blueprint. Each module of this package attaches its routes to ``bp``."""

from flask import Blueprint

from offers.permissions import TEMPLATE_RULES

bp = Blueprint("offers", __name__)


@bp.record_once
def _template_rules(state) -> None:
    """Templates ask the same object rules as views: ``{% if can_send_quote(current_user, quote) %}``."""
    state.app.jinja_env.globals.update(TEMPLATE_RULES)


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
