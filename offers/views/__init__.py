"""The offers blueprint. Each module of this package attaches its routes to ``bp``."""

from flask import Blueprint, g

from offers.models import unit_label
from offers.permissions import TEMPLATE_RULES
from offers.pricing import LinePricing, PricingContext

bp = Blueprint("offers", __name__)


def pricing_context() -> PricingContext:
    """One :class:`offers.pricing.PricingContext` per request (identity and mentions looked up once)."""
    if "_offers_pricing" not in g:
        g._offers_pricing = PricingContext()
    return g._offers_pricing


@bp.app_template_global("line_pricing")
def line_pricing(event, line) -> LinePricing:
    """A line's seller, effective rate, mention and flags, for the pages (``offers.pricing``)."""
    return pricing_context().line(event, line)


@bp.app_template_global("unit_label")
def _unit_label(unit: str) -> str:
    """How a line's unit prints (``offers.models.unit_label``)."""
    return unit_label(unit)


@bp.record_once
def _template_rules(state) -> None:
    """Templates ask the same object rules as views: ``{% if can_send_quote(current_user, quote) %}``."""
    state.app.jinja_env.globals.update(TEMPLATE_RULES)


# Route modules register on import (kept at the bottom: they import ``bp`` from here).
from offers.views import (  # noqa: E402,F401
    assignments,
    briefing,
    clients,
    events,
    lines,
    lots,
    portal,
    quotes,
)
