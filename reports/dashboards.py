"""What each dashboard shows: the aggregates of :mod:`reports.aggregates` drawn by
:mod:`reports.charts`, formatted the app's way (``app.formatting``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel.dates import get_month_names
from flask import url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from app.dates import to_local
from app.formatting import date_short, money, rate
from app.labels import label
from app.money import ZERO
from reports import aggregates as ag
from reports import charts

#: At most this many actors (clients, events) drawn as bars or listed in a table; the others are
#: summed in one row, and the whole list is a CSV file (:func:`export`). A network's every actor
#: or client, or every event of a year, would make the page grow with the data: a dashboard shows
#: who counts most and the totals, the file gives the rest.
TOP_ROWS = 20


def _top_note(count: int) -> str:
    if count <= TOP_ROWS:
        return ""
    return " " + _(
        "Le graphique montre les %(top)s premiers ; le tableau des données les donne avec le total des "
        "autres, la liste complète se télécharge.",
        top=TOP_ROWS,
    )


def _rest(count: int, label: str, endpoint: str, table: str, year: int | None) -> charts.Rest:
    """The row named ``label`` summing the rows past :data:`TOP_ROWS` of ``count``, and the link to
    the whole list."""
    return charts.Rest(
        label=label,
        more=charts.Link(
            url_for(endpoint, table=table, annee=year),
            _("Télécharger la liste complète (%(count)s lignes, CSV)", count=count),
        ),
    )


def month_labels() -> list[str]:
    names = get_month_names("abbreviated", locale=str(get_locale() or "fr"))
    return [names[m] for m in range(1, 13)]


def _share(part: Decimal, whole: Decimal) -> Decimal:
    return (part / whole).quantize(Decimal("0.0001")) if whole else ZERO


def work(period: ag.Period) -> dict:
    """Money per actor and category, the QPV share and legal forms over the months, how evenly the
    work is spread, first-time collaborations (coordination and admin)."""
    split = ag.work_by_actor(period)
    actors, qpv, forms = split.actors, split.qpv, split.legal_forms
    categories = ag.per_category(period)
    pairs = ag.pairs_per_event(period)
    amounts = [a.amount for a in actors]
    total = sum(amounts, ZERO)
    qpv_total = sum((a.amount for a in actors if a.qpv), ZERO)
    months = month_labels()
    actor_chart = charts.horizontal_bars(
        "chart-actors",
        _("Montants HT par acteur, %(year)s", year=period.year),
        _(
            "%(count)s acteurs ont reçu %(total)s HT ; le premier, %(first)s, %(amount)s.",
            count=len(actors),
            total=money(total),
            first=actors[0].name if actors else "—",
            amount=money(actors[0].amount) if actors else "—",
        )
        + _top_note(len(actors)),
        [(a.name, a.amount) for a in actors],
        money,
        label_head=_("Acteur"),
        value_head=_("Montant HT"),
        limit=TOP_ROWS,
        rest=_rest(
            len(actors),
            ngettext("L'autre acteur", "Les %(num)s autres acteurs", len(actors) - TOP_ROWS),
            "reports.coordination_table",
            "acteurs",
            period.year,
        ),
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
    # The events with the most first-time pairs (then the most pairs), shown in date order.
    shown = sorted(pairs, key=lambda p: (-p.first_time, -p.pairs, p.starts_at, p.event_id))[:TOP_ROWS]
    shown.sort(key=lambda p: (p.starts_at, p.event_id))
    pairs_rest = None
    if len(pairs) > TOP_ROWS:
        kept = {p.event_id for p in shown}
        others = [p for p in pairs if p.event_id not in kept]
        pairs_rest = {
            "label": ngettext("L'autre événement", "Les %(num)s autres événements", len(others)),
            "pairs": sum(p.pairs for p in others),
            "first_time": sum(p.first_time for p in others),
            "more": charts.Link(
                url_for("reports.coordination_table", table="collaborations", annee=period.year),
                _("Télécharger la liste complète (%(count)s lignes, CSV)", count=len(pairs)),
            ),
        }
    by_form = []
    for key in form_keys:
        amount = sum(forms.series(key), ZERO)
        by_form.append((str(label(key)), amount, _share(amount, total)))
    return {
        "actors": actors,
        "total": total,
        "qpv_total": qpv_total,
        "qpv_share": _share(qpv_total, total),
        "qpv_actor_count": sum(1 for a in actors if a.qpv),
        "gini": ag.as_rate(ag.gini(amounts)),
        "top3": ag.as_rate(ag.top_share(amounts)),
        "top3_names": [a.name for a in actors[:3]],
        "pairs": shown,
        "pairs_rest": pairs_rest,
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
        _("%(count)s clients doivent %(total)s TTC.", count=len(owed), total=money(outstanding))
        + _top_note(len(owed)),
        [c.name for c in owed],
        [charts.Series(labels[b], [c.buckets.get(b, ZERO) for c in owed]) for b in ag.AGE_BUCKETS],
        money,
        row_head=_("Client"),
        total_head=_("Total"),
        limit=TOP_ROWS,
        rest=_rest(
            len(owed),
            ngettext("L'autre client", "Les %(num)s autres clients", len(owed) - TOP_ROWS),
            "reports.treasury_table",
            "creances",
            None,
        ),
    )
    payout_chart = charts.stacked_bars(
        "chart-payouts",
        _("Reversements aux acteurs, événements de %(year)s", year=period.year),
        _(
            "Reversé : %(paid)s ; reste à reverser : %(due)s.",
            paid=money(sum((p.paid for p in payouts), ZERO)),
            due=money(sum((p.due for p in payouts), ZERO)),
        )
        + _top_note(len(payouts)),
        [p.name for p in payouts],
        [
            charts.Series(_("Reversé"), [p.paid for p in payouts]),
            charts.Series(_("À reverser"), [p.due for p in payouts]),
        ],
        money,
        row_head=_("Acteur"),
        total_head=_("Total"),
        limit=TOP_ROWS,
        rest=_rest(
            len(payouts),
            ngettext("L'autre acteur", "Les %(num)s autres acteurs", len(payouts) - TOP_ROWS),
            "reports.treasury_table",
            "reversements",
            period.year,
        ),
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


# --- the whole lists, as CSV ---------------------------------------------------------------------


def table(name: str, period: ag.Period, today: date) -> tuple[str, list[str], list[list]]:
    """The complete list behind a dashboard table that shows its first :data:`TOP_ROWS`: a file
    name, the headers and the rows (typed cells for :func:`app.spreadsheets.write_csv`)."""
    if name == "acteurs":
        rows = [
            [
                a.name,
                str(label(a.legal_form)),
                a.neighbourhood,
                _("Oui") if a.qpv else _("Non"),
                a.events,
                a.amount,
            ]
            for a in ag.work_by_actor(period).actors
        ]
        head = [_("Acteur"), _("Forme juridique"), _("Quartier ou commune"), _("En QPV"), _("Événements")]
        return f"acteurs-{period.year}", [*head, _("Montant HT")], rows
    if name == "collaborations":
        rows = [
            [p.title, to_local(p.starts_at).date(), p.pairs, p.first_time] for p in ag.pairs_per_event(period)
        ]
        head = [_("Événement"), _("Date"), _("Paires d'acteurs"), _("Dont premières fois")]
        return f"collaborations-{period.year}", head, rows
    if name == "reversements":
        rows = [[p.name, p.paid, p.due, p.paid + p.due] for p in ag.payouts_per_actor(period)]
        return f"reversements-{period.year}", [_("Acteur"), _("Reversé"), _("À reverser"), _("Total")], rows
    if name == "creances":
        labels = bucket_labels()
        rows = [
            [c.name, *(c.buckets.get(b, ZERO) for b in ag.AGE_BUCKETS), c.total]
            for c in ag.receivables(today)
        ]
        head = [_("Client"), *(labels[b] for b in ag.AGE_BUCKETS), _("Total")]
        return f"creances-{today.isoformat()}", head, rows
    raise ValueError(name)
