"""Sections that other packages add to an organisation's card page (events, payouts, partners).

The shell cannot import ``offers`` or ``invoicing``; they register here instead, and the card page
renders whatever is registered, in order. A panel is a function ``(organisation, user) -> dict | None``
returning ``{"title": str, "template": str, **context}``, or None to show nothing.
"""

from __future__ import annotations

from collections.abc import Callable

CARD_PANELS: list[tuple[int, str, Callable]] = []


def register_card_panel(order: int, name: str):
    def decorator(fn):
        if not any(existing == name for _, existing, _ in CARD_PANELS):
            CARD_PANELS.append((order, name, fn))
            CARD_PANELS.sort(key=lambda item: item[0])
        return fn

    return decorator


def panels_for(organisation, user) -> list[dict]:
    result = []
    for _order, _name, fn in CARD_PANELS:
        panel = fn(organisation, user)
        if panel:
            result.append(panel)
    return result
