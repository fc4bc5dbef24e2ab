"""The SVG charts: well-formed, accessible (title, desc, a data table), proportional, escaped, French."""

from __future__ import annotations

import re
from decimal import Decimal as D
from xml.etree import ElementTree as ET

import pytest
from flask_babel import force_locale

from app.formatting import money, rate
from reports import charts

SVG = "{http://www.w3.org/2000/svg}"


def svg_of(markup) -> ET.Element:
    match = re.search(r"<svg.*</svg>", str(markup), re.S)
    assert match, "no svg"
    return ET.fromstring(match.group(0))  # noqa: S314 - our own output


def table_cells(markup) -> list[list[str]]:
    body = re.search(r"<tbody>(.*)</tbody>", str(markup), re.S).group(1)
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


@pytest.fixture
def fr(app):
    with app.test_request_context(), force_locale("fr"):
        yield


def test_horizontal_bars_are_proportional_and_accessible(fr):
    items = [("Ecos", D("4200.00")), ("Kenja", D("1050.00")), ("Rien", D("0.00"))]
    markup = charts.horizontal_bars("c1", "Par acteur", "Montants HT par acteur", items, money)
    root = svg_of(markup)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Par acteur"
    assert root.find(f"{SVG}desc").text == "Montants HT par acteur"
    widths = [float(rect.get("width")) for rect in root.iter(f"{SVG}rect")]
    assert widths[0] / widths[1] == pytest.approx(4, rel=1e-3)
    assert widths[2] == 0
    assert table_cells(markup) == [
        ["Ecos", "4\u202f200,00\xa0€"],
        ["Kenja", "1\u202f050,00\xa0€"],
        ["Rien", "0,00\xa0€"],
    ]


def test_labels_are_escaped(fr):
    markup = str(charts.horizontal_bars("c2", "<b>t</b>", "d", [("<script>x</script>", D("1"))], money))
    assert "<script>" not in markup and "&lt;script&gt;" in markup and "<b>" not in markup
    svg_of(markup)  # still well-formed


def test_long_labels_are_shortened_in_the_drawing_but_whole_in_the_table(fr):
    name = "Association pour le développement des circuits courts de l'agglomération nantaise"
    markup = charts.horizontal_bars("c3", "t", "d", [(name, D("10"))], money)
    texts = [t.text for t in svg_of(markup).iter(f"{SVG}text")]
    assert texts[0] == "Association pour le développement des circuits…"
    assert table_cells(markup)[0][0] == name.replace("'", "&#39;")


def test_stacked_bars_segments_add_up_to_the_longest_row(fr):
    series = [charts.Series("QPV", [D("30"), D("10")]), charts.Series("Hors QPV", [D("70"), None])]
    markup = charts.stacked_bars("c4", "t", "d", ["Avril", "Mai"], series, money, total_head="Total")
    root = svg_of(markup)
    segments = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    widths = [float(r.get("width")) for r in segments]
    assert len(widths) == 3  # the empty segment is not drawn
    assert widths[0] + widths[1] == pytest.approx(charts.WIDTH - 100, abs=0.2)
    assert widths[2] == pytest.approx((charts.WIDTH - 100) / 10, abs=0.2)
    assert table_cells(markup) == [
        ["Avril", "30,00\xa0€", "70,00\xa0€", "100,00\xa0€"],
        ["Mai", "10,00\xa0€", "0,00\xa0€", "10,00\xa0€"],
    ]


def test_line_chart_points_and_gaps(fr):
    series = [charts.Series("Part QPV", [D("0.5"), None, D("0.25")])]
    markup = charts.line_chart("c5", "t", "d", ["janv.", "févr.", "mars"], series, rate, ceiling=D(1))
    root = svg_of(markup)
    circles = list(root.iter(f"{SVG}circle"))
    assert len(circles) == 2
    ys = [float(c.get("cy")) for c in circles]
    bottom = ys[0] + 90  # 0.5 of a 180-high plot
    assert ys[1] == pytest.approx(bottom - 45)
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"] == [
        "0%",
        "25%",
        "50%",
        "75%",
        "100%",
    ]
    assert table_cells(markup) == [["janv.", "50%"], ["févr.", "—"], ["mars", "25%"]]


def test_nothing_to_draw_says_so(fr):
    markup = str(charts.horizontal_bars("c6", "t", "d", [], money))
    assert "<svg" not in markup and "Aucune donnée sur la période." in markup


@pytest.mark.parametrize(
    ("value", "top", "step"),
    [
        (D("0"), D("1"), D("0.25")),
        (D("7"), D("8"), D("2")),
        (D("21864.30"), D("30000"), D("10000")),
        (D("12512.00"), D("15000"), D("5000")),
        (D("0.45"), D("0.6"), D("0.2")),
        (D("4000"), D("4000"), D("1000")),
        (D("4001"), D("6000"), D("2000")),
    ],
)
def test_round_axes(value, top, step):
    assert charts.axis(value) == (top, step)


def test_axis_amounts_are_short(fr):
    assert [charts.compact_money(D(v)) for v in ("0", "2500", "20000")] == [
        "0\xa0€",
        "2,5\xa0k\xa0€",
        "20\xa0k\xa0€",
    ]


def test_a_limit_draws_the_first_rows_and_tables_them_all(fr):
    items = [(f"Acteur {n}", D(100 - n)) for n in range(30)]
    markup = charts.horizontal_bars("c7", "t", "d", items, money, limit=20)
    assert len(list(svg_of(markup).iter(f"{SVG}rect"))) == 20
    assert len(table_cells(markup)) == 30
    series = [charts.Series("A", [D(1)] * 30)]
    stacked = charts.stacked_bars("c8", "t", "d", [f"R{n}" for n in range(30)], series, money, limit=20)
    assert len([r for r in svg_of(stacked).iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]) == 20
    assert len(table_cells(stacked)) == 30


def test_a_limit_with_a_rest_tables_the_first_rows_and_sums_the_others(fr):
    rest = charts.Rest("Les 10 autres", charts.Link("/liste.csv?annee=2011&x=<1>", "Toute la liste"))
    items = [(f"Acteur {n}", D(100 - n)) for n in range(30)]
    markup = charts.horizontal_bars("c9", "t", "d", items, money, limit=20, rest=rest)
    assert len(list(svg_of(markup).iter(f"{SVG}rect"))) == 20
    cells = table_cells(markup)
    assert len(cells) == 21 and cells[19] == ["Acteur 19", "81,00\xa0€"]
    assert cells[20] == ["Les 10 autres", "755,00\xa0€"]  # 80 + 79 + … + 71
    assert '<a href="/liste.csv?annee=2011&amp;x=&lt;1&gt;">Toute la liste</a>' in str(markup)
    series = [charts.Series("A", [D(n) for n in range(30)]), charts.Series("B", [None, *[D(1)] * 29])]
    stacked = charts.stacked_bars(
        "c10", "t", "d", [f"R{n}" for n in range(30)], series, money, total_head="Total", limit=20, rest=rest
    )
    cells = table_cells(stacked)
    assert len(cells) == 21 and cells[0] == ["R0", "0,00\xa0€", "0,00\xa0€", "0,00\xa0€"]
    assert cells[20] == ["Les 10 autres", "245,00\xa0€", "10,00\xa0€", "255,00\xa0€"]  # 20 + … + 29
    # Up to the limit, nothing is summed and there is no link.
    few = charts.horizontal_bars("c11", "t", "d", items[:20], money, limit=20, rest=rest)
    assert len(table_cells(few)) == 20 and "Toute la liste" not in str(few)
