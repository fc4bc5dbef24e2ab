"""Charts drawn on the server as SVG: horizontal bars, stacked bars, a line over time.

No JavaScript, no CDN: each chart is an inline ``<figure>`` whose SVG carries a ``<title>`` and a
``<desc>`` (``role="img"``, ``aria-labelledby``), followed by the same figures as a table in a
``<details>`` element, so a screen reader (or anybody who wants the exact amounts) reads the data
rather than the drawing. Values are ``Decimal``; they are formatted by the caller's ``fmt`` (the app's
Babel filters: ``1 234,56 €``, ``12,5 %``), and turned into coordinates only for the drawing.

Every text is escaped (``markupsafe``): labels are names the users typed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from babel.numbers import format_compact_currency
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

#: Colours told apart by people with the common colour-vision deficiencies (Okabe–Ito), each at
#: least 3:1 against white; series are also named in the legend and the table.
PALETTE = ("#1d5c4d", "#d55e00", "#0072b2", "#cc79a7", "#8a6d00", "#56b4e9", "#009e73", "#6c3483")
#: Dash patterns of the lines, so the series of a line chart differ by more than their colour.
DASHES = ("", "6 4", "2 3", "10 3 2 3")

WIDTH = 400
FONT = 14
LABEL_MAX = 48

Formatter = Callable[[Decimal], str]


@dataclass(frozen=True)
class Link:
    href: str
    text: str


@dataclass(frozen=True)
class Rest:
    """What a chart with a ``limit`` says of the rows past it: one data-table row named ``label``
    summing them, and a link to the complete list."""

    label: str
    more: Link


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Decimal | None]


def compact_money(value: Decimal) -> str:
    """An axis label: ``12,5 k €`` (the language's own short form)."""
    return format_compact_currency(value, "EUR", locale=str(get_locale() or "fr"), fraction_digits=1)


def _num(value: float) -> str:
    """A coordinate, one decimal at most."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _short(label: str, limit: int = LABEL_MAX) -> str:
    label = str(label)
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _ratio(value: Decimal | None, top: Decimal) -> float:
    if value is None or top <= 0 or value <= 0:
        return 0.0
    return float(min(value / top, Decimal(1)))


def axis(value: Decimal, ticks: int = 4) -> tuple[Decimal, Decimal]:
    """A round axis for values up to ``value``: ``(top, step)``, the step being 1, 2, 2.5 or 5 × 10ⁿ
    and the top a multiple of it, with at most ``ticks`` steps (``(1, 0.25)`` for nothing)."""
    if value <= 0:
        return Decimal(1), Decimal("0.25")
    target = value / ticks
    exponent = target.adjusted()
    for scale in (exponent, exponent + 1):
        for base in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5)):
            step = base.scaleb(scale)
            if step >= target:
                top = step * (value / step).to_integral_value(rounding=ROUND_CEILING)
                return top, step
    raise AssertionError("unreachable")  # pragma: no cover


def _open(chart_id: str, title: str, desc: str, height: float) -> list[str]:
    return [
        f'<svg class="chart-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {_num(height)}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" font-size="{FONT}" '
        f'font-family="system-ui, sans-serif">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]


def _table(caption: str, head: Sequence[str], rows: Sequence[Sequence[str]], more: Link | None = None) -> str:
    parts = [
        '<details class="chart-data"><summary>',
        str(escape(_("Voir les données"))),
        '</summary><div class="table-responsive"><table class="table table-sm table-money">',
        f"<caption>{escape(caption)}</caption><thead><tr>",
    ]
    for index, cell in enumerate(head):
        css = ' class="num"' if index else ""
        parts.append(f'<th scope="col"{css}>{escape(cell)}</th>')
    parts.append("</tr></thead><tbody>")
    for row in rows:
        parts.append("<tr>")
        for index, cell in enumerate(row):
            if index == 0:
                parts.append(f'<th scope="row">{escape(cell)}</th>')
            else:
                parts.append(f'<td class="num">{escape(cell)}</td>')
        parts.append("</tr>")
    parts.append("</tbody></table></div>")
    if more is not None:
        parts.append(f'<p class="small mb-0"><a href="{escape(more.href)}">{escape(more.text)}</a></p>')
    parts.append("</details>")
    return "".join(parts)


def _figure(chart_id: str, svg: list[str], table: str, empty: bool) -> Markup:
    if empty:
        return Markup('<figure class="chart" id="{0}"><p class="text-muted mb-0">{1}</p></figure>').format(
            chart_id, _("Aucune donnée sur la période.")
        )
    # Every text inside was escaped where it was written; ``chart_id`` is the view's constant.
    body = f'<figure class="chart" id="{chart_id}">{"".join(svg)}</svg>{table}</figure>'
    return Markup(body)  # noqa: S704


def _legend(series_names: Sequence[str], y: float, lines: bool = False) -> tuple[list[str], float]:
    """The legend, wrapped over as many rows as needed; returns its parts and its height."""
    parts, x, row = [], 0.0, 0
    for index, name in enumerate(series_names):
        text = _short(name, 30)
        width = 26 + len(text) * FONT * 0.56
        if x and x + width > WIDTH:
            x, row = 0.0, row + 1
        top = y + row * (FONT + 10)
        colour = PALETTE[index % len(PALETTE)]
        if lines:
            dash = DASHES[index % len(DASHES)]
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line x1="{_num(x)}" y1="{_num(top + FONT / 2)}" x2="{_num(x + 18)}" '
                f'y2="{_num(top + FONT / 2)}" stroke="{colour}" stroke-width="3"{dash_attr}/>'
            )
        else:
            parts.append(
                f'<rect x="{_num(x)}" y="{_num(top + 1)}" width="14" height="{FONT - 2}" fill="{colour}"/>'
            )
        parts.append(f'<text x="{_num(x + 22)}" y="{_num(top + FONT - 2)}">{escape(text)}</text>')
        x += width + 12
    return parts, (row + 1) * (FONT + 10) if series_names else 0


def horizontal_bars(
    chart_id: str,
    title: str,
    desc: str,
    items: Sequence[tuple[str, Decimal]],
    fmt: Formatter,
    *,
    label_head: str = "",
    value_head: str = "",
    limit: int | None = None,
    rest: Rest | None = None,
) -> Markup:
    """One bar per item, its label above it and its value at its end; longest bar = largest value.
    With ``limit``, only the first ``limit`` items are drawn; the data table keeps them all, or with
    ``rest`` the first ``limit`` and one row summing the others, then the link to the whole list."""
    drawn = items[:limit] if limit is not None else items
    top = max((value for _label, value in items), default=Decimal(0))
    row = FONT + 4 + 16 + 10
    height = max(row * len(drawn), 1)
    svg = _open(chart_id, title, desc, height)
    for index, (label, value) in enumerate(drawn):
        y = index * row
        text = fmt(value)
        room = WIDTH - len(text) * FONT * 0.56 - 8
        width = max(room * _ratio(value, top), 1 if value > 0 else 0)
        svg.append(f"<g><title>{escape(label)} : {escape(text)}</title>")
        svg.append(f'<text x="0" y="{_num(y + FONT)}">{escape(_short(label))}</text>')
        svg.append(
            f'<rect x="0" y="{_num(y + FONT + 4)}" width="{_num(width)}" height="16" '
            f'fill="{PALETTE[0]}" rx="2"/>'
        )
        svg.append(
            f'<text x="{_num(width + 6)}" y="{_num(y + FONT + 17)}" fill="#212529">{escape(text)}</text></g>'
        )
    tabled = list(items)
    more = None
    if rest is not None and limit is not None and len(items) > limit:
        tabled = [*items[:limit], (rest.label, sum((value for _label, value in items[limit:]), Decimal(0)))]
        more = rest.more
    table = _table(title, [label_head, value_head], [(label, fmt(value)) for label, value in tabled], more)
    return _figure(chart_id, svg, table, not items)


def stacked_bars(
    chart_id: str,
    title: str,
    desc: str,
    rows: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter,
    *,
    row_head: str = "",
    total_head: str | None = None,
    limit: int | None = None,
    rest: Rest | None = None,
) -> Markup:
    """One horizontal bar per row, made of one segment per series; the longest bar is the largest
    row total. Series values are aligned with ``rows`` (``None`` counts as zero). With ``limit``,
    only the first ``limit`` rows are drawn; the data table keeps them all, or with ``rest`` the
    first ``limit`` and one row summing the others, then the link to the whole list."""
    totals = [sum((s.values[i] or Decimal(0) for s in series), Decimal(0)) for i in range(len(rows))]
    top = max(totals, default=Decimal(0))
    drawn = rows[:limit] if limit is not None else rows
    legend, legend_height = _legend([s.name for s in series], 0)
    row = FONT + 4 + 18 + 10
    height = legend_height + 6 + row * len(drawn)
    svg = _open(chart_id, title, desc, height)
    svg.extend(legend)
    room = WIDTH - 100
    for index, label in enumerate(drawn):
        y = legend_height + 6 + index * row
        total_text = fmt(totals[index])
        svg.append(f"<g><title>{escape(label)} : {escape(total_text)}</title>")
        svg.append(f'<text x="0" y="{_num(y + FONT)}">{escape(_short(label))}</text>')
        x = 0.0
        for number, one in enumerate(series):
            value = one.values[index] or Decimal(0)
            width = room * _ratio(value, top)
            if width <= 0:
                continue
            svg.append(
                f'<rect x="{_num(x)}" y="{_num(y + FONT + 4)}" width="{_num(width)}" height="18" '
                f'fill="{PALETTE[number % len(PALETTE)]}"><title>{escape(one.name)} : '
                f"{escape(fmt(value))}</title></rect>"
            )
            x += width
        svg.append(f'<text x="{_num(x + 6)}" y="{_num(y + FONT + 18)}">{escape(total_text)}</text></g>')
    head = [row_head, *(s.name for s in series)]
    if total_head is not None:
        head.append(total_head)
    tabled = [
        (label, [s.values[index] or Decimal(0) for s in series], totals[index])
        for index, label in enumerate(rows)
    ]
    more = None
    if rest is not None and limit is not None and len(rows) > limit:
        others = tabled[limit:]
        summed = [
            sum((values[n] for _label, values, _total in others), Decimal(0)) for n in range(len(series))
        ]
        tabled = [*tabled[:limit], (rest.label, summed, sum((total for *_x, total in others), Decimal(0)))]
        more = rest.more
    table_rows = []
    for label, values, total in tabled:
        cells = [label, *(fmt(value) for value in values)]
        if total_head is not None:
            cells.append(fmt(total))
        table_rows.append(cells)
    return _figure(chart_id, svg, _table(title, head, table_rows, more), not rows or not series)


def line_chart(
    chart_id: str,
    title: str,
    desc: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter,
    *,
    axis_fmt: Formatter | None = None,
    x_head: str = "",
    ceiling: Decimal | None = None,
) -> Markup:
    """A line per series over ``x_labels`` (months…), with a y axis from 0 to a round ceiling (or
    ``ceiling``, e.g. 1 for shares). ``None`` is a gap (no point drawn)."""
    axis_fmt = axis_fmt or fmt
    values = [v for s in series for v in s.values if v is not None]
    if ceiling is not None:
        top, step_value = ceiling, ceiling / 4
    else:
        top, step_value = axis(max(values, default=Decimal(0)))
    legend, legend_height = _legend([s.name for s in series], 0, lines=True)
    left, plot_top, plot_height = 96.0, legend_height + 10, 180.0
    bottom = plot_top + plot_height
    height = bottom + FONT + 14
    plot_width = WIDTH - left - 10
    count = max(len(x_labels), 1)
    step = plot_width / (count - 1) if count > 1 else 0.0

    def x_at(index: int) -> float:
        return left + (index * step if count > 1 else plot_width / 2)

    def y_at(value: Decimal) -> float:
        return bottom - plot_height * _ratio(value, top)

    svg = _open(chart_id, title, desc, height)
    svg.extend(legend)
    for tick in range(int(top / step_value) + 1):
        value = step_value * tick
        y = y_at(value) if tick else bottom
        svg.append(
            f'<line x1="{_num(left)}" y1="{_num(y)}" x2="{_num(WIDTH - 10)}" y2="{_num(y)}" '
            f'stroke="#ced4da" stroke-width="1"/>'
        )
        svg.append(
            f'<text x="{_num(left - 6)}" y="{_num(y + FONT / 3)}" text-anchor="end" fill="#51585e">'
            f"{escape(axis_fmt(value))}</text>"
        )
    every = max(1, -(-len(x_labels) // 6))  # at most 6 labels on the x axis
    for index, label in enumerate(x_labels):
        if index % every:
            continue
        svg.append(
            f'<text x="{_num(x_at(index))}" y="{_num(bottom + FONT + 6)}" text-anchor="middle" '
            f'fill="#51585e">{escape(_short(label, 12))}</text>'
        )
    for number, one in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        dash = DASHES[number % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        points = [(x_at(i), y_at(v), v, i) for i, v in enumerate(one.values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{_num(x)},{_num(y)}" for x, y, _v, _i in points)
            svg.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{dash_attr}/>'
            )
        for x, y, value, index in points:
            svg.append(
                f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3.5" fill="{colour}"><title>{escape(one.name)}, '
                f"{escape(x_labels[index])} : {escape(fmt(value))}</title></circle>"
            )
    rows = [
        [label, *("—" if s.values[i] is None else fmt(s.values[i]) for s in series)]
        for i, label in enumerate(x_labels)
    ]
    table = _table(title, [x_head, *(s.name for s in series)], rows)
    return _figure(chart_id, svg, table, not x_labels or not series)
