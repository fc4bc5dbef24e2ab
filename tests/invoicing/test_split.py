"""The revenue split (``invoicing.split``): a table of exact cases, the payouts released as the
client pays, the adjustments after a credit note, the split of an accepted quote, and a hypothesis
test proving the identities to the cent on random quotes and rates.

The pure functions are tried without a database; the quote's split goes through the real services.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import DomainError, InvalidValue
from app.models import VatRegime
from app.money import CENT, ZERO, round_money
from invoicing.split import (
    ActorSplit,
    PayoutRelease,
    Split,
    SplitActor,
    SplitLine,
    SplitMismatch,
    adjustments,
    compute_split,
    due_now,
    release_setting,
    released,
    split_for_quote,
)
from offers.models import BillingMode
from tests.offers.quote_fixtures import build_ready_event

SINGLE, JOINT = BillingMode.SINGLE_CONTRACTOR, BillingMode.JOINT_CONSORTIUM
SUBJECT, FRANCHISE, EXEMPT = VatRegime.SUBJECT, VatRegime.FRANCHISE, VatRegime.EXEMPT
PROPORTIONAL, FULL = PayoutRelease.PROPORTIONAL, PayoutRelease.ON_FULL_PAYMENT


def split(lines, regimes, *, fee="0", rate="0", mode=SINGLE) -> Split:
    """``lines``: (organisation id, net, VAT rate); ``regimes``: organisation id -> regime."""
    return compute_split(
        [SplitLine(org, D(net), D(vat_rate)) for org, net, vat_rate in lines],
        actors={org: SplitActor(f"Acteur {org}", regime) for org, regime in regimes.items()},
        fee_net=D(fee),
        commission_rate=D(rate),
        billing_mode=mode,
    )


def figures(result: Split) -> list[tuple]:
    """(id, share, commission, net, VAT, amount) per actor."""
    return [(a.organisation_id, a.share, a.commission, a.net, a.vat_amount, a.amount) for a in result.actors]


# --- the split: exact cases ----------------------------------------------------------------------


def test_one_actor_without_vat_fee_line_and_commission():
    result = split([(1, "600.00", "0.1"), (1, "400.00", "0.2")], {1: FRANCHISE}, fee="80.00", rate="0.05")
    assert figures(result) == [(1, D("1000.00"), D("50.00"), D("950.00"), ZERO, D("950.00"))]
    assert (result.invoiced_net, result.total_commission, result.total_payouts, result.kept) == (
        D("1080.00"),
        D("50.00"),
        D("950.00"),
        D("130.00"),
    )
    assert result.actors[0].vat is None


def test_commission_cents_go_by_largest_remainder_so_they_add_up_to_the_rounded_total():
    # 3,33 % of 30,00 = 0,999 -> 1,00 in all; each actor's exact part is 0,333: rounding each would
    # keep 0,99. The leftover cent goes to the largest remainder, the first actor on a tie.
    result = split(
        [(1, "10.00", "0.2"), (2, "10.00", "0.2"), (3, "10.00", "0.2")],
        {1: EXEMPT, 2: EXEMPT, 3: EXEMPT},
        rate="0.0333",
    )
    assert [a.commission for a in result.actors] == [D("0.34"), D("0.33"), D("0.33")]
    assert result.total_commission == D("1.00")
    # Uneven shares: 10 % of 0,05 + 0,10 + 0,20 = 0,035 -> 0,04; exact parts 0,57 / 1,14 / 2,29 cents.
    result = split(
        [(1, "0.05", "0.2"), (2, "0.10", "0.2"), (3, "0.20", "0.2")],
        {1: EXEMPT, 2: EXEMPT, 3: EXEMPT},
        rate="0.10",
    )
    assert [a.commission for a in result.actors] == [D("0.01"), D("0.01"), D("0.02")]
    assert result.total_payouts == D("0.31")


def test_an_actor_with_a_zero_share_owes_no_commission():
    result = split([(1, "0.00", "0.2"), (2, "200.00", "0.2")], {1: FRANCHISE, 2: FRANCHISE}, rate="0.10")
    assert figures(result) == [
        (1, ZERO, ZERO, ZERO, ZERO, ZERO),
        (2, D("200.00"), D("20.00"), D("180.00"), ZERO, D("180.00")),
    ]


def test_no_commission_and_no_fee_everything_goes_to_the_actors():
    result = split([(1, "123.45", "0.1")], {1: FRANCHISE})
    assert (result.total_commission, result.kept, result.total_payouts) == (ZERO, ZERO, D("123.45"))


def test_a_subject_actor_in_single_contractor_mode_invoices_vat_on_its_net_per_rate():
    # Share 150,00 (100,00 at 10 %, 50,00 at 20 %); 3,33 % -> 4,995 -> 5,00 of commission, spread
    # 3,33 / 1,67 over the rates (333,33 and 166,67 cents: the larger remainder takes the cent).
    # Nets 96,67 at 10 % (VAT 9,667 -> 9,67) and 48,33 at 20 % (VAT 9,666 -> 9,67).
    result = split([(1, "100.00", "0.1"), (1, "50.00", "0.2")], {1: SUBJECT}, rate="0.0333")
    actor = result.actors[0]
    assert (actor.share, actor.commission, actor.net) == (D("150.00"), D("5.00"), D("145.00"))
    assert [(g.rate, g.net, g.vat) for g in actor.vat.groups] == [
        (D("0.1"), D("96.67"), D("9.67")),
        (D("0.2"), D("48.33"), D("9.67")),
    ]
    assert (actor.vat_amount, actor.amount) == (D("19.34"), D("164.34"))
    assert result.total_amount == D("164.34")


@pytest.mark.parametrize(
    "regime,mode",
    [(FRANCHISE, SINGLE), (EXEMPT, SINGLE), (SUBJECT, JOINT), (FRANCHISE, JOINT), (EXEMPT, JOINT)],
)
def test_no_vat_on_the_payout_for_an_actor_without_vat_or_in_joint_consortium(regime, mode):
    # In joint consortium the actor's VAT is on its own invoice to the client, not on its payout.
    result = split([(1, "100.00", "0.1"), (1, "50.00", "0.2")], {1: regime}, rate="0.0333", mode=mode)
    assert figures(result) == [(1, D("150.00"), D("5.00"), D("145.00"), ZERO, D("145.00"))]
    assert result.actors[0].vat is None


@pytest.mark.parametrize("rate", ["1", "1.5", "-0.01"])
def test_a_commission_rate_out_of_bounds_is_refused(rate):
    with pytest.raises(InvalidValue) as refused:
        split([(1, "10.00", "0.2")], {1: EXEMPT}, rate=rate)
    assert refused.value.message == "La commission doit être comprise entre 0 et 100 % (exclu)."


def test_a_split_that_does_not_add_up_refuses_to_exist():
    actor = ActorSplit(1, "A", EXEMPT, D("100.00"), D("5.00"), D("95.00"))
    good = dict(
        billing_mode=SINGLE,
        commission_rate=D("0.05"),
        actors=(actor,),
        fee_net=D("10.00"),
        invoiced_net=D("110.00"),
        total_commission=D("5.00"),
        total_payouts=D("95.00"),
        kept=D("15.00"),
    )
    assert Split(**good).kept == D("15.00")
    for wrong in (
        {"invoiced_net": D("109.99")},
        {"total_commission": D("5.01")},
        {"total_payouts": D("95.01")},
        {"kept": D("5.00")},
        {"commission_rate": D("0.06")},
        {"actors": (actor, actor)},
    ):
        with pytest.raises(SplitMismatch):
            Split(**{**good, **wrong})
    with pytest.raises(SplitMismatch):
        ActorSplit(1, "A", EXEMPT, D("100.00"), D("5.00"), D("96.00"))
    with pytest.raises(SplitMismatch):
        ActorSplit(1, "A", EXEMPT, D("1.00"), D("2.00"), D("-1.00"))


# --- payouts as the client pays ------------------------------------------------------------------


@pytest.fixture
def two_actors() -> Split:
    # Owed 100,00 and 200,00; the client is billed 360,00 incl. VAT.
    return split([(1, "100.00", "0.2"), (2, "200.00", "0.2")], {1: FRANCHISE, 2: EXEMPT})


@pytest.mark.parametrize(
    "release,collected,expected",
    [
        (PROPORTIONAL, "0", ("0.00", "0.00")),
        # 300 x 100 / 360 = 83,333 -> 83,33; exact parts 27,777 / 55,555: the cent goes to the first.
        (PROPORTIONAL, "100.00", ("27.78", "55.55")),
        (PROPORTIONAL, "180.00", ("50.00", "100.00")),
        (PROPORTIONAL, "360.00", ("100.00", "200.00")),
        (PROPORTIONAL, "400.00", ("100.00", "200.00")),  # never more than owed
        (FULL, "0", ("0.00", "0.00")),
        (FULL, "359.99", ("0.00", "0.00")),
        (FULL, "360.00", ("100.00", "200.00")),
    ],
)
def test_payouts_are_released_as_the_client_pays(two_actors, release, collected, expected):
    result = released(two_actors, collected=D(collected), billed=D("360.00"), release=release)
    assert result == {1: D(expected[0]), 2: D(expected[1])}


def test_due_now_deducts_what_was_paid_and_is_never_negative(two_actors):
    common = dict(collected=D("100.00"), billed=D("360.00"), release=PROPORTIONAL)
    assert due_now(two_actors, {1: D("20.00")}, **common) == {1: D("7.78"), 2: D("55.55")}
    assert due_now(two_actors, {1: D("30.00"), 2: D("55.55")}, **common) == {1: ZERO, 2: ZERO}


def test_after_a_credit_note_the_adjustment_is_positive_or_negative():
    paid = {1: D("100.00"), 2: D("200.00"), 3: D("50.00")}
    # The credit note took 20,00 off actor 1's lines and removed actor 3; actor 2 gained 10,00.
    after = split([(1, "80.00", "0.2"), (2, "210.00", "0.2")], {1: FRANCHISE, 2: EXEMPT})
    result = adjustments(after, paid, collected=D("348.00"), billed=D("348.00"), release=FULL)
    assert result == {1: D("-20.00"), 2: D("10.00"), 3: D("-50.00")}


@pytest.mark.parametrize("collected,billed", [("-1", "10"), ("1", "-10"), ("1.001", "10")])
def test_bad_amounts_are_refused(two_actors, collected, billed):
    with pytest.raises(InvalidValue) as refused:
        released(two_actors, collected=D(collected), billed=D(billed), release=PROPORTIONAL)
    assert refused.value.message == "Un montant positif ou nul, au centime, est attendu."


def test_the_release_comes_from_the_settings(app):
    from app.settings_store import set_setting

    assert release_setting() == PROPORTIONAL
    set_setting("payouts.release", "on_full_payment")
    assert release_setting() == FULL
    set_setting("payouts.release", "weekly")
    with pytest.raises(DomainError) as refused:
        release_setting()
    assert refused.value.message == (
        "Réglage « payouts.release » inconnu : weekly (attendu : proportional ou on_full_payment)."
    )


# --- the split of an accepted quote --------------------------------------------------------------


def test_the_split_follows_the_accepted_quote_not_the_live_lines(
    make_event, make_client, make_category, make_organisation, make_user
):
    from app.extensions import db
    from offers.services import quotes as service

    event, lots, (cook, shop, photographer) = build_ready_event(
        make_event, make_client, make_category, make_organisation, commission_rate=D("0.0500")
    )
    user = make_user("coordinator")
    quote = service.issue_quote(event, user)
    with pytest.raises(DomainError) as refused:
        split_for_quote(quote)
    assert refused.value.message == (
        f"Le devis {quote.number} v1 n'est pas accepté : la répartition suit le devis accepté par le client."
    )
    service.mark_sent(quote, user)
    service.accept_quote(quote, name="Camille Martin", agreed=True, notify=False)
    lots[0].lines[0].unit_price = D("99.00")  # a live edit after acceptance changes nothing
    db.session.flush()

    result = split_for_quote(quote)
    # Shares 6 043,75 (exempt, 10 %), 350,00 (subject, 5,5 %), 650,00 (franchise, 20 %): 7 043,75.
    # 5 % = 352,1875 -> 352,19, allocated 302,19 / 17,50 / 32,50 (30 218,97 + 1 750,00 + 3 250,02
    # cents: the first actor's 0,97 takes the last cent). Fee 8 % = 563,50.
    assert figures(result) == [
        (cook.id, D("6043.75"), D("302.19"), D("5741.56"), ZERO, D("5741.56")),
        # L'Équipage is subject: 332,50 at 5,5 % = 18,2875 -> 18,29 of VAT on its invoice.
        (shop.id, D("350.00"), D("17.50"), D("332.50"), D("18.29"), D("350.79")),
        (photographer.id, D("650.00"), D("32.50"), D("617.50"), ZERO, D("617.50")),
    ]
    assert [a.name for a in result.actors] == ["Méli-Mélo", "L'Équipage", "Yves Monteil"]
    assert (result.fee_net, result.invoiced_net, result.kept) == (D("563.50"), quote.total_net, D("915.69"))
    assert result.invoiced_net == D("7607.25")


# --- the identities, on random quotes and rates ---------------------------------------------------

regimes = st.sampled_from([SUBJECT, FRANCHISE, EXEMPT])
vat_rates = st.sampled_from([D("0"), D("0.021"), D("0.055"), D("0.1"), D("0.2")])
nets = st.integers(min_value=0, max_value=2_000_000).map(lambda cents: D(cents) * CENT)
random_lines = st.lists(st.tuples(st.integers(1, 6), nets, vat_rates), min_size=1, max_size=25)


@settings(max_examples=300, deadline=None)
@given(
    lines=random_lines,
    who=st.dictionaries(st.integers(1, 6), regimes, min_size=6, max_size=6),
    fee=nets,
    rate=st.integers(0, 9999).map(lambda n: D(n) / 10000),
    mode=st.sampled_from([SINGLE, JOINT]),
    paid_fraction=st.integers(0, 1000),
)
def test_the_split_identities_hold_to_the_cent(lines, who, fee, rate, mode, paid_fraction):
    result = split(lines, who, fee=fee, rate=rate, mode=mode)
    shares: dict[int, D] = {}
    for org, net, _rate in lines:
        shares[org] = shares.get(org, ZERO) + net
    total = sum(shares.values(), ZERO)
    commissions = sum((a.commission for a in result.actors), ZERO)
    payouts = sum((a.net for a in result.actors), ZERO)

    assert {a.organisation_id: a.share for a in result.actors} == shares
    assert result.invoiced_net == total + fee
    assert payouts == total - commissions
    assert result.kept == fee + commissions
    assert result.invoiced_net == payouts + result.kept
    assert commissions == round_money(rate * total)
    for actor in result.actors:
        exact = commissions * actor.share / total if total else ZERO
        # Largest remainder: each commission is its exact part rounded down, or one cent more.
        assert exact.quantize(CENT, rounding=ROUND_FLOOR) <= actor.commission <= exact + CENT
        assert ZERO <= actor.net <= actor.share
        if mode == SINGLE and who[actor.organisation_id] == SUBJECT:
            assert actor.vat.net == actor.net
            assert all(g.vat == round_money(g.net * g.rate) for g in actor.vat.groups)
            assert actor.amount == actor.net + actor.vat.vat
        else:
            assert (actor.vat, actor.amount) == (None, actor.net)

    billed = result.total_amount + fee
    collected = round_money(billed * paid_fraction / 1000)
    for release in (PROPORTIONAL, FULL):
        out = released(result, collected=collected, billed=billed, release=release)
        assert all(ZERO <= out[a.organisation_id] <= a.amount for a in result.actors)
        if billed and release == PROPORTIONAL:
            assert sum(out.values(), ZERO) == round_money(result.total_amount * collected / billed)
        if billed and collected == billed:
            assert out == {a.organisation_id: a.amount for a in result.actors}
