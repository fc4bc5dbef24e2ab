"""Fuzzing through the app: generated values posted to every form and sent to every list filter; no
request may end in a 500.

The forms are discovered from the app itself: each role's pages of the role × route matrix (those it
may open) are read, and every ``<form>`` on them gives its action and its field names. Every POST
route must be reached by at least one discovered form (or be listed in ``NO_PAGE_FORM`` with its
fields). Each form then gets ``EXAMPLES`` generated submissions (text, numbers, dates, Unicode,
control characters, very long strings, a field left out), each in a savepoint rolled back after the
request, as the role that saw the form. GET forms (list filters) get the same values in the query
string, with ``page``.

Hypothesis runs derandomized (the same examples on every run, so CI is stable) and without deadline;
the findings are pinned in ``test_fuzz_findings.py``.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wtforms.fields.core import UnboundField

from app.extensions import db
from invoicing.forms import (
    DepositForm,
    FinalInvoiceForm,
    JointInvoicesForm,
    MandateUploadForm,
    RecordActorInvoiceForm,
    SelfBillingAnswerForm,
)
from offers.forms.assignments import AssignmentActionForm, AssignmentAddForm
from offers.forms.lots import LotActionForm
from offers.forms.quotes import AcceptQuoteForm, DeclineQuoteForm
from reports.forms import ShareForm
from tests.security.test_matrix import (
    ARGS,
    MATRIX,
    ROLES,
    _build,
    _methods,
    _rules,
    _url,
    request_as,
    status_of,
)
from tests.security.world import build_world

#: Examples per form; ``FUZZ_EXAMPLES=200 FUZZ_RANDOM=1`` explores further (new examples each run).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
DERANDOMIZE = not os.environ.get("FUZZ_RANDOM")


def fields_of(form_class, prefix: str = "") -> set[str]:
    """The field names a WTForms class posts (without its CSRF token)."""
    names = {name for name in dir(form_class) if isinstance(getattr(form_class, name), UnboundField)}
    return {f"{prefix}-{name}" if prefix else name for name in names}


#: POST routes whose form no page of the world shows (the world's quote is accepted and invoiced,
#: its lot open, the import needs an upload first, organisation A has a live mandate, the report is
#: already shared, the won event is not in joint mode and has no self-billed invoice): the role that
#: posts, the URL arguments, and the fields, from the route's WTForms classes.
NO_PAGE_FORM: dict[str, tuple[str, dict[str, str], set[str]]] = {
    "/acteurs/import/confirmer": ("coordinator", {}, {"token"}),
    "/affectations/<int:assignment_id>/inviter": (
        "coordinator",
        {"assignment_id": "proposed"},
        fields_of(AssignmentActionForm),
    ),
    "/devis/<int:quote_id>/envoyer": ("coordinator", {}, set()),
    "/devis/acces/<token>": (
        "anonymous",
        {},
        fields_of(AcceptQuoteForm, "a") | fields_of(DeclineQuoteForm, "d"),
    ),
    "/mes-devis/<int:quote_id>": (
        "client",
        {},
        fields_of(AcceptQuoteForm, "a") | fields_of(DeclineQuoteForm, "d"),
    ),
    "/evenements/<int:event_id>/facturation/acompte": ("treasurer", {}, fields_of(DepositForm)),
    "/evenements/<int:event_id>/facturation/finale": ("treasurer", {}, fields_of(FinalInvoiceForm)),
    "/lots/<int:lot_id>/affectations": ("coordinator", {}, fields_of(AssignmentAddForm) | {"role-1"}),
    "/lots/<int:lot_id>/inviter-tous": ("coordinator", {}, fields_of(AssignmentActionForm)),
    "/lots/<int:lot_id>/rouvrir": ("coordinator", {}, fields_of(LotActionForm)),
    "/acteurs/<int:organisation_id>/mandat": ("coordinator", {}, fields_of(MandateUploadForm)),
    "/evenements/<int:event_id>/bilan/partager": ("coordinator", {}, fields_of(ShareForm)),
    "/evenements/<int:event_id>/facturation/groupement": ("treasurer", {}, fields_of(JointInvoicesForm)),
    "/evenements/<int:event_id>/facturation/groupement/facture-membre": (
        "treasurer",
        {},
        fields_of(RecordActorInvoiceForm),
    ),
    "/portail/autofactures/<int:invoice_id>/reponse": ("actor", {}, fields_of(SelfBillingAnswerForm)),
}

#: Hand-picked values that broke or could break parsing: numbers in every notation, dates in the
#: wrong format, NUL and other control characters, signs, huge and tiny values.
NASTY = [
    "",
    " ",
    "0",
    "-1",
    "1e400",
    "1E2",
    "-0",
    "NaN",
    "Infinity",
    "1_000",
    "99999999999999999999",
    "9223372036854775808",  # 2⁶³: one past a 64-bit integer
    "2147483648",  # 2³¹: one past a PostgreSQL integer
    "0.000000001",
    "12,50",
    "12.5.3",
    "\u0661\u0662",  # Arabic-Indic digits
    "\uff11\uff12",  # full-width digits
    "2026-02-30",
    "30/02/2026",
    "2026-13-01T25:61",
    "0000-00-00",
    "\x00",
    "a\r\nb",
    "\t",
    "\u202e",
    "<script>alert(1)</script>",
    "'; DROP TABLE users; --",
    "%s%n",
    "../../etc/passwd",
    "x" * 10_000,
    "é" * 3000,
]

values = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=60),
    st.text(alphabet=string.digits + ".,-+eE_ ", max_size=25),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat(timespec="minutes")),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=10),
    st.text(min_size=2000, max_size=6000).map(lambda s: s * 2),
)


# --- discovering the forms -----------------------------------------------------------------------


class FormParser(HTMLParser):
    """The forms of a page: method, action, the values each field holds as the page offers it (the
    checked boxes, the selected option, the textarea's text) and the submit buttons."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = {
                "method": (attrs.get("method") or "get").upper(),
                "action": attrs.get("action") or "",
                "fields": {},
                "buttons": [],
            }
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        name = attrs.get("name")
        fields = self._form["fields"]
        if tag == "option" and self._select is not None:
            if self._select not in fields or "selected" in attrs:
                fields[self._select] = attrs.get("value") or ""
        if not name or name == "csrf_token":
            return
        kind = attrs.get("type") or "text"
        if tag == "button" or kind == "submit":
            self._form["buttons"].append((name, attrs.get("value") or "1"))
        elif tag == "select":
            self._select = name
        elif tag == "textarea":
            self._textarea = name
            fields[name] = ""
        elif tag == "input" and kind != "file":
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    fields[name] = attrs.get("value") or "y"
                else:
                    fields.setdefault(name, None)  # a field, sent only when fuzzed
            else:
                fields[name] = attrs.get("value") or ""

    def handle_data(self, data):
        if self._form is not None and self._textarea is not None:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _rule_of(app, path: str, method: str):
    try:
        endpoint, _args = app.url_map.bind("localhost").match(path, method=method)
    except Exception:
        return None
    return next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)


