"""The English interface: no French sentence of the catalogue is left on the main pages of each role.

Every French msgid (its literal parts of 12 characters or more) is looked for in the English pages'
text, content marked ``lang="fr"`` (what users wrote: lot texts, old history entries) excepted.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .pages import ACCOUNTS, demo_ids, main_pages, new_page

pytestmark = pytest.mark.browser

CATALOGUE = Path(__file__).resolve().parents[2] / "translations" / "en" / "LC_MESSAGES" / "messages.po"

ENGLISH_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('[lang="fr"], script, style').forEach((el) => el.remove());
  return body.innerText;
}"""


def french_chunks() -> set[str]:
    from babel.messages.pofile import read_po

    with open(CATALOGUE, "rb") as handle:
        catalogue = read_po(handle, locale="en")
    chunks = set()
    for message in catalogue:
        if not message.id or message.pluralizable:
            continue
        english = message.string if isinstance(message.string, str) else ""
        for chunk in re.split(r"%\(\w+\)[sd]|\{\w*\}", message.id):
            chunk = chunk.strip(" :;,.«»()—-")
            if len(chunk) >= 12 and chunk not in english:
                chunks.add(chunk)
    return chunks


@pytest.fixture(scope="module")
def pages(live_app):
    return main_pages(demo_ids(live_app))


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_no_french_sentence_left_in_the_english_interface(browser, base_url, pages, role):
    chunks = french_chunks()
    context, page = new_page(browser, base_url, role, "en")
    found = {}
    for path in pages[role]:
        page.goto(f"{base_url}{path}")
        assert page.locator("html").get_attribute("lang") == "en"
        text = " ".join(page.evaluate(ENGLISH_TEXT).split())
        left = sorted(chunk for chunk in chunks if chunk in text)
        if left:
            found[path] = left
    context.close()
    assert found == {}
