"""The treasury's rules: each against each role, with the exact answer."""

from __future__ import annotations

import pytest

from invoicing import permissions as rules
from tests.app.test_roles import table

RULES = {
    rules.can_view_invoices: "admin coordinator treasurer",
    rules.can_issue_invoice: "admin treasurer",
    rules.can_record_payment: "admin treasurer",
    rules.can_pay_out: "admin treasurer",
    rules.can_export_accounts: "admin treasurer",
    rules.can_view_payouts: "admin coordinator treasurer",
}


@pytest.mark.parametrize("rule,role,expected", table(RULES))
def test_treasury_rules(person, rule, role, expected):
    assert rule(person(role)) is expected


@pytest.mark.parametrize("rule", list(RULES))
def test_nobody_is_allowed_nothing(app, rule):
    assert rule(None) is False
