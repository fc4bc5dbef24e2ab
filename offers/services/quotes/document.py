"""A quote as a document: its figures (by :mod:`offers.pricing` on the frozen lines), its sections,
the annex that follows the billing mode, and the PDF rendered from frozen values only.

The PDF is not rendered in the issuing transaction: :func:`store_issued_pdf` renders it after that
commit, in no write transaction, and stores it in a short one of its own; whatever needs the bytes
reads them through :func:`quote_pdf`, which renders and stores them when that step failed or was
skipped (every render slot busy, :mod:`app.render_slots`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from app.money import ZERO, Totals
from app.pdf import render_pdf
from app.stored_pdf import store_after_commit, stored_pdf
from offers import pricing
from offers.models import (
    BillingMode,
    Quote,
    QuoteLine,
)


def quote_billing_mode(quote: Quote) -> BillingMode:
    return BillingMode(
        quote.snapshot.get("event", {}).get("billing_mode", BillingMode.SINGLE_CONTRACTOR.value)
    )


def priced_lines(quote: Quote) -> list[pricing.Priced]:
    """The quote's frozen lines as :mod:`offers.pricing` adds them up (the fee has no actor)."""
    return [
        pricing.Priced(ql.net, ql.vat_rate, ql.organisation_id if ql.kind == "line" else None)
        for ql in quote.lines
    ]


def quote_totals(quote: Quote) -> Totals:
    """The quote's totals, by :func:`offers.pricing.totals` on its frozen lines."""
    return pricing.totals(priced_lines(quote), quote_billing_mode(quote))


def label_rate(rate: Decimal) -> str:
    from app.formatting import rate as fmt_rate

    return fmt_rate(rate)


# --- PDF -----------------------------------------------------------------------------------------


@dataclass
class LotSection:
    title: str
    category: str
    place: str
    starts_at: str | None
    ends_at: str | None
    actors: list[dict]
    lines: list[QuoteLine] = field(default_factory=list)
    subtotal: Decimal = ZERO


def quote_sections(quote: Quote) -> tuple[list[LotSection], list[QuoteLine]]:
    """Lines grouped by lot, in order, and the fee lines."""
    snap = quote.snapshot
    sections: dict[int, LotSection] = {}
    for lot in snap.get("lots", []):
        sections[lot["position"]] = LotSection(
            title=lot["title"],
            category=lot["category"],
            place=lot.get("place") or "",
            starts_at=lot.get("starts_at"),
            ends_at=lot.get("ends_at"),
            actors=[snap["actors"][a] for a in lot.get("actors", []) if a in snap.get("actors", {})],
        )
    fees = []
    for ql in sorted(quote.lines, key=lambda q: q.position):
        if ql.kind == "fee":
            fees.append(ql)
            continue
        section = sections.get(ql.lot_position)
        if section is not None:
            section.lines.append(ql)
            section.subtotal += ql.net
    return [sections[k] for k in sorted(sections)], fees


def party_details(card: dict) -> dict:
    """What a quote prints of a party frozen in its snapshot: SIRET, VAT number or the mention of
    its regime, one-line address."""
    address = " ".join(
        part for part in (card.get("address"), card.get("postal_code"), card.get("commune")) if part
    )
    return {
        "name": card.get("name") or "",
        "legal_form": card.get("legal_form") or "",
        "siret": card.get("siret"),
        "vat_number": card.get("vat_number"),
        "vat_mention": card.get("vat_mention"),
        "address": address,
    }


def members(quote: Quote) -> list[dict]:
    """Joint consortium: the groupement's members as frozen in the quote, each with its details and
    the lots it carries, by name; empty in single-contractor mode (the actors are suppliers)."""
    if quote_billing_mode(quote) != BillingMode.JOINT_CONSORTIUM:
        return []
    snap = quote.snapshot
    lots: dict[str, list[str]] = {}
    for lot in snap.get("lots", []):
        for actor in lot.get("actors", []):
            lots.setdefault(actor, []).append(lot["title"])
    rows = [
        {**party_details(card), "lots": lots.get(key, [])} for key, card in snap.get("actors", {}).items()
    ]
    return sorted(rows, key=lambda r: r["name"].lower())


