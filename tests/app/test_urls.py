"""URL patterns (app/urls.py): each URL is exactly the one ``url_for`` builds, under a sub-path too."""

from __future__ import annotations

import pytest
from flask import url_for

from app.urls import MARKER, url_pattern


@pytest.mark.parametrize("script_root", ["", "/maillage", "/a/b"])
@pytest.mark.parametrize(
    ("endpoint", "name"),
    [
        ("offers.line_edit", "line_id"),
        ("offers.lot_move", "lot_id"),
        ("offers.assignment_invite", "assignment_id"),
        ("directory.organisation_detail", "organisation_id"),
    ],
)
def test_a_pattern_builds_what_url_for_builds(app, script_root, endpoint, name):
    with app.test_request_context("/", base_url=f"http://localhost{script_root}/"):
        pattern = url_pattern(endpoint, name)
        for value in (1, 7, 42, 100_000, 2_147_483_647):
            assert pattern(value) == url_for(endpoint, **{name: value})
        assert pattern(3).startswith(script_root + "/")


def test_extra_values_go_where_url_for_puts_them(app):
    with app.test_request_context("/"):
        pattern = url_pattern("offers.lot_matching", "lot_id", q="traiteur")
        assert pattern(5) == url_for("offers.lot_matching", lot_id=5, q="traiteur")
        assert pattern(5).endswith("?q=traiteur")


def test_what_is_not_a_plain_id_is_left_to_url_for(app, monkeypatch):
    import app.urls as urls

    with app.test_request_context("/"):
        pattern = url_pattern("offers.line_edit", "line_id")
        asked = []
        monkeypatch.setattr(urls, "url_for", lambda *a, **kw: asked.append(kw) or url_for(*a, **kw))
        assert pattern(9) == "/lignes/9/modifier"
        assert asked == []
        for value in (-1, "12", True):
            assert pattern(value) == url_for("offers.line_edit", line_id=value)
        assert asked == [{"line_id": -1}, {"line_id": "12"}, {"line_id": True}]


def test_a_marker_seen_twice_falls_back_to_url_for(app):
    with app.test_request_context("/", base_url=f"http://localhost/{MARKER}/"):
        pattern = url_pattern("offers.line_edit", "line_id")
        assert pattern(8) == url_for("offers.line_edit", line_id=8) == f"/{MARKER}/lignes/8/modifier"
