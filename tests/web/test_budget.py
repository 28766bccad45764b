"""The memory budget (web/capacity.py ``Budget``): cuts hold their weight while they run,
first come first served, and a wait that ends (timed out, cancelled) gives its place back."""

from __future__ import annotations

import asyncio

import pytest

from web.capacity import Budget
from web.errors import Overloaded

TOTAL = 100
LONG_S = 60.0  # no test waits this long: each ends on an event first


async def hold_until(budget: Budget, weight: int, release: asyncio.Event, log: list[int]) -> None:
    async with budget.hold(weight, LONG_S, 1):
        log.append(weight)
        await release.wait()


async def settle() -> None:
    """Let every task that can run do so (the budget grants in the releasing call)."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_cuts_that_fit_run_together_and_one_that_does_not_waits_for_them() -> None:
    async def scenario() -> tuple[list[int], list[int], int]:
        budget, log = Budget(TOTAL), []
        first, rest = asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(hold_until(budget, 60, first, log))
        b = asyncio.create_task(hold_until(budget, 40, rest, log))
        c = asyncio.create_task(hold_until(budget, 50, rest, log))  # 60 + 40 + 50 > 100
        await settle()
        before = list(log)
        first.set()  # 60 back: 50 fits beside the 40
        await a
        await settle()
        after = list(log)
        rest.set()
        await asyncio.gather(b, c)
        return before, after, budget.held

    before, after, held = asyncio.run(scenario())
    assert before == [60, 40]
    assert after == [60, 40, 50]
    assert held == 0


def test_a_later_small_cut_does_not_overtake_a_waiting_large_one() -> None:
    async def scenario() -> list[int]:
        budget, log = Budget(TOTAL), []
        first, rest = asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(hold_until(budget, 60, first, log))
        await settle()
        big = asyncio.create_task(hold_until(budget, 90, rest, log))
        await settle()
        small = asyncio.create_task(hold_until(budget, 10, rest, log))  # would fit beside 60
        await settle()
        first.set()
        await a
        await settle()
        rest.set()
        await asyncio.gather(big, small)
        return log

    assert asyncio.run(scenario()) == [60, 90, 10]


@pytest.mark.parametrize("how", ["cancelled", "timed out"])
def test_a_wait_that_ends_gives_its_place_to_the_next(how: str) -> None:
    async def scenario() -> tuple[list[int], BaseException | None, int]:
        budget, log = Budget(TOTAL), []
        first, rest = asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(hold_until(budget, 60, first, log))
        await settle()
        wait_s = 0.01 if how == "timed out" else LONG_S
        big = asyncio.create_task(_hold_briefly(budget, 90, wait_s))
        await settle()
        small = asyncio.create_task(hold_until(budget, 30, rest, log))  # behind the 90
        await settle()
        if how == "cancelled":
            big.cancel()
        outcome = (await asyncio.gather(big, return_exceptions=True))[0]
        await settle()
        waiting_log = list(log)  # 30 fits beside 60 once the 90 has left the line
        first.set()
        rest.set()
        await asyncio.gather(a, small)
        return waiting_log, outcome, budget.held

    log, outcome, held = asyncio.run(scenario())
    assert log == [60, 30]
    assert held == 0
    if how == "timed out":
        assert isinstance(outcome, Overloaded) and outcome.retry_after_s == 1
        assert str(outcome).startswith("over capacity: waited 0.01s for ")
    else:
        assert isinstance(outcome, asyncio.CancelledError)


async def _hold_briefly(budget: Budget, weight: int, wait_s: float) -> None:
    async with budget.hold(weight, wait_s, 1):
        pass


def test_fits_is_the_whole_budget() -> None:
    budget = Budget(TOTAL)
    assert budget.fits(TOTAL) and not budget.fits(TOTAL + 1)
