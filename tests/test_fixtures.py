"""The shared fixtures behave the same wherever a test runs in the suite."""

from __future__ import annotations

import pytest

import tests.conftest as shared

pytestmark = pytest.mark.usefixtures("app")


@pytest.mark.parametrize("before_a_round_number", [1, 2, 3])
@pytest.mark.parametrize("round_number", [1_000, 10_000])
def test_categories_keep_the_order_they_were_made_in_and_a_valid_position(
    make_category, round_number, before_a_round_number
):
    """Whatever the suite-wide counter has reached (it passes 10 000 in a full run, and a test
    may start just before a round number), categories made one after the other in a test sort in
    that order, within the form's 0…10 000."""
    n = shared._n()
    for _ in range(round_number - n % round_number - before_a_round_number):
        shared._n()
    made = [make_category() for _ in range(4)]
    positions = [category.position for category in made]
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert all(0 <= position <= 10_000 for position in positions)
