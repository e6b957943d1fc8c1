"""The drift budget: however many checks come due, reads go ahead at the budget's average rate."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from picchu.clusters.drift_budget import DriftBudget


@given(per_second=st.floats(0.1, 50), costs=st.lists(st.integers(1, 40), min_size=1, max_size=30),
       seconds=st.integers(1, 600))
def test_checks_asked_for_all_the_time_read_at_most_the_budget_plus_one_check(per_second, costs, seconds):
    now = [0.0]
    budget = DriftBudget(per_second, clock=lambda: now[0])
    spent, checks = 0, 0
    for tick in range(seconds * 10):  # ten times a second, checks are asked for until one is refused
        now[0] = tick / 10
        while budget.spend(costs[checks % len(costs)]):
            spent += costs[checks % len(costs)]
            checks += 1
    # A full bucket (one second's worth) to start with, the rate since, and the overdraft of the last check.
    assert spent <= max(1.0, per_second) + per_second * now[0] + max(costs)
    assert spent >= per_second * now[0] - max(1.0, per_second) - max(costs)


def test_a_costly_listing_goes_ahead_and_later_checks_wait_until_it_is_paid_for():
    now = [0.0]
    budget = DriftBudget(2, clock=lambda: now[0])
    assert budget.spend(20)  # a scope of 20 kinds: listed now, not refused for ever
    assert not budget.has_room() and not budget.spend(1)
    now[0] = 9.0  # 18 reads repaid of the 18 owed beyond the full bucket: still not positive
    assert not budget.spend(1)
    now[0] = 9.5
    assert budget.has_room() and budget.has_room()  # asking spends nothing
    assert budget.spend(1)


def test_an_idle_budget_saves_up_at_most_one_second_of_reads():
    now = [0.0]
    budget = DriftBudget(3, clock=lambda: now[0])
    now[0] = 3600.0
    granted = 0
    while budget.spend(1):
        granted += 1
    assert granted == 3


@pytest.mark.parametrize("per_second", [0, -1, float("nan")])
def test_a_budget_of_no_reads_is_refused(per_second):
    with pytest.raises(ValueError):
        DriftBudget(per_second)
