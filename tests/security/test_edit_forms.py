"""Every edit form carries the version check (optimistic locking, ``app/locking.py``).

The pages that take both GET and POST are listed from the application itself: each is either an
edit form of a stored object, tried below, or named with the reason it is not one. A new page must
be classified here, so an edit form added without the check fails this test.

For each edit form: user A loads it, user B saves the same object, A saves. A must get a 409 with
the French message, A's input still in the form, and B's value still stored.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import Chain, VatRegime
from tests.app.test_directory_exchange import make_siret
from tests.offers.test_portal import site  # noqa: F401  (fixture)

#: GET+POST pages that edit no stored object with a form of its values, and why.
NOT_EDIT_FORMS = {
    "auth.login": "logs in",
    "auth.magic_link_request": "stores a login-link request",
    "auth.magic_link": "uses a login link once (conditional update)",
    "auth.password_change": "the current password is its check; the change is a conditional update",
    "auth.password_reset": "a one-time link (its fingerprint changes with the password)",
    "directory.import_upload": "an upload: its preview is checked again at confirmation",
    "directory.category_list": "creates a category",
    "directory.organisation_new": "creates a card",
    "directory.chain_new": "creates a chain",
    "directory.chain_delete": "confirms a deletion",
    "offers.client_new": "creates a client",
    "offers.event_new": "creates an event",
    "offers.event_duplicate": "creates a copy of an event",
    "offers.lot_new": "creates a lot",
    "offers.line_new": "creates a line",
    "offers.portal_line_new": "creates a line",
    "offers.quote_issue": "issues a new version, once per form (its one-time token)",
    "offers.quote_portal": "the client's one-shot answer (conditional update)",
    "offers.client_quote": "the client's one-shot answer (conditional update)",
}


@dataclass
class EditForm:
    #: "coordinator", or "actor" for the actor's own pages (the crew of the ``site`` fixture)
    who: str
    #: the object edited, from the ``site`` fixture
    target: Callable
    #: the URL of its edit page
    url: Callable
    #: a text field of the form, and the attribute it sets
    field: str
    attribute: str


def _chain(site):  # noqa: F811
    chain = getattr(site, "chain", None)
    if chain is None:
        chain = Chain(name="Chaîne du livre", slug="chaine-du-livre", description="")
        db.session.add(chain)
        db.session.flush()
        site.chain = chain
    return chain


def _card(site):  # noqa: F811
    """A card whose stored values all pass the form (the factory's SIRET and VAT number do not)."""
    site.cook.vat_regime, site.cook.vat_number, site.cook.siret = VatRegime.EXEMPT, None, make_siret(7)
    return site.cook


EDIT_FORMS = {
    "directory.organisation_edit": EditForm(
        "coordinator", _card, lambda o: f"/acteurs/{o.id}/modifier", "name", "name"
    ),
    "directory.my_card": EditForm(
        "actor", lambda s: s.crew, lambda o: "/ma-fiche", "description", "description"
    ),
    "directory.category_edit": EditForm(
        "coordinator", lambda s: s.lunch.category, lambda o: f"/categories/{o.id}/modifier", "name", "name"
    ),
    "directory.chain_edit": EditForm(
        "coordinator", _chain, lambda o: f"/chaines/{o.id}/modifier", "name", "name"
    ),
    "offers.client_edit": EditForm(
        "coordinator", lambda s: s.event.client, lambda o: f"/clients/{o.id}/modifier", "name", "name"
    ),
    "offers.event_edit": EditForm(
        "coordinator", lambda s: s.event, lambda o: f"/evenements/{o.id}/modifier", "title", "title"
    ),
    "offers.lot_edit": EditForm(
        "coordinator", lambda s: s.lunch, lambda o: f"/lots/{o.id}/modifier", "title", "title"
    ),
    "offers.line_edit": EditForm(
        "coordinator",
        lambda s: s.crew_line,
        lambda o: f"/lignes/{o.id}/modifier",
        "description",
        "description",
    ),
    "offers.portal_line_edit": EditForm(
        "actor",
        lambda s: s.crew_line,
        lambda o: f"/portail/lignes/{o.id}/modifier",
        "description",
        "description",
    ),
}


def test_every_page_taking_a_form_is_classified(app):
    pages = {rule.endpoint for rule in app.url_map.iter_rules() if {"GET", "POST"} <= (rule.methods or set())}
    assert set(EDIT_FORMS).isdisjoint(NOT_EDIT_FORMS)
    unclassified = pages - set(EDIT_FORMS) - set(NOT_EDIT_FORMS)
    assert unclassified == set(), "classify these pages in tests/security/test_edit_forms.py"
    assert set(EDIT_FORMS) | set(NOT_EDIT_FORMS) == pages  # nothing listed that no longer exists


class _Forms(HTMLParser):
    """The fields of each ``<form>`` of a page, as a browser would post them (no file, no button
    other than the form's submit input)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[list[tuple[str, str]]] = []
        self._current: list[tuple[str, str]] | None = None
        self._textarea: tuple[str, list[str]] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._current = []
            self.forms.append(self._current)
        if self._current is None or ("name" not in a and tag != "option"):
            return
        if tag == "input" and a.get("type") not in ("file", "button", "image"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self._current.append((a["name"], a.get("value", "on" if a.get("type") == "checkbox" else "")))
        elif tag == "textarea":
            self._textarea = (a["name"], [])
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self._current.append((self._select, a.get("value", "")))

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None and self._current is not None:
            name, parts = self._textarea
            value = "".join(parts)
            self._current.append((name, value[1:] if value.startswith("\n") else value))
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._current = None


def edit_form_fields(page: str) -> list[tuple[str, str]]:
    """The fields of the page's form that carries a version."""
    parser = _Forms()
    parser.feed(page)
    forms = [fields for fields in parser.forms if any(name == "version_id" for name, _v in fields)]
    assert len(forms) == 1, "the edit form carries no version_id"
    return forms[0]


@pytest.mark.parametrize("endpoint", sorted(EDIT_FORMS))
def test_a_stale_save_is_refused_and_the_input_is_kept(client, auth, make_user, site, endpoint):  # noqa: F811
    spec = EDIT_FORMS[endpoint]
    user = make_user("coordinator") if spec.who == "coordinator" else site.crew_user
    obj = spec.target(site)
    url = spec.url(obj)
    db.session.commit()
    auth.login(user.email)

    page = client.get(url)
    assert page.status_code == 200
    fields = edit_form_fields(page.get_data(as_text=True))
    version = dict(fields)["version_id"]
    assert version == str(obj.version_id)

    setattr(obj, spec.attribute, "Valeur enregistrée par B")  # someone else saves meanwhile
    db.session.commit()
    assert obj.version_id == int(version) + 1

    posted = [(name, value) for name, value in fields if name != spec.field]
    posted.append((spec.field, "Saisie de A conservée"))
    response = client.post(url, data=MultiDict(posted))
    assert response.status_code == 409
    answer = html.unescape(response.get_data(as_text=True))
    assert "Quelqu'un a modifié cet élément pendant que vous le modifiiez." in answer
    assert "Saisie de A conservée" in answer  # the user's input stays on the page
    assert "Valeur enregistrée par B" in answer  # beside what was saved meanwhile
    db.session.expire_all()
    assert getattr(obj, spec.attribute) == "Valeur enregistrée par B"
    # The page now carries the current version: saving again replaces B's value on purpose.
    assert dict(edit_form_fields(response.get_data(as_text=True)))["version_id"] == str(obj.version_id)