@dataclass
class Target:
    """One form to fuzz: who posts it, where, the values it holds, its submit buttons."""

    role: str
    method: str
    path: str
    defaults: dict[str, str | None]
    buttons: list[tuple[str, str]] = field(default_factory=list)


def discover(app, world) -> dict[tuple[str, str], Target]:
    """{(method, rule): target}: the forms of every page each role may open (the first role in
    ``ROLES`` order that sees a form posts it), then ``NO_PAGE_FORM``."""
    client = app.test_client()
    found: dict[tuple[str, str], Target] = {}
    pages = []
    for rule in _rules(app):
        if "GET" not in _methods(rule) or rule.rule.startswith(("/static", "/bootstrap")):
            continue
        pages.append((_url(rule, world), MATRIX[rule.rule][0]["GET"].split()))
    for index, role in enumerate(ROLES):
        urls = [url for url, statuses in pages if statuses[index] == "200"]
        if role in ("admin", "coordinator", "treasurer"):
            urls.append(f"/evenements/{world.ids['open_event']}")
        if role == "actor":
            urls.append(f"/portail/affectations/{world.ids['invited']}")
        for url in urls:
            response = request_as(app, client, role, world, "GET", url)
            if response.mimetype != "text/html":
                continue
            parser = FormParser()
            parser.feed(response.get_data(as_text=True))
            for form in parser.forms:
                path = urlsplit(form["action"]).path or urlsplit(url).path
                rule = _rule_of(app, path, form["method"])
                if rule is not None and (form["method"], rule.rule) not in found:
                    found[form["method"], rule.rule] = Target(
                        role, form["method"], path, form["fields"], form["buttons"]
                    )
    for rule in _rules(app):
        if rule.rule in NO_PAGE_FORM and ("POST", rule.rule) not in found:
            role, args, names = NO_PAGE_FORM[rule.rule]
            path = _build(rule, {name: world.ids[args.get(name, ARGS[name])] for name in rule.arguments})
            found["POST", rule.rule] = Target(role, "POST", path, dict.fromkeys(names, ""))
    return found


# --- the tests -----------------------------------------------------------------------------------


@pytest.fixture
def world(make_event, make_client, make_category, make_organisation, make_user):
    return build_world(make_event, make_client, make_category, make_organisation, make_user)


def test_every_post_route_has_a_form_to_fuzz(app, world):
    db.session.commit()
    reached = {rule for method, rule in discover(app, world) if method == "POST"}
    posts = {rule.rule for rule in _rules(app) if "POST" in rule.methods}
    missing = sorted(posts - reached)
    assert missing == [], "\n".join(missing)


#: Leaves the field out of the request.
OMIT = object()


def test_no_generated_value_makes_a_500(app, world):
    """Each form as its page fills it, with up to four of its fields replaced by generated values
    (or left out): validation and, when the rest holds, the service behind it are both reached."""
    db.session.commit()
    client = app.test_client()
    failures = []
    for (method, rule), target in sorted(discover(app, world).items()):
        try:
            fuzz(app, client, world, target)
        except Exception as exc:  # every form is tried; the failures are listed at the end
            notes = " ".join(getattr(exc, "__notes__", []))
            failures.append(f"{target.role} {method} {rule}: {type(exc).__name__}: {exc!s:.300} {notes:.800}")
    assert failures == [], "\n".join(failures)


def fuzz(app, client, world, target: Target) -> None:
    names = sorted(target.defaults) + (["page"] if target.method == "GET" else [])

    @settings(
        max_examples=EXAMPLES if names else 2,
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.dictionaries(st.sampled_from(names or ["_"]), st.one_of(values, st.just(OMIT)), max_size=4),
        st.sampled_from(target.buttons or [None]),
    )
    def submit(changes, button):
        data = {name: value for name, value in target.defaults.items() if value is not None}
        for name, value in changes.items():
            if value is OMIT:
                data.pop(name, None)
            else:
                data[name] = value
        if button is not None:
            data[button[0]] = button[1]
        if target.method == "GET":
            response = request_as(app, client, target.role, world, "GET", target.path, query=data)
        else:
            response = request_as(app, client, target.role, world, "POST", target.path, data)
        assert response.status_code < 500, status_of(response)

    submit()
