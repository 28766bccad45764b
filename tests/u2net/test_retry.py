"""The retry rules: what is retried, jittered backoff, the deadline."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from u2net.retry import DEADLINE_EXCEEDED, UNAVAILABLE, Deadline, RetryPolicy, retryable

UNKNOWN = "Request for unknown model: 'u2netp_onnx' has no available versions"
STOPPING = "u2netp_onnx: Model u2netp_onnx - Error when running inference: Server not ready"


@pytest.mark.parametrize(
    ("status", "message", "served_before", "expected"),
    [
        (UNAVAILABLE, "failed to connect to all addresses", False, True),
        (UNAVAILABLE, "failed to connect to all addresses", True, True),
        ("StatusCode.NOT_FOUND", UNKNOWN, True, True),  # a restarted server, still loading
        ("StatusCode.INVALID_ARGUMENT", UNKNOWN, True, True),
        ("StatusCode.NOT_FOUND", UNKNOWN, False, False),  # never served: a wrong name
        ("StatusCode.INVALID_ARGUMENT", "not an image Pillow can read", True, False),
        ("StatusCode.INTERNAL", "onnxruntime failed", True, False),
        # cutout's inner model while the server stops (seen in CI): Triton's own wording
        ("StatusCode.INTERNAL", STOPPING, True, True),
        ("StatusCode.INTERNAL", STOPPING, False, False),
        (DEADLINE_EXCEEDED, "Deadline Exceeded", True, False),
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


def test_the_deadline_runs_down() -> None:
    deadline = Deadline(0.3)
    assert deadline.allows(0.1) and not deadline.allows(0.5)
    time.sleep(0.31)
    assert deadline.remaining() == 0.0 and not deadline.allows(0.0)
