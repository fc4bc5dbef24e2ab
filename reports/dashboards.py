"""What each dashboard shows: the aggregates of :mod:`reports.aggregates` drawn by
:mod:`reports.charts`, formatted the app's way (``app.formatting``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel.dates import get_month_names
from flask_babel import get_locale
from flask_babel import gettext as _

from app.formatting import date_short, money, rate
from app.labels import label
from app.money import ZERO
from reports import aggregates as ag
from reports import charts

#: At most this many actors drawn as bars; the table under the chart keeps them all.
TOP_ACTORS = 15


def month_labels() -> list[str]:
    names = get_month_names("abbreviated", locale=str(get_locale() or "fr"))
    return [names[m] for m in range(1, 13)]


def _share(part: Decimal, whole: Decimal) -> Decimal:
    return (part / whole).quantize(Decimal("0.0001")) if whole else ZERO


def work(period: ag.Period) -> dict:
    """Money per actor and category, the QPV share and legal forms over the months, how evenly the
    work is spread, first-time collaborations (coordination and admin)."""
    actors = ag.per_actor(period)
    categories = ag.per_category(period)
    qpv = ag.by_month(period, "qpv")
    forms = ag.by_month(period, "legal_form")
    pairs = ag.pairs_per_event(period)
    amounts = [a.amount for a in actors]
    total = sum(amounts, ZERO)
    qpv_total = sum((a.amount for a in actors if a.qpv), ZERO)
    months = month_labels()
    shown = actors[:TOP_ACTORS]
    actor_chart = charts.horizontal_bars(
        "chart-actors",
        _("Montants HT par acteur, %(year)s", year=period.year),
        _(
            "%(count)s acteurs ont reçu %(total)s HT ; le premier, %(first)s, %(amount)s.",
            count=len(actors),
            total=money(total),
            first=actors[0].name if actors else "—",
            amount=money(actors[0].amount) if actors else "—",
        ),
        [(a.name, a.amount) for a in actors],
        money,
        label_head=_("Acteur"),
        value_head=_("Montant HT"),
    )
    category_chart = charts.horizontal_bars(
        "chart-categories",
        _("Montants HT par catégorie, %(year)s", year=period.year),
        _("%(count)s catégories de lots, %(total)s HT au total.", count=len(categories), total=money(total)),
        categories,
        money,
        label_head=_("Catégorie"),
        value_head=_("Montant HT"),
    )
    active = [m for m in range(1, 13) if qpv.total(m)]
    qpv_line = charts.line_chart(
        "chart-qpv",
        _("Part des montants allant aux acteurs des quartiers prioritaires, par mois"),
        _(
            "Sur l'année, %(share)s des montants sont allés à des acteurs implantés en QPV.",
            share=rate(_share(qpv_total, total)),
        ),
        months,
        [
            charts.Series(
                _("Part QPV"),
                [
                    (_share(qpv.series("qpv")[m - 1], qpv.total(m)) if m in active else None)
                    for m in range(1, 13)
                ],
            )
        ],
        rate,
        x_head=_("Mois"),
        ceiling=Decimal(1),
    )
    money_line = charts.line_chart(
        "chart-months",
        _("Montants HT par mois de l'événement"),
        _("En quartier prioritaire et hors quartier prioritaire, mois par mois."),
        months,
        [
            charts.Series(_("En QPV"), qpv.series("qpv")),
            charts.Series(_("Hors QPV"), qpv.series("other")),
        ],
        money,
        axis_fmt=charts.compact_money,
        x_head=_("Mois"),
    )
    form_keys = forms.keys
    form_chart = charts.stacked_bars(
        "chart-forms",
        _("Montants HT par forme juridique et par mois"),
        _("Chaque barre est un mois, découpée par forme juridique des acteurs."),
        [months[m - 1] for m in active],
        [charts.Series(str(label(key)), [forms.series(key)[m - 1] for m in active]) for key in form_keys],
        money,
        row_head=_("Mois"),
        total_head=_("Total"),
    )
    by_form = []
    for key in form_keys:
        amount = sum(forms.series(key), ZERO)
        by_form.append((str(label(key)), amount, _share(amount, total)))
    return {
        "actors": actors,
        "shown_actors": shown,
        "total": total,
        "qpv_total": qpv_total,
        "qpv_share": _share(qpv_total, total),
        "qpv_actor_count": sum(1 for a in actors if a.qpv),
        "gini": ag.as_rate(ag.gini(amounts)),
        "top3": ag.as_rate(ag.top_share(amounts)),
        "top3_names": [a.name for a in actors[:3]],
        "pairs": pairs,
        "pairs_total": sum(p.pairs for p in pairs),
        "first_time_total": sum(p.first_time for p in pairs),
        "by_form": by_form,
        "charts": {
            "actors": actor_chart,
            "categories": category_chart,
            "qpv": qpv_line,
            "months": money_line,
            "forms": form_chart,
        },
    }


def bucket_labels() -> dict[str, str]:
    return {
        "not_due": _("Pas encore échu"),
        "1_30": _("1 à 30 jours de retard"),
        "31_60": _("31 à 60 jours"),
        "61_90": _("61 à 90 jours"),
        "over_90": _("Plus de 90 jours"),
    }


def treasury(period: ag.Period, today: date) -> dict:
    """Billed and collected over the months, receivables by client and age, payouts per actor
    (treasury and admin)."""
    money_in = ag.treasury(period)
    owed = ag.receivables(today)
    payouts = ag.payouts_per_actor(period)
    labels = bucket_labels()
    months = month_labels()
    outstanding = sum((c.total for c in owed), ZERO)
    by_age = [(labels[b], sum((c.buckets.get(b, ZERO) for c in owed), ZERO)) for b in ag.AGE_BUCKETS]
    flow = charts.line_chart(
        "chart-cash",
        _("Facturé et encaissé par mois, %(year)s", year=period.year),
        _(
            "Facturé TTC (avoirs déduits) : %(billed)s ; encaissé : %(collected)s.",
            billed=money(money_in.billed),
            collected=money(money_in.collected),
        ),
        months,
        [
            charts.Series(_("Facturé TTC"), money_in.billed_by_month),
            charts.Series(_("Encaissé"), money_in.collected_by_month),
        ],
        money,
        axis_fmt=charts.compact_money,
        x_head=_("Mois"),
    )
    receivable_chart = charts.stacked_bars(
        "chart-receivables",
        _("Créances clients par ancienneté, au %(day)s", day=date_short(today)),
        _("%(count)s clients doivent %(total)s TTC.", count=len(owed), total=money(outstanding)),
        [c.name for c in owed],
        [charts.Series(labels[b], [c.buckets.get(b, ZERO) for c in owed]) for b in ag.AGE_BUCKETS],
        money,
        row_head=_("Client"),
        total_head=_("Total"),
    )
    payout_chart = charts.stacked_bars(
        "chart-payouts",
        _("Reversements aux acteurs, événements de %(year)s", year=period.year),
        _(
            "Reversé : %(paid)s ; reste à reverser : %(due)s.",
            paid=money(sum((p.paid for p in payouts), ZERO)),
            due=money(sum((p.due for p in payouts), ZERO)),
        ),
        [p.name for p in payouts],
        [
            charts.Series(_("Reversé"), [p.paid for p in payouts]),
            charts.Series(_("À reverser"), [p.due for p in payouts]),
        ],
        money,
        row_head=_("Acteur"),
        total_head=_("Total"),
    )
    return {
        "money": money_in,
        "owed": owed,
        "outstanding": outstanding,
        "by_age": by_age,
        "payouts": payouts,
        "today": today,
        "charts": {"cash": flow, "receivables": receivable_chart, "payouts": payout_chart},
    }
