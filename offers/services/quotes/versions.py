"""What changed between two versions of a quote."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _

from offers.models import (
    Quote,
    QuoteLine,
)

# --- differences between versions ----------------------------------------------------------------


@dataclass
class Change:
    kind: str  # added | removed | changed | total
    lot: str
    description: str
    details: list[str] = field(default_factory=list)


def diff_versions(old: Quote, new: Quote) -> list[Change]:
    """What changed from ``old`` to ``new``: lines added/removed, quantities, prices, VAT, actors."""
    from app.formatting import money, quantity, rate

    def key(ql: QuoteLine):
        return ("fee",) if ql.kind == "fee" else ("line", ql.source_line_id)

    before = {key(ql): ql for ql in old.lines}
    after = {key(ql): ql for ql in new.lines}
    changes: list[Change] = []
    for k, ql in after.items():
        if k not in before:
            changes.append(
                Change(
                    "added",
                    ql.lot_title,
                    ql.description,
                    [_("%(actor)s : %(net)s HT", actor=ql.organisation_name, net=money(ql.net))],
                )
            )
            continue
        prev = before[k]
        details = []
        if prev.description != ql.description:
            details.append(_("désignation : « %(a)s » → « %(b)s »", a=prev.description, b=ql.description))
        if prev.organisation_name != ql.organisation_name:
            details.append(_("acteur : %(a)s → %(b)s", a=prev.organisation_name, b=ql.organisation_name))
        if prev.quantity != ql.quantity or prev.unit != ql.unit:
            details.append(_("quantité : %(a)s → %(b)s", a=quantity(prev.quantity), b=quantity(ql.quantity)))
        if prev.unit_price != ql.unit_price:
            details.append(
                _("prix unitaire HT : %(a)s → %(b)s", a=money(prev.unit_price), b=money(ql.unit_price))
            )
        if prev.vat_rate != ql.vat_rate:
            details.append(_("TVA : %(a)s → %(b)s", a=rate(prev.vat_rate), b=rate(ql.vat_rate)))
        if prev.lot_title != ql.lot_title:
            details.append(_("lot : %(a)s → %(b)s", a=prev.lot_title, b=ql.lot_title))
        if details:
            changes.append(Change("changed", ql.lot_title, ql.description, details))
    for k, ql in before.items():
        if k not in after:
            changes.append(
                Change(
                    "removed",
                    ql.lot_title,
                    ql.description,
                    [_("%(actor)s : %(net)s HT", actor=ql.organisation_name, net=money(ql.net))],
                )
            )
    old_actors = {ql.organisation_name for ql in old.lines if ql.kind == "line"}
    new_actors = {ql.organisation_name for ql in new.lines if ql.kind == "line"}
    for name in sorted(new_actors - old_actors):
        changes.append(Change("changed", "", _("Nouvel acteur : %(name)s", name=name)))
    for name in sorted(old_actors - new_actors):
        changes.append(Change("changed", "", _("Acteur retiré : %(name)s", name=name)))
    if old.total_gross != new.total_gross:
        changes.append(
            Change(
                "total",
                "",
                _("Total TTC"),
                [_("%(a)s → %(b)s", a=money(old.total_gross), b=money(new.total_gross))],
            )
        )
    return changes
