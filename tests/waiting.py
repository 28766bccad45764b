"""Waiting on a condition the system under test reaches by itself (a server counting, a
socket closing), polled until a deadline: the tests' one way to wait without a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_S = 0.05


def until(condition: Callable[[], object], what: str, timeout_s: float = 60.0) -> None:
    """Return once ``condition()`` is true; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"expected {what} within {timeout_s:g}s"
        time.sleep(POLL_S)
