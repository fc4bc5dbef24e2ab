"""The keyboard alone: the focus is always visible, and after a failed submit it is on the first error.

Walks the login page, the coordinator's event page and form, and the actor's portal pages.
"""

from __future__ import annotations

import pytest

from .pages import demo_ids, new_page

pytestmark = pytest.mark.browser

FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return {
    id: el.id, tag: el.tagName, text: (el.innerText || el.value || '').trim().slice(0, 40),
    outline: style.outlineStyle, width: parseFloat(style.outlineWidth) || 0,
    visible: box.width > 0 && box.height > 0,
  };
}"""


def tab_through(page, count: int) -> list[dict]:
    """Press Tab ``count`` times; what had the focus each time, and how it showed."""
    seen = []
    for _ in range(count):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(FOCUSED))
    return seen


def assert_focus_visible(seen: list[dict]) -> None:
    hidden = [
        f
        for f in seen
        if f["tag"] != "BODY" and not (f["visible"] and f["outline"] != "none" and f["width"] >= 2)
    ]
    assert hidden == [], hidden


def test_login_by_keyboard_skip_link_visible_focus_and_first_error_focused(browser, base_url):
    context, page = new_page(browser, base_url, "visitor")
    page.goto(f"{base_url}/connexion")
    first = tab_through(page, 1)[0]
    assert first["text"] == "Aller au contenu" and first["visible"]
    seen = tab_through(page, 12)
    assert_focus_visible(seen)
    # Fill the e-mail only and submit with Enter: the password is missing.
    page.focus("#email")
    page.keyboard.type("coordination@example.org")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    focused = page.evaluate(FOCUSED)
    assert focused["id"] == "password"
    assert page.locator("#password").get_attribute("aria-invalid") == "true"
    assert page.title().startswith("Erreur :")
    summary = page.get_by_role("alert")
    assert "Le formulaire contient 1 erreur" in summary.inner_text()
    assert (
        page.locator(".required-note").inner_text()
        == "Les champs marqués d'un astérisque (*) sont obligatoires."
    )
    # The summary's link brings the focus back to the field.
    summary.get_by_role("link").first.focus()
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED)["id"] == "password"
    context.close()


def test_event_page_and_form_by_keyboard(browser, base_url, live_app):
    ids = demo_ids(live_app)
    context, page = new_page(browser, base_url, "coordinator")
    page.goto(f"{base_url}/evenements/{ids.event}")
    seen = tab_through(page, 40)
    assert_focus_visible(seen)
    # The navbar's links are among them, with the yellow ring that shows on the dark green.
    assert any(f["text"] == "Événements" for f in seen)
    page.goto(f"{base_url}/evenements/{ids.event}/modifier")
    page.fill("#title", "")
    page.focus("#title")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED)["id"] == "title"
    assert page.title().startswith("Erreur :")
    assert page.get_by_role("alert").count() >= 1
    context.close()


def test_portal_pages_by_keyboard(browser, base_url, live_app):
    ids = demo_ids(live_app)
    context, page = new_page(browser, base_url, "actor")
    for path in ("/portail/lots", f"/portail/affectations/{ids.assignment}", "/ma-fiche"):
        page.goto(f"{base_url}{path}")
        assert_focus_visible(tab_through(page, 25))
    context.close()
    # An actor asks for a sign-in link with a malformed address: the focus is on the field.
    context, page = new_page(browser, base_url, "visitor")
    page.goto(f"{base_url}/connexion/lien")
    page.focus("#email")
    page.keyboard.type("pas-une-adresse")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED)["id"] == "email"
    assert page.locator("#email").get_attribute("aria-invalid") == "true"
    context.close()
