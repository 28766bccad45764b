"""Stopping the tests' servers without waiting on them.

A graceful stop takes Triton about 3.5 s of waiting, not work: it unloads each Python-backend
model one stub at a time and checks for live models once a second. Where a test is done with
a server (a fixture's teardown), ``retire`` starts that stop in a thread and the suite carries
on; every stop is joined before the worker exits (the threads are not daemons). Stops that a
test observes (a restart, a signal) stay synchronous.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Stoppable(Protocol):
    def stop(self) -> object: ...


def retire(*servers: Stoppable) -> None:
    """Stop each of ``servers`` gracefully, in the background."""
    for server in servers:
        threading.Thread(target=server.stop, name=f"retire-{id(server)}").start()
