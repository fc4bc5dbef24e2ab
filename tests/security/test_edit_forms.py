"""Every edit form carries the version check (optimistic locking, ``app/locking.py``).

The pages and actions that take a POST are listed from the application itself: each is either an
edit form of a stored object, tried below, or named with the reason it needs no version (it creates,
or it is a one-shot move or answer that the state machines and conditional updates settle). A new
route must be classified here, so an edit form added without the check fails this test.

For each edit form: user A loads the page, user B saves the same object, A saves. A must get a 409
with the French message, A's input still on the page, beside B's value, and B's value still stored.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from werkzeug.datastructures import MultiDict

from app.db import utcnow
from app.extensions import db
from app.models import Chain, ChainLink, VatRegime
from tests.app.test_directory_exchange import make_siret
from tests.offers.test_portal import site  # noqa: F401  (fixture)

#: Routes taking a POST that are not an edit form of a stored object, and why.
NOT_EDIT_FORMS = {
    # pages with a form (GET and POST)
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
    # buttons (POST only)
    "auth.logout": "ends the session",
    "main.set_language": "the session's language",
    "main.user_password_reset": "voids a password and mails a link; nothing typed to lose",
    "directory.import_confirm": "applies a preview whose plan is fingerprinted and checked again (409)",
    "directory.chain_link_add": "adds an actor (unique per chain)",
    "directory.chain_link_move": "moves one step (unique positions)",
    "directory.chain_link_remove": "removes an actor",
    "directory.chain_move": "moves one step (unique positions)",
    "offers.assignment_add": "proposes an actor (unique per lot)",
    "offers.assignment_invite": "a state move the assignment machine refuses when stale",
    "offers.assignment_remind": "a reminder of a pending invitation",
    "offers.assignment_withdraw": "a state move the assignment machine refuses when stale",
    "offers.assignment_remove": "removes a proposal",
    "offers.event_invite_all": "state moves, each refused when stale",
    "offers.lot_invite_all": "state moves, each refused when stale",
    "offers.event_status": "a state move the event machine refuses when stale",
    "offers.lot_cancel": "a state move the lot machine refuses when stale",
    "offers.lot_reopen": "a state move the lot machine refuses when stale",
    "offers.lot_move": "moves one step (unique positions)",
    "offers.line_delete": "deletes a line",
    "offers.portal_line_delete": "deletes a line",
    "offers.portal_answer": "the actor's one-shot answer (conditional update)",
    "offers.quote_send": "a state move (issued → sent)",
    "offers.matching_weights": "the admin's suggestion weights, one setting shown with its effect at once",
    "invoicing.event_deposit": "issues a numbered deposit invoice (amounts checked against what is due)",
    "invoicing.event_final": "issues the numbered final invoice, once per quote",
    "invoicing.invoice_credit": "issues a numbered credit note (amounts checked against what is left)",
    "invoicing.invoice_payment": "records a payment (checked against what is due)",
    "invoicing.payout_paid": "marks a payout paid, once (conditional update)",
    "invoicing.event_joint_issue": "issues the members' numbered invoices, once per share (what is left is checked)",
    "invoicing.event_joint_record": "records a member's own invoice, once per share (what is left is checked)",
    "invoicing.event_self_billing": "issues a numbered self-billed invoice, once per payout",
    "invoicing.event_chorus_choices": "two choices from lists, nothing typed to lose; side rows with no version",
    "invoicing.accounting_accounts": "the treasury's journal settings: a setting row (no version), like the weights",
    "invoicing.mandate_upload": "records a signed mandate (one live mandate per actor, refused otherwise)",
    "invoicing.mandate_revoke": "revokes a mandate, once (a revoked one is refused)",
    "invoicing.portal_mandate_grant": "the actor grants its mandate (one live mandate, refused otherwise)",
    "invoicing.portal_self_billing_answer": "the actor's one-shot answer (one row per invoice, unique)",
    "offers.client_invite": "creates the client contact's account (or mails an existing one a new link)",
    "reports.share": "publishes the report at a new link",
    "reports.revoke": "withdraws the report's link",
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
    #: where the form posts, when not to its page (an inline form on another page)
    action: Callable | None = None
    #: the object whose version the form carries, when not the edited one
    versioned: Callable | None = None


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


def _link(site):  # noqa: F811
    link = ChainLink(chain=_chain(site), organisation=site.crew, position=0, note="fournit le pain")
    db.session.add(link)
    db.session.flush()
    return link


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
    "directory.chain_link_note": EditForm(
        "coordinator",
        lambda s: _link(s),
        lambda o: f"/chaines/{o.chain_id}/modifier",
        "note",
        "note",
        action=lambda o: f"/chaines/{o.chain_id}/acteurs/{o.id}/note",
        versioned=lambda o: o.chain,
    ),
    "offers.portal_line_edit": EditForm(
        "actor",
        lambda s: s.crew_line,
        lambda o: f"/portail/lignes/{o.id}/modifier",
        "description",
        "description",
    ),
}


def test_every_route_taking_a_post_is_classified(app):
    routes = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in (rule.methods or set())}
    assert set(EDIT_FORMS).isdisjoint(NOT_EDIT_FORMS)
    unclassified = routes - set(EDIT_FORMS) - set(NOT_EDIT_FORMS)
    assert unclassified == set(), "classify these routes in tests/security/test_edit_forms.py"
    assert set(EDIT_FORMS) | set(NOT_EDIT_FORMS) == routes  # nothing listed that no longer exists


class _Forms(HTMLParser):
    """The fields of each ``<form>`` of a page, as a browser would post them (no file, no button
    other than the form's submit input)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self.page = ""
        self._current: list[tuple[str, str]] | None = None
        self._textarea: tuple[str, list[str]] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._current = []
            self.forms.append((a.get("action") or self.page, self._current))
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


def edit_form_fields(page: str, action: str, url: str) -> list[tuple[str, str]]:
    """The fields of the form of ``page`` (at ``url``) posting to ``action``."""
    parser = _Forms()
    parser.page = url
    parser.feed(page)
    forms = [fields for url, fields in parser.forms if url == action]
    assert len(forms) == 1, f"{len(forms)} forms post to {action}"
    return forms[0]


@pytest.mark.parametrize("endpoint", sorted(EDIT_FORMS))
def test_a_stale_save_is_refused_and_the_input_is_kept(client, auth, make_user, site, endpoint):  # noqa: F811
    spec = EDIT_FORMS[endpoint]
    user = make_user("coordinator") if spec.who == "coordinator" else site.crew_user
    obj = spec.target(site)
    versioned = (spec.versioned or (lambda o: o))(obj)
    url = spec.url(obj)
    action = spec.action(obj) if spec.action else url
    db.session.commit()
    auth.login(user.email)

    page = client.get(url)
    assert page.status_code == 200
    fields = edit_form_fields(page.get_data(as_text=True), action, url)
    version = dict(fields)["version_id"]
    assert version == str(versioned.version_id)

    setattr(obj, spec.attribute, "Valeur enregistrée par B")  # someone else saves meanwhile
    if versioned is not obj:
        versioned.updated_at = utcnow()  # as the service does: the form's version moves
    db.session.commit()
    assert versioned.version_id == int(version) + 1

    posted = [(name, value) for name, value in fields if name != spec.field]
    posted.append((spec.field, "Saisie de A conservée"))
    response = client.post(action, data=MultiDict(posted))
    assert response.status_code == 409
    answer = html.unescape(response.get_data(as_text=True))
    assert "Quelqu'un a modifié cet élément pendant que vous le modifiiez." in answer
    assert "Saisie de A conservée" in answer  # the user's input stays on the page
    assert "Valeur enregistrée par B" in answer  # beside what was saved meanwhile
    db.session.expire_all()
    assert getattr(obj, spec.attribute) == "Valeur enregistrée par B"
    # The page now carries the current version: saving again replaces B's value on purpose.
    again = edit_form_fields(response.get_data(as_text=True), action, url)
    assert dict(again)["version_id"] == str(versioned.version_id)
