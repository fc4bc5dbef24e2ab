"""Phones: no main page scrolls sideways at 390 and 320 px, in either language; screenshots at 390 px.

The screenshots of every main page, in French and English, are kept in ``test-artifacts/phone/``.
"""

from __future__ import annotations

import pytest

from .pages import ACCOUNTS, demo_ids, main_pages, new_page
from .test_foundation_journey import ARTIFACTS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def pages(live_app):
    return main_pages(demo_ids(live_app))


def shot_name(role: str, lang: str, path: str) -> str:
    slug = path.strip("/").replace("/", "_") or "accueil"
    return f"{role}-{lang}-{slug}.png"


@pytest.mark.parametrize("width", [390, 320])
@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_no_main_page_scrolls_sideways_on_a_phone(browser, base_url, pages, role, lang, width):
    context, page = new_page(browser, base_url, role, lang, width=width, height=844)
    too_wide = {}
    for path in pages[role]:
        page.goto(f"{base_url}{path}")
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll > inner:
            too_wide[path] = scroll
        if width == 390:
            folder = ARTIFACTS / "phone"
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / shot_name(role, lang, path)), full_page=True)
    context.close()
    assert too_wide == {}, f"wider than {width} px: {too_wide}"