def breakdown(quote: Quote) -> list[dict]:
    """The per-actor annex, which follows the billing mode.

    Joint consortium: one row per member (its SIRET, VAT number or exemption mention, address, and
    its net, VAT and gross as it will invoice them: VAT rounded per member by
    :func:`offers.pricing.totals_by_seller`), then the coordinator's fee; the rows add up exactly to
    the quote. Single contractor: an internal breakdown of the nets only (the coordinator sells
    everything, so no actor charges VAT to the client), then the fee; the nets add up to the quote's
    net."""
    mode = quote_billing_mode(quote)
    joint = mode == BillingMode.JOINT_CONSORTIUM
    actors = quote.snapshot.get("actors", {})
    per_seller = pricing.totals_by_seller(priced_lines(quote), mode) if joint else {}
    rows: dict[object, dict] = {}
    for ql in quote.lines:
        key = ql.organisation_id if ql.kind == "line" else None
        if key not in rows:
            card = actors.get(str(key), {}) if key is not None else quote.snapshot.get("coordinator", {})
            rows[key] = {
                **party_details(card),
                "name": ql.organisation_name
                if key is not None
                else _("Coordination (%(name)s)", name=ql.organisation_name),
                "is_fee": key is None,
                "net": ZERO,
            }
        rows[key]["net"] += ql.net
    for key, row in rows.items():
        if joint:
            seller_totals = per_seller[pricing.seller_key(mode, key)]
            row["vat"], row["gross"] = seller_totals.vat, seller_totals.gross
    return sorted(rows.values(), key=lambda r: (r["is_fee"], r["name"].lower()))


def purchase_order_on_file(quote: Quote) -> str:
    """The buyer's reference already known when the quote was issued, offered on its acceptance
    form: the event's purchase-order number, else the client's engagement number (Chorus Pro)."""
    snap = quote.snapshot or {}
    event, client = snap.get("event") or {}, snap.get("client") or {}
    return event.get("purchase_order_number") or client.get("engagement_number") or ""


def quote_annex(quote: Quote) -> list[dict] | None:
    """The annex when the quote carries one (chosen at issue): the same rows on the PDF and on the
    pages (the client's portal, the coordination's), from :func:`breakdown`; ``None`` otherwise."""
    return breakdown(quote) if quote.show_breakdown else None


def render_quote_pdf(quote: Quote) -> bytes:
    """Render the quote's PDF from its frozen values (never from live objects), in French."""
    sections, fees = quote_sections(quote)
    totals = quote_totals(quote)
    mentions = sorted({ql.vat_mention for ql in quote.lines if ql.vat_mention})
    with force_locale("fr"):
        html = render_template(
            "pdf/quote.html",
            quote=quote,
            snap=quote.snapshot,
            sections=sections,
            fees=fees,
            totals=totals,
            vat_mentions=mentions,
            breakdown=quote_annex(quote),
            members=members(quote),
        )
    return render_pdf(html)


def quote_pdf(quote: Quote) -> bytes:
    """The quote's PDF as issued: its stored bytes; when none are stored yet, rendered now from the
    frozen values (the same bytes issuing would have stored) and stored (:func:`app.stored_pdf.stored_pdf`:
    :class:`~app.render_slots.RenderBusy` when no render slot frees in time)."""
    return stored_pdf(
        quote,
        render_quote_pdf,
        _("Le PDF de ce devis est en cours de préparation : réessayez dans quelques instants."),
    )


def store_issued_pdf(quote: Quote) -> bool:
    """Right after issuing's commit (the session outside a transaction): render the new version's
    PDF in a read-only transaction (never holding SQLite's write lock) and store it in a short one,
    here or in a detached child (:func:`app.stored_pdf.store_after_commit`).

    Skipped when no render slot is free at once, and a failed render is logged, not raised: the
    quote is issued either way, and :func:`quote_pdf` renders its PDF at the first read. Returns
    whether this process stored it."""
    quote_id = sa.inspect(quote).identity[0]  # without reading the expired object again
    return store_after_commit(Quote, [quote_id], render_quote_pdf) == 1
