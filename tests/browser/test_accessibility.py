"""axe-core (bundled by axe-playwright-python) on every main page, for each role, in both languages.

A serious or critical violation fails the test, listed with its page, rule and elements.
"""

from __future__ import annotations

import pytest

from .pages import ACCOUNTS, demo_ids, main_pages, new_page

pytestmark = pytest.mark.browser

BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def pages(live_app):
    return main_pages(demo_ids(live_app))


def violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"resultTypes": ["violations"]})
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in BLOCKING:
            targets = ", ".join(str(node["target"]) for node in violation["nodes"][:5])
            found.append(f"{violation['id']} ({violation['impact']}, {len(violation['nodes'])}) : {targets}")
    return found


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_no_serious_axe_violation_on_the_main_pages(browser, base_url, pages, role, lang):
    context, page = new_page(browser, base_url, role, lang)
    problems = {}
    for path in pages[role]:
        page.goto(f"{base_url}{path}")
        found = violations(page)
        if found:
            problems[path] = found
    context.close()
    if problems:
        pytest.fail("\n".join(f"{path} : {item}" for path, items in problems.items() for item in items))
