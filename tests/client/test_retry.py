"""The retry rules: what is retried, jittered backoff, the deadline, and failing fast on a
server this client never reached."""

from __future__ import annotations

import itertools
import random

import pytest

from client.retry import (
    DEADLINE_EXCEEDED,
    FIRST_CONTACT_S,
    MIN_ATTEMPT_S,
    NOT_FOUND,
    UNAVAILABLE,
    Attempts,
    RetryPolicy,
    give_up_after,
    retryable,
)

UNKNOWN = "Request for unknown model: 'u2netp_onnx' has no available versions"
STOPPING = "u2netp_onnx: Model u2netp_onnx - Error when running inference: Server not ready"
REFUSED = "failed to connect to all addresses"
EVERY_100_MS = RetryPolicy(first_delay_s=0.1, max_delay_s=0.1, jitter=False)


@pytest.mark.parametrize(
    ("status", "message", "served_before", "expected"),
    [
        (UNAVAILABLE, REFUSED, False, True),
        (UNAVAILABLE, REFUSED, True, True),
        (NOT_FOUND, UNKNOWN, True, True),  # a restarted server, still loading
        (NOT_FOUND, "no such model", True, True),  # NOT_FOUND whatever the words
        ("StatusCode.INVALID_ARGUMENT", UNKNOWN, True, True),
        (NOT_FOUND, UNKNOWN, False, False),  # never served: a wrong name
        ("StatusCode.INVALID_ARGUMENT", "not an image Pillow can read", True, False),
        ("StatusCode.INTERNAL", "onnxruntime failed", True, False),
        # cutout's inner model while the server stops (seen in CI): Triton's own wording
        ("StatusCode.INTERNAL", STOPPING, True, True),
        ("StatusCode.INTERNAL", STOPPING, False, False),
        (DEADLINE_EXCEEDED, "Deadline Exceeded", True, False),
        # a call in flight while the server stops (seen failing the gateway's restart test)
        ("StatusCode.CANCELLED", "CANCELLED", True, True),
        ("StatusCode.CANCELLED", "CANCELLED", False, False),
    ],
)
def test_what_is_retried(status: str, message: str, served_before: bool, expected: bool) -> None:
    assert retryable(status, message, served_before) is expected


def test_jittered_delays_stay_under_a_doubling_ceiling() -> None:
    policy = RetryPolicy(retries=6, first_delay_s=0.1, max_delay_s=1.0)
    delays = list(policy.delays(random.Random(7)))
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert len(delays) == 6
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == 6  # drawn, not fixed
    assert list(policy.delays(random.Random(7))) == delays  # reproducible with a seed


def test_without_a_count_the_delays_go_on() -> None:
    delays = list(itertools.islice(RetryPolicy(jitter=False).delays(), 50))
    assert delays[:4] == [0.2, 0.4, 0.8, 1.6] and set(delays[5:]) == {2.0}


@pytest.mark.parametrize(
    ("timeout_s", "reached", "expected"),
    [(60.0, True, 60.0), (60.0, False, FIRST_CONTACT_S), (0.5, False, 0.5), (0.5, True, 0.5)],
)
def test_only_a_server_that_answered_is_waited_for(
    timeout_s: float, reached: bool, expected: float
) -> None:
    assert give_up_after(timeout_s, reached) == expected


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _retried_for(attempts: Attempts, clock: Clock, *, reached: bool) -> float:
    """Fail every attempt at once with UNAVAILABLE, sleep as told: seconds until it gives up."""
    while (
        delay := attempts.wait(UNAVAILABLE, REFUSED, served_before=False, reached=reached)
    ) is not None:
        clock.now += delay
    return clock.now - 100.0


def test_a_server_never_reached_is_given_up_on_after_the_first_contact_window() -> None:
    clock = Clock()
    spent = _retried_for(Attempts(EVERY_100_MS, 60.0, clock), clock, reached=False)
    assert FIRST_CONTACT_S - 0.1 <= spent < FIRST_CONTACT_S  # a starting server gets a moment


def test_a_server_that_answered_is_retried_until_the_deadline() -> None:
    clock = Clock()
    spent = _retried_for(Attempts(EVERY_100_MS, 60.0, clock), clock, reached=True)
    assert 59.9 <= spent < 60.0


def test_the_attempt_timeout_is_what_is_left_never_less_than_a_sliver() -> None:
    clock = Clock()
    attempts = Attempts(EVERY_100_MS, 10.0, clock)
    assert attempts.timeout() == 10.0
    clock.now += 7.5
    assert attempts.timeout() == 2.5
    clock.now += 5.0
    assert attempts.timeout() == MIN_ATTEMPT_S


def test_bad_input_is_not_retried_even_with_time_left() -> None:
    attempts = Attempts(EVERY_100_MS, 60.0, Clock())
    wait = attempts.wait("StatusCode.INVALID_ARGUMENT", "bad", served_before=True, reached=True)
    assert wait is None
