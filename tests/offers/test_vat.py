"""Who sells decides the VAT (README, "Comment l'argent est calculé"): the default rate and the 0 %
legal mention of a line, over a table of billing mode × coordinator regime × actor regime × category
rate; which rates a seller may charge; mentions read from the settings."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.errors import DomainError
from app.extensions import db
from app.models import CoordinatorIdentity, VatRegime
from app.settings_store import set_setting
from offers.models import BillingMode
from offers.services.lines import (
    allowed_vat_rates,
    check_vat_rate,
    default_vat_rate,
    lines_locked,
    vat_mention,
)
from tests.offers.quote_fixtures import IDENTITY
from tests.offers.test_events import add_lot

SINGLE, JOINT = BillingMode.SINGLE_CONTRACTOR, BillingMode.JOINT_CONSORTIUM
SUBJECT, FRANCHISE, EXEMPT = VatRegime.SUBJECT, VatRegime.FRANCHISE, VatRegime.EXEMPT
FRANCHISE_MENTION = "TVA non applicable, art. 293 B du CGI"
EXEMPT_MENTION = "Exonération de TVA, article 261-7-1° du CGI"


def set_identity(regime: VatRegime | None) -> None:
    """The coordinator's identity (row id=1) with ``regime``; ``None`` removes it."""
    identity = db.session.get(CoordinatorIdentity, 1)
    if regime is None:
        if identity is not None:
            db.session.delete(identity)
            db.session.flush()
        return
    if identity is None:
        identity = CoordinatorIdentity(**IDENTITY)
        db.session.add(identity)
    identity.vat_regime = regime
    identity.vat_number = "FR83404833048" if regime == SUBJECT else None
    db.session.flush()


@pytest.fixture
def sale(make_event, make_category, make_organisation):
    """Build (event, lot, actor) for a mode, coordinator regime, actor regime and category rate."""

    def build(mode, coordinator, actor, category_rate):
        set_identity(coordinator)
        event = make_event(billing_mode=mode)
        lot = add_lot(event, make_category(default_vat_rate=D(category_rate)), "Lot")
        return event, lot, make_organisation(vat_regime=actor)

    return build


# (mode, coordinator regime, actor regime, category rate) -> (default rate, 0 % mention)
CASES = [
    # Single contractor: the coordinator sells; the actor's own regime does not matter.
    ("single, subject coordinator, subject actor", SINGLE, SUBJECT, SUBJECT, "0.1000", "0.1000", None),
    ("single, subject coordinator, franchise actor", SINGLE, SUBJECT, FRANCHISE, "0.1000", "0.1000", None),
    ("single, subject coordinator, exempt actor, books", SINGLE, SUBJECT, EXEMPT, "0.0550", "0.0550", None),
    ("single, subject coordinator, rental", SINGLE, SUBJECT, SUBJECT, "0.2000", "0.2000", None),
    (
        "single, franchise coordinator",
        SINGLE,
        FRANCHISE,
        SUBJECT,
        "0.2000",
        "0.0000",
        FRANCHISE_MENTION,
    ),
    ("single, exempt coordinator", SINGLE, EXEMPT, SUBJECT, "0.1000", "0.0000", EXEMPT_MENTION),
    (
        "single, exempt coordinator, franchise actor: the coordinator's mention",
        SINGLE,
        EXEMPT,
        FRANCHISE,
        "0.2000",
        "0.0000",
        EXEMPT_MENTION,
    ),
    ("single, no identity yet: subject", SINGLE, None, FRANCHISE, "0.1000", "0.1000", None),
    # Joint consortium: each actor sells its lines; the coordinator's regime does not matter.
    ("joint, subject actor", JOINT, SUBJECT, SUBJECT, "0.1000", "0.1000", None),
    ("joint, subject actor, franchise coordinator", JOINT, FRANCHISE, SUBJECT, "0.0550", "0.0550", None),
    ("joint, franchise actor", JOINT, SUBJECT, FRANCHISE, "0.1000", "0.0000", FRANCHISE_MENTION),
    ("joint, exempt actor", JOINT, SUBJECT, EXEMPT, "0.2000", "0.0000", EXEMPT_MENTION),
    ("joint, exempt actor, exempt coordinator", JOINT, EXEMPT, EXEMPT, "0.2000", "0.0000", EXEMPT_MENTION),
]


