"""The circuit breaker's states on a clock the tests move by hand: no sleeps, no timing."""

from __future__ import annotations

import pytest

from client.breaker import Breaker, BreakerPolicy, State

POLICY = BreakerPolicy(grace_s=10.0, probe_interval_s=2.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def changes() -> list[State]:
    return []


@pytest.fixture
def breaker(clock: Clock, changes: list[State]) -> Breaker:
    return Breaker(POLICY, clock, changes.append)


def opened(breaker: Breaker, clock: Clock) -> Breaker:
    """Fail at t, then again just past the grace: open."""
    breaker.failed()
    clock.now += POLICY.grace_s + 0.1
    breaker.failed()
    return breaker


def test_a_restart_within_the_grace_never_opens_it(breaker: Breaker, clock: Clock) -> None:
    for _ in range(10):  # failing for exactly the grace, no longer
        breaker.failed()
        clock.now += POLICY.grace_s / 10
    breaker.failed()
    assert breaker.state is State.CLOSED and breaker.allow()
    breaker.succeeded()  # the server is back: the outage clock starts again from nothing
    clock.now += 60
    breaker.failed()
    assert breaker.state is State.CLOSED and breaker.outage_s() == 0


def test_failing_past_the_grace_opens_it_and_refuses_until_a_probe_is_due(
    breaker: Breaker, clock: Clock, changes: list[State]
) -> None:
    opened(breaker, clock)
    assert breaker.state is State.OPEN and changes == [State.OPEN]
    assert not breaker.allow()
    assert breaker.retry_after_s() == 2 and breaker.next_probe_s() == pytest.approx(2.0)
    clock.now += 1.5
    assert not breaker.allow() and breaker.retry_after_s() == 1  # rounded up, never 0


def test_one_probe_goes_when_due_and_its_answer_closes_it(
    breaker: Breaker, clock: Clock, changes: list[State]
) -> None:
    opened(breaker, clock)
    clock.now += POLICY.probe_interval_s
    assert breaker.allow()  # this caller is the probe
    assert breaker.state is State.HALF_OPEN
    assert not breaker.allow()  # only one probe at a time
    breaker.succeeded()
    assert breaker.state is State.CLOSED and breaker.allow()
    assert changes == [State.OPEN, State.HALF_OPEN, State.CLOSED]


def test_a_failed_probe_opens_it_until_an_interval_after_it_started(
    breaker: Breaker, clock: Clock
) -> None:
    opened(breaker, clock)
    clock.now += POLICY.probe_interval_s
    assert breaker.allow()
    clock.now += 1.5  # a slow probe (it retries a reconnecting channel) fails
    breaker.failed()
    assert breaker.state is State.OPEN and not breaker.allow()
    assert breaker.retry_after_s() == 1
    clock.now += POLICY.probe_interval_s - 1.5  # probes keep their pace
    assert breaker.allow()


def test_a_probe_that_never_reports_is_replaced_after_an_interval(
    breaker: Breaker, clock: Clock
) -> None:
    opened(breaker, clock)
    clock.now += POLICY.probe_interval_s
    assert breaker.allow()  # the probe is lost (cancelled, say)
    clock.now += POLICY.probe_interval_s - 0.1
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()


def test_late_failures_of_old_requests_do_not_postpone_the_probe(
    breaker: Breaker, clock: Clock
) -> None:
    opened(breaker, clock)
    clock.now += 1.0
    breaker.failed()  # a request from before the opening, still retrying
    clock.now += 1.0
    assert breaker.allow()


@pytest.mark.parametrize("field", ["grace_s", "probe_interval_s"])
def test_the_policy_refuses_non_positive_times(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field}: expected > 0, got 0"):
        BreakerPolicy(**{field: 0})