@pytest.mark.parametrize(
    "mode,coordinator,actor,category_rate,expected_rate,expected_mention",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_default_rate_and_mention_follow_who_sells(
    sale, mode, coordinator, actor, category_rate, expected_rate, expected_mention
):
    event, lot, organisation = sale(mode, coordinator, actor, category_rate)
    rate = default_vat_rate(event, lot, organisation)
    assert rate == D(expected_rate)
    assert str(rate) == expected_rate  # at the stored scale, four places
    assert vat_mention(event, organisation) == expected_mention


def test_mentions_come_from_the_settings(sale):
    event, _lot, franchise = sale(JOINT, SUBJECT, FRANCHISE, "0.1000")
    exempt = sale(JOINT, SUBJECT, EXEMPT, "0.1000")[2]
    set_setting(
        "legal.vat_mentions", {"franchise": "TVA non applicable — art. 293 B du CGI (rédaction 2027)"}
    )
    assert vat_mention(event, franchise) == "TVA non applicable — art. 293 B du CGI (rédaction 2027)"
    # A regime missing from the setting falls back to the default text.
    assert vat_mention(event, exempt) == EXEMPT_MENTION


# (mode, coordinator, actor, category rate, typed rate) -> accepted rate or a piece of the refusal
RATE_CASES = [
    ("single subject: 5,5 % on a 10 % category", SINGLE, SUBJECT, EXEMPT, "0.1000", "0.055", "0.0550"),
    ("single subject: 2,1 %", SINGLE, SUBJECT, EXEMPT, "0.1000", "0.021", "0.0210"),
    ("single subject: 0 %", SINGLE, SUBJECT, SUBJECT, "0.2000", "0", "0.0000"),
    ("single subject: 8,5 % is not a French rate", SINGLE, SUBJECT, SUBJECT, "0.1000", "0.085", "non prévu"),
    ("single subject: 19,6 % is gone", SINGLE, SUBJECT, SUBJECT, "0.2000", "0.196", "non prévu"),
    ("single franchise coordinator: 0 % only", SINGLE, FRANCHISE, SUBJECT, "0.1000", "0.1", "à 0 %"),
    ("single exempt coordinator: 0 % accepted", SINGLE, EXEMPT, SUBJECT, "0.1000", "0", "0.0000"),
    ("joint franchise actor: 20 % refused", JOINT, SUBJECT, FRANCHISE, "0.2000", "0.2", "à 0 %"),
    ("joint exempt actor: 5,5 % refused", JOINT, SUBJECT, EXEMPT, "0.0550", "0.055", "à 0 %"),
    ("joint exempt actor: 0 % accepted", JOINT, SUBJECT, EXEMPT, "0.0550", "0.0000", "0.0000"),
    ("joint subject actor: 10 % on a 20 % category", JOINT, FRANCHISE, SUBJECT, "0.2000", "0.10", "0.1000"),
    ("more than four places", JOINT, SUBJECT, SUBJECT, "0.2000", "0.20001", "inconnu"),
]


@pytest.mark.parametrize(
    "mode,coordinator,actor,category_rate,typed,expected",
    [case[1:] for case in RATE_CASES],
    ids=[case[0] for case in RATE_CASES],
)
def test_which_rates_a_seller_may_charge(sale, mode, coordinator, actor, category_rate, typed, expected):
    event, lot, organisation = sale(mode, coordinator, actor, category_rate)
    if expected[0].isdigit():
        assert str(check_vat_rate(event, lot, organisation, D(typed))) == expected
    else:
        with pytest.raises(DomainError) as caught:
            check_vat_rate(event, lot, organisation, D(typed))
        assert expected in caught.value.message
        assert caught.value.field == "vat_rate"


def test_the_refusal_names_the_seller_and_its_regime(sale):
    event, lot, organisation = sale(JOINT, SUBJECT, FRANCHISE, "0.2000")
    organisation.name = "Yves Monteil"
    with pytest.raises(DomainError) as caught:
        check_vat_rate(event, lot, organisation, D("0.2"))
    assert caught.value.message == (
        "Yves Monteil n'est pas assujetti à la TVA (Franchise en base (art. 293 B)) : ses lignes sont à 0 %."
    )


def test_a_subject_seller_may_use_its_unusual_category_rate(sale):
    """A category set to a rate outside the list (e.g. 8,5 % overseas) stays usable as its default."""
    event, lot, organisation = sale(SINGLE, SUBJECT, SUBJECT, "0.0850")
    assert allowed_vat_rates(event, lot, organisation) == [
        D("0.0000"),
        D("0.0210"),
        D("0.0550"),
        D("0.0850"),
        D("0.1000"),
        D("0.2000"),
    ]
    assert check_vat_rate(event, lot, organisation, D("0.085")) == D("0.0850")


def test_lines_lock_only_with_a_sent_or_accepted_quote(sale):
    from datetime import date

    from offers.models import Quote, QuoteStatus

    event, _lot, _org = sale(SINGLE, SUBJECT, SUBJECT, "0.2000")
    assert lines_locked(event) is False
    quote = Quote(
        event_id=event.id,
        number="DEV-2026-0001",
        version=1,
        status=QuoteStatus.DRAFT,
        issue_date=date(2026, 3, 1),
        valid_until=date(2026, 3, 31),
        total_net=D("0"),
        total_vat=D("0"),
        total_gross=D("0"),
    )
    db.session.add(quote)
    db.session.flush()
    observed = {}
    for status in QuoteStatus:
        quote.status = status
        db.session.flush()
        observed[status.value] = lines_locked(event)
    assert observed == {
        "draft": False,
        "sent": True,
        "accepted": True,
        "declined": False,
        "expired": False,
        "superseded": False,
    }
